# SPDX-License-Identifier: GPL-2.0-or-later
"""groupsec lab: real FRR and strongSwan routers in network namespaces.

Each router is a network namespace with its own mount namespace, in which
the suites' run directories are private to the router, running zebra, bgpd
with the GSA module and charon with the groupsec plugins on kernel-libipsec
(userspace ESP: the lab kernel has no ESP). A lab made with
dataplane="xfrm" has QEMU guests on Debian's own kernel instead (guest.py),
whose charon installs the SAs in XFRM through kernel-netlink. Routers hang
off a bridge, in a namespace of its own, that plays the provider backbone.
Nothing is done in the host's own namespaces.

A Lab is a context manager; leaving it, normally or through an exception or
SIGINT/SIGTERM, stops every daemon and removes every namespace. `cleanup()`
removes what a killed lab left behind.
"""

import atexit
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
PREFIX = "gs"  # every namespace of every lab starts with this


class LabError(Exception):
    pass


def suites():
    """The installed suites: FRR_PREFIX, STRONGSWAN_PREFIX (from build/suites.env)."""
    env_file = Path(os.environ.get("GROUPSEC_SUITES_ENV", TOP / "build" / "suites.env"))
    if not env_file.exists():
        raise LabError(f"{env_file} not found: run `make` first")
    vals = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            vals[k] = v
    for k in ("FRR_PREFIX", "STRONGSWAN_PREFIX"):
        if not Path(vals.get(k, "")).is_dir():
            raise LabError(f"{k} in {env_file} is not a directory: run `make` first")
    return vals


def run(cmd, check=True, timeout=30, **kw):
    """Run a command on the host; returns CompletedProcess with text output."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise LabError(f"{' '.join(map(str, cmd))} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def wait_until(what, fn, timeout=60, interval=0.5):
    """Poll fn() until it returns a true value; return it, or raise naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except (LabError, subprocess.SubprocessError, ValueError, KeyError) as e:
            last = e
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def lab_namespaces():
    p = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in p.stdout.splitlines() if line.startswith(PREFIX)]


def cleanup(names=None):
    """Stop every process in the lab's namespaces (all labs' if names is None) and delete them."""
    names = lab_namespaces() if names is None else [n for n in names if n in lab_namespaces()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = []
        for ns in names:
            pids += [int(p) for p in run(["ip", "netns", "pids", ns], check=False).stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            time.sleep(0.1)
        if not pids:
            break
    for ns in names:
        run(["ip", "netns", "del", ns], check=False)


def _zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class Router:
    """One router: a netns, a private mount namespace and its daemons."""

    dataplane = "libipsec"

    def __init__(self, lab, name, index, backbone_addr, lan):
        self.lab = lab
        self.name = name
        self.index = index
        self.ns = f"{lab.name}-{name}"
        self.addr = backbone_addr  # on eth0, in the backbone
        self.lan = lan  # the LAN prefix, "10.1.0.1/24" (or "2001:db8:1001::1/64") on lo
        self.dir = lab.dir / name
        self.holder = None
        self.procs = {}

    @property
    def lan_addr(self):
        return self.lan.split("/")[0]

    @property
    def lan_prefix(self):
        """The LAN as a prefix: "10.1.0.0/24", "2001:db8:1001::/64"."""
        return str(ipaddress.ip_interface(self.lan).network)

    @property
    def ipv6(self):
        """Whether the router's backbone address is IPv6."""
        return ipaddress.ip_address(self.addr).version == 6

    @property
    def backbone_plen(self):
        return 64 if self.ipv6 else 24

    # -- running things inside the router

    def cmd(self, argv, env=None):
        """argv prefixed so that it runs in this router's net and mount namespaces."""
        pre = ["nsenter", f"--target={self.holder.pid}", "--net", "--mount"]
        if env:
            pre += ["env"] + [f"{k}={v}" for k, v in env.items()]
        return pre + [str(a) for a in argv]

    def run(self, argv, check=True, timeout=30, env=None):
        return run(self.cmd(argv, env), check=check, timeout=timeout)

    def popen(self, argv, env=None, merge=False):
        """A process in the router whose text output the caller reads
        (stdout; stderr too, or merged into stdout)."""
        return subprocess.Popen(self.cmd(argv, env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if merge else subprocess.PIPE, text=True)

    def vtysh(self, command, daemon=None, check=True):
        argv = [self.lab.frr / "bin" / "vtysh"]
        if daemon:
            argv += ["-d", daemon]
        p = self.run(argv + ["-c", command], check=check)
        return p.stdout

    def vtysh_json(self, command, daemon=None):
        return json.loads(self.vtysh(command, daemon))

    def swanctl(self, *args, check=True):
        p = self.run([self.lab.ss / "sbin" / "swanctl", *args], check=check,
                     env={"STRONGSWAN_CONF": self.dir / "strongswan.conf",
                          "SWANCTL_DIR": self.dir / "swanctl"})
        return p.stdout

    def spawn(self, name, argv, env=None):
        log = open(self.dir / f"{name}.out", "w")
        p = subprocess.Popen(self.cmd(argv, env), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = p
        return p

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise LabError(f"{self.name}: {name} exited with {p.returncode}; see {self.dir}/{name}.out and {name}.log")

    # -- life cycle

    def create(self):
        lab = self.lab
        (self.dir / "run" / "frr").mkdir(parents=True, exist_ok=True)
        (self.dir / "run" / "strongswan").mkdir(parents=True, exist_ok=True)
        (self.dir / "swanctl").mkdir(parents=True, exist_ok=True)
        run(["ip", "netns", "add", self.ns])
        lab.namespaces.append(self.ns)
        # veth: eth0 in the router, the other end on the backbone bridge
        peer = f"v{self.index}"
        run(["ip", "-n", lab.bb, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", self.ns])
        run(["ip", "-n", lab.bb, "link", "set", peer, "master", "br0", "up"])
        ip = ["ip", "-n", self.ns]
        run(ip + ["link", "set", "lo", "up"])
        # IPv6 addresses without duplicate address detection: usable at once
        nodad = lambda a: ["nodad"] if ipaddress.ip_interface(a).version == 6 else []
        run(ip + ["addr", "add", f"{self.addr}/{self.backbone_plen}", "dev", "eth0"] + nodad(self.addr))
        run(ip + ["link", "set", "eth0", "up"])
        run(ip + ["addr", "add", self.lan, "dev", "lo"] + nodad(self.lan))
        # the mount namespace: the suites' run directories become this
        # router's own; the holder keeps the namespace alive
        script = (
            f"mount --bind {self.dir}/run/frr {lab.frr}/var/run/frr && "
            f"mount --bind {self.dir}/run/strongswan {lab.ss}/var/run && "
            "exec sleep infinity"
        )
        self.holder = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(f"{self.name}: mount namespace", self._mounted, timeout=10, interval=0.05)

    def _mounted(self):
        if self.holder.poll() is not None:
            raise LabError(f"{self.name}: could not set up the mount namespace")
        mounts = Path(f"/proc/{self.holder.pid}/mountinfo").read_text()
        return str(self.lab.ss / "var" / "run") in mounts and "sleep" in Path(f"/proc/{self.holder.pid}/cmdline").read_text()

    def write_config(self, name, text):
        (self.dir / name).write_text(text)

    def start_frr(self):
        frr = self.lab.frr
        for daemon in ("zebra", "bgpd"):
            argv = [frr / "lib" / "frr" / daemon, "-f", self.dir / f"{daemon}.conf",
                    "--log", f"file:{self.dir}/{daemon}.log", "--log-level", "debugging"]
            if daemon == "bgpd":
                argv += ["-M", "gsa"]
            self.spawn(daemon, argv)
            wait_until(f"{self.name}: {daemon} answers vtysh", lambda: self._answers(daemon), timeout=30)

    def _answers(self, daemon):
        self.check_alive()
        return self.run([self.lab.frr / "bin" / "vtysh", "-d", daemon, "-c", "show version"], check=False).returncode == 0

    def start_charon(self):
        self.spawn("charon", [self.lab.ss / "libexec" / "ipsec" / "charon"],
                   env={"STRONGSWAN_CONF": self.dir / "strongswan.conf"})
        wait_until(f"{self.name}: charon answers on vici", self._charon_ready, timeout=30)

    def _charon_ready(self):
        self.check_alive()
        p = self.run([self.lab.ss / "sbin" / "swanctl", "--stats"], check=False,
                     env={"STRONGSWAN_CONF": self.dir / "strongswan.conf"})
        return p.returncode == 0

    def stop(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.terminate()
        for name, p in self.procs.items():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.holder and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()


class GuestRouter(Router):
    """One router as a QEMU guest on Debian's kernel (guest.py): the same
    daemons and folder, commands through the guest's agent, ESP in XFRM."""

    dataplane = "xfrm"

    def __init__(self, *args):
        super().__init__(*args)
        import guest
        self.guest = guest.Guest(self)

    def cmd(self, argv, env=None):
        raise LabError(f"{self.name} is a guest: use run(), popen() or spawn()")

    def _exec(self, argv, env=None, **kw):
        try:
            return self.guest.conn.exec(argv, env=env, **kw)
        except (OSError, AttributeError) as e:
            raise LabError(f"{self.name}: the guest's command channel: {e}")

    def run(self, argv, check=True, timeout=30, env=None):
        p = self._exec(argv, env)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            raise
        out, err = p.communicate()
        cp = subprocess.CompletedProcess([str(a) for a in argv], p.returncode, out, err)
        if check and p.returncode != 0:
            raise LabError(f"{self.name}: {' '.join(cp.args)} failed ({p.returncode}): {err.strip()}")
        return cp

    def popen(self, argv, env=None, merge=False):
        return self._exec(argv, env, merge=merge)

    def spawn(self, name, argv, env=None):
        p = self._exec(argv, env, out=self.dir / f"{name}.out")
        self.procs[name] = p
        return p

    def create(self):
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        (self.dir / "swanctl").mkdir(parents=True, exist_ok=True)
        self.guest.prepare()

    def login(self):
        """How to get a shell in the guest (docs/lab.md)."""
        return f"/usr/bin/python3 {TOP}/tests/lab/guest.py shell {self.dir}/login.sock"

    def stop(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.terminate()
        for name, p in self.procs.items():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.guest.stop()


class Lab:
    """A set of routers on one backbone bridge.

    dataplane: "libipsec" (namespace routers, ESP in charon) or "xfrm"
    (QEMU guests on Debian's kernel, ESP in XFRM), for every router unless
    add_router() names one."""

    _live = []

    def __init__(self, name=None, workdir=None, dataplane="libipsec"):
        if dataplane not in ("libipsec", "xfrm"):
            raise LabError(f"dataplane {dataplane!r}: libipsec or xfrm")
        self.dataplane = dataplane
        s = suites()
        self.frr = Path(s["FRR_PREFIX"])
        self.ss = Path(s["STRONGSWAN_PREFIX"])
        self.name = name or f"{PREFIX}{os.getpid() % 100000}"
        if not self.name.startswith(PREFIX) or not re.fullmatch(r"[a-z0-9]{2,8}", self.name):
            raise LabError(f"lab name {self.name!r}: 2-8 lowercase letters or digits starting with {PREFIX!r}")
        self.dir = Path(workdir or TOP / "build" / "lab" / self.name)
        self.bb = f"{self.name}-bb"
        self.routers = {}
        self.namespaces = []

    def add_router(self, name, backbone_addr, lan, dataplane=None):
        kind = GuestRouter if (dataplane or self.dataplane) == "xfrm" else Router
        r = kind(self, name, len(self.routers) + 1, backbone_addr, lan)
        self.routers[name] = r
        return r

    def __getitem__(self, name):
        return self.routers[name]

    def start(self):
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network and mount namespaces)")
        Lab._live.append(self)
        cleanup([self.bb] + [r.ns for r in self.routers.values()])  # a killed run's leftovers
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        for d in (self.frr / "var" / "run" / "frr", self.ss / "var" / "run"):
            d.mkdir(parents=True, exist_ok=True)
        run(["ip", "netns", "add", self.bb])
        self.namespaces.append(self.bb)
        run(["ip", "-n", self.bb, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.bb, "link", "set", "br0", "up"])
        for r in self.routers.values():
            r.create()
        guests = [r.guest for r in self.routers.values() if isinstance(r, GuestRouter)]
        if guests:
            import guest
            try:
                self.accel = guest.boot_all(guests)
            except guest.GuestError as e:
                raise LabError(str(e))
        return self

    def stop(self):
        for r in self.routers.values():
            r.stop()
        cleanup(self.namespaces)
        self.namespaces = []
        if self in Lab._live:
            Lab._live.remove(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _stop_all():
    for lab in list(Lab._live):
        lab.stop()


def _on_signal(signum, frame):
    _stop_all()
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# ---------------------------------------------------------------- configs

def frr_configs(router, neighbors, rr_clients=False, networks=()):
    """zebra.conf and bgpd.conf for an iBGP speaker in AS 65000."""
    router.write_config("zebra.conf", f"hostname {router.name}\n")
    lines = [
        f"hostname {router.name}",
        "router bgp 65000",
        f" bgp router-id {router.addr}",
        " no bgp ebgp-requires-policy",
        " no bgp default ipv4-unicast",
    ]
    for n in neighbors:
        lines += [f" neighbor {n} remote-as 65000", f" neighbor {n} timers connect 2"]
    lines.append(" address-family ipv4 unicast")
    for n in neighbors:
        lines.append(f"  neighbor {n} activate")
        if rr_clients:
            lines.append(f"  neighbor {n} route-reflector-client")
    for net in networks:
        lines.append(f"  network {net}")
    lines += [" exit-address-family", ""]
    router.write_config("bgpd.conf", "\n".join(lines))


CHARON_PLUGINS = ("random nonce openssl pem pkcs1 pkcs8 x509 pubkey kdf "
                  "socket-default kernel-libipsec kernel-netlink updown vici gdoi election")
# a guest's charon: the SAs and policies go to XFRM through kernel-netlink
CHARON_PLUGINS_XFRM = CHARON_PLUGINS.replace("kernel-libipsec ", "")


def strongswan_config(router, swanctl="", plugins=""):
    """strongswan.conf (charon with kernel-libipsec, or kernel-netlink in a
    guest, and the groupsec plugins) and swanctl.conf.

    plugins: extra text for charon's plugins section."""
    load = CHARON_PLUGINS_XFRM if router.dataplane == "xfrm" else CHARON_PLUGINS
    router.write_config("strongswan.conf", f"""\
charon {{
	load = {load}
	install_routes = yes
	plugins {{
{plugins}
	}}
	filelog {{
		lab {{
			path = {router.dir}/charon.log
			time_format = %b %e %T
			time_add_ms = yes
			flush_line = yes
			default = 1
			ike = 2
			cfg = 2
			knl = 2
		}}
	}}
}}
swanctl {{
	load = pem pkcs1 pkcs8 x509 pubkey openssl random
}}
""")
    router.write_config("swanctl.conf", swanctl)


def psk_tunnel(local, remote, psk):
    """swanctl.conf for an IKEv2 tunnel between two routers' LANs, ESP in UDP."""
    return f"""\
connections {{
	lan-lan {{
		version = 2
		local_addrs = {local.addr}
		remote_addrs = {remote.addr}
		encap = yes
		proposals = aes128gcm16-prfsha256-x25519
		local {{
			auth = psk
			id = {local.addr}
		}}
		remote {{
			auth = psk
			id = {remote.addr}
		}}
		children {{
			lan-lan {{
				local_ts = {local.lan}
				remote_ts = {remote.lan}
				esp_proposals = aes128gcm16-x25519
				start_action = trap
			}}
		}}
	}}
}}
secrets {{
	ike-lab {{
		id-1 = {local.addr}
		id-2 = {remote.addr}
		secret = "{psk}"
	}}
}}
"""


def child_sa_counters(router, child="lan-lan"):
    """(packets_in, packets_out, bytes_in, bytes_out) of an installed CHILD_SA, or None."""
    out = router.swanctl("--list-sas")
    m = re.search(
        rf"{re.escape(child)}: #\d+, reqid \d+, INSTALLED.*?"
        r"^\s+in\s+[0-9a-f]+\S*,\s+(\d+) bytes,\s+(\d+) packets.*?"
        r"^\s+out\s+[0-9a-f]+\S*,\s+(\d+) bytes,\s+(\d+) packets",
        out, re.S | re.M)
    if not m:
        return None
    bin_, pin, bout, pout = map(int, m.groups())
    return pin, pout, bin_, bout


def smoke_lab(name=None):
    """The smoke topology: an S/R route reflector and two members with LANs."""
    lab = Lab(name)
    lab.add_router("sr", "192.0.2.1", "10.0.0.1/24")
    lab.add_router("m1", "192.0.2.11", "10.1.0.1/24")
    lab.add_router("m2", "192.0.2.12", "10.2.0.1/24")
    return lab


def configure_smoke(lab, psk="groupsec-lab-psk"):
    sr, m1, m2 = lab["sr"], lab["m1"], lab["m2"]
    frr_configs(sr, [m1.addr, m2.addr], rr_clients=True)
    frr_configs(m1, [sr.addr], networks=["10.1.0.0/24"])
    frr_configs(m2, [sr.addr], networks=["10.2.0.0/24"])
    strongswan_config(sr)
    strongswan_config(m1, psk_tunnel(m1, m2, psk))
    strongswan_config(m2, psk_tunnel(m2, m1, psk))
    for r in lab.routers.values():
        r.start_frr()
        r.start_charon()
        r.swanctl("--load-all", "--file", r.dir / "swanctl.conf")


# --- G-IKEv2 groups (gdoi plugin)

GDOI_GROUP_ID = 1234
GDOI_PSK = "groupsec-lab-group-psk"


# The group's traffic selectors (both TEK directions) by address family:
# every LAN of a gdoi lab, not the backbone
GDOI_TEK_TS = {4: "10.0.0.0/8", 6: "2001:db8:1000::/36"}


def gdoi_lab(name=None, members=3, dataplane="libipsec", ipv6=False):
    """A key server and members with LANs 10.N.0.0/24 on one backbone
    (192.0.2.0/24); with ipv6, backbone 2001:db8::/64 and LANs
    2001:db8:100N::/64 (the key server's N is 0) instead."""
    if ipv6 and dataplane != "libipsec":
        raise LabError("an IPv6 gdoi lab runs on namespace routers (dataplane libipsec)")
    lab = Lab(name, dataplane=dataplane)
    if ipv6:
        lab.add_router("ks", "2001:db8::1", "2001:db8:1000::1/64")
    else:
        lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    for i in range(1, members + 1):
        if ipv6:
            lab.add_router(f"gm{i}", f"2001:db8::{10 + i}", f"2001:db8:{1000 + i}::1/64")
        else:
            lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24")
    return lab


def make_pki(lab, names=("ks",)):
    """A lab CA and a certificate (ECDSA P-256) for each of names, with openssl."""
    pki = lab.dir / "pki"
    pki.mkdir(exist_ok=True)

    def ossl(*args):
        run(["openssl", *map(str, args)])
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pki / "ca.key")
    ossl("req", "-x509", "-new", "-key", pki / "ca.key", "-days", "30", "-subj", "/O=groupsec lab/CN=lab CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-out", pki / "ca.crt")
    for name in names:
        # an ECDSA P-256 key (PKCS#8, as swanctl's private/ folder wants)
        # and a certificate with the identity as subjectAltName
        ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pki / f"{name}.sec1")
        ossl("pkcs8", "-topk8", "-nocrypt", "-in", pki / f"{name}.sec1", "-out", pki / f"{name}.key")
        ossl("req", "-new", "-key", pki / f"{name}.key", "-subj", f"/O=groupsec lab/CN={name}.example.net",
             "-out", pki / f"{name}.csr")
        (pki / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}.example.net\n"
                                         "keyUsage=critical,digitalSignature\n")
        ossl("x509", "-req", "-in", pki / f"{name}.csr", "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
             "-CAcreateserial", "-days", "30", "-extfile", pki / f"{name}.ext", "-out", pki / f"{name}.crt")
    return pki


def install_creds(router, pki, ca=True, cert=None, key=None, certs=()):
    """Copy credentials into the router's swanctl folders (beside its
    swanctl.conf, where swanctl --file looks for them)."""
    base = router.dir
    for d in ("x509", "x509ca", "private"):
        (base / d).mkdir(parents=True, exist_ok=True)
    if ca:
        shutil.copy(pki / "ca.crt", base / "x509ca" / "ca.crt")
    for c in ([cert] if cert else []) + list(certs):
        shutil.copy(pki / c, base / "x509" / c)
    if key:
        shutil.copy(pki / key, base / "private" / key)
    return base


def gdoi_server_conf(ks, members, deactivation_delay="3s", extra="", extra_members=(), esp_proposal="aes256gcm16",
                     sa_mode="gateway"):
    """extra_members: names of more members (NAME.example.net) that are no router.
    sa_mode: the group SAs' mode; the lab's scenarios send between LANs
    through gateway tunnels (the RFC's default, address preservation, is
    test_gdoi_tunnelmode.py's)."""
    ids = ", ".join(f"{n}.example.net" for n in [m.name for m in members] + list(extra_members))
    tek = GDOI_TEK_TS[6 if ks.ipv6 else 4]
    return f"""\
groups {{
	blue {{
		role = server
		group_id = {GDOI_GROUP_ID}
		local_id = ks.example.net
		listen = {ks.addr}
		auth = psk
		members = {ids}
		tek-1 {{
			local_ts = {tek}
			remote_ts = {tek}
			esp_proposal = {esp_proposal}
		}}
		tek_lifetime = 1h
		deactivation_delay = {deactivation_delay}
		sa_mode = {sa_mode}
{extra}
	}}
}}
"""


def gdoi_member_conf(gm, ks, peers, extra="", host_prefixes=False):
    """host_prefixes: each peer's endpoint is its LAN address alone (SAs that
    keep addresses protect single addresses), not its LAN prefix."""
    eps = "".join(f"""\
			{p.name} {{
				gateway = {p.addr}
				prefixes = {p.lan_addr if host_prefixes else p.lan_prefix}
			}}
""" for p in peers)
    return f"""\
groups {{
	blue {{
		role = member
		group_id = {GDOI_GROUP_ID}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {ks.addr}
		server_id = ks.example.net
		auth = psk
{extra}
		endpoints {{
{eps}		}}
	}}
}}
"""


def gdoi_psk(member):
    """The PSK of one member and the key server: each member has its own,
    so that none can register as another (docs/gdoi.md)."""
    return f"{GDOI_PSK}-{member}"


def gdoi_secrets(router, peers, shared=()):
    """swanctl.conf secrets: the PSK between the router and each peer identity;
    peers in shared (a load generator's members) all use GDOI_PSK."""
    blocks = "".join(f"""\
	ike-{p} {{
		id-1 = {router.name}.example.net
		id-2 = {p}.example.net
		secret = "{GDOI_PSK if p in shared else gdoi_psk(p if router.name == 'ks' else router.name)}"
	}}
""" for p in peers)
    return f"secrets {{\n{blocks}}}\n"


def member_keys_file(router):
    """Where a member with save_member_keys writes its key material log."""
    return router.dir / "member-keys.json"


def gdoi_charon(router, conf_text, swanctl_text, save_keys=False, save_member_keys=False, extra="", plugin_extra=""):
    """extra: more settings of charon's plugins section; plugin_extra: more
    lines of charon.plugins.gdoi (e.g. "port_nat_t = 14500")."""
    router.write_config("gdoi.conf", conf_text)
    keys = f"\n\t\t\tsave_keys = {router.dir}" if save_keys else ""
    if save_member_keys:
        keys += f"\n\t\t\tsave_member_keys = {member_keys_file(router)}"
    for line in plugin_extra.splitlines():
        keys += f"\n\t\t\t{line.strip()}"
    # the key server's state (evicted members) is the router's own
    strongswan_config(router, swanctl_text, plugins=f"""\
		gdoi {{
			config = {router.dir}/gdoi.conf
			state_dir = {router.dir}/state
			udp_encap = yes{keys}
		}}
{extra}""")


def configure_gdoi(lab, server_extra="", member_extra="", member_auth="psk", member_keys=False, extra_members=(),
                   esp_proposal="aes256gcm16", sa_mode="gateway", charon_extra="", plugin_extra=None):
    """Credentials and groups for the gdoi lab; starts every charon and loads the credentials.

    member_auth: "psk", or "pubkey" for members that authenticate with
    certificates (GSA_AUTH carries none: the key server holds them).
    member_keys: members log the keys they install (member_keys_file()).
    extra_members: names of more members (NAME.example.net, PSK
    authentication, all with GDOI_PSK) that are no router, e.g.
    bench/gdoi_loadgen's.
    sa_mode: the key server's; with a mode that keeps addresses, each
    member's endpoints are its peers' LAN addresses and its own LAN address
    is its host (hosts).
    charon_extra: more settings of charon's plugins section, every router.
    plugin_extra: {router name: more lines of its charon.plugins.gdoi}."""
    plugin_extra = plugin_extra or {}
    ks = lab["ks"]
    gms = [r for n, r in lab.routers.items() if n.startswith("gm")]
    pubkey = member_auth == "pubkey"
    pki = make_pki(lab, ["ks"] + ([g.name for g in gms] if pubkey else []))
    install_creds(ks, pki, cert="ks.crt", key="ks.key", certs=[f"{g.name}.crt" for g in gms] if pubkey else ())
    # the key server writes its IKE and Rekey SA keys for tshark
    auth = f"\t\tauth = {member_auth}"
    if pubkey and extra_members:
        raise LabError("extra_members authenticate with the group PSK: member_auth must be psk")
    hosts = sa_mode != "gateway"
    gdoi_charon(ks, gdoi_server_conf(ks, gms, extra=server_extra, esp_proposal=esp_proposal,
                                     extra_members=extra_members, sa_mode=sa_mode).replace("\t\tauth = psk", auth),
                "" if pubkey else gdoi_secrets(ks, [g.name for g in gms] + list(extra_members), shared=set(extra_members)), save_keys=True,
                extra=charon_extra, plugin_extra=plugin_extra.get("ks", ""))
    for gm in gms:
        # the CA, and the key server's certificate: GSA_REKEY carries no
        # certificate, members verify its signature with this one
        install_creds(gm, pki, cert="ks.crt", **({"certs": [f"{gm.name}.crt"], "key": f"{gm.name}.key"}
                                                  if pubkey else {}))
        gdoi_charon(gm, gdoi_member_conf(gm, ks, [p for p in gms if p is not gm], host_prefixes=hosts,
                                         extra=member_extra + (f"\n\t\thosts = {gm.lan_addr}" if hosts else ""))
                    .replace("\t\tauth = psk", auth),
                    "" if pubkey else gdoi_secrets(gm, ["ks"]), save_member_keys=member_keys, extra=charon_extra,
                    plugin_extra=plugin_extra.get(gm.name, ""))
    for r in [ks] + gms:
        start_gdoi_charon(r)


def start_gdoi_charon(router):
    """Start charon and load the credentials. The key server's group starts
    once its signing key is there: the settings are loaded again
    (swanctl --reload-settings), as an operator does after loading
    credentials. A member registers now rather than at the next retry of
    the attempt made without them."""
    router.start_charon()
    router.swanctl("--load-creds", "--noprompt", "--file", router.dir / "swanctl.conf")
    if router.name.startswith("gm"):
        p = gdoictl(router, "reregister", "blue", check=False, as_json=False)
        # a slow router (a guest) may have begun its retry already
        if p.returncode != 0 and "is registering" not in p.stderr:
            raise LabError(f"{router.name}: gdoictl reregister blue failed ({p.returncode}): {p.stderr.strip()}")
    else:
        router.swanctl("--reload-settings")
        wait_until(f"{router.name}: group blue serving",
                   lambda: any(g.get("name") == "blue" and g.get("state") == "serving"
                               for g in gdoictl(router, "groups").get("groups", [])), timeout=20)


def gdoictl(router, *args, check=True, as_json=True):
    """gdoictl against the router's control socket; parsed JSON by default."""
    argv = [router.lab.ss / "sbin" / "gdoictl", "--socket", router.dir / "run" / "strongswan" / "gdoi.vici"]
    argv += (["--json"] if as_json else []) + [str(a) for a in args]
    p = router.run(argv, check=check)
    if as_json and p.returncode == 0:
        return json.loads(p.stdout)
    return p


def gdoi_current_spi(router, group):
    """The SPI of the group SA the router sends on, as gdoictl shows it (8 hex digits), or None."""
    out = gdoictl(router, "sas", group, check=False)
    if not isinstance(out, dict):
        return None
    current = [sa["spi"] for sa in out.get("sas", []) if sa.get("current", True)]
    return current[-1] if current else None


def ping_flowing(src, dst_addr, count, replies=10, deadline_s=40):
    """A ping at 10/s from src's LAN address to dst_addr, returned once
    `replies` replies have come back: (the process, its output so far).
    ping prints each reply as it comes; deadline_s bounds its run."""
    p = src.popen(["ping", "-n", "-c", str(count), "-i", "0.1", "-w", str(deadline_s),
                   "-I", src.lan_addr, dst_addr], merge=True)
    out, seen = "", 0
    while seen < replies:
        line = p.stdout.readline()
        if not line:
            raise LabError(f"the ping ended before {replies} replies: {out}")
        out += line
        seen += " bytes from " in line
    return p, out


def lan_ping(src, dst, count=3, interval="0.2", check=True):
    """ping from src's LAN address to dst's (IPv4 or IPv6), each reply
    awaited at most 1 s; asserts success unless check is false."""
    p = src.run(["ping", "-n", "-c", str(count), "-i", interval, "-W", "1", "-I", src.lan_addr, dst.lan_addr],
                check=False, timeout=count * 2 + 10)
    if check:
        assert p.returncode == 0, f"{src.name} -> {dst.name}: {p.stdout}{p.stderr}"
    return p


def nft(ns, *args):
    """nft in a namespace: a router's (router.ns) or the backbone's (lab.bb)."""
    return run(["ip", "netns", "exec", ns, "nft"] + [str(a) for a in args])


class Partition:
    """The backbone bridge drops every IPv4 packet between two sets of
    routers (an nftables table in lab.bb, with a counter) from cut() until
    heal(); each side still reaches itself."""

    TABLE = "partition"

    def __init__(self, lab, side_a, side_b):
        self.lab = lab
        self.a = [r.addr for r in side_a]
        self.b = [r.addr for r in side_b]

    def cut(self):
        bb, t = self.lab.bb, self.TABLE
        nft(bb, "add", "table", "bridge", t)
        nft(bb, "add", "chain", "bridge", t, "cut", "{ type filter hook forward priority 0; policy accept; }")
        for src, dst in ((self.a, self.b), (self.b, self.a)):
            nft(bb, "add", "rule", "bridge", t, "cut", "ip", "saddr", "{ " + ", ".join(src) + " }",
                "ip", "daddr", "{ " + ", ".join(dst) + " }", "counter", "drop")

    def dropped(self):
        """Packets dropped between the sides so far."""
        out = json.loads(nft(self.lab.bb, "-j", "list", "table", "bridge", self.TABLE).stdout)
        return sum(e["counter"]["packets"] for item in out.get("nftables", [])
                   for e in item.get("rule", {}).get("expr", []) if "counter" in e)

    def heal(self):
        nft(self.lab.bb, "delete", "table", "bridge", self.TABLE)


_TCP_SINK = """\
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)
"""

_TCP_SOURCE = """\
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[5]),
                             source_address=(sys.argv[3], 0))
s.sendall(b"x" * int(sys.argv[4])); s.close()
"""


def lan_bulk_transfer(src, dst, size, port=5001, timeout=60):
    """Send size bytes over TCP from src's LAN address to dst's; return
    (bytes dst received, seconds the transfer took)."""
    server = dst.popen(["/usr/bin/python3", "-c", _TCP_SINK, dst.lan_addr, str(port)])

    def listening():
        if server.poll() is not None:
            raise AssertionError(f"{dst.name}: the TCP sink on port {port} exited with {server.returncode}")
        return dst.run(["ss", "-Hltn", f"sport = :{port}"]).stdout.strip() != ""
    wait_until(f"{dst.name} listens on port {port}", listening, timeout=20, interval=0.1)
    t = time.monotonic()
    src.run(["/usr/bin/python3", "-c", _TCP_SOURCE, dst.lan_addr, str(port), src.lan_addr, str(size), str(timeout)],
            timeout=timeout * 2)
    out, _ = server.communicate(timeout=timeout)
    return int(out.strip()), time.monotonic() - t


def gdoi_evict_without_loss(ks, group, evicted, src, dst, count=80, timeout=10):
    """Evict the member router `evicted` while src pings dst's LAN at 10/s:
    src and dst apply the rekey, move to one new SPI, and not one of the
    `count` pings is lost; the key server no longer lists the member.
    Returns (old SPI, new SPI)."""
    old = gdoi_current_spi(src, group)
    rekeys = {gm.name: gdoi_counters(gm, group)["rekeys"] for gm in (src, dst)}
    members = len(gdoictl(ks, "members", group)["members"])
    # evict once the ping flows through the group SA
    pinger, out = ping_flowing(src, dst.lan_addr, count)
    gdoictl(ks, "evict", group, f"{evicted.name}.example.net")
    for gm in (src, dst):
        wait_until(f"{gm.name} applies the rekey", lambda: gdoi_counters(gm, group)["rekeys"] > rekeys[gm.name],
                   timeout=timeout)
    out += pinger.stdout.read()
    assert pinger.wait(timeout=60) == 0 and f"{count} received" in out, out
    new = gdoi_current_spi(src, group)
    assert new != old and gdoi_current_spi(dst, group) == new, (old, new)
    listed = gdoictl(ks, "members", group)["members"]
    assert len(listed) == members - 1 and f"{evicted.name}.example.net" not in str(listed), listed
    return old, new


def gdoi_old_sa_removed(router, group, spi):
    """True once the member no longer lists the SA spi: it kept it (current
    no) for the deactivation delay the group's policy set, then removed it."""
    sas = gdoictl(router, "sas", group)["sas"]
    listed = [sa for sa in sas if sa["spi"] == spi]
    assert all(not sa.get("current", True) for sa in listed), (router.name, sas)
    return not listed


def gdoi_locked_out(group, evicted, others, old, timeout=30):
    """Once every member of `others` reports the old SA gone (removed after
    the deactivation delay the key server's policy gave it), `evicted`
    reaches none of them and none reaches it."""
    for gm in others:
        wait_until(f"{gm.name} removes the old SA", lambda: gdoi_old_sa_removed(gm, group, old), timeout=timeout)
    for gm in others:
        assert lan_ping(evicted, gm, count=3, check=False).returncode != 0, f"{evicted.name} reaches {gm.name}"
        assert lan_ping(gm, evicted, count=3, check=False).returncode != 0, f"{gm.name} reaches {evicted.name}"


def gdoi_members(router, group):
    """The identities of the members the key server router lists in group, sorted."""
    out = gdoictl(router, "members", group, check=False)
    return sorted(m["id"] for m in out.get("members", [])) if isinstance(out, dict) else []


def gdoi_has_current_sa(router, group):
    out = gdoictl(router, "sas", group, check=False)
    return isinstance(out, dict) and any(sa.get("current") for sa in out.get("sas", []))


def gdoi_wait_registered(ks, gms, group, timeout=60):
    """Until the key server lists every member of gms (identity NAME.example.net)
    and each of them holds the group's SA."""
    ids = sorted(f"{gm.name}.example.net" for gm in gms)
    wait_until(f"the key server lists {', '.join(ids)}", lambda: gdoi_members(ks, group) == ids, timeout=timeout)
    for gm in gms:
        wait_until(f"{gm.name} has the group SA", lambda: gdoi_has_current_sa(gm, group), timeout=30)


def gdoi_counters(router, group):
    """The group's counters at the router, as gdoictl shows them."""
    out = gdoictl(router, "counters", group)
    return out.get("counters", out)


_SNIFF_UDP = r"""
import os, socket, sys, time
seconds, mode, ready, family, port, stop = sys.argv[1:7]
v6, port = family == "6", int(port)
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD if v6 else 0x0800))
s.bind(("eth0", 0))
s.settimeout(0.2)
os.close(os.open(ready, os.O_CREAT | os.O_WRONLY, 0o644))  # capturing now
end = time.time() + float(seconds)
while time.time() < end:
    stopping = os.path.exists(stop)  # then read what is queued, and end
    if stopping:
        s.setblocking(False)
    try:
        pkt = s.recv(65535)
    except (socket.timeout, BlockingIOError):
        if stopping:
            break
        continue
    if v6:  # the fixed header alone: UDP right after it
        proto, udp, dst = pkt[6], pkt[40:], socket.inet_ntop(socket.AF_INET6, pkt[24:40])
    else:
        proto, udp, dst = pkt[9], pkt[(pkt[0] & 15) * 4:], socket.inet_ntoa(pkt[16:20])
    if proto != 17 or int.from_bytes(udp[2:4], "big") != port:
        continue
    body = udp[8:]
    if mode in ("rekeys", "first") and (len(body) < 28 or body[18] != 41):
        continue  # not a GSA_REKEY
    if mode == "esp" and (len(body) < 8 or body[:4] == bytes(4)):
        continue  # a non-ESP marker: IKE on port 4500
    print(dst, (body[:8] if mode == "esp" else body).hex(), flush=True)
    if mode == "first":
        break
"""


def _sniff_udp(router, mode, port, seconds):
    """Capture UDP datagrams to port reaching router's eth0 (IPv4, or IPv6
    on an IPv6 backbone) with _SNIFF_UDP, for at most `seconds`; returns
    once the capture runs. Returns a function that ends the capture (at
    once; after the first datagram in mode "first"; at the end of the
    `seconds` with window=True) and gives [(destination address, bytes)]."""
    tag = time.monotonic_ns()
    ready, stop = router.dir / f"sniff-{tag}.ready", router.dir / f"sniff-{tag}.stop"
    p = router.popen(["/usr/bin/python3", "-c", _SNIFF_UDP, str(seconds), mode, ready,
                      "6" if router.ipv6 else "4", str(port), stop])
    try:
        wait_until(f"{router.name}: capture running", lambda: ready.exists() or p.poll() is not None,
                   timeout=10, interval=0.05)
    except LabError:
        p.kill()
        p.communicate()
        raise
    if not ready.exists():
        raise LabError(f"{router.name}: the capture exited with {p.returncode} before it began")

    def result(window=False):
        if mode != "first" and not window:
            stop.touch()
        out, _ = p.communicate(timeout=seconds + 15)
        return [(dst, bytes.fromhex(data)) for dst, data in (line.split() for line in out.splitlines() if line)]
    return result


def sniff_rekeys(router, seconds, first=False):
    """Start capturing the GSA_REKEY datagrams that reach router's eth0,
    for `seconds` (or until the first one); returns once the capture runs.

    Returns a function that waits for the capture and gives
    [(destination address, IKE message bytes)]."""
    capture = _sniff_udp(router, "first" if first else "rekeys", 848, seconds)
    return capture if first else (lambda: capture(window=True))


def sniff_esp(router, seconds=60):
    """Start capturing the ESP in UDP datagrams (port 4500) that reach
    router's eth0; returns once the capture runs. Returns a function that
    ends the capture and gives {SPI (8 hex digits): datagrams}."""
    capture = _sniff_udp(router, "esp", 4500, seconds)

    def result():
        spis = {}
        for _, head in capture():
            spi = head[:4].hex()
            spis[spi] = spis.get(spi, 0) + 1
        return spis
    return result


# ---------------------------------------------------------------- NETCONF

NETCONF_PORT = 830
YANG_MODULES = ("groupsec-gdoi", "groupsec-election", "groupsec-bgp", "groupsec-shortcuts", "groupsec-trust")
# where `make install` puts the instrumentation library of groupsec-gdoi
# (libgroupsec-gdoi.so), netconfd's --runpath
NETCONF_SIL_DIR = TOP / "build" / "install" / "lib" / "yuma"


class Netconf:
    """The NETCONF agent of a router: netconfd with groupsec's modules
    behind a private sshd whose `netconf` subsystem is yuma123's
    netconf-subsystem. Everything lives in ROUTER_DIR/netconf: keys made
    for this run (host key, and a client key whose public half is the only
    authorized one), sshd_config, netconfd's socket, startup file and log."""

    def __init__(self, router):
        self.router = router
        self.dir = router.dir / "netconf"
        self.host_key = self.dir / "ssh_host_ed25519_key"
        # ECDSA in PEM: paramiko and yangcli's libssh2 1.10 both read it, and
        # libssh2 signs with RSA keys only by SHA-1, which OpenSSH 9 refuses
        self.client_key = self.dir / "client_ecdsa_key"
        self.socket = self.dir / "ncxserver.sock"
        self.startup = self.dir / "startup.xml"
        self.port = NETCONF_PORT

    @property
    def host_key_b64(self):
        """The host key's base64 blob, as ncclient's hostkey_b64 takes it."""
        return Path(f"{self.host_key}.pub").read_text().split()[1]

    def start(self, modules=YANG_MODULES):
        r = self.router
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for key, kind in ((self.host_key, ["-t", "ed25519"]), (self.client_key, ["-t", "ecdsa", "-b", "256", "-m", "PEM"])):
            if not key.exists():
                run(["ssh-keygen", "-q", "-N", "", "-C", f"groupsec-lab-{r.name}", "-f", key] + kind)
        (self.dir / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        if not self.startup.exists():
            self.startup.write_text('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>\n')
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\n"
            f"ListenAddress {r.addr}\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {self.dir}/sshd.pid\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
            "PermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "LogLevel VERBOSE\n"
            # the keys live in the lab's folder, which may be under /tmp (a
            # clone there): sshd's StrictModes refuses any path through a
            # world-writable folder, sticky or not
            "StrictModes no\n"
            f'Subsystem netconf "/usr/sbin/netconf-subsystem --ncxserver-sockname={self.port}@{self.socket}"\n')
        self.start_netconfd(modules)
        # sshd wants its privilege separation directory /run/sshd: a tmpfs
        # /run in a mount namespace of sshd's own, inside the router's
        r.spawn("sshd", ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                         "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && "
                         f"exec /usr/sbin/sshd -D -e -f {self.dir}/sshd_config"])
        wait_until(f"{r.name}: sshd listens on {self.port}", self._sshd_listens, timeout=20, interval=0.1)
        return self

    def start_netconfd(self, modules=YANG_MODULES):
        r = self.router
        if self.socket.exists():
            self.socket.unlink()
        # --module=groupsec-gdoi loads libgroupsec-gdoi.so from the runpath:
        # the datastore's groups are bgpd's (docs/netconf.md)
        argv = ["/usr/sbin/netconfd", f"--modpath={TOP / 'yang'}:/usr/share/yuma/modules",
                f"--runpath={NETCONF_SIL_DIR}"]
        argv += [f"--module={m}" for m in modules]
        # edits go to the candidate datastore; a <commit> is what the
        # instrumentation library validates with bgpd and charon
        argv += ["--target=candidate", f"--startup={self.startup}", "--superuser=root",
                 f"--ncxserver-sockname={self.socket}", f"--log={self.dir}/netconfd.log", "--log-level=info"]
        r.spawn("netconfd", argv)
        wait_until(f"{r.name}: netconfd serves {self.socket}", self._netconfd_ready, timeout=30, interval=0.1)

    def stop_netconfd(self):
        p = self.router.procs.pop("netconfd")
        p.terminate()
        p.wait(timeout=10)

    def _netconfd_ready(self):
        self.router.check_alive()
        return self.socket.is_socket()

    def _sshd_listens(self):
        self.router.check_alive()
        out = self.router.run(["ss", "-Htln", "sport", "=", f":{self.port}"]).stdout
        return f":{self.port}" in out

    def client_argv(self, *args):
        """argv of tests/lab/netconf_client.py against this agent."""
        return ["/usr/bin/python3", TOP / "tests" / "lab" / "netconf_client.py",
                "--host", self.router.addr, "--port", str(self.port), "--key", self.client_key,
                "--hostkey", self.host_key_b64, *args]
