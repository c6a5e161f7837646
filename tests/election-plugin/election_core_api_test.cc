// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary the glue will drive: groups configured and started
// through election_core_*, datagrams and time handed in, results out
// through the callbacks and the snapshot. Two cores (a candidate and a
// member) talk over a queue on a shared clock.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "election_auth.h"
#include "election_core.h"

using namespace groupsec;
using namespace groupsec::election;

namespace {

struct Wire {
	uint64_t now = 5000;
	struct Datagram {
		int to;
		std::vector<uint8_t> data;
		std::string source;
	};
	std::deque<Datagram> queue;
};

struct Node {
	Wire *wire;
	int index;
	std::string address;
	election_core_t *core = nullptr;
	std::vector<std::string> leaders;
	int incomplete = 0;
};

void on_send(void *ctx, uint32_t group, const uint8_t *data, size_t len)
{
	Node *n = static_cast<Node *>(ctx);
	n->wire->queue.push_back({1 - n->index, std::vector<uint8_t>(data, data + len), n->address});
}

void on_leader(void *ctx, uint32_t group, const char *identity, const char *address, bool self)
{
	Node *n = static_cast<Node *>(ctx);
	n->leaders.push_back(std::string(identity) + "@" + address + (self ? " self" : ""));
}

void on_incomplete(void *ctx, uint32_t group)
{
	static_cast<Node *>(ctx)->incomplete++;
}

uint64_t on_now(void *ctx)
{
	return static_cast<Node *>(ctx)->wire->now;
}

Bytes seed_of(uint8_t v)
{
	return Bytes(32, v);
}

class CoreApiTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		for (int i = 0; i < 2; i++) {
			nodes[i].wire = &wire;
			nodes[i].index = i;
			nodes[i].address = i == 0 ? "192.0.2.1" : "192.0.2.11";
			nodes[i].core = election_core_create();
			election_callbacks_t cb = {&nodes[i], on_send, on_leader, on_incomplete, on_now};
			election_core_set_callbacks(nodes[i].core, &cb);
		}
		ed25519_signer(seed_of(1), &pub[0]);
		ed25519_signer(seed_of(2), &pub[1]);
	}
	void TearDown() override
	{
		for (auto &n : nodes)
			election_core_destroy(n.core);
	}

	election_group_conf_t conf(int i, int auth = ELECTION_AUTH_ED25519)
	{
		election_group_conf_t c;
		std::memset(&c, 0, sizeof(c));
		c.group = 7;
		c.identity = i == 0 ? "ks1" : "gm1";
		c.address = nodes[i].address.c_str();
		c.candidate = i == 0;
		c.auth = auth;
		keys[i] = auth == ELECTION_AUTH_GROUP_PSK ? Bytes(16, 0x33) : seed_of(static_cast<uint8_t>(i + 1));
		c.key = keys[i].data();
		c.key_len = keys[i].size();
		return c;
	}

	// Delivers and fires timers until the clock reaches until.
	void run(uint64_t until)
	{
		while (wire.now < until) {
			while (!wire.queue.empty()) {
				auto d = wire.queue.front();
				wire.queue.pop_front();
				election_core_receive(nodes[d.to].core, d.data.data(), d.data.size(), d.source.c_str());
			}
			uint64_t next = std::min(election_core_next_deadline(nodes[0].core),
						 election_core_next_deadline(nodes[1].core));
			wire.now = std::min(until, std::max(wire.now + 1, next));
			for (auto &n : nodes)
				if (election_core_next_deadline(n.core) <= wire.now)
					election_core_on_timer(n.core);
		}
	}

	Wire wire;
	Node nodes[2];
	Bytes pub[2];
	Bytes keys[2];
};

} // namespace

TEST_F(CoreApiTest, ConfiguredGroupsElectAndReportThroughCallbacks)
{
	for (int i = 0; i < 2; i++) {
		election_group_conf_t c = conf(i);
		ASSERT_EQ(election_core_add_group(nodes[i].core, &c), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "ks1", pub[0].data(), pub[0].size(), true), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "gm1", pub[1].data(), pub[1].size(), false), nullptr);
	}
	election_snapshot_t s;
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &s));
	EXPECT_STREQ(s.state, "ready");
	EXPECT_EQ(s.group, 7u);
	EXPECT_EQ(election_core_next_deadline(nodes[1].core), UINT64_MAX);
	ASSERT_TRUE(election_core_start(nodes[0].core, 7));
	ASSERT_TRUE(election_core_start(nodes[1].core, 7));
	EXPECT_FALSE(election_core_start(nodes[1].core, 7));
	EXPECT_FALSE(election_core_start(nodes[1].core, 8));
	run(wire.now + 3000);
	EXPECT_EQ(nodes[0].leaders, std::vector<std::string>{"ks1@192.0.2.1 self"});
	EXPECT_EQ(nodes[1].leaders, std::vector<std::string>{"ks1@192.0.2.1"});
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &s));
	EXPECT_STREQ(s.state, "client");
	EXPECT_STREQ(s.leader, "ks1");
	EXPECT_STREQ(s.leader_address, "192.0.2.1");
	EXPECT_STREQ(s.last_result, "elected");
	EXPECT_EQ(s.rounds, 1u);
	EXPECT_EQ(s.forged + s.replayed + s.malformed, 0u);
	ASSERT_TRUE(election_core_snapshot(nodes[0].core, 0, &s));
	EXPECT_STREQ(s.state, "leader");
	EXPECT_TRUE(s.leader_self);
	// a datagram of another group, or too short for a group ID, goes nowhere
	uint8_t junk[20] = {1, 3, 1, 3};
	election_core_receive(nodes[1].core, junk, sizeof(junk), nullptr);
	election_core_receive(nodes[1].core, junk, 10, nullptr);
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &s));
	EXPECT_EQ(s.malformed, 0u);
	// a datagram of this group that is no message is counted
	junk[15] = 7;
	election_core_receive(nodes[1].core, junk, sizeof(junk), "192.0.2.1");
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &s));
	EXPECT_EQ(s.malformed, 1u);
	// the server dies: the member, alone, ends in Election-Incomplete
	election_core_destroy(nodes[0].core);
	nodes[0].core = election_core_create();
	wire.queue.clear();
	run(wire.now + 10000);
	EXPECT_EQ(nodes[1].incomplete, 1);
	EXPECT_EQ(nodes[1].leaders.back(), "@");
}

// await_service: the elected server answers, and the member hands it over,
// only once the glue says the server's service is on.
TEST_F(CoreApiTest, AnElectedServerIsFollowedOnlyOnceItsServiceIsReady)
{
	for (int i = 0; i < 2; i++) {
		election_group_conf_t c = conf(i);
		c.await_service = true;
		ASSERT_EQ(election_core_add_group(nodes[i].core, &c), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "ks1", pub[0].data(), pub[0].size(), true), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "gm1", pub[1].data(), pub[1].size(), false), nullptr);
		ASSERT_TRUE(election_core_start(nodes[i].core, 7));
	}
	run(wire.now + 2500);
	EXPECT_EQ(nodes[0].leaders, std::vector<std::string>{"ks1@192.0.2.1 self"});
	EXPECT_TRUE(nodes[1].leaders.empty());
	election_snapshot_t s;
	ASSERT_TRUE(election_core_snapshot(nodes[0].core, 0, &s));
	EXPECT_STREQ(s.state, "leader");
	EXPECT_GE(s.ignored, 1u); // the member's queries
	EXPECT_FALSE(election_core_service_ready(nodes[0].core, 8));
	EXPECT_TRUE(election_core_service_ready(nodes[0].core, 7));
	run(wire.now + 100);
	EXPECT_EQ(nodes[1].leaders, std::vector<std::string>{"ks1@192.0.2.1"});
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &s));
	EXPECT_STREQ(s.state, "client");
	EXPECT_STREQ(s.phase, "none");
	EXPECT_EQ(s.rounds, 1u);
}

TEST_F(CoreApiTest, GroupKeyModeElectsToo)
{
	for (int i = 0; i < 2; i++) {
		election_group_conf_t c = conf(i, ELECTION_AUTH_GROUP_PSK);
		ASSERT_EQ(election_core_add_group(nodes[i].core, &c), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "ks1", nullptr, 0, true), nullptr);
		ASSERT_TRUE(election_core_start(nodes[i].core, 7));
	}
	run(wire.now + 3000);
	EXPECT_EQ(nodes[1].leaders, std::vector<std::string>{"ks1@192.0.2.1"});
}

TEST_F(CoreApiTest, BadConfigurationIsRefusedWithAReasonAndChangesNothing)
{
	election_core_t *core = nodes[0].core;
	election_group_conf_t c = conf(0);
	c.address = "192.0.2.300";
	EXPECT_STREQ(election_core_add_group(core, &c), "not an IPv4 or IPv6 address: '192.0.2.300'");
	c = conf(0);
	c.identity = "";
	EXPECT_NE(election_core_add_group(core, &c), nullptr);
	c = conf(0);
	c.key_len = 31;
	EXPECT_NE(std::string(election_core_add_group(core, &c)).find("32 octets"), std::string::npos);
	c = conf(0);
	c.auth = 9;
	EXPECT_NE(std::string(election_core_add_group(core, &c)).find("unknown authentication method 9"),
		  std::string::npos);
	EXPECT_EQ(election_core_count(core), 0u);
	c = conf(0);
	ASSERT_EQ(election_core_add_group(core, &c), nullptr);
	EXPECT_NE(std::string(election_core_add_group(core, &c)).find("has an election already"), std::string::npos);
	EXPECT_NE(std::string(election_core_add_peer(core, 8, "x", pub[0].data(), 32, true)).find("no election"),
		  std::string::npos);
	EXPECT_NE(election_core_add_peer(core, 7, "gm1", pub[1].data(), 31, false), nullptr);
	EXPECT_NE(election_core_add_peer(core, 7, "", pub[1].data(), 32, false), nullptr);
	ASSERT_TRUE(election_core_start(core, 7));
	EXPECT_NE(std::string(election_core_add_peer(core, 7, "gm1", pub[1].data(), 32, false)).find("runs already"),
		  std::string::npos);
	EXPECT_EQ(election_core_count(core), 1u);
}

namespace {

// The glue's credential manager, simulated: each identity signs with its
// own Ed25519 key; verify() checks with the key of the identity it is given.
bool pubkey_sign(void *ctx, uint32_t group, const char *identity, const uint8_t *data, size_t len, uint8_t *sig,
		 size_t *sig_len)
{
	auto s = ed25519_signer(Bytes(32, identity[0] == 'k' ? 1 : 2));
	auto out = s.value()->sign(ByteView(data, len));
	if (!out || out.value().size() > *sig_len)
		return false;
	std::memcpy(sig, out.value().data(), out.value().size());
	*sig_len = out.value().size();
	return true;
}

int verified = 0;

bool pubkey_verify(void *ctx, uint32_t group, const char *identity, const uint8_t *data, size_t len,
		   const uint8_t *sig, size_t sig_len)
{
	Bytes pub;
	ed25519_signer(Bytes(32, identity[0] == 'k' ? 1 : 2), &pub);
	verified++;
	return ed25519_verifier(pub).value()->verify(ByteView(data, len), ByteView(sig, sig_len));
}

} // namespace

TEST_F(CoreApiTest, PublicKeyModeSignsAndVerifiesThroughTheGlue)
{
	for (int i = 0; i < 2; i++) {
		election_callbacks_t cb = {&nodes[i], on_send, on_leader, on_incomplete, on_now, pubkey_sign,
					   pubkey_verify};
		election_core_set_callbacks(nodes[i].core, &cb);
		election_group_conf_t c = conf(i, ELECTION_AUTH_PUBKEY);
		c.key = nullptr;
		c.key_len = 0;
		ASSERT_EQ(election_core_add_group(nodes[i].core, &c), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "ks1", nullptr, 0, true), nullptr);
		ASSERT_EQ(election_core_add_peer(nodes[i].core, 7, "gm1", nullptr, 0, false), nullptr);
		// keys stay with the credential manager
		EXPECT_NE(election_core_add_peer(nodes[i].core, 7, "gm2", pub[1].data(), 32, false), nullptr);
		ASSERT_TRUE(election_core_start(nodes[i].core, 7));
	}
	verified = 0;
	run(wire.now + 3000);
	EXPECT_EQ(nodes[0].leaders, std::vector<std::string>{"ks1@192.0.2.1 self"});
	EXPECT_EQ(nodes[1].leaders, std::vector<std::string>{"ks1@192.0.2.1"});
	EXPECT_GT(verified, 0);

	// a message whose signature was made by another identity's key is forged
	election_snapshot_t before, after;
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &before));
	std::vector<uint8_t> dgram;
	wire.queue.clear();
	// the member's next keepalive query, handed to the leader by hand:
	// its answer (to the member) is taken off the wire
	for (int tries = 0; tries < 10 && dgram.empty(); tries++) {
		wire.now = std::max(wire.now, election_core_next_deadline(nodes[1].core));
		election_core_on_timer(nodes[1].core);
		std::deque<Wire::Datagram> queued;
		queued.swap(wire.queue);
		for (auto &d : queued)
			if (d.to == 0)
				election_core_receive(nodes[0].core, d.data.data(), d.data.size(), d.source.c_str());
		for (auto &d : wire.queue)
			if (d.to == 1)
				dgram = d.data;
	}
	ASSERT_FALSE(dgram.empty());
	wire.queue.clear();
	dgram.back() ^= 0x01;
	election_core_receive(nodes[1].core, dgram.data(), dgram.size(), "192.0.2.1");
	ASSERT_TRUE(election_core_snapshot(nodes[1].core, 0, &after));
	EXPECT_EQ(after.forged, before.forged + 1);
}

TEST_F(CoreApiTest, PublicKeyModeTakesNoKeyMaterial)
{
	election_group_conf_t c = conf(0, ELECTION_AUTH_PUBKEY);
	const char *why = election_core_add_group(nodes[0].core, &c);
	ASSERT_NE(why, nullptr);
	EXPECT_NE(std::string(why).find("credential manager"), std::string::npos) << why;
	EXPECT_EQ(election_core_count(nodes[0].core), 0u);
}
