// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_community.h"

#include <gtest/gtest.h>

#include "groupsec/base/hex.h"

using namespace groupsec;
using namespace groupsec::bgp;

TEST(GroupTag, EncodesATwoOctetAsRouteTarget)
{
	auto c = encode_group_tag(GroupTag{65000, 300});
	EXPECT_EQ(to_hex(ByteView(c.data(), c.size())), "0002fde80000012c");
	auto t = decode_group_tag(ByteView(c.data(), c.size()));
	ASSERT_TRUE(t.ok());
	EXPECT_EQ(t.value().asn, 65000);
	EXPECT_EQ(t.value().group, 300u);
	auto big = encode_group_tag(GroupTag{65535, 0xffffffffu});
	EXPECT_EQ(to_hex(ByteView(big.data(), big.size())), "0002ffffffffffff");
}

TEST(GroupTag, RefusesOtherCommunities)
{
	// IPv4-address-specific RT, RT of a four-octet AS, a two-octet-AS
	// Route Origin, a non-transitive two-octet AS type
	for (const char *h : {"0102c000020b012c", "0202000000010001", "0003fde80000012c", "4002fde80000012c"}) {
		Bytes b = *parse_hex(h);
		auto t = decode_group_tag(b);
		ASSERT_FALSE(t.ok()) << h;
		EXPECT_EQ(t.error().code, WireError::BadValue) << h;
		EXPECT_NE(t.error().message.find("is not a two-octet-AS Route Target"), std::string::npos);
	}
	Bytes seven = *parse_hex("0002fde8000001");
	EXPECT_EQ(decode_group_tag(seven).error().code, WireError::BadLength);
	EXPECT_EQ(decode_group_tag(ByteView()).error().code, WireError::BadLength);
}

TEST(GroupTag, TextRoundTrips)
{
	EXPECT_EQ(group_tag_text(GroupTag{65000, 300}), "RT:65000:300");
	for (const char *s : {"65000:300", "RT:65000:300", "rt:65000:300"}) {
		auto t = parse_group_tag(s);
		ASSERT_TRUE(t.ok()) << s;
		EXPECT_TRUE(t.value() == (GroupTag{65000, 300})) << s;
	}
	auto edge = parse_group_tag("0:4294967295");
	ASSERT_TRUE(edge.ok());
	EXPECT_EQ(edge.value().group, 0xffffffffu);
	for (const char *s : {"", "65000", "65536:1", "1:4294967296", "-1:2", "1:+2", " 1:2", "1:2 ", "RT:", "a:b",
			      "1::2", "0x10:1"}) {
		auto t = parse_group_tag(s);
		EXPECT_FALSE(t.ok()) << s;
	}
	EXPECT_EQ(parse_group_tag("65536:1").error().message,
		  "group tag \"65536:1\": the AS is not a number from 0 to 65535");
}

TEST(GroupTag, GroupNumbersAreFourOctetKeyIds)
{
	EXPECT_EQ(parse_group_number("300").value(), 300u);
	EXPECT_EQ(parse_group_number("@#0000012c").value(), 300u);
	EXPECT_EQ(parse_group_number("keyid:#ffffffff").value(), 0xffffffffu);
	for (const char *s : {"blue.example.net", "192.0.2.1", "@#012c", "@#000000012c", "", "4294967296"}) {
		auto n = parse_group_number(s);
		EXPECT_FALSE(n.ok()) << s;
	}
	EXPECT_NE(parse_group_number("192.0.2.1").error().message.find("a group tag carries only those"),
		  std::string::npos);
}
