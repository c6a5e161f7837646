// SPDX-License-Identifier: GPL-2.0-or-later
// The election messages' codec and the signers and verifiers.
#include "election_auth.h"
#include "election_core.h"
#include "election_msg.h"

#include <gtest/gtest.h>
#include <string>

#include "groupsec/base/hex.h"

using namespace groupsec;
using namespace groupsec::election;

namespace {

Bytes unhex(const std::string &h)
{
	return parse_hex(h).value();
}

Message candidacy()
{
	Message m;
	m.type = MessageType::Candidacy;
	m.auth = AuthMethod::GroupPsk;
	m.sequence = 0x0102030405060708ull;
	m.group = 1234;
	m.identity = "ks1";
	m.priority = 7;
	m.address = Bytes{192, 0, 2, 1};
	m.signature = Bytes(32, 0xaa);
	return m;
}

} // namespace

TEST(ElectionMsg, NamesEveryMessageOfTheProtocol)
{
	EXPECT_EQ(message_name(1), "LEADER_R_U_THERE");
	EXPECT_EQ(message_name(2), "LEADER_R_U_THERE_ACK");
	EXPECT_EQ(message_name(3), "ELECTION_CALL");
	EXPECT_EQ(message_name(4), "ELECTION_CANDIDACY");
	EXPECT_EQ(message_name(5), "VICTORY_ANNOUNCEMENT");
	EXPECT_EQ(auth_method_name(1), "ed25519");
	EXPECT_EQ(auth_method_name(2), "ecdsa-p256");
	EXPECT_EQ(auth_method_name(3), "group-psk");
	EXPECT_EQ(auth_method_name(4), "pubkey");
}

TEST(ElectionMsg, RejectsValuesOutsideTheProtocol)
{
	EXPECT_FALSE(message_type(0));
	EXPECT_EQ(message_name(9), "MERGE");
	EXPECT_FALSE(message_type(10));
	EXPECT_FALSE(message_type(255));
	EXPECT_EQ(message_name(0), "UNKNOWN");
	EXPECT_FALSE(auth_method(0));
	EXPECT_FALSE(auth_method(5));
	EXPECT_EQ(auth_method_name(9), "unknown");
}

TEST(ElectionMsg, EncodesCandidacyOctetByOctet)
{
	auto out = encode(candidacy());
	ASSERT_TRUE(out) << out.error().message;
	EXPECT_EQ(to_hex(out.value()), "01" "04" "03" "03" "0102030405060708" "000004d2" "6b7331"
					      "0006" "07" "04" "c0000201"
					      "0020" + std::string(64, 'a'));
}

TEST(ElectionMsg, EveryTypeRoundTripsIpv4AndIpv6)
{
	for (uint8_t t = 1; t <= 5; t++) {
		for (size_t alen : {4, 16}) {
			Message m = candidacy();
			m.type = static_cast<MessageType>(t);
			m.auth = AuthMethod::Ed25519;
			m.signature = Bytes(64, t);
			m.address = has_candidate_payload(m.type) ? Bytes(alen, 0x20) : Bytes();
			m.priority = has_candidate_payload(m.type) ? 9 : 0;
			auto out = encode(m);
			ASSERT_TRUE(out) << out.error().message;
			auto d = decode(out.value());
			ASSERT_TRUE(d) << d.error().message;
			const Message &r = d.value().message;
			EXPECT_EQ(r.type, m.type);
			EXPECT_EQ(r.auth, m.auth);
			EXPECT_EQ(r.sequence, m.sequence);
			EXPECT_EQ(r.group, m.group);
			EXPECT_EQ(r.identity, m.identity);
			EXPECT_EQ(r.priority, m.priority);
			EXPECT_EQ(r.address, m.address);
			EXPECT_EQ(r.signature, m.signature);
			EXPECT_EQ(d.value().signed_part.size(), out.value().size() - 2 - 64);
		}
	}
}

TEST(ElectionMsg, PublicKeySignaturesVaryInLengthWithinTheLimit)
{
	for (size_t len : {size_t(1), size_t(72), size_t(300), kMaxPublicKeySignature}) {
		Message m = candidacy();
		m.auth = AuthMethod::PublicKey;
		m.signature = Bytes(len, 0x5a);
		auto out = encode(m);
		ASSERT_TRUE(out) << len << ": " << out.error().message;
		auto d = decode(out.value());
		ASSERT_TRUE(d) << len << ": " << d.error().message;
		EXPECT_EQ(d.value().message.signature, m.signature);
		EXPECT_EQ(d.value().message.auth, AuthMethod::PublicKey);
	}
	for (size_t len : {size_t(0), kMaxPublicKeySignature + 1}) {
		Message m = candidacy();
		m.auth = AuthMethod::PublicKey;
		m.signature = Bytes(len, 0x5a);
		EXPECT_FALSE(encode(m)) << len;
		// the same octets with a fixed-size method's signature swapped in
		m.auth = AuthMethod::GroupPsk;
		m.signature = Bytes(32, 0x5a);
		Bytes b = encode(m).value();
		b[2] = 4;
		b.resize(b.size() - 34);
		b.push_back(static_cast<uint8_t>(len >> 8));
		b.push_back(static_cast<uint8_t>(len));
		b.insert(b.end(), len, 0x5a);
		auto d = decode(b);
		ASSERT_FALSE(d) << len;
		EXPECT_EQ(d.error().code, WireError::BadLength) << len;
		EXPECT_NE(d.error().message.find("pubkey needs 1 to 1024"), std::string::npos) << d.error().message;
	}
}

TEST(ElectionMsg, EveryTruncationIsAnError)
{
	Bytes full = encode(candidacy()).value();
	for (size_t n = 0; n < full.size(); n++) {
		auto d = decode(ByteView(full.data(), n));
		ASSERT_FALSE(d) << n;
		EXPECT_EQ(d.error().code, WireError::Truncated) << n;
	}
}

TEST(ElectionMsg, RefusesMalformedFieldsWithAClearError)
{
	Bytes good = encode(candidacy()).value();
	auto fails = [](Bytes b, WireError code, const char *words) {
		auto d = decode(b);
		ASSERT_FALSE(d);
		EXPECT_EQ(d.error().code, code);
		EXPECT_NE(d.error().message.find(words), std::string::npos) << d.error().message;
	};
	Bytes b = good;
	b[0] = 2;
	fails(b, WireError::BadVersion, "version 2");
	b = good;
	b[1] = 10;
	fails(b, WireError::BadValue, "unknown type 10");
	b = good;
	b[2] = 0;
	fails(b, WireError::BadValue, "authentication method 0");
	b = good;
	b[3] = 0;
	fails(b, WireError::BadValue, "empty sender identity");
	b = good;
	b[22] = 5; // address family
	fails(b, WireError::BadValue, "family 5");
	b = good;
	b[22] = 6; // IPv6 with an IPv4 payload length
	fails(b, WireError::BadLength, "needs 18");
	b = good;
	b[19] = 0x00;
	b[20] = 0x01; // payload length 1
	fails(b, WireError::BadLength, "payload of 1 octets");
	b = good;
	b[1] = 3; // ELECTION_CALL with a payload
	fails(b, WireError::BadLength, "carries no payload");
	b = good;
	b.push_back(0);
	fails(b, WireError::TrailingBytes, "after the signature");
	b = good;
	b[2] = 1; // Ed25519 with a 32-octet signature
	fails(b, WireError::BadLength, "ed25519 needs 64");
}

TEST(ElectionMsg, EncodeRefusesWhatCannotBeSent)
{
	Message m = candidacy();
	m.identity = "";
	EXPECT_FALSE(encode(m));
	m.identity = std::string(256, 'x');
	EXPECT_FALSE(encode(m));
	m = candidacy();
	m.address = Bytes(5, 1);
	EXPECT_FALSE(encode(m));
	m = candidacy();
	m.signature = Bytes(64, 1);
	EXPECT_FALSE(encode(m));
	m = candidacy();
	m.identity = std::string(255, 'x');
	EXPECT_TRUE(encode(m));
}

// RFC 8032 7.1, test 1
TEST(ElectionAuth, Ed25519MatchesRfc8032)
{
	Bytes pub;
	auto s = ed25519_signer(unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"), &pub);
	ASSERT_TRUE(s);
	EXPECT_EQ(to_hex(pub), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
	auto sig = s.value()->sign(ByteView());
	ASSERT_TRUE(sig);
	EXPECT_EQ(to_hex(sig.value()), "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
					    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
	auto v = ed25519_verifier(pub);
	ASSERT_TRUE(v);
	EXPECT_TRUE(v.value()->verify(ByteView(), sig.value()));
	Bytes bad = sig.value();
	bad[10] ^= 1;
	EXPECT_FALSE(v.value()->verify(ByteView(), bad));
	EXPECT_FALSE(v.value()->verify(Bytes{1}, sig.value()));
	EXPECT_FALSE(v.value()->verify(ByteView(), Bytes(63, 0)));
	EXPECT_FALSE(ed25519_signer(Bytes(31, 1)));
	EXPECT_FALSE(ed25519_verifier(Bytes(33, 1)));
}

TEST(ElectionAuth, EcdsaP256SignsAndVerifies)
{
	Bytes pub;
	auto s = ecdsa_p256_signer(Bytes(32, 0x11), &pub);
	ASSERT_TRUE(s) << s.error().message;
	ASSERT_EQ(pub.size(), 65u);
	EXPECT_EQ(pub[0], 0x04);
	EXPECT_EQ(s.value()->method(), AuthMethod::EcdsaP256);
	auto v = ecdsa_p256_verifier(pub);
	ASSERT_TRUE(v) << v.error().message;
	Bytes data{1, 2, 3};
	auto sig = s.value()->sign(data);
	ASSERT_TRUE(sig);
	ASSERT_EQ(sig.value().size(), 64u);
	EXPECT_TRUE(v.value()->verify(data, sig.value()));
	Bytes bad = sig.value();
	bad[40] ^= 0x80;
	EXPECT_FALSE(v.value()->verify(data, bad));
	EXPECT_FALSE(v.value()->verify(Bytes{1, 2, 4}, sig.value()));
	EXPECT_FALSE(v.value()->verify(data, Bytes(64, 0)));
	// another key's signature
	Bytes pub2;
	auto s2 = ecdsa_p256_signer(Bytes(32, 0x22), &pub2);
	EXPECT_FALSE(v.value()->verify(data, s2.value()->sign(data).value()));
	// keys that are not keys
	EXPECT_FALSE(ecdsa_p256_signer(Bytes(32, 0)));
	EXPECT_FALSE(ecdsa_p256_signer(Bytes(32, 0xff))); // above the order
	Bytes off = pub;
	off[64] ^= 1;
	EXPECT_FALSE(ecdsa_p256_verifier(off));
	EXPECT_FALSE(ecdsa_p256_verifier(Bytes(65, 0)));
}

TEST(ElectionAuth, GroupPskIsHmacSha256)
{
	Bytes key(16, 0x0b);
	auto s = group_psk_signer(key);
	auto v = group_psk_verifier(key);
	ASSERT_TRUE(s);
	ASSERT_TRUE(v);
	auto mac = s.value()->sign(Bytes{'a', 'b', 'c'});
	ASSERT_TRUE(mac);
	EXPECT_EQ(to_hex(mac.value()), "317c6c83c5b18f600858ad33960281b975eda67cf5eb446d388448f8e5f0f67e");
	EXPECT_TRUE(v.value()->verify(Bytes{'a', 'b', 'c'}, mac.value()));
	EXPECT_FALSE(v.value()->verify(Bytes{'a', 'b', 'd'}, mac.value()));
	EXPECT_FALSE(group_psk_verifier(Bytes(16, 0x0c)).value()->verify(Bytes{'a', 'b', 'c'}, mac.value()));
	EXPECT_FALSE(group_psk_signer(Bytes(15, 1)));
	EXPECT_FALSE(group_psk_verifier(Bytes()));
}

TEST(ElectionCore, DescribesItselfWithThePortItUses)
{
	election_core_t *core = election_core_create();
	ASSERT_NE(core, nullptr);
	EXPECT_EQ(election_core_port(core), 849);
	EXPECT_NE(std::string(election_core_describe(core)).find("UDP port 849"), std::string::npos);
	EXPECT_EQ(election_core_count(core), 0u);
	election_snapshot_t snap;
	EXPECT_FALSE(election_core_snapshot(core, 0, &snap));
	election_core_destroy(core);
}
