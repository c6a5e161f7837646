# SPDX-License-Identifier: GPL-2.0-or-later
"""Members come back within seconds after the key server restarts.

A key server (ks) and three members (gm1..gm3) are registered. charon on
the key server is killed and started again: it has forgotten every IKE SA
and member. When a member next asks on its old IKE SA (here: a
re-registration), the key server answers with an unprotected
N(INVALID_IKE_SPI) (RFC 7296 2.21.4), and the member registers afresh with
IKE_SA_INIT at once, keeping its group SA until the new registration
replaces it. Traffic between the members' LANs goes on meanwhile.
"""
import time

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, registered


@pytest.fixture(scope="module")
def rlab():
    lab = labmod.gdoi_lab("gsrestrt")
    with lab:
        labmod.configure_gdoi(lab, member_extra="\t\tliveness = 2s")
        yield lab


def ks_members(ks):
    return labmod.gdoi_members(ks, GROUP)


def restart_key_server(ks):
    """Kill charon on the key server and start it again; the time
    (monotonic) at which it served the group again."""
    p = ks.procs["charon"]
    p.kill()
    p.wait(timeout=10)
    labmod.start_gdoi_charon(ks)  # returns once the group is served again
    assert ks.procs["charon"].pid != p.pid
    return time.monotonic()


def registered_by_the_new_key_server(ks, n):
    """The restarted key server is a new process: its counters start at
    zero, so every registration it counts happened after the restart.
    (Members may already be registering while it starts, so its member
    list is not checked for emptiness: that would race with them.)"""
    c = counters(ks)
    assert c["registrations"] == n, c


def show(routers):
    for r in routers:
        print(r.name, labmod.gdoictl(r, "groups", check=False))
        print("\n".join((r.dir / "charon.log").read_text().splitlines()[-25:]))


def test_members_register_again_within_5s_of_a_key_server_restart(rlab):
    ks = rlab["ks"]
    gms = [rlab["gm1"], rlab["gm2"], rlab["gm3"]]
    ids = sorted(f"{gm.name}.example.net" for gm in gms)
    for gm in gms:
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    wait_until("the key server lists every member", lambda: ks_members(ks) == ids, timeout=10)
    gm1, gm2 = gms[0], gms[1]
    pinger, out = labmod.ping_flowing(gm1, gm2.lan_addr, 120)

    back = restart_key_server(ks)
    # the members ask on their old IKE SAs
    for gm in gms:
        labmod.gdoictl(gm, "reregister", GROUP)
    try:
        wait_until("every member registered again", lambda: ks_members(ks) == ids, timeout=5, interval=0.05)
    except labmod.LabError:
        show([ks] + gms)
        raise
    took = time.monotonic() - back
    assert took < 5, took
    print(f"all members registered again {took:.2f} s after the key server was back")
    registered_by_the_new_key_server(ks, len(gms))
    assert counters(ks)["invalidSpi"] == len(gms), counters(ks)
    for gm in gms:
        assert counters(gm)["invalidSpi"] == 1, (gm.name, counters(gm))
        assert registered(gm)

    out += pinger.stdout.read()
    assert pinger.wait(timeout=60) == 0, out
    summary = [line for line in out.splitlines() if "packets transmitted" in line]
    print(summary)
    assert summary and "120 received" in summary[0], out


def test_every_member_registered_again_within_5s_of_a_key_server_restart_unprompted(rlab):
    """Nobody tells the members: their liveness checks find the restarted
    key server (N(INVALID_IKE_SPI), or no answer), and every one is
    registered again within 5 s of the key server serving again."""
    ks = rlab["ks"]
    gms = [rlab["gm1"], rlab["gm2"], rlab["gm3"]]
    ids = sorted(f"{gm.name}.example.net" for gm in gms)
    for gm in gms:
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    wait_until("the key server lists every member", lambda: ks_members(ks) == ids, timeout=10)
    # the members' checks are answered: they keep their IKE SAs
    before = {gm.name: counters(gm) for gm in gms}
    wait_until("liveness checks answered", lambda: all(
        counters(gm)["liveness"] > before[gm.name]["liveness"] for gm in gms), timeout=10)
    assert all(counters(gm)["livenessFailed"] == before[gm.name]["livenessFailed"] for gm in gms)
    gm1, gm2 = gms[0], gms[1]
    pinger, out = labmod.ping_flowing(gm1, gm2.lan_addr, 120)

    killed = time.monotonic()
    back = restart_key_server(ks)
    try:
        wait_until("every member registered again", lambda: ks_members(ks) == ids, timeout=5, interval=0.05)
    except labmod.LabError:
        show([ks] + gms)
        raise
    took = time.monotonic() - back
    print(f"all members registered again {took:.2f} s after the key server was back "
          f"({time.monotonic() - killed:.2f} s after it was killed)")
    assert took < 5, took
    registered_by_the_new_key_server(ks, len(gms))
    for gm in gms:
        c = counters(gm)
        b = before[gm.name]
        assert c["livenessFailed"] == b["livenessFailed"] + 1, (gm.name, b, c)
        assert c["registrations"] == b["registrations"] + 1, (gm.name, b, c)
        assert registered(gm)

    out += pinger.stdout.read()
    assert pinger.wait(timeout=60) == 0, out
    summary = [line for line in out.splitlines() if "packets transmitted" in line]
    print(summary)
    assert summary and "120 received" in summary[0], out
