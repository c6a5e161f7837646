// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/ident: identities, DNs and group IDs; what identity_text()
// writes parse_identity() reads back to the same identity.
#include <gtest/gtest.h>

#include "groupsec/base/hex.h"
#include "groupsec/ident/dn.h"
#include "groupsec/ident/identity.h"

namespace groupsec::ident {
namespace {

Identity id(IdType t, std::string s)
{
	return make_identity(t, Bytes(s.begin(), s.end()));
}

TEST(Identity, ParsesSwanctlNotation)
{
	EXPECT_EQ(parse_identity("192.0.2.1").value(), make_identity(IdType::Ipv4Addr, Bytes{192, 0, 2, 1}));
	EXPECT_EQ(parse_identity("gm1.example.net").value(), id(IdType::Fqdn, "gm1.example.net"));
	EXPECT_EQ(parse_identity("@gm1").value(), id(IdType::Fqdn, "gm1"));
	EXPECT_EQ(parse_identity("user@example.net").value(), id(IdType::Rfc822Addr, "user@example.net"));
	EXPECT_EQ(parse_identity("@@user").value(), id(IdType::Rfc822Addr, "user"));
	EXPECT_EQ(parse_identity("@#0A0b").value(), make_identity(IdType::KeyId, Bytes{10, 11}));
	EXPECT_EQ(parse_identity("keyid:#0a0b").value(), make_identity(IdType::KeyId, Bytes{10, 11}));
	EXPECT_EQ(parse_identity("keyid:abc").value(), id(IdType::KeyId, "abc"));
	EXPECT_EQ(parse_identity("FQDN:10.0.0.1").value(), id(IdType::Fqdn, "10.0.0.1"));
	EXPECT_EQ(parse_identity("email:x").value(), id(IdType::Rfc822Addr, "x"));
	EXPECT_EQ(parse_identity("ipv6:::1").value().data.size(), 16u);
	EXPECT_EQ(parse_identity("  spaced.example  ").value(), id(IdType::Fqdn, "spaced.example"));
}

TEST(Identity, ReasonsForRefusal)
{
	struct Case {
		const char *in;
		const char *why;
	} cases[] = {
		{"", "empty"},
		{"  ", "empty"},
		{"a\x01", "control character"},
		{"ipv4:::1", "not an IPv4 address"},
		{"ipv6:10.0.0.1", "not an IPv6 address"},
		{"@#abc", "key ID \"@#\" needs an even number of hex digits"},
		{"keyid:#zz", "key ID \"#\" needs an even number of hex digits"},
		{"@", "empty"},
		{"@@", "empty"},
		{"fqdn:", "empty"},
		{"C=CH, XX=y", "distinguished name: unknown attribute \"XX\""},
		{"C=CH,,CN=a", "distinguished name: empty attribute"},
	};
	for (const auto &c : cases) {
		auto r = parse_identity(c.in);
		ASSERT_FALSE(r.ok()) << c.in;
		EXPECT_EQ(r.error().message, c.why) << c.in;
	}
	EXPECT_FALSE(Identity::parse(""));
}

TEST(Identity, TextRoundTrips)
{
	for (const char *s : {"192.0.2.1", "2001:db8::1", "gm1.example.net", "@gm1", "@10.0.0.1", "@a=b",
			      "user@example.net", "@#0a0b0c", "C=CH, O=Example, CN=gm1"}) {
		auto parsed = parse_identity(s);
		ASSERT_TRUE(parsed.ok()) << s;
		EXPECT_EQ(identity_text(parsed.value()), s);
		EXPECT_EQ(parsed.value().str(), s);
		auto again = parse_identity(identity_text(parsed.value()));
		ASSERT_TRUE(again.ok()) << s;
		EXPECT_EQ(again.value(), parsed.value()) << s;
	}
}

TEST(Identity, TextOfOctetsWithoutNotation)
{
	EXPECT_EQ(identity_text(make_identity(IdType::Fqdn, Bytes{0x01, 0xff})), "fqdn:#01ff");
	EXPECT_EQ(identity_text(make_identity(IdType::Rfc822Addr, Bytes{0x00})), "email:#00");
	EXPECT_EQ(identity_text(make_identity(IdType::DerAsn1Dn, Bytes{0x30, 0x01})), "asn1dn:#3001");
	EXPECT_EQ(identity_text(make_identity(IdType::Ipv4Addr, Bytes{1, 2})), "#1:0102");
	EXPECT_EQ(identity_text(make_identity(IdType::DerAsn1Gn, Bytes{0xab})), "#10:ab");
}

TEST(Identity, Ordering)
{
	Identity a = id(IdType::Fqdn, "a"), b = id(IdType::Fqdn, "b"), k = make_identity(IdType::KeyId, Bytes{0});
	EXPECT_TRUE(a < b);
	EXPECT_TRUE(b < k);
	EXPECT_TRUE(a != b);
}

TEST(Dn, EncodesAsStrongswan)
{
	// PrintableString for plain values, UTF8String otherwise, IA5String
	// for e-mail; one attribute per RDN
	auto dn = encode_dn("C=CH, CN=gm1");
	ASSERT_TRUE(dn.ok());
	EXPECT_EQ(to_hex(dn.value()), "301b310b3009060355040613024348310c300a06035504031303676d31");
	auto slash = encode_dn("/C=CH/CN=gm1");
	ASSERT_TRUE(slash.ok());
	EXPECT_EQ(slash.value(), dn.value());
	auto utf8 = encode_dn("CN=a_b");
	ASSERT_TRUE(utf8.ok());
	EXPECT_EQ(utf8.value()[11], 0x0c);
	auto mail = encode_dn("E=a@b");
	ASSERT_TRUE(mail.ok());
	EXPECT_EQ(mail.value()[17], 0x16);
}

TEST(Dn, TextRoundTrips)
{
	for (const char *s : {"C=CH, O=Example, CN=gm1", "CN=a_b", "DC=net, DC=example, UID=x"}) {
		auto dn = encode_dn(s);
		ASSERT_TRUE(dn.ok()) << s;
		auto text = dn_text(dn.value());
		ASSERT_TRUE(text) << s;
		EXPECT_EQ(*text, s);
	}
	auto dn = encode_dn("CN=x").value();
	dn.push_back(0);
	EXPECT_FALSE(dn_text(dn));
	EXPECT_FALSE(dn_text(Bytes{}));
}

TEST(GroupId, NumbersAreFourOctetKeyIds)
{
	EXPECT_EQ(parse_group_id("1234").value(), make_identity(IdType::KeyId, Bytes{0, 0, 4, 210}));
	EXPECT_EQ(parse_group_id("4294967295").value(), make_identity(IdType::KeyId, Bytes{255, 255, 255, 255}));
	EXPECT_EQ(parse_group_id("blue.example").value(), id(IdType::Fqdn, "blue.example"));
	EXPECT_EQ(parse_group_id("4294967296").error().message,
		  "\"4294967296\" is not a group ID (numbers go up to 4294967295)");
	EXPECT_EQ(parse_group_id("@#1").error().message,
		  "\"@#1\" is not a group ID (key ID \"@#\" needs an even number of hex digits)");
}

} // namespace
} // namespace groupsec::ident
