// SPDX-License-Identifier: GPL-2.0-or-later
// Shortcut SAs end to end in a simulation: a gateway with its connectivity
// manager and two members outside it, over an in-memory network with a
// virtual clock. Each member has a kernel that keeps SAs and policies and
// a data plane that uses them: a packet between the members takes the
// shortcut when the sender has an outbound policy for it, and is then
// decrypted only if the receiver holds the inbound SA and policy; else it
// goes through the gateway, whose relay counter feeds the manager. The
// members' channels to the manager have different latencies, so the
// two-phase order is what keeps every packet decryptable.
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "shortcut_test_util.h"

using namespace shortcut_test;

namespace {

struct Sim;

struct Node {
	std::string name;
	Bytes inside_ip;
	Prefix inside;
	Address outside;
	bool is_outside = true;
	bool ike_up = true;
	uint64_t latency = 5; // one way, to and from the manager
	std::unique_ptr<SimKernel> kernel;
	std::unique_ptr<MemberChannel> channel;
	std::unique_ptr<ShortcutMember> core;
	std::vector<Bytes> received; // the manager's messages, as delivered
};

struct Sim : ManagerChannel, ManagerEvents {
	HandClock clock;
	SeededRandom random{2026};
	std::map<std::pair<uint64_t, uint64_t>, std::function<void()>> queue;
	uint64_t next = 0;
	std::vector<std::string> order; // every kernel call of both members, in order
	Node a, b;
	ManagerSettings settings;
	std::unique_ptr<ShortcutManager> manager;
	bool feed_sessions = false;
	bool naive = false; // members that install outbound with the offer
	std::set<std::pair<std::string, std::string>> sessions;

	uint64_t sent = 0, delivered = 0, relayed = 0, undecryptable = 0, lost = 0, no_sa = 0;
	uint64_t up_at = 0, relayed_at_up = 0;
	int up_events = 0, down_events = 0;

	struct Link : MemberChannel {
		Sim *sim;
		Node *node;
		bool send(ByteView m) override
		{
			if (!node->ike_up)
				return false;
			Bytes copy = m.to_bytes();
			Sim *s = sim;
			Node *n = node;
			sim->after(node->latency, [s, n, copy] { s->manager->receive(n->name, copy); });
			return true;
		}
	};

	Sim(uint64_t latency_a, uint64_t latency_b)
	{
		settings.relay_threshold_packets = 5;
		setup(a, "gm-a", "10.1.0.5", "10.1.0.5/32", "192.0.2.10", latency_a);
		setup(b, "gm-b", "10.2.0.9", "10.2.0.9/32", "198.51.100.20", latency_b);
	}

	void setup(Node &n, const std::string &name, const std::string &in, const std::string &pfx,
		   const std::string &out, uint64_t latency)
	{
		n.name = name;
		n.inside_ip = ip(in).ip;
		n.inside = prefix(pfx);
		n.outside = ip(out);
		n.latency = latency;
		n.kernel = std::make_unique<SimKernel>(name, &order);
		auto link = std::make_unique<Link>();
		link->sim = this;
		link->node = &n;
		n.channel = std::move(link);
	}

	void start()
	{
		manager = std::make_unique<ShortcutManager>(settings, clock, random, *this, this);
		for (Node *n : {&a, &b}) {
			MemberSettings ms;
			ms.manager = "gw";
			ms.inside = {n->inside};
			ms.local_outside = n->outside;
			n->core = std::make_unique<ShortcutMember>(ms, *n->kernel, *n->channel, random);
			n->core->manager_connected();
			ASSERT_TRUE(manager->member_outside(n->name, {n->inside}, n->outside).ok());
		}
	}

	void after(uint64_t dt, std::function<void()> f) { queue.emplace(std::make_pair(clock.now + dt, next++), std::move(f)); }
	void run_until(uint64_t t)
	{
		while (!queue.empty() && queue.begin()->first.first <= t) {
			auto it = queue.begin();
			clock.now = it->first.first;
			auto f = std::move(it->second);
			queue.erase(it);
			f();
		}
		clock.now = t;
	}

	Node &node(const std::string &name) { return name == a.name ? a : b; }

	// the manager's side of the IKE SAs
	bool send(const std::string &member, ByteView m) override
	{
		Node &n = node(member);
		if (!n.ike_up)
			return false;
		Bytes copy = m.to_bytes();
		Node *np = &n;
		after(n.latency, [this, np, copy] {
			np->received.push_back(copy);
			if (naive)
				install_outbound_early(*np, copy);
			np->core->receive("gw", copy);
		});
		return true;
	}
	void shortcut_up(const ShortcutInfo &) override
	{
		up_events++;
		up_at = clock.now;
		relayed_at_up = relayed;
	}
	void shortcut_down(const ShortcutInfo &, const std::string &) override { down_events++; }

	// the negative control: outbound with the offer, before the peer's ack
	void install_outbound_early(Node &n, const Bytes &m)
	{
		auto msg = decode_shortcut_message(m);
		if (!msg.ok() || msg.value().type() != MsgType::Offer)
			return;
		ShortcutMember::Entry e{std::get<Offer>(msg.value().body), 1, false};
		apply_plan(*n.kernel, n.core->plan_outbound(e));
	}

	void packet(Node &from, Node &to)
	{
		sent++;
		if (from.is_outside) {
			const KernelPolicy *p = from.kernel->policy_for(PolicyDirection::Out, from.inside_ip, to.inside_ip);
			if (p) {
				const KernelSa *sa = from.kernel->sa_for(false, p->tunnel_destination.ip, p->spi);
				if (!sa) {
					no_sa++;
					return;
				}
				Bytes src = from.outside.ip, dst = p->tunnel_destination.ip, inner = from.inside_ip;
				uint32_t spi = p->spi;
				Node *tp = &to;
				after(10, [this, tp, src, dst, spi, inner] { arrive(*tp, src, dst, spi, inner); });
				return;
			}
		}
		Node *fp = &from, *tp = &to;
		after(10, [this, fp, tp] { through_gateway(*fp, *tp); });
	}
	void arrive(Node &to, const Bytes &src, const Bytes &dst, uint32_t spi, const Bytes &inner)
	{
		if (!to.is_outside || to.outside.ip != dst) {
			lost++; // nobody at that address any more
			return;
		}
		const KernelSa *sa = to.kernel->sa_for(true, dst, spi);
		const KernelPolicy *p = to.kernel->policy_for(PolicyDirection::In, inner, to.inside_ip);
		if (!sa || !p || p->spi != spi || sa->source.ip != src) {
			undecryptable++;
			return;
		}
		delivered++;
	}
	void through_gateway(Node &from, Node &to)
	{
		if (from.is_outside && to.is_outside)
			relayed++;
		manager->relayed(from.inside_ip, to.inside_ip, 1);
		if (feed_sessions && sessions.insert({from.name, to.name}).second)
			manager->new_session(from.inside_ip, to.inside_ip);
		after(10, [this] { delivered++; });
	}

	// 10 packets a second each way from `from` to `to` (ms), a manager tick
	// every 500 ms
	void traffic(uint64_t from, uint64_t to)
	{
		for (uint64_t t = from; t < to; t += 100)
			queue.emplace(std::make_pair(t, next++), [this] {
				packet(a, b);
				packet(b, a);
			});
		for (uint64_t t = from; t < to + 1000; t += 500)
			queue.emplace(std::make_pair(t, next++), [this] { manager->tick(); });
	}

	size_t index(const std::string &entry) const
	{
		auto it = std::find(order.begin(), order.end(), entry);
		EXPECT_NE(it, order.end()) << "no kernel call \"" << entry << "\"";
		return static_cast<size_t>(it - order.begin());
	}
};

TEST(ShortcutSim, SetUpWithNoPacketThePeerCannotDecrypt)
{
	Sim s(5, 300); // gm-b is far from the manager
	s.start();
	s.traffic(1000, 6000);
	s.run_until(7000);

	auto list = s.manager->shortcuts();
	ASSERT_EQ(list.size(), 1u);
	const ShortcutInfo &sc = list[0];
	EXPECT_EQ(sc.state, ShortcutState::Up);
	EXPECT_EQ(s.manager->counters().detected_relayed, 1u);
	EXPECT_EQ(s.up_events, 1);
	EXPECT_EQ(s.undecryptable, 0u);
	EXPECT_EQ(s.lost, 0u);
	EXPECT_EQ(s.no_sa, 0u);
	EXPECT_EQ(s.delivered, s.sent);
	// after the setup, nothing crosses the gateway (at most what was
	// already on the way when the last GO was taken)
	EXPECT_GT(s.relayed_at_up, 0u);
	EXPECT_LE(s.relayed, s.relayed_at_up + 8);
	EXPECT_LT(s.up_at, 3000u);

	// the order of the installs: each side's outbound SA and policy only
	// after the other side's inbound SA and policy
	const std::string ab = hex32(sc.spi_ab), ba = hex32(sc.spi_ba);
	EXPECT_LT(s.index("gm-b add-sa in " + ab), s.index("gm-a add-sa out " + ab));
	EXPECT_LT(s.index("gm-b add-policy in " + ab), s.index("gm-a add-policy out " + ab));
	EXPECT_LT(s.index("gm-a add-sa in " + ba), s.index("gm-b add-sa out " + ba));
	EXPECT_LT(s.index("gm-a add-policy in " + ba), s.index("gm-b add-policy out " + ba));
	// and within a member: inbound first
	EXPECT_LT(s.index("gm-a add-policy in " + ba), s.index("gm-a add-policy out " + ab));
	EXPECT_EQ(s.a.kernel->bad_deletes + s.b.kernel->bad_deletes, 0);

	// the manager's context of each member
	const MemberContext *ca = s.manager->member("gm-a");
	ASSERT_NE(ca, nullptr);
	EXPECT_EQ(ca->correspondents, std::set<std::string>{"gm-b"});
	EXPECT_EQ(ca->shortcuts, std::set<uint32_t>{sc.id});
	EXPECT_EQ(s.a.core->counters().offers, 1u);
	EXPECT_EQ(s.b.core->counters().outbound, 1u);
}

TEST(ShortcutSim, InstallingOutboundWithTheOfferLosesPackets)
{
	// the same network with members that do not wait for GO: the far
	// member's inbound SA is not there yet when the near one sends
	Sim s(5, 300);
	s.naive = true;
	s.start();
	s.traffic(1000, 6000);
	s.run_until(7000);
	EXPECT_GT(s.undecryptable, 0u);
}

TEST(ShortcutSim, NewSessionTriggersTheShortcut)
{
	Sim s(20, 40);
	s.settings.relay_threshold_packets = 1000000; // only the session trigger
	s.feed_sessions = true;
	s.start();
	s.traffic(1000, 4000);
	s.run_until(5000);
	EXPECT_EQ(s.manager->counters().detected_session, 1u);
	EXPECT_EQ(s.manager->counters().detected_relayed, 0u);
	ASSERT_EQ(s.manager->shortcuts().size(), 1u);
	EXPECT_EQ(s.manager->shortcuts()[0].state, ShortcutState::Up);
	EXPECT_EQ(s.undecryptable + s.lost, 0u);
	EXPECT_EQ(s.delivered, s.sent);
}

TEST(ShortcutSim, AddressChangeIsFollowedWithoutTheGateway)
{
	Sim s(5, 300);
	s.start();
	s.traffic(1000, 9000);
	s.run_until(4000);
	ASSERT_EQ(s.up_events, 1);
	uint64_t relayed_before = s.relayed;

	// gm-a moves to a new outside address: its own SAs follow at once,
	// the gateway learns it from gm-a's IKE SA (MOBIKE) a latency later
	Address moved = ip("203.0.113.77");
	s.a.outside = moved;
	ASSERT_TRUE(s.a.core->local_address_changed(moved));
	s.after(s.a.latency, [&s, moved] { ASSERT_TRUE(s.manager->member_moved("gm-a", moved).ok()); });
	s.run_until(5000);
	uint64_t dropped_in_move = s.lost + s.undecryptable;
	s.run_until(10000);

	std::cout << "[ shortcut ] address change: " << dropped_in_move
		  << " packets dropped while the move was under way (in flight), " << s.sent << " sent\n";
	EXPECT_EQ(s.relayed, relayed_before); // nothing through the gateway
	// what can be lost is what was on the way to the old address, or sent
	// from the new one before gm-b heard of it: gm-b is 300 ms away
	EXPECT_LE(dropped_in_move, 8u);
	EXPECT_EQ(s.lost + s.undecryptable, dropped_in_move); // none after
	EXPECT_EQ(s.delivered + dropped_in_move, s.sent);
	EXPECT_EQ(s.b.core->counters().moves, 1u);
	EXPECT_EQ(s.manager->counters().moves_sent, 1u);
	for (const auto &sa : s.b.kernel->sas)
		EXPECT_EQ(sa.inbound ? sa.source.ip : sa.destination.ip, moved.ip);
	for (const auto &sa : s.a.kernel->sas)
		EXPECT_EQ(sa.inbound ? sa.destination.ip : sa.source.ip, moved.ip);
	EXPECT_EQ(s.a.kernel->bad_deletes + s.b.kernel->bad_deletes, 0);
	ASSERT_EQ(s.manager->shortcuts().size(), 1u);
	EXPECT_EQ(s.manager->shortcuts()[0].state, ShortcutState::Up);
}

TEST(ShortcutSim, MemberComingInsideRemovesTheShortcutOnBothSides)
{
	Sim s(5, 300);
	s.start();
	s.traffic(1000, 9000);
	s.run_until(4000);
	ASSERT_EQ(s.up_events, 1);
	uint64_t detected = s.manager->counters().detected_relayed;

	// gm-a is back on the inside LAN: its IKE SA with the gateway is gone,
	// its glue removes its shortcuts, the gateway tells the manager
	s.a.is_outside = false;
	s.a.ike_up = false;
	s.a.core->teardown_all();
	ASSERT_TRUE(s.manager->member_inside("gm-a").ok());
	s.run_until(5000);
	uint64_t dropped = s.lost + s.undecryptable;
	uint64_t relayed_mid = s.relayed;
	s.run_until(10000);

	EXPECT_TRUE(s.a.kernel->empty());
	EXPECT_TRUE(s.b.kernel->empty());
	EXPECT_EQ(s.a.kernel->bad_deletes + s.b.kernel->bad_deletes, 0);
	EXPECT_TRUE(s.manager->shortcuts().empty());
	EXPECT_EQ(s.b.core->counters().teardowns, 1u);
	EXPECT_EQ(s.down_events, 1);
	// gm-b went back to the gateway: its traffic to gm-a is delivered by
	// the gateway, and no new shortcut is made for a member inside
	EXPECT_EQ(s.manager->counters().detected_relayed, detected);
	EXPECT_EQ(s.relayed, relayed_mid); // inside traffic is not relayed between outside members
	std::cout << "[ shortcut ] member inside: " << dropped << " packets to its old outside address lost\n";
	EXPECT_LE(dropped, 5u); // what gm-b sent before its TEARDOWN arrived
	EXPECT_EQ(s.lost + s.undecryptable, dropped);
	EXPECT_EQ(s.delivered + dropped, s.sent);
	// the TEARDOWN to gm-a could not be sent (no IKE SA): counted
	EXPECT_EQ(s.manager->counters().send_failures, 1u);
}

TEST(ShortcutSim, ForgedAndReplayedOffersAreRejectedAndCounted)
{
	Sim s(5, 30);
	s.start();
	s.traffic(1000, 3000);
	s.run_until(4000);
	ASSERT_EQ(s.up_events, 1);
	ASSERT_FALSE(s.a.received.empty());
	const Bytes offer = s.a.received.front();
	ASSERT_EQ(decoded(offer).type(), MsgType::Offer);
	size_t sas = s.a.kernel->sas.size(), calls = s.a.kernel->log.size();
	size_t acks = s.manager->counters().rejected_replay;

	// replayed: the manager's own offer again
	EXPECT_FALSE(s.a.core->receive("gw", offer).ok());
	EXPECT_EQ(s.a.core->counters().rejected_replay, 1u);
	// not from the manager: the same octets on another IKE SA
	EXPECT_FALSE(s.a.core->receive("mallory", offer).ok());
	EXPECT_EQ(s.a.core->counters().rejected_forged, 1u);
	// a new sequence number under another epoch (not the manager's)
	ShortcutMessage forged = decoded(offer);
	forged.epoch ^= 0x5a5a5a5a;
	forged.sequence = 1000;
	forged.shortcut_id = 77;
	auto bytes = encode_shortcut_message(forged);
	ASSERT_TRUE(bytes.ok());
	EXPECT_FALSE(s.a.core->receive("gw", bytes.value()).ok());
	EXPECT_EQ(s.a.core->counters().rejected_replay, 2u);
	// a member's ACK sent as if from the manager
	ShortcutMessage ack;
	ack.epoch = forged.epoch;
	ack.sequence = 2000;
	ack.shortcut_id = 1;
	ack.body = Ack{MsgType::Offer, AckStatus::Ok};
	auto ack_bytes = encode_shortcut_message(ack);
	ASSERT_TRUE(ack_bytes.ok());
	EXPECT_FALSE(s.a.core->receive("gw", ack_bytes.value()).ok());
	EXPECT_EQ(s.a.core->counters().rejected_forged, 2u);

	// nothing changed, nothing answered
	EXPECT_EQ(s.a.kernel->sas.size(), sas);
	EXPECT_EQ(s.a.kernel->log.size(), calls);
	s.run_until(5000);
	EXPECT_EQ(s.manager->counters().rejected_replay, acks);
	EXPECT_EQ(s.manager->shortcuts().size(), 1u);

	// an offer for a member the manager does not know is refused
	size_t before = s.a.received.size() + s.b.received.size();
	auto r = s.manager->request("gm-a", "gm-ghost");
	EXPECT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("no member gm-ghost"), std::string::npos);
	EXPECT_EQ(s.manager->counters().refused_unknown_member, 1u);
	s.run_until(6000);
	EXPECT_EQ(s.a.received.size() + s.b.received.size(), before);
}

} // namespace
