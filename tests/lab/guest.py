# SPDX-License-Identifier: GPL-2.0-or-later
"""Lab routers as QEMU guests on Debian's own kernel (XFRM data plane).

A guest boots /boot/vmlinuz-6.1.* (linux-image-amd64) with a small
initramfs made here from Debian's busybox and the kernel's virtio and 9p
modules. The initramfs mounts the host's root file system read-only over
virtio-9p and switches to it; guest-init.sh then gives the guest its own
/run, /var and /tmp (tmpfs), mounts the lab folder read-write over a second
9p share (configurations in, logs out, at the same paths as on the host)
and starts guest_agent.py on a virtio-serial port, through which the lab
runs commands in the guest. eth0 is a virtio-net NIC on a tap device in the
lab's backbone namespace, a port of the same bridge as the namespace
routers' veths. QEMU runs in that namespace, so the lab's teardown, which
kills every process of its namespaces, ends it too.

Nothing binary is kept in the tree: the initramfs is built at test time
into build/lab/guest-image/ and rebuilt when the kernel or this code changes.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[1]
AGENT_PORT = "groupsec.agent"
LOGIN_PORT = "groupsec.login"  # a second agent, for a person (guest.py shell)
# modules the initramfs loads before it can mount the host's root
INITRD_MODULES = ("virtio_pci", "virtio_console", "virtio_net", "9pnet_virtio", "9p")
MEMORY_MB = 384


class GuestError(Exception):
    pass


def _natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def kernel():
    """(vmlinuz path, kernel release) of Debian's 6.1 kernel, with its modules."""
    found = []
    for k in Path("/boot").glob("vmlinuz-6.1.*"):
        release = k.name[len("vmlinuz-"):]
        if (Path("/lib/modules") / release / "modules.dep").exists():
            found.append((k, release))
    if not found:
        raise GuestError("no /boot/vmlinuz-6.1.* with its modules: install linux-image-amd64 "
                         "(tools/install-deps.sh)")
    return max(found, key=lambda kr: _natural(kr[1]))


def qemu_binary():
    q = shutil.which("qemu-system-x86_64")
    if not q:
        raise GuestError("qemu-system-x86_64 not found: install qemu-system-x86 (tools/install-deps.sh)")
    return q


_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "$m" 2>/dev/null; done </modules
mkdir -p /newroot
arg() { sed -n "s/.*groupsec\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /newroot; then
	echo "initramfs: cannot mount the host's root over 9p" >/dev/console
	echo o >/proc/sysrq-trigger
fi
init=$(arg init)
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot /bin/sh "$init"
"""


def _module_files(release):
    files = []
    for m in INITRD_MODULES:
        out = subprocess.run(["modprobe", "-S", release, "--show-depends", m], capture_output=True, text=True)
        if out.returncode != 0:
            raise GuestError(f"module {m} of {release}: {out.stderr.strip()}")
        for line in out.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "insmod" and parts[1] not in files:
                files.append(parts[1])
    return files


def _libs(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return [p for p in re.findall(r"(/\S+)", out) if Path(p).exists()]


def image(cache=None):
    """(kernel, initramfs): the initramfs built from Debian's busybox and the
    kernel's modules, reused while the kernel and this file are unchanged."""
    vmlinuz, release = kernel()
    busybox = shutil.which("busybox")
    if not busybox:
        raise GuestError("busybox not found: install busybox (tools/install-deps.sh)")
    key = hashlib.sha256((_INIT + release + str(vmlinuz.stat().st_mtime) + busybox
                          + " ".join(INITRD_MODULES)).encode()).hexdigest()[:12]
    cache = Path(cache or TOP / "build" / "lab" / "guest-image")
    initrd = cache / f"initrd-{release}-{key}.img"
    if initrd.exists():
        return vmlinuz, initrd
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / f"tree-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    for d in ("bin", "dev", "proc", "sys", "newroot"):
        (work / d).mkdir(parents=True)
    shutil.copy(busybox, work / "bin" / "busybox")
    for lib in _libs(busybox):
        dst = work / lib.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, dst)
    mods = _module_files(release)
    for m in mods:
        dst = work / m.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(m, dst)
    (work / "modules").write_text("".join(m + "\n" for m in mods))
    (work / "init").write_text(_INIT)
    (work / "init").chmod(0o755)
    tmp = initrd.with_suffix(f".tmp{os.getpid()}")
    files = subprocess.run(["find", "."], cwd=work, capture_output=True, text=True, check=True).stdout
    with open(tmp, "wb") as f:
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=work, input=files.encode(),
                              stdout=subprocess.PIPE, check=True)
        f.write(cpio.stdout)
    tmp.rename(initrd)
    shutil.rmtree(work, ignore_errors=True)
    return vmlinuz, initrd


# ------------------------------------------------------------ accelerator

_accel = None


def accelerators():
    """The accelerators to try, best first: GROUPSEC_GUEST_ACCEL=kvm|tcg
    forces one; otherwise KVM when /dev/kvm opens, then TCG."""
    forced = os.environ.get("GROUPSEC_GUEST_ACCEL")
    if forced:
        return [forced]
    if _accel:
        return [_accel]
    out = []
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        out.append("kvm")
    except OSError:
        pass
    return out + ["tcg"]


def accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "max"]
    return ["-accel", "tcg,thread=multi", "-cpu", "max"]


# ------------------------------------------------------------ the agent


class _Stream:
    """The text output of a guest process, readable as it arrives."""

    def __init__(self, cond):
        self.cond = cond
        self.buf = ""
        self.closed = False

    def _feed(self, data):
        self.buf += data

    def readline(self):
        with self.cond:
            while "\n" not in self.buf and not self.closed:
                self.cond.wait()
            i = self.buf.find("\n")
            n = len(self.buf) if i < 0 else i + 1
            line, self.buf = self.buf[:n], self.buf[n:]
            return line

    def read(self):
        with self.cond:
            while not self.closed:
                self.cond.wait()
            out, self.buf = self.buf, ""
            return out

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self):
        pass


class GuestProcess:
    """A process in a guest, with the part of subprocess.Popen's interface the lab uses."""

    def __init__(self, conn, rid, argv):
        self.conn = conn
        self.id = rid
        self.args = argv
        self.pid = None
        self.returncode = None
        self.cond = threading.Condition()
        self.stdout = _Stream(self.cond)
        self.stderr = _Stream(self.cond)

    def _message(self, msg):
        with self.cond:
            if "data" in msg:
                (self.stdout if msg.get("fd") == 1 else self.stderr)._feed(msg["data"])
            if "exit" in msg:
                self.returncode = msg["exit"]
                self.stdout.closed = self.stderr.closed = True
            self.cond.notify_all()

    def _lost(self):
        with self.cond:
            if self.returncode is None:
                self.returncode = -9
                self.stdout.closed = self.stderr.closed = True
            self.cond.notify_all()

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while self.returncode is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout)
                self.cond.wait(left)
        return self.returncode

    def communicate(self, timeout=None):
        self.wait(timeout)
        return self.stdout.read(), self.stderr.read()

    def send_signal(self, sig):
        if self.returncode is None:
            self.conn.send({"id": self.id, "op": "signal", "signal": int(sig)})

    def terminate(self):
        self.send_signal(15)

    def kill(self):
        self.send_signal(9)


class AgentConnection:
    """The host's end of a guest's virtio-serial command channel."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.lock = threading.Lock()
        self.next_id = 1
        self.procs = {}
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def send(self, msg):
        data = (json.dumps(msg) + "\n").encode()
        with self.lock:
            self.sock.sendall(data)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                p = self.procs.get(msg.get("id"))
                if p is not None:
                    p._message(msg)
                    if "exit" in msg:
                        self.procs.pop(msg["id"], None)
        self.closed = True
        for p in list(self.procs.values()):
            p._lost()

    def _new(self, argv):
        with self.lock:
            rid = self.next_id
            self.next_id += 1
        p = GuestProcess(self, rid, argv)
        self.procs[rid] = p
        return p

    def ping(self, timeout):
        p = self._new(["ping"])
        self.send({"id": p.id, "op": "ping"})
        try:
            return p.wait(timeout) == 0
        except subprocess.TimeoutExpired:
            self.procs.pop(p.id, None)
            return False

    def exec(self, argv, env=None, stdin=None, out=None, merge=False):
        if self.closed:
            raise GuestError("the guest's command channel is closed")
        argv = [str(a) for a in argv]
        p = self._new(argv)
        self.send({"id": p.id, "op": "exec", "argv": argv, "env": {k: str(v) for k, v in (env or {}).items()},
                   "stdin": stdin, "out": str(out) if out else None, "merge": merge})
        return p

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------ one guest


class Guest:
    """The QEMU side of one guest router: tap, qemu process, agent."""

    def __init__(self, router):
        self.router = router
        self.tap = f"t{router.index}"
        self.qemu = None
        self.conn = None
        self.accel = None
        self.boot_s = None

    def prepare(self):
        """Files the guest reads at boot, and its tap on the backbone bridge."""
        r, lab = self.router, self.router.lab
        (r.dir / "guest.env").write_text("".join(f"{k}='{v}'\n" for k, v in {
            "HOSTNAME": r.name, "ADDR": r.addr, "LAN": r.lan, "RDIR": r.dir,
            "FRR_PREFIX": lab.frr, "SS_PREFIX": lab.ss, "AGENT": HERE / "guest_agent.py"}.items()))
        bb = ["ip", "-n", lab.bb]
        _run(bb + ["tuntap", "add", "dev", self.tap, "mode", "tap"])
        _run(bb + ["link", "set", self.tap, "master", "br0", "up"])

    def argv(self, accel, vmlinuz, initrd):
        r, lab = self.router, self.router.lab
        mac = f"52:54:00:47:53:{r.index:02x}"
        append = (f"console=ttyS0 panic=-1 quiet groupsec.init={HERE / 'guest-init.sh'} "
                  f"groupsec.lab={lab.dir} groupsec.router={r.name}")
        return (["ip", "netns", "exec", lab.bb, qemu_binary(), "-name", f"{lab.name}-{r.name}",
                 "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                 "-machine", "q35", "-m", str(MEMORY_MB), "-smp", "1"] + accel_args(accel) +
                ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", append,
                 "-serial", f"file:{r.dir}/console.log",
                 "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
                 "-virtfs", f"local,path={lab.dir},mount_tag=lab,security_model=none,multidevs=remap",
                 "-netdev", f"tap,id=bb,ifname={self.tap},script=no,downscript=no",
                 "-device", f"virtio-net-pci,netdev=bb,mac={mac}",
                 "-chardev", f"socket,id=agent,path={r.dir}/agent.sock,server=on,wait=off",
                 "-chardev", f"socket,id=login,path={r.dir}/login.sock,server=on,wait=off",
                 "-device", "virtio-serial-pci", "-device", f"virtserialport,chardev=agent,name={AGENT_PORT}",
                 "-device", f"virtserialport,chardev=login,name={LOGIN_PORT}"])

    def start(self, accel, vmlinuz, initrd):
        """Start QEMU; boot() waits for the agent."""
        r = self.router
        self.accel = accel
        self.started = time.monotonic()
        sock = r.dir / "agent.sock"
        if sock.exists():
            sock.unlink()
        log = open(r.dir / "qemu.out", "w")
        self.qemu = subprocess.Popen(self.argv(accel, vmlinuz, initrd), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def wait_ready(self, timeout):
        """Wait for the agent to answer; False if QEMU exited or the time ran out."""
        r = self.router
        deadline = self.started + timeout
        sock = r.dir / "agent.sock"
        while time.monotonic() < deadline:
            if self.qemu.poll() is not None:
                return False
            if self.conn is None and sock.exists():
                try:
                    self.conn = AgentConnection(sock)
                except OSError:
                    self.conn = None
            if self.conn is not None:
                try:
                    ready = self.conn.ping(0.5)
                except OSError:
                    # QEMU closed the channel: it is exiting (the next
                    # poll() says so) or the agent is not up yet
                    self.conn.close()
                    self.conn = None
                    ready = False
                if ready:
                    self.boot_s = time.monotonic() - self.started
                    return True
            time.sleep(0.2)
        return False

    def failure(self):
        r = self.router
        tail = lambda f: (r.dir / f).read_text(errors="replace")[-1500:] if (r.dir / f).exists() else ""
        return (f"{r.name}: guest ({self.accel}) did not come up; qemu "
                f"{'exited with ' + str(self.qemu.returncode) if self.qemu.poll() is not None else 'still running'}"
                f"\n--- qemu.out\n{tail('qemu.out')}\n--- console.log\n{tail('console.log')}")

    def stop(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.qemu and self.qemu.poll() is None:
            self.qemu.terminate()
            try:
                self.qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.qemu.kill()
                self.qemu.wait()


def boot_all(guests, timeout=None):
    """Boot guests in parallel: KVM if it works here, else TCG (the first
    accelerator whose guests all come up is kept for the process)."""
    global _accel
    vmlinuz, initrd = image()
    tried = []
    for accel in accelerators():
        limit = timeout or (60 if accel == "kvm" else 180)
        for g in guests:
            g.start(accel, vmlinuz, initrd)
        ok = [g.wait_ready(limit) for g in guests]
        if all(ok):
            _accel = accel
            return accel
        tried.append("\n".join(g.failure() for g, good in zip(guests, ok) if not good))
        for g in guests:
            g.stop()
    raise GuestError("no guest came up:\n" + "\n".join(tried))


def _run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise GuestError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def _shell(sock, command):
    """Run command lines in a guest through its login agent, as a person would."""
    import sys
    conn = AgentConnection(sock)
    if not conn.ping(5):
        raise SystemExit(f"{sock}: no answer from the guest")

    def one(line):
        p = conn.exec(["/bin/sh", "-c", line], merge=True)
        for out in p.stdout:
            sys.stdout.write(out)
            sys.stdout.flush()
        return p.wait()
    if command:
        raise SystemExit(one(" ".join(command)))
    while True:
        try:
            line = input("guest# ")
        except EOFError:
            return
        if line.strip():
            rc = one(line)
            if rc:
                print(f"[exit {rc}]")


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="lab guests: build the initramfs, or run commands in a running guest")
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("image", help="build the initramfs and print the kernel and initramfs paths")
    sh = sub.add_parser("shell", help="command lines into a guest: its login.sock in the router's lab folder")
    sh.add_argument("sock")
    sh.add_argument("command", nargs="*", help="one command to run (else read lines from standard input)")
    a = ap.parse_args()
    if a.what == "image":
        print(*image())
    else:
        _shell(a.sock, a.command)
