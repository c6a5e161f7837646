// SPDX-License-Identifier: GPL-2.0-or-later
// The connectivity manager alone: detection, the offers it makes, the
// two-phase order it drives, refusals, timeouts, moves and departures,
// with the members played by the test.
#include "shortcut_test_util.h"

using namespace shortcut_test;

namespace {

struct Events : ManagerEvents {
	std::vector<std::string> log;
	void shortcut_up(const ShortcutInfo &s) override { log.push_back("up " + std::to_string(s.id)); }
	void shortcut_down(const ShortcutInfo &s, const std::string &why) override
	{
		log.push_back("down " + std::to_string(s.id) + " " + why);
	}
};

struct ShortcutManagerTest : ::testing::Test {
	HandClock clock;
	SeededRandom random{3};
	CapturingManagerChannel channel;
	Events events;
	ManagerSettings settings;
	std::unique_ptr<ShortcutManager> manager;
	std::map<std::string, uint64_t> member_sequence;

	void SetUp() override
	{
		settings.relay_threshold_packets = 5;
		settings.setup_timeout_ms = 5000;
		settings.holddown_ms = 20000;
		settings.lifetime_s = 100;
		manager = std::make_unique<ShortcutManager>(settings, clock, random, channel, &events);
		ASSERT_TRUE(manager->member_outside("gm-a", {prefix("10.1.0.0/24")}, ip("192.0.2.10")).ok());
		ASSERT_TRUE(manager->member_outside("gm-b", {prefix("10.2.0.0/24")}, ip("198.51.100.20")).ok());
		ASSERT_TRUE(manager->member_outside("gm-c", {prefix("10.3.0.0/24")}, ip("203.0.113.30")).ok());
	}

	Bytes a_ip() { return ip("10.1.0.5").ip; }
	Bytes b_ip() { return ip("10.2.0.9").ip; }

	Bytes ack_bytes(const std::string &from, uint32_t id, MsgType acked, AckStatus status = AckStatus::Ok)
	{
		ShortcutMessage m;
		m.epoch = 0xabcd;
		m.sequence = ++member_sequence[from];
		m.shortcut_id = id;
		m.body = Ack{acked, status};
		return Bytes(encode_shortcut_message(m).value());
	}
	Result<Done> ack(const std::string &from, uint32_t id, MsgType acked, AckStatus status = AckStatus::Ok)
	{
		return manager->receive(from, ack_bytes(from, id, acked, status));
	}
	// the messages sent since `since`, as "member TYPE"
	std::vector<std::string> sent_since(size_t since)
	{
		std::vector<std::string> out;
		for (size_t i = since; i < channel.sent.size(); i++)
			out.push_back(channel.sent[i].first + " " + msg_type_name(decoded(channel.sent[i].second).type()));
		return out;
	}
	uint32_t detect()
	{
		manager->relayed(a_ip(), b_ip(), 5);
		EXPECT_EQ(manager->shortcuts().size(), 1u);
		return manager->shortcuts().empty() ? 0 : manager->shortcuts()[0].id;
	}
	uint32_t bring_up()
	{
		uint32_t id = detect();
		EXPECT_TRUE(ack("gm-a", id, MsgType::Offer).ok());
		EXPECT_TRUE(ack("gm-b", id, MsgType::Offer).ok());
		EXPECT_TRUE(ack("gm-a", id, MsgType::Go).ok());
		EXPECT_TRUE(ack("gm-b", id, MsgType::Go).ok());
		return id;
	}
};

TEST_F(ShortcutManagerTest, RelayedTrafficPastTheThresholdStartsTheShortcut)
{
	manager->relayed(a_ip(), b_ip(), 4);
	EXPECT_TRUE(channel.sent.empty());
	// traffic with a non-member or an inside destination is the gateway's own
	manager->relayed(a_ip(), ip("10.200.0.1").ip, 100);
	manager->relayed(a_ip(), ip("10.1.0.7").ip, 100); // the same member
	EXPECT_TRUE(channel.sent.empty());
	manager->relayed(b_ip(), a_ip(), 1); // either direction counts
	ASSERT_EQ(channel.sent.size(), 2u);
	EXPECT_EQ(manager->counters().detected_relayed, 1u);
	EXPECT_EQ(manager->counters().offers_sent, 2u);

	ShortcutMessage to_b = decoded(channel.sent[0].second), to_a = decoded(channel.sent[1].second);
	EXPECT_EQ(channel.sent[0].first, "gm-b");
	const Offer &ob = std::get<Offer>(to_b.body), &oa = std::get<Offer>(to_a.body);
	EXPECT_EQ(oa.peer_outside, ip("198.51.100.20"));
	EXPECT_EQ(ob.peer_outside, ip("192.0.2.10"));
	EXPECT_EQ(oa.local_inside, prefix("10.1.0.0/24"));
	EXPECT_EQ(oa.peer_inside, prefix("10.2.0.0/24"));
	// one member's outbound SA is the other's inbound one
	EXPECT_EQ(oa.spi_out, ob.spi_in);
	EXPECT_EQ(oa.spi_in, ob.spi_out);
	EXPECT_EQ(oa.key_out, ob.key_in);
	EXPECT_EQ(oa.key_in, ob.key_out);
	EXPECT_NE(oa.key_in, oa.key_out);
	EXPECT_EQ(oa.key_in.size(), 36u);
	EXPECT_EQ(oa.lifetime_s, 100u);
	EXPECT_EQ(to_a.shortcut_id, to_b.shortcut_id);

	// the context of each member
	const MemberContext *a = manager->member("gm-a");
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(a->correspondents, std::set<std::string>{"gm-b"});
	EXPECT_EQ(a->shortcuts.size(), 1u);
	// more relayed traffic while the setup runs starts nothing more
	manager->relayed(a_ip(), b_ip(), 100);
	EXPECT_EQ(channel.sent.size(), 2u);
}

TEST_F(ShortcutManagerTest, GoFollowsThePeersAckOnly)
{
	uint32_t id = detect();
	size_t n = channel.sent.size();
	ASSERT_TRUE(ack("gm-a", id, MsgType::Offer).ok());
	// gm-a can receive: gm-b may send, gm-a may not yet
	EXPECT_EQ(sent_since(n), std::vector<std::string>{"gm-b GO"});
	ASSERT_TRUE(ack("gm-b", id, MsgType::Go).ok());
	EXPECT_EQ(manager->shortcuts()[0].state, ShortcutState::Offered);
	ASSERT_TRUE(ack("gm-b", id, MsgType::Offer).ok());
	EXPECT_EQ(sent_since(n), (std::vector<std::string>{"gm-b GO", "gm-a GO"}));
	EXPECT_TRUE(events.log.empty());
	ASSERT_TRUE(ack("gm-a", id, MsgType::Go).ok());
	EXPECT_EQ(manager->shortcuts()[0].state, ShortcutState::Up);
	EXPECT_EQ(events.log, std::vector<std::string>{"up " + std::to_string(id)});
	EXPECT_EQ(manager->counters().up, 1u);
}

TEST_F(ShortcutManagerTest, AGoAckBeforeThePeersOfferAckIsOutOfOrder)
{
	uint32_t id = detect();
	ASSERT_TRUE(ack("gm-a", id, MsgType::Go).ok()); // no GO was sent to gm-a
	EXPECT_EQ(manager->counters().acks_unexpected, 1u);
	EXPECT_FALSE(manager->shortcuts()[0].outbound_a);
}

TEST_F(ShortcutManagerTest, ForgedReplayedAndMalformedAcksAreRejected)
{
	uint32_t id = detect();
	size_t n = channel.sent.size();
	// gm-c is a member, but not of this shortcut
	EXPECT_FALSE(ack("gm-c", id, MsgType::Offer).ok());
	EXPECT_EQ(manager->counters().rejected_forged, 1u);
	EXPECT_FALSE(manager->receive("stranger", ack_bytes("gm-a", id, MsgType::Offer)).ok());
	EXPECT_EQ(manager->counters().rejected_forged, 2u);
	Bytes first = ack_bytes("gm-a", id, MsgType::Offer);
	ASSERT_TRUE(manager->receive("gm-a", first).ok());
	EXPECT_FALSE(manager->receive("gm-a", first).ok());
	EXPECT_EQ(manager->counters().rejected_replay, 1u);
	// a manager's message type from a member
	ShortcutMessage go;
	go.epoch = 0xabcd;
	go.sequence = ++member_sequence["gm-b"];
	go.shortcut_id = id;
	go.body = Go{};
	EXPECT_FALSE(manager->receive("gm-b", Bytes(encode_shortcut_message(go).value())).ok());
	EXPECT_EQ(manager->counters().rejected_forged, 3u);
	EXPECT_FALSE(manager->receive("gm-b", Bytes{1, 2, 3}).ok());
	EXPECT_EQ(manager->counters().rejected_malformed, 1u);
	EXPECT_EQ(sent_since(n), std::vector<std::string>{"gm-b GO"}); // only the real ack did something
}

TEST_F(ShortcutManagerTest, ARefusedOfferIsOfferedAgainWithNewSpisThenHeld)
{
	uint32_t id = detect();
	uint32_t spi = manager->shortcuts()[0].spi_ab;
	size_t n = channel.sent.size();
	ASSERT_TRUE(ack("gm-b", id, MsgType::Offer, AckStatus::Duplicate).ok());
	EXPECT_EQ(sent_since(n),
		  (std::vector<std::string>{"gm-a TEARDOWN", "gm-b TEARDOWN", "gm-a OFFER", "gm-b OFFER"}));
	ASSERT_EQ(manager->shortcuts().size(), 1u);
	EXPECT_NE(manager->shortcuts()[0].spi_ab, spi);
	EXPECT_EQ(manager->shortcuts()[0].attempt, 2u);
	uint32_t id2 = manager->shortcuts()[0].id;
	ASSERT_TRUE(ack("gm-a", id2, MsgType::Offer, AckStatus::KernelFailed).ok());
	uint32_t id3 = manager->shortcuts()[0].id;
	ASSERT_TRUE(ack("gm-a", id3, MsgType::Offer, AckStatus::KernelFailed).ok());
	// three attempts: held
	EXPECT_TRUE(manager->shortcuts().empty());
	EXPECT_EQ(manager->counters().aborted, 3u);
	n = channel.sent.size();
	manager->relayed(a_ip(), b_ip(), 100);
	manager->new_session(a_ip(), b_ip());
	EXPECT_EQ(channel.sent.size(), n);
	clock.now += settings.holddown_ms;
	manager->new_session(a_ip(), b_ip());
	EXPECT_EQ(sent_since(n), (std::vector<std::string>{"gm-a OFFER", "gm-b OFFER"}));
	EXPECT_EQ(manager->counters().detected_session, 1u);
	// a NotMine refusal is not retried
	id = manager->shortcuts()[0].id;
	ASSERT_TRUE(ack("gm-b", id, MsgType::Offer, AckStatus::NotMine).ok());
	EXPECT_TRUE(manager->shortcuts().empty());
}

TEST_F(ShortcutManagerTest, ASetupThatDoesNotFinishIsAborted)
{
	uint32_t id = detect();
	ASSERT_TRUE(ack("gm-a", id, MsgType::Offer).ok());
	clock.now += settings.setup_timeout_ms - 1;
	manager->tick();
	EXPECT_EQ(manager->shortcuts().size(), 1u);
	size_t n = channel.sent.size();
	clock.now += 1;
	manager->tick();
	EXPECT_TRUE(manager->shortcuts().empty());
	EXPECT_EQ(sent_since(n), (std::vector<std::string>{"gm-a TEARDOWN", "gm-b TEARDOWN"}));
	EXPECT_EQ(std::get<Teardown>(decoded(channel.sent.back().second).body).reason, TeardownReason::Aborted);
	// a late ACK of the gone shortcut changes nothing
	ASSERT_TRUE(ack("gm-b", id, MsgType::Offer).ok());
	EXPECT_EQ(manager->counters().acks_unexpected, 1u);
	EXPECT_TRUE(events.log.empty()); // it never was up
}

TEST_F(ShortcutManagerTest, MovesAreSentToThePeer)
{
	uint32_t id = bring_up();
	size_t n = channel.sent.size();
	ASSERT_TRUE(manager->member_moved("gm-a", ip("192.0.2.77")).ok());
	ASSERT_EQ(sent_since(n), std::vector<std::string>{"gm-b PEER_MOVED"});
	EXPECT_EQ(std::get<PeerMoved>(decoded(channel.sent.back().second).body).peer_outside, ip("192.0.2.77"));
	EXPECT_EQ(manager->member("gm-a")->outside, ip("192.0.2.77"));
	ASSERT_TRUE(manager->member_moved("gm-a", ip("192.0.2.77")).ok()); // no change: nothing sent
	EXPECT_EQ(channel.sent.size(), n + 1);
	EXPECT_EQ(manager->shortcuts()[0].moves, 1u);
	EXPECT_EQ(manager->shortcuts()[0].id, id);
	EXPECT_FALSE(manager->member_moved("gm-ghost", ip("192.0.2.1")).ok());
}

TEST_F(ShortcutManagerTest, InsideAndGoneMembersEndTheirShortcuts)
{
	uint32_t id = bring_up();
	size_t n = channel.sent.size();
	ASSERT_TRUE(manager->member_inside("gm-b").ok());
	EXPECT_EQ(sent_since(n), (std::vector<std::string>{"gm-a TEARDOWN", "gm-b TEARDOWN"}));
	EXPECT_EQ(std::get<Teardown>(decoded(channel.sent[n].second).body).reason, TeardownReason::PeerInside);
	EXPECT_EQ(std::get<Teardown>(decoded(channel.sent[n + 1].second).body).reason, TeardownReason::Inside);
	EXPECT_TRUE(manager->shortcuts().empty());
	EXPECT_EQ(events.log.back(), "down " + std::to_string(id) + " gm-b came inside");
	// no shortcut with a member inside, by traffic or by request
	n = channel.sent.size();
	manager->relayed(a_ip(), b_ip(), 100);
	EXPECT_EQ(channel.sent.size(), n);
	EXPECT_FALSE(manager->request("gm-a", "gm-b").ok());
	EXPECT_EQ(manager->counters().refused_unknown_member, 1u);

	// back outside, then gone: only the peer is told
	ASSERT_TRUE(manager->member_outside("gm-b", {prefix("10.2.0.0/24")}, ip("198.51.100.21")).ok());
	member_sequence["gm-b"] = 0; // its new IKE SA: a new epoch may start from 1
	id = bring_up();
	n = channel.sent.size();
	ASSERT_TRUE(manager->member_gone("gm-a").ok());
	EXPECT_EQ(sent_since(n), std::vector<std::string>{"gm-b TEARDOWN"});
	EXPECT_EQ(std::get<Teardown>(decoded(channel.sent.back().second).body).reason, TeardownReason::PeerGone);
	EXPECT_EQ(manager->member("gm-a"), nullptr);
	EXPECT_TRUE(manager->member("gm-b")->correspondents.empty());
	EXPECT_FALSE(manager->request("gm-a", "gm-b").ok());
	EXPECT_EQ(manager->counters().refused_unknown_member, 2u);
}

TEST_F(ShortcutManagerTest, RequestsAndOperatorRemoval)
{
	auto r = manager->request("gm-a", "gm-nobody");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message, "no member gm-nobody: no shortcut offered");
	EXPECT_TRUE(channel.sent.empty());
	EXPECT_FALSE(manager->request("gm-a", "gm-a").ok());
	auto ok = manager->request("gm-a", "gm-c");
	ASSERT_TRUE(ok.ok());
	EXPECT_FALSE(manager->request("gm-c", "gm-a").ok()); // one per pair
	EXPECT_EQ(channel.sent.size(), 2u);
	ASSERT_TRUE(manager->remove(ok.value()).ok());
	EXPECT_TRUE(manager->shortcuts().empty());
	EXPECT_FALSE(manager->remove(ok.value()).ok());
}

TEST_F(ShortcutManagerTest, UpShortcutsAreRenewedBeforeTheirSasExpire)
{
	uint32_t id = bring_up();
	clock.now += settings.lifetime_s * 900 - 1;
	manager->tick();
	EXPECT_EQ(manager->shortcuts()[0].id, id);
	size_t n = channel.sent.size();
	clock.now += 1;
	manager->tick();
	EXPECT_EQ(sent_since(n),
		  (std::vector<std::string>{"gm-a TEARDOWN", "gm-b TEARDOWN", "gm-a OFFER", "gm-b OFFER"}));
	ASSERT_EQ(manager->shortcuts().size(), 1u);
	EXPECT_NE(manager->shortcuts()[0].id, id);
}

TEST_F(ShortcutManagerTest, BadMemberData)
{
	EXPECT_FALSE(manager->member_outside("gm-d", {}, ip("192.0.2.1")).ok());
	EXPECT_FALSE(manager->member_outside("gm-d", {prefix("10.4.0.0/24")}, ip("224.0.0.1")).ok());
	EXPECT_FALSE(manager->member_outside("", {prefix("10.4.0.0/24")}, ip("192.0.2.1")).ok());
	Prefix host_bits{ip("10.4.0.1").ip, 24};
	auto r = manager->member_outside("gm-d", {host_bits}, ip("192.0.2.1"));
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message, "inside prefix 10.4.0.1/24 is not a prefix");
	EXPECT_EQ(manager->member("gm-d"), nullptr);
	EXPECT_FALSE(manager->member_inside("gm-d").ok());
	EXPECT_FALSE(manager->member_gone("gm-d").ok());
}

} // namespace
