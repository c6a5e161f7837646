# SPDX-License-Identifier: GPL-2.0-or-later
"""G-IKEv2 on the production data plane: the key server and three members
are QEMU guests on Debian's kernel (guest.py), whose charon installs the
group SA in XFRM through kernel-netlink.

The members register, all hold the group SA under one SPI in XFRM (inbound
with the replay window off, one outbound state per tunnel endpoint), and
their LANs reach each other through it: pings and a 2 MB TCP transfer,
counted by `ip -s xfrm state` in the guests. Two members sending at once on
the one SPI, their sequence numbers far apart, are both accepted; their ESP
packets, captured on the backbone, show how XFRM builds GCM IVs for a
shared SA (docs/gdoi.md). GSA_REKEYs go to a multicast group and move the
members to a new SA in XFRM; evicting gm3 rekeys the others without losing
a ping at 10/s and locks gm3 out.
"""
import re
import subprocess
import time

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, registered

MCAST = "239.192.0.2"


@pytest.fixture(scope="module")
def xlab():
    lab = labmod.gdoi_lab("gsxfrm", dataplane="xfrm")
    t0 = time.monotonic()
    with lab:
        print(f"\nguests up with {lab.accel} in {time.monotonic() - t0:.1f}s: "
              + ", ".join(f"{r.name} {r.guest.boot_s:.1f}s" for r in lab.routers.values()))
        for r in lab.routers.values():
            # GSA_REKEYs go out to the multicast group on the backbone
            r.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
        labmod.configure_gdoi(lab, server_extra=f"\t\trekey = multicast\n\t\tmulticast = {MCAST}",
                              member_extra=f"\t\tmulticast = {MCAST}")
        for gm in gms(lab):
            wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=60)
        print(f"group up {time.monotonic() - t0:.1f}s after the start")
        yield lab


def gms(lab):
    return [lab["gm1"], lab["gm2"], lab["gm3"]]


def xfrm_states(router):
    """The ESP states in the guest's XFRM, from `ip -s xfrm state`:
    [{src, dst, spi, aead, enc, auth, encap, replay_window, bytes, packets, replay, failed, oseq}]."""
    out = router.run(["ip", "-s", "xfrm", "state"]).stdout
    states = []
    for block in re.split(r"^(?=src )", out, flags=re.M):
        m = re.match(r"src (\S+) dst (\S+)\s+proto esp spi 0x([0-9a-f]+)", block)
        if not m:
            continue
        cur = re.search(r"lifetime current:\s+(\d+)\(bytes\), (\d+)\(packets\)", block)
        stats = re.search(r"stats:\s+replay-window (\d+) replay (\d+) failed (\d+)", block)
        ctx = re.search(r"anti-replay context: seq 0x([0-9a-f]+), oseq 0x([0-9a-f]+)", block)
        aead = re.search(r"aead (\S+)", block)
        enc = re.search(r"\benc (\S+)", block)
        auth = re.search(r"auth-trunc (\S+)", block)
        states.append({
            "src": m.group(1), "dst": m.group(2), "spi": f"{int(m.group(3), 16):08x}",
            "aead": aead.group(1) if aead else None,
            "enc": enc.group(1) if enc else None, "auth": auth.group(1) if auth else None,
            "encap": "encap type espinudp" in block,
            "replay_window": int(re.search(r"replay-window (\d+)", block).group(1)),
            "bytes": int(cur.group(1)), "packets": int(cur.group(2)),
            "replay": int(stats.group(2)), "failed": int(stats.group(3)),
            "oseq": int(ctx.group(2), 16) if ctx else None,
        })
    return states


def state(router, spi, dst, src=None):
    found = [s for s in xfrm_states(router) if s["spi"] == spi and s["dst"] == dst and (src is None or s["src"] == src)]
    assert len(found) == 1, (router.name, spi, dst, xfrm_states(router))
    return found[0]


def inbound(router, spi):
    return state(router, spi, router.addr, "0.0.0.0")


def outbound(router, spi, peer):
    return state(router, spi, peer.addr, router.addr)


def ping(src, dst, count=5, interval="0.1", check=True):
    p = src.run(["ping", "-n", "-q" if count > 100 else "-n", "-c", str(count), "-i", interval, "-W", "2",
                 "-I", src.lan_addr, dst.lan_addr], check=False, timeout=count * float(interval) * 3 + 30)
    if check:
        assert p.returncode == 0, f"{src.name} -> {dst.name}: {p.stdout}{p.stderr}"
    return p


def test_members_hold_one_group_sa_in_xfrm(xlab):
    spis = {gm.name: current_spi(gm) for gm in gms(xlab)}
    assert len(set(spis.values())) == 1 and None not in spis.values(), spis
    spi = spis["gm1"]
    assert len(labmod.gdoictl(xlab["ks"], "members", GROUP)["members"]) == 3
    for gm in gms(xlab):
        wait_until(f"{gm.name}: the group SA in XFRM",
                   lambda: any(s["spi"] == spi for s in xfrm_states(gm)), timeout=20)
        ins = inbound(gm, spi)
        # the shared SA: AES-GCM, ESP in UDP, and no anti-replay window
        assert ins["aead"] == "rfc4106(gcm(aes))" and ins["encap"] and ins["replay_window"] == 0, ins
        for peer in gms(xlab):
            if peer is not gm:
                out = outbound(gm, spi, peer)
                assert out["aead"] == "rfc4106(gcm(aes))" and out["encap"], out
    # the key server is no member: no group SA of its own
    assert xfrm_states(xlab["ks"]) == []
    # charon drove XFRM through kernel-netlink; kernel-libipsec is not loaded
    log = (xlab["gm1"].dir / "charon.log").read_text()
    assert "kernel-netlink" in log and "kernel-libipsec" not in log


def test_pings_and_bulk_transfer_through_xfrm(xlab):
    g = gms(xlab)
    spi = current_spi(g[0])
    for a, b in ((g[0], g[1]), (g[0], g[2]), (g[1], g[2]), (g[2], g[0])):
        wait_until(f"{a.name} reaches {b.name}", lambda: ping(a, b, count=1, check=False).returncode == 0,
                   timeout=30)
        out_before, in_before = outbound(a, spi, b), inbound(b, spi)
        ping(a, b, count=10)
        out_after, in_after = outbound(a, spi, b), inbound(b, spi)
        # ten echo requests left a's outbound state to b and came in on b's
        assert out_after["packets"] - out_before["packets"] >= 10, (out_before, out_after)
        assert in_after["packets"] - in_before["packets"] >= 10, (in_before, in_after)
    gm1, gm2 = g[0], g[1]
    size = 2 * 1024 * 1024
    before_out, before_in = outbound(gm1, spi, gm2), inbound(gm2, spi)
    received, took = labmod.lan_bulk_transfer(gm1, gm2, size, timeout=60)
    assert received == size
    after_out, after_in = outbound(gm1, spi, gm2), inbound(gm2, spi)
    sent = after_out["bytes"] - before_out["bytes"]
    received = after_in["bytes"] - before_in["bytes"]
    print(f"\n2 MiB gm1 -> gm2 in {took:.1f}s; XFRM gm1 out {after_out['packets'] - before_out['packets']} packets "
          f"{sent} bytes, gm2 in {after_in['packets'] - before_in['packets']} packets {received} bytes")
    assert sent >= size and received >= size, (before_out, after_out, before_in, after_in)
    for gm in g:
        for s in xfrm_states(gm):
            assert s["replay"] == 0 and s["failed"] == 0, (gm.name, s)


_SNIFF_ESP = r"""
import os, socket, sys, time
# all protocols: a port's outgoing frames reach only such sockets
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
s.bind((sys.argv[1], 0))
s.settimeout(0.5)
os.close(os.open(sys.argv[3], os.O_CREAT | os.O_WRONLY, 0o644))  # capturing now
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        pkt, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[1] != 0x0800:
        continue
    ihl = (pkt[0] & 15) * 4
    udp = pkt[ihl:]
    if pkt[9] != 17 or int.from_bytes(udp[2:4], "big") != 4500 or len(udp) < 8 + 24 or udp[8:12] == bytes(4):
        continue
    esp = udp[8:]
    print(socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20]), esp[0:4].hex(),
          int.from_bytes(esp[4:8], "big"), esp[8:8 + int(sys.argv[4])].hex(), flush=True)
"""


def capture_esp(lab, router, seconds, iv_len=8):
    """ESP in UDP reaching router's backbone port (its tap on the bridge),
    for `seconds`; returns a function giving [(src, dst, spi, seq, iv)]
    (the iv_len octets after the sequence number)."""
    ready = lab.dir / f"sniff-esp-{time.monotonic_ns()}.ready"
    p = subprocess.Popen(["ip", "netns", "exec", lab.bb, "/usr/bin/python3", "-c", _SNIFF_ESP,
                          router.guest.tap, str(seconds), str(ready), str(iv_len)],
                         stdout=subprocess.PIPE, text=True)
    wait_until("ESP capture running", lambda: ready.exists() or p.poll() is not None, timeout=10, interval=0.05)
    assert ready.exists(), f"the capture exited with {p.returncode}"

    def result():
        out, _ = p.communicate(timeout=seconds + 15)
        return [(src, dst, spi, int(seq), bytes.fromhex(iv))
                for src, dst, spi, seq, iv in (line.split() for line in out.splitlines() if line)]
    return result


def test_two_senders_on_one_spi_both_accepted_and_their_ivs(xlab):
    """gm1 (whose sequence numbers the transfer took past a thousand) and
    gm3 ping gm2 at once under the one SPI: gm2's XFRM sees sequence
    numbers jump back and forth by far more than any replay window and
    accepts all. The capture shows how XFRM makes the GCM IVs."""
    gm1, gm2, gm3 = xlab["gm1"], xlab["gm2"], xlab["gm3"]
    spi = current_spi(gm1)
    assert inbound(gm2, spi)["replay_window"] == 0
    if outbound(gm1, spi, gm2)["oseq"] < 1200:
        # gm1's sequence numbers well past gm3's (the transfer does this
        # when it ran before)
        ping(gm1, gm2, count=1200, interval="0.002")
    assert outbound(gm1, spi, gm2)["oseq"] - outbound(gm3, spi, gm2)["oseq"] > 1100
    before = inbound(gm2, spi)
    capture = capture_esp(xlab, gm2, 12)
    p1 = gm1.popen(["ping", "-n", "-c", "40", "-i", "0.1", "-W", "2", "-I", gm1.lan_addr, gm2.lan_addr], merge=True)
    p3 = gm3.popen(["ping", "-n", "-c", "40", "-i", "0.1", "-W", "2", "-I", gm3.lan_addr, gm2.lan_addr], merge=True)
    out1, _ = p1.communicate(timeout=60)
    out3, _ = p3.communicate(timeout=60)
    packets = capture()
    assert p1.returncode == 0 and " 0% packet loss" in out1, out1
    assert p3.returncode == 0 and " 0% packet loss" in out3, out3
    after = inbound(gm2, spi)
    print(f"\ngm2's inbound state {spi}: {after['packets'] - before['packets']} packets, "
          f"{after['bytes'] - before['bytes']} bytes from gm1 and gm3; replay {after['replay']} failed {after['failed']}")
    assert after["packets"] - before["packets"] >= 80 and after["replay"] == 0 and after["failed"] == 0, (before, after)
    to_gm2 = [(src, seq, iv) for src, dst, s, seq, iv in packets if dst == gm2.addr and s == spi]
    by = {a: [(seq, iv) for src, seq, iv in to_gm2 if src == a] for a in (gm1.addr, gm3.addr)}
    assert len(by[gm1.addr]) >= 40 and len(by[gm3.addr]) >= 40, {a: len(v) for a, v in by.items()}
    # in arrival order the sequence numbers under the one SPI go back by more
    # than a replay window could take (anti-replay would have dropped these)
    seqs = [seq for _, seq, _ in to_gm2]
    assert max(a - b for a, b in zip(seqs, seqs[1:])) > 1024, seqs[:20]

    # the IVs: 8 octets each; with seqiv they are the 64-bit sequence number
    # XOR a salt the sending state drew at random when it was made
    lines = ["GCM IVs of two senders on group SA " + spi + " (captured at gm2's backbone port):"]
    salts = {}
    for a, name in ((gm1.addr, "gm1"), (gm3.addr, "gm3")):
        xors = {bytes(x ^ y for x, y in zip(iv, seq.to_bytes(8, "big"))) for seq, iv in by[a]}
        assert len(xors) == 1, f"{name}: IV XOR sequence number is not one salt: {len(xors)} values"
        salts[name] = xors.pop()
        for seq, iv in by[a][:3]:
            lines.append(f"  {name} seq {seq:5d} IV {iv.hex()}")
        lines.append(f"  {name}: {len(by[a])} packets, IV XOR seq = {salts[name].hex()} for all")
    ivs1 = {iv for _, iv in by[gm1.addr]}
    ivs3 = {iv for _, iv in by[gm3.addr]}
    lines.append(f"  IVs in common: {len(ivs1 & ivs3)}")
    (xlab.dir / "iv-measurement.txt").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))
    assert salts["gm1"] != salts["gm3"]
    assert not ivs1 & ivs3


def test_multicast_rekey_moves_xfrm_to_the_new_sa(xlab):
    ks, g = xlab["ks"], gms(xlab)
    old = current_spi(g[0])
    before = {gm.name: counters(gm)["rekeys"] for gm in g}
    capture = labmod.sniff_rekeys(g[0], 10, first=True)
    labmod.gdoictl(ks, "rekey", GROUP)
    for gm in g:
        wait_until(f"{gm.name} applies the rekey", lambda: counters(gm)["rekeys"] > before[gm.name], timeout=30)
    seen = {dst for dst, _ in capture()}
    assert seen == {MCAST}, seen
    new = current_spi(g[0])
    assert new != old and all(current_spi(gm) == new for gm in g)
    gm1, gm2 = g[0], g[1]
    wait_until("gm1's outbound state to gm2 on the new SPI",
               lambda: any(s["spi"] == new and s["dst"] == gm2.addr for s in xfrm_states(gm1)), timeout=20)
    out_before, in_before = outbound(gm1, new, gm2), inbound(gm2, new)
    ping(gm1, gm2, count=10)
    assert outbound(gm1, new, gm2)["packets"] - out_before["packets"] >= 10
    assert inbound(gm2, new)["packets"] - in_before["packets"] >= 10
    # the old SA's outbound states are gone at once; its inbound half after the delay
    assert not any(s["spi"] == old and s["src"] == gm1.addr for s in xfrm_states(gm1))
    wait_until("gm1 removes the old inbound state",
               lambda: not any(s["spi"] == old for s in xfrm_states(gm1)), timeout=30)


def test_evicting_gm3_without_loss_locks_it_out_of_xfrm(xlab):
    ks, gm1, gm2, gm3 = xlab["ks"], xlab["gm1"], xlab["gm2"], xlab["gm3"]
    old, new = labmod.gdoi_evict_without_loss(ks, GROUP, gm3, gm1, gm2, timeout=30)
    # gm3 got the GSA_REKEY by multicast too, but not the new keys: it keeps
    # the old SA, or drops the group once it finds itself left out
    assert current_spi(gm3) in (old, None), "gm3 got no new keys"
    assert not any(s["spi"] == new for s in xfrm_states(gm3)), "no state of the new SA in gm3's XFRM"
    # gm1 and gm2 report the old SA gone, and gm3 then reaches no one
    labmod.gdoi_locked_out(GROUP, gm3, (gm1, gm2), old)
    for gm in (gm1, gm2):
        assert not any(s["spi"] == old for s in xfrm_states(gm)), gm.name
    ping(gm1, gm2)
