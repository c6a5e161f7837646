# SPDX-License-Identifier: GPL-2.0-or-later
"""IKE header and payloads (RFC 7296 3) and the G-IKEv2 payloads
(RFC 9838 4): every decoder checks lengths and raises WireError."""
import ipaddress
import struct
from dataclasses import dataclass, field

from . import consts as C

HDR_LEN = 28


class WireError(Exception):
    pass


def _need(data, n, what):
    if len(data) < n:
        raise WireError(f"{what}: {len(data)} octets, need {n}")


# --- header (RFC 7296 3.1)

@dataclass
class Header:
    spi_i: bytes
    spi_r: bytes
    next_payload: int
    exchange: int
    flags: int
    message_id: int
    length: int = 0
    version: int = 0x20

    def encode(self, length=None):
        return (self.spi_i + self.spi_r + struct.pack(">BBBBII", self.next_payload, self.version, self.exchange,
                                                      self.flags, self.message_id,
                                                      self.length if length is None else length))


def parse_header(data):
    _need(data, HDR_LEN, "IKE header")
    nxt, ver, exch, flags, mid, length = struct.unpack(">BBBBII", data[16:28])
    if ver >> 4 != 2:
        raise WireError(f"major version {ver >> 4}, not 2")
    if length != len(data):
        raise WireError(f"header Length {length}, datagram {len(data)}")
    return Header(data[:8], data[8:16], nxt, exch, flags, mid, length, ver)


# --- the generic payload chain (RFC 7296 3.2)

@dataclass
class Payload:
    type: int
    body: bytes
    critical: bool = False
    next_type: int = 0  # as read: for SK, the first inner payload's type


def encode_chain(payloads):
    """payloads: [Payload]; returns (the first type, the octets). An SK
    payload must be last, its next_type the first inner payload's type."""
    out = b""
    for i, p in enumerate(payloads):
        nxt = payloads[i + 1].type if i + 1 < len(payloads) else (p.next_type if p.type == C.SK else C.NO_NEXT)
        out += struct.pack(">BBH", nxt, 0x80 if p.critical else 0, 4 + len(p.body)) + p.body
    return (payloads[0].type if payloads else C.NO_NEXT), out


def parse_chain(first, data):
    out, nxt, off = [], first, 0
    while nxt != C.NO_NEXT:
        _need(data[off:], 4, "generic payload header")
        n, flags, length = struct.unpack(">BBH", data[off:off + 4])
        if length < 4 or off + length > len(data):
            raise WireError(f"payload {nxt}: Payload Length {length} out of bounds")
        out.append(Payload(nxt, data[off + 4:off + length], bool(flags & 0x80), n))
        off += length
        if nxt == C.SK:  # the Encrypted payload is the last (RFC 7296 3.14)
            break
        nxt = n
    if off != len(data):
        raise WireError(f"{len(data) - off} octets after the last payload")
    return out


# --- attributes (RFC 7296 3.3.5): TV (AF = 1, 2-octet value) or TLV

@dataclass
class Attr:
    type: int
    value: bytes
    tv: bool = False

    def int(self):
        return int.from_bytes(self.value, "big")


def tv(t, v):
    return Attr(t, struct.pack(">H", v), True)


def tlv(t, v):
    return Attr(t, v, False)


def encode_attrs(attrs):
    out = b""
    for a in attrs:
        if a.tv:
            if len(a.value) != 2:
                raise WireError("a TV attribute holds 2 octets")
            out += struct.pack(">H", 0x8000 | a.type) + a.value
        else:
            out += struct.pack(">HH", a.type, len(a.value)) + a.value
    return out


def parse_attrs(data, what="attribute"):
    out, off = [], 0
    while off < len(data):
        _need(data[off:], 4, what)
        t, v = struct.unpack(">HH", data[off:off + 4])
        if t & 0x8000:
            out.append(Attr(t & 0x7FFF, data[off + 2:off + 4], True))
            off += 4
        else:
            if off + 4 + v > len(data):
                raise WireError(f"{what} {t}: length {v} out of bounds")
            out.append(Attr(t, data[off + 4:off + 4 + v], False))
            off += 4 + v
    return out


# --- SA payload: proposals and transforms (RFC 7296 3.3.1, 3.3.2)

@dataclass
class Transform:
    type: int
    id: int
    attrs: list = field(default_factory=list)

    def attr(self, t):
        return next((a for a in self.attrs if a.type == t), None)

    def key_length(self):
        a = self.attr(C.TA_KEY_LENGTH)
        return a.int() if a else None


def encode_transforms(transforms):
    out = b""
    for i, t in enumerate(transforms):
        body = struct.pack(">BBH", t.type, 0, t.id) + encode_attrs(t.attrs)
        out += struct.pack(">BBH", 3 if i + 1 < len(transforms) else 0, 0, 4 + len(body)) + body
    return out


def parse_transforms(data, count=None):
    """Transform substructures until one with Last Substruc 0 (or count);
    returns (transforms, octets used)."""
    out, off = [], 0
    while True:
        _need(data[off:], 8, "transform")
        last, _, length = struct.unpack(">BBH", data[off:off + 4])
        if last not in (0, 3) or length < 8 or off + length > len(data):
            raise WireError(f"transform: Last Substruc {last}, Transform Length {length}")
        ttype, _, tid = struct.unpack(">BBH", data[off + 4:off + 8])
        out.append(Transform(ttype, tid, parse_attrs(data[off + 8:off + length], "transform attribute")))
        off += length
        if last == 0 or (count is not None and len(out) == count):
            if count is not None and (len(out) != count or last != 0):
                raise WireError("Num Transforms disagrees with Last Substruc")
            return out, off


@dataclass
class Proposal:
    num: int
    protocol: int
    spi: bytes
    transforms: list

    def get(self, ttype):
        return [t for t in self.transforms if t.type == ttype]


def encode_sa(proposals):
    out = b""
    for i, p in enumerate(proposals):
        tr = encode_transforms(p.transforms)
        body = struct.pack(">BBBB", p.num, p.protocol, len(p.spi), len(p.transforms)) + p.spi + tr
        out += struct.pack(">BBH", 2 if i + 1 < len(proposals) else 0, 0, 4 + len(body)) + body
    return out


def parse_sa(data):
    out, off = [], 0
    while off < len(data):
        _need(data[off:], 8, "proposal")
        last, _, length, num, proto, spisize, ntr = struct.unpack(">BBHBBBB", data[off:off + 8])
        if last not in (0, 2) or length < 8 + spisize or off + length > len(data):
            raise WireError(f"proposal: Last Substruc {last}, Proposal Length {length}")
        spi = data[off + 8:off + 8 + spisize]
        trs, used = parse_transforms(data[off + 8 + spisize:off + length], ntr)
        if 8 + spisize + used != length:
            raise WireError("proposal: transforms do not fill the Proposal Length")
        out.append(Proposal(num, proto, spi, trs))
        off += length
        if last == 0:
            break
    if off != len(data):
        raise WireError("octets after the last proposal")
    return out


# --- simple bodies

def encode_id(idtype, data):
    return bytes([idtype, 0, 0, 0]) + data


def parse_id(body):
    _need(body, 4, "ID payload")
    return body[0], body[4:]


def encode_ke(group, data):
    return struct.pack(">HH", group, 0) + data


def parse_ke(body):
    _need(body, 4, "KE payload")
    return struct.unpack(">H", body[:2])[0], body[4:]


@dataclass
class Notify:
    type: int
    data: bytes = b""
    protocol: int = 0
    spi: bytes = b""

    def encode(self):
        return struct.pack(">BBH", self.protocol, len(self.spi), self.type) + self.spi + self.data


def parse_notify(body):
    _need(body, 4, "Notify payload")
    proto, spisize, ntype = struct.unpack(">BBH", body[:4])
    _need(body, 4 + spisize, "Notify SPI")
    return Notify(ntype, body[4 + spisize:], proto, body[4:4 + spisize])


@dataclass
class Delete:
    protocol: int
    spis: list  # of bytes, each spi_size long
    spi_size: int = 0

    def encode(self):
        size = self.spi_size or (len(self.spis[0]) if self.spis else 0)
        return struct.pack(">BBH", self.protocol, size, len(self.spis)) + b"".join(self.spis)


def parse_delete(body):
    """RFC 7296 3.11; RFC 9838 4.6 adds Protocol 0 (the whole group SA)."""
    _need(body, 4, "Delete payload")
    proto, size, num = struct.unpack(">BBH", body[:4])
    if 4 + size * num != len(body):
        raise WireError(f"Delete: {num} SPIs of {size} octets in {len(body) - 4}")
    return Delete(proto, [body[4 + i * size:4 + (i + 1) * size] for i in range(num)], size)


def encode_auth(method, data):
    return bytes([method, 0, 0, 0]) + data


def parse_auth(body):
    _need(body, 4, "AUTH payload")
    return body[0], body[4:]


# --- traffic selector substructure (RFC 7296 3.13.1)

@dataclass
class TS:
    start: str
    end: str
    ip_proto: int = 0
    start_port: int = 0
    end_port: int = 65535

    @classmethod
    def prefix(cls, net, ip_proto=0, port=None):
        n = ipaddress.ip_network(net, strict=False)
        p = (0, 65535) if port is None else (port, port)
        return cls(str(n[0]), str(n[-1]), ip_proto, *p)

    def encode(self):
        s, e = ipaddress.ip_address(self.start), ipaddress.ip_address(self.end)
        t = C.TS_IPV4_ADDR_RANGE if s.version == 4 else C.TS_IPV6_ADDR_RANGE
        body = s.packed + e.packed
        return struct.pack(">BBHHH", t, self.ip_proto, 8 + len(body), self.start_port, self.end_port) + body


def parse_ts(data):
    """One TS substructure; returns (TS, octets used)."""
    _need(data, 8, "traffic selector")
    t, proto, length, sp, ep = struct.unpack(">BBHHH", data[:8])
    alen = {C.TS_IPV4_ADDR_RANGE: 4, C.TS_IPV6_ADDR_RANGE: 16}.get(t)
    if alen is None or length != 8 + 2 * alen or len(data) < length:
        raise WireError(f"traffic selector type {t}, length {length}")
    s = ipaddress.ip_address(data[8:8 + alen])
    e = ipaddress.ip_address(data[8 + alen:8 + 2 * alen])
    return TS(str(s), str(e), proto, sp, ep), length


# --- GSA payload (RFC 9838 4.4)

@dataclass
class GsaPolicy:
    protocol: int
    spi: bytes
    src: TS
    dst: TS
    transforms: list
    attrs: list = field(default_factory=list)

    def get(self, ttype):
        return [t for t in self.transforms if t.type == ttype]

    def attr_all(self, t):
        return [a for a in self.attrs if a.type == t]

    def encode(self):
        body = self.spi + self.src.encode() + self.dst.encode() + encode_transforms(self.transforms) \
            + encode_attrs(self.attrs)
        return struct.pack(">BBH", self.protocol, len(self.spi), 4 + len(body)) + body


@dataclass
class GwPolicy:
    attrs: list

    def attr(self, t):
        return next((a for a in self.attrs if a.type == t), None)

    def encode(self):
        body = encode_attrs(self.attrs)
        return struct.pack(">BBH", 0, 0, 4 + len(body)) + body


def encode_gsa(policies):
    return b"".join(p.encode() for p in policies)


def parse_gsa(body):
    """4.4.1: 'The first octet of the substructure unambiguously determines
    its type -- it is zero for GW policy and non-zero ... for GSA policies.'"""
    out, off = [], 0
    while off < len(body):
        _need(body[off:], 4, "group policy")
        proto, spisize, length = struct.unpack(">BBH", body[off:off + 4])
        if length < 4 or off + length > len(body):
            raise WireError(f"group policy: Length {length} out of bounds")
        sub = body[off + 4:off + length]
        if proto == 0:
            out.append(GwPolicy(parse_attrs(sub, "GW policy attribute")))
        else:
            want = 16 if proto == C.GIKE_UPDATE else 4
            if spisize != want:
                raise WireError(f"GSA policy for protocol {proto}: SPI Size {spisize}, not {want}")
            _need(sub, spisize, "GSA policy SPI")
            spi, rest = sub[:spisize], sub[spisize:]
            src, n1 = parse_ts(rest)
            dst, n2 = parse_ts(rest[n1:])
            trs, n3 = parse_transforms(rest[n1 + n2:])
            out.append(GsaPolicy(proto, spi, src, dst, trs,
                                 parse_attrs(rest[n1 + n2 + n3:], "GSA attribute")))
        off += length
    return out


# --- KD payload (RFC 9838 4.5)

@dataclass
class GroupKeyBag:
    protocol: int
    spi: bytes
    attrs: list

    def encode(self):
        body = self.spi + encode_attrs(self.attrs)
        return struct.pack(">BBH", self.protocol, len(self.spi), 4 + len(body)) + body


@dataclass
class MemberKeyBag:
    attrs: list

    def encode(self):
        body = encode_attrs(self.attrs)
        return struct.pack(">BBH", 0, 0, 4 + len(body)) + body


def encode_kd(bags):
    return b"".join(b.encode() for b in bags)


def parse_kd(body):
    """4.5.1: the first octet is zero for a member key bag, else the protocol."""
    out, off = [], 0
    while off < len(body):
        _need(body[off:], 4, "key bag")
        proto, spisize, length = struct.unpack(">BBH", body[off:off + 4])
        if length < 4 + (spisize if proto else 0) or off + length > len(body):
            raise WireError(f"key bag: Length {length} out of bounds")
        sub = body[off + 4:off + length]
        if proto == 0:
            out.append(MemberKeyBag(parse_attrs(sub, "member key bag attribute")))
        else:
            out.append(GroupKeyBag(proto, sub[:spisize], parse_attrs(sub[spisize:], "group key bag attribute")))
        off += length
    return out


@dataclass
class WrappedKey:
    """4.5.4: Key ID (4) | KWK ID (4) | Encrypted Key."""
    key_id: int
    kwk_id: int
    encrypted: bytes

    def encode(self):
        return struct.pack(">II", self.key_id, self.kwk_id) + self.encrypted


def parse_wrapped(value):
    _need(value, 8 + 16, "wrapped key")
    kid, kwk = struct.unpack(">II", value[:8])
    return WrappedKey(kid, kwk, value[8:])
