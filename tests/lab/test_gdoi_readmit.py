# SPDX-License-Identifier: GPL-2.0-or-later
"""An eviction outlives a restart of the key server.

A key server (ks) and two members (gm1, gm2) with PSKs of their own. The
key server starts its group only once its signing key is loaded (it says
why it did not at first), keeps the members it evicts in a state file, and
after a restart of charon still refuses the evicted member, counting it,
until an operator readmits it with gdoictl; then it registers again.
"""
import stat

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, group_state, registered


@pytest.fixture(scope="module")
def rlab():
    lab = labmod.gdoi_lab("gsreadm", members=2)
    with lab:
        labmod.configure_gdoi(lab)
        yield lab


def restart_charon(router):
    p = router.procs["charon"]
    p.terminate()
    p.wait(timeout=10)
    labmod.start_gdoi_charon(router)


def evicted_file(ks):
    return ks.dir / "state" / f"{GROUP}.evicted"


def test_the_group_starts_once_the_key_server_can_sign(rlab):
    ks = rlab["ks"]
    log = (ks.dir / "charon.log").read_text()
    # at charon's start the key was not loaded yet; after --reload-settings it was
    assert f"group {GROUP}: no private key of ks.example.net" in log, "the first load said why"
    assert f"group {GROUP} not started" in log
    assert group_state(ks)["state"] == "serving"
    assert group_state(ks)["rekeyAuth"] == "signature"
    # every member has a PSK of its own: no warning about shared ones
    assert "share one PSK" not in log


def test_an_evicted_member_stays_out_across_a_restart_until_readmitted(rlab):
    ks, gm1, gm2 = rlab["ks"], rlab["gm1"], rlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    labmod.gdoictl(ks, "evict", GROUP, "gm2.example.net")

    # charon on the key server starts again; so do both members (their
    # IKE SAs went with the key server's charon): gm1 registers, gm2 is
    # refused and counted
    restart_charon(ks)
    refused = counters(ks)["droppedUnauthorized"]
    restart_charon(gm1)
    restart_charon(gm2)
    wait_until("gm1 registered with the restarted key server", lambda: registered(gm1), timeout=30)
    wait_until("gm2 refused", lambda: counters(ks)["droppedUnauthorized"] > refused, timeout=30)
    assert not registered(gm2)
    assert current_spi(gm2) is None, "gm2 has no group SA"
    members = labmod.gdoictl(ks, "members", GROUP)
    assert [m["id"] for m in members["members"]] == ["gm1.example.net"], members
    assert members["evicted"] == ["gm2.example.net"], members
    assert group_state(ks)["evicted"] == 1

    # what kept it: a file of the key server's own, written whole
    state = ks.dir / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert [p.name for p in state.iterdir()] == [f"{GROUP}.evicted"], "no temporary file left"
    assert stat.S_IMODE(evicted_file(ks).stat().st_mode) == 0o600
    text = evicted_file(ks).read_text()
    assert b"gm2.example.net".hex() in text and text.endswith("end 1\n"), text

    # the operator lets it back in
    out = labmod.gdoictl(ks, "readmit", GROUP, "gm2.example.net")
    assert out == {"action": "readmit", "group": GROUP, "member": "gm2.example.net", "success": True}
    assert evicted_file(ks).read_text().endswith("end 0\n")
    assert labmod.gdoictl(ks, "members", GROUP)["evicted"] == []
    labmod.gdoictl(gm2, "reregister", GROUP)
    wait_until("gm2 registered again", lambda: registered(gm2), timeout=30)
    assert current_spi(gm2) == current_spi(gm1)
    again = labmod.gdoictl(ks, "readmit", GROUP, "gm2.example.net", check=False)
    assert again.returncode == 1 and "is not evicted from blue" in again.stderr, again
