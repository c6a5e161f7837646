// SPDX-License-Identifier: GPL-2.0-or-later
// Many seeded runs of a 3-candidate, 3-member group: elections converge
// with 20 % loss of every datagram at every receiver, and the failover after
// the server dies stays within its timer budget. The figures are printed
// (docs/election.md quotes them).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "election_sim.h"

using namespace groupsec;
using namespace groupsec::election;
using namespace groupsec::election::sim;

namespace {

struct Figures {
	std::vector<uint64_t> values;
	void add(uint64_t v) { values.push_back(v); }
	uint64_t pct(double p)
	{
		std::sort(values.begin(), values.end());
		size_t i = static_cast<size_t>(p * (values.size() - 1) + 0.5);
		return values[i];
	}
	std::string text(const char *unit)
	{
		char buf[160];
		std::snprintf(buf, sizeof(buf), "min %llu, median %llu, p90 %llu, max %llu %s",
			      (unsigned long long)pct(0), (unsigned long long)pct(0.5), (unsigned long long)pct(0.9),
			      (unsigned long long)pct(1), unit);
		return buf;
	}
};

constexpr int kRuns = 100;
// the failover budget with the default timers: keepalive + (1 + 3) queries
// + call jitter + listen + probation
constexpr uint64_t kFailoverBudget = 500 + 4 * 250 + 100 + 400 + 400;

} // namespace

TEST(ElectionSim, ConvergesWithTwentyPercentLoss)
{
	Figures rounds, times, stay;
	int converged = 0;
	for (int seed = 1; seed <= kRuns; seed++) {
		Network net(seed);
		net.build(three_and_three());
		net.loss = 0.2;
		net.start_all(200);
		uint64_t t = net.run_until_agreed(60000);
		EXPECT_NE(t, kNever) << "seed " << seed;
		if (t == kNever)
			continue;
		converged++;
		times.add(t);
		rounds.add(net.total_rounds());
		// elections called afterwards over 30 s of 20 % loss: the
		// server is declared dead only when 4 queries in a row go unanswered
		uint64_t before = net.total_rounds();
		net.run_for(30000);
		stay.add(net.total_rounds() - before);
	}
	std::printf("20%% loss, %d runs: converged %d\n  rounds   %s\n  time     %s\n  "
		    "needless elections in the next 30 s: %s\n",
		    kRuns, converged, rounds.text("rounds").c_str(), times.text("ms").c_str(),
		    stay.text("").c_str());
	EXPECT_EQ(converged, kRuns);
	RecordProperty("rounds_median", static_cast<int>(rounds.pct(0.5)));
	RecordProperty("rounds_max", static_cast<int>(rounds.pct(1)));
}

TEST(ElectionSim, FailoverStaysWithinTheTimerBudget)
{
	Figures times;
	for (int seed = 1; seed <= kRuns; seed++) {
		Network net(1000 + seed);
		net.build(three_and_three());
		net.start_all(200);
		ASSERT_NE(net.run_until_agreed(10000), kNever) << "seed " << seed;
		net.run_for(seed * 7 % 500); // anywhere in the keepalive period
		std::string old = net.agreed_leader();
		net.kill(net.index_of(old));
		uint64_t t = net.run_until_agreed(10000);
		ASSERT_NE(t, kNever) << "seed " << seed;
		EXPECT_NE(net.agreed_leader(), old);
		times.add(t);
	}
	std::printf("failover without loss, %d runs: %s (budget %llu ms + 10 ms sampling)\n", kRuns,
		    times.text("ms").c_str(), (unsigned long long)kFailoverBudget);
	EXPECT_LE(times.pct(1), kFailoverBudget + 10 + 10);
}

TEST(ElectionSim, FailoverWithTwentyPercentLoss)
{
	Figures times, rounds;
	int converged = 0;
	for (int seed = 1; seed <= kRuns; seed++) {
		Network net(2000 + seed);
		net.build(three_and_three());
		net.loss = 0.2;
		net.start_all(200);
		if (net.run_until_agreed(60000) == kNever)
			continue;
		std::string old = net.agreed_leader();
		uint64_t before = net.total_rounds();
		net.kill(net.index_of(old));
		uint64_t t = net.run_until_agreed(60000);
		EXPECT_NE(t, kNever) << "seed " << seed;
		if (t == kNever)
			continue;
		converged++;
		times.add(t);
		rounds.add(net.total_rounds() - before);
	}
	std::printf("failover with 20%% loss, %d runs: converged %d\n  rounds   %s\n  time     %s\n", kRuns,
		    converged, rounds.text("rounds").c_str(), times.text("ms").c_str());
	EXPECT_EQ(converged, kRuns);
}
