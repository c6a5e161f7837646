// SPDX-License-Identifier: GPL-2.0-or-later
// Known answers and rejections for the IKE key exchange, prf, key
// derivation, key wrap and the SA/KE payload codecs.
#include <gtest/gtest.h>

#include <string>

#include "gikev2_test_util.h"
#include "ike/ike_crypto.h"
#include "ike/ike_sa_payload.h"

namespace groupsec::gdoi::test {
namespace {

Bytes text(const std::string &s)
{
	return Bytes(s.begin(), s.end());
}

TEST(IkeCrypto, PrfIsHmacSha256)
{
	// RFC 4231 test case 2
	EXPECT_EQ(ike::prf(text("Jefe"), text("what do ya want for nothing?")),
		  hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST(IkeCrypto, PrfPlusChainsBlocks)
{
	Bytes k = text("key"), s = text("seed");
	Bytes t1 = ike::prf(k, concat({s, {0x01}}));
	Bytes t2 = ike::prf(k, concat({t1, s, {0x02}}));
	Bytes t3 = ike::prf(k, concat({t2, s, {0x03}}));
	Bytes all = concat({t1, t2, t3});
	EXPECT_EQ(ike::prf_plus(k, s, 70), Bytes(all.begin(), all.begin() + 70));
	EXPECT_EQ(ike::prf_plus(k, s, 32), t1);
}

TEST(IkeCrypto, Curve25519KnownAnswer)
{
	// RFC 7748 6.1
	auto a = ike::DhKey::from_private(31, hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(a.value()->public_value(), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
	auto s = a.value()->shared_secret(hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
	ASSERT_TRUE(s.ok());
	EXPECT_EQ(s.value(), hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
	EXPECT_FALSE(a.value()->shared_secret(Bytes(32, 0)).ok()) << "small-order point gives all zeros";
	EXPECT_EQ(a.value()->shared_secret(Bytes(31, 9)).error().code, WireError::BadLength);
}

TEST(IkeCrypto, Ecp256KnownAnswer)
{
	// RFC 5903 8.1
	auto i = ike::DhKey::from_private(19, hex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"));
	ASSERT_TRUE(i.ok());
	EXPECT_EQ(i.value()->public_value(),
		  hex("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
		      "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"));
	auto s = i.value()->shared_secret(hex("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
					      "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB"));
	ASSERT_TRUE(s.ok());
	EXPECT_EQ(s.value(), hex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"));
	Bytes off_curve = i.value()->public_value();
	off_curve.back() ^= 1;
	EXPECT_EQ(i.value()->shared_secret(off_curve).error().code, WireError::BadValue);
	EXPECT_EQ(ike::DhKey::from_private(19, Bytes(32, 0)).error().code, WireError::BadValue);
	EXPECT_EQ(ike::DhKey::from_private(19, Bytes(32, 0xff)).error().code, WireError::BadValue);
	EXPECT_EQ(ike::DhKey::from_private(14, Bytes(32, 1)).error().code, WireError::Unsupported);
}

TEST(IkeCrypto, GeneratedKeysAgree)
{
	uint8_t n = 1;
	auto draw = [&](uint8_t *o, size_t len) {
		for (size_t i = 0; i < len; i++)
			o[i] = n++;
	};
	for (uint16_t g : {uint16_t(19), uint16_t(31)}) {
		auto a = ike::DhKey::generate(g, draw);
		auto b = ike::DhKey::generate(g, draw);
		ASSERT_TRUE(a.ok() && b.ok());
		EXPECT_EQ(a.value()->public_value().size(), ike::dh_public_size(g));
		auto ab = a.value()->shared_secret(b.value()->public_value());
		auto ba = b.value()->shared_secret(a.value()->public_value());
		ASSERT_TRUE(ab.ok() && ba.ok());
		EXPECT_EQ(ab.value(), ba.value());
	}
}

TEST(IkeCrypto, IkeKeysFollowRfc7296)
{
	Bytes ni(32, 1), nr(32, 2), shared(32, 3);
	Bytes skeyseed = ike::prf(concat({ni, nr}), shared);
	Bytes seed = concat({ni, nr, hex("0102030405060708 1112131415161718")});
	Bytes km = ike::prf_plus(skeyseed, seed, 32 + 36 * 2 + 64);
	auto k = ike::derive_ike_keys(SkCipher::AesGcm16, 32, ni, nr, shared, 0x0102030405060708, 0x1112131415161718);
	EXPECT_EQ(k.sk_d, Bytes(km.begin(), km.begin() + 32));
	EXPECT_EQ(k.initiator.encryption_key, Bytes(km.begin() + 32, km.begin() + 64));
	EXPECT_EQ(k.initiator.salt, Bytes(km.begin() + 64, km.begin() + 68));
	EXPECT_EQ(k.responder.encryption_key, Bytes(km.begin() + 68, km.begin() + 100));
	EXPECT_EQ(k.sk_pi, Bytes(km.begin() + 104, km.begin() + 136));
	EXPECT_EQ(k.sk_pr, Bytes(km.begin() + 136, km.end()));
	EXPECT_TRUE(k.initiator.integrity_key.empty());

	auto c = ike::derive_ike_keys(SkCipher::AesCbcHmacSha256, 32, ni, nr, shared, 1, 2);
	EXPECT_EQ(c.initiator.integrity_key.size(), 32u);
	EXPECT_EQ(c.responder.encryption_key.size(), 32u);
	EXPECT_NE(c.initiator.integrity_key, c.responder.integrity_key);

	const std::string label = "Key Wrap for G-IKEv2";
	EXPECT_EQ(ike::default_kwk(k.sk_d, 32), ike::prf_plus(k.sk_d, text(label), 32));
}

TEST(IkeCrypto, SharedKeyAuth)
{
	Bytes octets = ike::signed_octets(text("message1"), text("nonce"), text("skp"), text("idbody"));
	EXPECT_EQ(octets, concat({text("message1"), text("nonce"), ike::prf(text("skp"), text("idbody"))}));
	Bytes auth = ike::psk_auth(text("secret"), octets);
	EXPECT_EQ(auth, ike::prf(ike::prf(text("secret"), text("Key Pad for IKEv2")), octets));
	EXPECT_NE(auth, ike::psk_auth(text("secreT"), octets));
}

TEST(IkeCrypto, KeyWrapRfc5649)
{
	Bytes kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
	auto w = ike::key_wrap(kek, hex("c37b7e6492584340bed12207808941155068f738"));
	ASSERT_TRUE(w.ok());
	EXPECT_EQ(w.value(), hex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"));
	auto w2 = ike::key_wrap(kek, hex("466f7250617369"));
	ASSERT_TRUE(w2.ok());
	EXPECT_EQ(w2.value(), hex("afbeb0f07dfbf5419200f2ccb50bb24f"));
	auto u = ike::key_unwrap(kek, w.value());
	ASSERT_TRUE(u.ok());
	EXPECT_EQ(u.value(), hex("c37b7e6492584340bed12207808941155068f738"));
	Bytes bad = w.value();
	bad[5] ^= 1;
	EXPECT_EQ(ike::key_unwrap(kek, bad).error().code, WireError::IntegrityFailed);
	EXPECT_EQ(ike::key_unwrap(Bytes(32, 1), w.value()).error().code, WireError::IntegrityFailed);
	EXPECT_EQ(ike::key_unwrap(kek, Bytes(12, 0)).error().code, WireError::BadLength);
	EXPECT_EQ(ike::key_wrap(Bytes(20, 0), Bytes(16, 0)).error().code, WireError::BadKey);
}

TEST(IkeSaPayload, RoundTripAndRejects)
{
	ike::Proposal p;
	p.transforms.push_back(Transform{1, 20, {make_tv_attribute(14, 256)}});
	p.transforms.push_back(Transform{2, 5, {}});
	p.transforms.push_back(Transform{4, 19, {}});
	ike::Proposal q = p;
	q.number = 2;
	q.transforms[2].id = 31;
	auto b = ike::encode_sa({p, q});
	ASSERT_TRUE(b.ok());
	// proposal 1: 8 + 3 transforms (12 + 8 + 8)
	EXPECT_EQ(b.value()[0], 2);
	EXPECT_EQ(b.value()[3], 36);
	auto d = ike::decode_sa(b.value());
	ASSERT_TRUE(d.ok());
	ASSERT_EQ(d.value().size(), 2u);
	EXPECT_EQ(d.value()[1].transforms[2].id, 31);
	EXPECT_EQ(ike::key_length(d.value()[0].transforms[0]), 256);
	for (size_t n = 0; n < b.value().size(); n++)
		EXPECT_FALSE(ike::decode_sa(ByteView(b.value().data(), n)).ok()) << n;
	Bytes bad = b.value();
	bad[4] = 0; // proposal number 0
	EXPECT_EQ(ike::decode_sa(bad).error().code, WireError::BadValue);
	bad = b.value();
	bad[7] = 4; // more transforms than present
	EXPECT_FALSE(ike::decode_sa(bad).ok());
	Bytes extra = b.value();
	extra.push_back(0);
	EXPECT_EQ(ike::decode_sa(extra).error().code, WireError::TrailingBytes);

	auto ke = ike::encode_ke(ike::KePayload{31, Bytes(32, 7)});
	ASSERT_TRUE(ke.ok());
	EXPECT_EQ(Bytes(ke.value().begin(), ke.value().begin() + 4), hex("001f0000"));
	auto k = ike::decode_ke(ke.value());
	ASSERT_TRUE(k.ok());
	EXPECT_EQ(k.value().group, 31);
	EXPECT_EQ(k.value().data, Bytes(32, 7));
	EXPECT_FALSE(ike::decode_ke(hex("001f00")).ok());
	EXPECT_FALSE(ike::decode_ke(hex("001f0000")).ok());
}

} // namespace
} // namespace groupsec::gdoi::test
