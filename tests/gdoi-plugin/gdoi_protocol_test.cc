// SPDX-License-Identifier: GPL-2.0-or-later
// G-IKEv2 exchanges end to end: a key server and members wired in memory.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "gdoi_config.h"
#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "groupsec/flatkey/crypto.h"
#include "groupsec/keytree/key_tree.h"
#include "ike/ike_crypto.h"

namespace groupsec::gdoi::test {
namespace {

class Protocol : public GroupTest {
protected:
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c = GroupTest::server_config();
		c.tek_lifetime_s = 3600;
		c.kek_lifetime_s = 86400;
		c.deactivation_delay_s = 5;
		return c;
	}

	// A key server and n members registered (or not) in group blue.
	void start(int n, const GcksGroupConfig &sc, std::function<void(GmGroupConfig &)> adjust = nullptr)
	{
		std::vector<Address> gaddrs{gcks_addr};
		if (sc.multicast)
			gaddrs.push_back(*sc.multicast);
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
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

	const TekSa *installed(Node &n, uint32_t spi, const std::string &group = "blue")
	{
		auto it = n.sink.installed.find({group, spi});
		return it == n.sink.installed.end() ? nullptr : &it->second;
	}
};

TEST_F(Protocol, ThreeMembersRegisterAndInstallTheSameTek)
{
	start(3, server_config());
	const GroupState *s = gcks->group("blue");
	ASSERT_NE(s, nullptr);
	EXPECT_EQ(s->members.size(), 3u);
	EXPECT_EQ(s->counters.registrations, 3u);
	uint32_t spi = current_spi(*gcks);
	ASSERT_NE(spi, 0u);
	std::set<uint32_t> flat_ids;
	for (const MemberState &m : s->members)
		flat_ids.insert(m.flat_id);
	EXPECT_EQ(flat_ids.size(), 3u) << "members hold distinct flat table IDs";
	const TekSa *first = nullptr;
	for (Node *gm : gms) {
		const GroupState *g = gm->group("blue");
		EXPECT_EQ(g->state, "registered");
		EXPECT_EQ(g->server_address, gcks_addr);
		EXPECT_EQ(g->counters.registrations, 1u);
		ASSERT_EQ(gm->sink.installed.size(), 1u);
		const TekSa *sa = installed(*gm, spi);
		ASSERT_NE(sa, nullptr);
		EXPECT_EQ(sa->encryption, 20);
		EXPECT_EQ(sa->encryption_key.size(), 36u) << "AES-256 key and 4-octet salt";
		EXPECT_EQ(sa->source, server_config().teks[0].source);
		EXPECT_EQ(sa->lifetime_s, 3600u);
		if (!first)
			first = sa;
		else
			EXPECT_EQ(sa->encryption_key, first->encryption_key);
	}
	EXPECT_EQ(net.sent_with_exchange(kInit).size(), 6u) << "one IKE_SA_INIT pair per member";
	EXPECT_EQ(net.sent_with_exchange(kAuth).size(), 6u);
}

TEST_F(Protocol, SignatureAuthenticationAndCurve25519)
{
	for (int i = 0; i < 2; i++)
		creds.add_key(gm_ids[i]);
	GcksGroupConfig c = server_config();
	c.member_auth = AuthKind::PublicKey;
	start(2, c, [](GmGroupConfig &m) {
		m.auth = AuthKind::PublicKey;
		m.dh_group = 31;
	});
	uint32_t spi = current_spi(*gcks);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->state, "registered");
		EXPECT_NE(installed(*gm, spi), nullptr);
	}
	EXPECT_EQ(gcks->group("blue")->counters.registrations, 2u);
	// each side names the group and the role it checks the peer in: the
	// key server each member's AUTH, each member the key server's
	size_t as_member = 0, as_server = 0;
	for (const auto &[group, role] : creds.verified_as) {
		EXPECT_EQ(group, "blue");
		(role == PeerRole::Member ? as_member : as_server)++;
	}
	EXPECT_EQ(as_member, 2u);
	EXPECT_EQ(as_server, 2u);
}

TEST_F(Protocol, ForgedMemberSignatureIsRejected)
{
	creds.add_key(gm_ids[0]);
	creds.forge(gm_ids[0]);
	GcksGroupConfig c = server_config();
	c.member_auth = AuthKind::PublicKey;
	start(1, c, [](GmGroupConfig &m) { m.auth = AuthKind::PublicKey; });
	EXPECT_EQ(gcks->group("blue")->counters.dropped_auth, 1u);
	EXPECT_EQ(gcks->group("blue")->members.size(), 0u);
	EXPECT_EQ(gms[0]->group("blue")->state, "idle");
	EXPECT_TRUE(gms[0]->sink.ever.empty());
}

TEST_F(Protocol, WrongPreSharedKeyIsRejected)
{
	creds.add_psk(gcks_id, gm_ids[0], "not-the-key-the-gcks-has");
	FakeCredentials other;
	other.add_psk(gcks_id, gm_ids[0], "psk-of-gm1");
	other.add_key(gcks_id);
	// the key server sees a different key than the member
	Node &server = net.add({gcks_addr}, &other);
	gcks = &server;
	ASSERT_TRUE(server.engine.add_server_group(server_config()).ok());
	Node &m = net.add({gm_addrs[0]}, &creds);
	ASSERT_TRUE(m.engine.add_member_group(member_config(0)).ok());
	net.tick();
	EXPECT_EQ(server.group("blue")->counters.dropped_auth, 1u);
	EXPECT_EQ(server.group("blue")->counters.registrations, 0u);
	EXPECT_EQ(m.group("blue")->state, "idle");
	EXPECT_TRUE(m.sink.ever.empty());
}

TEST_F(Protocol, UnauthorizedIdentityIsRejected)
{
	GcksGroupConfig c = server_config();
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(c).ok());
	Node &m = net.add({gm_addrs[3]}, &creds);
	ASSERT_TRUE(m.engine.add_member_group(member_config(3)).ok());
	net.tick();
	const GroupState *s = gcks->group("blue");
	EXPECT_EQ(s->counters.dropped_unauthorized, 1u);
	EXPECT_EQ(s->counters.registrations, 0u);
	EXPECT_TRUE(s->members.empty());
	EXPECT_EQ(m.group("blue")->state, "idle");
	EXPECT_TRUE(m.sink.ever.empty());
	// it tries again later and is refused again
	net.advance(31000);
	EXPECT_EQ(gcks->group("blue")->counters.dropped_unauthorized, 2u);
	EXPECT_TRUE(m.sink.ever.empty());
}

TEST_F(Protocol, UnknownGroupIsRejected)
{
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	Node &m = net.add({gm_addrs[0]}, &creds);
	GmGroupConfig mc = member_config(0);
	mc.group_id = id("@#ffff");
	ASSERT_TRUE(m.engine.add_member_group(mc).ok());
	net.tick();
	EXPECT_EQ(m.group("blue")->state, "idle");
	EXPECT_TRUE(m.sink.ever.empty());
	EXPECT_TRUE(gcks->group("blue")->members.empty());
}

TEST_F(Protocol, OperatorRekeyReachesEveryMember)
{
	start(3, server_config());
	uint32_t old_spi = current_spi(*gcks);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	ASSERT_NE(spi, old_spi);
	const GroupState *s = gcks->group("blue");
	EXPECT_EQ(s->counters.rekeys, 1u);
	EXPECT_EQ(s->kek_message_id, 0u) << "the first message over the Rekey SA";
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 3u) << "unicast to each member";
	for (Node *gm : gms) {
		const GroupState *g = gm->group("blue");
		EXPECT_EQ(g->counters.rekeys, 1u);
		EXPECT_EQ(g->kek_message_id, 0u);
		ASSERT_NE(installed(*gm, spi), nullptr);
		EXPECT_EQ(installed(*gm, spi)->encryption_key, installed(*gms[0], spi)->encryption_key);
		// the old SA stays for the deactivation delay
		EXPECT_NE(installed(*gm, old_spi), nullptr);
	}
	net.advance(6000);
	for (Node *gm : gms) {
		EXPECT_EQ(installed(*gm, old_spi), nullptr);
		EXPECT_NE(installed(*gm, spi), nullptr);
	}
	EXPECT_EQ(gcks->group("blue")->sas.size(), 1u);
}

TEST_F(Protocol, RekeyedSasSendOnlyAfterTheActivationDelay)
{
	GcksGroupConfig sc = server_config();
	sc.activation_delay_s = 3;
	start(2, sc);
	uint32_t old_spi = current_spi(*gcks);
	for (Node *gm : gms) {
		ASSERT_NE(installed(*gm, old_spi), nullptr);
		EXPECT_TRUE(installed(*gm, old_spi)->outbound) << "a registration sends at once";
	}
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	ASSERT_NE(spi, old_spi);
	for (Node *gm : gms) {
		ASSERT_NE(installed(*gm, spi), nullptr);
		EXPECT_FALSE(installed(*gm, spi)->outbound) << "receive-only during the activation delay";
		EXPECT_TRUE(gm->sink.activated.empty());
	}
	net.advance(2000);
	for (Node *gm : gms)
		EXPECT_TRUE(gm->sink.activated.empty()) << "not before 3 s";
	net.advance(2000);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->sink.activated, std::vector<uint32_t>{spi});
		EXPECT_TRUE(installed(*gm, spi)->outbound);
		EXPECT_LE(gm->engine.next_timeout_ms(), net.clock.now_ms() + 3600u * 1000u);
	}
}

TEST_F(Protocol, EvictedMemberCannotReadTheRekey)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Multicast;
	c.multicast = addr("239.192.0.1");
	start(3, c);
	uint32_t old_spi = current_spi(*gcks);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	ASSERT_NE(spi, old_spi);
	// two messages: the new Rekey SA under the flat table, then the TEK
	// under the new Rekey SA; both were multicast, so GM3 saw them
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 2u);
	for (int i = 0; i < 2; i++) {
		ASSERT_NE(installed(*gms[i], spi), nullptr) << "GM" << i + 1;
		EXPECT_EQ(gms[i]->group("blue")->counters.rekeys, 2u);
	}
	EXPECT_EQ(installed(*gms[0], spi)->encryption_key, installed(*gms[1], spi)->encryption_key);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi)) << "the evicted member never gets the new TEK";
	EXPECT_TRUE(gms[2]->sink.installed.empty()) << "and gives up the group's SAs";
	EXPECT_EQ(gms[2]->group("blue")->state, "idle");
	const GroupState *s = gcks->group("blue");
	EXPECT_EQ(s->members.size(), 2u);
	// it comes back and is refused
	net.advance(31000);
	EXPECT_EQ(gcks->group("blue")->counters.dropped_unauthorized, 1u);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi));
	// the remaining members follow further rekeys under the new Rekey SA
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi3 = current_spi(*gcks);
	for (int i = 0; i < 2; i++)
		EXPECT_NE(installed(*gms[i], spi3), nullptr);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi3));
}

TEST_F(Protocol, EvictedMemberEavesdroppingOnUnicastLearnsNothing)
{
	start(3, server_config());
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 4u) << "two messages to each of two members";
	for (const Datagram &d : rekeys)
		EXPECT_FALSE(d.to == gm_addrs[2]);
	// GM3 captures them off the wire anyway
	for (const Datagram &d : rekeys)
		gms[2]->engine.receive(gm_addrs[2], d.from, d.data);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi));
	EXPECT_NE(installed(*gms[0], spi), nullptr);
	EXPECT_NE(installed(*gms[1], spi), nullptr);
}

TEST_F(Protocol, EvictTwoMembersInTurn)
{
	GcksGroupConfig c = server_config();
	c.authorized.push_back(gm_ids[3]);
	c.rekey = RekeyTransport::Multicast;
	c.multicast = addr("239.192.0.1");
	start(4, c);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[3]).ok());
	net.run();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	EXPECT_NE(installed(*gms[0], spi), nullptr);
	EXPECT_NE(installed(*gms[2], spi), nullptr);
	EXPECT_FALSE(gms[1]->sink.ever_had(spi));
	EXPECT_FALSE(gms[3]->sink.ever_had(spi));
	EXPECT_FALSE(gcks->engine.evict("blue", gm_ids[1]).ok()) << "not a member any more";
}

class RekeyChecks : public Protocol {
protected:
	void SetUp() override
	{
		Protocol::SetUp();
		start(1, server_config());
		ASSERT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		first = net.sent_with_exchange(kRekey).at(0);
		spi1 = current_spi(*gcks);
		ASSERT_NE(installed(*gms[0], spi1), nullptr);
		before = *gms[0]->group("blue");
		installs = gms[0]->sink.ever.size();
	}
	void expect_unchanged()
	{
		const GroupState *g = gms[0]->group("blue");
		EXPECT_EQ(g->kek_message_id, before.kek_message_id);
		EXPECT_EQ(g->counters.rekeys, before.counters.rekeys);
		EXPECT_EQ(gms[0]->sink.ever.size(), installs);
	}
	Datagram first;
	uint32_t spi1 = 0;
	GroupState before;
	size_t installs = 0;
};

TEST_F(RekeyChecks, ReplayIsDroppedAndCounted)
{
	gms[0]->engine.receive(first.to, first.from, first.data);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_replay, 1u);
	expect_unchanged();
	// after a newer one, the old one is still a replay
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(gms[0]->group("blue")->kek_message_id, 1u);
	gms[0]->engine.receive(first.to, first.from, first.data);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_replay, 2u);
}

TEST_F(RekeyChecks, BadSignatureIsDroppedAndCounted)
{
	creds.forge(gcks_id);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi2 = current_spi(*gcks);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_auth, 1u);
	EXPECT_FALSE(gms[0]->sink.ever_had(spi2));
	expect_unchanged();
	// a correctly signed message with the next ID still goes through
	creds.unforge(gcks_id);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_NE(installed(*gms[0], current_spi(*gcks)), nullptr);
}

TEST_F(RekeyChecks, TruncatedAndTamperedAreDropped)
{
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	Datagram next = net.queue.front();
	net.queue.clear();
	for (size_t cut : {size_t(10), size_t(40), next.data.size() - 1}) {
		Bytes d(next.data.begin(), next.data.begin() + static_cast<long>(cut));
		gms[0]->engine.receive(next.to, next.from, d);
	}
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_malformed, 3u);
	Bytes flipped = next.data;
	flipped[flipped.size() - 20] ^= 1;
	gms[0]->engine.receive(next.to, next.from, flipped);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_auth, 1u);
	expect_unchanged();
	// the intact message is still accepted
	gms[0]->engine.receive(next.to, next.from, next.data);
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, before.counters.rekeys + 1);
}

TEST_F(Protocol, ImplicitAuthenticationWhenBothSidesAreToldSo)
{
	creds.remove_key(gcks_id);
	GcksGroupConfig c = server_config();
	c.rekey_auth = RekeyAuth::Implicit;
	start(2, c, [](GmGroupConfig &m) { m.rekey_auth = RekeyAuth::Implicit; });
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	for (Node *gm : gms)
		EXPECT_NE(installed(*gm, spi), nullptr);
	EXPECT_EQ(creds.sign_calls, 0);
}

TEST_F(Protocol, LostResponseIsRetransmittedFromCache)
{
	int dropped = 0;
	net.drop = [&](const Datagram &d) {
		bool resp = d.data.size() > 28 && d.data[18] == kAuth && (d.data[19] & kFlagResponse);
		if (resp && dropped == 0) {
			dropped++;
			return true;
		}
		return false;
	};
	start(1, server_config());
	EXPECT_EQ(gms[0]->group("blue")->state, "registering");
	net.advance(2000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gcks->group("blue")->counters.registrations, 1u) << "the retransmission got the cached answer";
	EXPECT_EQ(gcks->group("blue")->members.size(), 1u);
	EXPECT_EQ(net.sent_with_exchange(kAuth).size(), 4u);
}

TEST_F(Protocol, LostRequestIsRetransmitted)
{
	int dropped = 0;
	net.drop = [&](const Datagram &d) { return d.data[18] == kInit && dropped++ < 2; };
	start(1, server_config());
	EXPECT_EQ(gms[0]->group("blue")->state, "registering");
	net.advance(2000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registering");
	net.advance(4000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
}

TEST_F(Protocol, ServerThatNeverAnswersIsGivenUp)
{
	net.drop = [&](const Datagram &d) { return d.to == gcks_addr; };
	start(1, server_config());
	net.advance(30000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registering");
	net.advance(35000);
	EXPECT_EQ(gms[0]->group("blue")->state, "idle");
	size_t tries = net.sent_with_exchange(kInit).size();
	EXPECT_EQ(tries, 5u) << "five transmissions 2, 4, 8, 16 s apart, then a pause";
	net.drop = nullptr;
	net.advance(40000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
}

TEST_F(Protocol, CookieWhenHalfOpenSasPileUp)
{
	gcks = &net.add({gcks_addr}, &creds);
	gcks->engine.set_cookie_threshold(0);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	Node &m = net.add({gm_addrs[0]}, &creds);
	ASSERT_TRUE(m.engine.add_member_group(member_config(0)).ok());
	net.tick();
	EXPECT_EQ(gcks->group("blue")->counters.cookies_sent, 1u);
	EXPECT_EQ(m.group("blue")->state, "registered");
	EXPECT_EQ(net.sent_with_exchange(kInit).size(), 4u);
	EXPECT_EQ(gcks->engine.half_open(), 0u);
}

TEST_F(Protocol, CookieThresholdCountsHalfOpenSas)
{
	// members whose GSA_AUTH never arrives leave half-open SAs behind
	net.drop = [&](const Datagram &d) { return d.data[18] == kAuth; };
	gcks = &net.add({gcks_addr}, &creds);
	gcks->engine.set_cookie_threshold(2);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	for (int i = 0; i < 3; i++) {
		Node &m = net.add({gm_addrs[i]}, &creds);
		ASSERT_TRUE(m.engine.add_member_group(member_config(i)).ok());
		m.engine.tick();
		net.run();
	}
	EXPECT_EQ(gcks->engine.half_open(), 3u);
	EXPECT_EQ(gcks->group("blue")->counters.cookies_sent, 1u) << "only the third had to return a cookie";
	net.drop = nullptr;
	net.advance(31000);
	EXPECT_EQ(gcks->engine.half_open(), 0u) << "half-open SAs time out";
}

TEST_F(Protocol, MemberReregistersWhenNoRekeyArrives)
{
	GcksGroupConfig c = server_config();
	c.tek_lifetime_s = 600;
	start(2, c, [](GmGroupConfig &m) { m.reregister_margin_s = 30; });
	uint32_t spi = current_spi(*gcks);
	// GM1 loses every GSA_REKEY
	net.drop = [&](const Datagram &d) { return d.data[18] == kRekey && d.to == gm_addrs[0]; };
	net.advance(545000, 5000);
	uint32_t spi2 = current_spi(*gcks);
	ASSERT_NE(spi2, spi) << "the key server rekeyed 120 s before expiry";
	EXPECT_NE(installed(*gms[1], spi2), nullptr);
	EXPECT_EQ(installed(*gms[0], spi2), nullptr);
	net.advance(30000, 5000);
	EXPECT_NE(installed(*gms[0], spi2), nullptr) << "GM1 registered again before expiry";
	EXPECT_EQ(gms[0]->group("blue")->counters.registrations, 2u);
	EXPECT_EQ(gcks->group("blue")->members.size(), 2u);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
}

TEST_F(Protocol, SenderIdsAreGivenOnceAndRenewedOnEachRegistration)
{
	// GM1 asks for 2 Sender-IDs, GM2 for 3, GM3 is not a sender
	start(3, server_config(), [](GmGroupConfig &m) {
		m.sender_ids = m.local_id.str() == "gm1.example.net" ? 2 : m.local_id.str() == "gm2.example.net" ? 3 : 0;
		m.sender = m.local_id.str() != "gm3.example.net";
	});
	auto ids1 = gms[0]->group("blue")->sender_ids;
	auto ids2 = gms[1]->group("blue")->sender_ids;
	EXPECT_EQ(ids1.size(), 2u);
	EXPECT_EQ(ids2.size(), 3u);
	EXPECT_TRUE(gms[2]->group("blue")->sender_ids.empty());
	std::set<uint32_t> all(ids1.begin(), ids1.end());
	all.insert(ids2.begin(), ids2.end());
	EXPECT_EQ(all.size(), 5u) << "no Sender-ID twice";
	// RFC 9838 2.5.1: "Sender-IDs are allocated sequentially, with zero as
	// the first allocated value"
	EXPECT_EQ(all.count(0), 1u);
	// the key server shows the same; RFC 9838 2.5.1: "A GCKS allocates
	// new Sender-ID values for each registration operation by a group
	// sender": a re-registration gets as many, all new
	for (const MemberState &m : gcks->group("blue")->members)
		if (m.id == gm_ids[0])
			EXPECT_EQ(m.sender_ids, ids1);
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.tick();
	EXPECT_EQ(gms[0]->group("blue")->counters.registrations, 2u);
	auto again = gms[0]->group("blue")->sender_ids;
	EXPECT_EQ(again.size(), 2u);
	for (uint32_t id : again)
		EXPECT_EQ(all.count(id), 0u) << "Sender-ID " << id << " given twice";
	// asking for too many is refused by validate()
	GmGroupConfig greedy = member_config(3);
	greedy.sender_ids = 17;
	EXPECT_TRUE(validate(greedy).has_value());
}

TEST_F(Protocol, ARegistrationOverANewIkeSaRetiresTheOldOne)
{
	start(3, server_config());
	ASSERT_EQ(gcks->engine.responder_ike_sas(), 3u);
	for (int round = 0; round < 5; round++) {
		// GM1 restarts: a new engine, so a new IKE SA, the same identity
		size_t inits = net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::IkeSaInit)).size();
		gms[0]->addresses.clear();
		Node &fresh = net.add({gm_addrs[0]}, &creds);
		ASSERT_TRUE(fresh.engine.add_member_group(member_config(0)).ok());
		gms[0] = &fresh;
		net.tick();
		ASSERT_EQ(gms[0]->group("blue")->state, "registered") << "round " << round;
		EXPECT_GT(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::IkeSaInit)).size(), inits);
		EXPECT_EQ(gcks->engine.responder_ike_sas(), 3u) << "round " << round;
		EXPECT_EQ(gcks->group("blue")->members.size(), 3u);
	}
	// the member's keys still work: an eviction of GM3 reaches GM1 and GM2
	uint32_t old_spi = current_spi(*gcks);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	ASSERT_NE(spi, old_spi);
	EXPECT_NE(installed(*gms[0], spi), nullptr);
	EXPECT_NE(installed(*gms[1], spi), nullptr);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi));
}

TEST_F(Protocol, ManyMembersJoinAndAllFollowAnEviction)
{
	// many joins, each announced to the key server's one key store; every
	// member gets keys that still open the next rekey
	const int n = 40;
	for (int i = 5; i <= n; i++) {
		gm_ids.push_back(id("gm" + std::to_string(i) + ".example.net"));
		gm_addrs.push_back(addr("198.51.100." + std::to_string(i)));
		creds.add_psk(gcks_id, gm_ids.back(), "psk-of-gm" + std::to_string(i));
	}
	GcksGroupConfig c = server_config();
	c.authorized = gm_ids;
	start(n, c);
	net.run();
	for (Node *gm : gms)
		ASSERT_EQ(gm->group("blue")->state, "registered");
	EXPECT_EQ(gcks->group("blue")->members.size(), size_t(n));
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[7]).ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	for (int i = 0; i < n; i++) {
		if (i == 7)
			EXPECT_FALSE(gms[i]->sink.ever_had(spi));
		else
			EXPECT_NE(installed(*gms[i], spi), nullptr) << "member " << i;
	}
}

TEST_F(Protocol, LifetimeRekeyAndKekRollover)
{
	GcksGroupConfig c = server_config();
	c.tek_lifetime_s = 600;
	c.kek_lifetime_s = 1000;
	start(2, c);
	uint32_t spi = current_spi(*gcks);
	net.advance(1000000, 10000);
	uint32_t now_spi = current_spi(*gcks);
	EXPECT_NE(now_spi, spi);
	for (Node *gm : gms) {
		EXPECT_NE(installed(*gm, now_spi), nullptr);
		EXPECT_EQ(gm->group("blue")->counters.registrations, 1u) << "rekeys kept it current";
		EXPECT_EQ(gm->group("blue")->kek_message_id, gcks->group("blue")->kek_message_id);
	}
	EXPECT_GE(gcks->group("blue")->counters.rekeys, 3u);
}

TEST_F(Protocol, SecondGroupUsesGsaRegistration)
{
	GcksGroupConfig blue = server_config();
	GcksGroupConfig red = server_config();
	red.name = "red";
	red.group_id = id("@#726564");
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(blue).ok());
	ASSERT_TRUE(gcks->engine.add_server_group(red).ok());
	Node &m = net.add({gm_addrs[0]}, &creds);
	GmGroupConfig mb = member_config(0), mr = member_config(0);
	mr.name = "red";
	mr.group_id = red.group_id;
	ASSERT_TRUE(m.engine.add_member_group(mb).ok());
	net.tick();
	ASSERT_TRUE(m.engine.add_member_group(mr).ok());
	net.tick();
	EXPECT_EQ(m.group("blue")->state, "registered");
	EXPECT_EQ(m.group("red")->state, "registered");
	EXPECT_EQ(net.sent_with_exchange(kInit).size(), 2u) << "one IKE SA";
	EXPECT_EQ(net.sent_with_exchange(kRegistration).size(), 2u);
	EXPECT_NE(installed(m, current_spi(*gcks, "red"), "red"), nullptr);
	EXPECT_NE(installed(m, current_spi(*gcks, "blue"), "blue"), nullptr);
	EXPECT_EQ(gcks->group("red")->counters.registrations, 1u);
}

TEST_F(Protocol, InbandRekeyOverTheIkeSa)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband;
	start(2, c);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t spi = current_spi(*gcks);
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 0u);
	EXPECT_EQ(net.sent_with_exchange(kInband).size(), 4u) << "request and answer per member";
	for (Node *gm : gms)
		EXPECT_NE(installed(*gm, spi), nullptr);
	// answered: nothing is retransmitted
	net.log.clear();
	net.advance(10000);
	EXPECT_EQ(net.sent_with_exchange(kInband).size(), 0u);
	// eviction: the evicted member's IKE SA is gone, the others get keys
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	uint32_t spi2 = current_spi(*gcks);
	EXPECT_NE(installed(*gms[0], spi2), nullptr);
	EXPECT_FALSE(gms[1]->sink.ever_had(spi2));
}

TEST_F(Protocol, AesCbcIkeSaOverIpv6)
{
	gcks_addr = addr("2001:db8::1");
	for (int i = 0; i < 2; i++)
		gm_addrs[i] = addr("2001:db8:1::" + std::to_string(i + 1));
	GcksGroupConfig c = server_config();
	TrafficSelector t6;
	t6.ts_type = static_cast<uint8_t>(TsType::Ipv6AddrRange);
	t6.start_address = addr("2001:db8:100::").ip;
	t6.end_address = addr("2001:db8:100::ffff").ip;
	c.teks[0].source = c.teks[0].destination = t6;
	c.teks[0].encryption = 12;
	c.teks[0].integrity = 12;
	c.teks[0].key_bits = 128;
	start(2, c, [](GmGroupConfig &m) { m.ike_encryption = 12; });
	uint32_t spi = current_spi(*gcks);
	for (Node *gm : gms) {
		ASSERT_NE(installed(*gm, spi), nullptr);
		const TekSa *sa = installed(*gm, spi);
		EXPECT_EQ(sa->encryption, 12);
		EXPECT_EQ(sa->encryption_key.size(), 16u);
		EXPECT_EQ(sa->integrity, 12);
		EXPECT_EQ(sa->integrity_key.size(), 32u);
		EXPECT_EQ(sa->source, t6);
	}
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	for (Node *gm : gms)
		EXPECT_NE(installed(*gm, current_spi(*gcks)), nullptr);
}

TEST_F(Protocol, GarbageIsCountedAndChangesNothing)
{
	start(1, server_config());
	uint32_t spi = current_spi(*gcks);
	Bytes junk(60, 0x41);
	gcks->engine.receive(gcks_addr, gm_addrs[0], junk);
	gms[0]->engine.receive(gm_addrs[0], gcks_addr, junk);
	gcks->engine.receive(gcks_addr, gm_addrs[0], ByteView());
	EXPECT_EQ(gcks->group("blue")->counters.dropped_malformed, 2u);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_malformed, 1u);
	EXPECT_EQ(current_spi(*gcks), spi);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
}

TEST(ProtocolConfig, ValidateRejectsBadConfigs)
{
	GcksGroupConfig c;
	EXPECT_EQ(validate(c), std::string("group name is empty"));
	c.name = "g";
	EXPECT_NE(validate(c)->find("group ID"), std::string::npos);
	c.group_id = *Identity::parse("@#01");
	c.local_id = *Identity::parse("@ks");
	EXPECT_NE(validate(c)->find("listen"), std::string::npos);
	c.listen = {*Address::parse("192.0.2.1", 848)};
	EXPECT_NE(validate(c)->find("no TEK"), std::string::npos);
	TekPolicyConfig t;
	t.source.start_address = t.source.end_address = Bytes(4, 0);
	t.destination = t.source;
	t.key_bits = 100;
	c.teks = {t};
	EXPECT_NE(validate(c)->find("key size"), std::string::npos);
	c.teks[0].key_bits = 256;
	c.teks[0].integrity = 12;
	EXPECT_NE(validate(c)->find("AES-GCM takes no integrity"), std::string::npos);
	c.teks[0].integrity = 0;
	c.teks[0].destination.end_address = Bytes(16, 0);
	EXPECT_NE(validate(c)->find("octets"), std::string::npos);
	c.teks[0].destination = c.teks[0].source;
	c.rekey = RekeyTransport::Multicast;
	EXPECT_NE(validate(c)->find("multicast"), std::string::npos);
	c.rekey = RekeyTransport::Unicast;
	c.id_bits = 40;
	EXPECT_NE(validate(c)->find("id_bits"), std::string::npos);
	c.id_bits = 16;
	EXPECT_EQ(validate(c), std::nullopt);

	GmGroupConfig m;
	m.name = "g";
	m.group_id = c.group_id;
	m.local_id = *Identity::parse("gm.example.net");
	m.server_id = c.local_id;
	m.local = *Address::parse("198.51.100.1", 848);
	EXPECT_NE(validate(m)->find("key server address"), std::string::npos);
	m.servers = {*Address::parse("2001:db8::1", 848)};
	EXPECT_NE(validate(m)->find("family"), std::string::npos);
	m.servers = {*Address::parse("192.0.2.1", 848)};
	m.dh_group = 14;
	EXPECT_NE(validate(m)->find("DH group"), std::string::npos);
	m.dh_group = 31;
	EXPECT_EQ(validate(m), std::nullopt);

	// the engine rejects what validate() rejects and keeps nothing
	FakeClock clock;
	FakeRandom rnd(1);
	FakeCredentials creds;
	creds.add_key(c.local_id);
	RecordingSink sink;
	struct Null : Transport {
		bool send(const Address &, const Address &, ByteView) override { return true; }
	} null;
	Engine e(EngineDeps{&null, &clock, &rnd, &creds, &sink});
	c.id_bits = 0;
	auto r = e.add_server_group(c);
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("id_bits"), std::string::npos);
	EXPECT_TRUE(e.groups().empty());
	c.id_bits = 16;
	ASSERT_TRUE(e.add_server_group(c).ok());
	m.name = "g";
	EXPECT_FALSE(e.add_member_group(m).ok()) << "name taken by the other role";
	EXPECT_EQ(e.groups().size(), 1u);
	EXPECT_FALSE(e.rekey("nope").ok());
	EXPECT_FALSE(e.evict("g", m.local_id).ok());
	EXPECT_FALSE(e.reregister("g").ok());
	EXPECT_TRUE(e.remove_group("g").ok());
	EXPECT_TRUE(e.groups().empty());
}

TEST(ProtocolConfig, OneIdentityEncodingForConfigurationAndControlSocket)
{
	// a DN an operator types to gdoictl evict must match the one the
	// configuration authorized, octet for octet
	auto parsed = parse_config({{"blue.role", "server"},
				    {"blue.group_id", "7"},
				    {"blue.local_id", "ks.example.net"},
				    {"blue.listen", "192.0.2.1"},
				    {"blue.members", "/C=CH/O=Example/CN=gm1"},
				    {"blue.tek-1.local_ts", "10.0.0.0/8"},
				    {"blue.tek-1.remote_ts", "10.0.0.0/8"}});
	ASSERT_TRUE(parsed.ok()) << parsed.error().message;
	const Identity &configured = parsed.value().servers.at(0).authorized.at(0);
	auto typed = Identity::parse("C=CH, O=Example, CN=gm1");
	ASSERT_TRUE(typed.has_value());
	EXPECT_EQ(typed->type, static_cast<uint8_t>(IdType::DerAsn1Dn));
	EXPECT_EQ(*typed, configured);
	auto back = Identity::parse(configured.str());
	ASSERT_TRUE(back.has_value()) << configured.str();
	EXPECT_EQ(*back, configured);
}

TEST(ProtocolConfig, AddressAndIdentityNotation)
{
	EXPECT_EQ(Address::parse("192.0.2.1", 848)->str(), "192.0.2.1[848]");
	EXPECT_EQ(Address::parse("2001:db8::1", 848)->str(), "2001:db8::1[848]");
	EXPECT_FALSE(Address::parse("192.0.2", 848));
	for (const char *s : {"192.0.2.9", "2001:db8::9", "gm1.example.net", "@gcks", "user@example.net", "@#0a0b"}) {
		auto i = Identity::parse(s);
		ASSERT_TRUE(i) << s;
		EXPECT_EQ(i->str(), s);
	}
	EXPECT_EQ(Identity::parse("@#0a0b")->type, static_cast<uint8_t>(IdType::KeyId));
	EXPECT_EQ(Identity::parse("user@example.net")->type, static_cast<uint8_t>(IdType::Rfc822Addr));
	auto dn = Identity::parse("C=CH, O=example, CN=gm1");
	ASSERT_TRUE(dn);
	EXPECT_EQ(dn->type, static_cast<uint8_t>(IdType::DerAsn1Dn));
	EXPECT_EQ(dn->data[0], 0x30);
	EXPECT_EQ(dn->str(), "C=CH, O=example, CN=gm1");
	EXPECT_FALSE(Identity::parse(""));
	EXPECT_FALSE(Identity::parse("@#0g"));
}


// --- eviction: all or nothing, at any scale, against any coalition ---

// A failure at any step of an eviction (key hierarchy update, encoding,
// signing, sending) leaves the group exactly as it was, with an error;
// the eviction tried again then goes through.
class EvictionFaults : public Protocol,
		       public ::testing::WithParamInterface<std::tuple<KeyHierarchy, const char *>> {};

TEST_P(EvictionFaults, FailureChangesNothing)
{
	GcksGroupConfig c = server_config();
	c.hierarchy = std::get<0>(GetParam());
	start(3, c);
	net.run();
	const uint32_t spi = current_spi(*gcks);
	const GroupState before = *gcks->group("blue");
	const size_t ike_sas = gcks->engine.responder_ike_sas();
	net.log.clear();
	gcks->faults.step = std::get<1>(GetParam());
	auto r = gcks->engine.evict("blue", gm_ids[2]);
	ASSERT_FALSE(r.ok());
	EXPECT_FALSE(r.error().message.empty());
	net.run();
	EXPECT_TRUE(net.sent_with_exchange(kRekey).empty()) << "nothing went out";
	const GroupState &after = *gcks->group("blue");
	EXPECT_EQ(after.members.size(), 3u) << "the member is still there";
	EXPECT_EQ(current_spi(*gcks), spi);
	EXPECT_EQ(after.kek_message_id, before.kek_message_id);
	EXPECT_EQ(after.evicted.size(), 0u);
	EXPECT_EQ(after.exposure.epoch, before.exposure.epoch);
	EXPECT_EQ(after.exposure.tek_exposed, before.exposure.tek_exposed);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), ike_sas) << "its IKE SA is kept";
	// the group goes on: a rekey reaches all three, the eviction tried
	// again locks the member out
	gcks->faults.step.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	const uint32_t spi2 = current_spi(*gcks);
	for (int i = 0; i < 3; i++)
		EXPECT_NE(installed(*gms[i], spi2), nullptr) << "GM" << i + 1;
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	const uint32_t spi3 = current_spi(*gcks);
	EXPECT_NE(installed(*gms[0], spi3), nullptr);
	EXPECT_NE(installed(*gms[1], spi3), nullptr);
	for (const Datagram &d : net.sent_with_exchange(kRekey))
		gms[2]->engine.receive(gm_addrs[2], d.from, d.data);
	EXPECT_FALSE(gms[2]->sink.ever_had(spi3));
	EXPECT_EQ(gcks->group("blue")->members.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(EveryStep, EvictionFaults,
			 ::testing::Combine(::testing::Values(KeyHierarchy::Tree, KeyHierarchy::Flat),
					    ::testing::Values("key-table", "encode", "sign", "send")));

TEST_F(Protocol, EvictionWhoseRekeyCannotBeSignedKeepsTheMember)
{
	start(3, server_config());
	net.run();
	ASSERT_EQ(gcks->group("blue")->members.size(), 3u);
	creds.remove_key(gcks_id); // the signing key is gone
	auto r = gcks->engine.evict("blue", gm_ids[2]);
	EXPECT_FALSE(r.ok());
	EXPECT_EQ(gcks->group("blue")->members.size(), 3u)
		<< "a member dropped while it still holds the KEK would read every later rekey";
	EXPECT_EQ(gcks->group("blue")->evicted.size(), 0u);
}

TEST_F(Protocol, BatchEvictionIsOneRekey)
{
	GcksGroupConfig c = server_config();
	c.authorized.push_back(gm_ids[3]);
	c.rekey = RekeyTransport::Multicast;
	c.multicast = addr("239.192.0.1");
	start(4, c);
	net.run();
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", std::vector<Identity>{gm_ids[1], gm_ids[3]}).ok());
	net.run();
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 2u) << "one Rekey SA message, one TEK message";
	const uint32_t spi = current_spi(*gcks);
	EXPECT_NE(installed(*gms[0], spi), nullptr);
	EXPECT_NE(installed(*gms[2], spi), nullptr);
	EXPECT_FALSE(gms[1]->sink.ever_had(spi));
	EXPECT_FALSE(gms[3]->sink.ever_had(spi));
	const GroupState &g = *gcks->group("blue");
	EXPECT_EQ(g.evicted.size(), 2u);
	EXPECT_EQ(g.exposure.epoch, 1u);
	EXPECT_FALSE(gcks->engine.evict("blue", std::vector<Identity>{gm_ids[0], gm_ids[0]}).ok())
		<< "a member named twice";
	EXPECT_FALSE(gcks->engine.evict("blue", std::vector<Identity>{gm_ids[0], gm_ids[1]}).ok())
		<< "gm2 is gone already";
	EXPECT_EQ(gcks->group("blue")->members.size(), 2u) << "and a refused batch removes no one";
}

// A flat table group shows what members evicted at different times could
// pool; a tree group never has such an exposure.
TEST_F(Protocol, ExposureOfEachKeyHierarchyIsShown)
{
	for (KeyHierarchy h : {KeyHierarchy::Flat, KeyHierarchy::Tree}) {
		net.nodes.clear();
		gms.clear();
		GcksGroupConfig c = server_config();
		c.authorized.push_back(gm_ids[3]);
		c.hierarchy = h;
		c.id_bits = 2;
		start(4, c);
		net.run();
		ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[0]).ok());
		net.run();
		ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[3]).ok());
		net.run();
		const ExposureState &x = gcks->group("blue")->exposure;
		EXPECT_EQ(x.hierarchy, h);
		EXPECT_EQ(gcks->group("blue")->evicted.size(), 2u);
		if (h == KeyHierarchy::Flat) {
			// IDs 00 and 11 evicted at different times hold both
			// values of each symbol between them
			EXPECT_TRUE(x.tek_exposed || x.exposed_keks > 0);
		} else {
			EXPECT_FALSE(x.tek_exposed);
			EXPECT_EQ(x.exposed_keks, 0u);
			EXPECT_EQ(x.epoch, 2u);
		}
		const uint32_t spi = current_spi(*gcks);
		EXPECT_NE(installed(*gms[1], spi), nullptr);
		EXPECT_NE(installed(*gms[2], spi), nullptr);
	}
}

// Many members of a group: identities gm<i>.example.net, addresses in
// 100.64.0.0/10, one PSK each.
class LargeGroup : public Protocol {
protected:
	void add_members(int n)
	{
		for (int i = static_cast<int>(gm_ids.size()) + 1; static_cast<int>(gm_ids.size()) < n; i++) {
			gm_ids.push_back(id("gm" + std::to_string(i) + ".example.net"));
			gm_addrs.push_back(addr("100." + std::to_string(64 + (i >> 16)) + "." +
						std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255)));
			creds.add_psk(gcks_id, gm_ids.back(), "psk-of-gm" + std::to_string(i));
		}
	}
	GcksGroupConfig multicast_config()
	{
		GcksGroupConfig c = server_config();
		c.rekey = RekeyTransport::Multicast;
		c.multicast = addr("239.192.0.1");
		return c;
	}
	// Registers members from, ... to - 1 (already in gm_ids).
	void join(int from, int to, const GcksGroupConfig &c)
	{
		for (int i = from; i < to; i++) {
			std::vector<Address> a{gm_addrs[i]};
			if (c.multicast)
				a.push_back(*c.multicast);
			Node &m = net.add(a, &creds);
			GmGroupConfig mc = member_config(i);
			mc.multicast = c.multicast;
			ASSERT_TRUE(m.engine.add_member_group(mc).ok());
			m.engine.tick();
			gms.push_back(&m);
		}
		net.run();
	}
};

TEST_F(LargeGroup, FiveThousandJoinsThenAnEviction)
{
	const int n = 5000;
	add_members(n);
	for (KeyHierarchy h : {KeyHierarchy::Tree}) {
		GcksGroupConfig c = multicast_config();
		c.hierarchy = h;
		c.authorized = gm_ids;
		start(0, c);
		join(0, n, c);
		ASSERT_EQ(gcks->group("blue")->members.size(), size_t(n));
		net.log.clear();
		ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[17]).ok());
		net.run();
		const uint32_t spi = current_spi(*gcks);
		size_t following = 0;
		for (int i = 0; i < n; i++)
			following += installed(*gms[i], spi) != nullptr;
		EXPECT_EQ(following, size_t(n - 1));
		EXPECT_FALSE(gms[17]->sink.ever_had(spi));
		// the eviction's size follows the tree's depth, not the joins:
		// per level at most two new keys (a replaced node under each
		// child) and one grown root, each a 52-octet intermediate key
		const size_t depth = gcks->group("blue")->exposure.depth;
		EXPECT_EQ(depth, 13u);
		for (const Datagram &d : net.sent_with_exchange(kRekey))
			EXPECT_LT(d.data.size(), 400u + 3 * 52 * depth) << "a join adds nothing to the next eviction";
	}
}

// The lab's sequence on the flat table (key_hierarchy = flat, unicast
// rekeys, id_bits 16): four members, one evicted, 500 joins, another
// evicted. The second eviction's Rekey SA message carries the folded join
// announcements (TEK and one notice per KEK that has holders: 1 + 16 + b
// entries for IDs of b bits in use) and TEK' under the KEK of each ID bit
// in use the leaver lacks (b wraps): IDs 0..3 use 2 bits, 0..503 use 9,
// so it may grow by 7 notices and 7 wraps and no more. One announcement
// per join would add about 89 bytes per join (some 44 kB here).
TEST_F(LargeGroup, FlatEvictionAfterFiveHundredJoinsGrowsOnlyWithTheIdBitsInUse)
{
	const int joins = 500;
	const size_t notice_bytes = 19, wrap_bytes = 46, signature_slack = 8;
	add_members(4 + joins);
	GcksGroupConfig c = server_config();
	c.hierarchy = KeyHierarchy::Flat;
	c.authorized = gm_ids;
	start(0, c);
	join(0, 4, c);
	auto evict = [&](int i) {
		net.log.clear();
		EXPECT_TRUE(gcks->engine.evict("blue", gm_ids[i]).ok());
		net.run();
		// per message (Rekey SA and message ID): the sizes of its
		// datagrams (one per member)
		std::map<std::tuple<uint64_t, uint64_t, uint32_t>, std::set<size_t>> sizes;
		std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> order; // as sent
		size_t datagrams = 0;
		for (const Datagram &d : net.sent_with_exchange(kRekey)) {
			auto h = decode_ike_header(d.data);
			EXPECT_TRUE(h.ok());
			if (!h.ok())
				continue;
			std::tuple<uint64_t, uint64_t, uint32_t> key{h.value().initiator_spi, h.value().responder_spi,
								     h.value().message_id};
			if (!sizes.count(key))
				order.push_back(key);
			sizes[key].insert(d.data.size());
			datagrams++;
			EXPECT_FALSE(d.to == gm_addrs[i]) << "the evicted member gets no rekey";
		}
		EXPECT_EQ(sizes.size(), 2u) << "one message for the Rekey SA, one for the TEK";
		EXPECT_EQ(datagrams, 2 * (gcks->group("blue")->members.size()));
		std::vector<size_t> out;
		for (const auto &key : order) {
			const std::set<size_t> &z = sizes[key];
			EXPECT_EQ(z.size(), 1u) << "the same message to every member";
			out.push_back(*z.rbegin());
		}
		return out;
	};
	const std::vector<size_t> reference = evict(3);
	ASSERT_EQ(reference.size(), 2u);
	join(4, 4 + joins, c);
	ASSERT_EQ(gcks->group("blue")->members.size(), size_t(3 + joins));
	uint32_t highest = 0;
	for (const MemberState &m : gcks->group("blue")->members)
		highest = std::max(highest, m.flat_id);
	ASSERT_EQ(highest, uint32_t(3 + joins)) << "IDs are assigned in order";
	const uint32_t spi1 = current_spi(*gcks);
	const std::vector<size_t> after = evict(2);
	ASSERT_EQ(after.size(), 2u);
	const size_t bits0 = 2, bits1 = 9; // IDs 0..3, 0..503
	EXPECT_LE(after[0], reference[0] + (bits1 - bits0) * (notice_bytes + wrap_bytes) + signature_slack)
		<< "Rekey SA message: " << reference[0] << " bytes before the joins, " << after[0] << " after";
	EXPECT_GT(after[0], reference[0]) << "the membership grew into 7 more ID bits";
	EXPECT_LE(after[1], reference[1] + signature_slack) << "the TEK message does not grow";
	// and it is applied: every remaining member holds the new TEK, the
	// evicted one does not
	const uint32_t spi2 = current_spi(*gcks);
	ASSERT_NE(spi2, spi1);
	size_t following = 0;
	for (size_t i = 0; i < gms.size(); i++)
		following += installed(*gms[i], spi2) != nullptr;
	EXPECT_EQ(following, size_t(2 + joins));
	EXPECT_FALSE(gms[2]->sink.ever_had(spi2));
}

// What a coalition of members can compute from everything its members
// ever held and everything the group ever sent: an adversary written
// against the wire, not the engine's state. Every wrapped key of every
// message it can open (SA_KEYs, intermediate keys, WRAP_KEYs) is unwrapped
// with every key it holds under the KWK ID named (Key IDs are on the wire
// for anyone), to a fixpoint.
class Coalition {
public:
	void hold(const RecordingKeyLog &log)
	{
		for (const RecordingKeyLog::MemberKey &k : log.member_keys) {
			if (k.kind == "kek")
				keks_.insert(k.value);
			else if (k.kind == "tek")
				teks_.insert(k.value);
			else if (k.kind == "wrap")
				wraps_[static_cast<uint32_t>(std::stoul(k.id, nullptr, 16))].insert(k.value);
		}
	}
	// Applies every datagram it can open until nothing more is learned.
	void learn(const std::vector<Datagram> &rekeys)
	{
		std::vector<KeyDownloadPayload> opened(rekeys.size());
		std::vector<Bytes> gsk_w(rekeys.size());
		std::vector<bool> done(rekeys.size(), false);
		for (bool more = true; more;) {
			size_t before = size();
			for (size_t i = 0; i < rekeys.size(); i++) {
				if (!done[i])
					done[i] = open(rekeys[i].data, opened[i], gsk_w[i]);
				if (done[i])
					apply(opened[i], gsk_w[i]);
			}
			more = size() != before;
		}
	}
	bool knows_kek(const Bytes &keymat) const { return keks_.count(keymat) > 0; }
	bool knows_tek(const Bytes &keymat) const { return teks_.count(keymat) > 0; }
	bool knows_wrap(const std::string &id, const Bytes &key) const
	{
		auto it = wraps_.find(static_cast<uint32_t>(std::stoul(id, nullptr, 16)));
		return it != wraps_.end() && it->second.count(key) > 0;
	}
	size_t size() const
	{
		size_t n = keks_.size() + teks_.size();
		for (auto &[id, keys] : wraps_)
			n += keys.size();
		return n;
	}

private:
	bool open(const Bytes &datagram, KeyDownloadPayload &kd, Bytes &gsk_w)
	{
		for (const Bytes &kek : keks_) {
			SkKeys keys;
			keys.encryption_key.assign(kek.begin(), kek.begin() + 32);
			keys.salt.assign(kek.begin() + 32, kek.begin() + 36);
			auto m = open_message(datagram, keys);
			if (!m)
				continue;
			gsk_w.assign(kek.begin() + 36, kek.end());
			for (const Payload &p : m.value().inner)
				if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload))
					if (auto x = decode_key_download(p.body))
						kd = std::move(x).value();
			return true;
		}
		return false;
	}
	std::optional<Bytes> unwrap(const WrappedKey &w, const Bytes &gsk_w) const
	{
		if (w.kwk_id == 0) {
			auto plain = ike::key_unwrap(gsk_w, w.encrypted_key);
			return plain ? std::optional<Bytes>(Bytes(plain.value().begin(), plain.value().end())) : std::nullopt;
		}
		auto it = wraps_.find(w.kwk_id);
		if (it == wraps_.end())
			return std::nullopt;
		for (const Bytes &k : it->second)
			if (auto plain = ike::key_unwrap(k, w.encrypted_key))
				return Bytes(plain.value().begin(), plain.value().end());
		return std::nullopt;
	}
	void apply(const KeyDownloadPayload &kd, const Bytes &gsk_w)
	{
		for (const GroupKeyBag &b : kd.group_key_bags)
			for (const WrappedKey &w : b.sa_keys)
				if (auto plain = unwrap(w, gsk_w))
					(w.key_id ? wraps_[w.key_id]
					 : b.protocol == static_cast<uint8_t>(SecurityProtocol::GikeUpdate) ? keks_
													     : teks_)
						.insert(*plain);
		if (kd.member_key_bag)
			for (const WrappedKey &w : kd.member_key_bag->wrap_keys)
				if (auto plain = unwrap(w, gsk_w))
					wraps_[w.key_id].insert(*plain);
	}

	std::set<Bytes> keks_, teks_;
	// Key ID -> keys
	std::map<uint32_t, std::set<Bytes>> wraps_;
};

// The real key server and members through thousands of joins, single and
// batch evictions and rekeys; then every coalition of evicted members (all
// of them, and random subsets), given everything its members held and
// every datagram the group sent, is unable to compute any TEK, KEK or key
// tree key the group used after the last of them left. A member that stays
// computes all of them (the adversary is not blind).
TEST_F(LargeGroup, NoCoalitionOfEvictedMembersReadsLaterKeys)
{
	const int waves = 4, per_wave = 500;
	add_members(waves * per_wave);
	GcksGroupConfig c = multicast_config();
	c.authorized = gm_ids;
	c.kek_lifetime_s = 3600;
	start(0, c);
	std::mt19937_64 rng(20261129);
	std::vector<int> evicted;
	// where the reference member's key log stood when each was evicted
	std::map<int, size_t> mark;
	std::set<int> gone;
	auto evict = [&](std::vector<int> who) {
		std::vector<Identity> ids;
		for (int i : who) {
			ids.push_back(gm_ids[i]);
			mark[i] = gms[0]->keylog.member_keys.size();
		}
		ASSERT_TRUE(gcks->engine.evict("blue", ids).ok());
		net.run();
		for (int i : who) {
			evicted.push_back(i);
			gone.insert(i);
		}
	};
	auto pick = [&](int upto) {
		for (;;) {
			int i = 1 + static_cast<int>(rng() % static_cast<uint64_t>(upto - 1));
			if (!gone.count(i))
				return i;
		}
	};
	for (int w = 0; w < waves; w++) {
		join(w * per_wave, (w + 1) * per_wave, c);
		const int upto = (w + 1) * per_wave;
		for (int e = 0; e < 4; e++)
			evict({pick(upto)});
		std::vector<int> batch;
		for (int e = 0; e < 8 + 8 * w; e++) {
			int i = pick(upto);
			if (std::find(batch.begin(), batch.end(), i) == batch.end())
				batch.push_back(i);
		}
		evict(batch);
		ASSERT_TRUE(gcks->engine.rekey("blue").ok()); // a TEK rekey
		net.run();
		if (w == 1) {
			// lifetime rekeys of the Rekey SA and the TEK, before any
			// member's re-registration is due
			const uint64_t rekeys = gcks->group("blue")->counters.rekeys;
			const size_t rekey_sas = gcks->keylog.rekey_sas.size();
			net.advance(3300 * 1000, 300 * 1000);
			ASSERT_GT(gcks->group("blue")->counters.rekeys, rekeys);
			ASSERT_GT(gcks->keylog.rekey_sas.size(), rekey_sas) << "a new Rekey SA";
		}
	}
	const uint32_t spi = current_spi(*gcks);
	for (int i = 0; i < waves * per_wave; i++)
		ASSERT_EQ(installed(*gms[i], spi) != nullptr, !gone.count(i)) << "member " << i;
	const std::vector<Datagram> rekeys = net.sent_with_exchange(kRekey);
	const RecordingKeyLog &ref = gms[0]->keylog;

	// checks the coalition of members `who` against every key the
	// reference member learned after the last of them left
	auto check = [&](const std::vector<int> &who) {
		Coalition pool;
		size_t from = 0;
		for (int i : who) {
			pool.hold(gms[i]->keylog);
			from = std::max(from, mark[i]);
		}
		pool.learn(rekeys);
		size_t later = 0;
		for (size_t k = from; k < ref.member_keys.size(); k++) {
			const RecordingKeyLog::MemberKey &key = ref.member_keys[k];
			bool known = key.kind == "kek"	 ? pool.knows_kek(key.value) :
				     key.kind == "tek"	 ? pool.knows_tek(key.value) :
							   pool.knows_wrap(key.id, key.value);
			EXPECT_FALSE(known) << "coalition of " << who.size() << " learned a later " << key.kind
					    << " key " << key.id;
			later++;
		}
		EXPECT_GT(later, 0u);
	};
	check(evicted);
	for (int t = 0; t < 12; t++) {
		std::vector<int> who;
		size_t n = 2 + rng() % 10;
		while (who.size() < n) {
			int i = evicted[rng() % evicted.size()];
			if (std::find(who.begin(), who.end(), i) == who.end())
				who.push_back(i);
		}
		check(who);
	}
	// positive control: a member that stayed, seeded only with what it
	// held when the first eviction happened, recomputes every later key
	// from the wire
	{
		Coalition stayer;
		RecordingKeyLog early;
		const size_t first = mark[evicted.front()];
		early.member_keys.assign(ref.member_keys.begin(), ref.member_keys.begin() + static_cast<long>(first));
		stayer.hold(early);
		stayer.learn(rekeys);
		size_t teks = 0, learned = 0;
		for (size_t k = first; k < ref.member_keys.size(); k++) {
			if (ref.member_keys[k].kind != "tek")
				continue;
			teks++;
			learned += stayer.knows_tek(ref.member_keys[k].value);
		}
		EXPECT_GT(teks, 0u);
		EXPECT_EQ(learned, teks) << "the adversary code can follow the group when it may";
	}
}


// --- a key server restart (RFC 7296 2.21.4) ---

// The unprotected INFORMATIONAL response a key server that lost an IKE SA
// sends, with the given SPIs and message ID.
Bytes invalid_spi_notice(uint64_t spi_i, uint64_t spi_r, uint32_t id, uint16_t notify = 4)
{
	Message m;
	m.header.initiator_spi = spi_i;
	m.header.responder_spi = spi_r;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::Informational);
	m.header.flags = kFlagResponse;
	m.header.message_id = id;
	NotifyPayload n;
	n.type = notify;
	m.payloads.push_back(Payload{static_cast<uint8_t>(PayloadType::Notify), false, encode_notify(n).value()});
	return encode_message(m).value();
}

class Restart : public Protocol {
protected:
	// The key server's engine is replaced by a fresh one at the same
	// address: what a restart of charon on the key server does.
	Node &restart_gcks()
	{
		gcks->addresses.clear();
		gcks = &net.add({gcks_addr}, &creds);
		EXPECT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		return *gcks;
	}
	size_t members_of_gcks() { return gcks->group("blue")->members.size(); }
	// Ticks in steps of 100 ms until every member is registered with the
	// key server or limit_ms passed; checks on every step that each
	// member still has the group SA it had (old_spi) until it holds a new
	// one. The time it took.
	uint64_t until_all_back(uint32_t old_spi, uint64_t limit_ms)
	{
		const uint64_t t0 = net.clock.t;
		while (members_of_gcks() < gms.size() && net.clock.t - t0 < limit_ms) {
			net.advance(100, 100);
			for (Node *gm : gms) {
				if (!gm->sink.has(current_spi(*gcks))) {
					EXPECT_TRUE(gm->sink.has(old_spi)) << "a group SA went before its replacement";
				}
			}
		}
		return net.clock.t - t0;
	}
	// The header of the last datagram a node at from sent of an exchange.
	IkeHeader last_sent(const Address &from, ExchangeType x)
	{
		IkeHeader h;
		for (const Datagram &d : net.sent_with_exchange(static_cast<uint8_t>(x)))
			if (d.from == from)
				h = decode_ike_header(d.data).value();
		return h;
	}
};

TEST_F(Restart, MembersRegisterAgainAtOnceOnInvalidIkeSpi)
{
	start(3, server_config());
	const uint32_t old_spi = current_spi(*gcks);
	for (Node *gm : gms)
		ASSERT_TRUE(gm->sink.has(old_spi));
	restart_gcks();
	ASSERT_EQ(members_of_gcks(), 0u);
	const uint32_t new_spi = current_spi(*gcks);
	ASSERT_NE(new_spi, old_spi);

	// each member asks on the IKE SA it has (a re-registration); the key
	// server does not know it and says so; the member starts over
	net.drop = [&](const Datagram &) {
		// the members still hold the old group SA while they ask
		for (Node *gm : gms) {
			if (!gm->sink.has(new_spi)) {
				EXPECT_TRUE(gm->sink.has(old_spi));
			}
		}
		return false;
	};
	for (Node *gm : gms)
		ASSERT_TRUE(gm->engine.reregister("blue").ok());
	EXPECT_EQ(gcks->group("blue")->counters.invalid_spi, 0u) << "delivered on the next run";
	const uint64_t took = until_all_back(old_spi, 5000);
	EXPECT_LT(took, 5000u);
	EXPECT_EQ(members_of_gcks(), 3u);
	EXPECT_EQ(gcks->group("blue")->counters.invalid_spi, 3u);
	EXPECT_EQ(gcks->group("blue")->counters.registrations, 3u);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->counters.invalid_spi, 1u);
		EXPECT_EQ(gm->group("blue")->state, "registered");
		EXPECT_TRUE(gm->sink.has(new_spi));
		// the old one went when the registration replaced it, not before
		EXPECT_EQ(std::count(gm->sink.removed.begin(), gm->sink.removed.end(), old_spi), 1);
	}
	// one GSA_REGISTRATION per member on the lost IKE SA, then a fresh
	// IKE_SA_INIT and GSA_AUTH each
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaRegistration)).size(), 3u);
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).size(), 3u);
}

TEST_F(Restart, WithoutTheNoticeAMemberStartsOverAfterOneUnansweredRetransmission)
{
	start(2, server_config());
	const uint32_t old_spi = current_spi(*gcks);
	restart_gcks();
	// the notices are lost: only the retransmission timer tells
	net.drop = [](const Datagram &d) {
		return d.data.size() > 18 && d.data[18] == static_cast<uint8_t>(ExchangeType::Informational);
	};
	for (Node *gm : gms)
		ASSERT_TRUE(gm->engine.reregister("blue").ok());
	const uint64_t took = until_all_back(old_spi, 10000);
	EXPECT_EQ(members_of_gcks(), 2u);
	// sent at 0, again at 2 s, given up at 6 s (not after 62 s)
	EXPECT_GE(took, 6000u);
	EXPECT_LE(took, 6100u);
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::GsaRegistration)).size(), 4u);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->state, "registered");
		EXPECT_EQ(gm->group("blue")->counters.invalid_spi, 0u);
		EXPECT_TRUE(gm->sink.has(current_spi(*gcks)));
	}
}

TEST_F(Restart, ForgedInvalidIkeSpiChangesNothing)
{
	start(1, server_config());
	Node &gm = *gms[0];
	const uint32_t spi = current_spi(*gcks);
	// a re-registration whose request is held back: the member has one
	// outstanding
	net.drop = [](const Datagram &) { return true; };
	ASSERT_TRUE(gm.engine.reregister("blue").ok());
	net.run();
	net.drop = nullptr;
	const IkeHeader req = last_sent(gm_addrs[0], ExchangeType::GsaRegistration);
	ASSERT_NE(req.initiator_spi, 0u);
	ASSERT_NE(req.responder_spi, 0u);
	const size_t sent_before = net.log.size();
	const auto removed_before = gm.sink.removed;
	const size_t installed_before = gm.sink.ever.size();
	const std::vector<Bytes> forged{
		invalid_spi_notice(req.initiator_spi, req.responder_spi ^ 1, req.message_id), // other SPIr
		invalid_spi_notice(req.initiator_spi, req.responder_spi, req.message_id + 1), // other message ID
		invalid_spi_notice(req.initiator_spi, req.responder_spi, req.message_id - 1),
		invalid_spi_notice(req.initiator_spi ^ 1, req.responder_spi, req.message_id), // other SPIi
		invalid_spi_notice(req.initiator_spi, req.responder_spi, req.message_id, 7), // other notify
	};
	for (const Bytes &f : forged)
		gm.engine.receive(gm_addrs[0], gcks_addr, f);
	// the same, from elsewhere
	Address other = addr("203.0.113.9");
	other.port = gcks_addr.port;
	gm.engine.receive(gm_addrs[0], other, invalid_spi_notice(req.initiator_spi, req.responder_spi, req.message_id));
	net.run();
	const GroupState *g = gm.group("blue");
	EXPECT_EQ(g->counters.invalid_spi, 0u);
	EXPECT_EQ(g->counters.dropped_auth, forged.size() + 1);
	EXPECT_EQ(g->state, "registering");
	EXPECT_EQ(net.log.size(), sent_before) << "no IKE_SA_INIT, nothing at all";
	EXPECT_EQ(gm.sink.removed, removed_before);
	EXPECT_EQ(gm.sink.ever.size(), installed_before);
	EXPECT_TRUE(gm.sink.has(spi));
	// the request goes on and is answered by the key server that has the
	// IKE SA: the member is registered over it
	net.advance(2000, 100);
	EXPECT_EQ(gm.group("blue")->state, "registered");
	EXPECT_TRUE(gm.sink.has(spi));
	EXPECT_EQ(gcks->group("blue")->counters.invalid_spi, 0u);
	// once answered, the genuine-looking notice for that request does
	// nothing either
	gm.engine.receive(gm_addrs[0], gcks_addr,
			  invalid_spi_notice(req.initiator_spi, req.responder_spi, req.message_id));
	net.run();
	EXPECT_EQ(gm.group("blue")->counters.invalid_spi, 0u);
	EXPECT_EQ(gm.group("blue")->state, "registered");
}

TEST_F(Restart, InvalidIkeSpiAnswersAreRateLimitedAndOnlyForRequests)
{
	start(0, server_config());
	Address from = gm_addrs[0];
	auto request = [&](uint64_t spi_i, uint8_t flags) {
		Message m;
		m.header.initiator_spi = spi_i;
		m.header.responder_spi = 0x1122334455667788ull;
		m.header.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRegistration);
		m.header.flags = flags;
		m.header.message_id = 7;
		return encode_message(m).value();
	};
	// a response on an unknown IKE SA is never answered
	gcks->engine.receive(gcks_addr, from, request(1, kFlagInitiator | kFlagResponse));
	net.run();
	EXPECT_TRUE(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).empty());
	for (uint64_t i = 0; i < 100; i++)
		gcks->engine.receive(gcks_addr, from, request(100 + i, kFlagInitiator));
	net.run();
	auto notices = net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational));
	ASSERT_EQ(notices.size(), 20u);
	EXPECT_EQ(gcks->group("blue")->counters.invalid_spi, 20u);
	EXPECT_EQ(gcks->group("blue")->counters.dropped_auth, 101u);
	// the answer: same SPIs and message ID, a response, not protected,
	// one N(INVALID_IKE_SPI), to where the request came from
	auto m = decode_message(notices[0].data);
	ASSERT_TRUE(m.ok());
	EXPECT_EQ(m.value().header.initiator_spi, 100u);
	EXPECT_EQ(m.value().header.responder_spi, 0x1122334455667788ull);
	EXPECT_EQ(m.value().header.message_id, 7u);
	EXPECT_EQ(m.value().header.flags, kFlagResponse);
	EXPECT_FALSE(m.value().encrypted);
	ASSERT_EQ(m.value().payloads.size(), 1u);
	EXPECT_EQ(decode_notify(m.value().payloads[0].body).value().type, 4u);
	EXPECT_EQ(notices[0].to, from);
	EXPECT_EQ(notices[0].from, gcks_addr);
	// a second later, 20 more
	net.clock.t += 1000;
	for (uint64_t i = 0; i < 30; i++)
		gcks->engine.receive(gcks_addr, from, request(500 + i, kFlagInitiator));
	net.run();
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).size(), 40u);
	// the glue gives the local address without its port
	net.clock.t += 1000;
	Address portless = gcks_addr;
	portless.port = 0;
	gcks->engine.receive(portless, from, request(800, kFlagInitiator));
	net.run();
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).size(), 41u);
	// not on an address where no group is served
	Address elsewhere = addr("192.0.2.99");
	gcks->engine.receive(elsewhere, from, request(900, kFlagInitiator));
	net.clock.t += 1000;
	gcks->engine.receive(elsewhere, from, request(901, kFlagInitiator));
	net.run();
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).size(), 41u);
}

TEST_F(Protocol, EngineReportsRegistrationsEvictionsAndRekeysInOrder)
{
	start(3, server_config());
	EXPECT_EQ(gcks->events.log,
		  (std::vector<std::string>{"member-registered blue gm1.example.net again=no members=1",
					    "member-registered blue gm2.example.net again=no members=2",
					    "member-registered blue gm3.example.net again=no members=3"}));
	gcks->events.log.clear();

	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	uint32_t id = gcks->group("blue")->kek_message_id;
	EXPECT_EQ(gcks->events.log,
		  (std::vector<std::string>{"rekey blue server id=" + std::to_string(id) + " new-kek",
					    "member-evicted blue gm3.example.net members=2"}));
	EXPECT_FALSE(gms[0]->events.log.empty());
	EXPECT_EQ(gms[0]->events.log.back().rfind("rekey blue member id=", 0), 0u) << gms[0]->events.log.back();
	gcks->events.log.clear();

	// an evicted member that tries again is refused: no event
	ASSERT_TRUE(gms[2]->engine.reregister("blue").ok());
	net.run();
	EXPECT_TRUE(gcks->events.log.empty());
	// re-admitted, it registers again as a new member
	ASSERT_TRUE(gcks->engine.readmit("blue", gm_ids[2]).ok());
	ASSERT_TRUE(gms[2]->engine.reregister("blue").ok());
	net.run();
	EXPECT_EQ(gcks->events.log,
		  (std::vector<std::string>{"member-registered blue gm3.example.net again=no members=3"}));
	gcks->events.log.clear();

	// a member that registers over again is the same member
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.run();
	EXPECT_EQ(gcks->events.log,
		  (std::vector<std::string>{"member-registered blue gm1.example.net again=yes members=3"}));
	gcks->events.log.clear();

	// the operator's rekey: the same Rekey SA
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	ASSERT_EQ(gcks->events.log.size(), 1u);
	EXPECT_EQ(gcks->events.log[0].rfind("rekey blue server id=", 0), 0u);
}

TEST_F(Protocol, EngineReportsMembersNoLongerAuthorizedAsLeft)
{
	start(3, server_config());
	gcks->events.log.clear();
	GcksGroupConfig c = server_config();
	c.authorized = {gm_ids[0], gm_ids[1]};
	ASSERT_TRUE(gcks->engine.add_server_group(c).ok());
	ASSERT_GE(gcks->events.log.size(), 2u);
	EXPECT_EQ(gcks->events.log.back(), "member-left blue gm3.example.net unauthorized members=2");
}


} // namespace
} // namespace groupsec::gdoi::test
