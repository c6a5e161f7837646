#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""From a member's registration to its routes installed as tunnel
endpoints on every other member (docs/bgp-gsa-benchmark.md).

Lab (tests/lab/lab.py): the S/R `ks` (charon with the gdoi plugin as key
server of group `blue`, bgpd -M gsa reflecting with GSA-REFLECT) and three
real members gm1..gm3 (charon with the gdoi plugin as member, bgpd -M gsa
with `gsa group blue id 1234 endpoint ADDR` and its LAN as the private
prefix). No endpoint is configured in gdoi: they come from the sealed
routes only.

gm1 and gm2 register first and install each other's endpoint; gm3's bgpd
is up (its session with the S/R established) but its charon is not. Then,
for each sample, gm3 registers and the time is taken

  from  the key server's member-registered event for gm3 (`gdoictl monitor`
        on the S/R, timestamped as it arrives),
  to    the moment both gm1's and gm2's gdoi plugins list gm3's endpoint
        with gm3's LAN prefix (`gdoictl endpoints blue`, polled on both
        members every --poll seconds; the resolution of the figure).

The first sample is gm3's first registration (its charon starts); each
further one is a registration after an eviction: gm3 is evicted (the S/R
withdraws its route, gm1 and gm2 remove its endpoint: waited for), readmitted
and told to register again (`gdoictl reregister`). The path measured: the
key server's event reaches the S/R's bgpd, which announces again to gm3 and
from gm3; gm3's bgpd gets the routing key, seals its prefixes and sends its
membership route again; the S/R reflects it; gm1 and gm2 open it and hand
the endpoint to their gdoi plugin (add-endpoint).

Prints every sample, the median and the spread, and writes them to
build/lab/<lab>/latency.json. Needs root.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "lab"))
import lab as labmod  # noqa: E402
from lab import wait_until  # noqa: E402
from test_gdoi_monitor import Monitor  # noqa: E402

GROUP = "blue"
GROUP_ID = labmod.GDOI_GROUP_ID


def bgp_conf(r, ks, members):
    lines = [f"hostname {r.name}", "router bgp 65000", f" bgp router-id {r.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
    if r is ks:
        for m in members:
            lines += [f" neighbor {m.addr} remote-as 65000", f" neighbor {m.addr} timers connect 2"]
        lines.append(" address-family ipv4 unicast")
        for m in members:
            lines += [f"  neighbor {m.addr} activate", f"  neighbor {m.addr} route-reflector-client",
                      f"  neighbor {m.addr} route-map GSA-REFLECT out"]
    else:
        lines += [f" neighbor {ks.addr} remote-as 65000", f" neighbor {ks.addr} timers connect 2",
                  f" gsa group {GROUP} id {GROUP_ID} endpoint {r.addr}",
                  f" gsa group {GROUP} prefix {r.lan_prefix}",
                  " address-family ipv4 unicast", f"  neighbor {ks.addr} activate"]
    lines += [" exit-address-family", ""]
    r.write_config("zebra.conf", f"hostname {r.name}\n")
    r.write_config("bgpd.conf", "\n".join(lines))


def endpoints(gm):
    """{gateway: [prefixes]} gm's gdoi plugin holds for the group."""
    out = labmod.gdoictl(gm, "endpoints", GROUP, check=False)
    eps = (out or {}).get("endpoints") or []
    return {e["gateway"]: e["prefixes"] for e in (eps.values() if isinstance(eps, dict) else eps)}


def holds(gm, other):
    return endpoints(gm).get(other.addr) == [other.lan_prefix]


class Watch:
    """Polls `gdoictl endpoints` on the given members until each holds the
    endpoint of `new`; installed_at: the monotonic time the last of them did."""

    def __init__(self, members, new, poll, timeout):
        self.installed_at = None
        self.error = None
        self._t = threading.Thread(target=self._run, args=(members, new, poll, timeout), daemon=True)
        self._t.start()

    def _run(self, members, new, poll, timeout):
        pending = list(members)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for gm in list(pending):
                try:
                    if holds(gm, new):
                        pending.remove(gm)
                except (labmod.LabError, ValueError) as e:
                    self.error = e
            if pending:
                time.sleep(poll)
        if not pending:
            self.installed_at = time.monotonic()

    def join(self):
        self._t.join()
        if self.installed_at is None:
            raise labmod.LabError(f"the endpoint was not installed everywhere (last error: {self.error})")
        return self.installed_at


def sample(lab, first, args):
    ks, gm1, gm2, gm3 = (lab[n] for n in ("ks", "gm1", "gm2", "gm3"))
    others = [gm1, gm2]
    if not first:
        labmod.gdoictl(ks, "evict", GROUP, "gm3.example.net")
        wait_until("gm3's endpoint removed from gm1 and gm2",
                   lambda: not any(gm3.addr in endpoints(g) for g in others), timeout=60)
        labmod.gdoictl(ks, "readmit", GROUP, "gm3.example.net")
    monitor = Monitor(ks)
    try:
        if not monitor.ready.wait(10):
            raise labmod.LabError("gdoictl monitor did not subscribe")
        watch = Watch(others, gm3, args.poll, args.timeout)
        t_cmd = time.monotonic()
        if first:
            labmod.start_gdoi_charon(gm3)
        else:
            p = labmod.gdoictl(gm3, "reregister", GROUP, check=False, as_json=False)
            # its own retry may have begun already
            if p.returncode != 0 and "is registering" not in p.stderr:
                raise labmod.LabError(f"gm3: gdoictl reregister failed: {p.stderr.strip()}")
        while True:
            t_reg, e = monitor.next_event("member-registered", timeout=60)
            if e.get("member") == "gm3.example.net":
                break
        t_done = watch.join()
    finally:
        monitor.stop()
    return {"kind": "first registration" if first else "registration after eviction",
            "registration_to_installed_s": t_done - t_reg, "command_to_installed_s": t_done - t_cmd}


def main():
    top = HERE.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=6, help="registrations of gm3 timed (the first is its first)")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between two polls of a member")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for the installation")
    ap.add_argument("--lab", default="gsjoin", help="lab name")
    args = ap.parse_args()
    if args.samples < 1:
        sys.exit("--samples: at least 1")
    lab = labmod.Lab(args.lab)
    ks = lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    gms = [lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24") for i in (1, 2, 3)]
    info = {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()[0]}
    with lab:
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, labmod.gdoi_server_conf(ks, gms), labmod.gdoi_secrets(ks, [g.name for g in gms]))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, labmod.gdoi_member_conf(gm, ks, []), labmod.gdoi_secrets(gm, ["ks"]))
        bgp_conf(ks, ks, gms)
        ks.start_frr()
        labmod.start_gdoi_charon(ks)
        for gm in gms:
            bgp_conf(gm, ks, gms)
            gm.start_frr()
        gm1, gm2, gm3 = gms
        for gm in (gm1, gm2):
            labmod.start_gdoi_charon(gm)
        wait_until("gm1 and gm2 hold each other's endpoint", lambda: holds(gm1, gm2) and holds(gm2, gm1),
                   timeout=90)
        wait_until("gm3's BGP session with the S/R established",
                   lambda: ks.vtysh_json("show bgp ipv4 unicast summary json")["peers"]
                   .get(gm3.addr, {}).get("state") == "Established", timeout=60)
        samples = []
        for i in range(args.samples):
            s = sample(lab, i == 0, args)
            samples.append(s)
            print(f"sample {i + 1}/{args.samples} ({s['kind']}): registration to installed on gm1 and gm2 "
                  f"{s['registration_to_installed_s']:.3f} s (from the command {s['command_to_installed_s']:.3f} s)",
                  flush=True)
        info["loadavg_after"] = os.getloadavg()[0]
        out = lab.dir / "latency.json"
        out.write_text(json.dumps({"machine": info, "poll_s": args.poll, "samples": samples}, indent=1))
    xs = [s["registration_to_installed_s"] for s in samples]
    print(f"\nregistration -> installed on every other member: median {statistics.median(xs):.3f} s, "
          f"min {min(xs):.3f} s, max {max(xs):.3f} s over {len(xs)} samples (poll every {args.poll}s; "
          f"load average {info['loadavg_before']:.2f} before, {info['loadavg_after']:.2f} after)")
    print(f"figures: {out.relative_to(top) if out.is_relative_to(top) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
