# SPDX-License-Identifier: GPL-2.0-or-later
"""The S/R lab with traffic: the key server and route reflector (ks) and
four members, groups A = {gm1, gm2, gm3} and B = {gm3, gm4}, gateway
tunnels (sa_mode = gateway).

Each member is configured with its groups, its private prefix (its LAN)
and its key server only; no tunnel endpoint is configured anywhere: a
member's endpoints are what its bgpd opens from the sealed routes the S/R
reflects, handed to its gdoi plugin (add-endpoint). The configuration
builders are test_bgp_gsa.py's; this module adds what the traffic
scenario (test_bgp_gsa_traffic.py) and the demo (demo.py) share: starting
the lab, the state each member must reach, and a ping proven to travel on
a group SA between two gateways.
"""
import time

import lab as labmod
import test_bgp_gsa as gsa
from lab import wait_until
from test_gdoi_tunnelmode import sniff_ip

GROUPS, MEMBERS = gsa.GROUPS, gsa.MEMBERS
endpoint = gsa.endpoint
opened_routes = gsa.opened_routes
gdoi_endpoints = gsa.gdoi_endpoints

# members find a restarted key server by themselves: a liveness check on
# their IKE SA every 2 s (test_gdoi_restart.py)
LIVENESS = "\t\tliveness = 2s\n"


def build(name):
    lab = labmod.Lab(name)
    lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    for i in range(1, 5):
        lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24")
    return lab


def members(lab):
    return [lab[m] for m in MEMBERS]


def member_conf(gm, ks):
    return gsa.member_conf(gm, ks).replace("\t\tauth = psk\n", "\t\tauth = psk\n" + LIVENESS)


def want_registered(evicted=()):
    return {g: {f"{m}.example.net" for m, gs in MEMBERS.items() if g in gs and (m, g) not in evicted}
            for g in GROUPS}


def start(lab):
    """Every daemon of the lab, in the order an operator brings them up:
    the S/R's bgpd and charon, the members' charons (registered), then the
    members' bgpd."""
    ks, gms = lab["ks"], members(lab)
    pki = labmod.make_pki(lab, ["ks"])
    labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
    labmod.gdoi_charon(ks, gsa.server_conf(ks), labmod.gdoi_secrets(ks, list(MEMBERS)))
    for gm in gms:
        labmod.install_creds(gm, pki, cert="ks.crt")
        labmod.gdoi_charon(gm, member_conf(gm, ks), labmod.gdoi_secrets(gm, ["ks"]))
    gsa.sr_bgp_conf(ks, gms, others=())
    ks.start_frr()
    gsa.start_charon(ks, GROUPS)
    for gm in gms:
        gsa.start_charon(gm, MEMBERS[gm.name])
    wait_until("every member registered", lambda: gsa.registered(ks) == want_registered(), timeout=60)
    for gm in gms:
        gsa.member_bgp_conf(gm, ks)
        gm.start_frr()


def in_group(m, g, evicted):
    return g in MEMBERS[m] and (m, g) not in evicted


def private_prefixes(lab, o, g):
    """What member o announces privately in group g (test_bgp_gsa's member
    configuration): its LAN, and for gm3 in B one prefix of B only."""
    return [lab[o].lan_prefix] + ([gsa.GM3_B_ONLY] if (o, g) == ("gm3", "B") else [])


def want_opened(lab, m, evicted=()):
    """{prefix: (gateway, group)} that member m opens: the prefixes of every
    other member of each of its groups (minus evicted (member, group))."""
    out = {}
    for g in GROUPS:
        if not in_group(m, g, evicted):
            continue
        for o in MEMBERS:
            if o != m and in_group(o, g, evicted):
                out.update({p: (lab[o].addr, g) for p in private_prefixes(lab, o, g)})
    return out


def want_endpoints(lab, m, g, evicted=()):
    """{gateway: [prefixes]} member m's gdoi plugin holds for group g."""
    if not in_group(m, g, evicted):
        return {}
    return {lab[o].addr: sorted(private_prefixes(lab, o, g)) for o in MEMBERS if o != m and in_group(o, g, evicted)}


def state(lab, evicted=()):
    """What differs from the state the members must reach: their opened
    routes, their gdoi plugins' endpoints and their membership routes;
    None once there is nothing."""
    diff = {}
    tables = gsa.expected_tables(lab, evicted)
    for m in MEMBERS:
        gm = lab[m]
        got = opened_routes(gm)
        if got != want_opened(lab, m, evicted):
            diff[f"{m} opened"] = got
        for g in MEMBERS[m]:
            eps = {gw: sorted(ps) for gw, ps in (gdoi_endpoints(gm, g) or {}).items()}
            if eps != want_endpoints(lab, m, g, evicted):
                diff[f"{m} endpoints of {g}"] = eps
        routes = gsa.membership_routes(lab, m)
        if routes != tables[m]:
            diff[f"{m} membership routes"] = routes
    return diff or None


def converge(lab, what, evicted=(), timeout=60):
    last = {}

    def done():
        last["diff"] = state(lab, evicted)
        return last["diff"] is None
    try:
        wait_until(what, done, timeout=timeout)
    except labmod.LabError as e:
        raise labmod.LabError(f"{e}\nstill different: {last.get('diff')}") from None


def forwarded(router):
    """The router's IP forwarding counter (Ip: ForwDatagrams)."""
    lines = [line.split() for line in router.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
             if line.startswith("Ip:")]
    return int(lines[1][lines[0].index("ForwDatagrams")])


def sa_packets(router, group, spi):
    """(packets in, packets out) of the router's group SA with this SPI, as
    `gdoictl sas` counts them."""
    for sa in labmod.gdoictl(router, "sas", group)["sas"]:
        if sa["spi"] == spi:
            return sa["packetsIn"], sa["packetsOut"]
    raise labmod.LabError(f"{router.name}: no SA {spi} in group {group}")


def group_sa_ping(lab, src, dst, group, count=5):
    """src's LAN pings dst's through the group's SA. Returns what was seen,
    and asserts it: every ping answered; the group SA's counters on src and
    dst grew by every ping each way; on src's and on dst's backbone port,
    ESP under the group's current SPI, from gateway to gateway both ways
    (at least one packet per ping each way) and no ICMP in the clear; the
    S/R (ks) saw none of that ESP on its port and forwarded nothing."""
    ks = lab["ks"]
    wait_until(f"{src.name} reaches {dst.name}'s LAN",
               lambda: labmod.lan_ping(src, dst, count=1, check=False).returncode == 0, timeout=30)
    spi = labmod.gdoi_current_spi(src, group)
    assert spi and labmod.gdoi_current_spi(dst, group) == spi, (spi, labmod.gdoi_current_spi(dst, group))
    fwd = forwarded(ks)
    before = {r.name: sa_packets(r, group, spi) for r in (src, dst)}
    captures = {r.name: sniff_ip(r) for r in (src, dst, ks)}
    ping = labmod.lan_ping(src, dst, count=count)
    seen = {name: capture() for name, capture in captures.items()}
    after = {r.name: sa_packets(r, group, spi) for r in (src, dst)}
    result = {"spi": spi, "ping": ping.stdout, "sa": (before, after)}
    for r in (src, dst):
        grew = [a - b for a, b in zip(after[r.name], before[r.name])]
        assert grew[0] >= count and grew[1] >= count, (r.name, group, spi, before[r.name], after[r.name])
    for r in (src, dst):
        esp = [(s, d) for kind, s, d, x in seen[r.name] if kind == "esp" and x == spi]
        out, back = esp.count((src.addr, dst.addr)), esp.count((dst.addr, src.addr))
        assert out >= count and back >= count and set(esp) == {(src.addr, dst.addr), (dst.addr, src.addr)}, \
            (r.name, group, spi, seen[r.name])
        plain = [c for c in seen[r.name] if c[0] == "icmp" and {c[1], c[2]} == {src.lan_addr, dst.lan_addr}]
        assert not plain, f"ICMP in the clear on {r.name}: {plain}"
        result[r.name] = (out, back)
    assert not [c for c in seen["ks"] if c[0] == "esp" and c[3] == spi], seen["ks"]
    assert forwarded(ks) == fwd
    return result


def keys(router):
    """{group: epoch} of the routing keys the router's bgpd holds."""
    return {g: k["epoch"] for g, k in router.vtysh_json("show bgp gsa routes json")["keys"].items()}


def restart_charon(ks):
    """Stop charon on the S/R and start it again (serving both groups);
    nothing is done on the members."""
    p = ks.procs["charon"]
    p.terminate()
    p.wait(timeout=15)
    start = time.monotonic()
    gsa.start_charon(ks, GROUPS)
    return start
