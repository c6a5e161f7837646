// SPDX-License-Identifier: GPL-2.0-or-later
// Key tree: message codec (round trips, every decoder error), node key
// derivation, joins and leaves, depth growth seen by members of older
// depth, seeded randomized runs with every member applying every message,
// and coalitions of removed members whose pooled keys are closed under
// every unwrap and derivation the wire allows.
#include "groupsec/keytree/key_tree.h"
#include "flatkey_test_util.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace groupsec::keytree;
using groupsec::flatkey::KeyWrapper;
using groupsec::flatkey::test::SeededRandom;
using ApplyError = KeyTreeMember::ApplyError;

namespace {

// A server and every member it has, each member applying every message
// from the wire (encode, decode).
class Group {
public:
	explicit Group(uint64_t seed, unsigned max_depth = kMaxDepth)
		: rng(seed), server(rng, max_depth)
	{
	}

	uint32_t join()
	{
		auto k = server.join();
		EXPECT_TRUE(k);
		uint32_t leaf = k->leaf;
		EXPECT_FALSE(members.count(leaf));
		members.emplace(leaf, KeyTreeMember(*k));
		return leaf;
	}

	// Leaves, delivers the message to every member; returns it.
	TreeMessage leave(const std::vector<uint32_t> &leaves)
	{
		auto plan = server.plan_leave(leaves);
		EXPECT_TRUE(plan.ok) << plan.error;
		EXPECT_TRUE(server.commit(plan));
		EXPECT_EQ(plan.new_root, server.root());
		auto bytes = encode(plan.message);
		EXPECT_EQ(bytes.size(), encoded_size(plan.message));
		auto d = decode(bytes);
		EXPECT_TRUE(d.ok()) << d.error().message;
		for (auto &[leaf, m] : members) {
			bool gone = std::find(leaves.begin(), leaves.end(),
					      leaf) != leaves.end();
			ApplyError e = m.apply(d.value());
			EXPECT_EQ(e, gone ? ApplyError::Excluded
					  : ApplyError::None)
				<< "leaf " << leaf << ": " << to_string(e);
		}
		for (uint32_t x : leaves)
			members.erase(x);
		return d.value();
	}

	// Every member holds exactly the server's keys of its path.
	void expect_in_sync() const
	{
		for (const auto &[leaf, m] : members) {
			MemberKeys s = server.keys_of(leaf);
			ASSERT_EQ(m.epoch(), server.epoch()) << "leaf " << leaf;
			ASSERT_EQ(m.depth(), server.depth()) << "leaf " << leaf;
			ASSERT_EQ(m.keys().path, s.path) << "leaf " << leaf;
			ASSERT_EQ(m.root(), server.root());
		}
	}

	SeededRandom rng;
	KeyTreeServer server;
	std::map<uint32_t, KeyTreeMember> members;
};

std::vector<uint8_t> be(uint64_t v, int bytes)
{
	std::vector<uint8_t> o;
	for (int i = bytes - 1; i >= 0; i--)
		o.push_back(static_cast<uint8_t>(v >> (8 * i)));
	return o;
}

// A message of a full tree of depth 4 after leaves 5 and 6.
TreeMessage sample_message()
{
	Group g(7);
	for (int i = 0; i < 16; i++)
		g.join();
	return g.leave({5, 6});
}

// ---- derivation

TEST(KeyTreeDerive, IsHmacSha256OverTheSpecifiedLabel)
{
	SeededRandom rng(1);
	Key k = rng.key();
	std::string label = "groupsec keytree v1";
	std::vector<uint8_t> msg(label.begin(), label.end());
	msg.push_back(3);
	for (uint8_t b : be(0x01020304u, 4))
		msg.push_back(b);
	for (uint8_t b : be(0x1122334455667788ull, 8))
		msg.push_back(b);
	Key want;
	unsigned len = 0;
	ASSERT_TRUE(HMAC(EVP_sha256(), k.data(), int(k.size()), msg.data(),
			 msg.size(), want.data(), &len));
	ASSERT_EQ(len, 32u);
	EXPECT_EQ(derive(k, NodeName{3, 0x01020304u}, 0x1122334455667788ull),
		  want);
	NodeKeyDeriver d;
	EXPECT_EQ(d.derive(k, NodeName{3, 0x01020304u}, 0x1122334455667788ull),
		  want);
	// every input matters
	EXPECT_NE(derive(k, NodeName{2, 0x01020304u}, 0x1122334455667788ull),
		  want);
	EXPECT_NE(derive(k, NodeName{3, 0x01020305u}, 0x1122334455667788ull),
		  want);
	EXPECT_NE(derive(k, NodeName{3, 0x01020304u}, 0x1122334455667789ull),
		  want);
	// growth uses its own label
	EXPECT_NE(derive_grown(k, 3, 0), derive(k, NodeName{3, 0}, 0));
	EXPECT_EQ(derive_grown(k, 3, 9), d.derive_grown(k, 3, 9));
}

// ---- codec

TEST(KeyTreeMessage, RoundTripAndLayout)
{
	TreeMessage m = sample_message();
	ASSERT_EQ(m.leavers, (std::vector<uint32_t>{5, 6}));
	ASSERT_FALSE(m.wraps.empty());
	auto b = encode(m);
	ASSERT_EQ(b.size(), 18 + 4 * m.leavers.size() + 45 * m.wraps.size());
	EXPECT_EQ(b[0], kTreeFormat);
	EXPECT_EQ(std::vector<uint8_t>(b.begin() + 1, b.begin() + 9),
		  be(m.epoch, 8));
	EXPECT_EQ(b[9], 4);
	EXPECT_EQ(std::vector<uint8_t>(b.begin() + 10, b.begin() + 22),
		  (std::vector<uint8_t>{0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 6}));
	EXPECT_EQ(std::vector<uint8_t>(b.begin() + 22, b.begin() + 26),
		  be(m.wraps.size(), 4));
	EXPECT_EQ(b[26], m.wraps[0].level);
	EXPECT_EQ(std::vector<uint8_t>(b.begin() + 27, b.begin() + 31),
		  be(m.wraps[0].pos, 4));
	EXPECT_EQ(std::vector<uint8_t>(b.begin() + 31, b.begin() + 71),
		  m.wraps[0].wrapped);
	auto d = decode(b);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().epoch, m.epoch);
	EXPECT_EQ(d.value().depth, m.depth);
	EXPECT_EQ(d.value().leavers, m.leavers);
	ASSERT_EQ(d.value().wraps.size(), m.wraps.size());
	for (size_t i = 0; i < m.wraps.size(); i++) {
		EXPECT_EQ(d.value().wraps[i].level, m.wraps[i].level);
		EXPECT_EQ(d.value().wraps[i].pos, m.wraps[i].pos);
		EXPECT_EQ(d.value().wraps[i].wrapped, m.wraps[i].wrapped);
	}
	EXPECT_EQ(encode(d.value()), b);

	// a handmade message with a large epoch and no wraps
	TreeMessage h;
	h.epoch = 0xfedcba9876543210ull;
	h.depth = 24;
	h.leavers = {0, (1u << 24) - 1};
	auto hb = encode(h);
	ASSERT_EQ(hb.size(), 26u);
	auto hd = decode(hb);
	ASSERT_TRUE(hd.ok()) << hd.error().message;
	EXPECT_EQ(hd.value().epoch, h.epoch);
	EXPECT_EQ(hd.value().leavers, h.leavers);
	EXPECT_TRUE(hd.value().wraps.empty());
}

// "TRUNCATED: message truncated" for an error, "ok" for a message.
std::string why(const std::optional<groupsec::Error> &e)
{
	if (!e)
		return "ok";
	return std::string(groupsec::wire_error_name(e->code)) + ": " + e->message;
}

std::string decode_error(const std::vector<uint8_t> &b)
{
	auto d = decode(b);
	return d.ok() ? "ok" : why(d.error());
}

// Raw message writer for malformed inputs.
struct Raw {
	std::vector<uint8_t> b;
	Raw(uint8_t depth, std::vector<uint32_t> leavers, uint64_t epoch = 1)
	{
		b.push_back(kTreeFormat);
		for (uint8_t x : be(epoch, 8))
			b.push_back(x);
		b.push_back(depth);
		for (uint8_t x : be(leavers.size(), 4))
			b.push_back(x);
		for (uint32_t l : leavers)
			for (uint8_t x : be(l, 4))
				b.push_back(x);
	}
	Raw &wraps(std::vector<std::pair<uint8_t, uint32_t>> w)
	{
		for (uint8_t x : be(w.size(), 4))
			b.push_back(x);
		for (auto [lv, pos] : w) {
			b.push_back(lv);
			for (uint8_t x : be(pos, 4))
				b.push_back(x);
			b.insert(b.end(), kWrapBytes, 0x5a);
		}
		return *this;
	}
};

TEST(KeyTreeMessage, EveryDecodeError)
{
	auto good = encode(sample_message());
	ASSERT_FALSE(good.empty());
	EXPECT_EQ(why(decode(groupsec::ByteView()).error()), "TRUNCATED: message truncated");
	EXPECT_EQ(why(decode(groupsec::ByteView(good.data(), 0)).error()), "TRUNCATED: message truncated");
	EXPECT_EQ(why(decode(groupsec::ByteView(good.data(), 1)).error()), "TRUNCATED: message truncated");
	EXPECT_TRUE(decode(groupsec::ByteView(good.data(), good.size())).ok());
	// every strict prefix is truncated (and nothing reads past it: the
	// copy is exactly the prefix, so ASan would see an over-read)
	for (size_t n = 1; n < good.size(); n++) {
		std::vector<uint8_t> p(good.begin(), good.begin() + n);
		EXPECT_EQ(decode_error(p), "TRUNCATED: message truncated") << n;
	}
	auto t = good;
	t.push_back(0);
	EXPECT_EQ(decode_error(t), "TRAILING_BYTES: trailing bytes after the last wrap");
	auto f = good;
	f[0] = 2;
	EXPECT_EQ(decode_error(f), "BAD_VERSION: not a key tree message (format byte)");

	// a valid raw message first, so the writer is known good
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{1, 1}}).b),
		  "ok");
	EXPECT_EQ(decode_error(Raw(25, {1}).wraps({}).b), "BAD_VALUE: tree depth above 24");
	EXPECT_EQ(decode_error(Raw(3, {}).wraps({}).b), "MISSING: no leavers");
	EXPECT_EQ(decode_error(Raw(3, {8}).wraps({}).b),
		  "BAD_VALUE: leaver outside the tree");
	EXPECT_EQ(decode_error(Raw(0, {1}).wraps({}).b),
		  "BAD_VALUE: leaver outside the tree");
	EXPECT_EQ(decode_error(Raw(3, {6, 1}).wraps({}).b),
		  "BAD_VALUE: leavers not sorted or duplicated");
	EXPECT_EQ(decode_error(Raw(3, {1, 1}).wraps({}).b),
		  "BAD_VALUE: leavers not sorted or duplicated");
	// a leaver count larger than the bytes that follow
	auto big = Raw(3, {1}).wraps({}).b;
	big[13] = 0xff;
	EXPECT_EQ(decode_error(big), "TRUNCATED: message truncated");
	// a wrap count larger than the bytes that follow
	auto bigw = Raw(3, {1, 6}).wraps({{1, 1}}).b;
	bigw[bigw.size() - 45 - 1] = 2;
	EXPECT_EQ(decode_error(bigw), "TRUNCATED: message truncated");
	// wrap at the root's level, past the level's end, under a parent
	// outside T
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{3, 0}}).b),
		  "BAD_VALUE: wrap node not a child of a replaced node");
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{1, 4}}).b),
		  "BAD_VALUE: wrap node not a child of a replaced node");
	EXPECT_EQ(decode_error(Raw(3, {1}).wraps({{1, 2}}).b),
		  "BAD_VALUE: wrap node not a child of a replaced node");
	EXPECT_EQ(decode_error(Raw(3, {1}).wraps({{2, 1}}).b),
		  "ok");
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{2, 1}, {1, 1}}).b),
		  "BAD_VALUE: wraps not sorted or duplicated");
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{1, 1}, {1, 1}}).b),
		  "BAD_VALUE: wraps not sorted or duplicated");
	EXPECT_EQ(decode_error(Raw(3, {1, 6}).wraps({{1, 0}, {1, 1}}).b),
		  "DUPLICATE: two wraps for one node");

	// structs only: a wrap that is not 40 bytes cannot be encoded
	TreeMessage m = sample_message();
	m.wraps[0].wrapped.pop_back();
	EXPECT_EQ(why(check(m)), "BAD_LENGTH: wrap not 40 bytes");
	EXPECT_TRUE(encode(m).empty());
	EXPECT_EQ(why(check(sample_message())), "ok");
}

// ---- joins and leaves

TEST(KeyTree, FirstJoinsAndGrowth)
{
	Group g(2);
	EXPECT_EQ(g.server.depth(), 0u);
	EXPECT_EQ(g.server.members(), 0u);
	Key empty_root = g.server.root();
	EXPECT_EQ(g.join(), 0u);
	EXPECT_EQ(g.server.depth(), 0u);
	const MemberKeys &k0 = g.members.at(0).keys();
	ASSERT_EQ(k0.path.size(), 1u);
	EXPECT_EQ(k0.root(), g.server.root());
	EXPECT_NE(g.server.root(), empty_root); // fresh for the first member
	Key leaf0 = k0.path[0];

	EXPECT_EQ(g.join(), 1u);
	EXPECT_EQ(g.server.depth(), 1u);
	// the new root comes from the old one; leaf 0's key is unchanged
	EXPECT_EQ(g.server.root(), derive_grown(leaf0, 1, 0));
	EXPECT_EQ(g.server.node_key({0, 0}), leaf0);
	EXPECT_EQ(g.members.at(1).root(), g.server.root());
	EXPECT_EQ(g.members.at(1).keys().path.size(), 2u);
	EXPECT_EQ(g.join(), 2u);
	EXPECT_EQ(g.server.depth(), 2u);
	EXPECT_EQ(g.join(), 3u);
	EXPECT_EQ(g.server.depth(), 2u);
	EXPECT_EQ(g.server.members(), 4u);
	EXPECT_EQ(g.server.member_bytes(), 3u * 32);
}

TEST(KeyTree, JoinChangesNoExistingKey)
{
	Group g(3);
	for (int i = 0; i < 13; i++)
		g.join();
	g.leave({2, 9});
	std::map<std::pair<int, uint32_t>, Key> before;
	for (unsigned l = 0; l <= g.server.depth(); l++)
		for (uint32_t p = 0; p < (16u >> l); p++)
			if (g.server.node_members({uint8_t(l), p}))
				before[{l, p}] = g.server.node_key({uint8_t(l), p});
	uint64_t epoch = g.server.epoch();
	EXPECT_EQ(g.join(), 2u); // the lowest free leaf
	EXPECT_EQ(g.join(), 9u);
	EXPECT_EQ(g.join(), 13u);
	EXPECT_EQ(g.server.epoch(), epoch);
	for (auto &[n, k] : before)
		EXPECT_EQ(g.server.node_key({uint8_t(n.first), n.second}), k);
	// the joiner holds the current keys of its path
	EXPECT_EQ(g.members.at(9).keys().path, g.server.keys_of(9).path);
	g.expect_in_sync();
}

TEST(KeyTree, SingleLeaveInFullTreeCostsDepthMinusOneWraps)
{
	for (unsigned d : {1u, 2u, 5u, 8u}) {
		Group g(d);
		for (uint32_t i = 0; i < (1u << d); i++)
			g.join();
		for (uint32_t x : {0u, (1u << d) - 1, (1u << d) / 3}) {
			if (!g.server.occupied(x))
				continue;
			auto m = g.leave({x});
			EXPECT_EQ(m.wraps.size(), d - 1) << "depth " << d;
			EXPECT_EQ(encode(m).size(), 22 + 45 * (d - 1));
			g.expect_in_sync();
			// refill
			EXPECT_EQ(g.join(), x);
		}
	}
}

TEST(KeyTree, LeaveOfEveryoneAndDepthZero)
{
	Group g(4);
	g.join();
	auto m = g.leave({0});
	EXPECT_EQ(m.depth, 0);
	EXPECT_TRUE(m.wraps.empty());
	EXPECT_EQ(g.server.members(), 0u);
	EXPECT_FALSE(g.server.occupied(0));
	EXPECT_EQ(g.join(), 0u);
	for (int i = 0; i < 7; i++)
		g.join();
	Key root = g.server.root();
	g.leave({0, 1, 2, 3, 4, 5, 6, 7});
	EXPECT_EQ(g.server.members(), 0u);
	EXPECT_NE(g.server.root(), root);
	EXPECT_EQ(g.join(), 0u);
	g.join();
	g.expect_in_sync();
	g.leave({1});
	g.expect_in_sync();
}

TEST(KeyTree, BadLeavesChangeNothing)
{
	Group g(5);
	for (int i = 0; i < 6; i++)
		g.join();
	g.leave({4});
	Key root = g.server.root();
	uint64_t epoch = g.server.epoch();
	size_t bytes = g.server.server_bytes();
	for (std::vector<uint32_t> bad :
	     {std::vector<uint32_t>{}, {4}, {1, 1}, {8}, {1u << 30}, {0, 6}}) {
		auto p = g.server.plan_leave(bad);
		EXPECT_FALSE(p.ok);
		EXPECT_FALSE(p.error.empty());
		EXPECT_FALSE(g.server.commit(p));
	}
	EXPECT_EQ(g.server.root(), root);
	EXPECT_EQ(g.server.epoch(), epoch);
	EXPECT_EQ(g.server.members(), 5u);
	EXPECT_EQ(g.server.server_bytes(), bytes);
	g.expect_in_sync();
}

TEST(KeyTree, PlanIsPureAndOnlyCommitsOnce)
{
	Group g(6);
	for (int i = 0; i < 7; i++)
		g.join();
	Key root = g.server.root();
	auto p1 = g.server.plan_leave({3});
	ASSERT_TRUE(p1.ok);
	EXPECT_EQ(g.server.root(), root);
	EXPECT_TRUE(g.server.occupied(3));
	EXPECT_EQ(g.server.epoch(), 0u);
	// a join in between makes the plan stale
	g.join();
	EXPECT_FALSE(g.server.commit(p1));
	EXPECT_EQ(g.server.root(), root);
	EXPECT_TRUE(g.server.occupied(3));
	auto p2 = g.server.plan_leave({3});
	auto p3 = g.server.plan_leave({4});
	ASSERT_TRUE(p2.ok && p3.ok);
	EXPECT_TRUE(g.server.commit(p2));
	EXPECT_FALSE(g.server.commit(p2));
	EXPECT_FALSE(g.server.commit(p3)); // made on the old epoch
	EXPECT_EQ(g.server.epoch(), 1u);
	EXPECT_FALSE(g.server.occupied(3));
	EXPECT_TRUE(g.server.occupied(4));
}

TEST(KeyTree, FullAtMaxDepth)
{
	SeededRandom rng(8);
	KeyTreeServer s(rng, 2);
	for (int i = 0; i < 4; i++)
		EXPECT_TRUE(s.join());
	EXPECT_FALSE(s.join());
	EXPECT_EQ(s.depth(), 2u);
	auto p = s.plan_leave({2});
	ASSERT_TRUE(s.commit(p));
	auto k = s.join();
	ASSERT_TRUE(k);
	EXPECT_EQ(k->leaf, 2u);
}

TEST(KeyTree, MemberErrorsChangeNothing)
{
	Group g(9);
	for (int i = 0; i < 16; i++)
		g.join();
	KeyTreeMember lagging = g.members.at(0);
	auto m1 = g.leave({5, 6});
	auto m2 = g.leave({9});
	KeyTreeMember &mem = g.members.at(0);
	MemberKeys held = mem.keys();
	EXPECT_EQ(mem.apply(m2), ApplyError::Stale);
	EXPECT_EQ(mem.apply(m1), ApplyError::Stale);
	EXPECT_EQ(lagging.apply(m2), ApplyError::OutOfDate);

	// a wrong wrap: the member finds out and keeps its keys
	auto p = g.server.plan_leave({12});
	ASSERT_TRUE(p.ok);
	TreeMessage bad = p.message;
	// member 14 unwraps the new root under its key of (3, 1)
	bool tampered = false;
	for (Wrap &w : bad.wraps)
		if (w.level == 3 && w.pos == 1) {
			w.wrapped[7] ^= 0x40;
			tampered = true;
		}
	ASSERT_TRUE(tampered);
	KeyTreeMember &m14 = g.members.at(14);
	MemberKeys k14 = m14.keys();
	EXPECT_EQ(m14.apply(bad), ApplyError::Integrity);
	EXPECT_EQ(m14.keys().path, k14.path);
	EXPECT_EQ(m14.epoch(), k14.epoch);
	// a message breaking a decoder rule, and a tree that shrank
	TreeMessage unsorted = p.message;
	unsorted.leavers = {12, 12};
	EXPECT_EQ(m14.apply(unsorted), ApplyError::Malformed);
	TreeMessage shrunk = p.message;
	shrunk.depth = 3;
	shrunk.leavers = {2};
	shrunk.wraps.clear();
	EXPECT_EQ(m14.apply(shrunk), ApplyError::Malformed);
	EXPECT_EQ(m14.keys().path, k14.path);
	// the real message still works
	ASSERT_TRUE(g.server.commit(p));
	EXPECT_EQ(m14.apply(p.message), ApplyError::None);
	EXPECT_EQ(m14.root(), g.server.root());
	EXPECT_EQ(g.members.at(12).apply(p.message), ApplyError::Excluded);
	// keys that are not a path
	MemberKeys broken = k14;
	broken.path.pop_back();
	KeyTreeMember nobody(broken);
	EXPECT_EQ(nobody.apply(p.message), ApplyError::Excluded);
	for (int e = 0; e <= int(ApplyError::Malformed); e++)
		EXPECT_STRNE(to_string(ApplyError(e)), "unknown error");
}

// Members that joined at depths 1, 2 and 3 receive messages of a tree that
// grew since, for leaves in every part of the tree, including leaves that
// leave the grown levels on their path unchanged.
TEST(KeyTree, GrowthSeenByMembersOfOlderDepth)
{
	struct Case {
		unsigned before;	   // members before the growth
		unsigned after;		   // members after it
		std::vector<uint32_t> out; // the first leave after growth
	};
	std::vector<Case> cases = {
		{4, 16, {12}},	  // (3,0) not in T: grown key derived locally
		{4, 16, {8}},	  // the same, another branch
		{4, 16, {1}},	  // leave inside the old subtree
		{4, 16, {1, 13}}, // both halves
		{2, 9, {8}},	  // grown twice, the new member leaves
		{2, 32, {31}},	  // grown three times
		{4, 5, {0}},	  // grown once, leave on the left
		{4, 5, {4}},	  // the only right member leaves
		{1, 2, {0}},	  // depth 0 -> 1
		{1, 8, {7}},
	};
	for (const Case &c : cases) {
		Group g(100 + c.before + c.after);
		for (unsigned i = 0; i < c.before; i++)
			g.join();
		// one leave and rejoin so that the old members hold epoch 1
		g.leave({0});
		EXPECT_EQ(g.join(), 0u);
		unsigned d0 = g.server.depth();
		for (unsigned i = c.before; i < c.after; i++)
			g.join();
		ASSERT_GT(g.server.depth(), d0);
		EXPECT_EQ(g.members.at(0).depth(), d0);
		g.leave(c.out);
		g.expect_in_sync();
		// and the next message too
		std::vector<uint32_t> next;
		for (auto &[leaf, m] : g.members)
			if (leaf % 3 == 1)
				next.push_back(leaf);
		if (!next.empty() && next.size() < g.members.size()) {
			g.leave(next);
			g.expect_in_sync();
		}
	}
}

// A member told the new depth computes the grown root without a message.
TEST(KeyTree, MemberExtendsToGrownDepth)
{
	Group g(31);
	for (int i = 0; i < 4; i++)
		g.join();
	g.leave({2});
	g.join();
	KeyTreeMember m = g.members.at(1);
	for (int i = 0; i < 5; i++)
		g.join(); // depth 2 -> 4
	ASSERT_EQ(g.server.depth(), 4u);
	EXPECT_NE(m.root(), g.server.root());
	EXPECT_FALSE(m.extend(1));
	EXPECT_FALSE(m.extend(kMaxDepth + 1));
	EXPECT_EQ(m.depth(), 2u);
	ASSERT_TRUE(m.extend(4));
	EXPECT_EQ(m.root(), g.server.root());
	EXPECT_EQ(m.keys().path, g.server.keys_of(1).path);
	EXPECT_TRUE(m.extend(4)); // no change
	EXPECT_EQ(m.keys().path, g.server.keys_of(1).path);
	// and it still follows the next message
	auto p = g.server.plan_leave({8});
	ASSERT_TRUE(g.server.commit(p));
	EXPECT_EQ(m.apply(p.message), ApplyError::None);
	EXPECT_EQ(m.root(), g.server.root());
}

// Random joins and leaves (single and batches up to 64), every member
// applying every message and holding the server's path keys after it.
TEST(KeyTree, RandomizedMembersFollowTheServer)
{
	for (uint64_t seed : {11u, 12u, 13u, 14u}) {
		Group g(seed);
		std::mt19937_64 r(seed);
		size_t joins = 0, leaves = 0, batches = 0;
		while (joins < 1500) {
			size_t n = g.members.size();
			bool join = n < 8 || (n < 400 && r() % 3 != 0);
			if (join) {
				size_t burst = 1 + r() % 20;
				for (size_t i = 0; i < burst; i++, joins++)
					g.join();
				continue;
			}
			size_t k = r() % 2 ? 1 : 1 + r() % std::min<size_t>(64, n - 1);
			std::vector<uint32_t> all;
			for (auto &kv : g.members)
				all.push_back(kv.first);
			std::shuffle(all.begin(), all.end(), r);
			all.resize(k);
			g.leave(all);
			leaves += k;
			batches += k > 1;
			ASSERT_NO_FATAL_FAILURE(g.expect_in_sync())
				<< "seed " << seed;
		}
		EXPECT_GT(leaves, 1000u);
		EXPECT_GT(batches, 20u);
		EXPECT_EQ(g.server.members(), g.members.size());
	}
}

TEST(KeyTree, ServerMemoryWithinLkhBound)
{
	for (unsigned d : {4u, 10u}) {
		SeededRandom rng(d);
		KeyTreeServer s(rng);
		for (uint32_t i = 0; i < (1u << d); i++)
			ASSERT_TRUE(s.join());
		// LKH reference (bench/reference_lkh.cc): (2N - 1) * 44
		size_t lkh = ((2u << d) - 1) * 44;
		EXPECT_LE(s.server_bytes(), lkh * 3 / 2) << "depth " << d;
		EXPECT_GE(s.server_bytes(), ((2u << d) - 1) * 32);
		EXPECT_EQ(s.member_bytes(), (d + 1) * 32u);
	}
}

// ---- coalitions

// Everything a set of parties can compute from the keys they held and the
// messages on the wire: keys by node, closed under every unwrap (any pooled
// key of the wrapping node against any wrap), every derivation (any pooled
// key of either child of a replaced node, or of the node itself, with the
// message's epoch) and every growth derivation, over all messages until
// nothing new appears.
//
// Only values that are some key the server ever held are kept: anything
// else unwraps no wrap (the RFC 5649 integrity check) and derives nothing
// but more such values, so dropping it loses no attack and keeps the
// closure from growing with combinations of wrong keys and epochs.
class Closure {
public:
	explicit Closure(const std::set<Key> &universe) : universe_(universe) {}
	void add(NodeName n, const Key &k) { pool_[n].insert(k); }
	void add(const MemberKeys &m)
	{
		for (unsigned l = 0; l < m.path.size(); l++)
			add(NodeName{uint8_t(l), m.leaf >> l}, m.path[l]);
	}
	bool has(const Key &k) const
	{
		for (auto &kv : pool_)
			if (kv.second.count(k))
				return true;
		return false;
	}
	size_t size() const
	{
		size_t n = 0;
		for (auto &kv : pool_)
			n += kv.second.size();
		return n;
	}

	void close(const std::vector<TreeMessage> &msgs)
	{
		size_t before;
		do {
			before = size();
			for (const TreeMessage &m : msgs)
				step(m);
		} while (size() != before);
	}

private:
	void learn(NodeName n, const Key &k)
	{
		if (universe_.count(k))
			pool_[n].insert(k);
	}
	std::vector<Key> keys(NodeName n) const
	{
		auto it = pool_.find(n);
		if (it == pool_.end())
			return {};
		return {it->second.begin(), it->second.end()};
	}

	void step(const TreeMessage &m)
	{
		for (unsigned l = 1; l <= m.depth; l++)
			for (const Key &k : keys({uint8_t(l - 1), 0}))
				learn({uint8_t(l), 0},
				      deriver_.derive_grown(k, uint8_t(l),
							    m.epoch - 1));
		for (unsigned l = 1; l <= m.depth; l++) {
			std::set<uint32_t> t;
			for (uint32_t x : m.leavers)
				t.insert(x >> l);
			for (uint32_t v : t) {
				NodeName name{uint8_t(l), v};
				for (NodeName from :
				     {NodeName{uint8_t(l - 1), 2 * v},
				      NodeName{uint8_t(l - 1), 2 * v + 1}, name})
					for (const Key &k : keys(from))
						learn(name, deriver_.derive(
								    k, name, m.epoch));
			}
			for (const Wrap &w : m.wraps) {
				if (w.level != l - 1)
					continue;
				NodeName parent{uint8_t(l), w.pos >> 1};
				for (const Key &k : keys({w.level, w.pos}))
					if (auto u = wrapper_.unwrap_key(k, w.wrapped))
						learn(parent, *u);
			}
		}
	}

	const std::set<Key> &universe_;
	std::map<NodeName, std::set<Key>> pool_;
	NodeKeyDeriver deriver_;
	KeyWrapper wrapper_;
};

// A history: every message, what every member ever held, when each member
// left, and every key the server held after each operation.
struct History {
	std::vector<TreeMessage> msgs;
	// member serial -> every MemberKeys it held
	std::map<size_t, std::vector<MemberKeys>> held;
	std::map<size_t, uint64_t> left_at; // serial -> epoch of its leave
	std::map<size_t, MemberKeys> current;
	// epoch -> keys of nodes with members, after that epoch's leave
	// and the joins that followed it
	std::map<uint64_t, std::set<Key>> server_keys;
	std::set<Key> all_keys; // every key the server ever held
};

void snapshot(const KeyTreeServer &s, History &h)
{
	auto &set = h.server_keys[s.epoch()];
	for (unsigned l = 0; l <= s.depth(); l++)
		for (uint32_t p = 0;; p++) {
			NodeName n{uint8_t(l), p};
			if (uint64_t(p) >= (uint64_t(1) << (s.depth() - l)))
				break;
			if (s.node_members(n)) {
				set.insert(s.node_key(n));
				h.all_keys.insert(s.node_key(n));
			}
		}
}

void run_history(uint64_t seed, size_t members, size_t ops, History &h)
{
	SeededRandom rng(seed);
	KeyTreeServer s(rng);
	std::mt19937_64 r(seed);
	std::map<uint32_t, size_t> at_leaf; // leaf -> serial
	std::map<size_t, KeyTreeMember> live;
	size_t serial = 0;
	auto join = [&]() {
		auto k = s.join();
		ASSERT_TRUE(k);
		at_leaf[k->leaf] = serial;
		h.held[serial].push_back(*k);
		live.emplace(serial, KeyTreeMember(*k));
		serial++;
	};
	for (size_t i = 0; i < members; i++)
		join();
	snapshot(s, h);
	for (size_t op = 0; op < ops; op++) {
		size_t k = r() % 3 ? 1 : 2 + r() % 6;
		std::vector<uint32_t> out;
		for (auto &kv : at_leaf)
			out.push_back(kv.first);
		std::shuffle(out.begin(), out.end(), r);
		out.resize(std::min(k, out.size() - 1));
		auto p = s.plan_leave(out);
		ASSERT_TRUE(p.ok);
		ASSERT_TRUE(s.commit(p));
		h.msgs.push_back(p.message);
		for (uint32_t x : out) {
			size_t who = at_leaf.at(x);
			h.left_at[who] = s.epoch();
			live.erase(who);
			at_leaf.erase(x);
		}
		for (auto &[who, m] : live) {
			ASSERT_EQ(m.apply(p.message), ApplyError::None);
			ASSERT_EQ(m.root(), s.root());
			h.held[who].push_back(m.keys());
		}
		// rejoins fill the freed leaves, sometimes more (growth)
		size_t joins = out.size() + (r() % 8 == 0 ? 1 + r() % 6 : 0);
		for (size_t i = 0; i < joins; i++)
			join();
		snapshot(s, h);
	}
	for (auto &[who, m] : live)
		h.current[who] = m.keys();
}

// Pools everything the coalition held, closes it over all messages, and
// checks that nothing the server held after the last of them left is in
// the pool.
void expect_coalition_learns_nothing(const History &h,
				     const std::vector<size_t> &coalition)
{
	Closure c(h.all_keys);
	uint64_t last = 0;
	for (size_t who : coalition) {
		for (const MemberKeys &k : h.held.at(who))
			c.add(k);
		last = std::max(last, h.left_at.at(who));
	}
	size_t seeded = c.size();
	c.close(h.msgs);
	EXPECT_GE(c.size(), seeded);
	size_t checked = 0;
	for (auto it = h.server_keys.lower_bound(last);
	     it != h.server_keys.end(); ++it)
		for (const Key &k : it->second) {
			ASSERT_FALSE(c.has(k))
				<< "coalition of " << coalition.size()
				<< " members computes a key of epoch "
				<< it->first << " (last left at " << last
				<< ")";
			checked++;
		}
	EXPECT_GT(checked, 0u);
}

TEST(KeyTreeCoalition, RemovedMembersLearnNothingLater)
{
	for (uint64_t seed : {21u, 22u}) {
		History h;
		run_history(seed, 48, 40, h);
		ASSERT_FALSE(HasFatalFailure());
		std::vector<size_t> gone;
		for (auto &kv : h.left_at)
			gone.push_back(kv.first);
		ASSERT_GT(gone.size(), 40u);
		// all removed members together
		expect_coalition_learns_nothing(h, gone);
		// random subsets
		std::mt19937_64 r(seed);
		for (int i = 0; i < 6; i++) {
			std::vector<size_t> sub;
			for (size_t who : gone)
				if (r() % 4 == 0)
					sub.push_back(who);
			if (sub.empty())
				sub.push_back(gone[r() % gone.size()]);
			expect_coalition_learns_nothing(h, sub);
		}
	}
}

// The same closure is not vacuous: seeded with what one present member
// received at its join, it computes the current root and every later
// path key from the messages alone.
TEST(KeyTreeCoalition, PositiveControlRecoversCurrentRoot)
{
	History h;
	run_history(23, 48, 40, h);
	ASSERT_FALSE(HasFatalFailure());
	Key root = h.current.begin()->second.root();
	size_t tried = 0;
	for (auto &[who, keys] : h.current) {
		const auto &held = h.held.at(who);
		if (held.size() < 10)
			continue; // joined late: few messages to work through
		Closure c(h.all_keys);
		c.add(held.front());
		EXPECT_FALSE(c.has(root));
		c.close(h.msgs);
		EXPECT_TRUE(c.has(root)) << "member " << who;
		for (const MemberKeys &k : held)
			for (const Key &x : k.path)
				EXPECT_TRUE(c.has(x));
		if (++tried == 3)
			break;
	}
	EXPECT_EQ(tried, 3u);
	// and with a removed member's keys added, still nothing beyond
	// what the present member may know is gained by the removed one
	// (checked by the coalition test above).
}

} // namespace
