// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/crypto: key wrap (RFC 5649 vectors), hashes and PRFs
// (RFC 4231, RFC 5869 vectors), AES-CBC (NIST SP 800-38A), randomness and
// clock.
#include <gtest/gtest.h>

#include "groupsec/base/hex.h"
#include "groupsec/crypto/aead.h"
#include "groupsec/crypto/cbc.h"
#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/key_wrap.h"
#include "groupsec/crypto/prf.h"
#include "groupsec/crypto/random.h"

namespace groupsec::crypto {
namespace {

Bytes h(const char *s)
{
	return *parse_hex(s);
}

// NIST SP 800-38A F.2.5 and F.2.6 (CBC-AES256).
TEST(AesCbc, Sp80038aVector)
{
	Bytes key = h("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
	Bytes iv = h("000102030405060708090a0b0c0d0e0f");
	Bytes plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
			"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
	const char *cipher = "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
			     "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";
	auto c = aes_cbc_encrypt(key, iv, plain);
	ASSERT_TRUE(c.ok()) << c.error().message;
	EXPECT_EQ(to_hex(c.value()), cipher);
	auto p = aes_cbc_decrypt(key, iv, c.value());
	ASSERT_TRUE(p.ok()) << p.error().message;
	EXPECT_EQ(p.value(), plain);
	// in place
	Bytes buf = plain;
	EXPECT_FALSE(aes_cbc_encrypt_to(key, iv, buf, buf.data()));
	EXPECT_EQ(to_hex(buf), cipher);
}

TEST(AesCbc, RefusesWrongSizes)
{
	Bytes block(16, 0);
	EXPECT_EQ(aes_cbc_encrypt(Bytes(15, 1), block, block).error().code, WireError::BadKey);
	EXPECT_EQ(aes_cbc_encrypt(Bytes(16, 1), Bytes(8, 0), block).error().code, WireError::BadLength);
	EXPECT_EQ(aes_cbc_encrypt(Bytes(16, 1), block, Bytes(17, 0)).error().code, WireError::BadLength);
	EXPECT_EQ(aes_cbc_decrypt(Bytes(24, 1), block, Bytes(15, 0)).error().code, WireError::BadLength);
	EXPECT_TRUE(aes_cbc_encrypt(Bytes(24, 1), block, block).ok());
}

TEST(KeyWrap, Rfc5649Vectors)
{
	Bytes kek = h("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
	auto w = key_wrap(kek, h("c37b7e6492584340bed12207808941155068f738"));
	ASSERT_TRUE(w.ok()) << w.error().message;
	EXPECT_EQ(to_hex(w.value()), "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
	auto w7 = key_wrap(kek, h("466f7250617369"));
	ASSERT_TRUE(w7.ok());
	EXPECT_EQ(to_hex(w7.value()), "afbeb0f07dfbf5419200f2ccb50bb24f");
	auto u = key_unwrap(kek, w.value());
	ASSERT_TRUE(u.ok());
	EXPECT_EQ(to_hex(u.value()), "c37b7e6492584340bed12207808941155068f738");
}

TEST(KeyWrap, EveryKeySizeRoundTrips)
{
	KeyWrap w;
	Bytes plain(32, 0x5a);
	for (size_t n : {16u, 24u, 32u}) {
		Bytes kek(n, 0x11);
		auto c = w.wrap(kek, plain);
		ASSERT_TRUE(c.ok());
		EXPECT_EQ(c.value().size(), 40u);
		auto p = w.unwrap(kek, c.value());
		ASSERT_TRUE(p.ok());
		EXPECT_EQ(Bytes(p.value()), plain);
	}
}

TEST(KeyWrap, RefusesWhatItCannotUse)
{
	Bytes kek(32, 1), plain(32, 2);
	EXPECT_EQ(key_wrap(Bytes(20, 1), plain).error().code, WireError::BadKey);
	EXPECT_EQ(key_wrap(kek, Bytes()).error().code, WireError::BadLength);
	EXPECT_EQ(key_wrap(kek, Bytes(kMaxWrapPlain + 1)).error().code, WireError::BadLength);
	auto c = key_wrap(kek, plain).value();
	EXPECT_EQ(key_unwrap(kek, ByteView(c.data(), 7)).error().code, WireError::BadLength);
	EXPECT_EQ(key_unwrap(kek, ByteView(c.data(), 12)).error().code, WireError::BadLength);
	Bytes other(32, 3);
	EXPECT_EQ(key_unwrap(other, c).error().code, WireError::IntegrityFailed);
	c[5] ^= 1;
	EXPECT_EQ(key_unwrap(kek, c).error().code, WireError::IntegrityFailed);
}

TEST(KeyWrap, CopyHasItsOwnContext)
{
	KeyWrap a;
	KeyWrap b = a;
	Bytes kek(16, 9), plain(16, 8);
	EXPECT_EQ(a.wrap(kek, plain).value(), b.wrap(kek, plain).value());
}

TEST(Prf, Sha256)
{
	const char abc[] = "abc";
	EXPECT_EQ(to_hex(sha256(ByteView(reinterpret_cast<const uint8_t *>(abc), 3))),
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Prf, HmacSha256Rfc4231Case2)
{
	std::string key = "Jefe", data = "what do ya want for nothing?";
	auto m = hmac_sha256(Bytes(key.begin(), key.end()), Bytes(data.begin(), data.end()));
	EXPECT_EQ(to_hex(m), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Prf, PrfPlusIsChainedHmac)
{
	Bytes key(32, 7), seed{1, 2, 3};
	SecretBytes out = prf_plus(key, seed, 70);
	ASSERT_EQ(out.size(), 70u);
	Bytes in1 = seed;
	in1.push_back(1);
	SecretBytes t1 = hmac_sha256(key, in1);
	Bytes in2(t1.begin(), t1.end());
	in2.insert(in2.end(), seed.begin(), seed.end());
	in2.push_back(2);
	SecretBytes t2 = hmac_sha256(key, in2);
	EXPECT_TRUE(std::equal(t1.begin(), t1.end(), out.begin()));
	EXPECT_TRUE(std::equal(t2.begin(), t2.end(), out.begin() + 32));
	EXPECT_TRUE(prf_plus(key, seed, 255 * 32 + 1).empty());
}

TEST(Prf, HkdfRfc5869Case3)
{
	Bytes ikm(22, 0x0b);
	Key256 k = hkdf_sha256(ikm, "");
	EXPECT_EQ(to_hex(ByteView(k.data(), k.size())),
		  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
}

TEST(Prf, ConstantTimeEqual)
{
	EXPECT_TRUE(equal(Bytes{1, 2}, Bytes{1, 2}));
	EXPECT_FALSE(equal(Bytes{1, 2}, Bytes{1, 3}));
	EXPECT_FALSE(equal(Bytes{1, 2}, Bytes{1}));
	EXPECT_TRUE(equal(Bytes{}, Bytes{}));
}

// McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 3
// and 4 (AES-128, 96-bit IV).
TEST(Aead, GcmVectors)
{
	Bytes key = h("feffe9928665731c6d6a8f9467308308"), nonce = h("cafebabefacedbaddecaf888");
	Bytes plain = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
			"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
	auto c3 = aes_gcm_seal(key, nonce, Bytes(), plain);
	ASSERT_TRUE(c3.ok());
	EXPECT_EQ(to_hex(c3.value()), "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
				      "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
				      "4d5c2af327cd64a62cf35abd2ba6fab4");
	Bytes aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
	Bytes p4(plain.begin(), plain.begin() + 60);
	auto c4 = aes_gcm_seal(key, nonce, aad, p4);
	ASSERT_TRUE(c4.ok());
	EXPECT_EQ(to_hex(ByteView(c4.value().data() + 60, 16)), "5bc94fbc3221a5db94fae95ae7121a47");
	auto back = aes_gcm_open(key, nonce, aad, ByteView(c4.value().data(), 60), ByteView(c4.value().data() + 60, 16));
	ASSERT_TRUE(back.ok());
	EXPECT_EQ(Bytes(back.value()), p4);
}

TEST(Aead, GcmRefusesChangesAndBadSizes)
{
	Bytes key(32, 1), nonce(12, 2), aad{1, 2, 3}, plain{4, 5, 6};
	Bytes sealed = aes_gcm_seal(key, nonce, aad, plain).value();
	ByteView ct(sealed.data(), 3), tag(sealed.data() + 3, 16);
	EXPECT_TRUE(aes_gcm_open(key, nonce, aad, ct, tag).ok());
	EXPECT_EQ(aes_gcm_open(key, nonce, Bytes{1, 2}, ct, tag).error().code, WireError::IntegrityFailed);
	Bytes changed = sealed;
	changed[0] ^= 1;
	EXPECT_EQ(aes_gcm_open(key, nonce, aad, ByteView(changed.data(), 3), tag).error().code,
		  WireError::IntegrityFailed);
	EXPECT_EQ(aes_gcm_open(key, Bytes(12, 3), aad, ct, tag).error().code, WireError::IntegrityFailed);
	EXPECT_EQ(aes_gcm_seal(Bytes(20, 1), nonce, aad, plain).error().code, WireError::BadKey);
	EXPECT_EQ(aes_gcm_seal(key, Bytes(8, 1), aad, plain).error().code, WireError::BadLength);
	EXPECT_EQ(aes_gcm_open(key, nonce, aad, ct, ByteView(tag.data(), 8)).error().code, WireError::BadLength);
	// empty plaintext and AAD: the tag alone
	auto empty = aes_gcm_seal(key, nonce, Bytes(), Bytes());
	ASSERT_TRUE(empty.ok());
	EXPECT_EQ(empty.value().size(), kGcmTagBytes);
	EXPECT_TRUE(aes_gcm_open(key, nonce, Bytes(), Bytes(), empty.value()).ok());
}

class CountingRandom : public RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = next++;
	}
	uint8_t next = 0;
};

TEST(Random, KeyDrawsThroughFill)
{
	CountingRandom r;
	Key256 k = r.key();
	EXPECT_EQ(k[0], 0);
	EXPECT_EQ(k[31], 31);
	EXPECT_EQ(r.next, 32);
}

TEST(Random, OpenSslGivesDifferentKeys)
{
	OpenSslRandom r;
	EXPECT_NE(r.key(), r.key());
}

TEST(Clock, MonotonicDoesNotGoBack)
{
	MonotonicClock c;
	uint64_t a = c.now_ms();
	EXPECT_GE(c.now_ms(), a);
}

} // namespace
} // namespace groupsec::crypto
