# SPDX-License-Identifier: GPL-2.0-or-later
"""Smoke scenario: an S/R route reflector and two members.

Both members' iBGP sessions to the S/R (route-reflector clients) come up,
the GSA module answers in vtysh, charon runs the groupsec plugins, and an
IKEv2 tunnel between the members carries a ping between their LANs through
userspace ESP, as the CHILD_SA counters show.
"""
import lab as labmod
import pytest
from lab import wait_until


@pytest.fixture(scope="module")
def smoke():
    lab = labmod.smoke_lab()
    with lab:
        labmod.configure_smoke(lab)
        yield lab


def established_peers(router):
    summary = router.vtysh_json("show bgp ipv4 unicast summary json", daemon="bgpd")
    return {p for p, v in summary["peers"].items() if v["state"] == "Established"}


def test_members_are_established_rr_clients_of_the_sr(smoke):
    sr, m1, m2 = smoke["sr"], smoke["m1"], smoke["m2"]
    wait_until("both members Established at the S/R",
               lambda: established_peers(sr) == {m1.addr, m2.addr}, timeout=60)
    for m in (m1, m2):
        wait_until(f"{m.name}: session to the S/R", lambda: established_peers(m) == {sr.addr}, timeout=30)
    # the S/R reflects each member's LAN to the other member
    def reflected():
        routes = m1.vtysh_json("show bgp ipv4 unicast 10.2.0.0/24 json", daemon="bgpd")
        return routes.get("paths") and routes["paths"][0]["nexthops"][0]["ip"] == m2.addr
    wait_until("m1 learns m2's LAN through the reflector", reflected, timeout=30)


def test_vtysh_knows_the_gsa_module(smoke):
    sr, m1, m2 = smoke["sr"], smoke["m1"], smoke["m2"]
    gsa = wait_until("show bgp gsa json: 2 established",
                     lambda: (lambda j: j if j["instances"]["default"]["establishedCount"] == 2 else None)(
                         sr.vtysh_json("show bgp gsa json")), timeout=60)
    assert gsa["module"] == "gsa"
    inst = gsa["instances"]["default"]
    assert inst["localAs"] == 65000 and inst["routerId"] == sr.addr
    assert set(inst["peers"]) == {m1.addr, m2.addr}
    assert all(p["routeReflectorClient"] for p in inst["peers"].values())
    text = sr.vtysh("show bgp gsa")
    assert "Neighbors: 2, established: 2" in text


def test_charon_loads_the_groupsec_plugins(smoke):
    for r in smoke.routers.values():
        stats = r.swanctl("--stats")
        loaded = stats.split("loaded plugins:", 1)[1].split()
        for plugin in ("gdoi", "election", "kernel-libipsec", "vici", "openssl"):
            assert plugin in loaded, f"{r.name}: {plugin} not in {loaded}"
        assert "gdoi: G-IKEv2 (RFC 9838) core" in (r.dir / "charon.log").read_text()


def test_ping_between_member_lans_goes_through_userspace_esp(smoke):
    m1, m2 = smoke["m1"], smoke["m2"]
    m1.swanctl("--initiate", "--child", "lan-lan")
    before = wait_until("CHILD_SA installed on m1", lambda: labmod.child_sa_counters(m1), timeout=30)
    before2 = labmod.child_sa_counters(m2)
    assert before2 is not None, m2.swanctl("--list-sas")
    count = 5
    p = m1.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", "-I", m1.lan_addr, m2.lan_addr], check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{count} received" in p.stdout
    after = labmod.child_sa_counters(m1)
    after2 = labmod.child_sa_counters(m2)
    # every echo request left m1 through the SA and every reply came back through it
    assert after[1] - before[1] >= count, (before, after)
    assert after[0] - before[0] >= count, (before, after)
    assert after2[0] - before2[0] >= count and after2[1] - before2[1] >= count, (before2, after2)
    # and the kernel has no ESP state: the packets went through libipsec
    assert m1.run(["ip", "xfrm", "state"]).stdout.strip() == ""
