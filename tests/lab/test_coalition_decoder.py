# SPDX-License-Identifier: GPL-2.0-or-later
"""Self-test of the coalition decoder (coalition.py) on a synthetic capture.

A small key server written here (RFC 9838 messages, an LKH tree with Key
IDs of its own, AES-GCM ESP) evicts two of four members one after the other;
the capture holds its GSA_REKEYs (one of them in IP fragments) and ESP
packets under every TEK. The decoder must find that a remaining member,
from nothing but its registration keys, follows every rekey through the
intermediate keys; that the two evicted members together open only what was sent under
keys they held; and that a key server that wraps a Rekey SA under a key
the evicted members held is caught.
"""
import json
import os
import struct
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

import coalition

class TreeServer:
    """LKH (RFC 9838 Appendix A) for four members, depth 2, with Key IDs of
    its own (sequential from 1). A leave gives every ancestor of the leaver
    a fresh key with a new Key ID, wrapped under every child that keeps
    members; they travel as intermediate keys (Key ID, KWK ID, wrapped
    key) in the Rekey SA's group key bag."""

    def __init__(self, leak=None):
        self.leak = leak  # "old": from the second leave on, the new root also under the old one
        self.depth, self.next_id, self.leaves = 2, 1, 0
        self.keys = {(level, pos): self.fresh() for level in range(3) for pos in range(4 >> level)}
        self.members = set()

    def fresh(self):
        self.next_id += 1
        return self.next_id - 1, os.urandom(32)

    def occupied(self, level, pos):
        return any(leaf >> level == pos for leaf in self.members)

    def join(self):
        leaf = min(set(range(4)) - self.members)
        self.members.add(leaf)
        return leaf, [self.keys[(level, leaf >> level)] for level in range(self.depth + 1)]

    def leave(self, leaf):
        old_root = self.root()
        self.leaves += 1
        self.members.discard(leaf)
        del self.keys[(0, leaf)]
        wraps = []
        for level in range(1, self.depth + 1):
            pos = leaf >> level
            new = self.fresh()
            for child in ((level - 1, 2 * pos), (level - 1, 2 * pos + 1)):
                if self.occupied(*child):
                    cid, ckey = self.keys[child]
                    wraps.append(wrapped_key(new[0], cid, ckey, new[1]))
            self.keys[(level, pos)] = new
        if self.leak == "old" and self.leaves > 1:
            wraps.append(wrapped_key(self.root()[0], old_root[0], old_root[1], self.root()[1]))
        return wraps

    def root(self):
        return self.keys[(self.depth, 0)]


def attribute(kind, value):
    return struct.pack(">HH", kind, len(value)) + value


def key_bag(proto, spi, attrs):
    body = spi + b"".join(attrs)
    return struct.pack(">BBH", proto, len(spi), 4 + len(body)) + body


def wrapped_key(key_id, kwk_id, kwk, plain):
    return struct.pack(">II", key_id, kwk_id) + aes_key_wrap_with_padding(kwk, plain)


def esp_policy(spi):
    ts = struct.pack(">BBHHH", 7, 0, 16, 0, 0xffff) + bytes([10, 0, 0, 0, 10, 255, 255, 255])
    encr = struct.pack(">BBHBBH", 3, 0, 12, 1, 0, 20) + struct.pack(">HH", 0x800e, 256)
    sn = struct.pack(">BBHBBH", 0, 0, 8, 5, 0, 1)
    body = struct.pack(">I", spi) + ts + ts + encr + sn
    return struct.pack(">BBH", 3, 4, 4 + len(body)) + body


def gsa_rekey(kek_spi, kek, message_id, payloads):
    """HDR, SK{payloads} under a Rekey SA (AES-GCM-16-256, IV = message ID)."""
    chain = b""
    for i, (kind, body) in enumerate(payloads):
        nxt = payloads[i + 1][0] if i + 1 < len(payloads) else 0
        chain += struct.pack(">BBH", nxt, 0, 4 + len(body)) + body
    plain = chain + b"\0"  # Pad Length 0
    iv = struct.pack(">Q", message_id)
    sk_len = 4 + 8 + len(plain) + 16
    header = kek_spi + struct.pack(">BBBBII", 46, 0x20, 41, 0x08, message_id, 28 + sk_len)
    sk_head = struct.pack(">BBH", payloads[0][0], 0, sk_len)
    ct = AESGCM(kek[:32]).encrypt(kek[32:36] + iv, plain, header + sk_head)
    return header + sk_head + iv + ct


def esp_packet(spi, seq, tek):
    iv = os.urandom(8)
    head = struct.pack(">II", spi, seq)
    inner = bytes(20) + b"ping" + b"\x01\x02\x02\x04"  # padding, pad length 2, next header 4
    return head + iv + AESGCM(tek[:-4]).encrypt(tek[-4:] + iv, inner, head)


def ip_frames(proto, payload, ident, mtu=1500):
    """Ethernet frames of an IPv4 datagram, fragmented to fit mtu."""
    frames, chunk, off = [], (mtu - 20) // 8 * 8, 0
    while True:
        part = payload[off:off + chunk]
        more = off + chunk < len(payload)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(part), ident, (0x2000 if more else 0) | off // 8, 64,
                         proto, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 11]))
        frames.append(bytes(12) + b"\x08\x00" + ip + part)
        if not more:
            return frames
        off += chunk


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)) + frame)


def log_line(kind, ident, key, epoch=0):
    return json.dumps({"group": "blue", "kind": kind, "id": ident, "key": key.hex(), "epoch": epoch}) + "\n"


def scenario(tmp_path, leaky=None):
    """Four members; member 2 then member 3 evicted; traffic under every
    TEK. Returns the pcap, each member's key log, and the message IDs and
    TEK SPIs of each step. leaky: "kwk", the second eviction's Rekey SA
    wrapped under the old root; "old", its new root also wrapped under the
    old one."""
    tree = TreeServer(leak=leaky)
    kek_spi, kek = os.urandom(16), os.urandom(68)
    tek_spi, tek = 0x1000, os.urandom(36)
    logs = {m: [log_line("kek", kek_spi.hex(), kek), log_line("tek", f"{tek_spi:08x}", tek)] for m in range(4)}
    for m in range(4):
        leaf, path = tree.join()
        assert leaf == m
        logs[m] += [log_line("wrap", f"{kid:08x}", key) for kid, key in path]
    frames, ident, message_id, steps = [], 1, 1, []

    def send(datagram, port=848, proto=17):
        nonlocal ident
        frames.extend(ip_frames(proto, udp(port, port, datagram) if proto == 17 else datagram, ident))
        ident += 1

    def traffic(spi, key, n):
        for seq in range(1, n + 1):
            if seq % 2:
                send(esp_packet(spi, seq, key), port=4500)
            else:
                send(esp_packet(spi, seq, key), proto=50)

    traffic(tek_spi, tek, 5)
    for leaver in (2, 3):
        old_root = tree.root()
        wraps = tree.leave(leaver)
        next_spi, next_kek = os.urandom(16), os.urandom(68)
        kwk = tree.root()
        if leaky == "kwk" and leaver == 3:
            kwk = old_root  # the bug: the Rekey SA under a key the leavers held
        envelope = gsa_rekey(kek_spi, kek, message_id, [
            (coalition.PAYLOAD_KD, key_bag(6, next_spi, [attribute(1, wrapped_key(0, kwk[0], kwk[1], next_kek))]
                                           + [attribute(1, w) for w in wraps]))])
        next_tek_spi, next_tek = tek_spi + 1, os.urandom(36)
        tek_msg = gsa_rekey(next_spi, next_kek, message_id + 1, [
            (coalition.PAYLOAD_GSA, esp_policy(next_tek_spi)),
            (coalition.PAYLOAD_KD, key_bag(3, struct.pack(">I", next_tek_spi),
                                           [attribute(1, wrapped_key(0, 0, next_kek[36:], next_tek))]))])
        for copy in range(2):  # unicast: one copy per member
            send(envelope)
            send(tek_msg)
        # the members still in the group take the new keys into use
        for m in tree.members:
            logs[m] += [log_line("kek", next_spi.hex(), next_kek, message_id),
                        log_line("tek", f"{next_tek_spi:08x}", next_tek, message_id + 1)]
        steps.append({"envelope": message_id, "tek_message": message_id + 1, "tek": next_tek_spi})
        kek_spi, kek, tek_spi, tek, message_id = next_spi, next_kek, next_tek_spi, next_tek, message_id + 2
        traffic(tek_spi, tek, 6)
    # a large rekey in IP fragments, and things the decoder must skip
    frames.extend(ip_frames(17, udp(848, 848, gsa_rekey(kek_spi, kek, message_id, [
        (coalition.PAYLOAD_KD, key_bag(3, struct.pack(">I", 0x2000),
                                       [attribute(1, wrapped_key(0, 0, kek[36:], os.urandom(36)))]
                                       + [attribute(0x4000 | 7, os.urandom(1400))]))])), ident, mtu=600))
    steps.append({"fragmented": message_id})
    send(b"\0\0\0\0" + os.urandom(40), port=4500)  # IKE behind the non-ESP marker
    send(b"\xff", port=4500)  # NAT keepalive
    pcap = tmp_path / f"{leaky or 'capture'}.pcap"
    write_pcap(pcap, frames)
    paths = {}
    for m, lines in logs.items():
        paths[m] = tmp_path / f"member{m}-{leaky}.json"
        paths[m].write_text("".join(lines))
    return pcap, paths, steps


def run(pcap, *keys, lines=None):
    know = coalition.Knowledge()
    for k in keys:
        know.load(k, lines)
    rekeys, esp = coalition.capture(pcap)
    return coalition.analyse(rekeys, esp, know)


def opened(report):
    return {r["message_id"] for r in report["rekeys"] if r["opened"]}


def test_the_capture_is_read_whole(tmp_path):
    pcap, _, steps = scenario(tmp_path)
    rekeys, esp = coalition.capture(pcap)
    assert len(rekeys) == 9, "two copies of four messages and one in fragments"
    assert len(esp) == 5 + 6 + 6
    report = coalition.analyse(rekeys, esp, coalition.Knowledge())
    assert [r["message_id"] for r in report["rekeys"]] == [1, 2, 3, 4, steps[2]["fragmented"]]
    assert [r["copies"] for r in report["rekeys"]] == [2, 2, 2, 2, 1]
    assert opened(report) == set() and report["teks"] == []
    assert {s: v["packets"] for s, v in report["esp"].items()} == {"00001000": 5, "00001001": 6, "00001002": 6}
    assert all(v["opened"] == 0 for v in report["esp"].values())


def test_a_member_follows_every_rekey_from_its_registration_keys(tmp_path):
    pcap, paths, steps = scenario(tmp_path)
    # member 0's registration: Rekey SA, TEK and its three path keys
    report = run(pcap, paths[0], lines=5)
    assert opened(report) == {1, 2, 3, 4, steps[2]["fragmented"]}
    assert {s: (v["opened"], v["packets"]) for s, v in report["esp"].items()} == {
        "00001000": (5, 5), "00001001": (6, 6), "00001002": (6, 6)}
    first = report["rekeys"][0]
    assert first["intermediate_keys"] == 3 and first["member_bags"] == 0
    assert first["learned"] and first["learned"][0].startswith("kek ")
    assert report["undecoded"] == []


def test_evicted_members_together_open_only_what_they_held_keys_for(tmp_path):
    pcap, paths, steps = scenario(tmp_path)
    for keys in ((paths[2], paths[3]), (paths[2],), (paths[3],)):
        report = run(pcap, *keys)
        after = {steps[1]["tek_message"], steps[2]["fragmented"]}
        assert not opened(report) & after, (keys, report["rekeys"])
        assert report["esp"]["00001002"]["opened"] == 0
        assert report["esp"]["00001000"]["opened"] == 5, "the keys they held work"
    together = run(pcap, paths[2], paths[3])
    # member 3 was there for the first eviction, and holds the Rekey SA
    # the second eviction's envelope travels under
    assert opened(together) == {1, 2, 3}
    assert together["esp"]["00001001"]["opened"] == 6
    alone = run(pcap, paths[2])
    assert opened(alone) == {1}, "member 2 cannot follow its own eviction"


def test_a_leak_is_found(tmp_path):
    for leak in ("kwk", "old"):
        pcap, paths, steps = scenario(tmp_path, leaky=leak)
        report = run(pcap, paths[2], paths[3])
        assert steps[1]["tek_message"] in opened(report), leak
        assert report["esp"]["00001002"]["opened"] == 6, leak
        assert not opened(run(pcap, paths[2])) & {steps[1]["tek_message"]}, f"{leak}: member 2 alone held nothing"



def test_the_command_line_prints_the_report(tmp_path):
    pcap, paths, _ = scenario(tmp_path)
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "coalition.py"),
                          "--pcap", str(pcap), "--keys", str(paths[1])], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["esp"]["00001002"]["opened"] == 6
    assert len(report["rekeys"]) == 5
