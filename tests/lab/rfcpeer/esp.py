# SPDX-License-Identifier: GPL-2.0-or-later
"""ESP with AES-GCM-16 (RFC 4303, RFC 4106) in tunnel mode, carried in UDP
(RFC 3948), and the IPv4/ICMP packets a member pings with."""
import ipaddress
import struct

from . import crypto


class EspError(Exception):
    pass


def seal(keymat, spi, seq, inner, next_header=4, iv=None):
    """RFC 4303 2: SPI | Sequence Number | IV | ciphertext | ICV; RFC 4106:
    nonce = salt | IV, AAD = SPI | Sequence Number (no ESN)."""
    pad = (-(len(inner) + 2)) % 4
    plain = inner + bytes(range(1, pad + 1)) + bytes([pad, next_header])
    head = struct.pack(">II", int.from_bytes(spi, "big"), seq)
    iv = iv if iv is not None else crypto.random_bytes(8)
    return head + iv + crypto.gcm_seal(keymat, iv, plain, head)


def open_(keymat, pkt):
    """(sequence number, next header, inner packet)."""
    if len(pkt) < 8 + 8 + 16 + 2:
        raise EspError("ESP packet too short")
    head, iv = pkt[:8], pkt[8:16]
    try:
        plain = crypto.gcm_open(keymat, iv, pkt[16:], head)
    except crypto.CryptoError as e:
        raise EspError(str(e)) from None
    pad, nh = plain[-2], plain[-1]
    if pad + 2 > len(plain) or plain[-2 - pad:-2] != bytes(range(1, pad + 1)):
        raise EspError("ESP padding wrong")
    return struct.unpack(">I", pkt[4:8])[0], nh, plain[:-2 - pad]


def _csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def icmp_echo(src, dst, ident, seq, payload=b"rfcpeer" * 8):
    icmp = struct.pack(">BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack(">H", _csum(icmp)) + icmp[4:]
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
                     ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    ip = ip[:10] + struct.pack(">H", _csum(ip)) + ip[12:]
    return ip + icmp


def parse_ipv4(pkt):
    """(source, destination, protocol, ICMP type or None, ICMP id, ICMP seq)."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        raise EspError("inner packet is no IPv4")
    ihl = (pkt[0] & 15) * 4
    src, dst, proto = str(ipaddress.IPv4Address(pkt[12:16])), str(ipaddress.IPv4Address(pkt[16:20])), pkt[9]
    if proto == 1 and len(pkt) >= ihl + 8:
        t, _, _, ident, seq = struct.unpack(">BBHHH", pkt[ihl:ihl + 8])
        return src, dst, proto, t, ident, seq
    return src, dst, proto, None, None, None
