# SPDX-License-Identifier: GPL-2.0-or-later
"""The group SAs' mode on the wire, kernel-libipsec.

- tunnel mode with address preservation (RFC 9838 2.3.4, the key server's
  default): the outer header of a member's ESP carries the inner packet's
  addresses, here one LAN address to another; the backbone routes the LANs
  (as a GETVPN WAN does), and charon's own ESP leaves with a firewall mark
  past the routes kernel-libipsec installs for the policies;
- gateway tunnels (the S/R design): the outer header goes from gateway to
  gateway, whatever the inner addresses;
- transport mode (N(USE_TRANSPORT_MODE)): libipsec makes tunnel-mode SAs
  only, so the member refuses the registration and says why.
"""
import re
import subprocess
import time

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"

# charon's ESP in UDP leaves with mark 0x42 and is routed by the main table,
# not by table 220, where kernel-libipsec routes the protected peers' LAN
# addresses into its TUN device; and that device may route to a peer that
# is also an outer address (allow_peer_ts)
PRESERVING_CHARON = """\
		socket-default {
			fwmark = 0x42
		}
		kernel-netlink {
			fwmark = !0x42
		}
		kernel-libipsec {
			allow_peer_ts = yes
		}"""

_SNIFF_IP = r"""
import os, socket, sys, time
seconds, ready, stop = sys.argv[1:4]
# ETH_P_ALL: a socket of one protocol sees only what comes in, not what goes out
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
s.bind(("eth0", 0))
s.settimeout(0.2)
os.close(os.open(ready, os.O_CREAT | os.O_WRONLY, 0o644))
end = time.time() + float(seconds)
while time.time() < end:
    stopping = os.path.exists(stop)  # then read what is queued, and end
    if stopping:
        s.setblocking(False)
    try:
        pkt, where = s.recvfrom(65535)
    except (socket.timeout, BlockingIOError):
        if stopping:
            break
        continue
    if where[1] != 0x0800:
        continue
    hl = (pkt[0] & 15) * 4
    proto, src, dst = pkt[9], socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
    l4 = pkt[hl:]
    if proto == 17 and int.from_bytes(l4[2:4], "big") == 4500 and l4[8:12] != bytes(4):
        print("esp", src, dst, l4[8:12].hex(), flush=True)
    elif proto == 1:
        print("icmp", src, dst, "-", flush=True)
"""


def sniff_ip(router, seconds=30):
    """Capture on router's eth0, both ways: ESP in UDP (with its SPI) and plain ICMP.
    Returns a function that ends the capture and gives [(kind, src, dst, spi)]."""
    tag = time.monotonic_ns()
    ready, stop = router.dir / f"sniffip-{tag}.ready", router.dir / f"sniffip-{tag}.stop"
    p = router.popen(["/usr/bin/python3", "-c", _SNIFF_IP, str(seconds), ready, stop])
    wait_until(f"{router.name}: capture running", lambda: ready.exists() or p.poll() is not None,
               timeout=10, interval=0.05)
    assert ready.exists(), f"{router.name}: the capture did not start"

    def result():
        stop.touch()
        out, _ = p.communicate(timeout=seconds + 15)
        return [tuple(line.split()) for line in out.splitlines() if line]
    return result


def state(router):
    for g in labmod.gdoictl(router, "groups").get("groups", []):
        if g.get("name") == GROUP:
            return g.get("state")
    return None


def route_lans(lab):
    """The backbone routes every LAN to its router, as a provider WAN does."""
    for r in lab.routers.values():
        for other in lab.routers.values():
            if other is not r:
                r.run(["ip", "route", "add", other.lan_prefix, "via", other.addr])


def group_esp(capture, spi):
    return {(src, dst) for kind, src, dst, s in capture if kind == "esp" and s == spi}


def pings_through_group_sa(gm1, gm2):
    """gm1's LAN pings gm2's while gm2's eth0 is captured: the ESP seen
    under the group SPI ({(outer src, outer dst)}) and any plain ICMP."""
    wait_until("gm1 reaches gm2's LAN", lambda: labmod.lan_ping(gm1, gm2, count=1, check=False).returncode == 0,
               timeout=30)
    spi = labmod.gdoi_current_spi(gm1, GROUP)
    assert spi and labmod.gdoi_current_spi(gm2, GROUP) == spi
    capture = sniff_ip(gm2)
    labmod.lan_ping(gm1, gm2, count=5)
    seen = capture()
    plain = [c for c in seen if c[0] == "icmp" and {c[1], c[2]} == {gm1.lan_addr, gm2.lan_addr}]
    return spi, group_esp(seen, spi), plain


@pytest.mark.parametrize("mode", ["tunnel", "gateway"])
def test_outer_addresses(mode, lab_logs):
    lab = labmod.gdoi_lab(f"gstm{mode[0]}", members=2)
    lab_logs(lab)
    with lab:
        if mode == "tunnel":
            route_lans(lab)
        labmod.configure_gdoi(lab, sa_mode=mode, charon_extra=PRESERVING_CHARON if mode == "tunnel" else "")
        gm1, gm2 = lab["gm1"], lab["gm2"]
        for gm in (gm1, gm2):
            wait_until(f"{gm.name} registered", lambda: state(gm) == "registered", timeout=30)
        spi, esp, plain = pings_through_group_sa(gm1, gm2)
        assert not plain, f"ICMP in the clear: {plain}"
        if mode == "tunnel":
            # address preservation: outer = inner, both ways
            assert esp == {(gm1.lan_addr, gm2.lan_addr), (gm2.lan_addr, gm1.lan_addr)}, esp
            log = (gm1.dir / "charon.log").read_text()
            assert f"installed outbound tunnel-mode SA {spi} {gm1.lan_addr} == {gm2.lan_addr}" in log
        else:
            assert esp == {(gm1.addr, gm2.addr), (gm2.addr, gm1.addr)}, esp


def test_transport_mode_is_refused_on_libipsec(lab_logs):
    lab = labmod.gdoi_lab("gstmx", members=1)
    lab_logs(lab)
    with lab:
        labmod.configure_gdoi(lab, sa_mode="transport")
        gm1 = lab["gm1"]
        why = "charon's data plane is kernel-libipsec, whose SAs are tunnel mode only"
        wait_until("gm1 refuses the registration", lambda: why in (gm1.dir / "charon.log").read_text(), timeout=30)
        line = next(l for l in (gm1.dir / "charon.log").read_text().splitlines() if why in l)
        assert "group blue: registration with" in line and "refused" in line, line
        assert state(gm1) != "registered"
        sas = labmod.gdoictl(gm1, "sas", GROUP, check=False)
        assert not (isinstance(sas, dict) and sas.get("sas")), sas
        # nothing was installed in libipsec either
        assert "installed inbound" not in (gm1.dir / "charon.log").read_text()


# --- XFRM (QEMU guests): both modes that keep addresses ---

_SNIFF_TAP = r"""
import os, socket, sys, time
tap, seconds, ready = sys.argv[1:4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((tap, 0))
s.settimeout(0.2)
os.close(os.open(ready, os.O_CREAT | os.O_WRONLY, 0o644))
end = time.time() + float(seconds)
while time.time() < end:
    try:
        pkt = s.recv(65535)
    except socket.timeout:
        continue
    if pkt[12:14] != b"\x08\x00":
        continue
    ip = pkt[14:]
    hl = (ip[0] & 15) * 4
    proto, src, dst = ip[9], socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    l4 = ip[hl:]
    if proto == 17 and int.from_bytes(l4[2:4], "big") == 4500 and l4[8:12] != bytes(4):
        print("esp", src, dst, l4[8:12].hex(), flush=True)
    elif proto == 1:
        print("icmp", src, dst, "-", flush=True)
"""


def sniff_tap(lab, router, seconds):
    """Both directions on a guest's backbone port (its tap on the bridge)."""
    ready = lab.dir / f"sniff-tap-{time.monotonic_ns()}.ready"
    p = subprocess.Popen(["ip", "netns", "exec", lab.bb, "/usr/bin/python3", "-c", _SNIFF_TAP,
                          router.guest.tap, str(seconds), str(ready)], stdout=subprocess.PIPE, text=True)
    wait_until("capture running", lambda: ready.exists() or p.poll() is not None, timeout=10, interval=0.05)
    assert ready.exists(), f"the capture exited with {p.returncode}"

    def result():
        out, _ = p.communicate(timeout=seconds + 15)
        return [tuple(line.split()) for line in out.splitlines() if line]
    return result


def xfrm_modes(router, spi):
    """{(src, dst): mode} of the XFRM states with this SPI."""
    out = router.run(["ip", "xfrm", "state"]).stdout
    found = {}
    for block in re.split(r"^(?=src )", out, flags=re.M):
        m = re.match(r"src (\S+) dst (\S+)\s+proto esp spi 0x([0-9a-f]+) reqid \d+ mode (\S+)", block)
        if m and f"{int(m.group(3), 16):08x}" == spi:
            found[(m.group(1), m.group(2))] = m.group(4)
    return found


@pytest.fixture(scope="module")
def xlab():
    lab = labmod.gdoi_lab("gstmv", members=2, dataplane="xfrm")
    with lab:
        route_lans(lab)
        labmod.configure_gdoi(lab, sa_mode="tunnel")
        yield lab


@pytest.mark.parametrize("mode", ["tunnel", "transport"])
def test_xfrm_keeps_addresses(xlab, mode, lab_logs):
    lab_logs(xlab)
    ks, gm1, gm2 = xlab["ks"], xlab["gm1"], xlab["gm2"]
    if mode != "tunnel":
        # the key server's new mode reaches the members when they register again
        ks.write_config("gdoi.conf", labmod.gdoi_server_conf(ks, [gm1, gm2], sa_mode=mode))
        ks.swanctl("--reload-settings")
        for gm in (gm1, gm2):
            labmod.gdoictl(gm, "reregister", GROUP, as_json=False)
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: state(gm) == "registered", timeout=90)
    want = {"tunnel": "tunnel", "transport": "transport"}[mode]

    def installed():
        spi = labmod.gdoi_current_spi(gm1, GROUP)
        modes = xfrm_modes(gm1, spi) if spi else {}
        return spi if modes.get((gm1.lan_addr, gm2.lan_addr)) == want else None
    spi = wait_until(f"gm1's {want}-mode SA in XFRM", installed, timeout=60)
    assert xfrm_modes(gm1, spi) == {("0.0.0.0", gm1.lan_addr): want, (gm1.lan_addr, gm2.lan_addr): want}
    wait_until("gm1 reaches gm2's LAN", lambda: labmod.lan_ping(gm1, gm2, count=1, check=False).returncode == 0,
               timeout=60)
    capture = sniff_tap(xlab, gm2, 8)
    labmod.lan_ping(gm1, gm2, count=5)
    seen = capture()
    assert group_esp(seen, spi) == {(gm1.lan_addr, gm2.lan_addr), (gm2.lan_addr, gm1.lan_addr)}, seen
    assert not [c for c in seen if c[0] == "icmp" and {c[1], c[2]} == {gm1.lan_addr, gm2.lan_addr}], seen
