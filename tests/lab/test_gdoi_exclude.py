# SPDX-License-Identifier: GPL-2.0-or-later
"""Exclusion by Delete (RFC 9838 2.6, Delete of GIKE_UPDATE with SPI 0).

A key server (ks) and two members (gm1, gm2). `gdoictl exclude blue
gm2.example.net` sends gm2 alone a signed GSA_REKEY holding
Delete(GIKE_UPDATE, SPI 0): gm2 removes the group's SAs, says so in its log,
and registers again after a random delay of a few seconds; gm1 keeps its
registration. Without an identity the whole group starts over.
"""
import re

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, group_state, ping, registered

EXCLUDED = "the key server excluded this member"


@pytest.fixture(scope="module")
def xlab():
    lab = labmod.gdoi_lab("gsexcl", members=2)
    with lab:
        labmod.configure_gdoi(lab)
        yield lab


def log_of(router):
    return (router.dir / "charon.log").read_text(errors="replace")


def exclusions(router):
    return log_of(router).count(EXCLUDED)


def test_an_excluded_member_drops_the_group_and_comes_back(xlab):
    ks, gm1, gm2 = xlab["ks"], xlab["gm1"], xlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    ping(gm1, gm2)
    regs1, regs2 = counters(gm1)["registrations"], counters(gm2)["registrations"]
    seen1, seen2 = exclusions(gm1), exclusions(gm2)

    labmod.gdoictl(ks, "exclude", GROUP, "gm2.example.net")
    wait_until("gm2 excluded", lambda: exclusions(gm2) > seen2, timeout=20)
    line = [l for l in log_of(gm2).splitlines() if EXCLUDED in l][-1]
    delay = int(re.search(r"registering again in (\d+) ms", line).group(1))
    assert 1000 <= delay <= 10000, line
    assert "SAs are removed" in line, line

    # gm2 registers again by itself; gm1 never left
    wait_until("gm2 registered again",
               lambda: registered(gm2) and counters(gm2)["registrations"] > regs2, timeout=30)
    assert exclusions(gm1) == seen1
    assert counters(gm1)["registrations"] == regs1
    assert registered(gm1)
    assert f"group {GROUP}: excluded gm2.example.net" in log_of(ks)
    ping(gm1, gm2)


def test_excluding_the_whole_group_starts_every_member_over(xlab):
    ks, gm1, gm2 = xlab["ks"], xlab["gm1"], xlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    before = {gm.name: (exclusions(gm), counters(gm)["registrations"]) for gm in (gm1, gm2)}
    out = labmod.gdoictl(ks, "exclude", GROUP)
    assert out.get("success") is True, out
    for gm in (gm1, gm2):
        seen, regs = before[gm.name]
        wait_until(f"{gm.name} excluded", lambda: exclusions(gm) > seen, timeout=20)
        wait_until(f"{gm.name} registered again",
                   lambda: registered(gm) and counters(gm)["registrations"] > regs, timeout=30)
    assert group_state(ks)["state"] == "serving"
    ping(gm1, gm2)
