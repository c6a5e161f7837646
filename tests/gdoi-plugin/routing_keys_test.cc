// SPDX-License-Identifier: GPL-2.0-or-later
// The routing keys of sealed routes (routing_keys.h) and their feed on the
// control socket: `routing-keys` and the routing-key event, with a real key
// server and real members on the in-memory network.
#include "routing_keys.h"

#include <gtest/gtest.h>

#include "control.h"
#include "control_test_util.h"
#include "gdoi_protocol_util.h"
#include "groupsec/base/hex.h"

namespace groupsec::gdoi::test {
namespace {

using vici::Operation;
using vici::Packet;
using vici::Section;

// The control socket's view of one engine of the network.
class EngineTarget : public ControlTarget {
public:
	EngineTarget(Engine &e, const Clock &c) : engine_(e), clock_(c) {}
	std::vector<GroupState> groups() const override { return engine_.groups(); }
	uint64_t now_ms() const override { return clock_.now_ms(); }
	Result<Done> rekey(const std::string &g) override { return engine_.rekey(g); }
	Result<Done> reregister(const std::string &g) override { return engine_.reregister(g); }
	Result<Done> evict(const std::string &g, const std::string &m) override
	{
		return engine_.evict(g, *Identity::parse(m));
	}
	Result<Done> readmit(const std::string &g, const std::string &m) override
	{
		return engine_.readmit(g, *Identity::parse(m));
	}
	Result<Done> exclude(const std::string &g, const std::string &) override
	{
		return engine_.exclude(g, {});
	}
	Result<Done> add_endpoint(const std::string &, const TunnelEndpoint &) override { return Done{}; }
	Result<Done> remove_endpoint(const std::string &, const Address &) override { return Done{}; }
	Result<std::vector<TunnelEndpoint>> endpoints(const std::string &) const override
	{
		return std::vector<TunnelEndpoint>{};
	}
	std::vector<GroupRoutingKey> routing_keys() const override { return engine_.routing_keys(); }

private:
	Engine &engine_;
	const Clock &clock_;
};

class RoutingKeys : public GroupTest {
protected:
	// key server (group 300, a KEY_ID group ID) and n members, registered
	void start(size_t n)
	{
		group_id = id("@#0000012c");
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		for (size_t i = 0; i < n; i++) {
			Node &m = net.add({gm_addrs[i]}, &creds);
			ASSERT_TRUE(m.engine.add_member_group(member_config(i)).ok());
			gms.push_back(&m);
		}
		net.tick();
		for (Node *gm : gms)
			ASSERT_EQ(gm->group("blue")->state, "registered");
	}

	static std::optional<RoutingKey> key_of(Node &n, const std::string &group = "blue")
	{
		for (GroupRoutingKey &k : n.engine.routing_keys())
			if (k.name == group)
				return k.key;
		ADD_FAILURE() << "no group " << group;
		return std::nullopt;
	}

	const TekSa *installed(Node &n, uint32_t spi)
	{
		auto it = n.sink.installed.find({"blue", spi});
		return it == n.sink.installed.end() ? nullptr : &it->second;
	}
};

// events of a name in a stream, as "field=value ..." lines
std::vector<std::string> events_named(const Bytes &stream, const std::string &name)
{
	std::vector<std::string> out;
	for (const Packet &p : packets(stream)) {
		if (p.op != Operation::Event || p.name != name)
			continue;
		std::string line;
		for (const vici::Entry &e : p.message.entries())
			line += (line.empty() ? "" : " ") + e.name + "=" + e.value;
		out.push_back(line);
	}
	return out;
}

std::string spi_hex(uint32_t spi)
{
	char b[9];
	snprintf(b, sizeof(b), "%08x", spi);
	return b;
}

} // namespace

TEST(RoutingKeyDerivation, IsHkdfSha256OfTheTekKeymat)
{
	// computed independently (Python cryptography's HKDF, SHA-256, no salt)
	Bytes keymat(36);
	for (size_t i = 0; i < keymat.size(); i++)
		keymat[i] = static_cast<uint8_t>(i);
	Identity group = id("@#0000012c");
	SecretBytes k = derive_routing_key(keymat, 0x1a2b3c4d, group);
	EXPECT_EQ(to_hex(k), "55e43c37cb1f9d960d15189a1956ce16b3841744f58a1a40e60de8edcc6fa0d6");
	// every input counts
	EXPECT_NE(derive_routing_key(keymat, 0x1a2b3c4e, group), k);
	EXPECT_NE(derive_routing_key(keymat, 0x1a2b3c4d, id("@#0000012d")), k);
	keymat[35] ^= 1;
	EXPECT_NE(derive_routing_key(keymat, 0x1a2b3c4d, group), k);
	EXPECT_EQ(routing_epoch({7, 3, 9}), 3u);
	EXPECT_FALSE(routing_epoch({}));
}

TEST_F(RoutingKeys, KeyServerAndMembersDeriveTheSameKeyForTheSameEpoch)
{
	start(3);
	uint32_t spi = current_spi(*gcks);
	auto ks = key_of(*gcks);
	ASSERT_TRUE(ks);
	EXPECT_EQ(ks->epoch, spi) << "the epoch is the current TEK's SPI";
	EXPECT_EQ(ks->key.size(), 32u);
	for (Node *gm : gms) {
		auto k = key_of(*gm);
		ASSERT_TRUE(k);
		EXPECT_EQ(k->epoch, spi);
		EXPECT_EQ(k->key, ks->key);
		// and it is the derivation of the TEK the member installed
		const TekSa *t = installed(*gm, spi);
		ASSERT_NE(t, nullptr);
		SecretBytes keymat(t->encryption_key);
		keymat.insert(keymat.end(), t->integrity_key.begin(), t->integrity_key.end());
		EXPECT_EQ(derive_routing_key(keymat, spi, group_id), k->key);
		// not the TEK's own key
		EXPECT_NE(Bytes(t->encryption_key.begin(), t->encryption_key.begin() + 32), Bytes(k->key));
	}
	// a lifetime (operator) rekey moves every holder to the next epoch
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	auto next = key_of(*gcks);
	ASSERT_TRUE(next);
	EXPECT_NE(next->epoch, ks->epoch);
	EXPECT_NE(next->key, ks->key);
	for (Node *gm : gms) {
		auto k = key_of(*gm);
		ASSERT_TRUE(k);
		EXPECT_EQ(k->epoch, next->epoch);
		EXPECT_EQ(k->key, next->key);
	}
}

TEST_F(RoutingKeys, AnEvictedMemberHasNoKeyForTheEpochAfterItsEviction)
{
	start(3);
	auto before = key_of(*gcks);
	ASSERT_TRUE(before);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	auto after = key_of(*gcks);
	ASSERT_TRUE(after);
	ASSERT_NE(after->epoch, before->epoch);
	for (int i = 0; i < 2; i++) {
		auto k = key_of(*gms[i]);
		ASSERT_TRUE(k) << "GM" << i + 1;
		EXPECT_EQ(k->epoch, after->epoch);
		EXPECT_EQ(k->key, after->key);
	}
	auto evicted = key_of(*gms[2]);
	EXPECT_FALSE(evicted && evicted->epoch == after->epoch) << "no key of the new epoch";
	EXPECT_FALSE(evicted && evicted->key == after->key);
	EXPECT_FALSE(gms[2]->sink.ever_had(after->epoch));
	// it tries to come back and is refused: still nothing
	net.advance(60000);
	evicted = key_of(*gms[2]);
	EXPECT_FALSE(evicted && evicted->epoch == after->epoch);
}

TEST_F(RoutingKeys, TheControlSocketFeedsKeysAndAnnouncesNewEpochs)
{
	start(3);
	EngineTarget ks_target(gcks->engine, net.clock), gm_target(gms[0]->engine, net.clock),
		gm3_target(gms[2]->engine, net.clock);
	ControlServer ks_server(ks_target), gm_server(gm_target), gm3_server(gm3_target);
	ControlConnection ks(ks_server), gm(gm_server), gm3(gm3_server);
	Bytes out;

	// routing-keys: the same epoch and key on both roles
	auto ask = [](ControlConnection &c, const Section &req) {
		Bytes o;
		EXPECT_TRUE(c.feed(request("routing-keys", req), o).ok());
		auto ps = packets(o);
		EXPECT_EQ(ps.size(), 1u);
		return ps.empty() ? Section() : ps[0].message;
	};
	Section all = ask(ks, {});
	ASSERT_EQ(*all.value("success"), "yes");
	const Section *blue = all.section("groups")->section("blue");
	ASSERT_NE(blue, nullptr);
	EXPECT_EQ(*blue->value("role"), "server");
	EXPECT_EQ(*blue->value("group-id"), "@#0000012c");
	EXPECT_EQ(*blue->value("group-number"), "300");
	auto k = key_of(*gcks);
	EXPECT_EQ(*blue->value("epoch"), spi_hex(k->epoch));
	EXPECT_EQ(*blue->value("key"), to_hex(k->key));
	Section req;
	req.add_value("group", "blue");
	Section member = ask(gm, req);
	const Section *mblue = member.section("groups")->section("blue");
	ASSERT_NE(mblue, nullptr);
	EXPECT_EQ(*mblue->value("role"), "member");
	EXPECT_EQ(*mblue->value("epoch"), *blue->value("epoch"));
	EXPECT_EQ(*mblue->value("key"), *blue->value("key"));
	req = Section();
	req.add_value("group", "green");
	EXPECT_EQ(*ask(gm, req).value("errmsg"), "group 'green' not found");
	req = Section();
	req.add_value("force", "yes");
	EXPECT_EQ(*ask(gm, req).value("errmsg"), "routing-keys: unknown argument 'force'");

	// routing-key events: the first check tells a new subscriber the epoch
	for (ControlConnection *c : {&ks, &gm, &gm3})
		ASSERT_TRUE(c->feed(vici::encode_packet(Packet{Operation::EventRegister, event::kRoutingKey, {}}).value(), out)
				    .ok());
	out.clear();
	ks_server.check_routing_keys();
	gm_server.check_routing_keys();
	gm3_server.check_routing_keys();
	ks.take(out);
	std::string first = spi_hex(k->epoch);
	EXPECT_EQ(events_named(out, "routing-key"),
		  std::vector<std::string>{"group=blue role=server epoch=" + first});
	// nothing changed: nothing more
	out.clear();
	ks_server.check_routing_keys();
	ks.take(out);
	EXPECT_TRUE(events_named(out, "routing-key").empty());

	// evict GM3 over the socket: the key server's event comes before the
	// command's reply; the members' once they applied the rekey
	Section ev;
	ev.add_value("group", "blue");
	ev.add_value("member", "gm3.example.net");
	out.clear();
	ASSERT_TRUE(ks.feed(request("evict", ev), out).ok());
	net.run();
	auto after = key_of(*gcks);
	ASSERT_NE(after->epoch, k->epoch);
	std::string second = spi_hex(after->epoch);
	auto ps = packets(out);
	ASSERT_GE(ps.size(), 2u);
	EXPECT_EQ(ps.back().op, Operation::CmdResponse);
	EXPECT_EQ(events_named(out, "routing-key"),
		  std::vector<std::string>{"group=blue role=server epoch=" + second + " previous-epoch=" + first});

	Bytes gm_out, gm3_out;
	gm.take(gm_out); // the first announcement
	gm3.take(gm3_out);
	EXPECT_EQ(events_named(gm_out, "routing-key"),
		  std::vector<std::string>{"group=blue role=member epoch=" + first});
	gm_out.clear();
	gm3_out.clear();
	gm_server.check_routing_keys(); // as the glue does after each datagram
	gm3_server.check_routing_keys();
	gm.take(gm_out);
	gm3.take(gm3_out);
	EXPECT_EQ(events_named(gm_out, "routing-key"),
		  std::vector<std::string>{"group=blue role=member epoch=" + second + " previous-epoch=" + first});
	// the evicted member got no rekey: it stays at the old epoch, whose
	// routes the others stop accepting after their grace period, and
	// never hears of the new one
	EXPECT_TRUE(events_named(gm3_out, "routing-key").empty());
	Section left = ask(gm3, {});
	const Section *g3 = left.section("groups")->section("blue");
	ASSERT_NE(g3, nullptr);
	ASSERT_NE(g3->value("epoch"), nullptr);
	EXPECT_EQ(*g3->value("epoch"), first);
	EXPECT_NE(*g3->value("key"), to_hex(after->key));
}

} // namespace groupsec::gdoi::test
