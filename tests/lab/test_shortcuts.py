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
switch loses none. A tampered or replayed offer datagram is dropped by
the member's IKE layer; a genuine offer replayed in a fresh message on
gm1's IKE SA with the key server, and an offer from the key server of
another group gm1 belongs to (rogue, group red, on its own IKE SA), are
rejected and counted by gm1's shortcut layer and install nothing; a
request naming a member the manager does not know is refused and
counted. The first packet of a new TCP session from gm1's LAN to gm2's
(the seed's second trigger) sets the shortcut up at once.

Then gm1 moves to another backbone address while it pings gm2 at 10/s:
its G-IKEv2 IKE SA follows (N(UPDATE_SA_ADDRESSES) from the new address),
the manager tells gm2, and the ping goes on over the shortcut with nothing
relayed by the gateway. Last, gm1 comes inside (onto a LAN of the
gateway's): the shortcut goes on both sides and gm2 reaches gm1's LAN
through the gateway again.
"""
import re
import struct
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

# the key server of another group gm1 belongs to: a G-IKEv2 peer with an
# authenticated IKE SA to gm1 that is not gm1's connectivity manager
ROGUE_GROUP, ROGUE_GROUP_ID, ROGUE_TEK_TS = "red", 4321, "10.98.0.0/24"


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


def secrets(names, more=""):
    """One PSK per member and the gateway: its IKEv2 tunnel and its G-IKEv2
    registration authenticate the same pair of identities."""
    return "secrets {\n" + more + "".join(f"""\
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


def rogue_conf(rogue, gm):
    return f"""\
groups {{
	{ROGUE_GROUP} {{
		role = server
		group_id = {ROGUE_GROUP_ID}
		local_id = rogue.example.net
		listen = {rogue.addr}
		auth = psk
		rekey_auth = implicit
		members = {gm.name}.example.net
		tek-1 {{
			local_ts = {ROGUE_TEK_TS}
			remote_ts = {ROGUE_TEK_TS}
		}}
	}}
}}
"""


def rogue_secret(gm):
    """The PSK of gm and the rogue (a secrets entry)."""
    return f"""\
	ike-rogue {{
		id-1 = rogue.example.net
		id-2 = {gm.name}.example.net
		secret = "{labmod.gdoi_psk(gm.name)}-red"
	}}
"""


def rogue_member(gm, rogue):
    """gm's membership of the rogue's group: no shortcuts there."""
    return f"""\
	{ROGUE_GROUP} {{
		role = member
		group_id = {ROGUE_GROUP_ID}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {rogue.addr}
		server_id = rogue.example.net
		auth = psk
		rekey_auth = implicit
		liveness = 10s
	}}
"""


def member_conf(gm, gw, more=""):
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
{more}}}
"""


@pytest.fixture(scope="module")
def slab():
    lab = labmod.Lab("gsshort")
    gw = lab.add_router("gw", "192.0.2.1", "10.0.0.1/24")
    gm1 = lab.add_router("gm1", "192.0.2.11", "10.1.0.1/24")
    gm2 = lab.add_router("gm2", "192.0.2.12", "10.2.0.1/24")
    rogue = lab.add_router("rogue", "192.0.2.13", "10.3.0.1/24")
    with lab:
        gms = [gm1, gm2]
        labmod.gdoi_charon(rogue, rogue_conf(rogue, gm1), "secrets {\n" + rogue_secret(gm1) + "}\n")
        rogue.start_charon()
        rogue.swanctl("--load-all", "--file", rogue.dir / "swanctl.conf")
        wait_until("rogue: group red serving",
                   lambda: any(g.get("name") == ROGUE_GROUP and g.get("state") == "serving"
                               for g in labmod.gdoictl(rogue, "groups").get("groups", [])), timeout=20)
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
            # gm1 is a member of the rogue's group too; its IKE SA keys go
            # to its key table, for the test to speak on them
            rogue_too = gm is gm1
            swanctl = ("connections {\n" + tunnel_to_gw(gm, gw) + "}\n" +
                       secrets([gm.name], rogue_secret(gm) if rogue_too else ""))
            more = rogue_member(gm, rogue) if rogue_too else ""
            labmod.gdoi_charon(gm, member_conf(gm, gw, more), swanctl, save_keys=rogue_too)
            gm.start_charon()
            gm.swanctl("--load-all", "--file", gm.dir / "swanctl.conf")
            labmod.gdoictl(gm, "reregister", GROUP, check=False, as_json=False)
            if rogue_too:
                labmod.gdoictl(gm, "reregister", ROGUE_GROUP, check=False, as_json=False)
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


def registered(router, group=GROUP):
    for g in labmod.gdoictl(router, "groups").get("groups", []):
        if g.get("name") == group:
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


# --- speaking on gm1's IKE SAs (docs/gikev2-wire.md, docs/shortcuts.md) ---
# The messages below are built here from the documented formats: the IKE
# header and SK payload of RFC 7296 with AES-GCM-16 (RFC 5282), N(SHORTCUT)
# (40961) and the shortcut messages of docs/shortcuts.md. The keys of
# gm1's IKE SAs come from its key table (save_keys).

IKE_HDR = 28
SK, N, DELETE = 46, 41, 42
INFORMATIONAL = 37
F_RESPONSE, F_INITIATOR = 0x20, 0x08
SHORTCUT_NOTIFY = 40961
OFFER, GO = 1, 2

SEND_AS = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 848))
for x in sys.argv[3:]:
    s.sendto(bytes.fromhex(x), (sys.argv[2], 848))
"""


def send_as(router, to, datagrams):
    """Datagrams from router's G-IKEv2 address and port to `to`, port 848."""
    router.run(["/usr/bin/python3", "-c", SEND_AS, router.addr, to] + [d.hex() for d in datagrams])


def ike_sa_keys(router, datagram):
    """(SK_ei, SK_er) of the IKE SA a datagram belongs to, from the
    router's key table (SPIi,SPIr,SK_ei,SK_er,cipher,...)."""
    spi_i, spi_r = datagram[0:8].hex(), datagram[8:16].hex()
    for line in (router.dir / "ikev2_decryption_table").read_text().splitlines():
        f = line.split(",")
        if f[0] == spi_i and f[1] == spi_r:
            assert "GCM" in f[4], line
            return bytes.fromhex(f[2]), bytes.fromhex(f[3])
    raise AssertionError(f"{router.name}: no key for IKE SA {spi_i}_{spi_r}")


def _gcm(keymat):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    return AESGCM(keymat[:-4]), keymat[-4:]


def ike_open(keymat, datagram):
    """(message ID, [(payload type, body)]) of an SK-protected message."""
    assert datagram[16] == SK, datagram[:28].hex()
    aead, salt = _gcm(keymat)
    first = datagram[IKE_HDR]
    iv, sealed = datagram[IKE_HDR + 4:IKE_HDR + 12], datagram[IKE_HDR + 12:]
    plain = aead.decrypt(salt + iv, sealed, datagram[:IKE_HDR + 4])
    inner = plain[:len(plain) - 1 - plain[-1]]
    out, kind, pos = [], first, 0
    while kind:
        nxt, length = inner[pos], int.from_bytes(inner[pos + 2:pos + 4], "big")
        out.append((kind, inner[pos + 4:pos + length]))
        kind, pos = nxt, pos + length
    return int.from_bytes(datagram[20:24], "big"), out


def ike_request_from_responder(keymat, spi_i, spi_r, message_id, payloads):
    """An INFORMATIONAL request of the IKE SA's responder (the key
    server): HDR, SK{payloads}, payloads as [(type, body)]."""
    import os
    aead, salt = _gcm(keymat)
    inner = b""
    for i, (kind, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        inner += struct.pack(">BBH", nxt, 0, 4 + len(body)) + body
    plain = inner + b"\x00"  # Pad Length 0
    iv = os.urandom(8)
    sk_len = 4 + 8 + len(plain) + 16
    hdr = spi_i + spi_r + struct.pack(">BBBBII", SK, 0x20, INFORMATIONAL, 0, message_id, IKE_HDR + sk_len)
    sk_hdr = struct.pack(">BBH", payloads[0][0] if payloads else 0, 0, sk_len)
    return hdr + sk_hdr + iv + aead.encrypt(salt + iv, plain, hdr + sk_hdr)


def shortcut_notify(message):
    """N(SHORTCUT): Protocol ID 0, SPI Size 0, type 40961, the message."""
    return (N, struct.pack(">BBH", 0, 0, SHORTCUT_NOTIFY) + message)


def shortcut_messages(payloads):
    return [b[4:] for kind, b in payloads if kind == N and int.from_bytes(b[2:4], "big") == SHORTCUT_NOTIFY]


def _ip4(a):
    return bytes(int(x) for x in a.split("."))


def _prefix4(p):
    addr, length = p.split("/")
    return struct.pack(">BB", 4, int(length)) + _ip4(addr)


def encode_offer(epoch, sequence, shortcut_id, spi_in, spi_out, peer, peer_port, local, remote, key_in, key_out,
                 encryption=20, key_bits=256, integrity=0, lifetime=3600):
    """OFFER as docs/shortcuts.md writes it (IPv4)."""
    body = (struct.pack(">HHHHIII", encryption, key_bits, integrity, 0, lifetime, spi_in, spi_out) +
            struct.pack(">BBH", 4, 0, peer_port) + _ip4(peer) + _prefix4(local) + _prefix4(remote) +
            struct.pack(">H", len(key_in)) + key_in + struct.pack(">H", len(key_out)) + key_out)
    return struct.pack(">BBHIQI", 1, OFFER, 20 + len(body), epoch, sequence, shortcut_id) + body


def test_offer_encoding_is_the_documented_known_answer():
    """The test's own OFFER encoder against the known answer of
    docs/shortcuts.md: the forged offer below is the documented format."""
    got = encode_offer(0x01020304, 1, 5, 0x1000a001, 0x1000b002, "198.51.100.20", 4500, "10.1.0.5/32",
                       "10.2.0.9/32", b"\x11" * 20, b"\x22" * 20, key_bits=128)
    want = bytes.fromhex("0101006801020304000000000000000100000005"
                         "00140080000000000000" "0e10" "1000a001" "1000b002"
                         "04001194c6336414" "04200a010005" "04200a020009"
                         "0014" + "11" * 20 + "0014" + "22" * 20)
    assert got == want, got.hex()


def test_forged_and_replayed_offers_are_rejected_and_counted(slab):
    gw, gm1, gm2, rogue = slab["gw"], slab["gm1"], slab["gm2"], slab["rogue"]
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
    # the key server's INFORMATIONAL (37) requests: not a response, not
    # from the initiator (gm1 initiated the IKE SA): OFFER, then GO
    requests = [d for _, d in grabbed
                if len(d) > 28 and d[18] == INFORMATIONAL and not d[19] & (F_RESPONSE | F_INITIATOR)]
    assert len(requests) >= 2, f"{len(requests)} INFORMATIONAL requests to gm1 captured"
    before = labmod.gdoi_counters(gm1, GROUP)
    member_before = shortcut_view(gm1)["counters"]
    installed = shortcut_view(gm1)["shortcuts"]
    assert len(installed) == 1 and installed[0]["outbound"] is True, installed

    # (1) at the IKE layer: the OFFER datagram again, after the GO, and
    # the last request with one bit of its ICV changed
    forged = bytearray(requests[-1])
    forged[-1] ^= 0x01
    send_as(gw, gm1.addr, [requests[0], bytes(forged)])

    def counted():
        c = labmod.gdoi_counters(gm1, GROUP)
        return c["droppedReplay"] > before["droppedReplay"] and c["droppedAuth"] > before["droppedAuth"]
    wait_until("gm1's IKE layer drops the replayed and the tampered datagram", counted, timeout=10)
    assert shortcut_view(gm1)["shortcuts"] == installed
    assert shortcut_view(gm1)["counters"] == member_before

    # (2) the genuine OFFER replayed in a fresh, well-protected request on
    # the same IKE SA (the next message ID the key server would use): the
    # IKE layer takes it, the shortcut layer's sequence check rejects it
    _, sk_er = ike_sa_keys(gm1, requests[0])
    opened = sorted(ike_open(sk_er, d) for d in requests)
    messages = [m for _, p in opened for m in shortcut_messages(p)]
    offers = [m for m in messages if m[1] == OFFER]
    assert len(offers) == 1 and any(m[1] == GO for m in messages), [m[:2].hex() for m in messages]
    offer = offers[0]
    # the genuine offer is gm1's: its local inside prefix is gm1's LAN
    # (after the 20-octet header, 20 octets of suite, lifetime, SPIs and the
    # 8-octet IPv4 peer endpoint)
    assert offer[48:54] == _prefix4(gm1.lan_prefix), offer.hex()
    next_id = max(mid for mid, _ in opened) + 1
    received = labmod.gdoi_counters(gm1, GROUP)["shortcutReceived"]
    spi_i, spi_r = requests[0][0:8], requests[0][8:16]
    send_as(gw, gm1.addr, [ike_request_from_responder(sk_er, spi_i, spi_r, next_id, [shortcut_notify(offer)])])
    wait_until("gm1 rejects the replayed offer",
               lambda: shortcut_view(gm1)["counters"]["rejectedReplay"] == member_before["rejectedReplay"] + 1,
               timeout=10)
    assert labmod.gdoi_counters(gm1, GROUP)["shortcutReceived"] == received + 1, "not through the IKE SA"
    assert shortcut_view(gm1)["shortcuts"] == installed
    c = shortcut_view(gm1)["counters"]
    assert c["offers"] == member_before["offers"] and c["refused"] == member_before["refused"], c

    # (3) an offer from the key server of group red: a fresh, well-formed
    # OFFER for gm1's LAN on gm1's authenticated IKE SA with the rogue,
    # which is no connectivity manager of gm1's
    wait_until("gm1 registered with the rogue", lambda: registered(gm1, ROGUE_GROUP), timeout=30)
    to_rogue = labmod._sniff_udp(rogue, "all", 848, 30)
    r0 = labmod.gdoi_counters(gm1, ROGUE_GROUP)["registrations"]
    labmod.gdoictl(gm1, "reregister", ROGUE_GROUP, check=False, as_json=False)
    wait_until("gm1 registered with the rogue again",
               lambda: labmod.gdoi_counters(gm1, ROGUE_GROUP)["registrations"] > r0, timeout=30)
    red = [d for _, d in to_rogue() if len(d) > 28]
    assert red, "no G-IKEv2 message from gm1 to the rogue"
    _, red_er = ike_sa_keys(gm1, red[-1])
    forged_offer = encode_offer(0x5eed, 1, 77, 0x7000a001, 0x7000b002, rogue.addr, 0, gm1.lan_prefix,
                                gm2.lan_prefix, bytes(range(36)), bytes(range(36, 72)))
    red_received = labmod.gdoi_counters(gm1, ROGUE_GROUP)["shortcutReceived"]
    # the rogue has sent gm1 no request on this IKE SA: its first is ID 0
    send_as(rogue, gm1.addr, [ike_request_from_responder(red_er, red[-1][0:8], red[-1][8:16], 0,
                                                         [shortcut_notify(forged_offer)])])
    wait_until("gm1 rejects the rogue's offer",
               lambda: shortcut_view(gm1)["counters"]["rejectedForged"] == member_before["rejectedForged"] + 1,
               timeout=10)
    assert labmod.gdoi_counters(gm1, ROGUE_GROUP)["shortcutReceived"] == red_received + 1
    assert shortcut_view(gm1)["shortcuts"] == installed
    c = shortcut_view(gm1)["counters"]
    assert c["offers"] == member_before["offers"] and c["refused"] == member_before["refused"], c

    # the message ID (2) used is the key server's next one: gm1 closes
    # that IKE SA (a Delete of it from the key server, RFC 7296 1.4.1) and
    # registers again on a new one, so that nothing the key server sends
    # later finds its ID taken
    delete_ike = (DELETE, struct.pack(">BBH", 1, 0, 0))
    send_as(gw, gm1.addr, [ike_request_from_responder(sk_er, spi_i, spi_r, next_id + 1, [delete_ike])])
    wait_until("gm1 closed the IKE SA",
               lambda: labmod.gdoi_counters(gm1, GROUP)["ikeDeletesReceived"] > before["ikeDeletesReceived"],
               timeout=10)
    # (it may be registering again by itself already)
    labmod.gdoictl(gm1, "reregister", GROUP, check=False, as_json=False)
    wait_until("gm1 registered again on a new IKE SA",
               lambda: labmod.gdoi_counters(gm1, GROUP)["registrations"] > before["registrations"], timeout=30)

    def taken_in_again():
        members = {m["id"]: m for m in shortcut_view(gw)["members"]}
        return (members.get("gm1.example.net", {}).get("state") == "outside" and shortcut_view(gw)["shortcuts"] == []
                and member_view(gm1) == [] and member_view(gm2) == [])
    wait_until("the manager takes gm1 in afresh, no shortcut left", taken_in_again, timeout=20)

    # a member the manager does not know: refused, counted, nothing sent
    refused = shortcut_view(gw)["counters"]["refusedUnknownMember"]
    p = labmod.gdoictl(gw, "request-shortcut", GROUP, "gm1.example.net", "gm9.example.net", check=False,
                       as_json=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    c = shortcut_view(gw)["counters"]
    assert c["refusedUnknownMember"] == refused + 1, c


TCP_SYN = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
s.bind((sys.argv[1], 0))
try:
    s.connect((sys.argv[2], 9))  # discard: closed, the answer is a RST
except OSError:
    pass
"""


def test_new_session_sets_the_shortcut_up_at_once(slab):
    """The seed's second trigger: one TCP SYN from gm1's LAN to gm2's,
    relayed by the gateway, starts the setup (no relayed-traffic threshold
    of 10 packets reached)."""
    gw, gm1, gm2 = slab["gw"], slab["gm1"], slab["gm2"]
    assert shortcut_view(gw)["shortcuts"] == []
    wait_until("both tunnels to the gateway up", lambda: tunnels_up(slab), timeout=40)
    c0 = shortcut_view(gw)["counters"]
    inside = sniff_inside(gw, gm1.lan_addr, gm2.lan_addr)
    gm1.run(["/usr/bin/python3", "-c", TCP_SYN, gm1.lan_addr, gm2.lan_addr])

    def up():
        return any(s["state"] == "up" for s in shortcut_view(gw)["shortcuts"])
    wait_until("shortcut up on the manager", up, timeout=20)
    relayed = inside()
    c = shortcut_view(gw)["counters"]
    assert c["detectedSession"] == c0["detectedSession"] + 1, (c0, c)
    assert c["detectedRelayed"] == c0["detectedRelayed"], (c0, c)
    assert c["offersSent"] == c0["offersSent"] + 2, (c0, c)
    # the SYN and its RST (a retransmitted SYN at most): far below 10
    assert 1 <= relayed < 10, relayed
    for gm in (gm1, gm2):
        wait_until(f"shortcut up on {gm.name}",
                   lambda: len(member_view(gm)) == 1 and member_view(gm)[0]["outbound"] is True, timeout=10)


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
