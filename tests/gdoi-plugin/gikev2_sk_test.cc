// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_sk.h"

#include <gtest/gtest.h>

#include "gikev2.h"
#include "gikev2_payloads.h"
#include "gikev2_test_util.h"

using namespace groupsec::gdoi;
using groupsec::gdoi::test::hex;
using groupsec::gdoi::test::repeat;

namespace {

SkKeys gcm_keys(size_t key_size = 32)
{
	SkKeys k;
	k.cipher = SkCipher::AesGcm16;
	k.encryption_key = repeat(0x4b, key_size);
	k.salt = hex("01020304");
	return k;
}

SkKeys cbc_keys(size_t key_size = 16)
{
	SkKeys k;
	k.cipher = SkCipher::AesCbcHmacSha256;
	k.encryption_key = repeat(0x4c, key_size);
	k.integrity_key = repeat(0x49, 32);
	return k;
}

IkeHeader rekey_header()
{
	IkeHeader h;
	h.initiator_spi = 0x0102030405060708ull;
	h.responder_spi = 0x1112131415161718ull;
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRekey);
	h.message_id = 5;
	return h;
}

std::vector<Payload> rekey_payloads()
{
	Payload n{static_cast<uint8_t>(PayloadType::Notify), false, encode_notify(make_group_sender_notify(3)).value()};
	Payload d{static_cast<uint8_t>(PayloadType::Delete), false,
		  encode_delete(DeletePayload{3, 4, {hex("11223344")}}).value()};
	Payload unknown{199, false, hex("c0ffee1234")};
	return {n, d, unknown};
}

class SkBothCiphers : public ::testing::TestWithParam<SkCipher> {
protected:
	SkKeys keys() const { return GetParam() == SkCipher::AesGcm16 ? gcm_keys() : cbc_keys(); }
	Bytes iv() const { return repeat(0x1f, sk_iv_size(GetParam())); }
};

} // namespace

TEST_P(SkBothCiphers, SealThenOpenGivesThePayloadsBack)
{
	std::vector<Payload> clear = {Payload{static_cast<uint8_t>(PayloadType::Nonce), false, repeat(7, 32)}};
	auto sealed = seal_message(rekey_header(), clear, rekey_payloads(), keys(), iv());
	ASSERT_TRUE(sealed.ok()) << sealed.error().message;
	const Bytes &msg = sealed.value();
	// length in the header matches, SK is framed as a payload
	EXPECT_EQ(msg[24] << 24 | msg[25] << 16 | msg[26] << 8 | msg[27], static_cast<int>(msg.size()));
	EXPECT_EQ(msg[16], static_cast<uint8_t>(PayloadType::Nonce));

	auto opened = open_message(msg, keys());
	ASSERT_TRUE(opened.ok()) << opened.error().message;
	EXPECT_EQ(opened.value().inner, rekey_payloads());
	EXPECT_EQ(opened.value().message.payloads, clear);
	EXPECT_EQ(opened.value().message.header.message_id, 5u);
	ASSERT_TRUE(opened.value().message.encrypted.has_value());
	EXPECT_EQ(opened.value().message.encrypted->first_inner, static_cast<uint8_t>(PayloadType::Notify));
	// the plaintext does not appear in the message
	Bytes needle = hex("c0ffee1234");
	EXPECT_EQ(std::search(msg.begin(), msg.end(), needle.begin(), needle.end()), msg.end());
}

TEST_P(SkBothCiphers, EmptySkRoundTrips)
{
	auto sealed = seal_message(rekey_header(), {}, {}, keys(), iv());
	ASSERT_TRUE(sealed.ok()) << sealed.error().message;
	EXPECT_EQ(sealed.value()[16], static_cast<uint8_t>(PayloadType::Encrypted));
	auto opened = open_message(sealed.value(), keys());
	ASSERT_TRUE(opened.ok()) << opened.error().message;
	EXPECT_TRUE(opened.value().inner.empty());
	EXPECT_EQ(opened.value().message.encrypted->first_inner, 0);
}

TEST_P(SkBothCiphers, EveryFlippedBitIsDetected)
{
	Bytes msg = seal_message(rekey_header(), {}, rekey_payloads(), keys(), iv()).value();
	size_t sk_body = kIkeHeaderSize + kGenericPayloadHeaderSize;
	for (size_t i = 0; i < msg.size(); i++) {
		for (int bit = 0; bit < 8; bit++) {
			Bytes t = msg;
			t[i] ^= static_cast<uint8_t>(1 << bit);
			auto r = open_message(t, keys());
			ASSERT_FALSE(r.ok()) << "flip at " << i << " bit " << bit;
			// SPIs, exchange, flags, message ID, IV, ciphertext and ICV are
			// covered by the ICV; the framing fields fail parsing first
			bool framing = (i >= 16 && i < 18) || (i >= 24 && i < sk_body);
			if (!framing) {
				EXPECT_EQ(r.error().code, WireError::IntegrityFailed) << "flip at " << i;
			}
		}
	}
}

TEST_P(SkBothCiphers, WrongKeyFailsIntegrity)
{
	Bytes msg = seal_message(rekey_header(), {}, rekey_payloads(), keys(), iv()).value();
	SkKeys other = keys();
	other.encryption_key[0] ^= 1;
	if (GetParam() == SkCipher::AesCbcHmacSha256) {
		// CBC checks the MAC, not the cipher key: a wrong integrity key fails
		other = keys();
		other.integrity_key[31] ^= 1;
	}
	auto r = open_message(msg, other);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, WireError::IntegrityFailed);
}

TEST_P(SkBothCiphers, TruncatedMessagesAreRejected)
{
	Bytes msg = seal_message(rekey_header(), {}, rekey_payloads(), keys(), iv()).value();
	for (size_t n = 0; n < msg.size(); n++) {
		Bytes t(msg.begin(), msg.begin() + n);
		if (n >= kIkeHeaderSize) {
			t[26] = static_cast<uint8_t>(n >> 8);
			t[27] = static_cast<uint8_t>(n);
		}
		if (n >= kIkeHeaderSize + kGenericPayloadHeaderSize) {
			size_t sk_len = n - kIkeHeaderSize;
			t[30] = static_cast<uint8_t>(sk_len >> 8);
			t[31] = static_cast<uint8_t>(sk_len);
		}
		EXPECT_FALSE(open_message(t, keys()).ok()) << n;
	}
}

TEST_P(SkBothCiphers, BadKeyAndIvSizes)
{
	SkKeys k = keys();
	k.encryption_key.resize(15);
	EXPECT_EQ(seal_message(rekey_header(), {}, {}, k, iv()).error().code, WireError::BadKey);
	EXPECT_EQ(seal_message(rekey_header(), {}, {}, keys(), repeat(0, 7)).error().code, WireError::BadKey);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, SkBothCiphers,
			 ::testing::Values(SkCipher::AesGcm16, SkCipher::AesCbcHmacSha256),
			 [](const ::testing::TestParamInfo<SkCipher> &i) {
				 return i.param == SkCipher::AesGcm16 ? std::string("AesGcm16")
								      : std::string("AesCbcHmacSha256");
			 });

TEST(Gikev2Sk, CbcCiphertextIsWholeBlocks)
{
	for (size_t body = 0; body < 40; body++) {
		std::vector<Payload> inner = {Payload{199, false, repeat(1, body)}};
		Bytes msg = seal_message(rekey_header(), {}, inner, cbc_keys(32), repeat(2, 16)).value();
		size_t ct = msg.size() - kIkeHeaderSize - kGenericPayloadHeaderSize - 16 - 16;
		EXPECT_EQ(ct % 16, 0u) << body;
		auto opened = open_message(msg, cbc_keys(32));
		ASSERT_TRUE(opened.ok()) << opened.error().message;
		EXPECT_EQ(opened.value().inner, inner);
	}
}

TEST(Gikev2Sk, GcmHasNoPaddingAndAllKeySizes)
{
	std::vector<Payload> inner = {Payload{199, false, repeat(1, 5)}};
	for (size_t ks : {16, 24, 32}) {
		Bytes msg = seal_message(rekey_header(), {}, inner, gcm_keys(ks), repeat(2, 8)).value();
		// header + SK header + IV + (9-octet payload + pad length) + ICV
		EXPECT_EQ(msg.size(), kIkeHeaderSize + 4 + 8 + 10 + 16);
		auto opened = open_message(msg, gcm_keys(ks));
		ASSERT_TRUE(opened.ok()) << opened.error().message;
		EXPECT_EQ(opened.value().inner, inner);
		EXPECT_FALSE(open_message(msg, gcm_keys(ks == 16 ? 32 : 16)).ok());
	}
}

TEST(Gikev2Sk, GcmSaltIsPartOfTheNonce)
{
	Bytes msg = seal_message(rekey_header(), {}, rekey_payloads(), gcm_keys(), repeat(3, 8)).value();
	SkKeys k = gcm_keys();
	k.salt = hex("01020305");
	EXPECT_EQ(open_message(msg, k).error().code, WireError::IntegrityFailed);
}

TEST(Gikev2Sk, MessageWithoutSkIsMissing)
{
	Message m;
	m.header = rekey_header();
	m.payloads = {Payload{199, false, hex("00")}};
	EXPECT_EQ(open_message(encode_message(m).value(), gcm_keys()).error().code, WireError::Missing);
}

// Known answers: HDR(GSA_REKEY, msg ID 2), SK{N(GROUP_SENDER, 1)}.
// AES-GCM-16, key 16 x 4b, salt 01020304, IV 8 x 1f: the AAD is the 28-octet
// header and the 4-octet SK header; the plaintext is the notify and Pad
// Length 0.
// AES-CBC-128, key 16 x 4c, IV 16 x 1f, HMAC key 32 x 49: the plaintext is
// padded with 3 zeros + Pad Length 3; the ICV is HMAC-SHA-256 over all that
// precedes it, cut to 16 octets.
TEST(Gikev2Sk, KnownAnswers)
{
	IkeHeader h;
	h.initiator_spi = 0x0102030405060708ull;
	h.responder_spi = 0x1112131415161718ull;
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRekey);
	h.message_id = 2;
	std::vector<Payload> inner = {Payload{41, false, hex("0000402d 00000001")}};
	Bytes gcm = hex("0102030405060708 1112131415161718 2e 20 29 00 00000002 00000045"
			"29 00 0029 1f1f1f1f1f1f1f1f"
			"2d54c4229294bbce3cd4e8729d c352f7b9ba831226613ebec2b808ef6b");
	SkKeys gk = gcm_keys(16);
	EXPECT_EQ(seal_message(h, {}, inner, gk, repeat(0x1f, 8)).value(), gcm);
	auto og = open_message(gcm, gk);
	ASSERT_TRUE(og.ok()) << og.error().message;
	EXPECT_EQ(og.value().inner, inner);

	Bytes cbc = hex("0102030405060708 1112131415161718 2e 20 29 00 00000002 00000050"
			"29 00 0034 1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f"
			"4a3c7bd0710000f317301a8f6eebed2e"
			"cb9c096d9598de931676eb809eb450d6");
	SkKeys ck = cbc_keys(16);
	EXPECT_EQ(seal_message(h, {}, inner, ck, repeat(0x1f, 16)).value(), cbc);
	auto oc = open_message(cbc, ck);
	ASSERT_TRUE(oc.ok()) << oc.error().message;
	EXPECT_EQ(oc.value().inner, inner);
}
