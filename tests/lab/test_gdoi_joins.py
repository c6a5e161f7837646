# SPDX-License-Identifier: GPL-2.0-or-later
"""Any number of joins between two evictions, on the real plugin.

A key server (charon with the gdoi plugin, key_hierarchy = tree, the
default) and four real members gm1..gm4 (charon, kernel-libipsec). gm4 is
evicted first: the size of that
eviction's GSA_REKEYs is the reference. Then bench/gdoi_loadgen registers
500 more identities (lg0..lg499.example.net, one PSK each, as the lab's
members have), each once: 500 joins with no eviction in between. It keeps
them registered and applies GSA_REKEYs like a member (signatures checked
with the key server's certificate).

Evicting gm3 then must go out and be applied: `gdoictl evict` succeeds,
the key server counts the rekeys, gm1, gm2 and all 500 load generator
members move to one new group SA, which carries gm1's pings to gm2, and gm3
keeps the old one. Every GSA_REKEY of that eviction, captured where the key
server sends it, goes to every remaining member and none to gm3, and is no
larger than the reference eviction's but for two wrapped keys per level the
key tree grew by (a replaced node under each child, as RFC 9838 members
unwrap every key) (the flat table: one join notice and one wrapped key per
bit of member ID the membership grew into): nothing in it grows with the
number of joins. (A key
server that put one announcement per join into the next eviction would add
about 90 bytes per join, some 45 kB here, and could not encode it at all
past about 700 joins.)
"""
import json
import os
import subprocess
from pathlib import Path

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"
JOINS = 500
LG_ADDR = "192.0.2.100"
# the key tree's new keys per level (gikev2-wire.md, "Key tree keys in KD"):
# a replaced node travels as an RFC 9838 intermediate key under each of its
# two children, each attribute header (4) | Key ID (4) | KWK ID (4) | a
# 40-byte wrapped key
TREE_WRAP_BYTES = 2 * (4 + 8 + 40)
# the flat table (docs/flat-key-table.md), per ID bit in use: the folded
# join announcements name one more KEK (a 19-byte format 1 notice) and the
# eviction wraps TEK' under one more KEK (a 46-byte compact entry)
FLAT_BIT_BYTES = 19 + 46
# ECDSA signatures differ by a few bytes in their DER length
SIGNATURE_SLACK = 8


def loadgen_path():
    path = Path(os.environ.get("GROUPSEC_LOADGEN", labmod.TOP / "build" / "obj" / "bench" / "gdoi_loadgen"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path}: no load generator (make -C build/obj bench/gdoi_loadgen, or GROUPSEC_LOADGEN)")
    return path


# Prints "ready" once listening on IFACE, then a line per matching IPv4
# packet until COUNT were seen or SECONDS passed:
#   rekeys: GSA_REKEY datagrams sent from SRC (first fragments), as
#           "DST:PORT IKE-LENGTH SPIS/MESSAGE-ID" (the length from the UDP header,
#           so a fragmented datagram counts whole);
#   esp:    ESP (bare or in UDP 4500) from SRC, as its SPI in hex.
_SNIFF = r"""
import socket, sys, time
iface, mode, src, count, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))  # ETH_P_ALL: sent ones too
s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE: a burst of a thousand datagrams
s.bind((iface, 0))
s.settimeout(0.2)
print("ready", flush=True)
end, seen = time.monotonic() + seconds, 0
while seen < count and time.monotonic() < end:
    try:
        pkt, (_, ethertype, _, _, _) = s.recvfrom(65535)
    except socket.timeout:
        continue
    if ethertype != 0x0800 or len(pkt) < 20 or pkt[0] >> 4 != 4 or socket.inet_ntoa(pkt[12:16]) != src:
        continue
    if int.from_bytes(pkt[6:8], "big") & 0x1fff:
        continue  # not the first fragment
    ihl, proto = (pkt[0] & 15) * 4, pkt[9]
    body = pkt[ihl:]
    if mode == "rekeys":
        if proto != 17 or len(body) < 8 + 28 or int.from_bytes(body[0:2], "big") != 848 or body[8 + 18] != 41:
            continue
        line = "%s:%d %d %s/%d" % (socket.inet_ntoa(pkt[16:20]), int.from_bytes(body[2:4], "big"),
                                   int.from_bytes(body[4:6], "big") - 8, body[8:24].hex(),
                                   int.from_bytes(body[8 + 20:8 + 24], "big"))
    elif proto == 50 and len(body) >= 4:
        line = body[0:4].hex()
    elif proto == 17 and len(body) >= 12 and int.from_bytes(body[2:4], "big") == 4500 and body[8:12] != bytes(4):
        line = body[8:12].hex()
    else:
        continue
    print(line, flush=True)
    seen += 1
"""


class Sniffer:
    """_SNIFF in a router's namespaces, listening once constructed."""

    def __init__(self, router, mode, src, count, seconds=30):
        self.seconds = seconds
        self.p = subprocess.Popen(router.cmd(["/usr/bin/python3", "-c", _SNIFF, "eth0", mode, src, count, seconds]),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = self.p.stdout.readline()
        if ready.strip() != "ready":
            self.p.kill()
            raise labmod.LabError(f"sniffer on {router.name} did not start: {ready}{self.p.stderr.read()}")

    def lines(self):
        out, err = self.p.communicate(timeout=self.seconds + 15)
        assert self.p.returncode == 0, err
        return [line for line in out.splitlines() if line]


def rekeys_of(sniffer):
    """{"<Rekey SA SPIs>/<message ID>": [(destination, IKE message length)]} of
    the captured GSA_REKEYs, in the order their first copies were sent (message
    IDs count per Rekey SA, RFC 9838 2.4.1.3)."""
    by_id = {}
    for line in sniffer.lines():
        dst, length, msg_id = line.split()
        by_id.setdefault(msg_id, []).append((dst, int(length)))
    return by_id


def server_group(ks):
    for g in labmod.gdoictl(ks, "groups")["groups"]:
        if g.get("name") == GROUP:
            return g
    raise labmod.LabError(f"the key server has no group {GROUP}")


def counters(router):
    return labmod.gdoi_counters(router, GROUP)


def current_spi(router):
    return labmod.gdoi_current_spi(router, GROUP)


def registered(router):
    out = labmod.gdoictl(router, "groups", check=False)
    return isinstance(out, dict) and any(g.get("name") == GROUP and g.get("state") == "registered"
                                         for g in out.get("groups", []))


def loadgen_status(lg):
    """The load generator's last status line (JSON), or None; fails the test if it exited."""
    p = lg.procs["loadgen"]
    if p.poll() is not None:
        pytest.fail(f"gdoi_loadgen exited with {p.returncode}: see {lg.dir}/loadgen.out")
    out = (lg.dir / "loadgen.out").read_text() if (lg.dir / "loadgen.out").exists() else ""
    lines = [line for line in out.splitlines() if line.startswith('{"status"')]
    return json.loads(lines[-1]) if lines else None


def evict(ks, member, remaining):
    """Evict member with gdoictl, capturing the GSA_REKEYs the key server
    sends (two per remaining member: the new Rekey SA, then the new TEK).
    Returns the two messages' lengths in the order sent."""
    sniffer = Sniffer(ks, "rekeys", ks.addr, 2 * remaining)
    before = counters(ks)["rekeys"]
    p = labmod.gdoictl(ks, "evict", GROUP, f"{member.name}.example.net", check=False, as_json=False)
    assert p.returncode == 0, f"gdoictl evict {member.name}: {p.stdout}{p.stderr}"
    wait_until("the key server counts the eviction's rekeys", lambda: counters(ks)["rekeys"] >= before + 2,
               timeout=10)
    by_id = rekeys_of(sniffer)
    assert counters(ks)["rekeys"] == before + 2, "one GSA_REKEY for the Rekey SA, one for the TEK"
    assert len(by_id) == 2, {k: len(v) for k, v in by_id.items()}
    for msg_id, sent in by_id.items():
        dsts = [d for d, _ in sent]
        assert len(dsts) == len(set(dsts)) == remaining, (msg_id, len(dsts), len(set(dsts)))
        assert not any(d.startswith(member.addr + ":") for d in dsts), f"{member.name} got GSA_REKEY {msg_id}"
        assert len({n for _, n in sent}) == 1, f"GSA_REKEY {msg_id}: one message to all, sizes {set(sent)}"
    return [sent[0][1] for sent in by_id.values()]


def id_bits_in_use(ks):
    """Bits of the highest flat key table member ID at the key server."""
    return max(int(m["flatId"]) for m in labmod.gdoictl(ks, "members", GROUP)["members"]).bit_length()


def tree_depth(ks):
    """The key tree's depth; 0 for the flat key table, whose messages do not grow with the group."""
    e = server_group(ks)["eviction"]
    return int(e["treeDepth"]) if e["keyHierarchy"] == "tree" else 0


@pytest.mark.parametrize("hierarchy", ["tree", "flat"])
def test_500_joins_then_an_eviction_goes_out_and_is_applied(hierarchy, lab_logs):
    loadgen = loadgen_path()
    lab = labmod.gdoi_lab(members=4)
    lg = lab.add_router("lg", LG_ADDR, "10.100.0.1/24")
    lab_logs(lab)
    lg_names = [f"lg{i}" for i in range(JOINS)]
    with lab:
        ks, gm1, gm2, gm3, gm4 = lab["ks"], lab["gm1"], lab["gm2"], lab["gm3"], lab["gm4"]
        real = [gm1, gm2, gm3, gm4]
        # the tree is the default: configured only for another hierarchy
        labmod.configure_gdoi(lab, server_extra="" if hierarchy == "tree" else f"\t\tkey_hierarchy = {hierarchy}",
                              extra_members=lg_names)
        assert server_group(ks)["eviction"]["keyHierarchy"] == hierarchy
        for gm in real:
            wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)

        # the reference: an eviction from a group of four
        depth0 = tree_depth(ks)
        bits0 = id_bits_in_use(ks)
        spi0 = current_spi(gm1)
        reference = evict(ks, gm4, 3)
        for gm in (gm1, gm2, gm3):
            wait_until(f"{gm.name} applies gm4's eviction", lambda: current_spi(gm) not in (None, spi0), timeout=10)
        spi1 = current_spi(gm1)
        assert current_spi(gm2) == current_spi(gm3) == spi1 and current_spi(gm4) == spi0

        # 500 joins: each load generator identity registers once and stays
        lg.spawn("loadgen", [loadgen, "gdoi", "--server", ks.addr, "--local", lg.addr, "--gms", JOINS,
                             "--hold", 300, "--psk", labmod.GDOI_PSK, "--server-id", "ks.example.net",
                             "--group-id", labmod.GDOI_GROUP_ID, "--id-format", "lg%u.example.net",
                             "--server-cert", ks.dir / "x509" / "ks.crt"])
        wait_until(f"{JOINS} + 3 members at the key server",
                   lambda: loadgen_status(lg) is not None and int(server_group(ks)["members"]) >= JOINS + 3,
                   timeout=60)
        members = labmod.gdoictl(ks, "members", GROUP)["members"]
        ids = sorted(m["id"] for m in members)
        assert ids == sorted(f"{n}.example.net" for n in ["gm1", "gm2", "gm3"] + lg_names)
        wait_until("every load generator member holds the group SA",
                   lambda: loadgen_status(lg) == {"status": True, "registered": JOINS, "rekeyed": 0,
                                                  "teks": {spi1: JOINS}}, timeout=20)
        depth1 = tree_depth(ks)
        bits1 = id_bits_in_use(ks)
        if hierarchy == "tree":
            assert 2 ** (depth1 - 1) < JOINS + 3 <= 2 ** depth1, (depth0, depth1)

        # the eviction after the joins
        applied = {gm.name: counters(gm)["rekeys"] for gm in (gm1, gm2, gm3)}
        sizes = evict(ks, gm3, JOINS + 2)
        for gm in (gm1, gm2):
            wait_until(f"{gm.name} applies gm3's eviction",
                       lambda: counters(gm)["rekeys"] == applied[gm.name] + 2, timeout=10)
        spi2 = current_spi(gm1)
        assert spi2 not in (None, spi1) and current_spi(gm2) == spi2
        wait_until("every load generator member moves to the new group SA",
                   lambda: loadgen_status(lg) == {"status": True, "registered": JOINS, "rekeyed": JOINS,
                                                  "teks": {spi2: JOINS}}, timeout=20)
        assert current_spi(gm3) == spi1 and counters(gm3)["rekeys"] == applied["gm3"], "gm3 got no new keys"
        assert int(server_group(ks)["members"]) == JOINS + 2
        # every eviction is logged with what evicted members could pool
        said = ("key tree epoch" if hierarchy == "tree" else "flat key table")
        wait_until("the key server logs gm3's eviction",
                   lambda: f"group {GROUP}: evicted gm3.example.net; {said}" in (ks.dir / "charon.log").read_text(),
                   timeout=10)

        # nothing in the eviction grows with the joins: at most two wraps
        # per level the tree grew by, or one notice and one wrap per ID bit
        (kek0, tek0), (kek1, tek1) = reference, sizes
        print(f"GSA_REKEY lengths (Rekey SA, TEK): evicting gm4 from 4 members {reference} (tree depth {depth0}, "
              f"ID bits {bits0}), gm3 after {JOINS} joins {sizes} (depth {depth1}, ID bits {bits1})")
        if hierarchy == "tree":
            assert kek1 <= kek0 + TREE_WRAP_BYTES * (depth1 - depth0) + SIGNATURE_SLACK, \
                (reference, sizes, depth0, depth1)
        else:
            # IDs are assigned in order: 0..3, then up to 503
            assert (bits0, bits1) == (2, (JOINS + 3).bit_length()), (bits0, bits1)
            assert kek1 <= kek0 + FLAT_BIT_BYTES * (bits1 - bits0) + SIGNATURE_SLACK, \
                (reference, sizes, bits0, bits1)
        assert tek1 <= tek0 + SIGNATURE_SLACK, (reference, sizes)

        # gm1's traffic to gm2 travels on the new group SA
        esp = Sniffer(gm2, "esp", gm1.addr, 1)
        p = gm1.run(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", gm1.lan_addr, gm2.lan_addr],
                    check=False, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        assert esp.lines() == [spi2]

        lgp = lg.procs.pop("loadgen")
        lgp.terminate()
        assert lgp.wait(timeout=20) == 0
        result = json.loads([line for line in (lg.dir / "loadgen.out").read_text().splitlines()
                             if line.startswith('{"mode"')][-1])
        assert result["registered_once"] == JOINS and result["rekeyed"] == JOINS, result
