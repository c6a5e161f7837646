# SPDX-License-Identifier: GPL-2.0-or-later
"""Shortcut SAs between two members outside the gateway (docs/shortcuts.md).

A gateway (gw, the key server of group blue) and two outside members (gm1,
gm2), each with an IKEv2 tunnel to the gateway for the whole inside network
(10.0.0.0/8): gm1's LAN reaches gm2's through the gateway, which decrypts
and encrypts every packet again. Both members keep their G-IKEv2 IKE SA
with the key server (liveness checks): the connectivity manager's channel.
The group's own TEK covers an unused range, so that the group SAs carry
none of the test's traffic.

Once the gateway has relayed 10 packets between them (its TUN device feeds
the manager), the manager sends both members their SA secrets over
those IKE SAs; they install inbound first and outbound only on the peer's
acknowledgement. From then on gm1 <-> gm2 goes directly: the gateway's
CHILD_SA counters for both tunnels stop growing and a capture on the
gateway sees none of their packets, while a ping at 10/s across the
switch loses none. A tampered or replayed offer datagram is rejected and
counted by the member; a request naming a member the manager does not
know is refused and counted.

Then gm1 moves to another backbone address while it pings gm2 at 10/s:
its G-IKEv2 IKE SA follows (N(UPDATE_SA_ADDRESSES) from the new address),
the manager tells gm2, and the ping goes on over the shortcut with nothing
relayed by the gateway. Last, gm1 comes inside (onto a LAN of the
gateway's): the shortcut goes on both sides and gm2 reaches gm1's LAN
through the gateway again.
"""
import re
import time

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"

# a range no address of the lab is in: the group SAs carry nothing here
TEK_TS = "10.99.0.0/24"

# the gateway's protected network: a member whose IKE SA comes from in
# here is inside
PROTECTED = "10.0.0.0/8"
# gm1's second backbone address (the move) and the gateway's inside LAN
# (coming inside): gw 10.0.100.1, gm1 10.0.100.2
MOVED = "192.0.2.21"
INSIDE_GW, INSIDE_GM1 = "10.0.100.1", "10.0.100.2"


def tunnel_to_gw(gm, gw):
    return f"""\
	gw {{
		version = 2
		local_addrs = {gm.addr}
		remote_addrs = {gw.addr}
		encap = yes
		proposals = aes128gcm16-prfsha256-x25519
		local {{
			auth = psk
			id = {gm.name}.example.net
		}}
		remote {{
			auth = psk
			id = gw.example.net
		}}
		children {{
			gw {{
				local_ts = {gm.lan_prefix}
				remote_ts = 10.0.0.0/8
				esp_proposals = aes128gcm16
				start_action = start
			}}
		}}
	}}
"""


def tunnel_from_gw(gw, gm):
    return f"""\
	{gm.name} {{
		version = 2
		local_addrs = {gw.addr}
		remote_addrs = {gm.addr}
		encap = yes
		proposals = aes128gcm16-prfsha256-x25519
		local {{
			auth = psk
			id = gw.example.net
		}}
		remote {{
			auth = psk
			id = {gm.name}.example.net
		}}
		children {{
			{gm.name} {{
				local_ts = 10.0.0.0/8
				remote_ts = {gm.lan_prefix}
				esp_proposals = aes128gcm16
			}}
		}}
	}}
"""


def secrets(names):
    """One PSK per member and the gateway: its IKEv2 tunnel and its G-IKEv2
    registration authenticate the same pair of identities."""
    return "secrets {\n" + "".join(f"""\
	ike-{n} {{
		id-1 = gw.example.net
		id-2 = {n}.example.net
		secret = "{labmod.gdoi_psk(n)}"
	}}
""" for n in names) + "}\n"


def server_conf(gw, gms):
    members = ", ".join(f"{g.name}.example.net" for g in gms)
    sections = "".join(f"""\
			{g.name} {{
				member = {g.name}.example.net
				inside = {g.lan_prefix}
			}}
""" for g in gms)
    return f"""\
groups {{
	{GROUP} {{
		role = server
		group_id = {labmod.GDOI_GROUP_ID}
		local_id = gw.example.net
		listen = {gw.addr}
		auth = psk
		rekey_auth = implicit
		members = {members}
		tek-1 {{
			local_ts = {TEK_TS}
			remote_ts = {TEK_TS}
		}}
		shortcut_protected = {PROTECTED}
		shortcuts {{
{sections}		}}
	}}
}}
"""


def member_conf(gm, gw):
    return f"""\
groups {{
	{GROUP} {{
		role = member
		group_id = {labmod.GDOI_GROUP_ID}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {gw.addr}
		server_id = gw.example.net
		auth = psk
		rekey_auth = implicit
		liveness = 10s
		shortcut_inside = {gm.lan_prefix}
	}}
}}
"""


@pytest.fixture(scope="module")
def slab():
    lab = labmod.Lab("gsshort")
    gw = lab.add_router("gw", "192.0.2.1", "10.0.0.1/24")
    gm1 = lab.add_router("gm1", "192.0.2.11", "10.1.0.1/24")
    gm2 = lab.add_router("gm2", "192.0.2.12", "10.2.0.1/24")
    with lab:
        gms = [gm1, gm2]
        gw_swanctl = ("connections {\n" + "".join(tunnel_from_gw(gw, g) for g in gms) + "}\n" +
                      secrets([g.name for g in gms]))
        # the packets gw relays come in decrypted on kernel-libipsec's TUN
        # device: they feed the manager's relayed-traffic trigger
        labmod.gdoi_charon(gw, server_conf(gw, gms), gw_swanctl, plugin_extra="shortcut_relay_interface = ipsec0")
        gw.start_charon()
        gw.swanctl("--load-all", "--file", gw.dir / "swanctl.conf")
        gw.swanctl("--reload-settings")
        wait_until("gw: group blue serving",
                   lambda: any(g.get("name") == GROUP and g.get("state") == "serving"
                               for g in labmod.gdoictl(gw, "groups").get("groups", [])), timeout=20)
        for gm in gms:
            swanctl = "connections {\n" + tunnel_to_gw(gm, gw) + "}\n" + secrets([gm.name])
            labmod.gdoi_charon(gm, member_conf(gm, gw), swanctl)
            gm.start_charon()
            gm.swanctl("--load-all", "--file", gm.dir / "swanctl.conf")
            labmod.gdoictl(gm, "reregister", GROUP, check=False, as_json=False)
        for r in lab.routers.values():
            r.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        # bgpd with the GSA module on the gateway and gm2: the shortcuts in
        # vtysh (show crypto gdoi shortcuts), over the control socket
        for r in (gw, gm2):
            labmod.frr_configs(r, [])
            r.start_frr()
            wait_until(f"{r.name}: bgpd connected to charon",
                       lambda: r.vtysh_json("show bgp gsa json")["controlSocket"]["state"] == "connected",
                       timeout=40)
        yield lab


def registered(router):
    for g in labmod.gdoictl(router, "groups").get("groups", []):
        if g.get("name") == GROUP:
            return g.get("state") == "registered"
    return False


def shortcut_view(router):
    out = labmod.gdoictl(router, "shortcuts", GROUP, check=False)
    if not isinstance(out, dict) or not out.get("groups"):
        return None
    return out["groups"][0]


def gw_child_packets(gw, child):
    """Packets in plus out of the gateway's CHILD_SA with a member, or None."""
    c = labmod.child_sa_counters(gw, child)
    return None if c is None else c[0] + c[1]


_SNIFF_INSIDE = r"""
import os, socket, sys, time
seconds, ready, stop, a, b = sys.argv[1:6]
# every interface, both ways: the tunnel device where the gateway relays
# decrypted packets, and the backbone
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
s.settimeout(0.2)
os.close(os.open(ready, os.O_CREAT | os.O_WRONLY, 0o644))
end, n = time.time() + float(seconds), 0
while time.time() < end:
    stopping = os.path.exists(stop)
    if stopping:
        s.setblocking(False)
    try:
        pkt, where = s.recvfrom(65535)
    except (socket.timeout, BlockingIOError):
        if stopping:
            break
        continue
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        continue
    src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
    if {src, dst} == {a, b}:
        n += 1
print(n, flush=True)
"""


def sniff_inside(router, a, b, seconds=60):
    """Count the packets between inside addresses a and b that the router
    sees on any interface (decrypted, as it relays them). Returns a function
    that ends the capture and gives the count."""
    tag = time.monotonic_ns()
    ready, stop = router.dir / f"inside-{tag}.ready", router.dir / f"inside-{tag}.stop"
    p = router.popen(["/usr/bin/python3", "-c", _SNIFF_INSIDE, str(seconds), ready, stop, a, b])
    wait_until(f"{router.name}: capture running", lambda: ready.exists() or p.poll() is not None,
               timeout=10, interval=0.05)
    assert ready.exists(), f"{router.name}: the capture did not start"

    def result():
        stop.touch()
        out, _ = p.communicate(timeout=seconds + 15)
        return int(out.strip() or "0")
    return result


def tunnels_up(lab):
    gw = lab["gw"]
    return all(gw_child_packets(gw, g) is not None for g in ("gm1", "gm2"))


def test_members_reach_each_other_through_the_gateway(slab):
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=40)
    wait_until("both tunnels to the gateway up", lambda: tunnels_up(slab), timeout=40)
    wait_until("gm1 reaches gm2 through gw",
               lambda: labmod.lan_ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=30)
    before = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    inside = sniff_inside(gw, gm1.lan_addr, gm2.lan_addr)
    # below the manager's threshold of 10 relayed packets of a pair
    labmod.lan_ping(gm1, gm2, count=2)
    relayed = inside()
    # 2 requests and 2 replies, each seen as the gateway relays it
    assert relayed >= 4, relayed
    after = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    assert all(after[g] >= before[g] + 4 for g in after), (before, after)
    # the manager knows both as outside members, each at its IKE SA's address
    view = shortcut_view(gw)
    assert view and view["role"] == "manager", view
    members = {m["id"]: m for m in view["members"]}
    assert members["gm1.example.net"]["outside"] == gm1.addr, members
    assert members["gm2.example.net"]["inside"] == [gm2.lan_prefix], members
    assert view["shortcuts"] == [], view
    assert view["counters"]["detectedRelayed"] == 0, view


def test_shortcut_takes_the_traffic_off_the_gateway_without_loss(slab):
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    wait_until("gm1 reaches gm2 through gw",
               lambda: labmod.lan_ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=30)
    count = 150
    # the ping at 10/s through the gateway is the trigger: the manager sees
    # the pair's relayed packets reach its threshold and sets the shortcut
    # up while the ping runs
    p, out = labmod.ping_flowing(gm1, gm2.lan_addr, count, replies=5, deadline_s=40)

    def up():
        v = shortcut_view(gw)
        return v and any(s["state"] == "up" for s in v["shortcuts"])
    wait_until("shortcut up on the manager", up, timeout=20)
    assert shortcut_view(gw)["counters"]["detectedRelayed"] == 1, shortcut_view(gw)
    for gm in (gm1, gm2):
        v = shortcut_view(gm)
        assert v and v["role"] == "member" and len(v["shortcuts"]) == 1, v
        assert v["shortcuts"][0]["outbound"] is True, v
    s1, s2 = shortcut_view(gm1)["shortcuts"][0], shortcut_view(gm2)["shortcuts"][0]
    assert s1["spiIn"] == s2["spiOut"] and s1["spiOut"] == s2["spiIn"], (s1, s2)
    assert s1["peer"] == gm2.addr and s2["peer"] == gm1.addr, (s1, s2)
    # once up: the gateway's SAs with both members carry nothing more of it
    before = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    inside = sniff_inside(gw, gm1.lan_addr, gm2.lan_addr)
    rest, _ = p.communicate(timeout=60)
    out += rest
    relayed = inside()
    after = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    sent, received = int(m.group(1)), int(m.group(2))
    assert sent == count and received == count, f"lost {sent - received} of {sent} across the switch:\n{out}"
    assert relayed == 0, f"the gateway still relayed {relayed} packets between gm1 and gm2"
    # the liveness checks travel on the IKE SA, not on these CHILD_SAs
    assert after == before, (before, after)
    c = shortcut_view(gw)["counters"]
    assert c["offersSent"] == 2 and c["up"] == 1, c


def test_forged_and_replayed_offers_are_rejected_and_counted(slab):
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    v = shortcut_view(gw)
    for s in v["shortcuts"]:
        labmod.gdoictl(gw, "remove-shortcut", GROUP, s["id"])
    wait_until("no shortcut on gm1", lambda: shortcut_view(gm1)["shortcuts"] == [], timeout=20)
    # the manager's messages to gm1: INFORMATIONAL requests on its IKE SA
    # (G-IKEv2 on UDP 848: no NAT between them)
    capture = labmod._sniff_udp(gm1, "all", 848, 60)
    sid = labmod.gdoictl(gw, "request-shortcut", GROUP, "gm1.example.net", "gm2.example.net")["id"]
    wait_until("shortcut up", lambda: any(s["id"] == int(sid) and s["state"] == "up"
                                          for s in shortcut_view(gw)["shortcuts"]), timeout=20)
    grabbed = capture()
    # INFORMATIONAL (37) requests (no response flag 0x20): OFFER, then GO
    requests = [d for _, d in grabbed if len(d) > 28 and d[18] == 37 and not d[19] & 0x20]
    assert len(requests) >= 2, f"{len(requests)} INFORMATIONAL requests to gm1 captured"
    before = labmod.gdoi_counters(gm1, GROUP)
    member_before = shortcut_view(gm1)["counters"]
    installed = shortcut_view(gm1)["shortcuts"]
    # replayed: the OFFER again, after the GO
    replay = requests[0]
    # forged: the last request with one bit of its ICV changed
    forged = bytearray(requests[-1])
    forged[-1] ^= 0x01
    script = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); "
              "[s.sendto(bytes.fromhex(x),(sys.argv[1],848)) for x in sys.argv[2:]]")
    gw.run(["/usr/bin/python3", "-c", script, gm1.addr, replay.hex(), bytes(forged).hex()])

    def counted():
        c = labmod.gdoi_counters(gm1, GROUP)
        return c["droppedReplay"] > before["droppedReplay"] and c["droppedAuth"] > before["droppedAuth"]
    wait_until("gm1 counts the replayed and the forged offer", counted, timeout=10)
    assert shortcut_view(gm1)["shortcuts"] == installed
    assert shortcut_view(gm1)["counters"]["offers"] == member_before["offers"]
    # a member the manager does not know: refused, counted, nothing sent
    refused = shortcut_view(gw)["counters"]["refusedUnknownMember"]
    p = labmod.gdoictl(gw, "request-shortcut", GROUP, "gm1.example.net", "gm9.example.net", check=False,
                       as_json=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    c = shortcut_view(gw)["counters"]
    assert c["refusedUnknownMember"] == refused + 1, c


def member_view(router):
    v = shortcut_view(router)
    return v["shortcuts"] if v else []


def ensure_shortcut(gw, gm1, gm2):
    """A shortcut between gm1 and gm2, up on both members; its ID."""
    up = [s for s in shortcut_view(gw)["shortcuts"] if s["state"] == "up"]
    if up:
        sid = int(up[0]["id"])
    else:
        sid = int(labmod.gdoictl(gw, "request-shortcut", GROUP, "gm1.example.net", "gm2.example.net")["id"])
    wait_until("shortcut up on both members",
               lambda: all(len(member_view(g)) == 1 and member_view(g)[0]["outbound"] is True for g in (gm1, gm2)),
               timeout=20)
    return sid


def ping_result(out):
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_member_moves_and_its_peer_follows_without_the_gateway(slab):
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    sid = ensure_shortcut(gw, gm1, gm2)
    wait_until("gm1 reaches gm2 over the shortcut",
               lambda: labmod.lan_ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    c0, m0 = shortcut_view(gw)["counters"], shortcut_view(gm2)["counters"]
    before = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    inside = sniff_inside(gw, gm1.lan_addr, gm2.lan_addr)
    count = 100
    p, out = labmod.ping_flowing(gm1, gm2.lan_addr, count, replies=10, deadline_s=40)
    # the lab moves gm1 to another backbone address: the old one goes,
    # then the new one comes
    gm1.run(["ip", "addr", "del", f"{gm1.addr}/24", "dev", "eth0"])
    gm1.run(["ip", "addr", "add", f"{MOVED}/24", "dev", "eth0"])

    def manager_follows():
        members = {m["id"]: m for m in shortcut_view(gw)["members"]}
        return members["gm1.example.net"]["outside"] == MOVED
    wait_until("the manager sees gm1 at its new address", manager_follows, timeout=10, interval=0.1)
    wait_until("gm2 sends to gm1's new address",
               lambda: [s["peer"] for s in member_view(gm2)] == [MOVED], timeout=10, interval=0.1)
    rest, _ = p.communicate(timeout=60)
    out += rest
    relayed = inside()
    after = {g: gw_child_packets(gw, g) for g in ("gm1", "gm2")}
    sent, received = ping_result(out)
    lost = sent - received
    print(f"move: {lost} of {sent} pings lost (10/s, gm1 moved {gm1.addr} -> {MOVED})")
    # (with -w, ping sends until `count` replies came back)
    assert received == count, out
    # what was in flight while the move reached gm2 through the manager
    assert lost <= 10, f"lost {lost} of {sent}:\n{out}"
    assert relayed == 0, f"the gateway relayed {relayed} packets between gm1 and gm2"
    assert after["gm2"] == before["gm2"], (before, after)
    # the same shortcut, moved: no new offer, one PEER_MOVED to gm2
    v = shortcut_view(gw)
    assert [int(s["id"]) for s in v["shortcuts"]] == [sid], v
    c = v["counters"]
    assert c["movesSent"] == c0["movesSent"] + 1 and c["offersSent"] == c0["offersSent"], (c0, c)
    assert shortcut_view(gm2)["counters"]["moves"] == m0["moves"] + 1, shortcut_view(gm2)
    # gm1's IKE SA with the key server lives on at the new address
    wait_until("gm1 still registered", lambda: registered(gm1), timeout=5)
    labmod.lan_ping(gm1, gm2, count=3)
    # the same in vtysh, through bgpd's control-socket client
    j = gw.vtysh_json(f"show crypto gdoi shortcuts group {GROUP} json")
    assert "error" not in j, j
    g = j["groups"][0]
    assert g["group"] == GROUP and g["role"] == "manager", g
    assert [(s["id"], s["state"], s["moves"]) for s in g["shortcuts"]] == [(sid, "up", 1)], g
    assert {m["id"]: m["outside"] for m in g["members"]}["gm1.example.net"] == MOVED, g
    assert g["counters"]["movesSent"] == c["movesSent"], g
    j = gm2.vtysh_json("show crypto gdoi shortcuts json")
    m = j["groups"][0]
    assert m["role"] == "member" and m["shortcuts"][0]["peer"] == MOVED, m
    assert m["shortcuts"][0]["spiIn"] == member_view(gm2)[0]["spiIn"] and m["shortcuts"][0]["outbound"] is True, m
    assert m["counters"]["moves"] == m0["moves"] + 1, m
    text = gw.vtysh("show crypto gdoi shortcuts")
    assert "Group Name               : blue" in text and f"Member gm1.example.net: outside at {MOVED}" in text, text
    assert f"Shortcut {sid}: gm1.example.net (10.1.0.0/24) <-> gm2.example.net (10.2.0.0/24), up" in text, text


def test_member_coming_inside_ends_the_shortcut_on_both_sides(slab):
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    ensure_shortcut(gw, gm1, gm2)
    c0 = shortcut_view(gw)["counters"]
    t1, t2 = (shortcut_view(g)["counters"]["teardowns"] for g in (gm1, gm2))
    # a LAN of the gateway's, inside its protected network
    labmod.run(["ip", "link", "add", "in-gm1", "netns", gw.ns, "type", "veth", "peer", "name", "in0",
                "netns", gm1.ns])
    gw.run(["ip", "addr", "add", f"{INSIDE_GW}/24", "dev", "in-gm1"])
    gw.run(["ip", "link", "set", "in-gm1", "up"])
    gm1.run(["ip", "addr", "add", f"{INSIDE_GM1}/24", "dev", "in0"])
    gm1.run(["ip", "link", "set", "in0", "up"])
    gm1.run(["ip", "route", "add", "default", "via", INSIDE_GW])
    # gm1 leaves the backbone: it is inside now
    gm1.run(["ip", "addr", "del", f"{MOVED}/24", "dev", "eth0"])

    def member_inside():
        members = {m["id"]: m for m in shortcut_view(gw)["members"]}
        return members["gm1.example.net"]["state"] == "inside"
    wait_until("the manager sees gm1 inside", member_inside, timeout=10, interval=0.1)
    wait_until("no shortcut on the manager", lambda: shortcut_view(gw)["shortcuts"] == [], timeout=10)
    for gm in (gm1, gm2):
        wait_until(f"no shortcut on {gm.name}", lambda: member_view(gm) == [], timeout=10)
    assert shortcut_view(gm1)["counters"]["teardowns"] == t1 + 1
    assert shortcut_view(gm2)["counters"]["teardowns"] == t2 + 1
    assert shortcut_view(gw)["counters"]["teardownsSent"] == c0["teardownsSent"] + 2
    # gm1 needs no tunnel inside; the gateway's with gm1's old address goes
    gm1.swanctl("--terminate", "--ike", "gw", "--force", "--timeout", "2", check=False)
    gw.swanctl("--terminate", "--ike", "gm1", "--force", "--timeout", "2", check=False)
    gw.run(["ip", "route", "replace", gm1.lan_prefix, "via", INSIDE_GM1])
    # gm2 reaches gm1's LAN through the gateway again: its CHILD_SA with
    # gm2 carries it, and the relayed packets start no new shortcut
    before = gw_child_packets(gw, "gm2")
    inside = sniff_inside(gw, gm1.lan_addr, gm2.lan_addr)
    wait_until("gm2 reaches gm1 through the gateway",
               lambda: labmod.lan_ping(gm2, gm1, count=1, check=False).returncode == 0, timeout=20)
    labmod.lan_ping(gm2, gm1, count=12, interval="0.1")
    relayed = inside()
    assert relayed >= 24, relayed
    assert gw_child_packets(gw, "gm2") >= before + 24
    v = shortcut_view(gw)
    assert v["shortcuts"] == [] and v["counters"]["offersSent"] == c0["offersSent"], v
    assert member_view(gm2) == [] and member_view(gm1) == []
