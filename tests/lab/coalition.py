# SPDX-License-Identifier: GPL-2.0-or-later
"""What a set of group members can read off the wire, pooled together.

An independent decoder for the lab: it shares no code with the C++ core and
is written from RFC 9838 (G-IKEv2), RFC 7296 (IKEv2 message and SK
payload), RFC 5649 (AES key wrap with padding), RFC 4106 and RFC 3948
(AES-GCM ESP, in UDP) and our docs (gikev2-wire.md for the payload layouts
and code points, gdoi.md for the
member key material log).

It reads
  - the member key material logs (`save_member_keys`, one JSON object a
    line: group, kind "kek" / "tek" / "wrap", id, key, epoch) of a set of
    members, the coalition, and pools everything they ever held (kind
    "wrap": a key of the Working Key Path, id its Key ID in hex);
  - a pcap of the backbone: GSA_REKEY datagrams on UDP 848 and ESP packets
    (in UDP 4500 or bare), IPv4 fragments reassembled (IPv6 is not read);
and computes what the coalition can learn, to a fixpoint:
  - every GSA_REKEY under a Rekey SA it knows is opened (SK payload,
    AES-GCM-16-256, keys from the Rekey SA keying material
    GSK_e (32) | salt (4) | GSK_w (32));
  - in what it opened, every wrapped key (RFC 9838 4.5.4: SA_KEY and the
    intermediate keys, Key ID other than 0, of a key bag, WRAP_KEY of a
    member key bag) is unwrapped with every key it holds, whatever the Key
    IDs say: new Rekey SAs, TEKs and intermediate keys (key tree keys),
    which join the pool;
then every ESP packet on a TEK it knows is decrypted.

Output (JSON on stdout, or analyse() from Python): every unique GSA_REKEY
(by Rekey SA SPI and message ID) with whether it was opened, and per ESP
SPI the packets seen and opened. Flat key table messages (group key bag
attribute 16384) are not decoded: they are listed under "undecoded", and an
analysis with any is incomplete.

    /usr/bin/python3 tests/lab/coalition.py --pcap backbone.pcap \\
        --keys gm7/member-keys.json gm8/member-keys.json
"""

import argparse
import json
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

# RFC 7296 / RFC 9838 code points (gikev2-wire.md)
IKE_PORT = 848
NAT_T_PORT = 4500
GSA_REKEY = 41
PAYLOAD_SK = 46
PAYLOAD_GSA = 51
PAYLOAD_KD = 52
PROTO_ESP = 3
PROTO_GIKE_UPDATE = 6
KD_SA_KEY = 1  # group key bag attribute
KD_WRAP_KEY = 1  # member key bag attribute
TRANSFORM_ENCR = 1
ENCR_AES_GCM_16 = 20
ATTR_KEY_LENGTH = 14
# group key bag attribute (private use) carrying flat key table messages
FLAT_KEY_MESSAGE = 16384
KEK_KEYMAT_BYTES = 68  # GSK_e (32) | salt (4) | GSK_w (32)


class Malformed(Exception):
    pass


# ------------------------------------------------------------------ pcap

def read_pcap(path):
    """(timestamp, link type, frame) of every record of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise Malformed(f"{path}: not a pcap file")
    magic = data[:4]
    for endian, scale in (("<", 1e-6), (">", 1e-6), ("<", 1e-9), (">", 1e-9)):
        want = 0xa1b2c3d4 if scale == 1e-6 else 0xa1b23c4d
        if struct.unpack(endian + "I", magic)[0] == want:
            break
    else:
        raise Malformed(f"{path}: not a classic pcap file (write it with tshark -F pcap)")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        pos += 16
        if pos + incl > len(data):
            break  # a record cut short at the end of the capture
        yield sec + frac * scale, linktype, data[pos:pos + incl]
        pos += incl


def ip_packet(linktype, frame):
    """The IPv4 packet in a frame, or None."""
    if linktype == 1:  # Ethernet, with any 802.1Q tags
        pos, etype = 12, None
        while pos + 2 <= len(frame):
            etype = int.from_bytes(frame[pos:pos + 2], "big")
            if etype not in (0x8100, 0x88a8):
                break
            pos += 4
        return frame[pos + 2:] if etype == 0x0800 else None
    if linktype == 113:  # Linux cooked capture
        return frame[16:] if frame[14:16] == b"\x08\x00" else None
    if linktype == 276:  # Linux cooked capture v2
        return frame[20:] if frame[0:2] == b"\x08\x00" else None
    if linktype in (12, 101):  # raw IP
        return frame if frame and frame[0] >> 4 == 4 else None
    return None


def ip_datagrams(records):
    """(timestamp, src, dst, protocol, payload) of every IPv4 datagram,
    fragments reassembled (the timestamp of the last fragment)."""
    pending = {}
    for ts, linktype, frame in records:
        pkt = ip_packet(linktype, frame)
        if not pkt or len(pkt) < 20 or pkt[0] >> 4 != 4:
            continue
        ihl = (pkt[0] & 15) * 4
        total = int.from_bytes(pkt[2:4], "big")
        if ihl < 20 or total < ihl or total > len(pkt):
            continue
        ident = int.from_bytes(pkt[4:6], "big")
        flags_off = int.from_bytes(pkt[6:8], "big")
        more, offset = bool(flags_off & 0x2000), (flags_off & 0x1fff) * 8
        proto, src, dst = pkt[9], pkt[12:16], pkt[16:20]
        body = pkt[ihl:total]
        if not more and offset == 0:
            yield ts, src, dst, proto, body
            continue
        key = (src, dst, ident, proto)
        frags = pending.setdefault(key, {"parts": {}, "end": None})
        frags["parts"][offset] = body
        if not more:
            frags["end"] = offset + len(body)
        if frags["end"] is None:
            continue
        out, at = bytearray(), 0
        for off in sorted(frags["parts"]):
            if off > at:
                break  # a hole: wait for more
            part = frags["parts"][off]
            out += part[at - off:]
            at = max(at, off + len(part))
        if at >= frags["end"]:
            del pending[key]
            yield ts, src, dst, proto, bytes(out[:frags["end"]])


def capture(path):
    """GSA_REKEY datagrams and ESP packets of a pcap:
    ([(ts, ike message)], [(ts, esp packet)])."""
    rekeys, esp = [], []
    for ts, _src, _dst, proto, body in ip_datagrams(read_pcap(path)):
        if proto == 50:
            esp.append((ts, body))
            continue
        if proto != 17 or len(body) < 8:
            continue
        sport, dport, length = struct.unpack(">HHH", body[0:6])
        payload = body[8:length]
        if IKE_PORT in (sport, dport):
            if len(payload) >= 28 and payload[18] == GSA_REKEY and not payload[19] & 0x20:
                rekeys.append((ts, payload))
        elif NAT_T_PORT in (sport, dport):
            # RFC 3948: four zero octets mark IKE, a single 0xff a keepalive
            if len(payload) >= 8 and payload[:4] != b"\0\0\0\0":
                esp.append((ts, payload))
    return rekeys, esp


# ------------------------------------------------------------------ G-IKEv2 payloads

def payload_chain(first, data):
    """[(type, body)] of an IKEv2 generic payload chain (RFC 7296 3.2)."""
    out, kind, pos = [], first, 0
    while kind:
        if pos + 4 > len(data):
            raise Malformed("payload chain truncated")
        nxt, length = data[pos], int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 4 or pos + length > len(data):
            raise Malformed("payload length")
        out.append((kind, data[pos + 4:pos + length]))
        kind, pos = nxt, pos + length
    return out


def open_sk(message, keymat):
    """The inner payloads of an SK-protected message under a Rekey SA
    (AES-GCM-16 with a 32-octet key, RFC 5282), or None."""
    if len(message) < 28 or int.from_bytes(message[24:28], "big") != len(message):
        return None
    kind, pos = message[16], 28
    # payloads in clear before SK, if any
    while kind and kind != PAYLOAD_SK:
        if pos + 4 > len(message):
            return None
        kind, pos = message[pos], pos + int.from_bytes(message[pos + 2:pos + 4], "big")
    if kind != PAYLOAD_SK or pos + 4 + 8 + 16 + 1 > len(message):
        return None
    first_inner = message[pos]
    sk_len = int.from_bytes(message[pos + 2:pos + 4], "big")
    if pos + sk_len != len(message):
        return None
    iv = message[pos + 4:pos + 12]
    key, salt = keymat[:32], keymat[32:36]
    try:
        plain = AESGCM(key).decrypt(salt + iv, message[pos + 12:], message[:pos + 4])
    except InvalidTag:
        return None
    pad = plain[-1]
    if pad + 1 > len(plain):
        return None
    return payload_chain(first_inner, plain[:len(plain) - pad - 1])


def attributes(data):
    """[(type, value)] of RFC 7296 3.3.5 data attributes (TV values as 2 octets)."""
    out, pos = [], 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise Malformed("attribute truncated")
        word = int.from_bytes(data[pos:pos + 2], "big")
        if word & 0x8000:
            out.append((word & 0x7fff, data[pos + 2:pos + 4]))
            pos += 4
        else:
            length = int.from_bytes(data[pos + 2:pos + 4], "big")
            if pos + 4 + length > len(data):
                raise Malformed("attribute length")
            out.append((word, data[pos + 4:pos + 4 + length]))
            pos += 4 + length
    return out


def parse_kd(body):
    """Key bags of a KD payload: [(protocol, spi, [(type, value)])];
    the member key bag has protocol 0 and no SPI."""
    bags, pos = [], 0
    while pos < len(body):
        if pos + 4 > len(body):
            raise Malformed("key bag truncated")
        proto, spi_size, length = body[pos], body[pos + 1], int.from_bytes(body[pos + 2:pos + 4], "big")
        if length < 4 or pos + length > len(body):
            raise Malformed("key bag length")
        bag = body[pos + 4:pos + length]
        if proto == 0:
            bags.append((0, b"", attributes(bag)))
        else:
            bags.append((proto, bag[:spi_size], attributes(bag[spi_size:])))
        pos += length
    return bags


def parse_gsa(body):
    """ESP policies of a GSA payload: {spi: (encryption transform ID, key bits)}."""
    out, pos = {}, 0
    while pos < len(body):
        if pos + 4 > len(body):
            raise Malformed("GSA substructure truncated")
        proto, spi_size, length = body[pos], body[pos + 1], int.from_bytes(body[pos + 2:pos + 4], "big")
        if length < 4 or pos + length > len(body):
            raise Malformed("GSA substructure length")
        sub, pos = body[pos + 4:pos + length], pos + length
        if proto != PROTO_ESP:
            continue
        spi, at = sub[:spi_size], spi_size
        for _ in range(2):  # source and destination traffic selectors
            at += int.from_bytes(sub[at + 2:at + 4], "big")
        encr = None
        while at + 8 <= len(sub):
            last, tlen = sub[at], int.from_bytes(sub[at + 2:at + 4], "big")
            ttype, tid = sub[at + 4], int.from_bytes(sub[at + 6:at + 8], "big")
            if ttype == TRANSFORM_ENCR:
                bits = 0
                for atype, value in attributes(sub[at + 8:at + tlen]):
                    if atype == ATTR_KEY_LENGTH:
                        bits = int.from_bytes(value, "big")
                encr = (tid, bits)
            at += max(tlen, 8)
            if last == 0:
                break
        out[int.from_bytes(spi, "big")] = encr
    return out


def unwrap(kek, wrapped):
    if len(kek) not in (16, 24, 32):
        return None
    try:
        return aes_key_unwrap_with_padding(kek, wrapped)
    except (InvalidUnwrap, ValueError):
        return None


# ------------------------------------------------------------------ key material

class Knowledge:
    """What a coalition holds: Rekey SAs and TEKs by SPI, and the
    intermediate keys (key hierarchy keys) it held or unwrapped."""

    def __init__(self):
        self.keks = {}  # 16-octet SPI -> 68-octet keying material
        self.teks = {}  # ESP SPI -> keying material
        self.loose = set()  # intermediate keys

    def load(self, path, lines=None):
        """Adds a member key material log (its first `lines` lines if given)."""
        with open(path) as f:
            for n, line in enumerate(f):
                if lines is not None and n >= lines:
                    break
                if not line.strip():
                    continue
                e = json.loads(line)
                key = bytes.fromhex(e["key"])
                if e["kind"] == "kek":
                    self.keks[bytes.fromhex(e["id"])] = key
                elif e["kind"] == "tek":
                    self.teks[int(e["id"], 16)] = key
                elif e["kind"] == "wrap":
                    self.loose.add(key)
        return self

    def size(self):
        return len(self.keks), len(self.teks), len(self.loose)


def esp_open(keymat, packet):
    """RFC 4106 AES-GCM ESP with a 16-octet ICV: True if the ICV verifies."""
    if len(keymat) not in (20, 28, 36) or len(packet) < 8 + 8 + 16 + 2:
        return False
    key, salt = keymat[:-4], keymat[-4:]
    try:
        AESGCM(key).decrypt(salt + packet[8:16], packet[16:], packet[:8])
        return True
    except InvalidTag:
        return False


def analyse(rekeys, esp, know):
    """Everything the coalition `know` learns from the captured GSA_REKEY
    datagrams and what it then opens. rekeys, esp: [(timestamp, bytes)]."""
    messages = {}
    for ts, msg in rekeys:
        key = (msg[0:16], int.from_bytes(msg[20:24], "big"))
        if key in messages:
            messages[key]["copies"] += 1
            continue
        messages[key] = {"spi": msg[0:16], "message_id": key[1], "time": ts, "copies": 1, "data": msg,
                         "inner": None, "intermediate_keys": 0, "member_bags": 0,
                         "flat_messages": 0, "gsa": {}}
    ordered = sorted(messages.values(), key=lambda m: (m["time"], m["message_id"]))
    learned_by = {}  # what was learned from which message
    while True:
        before = know.size()
        for m in ordered:
            if m["inner"] is None and m["spi"] in know.keks:
                m["inner"] = open_sk(m["data"], know.keks[m["spi"]])
                if m["inner"] is not None:
                    for kind, body in m["inner"]:
                        if kind == PAYLOAD_GSA:
                            m["gsa"] = parse_gsa(body)
        for m in ordered:
            m["intermediate_keys"], m["member_bags"], m["flat_messages"] = 0, 0, 0
            for kind, body in m["inner"] or ():
                if kind != PAYLOAD_KD:
                    continue
                for proto, _spi, attrs in parse_kd(body):
                    m["member_bags"] += proto == 0
                    for atype, value in attrs:
                        if atype == FLAT_KEY_MESSAGE:
                            # not decoded: the analysis is incomplete
                            m["flat_messages"] += 1
                        elif proto == PROTO_GIKE_UPDATE and atype == KD_SA_KEY and len(value) >= 8 \
                                and int.from_bytes(value[0:4], "big") != 0:
                            m["intermediate_keys"] += 1
                        elif proto == 0 and atype == KD_WRAP_KEY:
                            # a key hierarchy's key as RFC 9838 Appendix A sends it in GSA_REKEY
                            m["intermediate_keys"] += 1
        pool = set(know.loose)
        pool |= {keymat[36:68] for keymat in know.keks.values()}
        # every wrapped key in what was opened, with every key held
        for m in ordered:
            if m["inner"] is None:
                continue
            gsk_w = know.keks[m["spi"]][36:68]
            for kind, body in m["inner"]:
                if kind != PAYLOAD_KD:
                    continue
                for proto, spi, attrs in parse_kd(body):
                    for atype, value in attrs:
                        if atype not in (KD_SA_KEY, KD_WRAP_KEY) or len(value) < 9:
                            continue
                        key_id = int.from_bytes(value[0:4], "big")
                        kwk_id, wrapped = int.from_bytes(value[4:8], "big"), value[8:]
                        keys = [gsk_w] if kwk_id == 0 else []
                        plain = None
                        for kek in keys + sorted(pool):
                            plain = unwrap(kek, wrapped)
                            if plain is not None:
                                break
                        if plain is None:
                            continue
                        name = (m["spi"].hex(), m["message_id"])
                        if key_id != 0 or proto == 0:
                            # an intermediate key: it joins the pool
                            if plain not in know.loose:
                                know.loose.add(plain)
                                pool.add(plain)
                        elif proto == PROTO_GIKE_UPDATE and len(plain) == KEK_KEYMAT_BYTES:
                            if spi not in know.keks:
                                know.keks[spi] = plain
                                learned_by.setdefault(name, []).append("kek " + spi.hex())
                        elif proto == PROTO_ESP:
                            n = int.from_bytes(spi, "big")
                            if n not in know.teks:
                                know.teks[n] = plain
                                learned_by.setdefault(name, []).append(f"tek {n:08x}")
        if know.size() == before:
            break
    per_spi = {}
    for ts, pkt in esp:
        spi = int.from_bytes(pkt[0:4], "big")
        s = per_spi.setdefault(f"{spi:08x}", {"packets": 0, "opened": 0, "first": ts, "last": ts})
        s["packets"] += 1
        s["last"] = ts
        if spi in know.teks and esp_open(know.teks[spi], pkt):
            s["opened"] += 1
    report = {"rekeys": [], "esp": per_spi, "keks": sorted(k.hex() for k in know.keks),
              "teks": sorted(f"{k:08x}" for k in know.teks), "undecoded": []}
    for m in ordered:
        name = (m["spi"].hex(), m["message_id"])
        report["rekeys"].append({
            "spi": name[0], "message_id": m["message_id"], "time": m["time"], "copies": m["copies"],
            "opened": m["inner"] is not None, "intermediate_keys": m["intermediate_keys"],
            "member_bags": m["member_bags"],
            "flat_messages": m["flat_messages"], "learned": learned_by.get(name, [])})
        if m["flat_messages"]:
            report["undecoded"].append({"spi": name[0], "message_id": m["message_id"],
                                        "why": "flat key table message"})
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pcap", required=True, help="capture of the backbone (classic pcap)")
    p.add_argument("--keys", nargs="*", default=[], help="member key material logs of the coalition")
    args = p.parse_args(argv)
    know = Knowledge()
    for path in args.keys:
        know.load(path)
    rekeys, esp = capture(args.pcap)
    json.dump(analyse(rekeys, esp, know), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
