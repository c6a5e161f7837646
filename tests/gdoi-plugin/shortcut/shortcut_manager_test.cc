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

// IPv4 header (20 octets, no options) of a packet from src to dst with
// protocol proto, then `rest`.
Bytes ipv4(const std::string &src, const std::string &dst, uint8_t proto, Bytes rest, uint16_t frag = 0)
{
	Bytes p{0x45, 0, 0, 0, 0, 0, static_cast<uint8_t>(frag >> 8), static_cast<uint8_t>(frag), 64, proto, 0, 0};
	Bytes s = ip(src).ip, d = ip(dst).ip;
	p.insert(p.end(), s.begin(), s.end());
	p.insert(p.end(), d.begin(), d.end());
	p.insert(p.end(), rest.begin(), rest.end());
	return p;
}

// A TCP header up to its window, with these flags.
Bytes tcp(uint8_t flags)
{
	return Bytes{0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff};
}

TEST(ShortcutClassify, TcpSynWithoutAckOpensASession)
{
	auto syn = classify_relayed(ipv4("10.1.0.5", "10.2.0.9", 6, tcp(0x02)));
	ASSERT_TRUE(syn);
	EXPECT_EQ(syn->source, ip("10.1.0.5").ip);
	EXPECT_EQ(syn->destination, ip("10.2.0.9").ip);
	EXPECT_TRUE(syn->new_session);
	// the answer and the rest of the connection do not
	for (int flags : {0x12, 0x10, 0x18, 0x11, 0x04}) {
		auto p = classify_relayed(ipv4("10.2.0.9", "10.1.0.5", 6, tcp(static_cast<uint8_t>(flags))));
		ASSERT_TRUE(p);
		EXPECT_FALSE(p->new_session) << flags;
	}
	// not TCP, a later fragment, a TCP header cut before its flags
	auto icmp = classify_relayed(ipv4("10.1.0.5", "10.2.0.9", 1, Bytes{8, 0, 0, 0, 0, 1, 0, 1}));
	ASSERT_TRUE(icmp);
	EXPECT_FALSE(icmp->new_session);
	EXPECT_EQ(icmp->destination, ip("10.2.0.9").ip);
	auto later = classify_relayed(ipv4("10.1.0.5", "10.2.0.9", 6, tcp(0x02), 0x0010));
	ASSERT_TRUE(later);
	EXPECT_FALSE(later->new_session);
	Bytes cut = tcp(0x02);
	cut.resize(13);
	auto short_tcp = classify_relayed(ipv4("10.1.0.5", "10.2.0.9", 6, cut));
	ASSERT_TRUE(short_tcp);
	EXPECT_FALSE(short_tcp->new_session);
	// options: the TCP header comes after them
	Bytes opts = ipv4("10.1.0.5", "10.2.0.9", 6, Bytes(4, 1));
	opts[0] = 0x46;
	Bytes t = tcp(0x02);
	opts.insert(opts.end(), t.begin(), t.end());
	auto with_options = classify_relayed(opts);
	ASSERT_TRUE(with_options);
	EXPECT_TRUE(with_options->new_session);
}

TEST(ShortcutClassify, Ipv6AndWhatIsNoPacket)
{
	Bytes p6{0x60, 0, 0, 0, 0, 20, 6, 64};
	Bytes s = ip("2001:db8:1::5").ip, d = ip("2001:db8:2::9").ip;
	p6.insert(p6.end(), s.begin(), s.end());
	p6.insert(p6.end(), d.begin(), d.end());
	Bytes t = tcp(0x02);
	p6.insert(p6.end(), t.begin(), t.end());
	auto v6 = classify_relayed(p6);
	ASSERT_TRUE(v6);
	EXPECT_EQ(v6->source, s);
	EXPECT_EQ(v6->destination, d);
	EXPECT_TRUE(v6->new_session);
	p6[6] = 0; // a hop-by-hop header first: not followed
	ASSERT_TRUE(classify_relayed(p6));
	EXPECT_FALSE(classify_relayed(p6)->new_session);

	EXPECT_FALSE(classify_relayed(Bytes{}));
	Bytes v4 = ipv4("10.1.0.5", "10.2.0.9", 6, tcp(0x02));
	EXPECT_FALSE(classify_relayed(ByteView(v4.data(), 19))) << "short of a fixed header";
	EXPECT_FALSE(classify_relayed(ByteView(p6.data(), 39)));
	v4[0] = 0x44;
	EXPECT_FALSE(classify_relayed(v4)) << "IHL below 5";
	v4[0] = 0x55;
	EXPECT_FALSE(classify_relayed(v4)) << "version 5";
}

// A new session starts the setup at once, below the relay threshold; the
// trigger that fired is counted.
TEST_F(ShortcutManagerTest, NewSessionStartsTheShortcutAtOnce)
{
	manager->new_session(a_ip(), ip("10.200.0.1").ip); // not a member
	manager->new_session(a_ip(), ip("10.1.0.7").ip); // the same member
	EXPECT_TRUE(channel.sent.empty());
	manager->new_session(a_ip(), b_ip());
	ASSERT_EQ(channel.sent.size(), 2u);
	EXPECT_EQ(manager->counters().detected_session, 1u);
	EXPECT_EQ(manager->counters().detected_relayed, 0u);
	manager->new_session(b_ip(), a_ip());
	manager->relayed(a_ip(), b_ip(), 100);
	EXPECT_EQ(channel.sent.size(), 2u) << "one setup per pair";
	EXPECT_EQ(manager->counters().detected_session, 1u);
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
