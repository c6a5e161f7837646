// SPDX-License-Identifier: GPL-2.0-or-later
// Rekey message codec: round trips, and every malformed input rejected with
// an error value.
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/flatkey/key_message.h"
#include "flatkey_test_util.h"

#include <gtest/gtest.h>

#include <map>

using namespace groupsec::flatkey;
using groupsec::flatkey::test::FakeClock;
using groupsec::flatkey::test::SeededRandom;

namespace {

using groupsec::ByteView;
using groupsec::Result;

// "TRUNCATED: truncated" for an error, "ok" for a message.
std::string why(const Result<KeyMessage> &r)
{
	if (r.ok())
		return "ok";
	return std::string(groupsec::wire_error_name(r.error().code)) + ": " + r.error().message;
}

// A batch leave of the server (compact format) plus a member-key wrap.
KeyMessage sample_message()
{
	SeededRandom rng(11);
	FakeClock clock;
	ServerConfig cfg(IdLayout::binary(4));
	cfg.refresh = KekRefresh::Wrap;
	FlatKeyServer srv(cfg, rng, clock);
	for (uint64_t i = 0; i < 16; i++)
		srv.join(*srv.layout().from_index(i));
	auto r = srv.leave_batch({{1, 0, 0, 1}, {0, 1, 0, 1}, {1, 1, 1, 0}});
	KeyMessage m = r.message;
	WrappedKey uni;
	uni.wrapping.push_back(KeyRef{KeyId::member_key(77), 1, 0, 0});
	uni.wrapped = srv.current_tek();
	uni.ciphertext.assign(40, 0xab);
	m.entries.push_back(uni);
	return m;
}

// The same message in format 1, with a revision notice.
KeyMessage sample_v1()
{
	KeyMessage m = sample_message();
	m.format = kMessageFormat;
	WrappedKey notice;
	notice.wrapped = m.tek;
	notice.wrapped.revision = 3;
	m.entries.push_back(notice);
	return m;
}

TEST(FlatKeyMessage, RoundTrip)
{
	KeyMessage m = sample_v1();
	ASSERT_GT(m.entries.size(), 6u);
	auto bytes = encode(m);
	EXPECT_EQ(bytes.size(), encoded_size(m));
	auto d = decode(ByteView(bytes.data(), bytes.size()));
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_FALSE(d.value().versions_implied);
	EXPECT_TRUE(d.value() == m);
	EXPECT_EQ(d.value().wrapped_count(), m.wrapped_count());
}

TEST(FlatKeyMessage, CompactRoundTripNamesNoVersions)
{
	KeyMessage m = sample_message();
	ASSERT_EQ(m.format, kCompactFormat);
	auto bytes = encode(m);
	ASSERT_FALSE(bytes.empty());
	EXPECT_EQ(bytes.size(), encoded_size(m));
	auto d = decode(ByteView(bytes.data(), bytes.size()));
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_TRUE(d.value().versions_implied);
	EXPECT_TRUE(d.value().base == m.base);
	EXPECT_TRUE(d.value().tek == m.tek);
	ASSERT_EQ(d.value().entries.size(), m.entries.size());
	for (size_t i = 0; i < m.entries.size(); i++) {
		const auto &a = m.entries[i], &b = d.value().entries[i];
		ASSERT_EQ(a.wrapping.size(), b.wrapping.size()) << i;
		for (size_t j = 0; j < a.wrapping.size(); j++) {
			EXPECT_EQ(a.wrapping[j].id, b.wrapping[j].id);
			// the version is not on the wire, except TEK'
			if (b.wrapping[j].id.kind != KeyKind::Tek) {
				EXPECT_EQ(b.wrapping[j].version, 0u);
			}
		}
		EXPECT_EQ(a.wrapped.id, b.wrapped.id);
		EXPECT_EQ(a.ciphertext, b.ciphertext);
	}
	EXPECT_EQ(encode(d.value()), bytes);
	// Much smaller than format 1.
	KeyMessage v1 = m;
	v1.format = kMessageFormat;
	EXPECT_LT(3 * bytes.size(), 2 * encoded_size(v1));
}

TEST(FlatKeyMessage, CompactTermsSharePrefixes)
{
	KeyMessage m;
	m.format = kCompactFormat;
	m.base = KeyRef{KeyId::tek(), 4, 2, 0};
	m.tek = KeyRef{KeyId::tek(), 5, 0, 0};
	WrappedKey a;
	a.wrapping = {KeyRef{KeyId::kek(0, 3, 1), 1, 0, 0},
		      KeyRef{KeyId::kek(0, 1, 0), 2, 0, 0},
		      KeyRef{KeyId::kek(0, 0, 1), 1, 4, 0}};
	a.wrapped = m.tek;
	a.ciphertext.assign(40, 1);
	WrappedKey b = a;
	b.wrapping[2] = KeyRef{KeyId::kek(0, 2, 1), 1, 0, 0};
	m.entries = {a, b};
	auto bytes = encode(m);
	// header 21, first term 4 + 3*2 + 40, second keeps 2: 4 + 2 + 40
	EXPECT_EQ(bytes.size(), 21u + 50 + 46);
	auto d = decode(ByteView(bytes.data(), bytes.size()));
	ASSERT_TRUE(d.ok()) << d.error().message;
	ASSERT_EQ(d.value().entries.size(), 2u);
	ASSERT_EQ(d.value().entries[1].wrapping.size(), 3u);
	EXPECT_EQ(d.value().entries[1].wrapping[0].id, KeyId::kek(0, 3, 1));
	EXPECT_EQ(d.value().entries[1].wrapping[2].id, KeyId::kek(0, 2, 1));
	// Not representable: a term over two tables, a repeated symbol, a
	// TEK step of two versions.
	KeyMessage bad = m;
	bad.entries[0].wrapping[1].id.table = 1;
	EXPECT_FALSE(encodable(bad));
	EXPECT_TRUE(encode(bad).empty());
	bad = m;
	bad.entries[0].wrapping[1].id.symbol = 3;
	EXPECT_FALSE(encodable(bad));
	bad = m;
	bad.tek.version = 6;
	EXPECT_FALSE(encodable(bad));
	// format 1 has no bundles
	KeyMessage v1 = m;
	v1.format = kMessageFormat;
	v1.entries[0].carried.push_back(KeyRef{KeyId::kek(0, 0, 0), 1, 0, 0});
	EXPECT_TRUE(encode(v1).empty());
}

TEST(FlatKeyMessage, EveryTruncationIsRejected)
{
	for (const KeyMessage &m : {sample_v1(), sample_message()}) {
		auto bytes = encode(m);
		ASSERT_FALSE(bytes.empty());
		for (size_t n = 0; n < bytes.size(); n++) {
			auto d = decode(ByteView(bytes.data(), n));
			EXPECT_FALSE(d.ok()) << n;
		}
		bytes.push_back(0);
		EXPECT_EQ(why(decode(ByteView(bytes.data(), bytes.size()))), "TRAILING_BYTES: trailing bytes");
	}
	EXPECT_EQ(why(decode(ByteView())), "TRUNCATED: truncated");
}

TEST(FlatKeyMessage, MalformedCompactFieldsAreRejected)
{
	KeyMessage m;
	m.format = kCompactFormat;
	m.base = KeyRef{KeyId::tek(), 4, 2, 0};
	m.tek = KeyRef{KeyId::tek(), 5, 0, 0};
	WrappedKey t;
	t.wrapping = {KeyRef{KeyId::kek(0, 3, 1), 1, 0, 0}};
	t.wrapped = m.tek;
	t.ciphertext.assign(40, 1);
	m.entries = {t};
	auto good = encode(m);
	ASSERT_EQ(good.size(), 21u + 46);
	ASSERT_TRUE(decode(ByteView(good.data(), good.size())).ok());
	auto bad = good;
	bad[16] = 1; // TEK' revision 1 with a new version
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: TEK step neither one revision nor one version");
	bad = good;
	bad[21] = 9; // unknown entry tag
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: unknown key kind");
	bad = good;
	bad[21] = 4; // a revision notice in a new-version message
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: inconsistent entry");
	bad = good;
	bad[23] = 1; // keeps a literal of a previous term there is none of
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: inconsistent entry");
	bad = good;
	bad[24] = 0; // no literal at all
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: inconsistent entry");
	bad = good;
	bad[24] = 65;
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_LENGTH: too many entries or wrapping keys");
	bad = good;
	bad[20] = 0xff; // 255 entries in 67 bytes
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "TRUNCATED: truncated");
	// a bundle whose ciphertext length does not match its keys
	KeyMessage b = m;
	WrappedKey bu;
	bu.wrapping = {KeyRef{KeyId::member_key(3), 1, 0, 0}};
	bu.wrapped = m.tek;
	bu.carried = {KeyRef{KeyId::kek(0, 0, 1), 2, 0, 0},
		      KeyRef{KeyId::kek(0, 1, 0), 2, 0, 0}};
	bu.ciphertext.assign(8 + 3 * 32, 7);
	b.entries = {bu};
	auto bb = encode(b);
	ASSERT_FALSE(bb.empty());
	ASSERT_TRUE(decode(ByteView(bb.data(), bb.size())).ok());
	auto bx = bb;
	bx[21 + 5 + 1 + 6 + 1] = 0x60; // ctlen 96
	EXPECT_EQ(why(decode(ByteView(bx.data(), bx.size()))), "BAD_LENGTH: bad wrapped key length");
	bx = bb;
	bx[21 + 5 + 1 + 3 + 1] = 0; // the same KEK twice
	bx[21 + 5 + 1 + 3 + 2] = 1;
	EXPECT_EQ(why(decode(ByteView(bx.data(), bx.size()))), "BAD_VALUE: inconsistent entry");
}

TEST(FlatKeyMessage, MalformedFieldsAreRejected)
{
	KeyMessage m;
	WrappedKey e;
	e.wrapping.push_back(KeyRef{KeyId::kek(0, 1, 1), 2, 0, 0});
	e.wrapped = KeyRef{KeyId::tek(), 3, 0, 0};
	e.ciphertext.assign(40, 1);
	m.entries.push_back(e);
	auto good = encode(m);
	ASSERT_TRUE(decode(ByteView(good.data(), good.size())).ok());

	auto bad = good;
	bad[0] = 3;
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VERSION: unknown message format");
	bad = good;
	bad[6] = 9; // kind of the wrapping key
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_VALUE: unknown key kind");
	bad = good;
	bad[5] = static_cast<uint8_t>(kMaxWrapping + 1);
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_LENGTH: too many entries or wrapping keys");
	bad = good;
	bad[4] = 0xff; // 255 entries in a 70-byte message
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "TRUNCATED: truncated");
	bad = good;
	bad[1] = 0x7f; // beyond kMaxEntries
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_LENGTH: too many entries or wrapping keys");
	// ciphertext length 20: not whole 64-bit blocks
	bad = good;
	size_t len_at = good.size() - 40 - 2;
	bad[len_at + 1] = 20;
	EXPECT_EQ(why(decode(ByteView(bad.data(), bad.size()))), "BAD_LENGTH: bad wrapped key length");
	// a notice (no wrapping key) must carry no ciphertext
	KeyMessage n;
	WrappedKey ne;
	ne.wrapped = KeyRef{KeyId::tek(), 3, 1, 0};
	ne.ciphertext.assign(40, 1);
	n.entries.push_back(ne);
	auto nb = encode(n);
	EXPECT_EQ(why(decode(ByteView(nb.data(), nb.size()))), "BAD_VALUE: inconsistent entry");
	// a key wrapped under itself
	KeyMessage s;
	WrappedKey se;
	se.wrapping.push_back(KeyRef{KeyId::tek(), 3, 0, 0});
	se.wrapped = KeyRef{KeyId::tek(), 3, 0, 0};
	se.ciphertext.assign(40, 1);
	s.entries.push_back(se);
	auto sb = encode(s);
	EXPECT_EQ(why(decode(ByteView(sb.data(), sb.size()))), "BAD_VALUE: inconsistent entry");
}

TEST(FlatKeyMessage, GarbageCiphertextTeachesNothing)
{
	SeededRandom rng(12);
	KeyStore st;
	Key kek = rng.key();
	st.add(KeyId::kek(0, 0, 0), KeySlot{kek, 1, 0, 0});
	KeyMessage m;
	WrappedKey e;
	e.wrapping.push_back(KeyRef{KeyId::kek(0, 0, 0), 1, 0, 0});
	e.wrapped = KeyRef{KeyId::tek(), 2, 0, 0};
	e.ciphertext.assign(40, 0x5a);
	m.entries.push_back(e);
	KeyWrapper w;
	EXPECT_EQ(st.apply(m, w), 0u);
	EXPECT_FALSE(st.knows(e.wrapped));
	EXPECT_EQ(st.size(), 1u);
}

} // namespace

namespace {

// A single leave with derived replacement: TEK' wraps and a leaver notice
// over a primary table and two families.
KeyMessage notice_message()
{
	SeededRandom rng(3);
	FakeClock clock;
	IdLayout l = *IdLayout::with_families(std::vector<uint16_t>(6, 2),
					      {{4, 5}, {8, 300}}, nullptr);
	FlatKeyServer srv(ServerConfig(l), rng, clock);
	for (uint64_t i = 0; i < 40; i++)
		srv.join(*l.from_index(i));
	return srv.leave_batch({*l.from_index(9), *l.from_index(33)}).message;
}

} // namespace

TEST(FlatKeyMessage, LeaverNoticeRoundTripsAndIsStrict)
{
	KeyMessage m = notice_message();
	ASSERT_EQ(m.leavers.ids.size(), 2u);
	ASSERT_EQ(m.leavers.radix.size(), 4u); // primary, 5 symbols, 2 x 150
	auto b = encode(m);
	ASSERT_FALSE(b.empty());
	auto d = decode(ByteView(b.data(), b.size()));
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().leavers.ids, m.leavers.ids);
	EXPECT_EQ(d.value().leavers.radix, m.leavers.radix);
	EXPECT_EQ(encode(d.value()), b);
	// notice: tag, 4 tables, 1 run each, count 2, 1-byte indices
	const size_t notice = 1 + 1 + 4 * 3 + 4 + 2;
	const size_t at = b.size() - notice;
	EXPECT_EQ(b[at], 6);
	auto bad = [&](std::vector<uint8_t> x, const char *want) { EXPECT_EQ(why(decode(x)), want); };
	// IDs out of order, repeated, or beyond the ID space
	auto x = b;
	std::swap(x[b.size() - 1], x[b.size() - 2]);
	bad(x, "BAD_VALUE: inconsistent entry");
	x = b;
	x[b.size() - 2] = x[b.size() - 1];
	bad(x, "BAD_VALUE: inconsistent entry");
	x = b;
	x[b.size() - 1] = 64; // 6 binary symbols: indices 0..63
	bad(x, "BAD_VALUE: inconsistent entry");
	// zero tables, zero runs, V = 1, zero count
	x = b;
	x[at + 1] = 0;
	bad(x, "BAD_VALUE: inconsistent entry");
	x = b;
	x[at + 2] = 0;
	bad(x, "BAD_VALUE: inconsistent entry");
	x = b;
	x[at + 4] = 0;
	bad(x, "BAD_VALUE: inconsistent entry");
	x = b;
	x[at + 14 + 3] = 0;
	bad(x, "BAD_VALUE: inconsistent entry");
	// not the last entry: one entry more announced, nothing after it
	x = b;
	x[20]++;
	bad(x, "BAD_VALUE: inconsistent entry");
	// trailing byte
	x = b;
	x.push_back(0);
	bad(x, "TRAILING_BYTES: trailing bytes");
	// format 1 cannot carry a notice
	KeyMessage v1 = m;
	v1.format = kMessageFormat;
	EXPECT_TRUE(encode(v1).empty());
	// every truncation
	for (size_t n = 0; n < b.size(); n++)
		EXPECT_FALSE(decode(ByteView(b.data(), n)).ok()) << n;
}

// Join announcements between two leaves fold into one message per
// kMaxRevisionStep joins, each naming the newest revision of the keys it
// announces; a member that joined first follows them all and opens the
// leave after them.
TEST(FlatKeyMessage, JoinAnnouncementsFoldByTheTable)
{
	SeededRandom rng(5);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(14)), rng, clock);
	const uint64_t joins = 2 * kMaxRevisionStep + 808;
	std::vector<KeyMessage> pending;
	std::map<uint64_t, KeyStore> kept;
	for (uint64_t i = 0; i < joins; i++) {
		auto j = srv.join(*srv.layout().from_index(i));
		ASSERT_TRUE(j.ok) << j.error;
		ASSERT_TRUE(fold_notices(pending, j.announcement));
		if (i == 0 || i + 1 == kMaxRevisionStep || i == kMaxRevisionStep || i + 1 == joins)
			kept[i] = j.members[0].store();
	}
	ASSERT_EQ(pending.size(), 3u) << "one message per 4096 joins, not per join";
	for (const KeyMessage &m : pending) {
		EXPECT_LE(m.entries.size(), 1u + 2 * 14) << "the TEK and KEKs at most once each";
		EXPECT_LT(encode(m).size(), 1024u);
	}
	// a leave after the joins; every kept member opens it after the
	// announcements, decoded from the wire like a member does
	auto leave = srv.leave(*srv.layout().from_index(joins / 2));
	ASSERT_TRUE(leave.ok) << leave.error;
	std::vector<uint8_t> leave_bytes = encode(leave.message);
	ASSERT_FALSE(leave_bytes.empty());
	KeyWrapper wrapper;
	for (auto &[index, store] : kept) {
		for (const KeyMessage &m : pending) {
			auto bytes = encode(m);
			auto d = decode(ByteView(bytes.data(), bytes.size()));
			ASSERT_TRUE(d.ok()) << d.error().message;
			EXPECT_TRUE(store.receive(d.value(), wrapper).ok());
		}
		auto tek = store.current(KeyId::tek());
		ASSERT_TRUE(tek.has_value());
		EXPECT_EQ(tek->revision, leave.message.base.revision) << "member " << index;
		auto d = decode(ByteView(leave_bytes.data(), leave_bytes.size()));
		ASSERT_TRUE(d.ok());
		auto r = store.receive(d.value(), wrapper);
		EXPECT_TRUE(r.ok()) << "member " << index << ": " << to_string(r.error);
		auto now = store.current(KeyId::tek());
		ASSERT_TRUE(now.has_value());
		EXPECT_EQ(now->key, *srv.tek_for(leave.new_tek.version, leave.new_tek.revision)) << "member " << index;
	}
}

TEST(FlatKeyMessage, OnlyJoinAnnouncementsFold)
{
	SeededRandom rng(6);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(4)), rng, clock);
	std::vector<KeyMessage> pending;
	for (uint64_t i = 0; i < 4; i++)
		ASSERT_TRUE(fold_notices(pending, srv.join(*srv.layout().from_index(i)).announcement));
	ASSERT_EQ(pending.size(), 1u);
	const std::vector<KeyMessage> before = pending;
	auto leave = srv.leave(*srv.layout().from_index(1));
	ASSERT_TRUE(leave.ok);
	EXPECT_FALSE(fold_notices(pending, leave.message)) << "a leave is no announcement";
	EXPECT_FALSE(fold_notices(pending, KeyMessage())) << "nor is an empty message";
	ASSERT_EQ(pending.size(), before.size());
	EXPECT_TRUE(pending[0] == before[0]);
}

