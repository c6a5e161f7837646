# SPDX-License-Identifier: GPL-2.0-or-later
"""bgpd's GSA module on the key server's control socket.

The key server (ks) runs bgpd with the GSA module before charon: the module
keeps trying the gdoi plugin's socket, connects once charon is up,
subscribes to the key server's events and asks the daemon's version (a
command round trip). A member registering gives a `member-registered`
event. charon is restarted: the module sees the connection go, connects
again with its backoff, subscribes again and receives events again.
`show bgp gsa json` proves each step.
"""
import os

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"
EVENTS = ("member-registered", "member-left", "member-evicted", "rekey",
          "sa-installed", "sa-removed", "endpoint-changed")


@pytest.fixture(scope="module")
def clab():
    lab = labmod.gdoi_lab("gsctl", members=1)
    with lab:
        ks = lab["ks"]
        labmod.frr_configs(ks, [])
        ks.start_frr()
        yield lab


def control(router):
    return router.vtysh_json("show bgp gsa json")["controlSocket"]


def control_is(router, **want):
    """The controlSocket JSON if every field in want has that value, else None."""
    c = control(router)
    return c if all(c.get(k) == v for k, v in want.items()) else None


def answered(c):
    """Every subscription of this connection answered (confirmed or unknown)."""
    return c if all(c["events"][e]["subscription"] in ("confirmed", "unknown") for e in EVENTS) else None


def member_registered(ks, at_least):
    c = control(ks)
    return c if c["events"]["member-registered"]["count"] >= at_least else None


def test_the_module_keeps_trying_until_charon_runs(clab):
    ks = clab["ks"]
    c = wait_until("a failed attempt", lambda: (lambda c: c if c["failedAttempts"] >= 1 else None)(control(ks)),
                   timeout=10)
    assert c["state"] == "connecting"
    # the gdoi plugin's default socket in the strongSwan prefix (the build
    # may name it through a link)
    assert os.path.realpath(c["path"]) == os.path.realpath(labmod.suites()["STRONGSWAN_PREFIX"] + "/var/run/gdoi.vici")
    assert c["configured"] is False
    assert "No such file or directory" in c["lastError"], c
    assert c["connects"] == 0 and c["daemon"] is None
    assert all(c["events"][e] == {"subscription": "none", "count": 0} for e in EVENTS), c
    text = ks.vtysh("show bgp gsa")
    assert f"Control socket {c['path']} (default): connecting" in text, text


def test_connects_subscribes_and_asks_the_version(clab):
    ks = clab["ks"]
    labmod.configure_gdoi(clab)  # starts charon on every router; gm1 registers
    c = wait_until("the module connected", lambda: control_is(ks, state="connected"), timeout=40)
    assert c["connects"] == 1 and c["reconnects"] == 0, c
    assert c["lastError"] is None
    # the answer to `version`: a command round trip on the connection
    c = wait_until("the daemon answered `version`", lambda: (lambda c: c if c["daemon"] else None)(control(ks)),
                   timeout=10)
    assert c["daemon"].startswith("gdoi "), c
    # every subscription went out and was answered on this connection
    wait_until("every subscription answered", lambda: answered(control(ks)), timeout=10)
    log = (ks.dir / "bgpd.log").read_text()
    assert "gsa: control socket" in log and "connected" in log


def test_a_member_registering_is_an_event(clab):
    ks, gm1 = clab["ks"], clab["gm1"]
    c = control(ks)
    assert c["events"]["member-registered"]["subscription"] == "confirmed", c
    wait_until("gm1 registered", lambda: any(g.get("state") == "registered"
                                             for g in labmod.gdoictl(gm1, "groups").get("groups", [])), timeout=30)
    # gm1's first registration may have come before the module subscribed:
    # it registers again now, while the module listens
    seen = control(ks)["events"]["member-registered"]["count"]
    labmod.gdoictl(gm1, "reregister", GROUP)
    c = wait_until("member-registered counted", lambda: member_registered(ks, seen + 1), timeout=20)
    assert c["lastEvent"] is not None and c["eventsReceived"] >= seen + 1
    log = (ks.dir / "bgpd.log").read_text()
    assert "gsa: control event member-registered: group=blue member=gm1.example.net" in log, log[-2000:]


def test_the_module_reconnects_after_a_charon_restart(clab):
    ks = clab["ks"]
    before = control(ks)
    assert before["state"] == "connected"
    # stopped as an operator's restart does, while bgpd stays connected
    p = ks.procs["charon"]
    p.terminate()
    p.wait(timeout=15)
    c = wait_until("the module saw the connection go", lambda: control_is(ks, state="connecting"), timeout=15)
    assert c["lastError"], c
    assert c["daemon"] is None, c
    labmod.start_gdoi_charon(ks)
    c = wait_until("the module connected again", lambda: control_is(ks, state="connected"), timeout=40)
    assert c["connects"] == before["connects"] + 1, (before, c)
    assert c["reconnects"] == before["reconnects"] + 1, (before, c)
    wait_until("the daemon answered `version` again",
               lambda: (lambda c: c if (c["daemon"] or "").startswith("gdoi ") else None)(control(ks)), timeout=10)
    wait_until("every subscription answered again", lambda: answered(control(ks)), timeout=10)


def test_events_arrive_again_after_the_restart(clab):
    ks, gm1 = clab["ks"], clab["gm1"]
    c = control(ks)
    assert c["events"]["member-registered"]["subscription"] == "confirmed", c
    seen = c["events"]["member-registered"]["count"]
    labmod.gdoictl(gm1, "reregister", GROUP)
    wait_until("member-registered counted after the restart", lambda: member_registered(ks, seen + 1), timeout=30)


def test_the_socket_is_configurable_and_round_trips(clab):
    ks = clab["ks"]
    default = control(ks)["path"]
    other = str(ks.dir / "run" / "strongswan" / "elsewhere.vici")

    def configure(line, check=True):
        return ks.run([clab.frr / "bin" / "vtysh", "-c", "configure terminal", "-c", "router bgp 65000",
                       "-c", line], check=check)

    configure(f"gsa control-socket {other}")
    c = wait_until("the module tries the configured socket",
                   lambda: control_is(ks, path=other, configured=True, state="connecting"), timeout=10)
    assert c["connects"] == 0
    assert f" gsa control-socket {other}\n" in ks.vtysh("show running-config", daemon="bgpd")
    # a relative path is refused and changes nothing
    p = configure("gsa control-socket relative.vici", check=False)
    assert "must be absolute" in p.stdout + p.stderr
    assert control(ks)["path"] == other
    configure("no gsa control-socket")
    wait_until("back on the default socket", lambda: control_is(ks, path=default, configured=False,
                                                                 state="connected"), timeout=15)
    assert "gsa control-socket" not in ks.vtysh("show running-config", daemon="bgpd")
