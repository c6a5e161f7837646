// SPDX-License-Identifier: GPL-2.0-or-later
// The key server and member under hostile or careless peers: a member that
// leaves over GSA_REGISTRATION, unauthorized peers retrying, IKE SAs no
// member uses, replayed GSA_REKEY messages, cookies from old secrets. The
// engine's internal maps are looked at through EngineProbe.
#include <gtest/gtest.h>

#include "engine_impl.h"
#include "gdoi_protocol_util.h"
#include "gikev2.h"

namespace groupsec::gdoi {

struct EngineProbe {
	// The size of every map and list the engine keeps per peer.
	static std::map<std::string, size_t> sizes(const Engine &e)
	{
		const Engine::Impl &i = *e.impl_;
		std::map<std::string, size_t> m;
		m["responder_sas"] = i.ike.responder_sas_.size();
		m["initiator_sas"] = i.ike.initiator_sas_.size();
		m["responder_by_init"] = i.ike.responder_by_init_.size();
		for (auto &[n, g] : i.gcks.groups) {
			m["server " + n + " members"] = g->members.size();
			m["server " + n + " evicted"] = g->evicted.size();
			m["server " + n + " announcements"] = g->announcements.size();
			m["server " + n + " teks"] = g->teks.size();
		}
		for (auto &[n, g] : i.gm.groups)
			m["member " + n + " teks"] = g->teks.size();
		return m;
	}
	// The index and the half-open count agree with the SAs.
	static bool consistent(const Engine &e)
	{
		const detail::IkeSas &i = e.impl_->ike;
		size_t half = 0;
		for (auto &[spi, sa] : i.responder_sas_) {
			half += !sa->authenticated;
			auto it = i.responder_by_init_.find({sa->spi_i, sa->remote});
			if (it == i.responder_by_init_.end() || it->second != spi)
				return false;
		}
		return half == i.half_open_sas_ && i.responder_by_init_.size() == i.responder_sas_.size();
	}
};

namespace test {
namespace {

class Hardening : public GroupTest {
protected:
	Node &add_member(int i)
	{
		Node &m = net.add({gm_addrs[i]}, &creds);
		EXPECT_TRUE(m.engine.add_member_group(member_config(i)).ok());
		return m;
	}

	// A key server and members 0..n-1, registered.
	void start(int n, const GcksGroupConfig &sc)
	{
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
		for (int i = 0; i < n; i++)
			gms.push_back(&add_member(i));
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}

	bool has_sa(Node &n, uint32_t spi) { return n.sink.installed.count({"blue", spi}) > 0; }

	// A GSA_REGISTRATION from member i over its IKE SA (its next request
	// after GSA_AUTH) telling the key server it leaves with the notify.
	Bytes leave_request(int i, NotifyType why)
	{
		const auto &k = gms[i]->keylog.ike_sas.at(0);
		IkeHeader h;
		h.initiator_spi = k.spi_i;
		h.responder_spi = k.spi_r;
		h.exchange_type = kRegistration;
		h.flags = kFlagInitiator;
		h.message_id = 2;
		IdentificationPayload idg{group_id.type, group_id.data};
		NotifyPayload n;
		n.type = static_cast<uint16_t>(why);
		std::vector<Payload> inner{
			Payload{static_cast<uint8_t>(PayloadType::GroupId), false, encode_identification(idg).value()},
			Payload{static_cast<uint8_t>(PayloadType::Notify), false, encode_notify(n).value()}};
		auto d = seal_message(h, {}, inner, k.initiator, Bytes(8, 0x5a));
		EXPECT_TRUE(d.ok());
		return d.ok() ? d.value() : Bytes();
	}

	void member_leaves(NotifyType why)
	{
		start(2, server_config());
		ASSERT_EQ(gcks->engine.responder_ike_sas(), 2u);
		const uint32_t spi = current_spi(*gcks);
		gcks->engine.receive(gcks_addr, gm_addrs[0], leave_request(0, why));
		net.run();
		const GroupState *s = gcks->group("blue");
		ASSERT_EQ(s->members.size(), 1u);
		EXPECT_EQ(s->members[0].id, gm_ids[1]);
		EXPECT_EQ(gcks->engine.responder_ike_sas(), 1u) << "the leaver's IKE SA is gone";
		// the others are rekeyed; the leaver learns nothing new
		const uint32_t next = current_spi(*gcks);
		EXPECT_NE(next, spi);
		EXPECT_TRUE(has_sa(*gms[1], next));
		EXPECT_FALSE(gms[0]->sink.ever_had(next));
		// leaving is not an eviction: the member may come back
		gms[0]->addresses.clear();
		Node &again = add_member(0);
		net.tick();
		EXPECT_EQ(again.group("blue")->state, "registered");
		EXPECT_EQ(gcks->group("blue")->members.size(), 2u);
		EXPECT_TRUE(has_sa(again, current_spi(*gcks)));
	}
};

// The key server removes the leaver's IKE SA while it handles the
// leaver's request on it (run under AddressSanitizer too).
TEST_F(Hardening, MemberLeavingWithRegistrationFailedIsRemovedSafely)
{
	member_leaves(NotifyType::RegistrationFailed);
}

TEST_F(Hardening, MemberRejectingThePolicyIsRemovedSafely)
{
	member_leaves(static_cast<NotifyType>(14)); // NO_PROPOSAL_CHOSEN
}

TEST_F(Hardening, UnauthorizedRetriesLeaveNoState)
{
	start(1, server_config());
	Node &intruder = add_member(3); // authenticates, is not authorized
	std::map<std::string, size_t> server_sizes, intruder_sizes;
	const int attempts = 1000;
	for (int a = 0; a < attempts; a++) {
		ASSERT_TRUE(intruder.engine.reregister("blue").ok()) << "attempt " << a;
		net.run();
		ASSERT_EQ(intruder.group("blue")->state, "idle") << "attempt " << a;
		if (a == 0) {
			server_sizes = EngineProbe::sizes(gcks->engine);
			intruder_sizes = EngineProbe::sizes(intruder.engine);
		}
		if (gcks->engine.responder_ike_sas() != 1u || gcks->engine.half_open() != 0u ||
		    EngineProbe::sizes(intruder.engine) != intruder_sizes) {
			ADD_FAILURE() << "state grows at attempt " << a << ": " << gcks->engine.responder_ike_sas()
				      << " responder IKE SAs, " << gcks->engine.half_open() << " half-open, "
				      << EngineProbe::sizes(intruder.engine)["initiator_sas"]
				      << " IKE SAs at the intruder";
			break;
		}
	}
	EXPECT_EQ(gcks->group("blue")->counters.dropped_unauthorized, uint64_t(attempts));
	EXPECT_EQ(EngineProbe::sizes(gcks->engine), server_sizes);
	EXPECT_EQ(EngineProbe::sizes(intruder.engine), intruder_sizes);
	EXPECT_EQ(server_sizes["responder_sas"], 1u) << "only the member's IKE SA";
	EXPECT_TRUE(EngineProbe::consistent(gcks->engine));
	EXPECT_EQ(intruder_sizes["initiator_sas"], 0u);
	// the member is still served
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_TRUE(has_sa(*gms[0], current_spi(*gcks)));
}

TEST_F(Hardening, IkeSaNoMemberUsesExpires)
{
	start(1, server_config());
	ASSERT_EQ(gcks->engine.responder_ike_sas(), 1u);
	// the group goes away; the member's IKE SA serves nothing now
	ASSERT_TRUE(gcks->engine.remove_group("blue").ok());
	net.advance(20000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 1u) << "kept a while for retransmissions";
	net.advance(20000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 0u);
	EXPECT_EQ(EngineProbe::sizes(gcks->engine)["responder_by_init"], 0u);
	EXPECT_TRUE(EngineProbe::consistent(gcks->engine));
}

// RFC 9838 2.3.3: the key server keeps the IKE SA of a registered member
// when it uses it for GSA_INBAND_REKEY (else it closes it: ikesa_life_test).
TEST_F(Hardening, IkeSaOfARegisteredMemberStays)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband;
	start(2, c);
	net.advance(300000, 10000);
	EXPECT_EQ(gcks->engine.responder_ike_sas(), 2u);
	EXPECT_EQ(gcks->group("blue")->members.size(), 2u);
}

TEST_F(Hardening, ReplayedRekeyIsDroppedBeforeItsSignatureIsChecked)
{
	start(1, server_config());
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	const Datagram first = net.sent_with_exchange(kRekey).at(0);
	ASSERT_EQ(gms[0]->group("blue")->counters.rekeys, 1u);
	const int verifies = creds.verify_calls;
	for (int i = 1; i <= 3; i++) {
		gms[0]->engine.receive(first.to, first.from, first.data);
		EXPECT_EQ(gms[0]->group("blue")->counters.dropped_replay, uint64_t(i));
	}
	EXPECT_EQ(creds.verify_calls, verifies) << "no signature check for a replay";
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 1u);
	// a tampered copy fails the ICV first, and is not counted as a replay
	Bytes bad = first.data;
	bad[bad.size() - 3] ^= 1;
	gms[0]->engine.receive(first.to, first.from, bad);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_replay, 3u);
	EXPECT_EQ(gms[0]->group("blue")->counters.dropped_auth, 1u);
	EXPECT_EQ(creds.verify_calls, verifies);
	// the next real rekey is verified and applied
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(creds.verify_calls, verifies + 1);
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 2u);
}

// Cookies (RFC 7296 2.6): the member's IKE_SA_INIT that returns the
// cookie is held back and handed to the key server later.
class Cookies : public Hardening {
protected:
	void SetUp() override
	{
		Hardening::SetUp();
		net.drop = [&](const Datagram &d) {
			bool with_cookie = d.data.size() > 28 && d.data[18] == kInit && !(d.data[19] & kFlagResponse) &&
					   d.data[16] == static_cast<uint8_t>(PayloadType::Notify);
			if (with_cookie && held.data.empty())
				held = d;
			return with_cookie;
		};
		gcks = &net.add({gcks_addr}, &creds);
		gcks->engine.set_cookie_threshold(0);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		Node &m = add_member(0);
		m.engine.tick();
		net.run();
		ASSERT_FALSE(held.data.empty());
		ASSERT_EQ(gcks->group("blue")->counters.cookies_sent, 1u);
		// the member stops here
		m.addresses.clear();
		net.drop = nullptr;
		t0 = net.clock.t;
	}
	// Hands the held request to the key server at t0 + after_ms: true
	// if it made an IKE SA, false if it asked for a cookie again.
	bool accepted_after(uint64_t after_ms)
	{
		net.clock.t = t0 + after_ms;
		gcks->engine.tick();
		uint64_t cookies = gcks->group("blue")->counters.cookies_sent;
		gcks->engine.receive(held.to, held.from, held.data);
		bool made = gcks->engine.responder_ike_sas() == 1u;
		EXPECT_TRUE(EngineProbe::consistent(gcks->engine));
		EXPECT_EQ(gcks->group("blue")->counters.cookies_sent, cookies + (made ? 0u : 1u));
		return made;
	}
	Datagram held;
	uint64_t t0 = 0;
};

TEST_F(Cookies, AcceptedWithTheCurrentSecret)
{
	EXPECT_TRUE(accepted_after(60000));
}

TEST_F(Cookies, AcceptedWithThePreviousSecret)
{
	EXPECT_TRUE(accepted_after(5 * 60000 + 1000));
}

TEST_F(Cookies, RefusedTwoRotationsLater)
{
	EXPECT_FALSE(accepted_after(10 * 60000 + 1000));
	EXPECT_EQ(gcks->engine.half_open(), 0u);
}

} // namespace
} // namespace test
} // namespace groupsec::gdoi
