# SPDX-License-Identifier: GPL-2.0-or-later
"""The routing keys of sealed routes, live (docs/bgp-gsa.md "Keys and epochs").

A key server (ks) and two members. Over each router's control socket,
`routing-keys` gives the key server and both members the same epoch (the
current TEK's SPI) and the same key. Evicting gm2 moves ks and gm1 to a new
epoch, announced to a subscriber of `routing-key` on gm1; gm2 never gets
the new epoch's key.
"""
import socket
import struct

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, registered

GROUP_NUMBER = str(labmod.GDOI_GROUP_ID)


@pytest.fixture(scope="module")
def rlab():
    lab = labmod.gdoi_lab("gsrk", members=2)
    with lab:
        labmod.configure_gdoi(lab)
        yield lab


def socket_path(router):
    return str(router.dir / "run" / "strongswan" / "gdoi.vici")


# --- the few VICI packets the test needs (docs/control-socket.md) ---

def packet(op, name=None, message=b""):
    body = bytes([op]) + (bytes([len(name)]) + name.encode() if name is not None else b"") + message
    return struct.pack(">I", len(body)) + body


def read_packet(s):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise AssertionError("the control socket closed")
            data += chunk
        return data
    (length,) = struct.unpack(">I", exactly(4))
    return exactly(length)


def decode_message(data):
    """A VICI message as nested dicts of str (lists as lists)."""
    root, stack, pos, lst = {}, [], 0, None
    cur = root
    while pos < len(data):
        t = data[pos]
        pos += 1
        if t in (1, 3, 4):
            n = data[pos]
            name = data[pos + 1:pos + 1 + n].decode()
            pos += 1 + n
        if t == 1:
            stack.append(cur)
            cur[name] = {}
            cur = cur[name]
        elif t == 2:
            cur = stack.pop()
        elif t == 3:
            (n,) = struct.unpack(">H", data[pos:pos + 2])
            cur[name] = data[pos + 2:pos + 2 + n].decode()
            pos += 2 + n
        elif t == 4:
            lst = cur[name] = []
        elif t == 5:
            (n,) = struct.unpack(">H", data[pos:pos + 2])
            lst.append(data[pos + 2:pos + 2 + n].decode())
            pos += 2 + n
        elif t == 6:
            lst = None
        else:
            raise AssertionError(f"element type {t}")
    return root


def routing_keys(router):
    """{group: {epoch, key, ...}} as `routing-keys` answers on the router."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(socket_path(router))
        s.sendall(packet(0, "routing-keys"))
        reply = read_packet(s)
    assert reply[0] == 1, f"{router.name}: CMD_RESPONSE expected, got operation {reply[0]}"
    m = decode_message(reply[1:])
    assert m.get("success") == "yes", m
    return m["groups"]


def key_of(router):
    g = routing_keys(router).get(GROUP)
    return (g["epoch"], g["key"]) if g and "epoch" in g else None


class Subscriber:
    """A client subscribed to routing-key; events() reads what came."""

    def __init__(self, router):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(socket_path(router))
        self.s.settimeout(15)
        self.s.sendall(packet(3, "routing-key"))
        assert read_packet(self.s)[0] == 5, "EVENT_CONFIRM"

    def next_event(self):
        p = read_packet(self.s)
        assert p[0] == 7, f"EVENT expected, got operation {p[0]}"
        n = p[1]
        assert p[2:2 + n] == b"routing-key"
        return decode_message(p[2 + n:])

    def close(self):
        self.s.close()


def test_key_server_and_members_share_the_key_and_an_evicted_member_loses_it(rlab):
    ks, gm1, gm2 = rlab["ks"], rlab["gm1"], rlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)

    def agreed():
        keys = [key_of(r) for r in (ks, gm1, gm2)]
        return keys[0] if keys[0] and all(k == keys[0] for k in keys) else None
    epoch, key = wait_until("ks, gm1 and gm2 hold the same routing key", agreed, timeout=30)
    assert len(key) == 64 and len(epoch) == 8
    assert epoch == labmod.gdoi_current_spi(gm1, GROUP), "the epoch is the current TEK's SPI"
    info = routing_keys(ks)[GROUP]
    assert info["role"] == "server" and info["group-number"] == GROUP_NUMBER, info
    assert routing_keys(gm1)[GROUP]["role"] == "member"

    sub = Subscriber(gm1)
    try:
        first = sub.next_event()  # a new subscriber hears the current epoch
        assert first == {"group": GROUP, "role": "member", "epoch": epoch}, first
        labmod.gdoictl(ks, "evict", GROUP, "gm2.example.net")
        changed = sub.next_event()
        assert changed["group"] == GROUP and changed["previous-epoch"] == epoch, changed
        new_epoch = changed["epoch"]
        assert new_epoch != epoch
    finally:
        sub.close()

    new = wait_until("ks and gm1 at the new epoch",
                     lambda: key_of(ks) if key_of(ks) == key_of(gm1) and key_of(ks)[0] == new_epoch else None,
                     timeout=30)
    assert new[1] != key
    left = key_of(gm2)
    assert left is None or (left[0] != new_epoch and left[1] != new[1]), left
