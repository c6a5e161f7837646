// G-IKEv2 exchanges end to end: a key server and members wired in memory.
#include <gtest/gtest.h>

#include <set>

#include "gdoi_config.h"
#include "gdoi_protocol_util.h"
#include "gikev2.h"

namespace groupsec::gdoi::test {
namespace {

Address addr(const std::string &ip, uint16_t port = 848)
{
	return *Address::parse(ip, port);
}

Identity id(const std::string &s)
{
	return *Identity::parse(s);
}

TrafficSelector range4(const std::string &a, const std::string &b)
{
	TrafficSelector t;
	t.start_address = addr(a).ip;
	t.end_address = addr(b).ip;
	return t;
}

constexpr uint8_t kRekey = static_cast<uint8_t>(ExchangeType::GsaRekey);
constexpr uint8_t kInit = static_cast<uint8_t>(ExchangeType::IkeSaInit);
constexpr uint8_t kAuth = static_cast<uint8_t>(ExchangeType::GsaAuth);
constexpr uint8_t kRegistration = static_cast<uint8_t>(ExchangeType::GsaRegistration);
constexpr uint8_t kInband = static_cast<uint8_t>(ExchangeType::GsaInbandRekey);

class Protocol : public ::testing::Test {
protected:
	void SetUp() override
	{
		gcks_addr = addr("192.0.2.1");
		gcks_id = id("@gcks.example.net");
		group_id = id("@#626c7565");
		for (int i = 1; i <= 4; i++) {
			gm_ids.push_back(id("gm" + std::to_string(i) + ".example.net"));
			gm_addrs.push_back(addr("198.51.100." + std::to_string(i)));
			creds.add_psk(gcks_id, gm_ids.back(), "psk-of-gm" + std::to_string(i));
		}
		creds.add_key(gcks_id);
	}

	GcksGroupConfig server_config()
	{
		GcksGroupConfig c;
		c.name = "blue";
		c.group_id = group_id;
		c.local_id = gcks_id;
		c.listen = {gcks_addr};
		c.authorized = {gm_ids[0], gm_ids[1], gm_ids[2]};
		TekPolicyConfig t;
		t.source = range4("10.0.0.0", "10.255.255.255");
		t.destination = range4("10.0.0.0", "10.255.255.255");
		c.teks = {t};
		c.tek_lifetime_s = 3600;
		c.kek_lifetime_s = 86400;
		c.deactivation_delay_s = 5;
		return c;
	}

	GmGroupConfig member_config(int i)
	{
		GmGroupConfig c;
		c.name = "blue";
		c.group_id = group_id;
		c.local_id = gm_ids[i];
		c.server_id = gcks_id;
		c.local = gm_addrs[i];
		c.servers = {gcks_addr};
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

	uint32_t current_spi(Node &n, const std::string &group = "blue")
	{
		const GroupState *g = n.group(group);
		uint32_t spi = 0;
		for (const SaState &s : g->sas)
			if (s.current)
				spi = s.spi;
		return spi;
	}

	const TekSa *installed(Node &n, uint32_t spi, const std::string &group = "blue")
	{
		auto it = n.sink.installed.find({group, spi});
		return it == n.sink.installed.end() ? nullptr : &it->second;
	}

	Net net;
	FakeCredentials creds;
	Address gcks_addr;
	Identity gcks_id, group_id;
	std::vector<Identity> gm_ids;
	std::vector<Address> gm_addrs;
	Node *gcks = nullptr;
	std::vector<Node *> gms;
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
	EXPECT_EQ(s->kek_message_id, 1u);
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 3u) << "unicast to each member";
	for (Node *gm : gms) {
		const GroupState *g = gm->group("blue");
		EXPECT_EQ(g->counters.rekeys, 1u);
		EXPECT_EQ(g->kek_message_id, 1u);
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
	EXPECT_EQ(gms[0]->group("blue")->kek_message_id, 2u);
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

TEST_F(Protocol, SenderIdsAreGivenOnceAndKept)
{
	// GM1 asks for 2 Sender-IDs, GM2 for 3, GM3 for none
	start(3, server_config(), [](GmGroupConfig &m) {
		m.sender_ids = m.local_id.str() == "gm1.example.net" ? 2 : m.local_id.str() == "gm2.example.net" ? 3 : 0;
	});
	auto ids1 = gms[0]->group("blue")->sender_ids;
	auto ids2 = gms[1]->group("blue")->sender_ids;
	EXPECT_EQ(ids1.size(), 2u);
	EXPECT_EQ(ids2.size(), 3u);
	EXPECT_TRUE(gms[2]->group("blue")->sender_ids.empty());
	std::set<uint32_t> all(ids1.begin(), ids1.end());
	all.insert(ids2.begin(), ids2.end());
	EXPECT_EQ(all.size(), 5u) << "no Sender-ID twice";
	EXPECT_EQ(all.count(0), 0u);
	// the key server shows the same, and a re-registration keeps them
	for (const MemberState &m : gcks->group("blue")->members)
		if (m.id == gm_ids[0])
			EXPECT_EQ(m.sender_ids, ids1);
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.tick();
	EXPECT_EQ(gms[0]->group("blue")->counters.registrations, 2u);
	EXPECT_EQ(gms[0]->group("blue")->sender_ids, ids1);
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
	c.inband_rekey = true;
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
		void send(const Address &, const Address &, ByteView) override {}
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

} // namespace
} // namespace groupsec::gdoi::test
