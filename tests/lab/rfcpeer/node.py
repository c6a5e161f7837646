# SPDX-License-Identifier: GPL-2.0-or-later
"""What both roles share: a select() loop over UDP sockets, timers, the
control folder (a test drops cmd-*.json files in it) and the status file
(JSON, replaced atomically after every event)."""
import heapq
import itertools
import json
import os
import select
import socket
import sys
import time
from pathlib import Path


class Node:
    def __init__(self, cfg):
        self.cfg = cfg
        self.dir = Path(cfg["dir"])
        self.ctl = self.dir / "ctl"
        self.ctl.mkdir(parents=True, exist_ok=True)
        for f in self.ctl.glob("cmd-*.json"):
            f.unlink()
        self.status_file = self.dir / "status.json"
        self.socks = {}  # fileno -> (socket, handler)
        self.timers = []
        self._seq = itertools.count()
        self.status = {"role": cfg["role"], "events": [], "errors": []}
        self.port = cfg.get("port", 848)  # RFC 9838 2.1: 848 (or 500/4500)
        self.esp_port = cfg.get("esp_port", 4500)

    def log(self, what, **kw):
        e = {"t": round(time.time(), 3), "what": what, **kw}
        self.status["events"].append(e)
        print(json.dumps(e), flush=True)

    def error(self, what, **kw):
        self.status["errors"].append({"what": what, **kw})
        self.log("error: " + what, **kw)

    def write_status(self):
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status, indent=1, default=str))
        os.replace(tmp, self.status_file)

    def udp(self, addr, port, handler, multicast=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0" if multicast else addr, port))
        if multicast:
            mreq = socket.inet_aton(multicast) + socket.inet_aton(addr)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        self.socks[s.fileno()] = (s, handler)
        return s

    def after(self, seconds, fn):
        heapq.heappush(self.timers, (time.monotonic() + seconds, next(self._seq), fn))

    def command(self, cmd):
        raise NotImplementedError

    def run(self):
        self.start()
        self.status["ready"] = True
        self.write_status()
        while True:
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                self._guard(fn)
            timeout = 0.1
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - now))
            r, _, _ = select.select(list(self.socks), [], [], timeout)
            for fd in r:
                s, handler = self.socks[fd]
                data, peer = s.recvfrom(65535)
                self._guard(lambda: handler(data, peer))
            for f in sorted(self.ctl.glob("cmd-*.json")):
                try:
                    cmd = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue  # being written
                f.unlink()
                self.log("command", cmd=cmd)
                self._guard(lambda: self.command(cmd))
            self.write_status()

    def _guard(self, fn):
        try:
            fn()
        except Exception as e:  # one bad datagram or command stops nothing
            import traceback
            traceback.print_exc(file=sys.stdout)
            self.error("exception", detail=f"{type(e).__name__}: {e}")
