# SPDX-License-Identifier: GPL-2.0-or-later
"""A partition of the candidates for 30 s, then healed: one server, every
member on it, no data lost.

The lab of test_election_failover.py: three candidates (ks1..ks3, the same
priority), three members (gm1..gm3), unicast peer list, ECDSA
certificates, default timers. Once a server S1 is elected, serves and its
two standbys hold its state, the backbone drops every IPv4 packet between
{S1, gm1} and {the two other candidates, gm2, gm3} (nftables on the
bridge). The cut-off side has no server: it elects one, S2, which continues
group blue from the state replicated from S1, and gm2 and gm3 register to
it; for the rest of the 30 s two servers serve, each with members. Then
the partition heals.

Two servers in office that meet resolve without an election
(docs/election.md, "Two servers after a partition"): the one that ranks
first in the vote's order (priority, then address: here the higher
address) keeps the office and its state; the other steps down, stops
serving and becomes its standby; the members that followed it register to
the winner. Asserted within 15 s of the heal: every node follows the
expected winner, exactly one candidate serves, the loser's election says
`stepped-down` and it holds the winner's replicated state, every member is
registered to the winner (each member's control socket) and the winner's
member table lists all three, no node took part in an election after the
heal.

"No data lost": (1) packets: gm2 pings gm3's LAN at 10/s through the group
SA from before the cut until after every member is on the one server; the
two were on the same side throughout, could reach each other all the time,
and every one of the pings is answered, through the election of S2 during
the partition and the move of the members at the heal; packets between the
sides are dropped by the partition itself and not counted, but right after
the heal gm1 reaches gm2's and gm3's LANs through the group SA at the first
try; (2) keys and members: every member sends on the same group SA (SPI)
before the cut and after the heal, and the winner's member table holds
every member. The time from the heal to one server followed by every node
and to every member registered to it is printed.

A second, shorter partition ({S1, gm1, gm2} | {the others, gm3}, until
the cut-off side's server serves gm3) shows that the evicted lists are
unioned: the server that will step down evicts a member the other has
registered; after the heal the winner evicts it too (the MERGE of the
loser's last state) and the two other members reach each other.
"""
import ipaddress
import time

import lab as labmod
import pytest
import test_election as te
import test_election_failover as tf
from lab import wait_until

CANDIDATES = te.CANDIDATES
MEMBERS = te.MEMBERS
GROUP = te.GROUP
PARTITION_S = 30


@pytest.fixture(scope="module")
def plab():
    lab = tf.make_lab("gspart")
    with lab:
        tf.start(lab)
        yield lab


def rank(name):
    """A candidate's place in the vote's order (the same priority
    everywhere: the address decides)."""
    return ipaddress.ip_address(CANDIDATES[name])


def keeping(gm):
    """How often gm moved to another elected server keeping its SAs."""
    return (gm.dir / "charon.log").read_text().count("keeping its SAs")


def servers(lab):
    return [n for n in CANDIDATES if te.serving(lab[n])]


def test_a_partition_of_30_s_heals_to_one_server_without_loss(plab):
    everyone = list(CANDIDATES) + list(MEMBERS)
    first = tf.settled(plab, everyone)
    gm1, gm2, gm3 = (plab[n] for n in MEMBERS)
    gms = [gm1, gm2, gm3]
    side_a = [plab[first], gm1]
    side_b = [plab[n] for n in CANDIDATES if n != first] + [gm2, gm3]
    spis = {gm.name: labmod.gdoi_current_spi(gm, GROUP) for gm in gms}
    assert all(spis.values()) and len(set(spis.values())) == 1, spis

    count = 10 * (PARTITION_S + 20)
    pinger, out = labmod.ping_flowing(gm2, gm3.lan_addr, count, deadline_s=count // 10 + 20)
    part = labmod.Partition(plab, side_a, side_b)
    part.cut()
    cut = time.monotonic()
    try:
        # the cut-off side elects a server of its own; gm1 stays with the first
        second = te.name_of(wait_until(
            "the cut-off side follows a server of its own",
            lambda: (lambda l: l if l and l != te.fqdn(first) else None)(te.common_leader(side_b)),
            timeout=20, interval=0.1))
        assert second in CANDIDATES and second != first
        wait_until(f"{second} serves group blue", lambda: te.serving(plab[second]), timeout=20)
        for gm in (gm2, gm3):
            wait_until(f"{gm.name} registered to {second}", lambda: te.registered_to(gm, CANDIDATES[second]),
                       timeout=20)
        assert te.leader_of(gm1) == te.fqdn(first) and te.registered_to(gm1, CANDIDATES[first])
        assert sorted(servers(plab)) == sorted([first, second]), servers(plab)
        split = time.monotonic() - cut
        assert split < PARTITION_S, f"the second server took {split:.1f} s"
        rounds = {r.name: te.election(r)["rounds"] for r in plab.routers.values()}
        # the scenario: the partition lasts 30 s
        time.sleep(max(0.0, PARTITION_S - (time.monotonic() - cut)))
        assert sorted(servers(plab)) == sorted([first, second]), servers(plab)
        dropped = part.dropped()
        assert dropped > 0
        kept = {gm.name: keeping(gm) for gm in gms}
    finally:
        part.heal()
    healed = time.monotonic()

    winner, loser = (first, second) if rank(first) > rank(second) else (second, first)
    routers = [plab[n] for n in everyone]
    try:
        wait_until(f"every node follows {winner}", lambda: te.common_leader(routers) == te.fqdn(winner),
                   timeout=15, interval=0.05)
        wait_until(f"{loser} no longer serves", lambda: servers(plab) == [winner], timeout=15, interval=0.05)
        one_server = time.monotonic() - healed
        for gm in gms:
            wait_until(f"{gm.name} registered to {winner}", lambda: te.registered_to(gm, CANDIDATES[winner]),
                       timeout=15, interval=0.05)
        all_members = time.monotonic() - healed
    except labmod.LabError:
        te.show(plab)
        raise
    assert pinger.poll() is None, "the ping ended before every member was on the one server"

    # one server, deterministically the higher-ranking one, and no election
    assert servers(plab) == [winner]
    e = te.election(plab[winner])
    assert e["state"] == "leader" and e["leaderSelf"] is True
    lost = te.election(plab[loser])
    assert lost["state"] == "client" and lost["lastResult"] == "stepped-down", lost
    assert "no longer the elected key server" in (plab[loser].dir / "charon.log").read_text()
    after = {r.name: te.election(r)["rounds"] for r in plab.routers.values()}
    assert after == rounds, (rounds, after)
    # the winner's state wins: the loser is its standby and holds it
    wait_until(f"{loser} holds {winner}'s state",
               lambda: tf.replica(plab[loser]).get("from") == te.fqdn(winner), timeout=20)
    wait_until(f"{winner}'s two standbys hold its current state",
               lambda: tf.replica(plab[winner]).get("standbysCurrent") == 2, timeout=20)
    members = labmod.gdoictl(plab[winner], "members", GROUP)["members"]
    assert {m["id"] for m in members} == {te.fqdn(n) for n in MEMBERS}, members

    # no data lost: every ping between gm2 and gm3 answered, the same SA
    out += pinger.stdout.read()
    assert pinger.wait(timeout=60) == 0 and f"{count} received" in out, out[-2000:]
    now = {gm.name: labmod.gdoi_current_spi(gm, GROUP) for gm in gms}
    assert now == spis, (spis, now)
    moved = [gm for gm in gms if gm in (side_a if loser == first else side_b)]
    assert moved
    for gm in moved:
        assert keeping(gm) > kept[gm.name], f"{gm.name} did not move to {winner} keeping its SAs"
    # the sides reach each other again
    labmod.lan_ping(gm1, gm2, count=1)
    labmod.lan_ping(gm1, gm3, count=1)
    labmod.lan_ping(gm3, gm1, count=1)
    print(f"partition {{{first}, gm1}} | {{{', '.join(r.name for r in side_b)}}} for {PARTITION_S} s "
          f"({dropped} packets dropped): {second} elected on the cut-off side {split:.2f} s after the cut; "
          f"after the heal {winner} stays, {loser} steps down: one server followed by every node "
          f"{one_server:.2f} s, every member registered to it {all_members:.2f} s; "
          f"{count} pings gm2 -> gm3 at 10/s, 0 lost, SPI {spis['gm1']} kept")


def evicted(router):
    """The identities a serving key server lists as evicted."""
    out = labmod.gdoictl(router, "members", GROUP, check=False)
    return set(out.get("evicted", [])) if isinstance(out, dict) else set()


def member_ids(router):
    out = labmod.gdoictl(router, "members", GROUP, check=False)
    return {m["id"] for m in out.get("members", [])} if isinstance(out, dict) else set()


def test_an_eviction_on_the_server_that_steps_down_holds_on_the_winner(plab):
    """The evicted lists are unioned: cut {S1, gm1, gm2} | {the others,
    gm3} until the second server S2 serves gm3; the server that will lose
    (the lower-ranking) evicts a member that the other has registered (gm1
    if S2 loses, else gm3); after the heal the winner lists it as evicted
    and has removed it, and the other two members reach each other."""
    everyone = list(CANDIDATES) + list(MEMBERS)
    first = tf.settled(plab, everyone)
    gm1, gm2, gm3 = (plab[n] for n in MEMBERS)
    side_a = [plab[first], gm1, gm2]
    side_b = [plab[n] for n in CANDIDATES if n != first] + [gm3]
    part = labmod.Partition(plab, side_a, side_b)
    part.cut()
    try:
        second = te.name_of(wait_until(
            "the cut-off side follows a server of its own",
            lambda: (lambda l: l if l and l != te.fqdn(first) else None)(te.common_leader(side_b)),
            timeout=20, interval=0.1))
        wait_until(f"{second} serves group blue", lambda: te.serving(plab[second]), timeout=20)
        wait_until(f"gm3 registered to {second}", lambda: te.registered_to(gm3, CANDIDATES[second]), timeout=20)
        winner, loser = (first, second) if rank(first) > rank(second) else (second, first)
        victim = gm1 if loser == second else gm3
        vid = te.fqdn(victim.name)
        assert vid in member_ids(plab[winner]) and vid in member_ids(plab[loser])
        labmod.gdoictl(plab[loser], "evict", GROUP, vid)
        assert vid in evicted(plab[loser]) and vid not in evicted(plab[winner])
        # the loser's replicated state (its snapshot, refreshed every
        # 200 ms) holds the eviction before the heal: a version newer than
        # the one after the eviction, or, if that one already held it, no
        # newer one for 5 s
        version = tf.replica(plab[loser]).get("version", 0)
        try:
            wait_until(f"{loser} takes a snapshot with the eviction",
                       lambda: tf.replica(plab[loser]).get("version", 0) > version, timeout=5, interval=0.1)
        except labmod.LabError:
            pass
    finally:
        part.heal()
    healed = time.monotonic()
    routers = [plab[n] for n in everyone]
    try:
        wait_until(f"every node follows {winner}", lambda: te.common_leader(routers) == te.fqdn(winner),
                   timeout=15, interval=0.1)
        wait_until(f"{winner} evicts {victim.name} as {loser} did", lambda: vid in evicted(plab[winner]),
                   timeout=20, interval=0.1)
        merged = time.monotonic() - healed
        others = [gm for gm in (gm1, gm2, gm3) if gm is not victim]
        for gm in others:
            wait_until(f"{gm.name} registered to {winner}", lambda: te.registered_to(gm, CANDIDATES[winner]),
                       timeout=20, interval=0.1)
    except labmod.LabError:
        te.show(plab)
        raise
    assert vid not in member_ids(plab[winner])
    assert {te.fqdn(gm.name) for gm in others} <= member_ids(plab[winner])
    assert "merged the evicted identities of the server that stepped down" in \
        (plab[winner].dir / "charon.log").read_text()
    wait_until(f"{others[0].name} and {others[1].name} on one SA",
               lambda: labmod.gdoi_current_spi(others[0], GROUP) == labmod.gdoi_current_spi(others[1], GROUP),
               timeout=20)
    labmod.lan_ping(others[0], others[1])
    # the victim is refused: it does not come back to the winner
    assert vid not in member_ids(plab[winner])
    print(f"{loser} evicted {victim.name} during the partition; {winner} evicted it too "
          f"{merged:.2f} s after the heal (the evicted lists unioned)")
