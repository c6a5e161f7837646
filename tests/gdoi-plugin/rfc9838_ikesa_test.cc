// SPDX-License-Identifier: GPL-2.0-or-later
// The member<->key server IKE SA after registration: INFORMATIONAL
// requests answered on both sides (liveness, Delete), the key server
// closing the IKE SAs it no longer needs (RFC 9838 2.3.3), liveness checks
// that find a restarted key server, IKE SA lifetime (re-authentication),
// UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 2.5), SIGNATURE_HASH_ALGORITHMS
// (RFC 7427) and CERT/CERTREQ in GSA_AUTH.
#include <algorithm>
#include <functional>
#include <set>

#include <gtest/gtest.h>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_message.h"
#include "gikev2_payloads.h"
#include "gikev2_sk.h"
#include "ike/ike_sa.h"

namespace groupsec::gdoi::test {
namespace {

constexpr uint8_t kInformational = static_cast<uint8_t>(ExchangeType::Informational);
constexpr uint8_t kCert = 37, kCertReq = 38;

class IkeSaLife : public GroupTest {
protected:
	// A key server and n members of group blue, registered.
	void start(int n, const GcksGroupConfig &sc, std::function<void(GmGroupConfig &)> adjust = nullptr)
	{
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
		for (int i = 0; i < n; i++) {
			Node &m = net.add({gm_addrs[i]}, &creds);
			GmGroupConfig mc = member_config(i);
			if (adjust)
				adjust(mc);
			ASSERT_TRUE(m.engine.add_member_group(mc).ok());
			gms.push_back(&m);
		}
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}
	static void liveness(GmGroupConfig &c) { c.liveness_s = 2; }

	// The key server's engine is replaced by a fresh one at the same
	// address: what a restart of charon on the key server does.
	void restart_gcks(const GcksGroupConfig &sc)
	{
		gcks->addresses.clear();
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
	}
	size_t members_of_gcks() { return gcks->group("blue")->members.size(); }

	// The IKE SA keys node logged for the SA with initiator SPI spi_i.
	const RecordingKeyLog::IkeSaKeys *keys_of(Node &n, uint64_t spi_i)
	{
		for (const auto &k : n.keylog.ike_sas)
			if (k.spi_i == spi_i)
				return &k;
		return nullptr;
	}
	// The datagrams of an exchange a node at from sent.
	std::vector<Datagram> sent_by(const Address &from, uint8_t exchange)
	{
		std::vector<Datagram> out;
		for (const Datagram &d : net.sent_with_exchange(exchange))
			if (d.from == from)
				out.push_back(d);
		return out;
	}
	// The notifies of an unprotected message.
	static std::vector<NotifyPayload> notifies(const std::vector<Payload> &ps)
	{
		std::vector<NotifyPayload> out;
		for (const Payload &p : ps)
			if (p.type == static_cast<uint8_t>(PayloadType::Notify))
				out.push_back(decode_notify(p.body).value());
		return out;
	}
};

// --- the key server closes the IKE SAs it no longer needs ---

TEST_F(IkeSaLife, KeyServerClosesTheIkeSaAfterRegistrationAndRekeysStillArrive)
{
	start(2, server_config());
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u);
	net.log.clear();
	// RFC 9838 2.3.3: "after a short period of time the GCKS SHOULD close
	// the IKE SA to save resources"
	net.advance(detail::kCloseRegisteredIkeSaMs - 1000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u) << "not before the short period";
	net.advance(2000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 0u);
	EXPECT_EQ(gcks->group("blue")->counters.ike_deletes_sent, 2u);
	// one Delete and its empty answer per member, nothing retransmitted
	EXPECT_EQ(net.sent_with_exchange(kInformational).size(), 4u);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->engine.initiator_ike_sas(), 0u);
		EXPECT_EQ(gm->group("blue")->counters.ike_deletes_received, 1u);
		EXPECT_EQ(gm->group("blue")->state, "registered") << "the group SAs stay";
	}
	EXPECT_EQ(members_of_gcks(), 2u);
	// rekeys reach the members by GSA_REKEY
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	for (Node *gm : gms) {
		EXPECT_TRUE(gm->sink.has(current_spi(*gcks)));
		EXPECT_EQ(gm->group("blue")->counters.rekeys, 1u);
	}
}

TEST_F(IkeSaLife, AnInbandGroupKeepsItsIkeSas)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband;
	start(2, c);
	net.advance(120000, 5000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u);
	EXPECT_EQ(gcks->group("blue")->counters.ike_deletes_sent, 0u);
	EXPECT_EQ(net.sent_with_exchange(kInformational).size(), 0u);
}

TEST_F(IkeSaLife, TheMemberRegistersAnotherGroupOverAFreshIkeSaOnceItsOldOneWasClosed)
{
	start(1, server_config());
	net.advance(detail::kCloseRegisteredIkeSaMs + 1000);
	ASSERT_EQ(gms[0]->engine.initiator_ike_sas(), 0u);
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.run();
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gms[0]->group("blue")->counters.registrations, 2u);
	EXPECT_EQ(net.sent_with_exchange(kRegistration).size(), 0u) << "not over the closed IKE SA";
}

// --- liveness ---

TEST_F(IkeSaLife, LivenessChecksAreAnsweredAndKeepTheIkeSa)
{
	start(2, server_config(), liveness);
	net.advance(60000, 500);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u) << "a member that checks liveness keeps its IKE SA";
	EXPECT_EQ(gcks->group("blue")->counters.ike_deletes_sent, 0u);
	uint64_t sent = 0;
	for (Node *gm : gms) {
		const Counters &c = gm->group("blue")->counters;
		// one check after every 2 s without word from the key server
		EXPECT_GE(c.liveness, 25u);
		EXPECT_LE(c.liveness, 30u);
		EXPECT_EQ(c.liveness_failed, 0u);
		EXPECT_EQ(c.dropped_auth + c.dropped_malformed + c.dropped_replay, 0u);
		EXPECT_EQ(gm->group("blue")->state, "registered");
		sent += c.liveness;
	}
	EXPECT_EQ(gcks->group("blue")->counters.liveness, sent) << "each one answered";
}

TEST_F(IkeSaLife, ALivenessCheckFindsARestartedKeyServerAndTheMembersAreBackWithin5s)
{
	start(3, server_config(), liveness);
	const uint32_t old_spi = current_spi(*gcks);
	restart_gcks(server_config());
	const uint32_t new_spi = current_spi(*gcks);
	ASSERT_NE(new_spi, old_spi);
	const uint64_t t0 = net.clock.t;
	// unprompted: no reregister(); the members' group SAs stay meanwhile
	while (members_of_gcks() < gms.size() && net.clock.t - t0 < 10000) {
		net.advance(100, 100);
		for (Node *gm : gms)
			if (!gm->sink.has(new_spi)) {
				EXPECT_TRUE(gm->sink.has(old_spi)) << "a group SA went before its replacement";
			}
	}
	const uint64_t took = net.clock.t - t0;
	EXPECT_LT(took, 5000u);
	EXPECT_EQ(members_of_gcks(), 3u);
	EXPECT_EQ(gcks->group("blue")->counters.invalid_spi, 3u);
	for (Node *gm : gms) {
		const Counters &c = gm->group("blue")->counters;
		EXPECT_EQ(c.invalid_spi, 1u);
		EXPECT_EQ(c.liveness_failed, 1u);
		EXPECT_EQ(c.registrations, 2u);
		EXPECT_TRUE(gm->sink.has(new_spi));
	}
}

TEST_F(IkeSaLife, WithoutTheNoticeAnUnansweredLivenessCheckMakesTheMemberStartOver)
{
	start(2, server_config(), liveness);
	restart_gcks(server_config());
	net.drop = [](const Datagram &d) { return d.data.size() > 18 && d.data[18] == kInformational &&
						  (d.data[19] & kFlagResponse); };
	const uint64_t t0 = net.clock.t;
	while (members_of_gcks() < gms.size() && net.clock.t - t0 < 20000)
		net.advance(100, 100);
	// a check within 2 s, its retransmission 2 s later, given up 4 s after
	EXPECT_LE(net.clock.t - t0, 8200u);
	EXPECT_EQ(members_of_gcks(), 2u);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->counters.liveness_failed, 1u);
		EXPECT_EQ(gm->group("blue")->counters.invalid_spi, 0u);
		EXPECT_EQ(gm->group("blue")->state, "registered");
	}
}

// --- IKE SA lifetime ---

TEST_F(IkeSaLife, AnIkeSaPastItsLifetimeIsReplacedAndTheOldOneDeleted)
{
	start(2, server_config(), [](GmGroupConfig &c) {
		c.liveness_s = 5;
		c.ike_lifetime_s = 60;
	});
	std::vector<uint64_t> first;
	for (Node *gm : gms)
		first.push_back(gm->keylog.ike_sas.at(0).spi_i);
	const uint32_t spi = current_spi(*gcks);
	net.advance(59000, 500);
	for (Node *gm : gms)
		EXPECT_EQ(gm->group("blue")->counters.ike_rekeys, 0u);
	net.advance(2000, 500);
	EXPECT_EQ(gcks->group("blue")->counters.registrations, 4u) << "each member authenticated again";
	EXPECT_EQ(gcks->group("blue")->counters.ike_deletes_received, 2u);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u) << "the new ones";
	for (size_t i = 0; i < gms.size(); i++) {
		Node *gm = gms[i];
		const Counters &c = gm->group("blue")->counters;
		EXPECT_EQ(c.ike_rekeys, 1u);
		EXPECT_EQ(c.ike_deletes_sent, 1u);
		EXPECT_EQ(gm->engine.initiator_ike_sas(), 1u);
		ASSERT_EQ(gm->keylog.ike_sas.size(), 2u);
		EXPECT_NE(gm->keylog.ike_sas[1].spi_i, first[i]);
		EXPECT_EQ(gm->group("blue")->state, "registered");
		// the group SA never went (no rekey happened)
		EXPECT_TRUE(gm->sink.has(spi));
	}
	// and the next one a lifetime later
	net.advance(60000, 1000);
	EXPECT_EQ(gms[0]->group("blue")->counters.ike_rekeys, 2u);
}

// --- INFORMATIONAL requests on both sides ---

TEST_F(IkeSaLife, TheMemberAnswersAnInformationalRequestOfTheKeyServer)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband; // the key server keeps the IKE SA
	start(1, c);
	const auto &k = gms[0]->keylog.ike_sas.at(0);
	IkeHeader h;
	h.initiator_spi = k.spi_i;
	h.responder_spi = k.spi_r;
	h.exchange_type = kInformational;
	h.message_id = 0; // the key server's first request on this SA
	Bytes iv(8, 0xee);
	// an empty one, and one with a status notify we do not know
	NotifyPayload n;
	n.type = 40000;
	for (auto inner : {std::vector<Payload>{},
			   std::vector<Payload>{Payload{static_cast<uint8_t>(PayloadType::Notify), false,
							encode_notify(n).value()}}}) {
		Bytes d = seal_message(h, {}, inner, k.responder, iv).value();
		iv[0]++;
		net.log.clear();
		net.push(Datagram{gcks_addr, gm_addrs[0], d});
		net.run();
		auto answers = sent_by(gm_addrs[0], kInformational);
		ASSERT_EQ(answers.size(), 1u);
		auto opened = open_message(answers[0].data, k.initiator);
		ASSERT_TRUE(opened.ok());
		EXPECT_TRUE(opened.value().message.header.flags & kFlagResponse);
		EXPECT_EQ(opened.value().message.header.message_id, h.message_id);
		EXPECT_TRUE(opened.value().inner.empty());
		h.message_id++;
	}
	EXPECT_EQ(gms[0]->engine.initiator_ike_sas(), 1u);
}

TEST_F(IkeSaLife, TheKeyServerAnswersADeleteOfTheIkeSaAndKeepsTheMember)
{
	start(1, server_config(), liveness);
	const auto &k = gms[0]->keylog.ike_sas.at(0);
	IkeHeader h;
	h.initiator_spi = k.spi_i;
	h.responder_spi = k.spi_r;
	h.exchange_type = kInformational;
	h.flags = kFlagInitiator;
	h.message_id = 2; // after IKE_SA_INIT and GSA_AUTH
	DeletePayload del;
	del.protocol = static_cast<uint8_t>(SecurityProtocol::Ike);
	Bytes d = seal_message(h, {}, {Payload{static_cast<uint8_t>(PayloadType::Delete), false, encode_delete(del).value()}},
			       k.initiator, Bytes(8, 0xdd))
			  .value();
	net.log.clear();
	net.push(Datagram{gm_addrs[0], gcks_addr, d});
	net.run();
	auto answers = sent_by(gcks_addr, kInformational);
	ASSERT_EQ(answers.size(), 1u);
	auto opened = open_message(answers[0].data, k.responder);
	ASSERT_TRUE(opened.ok());
	EXPECT_TRUE(opened.value().inner.empty()) << "RFC 7296 1.4.1: an empty response";
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 0u);
	EXPECT_EQ(gcks->group("blue")->counters.ike_deletes_received, 1u);
	EXPECT_EQ(members_of_gcks(), 1u) << "still registered";
}

// --- RFC 7296 2.5: unknown payloads marked critical ---

TEST_F(IkeSaLife, AnUnknownCriticalPayloadInsideSkIsAnsweredWithUnsupportedCriticalPayload)
{
	start(1, server_config(), liveness);
	const auto &k = gms[0]->keylog.ike_sas.at(0);
	IkeHeader h;
	h.initiator_spi = k.spi_i;
	h.responder_spi = k.spi_r;
	h.exchange_type = kInformational;
	h.flags = kFlagInitiator;
	h.message_id = 2;
	Bytes d = seal_message(h, {}, {Payload{200, true, Bytes{1, 2, 3}}}, k.initiator, Bytes(8, 0xcc)).value();
	net.log.clear();
	net.push(Datagram{gm_addrs[0], gcks_addr, d});
	net.run();
	auto answers = sent_by(gcks_addr, kInformational);
	ASSERT_EQ(answers.size(), 1u);
	auto opened = open_message(answers[0].data, k.responder);
	ASSERT_TRUE(opened.ok());
	auto ns = notifies(opened.value().inner);
	ASSERT_EQ(ns.size(), 1u);
	EXPECT_EQ(ns[0].type, static_cast<uint16_t>(NotifyType::UnsupportedCriticalPayload));
	EXPECT_EQ(ns[0].data, Bytes{200}) << "the one-octet payload type";
	EXPECT_EQ(gcks->group("blue")->counters.unsupported_critical, 1u);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 1u) << "nothing else changes";
	// the same payload not marked critical is skipped: an empty request,
	// a liveness check
	h.message_id = 3;
	d = seal_message(h, {}, {Payload{200, false, Bytes{1, 2, 3}}}, k.initiator, Bytes(8, 0xcd)).value();
	const uint64_t checks = gcks->group("blue")->counters.liveness;
	net.push(Datagram{gm_addrs[0], gcks_addr, d});
	net.run();
	EXPECT_EQ(gcks->group("blue")->counters.unsupported_critical, 1u);
	EXPECT_EQ(sent_by(gcks_addr, kInformational).size(), 2u);
	EXPECT_EQ(gcks->group("blue")->counters.liveness, checks) << "not empty: no liveness check";
}

TEST_F(IkeSaLife, AnUnknownCriticalPayloadInIkeSaInitIsAnsweredWithUnsupportedCriticalPayload)
{
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	Message m;
	m.header.initiator_spi = 0x0102030405060708ull;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagInitiator;
	m.payloads.push_back(Payload{201, true, Bytes{9}});
	gcks->engine.receive(gcks_addr, gm_addrs[0], encode_message(m).value());
	ASSERT_EQ(net.queue.size(), 1u);
	auto r = decode_message(net.queue.front().data);
	ASSERT_TRUE(r.ok());
	auto ns = notifies(r.value().payloads);
	ASSERT_EQ(ns.size(), 1u);
	EXPECT_EQ(ns[0].type, static_cast<uint16_t>(NotifyType::UnsupportedCriticalPayload));
	EXPECT_EQ(ns[0].data, Bytes{201});
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 0u);
	EXPECT_EQ(gcks->group("blue")->counters.unsupported_critical, 1u);
}

// --- certificate peers ---

TEST_F(IkeSaLife, BothIkeSaInitMessagesCarrySignatureHashAlgorithms)
{
	start(1, server_config());
	auto inits = net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::IkeSaInit));
	ASSERT_EQ(inits.size(), 2u);
	for (const Datagram &d : inits) {
		bool found = false;
		for (const NotifyPayload &n : notifies(decode_message(d.data).value().payloads))
			if (n.type == 16431) {
				found = true;
				// RFC 7427 7: SHA2-256, SHA2-384, SHA2-512
				EXPECT_EQ(n.data, (Bytes{0, 2, 0, 3, 0, 4}));
			}
		EXPECT_TRUE(found) << (d.from == gcks_addr ? "key server" : "member");
	}
}

TEST_F(IkeSaLife, CertAndCertReqInGsaAuthAreAccepted)
{
	// both GSA_AUTH messages get CERTREQ and CERT payloads on the way, as
	// a peer with certificates sends them (RFC 9838 2.3.1:
	// "HDR, SK{IDi, [CERT,] [CERTREQ,] [IDr,] AUTH, IDg, ...}")
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	Node &m = net.add({gm_addrs[0]}, &creds);
	gms.push_back(&m);
	int rewritten = 0;
	std::set<Bytes> ours;
	net.drop = [&](const Datagram &d) {
		if (d.data.size() < 28 || d.data[18] != kAuth || ours.count(d.data))
			return false;
		auto h = decode_ike_header(d.data).value();
		const auto *k = keys_of(*gcks, h.initiator_spi);
		if (!k)
			return false;
		const bool response = h.flags & kFlagResponse;
		auto opened = open_message(d.data, response ? k->responder : k->initiator);
		if (!opened)
			return false;
		std::vector<Payload> inner = opened.value().inner;
		inner.insert(inner.begin() + 1, Payload{kCert, false, Bytes{4, 0x30, 0x03, 0x02, 0x01, 0x00}});
		inner.insert(inner.begin() + 2, Payload{kCertReq, false, Bytes(21, 4)});
		Bytes again = seal_message(h, {}, inner, response ? k->responder : k->initiator,
					   Bytes(8, static_cast<uint8_t>(0xa0 + rewritten)))
				      .value();
		rewritten++;
		ours.insert(again);
		net.push(Datagram{d.from, d.to, again});
		return true;
	};
	ASSERT_TRUE(m.engine.add_member_group(member_config(0)).ok());
	net.tick();
	EXPECT_EQ(rewritten, 2);
	EXPECT_EQ(m.group("blue")->state, "registered");
	EXPECT_EQ(members_of_gcks(), 1u);
	EXPECT_TRUE(m.sink.has(current_spi(*gcks)));
}

} // namespace
} // namespace groupsec::gdoi::test
