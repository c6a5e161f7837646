#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The S/R's bgpd reflecting M members' sealed routes, with the GSA module
(`bgpd -M gsa`, GSA-REFLECT on every neighbor) against plain FRR route
reflection of the same routes to the same peers, in one run
(docs/bgp-gsa-benchmark.md).

Lab (tests/lab/lab.py): the S/R `sr` (192.0.2.1) runs charon with the gdoi
plugin as key server of one group (`bench`, ID 1234) and bgpd; `sim`
(192.0.2.2) holds M member addresses (198.18.0.1 and up, on its loopback,
routed through it) and runs

  - bench/gdoi_loadgen --hold --address-per-member: M G-IKEv2 members, each
    registered for real with the key server from its own address, staying
    registered for the whole run;
  - bench/bgp_members.py: M iBGP sessions to the S/R, one per member
    address; each member announces its endpoint /32 tagged with the group's
    route target and carrying the sealed attribute (code 255) with P
    prefixes, sealed with the group's routing key (`gdoictl routing-keys`
    on the S/R) as docs/bgp-gsa.md describes. The same bytes in every run.

Variants, each with a fresh bgpd on the same configuration otherwise
(every neighbor a passive route-reflector client):

  gsa         bgpd -M gsa, `route-map GSA-REFLECT out` on every neighbor
              and nothing else (docs/bgp-gsa.md, S/R configuration): the
              module splits the update-groups by the members' groups, here
              one group, so one update-group
  plain       bgpd without the module, plain reflection (one update-group)
  plain-solo  bgpd without the module, with `neighbor X solo`: one
              update-group per member
  gsa-solo    gsa with `neighbor X solo` on every neighbor, as the module
              was configured before it split update-groups itself (for
              reference; not run unless asked for)

Measured on the S/R's bgpd (pinned to one core, everything else to
another): CPU seconds (the run time of every bgpd thread, /proc/PID/task/TID/schedstat, in ns) from "every session
established and bgpd idle" to "every member holds exactly the route of
every other member, with the attributes as sent" (checked by
bgp_members.py) and on to "bgpd idle again" (trailing work such as the
module's opening of sealed routes), and peak RSS (VmHWM) at the end.
Ratios gsa / plain (and gsa / plain-solo, gsa-solo / plain) per repetition; median and
spread (min to max) over the repetitions.

Needs root and the installed suites; prints a table and writes every
figure to build/lab/<lab>/results.json.
"""
import argparse
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "lab"))
sys.path.insert(0, str(HERE))
import lab as labmod  # noqa: E402
from lab import wait_until  # noqa: E402
import gdoi_registration_bench as regbench  # noqa: E402

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

ASN = 65000
GROUP = regbench.GROUP  # "bench", group_id 1234
GROUP_ID = 1234
SEALED_CODE = 255
SR_ADDR, SIM_ADDR = "192.0.2.1", "192.0.2.2"
MEMBER_NET = 0xC6120001  # 198.18.0.1: member i is 198.18.0.1 + i
VARIANTS = ("gsa", "plain", "plain-solo", "gsa-solo")
DEFAULT_VARIANTS = ("gsa", "plain", "plain-solo")


def member_addr(i):
    a = MEMBER_NET + i
    return f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"


def private_prefixes(i, p):
    """Member i's P private prefixes: host routes in 100.64.0.0/10."""
    base = 0x64400000 + i * p
    return [(base + j).to_bytes(4, "big") for j in range(p)]


def seal(key, epoch, group_id, originator, prefixes):
    """The sealed blob (docs/bgp-gsa.md "The blob", version 1): gateway =
    originator, IPv4 host prefixes."""
    aad = bytes([1, 1]) + group_id.to_bytes(4, "big") + epoch.to_bytes(4, "big") + bytes([1]) + originator
    plain = bytes([1]) + originator + len(prefixes).to_bytes(2, "big")
    plain += b"".join(bytes([1, 32]) + p for p in prefixes)
    nonce = os.urandom(12)
    return aad + nonce + AESGCM(key).encrypt(nonce, plain, aad)


def routes_file(path, m, p, key, epoch):
    rt = bytes([0x00, 0x02]) + ASN.to_bytes(2, "big") + GROUP_ID.to_bytes(4, "big")
    members = []
    for i in range(m):
        addr = member_addr(i)
        blob = seal(key, epoch, GROUP_ID, bytes(map(int, addr.split("."))), private_prefixes(i, p))
        # the attribute's value: a list of one entry (version 2)
        blob = bytes([2, 1]) + len(blob).to_bytes(2, "big") + blob
        members.append({"address": addr, "ext_communities": rt.hex(),
                        "attributes": [{"flags": 0xC0, "type": SEALED_CODE, "value": blob.hex()}]})
    path.write_text(json.dumps({"as": ASN, "members": members}))
    return len(blob)


def sr_bgp_conf(sr, m, variant):
    lines = [f"hostname {sr.name}", "router bgp 65000", f" bgp router-id {sr.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast", " no bgp network import-check"]
    peers = [member_addr(i) for i in range(m)]
    for a in peers:
        lines += [f" neighbor {a} remote-as 65000", f" neighbor {a} passive"]
        if variant in ("gsa-solo", "plain-solo"):
            lines.append(f" neighbor {a} solo")
    lines.append(" address-family ipv4 unicast")
    for a in peers:
        lines += [f"  neighbor {a} activate", f"  neighbor {a} route-reflector-client"]
        if variant.startswith("gsa"):
            lines.append(f"  neighbor {a} route-map GSA-REFLECT out")
    lines += [" exit-address-family", ""]
    sr.write_config("bgpd.conf", "\n".join(lines))


def cpu_seconds(pid):
    """CPU time of every thread of pid, in seconds, to the nanosecond: the
    run time of /proc/PID/task/TID/schedstat (the clock ticks of
    /proc/PID/stat are too coarse for bgpd's work at small M). bgpd's
    threads live as long as it does."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended just now
    return total / 1e9


def cpu_by_thread(pid):
    """CPU seconds of each of pid's threads by name (bgpd: its main
    thread, `bgpd_io`, `bgpd_ka`), as cpu_seconds() reads them."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            out[name] = out.get(name, 0) + int((task / "schedstat").read_text().split()[0]) / 1e9
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def hwm_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise labmod.LabError("no VmHWM")


def wait_idle(pid, what, window=0.5, threshold=0.02, timeout=120):
    """Until the process used less than threshold CPU seconds over window seconds."""
    last = [cpu_seconds(pid)]

    def idle():
        time.sleep(window)
        now = cpu_seconds(pid)
        quiet = now - last[0] < threshold
        last[0] = now
        return quiet
    wait_until(what, idle, timeout=timeout, interval=0)
    return last[0]


class Lines:
    """A child's stdout, one JSON object a line, read on a thread."""

    def __init__(self, proc):
        self.proc = proc
        self.q = queue.Queue()
        self.last_status = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                self.q.put(json.loads(line))
        self.q.put(None)

    def wait_for(self, key, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise labmod.LabError(f"timed out after {timeout}s waiting for {key!r} (last: {self.last_status})")
            try:
                o = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if o is None:
                raise labmod.LabError(f"ended ({self.proc.wait()}) before {key!r} (last: {self.last_status})")
            if "error" in o:
                raise labmod.LabError(f"error: {o['error']}")
            if o.get("status"):
                self.last_status = o
                continue
            if key in o:
                return o


def start_bgpd(sr, variant, cpu):
    frr = sr.lab.frr
    argv = ["taskset", "-c", str(cpu), frr / "lib" / "frr" / "bgpd", "-f", sr.dir / "bgpd.conf",
            "--log", f"file:{sr.dir}/bgpd-{variant}.log", "--log-level", "informational"]
    if variant.startswith("gsa"):
        argv += ["-M", "gsa"]
    p = sr.spawn("bgpd", argv)
    wait_until(f"{sr.name}: bgpd answers vtysh", lambda: sr._answers("bgpd"), timeout=60)
    return p.pid


def stop(router, name):
    p = router.procs.pop(name, None)
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def established_count(sr):
    peers = sr.vtysh_json("show bgp ipv4 unicast summary json").get("peers", {})
    return sum(1 for v in peers.values() if v.get("state") == "Established")


def all_listening(sr, m):
    """Every neighbor past Idle: bgpd closes a connection to a neighbor still Idle."""
    peers = sr.vtysh_json("show bgp ipv4 unicast summary json").get("peers", {})
    return len(peers) == m and all(v.get("state") == "Active" for v in peers.values())


def one_run(lab, m, p, variant, args, routes):
    sr, sim = lab["sr"], lab["sim"]
    sr_bgp_conf(sr, m, variant)
    pid = start_bgpd(sr, variant, args.bgpd_cpu)
    r = {"variant": variant}
    try:
        if variant.startswith("gsa"):
            def known():
                g = sr.vtysh_json("show bgp gsa groups json").get("serverGroups", {}).get(GROUP)
                return g and g.get("membersKnown") and len(g.get("members", {})) == m
            try:
                wait_until(f"the module lists the key server's {m} members", known, timeout=120)
            except labmod.LabError as e:
                g = sr.vtysh_json("show bgp gsa groups json").get("serverGroups", {}).get(GROUP) or {}
                raise labmod.LabError(f"{e}: the module shows membersKnown {g.get('membersKnown')}, "
                                      f"{len(g.get('members', {}))} members") from None
            wait_until("the module holds the group's routing key",
                       lambda: GROUP in sr.vtysh_json("show bgp gsa routes json").get("keys", {}), timeout=60)
        wait_until("bgpd: every neighbor Active", lambda: all_listening(sr, m), timeout=60)
        proc = subprocess.Popen(sim.cmd(["taskset", "-c", str(args.load_cpu), sys.executable,
                                         HERE / "bgp_members.py", "--server", sr.addr, "--routes", routes]),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=open(sim.dir / f"bgp_members-{variant}.err", "w"), text=True)
        lines = Lines(proc)
        try:
            lines.wait_for("established", timeout=60 + m * 0.2)
            wait_until("bgpd: every session Established", lambda: established_count(sr) == m, timeout=60)
            cpu0 = wait_idle(pid, "bgpd idle after the sessions came up")
            perf = None
            if args.perf:
                # a profile of bgpd over the window, for finding where its CPU time goes
                perf = subprocess.Popen(["perf", "record", "-q", "-F", "20000", "-g", "-p", str(pid), "-o",
                                         str(Path(args.perf) / f"m{m}-{variant}-{time.monotonic_ns()}.data")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
                sr.vtysh("clear thread cpu")
                cpu0 = cpu_seconds(pid)
            threads0 = cpu_by_thread(pid)
            t0 = time.monotonic()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            done = lines.wait_for("done", timeout=args.timeout)
            cpu1 = cpu_seconds(pid)
            t1 = time.monotonic()
            cpu2 = wait_idle(pid, "bgpd idle after the reflection")
            threads2 = cpu_by_thread(pid)
            if perf:
                (Path(args.perf) / f"m{m}-{variant}-{time.monotonic_ns()}.threads").write_text(
                    sr.vtysh("show thread cpu"))
                perf.send_signal(2)
                perf.wait(timeout=60)
            r.update({"cpu_delivery_s": cpu1 - cpu0, "cpu_s": cpu2 - cpu0, "wall_delivery_s": t1 - t0,
                      "cpu_threads_s": {k: v - threads0.get(k, 0) for k, v in threads2.items()},
                      "hwm_kb": hwm_kb(pid), "updates_received": done["updates"],
                      "looped_back": done.get("looped_back", 0),
                      "routes_held": done["routes_held"]})
            if r["routes_held"] != m * (m - 1):
                raise labmod.LabError(f"{variant}: {r['routes_held']} routes held, {m * (m - 1)} expected")
            if variant.startswith("gsa"):
                g = sr.vtysh_json("show bgp gsa groups json")
                r["gsa_counters"] = g["serverGroups"][GROUP]["counters"]
                # how many update-groups bgpd made of the M members
                ug = sr.vtysh("show bgp ipv4 unicast update-groups")
                r["update_groups"] = sum(1 for line in ug.splitlines() if line.startswith("Update-group "))

                def opened():
                    routes = sr.vtysh_json("show bgp gsa routes json")
                    r["opened_prefixes"] = len(routes.get("routes", []))
                    r["dropped"] = {k: v for k, v in routes.get("dropped", {}).items() if v}
                    return r["opened_prefixes"] == m * p
                try:
                    wait_until("the S/R opened every sealed route", opened, timeout=20)
                except labmod.LabError:
                    pass
                if r["opened_prefixes"] != m * p or r["dropped"]:
                    raise labmod.LabError(f"gsa: the S/R opened {r['opened_prefixes']} prefixes of {m * p}, "
                                          f"dropped {r['dropped']}: the sealed routes are not what they should be")
            proc.stdin.write("stop\n")
            proc.stdin.flush()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        stop(sr, "bgpd")
    return r


def ratio_stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def ratio(a, b):
    """a / b; None when b is 0."""
    return a / b if b else None


def bench_m(lab, m, p, args):
    sr, sim = lab["sr"], lab["sim"]
    # the member addresses, on sim's loopback, routed from sr through sim
    batch = "".join(f"addr add {member_addr(i)}/32 dev lo\n" for i in range(m))
    labmod.run(["ip", "-n", sim.ns, "-batch", "-"], input=batch)
    labmod.run(["ip", "-n", sr.ns, "route", "replace", "198.18.0.0/15", "via", SIM_ADDR])
    regbench.configure_gcks(sr, m, False)
    sr.spawn("charon", ["taskset", "-c", str(args.load_cpu), lab.ss / "libexec" / "ipsec" / "charon"],
             env={"STRONGSWAN_CONF": sr.dir / "strongswan.conf"})
    wait_until(f"{sr.name}: charon answers on vici", sr._charon_ready, timeout=30)
    sr.swanctl("--load-creds", "--noprompt", "--file", sr.dir / "swanctl.conf")
    wait_until("key server group loaded",
               lambda: any(g.get("name") == GROUP for g in labmod.gdoictl(sr, "groups").get("groups", [])),
               timeout=20)
    gen = subprocess.Popen(sim.cmd(["taskset", "-c", str(args.load_cpu), args.loadgen, "gdoi", "--server", sr.addr,
                                    "--local", member_addr(0), "--address-per-member", "--gms", m,
                                    "--psk", regbench.PSK, "--server-id", "ks.bench", "--id-format", "gm%u.bench",
                                    "--hold", 3600]),
                           stdout=subprocess.DEVNULL, stderr=open(sim.dir / f"loadgen-{m}.err", "w"))
    try:
        def all_registered():
            members = labmod.gdoictl(sr, "members", GROUP).get("members", [])
            return len({x["address"].split("[")[0] for x in members}) == m
        wait_until(f"{m} members registered from {m} addresses", all_registered, timeout=60 + m * 0.1)
        keys = {g["name"]: g for g in labmod.gdoictl(sr, "routing-keys", GROUP)["groups"]}
        key, epoch = bytes.fromhex(keys[GROUP]["key"]), int(keys[GROUP]["epoch"], 16)
        routes = sim.dir / f"routes-{m}x{p}.json"
        blob_len = routes_file(routes, m, p, key, epoch)
        print(f"M={m} P={p}: {m} members registered; sealed attribute {blob_len} octets", flush=True)
        reps = args.reps if m < 1000 else args.reps_large
        runs = []
        for rep in range(reps):
            order = list(args.variants) if rep % 2 == 0 else list(reversed(args.variants))
            one = {}
            for v in order:
                one[v] = one_run(lab, m, p, v, args, routes)
                print(f"M={m} P={p} rep {rep + 1}/{reps} {v}: CPU {one[v]['cpu_s']:.3f} s "
                      f"(to delivery {one[v]['cpu_delivery_s']:.3f} s, wall {one[v]['wall_delivery_s']:.2f} s), "
                      f"VmHWM {one[v]['hwm_kb']} kB", flush=True)
            runs.append(one)
    finally:
        gen.terminate()
        gen.wait(timeout=30)
        stop(sr, "charon")
        labmod.run(["ip", "-n", sim.ns, "-batch", "-"],
                   input="".join(f"addr del {member_addr(i)}/32 dev lo\n" for i in range(m)), check=False)
    out = {"m": m, "p": p, "blob_octets": blob_len, "runs": runs}
    for num, ref in [(n, v) for n, v in (("gsa", "plain"), ("gsa", "plain-solo"), ("gsa-solo", "plain"))
                     if v in args.variants and n in args.variants]:
        out[f"{num}/{ref}"] = {
            "cpu": ratio_stats([ratio(r[num]["cpu_s"], r[ref]["cpu_s"]) for r in runs]),
            "cpu_delivery": ratio_stats([ratio(r[num]["cpu_delivery_s"], r[ref]["cpu_delivery_s"]) for r in runs]),
            "hwm": ratio_stats([ratio(r[num]["hwm_kb"], r[ref]["hwm_kb"]) for r in runs]),
        }
    for v in args.variants:
        out[v] = {k: ratio_stats([r[v][k] for r in runs]) for k in ("cpu_s", "cpu_delivery_s", "wall_delivery_s",
                                                                   "hwm_kb")}
    return out


def fmt(s, unit=""):
    if s is None:
        return "n/a (0 s reference)"
    n = f", n={s['n']}" if unit == "x" else ""
    return f"{s['median']:.2f}{unit} ({s['min']:.2f}-{s['max']:.2f}{n})"


def table(results, variants):
    lines = []
    head = f"{'M':>5} {'P':>4} {'n':>2} | " + " | ".join(f"{v + ' CPU s':>22}" for v in variants)
    head += " | " + " | ".join(f"{v + ' VmHWM MB':>22}" for v in variants)
    lines += [head, "-" * len(head)]
    for r in results:
        row = f"{r['m']:>5} {r['p']:>4} {len(r['runs']):>2} | "
        row += " | ".join(f"{fmt(r[v]['cpu_s']):>22}" for v in variants)
        row += " | " + " | ".join(
            f"{fmt({k: x / 1024 for k, x in r[v]['hwm_kb'].items() if k != 'n'}):>22}" for v in variants)
        lines.append(row)
    lines.append("")
    for r in results:
        for ref in ("gsa/plain", "gsa/plain-solo", "gsa-solo/plain"):
            q = r.get(ref)
            if q:
                if q["cpu"] is None:
                    verdict = "not measurable (the reference used no CPU time)"
                else:
                    verdict = "met" if q["cpu"]["median"] <= 1.3 and q["hwm"]["median"] <= 1.3 else "NOT met"
                lines.append(f"M={r['m']} P={r['p']} {ref}: CPU {fmt(q['cpu'], 'x')}, "
                             f"CPU to delivery {fmt(q['cpu_delivery'], 'x')}, VmHWM {fmt(q['hwm'], 'x')}"
                             + (f"; goal <= 1.3x {verdict}" if ref == "gsa/plain" else ""))
        for v in ("gsa", "gsa-solo"):
            ugs = [run[v]["update_groups"] for run in r["runs"] if v in run]
            if ugs:
                lines.append(f"M={r['m']} {v}: {min(ugs)} to {max(ugs)} update-groups")
    return "\n".join(lines)


def main():
    top = HERE.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadgen", required=True, help="path of the built bench/gdoi_loadgen")
    ap.add_argument("--m", default="10,100,1000", help="member counts, comma-separated")
    ap.add_argument("--p", type=int, default=10, help="sealed prefixes per member")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (each variant once per repetition)")
    ap.add_argument("--reps-large", type=int, default=3, help="repetitions for M >= 1000")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="of " + ", ".join(VARIANTS))
    ap.add_argument("--bgpd-cpu", type=int, default=0, help="the core bgpd is pinned to")
    ap.add_argument("--load-cpu", type=int, default=1, help="the core of everything else")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for the reflection")
    ap.add_argument("--perf", metavar="DIR", help="record a perf profile of bgpd over every window into DIR "
                    "(perf's sampling costs CPU: the figures of such a run are not the benchmark's)")
    ap.add_argument("--lab", default="gsrefl", help="lab name (namespaces gsrefl-*)")
    args = ap.parse_args()
    args.loadgen = Path(args.loadgen).resolve()
    if not os.access(args.loadgen, os.X_OK):
        sys.exit(f"{args.loadgen}: not an executable (make bench/gdoi_loadgen)")
    args.variants = [v for v in args.variants.split(",") if v]
    if not args.variants or any(v not in VARIANTS for v in args.variants):
        sys.exit(f"--variants: of {', '.join(VARIANTS)}")
    ms = [int(x) for x in args.m.split(",") if x.strip()]
    if any(not 2 <= m <= 60000 for m in ms) or args.p < 1:
        sys.exit("--m: 2 to 60000 members; --p: at least 1")
    # bgpd and the simulated members hold a socket per member
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 2 * max(ms) + 256:
        sys.exit(f"the open files limit ({hard}) is too low for {max(ms)} members")
    lab = labmod.Lab(args.lab)
    lab.add_router("sr", SR_ADDR, "10.0.0.1/24")
    lab.add_router("sim", SIM_ADDR, "10.1.0.1/24")
    info = regbench.machine()
    started = time.time()
    results = []
    with lab:
        sr = lab["sr"]
        sr.write_config("zebra.conf", f"hostname {sr.name}\n")
        sr.spawn("zebra", ["taskset", "-c", str(args.load_cpu), lab.frr / "lib" / "frr" / "zebra",
                           "-f", sr.dir / "zebra.conf", "--log", f"file:{sr.dir}/zebra.log",
                           "--log-level", "informational"])
        wait_until(f"{sr.name}: zebra answers vtysh", lambda: sr._answers("zebra"), timeout=30)
        for m in ms:
            results.append(bench_m(lab, m, args.p, args))
        info["loadavg_after"] = os.getloadavg()[0]
        info["wall_s"] = round(time.time() - started, 1)
        out = lab.dir / "results.json"
        out.write_text(json.dumps({"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
                                   "results": results}, indent=1))
    print()
    print(f"{info['cpus']} CPUs ({info['cpu']}), load average {info['loadavg_before']:.2f} before, "
          f"{info['loadavg_after']:.2f} after; {info['wall_s']}s in all. bgpd on CPU {args.bgpd_cpu}, "
          f"the rest on CPU {args.load_cpu}. Median (min-max) over the repetitions.")
    print(table(results, args.variants))
    print(f"\nfigures: {out.relative_to(top) if out.is_relative_to(top) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
