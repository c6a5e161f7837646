# SPDX-License-Identifier: GPL-2.0-or-later
"""The command agent of a lab guest (see guest.py and docs/lab.md).

Started in the QEMU guest by guest-init.sh. It reads requests from the virtio-serial port named
groupsec.agent, one JSON object a line, and answers on the same port:

  {"id": N, "op": "exec", "argv": [...], "env": {...}, "stdin": TEXT|null,
   "out": null | PATH,      start a process; its standard output and error
                            come back as {"id": N, "fd": 1|2, "data": TEXT}
                            (or go to the file PATH), then {"id": N, "exit": RC}
   "merge": BOOL}           standard error sent as standard output
  {"id": N, "op": "signal", "signal": SIG}   signal process N's session
  {"id": N, "op": "ping"}   answered {"id": N, "exit": 0}: the agent runs

Several processes run at a time; their output is interleaved by id.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time


class Agent:
    def __init__(self, port):
        self.fd = os.open(port, os.O_RDWR)
        self.lock = threading.Lock()
        self.procs = {}

    def send(self, msg):
        data = (json.dumps(msg) + "\n").encode()
        with self.lock:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]

    def pump(self, rid, fd, stream):
        while True:
            chunk = os.read(stream.fileno(), 32768)
            if not chunk:
                break
            self.send({"id": rid, "fd": fd, "data": chunk.decode(errors="replace")})
        stream.close()

    def execute(self, req):
        rid = req["id"]
        env = dict(os.environ)
        env.update(req.get("env") or {})
        out = req.get("out")
        try:
            if out:
                log = open(out, "w")
                p = subprocess.Popen(req["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=req.get("cwd") or "/", start_new_session=True)
                log.close()
            else:
                p = subprocess.Popen(req["argv"], env=env, cwd=req.get("cwd") or "/", start_new_session=True,
                                     stdin=subprocess.PIPE if req.get("stdin") is not None else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT if req.get("merge") else subprocess.PIPE)
        except OSError as e:
            self.send({"id": rid, "fd": 2, "data": f"{req['argv'][0]}: {e}\n"})
            self.send({"id": rid, "exit": 127})
            return
        self.procs[rid] = p

        def waiter():
            pumps = []
            if not out:
                if req.get("stdin") is not None:
                    try:
                        p.stdin.write(req["stdin"].encode())
                        p.stdin.close()
                    except OSError:
                        pass
                pumps = [threading.Thread(target=self.pump, args=(rid, n, s), daemon=True)
                         for n, s in ((1, p.stdout), (2, p.stderr)) if s is not None]
                for t in pumps:
                    t.start()
            rc = p.wait()
            for t in pumps:
                t.join()
            self.procs.pop(rid, None)
            self.send({"id": rid, "exit": rc})
        threading.Thread(target=waiter, daemon=True).start()

    def signal(self, req):
        p = self.procs.get(req["id"])
        if p is None:
            return
        try:
            os.killpg(p.pid, req["signal"])
        except (ProcessLookupError, PermissionError):
            try:
                p.send_signal(req["signal"])
            except ProcessLookupError:
                pass

    def serve(self):
        buf = b""
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:  # no one on the host side yet
                time.sleep(0.05)
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    req = json.loads(line)
                except ValueError:
                    continue
                op = req.get("op")
                if op == "exec":
                    self.execute(req)
                elif op == "signal":
                    self.signal(req)
                elif op == "ping":
                    self.send({"id": req["id"], "exit": 0})


def find_port(name):
    base = "/sys/class/virtio-ports"
    for _ in range(100):
        for port in os.listdir(base) if os.path.isdir(base) else []:
            try:
                with open(f"{base}/{port}/name") as f:
                    if f.read().strip() == name:
                        return f"/dev/{port}"
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"guest agent: no virtio-serial port {name}")


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    print("guest agent: serving", flush=True)
    Agent(find_port(sys.argv[1] if len(sys.argv) > 1 else "groupsec.agent")).serve()
