#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""groupsec demo: groups over BGP with an S/R, narrated in one lab.

Five routers as network namespaces with real zebra, bgpd (with the GSA
module) and charon (with the gdoi plugin on userspace ESP): the S/R (ks),
key server of groups A = {gm1, gm2, gm3} and B = {gm3, gm4} and their
route reflector, and the four members, each configured with its groups,
its LAN prefix and its key server only. The demo shows the registrations,
the S/R's view of the groups, the sealed routes (opened on a member,
unreadable on the wire), traffic on a group SA, and an eviction that
takes a member's routes away and locks it out; then tears everything
down. It exits non-zero if any step does not do what it says.

usage: demo.py [--keep]   (--keep: leave the lab running until Enter)
"""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab as labmod  # noqa: E402
import sr_lab  # noqa: E402
from lab import wait_until  # noqa: E402

EVICTED = {("gm2", "A")}


class StepFailed(Exception):
    pass


def step(title):
    print(f"\n==== {title}", flush=True)


def show(router, what, text):
    print(f"--- {router.name}# {what}")
    print(text.rstrip(), flush=True)


def check(ok, what):
    print(f"  [{'ok' if ok else 'FAILED'}] {what}", flush=True)
    if not ok:
        raise StepFailed(what)


def ping_line(out):
    lines = [line for line in out.splitlines() if "packets transmitted" in line]
    return lines[0] if lines else out.strip()


def bgp_messages(payloads):
    """The BGP messages in captured TCP payloads: (type, body)."""
    out = []
    for data in payloads:
        while len(data) >= 19 and data[:16] == b"\xff" * 16:
            length = int.from_bytes(data[16:18], "big")
            out.append((data[18], data[19:length]))
            data = data[length:]
    return out


def path_attributes(body):
    """{type code: (flags, value)} of an UPDATE's body."""
    withdrawn = int.from_bytes(body[0:2], "big")
    at = 2 + withdrawn
    total = int.from_bytes(body[at:at + 2], "big")
    attrs, i, end = {}, at + 2, at + 2 + total
    while i < end:
        flags, code = body[i], body[i + 1]
        if flags & 0x10:
            n, i = int.from_bytes(body[i + 2:i + 4], "big"), i + 4
        else:
            n, i = body[i + 2], i + 3
        attrs[code] = (flags, body[i:i + n])
        i += n
    return attrs


def sealed_attribute_on_the_wire(lab, gm):
    """The sealed attribute of gm's membership route as the backbone
    carried it (the first UPDATE with code 255 whose NLRI is gm's endpoint)."""
    import test_bgp_gsa
    nlri = bytes([32]) + bytes(int(o) for o in gm.addr.split("."))
    for kind, body in bgp_messages(test_bgp_gsa.update_payloads(lab.bgp_pcap)):
        if kind != 2 or not body.endswith(nlri):
            continue
        attrs = path_attributes(body)
        if 255 in attrs:
            return attrs[255]
    return None


def start_capture(lab):
    lab.bgp_pcap = lab.dir / "bgp.pcap"
    lab.capture = subprocess.Popen(["ip", "netns", "exec", lab.bb, "dumpcap", "-q", "-P", "-i", "br0",
                                    "-f", "tcp port 179", "-w", str(lab.bgp_pcap)],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    wait_until("the capture runs", lambda: lab.bgp_pcap.exists() and lab.bgp_pcap.stat().st_size > 0
               or lab.capture.poll() is not None, timeout=10)


def stop_capture(lab):
    if lab.capture.poll() is None:
        lab.capture.terminate()
        lab.capture.wait(timeout=10)


def story(lab):
    ks, gm1, gm2, gm3, gm4 = (lab[n] for n in ("ks", "gm1", "gm2", "gm3", "gm4"))

    step("Five routers: ks (S/R: key server and route reflector), gm1..gm4 (members)")
    for r in lab.routers.values():
        groups = ", ".join(sr_lab.MEMBERS.get(r.name, [])) or "key server of A and B"
        print(f"  {r.name}: namespace {r.ns}, backbone {r.addr}, LAN {r.lan_prefix} ({groups})")
    # the members' first UPDATEs are captured on the backbone
    start_capture(lab)
    sr_lab.start(lab)
    text = gm3.vtysh("show running-config", daemon="bgpd")
    show(gm3, "show running-config (bgpd): its groups, its prefix, its key server; no tunnel",
         "\n".join(line for line in text.splitlines() if line.startswith((" gsa", " neighbor", "router"))))

    step("Registration: every member registered with the key server (G-IKEv2, UDP 848)")
    for g in sr_lab.GROUPS:
        show(ks, f"gdoictl members {g}", labmod.gdoictl(ks, "members", g, as_json=False).stdout)
    check(sr_lab.gsa.registered(ks) == sr_lab.want_registered(), "A = {gm1, gm2, gm3}, B = {gm3, gm4}")

    step("Discovery: the S/R reflects a membership route only to the registered members of its group")
    sr_lab.converge(lab, "every member's routes and endpoints")
    show(ks, "show bgp gsa groups", ks.vtysh("show bgp gsa groups"))
    show(gm1, "show bgp ipv4 unicast", gm1.vtysh("show bgp ipv4 unicast"))
    check(sr_lab.gsa.membership_routes(lab, "gm1") == {f"192.0.2.{i}/32" for i in (11, 12, 13)},
          "gm1 (A) holds gm2's and gm3's membership routes, not gm4's")
    check(sr_lab.gsa.membership_routes(lab, "gm4") == {"192.0.2.13/32", "192.0.2.14/32"},
          "gm4 (B) holds gm3's only")

    step("Sealed routes: the private prefixes travel AES-GCM sealed under the group's routing key")
    show(gm1, "show bgp gsa routes", gm1.vtysh("show bgp gsa routes"))
    stop_capture(lab)
    attr = sealed_attribute_on_the_wire(lab, gm2)
    check(attr is not None, "gm2's membership route carried attribute 255 on the backbone")
    flags, value = attr
    print(f"  gm2's route on the wire: attribute 255, flags {flags:#04x}, {len(value)} octets:")
    for i in range(0, len(value), 24):
        print("    " + value[i:i + 24].hex(" "))
    check(bytes([10, 2, 0]) not in value, "gm2's prefix 10.2.0.0/24 is not in it in clear")
    dropped = gm1.vtysh_json("show bgp gsa routes json")["dropped"]
    check(not any(dropped.values()), "gm1 opened every sealed route it received, dropped none")

    step("Traffic: gm1's LAN reaches gm2's and gm3's through group A's SA, gateway to gateway")
    show(gm1, "gdoictl endpoints A (from the opened routes, over the control socket)",
         labmod.gdoictl(gm1, "endpoints", "A", as_json=False).stdout)
    for other in (gm2, gm3):
        seen = sr_lab.group_sa_ping(lab, gm1, other, "A")
        show(gm1, f"ping -I {gm1.lan_addr} {other.lan_addr}", ping_line(seen["ping"]))
        check(True, f"ESP under group A's SPI {seen['spi']} between {gm1.addr} and {other.addr} both ways, "
                    "none through the S/R")
    show(gm1, "gdoictl sas A", labmod.gdoictl(gm1, "sas", "A", as_json=False).stdout)
    seen = sr_lab.group_sa_ping(lab, gm3, gm4, "B")
    check(True, f"gm3 reaches gm4 through group B's SA ({seen['spi']})")
    p = labmod.lan_ping(gm1, gm4, count=2, check=False)
    show(gm1, f"ping -I {gm1.lan_addr} {gm4.lan_addr}", ping_line(p.stdout))
    check(p.returncode != 0, "gm1 has no way to gm4's LAN: no group in common")

    step("Eviction: the key server evicts gm2 from A and rekeys gm1 and gm3")
    old_spi = labmod.gdoi_current_spi(gm1, "A")
    show(ks, "gdoictl evict A gm2.example.net",
         labmod.gdoictl(ks, "evict", "A", "gm2.example.net", as_json=False).stdout)
    sr_lab.converge(lab, "gm2's routes gone from gm1 and gm3, theirs from gm2", evicted=EVICTED, timeout=30)
    check(True, "gm2's route and tunnel gone from gm1 and gm3, theirs from gm2")
    show(gm1, "show bgp gsa routes", gm1.vtysh("show bgp gsa routes"))
    show(gm2, "show bgp gsa routes", gm2.vtysh("show bgp gsa routes"))
    new = sr_lab.keys(gm1)["A"]
    check(sr_lab.keys(gm2).get("A") != new, f"gm2 has no key of A's new epoch {new}: it cannot open what is sealed now")
    seen = sr_lab.group_sa_ping(lab, gm1, gm3, "A")
    check(seen["spi"] != old_spi, f"gm1 and gm3 go on under the new SPI {seen['spi']}")
    for gm in (gm1, gm3):
        wait_until(f"{gm.name} drops the old SA", lambda: labmod.gdoi_old_sa_removed(gm, "A", old_spi), timeout=30)
    p = labmod.lan_ping(gm2, gm1, count=2, check=False)
    show(gm2, f"ping -I {gm2.lan_addr} {gm1.lan_addr}", ping_line(p.stdout))
    check(p.returncode != 0, "gm2 is locked out")


def main():
    keep = "--keep" in sys.argv[1:]
    lab = sr_lab.build("gsdemo")
    ok = True
    with lab:
        try:
            story(lab)
        except (StepFailed, AssertionError, labmod.LabError) as e:
            print(f"\ndemo: a step failed: {e}", file=sys.stderr)
            ok = False
        finally:
            if getattr(lab, "capture", None):
                stop_capture(lab)

        step("What to look at next")
        print(f"""\
  daemon logs     {lab.dir}/<router>/{{zebra,bgpd,charon}}.log (kept after the demo)
  configurations  {lab.dir}/<router>/{{zebra,bgpd}}.conf, gdoi.conf, strongswan.conf
  BGP capture     {lab.dir}/bgp.pcap (tshark -r ... -V: attribute 255 is "Unknown")
  the scenarios   tests/lab/test_bgp_gsa.py, tests/lab/test_bgp_gsa_traffic.py
  docs            docs/bgp-gsa.md (groups over BGP), docs/gdoi.md, docs/control-socket.md""")
        if keep:
            ks = lab["ks"]
            print(f"""
The lab is up. In another shell, for example:
  nsenter --target {ks.holder.pid} --net --mount {lab.frr}/bin/vtysh
  nsenter --target {lab['gm1'].holder.pid} --net --mount {lab.ss}/sbin/gdoictl --socket {lab['gm1'].dir}/run/strongswan/gdoi.vici sas A
Press Enter to tear it down.""")
            input()
        step("Tearing down: every daemon stopped, every namespace removed")
    left = labmod.lab_namespaces()
    print("  namespaces left: " + (", ".join(left) if left else "none"))
    print("\ndemo: " + ("every step did what it says" if ok and not left else "FAILED"))
    return 0 if ok and not left else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except labmod.LabError as e:
        print(f"demo: {e}", file=sys.stderr)
        sys.exit(1)
