# SPDX-License-Identifier: GPL-2.0-or-later
"""The S/R: a key server and route reflector in one router, and its members.

The S/R (ks) runs charon's gdoi plugin with two key server groups, A (ID
1001: gm1, gm2, gm3) and B (ID 1002: gm3, gm4), and bgpd with the GSA
module as the route reflector of gm1..gm4, of a gobgpd and of a bird2 peer,
every neighbor with the module's outbound route map GSA-REFLECT. Each member
runs charon (member groups registering with ks) and bgpd with the GSA module,
configured with `gsa group NAME id ID endpoint ADDR`: it originates a
membership route for its endpoint tagged with its groups' route targets.

Checked: each member's BGP table holds exactly the membership routes of its
groups; gobgpd and bird, registered with no group, learn none (but do learn
the S/R's plain route); evicting gm2 from A takes its route from gm1 and gm3
and theirs from gm2, and moves it to the update-group of the peers of no
group. The S/R has one outbound policy and no `solo`: the module splits the
update-groups by the members' groups (gm1 and gm2 share one); an
operator's maximum-prefix-out on gm2 is kept, and the module's tag comes
back once it is removed. gm3, in A and B, seals one entry per group: gm1 and gm2 open
its prefixes of A, gm4 those of B (one of them B's only); members moved to
another `gsa sealed-attribute type` still open each other's and no longer
the others'. Every wait is for a condition.
"""
import json
import subprocess

import lab as labmod
import pytest
from lab import wait_until

GROUPS = {"A": 1001, "B": 1002}
MEMBERS = {"gm1": ["A"], "gm2": ["A"], "gm3": ["A", "B"], "gm4": ["B"]}
GOBGP_ADDR, BIRD_ADDR = "192.0.2.31", "192.0.2.32"
SR_LAN = "10.0.0.0/24"
# gm3 announces its LAN in A and B, and this one in B only: its membership
# route carries an entry per group, each with that group's prefixes
GM3_B_ONLY = "10.33.0.0/24"


def endpoint(gm):
    return f"{gm.addr}/32"


def server_conf(ks, groups=None, members=None):
    """The S/R's key server groups: groups {name: ID}, each serving the
    members {name: [groups]} (by default this lab's)."""
    groups, members = groups or GROUPS, members or MEMBERS
    tek = labmod.GDOI_TEK_TS[4]
    blocks = ""
    for g, gid in groups.items():
        ids = ", ".join(f"{m}.example.net" for m, gs in members.items() if g in gs)
        blocks += f"""\
	{g} {{
		role = server
		group_id = {gid}
		local_id = ks.example.net
		listen = {ks.addr}
		auth = psk
		members = {ids}
		tek-1 {{
			local_ts = {tek}
			remote_ts = {tek}
			esp_proposal = aes256gcm16
		}}
		tek_lifetime = 1h
		deactivation_delay = 3s
		sa_mode = gateway
	}}
"""
    return f"groups {{\n{blocks}}}\n"


def member_conf(gm, ks):
    blocks = ""
    for g in MEMBERS[gm.name]:
        blocks += f"""\
	{g} {{
		role = member
		group_id = {GROUPS[g]}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {ks.addr}
		server_id = ks.example.net
		auth = psk
	}}
"""
    return f"groups {{\n{blocks}}}\n"


def sr_bgp_conf(ks, members, others=(GOBGP_ADDR, BIRD_ADDR)):
    """others: the peers that are no members (gobgpd, bird). One outbound
    policy for all and no `solo`: the module splits the update-groups."""
    lines = [f"hostname {ks.name}", "debug bgp updates out", "router bgp 65000", f" bgp router-id {ks.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
    peers = [m.addr for m in members] + list(others)
    for p in peers:
        lines += [f" neighbor {p} remote-as 65000", f" neighbor {p} timers connect 2"]
    lines.append(" address-family ipv4 unicast")
    lines.append(f"  network {SR_LAN}")
    for p in peers:
        lines += [f"  neighbor {p} activate", f"  neighbor {p} route-reflector-client",
                  f"  neighbor {p} route-map GSA-REFLECT out"]
    lines += [" exit-address-family", ""]
    ks.write_config("zebra.conf", f"hostname {ks.name}\n")
    ks.write_config("bgpd.conf", "\n".join(lines))


def member_bgp_conf(gm, ks):
    lines = [f"hostname {gm.name}", "router bgp 65000", f" bgp router-id {gm.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast",
             f" neighbor {ks.addr} remote-as 65000", f" neighbor {ks.addr} timers connect 2"]
    for g in MEMBERS[gm.name]:
        lines.append(f" gsa group {g} id {GROUPS[g]} endpoint {gm.addr}")
        lines.append(f" gsa group {g} prefix {gm.lan_prefix}")
        if gm.name == "gm3" and g == "B":
            lines.append(f" gsa group {g} prefix {GM3_B_ONLY}")
    lines += [" address-family ipv4 unicast", f"  neighbor {ks.addr} activate", " exit-address-family", ""]
    gm.write_config("zebra.conf", f"hostname {gm.name}\n")
    gm.write_config("bgpd.conf", "\n".join(lines))


def start_gobgp(r, ks):
    r.write_config("gobgp.toml", f"""\
[global.config]
  as = 65000
  router-id = "{r.addr}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{ks.addr}"
    peer-as = 65000
  [neighbors.timers.config]
    connect-retry = 2
""")
    r.spawn("gobgpd", ["gobgpd", "-f", r.dir / "gobgp.toml", "-t", "toml", "--api-hosts", "127.0.0.1:50051",
                       "--log-level", "debug"])


def gobgp_prefixes(r):
    p = r.run(["gobgp", "-u", "127.0.0.1", "-p", "50051", "-j", "global", "rib"], check=False)
    if p.returncode != 0:
        return None
    return set(json.loads(p.stdout or "{}").keys())


def start_bird(r, ks):
    r.write_config("bird.conf", f"""\
router id {r.addr};
log "{r.dir}/bird.log" all;
protocol device {{ }}
protocol direct {{ ipv4; }}
protocol bgp sr {{
	local {r.addr} as 65000;
	neighbor {ks.addr} as 65000;
	connect retry time 2;
	ipv4 {{ import all; export none; }};
}}
""")
    r.spawn("bird", ["bird", "-f", "-c", r.dir / "bird.conf", "-s", r.dir / "bird.ctl", "-P", r.dir / "bird.pid"])


def bird_routes(r):
    p = r.run(["birdc", "-s", r.dir / "bird.ctl", "show", "route", "protocol", "sr"], check=False)
    if p.returncode != 0:
        return None
    return {w for line in p.stdout.splitlines() for w in line.split()[:1] if "/" in w}


def bgp_prefixes(router):
    out = router.vtysh_json("show bgp ipv4 unicast json")
    return set(out.get("routes", {}).keys())


def start_charon(r, groups):
    r.start_charon()
    r.swanctl("--load-creds", "--noprompt", "--file", r.dir / "swanctl.conf")
    if r.name == "ks":
        r.swanctl("--reload-settings")
        wait_until("ks: groups A and B serving", lambda: {g["name"] for g in labmod.gdoictl(r, "groups")["groups"]
                                                          if g.get("state") == "serving"} >= set(groups), timeout=20)
    else:
        for g in groups:
            labmod.gdoictl(r, "reregister", g, check=False, as_json=False)


def registered(ks):
    """{group: {member identity}} as the key server lists them."""
    return {g: {m["id"] for m in labmod.gdoictl(ks, "members", g).get("members", [])} for g in GROUPS}


def sr_view(ks):
    return ks.vtysh_json("show bgp gsa groups json")


@pytest.fixture(scope="module")
def sr():
    lab = labmod.Lab("gsbgp")
    ks = lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    gms = [lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24") for i in range(1, 5)]
    gobgp = lab.add_router("gobgp", GOBGP_ADDR, "10.31.0.1/24")
    bird = lab.add_router("bird", BIRD_ADDR, "10.32.0.1/24")
    with lab:
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, server_conf(ks), labmod.gdoi_secrets(ks, list(MEMBERS)))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, member_conf(gm, ks), labmod.gdoi_secrets(gm, ["ks"]))
        sr_bgp_conf(ks, gms)
        ks.start_frr()
        start_charon(ks, GROUPS)
        for gm in gms:
            start_charon(gm, MEMBERS[gm.name])
        want = {g: {f"{m}.example.net" for m, gs in MEMBERS.items() if g in gs} for g in GROUPS}
        wait_until("every member registered", lambda: registered(ks) == want, timeout=60)
        # BGP on the backbone, from before the members' first UPDATE
        lab.bgp_pcap = lab.dir / "bgp.pcap"
        lab.capture = subprocess.Popen(["ip", "netns", "exec", lab.bb, "dumpcap", "-q", "-P", "-i", "br0",
                                        "-f", "tcp port 179", "-w", str(lab.bgp_pcap)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        try:
            wait_until("the capture runs", lambda: lab.bgp_pcap.exists() and lab.bgp_pcap.stat().st_size > 0
                       or lab.capture.poll() is not None, timeout=10)
            assert lab.capture.poll() is None, lab.capture.stderr.read()
            for gm in gms:
                member_bgp_conf(gm, ks)
                gm.start_frr()
            start_gobgp(gobgp, ks)
            start_bird(bird, ks)
            yield lab
        finally:
            stop_capture(lab)


def stop_capture(lab):
    if lab.capture.poll() is None:
        lab.capture.terminate()
        lab.capture.wait(timeout=10)


def opened_routes(gm, group=None):
    """{prefix: (gateway, group)} of `show bgp gsa routes [GROUP] json`."""
    view = gm.vtysh_json("show bgp gsa routes" + (f" {group}" if group else "") + " json")
    return {r["prefix"]: (r["gateway"], r["group"]) for r in view["routes"]}


def gdoi_endpoints(gm, group):
    """{gateway: [prefixes]} the member's gdoi plugin holds for group."""
    out = labmod.gdoictl(gm, "endpoints", group, check=False)
    if not out:
        return None
    eps = out.get("endpoints") or []
    return {e["gateway"]: e["prefixes"] for e in (eps.values() if isinstance(eps, dict) else eps)}


def expected_tables(lab, evicted=()):
    """{member: the membership routes it must hold}: its own, and those of
    every member sharing a group with it (minus evicted (member, group))."""
    out = {}
    for m, gs in MEMBERS.items():
        mine = {g for g in gs if (m, g) not in evicted}
        routes = {endpoint(lab[m])}
        for o, ogs in MEMBERS.items():
            theirs = {g for g in ogs if (o, g) not in evicted}
            if o != m and mine & theirs:
                routes.add(endpoint(lab[o]))
        out[m] = routes
    return out


def membership_routes(lab, m):
    """The membership routes (backbone /32s) in m's BGP table."""
    return {p for p in bgp_prefixes(lab[m]) if p.startswith("192.0.2.")}


def tables_are(lab, want):
    got = {m: membership_routes(lab, m) for m in MEMBERS}
    return got if got == want else None


def converge(lab, want, what, timeout=60):
    """Wait until the members' tables are want; on timeout, say what they
    hold and what the S/R decided."""
    try:
        return wait_until(what, lambda: tables_are(lab, want), timeout=timeout)
    except labmod.LabError as e:
        got = {m: sorted(membership_routes(lab, m)) for m in MEMBERS}
        ks = lab["ks"]
        raise labmod.LabError(f"{e}\nwant {want}\ngot {got}\n{ks.vtysh('show bgp gsa groups')}\n"
                              f"{ks.vtysh('show bgp ipv4 unicast')}") from None


def test_members_originate_tagged_membership_routes(sr):
    gm3 = sr["gm3"]

    def tags():
        if endpoint(gm3) not in bgp_prefixes(gm3):
            return None
        paths = gm3.vtysh_json(f"show bgp ipv4 unicast {endpoint(gm3)} json")["paths"]
        return {(p.get("extendedCommunity") or {}).get("string") for p in paths}
    # one route for the endpoint, tagged with both groups' route targets
    wait_until("gm3 originates its membership route",
               lambda: tags() == {"RT:65000:1001 RT:65000:1002"}, timeout=30)
    text = gm3.vtysh("show running-config", daemon="bgpd")
    assert f" gsa group A id 1001 endpoint {gm3.addr}\n gsa group A prefix 10.3.0.0/24\n" in text, text
    view = gm3.vtysh_json("show bgp gsa groups json")
    assert view["localGroups"]["B"] == {"id": 1002, "routeTarget": "RT:65000:1002", "discovery": "auto",
                                        "endpoint": gm3.addr, "prefixes": ["10.3.0.0/24", GM3_B_ONLY]}, view


def test_bad_member_configuration_is_refused(sr):
    gm1 = sr["gm1"]

    def conf(line):
        return gm1.run([sr.frr / "bin" / "vtysh", "-c", "configure terminal", "-c", "router bgp 65000",
                        "-c", line], check=False)
    before = gm1.vtysh("show running-config", daemon="bgpd")
    p = conf("gsa group A prefix 10.1.0.1/24")
    assert "has host bits set (the network is 10.1.0.0/24)" in p.stdout + p.stderr
    p = conf("gsa group Z prefix 10.9.0.0/24")
    assert "configure its ID and endpoint first" in p.stdout + p.stderr
    assert gm1.vtysh("show running-config", daemon="bgpd") == before


def test_each_member_holds_exactly_its_groups_membership_routes(sr):
    want = expected_tables(sr)
    assert want["gm1"] == {"192.0.2.11/32", "192.0.2.12/32", "192.0.2.13/32"}
    assert want["gm4"] == {"192.0.2.13/32", "192.0.2.14/32"}
    converge(sr, want, "every member holds its groups' routes", timeout=60)
    view = sr_view(sr["ks"])
    a = view["serverGroups"]["A"]
    assert a["routeTarget"] == "RT:65000:1001" and a["membersKnown"] is True, a
    assert set(a["members"]) == {"gm1.example.net", "gm2.example.net", "gm3.example.net"}, a
    assert a["counters"]["reflected"] > 0 and a["counters"]["deniedPeerNotMember"] > 0, a
    assert view["neighbors"]["192.0.2.13"]["groups"] == ["A", "B"], view["neighbors"]
    assert all(n["filtered"] for n in view["neighbors"].values()), view["neighbors"]


def test_members_open_each_others_sealed_prefixes_and_hand_them_to_gdoi(sr):
    gm1, gm2, gm3, gm4 = (sr[f"gm{i}"] for i in range(1, 5))
    want = {gm2.lan_prefix: (gm2.addr, "A"), gm3.lan_prefix: (gm3.addr, "A")}
    assert gm4.lan_prefix == "10.4.0.0/24"
    try:
        wait_until("gm1 opened gm2's and gm3's sealed prefixes", lambda: opened_routes(gm1) == want, timeout=60)
    except labmod.LabError as e:
        raise labmod.LabError(f"{e}\n{gm1.vtysh('show bgp gsa routes')}\n"
                              f"{gm1.vtysh('show bgp ipv4 unicast ' + endpoint(gm2))}\n"
                              f"gm1: {gm1.vtysh('show bgp memory')}\ngm2: {gm2.vtysh('show bgp memory')}\n"
                              f"ks: {sr['ks'].vtysh('show bgp memory')}\n{gm2.vtysh('show bgp gsa routes')}") from None
    # never m4's: its route does not reach gm1, and nothing of B is opened
    assert opened_routes(gm1, "B") == {}
    view = gm1.vtysh_json("show bgp gsa routes json")
    by_prefix = {r["prefix"]: r for r in view["routes"]}
    assert by_prefix[gm2.lan_prefix]["originator"] == gm2.addr
    assert by_prefix[gm2.lan_prefix]["groupId"] == 1001
    epoch = view["keys"]["A"]["epoch"]
    assert by_prefix[gm2.lan_prefix]["epoch"] == epoch and len(epoch) == 8, view
    assert all(n == 0 for n in view["dropped"].values()), view["dropped"]
    # the local gdoi plugin got them as tunnel endpoints of A
    wait_until("gm1's gdoi plugin holds gm2's and gm3's endpoints",
               lambda: gdoi_endpoints(gm1, "A") == {gm2.addr: [gm2.lan_prefix], gm3.addr: [gm3.lan_prefix]},
               timeout=30)
    # gm3 and gm2 the same way, each without its own
    wait_until("gm2 opened gm1's and gm3's", lambda: opened_routes(gm2) == {
        gm1.lan_prefix: (gm1.addr, "A"), gm3.lan_prefix: (gm3.addr, "A")}, timeout=30)
    # gm3, in both groups, opens gm4's too (sealed under B)
    wait_until("gm3 opened gm1's and gm2's (A) and gm4's (B)", lambda: opened_routes(gm3) == {
        gm1.lan_prefix: (gm1.addr, "A"), gm2.lan_prefix: (gm2.addr, "A"), gm4.lan_prefix: (gm4.addr, "B")},
        timeout=30)
    # gm4 (B) opens the B entry of gm3's route: gm3's prefixes of B, the
    # one of B only among them; the A entry is no error for it
    wait_until("gm4 opened gm3's prefixes of B", lambda: opened_routes(gm4) == {
        gm3.lan_prefix: (gm3.addr, "B"), GM3_B_ONLY: (gm3.addr, "B")}, timeout=30)
    view = gm4.vtysh_json("show bgp gsa routes json")
    entries = {e["groupId"]: e["status"] for e in view["entries"][endpoint(gm3)]}
    assert entries == {1001: "unknown-group", 1002: "ok"}, view["entries"]
    assert view["notOpened"] == {} and all(n == 0 for n in view["dropped"].values()), view
    wait_until("gm4's gdoi plugin holds gm3's endpoint of B",
               lambda: {k: sorted(v) for k, v in (gdoi_endpoints(gm4, "B") or {}).items()} == {
                   gm3.addr: sorted([gm3.lan_prefix, GM3_B_ONLY])}, timeout=30)
    # gm1 and gm2 (A) never get gm3's prefix of B only
    assert GM3_B_ONLY not in opened_routes(gm1) and GM3_B_ONLY not in opened_routes(gm2)
    # gm3 sealed one entry per group, each under its group's epoch
    own = gm3.vtysh_json("show bgp gsa routes json")
    assert [(e["group"], e["prefixes"]) for e in own["sealed"][gm3.addr]] == [("A", 1), ("B", 2)], own["sealed"]
    assert [e["epoch"] for e in own["sealed"][gm3.addr]] == [own["keys"]["A"]["epoch"], own["keys"]["B"]["epoch"]]
    # the S/R, key server of both, opens all and hands nothing out
    wait_until("the S/R opened every member's prefixes", lambda: set(opened_routes(sr["ks"])) == {
        gm1.lan_prefix, gm2.lan_prefix, gm3.lan_prefix, gm4.lan_prefix, GM3_B_ONLY}, timeout=30)


def bgpd_conf(r, *lines):
    return r.run([r.lab.frr / "bin" / "vtysh", "-c", "configure terminal", "-c", "router bgp 65000"]
                 + [a for line in lines for a in ("-c", line)], check=False)


def test_the_configured_type_and_grace_are_honoured(sr):
    gm1, gm2, gm3 = sr["gm1"], sr["gm2"], sr["gm3"]
    wait_until("gm3 opened gm1's and gm2's", lambda: {gm1.lan_prefix, gm2.lan_prefix} <= set(opened_routes(gm3)),
               timeout=60)
    before = gm1.vtysh("show running-config", daemon="bgpd")
    p = bgpd_conf(gm1, "gsa sealed-attribute type 16")
    assert "Type 16 is EXTENDED_COMMUNITIES, an attribute bgpd parses itself" in p.stdout + p.stderr
    assert gm1.vtysh("show running-config", daemon="bgpd") == before
    try:
        # gm1 and gm2 move to type 254 with no grace; gm3 stays at 255
        for gm in (gm1, gm2):
            bgpd_conf(gm, "gsa sealed-attribute type 254", "gsa sealed-attribute grace 0")
            text = gm.vtysh("show running-config", daemon="bgpd")
            assert " gsa sealed-attribute type 254\n gsa sealed-attribute grace 0\n" in text, text
            assert gm.vtysh_json("show bgp gsa routes json")["sealedAttribute"] == {"type": 254, "grace": 0}
        # gm1 and gm2 still open each other's, re-originated under 254
        wait_until("gm1 and gm2 open each other's under type 254",
                   lambda: opened_routes(gm1).get(gm2.lan_prefix) == (gm2.addr, "A")
                   and opened_routes(gm2).get(gm1.lan_prefix) == (gm1.addr, "A")
                   and gm3.lan_prefix not in opened_routes(gm1), timeout=30)
        # gm3 looks for 255: gm1's and gm2's prefixes are gone from it
        wait_until("gm3 no longer opens gm1's and gm2's",
                   lambda: not ({gm1.lan_prefix, gm2.lan_prefix} & set(opened_routes(gm3))), timeout=30)
        assert opened_routes(gm3).get(sr["gm4"].lan_prefix) == (sr["gm4"].addr, "B")
    finally:
        for gm in (gm1, gm2):
            bgpd_conf(gm, "no gsa sealed-attribute type", "no gsa sealed-attribute grace")
    assert gm1.vtysh("show running-config", daemon="bgpd") == before
    wait_until("gm3 opens gm1's and gm2's again", lambda: {gm1.lan_prefix, gm2.lan_prefix} <= set(opened_routes(gm3)),
               timeout=30)
    wait_until("gm1 opens gm3's again", lambda: opened_routes(gm1).get(gm3.lan_prefix) == (gm3.addr, "A"),
               timeout=30)


def update_payloads(pcap):
    """The TCP payloads of the captured segments holding a BGP UPDATE."""
    p = subprocess.run(["tshark", "-r", str(pcap), "-o", "tcp.desegment_tcp_streams:FALSE", "-Y", "bgp.type == 2",
                        "-T", "fields", "-e", "tcp.payload"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [bytes.fromhex(line.replace(":", "")) for line in p.stdout.split() if line]


def test_the_backbone_never_carries_a_private_prefix_in_clear(sr):
    gm1 = sr["gm1"]
    wait_until("gm1 opened the others' prefixes", lambda: len(opened_routes(gm1)) == 2, timeout=60)
    stop_capture(sr)
    updates = update_payloads(sr.bgp_pcap)
    assert updates, "no UPDATE captured"
    blob = b"".join(updates)
    # the search finds what is there in clear: the S/R's plain route
    # 10.0.0.0/24 (NLRI 18 0a 00 00), and the sealed attribute (code 255,
    # Optional Transitive, Partial once reflected)
    assert bytes([24, 10, 0, 0]) in blob
    assert bytes([0xC0, 0xFF]) in blob and bytes([0xE0, 0xFF]) in blob
    # and no private prefix: not as NLRI (length 24, three octets), nor its
    # network or LAN address
    for i in range(1, 5):
        lan = sr[f"gm{i}"]
        assert lan.lan_prefix == f"10.{i}.0.0/24"
        for needle in (bytes([24, 10, i, 0]), bytes([10, i, 0, 0]), bytes([10, i, 0, 1])):
            assert needle not in blob, f"{lan.lan_prefix} in clear: {needle.hex()}"
    for needle in (bytes([24, 10, 33, 0]), bytes([10, 33, 0, 0])):
        assert needle not in blob, f"{GM3_B_ONLY} in clear: {needle.hex()}"


def test_peers_that_are_no_members_learn_nothing_of_the_groups(sr):
    gobgp, bird = sr["gobgp"], sr["bird"]
    # the S/R's plain route reaches them: the sessions are up and only the
    # groups' routes are held back
    wait_until("gobgpd learned the S/R's plain route", lambda: SR_LAN in (gobgp_prefixes(gobgp) or set()),
               timeout=60)
    wait_until("bird learned the S/R's plain route", lambda: SR_LAN in (bird_routes(bird) or set()), timeout=60)
    # the members' tables are complete: everything reflected was decided
    converge(sr, expected_tables(sr), "every member holds its groups' routes", timeout=60)
    members = {endpoint(sr[m]) for m in MEMBERS}
    assert not (gobgp_prefixes(gobgp) & members), gobgp_prefixes(gobgp)
    assert not (bird_routes(bird) & members), bird_routes(bird)
    view = sr_view(sr["ks"])
    assert view["neighbors"][GOBGP_ADDR]["groups"] == [] and view["neighbors"][BIRD_ADDR]["groups"] == []
    adv = sr["ks"].vtysh_json(f"show bgp ipv4 unicast neighbors {GOBGP_ADDR} advertised-routes json")
    assert set(adv.get("advertisedRoutes", {})) == {SR_LAN}, adv


def update_groups(ks):
    """{peer address: update-group} as `show bgp ipv4 unicast update-groups`
    shows them (FRR 8.4 has no json variant)."""
    out, group = {}, None
    for line in ks.vtysh("show bgp ipv4 unicast update-groups").splitlines():
        if line.startswith("Update-group "):
            group = line.split()[1].rstrip(":")
        elif line.strip().startswith("- ") and group:
            out[line.strip()[2:]] = group
    return out


def sr_vty(lab, *lines):
    lab["ks"].run([lab.frr / "bin" / "vtysh", "-c", "configure terminal", "-c", "router bgp 65000",
                   *[a for line in lines for a in ("-c", line)]])


def test_the_module_splits_update_groups_by_the_members_groups(sr):
    """One outbound policy and no `solo` on the S/R: without the module
    every neighbor would share one update-group. With it, gm1 and gm2 (A)
    share one, gm3 (A and B) and gm4 (B) each have their own, and the peers
    of no group (gobgpd, bird) share another."""
    ks = sr["ks"]
    a = {m: sr[m].addr for m in MEMBERS}
    converge(sr, expected_tables(sr), "every member holds its groups' routes", timeout=60)

    def split():
        u = update_groups(ks)
        if not all(x in u for x in [*a.values(), GOBGP_ADDR, BIRD_ADDR]):
            return None
        ok = (u[a["gm1"]] == u[a["gm2"]] and u[GOBGP_ADDR] == u[BIRD_ADDR]
              and len({u[a["gm1"]], u[a["gm3"]], u[a["gm4"]], u[GOBGP_ADDR]}) == 4)
        return u if ok else None
    try:
        wait_until("the update-groups follow the members' groups", split, timeout=30)
    except labmod.LabError as e:
        raise labmod.LabError(f"{e}: {update_groups(ks)}") from None
    # what the module shows: equal tags for equal groups, 0 for none, held
    # by bgpd; never written into the configuration
    n = sr_view(ks)["neighbors"]
    tag = {x: n[x]["updateGroupTag"] for x in [*a.values(), GOBGP_ADDR, BIRD_ADDR]}
    assert tag[a["gm1"]] == tag[a["gm2"]] and tag[GOBGP_ADDR] == tag[BIRD_ADDR] == 0, tag
    assert len({tag[a["gm1"]], tag[a["gm3"]], tag[a["gm4"]], 0}) == 4, tag
    assert all(n[x]["updateGroupTagApplied"] for x in tag), n
    members = sr_view(ks)["serverGroups"]["A"]["members"]
    assert members["gm1.example.net"]["updateGroupTag"] == tag[a["gm1"]], members
    assert "maximum-prefix-out" not in ks.vtysh("show running-config", daemon="bgpd")
    # what each is sent: gm4 (B) nothing of A alone (its own route comes
    # back, as FRR reflects to a client without `solo`, and gm4 drops it by
    # its ORIGINATOR_ID), gobgpd nothing of a group
    adv = ks.vtysh_json(f"show bgp ipv4 unicast neighbors {a['gm4']} advertised-routes json")
    assert set(adv.get("advertisedRoutes", {})) - {endpoint(sr["gm4"])} == {SR_LAN, endpoint(sr["gm3"])}, adv
    adv = ks.vtysh_json(f"show bgp ipv4 unicast neighbors {GOBGP_ADDR} advertised-routes json")
    assert set(adv.get("advertisedRoutes", {})) == {SR_LAN}, adv


def test_an_operators_maximum_prefix_out_is_kept_and_the_tag_comes_back_after_it(sr):
    """The module's tag shares bgpd's field with `maximum-prefix-out`: the
    operator's limit stays (bgpd gives such a peer an update-group of its
    own); once it is removed, which zeroes the field, the module writes the
    tag back and gm2 rejoins gm1 (both of A)."""
    ks, gm1, gm2 = sr["ks"], sr["gm1"], sr["gm2"]
    converge(sr, expected_tables(sr), "every member holds its groups' routes", timeout=60)
    sr_vty(sr, "address-family ipv4 unicast", f"neighbor {gm2.addr} maximum-prefix-out 1000")
    wait_until("gm2 in an update-group of its own",
               lambda: (u := update_groups(ks)).get(gm2.addr) is not None and u.get(gm2.addr) != u.get(gm1.addr),
               timeout=30)
    assert f"neighbor {gm2.addr} maximum-prefix-out 1000" in ks.vtysh("show running-config", daemon="bgpd")
    n = sr_view(ks)["neighbors"]
    assert not n[gm2.addr]["updateGroupTagApplied"] and n[gm1.addr]["updateGroupTagApplied"], n
    assert "(held by maximum-prefix-out)" in ks.vtysh("show bgp gsa groups")
    converge(sr, expected_tables(sr), "every member still holds its groups' routes", timeout=30)
    sr_vty(sr, "address-family ipv4 unicast", f"no neighbor {gm2.addr} maximum-prefix-out")
    wait_until("gm2 back in gm1's update-group, its tag held by bgpd",
               lambda: (u := update_groups(ks)).get(gm2.addr) is not None and u.get(gm2.addr) == u.get(gm1.addr)
               and sr_view(ks)["neighbors"][gm2.addr]["updateGroupTagApplied"], timeout=30)
    assert "maximum-prefix-out" not in ks.vtysh("show running-config", daemon="bgpd")
    converge(sr, expected_tables(sr), "every member holds its groups' routes", timeout=30)


def test_evicting_a_member_withdraws_its_routes_and_theirs_from_it(sr):
    ks = sr["ks"]
    converge(sr, expected_tables(sr), "every member holds its groups' routes", timeout=60)
    labmod.gdoictl(ks, "evict", "A", "gm2.example.net")
    want = expected_tables(sr, evicted={("gm2", "A")})
    assert want["gm2"] == {"192.0.2.12/32"} and "192.0.2.12/32" not in want["gm1"] | want["gm3"]
    converge(sr, want, "gm2's route gone from gm1 and gm3, theirs from gm2", timeout=30)
    # gm2 (tag 0 now, as a peer of no group) left gm1's update-group, and
    # what it had been sent of A is withdrawn
    wait_until("gm2 out of gm1's update-group",
               lambda: (u := update_groups(ks)).get("192.0.2.12") is not None
               and u.get("192.0.2.11") is not None and u.get("192.0.2.12") != u.get("192.0.2.11"), timeout=30)
    adv = ks.vtysh_json("show bgp ipv4 unicast neighbors 192.0.2.12 advertised-routes json")
    assert set(adv.get("advertisedRoutes", {})) == {SR_LAN}, adv
    assert sr_view(ks)["neighbors"]["192.0.2.12"]["updateGroupTag"] == 0
    view = sr_view(ks)
    assert "gm2.example.net" not in view["serverGroups"]["A"]["members"], view
    assert view["serverGroups"]["A"]["counters"]["evictedEvents"] == 1, view
    # gm4 (B) was never concerned
    assert membership_routes(sr, "gm4") == {"192.0.2.13/32", "192.0.2.14/32"}


def test_show_bgp_gsa_groups_text(sr):
    text = sr["ks"].vtysh("show bgp gsa groups")
    assert "Group A, ID @#000003e9, RT:65000:1001, 2 members" in text, text
    assert "Group B, ID @#000003ea, RT:65000:1002, 2 members" in text, text
    assert f"{GOBGP_ADDR}" in text and "groups: none" in text, text


def test_a_restarted_member_bgpd_converges_back(sr):
    gm1, ks = sr["gm1"], sr["ks"]
    want = expected_tables(sr, evicted={("gm2", "A")})
    converge(sr, want, "the tables after the eviction")
    p = gm1.procs["bgpd"]
    p.terminate()
    p.wait(timeout=15)
    wait_until("the S/R withdrew gm1's route from gm3",
               lambda: endpoint(gm1) not in membership_routes(sr, "gm3"), timeout=30)
    # bgpd alone again, with its configuration: nothing done on the S/R
    frr = sr.frr
    gm1.spawn("bgpd", [frr / "lib" / "frr" / "bgpd", "-f", gm1.dir / "bgpd.conf",
                       "--log", f"file:{gm1.dir}/bgpd.log", "--log-level", "debugging", "-M", "gsa"])
    converge(sr, want, "the same tables once gm1's bgpd is back")
    assert sr_view(ks)["neighbors"][gm1.addr]["groups"] == ["A"]


def test_a_peer_bound_to_another_identity_is_no_member(sr):
    ks, gm1 = sr["ks"], sr["gm1"]
    want = expected_tables(sr, evicted={("gm2", "A")})
    converge(sr, want, "the tables after the eviction")

    def vty(line):
        ks.run([sr.frr / "bin" / "vtysh", "-c", "configure terminal", "-c", "router bgp 65000", "-c", line])
    # gm1 registered as gm1.example.net: bound to another identity, its
    # address alone no longer makes it a member
    vty(f"gsa peer {gm1.addr} identity gm9.example.net")
    assert f" gsa peer {gm1.addr} identity gm9.example.net\n" in ks.vtysh("show running-config", daemon="bgpd")
    converge(sr, expected_tables(sr, evicted={("gm2", "A"), ("gm1", "A")}), "gm1 is no member of A")
    n = sr_view(ks)["neighbors"][gm1.addr]
    assert {k: n[k] for k in ("state", "filtered", "groups", "identity")} == {
        "state": "Established", "filtered": True, "groups": [], "identity": "gm9.example.net"}, n
    # no group: the update-group of the peers of no group
    assert n["updateGroupTag"] == 0, n
    vty(f"gsa peer {gm1.addr} identity gm1.example.net")
    converge(sr, want, "gm1 is a member of A again")
    vty(f"no gsa peer {gm1.addr}")
    assert "gsa peer" not in ks.vtysh("show running-config", daemon="bgpd")
    converge(sr, want, "the same tables without the binding")
