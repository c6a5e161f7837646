#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Key server failover with state replication (docs/election.md).

Lab (tests/lab/test_election_failover.py): 3 candidates and 3 members with
real charons, default election timers. For each run, while gm1 pings gm2's
LAN at 10 per second through the group SA, the elected server's charon is
killed with SIGKILL, and the time is taken

  from  the SIGKILL,
  to    every member registered with the new server (`gdoictl groups`
        polled every 50 ms on each member: the resolution of the figure).

Each run also checks that the members kept their SA (the same SPI) and that
no ping was lost; the killed charon is then started again and stands by,
and the next run waits until both standbys hold the server's state.

Per run it shows the election rounds (the largest growth of the `rounds`
counter of `gdoictl elections` over the live nodes, from before the kill
to every member registered) and, from the charon logs, how long after the
new server's group began to serve each member started its registration to
it (negative: before; such a member waits for its IKE_SA_INIT's
retransmission, 2 s).

Prints every run, then the median, the spread (min, p90, max) in seconds
and in multiples of the configured timers: the detection timeout
(keepalive + (1 + retransmits) x query = 1.5 s with the defaults) plus one
election round (call jitter + listen + probation = 0.9 s), 2.4 s in all.

--loss P: every node drops P % of the election datagrams it receives (UDP
849, nftables `numgen random`); the rounds are then the figure of interest,
and the datagrams counted and dropped by nftables are printed.
Needs root.
"""
import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "lab"))
import test_election_failover as tf  # noqa: E402

# the default timers (ms), as docs/election.md lists them
KEEPALIVE, QUERY, RETRANSMITS, JITTER, LISTEN, PROBATION = 500, 250, 3, 100, 400, 400
DETECTION = KEEPALIVE + (1 + RETRANSMITS) * QUERY
ROUND = JITTER + LISTEN + PROBATION


def quantile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def spread(values, fmt="{:.2f}"):
    return (f"min {fmt.format(min(values))}, median {fmt.format(statistics.median(values))}, "
            f"p90 {fmt.format(quantile(values, 0.9))}, max {fmt.format(max(values))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="failovers measured (default 10)")
    ap.add_argument("--loss", type=int, default=0,
                    help="percent of election datagrams every node drops on receipt (default 0)")
    args = ap.parse_args()
    lab = tf.make_lab("gsbench")
    names = list(tf.CANDIDATES) + list(tf.MEMBERS)
    samples, round_counts, early = [], [], 0
    with lab:
        tf.start(lab)
        if args.loss:
            tf.add_loss(lab, names, args.loss)
        server = tf.settled(lab, names)
        for run in range(1, args.runs + 1):
            before = tf.rounds(lab, [n for n in names if n != server])
            new, seconds = tf.kill_during_ping(lab, server, count=60)
            after = tf.rounds(lab, list(before))
            needed = max(after[n] - before[n] for n in after)
            leads = tf.registration_leads(lab, new)
            early += sum(1 for v in leads.values() if v < 0)
            samples.append(seconds)
            round_counts.append(needed)
            print(f"run {run:2}: {server} -> {new}: {seconds:.2f} s, {needed} election round(s); "
                  f"members' registrations started {', '.join(f'{v * 1000:+.0f}' for v in leads.values())} ms "
                  f"from the new server serving", flush=True)
            tf.restart(lab, server)
            server = tf.settled(lab, names)
        if args.loss:
            seen, dropped = tf.loss_counters(lab, names)
    budget = (DETECTION + ROUND) / 1000
    med = statistics.median(samples)
    print(f"failover, {len(samples)} runs{f', {args.loss} % loss of election datagrams' if args.loss else ''}, "
          f"no ping lost, SPI kept in every run")
    print(f"  SIGKILL -> every member registered with the new server: {spread(samples)} s")
    print(f"  in timer multiples: median {med / budget:.2f} x (detection {DETECTION} ms + one round {ROUND} ms "
          f"= {budget:.1f} s), max {max(samples) / budget:.2f} x; goal <= 3.0 s: "
          f"{'met' if med <= 3.0 else 'not met'} (median)")
    print(f"  election rounds per failover: {spread(round_counts, '{}')}")
    print(f"  member registrations started before the new server served: {early} of {3 * len(samples)}")
    if args.loss:
        print(f"  election datagrams received {seen}, dropped by nftables {dropped} "
              f"({100 * dropped / max(1, seen):.1f} %)")


if __name__ == "__main__":
    main()
