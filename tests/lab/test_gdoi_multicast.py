# SPDX-License-Identifier: GPL-2.0-or-later
"""G-IKEv2 members that authenticate with certificates, and rekeys by
multicast: the members register with ECDSA signatures from charon's
credential manager (no PSK anywhere), the key server sends each GSA_REKEY
once, to a multicast group on the backbone, and both members, which joined
it, apply it and keep exchanging traffic through the new group SA."""
import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, ping, registered

MCAST = "239.192.0.1"

@pytest.fixture(scope="module")
def mlab():
    lab = labmod.gdoi_lab("gsmcast", members=2)
    with lab:
        for r in lab.routers.values():
            # multicast leaves through the backbone interface
            r.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
        labmod.configure_gdoi(lab, server_extra=f"\t\trekey = multicast\n\t\tmulticast = {MCAST}",
                              member_extra=f"\t\tmulticast = {MCAST}", member_auth="pubkey")
        yield lab


def test_members_register_with_certificates(mlab):
    ks = mlab["ks"]
    for gm in (mlab["gm1"], mlab["gm2"]):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
        assert "secret" not in (gm.dir / "swanctl.conf").read_text(), "no PSK"
    members = labmod.gdoictl(ks, "members", GROUP)["members"]
    assert len(members) == 2, members
    log = (ks.dir / "charon.log").read_text()
    assert 'using trusted certificate "O=groupsec lab, CN=gm1.example.net"' in log


def test_rekeys_reach_members_by_multicast(mlab):
    ks, gm1, gm2 = mlab["ks"], mlab["gm1"], mlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    wait_until("gm1 reaches gm2", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    old = current_spi(gm1)
    before = {gm.name: counters(gm)["rekeys"] for gm in (gm1, gm2)}
    capture = labmod.sniff_rekeys(gm1, 6)
    labmod.gdoictl(ks, "rekey", GROUP)
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} applies the rekey", lambda: counters(gm)["rekeys"] > before[gm.name], timeout=10)
    seen = {dst for dst, _ in capture()}
    # every GSA_REKEY that reached gm1 went to the group address
    assert seen == {MCAST}, seen
    new = current_spi(gm1)
    assert new != old and current_spi(gm2) == new
    ping(gm1, gm2)
    ping(gm2, gm1)
