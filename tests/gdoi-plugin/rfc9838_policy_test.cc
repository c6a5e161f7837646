// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 9838 policy negotiation and policy contents, engines wired in memory:
// the key wrap algorithm of IKE_SA_INIT, the Rekey SA's transforms,
// Sender-IDs and GWP_SENDER_ID_BITS, the Sequence Numbers transform, the
// Rekey SA's traffic selectors, INVALID_GROUP_ID after authentication,
// lifetimes, and the member's NO_PROPOSAL_CHOSEN.
#include <algorithm>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "gdoi_config.h"
#include "gdoi_protocol_util.h"
#include "gikev2_wire.h"
#include "ike/ike_crypto.h"
#include "ike/ike_sa_payload.h"

namespace groupsec::gdoi::test {
namespace {

constexpr uint8_t kNoProposalChosen = 14;

uint64_t be64_at(const Bytes &b, size_t at)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | b[at + i];
	return v;
}

Bytes be32(uint32_t v)
{
	return Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
		     static_cast<uint8_t>(v)};
}

const Transform *transform(const GsaPolicy &p, TransformType t)
{
	for (const Transform &x : p.transforms)
		if (x.type == static_cast<uint8_t>(t))
			return &x;
	return nullptr;
}

std::vector<uint16_t> notifies(const std::vector<Payload> &ps)
{
	std::vector<uint16_t> out;
	for (const Payload &p : ps)
		if (p.type == static_cast<uint8_t>(PayloadType::Notify))
			if (auto n = decode_notify(p.body))
				out.push_back(n.value().type);
	return out;
}

bool has_payload(const std::vector<Payload> &ps, PayloadType t)
{
	return std::any_of(ps.begin(), ps.end(), [&](const Payload &p) { return p.type == static_cast<uint8_t>(t); });
}

template <typename T, typename F> std::optional<T> decoded(const std::vector<Payload> &ps, PayloadType t, F f)
{
	for (const Payload &p : ps)
		if (p.type == static_cast<uint8_t>(t))
			if (auto x = f(p.body))
				return x.value();
	return std::nullopt;
}

std::optional<GsaPayload> gsa_of(const std::vector<Payload> &ps)
{
	return decoded<GsaPayload>(ps, PayloadType::GroupSa, [](const Bytes &b) { return decode_gsa(b); });
}

std::optional<KeyDownloadPayload> kd_of(const std::vector<Payload> &ps)
{
	return decoded<KeyDownloadPayload>(ps, PayloadType::KeyDownload,
					   [](const Bytes &b) { return decode_key_download(b); });
}

class Rfc9838Policy : public GroupTest {
protected:
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c = GroupTest::server_config();
		c.deactivation_delay_s = 5;
		return c;
	}

	// A key server and n members of group blue (registered or not).
	void start(int n, const GcksGroupConfig &sc, std::function<void(GmGroupConfig &)> adjust = nullptr)
	{
		gcks = &net.add({gcks_addr}, &creds);
		auto added = gcks->engine.add_server_group(sc);
		ASSERT_TRUE(added.ok()) << added.error().message;
		for (int i = 0; i < n; i++) {
			std::vector<Address> a{gm_addrs[i]};
			if (sc.multicast)
				a.push_back(*sc.multicast);
			Node &m = net.add(a, &creds);
			GmGroupConfig mc = member_config(i);
			if (sc.multicast)
				mc.multicast = sc.multicast;
			if (adjust)
				adjust(mc);
			auto r = m.engine.add_member_group(mc);
			ASSERT_TRUE(r.ok()) << r.error().message;
			gms.push_back(&m);
		}
		net.tick();
	}

	// The datagrams of an exchange the key server sent to member i.
	std::vector<Datagram> to_member(size_t i, ExchangeType t) const
	{
		std::vector<Datagram> out;
		for (const Datagram &d : net.sent_with_exchange(static_cast<uint8_t>(t)))
			if (d.from == gcks_addr && d.to == gm_addrs[i])
				out.push_back(d);
		return out;
	}

	// The inner payloads of the key server's last answer of exchange t to
	// member i, opened with the keys of the member's first IKE SA.
	std::vector<Payload> answer(size_t i, ExchangeType t)
	{
		auto ds = to_member(i, t);
		EXPECT_FALSE(ds.empty());
		EXPECT_FALSE(gms[i]->keylog.ike_sas.empty());
		if (ds.empty() || gms[i]->keylog.ike_sas.empty())
			return {};
		auto m = open_message(ds.back().data, gms[i]->keylog.ike_sas.front().responder);
		EXPECT_TRUE(m.ok()) << m.error().message;
		return m ? m.value().inner : std::vector<Payload>{};
	}

	// The GSA of member i's registration.
	GsaPayload registration_gsa(size_t i)
	{
		auto gsa = gsa_of(answer(i, ExchangeType::GsaAuth));
		EXPECT_TRUE(gsa.has_value());
		return gsa.value_or(GsaPayload{});
	}

	// Every GSA_REKEY the key server sent, opened with the Rekey SA keys
	// it logged.
	std::vector<std::vector<Payload>> rekeys_sent()
	{
		std::vector<std::vector<Payload>> out;
		for (const Datagram &d : net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaRekey)))
			for (const auto &[spi, keys] : gcks->keylog.rekey_sas)
				if (Bytes(d.data.begin(), d.data.begin() + 16) == spi)
					if (auto m = open_message(d.data, keys))
						out.push_back(m.value().inner);
		return out;
	}

	// A GSA_REKEY as a key server of an implicit group would send it to
	// member i: sealed with the member's current Rekey SA keys.
	void send_rekey(size_t i, uint32_t message_id, const std::vector<Payload> &inner)
	{
		ASSERT_FALSE(gms[i]->keylog.rekey_sas.empty());
		const auto &[spi, keys] = gms[i]->keylog.rekey_sas.back();
		IkeHeader h;
		h.initiator_spi = be64_at(spi, 0);
		h.responder_spi = be64_at(spi, 8);
		h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRekey);
		h.flags = kFlagInitiator;
		h.message_id = message_id;
		Bytes iv(keys.cipher == SkCipher::AesGcm16 ? 8 : 16, 0);
		iv[0] = static_cast<uint8_t>(message_id);
		iv[1] = 0x5a;
		auto d = seal_message(h, {}, inner, keys, iv);
		ASSERT_TRUE(d.ok()) << d.error().message;
		net.deliver(Datagram{gcks_addr, gm_addrs[i], d.value()});
		net.run();
	}

	// The GSK_w of member i's current Rekey SA (KW_5649_256).
	Bytes rekey_gsk_w(size_t i)
	{
		auto keks = gms[i]->keylog.of_kind("kek");
		EXPECT_FALSE(keks.empty());
		if (keks.empty())
			return {};
		const Bytes &v = keks.back().value;
		return Bytes(v.end() - 32, v.end());
	}

	struct TekShape {
		uint16_t encryption = static_cast<uint16_t>(EncryptionId::AesGcm16);
		std::optional<uint16_t> integrity; // an INTEG transform with this ID
		uint16_t sn = static_cast<uint16_t>(SequenceNumbersId::Unspecified32);
		std::optional<uint32_t> lifetime = 3600;
		std::vector<Bytes> sender_ids; // GM_SENDER_IDs in a member key bag
	};

	// GSA and KD of one new ESP TEK (256-bit key) of the given shape, its
	// keys wrapped under member i's Rekey SA GSK_w.
	std::vector<Payload> tek_payloads(size_t i, uint32_t spi, const TekShape &s)
	{
		GsaPolicy p;
		p.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
		p.spi = be32(spi);
		p.source = range4("10.0.0.0", "10.255.255.255");
		p.destination = p.source;
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
						 s.encryption,
						 {make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength),
								    256)}});
		if (s.integrity)
			p.transforms.push_back(
				Transform{static_cast<uint8_t>(TransformType::Integrity), *s.integrity, {}});
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::SequenceNumbers), s.sn, {}});
		p.key_lifetime = s.lifetime;
		GsaPayload gsa;
		gsa.teks.push_back(p);
		const bool gcm = s.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16);
		Bytes keymat(gcm ? 36 : 64, static_cast<uint8_t>(spi));
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp),
							be32(spi),
							{WrappedKey{0, 0, ike::key_wrap(rekey_gsk_w(i), keymat).value()}},
							{}});
		if (!s.sender_ids.empty()) {
			MemberKeyBag mb;
			mb.sender_ids = s.sender_ids;
			kd.member_key_bag = mb;
		}
		return {Payload{static_cast<uint8_t>(PayloadType::GroupSa), false, encode_gsa(gsa).value()},
			Payload{static_cast<uint8_t>(PayloadType::KeyDownload), false, encode_key_download(kd).value()}};
	}

	// An implicit group (no signatures): a test can build its rekeys.
	void start_implicit(int n)
	{
		GcksGroupConfig c = server_config();
		c.rekey_auth = RekeyAuth::Implicit;
		start(n, c, [](GmGroupConfig &m) { m.rekey_auth = RekeyAuth::Implicit; });
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}

	const TekSa *installed(Node &n, uint32_t spi)
	{
		auto it = n.sink.installed.find({"blue", spi});
		return it == n.sink.installed.end() ? nullptr : &it->second;
	}
};

// --- the key wrap algorithm of IKE_SA_INIT (RFC 9838 4.5.4) ---

class KeyWrapNegotiation : public Rfc9838Policy, public ::testing::WithParamInterface<uint16_t> {};

TEST_P(KeyWrapNegotiation, TheMembersKwaIsChosenAndWrapsTheRegistrationKeys)
{
	const uint16_t kwa = GetParam();
	start(1, server_config(), [&](GmGroupConfig &m) { m.key_wrap = kwa; });
	ASSERT_EQ(gms[0]->group("blue")->state, "registered");
	auto init = to_member(0, ExchangeType::IkeSaInit);
	ASSERT_EQ(init.size(), 1u);
	auto m = decode_message(init[0].data);
	ASSERT_TRUE(m.ok());
	const Payload *sa = nullptr;
	for (const Payload &p : m.value().payloads)
		if (p.type == static_cast<uint8_t>(PayloadType::SecurityAssociation))
			sa = &p;
	ASSERT_NE(sa, nullptr);
	auto props = ike::decode_sa(sa->body);
	ASSERT_TRUE(props.ok());
	ASSERT_EQ(props.value().size(), 1u);
	std::vector<uint16_t> kwas;
	for (const Transform &t : props.value()[0].transforms)
		if (t.type == static_cast<uint8_t>(TransformType::KeyWrapAlgorithm))
			kwas.push_back(t.id);
	EXPECT_EQ(kwas, std::vector<uint16_t>{kwa}) << "the key server answers with the KWA it took";
	// the registration's keys were wrapped under a GSK_w of that size:
	// RFC 5649 output is the key's size rounded up to 8, plus 8
	auto kd = kd_of(answer(0, ExchangeType::GsaAuth));
	ASSERT_TRUE(kd.has_value());
	EXPECT_FALSE(kd->group_key_bags.empty());
	EXPECT_FALSE(gms[0]->sink.installed.empty());
}

INSTANTIATE_TEST_SUITE_P(Rfc9838, KeyWrapNegotiation,
			 ::testing::Values(static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_128),
					   static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_192),
					   static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256)));

TEST_F(Rfc9838Policy, AProposalWithoutAKeyWrapAlgorithmGetsNoProposalChosen)
{
	// the member's IKE_SA_INIT is held back, and sent again without KWA
	net.drop = [&](const Datagram &d) { return d.to == gcks_addr && d.data.size() > 18 && d.data[18] == 34; };
	start(1, server_config());
	net.drop = nullptr;
	auto sent = net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::IkeSaInit));
	ASSERT_FALSE(sent.empty());
	auto m = decode_message(sent[0].data);
	ASSERT_TRUE(m.ok());
	for (Payload &p : m.value().payloads) {
		if (p.type != static_cast<uint8_t>(PayloadType::SecurityAssociation))
			continue;
		auto props = ike::decode_sa(p.body).value();
		auto &ts = props[0].transforms;
		ts.erase(std::remove_if(ts.begin(), ts.end(),
					[](const Transform &t) {
						return t.type == static_cast<uint8_t>(TransformType::KeyWrapAlgorithm);
					}),
			 ts.end());
		p.body = ike::encode_sa(props).value();
	}
	net.log.clear();
	net.deliver(Datagram{gm_addrs[0], gcks_addr, encode_message(m.value()).value()});
	net.run();
	auto answers = to_member(0, ExchangeType::IkeSaInit);
	ASSERT_EQ(answers.size(), 1u);
	auto a = decode_message(answers[0].data);
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(notifies(a.value().payloads), std::vector<uint16_t>{kNoProposalChosen});
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 0u);
}

TEST_F(Rfc9838Policy, TheMemberRefusesAnAnswerWithAnotherKwa)
{
	// the key server's answer is held back and altered to name KW_5649_128
	net.drop = [&](const Datagram &d) { return d.from == gcks_addr && d.data.size() > 18 && d.data[18] == 34; };
	start(1, server_config());
	net.drop = nullptr;
	auto answers = to_member(0, ExchangeType::IkeSaInit);
	ASSERT_FALSE(answers.empty());
	auto m = decode_message(answers[0].data);
	ASSERT_TRUE(m.ok());
	for (Payload &p : m.value().payloads) {
		if (p.type != static_cast<uint8_t>(PayloadType::SecurityAssociation))
			continue;
		auto props = ike::decode_sa(p.body).value();
		for (Transform &t : props[0].transforms)
			if (t.type == static_cast<uint8_t>(TransformType::KeyWrapAlgorithm))
				t.id = static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_128);
		p.body = ike::encode_sa(props).value();
	}
	const uint64_t before = gms[0]->group("blue")->counters.dropped_malformed;
	net.deliver(Datagram{gcks_addr, gm_addrs[0], encode_message(m.value()).value()});
	net.run();
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_malformed, before + 1);
	EXPECT_TRUE(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaAuth)).empty())
		<< "no GSA_AUTH over an IKE SA whose KWA we did not offer";
}

// --- the Rekey SA's transforms (RFC 9838 4.4.2.1) ---

struct RekeyCase {
	uint16_t encryption, key_bits, integrity, kwa;
};

class RekeySaSuite : public Rfc9838Policy, public ::testing::WithParamInterface<RekeyCase> {};

TEST_P(RekeySaSuite, MembersRegisterAndFollowRekeysAndEvictions)
{
	const RekeyCase rc = GetParam();
	GcksGroupConfig c = server_config();
	c.rekey_encryption = rc.encryption;
	c.rekey_key_bits = rc.key_bits;
	c.rekey_integrity = rc.integrity;
	c.rekey_key_wrap = rc.kwa;
	start(3, c);
	for (Node *m : gms)
		ASSERT_EQ(m->group("blue")->state, "registered");
	// the policy says so
	GsaPayload gsa = registration_gsa(0);
	ASSERT_TRUE(gsa.kek.has_value());
	const Transform *encr = transform(*gsa.kek, TransformType::Encryption);
	const Transform *integ = transform(*gsa.kek, TransformType::Integrity);
	const Transform *kwa = transform(*gsa.kek, TransformType::KeyWrapAlgorithm);
	ASSERT_NE(encr, nullptr);
	ASSERT_NE(kwa, nullptr);
	EXPECT_EQ(encr->id, rc.encryption);
	EXPECT_EQ(ike::key_length(*encr), rc.key_bits);
	EXPECT_EQ(kwa->id, rc.kwa);
	if (rc.integrity) {
		ASSERT_NE(integ, nullptr);
		EXPECT_EQ(integ->id, rc.integrity);
	} else {
		EXPECT_EQ(integ, nullptr) << "an AEAD's INTEG is left out";
	}
	// a TEK rekey over the Rekey SA, then an eviction (a new Rekey SA
	// of the same suite) that the others follow
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	for (Node *m : gms)
		EXPECT_TRUE(m->sink.has(spi));
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	spi = current_spi(*gcks);
	EXPECT_TRUE(gms[0]->sink.has(spi));
	EXPECT_TRUE(gms[1]->sink.has(spi));
	EXPECT_FALSE(gms[2]->sink.has(spi));
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 3u);
	for (const auto &inner : rekeys_sent())
		if (auto g = gsa_of(inner); g && g->kek)
			EXPECT_EQ(transform(*g->kek, TransformType::Encryption)->id, rc.encryption);
	EXPECT_EQ(rekeys_sent().size(), net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaRekey)).size());
}

INSTANTIATE_TEST_SUITE_P(Rfc9838, RekeySaSuite,
			 ::testing::Values(RekeyCase{20, 128, 0, 1}, RekeyCase{20, 192, 0, 2}, RekeyCase{20, 256, 0, 3},
					   RekeyCase{12, 256, 12, 3}, RekeyCase{12, 128, 12, 1}));

TEST_F(Rfc9838Policy, ANewRekeySaSuiteComesWithANewRekeySa)
{
	start(2, server_config());
	const uint32_t tek = current_spi(*gcks);
	GcksGroupConfig c = server_config();
	c.rekey_encryption = 12;
	c.rekey_integrity = 12;
	c.rekey_key_bits = 128;
	c.rekey_key_wrap = 1;
	ASSERT_TRUE(gcks->engine.add_server_group(c).ok());
	net.run();
	// one GSA_REKEY with the new KEK policy, which both members take
	auto sent = rekeys_sent();
	ASSERT_EQ(sent.size(), 2u) << "one to each member";
	auto gsa = gsa_of(sent[0]);
	ASSERT_TRUE(gsa && gsa->kek);
	EXPECT_EQ(transform(*gsa->kek, TransformType::Encryption)->id, 12);
	EXPECT_EQ(transform(*gsa->kek, TransformType::KeyWrapAlgorithm)->id, 1);
	EXPECT_EQ(current_spi(*gcks), tek) << "the TEK policy did not change";
	for (Node *m : gms)
		EXPECT_EQ(m->group("blue")->counters.rekeys, 1u);
	// and the next rekey goes over the AES-CBC Rekey SA
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	for (Node *m : gms) {
		EXPECT_EQ(m->group("blue")->counters.rekeys, 2u);
		EXPECT_TRUE(m->sink.has(current_spi(*gcks)));
	}
}

TEST_F(Rfc9838Policy, AnUnsupportedRekeySaIsRefusedByValidate)
{
	GcksGroupConfig c = server_config();
	c.rekey_encryption = 12; // AES-CBC without integrity
	EXPECT_TRUE(validate(c).has_value());
	c = server_config();
	c.rekey_key_wrap = 4; // KW_ARX
	EXPECT_TRUE(validate(c).has_value());
	GmGroupConfig m = member_config(0);
	m.key_wrap = 0;
	EXPECT_TRUE(validate(m).has_value());
}

// --- TEK transforms and lifetimes as a member takes them ---

TEST_F(Rfc9838Policy, IntegNoneNextToAesGcmIsAccepted)
{
	start_implicit(1);
	TekShape s;
	s.integrity = static_cast<uint16_t>(IntegrityId::None);
	send_rekey(0, 100, tek_payloads(0, 0x1000, s));
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 1u) << "RFC 9838 4.4.2.1: INTEG \"MUST contain value NONE\"";
	ASSERT_NE(installed(*gms[0], 0x1000), nullptr);
	EXPECT_EQ(installed(*gms[0], 0x1000)->integrity, 0u);
}

TEST_F(Rfc9838Policy, EsnOnATekIsRefusedAndUnspecifiedNumbersAccepted)
{
	start_implicit(1);
	TekShape esn;
	esn.sn = static_cast<uint16_t>(SequenceNumbersId::PartiallyTransmitted64);
	const uint64_t dropped = gms[0]->group("blue")->counters.dropped_malformed;
	send_rekey(0, 100, tek_payloads(0, 0x2000, esn));
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 0u);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_malformed, dropped + 1);
	EXPECT_EQ(installed(*gms[0], 0x2000), nullptr) << "4.4.2.1.3: ESN \"MUST NOT be used for multicast\"";
	send_rekey(0, 101, tek_payloads(0, 0x2001, TekShape{}));
	EXPECT_NE(installed(*gms[0], 0x2001), nullptr);
	TekShape seq;
	seq.sn = static_cast<uint16_t>(SequenceNumbersId::Sequential32);
	send_rekey(0, 102, tek_payloads(0, 0x2002, seq));
	EXPECT_NE(installed(*gms[0], 0x2002), nullptr);
}

TEST_F(Rfc9838Policy, ATekWithoutLifetimeGetsNoLifetimeOfTheMembersMaking)
{
	start_implicit(1);
	TekShape s;
	s.lifetime.reset();
	send_rekey(0, 100, tek_payloads(0, 0x3000, s));
	ASSERT_NE(installed(*gms[0], 0x3000), nullptr);
	EXPECT_EQ(installed(*gms[0], 0x3000)->lifetime_s, 0u) << "no GSA_KEY_LIFETIME, no invented one";
	bool seen = false;
	for (const SaState &sa : gms[0]->group("blue")->sas)
		if (sa.spi == 0x3000) {
			seen = true;
			EXPECT_EQ(sa.expires_ms, UINT64_MAX) << "it lasts until replaced or deleted";
		}
	EXPECT_TRUE(seen);
	// one with a lifetime has it
	send_rekey(0, 101, tek_payloads(0, 0x3001, TekShape{}));
	ASSERT_NE(installed(*gms[0], 0x3001), nullptr);
	EXPECT_EQ(installed(*gms[0], 0x3001)->lifetime_s, 3600u);
}

TEST_F(Rfc9838Policy, SenderIdsInARekeyAreRefused)
{
	start_implicit(1);
	TekShape s;
	s.sender_ids = {Bytes{0x00, 0x07}};
	send_rekey(0, 100, tek_payloads(0, 0x4000, s));
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 0u) << "4.5.3.3: GM_SENDER_ID \"MUST NOT appear in the rekey\"";
	EXPECT_EQ(installed(*gms[0], 0x4000), nullptr);
}

// --- Sender-IDs and the sequence numbers (RFC 9838 2.5.1, 4.4.2.1.3) ---

TEST_F(Rfc9838Policy, ASenderAskingForNoneGetsOneAndSendersBitsOnlyAtRegistration)
{
	start(2, server_config(), [](GmGroupConfig &m) {
		m.sender = m.local_id.str() == "gm1.example.net";
		m.sender_ids = 0;
	});
	// 2.5.1: "the GCKS will automatically allocate exactly one"
	EXPECT_EQ(gms[0]->group("blue")->sender_ids.size(), 1u);
	EXPECT_TRUE(gms[1]->group("blue")->sender_ids.empty());
	// GWP_SENDER_ID_BITS for the sender only, and the GM_SENDER_ID is
	// as wide as it says
	GsaPayload s = registration_gsa(0);
	ASSERT_TRUE(s.group_wide.has_value());
	ASSERT_TRUE(s.group_wide->sender_id_bits.has_value());
	auto kd = kd_of(answer(0, ExchangeType::GsaAuth));
	ASSERT_TRUE(kd && kd->member_key_bag);
	ASSERT_EQ(kd->member_key_bag->sender_ids.size(), 1u);
	EXPECT_EQ(kd->member_key_bag->sender_ids[0].size(), (*s.group_wide->sender_id_bits + 7u) / 8u);
	GsaPayload r = registration_gsa(1);
	ASSERT_TRUE(r.group_wide.has_value());
	EXPECT_FALSE(r.group_wide->sender_id_bits.has_value()) << "section 5, note (1): \"Otherwise it MUST NOT be present\"";
	// never in GSA_REKEY
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	auto sent = rekeys_sent();
	ASSERT_FALSE(sent.empty());
	for (const auto &inner : sent) {
		auto g = gsa_of(inner);
		ASSERT_TRUE(g.has_value());
		EXPECT_FALSE(g->group_wide && g->group_wide->sender_id_bits) << "no GWP_SENDER_ID_BITS in GSA_REKEY";
		auto k = kd_of(inner);
		EXPECT_FALSE(k && k->member_key_bag && !k->member_key_bag->sender_ids.empty());
	}
}

TEST_F(Rfc9838Policy, AMemberThatIsNotASenderInstallsNoOutboundSa)
{
	start(2, server_config(), [](GmGroupConfig &m) { m.sender = m.local_id.str() == "gm1.example.net"; });
	ASSERT_FALSE(gms[0]->sink.ever.empty());
	ASSERT_FALSE(gms[1]->sink.ever.empty());
	for (const TekSa &sa : gms[0]->sink.ever)
		EXPECT_TRUE(sa.outbound);
	for (const TekSa &sa : gms[1]->sink.ever)
		EXPECT_FALSE(sa.outbound) << "receive only";
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.advance(10000);
	EXPECT_TRUE(gms[1]->sink.has(current_spi(*gcks)));
	EXPECT_TRUE(gms[1]->sink.activated.empty()) << "a rekey's TEK is never activated for sending";
	for (const TekSa &sa : gms[1]->sink.ever)
		EXPECT_FALSE(sa.outbound);
	// without N(GROUP_SENDER) in its requests
	for (const Datagram &d : net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaAuth)))
		if (d.from == gm_addrs[1] && !gms[1]->keylog.ike_sas.empty()) {
			auto m = open_message(d.data, gms[1]->keylog.ike_sas.front().initiator);
			ASSERT_TRUE(m.ok());
			for (uint16_t n : notifies(m.value().inner))
				EXPECT_NE(n, static_cast<uint16_t>(NotifyType::GroupSender));
		}
}

TEST_F(Rfc9838Policy, MoreSenderIdsThanTheLimitGetTheLimitNotAFailure)
{
	start(1, server_config());
	ASSERT_EQ(gms[0]->group("blue")->state, "registered");
	// a GSA_REGISTRATION on the member's IKE SA asking for 1000
	ASSERT_FALSE(gms[0]->keylog.ike_sas.empty());
	const auto &ike = gms[0]->keylog.ike_sas.front();
	IkeHeader h;
	h.initiator_spi = ike.spi_i;
	h.responder_spi = ike.spi_r;
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRegistration);
	h.flags = kFlagInitiator;
	h.message_id = 2;
	IdentificationPayload idg{group_id.type, group_id.data};
	std::vector<Payload> inner{
		Payload{static_cast<uint8_t>(PayloadType::GroupId), false, encode_identification(idg).value()},
		Payload{static_cast<uint8_t>(PayloadType::Notify), false,
			encode_notify(make_group_sender_notify(1000)).value()}};
	auto d = seal_message(h, {}, inner, ike.initiator, Bytes(8, 0x77));
	ASSERT_TRUE(d.ok());
	net.deliver(Datagram{gm_addrs[0], gcks_addr, d.value()});
	// (the answer is queued: take it before the member sees it)
	ASSERT_FALSE(net.queue.empty());
	Datagram a = net.queue.front();
	net.queue.clear();
	auto m = open_message(a.data, ike.responder);
	ASSERT_TRUE(m.ok()) << m.error().message;
	EXPECT_TRUE(notifies(m.value().inner).empty()) << "4.5.3.3: \"The GCKS MAY send fewer values than requested\"";
	auto kd = kd_of(m.value().inner);
	ASSERT_TRUE(kd && kd->member_key_bag);
	EXPECT_EQ(kd->member_key_bag->sender_ids.size(), 16u);
}

TEST_F(Rfc9838Policy, TeksOfSeveralSendersSayUnspecifiedNumbers)
{
	GcksGroupConfig c = server_config();
	TekPolicyConfig one = c.teks[0];
	one.destination = range4("239.1.1.1", "239.1.1.1");
	one.single_sender = true;
	c.teks.push_back(one);
	start(1, c);
	GsaPayload gsa = registration_gsa(0);
	ASSERT_EQ(gsa.teks.size(), 2u);
	const Transform *many = transform(gsa.teks[0], TransformType::SequenceNumbers);
	const Transform *single = transform(gsa.teks[1], TransformType::SequenceNumbers);
	ASSERT_TRUE(many && single);
	EXPECT_EQ(many->id, static_cast<uint16_t>(SequenceNumbersId::Unspecified32));
	EXPECT_EQ(single->id, static_cast<uint16_t>(SequenceNumbersId::Sequential32));
}

// --- the Rekey SA's traffic selectors (RFC 9838 4.4.2) ---

TEST_F(Rfc9838Policy, AMulticastRekeySaNamesOneAddressUdpAndOnePort)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Multicast;
	c.multicast = addr("239.0.0.9", 848);
	start(1, c);
	GsaPayload gsa = registration_gsa(0);
	ASSERT_TRUE(gsa.kek.has_value());
	const TrafficSelector &dst = gsa.kek->destination, &src = gsa.kek->source;
	EXPECT_EQ(dst.start_address, c.multicast->ip);
	EXPECT_EQ(dst.end_address, c.multicast->ip);
	EXPECT_EQ(dst.ip_protocol, 17);
	EXPECT_EQ(dst.start_port, 848);
	EXPECT_EQ(dst.end_port, 848);
	EXPECT_EQ(src.start_address, gcks_addr.ip);
	EXPECT_EQ(src.end_address, gcks_addr.ip);
	EXPECT_EQ(src.ip_protocol, 17);
	EXPECT_EQ(src.start_port, gcks_addr.port);
	EXPECT_EQ(src.end_port, gcks_addr.port);
}

TEST_F(Rfc9838Policy, AUnicastRekeySaIsUdpToTheGikev2Port)
{
	start(1, server_config());
	GsaPayload gsa = registration_gsa(0);
	ASSERT_TRUE(gsa.kek.has_value());
	EXPECT_EQ(gsa.kek->destination.ip_protocol, 17);
	EXPECT_EQ(gsa.kek->destination.start_port, gcks_addr.port);
	EXPECT_EQ(gsa.kek->destination.end_port, gcks_addr.port);
	EXPECT_EQ(gsa.kek->source.start_address, gcks_addr.ip);
	EXPECT_EQ(gsa.kek->source.ip_protocol, 17);
}

// --- errors (RFC 9838 2.3.1, 2.3.3) ---

TEST_F(Rfc9838Policy, InvalidGroupIdComesOnlyAfterAuthentication)
{
	const Identity other = id("@#6f74686572");
	creds.add_key(gm_ids[1]);
	start(2, server_config(), [&](GmGroupConfig &m) {
		m.group_id = other;
		if (m.local_id.str() == "gm2.example.net") {
			// signs, where the key server takes shared keys: not
			// authenticated
			m.auth = AuthKind::PublicKey;
		}
	});
	auto good = answer(0, ExchangeType::GsaAuth);
	EXPECT_EQ(notifies(good), std::vector<uint16_t>{static_cast<uint16_t>(NotifyType::InvalidGroupId)});
	EXPECT_TRUE(has_payload(good, PayloadType::IdResponder)) << "HDR, SK{IDr, [CERT,] AUTH, N}";
	EXPECT_TRUE(has_payload(good, PayloadType::Authentication));
	auto bad = answer(1, ExchangeType::GsaAuth);
	EXPECT_EQ(notifies(bad), std::vector<uint16_t>{static_cast<uint16_t>(NotifyType::AuthenticationFailed)})
		<< "an unauthenticated peer does not learn which group IDs exist";
	EXPECT_FALSE(has_payload(bad, PayloadType::Authentication));
	EXPECT_NE(gms[0]->group("blue")->state, "registered");
}

TEST_F(Rfc9838Policy, AMemberThatCannotAcceptThePolicySaysNoProposalChosen)
{
	GcksGroupConfig c = server_config();
	c.rekey_auth = RekeyAuth::Implicit;
	start(2, c, [](GmGroupConfig &m) {
		if (m.local_id.str() == "gm2.example.net")
			m.rekey_auth = RekeyAuth::Implicit;
	});
	EXPECT_NE(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gms[1]->group("blue")->state, "registered");
	// 2.3.1: "the member SHOULD inform the GCKS about this by initiating
	// the GSA_REGISTRATION exchange with the IDg payload and the
	// NO_PROPOSAL_CHOSEN notification"; 2.3.2: "The GCKS in this case MUST
	// remove the GM from the group IDg"
	bool told = false;
	for (const Datagram &d : net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaRegistration)))
		if (d.from == gm_addrs[0]) {
			auto m = open_message(d.data, gms[0]->keylog.ike_sas.front().initiator);
			ASSERT_TRUE(m.ok());
			told = told || (notifies(m.value().inner) == std::vector<uint16_t>{kNoProposalChosen} &&
					has_payload(m.value().inner, PayloadType::GroupId));
		}
	EXPECT_TRUE(told);
	const auto members = gcks->group("blue")->members;
	ASSERT_EQ(members.size(), 1u);
	EXPECT_EQ(members[0].id, gm_ids[1]);
	EXPECT_TRUE(gms[0]->sink.ever.empty());
}

// --- the settings ---

using Settings = std::vector<std::pair<std::string, std::string>>;

const Settings kServer = {
	{"blue.role", "server"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "ks.example.net"},
	{"blue.listen", "192.0.2.1"},
	{"blue.members", "gm1.example.net"},
	{"blue.tek-1.local_ts", "10.0.0.0/8"},
	{"blue.tek-1.remote_ts", "10.0.0.0/8"},
};

const Settings kMember = {
	{"blue.role", "member"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "gm1.example.net"},
	{"blue.local_addrs", "198.51.100.7"},
	{"blue.servers", "192.0.2.1"},
	{"blue.server_id", "ks.example.net"},
};

Settings plus(Settings s, const std::string &key, const std::string &value)
{
	s.emplace_back(key, value);
	return s;
}

TEST(Rfc9838Settings, TheRekeySaAndKeyWrapAreSettings)
{
	auto d = parse_config(kServer);
	ASSERT_TRUE(d.ok()) << d.error().message;
	const GcksGroupConfig &s = d.value().servers.at(0);
	EXPECT_EQ(s.rekey_encryption, 20);
	EXPECT_EQ(s.rekey_key_bits, 256);
	EXPECT_EQ(s.rekey_integrity, 0);
	EXPECT_EQ(s.rekey_key_wrap, 3);
	EXPECT_FALSE(s.teks.at(0).single_sender);
	auto c = parse_config(plus(plus(plus(kServer, "blue.rekey_proposal", "aes128-sha256"), "blue.key_wrap",
					"kw_5649_128"),
				   "blue.tek-1.single_sender", "yes"));
	ASSERT_TRUE(c.ok()) << c.error().message;
	const GcksGroupConfig &t = c.value().servers.at(0);
	EXPECT_EQ(t.rekey_encryption, 12);
	EXPECT_EQ(t.rekey_key_bits, 128);
	EXPECT_EQ(t.rekey_integrity, 12);
	EXPECT_EQ(t.rekey_key_wrap, 1);
	EXPECT_TRUE(t.teks.at(0).single_sender);
	auto bad = parse_config(plus(kServer, "blue.key_wrap", "kw_arx"));
	ASSERT_FALSE(bad.ok());
	EXPECT_NE(bad.error().message.find("groups.blue.key_wrap"), std::string::npos) << bad.error().message;
	EXPECT_FALSE(parse_config(plus(kServer, "blue.rekey_proposal", "aes256gcm12")).ok());
}

TEST(Rfc9838Settings, AMemberIsASenderUnlessToldNot)
{
	auto d = parse_config(kMember);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_TRUE(d.value().members.at(0).sender);
	EXPECT_EQ(d.value().members.at(0).key_wrap, 3);
	auto c = parse_config(plus(plus(kMember, "blue.sender", "no"), "blue.key_wrap", "kw_5649_192"));
	ASSERT_TRUE(c.ok()) << c.error().message;
	EXPECT_FALSE(c.value().members.at(0).sender);
	EXPECT_EQ(c.value().members.at(0).key_wrap, 2);
	EXPECT_FALSE(parse_config(plus(kMember, "blue.sender", "maybe")).ok());
	EXPECT_FALSE(parse_config(plus(plus(kMember, "blue.sender", "no"), "blue.sender_ids", "2")).ok())
		<< "Sender-IDs are for senders";
}

} // namespace
} // namespace groupsec::gdoi::test
