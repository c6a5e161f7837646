// SPDX-License-Identifier: GPL-2.0-or-later
// Every transition of seed 003's FIG. 2 (Ready, Discovery, Election,
// Client, Election-Incomplete), FIG. 3 (call, coin toss, candidacy, listen,
// vote, victory, probation, collision) and FIG. 4 (rogue callers), and the
// security checks, on the simulated group of election_sim.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "election_core.h"
#include "election_sim.h"

using namespace groupsec;
using namespace groupsec::election;
using namespace groupsec::election::sim;

namespace {

size_t count_sent(const Network &net, MessageType type, size_t from)
{
	size_t n = 0;
	for (const auto &s : net.sent)
		if (s.type == type && s.from == from)
			n++;
	return n;
}

std::unique_ptr<crypto::RandomSource> tails(size_t)
{
	return std::make_unique<FixedRandom>(0);
}

std::unique_ptr<crypto::RandomSource> heads(size_t)
{
	return std::make_unique<FixedRandom>(0xff);
}

// A 3+3 group that agreed on ks3 (every coin shows heads, so every
// candidate stands and the highest address wins).
void converge(Network &net)
{
	net.build(three_and_three(), ElectionConfig(), heads);
	net.start_all();
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	ASSERT_EQ(net.agreed_leader(), "ks3");
}

} // namespace

// FIG. 2: Ready -> Discovery, LEADER_R_U_THERE and its three
// retransmissions, then Election; a lone candidate elects itself.
TEST(ElectionFsm, DiscoveryRetransmitsThreeTimesThenCallsAnElection)
{
	Network net(1);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}});
	ElectionFsm &ks1 = net.fsm(0);
	EXPECT_EQ(ks1.state(), State::Ready);
	uint64_t t0 = net.clock.now;
	ks1.start();
	EXPECT_EQ(ks1.state(), State::Discovery);
	EXPECT_EQ(ks1.phase(), Phase::Querying);
	net.run_until(t0 + 999);
	ASSERT_EQ(net.sent.size(), 4u);
	for (size_t i = 0; i < 4; i++) {
		EXPECT_EQ(net.sent[i].type, MessageType::LeaderRUThere);
		EXPECT_EQ(net.sent[i].at, t0 + 250 * i);
	}
	EXPECT_EQ(ks1.phase(), Phase::Querying);
	net.run_until(t0 + 1100); // the last query timed out; the call follows within the jitter
	EXPECT_EQ(ks1.state(), State::Election);
	EXPECT_EQ(ks1.phase(), Phase::Listen);
	ASSERT_EQ(net.sent.size(), 6u);
	EXPECT_EQ(net.sent[4].type, MessageType::ElectionCall);
	EXPECT_EQ(net.sent[5].type, MessageType::Candidacy); // the caller always stands
	uint64_t call_at = net.sent[4].at;
	net.run_until(call_at + 400);
	EXPECT_EQ(ks1.phase(), Phase::Probation);
	EXPECT_EQ(net.sent.back().type, MessageType::Victory);
	net.run_until(call_at + 800);
	EXPECT_EQ(ks1.state(), State::Leader);
	EXPECT_EQ(ks1.leader().identity, "ks1");
	EXPECT_TRUE(ks1.leader().self);
	EXPECT_EQ(ks1.snapshot().last_outcome, Outcome::Elected);
	EXPECT_EQ(net.nodes[0]->recorder->leaders, std::vector<std::string>{"ks1"});
	EXPECT_EQ(ks1.next_deadline_ms(), kNever);
}

// FIG. 2: Discovery -> Client when the server answers; no election is
// called (paragraph 0057).
TEST(ElectionFsm, DiscoveryFindsTheServerInOffice)
{
	Network net(2);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0}});
	net.fsm(0).start();
	net.run_for(3000);
	ASSERT_EQ(net.fsm(0).state(), State::Leader);
	// it announced itself when it took office
	ASSERT_EQ(count_sent(net, MessageType::LeaderRUThereAck, 0), 1u);
	net.fsm(1).start();
	net.run_for(50);
	EXPECT_EQ(net.fsm(1).state(), State::Client);
	EXPECT_EQ(net.fsm(1).leader().identity, "ks1");
	EXPECT_EQ(net.fsm(1).leader().address, ip4(10, 0, 0, 1));
	EXPECT_EQ(net.fsm(1).snapshot().last_outcome, Outcome::Found);
	EXPECT_EQ(net.fsm(1).counters().rounds, 0u);
	EXPECT_EQ(net.fsm(0).counters().rounds, 1u);
	EXPECT_EQ(count_sent(net, MessageType::LeaderRUThereAck, 0), 2u); // and answered the query
}

// A node hands a server named by an election over (to its listener: the
// member registers to it) only once that server answers, and the server
// answers only once its service is on (await_service): a member whose
// probation ends before the winner's (it called, the winner heard the call
// later) must not register to a node that does not serve yet.
TEST(ElectionFsm, AnElectedServerIsHandedOverOnlyOnceItServes)
{
	Network net(33);
	ElectionConfig c;
	c.await_service = true;
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0}}, c, heads);
	ElectionFsm &ks1 = net.fsm(0), &gm1 = net.fsm(1);
	gm1.start();
	net.run_for(900);
	ks1.start(); // still discovering when gm1 calls: it hears the call 1 to 5 ms later
	while (gm1.state() != State::Election)
		net.run_for(1);
	while (gm1.state() == State::Election)
		net.run_for(1);
	// gm1's probation is over, ks1's not yet: ks1 is named, not serving
	EXPECT_EQ(ks1.state(), State::Election);
	EXPECT_EQ(gm1.state(), State::Client);
	EXPECT_EQ(gm1.phase(), Phase::Confirming);
	EXPECT_EQ(gm1.snapshot().last_outcome, Outcome::Elected);
	EXPECT_TRUE(net.nodes[1]->recorder->leaders.empty());
	EXPECT_TRUE(gm1.leader().identity.empty());
	EXPECT_EQ(net.sent.back().type, MessageType::LeaderRUThere); // asked at once
	while (ks1.state() != State::Leader)
		net.run_for(1);
	// elected, but its service is not on: it neither announces nor answers
	uint64_t ignored = ks1.counters().ignored;
	net.run_for(100);
	EXPECT_EQ(count_sent(net, MessageType::LeaderRUThereAck, 0), 0u);
	EXPECT_TRUE(net.nodes[1]->recorder->leaders.empty());
	EXPECT_EQ(gm1.phase(), Phase::Confirming);
	EXPECT_GE(ks1.counters().ignored, ignored); // gm1's query, if it came after the probation
	gm1.service_failed(); // nothing to check yet: no server handed over
	EXPECT_EQ(gm1.phase(), Phase::Confirming);
	// the glue switched the service on: ks1 announces itself, gm1 hands it over
	ks1.service_ready();
	EXPECT_EQ(net.sent.back().type, MessageType::LeaderRUThereAck);
	net.run_for(10);
	EXPECT_EQ(net.nodes[1]->recorder->leaders, std::vector<std::string>{"ks1"});
	EXPECT_EQ(gm1.state(), State::Client);
	EXPECT_EQ(gm1.phase(), Phase::None);
	EXPECT_EQ(gm1.leader().identity, "ks1");
	EXPECT_EQ(gm1.counters().rounds, 1u);
	// and from now on ks1 answers queries
	size_t acks = count_sent(net, MessageType::LeaderRUThereAck, 0);
	net.run_for(1000);
	EXPECT_GT(count_sent(net, MessageType::LeaderRUThereAck, 0), acks);
	EXPECT_EQ(net.agreed_leader(), "ks1");
	ks1.service_ready(); // again: nothing more
	EXPECT_EQ(gm1.counters().rounds, 1u);
}

// A named server that never answers is not handed over: after query_ms the
// node discovers, as when a keepalive goes unanswered.
TEST(ElectionFsm, ANamedServerThatNeverServesIsNotHandedOver)
{
	Network net(34);
	ElectionConfig c;
	c.await_service = true;
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0}}, c, heads);
	net.start_all();
	while (net.fsm(1).phase() != Phase::Confirming)
		net.run_for(1);
	net.run_for(251);
	EXPECT_EQ(net.fsm(1).state(), State::Discovery);
	net.run_for(5000);
	EXPECT_TRUE(net.nodes[1]->recorder->leaders.empty());
	EXPECT_NE(net.fsm(1).leader().identity, "ks1");
	// the server in office, re-elected in the elections gm1 calls, is
	// still not serving; once it is, gm1 finds it
	net.fsm(0).service_ready();
	net.run_for(3000);
	EXPECT_EQ(net.nodes[1]->recorder->leaders, std::vector<std::string>{"ks1"});
}

// The server in office re-elected (a needless election) serves already:
// it answers at once.
TEST(ElectionFsm, AServerReElectedInOfficeAnswersAtOnce)
{
	Network net(35);
	ElectionConfig c;
	c.await_service = true;
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0},
		   {"gm2", ip4(10, 0, 0, 12), false, 0}},
		  c, heads);
	net.start_all();
	while (net.fsm(0).state() != State::Leader)
		net.run_for(1);
	net.fsm(0).service_ready();
	ASSERT_NE(net.run_until_agreed(1000), kNever);
	net.inject_all(net.craft(2, MessageType::ElectionCall, 1u << 30), 2); // gm2 calls needlessly
	while (net.fsm(0).state() != State::Election)
		net.run_for(1);
	size_t acks = count_sent(net, MessageType::LeaderRUThereAck, 0);
	while (net.fsm(0).state() != State::Leader)
		net.run_for(1);
	// announced (and maybe answered a query): serving, without a new service_ready()
	EXPECT_GE(count_sent(net, MessageType::LeaderRUThereAck, 0), acks + 1);
	ASSERT_NE(net.run_until_agreed(1000), kNever);
	EXPECT_EQ(net.nodes[1]->recorder->leaders, std::vector<std::string>{"ks1"});
}

// Only an authorized candidate can be the server: a member's ACK is refused.
TEST(ElectionFsm, DiscoveryRefusesAnAckFromANonCandidate)
{
	Network net(3);
	net.build({{"gm1", ip4(10, 0, 0, 11), false, 0}, {"gm2", ip4(10, 0, 0, 12), false, 0}});
	net.fsm(0).start();
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 7), 1);
	net.run_for(20);
	EXPECT_EQ(net.fsm(0).counters().unauthorized, 1u);
	EXPECT_EQ(net.fsm(0).state(), State::Discovery);
	EXPECT_TRUE(net.fsm(0).leader().identity.empty());
}

// FIG. 3 without loss: every node votes the same, the highest address wins,
// losers and members become clients of the victor.
TEST(ElectionFsm, HighestAddressWinsAndEveryoneFollows)
{
	Network net(4);
	converge(net);
	for (size_t i = 0; i < net.nodes.size(); i++) {
		EXPECT_EQ(net.fsm(i).leader().identity, "ks3") << i;
		EXPECT_EQ(net.fsm(i).leader().address, ip4(10, 0, 0, 3)) << i;
		EXPECT_EQ(net.fsm(i).state(), i == 2 ? State::Leader : State::Client) << i;
		EXPECT_EQ(net.fsm(i).counters().forged + net.fsm(i).counters().replayed, 0u);
	}
}

TEST(ElectionFsm, PriorityRanksBeforeAddress)
{
	Network net(5);
	auto specs = three_and_three();
	specs[0].priority = 10;
	net.build(specs, ElectionConfig(), heads);
	net.start_all();
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.agreed_leader(), "ks1");
}

TEST(ElectionFsm, Ipv6GroupElectsTheHighestAddress)
{
	Network net(6);
	auto v6 = [](uint8_t last) {
		Bytes a(16, 0);
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[15] = last;
		return a;
	};
	net.build({{"ks1", v6(0x31), true, 0}, {"ks2", v6(0x12), true, 0}, {"gm1", v6(0x99), false, 0}});
	net.start_all();
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.agreed_leader(), "ks1");
	EXPECT_EQ(net.fsm(2).leader().address, v6(0x31));
}

// Block 304 and paragraph 0051: the calling candidate stands without a coin
// toss; a candidate that only hears the call tosses, and on tails stays out
// even with the higher address.
TEST(ElectionFsm, TheCallerAlwaysStandsOthersTossACoin)
{
	Network net(7);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"ks2", ip4(10, 0, 0, 2), true, 0}}, ElectionConfig(), tails);
	net.fsm(0).start();
	net.run_for(900);
	net.fsm(1).start(); // still discovering when ks1 calls
	net.run_for(3000);
	EXPECT_EQ(count_sent(net, MessageType::ElectionCall, 0), 1u);
	EXPECT_EQ(count_sent(net, MessageType::Candidacy, 0), 1u);
	EXPECT_EQ(count_sent(net, MessageType::ElectionCall, 1), 0u);
	EXPECT_EQ(count_sent(net, MessageType::Candidacy, 1), 0u);
	EXPECT_EQ(net.agreed_leader(), "ks1");
}

// Heads: every candidate that hears the call stands.
TEST(ElectionFsm, OnHeadsEveryCandidateStands)
{
	Network net(8);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"ks2", ip4(10, 0, 0, 2), true, 0}}, ElectionConfig(), heads);
	net.fsm(0).start();
	net.run_for(900);
	net.fsm(1).start();
	net.run_for(3000);
	EXPECT_EQ(count_sent(net, MessageType::Candidacy, 1), 1u);
	EXPECT_EQ(net.agreed_leader(), "ks2");
}

// Paragraph 0061: all tails, no candidate, no victor; the nodes go back
// to Discovery (FIG. 2), time out and call again; no deadlock.
TEST(ElectionFsm, AllTailsMeansNoVictorThenANewElection)
{
	Network net(9);
	net.build({{"gm1", ip4(10, 0, 0, 11), false, 0}, {"ks1", ip4(10, 0, 0, 1), true, 0},
		   {"ks2", ip4(10, 0, 0, 2), true, 0}},
		  ElectionConfig(), tails);
	net.fsm(0).start();
	net.run_for(800);
	net.fsm(1).start();
	net.fsm(2).start();
	net.run_for(1000 + 400); // gm1 called at 1000; listen round over
	EXPECT_EQ(count_sent(net, MessageType::Candidacy, 1) + count_sent(net, MessageType::Candidacy, 2), 0u);
	net.run_for(400); // probation over: nobody announced victory
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(net.fsm(i).state(), State::Discovery) << i;
		EXPECT_EQ(net.fsm(i).snapshot().last_outcome, Outcome::NoVictor) << i;
		EXPECT_EQ(net.fsm(i).snapshot().attempts, 1u) << i;
	}
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	// the first candidate to call stood; the other may have joined on tails
	std::string leader = net.agreed_leader();
	EXPECT_TRUE(leader == "ks1" || leader == "ks2") << leader;
	EXPECT_EQ(net.fsm(0).counters().rounds, 2u);
	EXPECT_EQ(net.fsm(0).snapshot().attempts, 0u);
}

// Paragraph 0053: after max_attempts failed elections, Election-Incomplete;
// it discovers again after incomplete_retry_ms.
TEST(ElectionFsm, AttemptLimitEndsInElectionIncomplete)
{
	Network net(10);
	net.build({{"gm1", ip4(10, 0, 0, 11), false, 0}, {"gm2", ip4(10, 0, 0, 12), false, 0},
		   {"gm3", ip4(10, 0, 0, 13), false, 0}});
	net.start_all();
	net.run_for(8000);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(net.fsm(i).state(), State::Incomplete) << i;
		EXPECT_EQ(net.fsm(i).counters().rounds, 3u) << i;
		EXPECT_EQ(net.fsm(i).snapshot().last_outcome, Outcome::Incomplete) << i;
		EXPECT_EQ(net.nodes[i]->recorder->incomplete, 1) << i;
	}
	uint64_t retry = net.fsm(0).next_deadline_ms();
	net.run_until(retry);
	EXPECT_EQ(net.fsm(0).state(), State::Discovery);
	EXPECT_EQ(net.fsm(0).snapshot().attempts, 0u);
}

TEST(ElectionFsm, AttemptLimitIsConfigurable)
{
	Network net(11);
	ElectionConfig c;
	c.max_attempts = 1;
	net.build({{"gm1", ip4(10, 0, 0, 11), false, 0}}, c);
	net.start_all();
	net.run_for(5000);
	EXPECT_EQ(net.fsm(0).state(), State::Incomplete);
	EXPECT_EQ(net.fsm(0).counters().rounds, 1u);
}

// Block 306: calls heard in the listen round are ignored; the round's end
// does not move.
TEST(ElectionFsm, TheListenRoundIgnoresNewCalls)
{
	Network net(12);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0},
		   {"gm2", ip4(10, 0, 0, 12), false, 0}});
	net.fsm(0).start();
	net.run_for(1200);
	ASSERT_EQ(net.fsm(0).phase(), Phase::Listen);
	uint64_t end = net.fsm(0).next_deadline_ms();
	net.inject(0, net.craft(2, MessageType::ElectionCall, 50), 2);
	net.run_for(5);
	EXPECT_EQ(net.fsm(0).counters().ignored, 1u);
	EXPECT_EQ(net.fsm(0).phase(), Phase::Listen);
	EXPECT_EQ(net.fsm(0).next_deadline_ms(), end);
	EXPECT_TRUE(net.fsm(0).snapshot().rogue_stack.empty());
	EXPECT_EQ(net.fsm(0).counters().rounds, 1u);
}

// Paragraph 0091: a lost ELECTION_CANDIDACY makes two nodes believe they
// won; both announce, every node sees the collision and a new election
// gives one server.
TEST(ElectionFsm, LostCandidacyGivesTwoVictorsThenANewElection)
{
	Network net(13);
	net.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"ks2", ip4(10, 0, 0, 2), true, 0},
		   {"ks3", ip4(10, 0, 0, 3), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0}},
		  ElectionConfig(), heads);
	bool dropped = false;
	net.drop = [&](size_t from, size_t to, MessageType t) {
		if (!dropped && from == 2 && to == 1 && t == MessageType::Candidacy) {
			dropped = true;
			return true;
		}
		return false;
	};
	net.start_all();
	ASSERT_NE(net.run_until_agreed(8000), kNever);
	EXPECT_TRUE(dropped);
	EXPECT_EQ(net.agreed_leader(), "ks3");
	EXPECT_GE(count_sent(net, MessageType::Victory, 1), 1u); // ks2 believed it won
	EXPECT_GE(count_sent(net, MessageType::Victory, 2), 2u);
	// the candidates' probation ends first: they see the collision and
	// call; the member joins their new election
	for (size_t i = 0; i < 4; i++) {
		if (i < 3)
			EXPECT_GE(net.fsm(i).counters().collisions, 1u) << i;
		EXPECT_GE(net.fsm(i).counters().rounds, 2u) << i;
	}
	EXPECT_EQ(net.nodes[3]->recorder->leaders, std::vector<std::string>{"ks3"});
}

namespace {

// A 3+3 group split in two for 5 s: `alone` (and gm1) on one side, the
// others on the other; each side elects its own server, which holds a
// state of its own. Then the partition heals. Returns the time from the
// heal to every node following one server.
uint64_t partition_and_heal(Network &net, size_t alone, const std::vector<NodeSpec> &specs,
			    std::vector<uint64_t> &rounds)
{
	net.build(specs, ElectionConfig(), heads);
	net.nodes[alone]->side = 1;
	net.nodes[3]->side = 1; // gm1
	net.partitioned = true;
	net.start_all();
	net.run_for(5000);
	for (size_t i = 0; i < net.nodes.size(); i++) {
		EXPECT_TRUE(net.fsm(i).state() == State::Leader || net.fsm(i).state() == State::Client) << i;
		if (net.fsm(i).state() == State::Leader)
			EXPECT_TRUE(net.fsm(i).set_replica(Bytes(4, static_cast<uint8_t>(i + 1)))) << i;
	}
	net.run_for(1500); // each side's standbys hold its server's state
	for (size_t i = 0; i < net.nodes.size(); i++)
		rounds.push_back(net.fsm(i).counters().rounds);
	net.partitioned = false;
	return net.run_until_agreed(5000);
}

} // namespace

// Two servers in office after a partition heals: no new election; the one
// ranking first in the vote's order (here the higher address) stays, the
// other steps down and becomes its standby, and the members that followed
// it move. The loser's state is dropped; it receives the winner's.
TEST(ElectionFsm, TwoServersAfterAPartitionTheHigherRankingOneStays)
{
	Network net(14);
	std::vector<uint64_t> rounds;
	// ks1 and gm1 | ks2, ks3, gm2, gm3: ks1 and ks3 serve
	uint64_t took = partition_and_heal(net, 0, three_and_three(), rounds);
	ASSERT_NE(took, kNever);
	EXPECT_EQ(net.agreed_leader(), "ks3");
	// the first keepalive after the heal meets both servers' ACKs
	EXPECT_LE(took, ElectionTimers().keepalive_ms + ElectionTimers().query_ms);
	for (size_t i = 0; i < 6; i++)
		EXPECT_EQ(net.fsm(i).counters().rounds, rounds[i]) << i; // no election
	EXPECT_EQ(net.fsm(0).snapshot().last_outcome, Outcome::SteppedDown);
	EXPECT_EQ(net.fsm(0).state(), State::Client);
	EXPECT_GE(net.fsm(0).counters().collisions, 1u);
	EXPECT_EQ(net.nodes[0]->recorder->leaders, (std::vector<std::string>{"ks1", "ks3"}));
	EXPECT_EQ(net.nodes[3]->recorder->leaders, (std::vector<std::string>{"ks1", "ks3"}));
	EXPECT_EQ(net.nodes[2]->recorder->leaders, std::vector<std::string>{"ks3"}); // never left office
	// the winner's state wins: the loser becomes its standby and holds it
	net.run_for(1500);
	for (size_t i : {0, 1}) {
		EXPECT_EQ(net.fsm(i).replica_from(), "ks3") << i;
		EXPECT_EQ(Bytes(net.fsm(i).replica().begin(), net.fsm(i).replica().end()), Bytes(4, 3)) << i;
	}
	EXPECT_EQ(net.fsm(2).snapshot().standbys_current, 2u);
	EXPECT_EQ(net.agreed_leader(), "ks3");
	// ks1's last state reached ks3 (MERGE, sealed for it) for the glue to
	// merge its evicted identities, once: acknowledged, not sent again
	const auto &merges = net.nodes[2]->recorder->merges;
	ASSERT_FALSE(merges.empty());
	EXPECT_EQ(merges.front().first, "ks1");
	EXPECT_EQ(merges.front().second, Bytes(4, 1));
	for (const auto &m : merges)
		EXPECT_EQ(m, merges.front());
	EXPECT_EQ(net.fsm(2).counters().merges_received, merges.size());
	const size_t sent = count_sent(net, MessageType::Merge, 0);
	EXPECT_GE(sent, 1u);
	net.run_for(2000);
	EXPECT_EQ(count_sent(net, MessageType::Merge, 0), sent);
	for (size_t i : {1, 3, 4, 5})
		EXPECT_EQ(count_sent(net, MessageType::Merge, i), 0u) << i;
	// sealed: ks1's state is not in the MERGE in the clear
	const Bytes plain(4, 1);
	for (const auto &s : net.sent)
		if (s.type == MessageType::Merge)
			EXPECT_EQ(std::search(s.datagram.begin(), s.datagram.end(), plain.begin(), plain.end()),
				  s.datagram.end());
	EXPECT_TRUE(net.nodes[0]->recorder->merges.empty());
}

// A MERGE is only for the server it is sealed for: another candidate's
// copy, a changed one, or one to a node not in office changes nothing.
TEST(ElectionFsm, AMergeOpensOnlyAtTheServerItIsSealedFor)
{
	Network net(17);
	std::vector<uint64_t> rounds;
	ASSERT_NE(partition_and_heal(net, 0, three_and_three(), rounds), kNever);
	net.run_for(1500);
	const Bytes *merge = nullptr;
	for (const auto &s : net.sent)
		if (s.type == MessageType::Merge && s.from == 0)
			merge = &s.datagram;
	ASSERT_NE(merge, nullptr);
	auto decoded = decode(*merge);
	ASSERT_TRUE(decoded.ok());
	const Bytes body = decoded.value().message.body; // net.sent grows below
	const size_t before = net.nodes[2]->recorder->merges.size();
	// ks2, a standby, gets it: not in office
	uint64_t ignored = net.fsm(1).counters().ignored;
	net.inject(1, net.craft(0, MessageType::Merge, 4000000, nullptr, body), 0);
	net.run_for(2);
	EXPECT_EQ(net.fsm(1).counters().ignored, ignored + 1);
	// ks2 sends ks1's sealed state as its own: the key is bound to the
	// standby's identity (here even the standby keys are the same, every
	// node drawing from the same fixed randomness), so it does not open
	uint64_t forged = net.fsm(2).counters().forged;
	net.inject(2, net.craft(1, MessageType::Merge, 4000001, nullptr, body), 1);
	net.run_for(2);
	EXPECT_EQ(net.fsm(2).counters().forged, forged + 1);
	// a flipped octet of the sealed state, signed again with ks1's key
	auto p = decode_replica(body);
	ASSERT_TRUE(p.ok());
	ReplicaPayload q = p.value();
	q.sealed[0] ^= 1;
	forged = net.fsm(2).counters().forged;
	net.inject(2, net.craft(0, MessageType::Merge, 4000002, nullptr, encode_replica(q).value()), 0);
	net.run_for(2);
	EXPECT_EQ(net.fsm(2).counters().forged, forged + 1);
	// a member cannot send one
	uint64_t unauthorized = net.fsm(2).counters().unauthorized;
	net.inject(2, net.craft(3, MessageType::Merge, 4000003, nullptr, body), 3);
	net.run_for(2);
	EXPECT_EQ(net.fsm(2).counters().unauthorized, unauthorized + 1);
	EXPECT_EQ(net.nodes[2]->recorder->merges.size(), before);
}

// The same heal where the cut-off side's server ranks first (priority
// before address): the larger side's server steps down and its followers
// move to the other; the result does not depend on which side is larger or
// who hears whom first.
TEST(ElectionFsm, TwoServersAfterAPartitionPriorityDecidesWhoStays)
{
	for (uint64_t seed : {21, 22, 23, 24, 25}) {
		Network net(seed);
		auto specs = three_and_three();
		specs[0].priority = 10; // ks1
		std::vector<uint64_t> rounds;
		uint64_t took = partition_and_heal(net, 0, specs, rounds);
		ASSERT_NE(took, kNever) << seed;
		EXPECT_EQ(net.agreed_leader(), "ks1") << seed;
		EXPECT_LE(took, ElectionTimers().keepalive_ms + ElectionTimers().query_ms) << seed;
		for (size_t i = 0; i < 6; i++)
			EXPECT_EQ(net.fsm(i).counters().rounds, rounds[i]) << seed << " " << i;
		EXPECT_EQ(net.fsm(2).snapshot().last_outcome, Outcome::SteppedDown) << seed;
		EXPECT_EQ(net.nodes[4]->recorder->leaders, (std::vector<std::string>{"ks3", "ks1"})) << seed;
		EXPECT_EQ(net.nodes[0]->recorder->leaders, std::vector<std::string>{"ks1"}) << seed;
		net.run_for(1500);
		for (size_t i : {1, 2}) {
			EXPECT_EQ(net.fsm(i).replica_from(), "ks1") << seed << " " << i;
			EXPECT_EQ(Bytes(net.fsm(i).replica().begin(), net.fsm(i).replica().end()), Bytes(4, 1))
				<< seed << " " << i;
		}
		// the loser's state reaches the winner to merge
		ASSERT_FALSE(net.nodes[0]->recorder->merges.empty()) << seed;
		EXPECT_EQ(net.nodes[0]->recorder->merges.front(), std::make_pair(std::string("ks3"), Bytes(4, 3)))
			<< seed;
		EXPECT_EQ(net.agreed_leader(), "ks1") << seed;
	}
}

// A server in office that hears the VICTORY of an election it missed keeps
// the office if it ranks above the victor (the victor steps down when it
// hears its ACK), and steps down if it ranks below; no election either way.
TEST(ElectionFsm, AServerHearingAnotherVictoryKeepsTheOfficeOnlyIfItRanksAbove)
{
	Network net(15);
	converge(net);
	uint64_t rounds = net.fsm(2).counters().rounds;
	net.inject(2, net.craft(1, MessageType::Victory, 1000000), 1); // ks2's
	net.run_for(5);
	EXPECT_EQ(net.fsm(2).counters().collisions, 1u);
	EXPECT_EQ(net.fsm(2).state(), State::Leader);
	EXPECT_EQ(net.fsm(2).counters().rounds, rounds);
	EXPECT_EQ(net.agreed_leader(), "ks3");

	Network up(16);
	up.build({{"ks1", ip4(10, 0, 0, 1), true, 0}, {"ks2", ip4(10, 0, 0, 2), true, 0},
		  {"ks9", ip4(10, 0, 0, 9), true, 0}, {"gm1", ip4(10, 0, 0, 11), false, 0}},
		 ElectionConfig(), heads);
	up.kill(2); // ks9 is away while ks2 is elected
	up.start_all();
	ASSERT_NE(up.run_until_agreed(5000), kNever);
	ASSERT_EQ(up.agreed_leader(), "ks2");
	rounds = up.fsm(1).counters().rounds;
	up.inject(1, up.craft(2, MessageType::Victory, 1000000), 2);
	up.run_for(5);
	EXPECT_EQ(up.fsm(1).state(), State::Client);
	EXPECT_EQ(up.fsm(1).leader().identity, "ks9");
	EXPECT_EQ(up.fsm(1).snapshot().last_outcome, Outcome::SteppedDown);
	EXPECT_EQ(up.fsm(1).counters().rounds, rounds);
}

// FIG. 4: a caller already in the rogue stack is ignored; two entries by
// default, so two other callers push it out.
TEST(ElectionFsm, RogueCallerIsIgnoredWhileInTheStack)
{
	Network net(16);
	converge(net);
	uint64_t seq = 1000000;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3); // gm1 calls
	net.run_for(10);
	EXPECT_EQ(net.fsm(0).state(), State::Election);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.agreed_leader(), "ks3"); // the server in office stood again
	uint64_t rounds = net.fsm(0).counters().rounds;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3); // again
	net.run_for(3000);
	for (size_t i = 0; i < 6; i++) {
		if (i == 3)
			continue;
		EXPECT_EQ(net.fsm(i).counters().rogue, 1u) << i;
		EXPECT_EQ(net.fsm(i).snapshot().rogue_stack.front(), "gm1") << i;
	}
	EXPECT_EQ(net.fsm(0).counters().rounds, rounds);
	EXPECT_EQ(net.agreed_leader(), "ks3");
	// gm2 and gm3 call in turn: gm1 leaves the two-entry stack
	net.inject_all(net.craft(4, MessageType::ElectionCall, seq++), 4);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	net.inject_all(net.craft(5, MessageType::ElectionCall, seq++), 5);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.fsm(0).snapshot().rogue_stack, (std::vector<std::string>{"gm3", "gm2"}));
	rounds = net.fsm(0).counters().rounds;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3);
	net.run_for(10);
	EXPECT_EQ(net.fsm(0).counters().rounds, rounds + 1);
	EXPECT_EQ(net.fsm(0).counters().rogue, 1u);
}

// A node without a server takes a call even from a caller in its stack:
// after a server dies the member that called the last election may be the
// first to notice.
TEST(ElectionFsm, ACallerInTheStackIsHeardWhenTheServerIsGone)
{
	Network net(30);
	converge(net);
	uint64_t seq = 1000000;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	net.kill(2);
	net.run_for(800); // keepalive (500) and its wait (250) are over, the retransmissions not
	ASSERT_EQ(net.fsm(4).state(), State::Discovery);
	uint64_t rounds = net.fsm(4).counters().rounds;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3);
	net.run_for(10);
	EXPECT_EQ(net.fsm(4).state(), State::Election);
	EXPECT_EQ(net.fsm(4).counters().rounds, rounds + 1);
	EXPECT_EQ(net.fsm(4).counters().rogue, 0u);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.agreed_leader(), "ks2");
}

TEST(ElectionFsm, RogueStackSizeAndHoldAreConfigurable)
{
	Network net(17);
	ElectionConfig c;
	c.rogue_stack = 1;
	c.timers.rogue_hold_ms = 10000;
	net.build(three_and_three(), c);
	net.start_all();
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	uint64_t seq = 1000000;
	net.inject_all(net.craft(3, MessageType::ElectionCall, seq++), 3);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	net.inject_all(net.craft(4, MessageType::ElectionCall, seq++), 4); // pushes gm1 out
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.fsm(0).snapshot().rogue_stack, std::vector<std::string>{"gm2"});
	net.inject_all(net.craft(4, MessageType::ElectionCall, seq++), 4);
	net.run_for(10);
	EXPECT_EQ(net.fsm(0).counters().rogue, 1u);
	net.run_for(10000); // the entry is forgotten
	uint64_t rounds = net.fsm(0).counters().rounds;
	net.inject_all(net.craft(4, MessageType::ElectionCall, seq++), 4);
	net.run_for(10);
	EXPECT_EQ(net.fsm(0).counters().rounds, rounds + 1);
	EXPECT_EQ(net.fsm(0).counters().rogue, 1u);
}

// Paragraph 0076: a replayed message (sequence number below the one
// expected) is dropped and counted; nothing changes.
TEST(ElectionFsm, ReplayedMessagesAreDroppedAndCounted)
{
	Network net(18);
	converge(net);
	const Bytes *victory = nullptr;
	const Bytes *call = nullptr;
	for (const auto &s : net.sent) {
		if (s.from == 2 && s.type == MessageType::Victory)
			victory = &s.datagram;
		if (s.type == MessageType::ElectionCall && !call)
			call = &s.datagram;
	}
	ASSERT_TRUE(victory && call);
	auto before = net.fsm(3).snapshot();
	net.inject(3, *victory, 2);
	net.inject(3, *call, 0);
	net.run_for(20);
	EXPECT_EQ(net.fsm(3).counters().replayed, 2u);
	EXPECT_EQ(net.fsm(3).state(), State::Client);
	EXPECT_EQ(net.fsm(3).counters().rounds, before.counters.rounds);
	EXPECT_EQ(net.agreed_leader(), "ks3");
}

// The first message from a sender is accepted whatever its number; then
// higher numbers, and lower ones not seen yet within a window of 64 (a
// reordered datagram), each once.
TEST(ElectionFsm, FirstMessageFromASenderIsAcceptedThenOnlyHigherNumbers)
{
	Network net(19);
	net.build({{"gm1", ip4(10, 0, 0, 11), false, 0}, {"ks1", ip4(10, 0, 0, 1), true, 0}});
	net.fsm(0).start();
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5000), 1);
	net.run_for(5);
	EXPECT_EQ(net.fsm(0).state(), State::Client);
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5000), 1);
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5002), 1);
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5001), 1); // reordered: accepted
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5001), 1);
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5100), 1);
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5036), 1); // below the window
	net.inject(0, net.craft(1, MessageType::LeaderRUThereAck, 5037), 1); // its oldest slot
	net.run_for(5);
	EXPECT_EQ(net.fsm(0).counters().replayed, 3u);
	EXPECT_EQ(net.fsm(0).snapshot().counters.forged, 0u);
}

// Bad signature, unknown sender, wrong method, spoofed source address,
// garbage: dropped, counted, nothing changes.
TEST(ElectionFsm, ForgedMessagesAreDroppedAndCounted)
{
	Network net(20);
	converge(net);
	size_t gm1 = 3;
	auto before = net.fsm(gm1).snapshot();
	Bytes flipped = net.craft(1, MessageType::Victory, 2000000);
	flipped[flipped.size() - 5] ^= 0x01;
	net.inject(gm1, flipped, 1);
	// ks2's identity, someone else's key
	auto mallory = ed25519_signer(Bytes(32, 0x77)).value();
	net.inject(gm1, net.craft(1, MessageType::Victory, 2000001, mallory.get()), 1);
	// a group key where ks2 has a public key
	auto psk = group_psk_signer(Bytes(32, 1)).value();
	net.inject(gm1, net.craft(1, MessageType::ElectionCall, 2000002, psk.get()), 1);
	// a sender nobody knows
	Message m;
	m.type = MessageType::ElectionCall;
	m.sequence = 1;
	m.identity = "mallory";
	m.auth = AuthMethod::Ed25519;
	m.signature = mallory->sign(encode_signed_part(m).value()).value();
	net.inject(gm1, encode(m).value(), 1);
	// ks2's genuine VICTORY from another address
	net.inject_from(gm1, net.craft(1, MessageType::Victory, 2000003), ip4(10, 0, 0, 99));
	net.inject(gm1, Bytes{1, 2, 3}, 1);
	net.run_for(20);
	auto after = net.fsm(gm1).snapshot();
	EXPECT_EQ(after.counters.forged, before.counters.forged + 5);
	EXPECT_EQ(after.counters.malformed, before.counters.malformed + 1);
	EXPECT_EQ(after.state, State::Client);
	EXPECT_EQ(after.leader.identity, "ks3");
	EXPECT_EQ(after.counters.rounds, before.counters.rounds);
	EXPECT_EQ(after.counters.collisions, before.counters.collisions);
	// the genuine message is still accepted afterwards: forged ones moved no counter
	net.inject(gm1, net.craft(1, MessageType::LeaderRUThereAck, 2000004), 1);
	net.run_for(5);
	EXPECT_EQ(net.fsm(gm1).counters().collisions, before.counters.collisions + 1);
}

// Another group's messages are not this election's.
TEST(ElectionFsm, OtherGroupsAreIgnored)
{
	Network net(21);
	converge(net);
	Message m;
	m.type = MessageType::ElectionCall;
	m.sequence = 3000000;
	m.group = 99;
	m.identity = "gm2";
	m.signature = net.nodes[4]->signer->sign(encode_signed_part(m).value()).value();
	net.inject(3, encode(m).value(), 4);
	net.run_for(10);
	EXPECT_EQ(net.fsm(3).counters().other_group, 1u);
	EXPECT_EQ(net.fsm(3).state(), State::Client);
}

// An identity not authorized as a candidate never wins, not even with the
// highest address and priority; its candidacies and victories are dropped.
TEST(ElectionFsm, AnUnauthorizedCandidateNeverWins)
{
	Network net(22);
	auto specs = three_and_three();
	specs.push_back({"gm9", ip4(10, 0, 0, 254), false, 255, true});
	net.build(specs, ElectionConfig(), heads);
	net.start_all();
	net.run_for(15000);
	for (size_t i = 0; i < 6; i++) {
		EXPECT_EQ(net.fsm(i).leader().identity, "ks3") << i;
		auto &l = net.nodes[i]->recorder->leaders;
		EXPECT_EQ(std::count(l.begin(), l.end(), "gm9"), 0) << i;
	}
	EXPECT_GE(count_sent(net, MessageType::Candidacy, 6), 1u);
	EXPECT_GE(net.fsm(0).counters().unauthorized, 1u);
}

// Paragraphs 0057 and 0080: members and losers keep querying the server;
// while it answers there is no election.
TEST(ElectionFsm, NoElectionWhileTheServerAnswers)
{
	Network net(23);
	converge(net);
	std::vector<uint64_t> rounds;
	for (size_t i = 0; i < 6; i++)
		rounds.push_back(net.fsm(i).counters().rounds);
	size_t sent_before = net.sent.size();
	net.run_for(60000);
	for (size_t i = 0; i < 6; i++)
		EXPECT_EQ(net.fsm(i).counters().rounds, rounds[i]) << i;
	EXPECT_EQ(net.agreed_leader(), "ks3");
	EXPECT_GT(count_sent(net, MessageType::LeaderRUThereAck, 2), 100u);
	// queries and answers; besides them only the standbys' keys (state
	// replication: the server has no state to send them here)
	for (size_t i = sent_before; i < net.sent.size(); i++) {
		MessageType t = net.sent[i].type;
		EXPECT_TRUE(t == MessageType::LeaderRUThere || t == MessageType::LeaderRUThereAck ||
			    (t == MessageType::StandbyKey && net.sent[i].from < 2));
	}
}

// FIG. 2: a member whose server stops answering goes back to Discovery,
// then calls an election; the next candidate takes over. Twice.
TEST(ElectionFsm, MemberWhoseServerStopsAnsweringElectsANewOne)
{
	Network net(24);
	converge(net);
	net.run_for(1234);
	uint64_t killed = net.clock.now;
	net.kill(2);
	net.run_for(600); // a keepalive went unanswered
	EXPECT_EQ(net.fsm(3).state(), State::Discovery);
	EXPECT_EQ(net.fsm(3).leader().identity, "ks3"); // kept until replaced
	uint64_t took = net.run_until_agreed(5000);
	ASSERT_NE(took, kNever);
	took += 600;
	EXPECT_EQ(net.agreed_leader(), "ks2");
	// keepalive + 4 queries + jitter + listen + probation, and delivery
	EXPECT_LE(took, 500u + 4 * 250 + 100 + 400 + 400 + 50);
	EXPECT_EQ(net.nodes[3]->recorder->leaders, (std::vector<std::string>{"ks3", "ks2"}));
	net.kill(1);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	EXPECT_EQ(net.agreed_leader(), "ks1");
	EXPECT_GT(net.clock.now, killed);
}

// A failed registration sends the member back to Discovery; the server
// answers and it is a client again, without an election.
TEST(ElectionFsm, ServiceFailureRechecksTheServer)
{
	Network net(25);
	converge(net);
	uint64_t rounds = net.fsm(4).counters().rounds;
	net.fsm(4).service_failed();
	EXPECT_EQ(net.fsm(4).state(), State::Discovery);
	EXPECT_EQ(net.sent.back().type, MessageType::LeaderRUThere);
	net.run_for(50);
	EXPECT_EQ(net.fsm(4).state(), State::Client);
	EXPECT_EQ(net.fsm(4).counters().rounds, rounds);
}

TEST(ElectionFsm, StopSendsNothingMore)
{
	Network net(26);
	converge(net);
	net.fsm(3).stop();
	EXPECT_EQ(net.fsm(3).state(), State::Ready);
	EXPECT_EQ(net.fsm(3).next_deadline_ms(), kNever);
	size_t n = count_sent(net, MessageType::LeaderRUThere, 3);
	net.run_for(5000);
	EXPECT_EQ(count_sent(net, MessageType::LeaderRUThere, 3), n);
}

TEST(ElectionFsm, EcdsaAndGroupKeyGroupsElectToo)
{
	for (AuthMethod m : {AuthMethod::EcdsaP256, AuthMethod::GroupPsk}) {
		Network net(27);
		net.build(three_and_three(), ElectionConfig(), heads, m);
		net.start_all();
		ASSERT_NE(net.run_until_agreed(5000), kNever);
		EXPECT_EQ(net.agreed_leader(), "ks3");
		EXPECT_EQ(net.sent.front().datagram[2], static_cast<uint8_t>(m));
	}
}

// In group key mode a member still cannot win: candidates are listed.
TEST(ElectionFsm, GroupKeyModeStillAuthorizesCandidates)
{
	Network net(28);
	auto specs = three_and_three();
	specs.push_back({"gm9", ip4(10, 0, 0, 254), false, 255, true});
	net.build(specs, ElectionConfig(), heads, AuthMethod::GroupPsk);
	net.start_all();
	net.run_for(10000);
	EXPECT_EQ(net.fsm(3).leader().identity, "ks3");
	EXPECT_GE(net.fsm(3).counters().unauthorized, 1u);
}

// The C snapshot the control socket reads.
TEST(ElectionCoreApi, SnapshotShowsStateLeaderResultAndCounters)
{
	Network net(29);
	converge(net);
	net.inject(3, Bytes{9}, 0);
	net.run_for(5);
	election_core_t *core = election_core_create();
	ASSERT_TRUE(core_add(core, net.nodes[2]->fsm));
	ASSERT_TRUE(core_add(core, net.nodes[3]->fsm));
	EXPECT_EQ(election_core_count(core), 2u);
	election_snapshot_t s;
	ASSERT_TRUE(election_core_snapshot(core, 0, &s));
	EXPECT_STREQ(s.state, "leader");
	EXPECT_STREQ(s.leader, "ks3");
	EXPECT_STREQ(s.leader_address, "10.0.0.3");
	EXPECT_TRUE(s.leader_self);
	EXPECT_STREQ(s.last_result, "elected");
	EXPECT_EQ(s.rounds, net.fsm(2).counters().rounds);
	ASSERT_TRUE(election_core_snapshot(core, 1, &s));
	EXPECT_STREQ(s.state, "client");
	EXPECT_STREQ(s.phase, "none");
	EXPECT_FALSE(s.leader_self);
	EXPECT_EQ(s.malformed, 1u);
	EXPECT_EQ(s.sent, net.fsm(3).counters().sent);
	EXPECT_GT(s.received, 0u);
	EXPECT_FALSE(election_core_snapshot(core, 2, &s));
	election_core_destroy(core);
}

// State replication: the server's state reaches every standby candidate
// (encrypted for each, acknowledged, versioned), no member; a new server
// holds the last state and goes on from its version.
TEST(ElectionFsm, TheServersStateReachesEveryStandbyAndSurvivesTheServer)
{
	Network net(31);
	converge(net);
	net.run_for(1500); // the standbys announced their keys
	ElectionFsm &ks3 = net.fsm(2);
	const Bytes v1 = {1, 2, 3, 4};
	ASSERT_TRUE(ks3.set_replica(v1));
	EXPECT_FALSE(net.fsm(0).set_replica(v1)); // only the server
	net.run_for(300);
	for (size_t i : {0, 1}) {
		EXPECT_EQ(Bytes(net.fsm(i).replica().begin(), net.fsm(i).replica().end()), v1) << i;
		EXPECT_EQ(net.fsm(i).replica_version(), 1u);
		EXPECT_EQ(net.fsm(i).replica_from(), "ks3");
	}
	for (size_t i : {3, 4, 5})
		EXPECT_TRUE(net.fsm(i).replica().empty()) << i;
	EXPECT_EQ(ks3.snapshot().standbys, 2u);
	EXPECT_EQ(ks3.snapshot().standbys_current, 2u);
	// the same state again is no new version; another one is
	size_t sent = count_sent(net, MessageType::Replica, 2);
	ASSERT_TRUE(ks3.set_replica(v1));
	net.run_for(1000);
	EXPECT_EQ(count_sent(net, MessageType::Replica, 2), sent); // acknowledged: not sent again
	const Bytes v2(5000, 0x5a);
	ASSERT_TRUE(ks3.set_replica(v2));
	net.run_for(300);
	EXPECT_EQ(net.fsm(0).replica_version(), 2u);
	EXPECT_EQ(net.fsm(1).replica().size(), v2.size());
	// every REPLICA carries the state encrypted: its octets are not in it
	for (const auto &s : net.sent) {
		if (s.type == MessageType::Replica)
			EXPECT_EQ(std::search(s.datagram.begin(), s.datagram.end(), v2.begin(), v2.begin() + 64),
				  s.datagram.end());
	}
	net.kill(2);
	ASSERT_NE(net.run_until_agreed(5000), kNever);
	ASSERT_EQ(net.agreed_leader(), "ks2");
	ElectionFsm &ks2 = net.fsm(1);
	EXPECT_EQ(ks2.replica().size(), v2.size());
	EXPECT_EQ(ks2.replica_version(), 2u);
	net.run_for(1500);
	const Bytes v3 = {9, 9};
	ASSERT_TRUE(ks2.set_replica(v3));
	net.run_for(300);
	EXPECT_EQ(net.fsm(0).replica_version(), 3u);
	EXPECT_EQ(net.fsm(0).replica_from(), "ks2");
	EXPECT_EQ(Bytes(net.fsm(0).replica().begin(), net.fsm(0).replica().end()), v3);
}

// Only a candidate announces a standby key, only the server in office
// replicates, and a REPLICA changed on the way does not open.
TEST(ElectionFsm, ReplicationRefusesMembersOtherServersAndTampering)
{
	Network net(32);
	converge(net);
	net.run_for(1500);
	ASSERT_TRUE(net.fsm(2).set_replica(Bytes{7, 7, 7}));
	// gm1 claims to be a standby: unauthorized
	uint64_t before = net.fsm(2).counters().unauthorized;
	net.inject(2, net.craft(3, MessageType::StandbyKey, 3000000, nullptr, Bytes(32, 9)), 3);
	net.run_for(2);
	EXPECT_EQ(net.fsm(2).counters().unauthorized, before + 1);
	// a REPLICA of ks1 (not the server) is ignored by ks2
	const Bytes *latest = nullptr;
	for (const auto &s : net.sent)
		if (s.type == MessageType::Replica && s.from == 2)
			latest = &s.datagram;
	ASSERT_NE(latest, nullptr);
	auto d = decode(*latest);
	ASSERT_TRUE(d.ok());
	auto p = decode_replica(d.value().message.body);
	ASSERT_TRUE(p.ok());
	const size_t to = net.index_of(p.value().recipient);
	uint64_t ignored = net.fsm(to).counters().ignored;
	net.inject(to, net.craft(0, MessageType::Replica, 3000001, nullptr, d.value().message.body), 0);
	net.run_for(2);
	EXPECT_EQ(net.fsm(to).counters().ignored, ignored + 1);
	// the server's REPLICA with a flipped octet of the sealed state, signed
	// again (as a holder of its key could): refused as forged
	ReplicaPayload q = p.value();
	q.version = 99;
	q.sealed[0] ^= 1;
	uint64_t forged = net.fsm(to).counters().forged;
	net.inject(to, net.craft(2, MessageType::Replica, 3000002, nullptr, encode_replica(q).value()), 2);
	net.run_for(2);
	EXPECT_EQ(net.fsm(to).counters().forged, forged + 1);
	EXPECT_NE(net.fsm(to).replica_version(), 99u);
}
