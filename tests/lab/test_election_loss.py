# SPDX-License-Identifier: GPL-2.0-or-later
"""Elections converge with 20 % loss of the election's datagrams.

Three candidates and three members as in test_election_failover.py
(unicast peer list, ECDSA certificates, default timers). Every node drops
20 % of the election datagrams it receives (UDP 849) at random: nftables
in its namespace, `numgen random mod 100 < 20`, with counters. The first
election runs under that loss, then the server is killed with SIGKILL
three times in turn (each killed charon started again): each time one
server is elected, serves from the replicated state, and every member
registers to it keeping its SA, with no ping lost. The rounds each
election took (the `rounds` counter of `gdoictl elections`) are printed;
nftables must have dropped about a fifth of the datagrams.
bench/election_failover.py --loss 20 runs 20 such failovers.
"""
import pytest
import test_election_failover as tf

NAMES = list(tf.CANDIDATES) + list(tf.MEMBERS)
PERCENT = 20
FAILOVERS = 3


@pytest.fixture(scope="module")
def llab():
    lab = tf.make_lab("gsloss")
    with lab:
        tf.add_loss(lab, NAMES, PERCENT)
        tf.start(lab)
        yield lab


def test_elections_converge_with_twenty_percent_loss(llab):
    server = tf.settled(llab, NAMES)
    counts = [max(tf.rounds(llab, NAMES).values())]
    print(f"first election: {server}, {counts[0]} round(s)")
    for run in range(1, FAILOVERS + 1):
        before = tf.rounds(llab, [n for n in NAMES if n != server])
        new, seconds = tf.kill_during_ping(llab, server, count=60)
        assert new != server
        after = tf.rounds(llab, list(before))
        counts.append(max(after[n] - before[n] for n in after))
        print(f"failover {run}: {server} -> {new}: {seconds:.2f} s, {counts[-1]} round(s)")
        tf.restart(llab, server)
        server = tf.settled(llab, NAMES)
    seen, dropped = tf.loss_counters(llab, NAMES)
    print(f"rounds per election: {counts}; election datagrams received {seen}, "
          f"dropped {dropped} ({100 * dropped / max(1, seen):.1f} %)")
    assert all(c >= 1 for c in counts), counts
    # the loss happened, at about the rate asked for
    assert seen > 200 and dropped > 0, (seen, dropped)
    assert 0.10 < dropped / seen < 0.30, (seen, dropped)
