# SPDX-License-Identifier: GPL-2.0-or-later
"""Sealed routes through other BGP speakers, and sealed attributes that do not open.

The S/R (ks) is the key server of group A (ID 1001: gm1, gm2, gm5) and the
route reflector of gm1, gm2 and a bird2 router. bird is a client that is no
member: instead of GSA-REFLECT its neighbor has a route map that passes
group A's route target (docs/bgp-gsa.md, "A transit peer"). gm5, a member of
A registered with ks, peers with bird only (iBGP, bird reflects to it). An
exabgp speaker peers with gm2 and sends membership-like routes with sealed
attributes built here, from the documented format (docs/bgp-gsa.md, "The
blob"), with Python's `cryptography`: no code of the module's.

Checked: bird keeps its session with the S/R, shows the attribute as
unknown (`BGP.ff`) with the very octets gm1 sent, and passes it on to gm5,
which opens it and hands the endpoints to its gdoi plugin. On gm2, a blob
sealed here with the group's routing key opens (the encoder agrees with the
module), and a wrong tag, a truncated blob, an unknown group and an old
epoch past its grace period (a real blob taken before a rekey, replayed
after) are each dropped, counted under their own name, shown as not
opened, never handed to gdoi, with the session up. Every wait is for a
condition.
"""
import ipaddress
import os
import re
import struct
import subprocess

import lab as labmod
import pytest
from lab import wait_until
import test_bgp_gsa as gsa
from test_bgp_gsa import gdoi_endpoints, opened_routes, start_charon, stop_capture
from test_routing_keys import routing_keys

GROUP, GROUP_ID, AS = "A", 1001, 65000
RT = f"RT:{AS}:{GROUP_ID}"
MEMBERS = ("gm1", "gm2", "gm5")
BIRD_ADDR, EXA_ADDR = "192.0.2.32", "192.0.2.40"
SEALED_CODE = 0xFF


# --- the sealed attribute's value (docs/bgp-gsa.md, "The attribute's value"
# and "The blob"), independently

def _afi_addr(addr):
    ip = ipaddress.ip_address(addr)
    return bytes([1 if ip.version == 4 else 2]) + ip.packed


def seal(key, group, epoch, originator, gateway, prefixes, nonce=None):
    """The blob, version 1, suite 1 (AES-256-GCM): AAD (version, suite,
    group, epoch, originator), nonce, ciphertext and tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    plain = _afi_addr(gateway) + struct.pack(">H", len(prefixes))
    for p in prefixes:
        n = ipaddress.ip_network(p)
        plain += bytes([1 if n.version == 4 else 2, n.prefixlen]) + n.network_address.packed[:(n.prefixlen + 7) // 8]
    aad = bytes([1, 1]) + struct.pack(">II", group, epoch) + _afi_addr(originator)
    nonce = nonce if nonce is not None else os.urandom(12)
    return aad + nonce + AESGCM(key).encrypt(nonce, plain, aad)


def entries(*blobs):
    """The attribute's value, version 2: the count and each entry with its length."""
    return bytes([2, len(blobs)]) + b"".join(struct.pack(">H", len(b)) + b for b in blobs)


def entries_of(value):
    """The blobs of a version 2 value."""
    assert value[0] == 2, value.hex()
    out, i = [], 2
    for _ in range(value[1]):
        n = struct.unpack(">H", value[i:i + 2])[0]
        out.append(value[i + 2:i + 2 + n])
        i += 2 + n
    assert i == len(value), value.hex()
    return out


def test_the_encoder_gives_the_documented_example():
    e300 = seal(bytes(range(32)), 300, 0x1A2B3C4D, "192.0.2.11", "192.0.2.11",
                ["10.1.0.0/16", "2001:db8:1::/48"], nonce=b"\x11" * 12)
    assert e300.hex() == ("01010000012c1a2b3c4d01c000020b" + "11" * 12 + "81a094bdb3002daf78752400710511b75b1f81"
                          "4c1c52fa1247d76c9f0fb5ae8dfe6184")
    e301 = seal(bytes(range(32, 64)), 301, 0x0A0B0C0D, "192.0.2.11", "192.0.2.11", ["10.1.0.0/16"],
                nonce=b"\x22" * 12)
    assert e301.hex() == ("01010000012d0a0b0c0d01c000020b" + "22" * 12 + "9d85bc616a972d27d28acd"
                          "026fcbce2851e408c89a2c3db4ad6a11")
    value = entries(e300, e301)
    assert len(value) == 122 and value[:4] == bytes([2, 2, 0, 0x3E]) and entries_of(value) == [e300, e301]


# --- BGP UPDATEs in a capture

def parse_update(msg):
    """(attributes {code: (flags, value)}, NLRI [prefix]) of one UPDATE message."""
    body = msg[19:]
    wlen = struct.unpack(">H", body[:2])[0]
    alen = struct.unpack(">H", body[2 + wlen:4 + wlen])[0]
    attrs_raw, nlri_raw = body[4 + wlen:4 + wlen + alen], body[4 + wlen + alen:]
    attrs, i = {}, 0
    while i < len(attrs_raw):
        flags, code = attrs_raw[i], attrs_raw[i + 1]
        if flags & 0x10:
            n, h = struct.unpack(">H", attrs_raw[i + 2:i + 4])[0], 4
        else:
            n, h = attrs_raw[i + 2], 3
        attrs[code] = (flags, attrs_raw[i + h:i + h + n])
        i += h + n
    nlri, i = [], 0
    while i < len(nlri_raw):
        plen = nlri_raw[i]
        octets = (plen + 7) // 8
        addr = nlri_raw[i + 1:i + 1 + octets] + bytes(4 - octets)
        nlri.append(f"{ipaddress.IPv4Address(addr)}/{plen}")
        i += 1 + octets
    return attrs, nlri


def sent_updates(pcap, src, dst):
    """The UPDATE messages src sent to dst over BGP, in order: the TCP
    payloads of each connection put together by sequence number."""
    p = subprocess.run(["tshark", "-r", str(pcap), "-o", "tcp.desegment_tcp_streams:FALSE",
                        "-Y", f"ip.src == {src} && ip.dst == {dst} && tcp.len > 0 && tcp.port == 179",
                        "-T", "fields", "-e", "tcp.stream", "-e", "tcp.seq_raw", "-e", "tcp.payload"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    streams = {}
    for line in p.stdout.splitlines():
        stream, seq, payload = line.split("\t")
        streams.setdefault(stream, {})[int(seq)] = bytes.fromhex(payload.replace(":", ""))
    out = []
    for segs in streams.values():
        data = b""
        for seq in sorted(segs):
            data += segs[seq]
        i = 0
        while i + 19 <= len(data):
            n = struct.unpack(">H", data[i + 16:i + 18])[0]
            if data[i + 18] == 2 and i + n <= len(data):
                out.append(data[i:i + n])
            i += n
    return out


def sealed_values_sent(pcap, src, dst, route):
    """The values of the sealed attribute on the UPDATEs of route from src to dst."""
    vals = []
    for msg in sent_updates(pcap, src, dst):
        attrs, nlri = parse_update(msg)
        if route in nlri and SEALED_CODE in attrs:
            vals.append(attrs[SEALED_CODE])
    return vals


# --- the routers

def server_conf(ks):
    return gsa.server_conf(ks, {GROUP: GROUP_ID}, {m: [GROUP] for m in MEMBERS})


def member_conf(gm, ks):
    return f"""\
groups {{
	{GROUP} {{
		role = member
		group_id = {GROUP_ID}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {ks.addr}
		server_id = ks.example.net
		auth = psk
	}}
}}
"""


def sr_bgp_conf(ks, members):
    """Members with GSA-REFLECT; bird with a route map of group A's route target."""
    lines = [f"hostname {ks.name}", f"bgp extcommunity-list standard GROUP-A permit rt {AS}:{GROUP_ID}",
             "route-map TRANSIT-A permit 10", " match extcommunity GROUP-A", "exit",
             f"router bgp {AS}", f" bgp router-id {ks.addr}", " no bgp ebgp-requires-policy",
             " no bgp default ipv4-unicast"]
    for p in [m.addr for m in members] + [BIRD_ADDR]:
        lines += [f" neighbor {p} remote-as {AS}", f" neighbor {p} timers connect 2"]
    lines.append(" address-family ipv4 unicast")
    for m in members:
        lines += [f"  neighbor {m.addr} activate", f"  neighbor {m.addr} route-reflector-client",
                  f"  neighbor {m.addr} route-map GSA-REFLECT out"]
    lines += [f"  neighbor {BIRD_ADDR} activate", f"  neighbor {BIRD_ADDR} route-reflector-client",
              f"  neighbor {BIRD_ADDR} route-map TRANSIT-A out", " exit-address-family", ""]
    ks.write_config("zebra.conf", f"hostname {ks.name}\n")
    ks.write_config("bgpd.conf", "\n".join(lines))


def member_bgp_conf(gm, neighbors):
    lines = [f"hostname {gm.name}", f"router bgp {AS}", f" bgp router-id {gm.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
    for n in neighbors:
        lines += [f" neighbor {n} remote-as {AS}", f" neighbor {n} timers connect 2"]
    lines += [f" gsa group {GROUP} id {GROUP_ID} endpoint {gm.addr}", f" gsa group {GROUP} prefix {gm.lan_prefix}",
              " address-family ipv4 unicast"]
    lines += [f"  neighbor {n} activate" for n in neighbors]
    lines += [" exit-address-family", ""]
    gm.write_config("zebra.conf", f"hostname {gm.name}\n")
    gm.write_config("bgpd.conf", "\n".join(lines))


def start_bird(r, ks, gm5):
    """iBGP with the S/R (its client, takes everything, gives nothing back)
    and with gm5, its own route reflector client: what the S/R sends goes on
    to gm5 as bird holds it."""
    r.write_config("bird.conf", f"""\
router id {r.addr};
log "{r.dir}/bird.log" all;
protocol device {{ }}
protocol direct {{ ipv4; }}
protocol bgp sr {{
	local {r.addr} as {AS};
	neighbor {ks.addr} as {AS};
	connect retry time 2;
	ipv4 {{ import all; export none; }};
}}
protocol bgp gm5 {{
	local {r.addr} as {AS};
	neighbor {gm5.addr} as {AS};
	rr client;
	connect retry time 2;
	ipv4 {{ import all; export all; }};
}}
""")
    r.spawn("bird", ["bird", "-f", "-c", r.dir / "bird.conf", "-s", r.dir / "bird.ctl", "-P", r.dir / "bird.pid"])


def birdc(r, *args):
    return r.run(["birdc", "-s", r.dir / "bird.ctl", *args]).stdout


def bird_protocol_state(r, proto):
    m = re.search(rf"^{proto}\s+BGP\s+\S+\s+(\S+)\s+\S+\s+(\S+)", birdc(r, "show", "protocols", proto), re.M)
    return m.group(2) if m else None


def bird_unknown_attribute(r, route):
    """(flag letters, value) of BGP.ff on bird's route from the S/R, or None."""
    out = birdc(r, "show", "route", "all", route, "protocol", "sr")
    m = re.search(r"BGP\.ff(?: \[(\w*)\])?: *((?:[0-9a-f]{2} ?)+)", out)
    if not m:
        return None
    return m.group(1) or "", bytes.fromhex(m.group(2).replace(" ", "").strip())


EXA_FEED = """\
import sys, time
path, pos = sys.argv[1], 0
while True:
    try:
        data = open(path).read()
    except FileNotFoundError:
        data = ""
    end = data.rfind("\\n") + 1
    if end > pos:
        sys.stdout.write(data[pos:end])
        sys.stdout.flush()
        pos = end
    time.sleep(0.2)
"""


def start_exabgp(r, peer):
    """exabgp peering with peer (iBGP); what exa_send() appends to its
    command file goes out through its API."""
    r.write_config("feed.py", EXA_FEED)
    r.write_config("exabgp.cmds", "")
    r.write_config("exabgp.conf", f"""\
process feed {{
	run /usr/bin/python3 -u {r.dir}/feed.py {r.dir}/exabgp.cmds;
	encoder text;
}}
neighbor {peer.addr} {{
	router-id {r.addr};
	local-address {r.addr};
	local-as {AS};
	peer-as {AS};
	hold-time 30;
	family {{
		ipv4 unicast;
	}}
	api {{
		processes [ feed ];
	}}
}}
""")
    env = {"exabgp_daemon_user": "root", "exabgp_daemon_daemonize": "false", "exabgp_api_ack": "false",
           "exabgp_api_cli": "false", "exabgp_tcp_bind": "", "exabgp_log_destination": str(r.dir / "exabgp.log"),
           "exabgp_log_level": "INFO", "exabgp_log_routes": "true", "exabgp_log_packets": "true"}
    r.spawn("exabgp", ["exabgp", r.dir / "exabgp.conf"], env=env)


def exa_withdraw(r, route):
    exa_send(r, f"withdraw route {route} next-hop {r.addr}")


def exa_send(r, line):
    with open(r.dir / "exabgp.cmds", "a") as f:
        f.write(line + "\n")


def exa_announce(r, route, value, group=GROUP_ID, flags=0xC0):
    exa_send(r, f"announce route {route} next-hop {r.addr} origin igp extended-community [ target:{AS}:{group} ] "
                f"attribute [ 0x{SEALED_CODE:02x} 0x{flags:02x} 0x{value.hex()} ]")


@pytest.fixture(scope="module")
def ilab():
    lab = labmod.Lab("gsintr")
    ks = lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    gms = [lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24") for i in (1, 2, 5)]
    bird = lab.add_router("bird", BIRD_ADDR, "10.32.0.1/24")
    exa = lab.add_router("exa", EXA_ADDR, "10.40.0.1/24")
    gm1, gm2, gm5 = gms
    with lab:
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, server_conf(ks), labmod.gdoi_secrets(ks, list(MEMBERS)))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, member_conf(gm, ks), labmod.gdoi_secrets(gm, ["ks"]))
        sr_bgp_conf(ks, [gm1, gm2])
        ks.start_frr()
        start_charon(ks, [GROUP])
        for gm in gms:
            start_charon(gm, [GROUP])
        wait_until("gm1, gm2 and gm5 registered", lambda: {
            m["id"] for m in labmod.gdoictl(ks, "members", GROUP).get("members", [])} == {
            f"{m}.example.net" for m in MEMBERS}, timeout=60)
        # BGP on the backbone from before the members' first UPDATE: what
        # gm1 sends the S/R is compared with what bird shows
        lab.bgp_pcap = lab.dir / "bgp.pcap"
        lab.capture = subprocess.Popen(["ip", "netns", "exec", lab.bb, "dumpcap", "-q", "-P", "-i", "br0",
                                        "-f", "tcp port 179", "-w", str(lab.bgp_pcap)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
        try:
            wait_until("the capture runs", lambda: lab.bgp_pcap.exists() and lab.bgp_pcap.stat().st_size > 0
                       or lab.capture.poll() is not None, timeout=10)
            assert lab.capture.poll() is None, lab.capture.stderr.read()
            member_bgp_conf(gm1, [ks.addr])
            member_bgp_conf(gm2, [ks.addr, EXA_ADDR])
            member_bgp_conf(gm5, [BIRD_ADDR])
            for gm in gms:
                gm.start_frr()
            start_bird(bird, ks, gm5)
            start_exabgp(exa, gm2)
            yield lab
        finally:
            stop_capture(lab)


def neighbor(router, addr):
    """(state, connections dropped) of router's BGP neighbor addr."""
    n = router.vtysh_json(f"show bgp neighbors {addr} json").get(addr, {})
    return n.get("bgpState"), n.get("connectionsDropped")


def endpoint(r):
    return f"{r.addr}/32"


def test_bird_passes_the_sealed_attribute_unchanged_to_a_member_behind_it(ilab):
    ks, gm1, gm2, gm5, bird = (ilab[n] for n in ("ks", "gm1", "gm2", "gm5", "bird"))
    wait_until("bird's sessions with the S/R and gm5 are up", lambda: bird_protocol_state(bird, "sr") == "Established"
               and bird_protocol_state(bird, "gm5") == "Established", timeout=60)
    # gm5 opens gm1's and gm2's prefixes, which came to it through bird only
    want = {gm1.lan_prefix: (gm1.addr, GROUP), gm2.lan_prefix: (gm2.addr, GROUP)}
    try:
        wait_until("gm5 opened gm1's and gm2's sealed prefixes", lambda: opened_routes(gm5) == want, timeout=90)
    except labmod.LabError as e:
        raise labmod.LabError(f"{e}\n{gm5.vtysh('show bgp gsa routes')}\n{gm5.vtysh('show bgp ipv4 unicast')}\n"
                              f"{birdc(bird, 'show', 'route', 'all')}") from None
    view = gm5.vtysh_json("show bgp gsa routes json")
    by_prefix = {r["prefix"]: r for r in view["routes"]}
    assert by_prefix[gm1.lan_prefix]["originator"] == gm1.addr and by_prefix[gm1.lan_prefix]["groupId"] == GROUP_ID
    assert by_prefix[gm1.lan_prefix]["route"] == endpoint(gm1), by_prefix
    assert all(n == 0 for n in view["dropped"].values()), view["dropped"]
    # gm5 learned them from bird, the one neighbor it has
    paths = gm5.vtysh_json(f"show bgp ipv4 unicast {endpoint(gm1)} json")["paths"]
    assert {p["peer"]["peerId"] for p in paths} == {BIRD_ADDR}, paths
    wait_until("gm5's gdoi plugin holds gm1's and gm2's endpoints", lambda: gdoi_endpoints(gm5, GROUP) == {
        gm1.addr: [gm1.lan_prefix], gm2.addr: [gm2.lan_prefix]}, timeout=30)

    # bird holds the attribute as unknown, with the octets gm1 sent the S/R
    flags, value = wait_until("bird shows BGP.ff on gm1's route",
                              lambda: bird_unknown_attribute(bird, endpoint(gm1)), timeout=30)
    assert "t" in flags, flags
    stop_capture(ilab)
    sent = sealed_values_sent(ilab.bgp_pcap, gm1.addr, ks.addr, endpoint(gm1))
    assert sent, "no sealed UPDATE of gm1's route captured"
    assert sent[-1] == (0xC0, value), (sent[-1], value)
    (blob,) = entries_of(value)
    assert blob[:2] == b"\x01\x01" and struct.unpack(">I", blob[2:6])[0] == GROUP_ID
    # and the same octets went from bird to gm5 (Partial added on the way)
    on_to_gm5 = sealed_values_sent(ilab.bgp_pcap, BIRD_ADDR, gm5.addr, endpoint(gm1))
    assert on_to_gm5 and on_to_gm5[-1][1] == value and on_to_gm5[-1][0] & 0xC0 == 0xC0, on_to_gm5

    # the S/R's sessions never dropped; it shows bird as a neighbor without GSA-REFLECT
    assert neighbor(ks, BIRD_ADDR) == ("Established", 0), neighbor(ks, BIRD_ADDR)
    assert bird_protocol_state(bird, "sr") == "Established"
    sr = ks.vtysh_json("show bgp gsa groups json")
    assert sr["neighbors"][BIRD_ADDR]["filtered"] is False and sr["neighbors"][BIRD_ADDR]["groups"] == [], sr
    # bird received group A's membership routes and nothing else
    adv = ks.vtysh_json(f"show bgp ipv4 unicast neighbors {BIRD_ADDR} advertised-routes json")
    assert set(adv.get("advertisedRoutes", {})) == {endpoint(gm1), endpoint(gm2)}, adv


# --- bad sealed attributes from exabgp, on gm2

BAD = {  # route -> what it carries
    "good": "192.0.2.100/32",
    "bad-tag": "192.0.2.101/32",
    "truncated": "192.0.2.102/32",
    "unknown-group": "192.0.2.103/32",
    "epoch-expired": "192.0.2.104/32",
}


def gsa_routes(gm):
    return gm.vtysh_json("show bgp gsa routes json")


def group_key(gm):
    """(epoch, key) of group A on gm's control socket."""
    g = routing_keys(gm)[GROUP]
    return int(g["epoch"], 16), bytes.fromhex(g["key"])


def dropped_exactly(gm, before, name):
    """The drop counters are before plus one `name`."""
    after = gsa_routes(gm)["dropped"]
    want = dict(before, **{name: before[name] + 1})
    return after if after == want else None


def assert_dropped(ilab, route, name, send, withdraw=True):
    """send() makes route arrive at gm2 with a sealed attribute that fails
    as name: dropped, counted once, shown, not handed out, the session up;
    withdrawn again (unless told), it is no longer shown and nothing counts."""
    gm2, exa = ilab["gm2"], ilab["exa"]
    before = gsa_routes(gm2)["dropped"]
    assert name in before, before
    send()
    try:
        wait_until(f"gm2 shows {route} as {name}", lambda: gsa_routes(gm2)["notOpened"].get(route) == name,
                   timeout=30)
    except labmod.LabError as e:
        raise labmod.LabError(f"{e}\n{gm2.vtysh('show bgp gsa routes')}\n"
                              f"{gm2.vtysh('show bgp ipv4 unicast')}") from None
    wait_until(f"{name} counted once, nothing else", lambda: dropped_exactly(gm2, before, name), timeout=10)
    assert re.search(rf"^\s*{re.escape(route)}\s+{re.escape(name)}\s*$", gm2.vtysh("show bgp gsa routes"), re.M)
    gateway = route.split("/")[0]
    assert gateway not in {r["gateway"] for r in gsa_routes(gm2)["routes"]}
    assert gateway not in (gdoi_endpoints(gm2, GROUP) or {})
    assert neighbor(gm2, exa.addr) == ("Established", 0), neighbor(gm2, exa.addr)
    if withdraw:
        counted = gsa_routes(gm2)["dropped"]
        exa_withdraw(exa, route)
        wait_until(f"{route} withdrawn from gm2", lambda: route not in gsa_routes(gm2)["notOpened"], timeout=30)
        assert gsa_routes(gm2)["dropped"] == counted


def test_bad_sealed_attributes_are_dropped_counted_and_shown(ilab):
    gm1, gm2, exa, bird = ilab["gm1"], ilab["gm2"], ilab["exa"], ilab["bird"]
    wait_until("gm2's session with exabgp is up", lambda: neighbor(gm2, exa.addr)[0] == "Established", timeout=60)
    wait_until("gm2 opened gm1's prefixes", lambda: gm1.lan_prefix in opened_routes(gm2), timeout=60)
    epoch, key = group_key(gm2)

    # a blob sealed here with the group's key opens: the encoder is right,
    # and what follows fails for what is wrong with it alone
    good = BAD["good"]
    gw = good.split("/")[0]
    exa_announce(exa, good, entries(seal(key, GROUP_ID, epoch, gw, gw, ["10.100.0.0/24"])))
    wait_until("gm2 opened the route sealed here", lambda: opened_routes(gm2).get("10.100.0.0/24") == (gw, GROUP),
               timeout=30)
    wait_until("gm2's gdoi plugin holds its endpoint", lambda: (gdoi_endpoints(gm2, GROUP) or {}).get(gw) == [
        "10.100.0.0/24"], timeout=30)

    # a wrong tag: a correct blob with the last octet of its tag changed
    route = BAD["bad-tag"]
    blob = bytearray(seal(key, GROUP_ID, epoch, route.split("/")[0], route.split("/")[0], ["10.101.0.0/24"]))
    blob[-1] ^= 0x01
    assert_dropped(ilab, route, "bad-tag", lambda: exa_announce(exa, route, entries(bytes(blob))))

    # a truncated blob: the header and less than a nonce and a tag (the
    # entry's length says so)
    route = BAD["truncated"]
    blob = seal(key, GROUP_ID, epoch, route.split("/")[0], route.split("/")[0], ["10.102.0.0/24"])
    assert_dropped(ilab, route, "truncated", lambda: exa_announce(exa, route, entries(blob[:15 + 20])))

    # a group gm2 is no member of (sealed with a key of its own)
    route = BAD["unknown-group"]
    blob = seal(os.urandom(32), 4242, epoch, route.split("/")[0], route.split("/")[0], ["10.103.0.0/24"])
    assert_dropped(ilab, route, "unknown-group", lambda: exa_announce(exa, route, entries(blob), group=4242))

    # an old epoch past its grace period: gm1's real blob as bird holds it
    # now, replayed after a rekey and the grace period
    _, old_value = bird_unknown_attribute(bird, endpoint(gm1))
    (old_blob,) = entries_of(old_value)
    assert struct.unpack(">I", old_blob[6:10])[0] == epoch, "gm1's blob is sealed under the current epoch"
    labmod.gdoictl(ilab["ks"], "rekey", GROUP)
    new_epoch = wait_until("gm2 at a new epoch", lambda: group_key(gm2)[0] if group_key(gm2)[0] != epoch else None,
                           timeout=30)
    wait_until("gm2's module at the new epoch",
               lambda: gsa_routes(gm2)["keys"][GROUP]["epoch"] == f"{new_epoch:08x}", timeout=15)
    # the route sealed here under the old epoch still opens within the
    # grace period, then no longer: withdrawn from gdoi, counted once
    wait_until("the route sealed here opens with the previous epoch's key", lambda: any(
        r["route"] == good and r["previousEpoch"] for r in gsa_routes(gm2)["routes"]), timeout=15)
    before = gsa_routes(gm2)["dropped"]
    wait_until("the grace period ran out for the route sealed here",
               lambda: gsa_routes(gm2)["notOpened"].get(good) == "epoch-expired", timeout=90)
    assert dropped_exactly(gm2, before, "epoch-expired"), gsa_routes(gm2)["dropped"]
    wait_until("its endpoint is gone from gm2's gdoi plugin",
               lambda: gw not in (gdoi_endpoints(gm2, GROUP) or {}), timeout=30)
    # gm1 sealed again under the new epoch, and gm2 opens that
    wait_until("gm2 opened gm1's route sealed under the new epoch", lambda: any(
        r["route"] == endpoint(gm1) and r["epoch"] == f"{new_epoch:08x}" and not r["previousEpoch"]
        for r in gsa_routes(gm2)["routes"]), timeout=30)
    # gm1's old blob, replayed now
    route = BAD["epoch-expired"]
    assert_dropped(ilab, route, "epoch-expired", lambda: exa_announce(exa, route, old_value), withdraw=False)

    # the expired routes are still shown, the session never dropped, and
    # only what opens went to gdoi
    view = gsa_routes(gm2)
    assert {r: view["notOpened"].get(r) for r in BAD.values()} == {
        good: "epoch-expired", BAD["bad-tag"]: None, BAD["truncated"]: None,
        BAD["unknown-group"]: None, BAD["epoch-expired"]: "epoch-expired"}, view["notOpened"]
    assert neighbor(gm2, exa.addr) == ("Established", 0)
    assert set(gdoi_endpoints(gm2, GROUP)) == {gm1.addr}, gdoi_endpoints(gm2, GROUP)
