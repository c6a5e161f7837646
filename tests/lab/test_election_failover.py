# SPDX-License-Identifier: GPL-2.0-or-later
"""Failover without loss: the elected key server's state goes to the standbys.

Three candidates (ks1..ks3) and three members (gm1..gm3) as in
test_election.py (unicast peer list, ECDSA certificates, default timers).
The elected server replicates group blue's state (keys, counters, member
table, key tree) to both standbys over the election's encrypted channel
(docs/election.md, "State replication"). While gm1 pings gm2's LAN at 10
per second through the group SA, the server's charon is killed with
SIGKILL: another candidate is elected, continues the group from the
replicated state, every member registers to it keeping its SA (the same
SPI before and after), and not one ping is lost. Then the second server is
killed too, with the same result on the third. The time from each SIGKILL
to every member registered with the new server is printed.
"""
import json
import re
import time

import lab as labmod
import pytest
import test_election as te
from lab import wait_until

CANDIDATES = te.CANDIDATES
MEMBERS = te.MEMBERS
ALL = {**CANDIDATES, **MEMBERS}
GROUP = te.GROUP


def election_conf(name, candidate):
    return f"""\
		election {{
			groups {{
				{te.ELECTION} {{
					group = 1234
					identity = {te.fqdn(name)}
					address = {ALL[name]}
					candidate = {"yes" if candidate else "no"}
					priority = {100 if candidate else 0}
					auth = pubkey
					peers = {', '.join(ALL.values())}
					candidates = {", ".join(te.fqdn(n) for n in CANDIDATES)}
					members = {", ".join(te.fqdn(n) for n in MEMBERS)}
					gdoi_group = {GROUP}
					rogue_hold = 0
				}}
			}}
		}}
"""


def make_lab(name):
    """The lab of 3 candidates and 3 members (not started)."""
    lab = labmod.Lab(name)
    lab.transport = "peers"
    for i, (n, addr) in enumerate(ALL.items()):
        lab.add_router(n, addr, f"10.{i + 1}.0.1/24")
    return lab


def start(lab):
    """Configure and start every charon of a lab of make_lab() (entered)."""
    names = list(ALL)
    pki = labmod.make_pki(lab, names)
    routers = [lab[n] for n in names]
    gms = [lab[n] for n in MEMBERS]
    for r in routers:
        labmod.install_creds(r, pki, cert=f"{r.name}.crt", key=f"{r.name}.key",
                             certs=[f"{n}.crt" for n in names if n != r.name])
        if r.name in CANDIDATES:
            conf = te.server_conf(r, gms)
        else:
            conf = te.member_conf(r, [p for p in gms if p is not r])
        labmod.gdoi_charon(r, conf, "", extra=election_conf(r.name, r.name in CANDIDATES))
    for r in routers:
        r.start_charon()
    te.load_creds(routers)


def restart(lab, name):
    """Start a killed node's charon again: it finds the server in office
    and stands by."""
    r = lab[name]
    r.start_charon()
    te.load_creds([r])


@pytest.fixture(scope="module")
def flab():
    lab = make_lab("gsfail")
    with lab:
        start(lab)
        yield lab


def replica(router):
    e = te.election(router) or {}
    return e.get("replica", {})


def settled(lab, names):
    """The server every live node follows, once it serves, every member is
    registered to it and every live standby holds its current state."""
    honest = te.live(lab, names)
    leader = te.name_of(wait_until("every live node follows the same key server",
                                   lambda: te.common_leader(honest), timeout=60))
    assert leader in CANDIDATES
    ks = lab[leader]
    wait_until(f"{leader} serves group blue", lambda: te.serving(ks), timeout=20)
    for gm in te.live(lab, MEMBERS):
        wait_until(f"{gm.name} registered to {leader}", lambda: te.registered_to(gm, CANDIDATES[leader]), timeout=30)
    standbys = len([n for n in te.live(lab, CANDIDATES) if n.name != leader])
    try:
        wait_until(f"{leader}'s {standbys} standbys hold its state",
                   lambda: replica(ks).get("standbys") == standbys and replica(ks).get("standbysCurrent") == standbys,
                   timeout=20)
    except labmod.LabError:
        for r in te.live(lab, CANDIDATES):
            print(r.name, te.election(r))
            print("\n".join(l for l in (r.dir / "charon.log").read_text().splitlines()
                            if "replica" in l or "snapshot" in l or "election" in l)[-3000:])
        raise
    return leader


LOSS_TABLE = "electionloss"


def add_loss(lab, names, percent):
    """Each named node drops `percent` % of the election datagrams it
    receives (UDP 849), at random (nftables in its namespace); every
    election datagram and every drop is counted."""
    for name in names:
        r = lab[name]
        r.run(["nft", "add", "table", "inet", LOSS_TABLE])
        r.run(["nft", "add", "chain", "inet", LOSS_TABLE, "input",
               "{ type filter hook input priority 0; policy accept; }"])
        r.run(["nft", "add", "rule", "inet", LOSS_TABLE, "input", "udp", "dport", "849", "counter"])
        r.run(["nft", "add", "rule", "inet", LOSS_TABLE, "input", "udp", "dport", "849",
               "numgen", "random", "mod", "100", "<", str(percent), "counter", "drop"])


def loss_counters(lab, names):
    """(election datagrams that reached the named nodes, those of them dropped)."""
    seen = dropped = 0
    for name in names:
        out = json.loads(lab[name].run(["nft", "-j", "list", "table", "inet", LOSS_TABLE]).stdout)
        for item in out.get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            packets = sum(e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e)
            if any("drop" in e for e in rule.get("expr", [])):
                dropped += packets
            else:
                seen += packets
    return seen, dropped


def rounds(lab, names):
    """Each live named node's election round counter (control socket)."""
    return {r.name: te.election(r).get("rounds", 0) for r in te.live(lab, names)}


_STAMP = re.compile(r"^\w+ +\d+ (\d+):(\d+):(\d+)\.(\d+) ")


def _stamp(line):
    m = _STAMP.match(line)
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) + int(m[4]) / 1000 if m else None


def registration_leads(lab, new):
    """From the charon logs (millisecond stamps): for each member, the
    seconds from the new server's group serving to the member starting its
    registration to it (negative: it registered before the server served)."""
    served = [_stamp(l) for l in (lab[new].dir / "charon.log").read_text().splitlines()
              if f"group {GROUP}: elected, serving as key server" in l]
    leads = {}
    for name in MEMBERS:
        starts = [_stamp(l) for l in (lab[name].dir / "charon.log").read_text().splitlines()
                  if f"registering to the elected key server {te.fqdn(new)}" in l]
        if served and starts and served[-1] is not None and starts[-1] is not None:
            leads[name] = starts[-1] - served[-1]
    return leads


def kill_during_ping(lab, old, count=120):
    """SIGKILL old's charon while gm1 pings gm2 at 10/s; returns the new
    server and the seconds from the kill to every member registered to it."""
    gm1, gm2 = lab["gm1"], lab["gm2"]
    gms = [lab[n] for n in MEMBERS]
    spis = {gm.name: labmod.gdoi_current_spi(gm, GROUP) for gm in gms}
    assert all(spis.values()) and len(set(spis.values())) == 1, spis
    registrations = {gm.name: te.group_state(gm)["server"] for gm in gms}
    pinger, out = labmod.ping_flowing(gm1, gm2.lan_addr, count)
    p = lab[old].procs["charon"]
    p.kill()
    killed = time.monotonic()
    p.wait(timeout=10)
    honest = te.live(lab, list(CANDIDATES) + list(MEMBERS))
    try:
        new = te.name_of(wait_until("every live node follows a new key server",
                                    lambda: (lambda l: l if l and l != te.fqdn(old) else None)(
                                        te.common_leader(honest)), timeout=30, interval=0.05))
        wait_until(f"{new} serves group blue", lambda: te.serving(lab[new]), timeout=20, interval=0.05)
        for gm in gms:
            wait_until(f"{gm.name} registered to {new}", lambda: te.registered_to(gm, CANDIDATES[new]),
                       timeout=30, interval=0.05)
    except labmod.LabError:
        te.show(lab)
        raise
    moved = time.monotonic() - killed
    out += pinger.stdout.read()
    assert pinger.wait(timeout=60) == 0 and f"{count} received" in out, out
    # the members kept their SA: the new server continued the group
    after = {gm.name: labmod.gdoi_current_spi(gm, GROUP) for gm in gms}
    assert after == spis, (spis, after)
    assert all(te.group_state(gm)["server"] != registrations[gm.name] for gm in gms)
    log = (lab[new].dir / "charon.log").read_text()
    assert "continues from the replicated state" in log, log[-3000:]
    members = labmod.gdoictl(lab[new], "members", GROUP)["members"]
    assert {m["id"] for m in members} == {te.fqdn(n) for n in MEMBERS}, members
    for gm in gms:
        assert "keeping its SAs" in (gm.dir / "charon.log").read_text()
    print(f"SIGKILL of {old} -> every member registered to {new}: {moved:.2f} s, "
          f"{count} pings at 10/s, 0 lost, SPI {spis['gm1']} kept")
    return new, moved


def test_sigkill_of_two_servers_in_turn_loses_no_packet(flab):
    first = settled(flab, list(CANDIDATES) + list(MEMBERS))
    second, _ = kill_during_ping(flab, first)
    assert second != first
    settled(flab, list(CANDIDATES) + list(MEMBERS))
    third, _ = kill_during_ping(flab, second)
    assert third not in (first, second)
    # a rekey from the third server is accepted by every member
    gms = [flab[n] for n in MEMBERS]
    rekeys = {gm.name: labmod.gdoi_counters(gm, GROUP)["rekeys"] for gm in gms}
    old = labmod.gdoi_current_spi(gms[0], GROUP)
    labmod.gdoictl(flab[third], "rekey", GROUP)
    for gm in gms:
        wait_until(f"{gm.name} applies the rekey of {third}",
                   lambda: labmod.gdoi_counters(gm, GROUP)["rekeys"] > rekeys[gm.name], timeout=20)
    new = labmod.gdoi_current_spi(gms[0], GROUP)
    assert new != old and all(labmod.gdoi_current_spi(gm, GROUP) == new for gm in gms)
    labmod.lan_ping(flab["gm1"], flab["gm3"])
