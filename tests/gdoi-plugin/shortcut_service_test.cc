// SPDX-License-Identifier: GPL-2.0-or-later
// Shortcut SAs through the engine (docs/shortcuts.md, "In the plugin"): a
// key server with the connectivity manager and two members with their
// side, each a ShortcutService on a real engine, on the in-memory network.
// The messages travel in N(SHORTCUT) on the members' IKE SAs; the members'
// kernels see the two-phase order.
#include "rfc9838_test_util.h"

#include <algorithm>

#include "shortcut/shortcut_service.h"
#include "shortcut/shortcut_test_util.h"

namespace groupsec::gdoi::test {
namespace {

using shortcut::Prefix;
using shortcut::ShortcutPeerConfig;
using shortcut::ShortcutService;
using shortcut::ShortcutState;
using shortcut_test::SimKernel;

Prefix prefix(const std::string &s)
{
	return shortcut::parse_prefix(s).value();
}

class ShortcutServiceTest : public RfcRules {
protected:
	void SetUp() override
	{
		RfcRules::SetUp();
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		manager = std::make_unique<ShortcutService>(manager_kernel, net.clock, gcks->random);
		manager->set_engine(gcks->engine);
		manager->set_events([this](const std::string &g, const shortcut::ShortcutInfo &s, bool up,
					   const std::string &why) {
			events.push_back(g + " " + std::to_string(s.id) + (up ? " up" : " down " + why));
		});
		gcks->shortcuts.next = manager.get();
		manager->configure_manager("blue", {ShortcutPeerConfig{gm_ids[0], {prefix("10.1.0.0/24")}},
						    ShortcutPeerConfig{gm_ids[1], {prefix("10.2.0.0/24")}}});
		for (int i = 0; i < 2; i++) {
			GmGroupConfig m = member_config(i);
			m.liveness_s = 20;
			Node &n = add_member(i, m);
			kernels.push_back(std::make_unique<SimKernel>("gm" + std::to_string(i + 1), &kernel_log));
			services.push_back(std::make_unique<ShortcutService>(*kernels.back(), net.clock, n.random));
			services.back()->set_engine(n.engine);
			services.back()->configure_member("blue", gcks_id,
							  {prefix(i == 0 ? "10.1.0.0/24" : "10.2.0.0/24")}, gm_addrs[i]);
			n.shortcuts.next = services.back().get();
		}
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}
	void TearDown() override
	{
		for (Node *m : gms)
			m->shortcuts.next = nullptr;
		gcks->shortcuts.next = nullptr;
	}
	shortcut::ShortcutGroupView view(ShortcutService &s)
	{
		auto v = s.view();
		EXPECT_EQ(v.size(), 1u);
		return v.empty() ? shortcut::ShortcutGroupView{} : v.front();
	}

	// (before the kernels and services, which log into them until they go)
	std::vector<std::string> kernel_log, events;
	SimKernel manager_kernel{"gw"};
	std::unique_ptr<ShortcutService> manager;
	std::vector<std::unique_ptr<SimKernel>> kernels;
	std::vector<std::unique_ptr<ShortcutService>> services;
};

TEST_F(ShortcutServiceTest, RegisteredMembersAreOutsideAtTheirIkeSaAddress)
{
	auto v = view(*manager);
	ASSERT_EQ(v.members.size(), 2u);
	EXPECT_EQ(v.members[0].id, "gm1.example.net");
	EXPECT_TRUE(v.members[0].is_outside);
	EXPECT_EQ(v.members[0].outside.ip, gm_addrs[0].ip);
	EXPECT_EQ(v.members[0].outside.port, 0) << "plain ESP";
	EXPECT_EQ(v.members[1].inside, (std::vector<Prefix>{prefix("10.2.0.0/24")}));
}

TEST_F(ShortcutServiceTest, RequestInstallsBothSidesInTheTwoPhaseOrder)
{
	auto id = manager->request("blue", "gm1.example.net", "gm2.example.net");
	ASSERT_TRUE(id.ok()) << id.error().message;
	net.run();
	auto v = view(*manager);
	ASSERT_EQ(v.shortcuts.size(), 1u);
	EXPECT_EQ(v.shortcuts[0].state, ShortcutState::Up);
	EXPECT_EQ(events, (std::vector<std::string>{"blue " + std::to_string(id.value()) + " up"}));
	// each member installed its inbound half before either installed an
	// outbound one, and each outbound SA is the other's inbound
	auto first_out = std::find_if(kernel_log.begin(), kernel_log.end(),
				      [](const std::string &l) { return l.find("add-sa out") != std::string::npos; });
	ASSERT_NE(first_out, kernel_log.end());
	size_t inbound_before = 0;
	for (auto it = kernel_log.begin(); it != first_out; ++it)
		inbound_before += it->find("add-sa in") != std::string::npos ? 1 : 0;
	EXPECT_EQ(inbound_before, 2u) << ::testing::PrintToString(kernel_log);
	auto m1 = view(*services[0]), m2 = view(*services[1]);
	ASSERT_EQ(m1.member_shortcuts.size(), 1u);
	ASSERT_EQ(m2.member_shortcuts.size(), 1u);
	EXPECT_TRUE(m1.member_shortcuts[0].outbound);
	EXPECT_TRUE(m2.member_shortcuts[0].outbound);
	EXPECT_EQ(m1.member_shortcuts[0].spi_in, m2.member_shortcuts[0].spi_out);
	EXPECT_EQ(m1.member_shortcuts[0].peer_outside.ip, gm_addrs[1].ip);
	EXPECT_EQ(kernels[0]->sas.size(), 2u);
	EXPECT_EQ(kernels[0]->policies.size(), 3u) << "in, fwd, out";
	EXPECT_TRUE(manager_kernel.empty()) << "the gateway installs nothing";
	// the messages went in N(SHORTCUT) on the IKE SAs
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_sent, 4u) << "OFFER and GO to each";
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_received, 4u) << "their ACKs";

	ASSERT_TRUE(manager->remove("blue", id.value()).ok());
	net.run();
	EXPECT_TRUE(kernels[0]->empty());
	EXPECT_TRUE(kernels[1]->empty());
	EXPECT_EQ(events.back(), "blue " + std::to_string(id.value()) + " down removed by the operator");
}

TEST_F(ShortcutServiceTest, UnknownMemberIsRefusedAndNothingSent)
{
	const uint64_t sent = gcks->group("blue")->counters.shortcut_sent;
	EXPECT_FALSE(manager->request("blue", "gm1.example.net", "gm3.example.net").ok()) << "not registered";
	EXPECT_FALSE(manager->request("blue", "gm1.example.net", "gm9.example.net").ok()) << "unknown";
	EXPECT_FALSE(manager->request("green", "gm1.example.net", "gm2.example.net").ok()) << "no such group";
	EXPECT_EQ(view(*manager).manager_counters.refused_unknown_member, 2u);
	EXPECT_EQ(gcks->group("blue")->counters.shortcut_sent, sent);
}

// A message from the manager that arrives on another member's behalf (an
// ACK naming a shortcut the sender is no party of) is rejected, counted,
// and changes nothing.
TEST_F(ShortcutServiceTest, MemberOutsideTheShortcutCannotAcknowledgeIt)
{
	// gm3 registers too, with shortcut support of its own
	GmGroupConfig c = member_config(2);
	c.liveness_s = 20;
	Node &n3 = add_member(2, c);
	net.tick();
	ASSERT_EQ(n3.group("blue")->state, "registered");
	// hold gm2's ACKs: the shortcut stays offered
	net.drop = [&](const Datagram &d) { return d.from == gm_addrs[1] && d.data.size() > 28 && d.data[18] == 37; };
	auto id = manager->request("blue", "gm1.example.net", "gm2.example.net");
	ASSERT_TRUE(id.ok());
	net.run();
	shortcut::ShortcutMessage ack;
	ack.epoch = 7;
	ack.sequence = 1;
	ack.shortcut_id = id.value();
	ack.body = shortcut::Ack{shortcut::MsgType::Offer, shortcut::AckStatus::Ok};
	auto encoded = shortcut::encode_shortcut_message(ack);
	ASSERT_TRUE(encoded.ok());
	ASSERT_TRUE(n3.engine.send_shortcut("blue", Bytes(encoded.value().begin(), encoded.value().end())).ok());
	net.run();
	auto v = view(*manager);
	EXPECT_EQ(v.manager_counters.rejected_forged, 1u);
	ASSERT_EQ(v.shortcuts.size(), 1u);
	EXPECT_FALSE(v.shortcuts[0].inbound_b) << "gm3 cannot speak for gm2";
	EXPECT_EQ(v.shortcuts[0].state, ShortcutState::Offered);
}

// The member's IKE SA going ends its shortcuts at the manager.
TEST_F(ShortcutServiceTest, IkeSaGoneIsMemberGone)
{
	ASSERT_TRUE(manager->request("blue", "gm1.example.net", "gm2.example.net").ok());
	net.run();
	ASSERT_EQ(view(*manager).shortcuts.size(), 1u);
	// gm1 leaves: its IKE SA with the key server goes
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[0]).ok());
	net.run();
	auto v = view(*manager);
	EXPECT_TRUE(v.shortcuts.empty());
	EXPECT_EQ(v.members.size(), 1u);
	EXPECT_TRUE(kernels[1]->empty()) << "gm2 took the TEARDOWN";
}

// A member that registers again (a new IKE SA, or the key server
// restarted) starts afresh on both sides: nothing is left that would send
// to a peer that no longer has the SA to decrypt it.
TEST_F(ShortcutServiceTest, RegisteringAgainEndsTheMembersShortcuts)
{
	ASSERT_TRUE(manager->request("blue", "gm1.example.net", "gm2.example.net").ok());
	net.run();
	ASSERT_EQ(kernels[0]->sas.size(), 2u);
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.run();
	EXPECT_TRUE(kernels[0]->empty());
	EXPECT_TRUE(kernels[1]->empty()) << "gm2 took the TEARDOWN";
	EXPECT_EQ(kernels[0]->bad_deletes, 0);
	EXPECT_TRUE(view(*manager).shortcuts.empty());
	// and a new one comes up over the new registration
	ASSERT_TRUE(manager->request("blue", "gm1.example.net", "gm2.example.net").ok());
	net.run();
	ASSERT_EQ(view(*manager).shortcuts.size(), 1u);
	EXPECT_EQ(view(*manager).shortcuts[0].state, ShortcutState::Up);
}

// An IPv4 packet as the gateway's feed reads it: 10.1.0.5 -> 10.2.0.9,
// TCP with these flags (proto 6) or ICMP echo (proto 1).
Bytes relayed_packet(uint8_t proto, uint8_t tcp_flags = 0)
{
	Bytes p{0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 1, 0, 5, 10, 2, 0, 9};
	Bytes l4(20, 0);
	l4[13] = tcp_flags;
	if (proto == 1)
		l4[0] = 8;
	p.insert(p.end(), l4.begin(), l4.end());
	return p;
}

// The seed's second trigger through the service: the first packet of a
// new TCP session between two outside members starts the shortcut at
// once, well below the relayed-traffic threshold.
TEST_F(ShortcutServiceTest, RelayedTcpSynStartsTheShortcutAtOnce)
{
	for (int i = 0; i < 3; i++)
		manager->packet(relayed_packet(1));
	manager->packet(relayed_packet(6, 0x10)); // an ACK: no new session
	net.run();
	EXPECT_TRUE(view(*manager).shortcuts.empty());
	manager->packet(relayed_packet(6, 0x02));
	net.run();
	auto v = view(*manager);
	ASSERT_EQ(v.shortcuts.size(), 1u);
	EXPECT_EQ(v.shortcuts[0].state, ShortcutState::Up);
	EXPECT_EQ(v.manager_counters.detected_session, 1u);
	EXPECT_EQ(v.manager_counters.detected_relayed, 0u);
	EXPECT_EQ(view(*services[0]).member_shortcuts.size(), 1u);
	// what is no IP packet is ignored
	manager->packet(Bytes{0x45, 0});
	manager->packet(Bytes{});
	EXPECT_EQ(view(*manager).manager_counters.detected_session, 1u);
}

// A shortcut message on the IKE SA of a group without shortcuts (the key
// server of another group the member belongs to) is no manager's: gm1
// rejects and counts it, installs nothing, answers nothing.
TEST_F(ShortcutServiceTest, MessageOnAnotherGroupsIkeSaIsRejectedAsForged)
{
	shortcut::ShortcutMessage m;
	m.epoch = 1;
	m.sequence = 1;
	m.shortcut_id = 1;
	m.body = shortcut::Go{};
	Bytes go = Bytes(shortcut::encode_shortcut_message(m).value());
	const size_t sent = gms[0]->group("blue")->counters.shortcut_sent;
	services[0]->shortcut_message("red", false, Identity::parse("rogue.example.net").value(), go);
	services[0]->shortcut_message("red", false, gcks_id, go);
	auto v = view(*services[0]);
	EXPECT_EQ(v.member_counters.rejected_forged, 2u);
	EXPECT_TRUE(kernels[0]->empty());
	EXPECT_EQ(gms[0]->group("blue")->counters.shortcut_sent, sent);
}

// The host's addresses changed: gm1's address a is gone, the route to its
// key server leaves from `to`. Returns the IKE SAs moved.
size_t move_member(Node &n, const Address &to)
{
	n.addresses = {to};
	return n.engine.roam([&](const Address &a) { return a.ip == to.ip; },
			     [&](const Address &) -> std::optional<Address> { return to; });
}

TEST_F(ShortcutServiceTest, MovedMemberIsFollowedByTheKeyServerAndItsPeer)
{
	auto id = manager->request("blue", "gm1.example.net", "gm2.example.net");
	ASSERT_TRUE(id.ok()) << id.error().message;
	net.run();
	const Address moved = Address::parse("192.0.2.99", gm_addrs[0].port).value();
	const size_t registrations = gcks->events.log.size();
	ASSERT_EQ(move_member(*gms[0], moved), 1u);
	net.run();
	// the key server follows the IKE SA (RFC 4555 UPDATE_SA_ADDRESSES)
	// and tells the manager, which tells gm2
	const auto &log = gcks->shortcuts.log;
	EXPECT_EQ(std::count(log.begin(), log.end(), "moved blue server=yes gm1.example.net " + moved.str()), 1)
		<< ::testing::PrintToString(log);
	auto v = view(*manager);
	ASSERT_EQ(v.members.size(), 2u);
	EXPECT_EQ(v.members[0].outside.ip, moved.ip);
	ASSERT_EQ(v.shortcuts.size(), 1u);
	EXPECT_EQ(v.shortcuts[0].state, ShortcutState::Up) << "the same shortcut, moved";
	EXPECT_EQ(v.shortcuts[0].moves, 1u);
	EXPECT_EQ(v.manager_counters.moves_sent, 1u);
	EXPECT_EQ(v.manager_counters.offers_sent, 2u);
	auto m2 = view(*services[1]);
	ASSERT_EQ(m2.member_shortcuts.size(), 1u);
	EXPECT_EQ(m2.member_shortcuts[0].peer_outside.ip, moved.ip);
	EXPECT_TRUE(m2.member_shortcuts[0].outbound);
	// gm1 moved its own side: each of its SAs has the new address
	ASSERT_EQ(kernels[0]->sas.size(), 2u);
	for (const auto &sa : kernels[0]->sas)
		EXPECT_EQ(sa.inbound ? sa.destination.ip : sa.source.ip, moved.ip);
	for (const auto &sa : kernels[1]->sas)
		EXPECT_EQ(sa.inbound ? sa.source.ip : sa.destination.ip, moved.ip);
	// the key server's member is there now: its liveness checks are
	// answered there, it stays registered on the same IKE SA
	bool at_new = false;
	for (const MemberState &m : gcks->group("blue")->members)
		at_new = at_new || (m.id == gm_ids[0] && m.address == moved);
	EXPECT_TRUE(at_new);
	net.advance(60000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gcks->events.log.size(), registrations) << ::testing::PrintToString(gcks->events.log);
	EXPECT_EQ(view(*manager).shortcuts.size(), 1u);
}

TEST_F(ShortcutServiceTest, IkeSaThatStillHasItsAddressDoesNotMove)
{
	size_t moved = gms[0]->engine.roam([](const Address &) { return true; },
					   [&](const Address &) -> std::optional<Address> {
						   return Address::parse("192.0.2.99", 848).value();
					   });
	EXPECT_EQ(moved, 0u);
	// no route towards the key server: it stays too
	moved = gms[0]->engine.roam([](const Address &) { return false; },
				    [](const Address &) -> std::optional<Address> { return std::nullopt; });
	EXPECT_EQ(moved, 0u);
	net.run();
	EXPECT_EQ(view(*manager).members[0].outside.ip, gm_addrs[0].ip);
}

TEST_F(ShortcutServiceTest, MemberComingInsideEndsItsShortcutsOnBothSides)
{
	manager->configure_manager("blue",
				   {ShortcutPeerConfig{gm_ids[0], {prefix("10.1.0.0/24")}},
				    ShortcutPeerConfig{gm_ids[1], {prefix("10.2.0.0/24")}}},
				   shortcut::ManagerSettings{}, {prefix("10.0.0.0/8")});
	auto id = manager->request("blue", "gm1.example.net", "gm2.example.net");
	ASSERT_TRUE(id.ok()) << id.error().message;
	net.run();
	ASSERT_EQ(view(*manager).shortcuts.size(), 1u);
	// gm1 arrives on the gateway's inside LAN
	ASSERT_EQ(move_member(*gms[0], Address::parse("10.0.100.2", gm_addrs[0].port).value()), 1u);
	net.run();
	auto v = view(*manager);
	EXPECT_TRUE(v.shortcuts.empty());
	ASSERT_EQ(v.members.size(), 2u);
	EXPECT_FALSE(v.members[0].is_outside);
	EXPECT_EQ(v.manager_counters.teardowns_sent, 2u) << "peer-inside to gm2, inside to gm1";
	EXPECT_TRUE(kernels[0]->empty());
	EXPECT_TRUE(kernels[1]->empty());
	EXPECT_EQ(events.back(), "blue " + std::to_string(id.value()) + " down gm1.example.net came inside");
	// no shortcut with a member that is inside
	EXPECT_FALSE(manager->request("blue", "gm1.example.net", "gm2.example.net").ok());
	// out again: it is an outside member at its new address
	ASSERT_EQ(move_member(*gms[0], Address::parse("192.0.2.98", gm_addrs[0].port).value()), 1u);
	net.run();
	v = view(*manager);
	EXPECT_TRUE(v.members[0].is_outside);
	EXPECT_TRUE(manager->request("blue", "gm1.example.net", "gm2.example.net").ok());
	net.run();
	EXPECT_EQ(view(*services[1]).member_shortcuts.at(0).peer_outside.ip,
		  Address::parse("192.0.2.98", 0).value().ip);
}

} // namespace
} // namespace groupsec::gdoi::test
