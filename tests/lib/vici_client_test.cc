// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/vici/client.h"

#include <gtest/gtest.h>

using groupsec::Bytes;
using groupsec::ByteView;
using namespace groupsec::vici;

namespace {

// What the server side decodes from the client's output.
std::vector<Packet> sent_packets(Client &c)
{
	StreamReader r;
	r.push(c.output());
	c.consume_output(c.output().size());
	std::vector<Packet> out;
	for (;;) {
		auto n = r.next();
		EXPECT_TRUE(n.ok());
		if (!n.ok() || !n.value())
			break;
		auto p = decode_packet(*n.value());
		EXPECT_TRUE(p.ok());
		if (p.ok())
			out.push_back(p.value());
	}
	EXPECT_TRUE(r.idle());
	return out;
}

Bytes frame(Operation op, const std::string &name = "", const Section &msg = Section())
{
	Packet p;
	p.op = op;
	p.name = name;
	p.message = msg;
	auto b = encode_packet(p);
	EXPECT_TRUE(b.ok());
	return b.ok() ? b.value() : Bytes();
}

Bytes operator+(Bytes a, const Bytes &b)
{
	a.insert(a.end(), b.begin(), b.end());
	return a;
}

} // namespace

TEST(ViciClient, EncodesRequestsAndRegistrationsInOrder)
{
	Client c;
	Section args;
	args.add_value("group", "blue");
	auto r1 = c.request("list-members", args);
	auto r2 = c.subscribe("member-registered");
	auto r3 = c.unsubscribe("rekey");
	ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
	EXPECT_LT(r1.value(), r2.value());
	EXPECT_LT(r2.value(), r3.value());
	EXPECT_TRUE(c.wants_write());
	EXPECT_EQ(c.outstanding(), 3u);

	auto sent = sent_packets(c);
	ASSERT_EQ(sent.size(), 3u);
	EXPECT_EQ(sent[0].op, Operation::CmdRequest);
	EXPECT_EQ(sent[0].name, "list-members");
	EXPECT_EQ(sent[0].message, args);
	EXPECT_EQ(sent[1].op, Operation::EventRegister);
	EXPECT_EQ(sent[1].name, "member-registered");
	EXPECT_EQ(sent[2].op, Operation::EventUnregister);
	EXPECT_EQ(sent[2].name, "rekey");
	EXPECT_FALSE(c.wants_write());
}

TEST(ViciClient, PartialWritesLeaveTheRestInTheOutput)
{
	Client c;
	ASSERT_TRUE(c.request("version").ok());
	size_t total = c.output().size();
	ASSERT_GT(total, 3u);
	c.consume_output(3);
	EXPECT_EQ(c.output().size(), total - 3);
	c.consume_output(1000);
	EXPECT_FALSE(c.wants_write());
	EXPECT_EQ(c.output().size(), 0u);
}

TEST(ViciClient, MatchesAnswersToRequestsAndPassesEventsBetween)
{
	Client c;
	auto sub = c.subscribe("member-evicted").value();
	auto req = c.request("version").value();
	auto bad = c.request("frobnicate").value();
	auto nosuch = c.subscribe("no-such-event").value();
	c.consume_output(c.output().size());

	Section ev;
	ev.add_value("group", "blue").add_value("member", "gm1.example.net");
	Section ver;
	ver.add_value("version", "1.0");
	Bytes in = frame(Operation::EventConfirm) + frame(Operation::Event, "member-evicted", ev) +
	           frame(Operation::CmdResponse, "", ver) + frame(Operation::CmdUnknown) +
	           frame(Operation::EventUnknown);
	// byte by byte: reassembly across reads
	size_t packets = 0;
	for (size_t i = 0; i < in.size(); i++) {
		auto r = c.feed(ByteView(in.data() + i, 1));
		ASSERT_TRUE(r.ok()) << r.error().message;
		packets += r.value();
	}
	EXPECT_EQ(packets, 5u);
	EXPECT_EQ(c.outstanding(), 0u);
	EXPECT_TRUE(c.idle());

	auto m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::Confirmed);
	EXPECT_EQ(m->id, sub);
	EXPECT_EQ(m->name, "member-evicted");
	m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::Event);
	EXPECT_EQ(m->id, 0u);
	EXPECT_EQ(m->name, "member-evicted");
	EXPECT_EQ(m->message, ev);
	m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::Response);
	EXPECT_EQ(m->id, req);
	EXPECT_EQ(m->name, "version");
	EXPECT_EQ(m->message, ver);
	m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::UnknownCommand);
	EXPECT_EQ(m->id, bad);
	EXPECT_EQ(m->name, "frobnicate");
	m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::UnknownEvent);
	EXPECT_EQ(m->id, nosuch);
	EXPECT_FALSE(c.next());

	EXPECT_EQ(c.subscribed(), std::set<std::string>{"member-evicted"});
}

TEST(ViciClient, UnsubscribeConfirmedEndsTheSubscription)
{
	Client c;
	c.subscribe("rekey");
	ASSERT_TRUE(c.feed(frame(Operation::EventConfirm)).ok());
	EXPECT_EQ(c.subscribed().count("rekey"), 1u);
	c.unsubscribe("rekey");
	EXPECT_EQ(c.subscribed().count("rekey"), 1u); // until confirmed
	ASSERT_TRUE(c.feed(frame(Operation::EventConfirm)).ok());
	EXPECT_TRUE(c.subscribed().empty());
}

TEST(ViciClient, AnswerNobodyAskedForIsAnErrorThatSticks)
{
	Client c;
	auto r = c.feed(frame(Operation::CmdResponse));
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("nothing was asked"), std::string::npos);
	EXPECT_TRUE(c.failed());
	EXPECT_FALSE(c.request("version").ok());
	EXPECT_FALSE(c.feed(frame(Operation::Event, "rekey")).ok());
	EXPECT_FALSE(c.next());
}

TEST(ViciClient, AnswerOfTheWrongKindIsAnError)
{
	Client c;
	c.request("version");
	auto r = c.feed(frame(Operation::EventConfirm));
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("'version'"), std::string::npos);

	Client d;
	d.subscribe("rekey");
	EXPECT_FALSE(d.feed(frame(Operation::CmdUnknown)).ok());
}

TEST(ViciClient, ClientOperationsFromTheServerAreErrors)
{
	for (Operation op : {Operation::CmdRequest, Operation::EventRegister, Operation::EventUnregister}) {
		Client c;
		c.request("version");
		EXPECT_FALSE(c.feed(frame(op, "x")).ok()) << operation_name(op);
	}
}

TEST(ViciClient, OversizedOrGarbledPacketsAreErrors)
{
	Client c(64);
	Bytes big = {0x00, 0x01, 0x00, 0x00}; // 64 KiB announced
	EXPECT_FALSE(c.feed(big).ok());

	Client d;
	Bytes junk = {0x00, 0x00, 0x00, 0x02, 0x07, 0x05}; // EVENT with a name running off the end
	EXPECT_FALSE(d.feed(junk).ok());
}

TEST(ViciClient, ResetResubscribesForANewConnection)
{
	Client c;
	c.subscribe("member-registered");
	c.subscribe("rekey");
	c.consume_output(c.output().size());
	ASSERT_TRUE(c.feed(frame(Operation::EventConfirm)).ok()); // member-registered
	c.request("version"); // lost with the connection
	// the connection breaks with half a packet buffered
	Bytes half = frame(Operation::EventConfirm);
	half.resize(2);
	ASSERT_TRUE(c.feed(half).ok());
	EXPECT_FALSE(c.idle());

	c.reset();
	EXPECT_TRUE(c.idle());
	EXPECT_TRUE(c.subscribed().empty()); // until the new server confirms
	EXPECT_EQ(c.outstanding(), 2u);
	auto sent = sent_packets(c);
	ASSERT_EQ(sent.size(), 2u);
	std::set<std::string> names;
	for (const auto &p : sent) {
		EXPECT_EQ(p.op, Operation::EventRegister);
		names.insert(p.name);
	}
	EXPECT_EQ(names, (std::set<std::string>{"member-registered", "rekey"}));
	// the first answer the confirmation already taken is still there
	auto m = c.next();
	ASSERT_TRUE(m);
	EXPECT_EQ(m->kind, Received::Kind::Confirmed);

	Client d;
	d.subscribe("rekey");
	d.reset(false);
	EXPECT_EQ(d.outstanding(), 0u);
	EXPECT_FALSE(d.wants_write());
}

TEST(ViciClient, ResetClearsAFailure)
{
	Client c;
	c.subscribe("rekey");
	ASSERT_TRUE(c.feed(frame(Operation::EventConfirm)).ok());
	ASSERT_FALSE(c.feed(frame(Operation::CmdResponse)).ok());
	c.reset();
	EXPECT_FALSE(c.failed());
	ASSERT_TRUE(c.feed(frame(Operation::EventConfirm)).ok());
	EXPECT_EQ(c.subscribed().count("rekey"), 1u);
}
