// SPDX-License-Identifier: GPL-2.0-or-later
// GSA_REKEY message IDs and signatures as RFC 9838 describes them: message
// IDs count per Rekey SA from 0 (2.4.1.3) or the GSA_INITIAL_MESSAGE_ID a
// member was given (2.4.1.4), replays are dropped per Rekey SA, and the
// signature covers the AUTH payload as sent with its Authentication Data
// zeroed (2.4.1.1). The messages the tests make themselves are built from
// the codecs, octet by octet as the RFC describes, not by the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "groupsec/crypto/random.h"
#include "ike/ike_crypto.h"

namespace groupsec::gdoi::test {
namespace {

std::string to_hex(ByteView b)
{
	std::string s;
	char x[3];
	for (size_t i = 0; i < b.size(); i++) {
		snprintf(x, sizeof(x), "%02x", b[i]);
		s += x;
	}
	return s;
}

void put_be32(Bytes &out, uint32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		out.push_back(static_cast<uint8_t>(v >> s));
}

Bytes be32(uint32_t v)
{
	Bytes b;
	put_be32(b, v);
	return b;
}

uint64_t be64_at(ByteView b, size_t at)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | b[at + i];
	return v;
}

uint32_t message_id(const Datagram &d)
{
	return uint32_t(d.data[20]) << 24 | uint32_t(d.data[21]) << 16 | uint32_t(d.data[22]) << 8 | d.data[23];
}

Bytes spi_of(const Datagram &d)
{
	return Bytes(d.data.begin(), d.data.begin() + 16);
}

constexpr uint8_t kAuthPayload = static_cast<uint8_t>(PayloadType::Authentication);

// A Rekey SA as a member's key log has it: the SPI and GSK_e | salt | GSK_w.
struct LoggedSa {
	Bytes spi;
	SkKeys keys;
	Bytes gsk_w;
};

class RekeyMessages : public GroupConfigTest {
protected:
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c = GroupConfigTest::server_config();
		c.deactivation_delay_s = 5;
		return c;
	}

	Node &add_member(int i)
	{
		Node &m = net.add({gm_addrs[i]}, &creds);
		EXPECT_TRUE(m.engine.add_member_group(member_config(i)).ok());
		gms.push_back(&m);
		return m;
	}

	void start(int n)
	{
		gcks = &net.add({gcks_addr}, &creds);
		auto added = gcks->engine.add_server_group(server_config());
		ASSERT_TRUE(added.ok()) << added.error().message;
		for (int i = 0; i < n; i++)
			add_member(i);
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}

	// A TEK-only rekey, operator started; returns its one datagram to gm.
	Datagram operator_rekey(Node &gm)
	{
		net.log.clear();
		EXPECT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		for (const Datagram &d : net.sent_with_exchange(kRekey))
			if (d.to == gm.addresses[0])
				return d;
		ADD_FAILURE() << "no GSA_REKEY to the member";
		return {};
	}

	uint32_t current_tek(Node &n)
	{
		uint32_t spi = 0;
		for (const SaState &s : n.group("blue")->sas)
			if (s.current)
				spi = s.spi;
		return spi;
	}

	// The Rekey SA of spi, from what gm logged.
	LoggedSa logged_sa(Node &gm, const Bytes &spi)
	{
		LoggedSa sa;
		for (const auto &k : gm.keylog.of_kind("kek")) {
			if (k.id != to_hex(spi) || k.value.size() != 68)
				continue;
			sa.spi = spi;
			sa.keys.cipher = SkCipher::AesGcm16;
			sa.keys.encryption_key.assign(k.value.begin(), k.value.begin() + 32);
			sa.keys.salt.assign(k.value.begin() + 32, k.value.begin() + 36);
			sa.gsk_w.assign(k.value.begin() + 36, k.value.end());
		}
		EXPECT_FALSE(sa.spi.empty()) << "no Rekey SA " << to_hex(spi) << " in the member's key log";
		return sa;
	}

	// GSA and KD of one new ESP TEK (AES-GCM-16-256), its keys wrapped
	// under the Rekey SA's GSK_w.
	std::vector<Payload> tek_payloads(const LoggedSa &sa, uint32_t spi)
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
		GsaPayload gsa;
		gsa.teks.push_back(p);
		Bytes keymat(36, static_cast<uint8_t>(spi));
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp),
							be32(spi),
							{WrappedKey{0, 0, ike::key_wrap(sa.gsk_w, keymat).value()}},
							{}});
		return {Payload{static_cast<uint8_t>(PayloadType::GroupSa), false, encode_gsa(gsa).value()},
			Payload{static_cast<uint8_t>(PayloadType::KeyDownload), false, encode_key_download(kd).value()}};
	}

	// A | P of RFC 9838 2.4.1.1 for the inner payloads (AUTH last, as it
	// stands): AdjustedIKEHDR | AdjustedEncPldHdr | InnerPlds, written out
	// octet by octet. header24: the first 24 octets of the IKE header
	// (SPIs, Next Payload, versions, Exchange Type, Flags, Message ID);
	// sk_flags: the octet after the SK Next Payload (C | RESERVED).
	static Bytes signed_octets(const Bytes &header24, uint8_t sk_flags, const std::vector<Payload> &inner)
	{
		Bytes p;
		uint8_t first = encode_payload_chain(inner, p).value();
		Bytes a = header24;
		put_be32(a, static_cast<uint32_t>(28 + 4 + p.size())); // AdjustedLen
		a.push_back(first);
		a.push_back(sk_flags);
		a.push_back(static_cast<uint8_t>((4 + p.size()) >> 8)); // AdjustedPldLen
		a.push_back(static_cast<uint8_t>(4 + p.size()));
		a.insert(a.end(), p.begin(), p.end());
		return a;
	}

	static Bytes header24(const Bytes &spi, uint32_t message_id)
	{
		Bytes h = spi;
		h.push_back(static_cast<uint8_t>(PayloadType::Encrypted)); // Next Payload: SK
		h.push_back(0x20); // MjVer 2, MnVer 0
		h.push_back(kRekey);
		h.push_back(kFlagInitiator);
		put_be32(h, message_id);
		return h;
	}

	// A GSA_REKEY over sa signed by the key server's key: with rfc, as
	// RFC 9838 2.4.1.1 says (the AUTH payload fully formed, Authentication
	// Data zeroed, so its zeros as long as the signature); without, over
	// an AUTH payload holding only the ASN.1 Length and the
	// AlgorithmIdentifier.
	Bytes rekey_message(const LoggedSa &sa, uint32_t message_id, std::vector<Payload> inner, bool rfc = true)
	{
		const Bytes alg = ecdsa_sha256_alg();
		Bytes prefix{static_cast<uint8_t>(alg.size())};
		prefix.insert(prefix.end(), alg.begin(), alg.end());
		size_t sig_len = 72;
		Bytes auth_data;
		for (int attempt = 0; attempt < 64 && auth_data.empty(); attempt++) {
			AuthPayload zeroed{ike::kAuthDigitalSignature, prefix};
			if (rfc)
				zeroed.data.resize(prefix.size() + sig_len, 0);
			std::vector<Payload> with_auth = inner;
			with_auth.push_back(Payload{kAuthPayload, false, encode_auth(zeroed).value()});
			auto sig = creds.sign(gcks_id, signed_octets(header24(sa.spi, message_id), 0, with_auth));
			if (!sig || sig->size() <= prefix.size()) {
				ADD_FAILURE() << "no signature";
				return {};
			}
			// an ECDSA signature's DER length varies: sign again until
			// it fills the zeros exactly
			if (!rfc || sig->size() - prefix.size() == sig_len)
				auth_data = *sig;
			else
				sig_len = sig->size() - prefix.size();
		}
		EXPECT_FALSE(auth_data.empty());
		inner.push_back(Payload{kAuthPayload, false, encode_auth(AuthPayload{ike::kAuthDigitalSignature, auth_data}).value()});
		IkeHeader h;
		h.initiator_spi = be64_at(sa.spi, 0);
		h.responder_spi = be64_at(sa.spi, 8);
		h.exchange_type = kRekey;
		h.flags = kFlagInitiator;
		h.message_id = message_id;
		Bytes iv(sk_iv_size(SkCipher::AesGcm16));
		crypto::OpenSslRandom().fill(iv.data(), iv.size());
		return seal_message(h, {}, inner, sa.keys, iv).value();
	}

	void deliver(Node &gm, const Bytes &datagram)
	{
		gm.engine.receive(gm.addresses[0], gcks_addr, datagram);
		net.run();
	}

	Node *gcks = nullptr;
	std::vector<Node *> gms;
};

TEST_F(RekeyMessages, TheFirstMessageOverEachRekeySaHasIdZero)
{
	start(2);
	// the registration's Rekey SA: 0, 1, 2
	for (uint32_t want = 0; want < 3; want++)
		EXPECT_EQ(message_id(operator_rekey(*gms[0])), want);
	const Bytes first_sa = spi_of(operator_rekey(*gms[0]));
	// an eviction: the new Rekey SA over the old one (its ID 4), then the
	// TEK over the new Rekey SA, which starts at 0
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 2u);
	EXPECT_EQ(spi_of(rekeys[0]), first_sa);
	EXPECT_EQ(message_id(rekeys[0]), 4u);
	EXPECT_NE(spi_of(rekeys[1]), first_sa);
	EXPECT_EQ(message_id(rekeys[1]), 0u) << "RFC 9838 2.4.1.3: a new Rekey SA starts at 0";
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 6u) << "the member took every one";
	EXPECT_EQ(gcks->group("blue")->kek_message_id, 0u);
	// and counts on from there
	Datagram next = operator_rekey(*gms[0]);
	EXPECT_EQ(spi_of(next), spi_of(rekeys[1]));
	EXPECT_EQ(message_id(next), 1u);
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 7u);
	EXPECT_EQ(gms[0]->group("blue")->kek_message_id, 1u);
}

TEST_F(RekeyMessages, ReplaysAreDroppedOnEachRekeySa)
{
	start(2);
	const Datagram old0 = operator_rekey(*gms[0]);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 2u);
	const Datagram old1 = rekeys[0], new0 = rekeys[1];
	ASSERT_EQ(message_id(old1), 1u);
	ASSERT_EQ(message_id(new0), 0u);
	const uint64_t taken = gms[0]->group("blue")->counters.rekeys;
	ASSERT_EQ(taken, 3u);
	// within the deactivation delay both Rekey SAs are open: every one
	// of the three is a replay on its own SA
	for (const Datagram *d : {&old0, &old1, &new0})
		deliver(*gms[0], d->data);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_replay, 3u);
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, taken);
}

TEST_F(RekeyMessages, TheOldRekeySaKeepsItsOwnCountDuringTheDeactivationDelay)
{
	start(2);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 2u);
	const LoggedSa old_sa = logged_sa(*gms[0], spi_of(rekeys[0]));
	const LoggedSa new_sa = logged_sa(*gms[0], spi_of(rekeys[1]));
	ASSERT_EQ(message_id(rekeys[0]), 0u);
	ASSERT_EQ(message_id(rekeys[1]), 0u);
	Node &gm = *gms[0];
	const uint64_t taken = gm.group("blue")->counters.rekeys;
	// ID 1 over the old Rekey SA is new there (a count shared with the
	// new SA would make it no different from the new SA's 0)
	const Bytes old_1 = rekey_message(old_sa, 1, tek_payloads(old_sa, 0x0badf001));
	deliver(gm, old_1);
	EXPECT_EQ(gm.group("blue")->counters.rekeys, taken + 1);
	EXPECT_TRUE(gm.sink.has(0x0badf001));
	// and taken once only; ID 0 there is old too
	deliver(gm, old_1);
	deliver(gm, rekey_message(old_sa, 0, tek_payloads(old_sa, 0x0badf002)));
	EXPECT_EQ(gm.group("blue")->counters.dropped_replay, 2u);
	EXPECT_FALSE(gm.sink.ever_had(0x0badf002));
	// the new Rekey SA is where it was: its 1 is taken
	deliver(gm, rekey_message(new_sa, 1, tek_payloads(new_sa, 0x0badf003)));
	EXPECT_TRUE(gm.sink.has(0x0badf003));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, taken + 2);
	EXPECT_EQ(gm.group("blue")->kek_message_id, 1u);
	// after the deactivation delay the old Rekey SA is gone
	net.advance(6000);
	deliver(gm, rekey_message(old_sa, 7, tek_payloads(old_sa, 0x0badf004)));
	EXPECT_FALSE(gm.sink.ever_had(0x0badf004));
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u) << "no such Rekey SA";
}

TEST_F(RekeyMessages, ARestartedKeyServersFirstRekeyIsAccepted)
{
	start(1);
	Node &gm = *gms[0];
	for (int i = 0; i < 3; i++)
		operator_rekey(gm);
	ASSERT_EQ(gm.group("blue")->counters.rekeys, 3u);
	ASSERT_GE(gm.group("blue")->kek_message_id, 2u);
	// the key server restarts: a new engine on the same address, new keys
	gcks->addresses.clear();
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	ASSERT_TRUE(gm.engine.reregister("blue").ok());
	net.advance(100000);
	ASSERT_EQ(gcks->group("blue")->counters.registrations, 1u);
	ASSERT_EQ(gm.group("blue")->state, "registered");
	const uint32_t registered_tek = current_tek(*gcks);
	ASSERT_TRUE(gm.sink.has(registered_tek));
	// its first rekey, ID 0 over its new Rekey SA, is taken
	Datagram first = operator_rekey(gm);
	EXPECT_EQ(message_id(first), 0u);
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 4u);
	EXPECT_EQ(gm.group("blue")->counters.dropped_replay, 0u);
	EXPECT_NE(current_tek(*gcks), registered_tek);
	EXPECT_TRUE(gm.sink.has(current_tek(*gcks)));
	// and its replay is not
	deliver(gm, first.data);
	EXPECT_EQ(gm.group("blue")->counters.dropped_replay, 1u);
}

TEST_F(RekeyMessages, ALateJoinerStartsAtTheAnnouncedMessageId)
{
	start(1);
	operator_rekey(*gms[0]);
	const Datagram one = operator_rekey(*gms[0]);
	ASSERT_EQ(message_id(one), 1u);
	// a member that joins now is told GSA_INITIAL_MESSAGE_ID 2
	Node &late = add_member(1);
	net.tick();
	ASSERT_EQ(late.group("blue")->state, "registered");
	deliver(late, one.data);
	EXPECT_EQ(late.group("blue")->counters.dropped_replay, 1u) << "1 came before it joined";
	EXPECT_EQ(late.group("blue")->counters.rekeys, 0u);
	Datagram two = operator_rekey(late);
	EXPECT_EQ(message_id(two), 2u);
	EXPECT_EQ(late.group("blue")->counters.rekeys, 1u);
	EXPECT_TRUE(late.sink.has(current_tek(*gcks)));
	// registering again over the same Rekey SA keeps the count
	ASSERT_TRUE(late.engine.reregister("blue").ok());
	net.run();
	deliver(late, two.data);
	EXPECT_EQ(late.group("blue")->counters.dropped_replay, 2u);
	EXPECT_EQ(message_id(operator_rekey(late)), 3u);
	EXPECT_EQ(late.group("blue")->counters.rekeys, 2u);
}

TEST_F(RekeyMessages, ARekeySignedAsTheRfcDescribesIsAccepted)
{
	start(1);
	Node &gm = *gms[0];
	const Bytes spi = spi_of(operator_rekey(gm)); // ID 0 taken
	const LoggedSa sa = logged_sa(gm, spi);
	// signed over an AUTH payload without the signature's octets: refused
	const int verifies = creds.verify_calls;
	deliver(gm, rekey_message(sa, 1, tek_payloads(sa, 0x0badf011), false));
	EXPECT_EQ(creds.verify_calls, verifies + 1);
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u);
	EXPECT_FALSE(gm.sink.ever_had(0x0badf011));
	// signed over the AUTH payload as sent, its signature zeroed: taken,
	// several times over, whatever length each ECDSA signature has
	for (uint32_t i = 0; i < 8; i++) {
		deliver(gm, rekey_message(sa, 1 + i, tek_payloads(sa, 0x0badf020 + i)));
		EXPECT_TRUE(gm.sink.has(0x0badf020 + i)) << i;
	}
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 9u);
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u);
}

TEST_F(RekeyMessages, TheKeyServerSignsTheAuthPayloadAsSent)
{
	start(1);
	Node &gm = *gms[0];
	std::set<size_t> lengths;
	for (int i = 0; i < 12; i++) {
		const Datagram d = operator_rekey(gm);
		const LoggedSa sa = logged_sa(gm, spi_of(d));
		auto opened = open_message(d.data, sa.keys);
		ASSERT_TRUE(opened.ok());
		std::vector<Payload> inner = opened.value().inner;
		ASSERT_FALSE(inner.empty());
		ASSERT_EQ(inner.back().type, kAuthPayload);
		const AuthPayload sent = decode_auth(inner.back().body).value();
		ASSERT_EQ(sent.method, ike::kAuthDigitalSignature);
		const size_t prefix = 1 + size_t(sent.data.at(0));
		ASSERT_GT(sent.data.size(), prefix);
		lengths.insert(sent.data.size() - prefix);
		// the RFC's A | P: the AUTH payload as sent, its Authentication
		// Data zeroed
		AuthPayload zeroed = sent;
		std::fill(zeroed.data.begin() + static_cast<long>(prefix), zeroed.data.end(), 0);
		inner.back().body = encode_auth(zeroed).value();
		const Bytes h24(d.data.begin(), d.data.begin() + 24);
		EXPECT_TRUE(creds.verify(gcks_id, signed_octets(h24, d.data[29], inner), sent.data, "blue",
					 PeerRole::KeyServer)) << i;
		// not over an AUTH payload without the signature's octets
		AuthPayload stub = sent;
		stub.data.resize(prefix);
		inner.back().body = encode_auth(stub).value();
		EXPECT_FALSE(creds.verify(gcks_id, signed_octets(h24, d.data[29], inner), sent.data, "blue",
					 PeerRole::KeyServer)) << i;
	}
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 12u);
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 0u);
	// ECDSA P-256 in DER: 70 to 72 octets mostly; the test saw some
	EXPECT_FALSE(lengths.empty());
	for (size_t l : lengths)
		EXPECT_LE(l, 72u);
}

} // namespace
} // namespace groupsec::gdoi::test
