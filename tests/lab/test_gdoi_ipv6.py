# SPDX-License-Identifier: GPL-2.0-or-later
"""G-IKEv2 over IPv6: a key server (ks) and three members (gm1..gm3) on an
IPv6 backbone (2001:db8::/64) with IPv6 LANs (2001:db8:100N::/64), every
address inside the namespaces.

The members register with the key server at its IPv6 address (UDP 848,
PSKs of their own) and get one group SA whose traffic selectors are IPv6
(2001:db8:1000::/36); pings between every two member LANs travel through
it as ESP in UDP over IPv6, counted per SPI on the receivers' backbone
interfaces. GSA_REKEYs go to the IPv6 multicast group ff15::848 and reach
every member. Evicting gm3 (its rekey by multicast too) moves gm1 and gm2
to a new SA without losing a ping at 10/s; once they report the old SA
gone, after the deactivation delay, gm3 reaches nobody.
"""
import itertools

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, group_state, ping, registered

# transient (flag 1), site-local scope (5): routed no further than the site
MCAST6 = "ff15::848"


@pytest.fixture(scope="module")
def v6lab():
    lab = labmod.gdoi_lab("gsipv6", ipv6=True)
    with lab:
        for r in lab.routers.values():
            # multicast leaves through the backbone interface
            r.run(["ip", "-6", "route", "add", "ff00::/8", "dev", "eth0"])
        labmod.configure_gdoi(lab, server_extra=f"\t\trekey = multicast\n\t\tmulticast = {MCAST6}",
                              member_extra=f"\t\tmulticast = {MCAST6}")
        for gm in gms(lab):
            wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
        yield lab


def gms(lab):
    return [lab["gm1"], lab["gm2"], lab["gm3"]]


def reaches(src, dst):
    return ping(src, dst, count=1, check=False).returncode == 0


def test_the_configuration_is_ipv6(v6lab):
    ks, gm1 = v6lab["ks"], v6lab["gm1"]
    server = (ks.dir / "gdoi.conf").read_text()
    for line in ("listen = 2001:db8::1", "local_ts = 2001:db8:1000::/36", "remote_ts = 2001:db8:1000::/36",
                 f"multicast = {MCAST6}"):
        assert line in server, line
    member = (gm1.dir / "gdoi.conf").read_text()
    for line in ("local_addrs = 2001:db8::11", "servers = 2001:db8::1", "gateway = 2001:db8::12",
                 "prefixes = 2001:db8:1002::/64", f"multicast = {MCAST6}"):
        assert line in member, line
    assert "." not in ks.addr and "." not in gm1.lan_addr


def test_members_register_over_ipv6_and_share_one_group_sa(v6lab):
    ks = v6lab["ks"]
    members = labmod.gdoictl(ks, "members", GROUP)["members"]
    assert len(members) == 3, members
    for gm in gms(v6lab):
        assert f"{gm.addr}[848]" in str(members), (gm.name, members)
        assert group_state(gm)["server"] == f"{ks.addr}[848]"
    spis = {gm.name: current_spi(gm) for gm in gms(v6lab)}
    assert len(set(spis.values())) == 1 and None not in spis.values(), spis


def test_every_two_lans_reach_each_other_through_the_group_sa(v6lab):
    spi = current_spi(v6lab["gm1"])
    for a, b in itertools.combinations(gms(v6lab), 2):
        wait_until(f"{a.name} reaches {b.name}", lambda: reaches(a, b), timeout=20)
        esp = {r.name: labmod.sniff_esp(r) for r in (a, b)}
        ping(a, b, count=5)
        ping(b, a, count=5)
        seen = {name: capture() for name, capture in esp.items()}
        # each side received 5 echo requests and 5 replies on the group SPI
        for name, spis in seen.items():
            assert spis.get(spi, 0) >= 10, (a.name, b.name, name, spi, spis)
    # no kernel ESP state: the packets went through libipsec
    assert v6lab["gm1"].run(["ip", "-6", "xfrm", "state"]).stdout.strip() == ""


def test_a_multicast_rekey_over_ipv6_reaches_every_member(v6lab):
    ks, g = v6lab["ks"], gms(v6lab)
    old = current_spi(g[0])
    before = {gm.name: counters(gm)["rekeys"] for gm in g}
    captures = {gm.name: labmod.sniff_rekeys(gm, 15, first=True) for gm in g}
    labmod.gdoictl(ks, "rekey", GROUP)
    for gm in g:
        wait_until(f"{gm.name} applies the rekey", lambda: counters(gm)["rekeys"] > before[gm.name], timeout=10)
    for name, capture in captures.items():
        seen = {dst for dst, _ in capture()}
        assert seen == {MCAST6}, (name, seen)
    new = current_spi(g[0])
    assert new != old and all(current_spi(gm) == new for gm in g), [current_spi(gm) for gm in g]
    esp = labmod.sniff_esp(g[1])
    ping(g[0], g[1], count=5)
    assert esp().get(new, 0) >= 5


def test_evicting_gm3_rekeys_without_loss_and_locks_gm3_out(v6lab):
    ks, gm1, gm2, gm3 = v6lab["ks"], v6lab["gm1"], v6lab["gm2"], v6lab["gm3"]
    capture = labmod.sniff_rekeys(gm3, 15, first=True)
    old, new = labmod.gdoi_evict_without_loss(ks, GROUP, gm3, gm1, gm2)
    # the eviction's GSA_REKEY went to the group address, gm3 too received
    # it, but not the new keys: it keeps the old SA, or drops the group
    assert {dst for dst, _ in capture()} == {MCAST6}
    assert current_spi(gm3) in (old, None), "gm3 got no new keys"
    labmod.gdoi_locked_out(GROUP, gm3, (gm1, gm2), old)
    esp = labmod.sniff_esp(gm2)
    ping(gm1, gm2, count=5)
    assert esp().get(new, 0) >= 5
