# SPDX-License-Identifier: GPL-2.0-or-later
"""Traffic on the group SAs from the routes the S/R reflects.

The S/R (ks) is the key server of groups A (ID 1001: gm1, gm2, gm3) and B
(ID 1002: gm3, gm4), with gateway tunnels, and the route reflector of the
four members (sr_lab.py). A member is configured with its groups, its
prefix and its key server only: the tunnel endpoints its gdoi plugin
holds come from the sealed routes its bgpd opens.

Checked, waiting for conditions only: gm1 reaches gm2's and gm3's LANs on
group A's SA and gm3 reaches gm4's on B's (ESP under the group SPI from
gateway to gateway, seen on both gateways' ports, none of it on the S/R's);
nothing of gm4 reaches gm1's tables nor of gm1 gm4's; evicting gm2 from A
removes its routes and tunnels from gm1 and gm3 and theirs from gm2 within
the eviction's rekey, gm2 holds no key of the new epoch and is locked
out, gm1 and gm3 go on; a restart of charon on the S/R converges back to
the same routes, endpoints and traffic with nobody acting on the members.
"""
import lab as labmod
import pytest
import sr_lab
from lab import wait_until
from sr_lab import endpoint, gdoi_endpoints, opened_routes

EVICTED = {("gm2", "A")}


@pytest.fixture(scope="module")
def tl():
    lab = sr_lab.build("gstraf")
    with lab:
        sr_lab.start(lab)
        yield lab


def test_members_learn_their_endpoints_from_the_sealed_routes(tl, lab_logs):
    lab_logs(tl)
    sr_lab.converge(tl, "every member opened its groups' prefixes and holds them as endpoints")
    # nothing configured by hand: the endpoints came over the control socket
    for m in sr_lab.MEMBERS:
        assert "endpoints" not in (tl[m].dir / "gdoi.conf").read_text()
    gm1 = tl["gm1"]
    assert gdoi_endpoints(gm1, "A") == {tl["gm2"].addr: ["10.2.0.0/24"], tl["gm3"].addr: ["10.3.0.0/24"]}


def test_gm1_reaches_gm2_and_gm3_on_group_a_sa(tl, lab_logs):
    lab_logs(tl)
    sr_lab.converge(tl, "the members' state")
    gm1 = tl["gm1"]
    for other in ("gm2", "gm3"):
        seen = sr_lab.group_sa_ping(tl, gm1, tl[other], "A")
        print(f"gm1 -> {other}: group A SPI {seen['spi']}, ESP on gm1 {seen['gm1']}, on {other} {seen[other]}")


def test_gm3_reaches_gm4_on_group_b_sa(tl, lab_logs):
    lab_logs(tl)
    sr_lab.converge(tl, "the members' state")
    gm3, gm4 = tl["gm3"], tl["gm4"]
    seen = sr_lab.group_sa_ping(tl, gm3, gm4, "B")
    assert seen["spi"] != labmod.gdoi_current_spi(gm3, "A")
    # and gm4 reaches gm3 the same way
    sr_lab.group_sa_ping(tl, gm4, gm3, "B")


def no_trace(x, y):
    """What of y (its membership route, its LAN) x's tables hold."""
    found = []
    for what, table in (("BGP", x.vtysh_json("show bgp ipv4 unicast json").get("routes", {})),
                        ("RIB", x.vtysh_json("show ip route json"))):
        found += [f"{what} {p}" for p in (endpoint(y), y.lan_prefix) if p in table]
    view = x.vtysh_json("show bgp gsa routes json")
    found += [f"opened {r['prefix']}" for r in view["routes"] if r["prefix"] == y.lan_prefix or r["gateway"] == y.addr]
    found += [f"not opened {r}" for r in view["notOpened"] if r == endpoint(y)]
    for g in sr_lab.MEMBERS[x.name]:
        for gw, prefixes in (gdoi_endpoints(x, g) or {}).items():
            if gw == y.addr or y.lan_prefix in prefixes:
                found.append(f"endpoint {g} {gw} {prefixes}")
    kernel = x.run(["ip", "route", "show", "table", "all"]).stdout
    lan = y.lan_prefix.rsplit(".", 2)[0] + "."  # "10.4."
    found += [f"kernel: {line}" for line in kernel.splitlines()
              if any(w.startswith(lan) or w.split("/")[0] == y.addr for w in line.split())]
    return found


def test_gm4_and_gm1_hold_nothing_of_each_other(tl, lab_logs):
    lab_logs(tl)
    sr_lab.converge(tl, "the members' state")
    gm1, gm4 = tl["gm1"], tl["gm4"]
    assert no_trace(gm1, gm4) == []
    assert no_trace(gm4, gm1) == []
    assert labmod.lan_ping(gm1, gm4, count=2, check=False).returncode != 0
    assert labmod.lan_ping(gm4, gm1, count=2, check=False).returncode != 0


def test_evicting_gm2_removes_its_routes_and_tunnels_and_locks_it_out(tl, lab_logs):
    lab_logs(tl)
    ks, gm1, gm2, gm3 = tl["ks"], tl["gm1"], tl["gm2"], tl["gm3"]
    sr_lab.converge(tl, "the members' state")
    old_spi = labmod.gdoi_current_spi(gm1, "A")
    old_epoch = sr_lab.keys(gm1)["A"]
    assert sr_lab.keys(gm2)["A"] == old_epoch
    rekeys = {gm.name: labmod.gdoi_counters(gm, "A")["rekeys"] for gm in (gm1, gm3)}
    labmod.gdoictl(ks, "evict", "A", "gm2.example.net")
    # the eviction's rekey (the TEK lifetime is an hour: no other comes)
    for gm in (gm1, gm3):
        wait_until(f"{gm.name} applies the eviction's rekey",
                   lambda: labmod.gdoi_counters(gm, "A")["rekeys"] > rekeys[gm.name], timeout=15)
    sr_lab.converge(tl, "gm2's routes and tunnels gone from gm1 and gm3, theirs from gm2", evicted=EVICTED,
                    timeout=30)
    # gm1 and gm3 seal under the new epoch; gm2 has no key for it
    wait_until("gm1 and gm3 hold the new routing key",
               lambda: sr_lab.keys(gm1)["A"] != old_epoch and sr_lab.keys(gm3)["A"] == sr_lab.keys(gm1)["A"],
               timeout=15)
    new_epoch = sr_lab.keys(gm1)["A"]
    view = gm2.vtysh_json("show bgp gsa routes json")
    assert view["keys"].get("A", {}).get("epoch") != new_epoch, view["keys"]
    assert not [r for r in view["routes"] if r["group"] == "A"], view["routes"]
    assert set(view["notOpened"].values()) <= {"unknown-epoch"}, view["notOpened"]
    assert gdoi_endpoints(gm2, "A") in (None, {})
    # gm1 and gm3 go on, on the new SA; gm2 reaches neither once the old
    # SA is gone, nor they it
    seen = sr_lab.group_sa_ping(tl, gm1, gm3, "A")
    assert seen["spi"] != old_spi
    labmod.gdoi_locked_out("A", gm2, [gm1, gm3], old_spi)


def test_a_restarted_sr_charon_converges_back(tl, lab_logs):
    lab_logs(tl)
    ks, gm1, gm3, gm4 = tl["ks"], tl["gm1"], tl["gm3"], tl["gm4"]
    sr_lab.converge(tl, "the state after the eviction", evicted=EVICTED)
    epochs = {m: sr_lab.keys(tl[m]) for m in ("gm1", "gm3", "gm4")}
    sr_lab.restart_charon(ks)
    # the members register again by themselves (liveness), gm2 stays out
    wait_until("the members registered again",
               lambda: sr_lab.gsa.registered(ks) == sr_lab.want_registered(EVICTED), timeout=60)
    # under the restarted key server's new keys
    wait_until("the members hold the new routing keys", lambda: all(
        sr_lab.keys(tl[m]).get(g) not in (None, epochs[m][g]) for m in epochs for g in epochs[m]), timeout=30)
    sr_lab.converge(tl, "the same routes and endpoints as before the restart", evicted=EVICTED, timeout=60)
    wait_until("every opened route sealed under a current epoch", lambda: all(
        not r["previousEpoch"] for m in epochs for r in tl[m].vtysh_json("show bgp gsa routes json")["routes"]),
        timeout=30)
    sr_lab.group_sa_ping(tl, gm1, gm3, "A")
    sr_lab.group_sa_ping(tl, gm3, gm4, "B")
    assert labmod.lan_ping(tl["gm2"], gm1, count=2, check=False).returncode != 0
