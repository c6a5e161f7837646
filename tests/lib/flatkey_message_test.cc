// Rekey message codec: round trips, and every malformed input rejected with
// an error value.
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/flatkey/key_message.h"
#include "flatkey_test_util.h"

#include <gtest/gtest.h>

using namespace groupsec::flatkey;
using groupsec::flatkey::test::FakeClock;
using groupsec::flatkey::test::SeededRandom;

namespace {

KeyMessage sample_message()
{
	SeededRandom rng(11);
	FakeClock clock;
	FlatKeyServer srv(ServerConfig(IdLayout::binary(4)), rng, clock);
	for (uint64_t i = 0; i < 16; i++)
		srv.join(*srv.layout().from_index(i));
	auto r = srv.leave_batch({{1, 0, 0, 1}, {0, 1, 0, 1}, {1, 1, 1, 0}});
	KeyMessage m = r.message;
	WrappedKey notice;
	notice.wrapped = srv.current_tek();
	notice.wrapped.revision = 3;
	m.entries.push_back(notice);
	WrappedKey uni;
	uni.wrapping.push_back(KeyRef{KeyId::member_key(77), 1, 0, 0});
	uni.wrapped = srv.current_tek();
	uni.ciphertext.assign(40, 0xab);
	m.entries.push_back(uni);
	return m;
}

TEST(FlatKeyMessage, RoundTrip)
{
	KeyMessage m = sample_message();
	ASSERT_GT(m.entries.size(), 6u);
	auto bytes = encode(m);
	EXPECT_EQ(bytes.size(), encoded_size(m));
	auto d = decode(bytes.data(), bytes.size());
	ASSERT_TRUE(d.ok()) << to_string(d.error);
	EXPECT_TRUE(d.message == m);
	EXPECT_EQ(d.message.wrapped_count(), m.wrapped_count());
}

TEST(FlatKeyMessage, EveryTruncationIsRejected)
{
	auto bytes = encode(sample_message());
	for (size_t n = 0; n < bytes.size(); n++) {
		auto d = decode(bytes.data(), n);
		EXPECT_FALSE(d.ok()) << n;
		EXPECT_TRUE(d.message.entries.empty());
	}
	bytes.push_back(0);
	EXPECT_EQ(decode(bytes.data(), bytes.size()).error,
		  DecodeError::kTrailingBytes);
	EXPECT_EQ(decode(nullptr, 5).error, DecodeError::kTruncated);
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
	ASSERT_TRUE(decode(good.data(), good.size()).ok());

	auto bad = good;
	bad[0] = 2;
	EXPECT_EQ(decode(bad.data(), bad.size()).error, DecodeError::kBadVersion);
	bad = good;
	bad[6] = 9; // kind of the wrapping key
	EXPECT_EQ(decode(bad.data(), bad.size()).error, DecodeError::kBadKind);
	bad = good;
	bad[5] = static_cast<uint8_t>(kMaxWrapping + 1);
	EXPECT_EQ(decode(bad.data(), bad.size()).error, DecodeError::kTooMany);
	bad = good;
	bad[4] = 0xff; // 255 entries in a 70-byte message
	EXPECT_EQ(decode(bad.data(), bad.size()).error, DecodeError::kTruncated);
	bad = good;
	bad[1] = 0x7f; // beyond kMaxEntries
	EXPECT_EQ(decode(bad.data(), bad.size()).error, DecodeError::kTooMany);
	// ciphertext length 20: not whole 64-bit blocks
	bad = good;
	size_t len_at = good.size() - 40 - 2;
	bad[len_at + 1] = 20;
	EXPECT_EQ(decode(bad.data(), bad.size()).error,
		  DecodeError::kBadCiphertextLength);
	// a notice (no wrapping key) must carry no ciphertext
	KeyMessage n;
	WrappedKey ne;
	ne.wrapped = KeyRef{KeyId::tek(), 3, 1, 0};
	ne.ciphertext.assign(40, 1);
	n.entries.push_back(ne);
	auto nb = encode(n);
	EXPECT_EQ(decode(nb.data(), nb.size()).error, DecodeError::kBadEntry);
	// a key wrapped under itself
	KeyMessage s;
	WrappedKey se;
	se.wrapping.push_back(KeyRef{KeyId::tek(), 3, 0, 0});
	se.wrapped = KeyRef{KeyId::tek(), 3, 0, 0};
	se.ciphertext.assign(40, 1);
	s.entries.push_back(se);
	auto sb = encode(s);
	EXPECT_EQ(decode(sb.data(), sb.size()).error, DecodeError::kBadEntry);
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
