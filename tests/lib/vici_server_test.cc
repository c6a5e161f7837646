// SPDX-License-Identifier: GPL-2.0-or-later
// The generic VICI server, driven by the sans-IO client.
#include "groupsec/vici/client.h"
#include "groupsec/vici/server.h"

#include <gtest/gtest.h>

#include <algorithm>

using groupsec::Bytes;
using groupsec::ByteView;
using namespace groupsec::vici;

namespace {

class ViciServerTest : public ::testing::Test {
protected:
	ViciServerTest() : server(limits()) {}

	static Server::Limits limits()
	{
		Server::Limits l;
		l.max_packet = 4096;
		l.max_queued = 8192;
		return l;
	}

	void SetUp() override
	{
		server.add_command("echo", [this](ClientId id, const Section &req) {
			calls.push_back(id);
			Section s = req;
			s.add_value("success", "yes");
			return s;
		});
		server.add_command("evict", [this](ClientId, const Section &req) {
			Section ev;
			ev.add_value("member", *req.value("member"));
			server.emit("member-evicted", ev);
			Section s;
			s.add_value("success", "yes");
			return s;
		});
		server.add_event("member-evicted");
		server.add_event("rekey");
		server.on_wake([this](ClientId id) { woken.push_back(id); });
	}

	// Moves bytes both ways until neither side has anything to say.
	void pump(ClientId id, Client &c)
	{
		for (int i = 0; i < 100; i++) {
			bool moved = false;
			if (c.wants_write()) {
				ByteView out = c.output();
				ASSERT_TRUE(server.feed(id, out).ok());
				c.consume_output(out.size());
				moved = true;
			}
			ByteView in = server.output(id);
			if (in.size()) {
				Bytes copy = in.to_bytes();
				server.consume(id, copy.size());
				ASSERT_TRUE(c.feed(copy).ok());
				moved = true;
			}
			if (!moved)
				return;
		}
		FAIL() << "no end to the conversation";
	}

	std::vector<Received> drain(Client &c)
	{
		std::vector<Received> out;
		while (auto m = c.next())
			out.push_back(std::move(*m));
		return out;
	}

	Server server;
	std::vector<ClientId> calls;
	std::vector<ClientId> woken;
};

Section ev(const std::string &member)
{
	Section s;
	s.add_value("member", member);
	return s;
}

} // namespace

TEST_F(ViciServerTest, CommandsAreDispatchedAndAnsweredInOrder)
{
	ClientId id = server.connect();
	Client c;
	c.request("echo", ev("a"));
	c.request("nope");
	c.request("echo", ev("b"));
	pump(id, c);
	auto got = drain(c);
	ASSERT_EQ(got.size(), 3u);
	EXPECT_EQ(got[0].kind, Received::Kind::Response);
	EXPECT_EQ(*got[0].message.value("member"), "a");
	EXPECT_EQ(got[1].kind, Received::Kind::UnknownCommand);
	EXPECT_EQ(got[2].kind, Received::Kind::Response);
	EXPECT_EQ(*got[2].message.value("member"), "b");
	EXPECT_EQ(calls, (std::vector<ClientId>{id, id}));
}

TEST_F(ViciServerTest, EventsGoOnlyToSubscribersUntilTheyUnsubscribe)
{
	ClientId a = server.connect(), b = server.connect();
	Client ca, cb;
	ca.subscribe("member-evicted");
	cb.subscribe("rekey");
	cb.subscribe("no-such-event");
	pump(a, ca);
	pump(b, cb);
	auto ra = drain(ca), rb = drain(cb);
	ASSERT_EQ(ra.size(), 1u);
	EXPECT_EQ(ra[0].kind, Received::Kind::Confirmed);
	ASSERT_EQ(rb.size(), 2u);
	EXPECT_EQ(rb[0].kind, Received::Kind::Confirmed);
	EXPECT_EQ(rb[1].kind, Received::Kind::UnknownEvent);
	EXPECT_TRUE(server.subscribed("member-evicted"));
	EXPECT_TRUE(server.subscribed(a, "member-evicted"));
	EXPECT_FALSE(server.subscribed(b, "member-evicted"));

	EXPECT_EQ(server.emit("member-evicted", ev("gm1")), 1u);
	EXPECT_EQ(server.emit("member-evicted", ev("gm2")), 1u);
	pump(a, ca);
	pump(b, cb);
	ra = drain(ca);
	ASSERT_EQ(ra.size(), 2u);
	EXPECT_EQ(ra[0].kind, Received::Kind::Event);
	EXPECT_EQ(ra[0].name, "member-evicted");
	EXPECT_EQ(*ra[0].message.value("member"), "gm1");
	EXPECT_EQ(*ra[1].message.value("member"), "gm2");
	EXPECT_TRUE(drain(cb).empty());

	ca.unsubscribe("member-evicted");
	pump(a, ca);
	drain(ca);
	EXPECT_FALSE(server.subscribed("member-evicted"));
	EXPECT_EQ(server.emit("member-evicted", ev("gm3")), 0u);
	EXPECT_EQ(server.output(a).size(), 0u);
}

TEST_F(ViciServerTest, EventsOfACommandComeBeforeItsResponse)
{
	ClientId id = server.connect();
	Client c;
	c.subscribe("member-evicted");
	c.request("evict", ev("gm1"));
	pump(id, c);
	auto got = drain(c);
	ASSERT_EQ(got.size(), 3u);
	EXPECT_EQ(got[0].kind, Received::Kind::Confirmed);
	EXPECT_EQ(got[1].kind, Received::Kind::Event);
	EXPECT_EQ(got[2].kind, Received::Kind::Response);
}

TEST_F(ViciServerTest, WakeWhenTheQueueStartsFilling)
{
	ClientId id = server.connect();
	Client c;
	c.subscribe("rekey");
	ASSERT_TRUE(server.feed(id, c.output()).ok());
	EXPECT_EQ(woken, std::vector<ClientId>{id}); // the confirmation
	server.emit("rekey", ev("x"));
	EXPECT_EQ(woken.size(), 1u); // queue was not empty
	server.consume(id, server.output(id).size());
	server.emit("rekey", ev("y"));
	EXPECT_EQ(woken.size(), 2u);
}

TEST_F(ViciServerTest, AStuckClientIsDroppedAndBlocksNobody)
{
	ClientId stuck = server.connect(), live = server.connect();
	Client cs, cl;
	cs.subscribe("rekey");
	cl.subscribe("rekey");
	pump(stuck, cs);
	pump(live, cl);
	drain(cs);
	drain(cl);

	// the stuck client never reads again; the live one keeps up
	Section big;
	big.add_value("pad", std::string(1000, 'x'));
	size_t delivered = 0;
	for (int i = 0; i < 50; i++) {
		big.add_value("n" + std::to_string(i), "1");
		server.emit("rekey", big);
		pump(live, cl);
		delivered += drain(cl).size();
		// bounded: the stuck client never holds more than the limit
		EXPECT_LE(server.output(stuck).size(), limits().max_queued);
	}
	EXPECT_EQ(delivered, 50u);
	EXPECT_TRUE(server.closing(stuck));
	EXPECT_FALSE(server.closing(live));
	EXPECT_EQ(server.output(stuck).size(), 0u);
	EXPECT_EQ(server.overflows(), 1u);
	EXPECT_NE(std::find(woken.begin(), woken.end(), stuck), woken.end());
	// the glue drops it; the rest carries on
	server.disconnect(stuck);
	EXPECT_FALSE(server.connected(stuck));
	EXPECT_EQ(server.emit("rekey", ev("after")), 1u);
}

TEST_F(ViciServerTest, AClientThatOnlyRequestsAndNeverReadsIsBoundedToo)
{
	ClientId id = server.connect();
	Client c;
	Section req;
	req.add_value("member", std::string(1000, 'm'));
	for (int i = 0; i < 20; i++)
		c.request("echo", req);
	auto r = server.feed(id, c.output());
	ASSERT_TRUE(r.ok());
	EXPECT_LT(r.value(), 20u); // stopped reading once it was closing
	EXPECT_TRUE(server.closing(id));
}

TEST_F(ViciServerTest, ProtocolErrorsFailTheClientOnly)
{
	ClientId bad = server.connect(), good = server.connect();
	Packet p;
	p.op = Operation::Event;
	p.name = "rekey";
	auto r = server.feed(bad, encode_packet(p).value());
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("may not send"), std::string::npos);
	EXPECT_TRUE(server.closing(bad));
	EXPECT_FALSE(server.feed(bad, Bytes{}).ok());
	EXPECT_FALSE(server.feed(good, Bytes{0, 0, 0, 0}).ok()); // empty packet
	ClientId third = server.connect();
	EXPECT_FALSE(server.feed(third, Bytes{0, 0x10, 0, 0}).ok()); // over max_packet
	ClientId fourth = server.connect();
	EXPECT_FALSE(server.feed(fourth, Bytes{0, 0, 0, 1, 42}).ok()); // unknown op
	EXPECT_FALSE(server.feed(999, Bytes{}).ok()); // unknown client
}

TEST_F(ViciServerTest, MalformedRequestsGetAFailureResponse)
{
	ClientId id = server.connect();
	// CMD_REQUEST "echo" with a message cut inside a key/value
	Bytes in = {0, 0, 0, 9, 0, 4, 'e', 'c', 'h', 'o', 3, 1, 'k'};
	ASSERT_TRUE(server.feed(id, in).ok());
	Client c;
	c.request("echo");
	c.consume_output(c.output().size());
	ASSERT_TRUE(c.feed(server.output(id).to_bytes()).ok());
	auto got = drain(c);
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(*got[0].message.value("success"), "no");
	EXPECT_NE(got[0].message.value("errmsg")->find("malformed"), std::string::npos);
	EXPECT_TRUE(calls.empty());
}

TEST_F(ViciServerTest, OversizedResponseBecomesAFailure)
{
	ClientId id = server.connect();
	Section req;
	// the request fits the server's limit of 4096; its echo with
	// success=yes does not
	req.add_value("member", std::string(4075, 'z'));
	Client big(8192);
	big.request("echo", req);
	pump(id, big);
	auto got = drain(big);
	ASSERT_EQ(got.size(), 1u);
	EXPECT_EQ(*got[0].message.value("success"), "no");
}
