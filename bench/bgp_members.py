#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Many simulated BGP members in one process, for the reflection benchmark
(bench/gsa_reflect_bench.py, docs/bgp-gsa-benchmark.md).

Member i connects from its own address to the route reflector (iBGP, one
TCP session each), and, once told, announces one route: its endpoint as a
/32 with ORIGIN IGP, an empty AS_PATH, NEXT_HOP the endpoint, LOCAL_PREF
100, the extended communities and the optional transitive attributes given
for it (the sealed attribute of docs/bgp-gsa.md). It keeps every route it
receives (announcements and withdrawals) and checks each against what was
sent: the prefix must be another member's endpoint, and every attribute
given for that member must arrive with the same value. Its own route
coming back (a reflector that sends to all clients of an update-group at
once does that) is dropped as RFC 4456 section 8 says, by its ORIGINATOR_ID,
and counted.

Protocol on stdin/stdout, one JSON object a line:

  out {"established": N, "t": T}   every member has an established session
  in  go                           announce
  out {"status": true, ...}        progress, about once a second
  out {"done": true, "t": T, ...}  every member holds the route of every
                                   other member (exactly those), each as sent
  in  stop (or end of input)       close the sessions and exit

T is time.monotonic(). An error (a NOTIFICATION, a lost session, a route
that does not match) prints {"error": "..."} and exits with status 1.

The routes file (JSON): {"as": 65000, "members": [{"address": "198.18.0.1",
"ext_communities": "0002fde8000003e9", "attributes": [{"flags": 192,
"type": 255, "value": "HEX"}]}, ...]}.
"""
import argparse
import asyncio
import ipaddress
import json
import resource
import struct
import sys
import time

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
HOLD_TIME = 180
KEEPALIVE_EVERY = 30


def message(kind, body=b""):
    return MARKER + struct.pack(">HB", 19 + len(body), kind) + body


def attribute(flags, code, value):
    if len(value) > 255:
        return struct.pack(">BBH", flags | 0x10, code, len(value)) + value
    return struct.pack(">BBB", flags & ~0x10, code, len(value)) + value


def open_message(asn, router_id):
    caps = b"".join([
        bytes([1, 4]) + struct.pack(">HBB", 1, 0, 1),  # multiprotocol IPv4 unicast
        bytes([2, 0]),  # route refresh
        bytes([65, 4]) + struct.pack(">I", asn),  # four-octet AS
    ])
    params = bytes([2, len(caps)]) + caps
    body = struct.pack(">BHH4sB", 4, asn if asn < 65536 else 23456, HOLD_TIME, router_id, len(params)) + params
    return message(OPEN, body)


def update_message(member, asn):
    addr = ipaddress.IPv4Address(member["address"]).packed
    attrs = [
        attribute(0x40, 1, b"\x00"),  # ORIGIN IGP
        attribute(0x40, 2, b""),  # AS_PATH: empty (iBGP)
        attribute(0x40, 3, addr),  # NEXT_HOP
        attribute(0x40, 5, struct.pack(">I", 100)),  # LOCAL_PREF
    ]
    if member.get("ext_communities"):
        attrs.append(attribute(0xC0, 16, bytes.fromhex(member["ext_communities"])))
    for a in member.get("attributes", []):
        attrs.append(attribute(a["flags"], a["type"], bytes.fromhex(a["value"])))
    pa = b"".join(attrs)
    return message(UPDATE, struct.pack(">H", 0) + struct.pack(">H", len(pa)) + pa + bytes([32]) + addr)


def parse_attributes(data):
    """{type: value} of a path attribute list."""
    out = {}
    pos = 0
    while pos < len(data):
        flags, code = data[pos], data[pos + 1]
        if flags & 0x10:
            (n,) = struct.unpack_from(">H", data, pos + 2)
            pos += 4
        else:
            n = data[pos + 2]
            pos += 3
        out[code] = data[pos:pos + n]
        pos += n
    if pos != len(data):
        raise ValueError("attribute list overruns")
    return out


def parse_prefixes(data):
    out = []
    pos = 0
    while pos < len(data):
        plen = data[pos]
        n = (plen + 7) // 8
        out.append((plen, data[pos + 1:pos + 1 + n]))
        pos += 1 + n
    if pos != len(data):
        raise ValueError("prefix list overruns")
    return out


class Sim:
    def __init__(self, routes):
        self.asn = routes["as"]
        self.members = routes["members"]
        # endpoint (4 octets) -> {type: expected value}
        self.expected = {}
        for m in self.members:
            want = {a["type"]: bytes.fromhex(a["value"]) for a in m.get("attributes", [])}
            if m.get("ext_communities"):
                want[16] = bytes.fromhex(m["ext_communities"])
            self.expected[ipaddress.IPv4Address(m["address"]).packed] = want
        self.peers = []
        self.established = 0
        self.complete = 0  # members holding every route they should
        self.received_updates = 0
        self.looped_back = 0  # own routes received back, with the member's ORIGINATOR_ID
        self.failed = None
        self.all_established = asyncio.Event()
        self.all_complete = asyncio.Event()

    def fail(self, why):
        if self.failed is None:
            self.failed = why
            print(json.dumps({"error": why}), flush=True)
            self.all_established.set()
            self.all_complete.set()


class Peer(asyncio.Protocol):
    def __init__(self, sim, index):
        self.sim = sim
        self.index = index
        self.member = sim.members[index]
        self.addr = ipaddress.IPv4Address(self.member["address"]).packed
        self.want = len(sim.members) - 1
        self.rib = {}  # prefix (4 octets) -> True when it matched
        self.good = 0
        self.buf = bytearray()
        self.state = "connect"
        self.got_open = False
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(open_message(self.sim.asn, self.addr))
        self.state = "open-sent"

    def connection_lost(self, exc):
        if self.state != "closing":
            self.sim.fail(f"member {self.member['address']}: session lost ({exc})")

    def data_received(self, data):
        buf = self.buf
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= 19:
            (length,) = struct.unpack_from(">H", buf, pos + 16)
            if length < 19 or length > 65535:
                return self.sim.fail(f"member {self.member['address']}: bad message length {length}")
            if end - pos < length:
                break
            kind = buf[pos + 18]
            body = bytes(buf[pos + 19:pos + length])
            pos += length
            try:
                self.handle(kind, body)
            except (ValueError, IndexError, struct.error) as e:
                return self.sim.fail(f"member {self.member['address']}: {e}")
        del buf[:pos]

    def handle(self, kind, body):
        if kind == OPEN:
            self.got_open = True
            self.transport.write(message(KEEPALIVE))
        elif kind == KEEPALIVE:
            if self.state == "open-sent" and self.got_open:
                self.state = "established"
                self.sim.established += 1
                if self.sim.established == len(self.sim.members):
                    self.sim.all_established.set()
        elif kind == NOTIFICATION:
            self.sim.fail(f"member {self.member['address']}: NOTIFICATION {body[:2].hex()} {body[2:].hex()}")
        elif kind == UPDATE:
            self.update(body)

    def update(self, body):
        self.sim.received_updates += 1
        (wlen,) = struct.unpack_from(">H", body, 0)
        withdrawn = parse_prefixes(body[2:2 + wlen])
        (alen,) = struct.unpack_from(">H", body, 2 + wlen)
        attrs_raw = body[4 + wlen:4 + wlen + alen]
        nlri = parse_prefixes(body[4 + wlen + alen:])
        before = self.good == self.want and len(self.rib) == self.want
        for plen, p in withdrawn:
            if self.rib.pop(p, None):
                self.good -= 1
        if nlri:
            attrs = parse_attributes(attrs_raw)
            for plen, p in nlri:
                if plen == 32 and p == self.addr and attrs.get(9) == self.addr:
                    # its own route reflected back: dropped for its ORIGINATOR_ID (RFC 4456 8)
                    self.sim.looped_back += 1
                    continue
                want = self.sim.expected.get(p) if plen == 32 and p != self.addr else None
                ok = want is not None and all(attrs.get(t) == v for t, v in want.items())
                if not ok:
                    # not a route this member should get, or changed on the way
                    why = "not another member's endpoint" if want is None else "attributes differ from those sent"
                    return self.sim.fail(f"member {self.member['address']}: route "
                                         f"{ipaddress.IPv4Address(p.ljust(4, bytes(1)))}/{plen}: {why}")
                if not self.rib.get(p):
                    self.good += 1
                self.rib[p] = True
        after = self.good == self.want and len(self.rib) == self.want
        if after != before:
            self.sim.complete += 1 if after else -1
            if self.sim.complete == len(self.sim.members):
                self.sim.all_complete.set()

    def announce(self):
        self.transport.write(update_message(self.member, self.sim.asn))

    def close(self):
        self.state = "closing"
        if self.transport:
            self.transport.close()


async def keepalives(sim):
    while True:
        await asyncio.sleep(KEEPALIVE_EVERY)
        for p in sim.peers:
            if p.state == "established":
                p.transport.write(message(KEEPALIVE))


async def status(sim, t0):
    while True:
        await asyncio.sleep(1)
        held = sum(len(p.rib) for p in sim.peers)
        print(json.dumps({"status": True, "established": sim.established, "complete": sim.complete,
                          "routes_held": held, "updates": sim.received_updates,
                          "s": round(time.monotonic() - t0, 1)}), flush=True)


async def read_line(reader):
    line = await reader.readline()
    return line.decode().strip() if line else "stop"


async def main_async(args):
    routes = json.loads(open(args.routes).read())
    sim = Sim(routes)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    t0 = time.monotonic()
    ticker = asyncio.create_task(status(sim, t0))
    ka = asyncio.create_task(keepalives(sim))
    for i, m in enumerate(sim.members):
        p = Peer(sim, i)
        sim.peers.append(p)
    # connect in batches: a thousand SYNs at once overflow the listen queue
    for i in range(0, len(sim.peers), 64):
        batch = sim.peers[i:i + 64]
        res = await asyncio.gather(*(loop.create_connection(lambda p=p: p, args.server, 179,
                                                            local_addr=(p.member["address"], 0))
                                     for p in batch), return_exceptions=True)
        for p, r in zip(batch, res):
            if isinstance(r, Exception):
                sim.fail(f"member {p.member['address']}: connect: {r}")
        if sim.failed:
            return 1
    await sim.all_established.wait()
    if sim.failed:
        return 1
    print(json.dumps({"established": sim.established, "t": time.monotonic()}), flush=True)
    cmd = await read_line(reader)
    if cmd == "go":
        t_go = time.monotonic()
        for p in sim.peers:
            p.announce()
        await sim.all_complete.wait()
        if sim.failed:
            return 1
        t = time.monotonic()
        print(json.dumps({"done": True, "t": t, "s": round(t - t_go, 3), "updates": sim.received_updates,
                          "looped_back": sim.looped_back, "routes_held": sum(len(p.rib) for p in sim.peers)}), flush=True)
        cmd = await read_line(reader)
    ticker.cancel()
    ka.cancel()
    for p in sim.peers:
        p.close()
    return 1 if sim.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="the route reflector's address")
    ap.add_argument("--routes", required=True, help="the routes file (JSON, see above)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
