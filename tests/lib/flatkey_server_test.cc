// SPDX-License-Identifier: GPL-2.0-or-later
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
using groupsec::ByteView;

namespace {

// What a member does with a message: decode it from the wire and receive it.
ReceiveResult deliver(KeyStore &st, const KeyMessage &m, KeyWrapper &w)
{
	auto bytes = encode(m);
	EXPECT_FALSE(bytes.empty());
	auto d = decode(ByteView(bytes));
	EXPECT_TRUE(d.ok()) << d.error().message;
	return st.receive(d.value(), w);
}

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
	// The announcement carries no key material: the TEK's new revision
	// and the KEKs both hold (bit 2 = 0, bit 3 = 1) one revision on.
	ASSERT_EQ(b.announcement.entries.size(), 3u);
	for (const auto &e : b.announcement.entries) {
		EXPECT_TRUE(e.is_notice());
		EXPECT_TRUE(e.ciphertext.empty());
	}
	EXPECT_EQ(b.announcement.entries[1].wrapped.id, KeyId::kek(0, 2, 0));
	EXPECT_EQ(b.announcement.entries[2].wrapped.id, KeyId::kek(0, 3, 1));
	// On the wire: 21-byte header and 4 bytes per KEK. Decoded, the TEK's
	// revision is listed as a notice as in format 1.
	auto wire = encode(b.announcement);
	EXPECT_EQ(wire.size(), 21u + 2 * 4);
	auto decoded = decode(ByteView(wire));
	ASSERT_TRUE(decoded.ok());
	const KeyMessage &dm = decoded.value();
	ASSERT_EQ(dm.entries.size(), 3u);
	EXPECT_TRUE(dm.entries[0].is_notice());
	EXPECT_TRUE(dm.entries[0].wrapped == after);
	EXPECT_EQ(encode(dm), wire);
	ASSERT_TRUE(deliver(sa, b.announcement, w).ok());
	// The newcomer already holds the new revision.
	KeyStore sb0 = b.members[0].store();
	EXPECT_EQ(deliver(sb0, b.announcement, w).error,
		  ReceiveError::OutOfDate);
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
			ASSERT_TRUE(deliver(kv.second, j.announcement, wr).ok());
		stores.emplace(i, j.members[0].store());
	}
	KeyStore leaver = stores.at(10);
	auto r = srv.leave(*srv.layout().from_index(10));
	ASSERT_TRUE(r.ok) << r.error;
	EXPECT_FALSE(r.collusion.flagged);
	// TEK' under each of the W KEKs member 10 lacks; its W KEKs replaced
	// by derivation from old KEK / TEK' (the default), named by a leaver
	// notice: W wrapped keys, and on the wire 21 + W * 46 bytes plus the
	// notice (tag, 1 table of 1 run, count, a 1-byte ID index) = 10.
	EXPECT_EQ(r.product_terms, w);
	EXPECT_EQ(r.keks_replaced, w);
	EXPECT_EQ(r.message.wrapped_count(), w);
	ASSERT_EQ(r.message.entries.size(), w);
	EXPECT_EQ(encode(r.message).size(), 21 + w * 46 + 10);
	for (size_t i = 0; i < w; i++) {
		const auto &e = r.message.entries[i];
		ASSERT_EQ(e.wrapping.size(), 1u);
		EXPECT_EQ(e.wrapping[0].id.value, 1 - ((10 >> e.wrapping[0].id.symbol) & 1));
	}
	ASSERT_EQ(r.message.leavers.ids.size(), 1u);
	EXPECT_EQ(r.message.leavers.ids[0], *srv.layout().from_index(10));
	ASSERT_EQ(r.message.leavers.replaced.size(), w);
	for (const auto &k : r.message.leavers.replaced)
		EXPECT_EQ(k.id.value, (10 >> k.id.symbol) & 1);
	auto dec = encode(r.message);
	auto d = decode(ByteView(dec));
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d.value().leavers.ids, r.message.leavers.ids);
	EXPECT_EQ(d.value().leavers.radix, r.message.leavers.radix);
	stores.erase(10);
	for (auto &kv : stores) {
		ASSERT_TRUE(deliver(kv.second, r.message, wr).ok());
		EXPECT_EQ(*kv.second.find(r.new_tek),
			  *srv.tek_for(r.new_tek.version, r.new_tek.revision));
		// every KEK it holds is the server's current one
		for (size_t s = 0; s < w; s++) {
			KeyRef k = srv.kek_ref(0, s, (kv.first >> s) & 1);
			auto c = kv.second.current(k.id);
			ASSERT_TRUE(c);
			EXPECT_EQ(c->version, k.version);
			EXPECT_TRUE(kv.second.knows(k));
		}
	}
	EXPECT_EQ(deliver(leaver, r.message, wr).error, ReceiveError::Excluded);
	leaver.apply(r.message, wr);
	EXPECT_FALSE(leaver.knows(r.new_tek));
}

TEST(FlatKeyServer, DerivedAndWrappedReplacementReachTheSameHolders)
{
	// Wrap sends the new KEK under old KEK / TEK'; Derive lets the
	// holders of both compute it. The same stores learn it either way.
	for (auto refresh : {KekRefresh::Wrap, KekRefresh::Derive}) {
		SeededRandom rng(15);
		FakeClock clock;
		ServerConfig cfg(IdLayout::binary(3));
		cfg.refresh = refresh;
		FlatKeyServer srv(cfg, rng, clock);
		KeyWrapper wr;
		std::vector<KeyStore> st;
		for (uint64_t i = 0; i < 8; i++) {
			auto j = srv.join(*srv.layout().from_index(i));
			for (auto &x : st)
				ASSERT_TRUE(deliver(x, j.announcement, wr).ok());
			st.push_back(j.members[0].store());
		}
		KeyRef old = srv.kek_ref(0, 0, 1);
		auto r = srv.leave(*srv.layout().from_index(5));
		ASSERT_TRUE(r.ok);
		EXPECT_EQ(r.message.wrapped_count(),
			  refresh == KekRefresh::Wrap ? 6u : 3u);
		KeyRef nw = srv.kek_ref(0, 0, 1);
		EXPECT_EQ(nw.version, old.version + 1);
		for (uint64_t i = 0; i < 8; i++) {
			if (i == 5)
				continue;
			ASSERT_TRUE(deliver(st[i], r.message, wr).ok());
			EXPECT_EQ(st[i].knows(nw), (i & 1) == 1) << i;
		}
		// the old value alone (the leaver) is not enough
		st[5].apply(r.message, wr);
		EXPECT_FALSE(st[5].knows(nw));
	}
}

TEST(FlatKeyServer, OutOfDateOrStaleReceiverIsToldAndUnchanged)
{
	SeededRandom rng(16);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(3)), rng, clock);
	KeyWrapper wr;
	std::vector<KeyStore> st;
	for (uint64_t i = 0; i < 6; i++) {
		auto j = srv.join(*srv.layout().from_index(i));
		for (auto &x : st)
			ASSERT_TRUE(deliver(x, j.announcement, wr).ok());
		st.push_back(j.members[0].store());
	}
	// Member 0 misses a join; the next leave tells it so.
	auto j = srv.join(*srv.layout().from_index(6));
	for (size_t i = 1; i < st.size(); i++)
		ASSERT_TRUE(deliver(st[i], j.announcement, wr).ok());
	auto r = srv.leave(*srv.layout().from_index(3));
	ASSERT_TRUE(r.ok);
	size_t before = st[0].size();
	EXPECT_EQ(deliver(st[0], r.message, wr).error, ReceiveError::OutOfDate);
	EXPECT_EQ(st[0].size(), before);
	EXPECT_FALSE(st[0].knows(r.new_tek));
	// Member 1 holds the right TEK but a stale KEK: the key wrap check
	// fails, and it learns nothing.
	KeyStore stale;
	auto tek = st[1].current(KeyId::tek());
	stale.add(KeyId::tek(), *tek);
	for (unsigned s = 0; s < 3; s++) {
		KeyId id = KeyId::kek(0, s, (1 >> s) & 1);
		KeySlot k = *st[1].current(id);
		if (s == 1)
			k.key[0] ^= 1;
		stale.add(id, k);
	}
	EXPECT_EQ(deliver(stale, r.message, wr).error, ReceiveError::Integrity);
	EXPECT_FALSE(stale.knows(r.new_tek));
	EXPECT_EQ(stale.size(), 4u);
	ASSERT_TRUE(deliver(st[1], r.message, wr).ok());
	EXPECT_TRUE(st[1].knows(r.new_tek));
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

TEST(FlatKeyServer, CoalitionOfOneBatchIsAlwaysKeptOut)
{
	// 0b01 and 0b10 together hold every KEK of 0b00 and 0b11 (the whole
	// table). Under either policy the members they cover get TEK' under
	// their individual keys, and the report says so.
	SeededRandom rng(8);
	FakeClock clock;
	for (auto policy : {CollusionPolicy::Resist,
			    CollusionPolicy::AcceptFlagged}) {
		ServerConfig cfg(IdLayout::binary(2));
		cfg.collusion = policy;
		FlatKeyServer srv(cfg, rng, clock);
		KeyWrapper wr;
		std::vector<KeyStore> st;
		for (uint64_t i = 0; i < 4; i++) {
			auto j = srv.join(*srv.layout().from_index(i));
			for (auto &s : st)
				ASSERT_TRUE(deliver(s, j.announcement, wr).ok());
			st.push_back(j.members[0].store());
		}
		auto r = srv.leave_batch({{1, 0}, {0, 1}});
		ASSERT_TRUE(r.ok);
		EXPECT_TRUE(r.collusion.flagged);
		EXPECT_FALSE(r.collusion.residual);
		EXPECT_TRUE(r.collusion.whole_table);
		EXPECT_TRUE(r.full_rekey);
		EXPECT_TRUE(r.resisted);
		EXPECT_EQ(r.collusion.covered_members.size(), 2u);
		EXPECT_EQ(r.unicast, 2u);
		KeyStore coalition = st[1];
		coalition.merge_from(st[2]);
		coalition.apply(r.message, wr);
		for (size_t i : {0, 3}) {
			ASSERT_TRUE(deliver(st[i], r.message, wr).ok());
			EXPECT_TRUE(st[i].knows(r.new_tek));
		}
		EXPECT_FALSE(coalition.knows(r.new_tek));
		// What they held was replaced under a TEK' they lack.
		EXPECT_FALSE(srv.kek_exposed(0, 0, 0) || srv.kek_exposed(0, 1, 1));
		EXPECT_FALSE(srv.tek_exposed());
	}
}

// Members removed at different times: AcceptFlagged keeps the term and
// reports it, Resist avoids it; full_rekey() clears the history.
TEST(FlatKeyServer, CoalitionAcrossTimeIsFlaggedResistedAndCleared)
{
	for (auto policy : {CollusionPolicy::AcceptFlagged,
			    CollusionPolicy::Resist}) {
		SeededRandom rng(17);
		FakeClock clock;
		ServerConfig cfg(IdLayout::binary(3));
		cfg.collusion = policy;
		FlatKeyServer srv(cfg, rng, clock);
		KeyWrapper wr;
		std::map<uint64_t, KeyStore> st;
		auto j = srv.join_batch({{0, 0, 0}, {1, 1, 0}, {0, 0, 1}, {1, 0, 1}});
		for (auto &mk : j.members)
			st.emplace(mk.id[0] | mk.id[1] << 1 | mk.id[2] << 2,
				   mk.store());
		std::vector<KeyMessage> sent;
		auto publish = [&](const KeyMessage &m) {
			sent.push_back(m);
			for (auto &kv : st)
				ASSERT_TRUE(deliver(kv.second, m, wr).ok());
		};
		// 3 = 0b011 leaves: it held KEK (bit 2 = 0), replaced under
		// old / TEK'.
		KeyStore pool = st.at(3);
		st.erase(3);
		auto r1 = srv.leave({1, 1, 0});
		ASSERT_TRUE(r1.ok);
		EXPECT_FALSE(r1.collusion.flagged);
		publish(r1.message);
		// 4 = 0b100 knew TEK' of that leave; together with 3 it rebuilds
		// the new bit-2 = 0 KEK, which 0 = 0b000 still needs... and
		// every other KEK 0 holds is 4's.
		pool.merge_from(st.at(4));
		st.erase(4);
		auto r2 = srv.leave({0, 0, 1});
		ASSERT_TRUE(r2.ok);
		EXPECT_TRUE(r2.collusion.flagged);
		for (auto &m : sent)
			pool.apply(m, wr);
		pool.apply(r2.message, wr);
		if (policy == CollusionPolicy::AcceptFlagged) {
			EXPECT_TRUE(r2.collusion.residual);
			EXPECT_FALSE(r2.resisted);
			EXPECT_TRUE(pool.knows(r2.new_tek)) << "the flag is real";
			EXPECT_TRUE(srv.tek_exposed());
		} else {
			EXPECT_FALSE(r2.collusion.residual);
			EXPECT_TRUE(r2.resisted);
			EXPECT_FALSE(pool.knows(r2.new_tek));
			EXPECT_FALSE(srv.tek_exposed());
		}
		publish(r2.message);
		// The operator clears the history.
		auto f = srv.full_rekey();
		ASSERT_TRUE(f.ok) << f.error;
		EXPECT_TRUE(f.full_rekey);
		EXPECT_EQ(f.unicast, 2u);
		EXPECT_EQ(f.message.wrapped_count(), 2u);
		publish(f.message);
		for (auto &m : sent)
			pool.apply(m, wr);
		EXPECT_FALSE(pool.knows(f.new_tek));
		EXPECT_FALSE(srv.tek_exposed());
		for (unsigned s = 0; s < 3; s++)
			for (unsigned v = 0; v < 2; v++) {
				EXPECT_FALSE(srv.kek_exposed(0, s, v));
				EXPECT_FALSE(pool.knows(srv.kek_ref(0, s, v)));
			}
		for (auto &kv : st) {
			EXPECT_TRUE(kv.second.knows(f.new_tek));
			for (unsigned s = 0; s < 3; s++)
				EXPECT_TRUE(kv.second.knows(
					srv.kek_ref(0, s, (kv.first >> s) & 1)));
		}
		// The next leave is not flagged, and the old coalition with the
		// new leaver learns nothing.
		pool.merge_from(st.at(5));
		st.erase(5);
		auto r3 = srv.leave({1, 0, 1});
		ASSERT_TRUE(r3.ok);
		EXPECT_FALSE(r3.collusion.flagged);
		publish(r3.message);
		for (auto &m : sent)
			pool.apply(m, wr);
		EXPECT_FALSE(pool.knows(r3.new_tek));
		EXPECT_TRUE(st.at(0).knows(r3.new_tek));
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
	EXPECT_FALSE(r.full_rekey);
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
	// Everything every removed member held, with every message applied
	// (explicit versions: the strongest adversary).
	KeyStore removed_union;

	// Members get each message from the wire (compact format).
	void publish(const KeyMessage &m)
	{
		published.push_back(m);
		auto bytes = encode(m);
		ASSERT_FALSE(bytes.empty());
		auto d = decode(ByteView(bytes));
		ASSERT_TRUE(d.ok()) << d.error().message;
		ASSERT_TRUE(d.value().versions_implied);
		for (auto &kv : members) {
			auto r = kv.second.receive(d.value(), wr);
			ASSERT_TRUE(r.ok()) << to_string(r.error);
		}
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
	unsigned kind = g() % 3;
	if (kind == 0)
		extra.push_back({5, 5});
	if (kind == 1)
		return *IdLayout::with_families(r, {{3, 6}, {6, 4}}, nullptr);
	return *IdLayout::create(r, extra, nullptr);
}

size_t capacity(const IdLayout &l)
{
	size_t c = 1;
	for (auto v : l.radix(0))
		c *= v;
	return c;
}

struct SequenceStats {
	size_t flagged = 0, residual = 0, leaves = 0, unicast = 0;
	size_t full_rekeys = 0, exposed_keks = 0, known_keks = 0;
	size_t union_knows_tek = 0;
	size_t family_covers = 0;
};

void check_invariants(Sim &s, const std::string &where, SequenceStats *st)
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
	// What all removed members together know, the server accounts for.
	bool knows = s.removed_union.knows(cur);
	st->union_knows_tek += knows;
	if (s.cfg.collusion == CollusionPolicy::Resist) {
		ASSERT_FALSE(knows)
			<< where << ": removed members together recover the TEK";
	} else if (knows) {
		ASSERT_TRUE(s.srv.tek_exposed())
			<< where << ": removed members recover an unflagged TEK";
	}
	const IdLayout &l = s.srv.layout();
	for (size_t t = 0; t < l.tables(); t++)
		for (size_t sy = 0; sy < l.radix(t).size(); sy++)
			for (unsigned v = 0; v < l.radix(t)[sy]; v++) {
				bool k = s.removed_union.knows(s.srv.kek_ref(t, sy, v));
				bool e = s.srv.kek_exposed(t, sy, v);
				ASSERT_TRUE(!k || e) << where << ": KEK (" << t << ","
						     << sy << "," << v
						     << ") known but not accounted";
				st->known_keks += k;
				st->exposed_keks += e;
			}
}

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
		unsigned op = s.pick() % 20;
		if (op == 19 && !s.members.empty()) {
			auto r = s.srv.full_rekey();
			ASSERT_TRUE(r.ok) << where << r.error;
			ASSERT_EQ(r.unicast, s.members.size());
			s.publish(r.message);
			if (testing::Test::HasFatalFailure())
				return;
			stats->full_rekeys++;
		} else if (s.members.size() < 2 ||
			   (op < 10 && s.members.size() < cap)) {
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
			if (testing::Test::HasFatalFailure())
				return;
			for (auto &mk : j.members) {
				s.members.emplace(mk.id, mk.store());
				s.joined_at[mk.id] = s.srv.current_tek();
			}
		} else {
			size_t k = op < 16 ? 1 : 1 + s.pick() % (s.members.size() - 1);
			std::vector<MemberId> out;
			std::vector<MemberId> all;
			for (auto &kv : s.members)
				all.push_back(kv.first);
			std::shuffle(all.begin(), all.end(), s.pick);
			out.assign(all.begin(), all.begin() + k);
			auto r = s.srv.leave_batch(out);
			ASSERT_TRUE(r.ok) << where << r.error;
			stats->flagged += r.collusion.flagged;
			stats->residual += r.collusion.residual;
			stats->unicast += r.unicast;
			stats->family_covers += r.family_cover;
			stats->leaves++;
			if (policy == CollusionPolicy::Resist) {
				ASSERT_FALSE(r.collusion.residual) << where;
			}
			// The leavers of this operation together, with all they
			// held, never learn TEK', whatever the policy.
			KeyStore batch;
			for (auto &id : out) {
				batch.merge_from(s.members.at(id));
				s.removed_union.merge_from(s.members.at(id));
				s.members.erase(id);
			}
			batch.apply(r.message, s.wr);
			ASSERT_FALSE(batch.knows(r.new_tek))
				<< where << ": the leavers of one batch learn TEK'";
			s.publish(r.message);
			if (testing::Test::HasFatalFailure())
				return;
		}
		// The removed members pool everything they ever held and
		// try every message ever published.
		for (const auto &m : s.published)
			s.removed_union.apply(m, s.wr);
		check_invariants(s, where, stats);
		if (testing::Test::HasFatalFailure())
			return;
	}
}

TEST(FlatKeyProperty, RandomSequencesResistingCollusion)
{
	SequenceStats stats;
	for (uint64_t seed = 1; seed <= 1500; seed++) {
		run_sequence(seed, CollusionPolicy::Resist,
			     seed % 2 ? KekRefresh::Wrap : KekRefresh::Derive,
			     14, &stats);
		if (HasFatalFailure())
			return;
	}
	// The sequences reach the collusion fallback, unicast included.
	EXPECT_GT(stats.leaves, 5000u);
	EXPECT_GT(stats.flagged, 100u);
	EXPECT_GT(stats.unicast, 100u);
	EXPECT_GT(stats.full_rekeys, 200u);
	EXPECT_LT(stats.flagged, stats.leaves);
	EXPECT_EQ(stats.residual, 0u);
	EXPECT_EQ(stats.union_knows_tek, 0u);
	EXPECT_GT(stats.family_covers, 100u);
}

// The default policy: one operation's leavers never learn TEK'; what
// removed members of different operations learn together, the server
// reports (residual) and accounts for (tek_exposed, kek_exposed).
TEST(FlatKeyProperty, RandomSequencesFlaggingCollusionAcrossTime)
{
	SequenceStats stats;
	for (uint64_t seed = 1; seed <= 1500; seed++) {
		run_sequence(seed + 100000, CollusionPolicy::AcceptFlagged,
			     seed % 2 ? KekRefresh::Wrap : KekRefresh::Derive,
			     14, &stats);
		if (HasFatalFailure())
			return;
	}
	EXPECT_GT(stats.leaves, 5000u);
	EXPECT_GT(stats.flagged, 100u);
	EXPECT_GT(stats.residual, 100u);
	EXPECT_GT(stats.unicast, 10u);
	EXPECT_GT(stats.full_rekeys, 200u);
	// The flags are real: the pooled removed members do learn TEKs and
	// KEKs, and the accounting is close to what they learn.
	EXPECT_GT(stats.union_knows_tek, 100u);
	EXPECT_GT(stats.known_keks, 1000u);
	EXPECT_LT(stats.exposed_keks, stats.known_keks + stats.known_keks / 4);
	EXPECT_GT(stats.family_covers, 100u);
}

// One batch from a fresh group: no subset of the removed members learns
// TEK'; the members they cover together get it another way.
TEST(FlatKeyProperty, NoSubsetOfOneBatchLearnsTheTek)
{
	size_t flagged = 0, clean = 0, family = 0;
	for (uint64_t seed = 1; seed <= 800; seed++) {
		std::mt19937_64 g(seed);
		IdLayout l = random_layout(g);
		Sim s(seed, l, CollusionPolicy::AcceptFlagged,
		      KekRefresh::Derive);
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
		ASSERT_FALSE(r.collusion.residual) << "seed " << seed;
		ASSERT_EQ(r.resisted, r.collusion.flagged) << "seed " << seed;
		(r.collusion.flagged ? flagged : clean)++;
		family += r.family_cover;
		for (size_t i = k; i < ids.size(); i++) {
			KeyStore st = keys.at(ids[i]).store();
			ASSERT_TRUE(deliver(st, r.message, s.wr).ok());
			ASSERT_TRUE(st.knows(r.new_tek)) << "seed " << seed;
		}
		for (int trial = 0; trial < 12; trial++) {
			std::vector<MemberId> coal;
			for (auto &id : out)
				if (trial == 0 || g() % 3 == 0)
					coal.push_back(id);
			if (coal.empty())
				continue;
			KeyStore adv;
			for (auto &id : coal)
				adv.merge_from(keys.at(id).store());
			adv.apply(r.message, s.wr);
			ASSERT_FALSE(adv.knows(r.new_tek))
				<< "seed " << seed << " coalition of " << coal.size();
		}
	}
	EXPECT_GT(flagged, 0u);
	EXPECT_GT(clean, 0u);
	EXPECT_GT(family, 50u);
}

// A batch of 64 out of 1024 members with binary IDs: the leavers hold
// nearly every primary KEK, and the family cover reaches every remaining
// member with single KEKs none of them holds, each member from the wire.
TEST(FlatKeyProperty, FamilyCoverOfALargeBatch)
{
	for (KekRefresh kr : {KekRefresh::Derive, KekRefresh::Wrap}) {
		IdLayout l = *IdLayout::with_families(
			std::vector<uint16_t>(10, 2), {{8, 32}, {32, 100}}, nullptr);
		ASSERT_GT(l.member_keks(), FlatKeyServer::kMaxBundleKeks);
		Sim s(77, l, CollusionPolicy::AcceptFlagged, kr);
		std::vector<MemberId> ids;
		for (uint64_t i = 0; i < 1024; i++)
			ids.push_back(*l.from_index(i));
		auto j = s.srv.join_batch(ids);
		ASSERT_TRUE(j.ok);
		std::map<MemberId, KeyStore> st;
		for (auto &mk : j.members)
			st.emplace(mk.id, mk.store());
		std::mt19937_64 g(5);
		std::shuffle(ids.begin(), ids.end(), g);
		const size_t k = 64;
		std::vector<MemberId> out(ids.begin(), ids.begin() + k);
		auto r = s.srv.leave_batch(out);
		ASSERT_TRUE(r.ok) << r.error;
		EXPECT_TRUE(r.family_cover);
		EXPECT_FALSE(r.full_rekey);
		EXPECT_EQ(r.collusion.covered_members.size(), r.unicast);
		// TEK' in at most 8 wraps per leaver (LKH needs about
		// 2·log2(N/k)+1 = 9 per leaver for this batch); unicast 960.
		EXPECT_LT(r.product_terms + r.unicast, 8 * k);
		if (kr == KekRefresh::Derive) {
			EXPECT_EQ(r.message.wrapped_count(),
				  r.product_terms + r.unicast);
		}
		EXPECT_EQ(r.message.leavers.empty(), kr == KekRefresh::Wrap);
		KeyStore coalition;
		for (auto &id : out) {
			coalition.merge_from(st.at(id));
			st.erase(id);
		}
		// every wrap is under one KEK none of the leavers holds
		for (const auto &e : r.message.entries) {
			if (!(e.wrapped.id == KeyId::tek()) || e.is_notice())
				continue;
			ASSERT_EQ(e.wrapping.size(), 1u);
			if (e.wrapping[0].id.kind == KeyKind::Kek) {
				EXPECT_FALSE(coalition.current(e.wrapping[0].id) &&
					     coalition.current(e.wrapping[0].id)->version ==
						     e.wrapping[0].version);
			}
		}
		for (auto &kv : st) {
			ASSERT_TRUE(deliver(kv.second, r.message, s.wr).ok());
			ASSERT_TRUE(kv.second.knows(r.new_tek));
			// every KEK it holds (all tables) is the server's current one
			auto all = l.all_symbols(kv.first);
			for (size_t t = 0, jx = 0; t < l.tables(); t++)
				for (size_t sy = 0; sy < l.radix(t).size(); sy++, jx++) {
					KeyRef ref = s.srv.kek_ref(t, sy, all[jx]);
					ASSERT_TRUE(kv.second.knows(ref));
				}
		}
		coalition.apply(r.message, s.wr);
		EXPECT_FALSE(coalition.knows(r.new_tek));
		EXPECT_EQ(deliver(coalition, r.message, s.wr).error,
			  ReceiveError::Excluded);
		// A full re-key of members holding more KEKs than one bundle
		// takes: two bundles each, every key current afterwards.
		auto f = s.srv.full_rekey();
		ASSERT_TRUE(f.ok) << f.error;
		EXPECT_EQ(f.unicast, st.size());
		EXPECT_EQ(f.message.entries.size(), 2 * st.size());
		for (auto &kv : st) {
			ASSERT_TRUE(deliver(kv.second, f.message, s.wr).ok());
			ASSERT_TRUE(kv.second.knows(f.new_tek));
			auto all = l.all_symbols(kv.first);
			for (size_t t = 0, jx = 0; t < l.tables(); t++)
				for (size_t sy = 0; sy < l.radix(t).size(); sy++, jx++)
					ASSERT_TRUE(kv.second.knows(
						s.srv.kek_ref(t, sy, all[jx])));
		}
	}
}

} // namespace
