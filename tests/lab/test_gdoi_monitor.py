# SPDX-License-Identifier: GPL-2.0-or-later
"""Events on the key server's control socket, live.

A key server (ks) and one member (gm1). `gdoictl monitor --json` on the key
server shows, in order, the member registering, being evicted and
registering again once readmitted. Two other clients of the same socket
never read what they asked for: one only subscribed to every event, the
other also floods requests until the key server drops it for its queue.
Neither delays the events, and the key server keeps answering.
"""
import json
import queue
import socket
import struct
import subprocess
import threading
import time

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, registered

EVENTS = ["member-registered", "member-left", "member-evicted", "rekey",
          "sa-installed", "sa-removed", "endpoint-changed"]
# how long an event may take from the command that causes it
PROMPT_S = 5


@pytest.fixture(scope="module")
def mlab():
    lab = labmod.gdoi_lab("gsmon", members=1)
    with lab:
        labmod.configure_gdoi(lab)
        yield lab


def socket_path(router):
    return str(router.dir / "run" / "strongswan" / "gdoi.vici")


def vici_packet(op, name):
    """A VICI packet with its length header: EVENT_REGISTER (3) or a
    CMD_REQUEST (0) with an empty message."""
    body = bytes([op, len(name)]) + name.encode()
    return struct.pack(">I", len(body)) + body


def stuck_client(path, flood=False):
    """A client that subscribes to every event and never reads; with flood,
    it sends list-groups requests until the server stops taking them or
    drops it. Returns the socket and whether the server dropped it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"".join(vici_packet(3, e) for e in EVENTS))
    dropped = False
    if flood:
        request = vici_packet(0, "list-groups") * 64
        s.settimeout(2)
        try:
            for _ in range(2000):
                s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        except socket.timeout:
            pass  # the server reads no more of it
    return s, dropped


class Monitor:
    """gdoictl monitor --json, its lines read as they come."""

    def __init__(self, router):
        argv = [str(router.lab.ss / "sbin" / "gdoictl"), "--socket", socket_path(router),
                "--json", "monitor", GROUP]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.ready = threading.Event()
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line))

    def _err(self):
        for line in self.proc.stderr:
            if "subscribed to" in line:
                self.ready.set()

    def next_event(self, name, timeout=PROMPT_S):
        """The next event called name (others are skipped), with the time it came."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event within {timeout}s")
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            event = json.loads(line)
            if event["event"] == name:
                return t, event

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_monitor_shows_registration_eviction_and_registration_in_order(mlab):
    ks, gm1 = mlab["ks"], mlab["gm1"]
    wait_until("gm1 registered", lambda: registered(gm1), timeout=30)

    quiet, _ = stuck_client(socket_path(ks))
    flooder, dropped = stuck_client(socket_path(ks), flood=True)
    monitor = Monitor(ks)
    try:
        assert monitor.ready.wait(10), "monitor subscribed"
        seen = []

        start = time.monotonic()
        labmod.gdoictl(gm1, "reregister", GROUP)
        t, e = monitor.next_event("member-registered")
        seen.append(e)
        assert e["member"] == "gm1.example.net" and e["group"] == GROUP, e
        assert e["members"] == 1 and e["address"] == "192.0.2.11", e
        assert t - start < PROMPT_S

        start = time.monotonic()
        labmod.gdoictl(ks, "evict", GROUP, "gm1.example.net")
        t_rekey, rekey = monitor.next_event("rekey")
        assert rekey["role"] == "server" and rekey["newKek"] is True, rekey
        t, e = monitor.next_event("member-evicted")
        seen.append(e)
        assert e == {"event": "member-evicted", "group": GROUP, "member": "gm1.example.net", "members": 0}, e
        assert t_rekey <= t and t - start < PROMPT_S

        labmod.gdoictl(ks, "readmit", GROUP, "gm1.example.net")
        start = time.monotonic()
        labmod.gdoictl(gm1, "reregister", GROUP)
        t, e = monitor.next_event("member-registered", timeout=30)
        seen.append(e)
        assert e["member"] == "gm1.example.net" and e["again"] is False and e["members"] == 1, e
        wait_until("gm1 registered again", lambda: registered(gm1), timeout=30)

        assert [(e["event"], e["member"]) for e in seen] == [
            ("member-registered", "gm1.example.net"),
            ("member-evicted", "gm1.example.net"),
            ("member-registered", "gm1.example.net"),
        ]
        # the key server still answers commands, and the monitor still runs
        assert labmod.gdoictl(ks, "members", GROUP)["members"][0]["id"] == "gm1.example.net"
        assert monitor.proc.poll() is None

        # the flooding client was dropped for its queue (or, had the
        # server stopped reading it first, is dropped now); it reads the
        # end of its stream once it drains what was queued
        if not dropped:
            flooder.settimeout(10)
            while flooder.recv(1 << 16):
                pass
    finally:
        monitor.stop()
        quiet.close()
        flooder.close()
