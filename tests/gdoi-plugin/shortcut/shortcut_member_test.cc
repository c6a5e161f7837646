// SPDX-License-Identifier: GPL-2.0-or-later
// The member's side: which kernel calls each message makes, in which
// order, the ACK that follows, and what is refused or rejected.
#include <set>

#include "shortcut_test_util.h"

using namespace shortcut_test;

namespace {

struct ShortcutMemberTest : ::testing::Test {
	SeededRandom random{1};
	SimKernel kernel{"gm-a"};
	CapturingMemberChannel channel;
	std::unique_ptr<ShortcutMember> member;
	uint32_t epoch = 0x11111111;
	uint64_t sequence = 0;

	void SetUp() override
	{
		MemberSettings s;
		s.manager = "gw";
		s.inside = {prefix("10.1.0.0/24")};
		s.local_outside = ip("192.0.2.10");
		member = std::make_unique<ShortcutMember>(s, kernel, channel, random);
		member->manager_connected();
	}

	static Offer offer(uint32_t spi_in = 0x2000, uint32_t spi_out = 0x3000)
	{
		Offer o;
		o.suite = Suite{20, 256, 0};
		o.lifetime_s = 600;
		o.spi_in = spi_in;
		o.spi_out = spi_out;
		o.peer_outside = ip("198.51.100.20");
		o.local_inside = prefix("10.1.0.5/32");
		o.peer_inside = prefix("10.2.0.9/32");
		o.key_in = SecretBytes(36, 0xaa);
		o.key_out = SecretBytes(36, 0xbb);
		return o;
	}
	Bytes message(uint32_t id, decltype(ShortcutMessage::body) body)
	{
		ShortcutMessage m;
		m.epoch = epoch;
		m.sequence = ++sequence;
		m.shortcut_id = id;
		m.body = std::move(body);
		return Bytes(encode_shortcut_message(m).value());
	}
	Result<Done> deliver(uint32_t id, decltype(ShortcutMessage::body) body)
	{
		return member->receive("gw", message(id, std::move(body)));
	}
	Ack last_ack(uint32_t id)
	{
		EXPECT_FALSE(channel.sent.empty());
		ShortcutMessage m = decoded(channel.sent.back());
		EXPECT_EQ(m.shortcut_id, id);
		EXPECT_EQ(m.type(), MsgType::Ack);
		return m.type() == MsgType::Ack ? std::get<Ack>(m.body) : Ack{};
	}
};

TEST_F(ShortcutMemberTest, OfferInstallsInboundOnlyThenAcks)
{
	ASSERT_TRUE(deliver(1, offer()).ok());
	EXPECT_EQ(kernel.log, (std::vector<std::string>{"add-sa in 0x00002000", "add-policy in 0x00002000",
							 "add-policy fwd 0x00002000"}));
	Ack a = last_ack(1);
	EXPECT_EQ(a.acked, MsgType::Offer);
	EXPECT_EQ(a.status, AckStatus::Ok);
	const KernelSa &sa = kernel.sas.at(0);
	EXPECT_EQ(sa.source, ip("198.51.100.20"));
	EXPECT_EQ(sa.destination, ip("192.0.2.10"));
	EXPECT_EQ(sa.encryption, 20);
	EXPECT_EQ(sa.encryption_key, Bytes(36, 0xaa)); // key and salt
	EXPECT_TRUE(sa.integrity_key.empty());
	EXPECT_EQ(sa.replay_window, 64u);
	EXPECT_FALSE(sa.transport);
	const KernelPolicy &in = kernel.policies.at(0);
	EXPECT_EQ(net::range_text(in.source), "10.2.0.9/32");
	EXPECT_EQ(net::range_text(in.destination), "10.1.0.5/32");
	EXPECT_EQ(in.tunnel_source, ip("198.51.100.20"));
	ASSERT_EQ(member->shortcuts().size(), 1u);
	EXPECT_FALSE(member->shortcuts()[0].outbound);

	ASSERT_TRUE(deliver(1, Go{}).ok());
	EXPECT_EQ(kernel.log.size(), 5u);
	EXPECT_EQ(kernel.log[3], "add-sa out 0x00003000");
	EXPECT_EQ(kernel.log[4], "add-policy out 0x00003000");
	EXPECT_EQ(last_ack(1).acked, MsgType::Go);
	EXPECT_TRUE(member->shortcuts()[0].outbound);
	const KernelPolicy &out = kernel.policies.back();
	EXPECT_EQ(net::range_text(out.source), "10.1.0.5/32");
	EXPECT_EQ(out.tunnel_destination, ip("198.51.100.20"));
	// a GO again is answered, changes nothing
	ASSERT_TRUE(deliver(1, Go{}).ok());
	EXPECT_EQ(kernel.log.size(), 5u);
	EXPECT_EQ(last_ack(1).status, AckStatus::Ok);
	// ACK sequence numbers rise
	EXPECT_EQ(decoded(channel.sent[0]).sequence + 2, decoded(channel.sent[2]).sequence);
}

TEST_F(ShortcutMemberTest, KernelFailureChangesNothing)
{
	kernel.adds_before_failure = 2; // the forward policy fails
	ASSERT_TRUE(deliver(1, offer()).ok());
	EXPECT_EQ(last_ack(1).status, AckStatus::KernelFailed);
	EXPECT_TRUE(kernel.empty());
	EXPECT_EQ(kernel.bad_deletes, 0);
	EXPECT_EQ(kernel.log.back(), "del-sa in 0x00002000"); // undone in reverse
	EXPECT_TRUE(member->shortcuts().empty());
	EXPECT_EQ(member->counters().kernel_failures, 1u);
	EXPECT_EQ(member->counters().refused, 1u);

	// and a failed GO leaves the inbound side as it was
	kernel.adds_before_failure = -1;
	ASSERT_TRUE(deliver(2, offer()).ok());
	kernel.adds_before_failure = 1;
	ASSERT_TRUE(deliver(2, Go{}).ok());
	EXPECT_EQ(last_ack(2).status, AckStatus::KernelFailed);
	EXPECT_EQ(kernel.sas.size(), 1u);
	EXPECT_EQ(kernel.policies.size(), 2u);
	EXPECT_FALSE(member->shortcuts()[0].outbound);
}

TEST_F(ShortcutMemberTest, OffersItCannotTakeAreRefused)
{
	Offer other = offer();
	other.local_inside = prefix("10.9.0.5/32");
	ASSERT_TRUE(deliver(1, other).ok());
	EXPECT_EQ(last_ack(1).status, AckStatus::NotMine);
	Offer v6 = offer();
	v6.peer_outside = ip("2001:db8::1");
	ASSERT_TRUE(deliver(2, v6).ok());
	EXPECT_EQ(last_ack(2).status, AckStatus::Unsupported);
	EXPECT_TRUE(kernel.log.empty());

	ASSERT_TRUE(deliver(3, offer()).ok());
	ASSERT_TRUE(deliver(3, offer(0x2100, 0x3100)).ok());
	EXPECT_EQ(last_ack(3).status, AckStatus::Duplicate);
	ASSERT_TRUE(deliver(4, offer(0x2000, 0x3100)).ok()); // SPI in use
	EXPECT_EQ(last_ack(4).status, AckStatus::Duplicate);
	ASSERT_TRUE(deliver(9, Go{}).ok());
	EXPECT_EQ(last_ack(9).status, AckStatus::UnknownShortcut);
	ASSERT_TRUE(deliver(9, Teardown{TeardownReason::Operator}).ok());
	EXPECT_EQ(last_ack(9).status, AckStatus::UnknownShortcut);
	EXPECT_EQ(kernel.sas.size(), 1u);
	EXPECT_EQ(member->counters().refused, 6u);
}

TEST_F(ShortcutMemberTest, TeardownRemovesOutboundFirst)
{
	ASSERT_TRUE(deliver(1, offer()).ok());
	ASSERT_TRUE(deliver(1, Go{}).ok());
	kernel.log.clear();
	ASSERT_TRUE(deliver(1, Teardown{TeardownReason::PeerInside}).ok());
	EXPECT_EQ(kernel.log, (std::vector<std::string>{"del-policy out 0x00003000", "del-sa out 0x00003000",
							 "del-policy in 0x00002000", "del-policy fwd 0x00002000",
							 "del-sa in 0x00002000"}));
	EXPECT_TRUE(kernel.empty());
	EXPECT_EQ(kernel.bad_deletes, 0);
	EXPECT_EQ(last_ack(1).acked, MsgType::Teardown);
	EXPECT_TRUE(member->shortcuts().empty());
}

TEST_F(ShortcutMemberTest, PeerMoveAndOwnMoveKeepOneSaPerDirection)
{
	ASSERT_TRUE(deliver(1, offer()).ok());
	ASSERT_TRUE(deliver(1, Go{}).ok());
	kernel.log.clear();
	ASSERT_TRUE(deliver(1, PeerMoved{ip("203.0.113.9")}).ok());
	// the new outbound SA is there before the policy moves to it
	EXPECT_EQ(kernel.log.front(), "add-sa out 0x00003000");
	EXPECT_EQ(kernel.bad_deletes, 0);
	ASSERT_EQ(kernel.sas.size(), 2u);
	for (const auto &sa : kernel.sas)
		EXPECT_EQ(sa.inbound ? sa.source : sa.destination, ip("203.0.113.9"));
	for (const auto &p : kernel.policies)
		EXPECT_EQ(p.direction == PolicyDirection::Out ? p.tunnel_destination : p.tunnel_source,
			  ip("203.0.113.9"));
	EXPECT_EQ(member->counters().moves, 1u);

	ASSERT_TRUE(member->local_address_changed(ip("192.0.2.99")));
	EXPECT_EQ(kernel.bad_deletes, 0);
	ASSERT_EQ(kernel.sas.size(), 2u);
	for (const auto &sa : kernel.sas)
		EXPECT_EQ(sa.inbound ? sa.destination : sa.source, ip("192.0.2.99"));
	EXPECT_EQ(kernel.policies.size(), 3u);

	// a move the kernel refuses changes nothing
	auto shape = [&] {
		std::set<std::string> out;
		for (const auto &sa : kernel.sas)
			out.insert(std::string(sa.inbound ? "in " : "out ") + sa.source.ip_string() + ">" +
				   sa.destination.ip_string() + " " + hex32(sa.spi));
		for (const auto &p : kernel.policies)
			out.insert(std::string(dir_name(p.direction)) + " " + p.tunnel_source.ip_string() + ">" +
				   p.tunnel_destination.ip_string() + " " + hex32(p.spi));
		return out;
	};
	auto before = shape();
	kernel.adds_before_failure = 2;
	EXPECT_FALSE(member->local_address_changed(ip("192.0.2.100")));
	EXPECT_EQ(shape(), before);
	EXPECT_EQ(kernel.bad_deletes, 0);
	EXPECT_EQ(member->counters().kernel_failures, 1u);
}

TEST_F(ShortcutMemberTest, RejectsWhatIsNotTheManagersFreshMessage)
{
	Bytes first = message(1, offer());
	ASSERT_TRUE(member->receive("gw", first).ok());
	size_t acks = channel.sent.size();
	EXPECT_FALSE(member->receive("gw", first).ok());
	EXPECT_EQ(member->counters().rejected_replay, 1u);
	EXPECT_FALSE(member->receive("gm-b", message(2, offer(0x2200, 0x3200))).ok());
	EXPECT_EQ(member->counters().rejected_forged, 1u);
	Bytes broken = message(3, Go{});
	broken.push_back(0);
	EXPECT_FALSE(member->receive("gw", broken).ok());
	EXPECT_EQ(member->counters().rejected_malformed, 1u);
	EXPECT_EQ(channel.sent.size(), acks); // none answered
	EXPECT_EQ(kernel.sas.size(), 1u);

	// a new IKE SA to the manager (the manager restarted): a new epoch
	epoch = 0x22222222;
	sequence = 0;
	EXPECT_FALSE(deliver(5, Go{}).ok()); // not before the channel is new
	member->manager_connected();
	sequence = 0;
	EXPECT_TRUE(deliver(1, Go{}).ok());
	EXPECT_EQ(last_ack(1).status, AckStatus::Ok);
}

// A message on an IKE SA that is not the one to the manager (the key
// server of another group): rejected whatever it says, even a fresh offer
// under the manager's own name, and the manager's next message still taken.
TEST_F(ShortcutMemberTest, MessageOnAnotherIkeSaIsRejectedAsForged)
{
	EXPECT_FALSE(member->reject_foreign("rogue.example.net").ok());
	EXPECT_FALSE(member->reject_foreign("gw").ok());
	EXPECT_EQ(member->counters().rejected_forged, 2u);
	EXPECT_EQ(member->counters().offers, 0u);
	EXPECT_TRUE(kernel.empty());
	EXPECT_TRUE(channel.sent.empty()) << "not answered";
	ASSERT_TRUE(deliver(1, offer()).ok());
	EXPECT_EQ(member->counters().offers, 1u);
}

TEST_F(ShortcutMemberTest, TeardownAllLeavesNothing)
{
	ASSERT_TRUE(deliver(1, offer()).ok());
	ASSERT_TRUE(deliver(1, Go{}).ok());
	ASSERT_TRUE(deliver(2, offer(0x2300, 0x3300)).ok());
	member->teardown_all();
	EXPECT_TRUE(kernel.empty());
	EXPECT_EQ(kernel.bad_deletes, 0);
	EXPECT_TRUE(member->shortcuts().empty());
}

} // namespace
