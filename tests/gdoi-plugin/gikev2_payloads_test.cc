// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_payloads.h"

#include <gtest/gtest.h>
#include <random>

#include "gikev2_test_util.h"

using namespace groupsec::gdoi;
using groupsec::gdoi::test::concat;
using groupsec::gdoi::test::hex;
using groupsec::gdoi::test::repeat;

namespace {

constexpr uint8_t kEsp = static_cast<uint8_t>(SecurityProtocol::Esp);
constexpr uint8_t kAh = static_cast<uint8_t>(SecurityProtocol::Ah);
constexpr uint8_t kGike = static_cast<uint8_t>(SecurityProtocol::GikeUpdate);

Transform transform(TransformType t, uint16_t id, std::vector<Attribute> attrs = {})
{
	return Transform{static_cast<uint8_t>(t), id, std::move(attrs)};
}

TrafficSelector v4(uint8_t proto, uint16_t lo, uint16_t hi, Bytes start, Bytes end)
{
	return TrafficSelector{static_cast<uint8_t>(TsType::Ipv4AddrRange), proto, lo, hi, start, end};
}

// The TEK of the known-answer vector below.
GsaPolicy tek_v4()
{
	GsaPolicy p;
	p.protocol = kEsp;
	p.spi = hex("11223344");
	p.source = v4(0, 0, 0xffff, hex("00000000"), hex("ffffffff"));
	p.destination = v4(0, 0, 0xffff, hex("ef010101"), hex("ef010101"));
	p.transforms = {transform(TransformType::Encryption, 20, {make_tv_attribute(14, 256)}),
			transform(TransformType::SequenceNumbers, 0)};
	p.key_lifetime = 3600;
	return p;
}

GsaPolicy tek_v6()
{
	GsaPolicy p;
	p.protocol = kEsp;
	p.spi = hex("a1b2c3d4");
	p.source.ts_type = static_cast<uint8_t>(TsType::Ipv6AddrRange);
	p.source.ip_protocol = 17;
	p.source.start_port = 5000;
	p.source.end_port = 5000;
	p.source.start_address = hex("20010db8000000000000000000000001");
	p.source.end_address = hex("20010db80000000000000000000000ff");
	p.destination.ts_type = static_cast<uint8_t>(TsType::Ipv6AddrRange);
	p.destination.ip_protocol = 17;
	p.destination.start_address = hex("ff0e0000000000000000000000000123");
	p.destination.end_address = p.destination.start_address;
	p.transforms = {transform(TransformType::Encryption, 12, {make_tv_attribute(14, 128)}),
			transform(TransformType::Integrity, 12),
			transform(TransformType::SequenceNumbers,
				  static_cast<uint16_t>(SequenceNumbersId::Unspecified32))};
	p.key_lifetime = 600;
	p.next_spis = {hex("a1b2c3d5"), hex("a1b2c3d6")};
	return p;
}

GsaPolicy kek()
{
	GsaPolicy p;
	p.protocol = kGike;
	p.spi = hex("0102030405060708 1112131415161718");
	p.source = v4(17, 848, 848, hex("c0000201"), hex("c0000201"));
	p.destination = v4(17, 848, 848, hex("ef000001"), hex("ef000001"));
	p.transforms = {transform(TransformType::Encryption, 20, {make_tv_attribute(14, 256)}),
			transform(TransformType::KeyWrapAlgorithm, static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256)),
			transform(TransformType::GroupControllerAuth,
				  static_cast<uint16_t>(GroupControllerAuthMethod::DigitalSignature),
				  {make_tlv_attribute(18, hex("300a06082a8648ce3d040302"))})};
	p.key_lifetime = 86400;
	p.initial_message_id = 7;
	p.other_attributes = {make_tlv_attribute(16384, hex("cafe"))};
	return p;
}

GsaPayload full_gsa()
{
	GsaPayload g;
	g.kek = kek();
	g.teks = {tek_v4(), tek_v6()};
	g.group_wide = GroupWidePolicy{10, 30, 8, {}};
	return g;
}

KeyDownloadPayload full_kd()
{
	KeyDownloadPayload kd;
	GroupKeyBag tek;
	tek.protocol = kEsp;
	tek.spi = hex("11223344");
	tek.sa_keys = {WrappedKey{0, 0, repeat(0xa5, 40)}};
	GroupKeyBag rekey;
	rekey.protocol = kGike;
	rekey.spi = hex("0102030405060708 1112131415161718");
	rekey.sa_keys = {WrappedKey{0, 0, repeat(0x5a, 40)}, WrappedKey{0, 9, repeat(0x33, 40)}};
	kd.group_key_bags = {tek, rekey};
	MemberKeyBag m;
	m.wrap_keys = {WrappedKey{7, 0, repeat(0x77, 40)}, WrappedKey{9, 7, repeat(0x99, 40)}};
	m.auth_key = hex("3059301306072a8648ce3d020106082a8648ce3d03010703420004");
	m.sender_ids = {hex("0005"), hex("0006")};
	kd.member_key_bag = m;
	return kd;
}

// Decoding every strict prefix must fail without crashing.
template <typename Decode> void expect_prefixes_rejected(const Bytes &full, Decode decode)
{
	for (size_t n = 0; n < full.size(); n++) {
		auto r = decode(ByteView(full.data(), n));
		EXPECT_FALSE(r.ok()) << "prefix of " << n << " of " << full.size() << " octets accepted";
	}
}

} // namespace

// --- known-answer vectors, built by hand from the RFC 9838 figures --------

TEST(Gikev2Idg, KnownAnswerKeyId)
{
	// ID Type 11 (ID_KEY_ID), RESERVED, "grp1"
	Bytes body = hex("0b000000 67727031");
	auto id = decode_identification(body);
	ASSERT_TRUE(id.ok()) << id.error().message;
	EXPECT_EQ(id.value().id_type, static_cast<uint8_t>(IdType::KeyId));
	EXPECT_EQ(id.value().data, hex("67727031"));
	auto enc = encode_identification(IdentificationPayload{11, hex("67727031")});
	ASSERT_TRUE(enc.ok());
	EXPECT_EQ(enc.value(), body);
}

TEST(Gikev2Gsa, KnownAnswerTekPolicyAndGroupWidePolicy)
{
	Bytes body = hex(
		// GSA policy: Protocol ESP, SPI Size 4, Length 68, SPI
		"03 04 0044  11223344"
		// source TS: IPv4 range, any protocol, ports 0-65535, 0.0.0.0-255.255.255.255
		"07 00 0010 0000 ffff 00000000 ffffffff"
		// destination TS: 239.1.1.1
		"07 00 0010 0000 ffff ef010101 ef010101"
		// transform ENCR AES-GCM-16 (20), Key Length 256 (TV attribute 14), more follow
		"03 00 000c 01 00 0014 800e 0100"
		// transform SN 32-bit sequential (0), last
		"00 00 0008 05 00 0000"
		// GSA_KEY_LIFETIME (TLV 1) 3600 s
		"0001 0004 00000e10"
		// GW policy: Protocol 0, Length 12, GWP_ATD 10 s, GWP_DTD 30 s
		"00 00 000c 8001 000a 8002 001e");
	auto gsa = decode_gsa(body);
	ASSERT_TRUE(gsa.ok()) << gsa.error().message;
	EXPECT_FALSE(gsa.value().kek.has_value());
	ASSERT_EQ(gsa.value().teks.size(), 1u);
	EXPECT_EQ(gsa.value().teks[0], tek_v4());
	ASSERT_TRUE(gsa.value().group_wide.has_value());
	EXPECT_EQ(gsa.value().group_wide->activation_time_delay, 10);
	EXPECT_EQ(gsa.value().group_wide->deactivation_time_delay, 30);
	EXPECT_FALSE(gsa.value().group_wide->sender_id_bits.has_value());

	GsaPayload built;
	built.teks = {tek_v4()};
	built.group_wide = GroupWidePolicy{10, 30, std::nullopt, {}};
	auto enc = encode_gsa(built);
	ASSERT_TRUE(enc.ok()) << enc.error().message;
	EXPECT_EQ(enc.value(), body);
}

TEST(Gikev2Kd, KnownAnswerGroupAndMemberKeyBags)
{
	Bytes sa_key = repeat(0xa5, 24);
	Bytes wrap_key = repeat(0x3c, 24);
	Bytes body = concat({
		// group key bag: ESP, SPI Size 4, Length 44, SPI
		hex("03 04 002c 11223344"),
		// SA_KEY (TLV 1), 32 octets: Key ID 0, KWK ID 0, wrapped key
		hex("0001 0020 00000000 00000000"), sa_key,
		// member key bag: Protocol 0, Length 46
		hex("00 00 002e"),
		// WRAP_KEY (TLV 1), 32 octets: Key ID 7, KWK ID 0 (default KWK)
		hex("0001 0020 00000007 00000000"), wrap_key,
		// GM_SENDER_ID (TLV 3), 2 octets: 5
		hex("0003 0002 0005"),
	});
	auto kd = decode_key_download(body);
	ASSERT_TRUE(kd.ok()) << kd.error().message;
	ASSERT_EQ(kd.value().group_key_bags.size(), 1u);
	const GroupKeyBag &g = kd.value().group_key_bags[0];
	EXPECT_EQ(g.protocol, kEsp);
	EXPECT_EQ(g.spi, hex("11223344"));
	ASSERT_EQ(g.sa_keys.size(), 1u);
	EXPECT_EQ(g.sa_keys[0], (WrappedKey{0, 0, sa_key}));
	ASSERT_TRUE(kd.value().member_key_bag.has_value());
	const MemberKeyBag &m = *kd.value().member_key_bag;
	ASSERT_EQ(m.wrap_keys.size(), 1u);
	EXPECT_EQ(m.wrap_keys[0], (WrappedKey{7, 0, wrap_key}));
	EXPECT_FALSE(m.auth_key.has_value());
	EXPECT_EQ(m.sender_ids, std::vector<Bytes>{hex("0005")});

	auto enc = encode_key_download(kd.value());
	ASSERT_TRUE(enc.ok());
	EXPECT_EQ(enc.value(), body);
}

TEST(Gikev2Notify, KnownAnswerGroupSender)
{
	// Protocol 0, SPI Size 0, type 16429, count 2
	Bytes body = hex("00 00 402d 00000002");
	auto n = decode_notify(body);
	ASSERT_TRUE(n.ok()) << n.error().message;
	EXPECT_EQ(n.value().type, static_cast<uint16_t>(NotifyType::GroupSender));
	auto count = group_sender_count(n.value());
	ASSERT_TRUE(count.ok());
	EXPECT_EQ(count.value(), 2u);
	EXPECT_EQ(encode_notify(make_group_sender_notify(2)).value(), body);
}

TEST(Gikev2Notify, KnownAnswerMemberList)
{
	// Protocol 0, SPI Size 0, type 40962; FQDN gm2.example.net, IPv4 192.0.2.12
	Bytes body = hex("00 00 a002 02 00 000f 676d322e6578616d706c652e6e6574 01 00 0004 c000020c");
	auto n = decode_notify(body);
	ASSERT_TRUE(n.ok()) << n.error().message;
	EXPECT_EQ(n.value().type, static_cast<uint16_t>(NotifyType::MemberList));
	EXPECT_EQ(notify_name(n.value().type), "MEMBER_LIST (private use)");
	auto ids = member_list_identities(n.value());
	ASSERT_TRUE(ids.ok()) << ids.error().message;
	const std::vector<groupsec::ident::Identity> want{
		groupsec::ident::make_identity(IdType::Fqdn, Bytes{'g', 'm', '2', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
							 'n', 'e', 't'}),
		groupsec::ident::make_identity(IdType::Ipv4Addr, Bytes{192, 0, 2, 12})};
	EXPECT_EQ(ids.value(), want);
	auto made = make_member_list_notify(want);
	ASSERT_TRUE(made.ok());
	EXPECT_EQ(encode_notify(made.value()).value(), body);
}

TEST(Gikev2Notify, MemberListDecoderIsStrict)
{
	auto refused = [](const std::string &data, uint8_t protocol = 0) {
		NotifyPayload n{protocol, {}, static_cast<uint16_t>(NotifyType::MemberList), hex(data)};
		return !member_list_identities(n).ok();
	};
	EXPECT_FALSE(refused("02 00 0001 61"));
	EXPECT_TRUE(refused(""));                        // names nobody
	EXPECT_TRUE(refused("02 00 0001 61", 3));        // a protocol
	EXPECT_TRUE(refused("02 00 0002 61"));           // runs past the data
	EXPECT_TRUE(refused("02 00 00"));                // a truncated header
	EXPECT_TRUE(refused("02 00 0001 61 00"));        // octets after the last
	EXPECT_TRUE(refused("02 01 0001 61"));           // reserved not zero
	EXPECT_TRUE(refused("02 00 0000"));              // an empty identity
	EXPECT_TRUE(refused("01 00 0003 c00002"));       // IPv4 of 3 octets
	EXPECT_TRUE(refused("05 00 0004 c000020c"));     // IPv6 of 4 octets
	EXPECT_TRUE(refused("0a 00 0001 61"));           // DER_ASN1_GN
	EXPECT_TRUE(refused("07 00 0001 61"));           // no such type
	EXPECT_TRUE(refused("02 00 0001 61 02 00 0001 61")); // twice
	EXPECT_TRUE(refused("02 00 0100 " + std::string(512, '6'))); // 256 octets
	std::string many;
	for (int i = 0; i < 65; i++) {
		char e[32];
		snprintf(e, sizeof(e), "02 00 0002 61%02x ", i);
		many += e;
	}
	EXPECT_TRUE(refused(many)); // 65 identities
	EXPECT_FALSE(refused(many.substr(0, 64 * 16))); // 64
	// another notify type is no member list
	EXPECT_FALSE(member_list_identities(make_group_sender_notify(1)).ok());
	EXPECT_FALSE(make_member_list_notify({}).ok());
}

// --- round trips: struct -> bytes -> struct, bytes -> struct -> bytes -----

template <typename T, typename Enc, typename Dec> void round_trip(const T &value, Enc encode, Dec decode)
{
	auto bytes = encode(value);
	ASSERT_TRUE(bytes.ok()) << bytes.error().message;
	auto back = decode(bytes.value());
	ASSERT_TRUE(back.ok()) << back.error().message;
	EXPECT_TRUE(back.value() == value);
	auto again = encode(back.value());
	ASSERT_TRUE(again.ok());
	EXPECT_EQ(again.value(), bytes.value());
}

TEST(Gikev2RoundTrip, Identification)
{
	round_trip(IdentificationPayload{11, hex("67726f75702d31")}, encode_identification, decode_identification);
	round_trip(IdentificationPayload{1, hex("c0000201")}, encode_identification, decode_identification);
	round_trip(IdentificationPayload{5, hex("20010db8000000000000000000000001")}, encode_identification,
		   decode_identification);
	round_trip(IdentificationPayload{2, hex("67772e6578616d706c65")}, encode_identification, decode_identification);
}

TEST(Gikev2RoundTrip, Nonce)
{
	round_trip(NoncePayload{repeat(0x42, 16)}, encode_nonce, decode_nonce);
	round_trip(NoncePayload{repeat(0x43, 256)}, encode_nonce, decode_nonce);
}

TEST(Gikev2RoundTrip, Auth)
{
	round_trip(AuthPayload{14, concat({hex("0c300a06082a8648ce3d040302"), repeat(0x11, 64)})}, encode_auth, decode_auth);
}

TEST(Gikev2RoundTrip, Notify)
{
	round_trip(make_group_sender_notify(4), encode_notify, decode_notify);
	round_trip(NotifyPayload{0, {}, static_cast<uint16_t>(NotifyType::InvalidGroupId), {}}, encode_notify,
		   decode_notify);
	round_trip(NotifyPayload{kEsp, hex("11223344"), 16384, hex("0102")}, encode_notify, decode_notify);
}

TEST(Gikev2RoundTrip, Delete)
{
	round_trip(DeletePayload{kEsp, 4, {hex("11223344"), hex("55667788")}}, encode_delete, decode_delete);
	round_trip(DeletePayload{kGike, 16, {repeat(0, 16)}}, encode_delete, decode_delete);
	round_trip(DeletePayload{0, 0, {}}, encode_delete, decode_delete);
}

TEST(Gikev2RoundTrip, GsaWithKekTeksAndGroupWidePolicy)
{
	round_trip(full_gsa(), encode_gsa, decode_gsa);
}

TEST(Gikev2RoundTrip, GsaKekOnly)
{
	GsaPayload g;
	g.kek = kek();
	round_trip(g, encode_gsa, decode_gsa);
}

TEST(Gikev2RoundTrip, GsaAhTek)
{
	GsaPayload g;
	GsaPolicy ah = tek_v4();
	ah.protocol = kAh;
	ah.transforms = {transform(TransformType::Integrity, 12), transform(TransformType::SequenceNumbers, 0)};
	g.teks = {ah};
	round_trip(g, encode_gsa, decode_gsa);
}

TEST(Gikev2RoundTrip, KeyDownload)
{
	round_trip(full_kd(), encode_key_download, decode_key_download);
}

TEST(Gikev2RoundTrip, NonCanonicalOrderDecodesToTheSameStruct)
{
	// GW policy first, then the TEK: same struct, re-encoded in canonical order
	Bytes canonical = encode_gsa(GsaPayload{std::nullopt, {tek_v4()}, GroupWidePolicy{1, 2, 3, {}}}).value();
	size_t tek_len = 68;
	Bytes swapped(canonical.begin() + tek_len, canonical.end());
	swapped.insert(swapped.end(), canonical.begin(), canonical.begin() + tek_len);
	auto d = decode_gsa(swapped);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(encode_gsa(d.value()).value(), canonical);
}

// --- IPv6 traffic selectors ---------------------------------------------

TEST(Gikev2Gsa, Ipv6TrafficSelectors)
{
	GsaPayload g;
	g.teks = {tek_v6()};
	auto enc = encode_gsa(g);
	ASSERT_TRUE(enc.ok()) << enc.error().message;
	const Bytes &b = enc.value();
	// policy header + SPI, then the source TS: type 8, UDP, length 40
	ASSERT_GT(b.size(), 12u);
	EXPECT_EQ(b[8], 8);
	EXPECT_EQ(b[9], 17);
	EXPECT_EQ(b[10], 0);
	EXPECT_EQ(b[11], 40);
	EXPECT_EQ(Bytes(b.begin() + 16, b.begin() + 32), tek_v6().source.start_address);
	auto d = decode_gsa(b);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().teks[0].destination.start_address, hex("ff0e0000000000000000000000000123"));
	EXPECT_EQ(d.value().teks[0].source.start_port, 5000);
}

TEST(Gikev2Gsa, Ipv6AddressOfWrongSizeIsRejectedOnEncode)
{
	GsaPayload g;
	g.teks = {tek_v6()};
	g.teks[0].source.end_address = hex("c0000201");
	auto enc = encode_gsa(g);
	ASSERT_FALSE(enc.ok());
	EXPECT_EQ(enc.error().code, WireError::BadLength);
}

// --- rejection ----------------------------------------------------------

TEST(Gikev2Reject, TruncatedGsaAndKd)
{
	// one substructure each: a prefix that ends between two substructures
	// would be a shorter, valid payload
	GsaPayload g;
	g.kek = kek();
	expect_prefixes_rejected(encode_gsa(g).value(), decode_gsa);
	g = GsaPayload{};
	g.teks = {tek_v6()};
	expect_prefixes_rejected(encode_gsa(g).value(), decode_gsa);
	KeyDownloadPayload kd = full_kd();
	kd.member_key_bag.reset();
	kd.group_key_bags.resize(1);
	expect_prefixes_rejected(encode_key_download(kd).value(), decode_key_download);
	kd = full_kd();
	kd.group_key_bags.clear();
	expect_prefixes_rejected(encode_key_download(kd).value(), decode_key_download);
}

TEST(Gikev2Reject, TruncatedAtASubstructureBoundaryIsAShorterPayload)
{
	Bytes full = encode_gsa(full_gsa()).value();
	Bytes kek_only = encode_gsa(GsaPayload{kek(), {}, std::nullopt}).value();
	auto d = decode_gsa(ByteView(full.data(), kek_only.size()));
	ASSERT_TRUE(d.ok());
	EXPECT_TRUE(d.value() == (GsaPayload{kek(), {}, std::nullopt}));
}

TEST(Gikev2Reject, TruncatedSmallPayloads)
{
	expect_prefixes_rejected(encode_notify(make_group_sender_notify(1)).value(), decode_notify);
	expect_prefixes_rejected(encode_delete(DeletePayload{kEsp, 4, {hex("11223344")}}).value(), decode_delete);
	expect_prefixes_rejected(hex("0b000000"), decode_identification);
	expect_prefixes_rejected(hex("0e000000"), decode_auth);
	EXPECT_FALSE(decode_nonce(repeat(1, 15)).ok());
	EXPECT_FALSE(decode_nonce(repeat(1, 257)).ok());
}

TEST(Gikev2Reject, OverlongLengths)
{
	Bytes gsa = encode_gsa(GsaPayload{std::nullopt, {tek_v4()}, std::nullopt}).value();
	// policy length one more than present
	Bytes b = gsa;
	b[3]++;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadLength);
	// policy length shorter than the header
	b = gsa;
	b[2] = 0;
	b[3] = 3;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadLength);
	// source TS length 17
	b = gsa;
	b[11] = 17;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadLength);
	// first transform length beyond the policy
	b = gsa;
	b[43] = 0xff;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadLength);
	// GSA_KEY_LIFETIME TLV length 0xff
	b = gsa;
	b[b.size() - 5] = 0xff;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadLength);

	Bytes kd = encode_key_download(full_kd()).value();
	b = kd;
	b[2] = 0xff;
	EXPECT_EQ(decode_key_download(b).error().code, WireError::BadLength);
	// SA_KEY length past the key bag
	b = kd;
	b[10] = 0xff;
	EXPECT_EQ(decode_key_download(b).error().code, WireError::BadLength);

	// Delete: one SPI announced, two present
	EXPECT_EQ(decode_delete(hex("03 04 0001 11223344 55667788")).error().code, WireError::BadLength);
	// Notify: SPI size past the payload
	EXPECT_EQ(decode_notify(hex("03 08 4000 1122")).error().code, WireError::BadLength);
}

TEST(Gikev2Reject, ProtocolRules)
{
	GsaPayload g;
	g.teks = {tek_v4()};
	Bytes tek = encode_gsa(g).value();

	// ESP policy with an SPI size of 16
	Bytes b = tek;
	b[1] = 16;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadValue);
	// unknown protocol 9
	b = tek;
	b[0] = 9;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::Unsupported);
	// Last Substruc 2
	b = tek;
	b[40] = 2;
	EXPECT_EQ(decode_gsa(b).error().code, WireError::BadValue);
	// ESP without SN
	g.teks[0].transforms.pop_back();
	EXPECT_EQ(encode_gsa(g).error().code, WireError::Missing);
	// two ENCR transforms
	g.teks[0] = tek_v4();
	g.teks[0].transforms.push_back(g.teks[0].transforms[0]);
	EXPECT_EQ(encode_gsa(g).error().code, WireError::Duplicate);
	// KWA in an ESP policy
	g.teks[0] = tek_v4();
	g.teks[0].transforms.push_back(transform(TransformType::KeyWrapAlgorithm, 3));
	EXPECT_EQ(encode_gsa(g).error().code, WireError::BadValue);
	// GSA_INITIAL_MESSAGE_ID outside the KEK
	g.teks[0] = tek_v4();
	g.teks[0].initial_message_id = 1;
	EXPECT_EQ(encode_gsa(g).error().code, WireError::BadValue);
	// GSA_NEXT_SPI of the wrong size
	g.teks[0] = tek_v4();
	g.teks[0].next_spis = {hex("112233")};
	EXPECT_EQ(encode_gsa(g).error().code, WireError::BadLength);
	// two KEKs
	GsaPayload gg;
	gg.kek = kek();
	Bytes one = encode_gsa(gg).value();
	EXPECT_EQ(decode_gsa(concat({one, one})).error().code, WireError::Duplicate);
	// GSA without KEK or TEK
	EXPECT_EQ(decode_gsa(hex("00 00 0008 8001 0001")).error().code, WireError::Missing);
	EXPECT_EQ(decode_gsa(Bytes{}).error().code, WireError::Missing);
	// two GSA_KEY_LIFETIME
	Bytes twice = concat({tek, hex("0001 0004 00000001")});
	twice[3] += 8;
	EXPECT_EQ(decode_gsa(twice).error().code, WireError::Duplicate);
	// GWP_ATD as TLV
	EXPECT_EQ(decode_gsa(concat({tek, hex("00 00 000a 0001 0002 0001")})).error().code, WireError::BadValue);
}

TEST(Gikev2Reject, KeyBagRules)
{
	// AH/ESP key bag with two SA_KEYs
	KeyDownloadPayload kd = full_kd();
	kd.group_key_bags[0].sa_keys.push_back(kd.group_key_bags[0].sa_keys[0]);
	EXPECT_EQ(encode_key_download(kd).error().code, WireError::Duplicate);
	// SA_KEY with a Key ID in an AH/ESP key bag (only the Rekey SA's bag
	// holds intermediate keys, Key ID not 0)
	kd = full_kd();
	kd.group_key_bags[0].sa_keys[0].key_id = 1;
	EXPECT_EQ(encode_key_download(kd).error().code, WireError::BadValue);
	// a Rekey SA's key bag of intermediate keys only: no SA_KEY
	kd = full_kd();
	for (WrappedKey &k : kd.group_key_bags[1].sa_keys)
		k.key_id = 1;
	EXPECT_EQ(encode_key_download(kd).error().code, WireError::Missing);
	// WRAP_KEY with Key ID 0
	kd = full_kd();
	kd.member_key_bag->wrap_keys[0].key_id = 0;
	EXPECT_EQ(encode_key_download(kd).error().code, WireError::BadValue);
	// group key bag without SA_KEY
	EXPECT_EQ(decode_key_download(hex("03 04 0008 11223344")).error().code, WireError::Missing);
	// SA_KEY holding only the two IDs
	EXPECT_EQ(decode_key_download(hex("03 04 0014 11223344 0001 0008 00000000 00000000")).error().code,
		  WireError::BadLength);
	// two member key bags
	EXPECT_EQ(decode_key_download(hex("00 00 000a 0003 0002 0001 00 00 000a 0003 0002 0002")).error().code,
		  WireError::Duplicate);
	// two AUTH_KEYs
	EXPECT_EQ(decode_key_download(hex("00 00 000e 0002 0001 aa 0002 0001 bb")).error().code,
		  WireError::Duplicate);
	EXPECT_EQ(decode_key_download(Bytes{}).error().code, WireError::Missing);
}

TEST(Gikev2Reject, NotifyRules)
{
	// GROUP_SENDER with 3 octets
	EXPECT_EQ(decode_notify(hex("00 00 402d 000002")).error().code, WireError::BadLength);
	// INVALID_GROUP_ID with a protocol
	EXPECT_EQ(decode_notify(hex("03 00 002d")).error().code, WireError::BadValue);
	// INVALID_GROUP_ID data is ignored, so it may be present
	EXPECT_TRUE(decode_notify(hex("00 00 002d 01")).ok());
	EXPECT_FALSE(group_sender_count(NotifyPayload{0, {}, 45, hex("00000001")}).ok());
}

TEST(Gikev2Reject, IdentificationRules)
{
	EXPECT_EQ(decode_identification(hex("01000000 c00002")).error().code, WireError::BadLength);
	EXPECT_EQ(decode_identification(hex("05000000 c0000201")).error().code, WireError::BadLength);
	EXPECT_EQ(decode_identification(hex("00000000 01")).error().code, WireError::BadValue);
}

TEST(Gikev2Reject, DeleteRules)
{
	EXPECT_EQ(decode_delete(concat({hex("03 10 0001"), repeat(0, 16)})).error().code, WireError::BadValue);
	EXPECT_EQ(decode_delete(hex("00 04 0001 11223344")).error().code, WireError::BadValue);
	EXPECT_EQ(decode_delete(hex("03 04 0000")).error().code, WireError::Missing);
}

TEST(Gikev2Reject, GarbageNeverDecodesOutOfBounds)
{
	// random bodies: decoders either accept (and then re-encode to bytes
	// that decode to the same struct) or return an error
	std::mt19937 rng(848);
	for (int i = 0; i < 20000; i++) {
		Bytes b(rng() % 96);
		for (auto &x : b)
			x = static_cast<uint8_t>(rng());
		if (i % 2 && b.size() > 4) {
			// make the first substructure's length plausible
			b[2] = 0;
			b[3] = static_cast<uint8_t>(b.size());
		}
		auto g = decode_gsa(b);
		if (g.ok()) {
			EXPECT_TRUE(decode_gsa(encode_gsa(g.value()).value()).value() == g.value());
		}
		auto k = decode_key_download(b);
		if (k.ok()) {
			EXPECT_TRUE(decode_key_download(encode_key_download(k.value()).value()).value() == k.value());
		}
		decode_notify(b);
		decode_delete(b);
		decode_identification(b);
		decode_auth(b);
	}
}
