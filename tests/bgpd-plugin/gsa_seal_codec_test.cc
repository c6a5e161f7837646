// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_seal_codec.h"

#include <gtest/gtest.h>

#include "gsa_seal_test_util.h"

using namespace groupsec;
using namespace groupsec::bgp;
using namespace groupsec::bgp::test;

namespace {

SealedRoutes example_routes()
{
	SealedRoutes r;
	r.gateway = ip("192.0.2.11");
	r.prefixes = {prefix("10.1.0.0/16"), prefix("2001:db8:1::/48")};
	return r;
}

// The blob of docs/bgp-gsa.md's example, computed independently (Python
// cryptography's AESGCM): key 00 01 .. 1f, nonce 11 x 12, group 300, epoch
// 0x1a2b3c4d, originator and gateway 192.0.2.11, prefixes 10.1.0.0/16 and
// 2001:db8:1::/48.
const char *kExampleBlob = "01010000012c1a2b3c4d01c000020b111111111111111111111111"
			   "81a094bdb3002daf78752400710511b75b1f814c1c52fa1247d76c9f0fb5ae8dfe6184";

} // namespace

TEST(SealCodec, SealsTheDocumentedExample)
{
	FixedRandom nonce(0x11);
	auto blob = seal_routes(key_of(0), 300, 0x1a2b3c4d, ip("192.0.2.11"), example_routes(), nonce);
	ASSERT_TRUE(blob.ok()) << blob.error().message;
	EXPECT_EQ(to_hex(blob.value()), kExampleBlob);

	auto h = parse_sealed(blob.value());
	ASSERT_TRUE(h.ok());
	EXPECT_EQ(h.value().group, 300u);
	EXPECT_EQ(h.value().epoch, 0x1a2b3c4du);
	EXPECT_EQ(h.value().originator, ip("192.0.2.11"));
	EXPECT_EQ(to_hex(h.value().aad), "01010000012c1a2b3c4d01c000020b");
	EXPECT_EQ(h.value().ciphertext.size(), 19u);
	auto r = open_routes(key_of(0), h.value());
	ASSERT_TRUE(r.ok()) << r.error().message;
	EXPECT_EQ(r.value().gateway, ip("192.0.2.11"));
	ASSERT_EQ(r.value().prefixes.size(), 2u);
	EXPECT_EQ(seal_prefix_text(r.value().prefixes[0]), "10.1.0.0/16");
	EXPECT_EQ(seal_prefix_text(r.value().prefixes[1]), "2001:db8:1::/48");
}

TEST(SealCodec, PlaintextRoundTripsEveryLength)
{
	SealedRoutes r;
	r.gateway = ip("2001:db8::22");
	r.prefixes = {prefix("0.0.0.0/0"), prefix("10.0.0.0/8"), prefix("10.8.0.0/13"), prefix("192.0.2.1/32"),
		      prefix("::/0"), prefix("2001:db8::/32"), prefix("2001:db8::1/128")};
	auto plain = encode_sealed_routes(r);
	ASSERT_TRUE(plain.ok());
	// gateway AFI 2, 16 octets, count 7, then AFI | length | leading octets
	EXPECT_EQ(to_hex(ByteView(plain.value().data(), 19)), "0220010db8000000000000000000000022" "0007");
	EXPECT_EQ(to_hex(ByteView(plain.value().data() + 19, 9)), "0100" "01080a" "010d0a08");
	auto back = decode_sealed_routes(plain.value());
	ASSERT_TRUE(back.ok()) << back.error().message;
	EXPECT_EQ(back.value().gateway, r.gateway);
	EXPECT_EQ(back.value().prefixes, r.prefixes);
}

TEST(SealCodec, PlaintextRefusesBadRoutes)
{
	SealedRoutes r = example_routes();
	r.prefixes.push_back(prefix("10.1.2.3/16"));
	auto e = encode_sealed_routes(r);
	ASSERT_FALSE(e.ok());
	EXPECT_EQ(e.error().code, SealStatus::Invalid);
	EXPECT_NE(e.error().message.find("10.1.2.3/16"), std::string::npos);
	r = example_routes();
	r.prefixes.clear();
	EXPECT_EQ(encode_sealed_routes(r).error().code, SealStatus::Invalid);
	r = example_routes();
	r.gateway = Bytes{1, 2, 3};
	EXPECT_EQ(encode_sealed_routes(r).error().code, SealStatus::Invalid);
	r = example_routes();
	r.prefixes[0].len = 33;
	EXPECT_EQ(encode_sealed_routes(r).error().code, SealStatus::Invalid);

	struct Case {
		const char *hex;
		SealStatus code;
	} cases[] = {
		{"", SealStatus::Truncated},
		{"01c00002", SealStatus::Truncated},
		{"03c000020b000101100a01", SealStatus::Malformed}, // gateway AFI 3
		{"01c000020b00", SealStatus::Truncated},
		{"01c000020b0000", SealStatus::Malformed},         // no prefix
		{"01c000020b000101100a", SealStatus::Truncated},   // prefix cut
		{"01c000020b000101210a010000ff", SealStatus::Malformed}, // /33
		{"01c000020b0001010f0a03", SealStatus::Malformed}, // host bits
		{"01c000020b000101100a0100", SealStatus::Malformed}, // trailing octet
		{"01c000020b000105100a01", SealStatus::Malformed}, // prefix AFI 5
	};
	for (const Case &c : cases) {
		auto d = decode_sealed_routes(hex(c.hex));
		ASSERT_FALSE(d.ok()) << c.hex;
		EXPECT_EQ(d.error().code, c.code) << c.hex << ": " << d.error().message;
	}
}

TEST(SealCodec, EveryChangedOctetFailsToOpen)
{
	FixedRandom nonce(0x11);
	Bytes blob = seal_routes(key_of(0), 300, 7, ip("192.0.2.11"), example_routes(), nonce).value();
	for (size_t i = 0; i < blob.size(); i++) {
		Bytes bad = blob;
		bad[i] ^= 0x01;
		auto h = parse_sealed(bad);
		if (!h.ok()) {
			// version, suite, originator AFI: refused before the key
			EXPECT_TRUE(i == 0 || i == 1 || i == 10) << i;
			continue;
		}
		auto r = open_routes(key_of(0), h.value());
		ASSERT_FALSE(r.ok()) << "octet " << i;
		EXPECT_EQ(r.error().code, SealStatus::BadTag) << "octet " << i;
	}
	// another key
	auto r = open_routes(key_of(1), parse_sealed(blob).value());
	EXPECT_EQ(r.error().code, SealStatus::BadTag);
	EXPECT_EQ(r.error().message, "sealed attribute of group 300 epoch 7: the tag does not verify");
}

TEST(SealCodec, EveryTruncationIsRefused)
{
	FixedRandom nonce(0x11);
	Bytes blob = seal_routes(key_of(0), 300, 7, ip("2001:db8::1"), example_routes(), nonce).value();
	const size_t header = 11 + 16;
	for (size_t n = 0; n < blob.size(); n++) {
		ByteView cut(blob.data(), n);
		auto h = parse_sealed(cut);
		if (n < header + kSealNonceBytes + kSealTagBytes) {
			ASSERT_FALSE(h.ok()) << n;
			EXPECT_EQ(h.error().code, SealStatus::Truncated) << n;
			continue;
		}
		ASSERT_TRUE(h.ok()) << n;
		EXPECT_FALSE(open_routes(key_of(0), h.value()).ok()) << n;
	}
}

TEST(SealCodec, RefusesOtherVersionsAndSuites)
{
	FixedRandom nonce(0x11);
	Bytes blob = seal_routes(key_of(0), 300, 7, ip("192.0.2.11"), example_routes(), nonce).value();
	Bytes v2 = blob;
	v2[0] = 2;
	EXPECT_EQ(parse_sealed(v2).error().code, SealStatus::Version);
	EXPECT_EQ(parse_sealed(v2).error().message, "sealed attribute: version 2 (this code reads 1)");
	Bytes s2 = blob;
	s2[1] = 2;
	EXPECT_EQ(parse_sealed(s2).error().code, SealStatus::Version);
	Bytes afi = blob;
	afi[10] = 3;
	EXPECT_EQ(parse_sealed(afi).error().code, SealStatus::Malformed);
}

TEST(SealCodec, SealRefusesBadArgumentsAndTooMuch)
{
	FixedRandom nonce(0x11);
	EXPECT_EQ(seal_routes(Bytes(16), 1, 1, ip("192.0.2.1"), example_routes(), nonce).error().code,
		  SealStatus::Invalid);
	EXPECT_EQ(seal_routes(key_of(0), 1, 1, Bytes{1, 2}, example_routes(), nonce).error().code, SealStatus::Invalid);
	SealedRoutes many;
	many.gateway = ip("2001:db8::1");
	// 74 octets and 18 per IPv6 host prefix: 3636 fit, 3637 do not
	for (uint32_t i = 0; i < 3637; i++) {
		SealPrefix p = prefix("2001:db8::/128");
		p.addr[14] = static_cast<uint8_t>(i >> 8);
		p.addr[15] = static_cast<uint8_t>(i);
		many.prefixes.push_back(p);
	}
	auto big = seal_routes(key_of(0), 1, 1, ip("2001:db8::1"), many, nonce);
	ASSERT_FALSE(big.ok());
	EXPECT_EQ(big.error().code, SealStatus::TooLarge);
	many.prefixes.pop_back();
	auto fits = seal_routes(key_of(0), 1, 1, ip("2001:db8::1"), many, nonce);
	ASSERT_TRUE(fits.ok()) << fits.error().message;
	EXPECT_LE(fits.value().size(), kSealMaxValue);
	auto attr = encode_seal_attribute(kSealDefaultCode, fits.value());
	ASSERT_TRUE(attr.ok());
	EXPECT_EQ(attr.value()[0], 0xD0);
}

TEST(SealAttribute, EncodesShortAndExtendedLengths)
{
	Bytes v(10, 0xab);
	auto a = encode_seal_attribute(255, v);
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(to_hex(a.value()), "c0ff0aabababababababababab");
	Bytes w(300, 0xcd);
	auto b = encode_seal_attribute(250, w);
	ASSERT_TRUE(b.ok());
	EXPECT_EQ(to_hex(ByteView(b.value().data(), 4)), "d0fa012c");
	EXPECT_EQ(b.value().size(), 304u);
	EXPECT_EQ(encode_seal_attribute(255, Bytes(65536)).error().code, SealStatus::TooLarge);
}

TEST(SealAttribute, FindsItAmongOthers)
{
	// ORIGIN IGP, AS_PATH (extended length, empty), ours with Partial set
	// (as FRR and BIRD pass it on), LOCAL_PREF
	Bytes attrs = hex("40010100" "50020000" "e0ff03aabbcc" "40050400000064");
	auto v = find_seal_attribute(attrs, 255);
	ASSERT_TRUE(v.ok()) << v.error().message;
	EXPECT_EQ(to_hex(v.value()), "aabbcc");
	EXPECT_EQ(find_seal_attribute(attrs, 254).error().code, SealStatus::NotFound);
	// well-known flags on our code point
	EXPECT_EQ(find_seal_attribute(hex("40ff01aa"), 255).error().code, SealStatus::Malformed);
	// optional non-transitive
	EXPECT_EQ(find_seal_attribute(hex("80ff01aa"), 255).error().code, SealStatus::Malformed);
	// runs past the end, before and at ours
	EXPECT_EQ(find_seal_attribute(hex("400105"), 255).error().code, SealStatus::Truncated);
	EXPECT_EQ(find_seal_attribute(hex("d0ff00"), 255).error().code, SealStatus::Truncated);
	EXPECT_EQ(find_seal_attribute(hex("c0ff05aabb"), 255).error().code, SealStatus::Truncated);
	EXPECT_EQ(find_seal_attribute(ByteView(), 255).error().code, SealStatus::NotFound);
}

namespace {

// docs/bgp-gsa.md's list example, computed independently (Python
// cryptography's AESGCM): the entry above (group 300) and one of group 301
// (key 20 21 .. 3f, nonce 22 x 12, epoch 0x0a0b0c0d, the same originator
// and gateway, prefix 10.1.0.0/16), behind the list header 02 02.
const char *kExampleEntry301 = "01010000012d0a0b0c0d01c000020b222222222222222222222222"
			       "9d85bc616a972d27d28acd026fcbce2851e408c89a2c3db4ad6a11";

Bytes example_list()
{
	FixedRandom n11(0x11), n22(0x22);
	SealedRoutes r301;
	r301.gateway = ip("192.0.2.11");
	r301.prefixes = {prefix("10.1.0.0/16")};
	Bytes e300 = seal_routes(key_of(0), 300, 0x1a2b3c4d, ip("192.0.2.11"), example_routes(), n11).value();
	Bytes e301 = seal_routes(key_of(0x20), 301, 0x0a0b0c0d, ip("192.0.2.11"), r301, n22).value();
	// given in any order, written in ascending group order
	return encode_sealed_list({e301, e300}).value();
}

} // namespace

TEST(SealList, SealsTheDocumentedExample)
{
	Bytes v = example_list();
	EXPECT_EQ(to_hex(v), std::string("0202") + "003e" + kExampleBlob + "0036" + kExampleEntry301);
	auto attr = encode_seal_attribute(kSealDefaultCode, v);
	ASSERT_TRUE(attr.ok());
	EXPECT_EQ(to_hex(ByteView(attr.value().data(), 3)), "c0ff7a");
	EXPECT_EQ(attr.value().size(), 125u);

	auto l = parse_sealed_list(v);
	ASSERT_TRUE(l.ok()) << l.error().message;
	ASSERT_EQ(l.value().size(), 2u);
	EXPECT_EQ(l.value()[0].group, 300u);
	EXPECT_EQ(l.value()[1].group, 301u);
	EXPECT_EQ(l.value()[1].epoch, 0x0a0b0c0du);
	auto r = open_routes(key_of(0x20), l.value()[1]);
	ASSERT_TRUE(r.ok()) << r.error().message;
	ASSERT_EQ(r.value().prefixes.size(), 1u);
	EXPECT_EQ(seal_prefix_text(r.value().prefixes[0]), "10.1.0.0/16");
	// each entry under its own group's key only
	EXPECT_EQ(open_routes(key_of(0), l.value()[1]).error().code, SealStatus::BadTag);
	EXPECT_TRUE(open_routes(key_of(0), l.value()[0]).ok());
}

TEST(SealList, TheDecoderIsStrict)
{
	const std::string e300 = kExampleBlob, e301 = kExampleEntry301;
	struct Case {
		std::string hex;
		SealStatus code;
	} cases[] = {
		{"", SealStatus::Truncated},
		{"02", SealStatus::Truncated},
		{e300, SealStatus::Version},                         // a bare entry
		{"0301003e" + e300, SealStatus::Version},            // list version 3
		{"0200", SealStatus::Malformed},                     // no entry
		{"0221", SealStatus::Malformed},                     // 33 entries
		{"0201003f" + e300, SealStatus::Truncated},          // length past the end
		{"020100", SealStatus::Truncated},                   // length cut
		{"0202003e" + e300, SealStatus::Truncated},          // a second entry missing
		{"0201003e" + e300 + "00", SealStatus::Malformed},   // an octet after the last
		{"02020036" + e301 + "003e" + e300, SealStatus::Malformed}, // descending groups
		{"0202003e" + e300 + "003e" + e300, SealStatus::Malformed}, // one group twice
		{"02010010" + e300.substr(0, 32), SealStatus::Truncated},   // an entry too short
		{"0201003e02" + e300.substr(2), SealStatus::Version},       // an entry of version 2
	};
	for (const Case &c : cases) {
		auto l = parse_sealed_list(hex(c.hex));
		ASSERT_FALSE(l.ok()) << c.hex;
		EXPECT_EQ(l.error().code, c.code) << c.hex << ": " << l.error().message;
	}
	EXPECT_EQ(parse_sealed_list(hex(e300)).error().message,
		  "sealed attribute: version 1 (this code reads 2, a list of entries)");
	EXPECT_NE(parse_sealed_list(hex("02020036" + e301 + "003e" + e300)).error().message.find("ascending"),
		  std::string::npos);

	Bytes v = example_list();
	for (size_t n = 0; n < v.size(); n++)
		EXPECT_FALSE(parse_sealed_list(ByteView(v.data(), n)).ok()) << n;
	// every octet of the list header and lengths matters
	for (size_t i : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(66), size_t(67)}) {
		Bytes bad = v;
		bad[i] ^= 0x01;
		EXPECT_FALSE(parse_sealed_list(bad).ok()) << i;
	}
}

TEST(SealList, TheEncoderRefusesWhatTheDecoderWould)
{
	FixedRandom nonce(0x11);
	Bytes e = seal_routes(key_of(0), 300, 7, ip("192.0.2.11"), example_routes(), nonce).value();
	EXPECT_EQ(encode_sealed_list({}).error().code, SealStatus::Invalid);
	EXPECT_EQ(encode_sealed_list({e, e}).error().code, SealStatus::Invalid);
	EXPECT_EQ(encode_sealed_list({Bytes{1, 1, 0}}).error().code, SealStatus::Invalid);
	std::vector<Bytes> many;
	for (uint32_t g = 1; g <= kSealMaxEntries + 1; g++)
		many.push_back(seal_routes(key_of(0), g, 7, ip("192.0.2.11"), example_routes(), nonce).value());
	EXPECT_EQ(encode_sealed_list(many).error().code, SealStatus::TooLarge);
	many.pop_back();
	auto full = encode_sealed_list(many);
	ASSERT_TRUE(full.ok());
	auto back = parse_sealed_list(full.value());
	ASSERT_TRUE(back.ok());
	EXPECT_EQ(back.value().size(), kSealMaxEntries);
	// two entries of 33,000 octets do not fit in one attribute
	SealedRoutes big;
	big.gateway = ip("2001:db8::1");
	for (uint32_t i = 0; i < 1830; i++) {
		SealPrefix p = prefix("2001:db8::/128");
		p.addr[14] = static_cast<uint8_t>(i >> 8);
		p.addr[15] = static_cast<uint8_t>(i);
		big.prefixes.push_back(p);
	}
	Bytes b1 = seal_routes(key_of(0), 1, 7, ip("2001:db8::1"), big, nonce).value();
	Bytes b2 = seal_routes(key_of(0), 2, 7, ip("2001:db8::1"), big, nonce).value();
	EXPECT_EQ(encode_sealed_list({b1, b2}).error().code, SealStatus::TooLarge);
}
