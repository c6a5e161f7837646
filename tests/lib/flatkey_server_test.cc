// Flat key table, centralized variant: crypto helpers, member IDs, joins,
// leaves, batch leaves, and seeded randomized property tests with removed
// members simulated as adversaries holding exactly their keys.
#include "groupsec/flatkey/flat_key_server.h"
#include "flatkey_test_util.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace groupsec::flatkey;
using groupsec::flatkey::test::FakeClock;
using groupsec::flatkey::test::SeededRandom;

namespace {

TEST(FlatKeyCrypto, WrapRoundTripAndTamper)
{
	SeededRandom rng(1);
	KeyWrapper w;
	Key kek = rng.key(), k = rng.key();
	auto ct = w.wrap(kek, k);
	ASSERT_EQ(ct.size(), kWrappedKeyBytes);
	auto back = w.unwrap_key(kek, ct);
	ASSERT_TRUE(back);
	EXPECT_EQ(*back, k);
	Key other = rng.key();
	EXPECT_FALSE(w.unwrap_key(other, ct));
	ct[5] ^= 1;
	EXPECT_FALSE(w.unwrap_key(kek, ct));
	EXPECT_FALSE(w.unwrap(kek, ct.data(), 7));
}

TEST(FlatKeyCrypto, RevisionIsOneWayChainAndCombineNeedsAllParts)
{
	SeededRandom rng(2);
	Key a = rng.key(), b = rng.key();
	EXPECT_NE(advance_revision(a), a);
	EXPECT_EQ(advance_revision(a, 3),
		  advance_revision(advance_revision(advance_revision(a))));
	Key ab = combine_keys({&a, &b});
	EXPECT_NE(ab, combine_keys({&b, &a}));
	EXPECT_NE(ab, combine_keys({&a, &a}));
	EXPECT_EQ(combine_keys({&a}), a);
}

TEST(FlatKeyIds, DirectFromIpv4AndAssigned)
{
	IdLayout l = IdLayout::binary(32);
	MemberId id = l.from_address({192, 0, 2, 9});
	ASSERT_EQ(id.size(), 32u);
	// bit 0 is the least significant bit of the address
	EXPECT_EQ(id[0], 1);
	EXPECT_EQ(id[1], 0);
	EXPECT_EQ(id[3], 1);
	EXPECT_EQ(id[31], 1); // 192 = 0b11000000
	EXPECT_EQ(id[30], 1);
	EXPECT_EQ(id[29], 0);
	IdLayout m = *IdLayout::create({2, 3, 4}, {}, nullptr);
	EXPECT_EQ(m.kek_slots(), 9u);
	auto x = m.from_index(23);
	ASSERT_TRUE(x);
	EXPECT_EQ(*x, (MemberId{1, 2, 3}));
	EXPECT_FALSE(m.from_index(24));
	std::string err;
	EXPECT_FALSE(IdLayout::create({2, 1}, {}, &err));
	EXPECT_FALSE(err.empty());
}

TEST(FlatKeyIds, HashedAddressesNeverCollide)
{
	// 64 IDs for 60 addresses: hashing collides, the allocator retries.
	IdLayout l = IdLayout::binary(6);
	IdAllocator alloc(l);
	std::set<MemberId> ids;
	for (uint8_t i = 0; i < 60; i++) {
		auto id = alloc.assign({10, 0, 0, i});
		ASSERT_TRUE(id) << int(i);
		EXPECT_TRUE(ids.insert(*id).second);
	}
	IdLayout d = IdLayout::binary(8);
	IdAllocator direct(d);
	ASSERT_TRUE(direct.assign({7}));
	EXPECT_FALSE(direct.assign({7}));
}

TEST(FlatKeyServer, MemberHoldsTekAndExactlyItsKeks)
{
	SeededRandom rng(3);
	FakeClock clock;
	IdLayout l = *IdLayout::create({2, 3, 4}, {{5, 5}}, nullptr);
	FlatKeyServer srv(ServerConfig(l), rng, clock);
	auto j = srv.join({1, 2, 3});
	ASSERT_TRUE(j.ok) << j.error;
	const MemberKeys &mk = j.members[0];
	ASSERT_EQ(mk.keks.size(), l.member_keks());
	auto syms = l.all_symbols({1, 2, 3});
	for (size_t t = 0, i = 0; t < l.tables(); t++)
		for (size_t s = 0; s < l.radix(t).size(); s++, i++) {
			EXPECT_EQ(mk.kek_ids[i], KeyId::kek(t, s, syms[i]));
			KeyRef r = srv.kek_ref(t, s, syms[i]);
			EXPECT_EQ(mk.keks[i].version, r.version);
			EXPECT_EQ(mk.keks[i].revision, r.revision);
		}
	EXPECT_EQ(mk.tek.version, srv.current_tek().version);
	EXPECT_FALSE(srv.join({1, 2, 3}).ok);
	EXPECT_FALSE(srv.join({2, 2, 3}).ok);
}

TEST(FlatKeyServer, JoinAdvancesRevisionsAndOnlyNumbersTravel)
{
	SeededRandom rng(4);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(4)), rng, clock);
	KeyWrapper w;
	auto a = srv.join({1, 0, 0, 1});
	KeyStore sa = a.members[0].store();
	KeyRef before = srv.current_tek();
	auto b = srv.join({0, 1, 0, 1});
	ASSERT_TRUE(b.ok);
	KeyRef after = srv.current_tek();
	EXPECT_EQ(after.version, before.version);
	EXPECT_EQ(after.revision, before.revision + 1);
	// The announcement carries no key material.
	ASSERT_EQ(b.announcement.entries.size(), 1u);
	EXPECT_TRUE(b.announcement.entries[0].is_notice());
	EXPECT_TRUE(b.announcement.entries[0].ciphertext.empty());
	sa.apply(b.announcement, w);
	EXPECT_EQ(*sa.find(after), *srv.tek_for(after.version, after.revision));
	KeyStore sb = b.members[0].store();
	EXPECT_FALSE(sb.knows(before));
	EXPECT_EQ(*sb.find(after), *sa.find(after));
	// The shared KEK (bit 3 = 1) moved one revision for both.
	KeyRef shared = srv.kek_ref(0, 3, 1);
	EXPECT_EQ(shared.revision, 1u);
	EXPECT_EQ(*sa.find(shared), *sb.find(shared));
}

TEST(FlatKeyServer, SingleLeaveIsTheExcluderTable)
{
	SeededRandom rng(5);
	FakeClock clock;
	const unsigned w = 4;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(w)), rng, clock);
	KeyWrapper wr;
	std::map<uint64_t, KeyStore> stores;
	for (uint64_t i = 0; i < 16; i++) {
		auto j = srv.join(*srv.layout().from_index(i));
		ASSERT_TRUE(j.ok);
		for (auto &kv : stores)
			kv.second.apply(j.announcement, wr);
		stores.emplace(i, j.members[0].store());
	}
	KeyStore leaver = stores.at(10);
	auto r = srv.leave(*srv.layout().from_index(10));
	ASSERT_TRUE(r.ok) << r.error;
	EXPECT_FALSE(r.collusion.flagged);
	// TEK' under each of the W KEKs member 10 lacks; its W KEKs replaced
	// under old KEK / TEK'.
	EXPECT_EQ(r.product_terms, w);
	EXPECT_EQ(r.keks_replaced, w);
	EXPECT_EQ(r.message.wrapped_count(), 2 * w);
	for (size_t i = 0; i < w; i++) {
		const auto &e = r.message.entries[i];
		ASSERT_EQ(e.wrapping.size(), 1u);
		EXPECT_EQ(e.wrapping[0].id.value, 1 - ((10 >> e.wrapping[0].id.symbol) & 1));
	}
	for (size_t i = w; i < 2 * w; i++) {
		const auto &e = r.message.entries[i];
		ASSERT_EQ(e.wrapping.size(), 2u);
		EXPECT_EQ(e.wrapping[1].id, KeyId::tek());
		EXPECT_EQ(e.wrapped.id.value, (10 >> e.wrapped.id.symbol) & 1);
	}
	stores.erase(10);
	for (auto &kv : stores) {
		kv.second.apply(r.message, wr);
		EXPECT_EQ(*kv.second.find(r.new_tek),
			  *srv.tek_for(r.new_tek.version, r.new_tek.revision));
	}
	leaver.apply(r.message, wr);
	EXPECT_FALSE(leaver.knows(r.new_tek));
}

TEST(FlatKeyServer, GracePeriodAndPacketHeader)
{
	SeededRandom rng(6);
	FakeClock clock;
	ServerConfig cfg(IdLayout::binary(3));
	cfg.grace_ms = 60000;
	FlatKeyServer srv(cfg, rng, clock);
	srv.join({0, 0, 0});
	srv.join({1, 0, 0});
	KeyRef old = srv.current_tek();
	auto r = srv.leave({1, 0, 0});
	ASSERT_TRUE(r.ok);
	PacketKeyHeader h = srv.packet_header(7);
	EXPECT_EQ(h.key_version, r.new_tek.version);
	uint8_t buf[kPacketKeyHeaderBytes];
	encode(h, buf);
	PacketKeyHeader back;
	ASSERT_TRUE(decode(buf, sizeof buf, &back));
	EXPECT_EQ(back.association_id, 7u);
	EXPECT_EQ(back.key_version, h.key_version);
	EXPECT_FALSE(decode(buf, 11, &back));
	EXPECT_TRUE(srv.tek_for(old.version, old.revision));
	clock.now += 59999;
	srv.expire();
	EXPECT_TRUE(srv.tek_for(old.version, old.revision));
	clock.now += 1;
	srv.expire();
	EXPECT_FALSE(srv.tek_for(old.version, old.revision));
	EXPECT_TRUE(srv.tek_for(r.new_tek.version, r.new_tek.revision));
}

TEST(FlatKeyServer, BadRequestsChangeNothing)
{
	SeededRandom rng(7);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(3)), rng, clock);
	srv.join({0, 0, 0});
	KeyRef t = srv.current_tek();
	EXPECT_FALSE(srv.leave({1, 1, 1}).ok);
	EXPECT_FALSE(srv.leave_batch({{0, 0, 0}, {0, 0, 0}}).ok);
	EXPECT_FALSE(srv.join({0, 0}).ok);
	EXPECT_FALSE(srv.join({0, 0, 2}).ok);
	EXPECT_TRUE(srv.current_tek() == t);
	EXPECT_EQ(srv.members(), 1u);
}

TEST(FlatKeyServer, CollusionIsFlaggedAndResisted)
{
	// 0b01 and 0b10 together hold every KEK of 0b00 and 0b11.
	SeededRandom rng(8);
	FakeClock clock;
	for (auto policy : {CollusionPolicy::kResist,
			    CollusionPolicy::kAcceptFlagged}) {
		ServerConfig cfg(IdLayout::binary(2));
		cfg.collusion = policy;
		FlatKeyServer srv(cfg, rng, clock);
		KeyWrapper wr;
		std::vector<KeyStore> st;
		for (uint64_t i = 0; i < 4; i++) {
			auto j = srv.join(*srv.layout().from_index(i));
			for (auto &s : st)
				s.apply(j.announcement, wr);
			st.push_back(j.members[0].store());
		}
		auto r = srv.leave_batch({{1, 0}, {0, 1}});
		ASSERT_TRUE(r.ok);
		EXPECT_TRUE(r.collusion.flagged);
		EXPECT_TRUE(r.collusion.whole_table);
		EXPECT_EQ(r.collusion.covered_members.size(), 2u);
		KeyStore coalition = st[1];
		coalition.merge_from(st[2]);
		coalition.apply(r.message, wr);
		for (size_t i : {0, 3}) {
			st[i].apply(r.message, wr);
			EXPECT_TRUE(st[i].knows(r.new_tek));
		}
		if (policy == CollusionPolicy::kResist) {
			EXPECT_TRUE(r.resisted);
			EXPECT_EQ(r.unicast, 2u);
			EXPECT_FALSE(coalition.knows(r.new_tek));
		} else {
			EXPECT_FALSE(r.resisted);
			// The flag is real: together they can.
			EXPECT_TRUE(coalition.knows(r.new_tek));
		}
		KeyStore alone = st[1];
		alone.apply(r.message, wr);
		EXPECT_FALSE(alone.knows(r.new_tek));
	}
}

TEST(FlatKeyServer, ExtraSymbolTableAvoidsUnicastUnderCollusion)
{
	// Same collusion as above; a second table of two 251-value symbols
	// (paragraph 0086) gives the remaining members KEKs the colluders
	// do not hold.
	SeededRandom rng(9);
	FakeClock clock;
	IdLayout l = *IdLayout::create({2, 2}, {{251, 251}}, nullptr);
	FlatKeyServer srv(ServerConfig(l), rng, clock);
	KeyWrapper wr;
	std::vector<KeyStore> st;
	for (uint64_t i = 0; i < 4; i++) {
		auto j = srv.join(*l.from_index(i));
		for (auto &s : st)
			s.apply(j.announcement, wr);
		st.push_back(j.members[0].store());
	}
	auto r = srv.leave_batch({{1, 0}, {0, 1}});
	ASSERT_TRUE(r.ok);
	EXPECT_TRUE(r.collusion.flagged);
	EXPECT_TRUE(r.resisted);
	EXPECT_FALSE(r.collusion.whole_table);
	EXPECT_TRUE(r.collusion.covered_members.empty());
	EXPECT_EQ(r.unicast, 0u);
	for (size_t i : {0, 3}) {
		st[i].apply(r.message, wr);
		EXPECT_TRUE(st[i].knows(r.new_tek));
	}
	KeyStore coalition = st[1];
	coalition.merge_from(st[2]);
	coalition.apply(r.message, wr);
	EXPECT_FALSE(coalition.knows(r.new_tek));
}

// ---- randomized property tests ----

struct Sim {
	Sim(uint64_t seed, IdLayout l, CollusionPolicy p, KekRefresh kr)
		: rng(seed), pick(seed * 7919 + 1), cfg(make(l, p, kr)),
		  srv(cfg, rng, clock)
	{
	}
	static ServerConfig make(IdLayout l, CollusionPolicy p, KekRefresh kr)
	{
		ServerConfig c(std::move(l));
		c.collusion = p;
		c.refresh = kr;
		return c;
	}
	SeededRandom rng;
	std::mt19937_64 pick;
	FakeClock clock;
	ServerConfig cfg;
	FlatKeyServer srv;
	KeyWrapper wr;
	std::map<MemberId, KeyStore> members;
	std::map<MemberId, KeyRef> joined_at;
	std::vector<KeyMessage> published;
	std::vector<KeyRef> teks;
	KeyStore removed_union;
	size_t flagged = 0, leaves = 0, unicast = 0;

	void publish(const KeyMessage &m)
	{
		published.push_back(m);
		for (auto &kv : members)
			kv.second.apply(m, wr);
		teks.push_back(srv.current_tek());
	}
};

IdLayout random_layout(std::mt19937_64 &g)
{
	size_t w = 2 + g() % 4;
	std::vector<uint16_t> r;
	for (size_t i = 0; i < w; i++)
		r.push_back(static_cast<uint16_t>(2 + g() % 3));
	std::vector<std::vector<uint16_t>> extra;
	if (g() % 3 == 0)
		extra.push_back({5, 5});
	return *IdLayout::create(r, extra, nullptr);
}

size_t capacity(const IdLayout &l)
{
	size_t c = 1;
	for (auto v : l.radix(0))
		c *= v;
	return c;
}

void check_invariants(Sim &s, const std::string &where)
{
	KeyRef cur = s.srv.current_tek();
	Key truth = *s.srv.tek_for(cur.version, cur.revision);
	for (auto &kv : s.members) {
		auto k = kv.second.find(cur);
		ASSERT_TRUE(k) << where << ": a member lost the TEK";
		ASSERT_EQ(*k, truth) << where;
		// backward secrecy: nothing from before it joined
		for (const auto &t : s.teks) {
			if (t.version < s.joined_at[kv.first].version ||
			    (t.version == s.joined_at[kv.first].version &&
			     t.revision < s.joined_at[kv.first].revision)) {
				ASSERT_FALSE(kv.second.knows(t)) << where;
			}
		}
	}
	ASSERT_FALSE(s.removed_union.knows(cur))
		<< where << ": removed members together recover the TEK";
}

struct SequenceStats {
	size_t flagged = 0, leaves = 0, unicast = 0;
};

void run_sequence(uint64_t seed, CollusionPolicy policy, KekRefresh kr,
		  int steps, SequenceStats *stats)
{
	std::mt19937_64 g(seed);
	IdLayout l = random_layout(g);
	Sim s(seed, l, policy, kr);
	size_t cap = capacity(l);
	for (int step = 0; step < steps; step++) {
		std::string where = "seed " + std::to_string(seed) + " step " +
				    std::to_string(step);
		unsigned op = s.pick() % 10;
		if (s.members.size() < 2 || (op < 5 && s.members.size() < cap)) {
			// join one or a few
			std::vector<MemberId> ids;
			size_t n = 1 + s.pick() % 3;
			for (size_t tries = 0; tries < 50 && ids.size() < n; tries++) {
				MemberId id = *l.from_index(s.pick() % cap);
				if (!s.members.count(id) &&
				    std::find(ids.begin(), ids.end(), id) == ids.end())
					ids.push_back(id);
			}
			if (ids.empty())
				continue;
			auto j = s.srv.join_batch(ids);
			ASSERT_TRUE(j.ok) << where << j.error;
			s.publish(j.announcement);
			for (auto &mk : j.members) {
				s.members.emplace(mk.id, mk.store());
				s.joined_at[mk.id] = s.srv.current_tek();
			}
		} else {
			size_t k = op < 8 ? 1 : 1 + s.pick() % (s.members.size() - 1);
			std::vector<MemberId> out;
			std::vector<MemberId> all;
			for (auto &kv : s.members)
				all.push_back(kv.first);
			std::shuffle(all.begin(), all.end(), s.pick);
			out.assign(all.begin(), all.begin() + k);
			auto r = s.srv.leave_batch(out);
			ASSERT_TRUE(r.ok) << where << r.error;
			s.flagged += r.collusion.flagged;
			s.unicast += r.unicast;
			s.leaves++;
			for (auto &id : out) {
				s.removed_union.merge_from(s.members.at(id));
				s.members.erase(id);
			}
			s.publish(r.message);
		}
		// The removed members pool everything they ever held and
		// try every message ever published.
		for (const auto &m : s.published)
			s.removed_union.apply(m, s.wr);
		check_invariants(s, where);
		if (testing::Test::HasFatalFailure())
			return;
	}
	stats->flagged += s.flagged;
	stats->leaves += s.leaves;
	stats->unicast += s.unicast;
}

TEST(FlatKeyProperty, RandomSequencesResistingCollusion)
{
	SequenceStats stats;
	for (uint64_t seed = 1; seed <= 1500; seed++) {
		run_sequence(seed, CollusionPolicy::kResist,
			     seed % 2 ? KekRefresh::kWrap : KekRefresh::kDerive,
			     14, &stats);
		if (HasFatalFailure())
			return;
	}
	// The sequences reach the collusion fallback, unicast included.
	EXPECT_GT(stats.leaves, 5000u);
	EXPECT_GT(stats.flagged, 100u);
	EXPECT_GT(stats.unicast, 100u);
	EXPECT_LT(stats.flagged, stats.leaves);
}

// With the minimized terms kept, each removed member alone, and every
// coalition that cannot rebuild a flagged term, stays out.
TEST(FlatKeyProperty, AcceptedTermsExposeOnlyFlaggedCoalitions)
{
	size_t flagged = 0, clean = 0;
	for (uint64_t seed = 1; seed <= 800; seed++) {
		std::mt19937_64 g(seed);
		IdLayout l = random_layout(g);
		Sim s(seed, l, CollusionPolicy::kAcceptFlagged,
		      KekRefresh::kWrap);
		size_t cap = capacity(l);
		std::vector<MemberId> ids;
		for (size_t i = 0; i < cap; i++)
			if (g() % 4 != 0)
				ids.push_back(*l.from_index(i));
		if (ids.size() < 3)
			continue;
		auto j = s.srv.join_batch(ids);
		ASSERT_TRUE(j.ok);
		std::map<MemberId, MemberKeys> keys;
		for (auto &mk : j.members)
			keys.emplace(mk.id, mk);
		std::shuffle(ids.begin(), ids.end(), g);
		size_t k = 1 + g() % (ids.size() - 1);
		std::vector<MemberId> out(ids.begin(), ids.begin() + k);
		auto r = s.srv.leave_batch(out);
		ASSERT_TRUE(r.ok);
		(r.collusion.flagged ? flagged : clean)++;
		for (size_t i = k; i < ids.size(); i++) {
			KeyStore st = keys.at(ids[i]).store();
			st.apply(r.message, s.wr);
			ASSERT_TRUE(st.knows(r.new_tek)) << "seed " << seed;
		}
		// every subset of up to 4 removed members (all subsets if few)
		for (int trial = 0; trial < 12; trial++) {
			std::vector<MemberId> coal;
			for (auto &id : out)
				if (trial == 0 ? false : g() % 3 == 0)
					coal.push_back(id);
			if (trial == 0) {
				coal.push_back(out[g() % k]);
			}
			if (coal.empty())
				continue;
			KeyStore adv;
			std::set<KeyId> held;
			for (auto &id : coal) {
				adv.merge_from(keys.at(id).store());
				for (auto &kid : keys.at(id).kek_ids)
					held.insert(kid);
			}
			bool breaks = false;
			for (auto &term : r.collusion.exposed_terms) {
				bool all = true;
				for (auto &kid : term)
					all = all && held.count(kid);
				breaks = breaks || all;
			}
			adv.apply(r.message, s.wr);
			if (!breaks) {
				ASSERT_FALSE(adv.knows(r.new_tek))
					<< "seed " << seed << " unflagged coalition";
			} else {
				ASSERT_TRUE(adv.knows(r.new_tek))
					<< "seed " << seed << " flag is real";
			}
		}
	}
	EXPECT_GT(flagged, 0u);
	EXPECT_GT(clean, 0u);
}

} // namespace
