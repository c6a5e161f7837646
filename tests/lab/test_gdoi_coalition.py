# SPDX-License-Identifier: GPL-2.0-or-later
"""Evicted members cannot read anything new, even together.

A key server and eight members gm1..gm8, each with its own LAN; every
member logs the keys it installs (save_member_keys) and the backbone is
captured for the whole run. gm1..gm6 ping each other's LANs in a ring at
10 per second while the key server evicts gm7, later gm8, and then rekeys
once more; after each step the test waits until gm1..gm6 are on the new
SA. Then coalition.py, a decoder that shares no code with the plugin,
pools what gm7 and gm8 ever held and works out what they can open from the
capture: no GSA_REKEY sent after gm8's eviction but that eviction's own
envelope (under the Rekey SA gm8 held), and no ESP packet on an SA made
after gm8 left; nor does either of them alone. The same decoder with
gm1's keys, also with only the keys gm1 held before gm8's eviction or at
its registration, opens all of them, so the analysis is not vacuous. No
ping of gm1..gm6 is lost.
"""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, current_spi, registered

HERE = Path(__file__).resolve().parent
RING = [f"gm{i}" for i in range(1, 7)]
CAPTURE_FILTER = "udp port 848 or udp port 4500 or ip proto 50 or (ip[6:2] & 0x1fff != 0)"


@pytest.fixture(scope="module")
def clab(tmp_path_factory):
    lab = labmod.gdoi_lab("gscoal", members=8)
    pcap = tmp_path_factory.mktemp("coalition") / "backbone.pcap"
    with lab:
        cap = subprocess.Popen(["ip", "netns", "exec", lab.bb, "dumpcap", "-q", "-P", "-i", "br0",
                                "-f", CAPTURE_FILTER, "-w", str(pcap)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until("the backbone capture", lambda: pcap.exists() and pcap.stat().st_size >= 24, timeout=20)
            # members send on a new SA one second after they got it, so that
            # every member receives on it by then
            labmod.configure_gdoi(lab, server_extra="\t\tactivation_delay = 1s", member_keys=True)
            lab.capture, lab.pcap = cap, pcap
            yield lab
        finally:
            if cap.poll() is None:
                cap.send_signal(signal.SIGINT)
                cap.wait(timeout=20)


class Pinger:
    """ping from src's LAN to dst's LAN at 10 per second until stopped."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.out = src.dir / f"ping-{dst.name}.out"
        with open(self.out, "w") as f:
            self.p = subprocess.Popen(src.cmd(["ping", "-n", "-i", "0.1", "-W", "1", "-I", src.lan_addr,
                                               dst.lan_addr]), stdout=f, stderr=subprocess.STDOUT)

    def replies(self):
        return len(re.findall(r"icmp_seq=\d+ ttl=", self.out.read_text()))

    def stop(self):
        """(requests sent, the sequence numbers answered)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        self.p.wait(timeout=10)
        text = self.out.read_text()
        m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
        assert m, f"{self.src.name} -> {self.dst.name}: no statistics\n{text[-2000:]}"
        answered = {int(n) for n in re.findall(r"icmp_seq=(\d+) ttl=", text)}
        return int(m.group(1)), answered


def key_log(router):
    path = labmod.member_keys_file(router)
    return path.read_text().splitlines() if path.exists() else []


def teks_in(lines):
    return [json.loads(line)["id"] for line in lines if json.loads(line)["kind"] == "tek"]


def on_one_new_sa(lab, old):
    """The key server's current SPI once gm1..gm6 all use it and it is not old."""
    ks = current_spi(lab["ks"])
    if ks is None or ks == old:
        return None
    return ks if all(current_spi(lab[n]) == ks for n in RING) else None


def step(lab, pingers, what, action):
    """Runs action, waits until gm1..gm6 are on a new SA and every ping
    has had 20 more replies (members send on a new SA one second after
    they got it); returns (start time, new SPI)."""
    old = current_spi(lab["ks"])
    t = time.time()
    action()
    spi = wait_until(f"gm1..gm6 on the SA after {what}", lambda: on_one_new_sa(lab, old), timeout=30)
    seen = {p: p.replies() for p in pingers}
    wait_until(f"pings through the SA after {what}", lambda: all(p.replies() >= seen[p] + 20 for p in pingers),
               timeout=30)
    return t, spi


def decode(lab, tmp_path, *logs, lines=None):
    """coalition.py's report for the pooled key logs (each cut to its first
    `lines` lines if given)."""
    paths = []
    for router in logs:
        text = key_log(router)[:lines] if lines is not None else key_log(router)
        path = tmp_path / f"{router.name}-{len(text)}.json"
        path.write_text("".join(line + "\n" for line in text))
        paths.append(str(path))
    p = subprocess.run([sys.executable, str(HERE / "coalition.py"), "--pcap", str(lab.pcap), "--keys", *paths],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["undecoded"] == [], f"the decoder could not read every message: {report['undecoded']}"
    return report


def rekeys_since(report, t):
    return [r for r in report["rekeys"] if r["time"] >= t]


def test_evicted_members_together_read_nothing_sent_after_the_last_left(clab, tmp_path):
    ks = clab["ks"]
    gms = {n: clab[n] for n in (f"gm{i}" for i in range(1, 9))}
    for gm in gms.values():
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=60)
    first_spi = wait_until("one SA everywhere", lambda: len({current_spi(g) for g in gms.values()}) == 1
                           and current_spi(gms["gm1"]), timeout=30)
    ring = [(gms[RING[i]], gms[RING[(i + 1) % len(RING)]]) for i in range(len(RING))]
    for a, b in ring:
        wait_until(f"{a.name} reaches {b.name}",
                   lambda: a.run(["ping", "-n", "-c", "1", "-W", "1", "-I", a.lan_addr, b.lan_addr],
                                 check=False).returncode == 0, timeout=30)
    pingers = [Pinger(a, b) for a, b in ring]
    try:
        wait_until("the ring of pings running", lambda: all(p.replies() >= 15 for p in pingers), timeout=30)
        t7, spi7 = step(clab, pingers, "gm7's eviction",
                        lambda: labmod.gdoictl(ks, "evict", GROUP, "gm7.example.net"))
        before8 = len(key_log(gms["gm1"]))
        t8, spi8 = step(clab, pingers, "gm8's eviction",
                        lambda: labmod.gdoictl(ks, "evict", GROUP, "gm8.example.net"))
        _, spi9 = step(clab, pingers, "a rekey", lambda: labmod.gdoictl(ks, "rekey", GROUP))
    finally:
        results = [(p, *p.stop()) for p in pingers]
    clab.capture.send_signal(signal.SIGINT)
    _, err = clab.capture.communicate(timeout=30)
    m = re.search(r"received/dropped on interface '[^']*': (\d+)/(\d+)", err)
    assert m and int(m.group(2)) == 0, f"the capture dropped packets: {err}"

    # no ping lost: every request was answered but the one in flight when
    # its pinger was stopped
    for p, sent, answered in results:
        assert sent >= 75, (p.src.name, sent)
        missing = set(range(1, sent + 1)) - answered
        assert missing <= {sent}, f"{p.src.name} -> {p.dst.name}: no answer to {sorted(missing)} of {sent}"
    assert len(labmod.gdoictl(ks, "members", GROUP)["members"]) == 6

    # the SAs made after gm8 left, from gm1's own log
    new_spis = teks_in(key_log(gms["gm1"])[before8:])
    new_keks = {json.loads(line)["id"] for line in key_log(gms["gm1"])[before8:] if json.loads(line)["kind"] == "kek"}
    assert new_keks, "gm1 logged the Rekey SA of gm8's eviction"
    assert {spi8, spi9} <= set(new_spis), new_spis
    assert first_spi in teks_in(key_log(gms["gm7"])) and spi7 in teks_in(key_log(gms["gm8"]))
    assert spi8 not in teks_in(key_log(gms["gm8"])), "gm8 installed nothing after its eviction"

    # positive control: gm1's keys open everything sent after gm8 left,
    # also when the decoder has only the keys gm1 held before gm8's
    # eviction, or only those of its registration: it then follows the
    # key tree's intermediate keys (RFC 9838 Key Paths) as gm1 did
    registration = [json.loads(line)["kind"] for line in key_log(gms["gm1"])].index("tek") + 1
    for label, report in (("gm1", decode(clab, tmp_path, gms["gm1"])),
                          ("gm1 before gm8's eviction", decode(clab, tmp_path, gms["gm1"], lines=before8)),
                          ("gm1 at registration", decode(clab, tmp_path, gms["gm1"], lines=registration))):
        after = rekeys_since(report, t8)
        assert len(after) >= 3, (label, report["rekeys"])
        assert all(r["opened"] for r in after), (label, after)
        assert after[0]["intermediate_keys"] and after[0]["flat_messages"] == 0 \
            and after[0]["member_bags"] == 1, \
            f"gm8's eviction carries the key tree's new keys as WRAP_KEYs in a member key bag: {after[0]}"
        for spi in new_spis:
            esp = report["esp"].get(spi)
            assert esp and esp["packets"] > 0, f"{label}: no ESP on {spi} in the capture"
            assert esp["opened"] == esp["packets"], (label, spi, esp)

    # the coalition, and each of them alone
    for who in (("gm7", "gm8"), ("gm7",), ("gm8",)):
        report = decode(clab, tmp_path, *(gms[n] for n in who))
        after = rekeys_since(report, t8)
        envelope, rest = after[0], after[1:]
        if "gm8" in who:
            assert envelope["opened"], f"{who}: gm8 held the Rekey SA of its eviction's envelope"
            assert envelope["intermediate_keys"], envelope
        else:
            assert not envelope["opened"], f"{who}: {envelope}"
        assert not [r for r in rest if r["opened"]], f"{who} opened rekeys sent after gm8 left: {rest}"
        assert not set(report["keks"]) & new_keks, f"{who} learned a Rekey SA made after gm8 left"
        assert not set(report["teks"]) & set(new_spis), f"{who} learned a TEK made after gm8 left"
        for spi in new_spis:
            assert report["esp"][spi]["opened"] == 0, f"{who} opened ESP on {spi}: {report['esp'][spi]}"
        # what they held does work
        assert report["esp"][first_spi]["opened"] > 0, who
        if "gm7" in who:
            assert rekeys_since(report, t7)[0]["opened"], f"{who}: gm7's eviction envelope"
