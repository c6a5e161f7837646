// SPDX-License-Identifier: GPL-2.0-or-later
// Flat key table, distributed variant: seed 002's worked example (Tables
// 1-4, paragraphs 0074-0078), key merging in every arrival order,
// supersession, heartbeats, takeover and ownership transfer, and seeded
// randomized join/leave/batch-leave sequences with removed members
// simulated as adversaries.
#include "groupsec/flatkey/key_holder.h"
#include "flatkey_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

using namespace groupsec::flatkey;
using groupsec::flatkey::test::FakeClock;
using groupsec::flatkey::test::SeededRandom;

namespace {

KeyMessage one_entry(const WrappedKey &e)
{
	KeyMessage m;
	m.entries = {e};
	return m;
}

// A group of distributed participants wired together by the test.
struct Group {
	explicit Group(IdLayout l, uint64_t seed,
		       ConcurrentVersionPolicy p = ConcurrentVersionPolicy::Merge)
		: layout(std::move(l)), rng(seed), pick(seed), policy(p)
	{
	}
	IdLayout layout;
	SeededRandom rng;
	std::mt19937_64 pick;
	FakeClock clock;
	ConcurrentVersionPolicy policy;
	std::map<MemberId, std::unique_ptr<KeyHolderNode>> nodes;
	std::vector<std::unique_ptr<KeyHolderNode>> removed;
	std::vector<KeyMessage> published;
	uint32_t next_priority = 1;
	size_t unicast_fallbacks = 0;

	uint32_t priority_of(const MemberId &id) const
	{
		uint32_t p = 0, mul = 1;
		for (size_t s = 0; s < id.size(); s++) {
			p += id[s] * mul;
			mul *= layout.radix(0)[s];
		}
		return p + 1000;
	}

	void publish(const KeyMessage &m)
	{
		published.push_back(m);
		for (auto &kv : nodes)
			kv.second->apply(m);
	}

	void beat()
	{
		clock.now += 10000;
		std::vector<Heartbeat> hbs;
		for (auto &kv : nodes)
			if (auto hb = kv.second->tick())
				hbs.push_back(*hb);
		for (auto &hb : hbs)
			for (auto &kv : nodes)
				kv.second->on_heartbeat(hb);
	}

	KeyHolderNode &join(const MemberId &id, uint32_t prio)
	{
		HolderConfig cfg(layout, id, prio);
		cfg.policy = policy;
		auto n = std::make_unique<KeyHolderNode>(cfg, rng, clock);
		if (nodes.empty()) {
			n->create_group();
		} else {
			beat();
			std::vector<KeyHolderNode *> order;
			for (auto &kv : nodes)
				order.push_back(kv.second.get());
			std::shuffle(order.begin(), order.end(), pick);
			for (KeyHolderNode *sponsor : order) {
				Grant g = sponsor->admit(id);
				n->accept(g);
				published.push_back(g.notice);
				for (auto &kv : nodes)
					if (kv.second.get() != sponsor)
						kv.second->on_admission(g);
			}
			KeyMessage created = n->create_missing();
			publish(created);
		}
		auto &ref = *n;
		nodes.emplace(id, std::move(n));
		return ref;
	}

	ExcluderTable leave(const std::vector<MemberId> &out)
	{
		std::vector<KeyHolderNode *> rest;
		for (auto &kv : nodes)
			if (std::find(out.begin(), out.end(), kv.first) == out.end())
				rest.push_back(kv.second.get());
		std::shuffle(rest.begin(), rest.end(), pick);
		for (auto &id : out) {
			removed.push_back(std::move(nodes.at(id)));
			nodes.erase(id);
		}
		KeyHolderNode *excluder = rest.front();
		ExcluderTable t = excluder->exclude(out);
		for (int round = 0; round < 8; round++) {
			size_t before = t.message().entries.size();
			for (KeyHolderNode *n : rest)
				t = n->complete(t);
			bool stuck = false;
			for (KeyHolderNode *n : rest) {
				n->apply(t.message());
				if (!n->knows_key(t.new_tek)) {
					// paragraph 0079: unicast from the excluder
					n->install(KeyId::tek(),
						   KeySlot{*excluder->current_key(KeyId::tek()),
							   t.new_tek.version, 0,
							   t.new_tek.creator},
						   {t.new_tek.creator});
					unicast_fallbacks++;
					stuck = true;
				}
			}
			if (!stuck && t.message().entries.size() == before)
				break;
		}
		publish(t.message());
		return t;
	}
};

std::string kek_name(const KeyId &id)
{
	return "KEK" + std::to_string(id.value == 0 ? id.symbol + 1
						    : id.symbol + 5);
}

// One cell of the seed's tables, in its words.
std::string render(const ExcluderTable &t, unsigned bit, unsigned value)
{
	const ExcluderCell &c = t.cells[bit * 2 + value];
	KeyId id = KeyId::kek(0, bit, value);
	switch (c.fill) {
	case ExcluderCell::Fill::Tek:
		return "new TEK in " + kek_name(id);
	case ExcluderCell::Fill::NewKek:
		return "new " + kek_name(id) + " in old " + kek_name(id) + "/TEK'";
	case ExcluderCell::Fill::None:
		break;
	}
	if (c.unusable && c.unknown)
		return "Unusable/Unknown";
	if (c.unusable)
		return "Unusable";
	if (c.unknown)
		return "Unknown";
	return "";
}

using Grid = std::vector<std::vector<std::string>>; // [bit][value]

Grid grid(const ExcluderTable &t)
{
	Grid g(4, std::vector<std::string>(2));
	for (unsigned b = 0; b < 4; b++)
		for (unsigned v = 0; v < 2; v++)
			g[b][v] = render(t, b, v);
	return g;
}

MemberId bits(unsigned x)
{
	return MemberId{uint8_t(x & 1), uint8_t((x >> 1) & 1),
			uint8_t((x >> 2) & 1), uint8_t((x >> 3) & 1)};
}

TEST(FlatKeyHolder, SeedWorkedExampleTables1To4)
{
	Group g(IdLayout::binary(4), 42,
		ConcurrentVersionPolicy::LowestCreatorWins);
	for (unsigned id : {9u, 10u, 1u, 6u, 2u, 14u})
		g.join(bits(id), id);
	// Member 10 holds KEK1, KEK6, KEK3, KEK8 (paragraph 0052).
	auto &n10 = *g.nodes.at(bits(10));
	for (unsigned b = 0; b < 4; b++)
		EXPECT_TRUE(n10.current_key(KeyId::kek(0, b, (10 >> b) & 1)));
	auto &n9 = *g.nodes.at(bits(9));
	KeyHolderNode n9_copy = n9;

	ExcluderTable t1 = n9_copy.exclude({bits(10)}, false);
	Grid want1 = {{"Unusable/Unknown", "new TEK in KEK5"},
		      {"new TEK in KEK2", "Unusable/Unknown"},
		      {"Unusable", "Unknown"},
		      {"Unknown", "Unusable"}};
	EXPECT_EQ(grid(t1), want1);

	ExcluderTable t2 = n9.exclude({bits(10)});
	Grid want2 = want1;
	want2[2][0] = "new KEK3 in old KEK3/TEK'";
	want2[3][1] = "new KEK8 in old KEK8/TEK'";
	EXPECT_EQ(grid(t2), want2);
	// Members xx10 (2, 6, 14) cannot read it yet; 1 can.
	for (unsigned id : {2u, 6u, 14u}) {
		KeyHolderNode probe = *g.nodes.at(bits(id));
		probe.apply(t2.message());
		EXPECT_FALSE(probe.knows_key(t2.new_tek)) << id;
	}

	ExcluderTable t3 = g.nodes.at(bits(1))->complete(t2);
	Grid want3 = want2;
	want3[3][0] = "new TEK in KEK4";
	EXPECT_EQ(grid(t3), want3);

	// 6 and 2 complete Table 3 at the same time; 2 wins KEK1 and KEK6.
	ExcluderTable t4a = g.nodes.at(bits(6))->complete(t3);
	ExcluderTable t4b = g.nodes.at(bits(2))->complete(t3);
	ExcluderTable t4 = n9.merge_tables(t4a, t4b);
	Grid want4 = {{"new KEK1 in old KEK1/TEK'", "new TEK in KEK5"},
		      {"new TEK in KEK2", "new KEK6 in old KEK6/TEK'"},
		      // The seed's Table 4 shows a new KEK7 here; KEK7 is not
		      // known to member 10, so TEK' under it suffices.
		      {"new KEK3 in old KEK3/TEK'", "new TEK in KEK7"},
		      {"new TEK in KEK4", "new KEK8 in old KEK8/TEK'"}};
	EXPECT_EQ(grid(t4), want4);
	EXPECT_EQ(t4.cells[0].fillers, std::vector<uint32_t>{2}); // KEK1
	EXPECT_EQ(t4.cells[3].fillers, std::vector<uint32_t>{2}); // KEK6
	EXPECT_EQ(t4.cells[4].fillers, std::vector<uint32_t>{9}); // KEK3
	EXPECT_EQ(t4.cells[7].fillers, std::vector<uint32_t>{9}); // KEK8
	EXPECT_EQ(t4.cells[6].fillers, std::vector<uint32_t>{1}); // KEK4

	// Everyone but 10 converges on the new TEK and the same new KEKs.
	g.removed.push_back(std::move(g.nodes.at(bits(10))));
	g.nodes.erase(bits(10));
	g.publish(t4.message());
	auto tek = g.nodes.at(bits(9))->current_key(KeyId::tek());
	for (auto &kv : g.nodes) {
		EXPECT_EQ(kv.second->current_key(KeyId::tek()), tek);
		EXPECT_EQ(kv.second->current_ref(KeyId::tek()).version,
			  t4.new_tek.version);
	}
	EXPECT_EQ(g.nodes.at(bits(6))->current_key(KeyId::kek(0, 0, 0)),
		  g.nodes.at(bits(2))->current_key(KeyId::kek(0, 0, 0)));
	EXPECT_EQ(g.nodes.at(bits(6))->current_ref(KeyId::kek(0, 0, 0)).creator, 2u);
	g.removed.back()->apply(t4.message());
	EXPECT_FALSE(g.removed.back()->knows_key(t4.new_tek));
}

TEST(FlatKeyHolder, LowestCreatorWinsKeyByKey)
{
	// Paragraph 0078: 2 creates KEK1, KEK6, KEK3; 14 creates KEK1, KEK6,
	// KEK8; the result takes KEK1, KEK6, KEK3 from 2 and KEK8 from 14.
	SeededRandom rng(1);
	FakeClock clock;
	HolderConfig cfg(IdLayout::binary(4), bits(9), 9);
	cfg.policy = ConcurrentVersionPolicy::LowestCreatorWins;
	KeyHolderNode judge(cfg, rng, clock);
	ExcluderTable a, b;
	a.cells.resize(8);
	b.cells.resize(8);
	auto made = [](ExcluderTable &t, unsigned bit, unsigned v, uint32_t who) {
		ExcluderCell &c = t.cells[bit * 2 + v];
		c.fill = ExcluderCell::Fill::NewKek;
		c.fillers = {who};
		WrappedKey e;
		e.wrapped = KeyRef{KeyId::kek(0, bit, v), 2, 0, who};
		c.entries = {e};
	};
	made(a, 0, 0, 2); // KEK1
	made(a, 1, 1, 2); // KEK6
	made(a, 2, 0, 2); // KEK3
	made(b, 0, 0, 14);
	made(b, 1, 1, 14);
	made(b, 3, 1, 14); // KEK8
	for (auto order : {0, 1}) {
		ExcluderTable m = order ? judge.merge_tables(b, a)
					: judge.merge_tables(a, b);
		EXPECT_EQ(m.cells[0].fillers, std::vector<uint32_t>{2});
		EXPECT_EQ(m.cells[3].fillers, std::vector<uint32_t>{2});
		EXPECT_EQ(m.cells[4].fillers, std::vector<uint32_t>{2});
		EXPECT_EQ(m.cells[7].fillers, std::vector<uint32_t>{14});
	}
}

TEST(FlatKeyHolder, MergesConvergeForEveryArrivalOrder)
{
	SeededRandom rng(7);
	FakeClock clock;
	KeyWrapper w;
	KeyId x = KeyId::kek(0, 1, 1);
	Key base = rng.key();
	// Creators 3, 5 and 8 each make version 2 of x from version 1.
	std::vector<KeyMessage> msgs;
	Key expect{};
	for (uint32_t c : {3u, 5u, 8u}) {
		Key k = rng.key();
		expect = xor_keys(expect, k);
		WrappedKey e;
		e.wrapping = {KeyRef{x, 1, 0, 1}};
		e.wrapped = KeyRef{x, 2, 0, c};
		e.ciphertext = w.wrap(base, k);
		msgs.push_back(one_entry(e));
	}
	// and one of them announces a revision of the merged key
	WrappedKey rev;
	rev.wrapped = KeyRef{x, 2, 1, creator_tag({3, 5, 8})};
	msgs.push_back(one_entry(rev));
	std::vector<size_t> order = {0, 1, 2, 3};
	std::set<std::vector<uint8_t>> results;
	size_t orders = 0;
	do {
		HolderConfig cfg(IdLayout::binary(4), bits(2), 2);
		KeyHolderNode n(cfg, rng, clock);
		n.install(x, KeySlot{base, 1, 0, 1}, {1});
		for (size_t i : order)
			n.apply(msgs[i]);
		auto v = n.view(x);
		ASSERT_TRUE(v);
		EXPECT_EQ(v->version, 2u);
		EXPECT_EQ(v->creators, (std::set<uint32_t>{3, 5, 8}));
		auto k = n.current_key(x);
		ASSERT_TRUE(k) << orders;
		results.insert(std::vector<uint8_t>(k->begin(), k->end()));
		orders++;
	} while (std::next_permutation(order.begin(), order.end()));
	EXPECT_EQ(orders, 24u);
	ASSERT_EQ(results.size(), 1u);
	// The merge is the XOR of the parts, advanced to the announced revision.
	Key parts{};
	for (size_t i = 0; i < 3; i++) {
		KeyHolderNode probe(HolderConfig(IdLayout::binary(4), bits(2), 2),
				    rng, clock);
		probe.install(x, KeySlot{base, 1, 0, 1}, {1});
		probe.apply(msgs[i]);
		parts = xor_keys(parts, *probe.current_key(x));
	}
	parts = advance_revision(parts);
	EXPECT_EQ(*results.begin(), std::vector<uint8_t>(parts.begin(), parts.end()));
}

TEST(FlatKeyHolder, Supersession)
{
	HeartbeatEntry a;
	a.id = KeyId::tek();
	a.version = 3;
	a.revision = 1;
	a.creators = {4};
	HeartbeatEntry b = a;
	b.revision = 2;
	EXPECT_TRUE(supersedes(b, 5, a, 4)); // (a) new revision
	EXPECT_FALSE(supersedes(a, 4, b, 5));
	b = a;
	b.version = 4;
	b.revision = 0;
	EXPECT_TRUE(supersedes(b, 5, a, 4)); // (b) new version
	b = a;
	b.creators = {4, 6};
	EXPECT_TRUE(supersedes(b, 6, a, 4)); // (c) merged key including a
	EXPECT_FALSE(supersedes(a, 4, b, 6));
	HeartbeatEntry m = b;
	EXPECT_TRUE(supersedes(m, 6, b, 4));  // (d) higher contributor
	EXPECT_FALSE(supersedes(b, 4, m, 6));
	EXPECT_FALSE(supersedes(m, 9, b, 4)); // 9 did not contribute
	HeartbeatEntry other = a;
	other.id = KeyId::kek(0, 0, 0);
	other.version = 9;
	EXPECT_FALSE(supersedes(other, 5, a, 4));
}

TEST(FlatKeyHolder, HeartbeatTakeoverAndTransfer)
{
	Group g(IdLayout::binary(3), 9);
	auto &a = g.join({0, 0, 0}, 10); // creates the TEK, holds it
	auto &b = g.join({1, 0, 0}, 20);
	auto &c = g.join({0, 1, 0}, 30);
	EXPECT_TRUE(a.holds(KeyId::tek()));
	g.beat();
	EXPECT_EQ(b.view(KeyId::tek())->owner, 10u);
	auto hb = a.tick();
	g.clock.now += 10000;
	hb = a.tick();
	ASSERT_TRUE(hb);
	bool listed = false;
	for (auto &e : hb->entries)
		listed = listed || (e.id == KeyId::tek() && e.owner == 10 &&
				    e.version == a.view(KeyId::tek())->version);
	EXPECT_TRUE(listed);

	// a falls silent: b and c both claim the TEK, the higher priority keeps it.
	g.clock.now += 40000;
	auto hb_b = b.tick();
	auto hb_c = c.tick();
	ASSERT_TRUE(hb_b && hb_c);
	EXPECT_TRUE(b.holds(KeyId::tek()));
	EXPECT_TRUE(c.holds(KeyId::tek()));
	b.on_heartbeat(*hb_c);
	c.on_heartbeat(*hb_b);
	EXPECT_FALSE(b.holds(KeyId::tek()));
	EXPECT_TRUE(c.holds(KeyId::tek()));
	EXPECT_EQ(b.view(KeyId::tek())->owner, 30u);

	// c hands the TEK to b.
	auto t = c.transfer(KeyId::tek(), 20);
	ASSERT_TRUE(t);
	EXPECT_FALSE(c.holds(KeyId::tek()));
	b.on_heartbeat(*t);
	EXPECT_TRUE(b.holds(KeyId::tek()));
	EXPECT_FALSE(c.transfer(KeyId::tek(), 10));

	// A newer version stops the old holder's heartbeat (0085).
	ExcluderTable x = a.exclude({{0, 1, 0}});
	(void)x;
	g.clock.now += 10000;
	auto hb_a = a.tick();
	ASSERT_TRUE(hb_a);
	// b has not seen the new TEK yet: its view is superseded
	b.on_heartbeat(*hb_a);
	EXPECT_FALSE(b.holds(KeyId::tek()));
}

TEST(FlatKeyHolder, PacketHeaderAndGracePeriod)
{
	Group g(IdLayout::binary(3), 10);
	auto &a = g.join({0, 0, 0}, 10);
	g.join({1, 0, 0}, 20);
	g.join({1, 1, 0}, 30);
	auto &b = *g.nodes.at({1, 0, 0});
	PacketKeyHeader before = b.packet_header();
	EXPECT_EQ(before.association_id, 20u);
	g.leave({{1, 1, 0}});
	PacketKeyHeader after = b.packet_header();
	EXPECT_EQ(after.key_version, before.key_version + 1);
	EXPECT_EQ(a.packet_header().key_version, after.key_version);
	EXPECT_TRUE(b.tek_for(before.key_version, before.key_revision));
	g.clock.now += 120000;
	EXPECT_FALSE(b.tek_for(before.key_version, before.key_revision));
	EXPECT_TRUE(b.tek_for(after.key_version, after.key_revision));
}

void check_group(Group &g, const std::string &where)
{
	ASSERT_FALSE(g.nodes.empty());
	KeyHolderNode &first = *g.nodes.begin()->second;
	KeyRef ref = first.current_ref(KeyId::tek());
	auto tek = first.current_key(KeyId::tek());
	ASSERT_TRUE(tek) << where;
	for (auto &kv : g.nodes) {
		ASSERT_TRUE(kv.second->current_ref(KeyId::tek()) == ref) << where;
		ASSERT_EQ(kv.second->current_key(KeyId::tek()), tek) << where;
	}
	if (g.removed.empty())
		return;
	// All removed members pool their keys and try every message.
	KeyHolderNode adv(HolderConfig(g.layout, g.removed[0]->id(), 1), g.rng,
			  g.clock);
	for (auto &r : g.removed)
		adv.absorb(*r);
	for (int pass = 0; pass < 2; pass++)
		for (auto &m : g.published)
			adv.apply(m);
	ASSERT_FALSE(adv.knows_key(ref)) << where << ": removed members recover the TEK";
}

TEST(FlatKeyHolderProperty, RandomDistributedSequences)
{
	size_t fallbacks = 0, leaves = 0;
	for (uint64_t seed = 1; seed <= 1000; seed++) {
		std::mt19937_64 r(seed);
		unsigned w = 3 + r() % 2;
		unsigned v = 2 + r() % 2;
		Group g(IdLayout::uniform(w, v), seed);
		size_t cap = 1;
		for (unsigned i = 0; i < w; i++)
			cap *= v;
		std::vector<MemberId> free_ids;
		for (size_t i = 0; i < cap; i++)
			free_ids.push_back(*g.layout.from_index(i));
		std::shuffle(free_ids.begin(), free_ids.end(), r);
		for (int step = 0; step < 10; step++) {
			std::string where = "seed " + std::to_string(seed) +
					    " step " + std::to_string(step);
			if (g.nodes.size() < 3 || (r() % 2 && !free_ids.empty())) {
				MemberId id = free_ids.back();
				free_ids.pop_back();
				g.join(id, g.priority_of(id));
			} else {
				std::vector<MemberId> all;
				for (auto &kv : g.nodes)
					all.push_back(kv.first);
				std::shuffle(all.begin(), all.end(), r);
				size_t k = r() % 3 == 0 ? 1 + r() % (all.size() - 1) : 1;
				std::vector<MemberId> out(all.begin(), all.begin() + k);
				g.leave(out);
				leaves++;
			}
			check_group(g, where);
			if (HasFatalFailure())
				return;
		}
		fallbacks += g.unicast_fallbacks;
	}
	EXPECT_GT(leaves, 1500u);
	EXPECT_GT(fallbacks, 0u);
}

} // namespace
