// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's channel for shortcut SA messages (docs/shortcuts.md,
// "Messages"): N(SHORTCUT) in INFORMATIONAL requests on the member's IKE
// SA with its key server, in both directions, one request outstanding per
// IKE SA with the others queued in order, retransmitted and taken once,
// and the IKE SA's coming and going reported to the sink.
#include "rfc9838_test_util.h"

#include <algorithm>

namespace groupsec::gdoi::test {
namespace {

constexpr uint8_t kInformational = static_cast<uint8_t>(ExchangeType::Informational);

class ShortcutChannel : public RfcRules {
protected:
	// Members that keep their IKE SA (liveness checks), as members taking
	// shortcuts do.
	void start_keeping(int n)
	{
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		for (int i = 0; i < n; i++) {
			GmGroupConfig m = member_config(i);
			m.liveness_s = 20;
			add_member(i, m);
		}
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}
	// The INFORMATIONAL requests (not responses) sent from one address.
	size_t requests_from(const Address &from)
	{
		size_t n = 0;
		for (const Datagram &d : net.sent_with_exchange(kInformational))
			n += d.from == from && !(d.data[19] & kFlagResponse) ? 1 : 0;
		return n;
	}
	std::vector<std::string> messages(Node &n)
	{
		std::vector<std::string> out;
		for (const std::string &l : n.shortcuts.log)
			if (l.rfind("message ", 0) == 0)
				out.push_back(l);
		return out;
	}
};

TEST_F(ShortcutChannel, RegistrationOpensTheChannelOnBothSides)
{
	start_keeping(2);
	EXPECT_EQ(gcks->shortcuts.log,
		  (std::vector<std::string>{"channel blue server=yes gm1.example.net up",
					    "channel blue server=yes gm2.example.net up"}));
	EXPECT_EQ(gms[0]->shortcuts.log, (std::vector<std::string>{"channel blue server=no gcks.example.net up"}));
}

TEST_F(ShortcutChannel, KeyServerToMemberAndBack)
{
	start_keeping(2);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[1], Bytes{0x01, 0x02, 0x03}).ok());
	net.run();
	EXPECT_EQ(messages(*gms[1]), (std::vector<std::string>{"message blue server=no gcks.example.net 010203"}));
	EXPECT_TRUE(messages(*gms[0]).empty()) << "only the member it was sent to";
	EXPECT_EQ(requests_from(gcks_addr), 1u);
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_sent, 1u);
	EXPECT_EQ(gms[1]->group("blue")->counters.shortcut_received, 1u);

	ASSERT_TRUE(gms[1]->engine.send_shortcut("blue", Bytes{0x80, 0x00}).ok());
	net.run();
	EXPECT_EQ(messages(*gcks), (std::vector<std::string>{"message blue server=yes gm2.example.net 8000"}));
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_received, 1u);
	// both requests answered: nothing outstanding, nothing retransmitted
	net.log.clear();
	net.advance(10000);
	EXPECT_EQ(requests_from(gcks_addr), 0u);
	EXPECT_EQ(messages(*gms[1]).size(), 1u);
}

// RFC 7296 2.3 window of one: the second message waits for the answer to
// the first, and they arrive in the order sent.
TEST_F(ShortcutChannel, OneRequestOutstandingTheRestQueuedInOrder)
{
	start_keeping(1);
	net.log.clear();
	for (uint8_t i = 1; i <= 3; i++)
		ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{i}).ok());
	EXPECT_EQ(net.queue.size(), 1u) << "one request on the wire, two queued";
	net.run();
	EXPECT_EQ(messages(*gms[0]), (std::vector<std::string>{"message blue server=no gcks.example.net 01",
							       "message blue server=no gcks.example.net 02",
							       "message blue server=no gcks.example.net 03"}));
	// message IDs one after the other
	std::vector<uint32_t> ids;
	for (const Datagram &d : net.sent_with_exchange(kInformational))
		if (d.from == gcks_addr)
			ids.push_back(message_id_of(d));
	ASSERT_EQ(ids.size(), 3u);
	EXPECT_EQ(ids[1], ids[0] + 1);
	EXPECT_EQ(ids[2], ids[1] + 1);
}

// A lost request is retransmitted; a lost answer makes the request come
// again, which the member answers from its cache and does not take twice.
TEST_F(ShortcutChannel, RetransmittedAndTakenOnce)
{
	start_keeping(1);
	int dropped_requests = 0, dropped_answers = 0;
	net.drop = [&](const Datagram &d) {
		if (d.data.size() < 28 || d.data[18] != kInformational)
			return false;
		const bool response = d.data[19] & kFlagResponse;
		if (!response && d.from == gcks_addr && dropped_requests == 0) {
			dropped_requests++;
			return true;
		}
		if (response && d.from == gm_addrs[0] && dropped_answers == 0) {
			dropped_answers++;
			return true;
		}
		return false;
	};
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{0x42}).ok());
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{0x43}).ok());
	net.run();
	EXPECT_TRUE(messages(*gms[0]).empty());
	net.advance(2000, 100); // first retransmission: taken, answer lost
	EXPECT_EQ(messages(*gms[0]).size(), 1u);
	net.advance(4000, 100); // second: answered from the cache, then the next
	EXPECT_EQ(messages(*gms[0]), (std::vector<std::string>{"message blue server=no gcks.example.net 42",
							       "message blue server=no gcks.example.net 43"}));
	EXPECT_EQ(dropped_requests, 1);
	EXPECT_EQ(dropped_answers, 1);
}

// The sink may answer from inside the call: a member's ACK goes out on the
// IKE SA the offer came on.
TEST_F(ShortcutChannel, SinkAnswersFromTheCallback)
{
	start_keeping(1);
	Node &gm = *gms[0];
	gm.shortcuts.on_message = [&](const std::string &group, bool, const Identity &, ByteView m) {
		Bytes ack{0x80};
		ack.insert(ack.end(), m.begin(), m.end());
		EXPECT_TRUE(gm.engine.send_shortcut(group, ack).ok());
	};
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{0x01}).ok());
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{0x02}).ok());
	net.run();
	EXPECT_EQ(messages(*gcks), (std::vector<std::string>{"message blue server=yes gm1.example.net 8001",
							     "message blue server=yes gm1.example.net 8002"}));
}

// Without an IKE SA there is no channel: the key server closed it after
// the registration (the member does not keep it), and says so.
TEST_F(ShortcutChannel, NoIkeSaNoChannel)
{
	start(1);
	net.advance(40000);
	EXPECT_NE(std::find(gcks->shortcuts.log.begin(), gcks->shortcuts.log.end(),
			    "channel blue server=yes gm1.example.net down"),
		  gcks->shortcuts.log.end());
	EXPECT_FALSE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{1}).ok());
	EXPECT_FALSE(gms[0]->engine.send_shortcut("blue", Bytes{1}).ok());
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_send_failures, 1u);
	EXPECT_EQ(gms[0]->group("blue")->counters.shortcut_send_failures, 1u);
	EXPECT_FALSE(gcks->engine.send_shortcut("blue", id("gm9.example.net"), Bytes{1}).ok()) << "not a member";
	EXPECT_FALSE(gcks->engine.send_shortcut("green", gm_ids[0], Bytes{1}).ok()) << "no such group";
}

// The queue is bounded: a member that does not answer cannot make the key
// server hold an unbounded number of messages.
TEST_F(ShortcutChannel, QueueIsBounded)
{
	start_keeping(1);
	net.drop = [&](const Datagram &d) { return d.to == gm_addrs[0]; };
	size_t taken = 0;
	for (size_t i = 0; i < kMaxQueuedShortcutMessages + 10; i++)
		taken += gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{1}).ok() ? 1 : 0;
	EXPECT_EQ(taken, kMaxQueuedShortcutMessages + 1) << "one outstanding, the rest queued";
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_send_failures, 9u);
}

// A member without a sink (no shortcut support) answers and ignores the
// status notify it does not know (RFC 7296 3.10.1): the key server's queue
// moves on.
TEST_F(ShortcutChannel, MemberWithoutSinkAnswersAndIgnores)
{
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	// a member engine with no ShortcutSink
	struct Bare {
		NetTransport transport;
		FakeRandom random{77};
		RecordingSink sink;
		Engine engine;
		explicit Bare(Net *n, FakeClock *c, FakeCredentials *cr)
			: transport(n), engine(EngineDeps{&transport, c, &random, cr, &sink})
		{
		}
	};
	Bare bare(&net, &net.clock, &creds);
	GmGroupConfig m = member_config(0);
	m.liveness_s = 20;
	ASSERT_TRUE(bare.engine.add_member_group(m).ok());
	// deliver to the bare engine by hand
	auto pump = [&] {
		for (int guard = 0; guard < 1000 && !net.queue.empty(); guard++) {
			Datagram d = net.queue.front();
			net.queue.pop_front();
			net.log.push_back(d);
			if (d.to == gm_addrs[0])
				bare.engine.receive(d.to, d.from, d.data);
			else
				net.deliver(d);
		}
	};
	bare.engine.tick();
	gcks->engine.tick();
	pump();
	ASSERT_EQ(gcks->group("blue")->members.size(), 1u);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{1}).ok());
	ASSERT_TRUE(gcks->engine.send_shortcut("blue", gm_ids[0], Bytes{2}).ok());
	pump();
	EXPECT_EQ(requests_from(gcks_addr), 2u) << "the first answered, so the second went";
	size_t answers = 0;
	for (const Datagram &d : net.sent_with_exchange(kInformational))
		answers += d.from == gm_addrs[0] && (d.data[19] & kFlagResponse) ? 1 : 0;
	EXPECT_EQ(answers, 2u);
}

} // namespace
} // namespace groupsec::gdoi::test
