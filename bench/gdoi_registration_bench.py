#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Registrations per second at a gdoi key server against charon's own
IKE_SA + CHILD_SA set-up rate, in one run (docs/gdoi-benchmark.md).

For every K (concurrent requests), in the lab (tests/lab/lab.py):

  gdoi     charon with the gdoi plugin as key server (ks, 192.0.2.1) and
           bench/gdoi_loadgen in `gms` (192.0.2.2) running K group members,
           each registering (IKE_SA_INIT + GSA_AUTH, PSK) again as soon as
           its TEK is installed;
  charon   charon with the load-tester plugin as responder (lr, 192.0.2.3)
           and a second one as initiator (li, 192.0.2.4), which
           bench/gdoi_loadgen drives over load-tester's control socket with
           K requests in flight, each an IKE_SA + CHILD_SA set-up.

Same suite on both: IKE AES-GCM-16-256, PRF-HMAC-SHA2-256, ECP-256 (19);
ESP AES-GCM-16-256; PSK. Neither side installs SAs in a kernel: the members
count their TEKs in memory, load-tester's fake kernel takes the CHILD_SAs.
Both responders are started fresh for every K and get the same DoS setting
(cookies past 64 half-open SAs, no per-address block).

Prints a table and writes the figures as JSON to build/lab/<lab>/results.json.
Needs root.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lab"))
import lab as labmod  # noqa: E402
from lab import wait_until  # noqa: E402

GROUP = "bench"
PSK = "groupsec-bench-psk"
IKE_PROPOSAL = "aes256gcm16-prfsha256-ecp256"
ESP_PROPOSAL = "aes256gcm16"
COOKIE_THRESHOLD = 64  # the engine's default (detail::kDefaultCookieThreshold)

GCKS_PLUGINS = ("random nonce openssl pem pkcs1 pkcs8 x509 pubkey kdf "
                "socket-default kernel-libipsec kernel-netlink vici gdoi")
# load-tester first: its fake kernel must register before kernel-netlink's
LT_PLUGINS = ("random nonce openssl pem pkcs1 pkcs8 x509 pubkey kdf "
              "socket-default load-tester kernel-netlink vici")


def log_section(router, verbose):
    level = 1 if verbose else -1
    return f"""\
	filelog {{
		bench {{
			path = {router.dir}/charon.log
			time_format = %b %e %T
			default = 0
			ike = {level}
			chd = {level}
		}}
	}}"""


def charon_common(threads):
    """Settings both responders and the initiator share."""
    return f"""\
	threads = {threads}
	ikesa_table_size = 4096
	ikesa_table_segments = 16
	cookie_threshold = {COOKIE_THRESHOLD}
	cookie_threshold_ip = {COOKIE_THRESHOLD}
	block_threshold = 1000000
	half_open_timeout = 30
	retransmit_timeout = 2.0
	retransmit_base = 2.0
	retransmit_tries = 4"""


def configure_gcks(ks, k, verbose):
    members = ", ".join(f"gm{i}.bench" for i in range(k))
    ks.write_config("gdoi.conf", f"""\
groups {{
	{GROUP} {{
		role = server
		group_id = 1234
		local_id = ks.bench
		listen = {ks.addr}
		auth = psk
		members = {members}
		tek-1 {{
			local_ts = 10.0.0.0/8
			remote_ts = 10.0.0.0/8
			esp_proposal = {ESP_PROPOSAL}
		}}
		tek_lifetime = 1h
		# registrations only, no rekey is sent: no signing key
		rekey_auth = implicit
	}}
}}
""")
    ks.write_config("strongswan.conf", f"""\
charon {{
	load = {GCKS_PLUGINS}
{charon_common(16)}
	plugins {{
		gdoi {{
			config = {ks.dir}/gdoi.conf
		}}
	}}
{log_section(ks, verbose)}
}}
swanctl {{
	load = pem pkcs1 pkcs8 x509 pubkey openssl random
}}
""")
    # one key owned by the key server only: charon's credential manager
    # hands it out for the key server and any member identity
    ks.write_config("swanctl.conf", f"""\
secrets {{
	ike-bench {{
		id-1 = ks.bench
		secret = "{PSK}"
	}}
}}
""")


def configure_load_tester(router, initiator, responder, threads, verbose, initiators=0, init_limit=0):
    router.write_config("strongswan.conf", f"""\
charon {{
	load = {LT_PLUGINS}
{charon_common(threads)}
	plugins {{
		load-tester {{
			enable = yes
			initiators = {initiators}
			iterations = 0
			delay = 1
			init_limit = {init_limit}
			fake_kernel = yes
			proposal = {IKE_PROPOSAL}
			esp = {ESP_PROPOSAL}
			initiator_auth = psk
			responder_auth = psk
			psk = {PSK}
			initiator = {initiator.addr}
			responder = {responder.addr}
			socket = unix://{router.dir}/load-tester.sock
		}}
	}}
{log_section(router, verbose)}
}}
""")


def stop_charon(router):
    p = router.procs.pop("charon", None)
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=20)
        except Exception:
            p.kill()
            p.wait()


def start_charon(router):
    stop_charon(router)
    router.start_charon()
    return router.procs["charon"].pid


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def udp_rcvbuf_errors(router):
    lines = [line.split() for line in router.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
             if line.startswith("Udp:")]
    row = dict(zip(lines[0][1:], lines[1][1:]))
    return int(row.get("RcvbufErrors", 0))


def run_loadgen(router, argv, timeout):
    p = router.run(argv, timeout=timeout)
    out = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not out:
        raise labmod.LabError(f"loadgen printed no result: {p.stdout}{p.stderr}")
    return json.loads(out[-1])


def bench_gdoi(lab, k, args):
    ks, gms = lab["ks"], lab["gms"]
    configure_gcks(ks, k, args.verbose)
    pid = start_charon(ks)
    ks.swanctl("--load-creds", "--noprompt", "--file", ks.dir / "swanctl.conf")
    wait_until("key server group loaded",
               lambda: any(g.get("name") == GROUP for g in labmod.gdoictl(ks, "groups").get("groups", [])),
               timeout=20)
    drops0, cpu0, gm_drops0 = udp_rcvbuf_errors(ks), cpu_seconds(pid), udp_rcvbuf_errors(gms)
    p = subprocess.Popen(gms.cmd([args.loadgen, "gdoi", "--server", ks.addr, "--local", gms.addr, "--gms", k,
                                  "--min-warmup", args.warmup, "--warmup", args.max_warmup,
                                  "--duration", args.duration, "--psk", PSK,
                                  "--server-id", "ks.bench", "--id-format", "gm%u.bench"]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    window = {}
    for line in p.stderr:  # the key server's CPU time over the loadgen's window
        if line.strip() in ("window open", "window closed"):
            window[line.strip()] = cpu_seconds(pid)
    out, _ = p.communicate(timeout=args.max_warmup + args.duration + 60)
    results = [line for line in out.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not results:
        raise labmod.LabError(f"loadgen failed ({p.returncode}): {out}")
    r = json.loads(results[-1])
    if len(window) == 2:
        r["window_responder_cpu_s"] = window["window closed"] - window["window open"]
    r["responder_cpu_s"] = cpu_seconds(pid) - cpu0
    r["responder_udp_drops"] = udp_rcvbuf_errors(ks) - drops0
    r["initiator_udp_drops"] = udp_rcvbuf_errors(gms) - gm_drops0
    r["initiator_cpu_s"] = r["cpu_s"]
    counters = labmod.gdoictl(ks, "counters", GROUP)
    counters = counters.get("counters", counters)
    r["responder_total"] = counters.get("registrations")
    r["responder_counters"] = counters
    r["responder_rss_kb"] = rss_kb(pid)
    stop_charon(ks)
    return r


def established(router):
    """IKE_SAs the responder holds established (none is ever deleted here)."""
    m = re.search(r"IKE_SAs:\s+(\d+) total, (\d+) half-open", router.swanctl("--stats"))
    return int(m.group(1)) - int(m.group(2))


def bench_charon(lab, k, args):
    """charon's IKE_SA + CHILD_SA set-up rate, counted at the responder.

    driver "plugin": load-tester's own initiators (two jobs, 1 ms apart,
    at most K IKE_SAs in progress: init_limit); "control": K closed-loop
    clients of load-tester's control socket (exact K, but charon then logs
    every message of every level to the waiting client, which makes the
    initiator much slower)."""
    lr, li = lab["lr"], lab["li"]
    configure_load_tester(lr, li, lr, 16, args.verbose)
    if args.charon_driver == "plugin":
        configure_load_tester(li, li, lr, 32, args.verbose, initiators=2, init_limit=k)
    else:
        configure_load_tester(li, li, lr, k + 32, args.verbose)
    pid = start_charon(lr)
    drops0, cpu0 = udp_rcvbuf_errors(lr), cpu_seconds(pid)
    ipid = start_charon(li)
    icpu0 = cpu_seconds(ipid)
    if args.charon_driver == "plugin":
        t_start = time.monotonic()
        time.sleep(args.warmup)
        n0, t0, c0, i0 = established(lr), time.monotonic(), cpu_seconds(pid), cpu_seconds(ipid)
        time.sleep(args.duration)
        n1, t1, c1, i1 = established(lr), time.monotonic(), cpu_seconds(pid), cpu_seconds(ipid)
        r = {"mode": "load-tester plugin", "k": k, "warmup_s": round(t0 - t_start, 3),
             "duration_s": round(t1 - t0, 3), "completed": n1 - n0, "rate": round((n1 - n0) / (t1 - t0), 1),
             "window_responder_cpu_s": c1 - c0, "window_initiator_cpu_s": i1 - i0, "completed_total": n1}
    else:
        wait_until("load-tester control socket", lambda: (li.dir / "load-tester.sock").exists(), timeout=20)
        r = run_loadgen(li, [args.loadgen, "load-tester", "--socket", li.dir / "load-tester.sock",
                             "--clients", k, "--warmup", args.warmup, "--duration", args.duration],
                        timeout=args.warmup + args.duration + 60)
    r["responder_cpu_s"] = cpu_seconds(pid) - cpu0
    r["responder_udp_drops"] = udp_rcvbuf_errors(lr) - drops0
    r["initiator_cpu_s"] = cpu_seconds(ipid) - icpu0 + r.get("cpu_s", 0)
    r["responder_total"] = established(lr)
    r["responder_rss_kb"] = rss_kb(pid)
    stop_charon(li)
    stop_charon(lr)
    return r


def rss_kb(pid):
    m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) if m else None


def machine():
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cpus": os.cpu_count(), "cpu": model, "loadavg_before": os.getloadavg()[0],
            "kernel": os.uname().release}


def per_1000(r):
    """Responder CPU seconds per 1000 set-ups over the window."""
    done = r.get("completed") or 0
    cpu = r.get("window_responder_cpu_s")
    return 1000 * cpu / done if done and cpu is not None else float("nan")


def table(results):
    head = (f"{'K':>5} | {'gdoi reg/s':>10} | {'charon IKE+CHILD/s':>18} | {'ratio':>6} | "
            f"{'gdoi n':>7} | {'charon n':>8} | {'resp. CPU s/1000: gdoi':>22} | {'charon':>6} | "
            f"{'gdoi dgrams/reg':>15} | {'UDP drops g/c':>13}")
    lines = [head, "-" * len(head)]
    for k, g, c in results:
        ratio = g["rate"] / c["rate"] if c["rate"] else float("inf")
        lines.append(f"{k:>5} | {g['rate']:>10.1f} | {c['rate']:>18.1f} | {ratio:>5.2f}x | "
                     f"{g['completed']:>7} | {c['completed']:>8} | {per_1000(g):>22.2f} | {per_1000(c):>6.2f} | "
                     f"{g['datagrams_per_registration']:>15.2f} | "
                     f"{g['responder_udp_drops']:>6}/{c['responder_udp_drops']:<6}")
    return "\n".join(lines)


def main():
    top = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loadgen", required=True, help="path of the built bench/gdoi_loadgen")
    ap.add_argument("--k", default="1,100,1000", help="concurrency levels, comma-separated")
    ap.add_argument("--warmup", type=float, default=3, help="seconds before the window")
    ap.add_argument("--max-warmup", type=float, default=30,
                    help="gdoi: the window opens when every member has registered once, after this at the latest")
    ap.add_argument("--duration", type=float, default=8, help="seconds of the measurement window")
    ap.add_argument("--charon-driver", choices=("plugin", "control"), default="plugin",
                    help="how load-tester initiates (see bench_charon)")
    ap.add_argument("--lab", default="gsbench", help="lab name (namespaces gsbench-*)")
    ap.add_argument("--verbose", action="store_true", help="IKE and CHILD_SA logs in the daemons' charon.log")
    args = ap.parse_args()
    loadgen = Path(args.loadgen).resolve()
    if not os.access(loadgen, os.X_OK):
        sys.exit(f"{loadgen}: not an executable (make bench/gdoi_loadgen)")
    args.loadgen = loadgen
    ks_list = [int(x) for x in args.k.split(",") if x.strip()]
    lab = labmod.Lab(args.lab)
    lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    lab.add_router("gms", "192.0.2.2", "10.1.0.1/24")
    lab.add_router("lr", "192.0.2.3", "10.2.0.1/24")
    lab.add_router("li", "192.0.2.4", "10.3.0.1/24")
    results = []
    info = machine()
    started = time.time()
    with lab:
        for k in ks_list:
            g = bench_gdoi(lab, k, args)
            print(f"K={k} gdoi: {g['rate']:.1f}/s ({g['completed']} in {g['duration_s']}s)", flush=True)
            c = bench_charon(lab, k, args)
            print(f"K={k} charon: {c['rate']:.1f}/s ({c['completed']} in {c['duration_s']}s)", flush=True)
            results.append((k, g, c))
        out = lab.dir / "results.json"
        info["loadavg_after"] = os.getloadavg()[0]
        info["wall_s"] = round(time.time() - started, 1)
        out.write_text(json.dumps({"machine": info, "warmup_s": args.warmup, "duration_s": args.duration,
                                   "results": [{"k": k, "gdoi": g, "charon": c} for k, g, c in results]},
                                  indent=1))
    print()
    print(f"{info['cpus']} CPUs ({info['cpu']}), load average {info['loadavg_before']:.2f} before, "
          f"{info['loadavg_after']:.2f} after; window {args.duration}s after {args.warmup}s warm-up; "
          f"{info['wall_s']}s in all")
    print(table(results))
    print(f"\nfigures: {out.relative_to(top) if out.is_relative_to(top) else out}")
    for k, g, c in results:
        verdict = "met" if c["rate"] and g["rate"] >= c["rate"] else "NOT met"
        print(f"K={k}: goal >= 1.0x charon {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
