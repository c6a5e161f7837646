# SPDX-License-Identifier: GPL-2.0-or-later
"""A group SA with AES-CBC and HMAC-SHA-256 on XFRM (docs/gdoi.md: what a
group does that must rule out GCM nonce reuse among senders): the key
server and two members as QEMU guests; the members hold the SA in XFRM
(cbc(aes), hmac(sha256), replay window off), their LANs reach each other
through it, counted by `ip -s xfrm state`, and the IVs the two senders
put on the wire, captured on the backbone, are all different and follow
no sequence number."""
import time

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import current_spi, registered
from test_gdoi_xfrm import capture_esp, inbound, outbound, ping, xfrm_states


@pytest.fixture(scope="module")
def clab():
    lab = labmod.gdoi_lab("gsxcbc", members=2, dataplane="xfrm")
    t0 = time.monotonic()
    with lab:
        print(f"\nguests up with {lab.accel} in {time.monotonic() - t0:.1f}s")
        labmod.configure_gdoi(lab, esp_proposal="aes256-sha256")
        for gm in (lab["gm1"], lab["gm2"]):
            wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=60)
        yield lab


def test_a_cbc_hmac_group_sa_carries_traffic_in_xfrm(clab):
    gm1, gm2 = clab["gm1"], clab["gm2"]
    spi = current_spi(gm1)
    assert spi and current_spi(gm2) == spi
    for gm in (gm1, gm2):
        wait_until(f"{gm.name}: the group SA in XFRM", lambda: any(s["spi"] == spi for s in xfrm_states(gm)),
                   timeout=20)
        ins = inbound(gm, spi)
        assert ins["enc"] == "cbc(aes)" and ins["auth"] == "hmac(sha256)" and ins["aead"] is None, ins
        assert ins["replay_window"] == 0 and ins["encap"], ins
    wait_until("gm1 reaches gm2", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=30)
    before = outbound(gm1, spi, gm2), inbound(gm2, spi), outbound(gm2, spi, gm1), inbound(gm1, spi)
    capture = capture_esp(clab, gm2, 8, iv_len=16)
    ping(gm1, gm2, count=20)
    packets = capture()
    after = outbound(gm1, spi, gm2), inbound(gm2, spi), outbound(gm2, spi, gm1), inbound(gm1, spi)
    for b, a in zip(before, after):
        assert a["packets"] - b["packets"] >= 20 and a["failed"] == 0, (b, a)
    # the echo requests (gm1 -> gm2) and replies (gm2 -> gm1) both pass gm2's port
    ivs = {src: [(seq, iv) for src_, dst, s, seq, iv in packets if s == spi and src_ == src]
           for src in (gm1.addr, gm2.addr)}
    assert all(len(v) >= 20 for v in ivs.values()), {k: len(v) for k, v in ivs.items()}
    every = [iv for v in ivs.values() for _, iv in v]
    assert len(set(every)) == len(every), "an IV repeated"
    for v in ivs.values():
        # unlike GCM's seqiv, no fixed salt XOR the sequence number
        xors = {bytes(x ^ y for x, y in zip(iv[8:], seq.to_bytes(8, "big"))) for seq, iv in v}
        assert len(xors) == len(v)
    print(f"\nCBC IVs, gm1 seq {ivs[gm1.addr][0][0]}: {ivs[gm1.addr][0][1].hex()}, "
          f"seq {ivs[gm1.addr][1][0]}: {ivs[gm1.addr][1][1].hex()}")
