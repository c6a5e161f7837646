// SPDX-License-Identifier: GPL-2.0-or-later
// The key hierarchy as RFC 9838 carries it (3.3 "GM Key Management
// Semantics", 4.5.2-4.5.4, Appendix A): every key a WRAP_KEY or intermediate
// key of the key size, an eviction's new keys as WRAP_KEYs in a member key
// bag as Appendix A shows them (every SA_KEY with Key ID 0), a member that
// follows Key IDs of any form, in either place, and a member that refuses
// in a rekey what the RFC says must not be there. The messages the tests
// make are built from the codecs, not by the engine's key server.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "group_keys.h"
#include "groupsec/crypto/random.h"
#include "ike/ike_crypto.h"

namespace groupsec::gdoi::test {
namespace {

std::string hex_of(ByteView b)
{
	std::string s;
	char x[3];
	for (size_t i = 0; i < b.size(); i++) {
		snprintf(x, sizeof(x), "%02x", b[i]);
		s += x;
	}
	return s;
}

Bytes be32(uint32_t v)
{
	return Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
		     static_cast<uint8_t>(v)};
}

uint64_t be64_at(ByteView b, size_t at)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | b[at + i];
	return v;
}

Bytes key_of(uint8_t fill)
{
	return Bytes(32, fill);
}

Bytes wrap(const Bytes &kwk, const Bytes &plain)
{
	return ike::key_wrap(kwk, plain).value();
}

// A Rekey SA from a member's key log: its SPI and GSK_e | salt | GSK_w.
struct LoggedSa {
	Bytes spi;
	SkKeys keys;
	Bytes gsk_w;
};

LoggedSa sa_of(const Bytes &spi, const Bytes &keymat)
{
	LoggedSa sa;
	sa.spi = spi;
	sa.keys.cipher = SkCipher::AesGcm16;
	sa.keys.encryption_key.assign(keymat.begin(), keymat.begin() + 32);
	sa.keys.salt.assign(keymat.begin() + 32, keymat.begin() + 36);
	sa.gsk_w.assign(keymat.begin() + 36, keymat.end());
	return sa;
}

class Rfc9838Keys : public GroupTest {
protected:
	void SetUp() override
	{
		GroupTest::SetUp();
		for (int n = 5; n <= 6; n++)
			add_gm(n, addr("198.51.100." + std::to_string(n)));
	}

	// The key server (key tree) and members 0..n-1, registered.
	void start(size_t n)
	{
		gcks = &net.add({gcks_addr}, &creds);
		GcksGroupConfig c = server_config();
		c.authorized = gm_ids;
		auto added = gcks->engine.add_server_group(c);
		ASSERT_TRUE(added.ok()) << added.error().message;
		for (size_t i = 0; i < n; i++) {
			Node &m = net.add({gm_addrs[i]}, &creds);
			ASSERT_TRUE(m.engine.add_member_group(member_config(i)).ok());
			gms.push_back(&m);
			net.tick();
			ASSERT_EQ(m.group("blue")->state, "registered");
		}
	}

	// The member's current Rekey SA, from its key log.
	LoggedSa current_sa(Node &gm)
	{
		auto keks = gm.keylog.of_kind("kek");
		EXPECT_FALSE(keks.empty());
		Bytes spi;
		for (size_t i = 0; i < keks.back().id.size(); i += 2)
			spi.push_back(static_cast<uint8_t>(std::stoul(keks.back().id.substr(i, 2), nullptr, 16)));
		return sa_of(spi, keks.back().value);
	}

	// The Working Key Path keys the member logged: Key ID -> key.
	std::map<uint32_t, Bytes> held(Node &gm)
	{
		std::map<uint32_t, Bytes> out;
		for (const auto &k : gm.keylog.of_kind("wrap"))
			out[static_cast<uint32_t>(std::stoul(k.id, nullptr, 16))] = k.value;
		return out;
	}

	// The KD of a GSA_REKEY the member can open with sa.
	KeyDownloadPayload kd_of(const Datagram &d, const LoggedSa &sa)
	{
		auto m = open_message(d.data, sa.keys);
		EXPECT_TRUE(m.ok());
		if (!m)
			return {};
		for (const Payload &p : m.value().inner)
			if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload))
				return decode_key_download(p.body).value();
		ADD_FAILURE() << "no KD";
		return {};
	}

	// A Rekey SA policy (GIKE_UPDATE, AES-GCM-16-256, KW_5649_256).
	static GsaPolicy kek_policy(const Bytes &spi)
	{
		GsaPolicy p;
		p.protocol = static_cast<uint8_t>(SecurityProtocol::GikeUpdate);
		p.spi = spi;
		p.source = range4("0.0.0.0", "255.255.255.255");
		p.destination = p.source;
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
						 static_cast<uint16_t>(EncryptionId::AesGcm16),
						 {make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength),
								    256)}});
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::KeyWrapAlgorithm),
						 static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256),
						 {}});
		p.key_lifetime = 3600;
		return p;
	}

	// One ESP TEK policy (AES-GCM-16-256) with SPI spi.
	static GsaPolicy tek_policy(uint32_t spi)
	{
		GsaPolicy p;
		p.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
		p.spi = be32(spi);
		p.source = range4("10.0.0.0", "10.255.255.255");
		p.destination = p.source;
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
						 static_cast<uint16_t>(EncryptionId::AesGcm16),
						 {make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength),
								    256)}});
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::SequenceNumbers),
						 static_cast<uint16_t>(SequenceNumbersId::Sequential32),
						 {}});
		p.key_lifetime = 3600;
		return p;
	}

	static std::vector<Payload> payloads(const GsaPayload &gsa, const KeyDownloadPayload &kd)
	{
		return {Payload{static_cast<uint8_t>(PayloadType::GroupSa), false, encode_gsa(gsa).value()},
			Payload{static_cast<uint8_t>(PayloadType::KeyDownload), false, encode_key_download(kd).value()}};
	}

	// HDR, SK{inner, AUTH} over sa, signed by the key server's key as RFC
	// 9838 2.4.1.1 says (an ECDSA signature's length varies: signed again
	// until it fills the zeroed Authentication Data exactly).
	Bytes rekey_message(const LoggedSa &sa, uint32_t message_id, std::vector<Payload> inner)
	{
		IkeHeader h;
		h.initiator_spi = be64_at(sa.spi, 0);
		h.responder_spi = be64_at(sa.spi, 8);
		h.exchange_type = kRekey;
		h.flags = kFlagInitiator;
		h.message_id = message_id;
		const Bytes alg = ecdsa_sha256_alg();
		Bytes prefix{static_cast<uint8_t>(alg.size())};
		prefix.insert(prefix.end(), alg.begin(), alg.end());
		size_t sig_len = 72;
		Bytes auth_data;
		for (int attempt = 0; attempt < 64 && auth_data.empty(); attempt++) {
			AuthPayload zeroed{ike::kAuthDigitalSignature, prefix};
			zeroed.data.resize(prefix.size() + sig_len, 0);
			std::vector<Payload> with_auth = inner;
			with_auth.push_back(
				Payload{static_cast<uint8_t>(PayloadType::Authentication), false, encode_auth(zeroed).value()});
			auto octets = detail::rekey_signed_octets(h, false, with_auth);
			auto sig = creds.sign(gcks_id, octets.value());
			if (!sig || sig->size() <= prefix.size())
				break;
			if (sig->size() - prefix.size() == sig_len)
				auth_data = *sig;
			else
				sig_len = sig->size() - prefix.size();
		}
		EXPECT_FALSE(auth_data.empty());
		inner.push_back(Payload{static_cast<uint8_t>(PayloadType::Authentication), false,
					encode_auth(AuthPayload{ike::kAuthDigitalSignature, auth_data}).value()});
		Bytes iv(sk_iv_size(SkCipher::AesGcm16));
		crypto::OpenSslRandom().fill(iv.data(), iv.size());
		return seal_message(h, {}, inner, sa.keys, iv).value();
	}

	void deliver(Node &gm, const Bytes &datagram)
	{
		gm.engine.receive(gm.addresses[0], gcks_addr, datagram);
		net.run();
	}
};

// The codec: in the Rekey SA's key bag, type-1 attributes with a Key ID
// other than 0 are intermediate keys (4.5.4); in an ESP key bag they are
// refused, and a Rekey SA bag needs its SA_KEY (Key ID 0).
TEST(Rfc9838KeyBags, IntermediateKeysOnlyNextToTheRekeySasKey)
{
	KeyDownloadPayload kd;
	GroupKeyBag b{static_cast<uint8_t>(SecurityProtocol::GikeUpdate), Bytes(16, 0x21),
		      {WrappedKey{0, 9, Bytes(40, 1)}, WrappedKey{9, 0xfffffffe, Bytes(40, 2)}}, {}};
	kd.group_key_bags.push_back(b);
	auto enc = encode_key_download(kd);
	ASSERT_TRUE(enc.ok()) << enc.error().message;
	auto dec = decode_key_download(enc.value());
	ASSERT_TRUE(dec.ok()) << dec.error().message;
	EXPECT_EQ(dec.value().group_key_bags[0], b);
	KeyDownloadPayload no_sa_key = kd;
	no_sa_key.group_key_bags[0].sa_keys.erase(no_sa_key.group_key_bags[0].sa_keys.begin());
	EXPECT_FALSE(encode_key_download(no_sa_key).ok());
	KeyDownloadPayload esp;
	esp.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp), be32(0x11223344),
						 {WrappedKey{5, 0, Bytes(40, 3)}}, {}});
	EXPECT_FALSE(encode_key_download(esp).ok());
	// the same octets as a decoder sees them
	Bytes body = {0x03, 0x04, 0x00, 0x18, 0x11, 0x22, 0x33, 0x44, 0x00, 0x01, 0x00, 0x0c};
	for (uint8_t x : {0, 0, 0, 5, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd})
		body.push_back(x);
	auto bad = decode_key_download(body);
	ASSERT_FALSE(bad.ok());
	EXPECT_EQ(bad.error().code, WireError::BadValue);
}

// RFC 9838 Appendix A: at registration the member key bag holds the path,
// "MP(3{1},7{3},GSK_w{7})", each WRAP_KEY the key itself (4.5.3.1: "The
// size of the attribute data MUST be equal to the key size for this key
// wrap algorithm"), and the Rekey SA's SA_KEY is wrapped under the root;
// the member's key log shows what it holds under those Key IDs.
TEST_F(Rfc9838Keys, TheRegistrationsKeyPathEndsWithGskW)
{
	start(3);
	for (Node *gm : gms) {
		auto path = gm->keylog.of_kind("wrap");
		ASSERT_FALSE(path.empty());
		for (const auto &k : path)
			EXPECT_EQ(k.value.size(), 32u) << "a WRAP_KEY unwraps to a 32-octet key (KW_5649_256)";
	}
	// the third member registered at depth 2: root, level 1, leaf
	EXPECT_EQ(gms[2]->keylog.of_kind("wrap").size(), 3u);
}

// An eviction as RFC 9838 Appendix A sends it,
// "KD(GP(SA3)(1{K_sa3},15{K_sa3}),MP(6{15},16{15},11{16}))": the new Rekey
// SA's group key bag holds its SA_KEY alone (4.5.2.1: "the Key ID field
// MUST always be zero"), wrapped under the new root, and the new keys are
// WRAP_KEYs in a member key bag (the table of 4.4.2.1.1: WRAP_KEY "[M]" in
// GSA_REKEY). A remaining member unwraps the chain from a key it holds; the
// evicted one holds no key that opens it.
TEST_F(Rfc9838Keys, AnEvictionsNewKeysAreWrapKeysInAMemberKeyBag)
{
	start(4);
	const LoggedSa before = current_sa(*gms[0]);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[3]).ok());
	net.run();
	std::optional<Datagram> envelope;
	for (const Datagram &d : net.sent_with_exchange(kRekey))
		if (d.to == gms[0]->addresses[0] && Bytes(d.data.begin(), d.data.begin() + 16) == before.spi)
			envelope = d;
	ASSERT_TRUE(envelope);
	KeyDownloadPayload kd = kd_of(*envelope, before);
	ASSERT_EQ(kd.group_key_bags.size(), 1u);
	const GroupKeyBag &bag = kd.group_key_bags[0];
	ASSERT_EQ(bag.protocol, static_cast<uint8_t>(SecurityProtocol::GikeUpdate));
	const std::vector<WrappedKey> &sa_keys = bag.sa_keys;
	ASSERT_EQ(sa_keys.size(), 1u) << "one SA_KEY";
	EXPECT_EQ(sa_keys[0].key_id, 0u) << "4.5.2.1: an SA_KEY's Key ID is 0";
	EXPECT_TRUE(bag.other_attributes.empty()) << "no private attribute carries tree keys";
	ASSERT_TRUE(kd.member_key_bag) << "the new keys: WRAP_KEYs in a member key bag (Appendix A)";
	const std::vector<WrappedKey> &wrap_keys = kd.member_key_bag->wrap_keys;
	ASSERT_FALSE(wrap_keys.empty());
	for (const WrappedKey &w : wrap_keys)
		EXPECT_NE(w.key_id, 0u) << "4.5.3.1: a WRAP_KEY's Key ID is not 0";
	EXPECT_FALSE(kd.member_key_bag->auth_key);
	EXPECT_TRUE(kd.member_key_bag->sender_ids.empty()) << "4.5.3.3: no GM_SENDER_ID in a rekey";
	EXPECT_TRUE(kd.member_key_bag->other_attributes.empty());
	// the chain: SA_KEY under the new root, the root under a key the
	// member holds (or under a new key that is)
	std::map<uint32_t, Bytes> keys = held(*gms[0]);
	const std::map<uint32_t, Bytes> evicted = held(*gms[3]);
	for (bool more = true; more;) {
		more = false;
		for (const WrappedKey &w : wrap_keys) {
			if (keys.count(w.key_id) || !keys.count(w.kwk_id))
				continue;
			auto plain = ike::key_unwrap(keys[w.kwk_id], w.encrypted_key);
			ASSERT_TRUE(plain.ok());
			EXPECT_EQ(plain.value().size(), 32u) << "an intermediate key is the key itself";
			keys[w.key_id] = Bytes(plain.value().begin(), plain.value().end());
			more = true;
		}
	}
	const uint32_t root = sa_keys[0].kwk_id;
	ASSERT_TRUE(keys.count(root)) << "the remaining member reaches the new root";
	auto keymat = ike::key_unwrap(keys[root], sa_keys[0].encrypted_key);
	ASSERT_TRUE(keymat.ok());
	EXPECT_EQ(Bytes(keymat.value().begin(), keymat.value().end()), gms[0]->keylog.of_kind("kek").back().value);
	// the evicted member: none of its keys opens any of them
	for (const WrappedKey &w : wrap_keys)
		EXPECT_FALSE(evicted.count(w.kwk_id) && ike::key_unwrap(evicted.at(w.kwk_id), w.encrypted_key).ok());
	EXPECT_FALSE(evicted.count(root));
}

// A key server of its own choosing of Key IDs (here 1 and 0xfffffffe, and
// the member's leaf's): the member follows the Key Path by KWK IDs, stores
// the new Working Key Path and uses its keys in the next message.
TEST_F(Rfc9838Keys, TheMemberFollowsKeyIdsOfAnyForm)
{
	start(2);
	Node &gm = *gms[1];
	const LoggedSa s0 = current_sa(gm);
	const auto path = gm.keylog.of_kind("wrap");
	ASSERT_FALSE(path.empty());
	const uint32_t leaf_id = static_cast<uint32_t>(std::stoul(path.back().id, nullptr, 16));
	const Bytes leaf = path.back().value;
	const Bytes k1 = key_of(0x11), k2 = key_of(0x22);
	Bytes keymat1(68), keymat2(68);
	crypto::OpenSslRandom().fill(keymat1.data(), keymat1.size());
	crypto::OpenSslRandom().fill(keymat2.data(), keymat2.size());
	const Bytes spi1(16, 0x31), spi2(16, 0x32);
	// over the registration's Rekey SA: a new Rekey SA under key 1, key 1
	// under key 0xfffffffe, that under the member's leaf
	{
		GsaPayload gsa;
		gsa.kek = kek_policy(spi1);
		KeyDownloadPayload kd;
		GroupKeyBag b{static_cast<uint8_t>(SecurityProtocol::GikeUpdate), spi1, {WrappedKey{0, 1, wrap(k1, keymat1)}}, {}};
		b.sa_keys.push_back(WrappedKey{1, 0xfffffffe, wrap(k2, k1)});
		b.sa_keys.push_back(WrappedKey{0xfffffffe, leaf_id, wrap(leaf, k2)});
		kd.group_key_bags.push_back(b);
		deliver(gm, rekey_message(s0, 0, payloads(gsa, kd)));
	}
	ASSERT_EQ(gm.group("blue")->counters.dropped_malformed + gm.group("blue")->counters.dropped_auth, 0u);
	ASSERT_EQ(hex_of(gm.keylog.of_kind("kek").back().value), hex_of(keymat1));
	std::map<uint32_t, Bytes> now = held(gm);
	EXPECT_EQ(now[1], k1);
	EXPECT_EQ(now[0xfffffffe], k2);
	// over the new Rekey SA (ID 0): the next Rekey SA under 0xfffffffe
	// alone, a key of the Working Key Path since the last message
	{
		GsaPayload gsa;
		gsa.kek = kek_policy(spi2);
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
							spi2,
							{WrappedKey{0, 0xfffffffe, wrap(k2, keymat2)}},
							{}});
		deliver(gm, rekey_message(sa_of(spi1, keymat1), 0, payloads(gsa, kd)));
	}
	EXPECT_EQ(hex_of(gm.keylog.of_kind("kek").back().value), hex_of(keymat2));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 2u);
}

// RFC 9838 Appendix A's exclusion as a key server written from the RFC
// sends it, with its numbers: the new Rekey SA's SA_KEY under key 15
// (KWK ID 15, Key ID 0), and a member key bag MP(6{15},16{15},11{16}) where
// 11 is this member's leaf; key 6 is another subtree's, which this member
// does not hold. It follows 16->15->11 (3.3), keeps 15 and 16 in its
// Working Key Path and opens the next Rekey SA, wrapped under 15 alone.
TEST_F(Rfc9838Keys, TheMemberFollowsAppendixAsExclusion)
{
	start(2);
	Node &gm = *gms[1];
	const LoggedSa s0 = current_sa(gm);
	const auto path = gm.keylog.of_kind("wrap");
	ASSERT_FALSE(path.empty());
	const uint32_t leaf_id = static_cast<uint32_t>(std::stoul(path.back().id, nullptr, 16));
	const Bytes leaf = path.back().value;
	const Bytes k6 = key_of(0x06), k15 = key_of(0x15), k16 = key_of(0x16);
	Bytes keymat1(68), keymat2(68);
	crypto::OpenSslRandom().fill(keymat1.data(), keymat1.size());
	crypto::OpenSslRandom().fill(keymat2.data(), keymat2.size());
	const Bytes spi1(16, 0x51), spi2(16, 0x52);
	{
		GsaPayload gsa;
		gsa.kek = kek_policy(spi1);
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
							spi1,
							{WrappedKey{0, 15, wrap(k15, keymat1)}},
							{}});
		MemberKeyBag mb;
		mb.wrap_keys = {WrappedKey{15, 6, wrap(k6, k15)}, WrappedKey{15, 16, wrap(k16, k15)},
				WrappedKey{16, leaf_id, wrap(leaf, k16)}};
		kd.member_key_bag = mb;
		deliver(gm, rekey_message(s0, 0, payloads(gsa, kd)));
	}
	ASSERT_EQ(gm.group("blue")->counters.dropped_malformed + gm.group("blue")->counters.dropped_auth, 0u);
	ASSERT_EQ(hex_of(gm.keylog.of_kind("kek").back().value), hex_of(keymat1));
	std::map<uint32_t, Bytes> now = held(gm);
	EXPECT_EQ(now[15], k15);
	EXPECT_EQ(now[16], k16);
	EXPECT_EQ(now.count(6), 0u) << "another subtree's key is not the member's";
	{
		GsaPayload gsa;
		gsa.kek = kek_policy(spi2);
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
							spi2,
							{WrappedKey{0, 15, wrap(k15, keymat2)}},
							{}});
		deliver(gm, rekey_message(sa_of(spi1, keymat1), 0, payloads(gsa, kd)));
	}
	EXPECT_EQ(hex_of(gm.keylog.of_kind("kek").back().value), hex_of(keymat2));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 2u);
}

// A member registered in a group whose rekeys are signed registers again
// with a key server whose group has no Rekey SA (rekeys by
// GSA_INBAND_REKEY): the inband table of RFC 9838 4.4.2.1.1 has no
// AUTH_KEY at registration, and the member takes the registration rather
// than ask for the AUTH_KEY the earlier one had. (The key server's answer
// is rewritten: its Rekey SA policy, its keys and the member key bag
// removed.)
TEST_F(Rfc9838Keys, ARegistrationWithoutRekeySaAfterASignedOne)
{
	start(1);
	Node &gm = *gms[0];
	ASSERT_FALSE(gm.keylog.of_kind("kek").empty());
	bool rewritten = false;
	net.drop = [&](const Datagram &d) {
		if (rewritten || !(d.to == gm_addrs[0]) || d.data.size() < 28 || (d.data[18] != 39 && d.data[18] != 40) ||
		    !(d.data[19] & kFlagResponse))
			return false;
		const auto &keys = gm.keylog.ike_sas.back().responder;
		auto opened = open_message(d.data, keys);
		if (!opened) {
			ADD_FAILURE() << "the registration answer does not open";
			return false;
		}
		std::vector<Payload> inner = opened.value().inner;
		for (Payload &p : inner) {
			if (p.type == static_cast<uint8_t>(PayloadType::GroupSa)) {
				GsaPayload gsa = decode_gsa(p.body).value();
				EXPECT_TRUE(gsa.kek);
				gsa.kek.reset();
				p.body = encode_gsa(gsa).value();
			} else if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload)) {
				KeyDownloadPayload kd = decode_key_download(p.body).value();
				std::vector<GroupKeyBag> teks;
				for (GroupKeyBag &b : kd.group_key_bags)
					if (b.protocol != static_cast<uint8_t>(SecurityProtocol::GikeUpdate))
						teks.push_back(b);
				kd.group_key_bags = teks;
				kd.member_key_bag.reset();
				p.body = encode_key_download(kd).value();
			}
		}
		Bytes iv(sk_iv_size(keys.cipher));
		crypto::OpenSslRandom().fill(iv.data(), iv.size());
		net.deliver(Datagram{d.from, d.to,
				     seal_message(opened.value().message.header, {}, inner, keys, iv).value()});
		rewritten = true;
		return true;
	};
	const uint64_t before = gm.group("blue")->counters.registrations;
	ASSERT_TRUE(gm.engine.reregister("blue").ok());
	net.tick();
	net.drop = nullptr;
	ASSERT_TRUE(rewritten);
	EXPECT_EQ(gm.group("blue")->state, "registered");
	EXPECT_GT(gm.group("blue")->counters.registrations, before);
	EXPECT_NE(current_spi(gm), 0u);
}

// A registration whose Key IDs another key server chose (1, 2, ... as in
// the RFC's figures): the key server's GSA_AUTH answer to gm2 is opened
// with the IKE SA's keys, every Key ID and KWK ID of its key tree keys
// renamed (the wrapped octets do not depend on them), and sealed again. The
// member takes its Working Key Path under those IDs, and a rekey that
// wraps a new Rekey SA under one of them is applied.
TEST_F(Rfc9838Keys, ARegistrationWithKeyIdsOfAnotherKeyServer)
{
	start(1);
	Node &gm = net.add({gm_addrs[1]}, &creds);
	ASSERT_TRUE(gm.engine.add_member_group(member_config(1)).ok());
	std::map<uint32_t, uint32_t> renamed;
	auto rename = [&](uint32_t id) {
		if (id == 0)
			return id;
		auto it = renamed.find(id);
		if (it == renamed.end())
			it = renamed.emplace(id, static_cast<uint32_t>(renamed.size() + 1)).first;
		return it->second;
	};
	bool rewritten = false;
	uint32_t leaf_id = 0; // the renamed WRAP_KEY under GSK_w
	net.drop = [&](const Datagram &d) {
		if (rewritten || !(d.to == gm_addrs[1]) || d.data.size() < 28 || d.data[18] != 39 ||
		    !(d.data[19] & kFlagResponse))
			return false;
		const auto &keys = gm.keylog.ike_sas.at(0).responder;
		auto opened = open_message(d.data, keys);
		if (!opened) {
			ADD_FAILURE() << "the GSA_AUTH answer does not open";
			return false;
		}
		std::vector<Payload> inner = opened.value().inner;
		for (Payload &p : inner) {
			if (p.type != static_cast<uint8_t>(PayloadType::KeyDownload))
				continue;
			KeyDownloadPayload kd = decode_key_download(p.body).value();
			EXPECT_TRUE(kd.member_key_bag);
			for (WrappedKey &w : kd.member_key_bag->wrap_keys) {
				w.key_id = rename(w.key_id);
				if (w.kwk_id == 0)
					leaf_id = w.key_id;
				w.kwk_id = rename(w.kwk_id);
			}
			for (GroupKeyBag &b : kd.group_key_bags)
				for (WrappedKey &w : b.sa_keys)
					w.kwk_id = rename(w.kwk_id);
			p.body = encode_key_download(kd).value();
		}
		Bytes iv(sk_iv_size(keys.cipher));
		crypto::OpenSslRandom().fill(iv.data(), iv.size());
		net.deliver(Datagram{d.from, d.to,
				     seal_message(opened.value().message.header, {}, inner, keys, iv).value()});
		rewritten = true;
		return true;
	};
	net.tick();
	net.drop = nullptr;
	ASSERT_TRUE(rewritten);
	ASSERT_EQ(gm.group("blue")->state, "registered");
	// the second member of the tree: its leaf and the root, as 1 and 2
	const std::map<uint32_t, Bytes> path = held(gm);
	ASSERT_EQ(path.size(), 2u);
	ASSERT_TRUE(path.count(1) && path.count(2));
	// a rekey of the other key server: a new Rekey SA under key 7, key 7
	// under the member's leaf (the key with KWK ID 0 at registration)
	ASSERT_TRUE(path.count(leaf_id));
	const Bytes k7 = key_of(0x77);
	Bytes keymat(68);
	crypto::OpenSslRandom().fill(keymat.data(), keymat.size());
	const Bytes spi(16, 0x41);
	GsaPayload gsa;
	gsa.kek = kek_policy(spi);
	KeyDownloadPayload kd;
	GroupKeyBag b{static_cast<uint8_t>(SecurityProtocol::GikeUpdate), spi, {WrappedKey{0, 7, wrap(k7, keymat)}}, {}};
	b.sa_keys.push_back(WrappedKey{7, leaf_id, wrap(path.at(leaf_id), k7)});
	kd.group_key_bags.push_back(b);
	deliver(gm, rekey_message(current_sa(gm), 0, payloads(gsa, kd)));
	EXPECT_EQ(hex_of(gm.keylog.of_kind("kek").back().value), hex_of(keymat));
	EXPECT_EQ(held(gm).count(7), 1u);
}

// What RFC 9838 says must not be in a rekey, each in a signed GSA_REKEY
// that is otherwise good (a new TEK): dropped as malformed, nothing
// installed, the group as it was.
TEST_F(Rfc9838Keys, ARekeyWithWhatTheRfcForbidsChangesNothing)
{
	start(1);
	Node &gm = *gms[0];
	const LoggedSa sa = current_sa(gm);
	// nothing was sent over the registration's Rekey SA yet: its first
	// message ID is 0, and a refused message does not take it
	const uint32_t id = 0;
	auto tek_kd = [&](uint32_t spi) {
		KeyDownloadPayload kd;
		Bytes keymat(36, 0x5a);
		kd.group_key_bags.push_back(GroupKeyBag{
			static_cast<uint8_t>(SecurityProtocol::Esp), be32(spi), {WrappedKey{0, 0, wrap(sa.gsk_w, keymat)}}, {}});
		return kd;
	};
	struct Case {
		const char *what;
		std::function<void(GsaPayload &, KeyDownloadPayload &)> make;
	};
	const Bytes other_spi(16, 0x77);
	const std::vector<Case> cases{
		// 4.5.3: "MUST NOT be sent in GSA_REKEY messages"; the table of
		// 4.4.2.1.1 lets WRAP_KEY and AUTH_KEY in (TheMemberFollows-
		// AppendixAsExclusion, rfc9838_authkey_test), nothing else
		{"a member key bag with a private attribute",
		 [&](GsaPayload &, KeyDownloadPayload &kd) {
			 MemberKeyBag mb;
			 mb.other_attributes.push_back(Attribute{16387, false, Bytes(16, 0x11)});
			 kd.member_key_bag = mb;
		 }},
		{"a member key bag with WRAP_KEYs and a private attribute",
		 [&](GsaPayload &, KeyDownloadPayload &kd) {
			 MemberKeyBag mb;
			 mb.wrap_keys.push_back(WrappedKey{5, 0, wrap(sa.gsk_w, Bytes(32, 0x11))});
			 mb.other_attributes.push_back(Attribute{16387, false, Bytes(16, 0x11)});
			 kd.member_key_bag = mb;
		 }},
		// 4.5.3.3: GM_SENDER_ID "MUST NOT appear in the rekey
		// operations"
		{"GM_SENDER_ID",
		 [&](GsaPayload &, KeyDownloadPayload &kd) {
			 MemberKeyBag mb;
			 mb.sender_ids = {Bytes{0x00, 0x05}};
			 kd.member_key_bag = mb;
		 }},
		// one Rekey SA per group: two Rekey SA key entries
		{"keys for two Rekey SAs",
		 [&](GsaPayload &, KeyDownloadPayload &kd) {
			 Bytes keymat(68, 0x44);
			 for (uint8_t f : {0x77, 0x78})
				 kd.group_key_bags.push_back(
					 GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
						     Bytes(16, f),
						     {WrappedKey{0, 0, wrap(sa.gsk_w, keymat)}},
						     {}});
		 }},
	};
	uint32_t spi = 0x0bad0001;
	for (const Case &c : cases) {
		GsaPayload gsa;
		gsa.teks.push_back(tek_policy(spi));
		KeyDownloadPayload kd = tek_kd(spi);
		c.make(gsa, kd);
		const uint64_t malformed = gm.group("blue")->counters.dropped_malformed;
		const size_t keks = gm.keylog.of_kind("kek").size(), teks = gm.keylog.of_kind("tek").size();
		deliver(gm, rekey_message(sa, id, payloads(gsa, kd)));
		EXPECT_EQ(gm.group("blue")->counters.dropped_malformed, malformed + 1) << c.what;
		EXPECT_FALSE(gm.sink.ever_had(spi)) << c.what;
		EXPECT_EQ(gm.keylog.of_kind("kek").size(), keks) << c.what;
		EXPECT_EQ(gm.keylog.of_kind("tek").size(), teks) << c.what;
		EXPECT_EQ(gm.group("blue")->state, "registered") << c.what;
		spi++;
	}
	// the same message without them is taken (the cases are not refused
	// for another reason)
	GsaPayload gsa;
	gsa.teks.push_back(tek_policy(spi));
	deliver(gm, rekey_message(sa, id, payloads(gsa, tek_kd(spi))));
	EXPECT_TRUE(gm.sink.has(spi));
}

} // namespace
} // namespace groupsec::gdoi::test
