#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""groupsec demo: the smoke lab and a G-IKEv2 group, narrated.

Builds an S/R (route reflector) and two members as network namespaces with
real zebra, bgpd (with the GSA module) and charon (with the groupsec plugins
on userspace ESP), shows what each part does; then a key server and three
members that share one group SA, and an eviction; then tears everything
down.

usage: demo.py [--keep]   (--keep: leave the lab running until Enter)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab as labmod  # noqa: E402
from lab import wait_until  # noqa: E402


def step(title):
    print(f"\n==== {title}", flush=True)


def show(router, what, text):
    print(f"--- {router.name}# {what}")
    print(text.rstrip())


def group_demo():
    """A key server and three members: one group SA, then gm3 evicted."""
    glab = labmod.gdoi_lab("gsdemog")
    with glab:
        ks, gm1, gm2, gm3 = glab["ks"], glab["gm1"], glab["gm2"], glab["gm3"]
        step("G-IKEv2: a key server (ks) and three members register over UDP 848 (RFC 9838)")
        labmod.configure_gdoi(glab)
        for gm in (gm1, gm2, gm3):
            wait_until(f"{gm.name} registered", lambda: any(
                g["state"] == "registered" for g in labmod.gdoictl(gm, "groups")["groups"]), timeout=30)
        show(ks, "gdoictl members blue", labmod.gdoictl(ks, "members", "blue", as_json=False).stdout)
        for gm in (gm1, gm2, gm3):
            show(gm, "gdoictl sas blue", labmod.gdoictl(gm, "sas", "blue", as_json=False).stdout)

        step("The members' LANs reach each other through the one group SA")
        pings = []
        for a, b in ((gm1, gm2), (gm2, gm3), (gm3, gm1)):
            p = a.run(["ping", "-n", "-c", "2", "-i", "0.3", "-W", "2", "-I", a.lan_addr, b.lan_addr], check=False)
            pings.append(p.returncode == 0)
            show(a, f"ping -c 2 -I {a.lan_addr} {b.lan_addr}", p.stdout.splitlines()[-2])

        step("Evicting gm3: the key server rekeys gm1 and gm2 through the key tree")
        show(ks, "gdoictl evict blue gm3.example.net",
             labmod.gdoictl(ks, "evict", "blue", "gm3.example.net", as_json=False).stdout)
        wait_until("gm1 and gm2 on the new SA", lambda: all(
            labmod.gdoictl(g, "counters", "blue")["counters"]["rekeys"] > 0 for g in (gm1, gm2)), timeout=15)
        for gm in (gm1, gm3):
            show(gm, "gdoictl sas blue", labmod.gdoictl(gm, "sas", "blue", as_json=False).stdout)
        wait_until("the old SA deactivated on gm1", lambda: gm3.run(
            ["ping", "-n", "-c", "1", "-W", "1", "-I", gm3.lan_addr, gm1.lan_addr], check=False).returncode != 0,
            timeout=20)
        after = gm1.run(["ping", "-n", "-c", "2", "-i", "0.3", "-W", "2", "-I", gm1.lan_addr, gm2.lan_addr],
                        check=False)
        shut = gm3.run(["ping", "-n", "-c", "2", "-i", "0.3", "-W", "1", "-I", gm3.lan_addr, gm1.lan_addr],
                       check=False)
        show(gm1, f"ping -c 2 -I {gm1.lan_addr} {gm2.lan_addr}", after.stdout.splitlines()[-2])
        show(gm3, f"ping -c 2 -I {gm3.lan_addr} {gm1.lan_addr}", shut.stdout.splitlines()[-2])
        ok = all(pings) and after.returncode == 0 and shut.returncode != 0
        print(f"\ngroup SA: {'members reach each other, gm3 is locked out' if ok else 'UNEXPECTED'}")
    return ok


def main():
    keep = "--keep" in sys.argv[1:]
    lab = labmod.smoke_lab("gsdemo")
    with lab:
        sr, m1, m2 = lab["sr"], lab["m1"], lab["m2"]
        step("Starting 3 routers: sr (S/R, route reflector), m1 and m2 (group members)")
        for r in lab.routers.values():
            print(f"  {r.name}: namespace {r.ns}, backbone {r.addr}/{r.backbone_plen}, LAN {r.lan} on lo")
        labmod.configure_smoke(lab)

        step("BGP: both members are route-reflector clients of the S/R")
        wait_until("two established sessions at the S/R",
                   lambda: sr.vtysh_json("show bgp gsa json")["instances"]["default"]["establishedCount"] == 2,
                   timeout=60)
        wait_until("m1 learns m2's LAN",
                   lambda: m1.vtysh_json("show bgp ipv4 unicast 10.2.0.0/24 json", daemon="bgpd").get("paths"),
                   timeout=30)
        show(sr, "show bgp gsa", sr.vtysh("show bgp gsa"))
        show(m1, "show bgp ipv4 unicast", m1.vtysh("show bgp ipv4 unicast", daemon="bgpd"))

        step("charon: the gdoi and election plugins are loaded next to kernel-libipsec")
        stats = m1.swanctl("--stats")
        show(m1, "swanctl --stats | grep plugins", "\n".join(
            line for line in stats.splitlines() if "plugins" in line))

        step("IPsec: an IKEv2 tunnel m1 <-> m2 carries a ping between the LANs (userspace ESP)")
        m1.swanctl("--initiate", "--child", "lan-lan")
        wait_until("CHILD_SA installed", lambda: labmod.child_sa_counters(m1), timeout=30)
        ping = m1.run(["ping", "-c", "3", "-i", "0.3", "-I", m1.lan_addr, m2.lan_addr], check=False)
        show(m1, f"ping -c 3 -I {m1.lan_addr} {m2.lan_addr}", ping.stdout)
        show(m1, "swanctl --list-sas", m1.swanctl("--list-sas"))
        pin, pout, _, _ = labmod.child_sa_counters(m1)
        ok = ping.returncode == 0 and pin >= 3 and pout >= 3
        print(f"\nCHILD_SA counters on m1: {pout} packets out, {pin} packets in -> "
              f"{'the ping went through ESP' if ok else 'UNEXPECTED'}")

        ok = group_demo() and ok

        step("What to look at next")
        print(f"""\
  daemon logs     {lab.dir}/<router>/{{zebra,bgpd,charon}}.log (kept after the demo)
  configurations  {lab.dir}/<router>/{{zebra,bgpd}}.conf, strongswan.conf, swanctl.conf
  the lab runner  tests/lab/lab.py          the smoke test  tests/lab/test_smoke.py
  the plugins     bgpd-plugin/ (bgpd -M gsa), gdoi-plugin/ and election-plugin/ (charon)
  the group test  tests/lab/test_gdoi.py    gdoictl: docs/control-socket.md
  docs            docs/architecture.md, docs/build.md, docs/lab.md, docs/gdoi.md""")
        if keep:
            print(f"""
The lab is up. In another shell, for example:
  nsenter --target {sr.holder.pid} --net --mount {lab.frr}/bin/vtysh
  nsenter --target {m1.holder.pid} --net --mount env STRONGSWAN_CONF={m1.dir}/strongswan.conf {lab.ss}/sbin/swanctl --list-sas
Press Enter to tear it down.""")
            input()
        step("Tearing down: every daemon stopped, every namespace removed")
    left = labmod.lab_namespaces()
    print("  namespaces left: " + (", ".join(left) if left else "none"))
    return 0 if ok and not left else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except labmod.LabError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
