// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/base: hex, text helpers, reader and writer, results.
#include <gtest/gtest.h>

#include "groupsec/base/hex.h"
#include "groupsec/base/reader.h"
#include "groupsec/base/result.h"
#include "groupsec/base/secret_bytes.h"
#include "groupsec/base/text.h"
#include "groupsec/base/writer.h"

namespace groupsec {
namespace {

TEST(Hex, EncodesLowerCase)
{
	EXPECT_EQ(to_hex(Bytes{}), "");
	EXPECT_EQ(to_hex(Bytes{0x00, 0x0f, 0xa0, 0xff}), "000fa0ff");
}

TEST(Hex, DecodesEitherCase)
{
	EXPECT_EQ(parse_hex("000fA0fF"), (Bytes{0x00, 0x0f, 0xa0, 0xff}));
}

TEST(Hex, RefusesBadInput)
{
	for (const char *bad : {"", "0", "abc", "0g", " 00", "00 ", "0x00", "-1"})
		EXPECT_FALSE(parse_hex(bad)) << bad;
}

TEST(Hex, RoundTripsEveryByte)
{
	Bytes all;
	for (int i = 0; i < 256; i++)
		all.push_back(static_cast<uint8_t>(i));
	EXPECT_EQ(parse_hex(to_hex(all)), all);
}

TEST(Text, Trim)
{
	EXPECT_EQ(text::trim(" \t a b \t"), "a b");
	EXPECT_EQ(text::trim("   "), "");
}

TEST(Text, QuoteEscapes)
{
	EXPECT_EQ(text::quote("a\"b\\c\x01"), "\"a\\\"b\\\\c\\x01\"");
}

TEST(Text, Decimal)
{
	EXPECT_EQ(text::decimal("0", 5), 0u);
	EXPECT_EQ(text::decimal("5", 5), 5u);
	EXPECT_FALSE(text::decimal("7", 5));
	EXPECT_EQ(text::decimal("18446744073709551615", UINT64_MAX), UINT64_MAX);
	EXPECT_EQ(text::decimal("65535", 65535), 65535u);
	EXPECT_FALSE(text::decimal("65536", 65535));
	EXPECT_FALSE(text::decimal("", 10));
	EXPECT_FALSE(text::decimal("+1", 10));
	EXPECT_FALSE(text::decimal("1 ", 10));
	EXPECT_FALSE(text::decimal("99999999999999999999999", UINT64_MAX));
}

TEST(Text, SplitListKeepsEmptyElements)
{
	auto l = text::split_list(" a , b,,c ");
	ASSERT_EQ(l.size(), 4u);
	EXPECT_EQ(l[0], "a");
	EXPECT_EQ(l[1], "b");
	EXPECT_EQ(l[2], "");
	EXPECT_EQ(l[3], "c");
}

TEST(Text, EqualNocaseAndControl)
{
	EXPECT_TRUE(text::equal_nocase("CN", "cn"));
	EXPECT_FALSE(text::equal_nocase("CN", "C"));
	EXPECT_TRUE(text::has_control(std::string_view("a\0b", 3)));
	EXPECT_TRUE(text::has_control("a\x7f"));
	EXPECT_FALSE(text::has_control("a b"));
}

TEST(Wire, ReaderAndWriterRoundTrip)
{
	Bytes b;
	wire::put_u8(b, 1);
	wire::put_u16(b, 0x0203);
	wire::put_u32(b, 0x04050607);
	wire::put_u64(b, 0x08090a0b0c0d0e0fULL);
	wire::Reader r(b);
	uint8_t a;
	uint16_t c;
	uint32_t d;
	uint64_t e;
	ASSERT_TRUE(r.u8(a) && r.u16(c) && r.u32(d) && r.u64(e));
	EXPECT_EQ(a, 1);
	EXPECT_EQ(c, 0x0203);
	EXPECT_EQ(d, 0x04050607u);
	EXPECT_EQ(e, 0x08090a0b0c0d0e0fULL);
	EXPECT_TRUE(r.done());
}

TEST(Wire, FailedReadConsumesNothing)
{
	Bytes b{1, 2, 3};
	wire::Reader r(b);
	uint32_t v;
	EXPECT_FALSE(r.u32(v));
	EXPECT_EQ(r.position(), 0u);
	ByteView view;
	EXPECT_FALSE(r.view(4, view));
	EXPECT_EQ(r.remaining(), 3u);
}

TEST(Result, CarriesValueOrError)
{
	Result<int> ok(5);
	ASSERT_TRUE(ok.ok());
	EXPECT_EQ(ok.value(), 5);
	Result<int> bad = wire::truncated("thing");
	ASSERT_FALSE(bad.ok());
	EXPECT_EQ(bad.error().code, WireError::Truncated);
	EXPECT_EQ(bad.error().message, "thing: truncated");
	EXPECT_STREQ(wire_error_name(WireError::Truncated), "TRUNCATED");
}

TEST(SecretBytes, WipeEmpties)
{
	SecretBytes s{1, 2, 3};
	s.wipe();
	EXPECT_TRUE(s.empty());
}

} // namespace
} // namespace groupsec
