// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_message.h"

#include <gtest/gtest.h>

#include "gikev2.h"
#include "gikev2_test_util.h"

using namespace groupsec::gdoi;
using groupsec::gdoi::test::concat;
using groupsec::gdoi::test::hex;
using groupsec::gdoi::test::repeat;

namespace {

constexpr uint8_t kIdg = static_cast<uint8_t>(PayloadType::GroupId);
constexpr uint8_t kNotify = static_cast<uint8_t>(PayloadType::Notify);

IkeHeader gsa_auth_header()
{
	IkeHeader h;
	h.initiator_spi = 0x0102030405060708ull;
	h.responder_spi = 0x1112131415161718ull;
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaAuth);
	h.flags = kFlagInitiator;
	h.message_id = 1;
	return h;
}

// HDR(GSA_AUTH), IDg(KEY_ID "grp1"), N(GROUP_SENDER, 1)
const Bytes kGsaAuthRequest = hex(
	"0102030405060708 1112131415161718" // SPIi, SPIr
	"32 20 27 08 00000001 00000034" // next IDg, 2.0, GSA_AUTH, I, msg ID 1, length 52
	"29 00 000c 0b000000 67727031" // IDg -> N, KEY_ID "grp1"
	"00 00 000c 00 00 402d 00000001"); // N: GROUP_SENDER, 1 Sender-ID

Message gsa_auth_request()
{
	Message m;
	m.header = gsa_auth_header();
	m.header.next_payload = kIdg;
	m.header.length = 52;
	m.payloads = {Payload{kIdg, false, hex("0b000000 67727031")},
		      Payload{kNotify, false, hex("0000402d 00000001")}};
	return m;
}

} // namespace

TEST(Gikev2Header, KnownAnswerHeader)
{
	IkeHeader h = gsa_auth_header();
	h.next_payload = kIdg;
	h.length = 52;
	Bytes enc = encode_ike_header(h);
	EXPECT_EQ(enc, Bytes(kGsaAuthRequest.begin(), kGsaAuthRequest.begin() + kIkeHeaderSize));
	auto d = decode_ike_header(enc);
	ASSERT_TRUE(d.ok());
	EXPECT_EQ(d.value(), h);
}

TEST(Gikev2Message, KnownAnswerGsaAuthRequest)
{
	auto m = decode_message(kGsaAuthRequest);
	ASSERT_TRUE(m.ok()) << m.error().message;
	EXPECT_TRUE(m.value() == gsa_auth_request());
	EXPECT_FALSE(m.value().encrypted.has_value());
	auto enc = encode_message(gsa_auth_request());
	ASSERT_TRUE(enc.ok());
	EXPECT_EQ(enc.value(), kGsaAuthRequest);
}

TEST(Gikev2Message, EncodeDerivesNextPayloadAndLength)
{
	Message m = gsa_auth_request();
	m.header.next_payload = 0;
	m.header.length = 0;
	EXPECT_EQ(encode_message(m).value(), kGsaAuthRequest);
}

TEST(Gikev2Message, UnknownNonCriticalPayloadIsSkippedAndKept)
{
	Message m = gsa_auth_request();
	m.payloads.insert(m.payloads.begin() + 1, Payload{200, false, hex("deadbeef")});
	Bytes enc = encode_message(m).value();
	auto d = decode_message(enc);
	ASSERT_TRUE(d.ok()) << d.error().message;
	ASSERT_EQ(d.value().payloads.size(), 3u);
	EXPECT_EQ(d.value().payloads[1], (Payload{200, false, hex("deadbeef")}));
	EXPECT_EQ(d.value().payloads[2].type, kNotify);
	EXPECT_EQ(encode_message(d.value()).value(), enc);
}

TEST(Gikev2Message, UnknownCriticalPayloadIsAnError)
{
	Message m = gsa_auth_request();
	m.payloads.push_back(Payload{200, true, hex("00")});
	auto d = decode_message(encode_message(m).value());
	ASSERT_FALSE(d.ok());
	EXPECT_EQ(d.error().code, WireError::UnsupportedCritical);
	// a known payload may carry the critical bit
	m.payloads.back().type = kNotify;
	EXPECT_TRUE(decode_message(encode_message(m).value()).ok());
}

TEST(Gikev2Message, EncryptedPayloadIsLastAndOpaque)
{
	Message m = gsa_auth_request();
	m.encrypted = EncryptedPayload{kIdg, false, repeat(0xee, 40)};
	Bytes enc = encode_message(m).value();
	// the last clear payload points at SK
	EXPECT_EQ(enc[40], static_cast<uint8_t>(PayloadType::Encrypted));
	auto d = decode_message(enc);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_TRUE(d.value().encrypted == m.encrypted);
	EXPECT_EQ(d.value().payloads, m.payloads);

	// SK followed by another payload
	Bytes bad = concat({enc, hex("00 00 0004")});
	bad[27] += 4;
	EXPECT_EQ(decode_message(bad).error().code, WireError::TrailingBytes);
}

TEST(Gikev2Message, MajorVersionMustBeTwo)
{
	Bytes b = kGsaAuthRequest;
	b[17] = 0x30;
	EXPECT_EQ(decode_message(b).error().code, WireError::BadVersion);
	b[17] = 0x21; // minor version is not checked
	EXPECT_TRUE(decode_message(b).ok());
}

TEST(Gikev2Message, LengthsMustMatch)
{
	Bytes b = kGsaAuthRequest;
	b[27] = 53; // header says more than the datagram holds
	EXPECT_EQ(decode_message(b).error().code, WireError::BadLength);
	b[27] = 51;
	EXPECT_EQ(decode_message(b).error().code, WireError::BadLength);

	b = kGsaAuthRequest;
	b[31] = 0x0d; // IDg one octet longer than present before N
	EXPECT_FALSE(decode_message(b).ok());
	b[31] = 0x03; // shorter than its own header
	EXPECT_EQ(decode_message(b).error().code, WireError::BadLength);
	b = kGsaAuthRequest;
	b[43] = 0x0d; // N runs past the end
	EXPECT_EQ(decode_message(b).error().code, WireError::BadLength);
}

TEST(Gikev2Message, TrailingBytesAfterTheLastPayload)
{
	Bytes b = concat({kGsaAuthRequest, hex("00000000")});
	b[27] = 56;
	EXPECT_EQ(decode_message(b).error().code, WireError::TrailingBytes);
}

TEST(Gikev2Message, EveryTruncationIsRejected)
{
	for (size_t n = 0; n < kGsaAuthRequest.size(); n++) {
		Bytes b(kGsaAuthRequest.begin(), kGsaAuthRequest.begin() + n);
		if (n >= kIkeHeaderSize)
			b[27] = static_cast<uint8_t>(n); // keep the header consistent
		EXPECT_FALSE(decode_message(b).ok()) << n;
	}
}

TEST(Gikev2Message, BodyTooLongForALength)
{
	Message m = gsa_auth_request();
	m.payloads[0].body = Bytes(0xffff - 3, 1);
	EXPECT_EQ(encode_message(m).error().code, WireError::BadLength);
	m.payloads[0].body.pop_back();
	EXPECT_TRUE(encode_message(m).ok());
}

TEST(Gikev2Message, NoSkInsideAChain)
{
	Bytes chain = hex("00 00 0008 01020304");
	auto c = decode_payload_chain(static_cast<uint8_t>(PayloadType::Encrypted), chain);
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().code, WireError::BadValue);
	Bytes out;
	EXPECT_FALSE(encode_payload_chain({Payload{46, false, {}}}, out).ok());
	EXPECT_TRUE(out.empty());
}

TEST(Gikev2Names, NotifyAndPayloadNames)
{
	EXPECT_EQ(notify_name(16429), "GROUP_SENDER");
	EXPECT_EQ(notify_name(45), "INVALID_GROUP_ID");
	EXPECT_EQ(notify_name(46), "AUTHORIZATION_FAILED");
	EXPECT_EQ(notify_name(999), "UNKNOWN");
	EXPECT_TRUE(payload_type_known(33));
	EXPECT_TRUE(payload_type_known(48));
	EXPECT_FALSE(payload_type_known(49));
	EXPECT_TRUE(payload_type_known(52));
	EXPECT_FALSE(payload_type_known(53));
	EXPECT_FALSE(payload_type_known(0));
	EXPECT_STREQ(wire_error_name(WireError::IntegrityFailed), "INTEGRITY_FAILED");
}
