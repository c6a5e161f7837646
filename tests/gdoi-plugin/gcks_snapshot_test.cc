// SPDX-License-Identifier: GPL-2.0-or-later
// State replication to a standby key server (docs/election.md): a group's
// snapshot taken on one key server starts the group on another with the
// same keys, members and counters; members that move to it keep their SAs
// and accept its rekeys and evictions. A snapshot that is malformed or of
// another group changes nothing.
#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include "gcks/gcks_snapshot.h"
#include "gdoi_protocol_util.h"

namespace groupsec::gdoi::test {
namespace {

class SnapshotTest : public GroupTest {
protected:
	void SetUp() override
	{
		GroupTest::SetUp();
		ks2_id = id("@ks2.example.net");
		creds.add_key(ks2_id);
		for (int n = 1; n <= 3; n++)
			creds.add_psk(ks2_id, gm_ids[n - 1], "psk-of-gm" + std::to_string(n));
		gcks = &net.add({gcks_addr}, &creds);
		ks2 = &net.add({ks2_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		for (size_t i = 0; i < 2; i++) {
			Node &m = net.add({gm_addrs[i]}, &creds);
			ASSERT_TRUE(m.engine.add_member_group(member_config(i)).ok());
			gms.push_back(&m);
		}
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}

	GcksGroupConfig standby_config()
	{
		GcksGroupConfig c = server_config();
		c.local_id = ks2_id;
		c.listen = {ks2_addr};
		return c;
	}

	// The first key server dies: nothing reaches it any more.
	void kill_first()
	{
		net.drop = [this](const Datagram &d) { return d.to == gcks_addr || d.from == gcks_addr; };
	}

	Identity ks2_id;
	Address ks2_addr = addr("192.0.2.2");
	Node *ks2 = nullptr;
};

TEST_F(SnapshotTest, TheStandbyContinuesWithTheSameKeysAndMembersKeepTheirSas)
{
	// two rekeys first, so that the counters are not at their start
	// (the first message over a Rekey SA has ID 0)
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
	}
	const uint32_t spi = current_spi(*gcks);
	const uint32_t message_id = gcks->group("blue")->kek_message_id;
	ASSERT_GT(message_id, 0u);
	for (Node *m : gms)
		ASSERT_EQ(current_spi(*m), spi);
	auto snap = gcks->engine.server_snapshot("blue");
	ASSERT_TRUE(snap.ok()) << snap.error().message;
	kill_first();
	net.clock.t += 1500; // the election takes a while
	ASSERT_TRUE(ks2->engine.add_server_group_from(standby_config(), snap.value()).ok());
	const GroupState *g = ks2->group("blue");
	ASSERT_NE(g, nullptr);
	EXPECT_EQ(g->members.size(), 2u);
	EXPECT_EQ(current_spi(*ks2), spi);
	EXPECT_EQ(g->kek_message_id, message_id);
	// the members move to ks2 and keep their SAs: the current one is
	// neither removed nor installed again
	for (size_t i = 0; i < gms.size(); i++) {
		gms[i]->sink.removed.clear();
		ASSERT_TRUE(gms[i]->engine.set_member_server("blue", {ks2_addr}, ks2_id).ok());
	}
	net.tick();
	for (Node *m : gms) {
		EXPECT_EQ(m->group("blue")->state, "registered");
		EXPECT_EQ(m->group("blue")->server_address, ks2_addr);
		EXPECT_EQ(current_spi(*m), spi);
		// (the TEKs the rekeys replaced go, as at any registration)
		EXPECT_EQ(std::count(m->sink.removed.begin(), m->sink.removed.end(), spi), 0);
		EXPECT_TRUE(m->sink.has(spi));
		EXPECT_EQ(std::count_if(m->sink.ever.begin(), m->sink.ever.end(),
					[&](const TekSa &s) { return s.spi == spi; }),
			  1);
	}
	// a rekey from ks2 is accepted, with the next message ID
	ASSERT_TRUE(ks2->engine.rekey("blue").ok());
	net.run();
	const uint32_t next = current_spi(*ks2);
	EXPECT_NE(next, spi);
	EXPECT_EQ(ks2->group("blue")->kek_message_id, message_id + 1);
	for (Node *m : gms) {
		EXPECT_EQ(current_spi(*m), next);
		EXPECT_EQ(m->group("blue")->kek_message_id, message_id + 1);
	}
}

TEST_F(SnapshotTest, TheKeyTreeContinuesAnEvictionOnTheStandbyLocksTheMemberOut)
{
	auto snap = gcks->engine.server_snapshot("blue");
	ASSERT_TRUE(snap.ok());
	kill_first();
	ASSERT_TRUE(ks2->engine.add_server_group_from(standby_config(), snap.value()).ok());
	// gm2 moves; gm1 does not even need to: it is evicted by the tree
	// keys it holds from the first server
	ASSERT_TRUE(gms[1]->engine.set_member_server("blue", {ks2_addr}, ks2_id).ok());
	net.tick();
	ASSERT_TRUE(ks2->engine.evict("blue", gm_ids[0]).ok());
	net.run();
	const uint32_t spi = current_spi(*ks2);
	EXPECT_EQ(current_spi(*gms[1]), spi);
	EXPECT_FALSE(gms[0]->sink.ever_had(spi));
	EXPECT_EQ(ks2->group("blue")->members.size(), 1u);
}

// Two servers after a partition (docs/election.md): ks2, elected on the
// other side from the same state, evicted gm1 there; when ks2 steps down,
// the winner merges ks2's evicted identities: gm1, registered at the
// winner, is evicted by one rekey that gm2 reads and gm1 cannot; merging
// the same state again changes nothing; gm1 cannot register again.
TEST_F(SnapshotTest, TheEvictionsOfAServerThatSteppedDownJoinTheWinners)
{
	auto snap = gcks->engine.server_snapshot("blue");
	ASSERT_TRUE(snap.ok());
	net.drop = [this](const Datagram &d) { return d.to == ks2_addr || d.from == ks2_addr; };
	ASSERT_TRUE(ks2->engine.add_server_group_from(standby_config(), snap.value()).ok());
	ASSERT_TRUE(ks2->engine.evict("blue", gm_ids[0]).ok());
	net.run();
	auto lost = ks2->engine.server_snapshot("blue");
	ASSERT_TRUE(lost.ok());
	auto decoded = detail::decode_snapshot(lost.value());
	ASSERT_TRUE(decoded.ok());
	ASSERT_EQ(decoded.value().evicted, std::vector<Identity>{gm_ids[0]});
	net.drop = nullptr;
	const uint32_t spi = current_spi(*gcks);
	ASSERT_EQ(gcks->group("blue")->members.size(), 2u);
	size_t added = 99;
	ASSERT_TRUE(gcks->engine.merge_evicted("blue", decoded.value().evicted, &added).ok());
	net.run();
	EXPECT_EQ(added, 1u);
	const GroupState *g = gcks->group("blue");
	EXPECT_EQ(g->members.size(), 1u);
	EXPECT_EQ(g->evicted, std::vector<Identity>{gm_ids[0]});
	const uint32_t next = current_spi(*gcks);
	EXPECT_NE(next, spi);
	EXPECT_EQ(current_spi(*gms[1]), next);
	EXPECT_FALSE(gms[0]->sink.ever_had(next));
	// again: nothing new, no rekey
	ASSERT_TRUE(gcks->engine.merge_evicted("blue", decoded.value().evicted, &added).ok());
	net.run();
	EXPECT_EQ(added, 0u);
	EXPECT_EQ(current_spi(*gcks), next);
	// an identity registered nowhere is refused from now on, without a rekey
	ASSERT_TRUE(gcks->engine.merge_evicted("blue", {gm_ids[2]}, &added).ok());
	net.run();
	EXPECT_EQ(added, 1u);
	EXPECT_EQ(gcks->group("blue")->evicted.size(), 2u);
	EXPECT_EQ(current_spi(*gcks), next);
	// gm1 cannot come back
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.advance(5000);
	EXPECT_EQ(gcks->group("blue")->members.size(), 1u);
	EXPECT_FALSE(gms[0]->sink.ever_had(next));
}

TEST_F(SnapshotTest, ABadSnapshotChangesNothing)
{
	auto snap = gcks->engine.server_snapshot("blue");
	ASSERT_TRUE(snap.ok());
	const Bytes good = snap.value();
	// every truncation
	for (size_t n = 0; n < good.size(); n++) {
		auto r = ks2->engine.add_server_group_from(standby_config(), ByteView(good.data(), n));
		ASSERT_FALSE(r.ok()) << n;
		ASSERT_EQ(ks2->group("blue"), nullptr);
	}
	// trailing octets
	Bytes longer = good;
	longer.push_back(0);
	EXPECT_FALSE(ks2->engine.add_server_group_from(standby_config(), longer).ok());
	// another group ID
	GcksGroupConfig other = standby_config();
	other.group_id = id("@#726564");
	auto r = ks2->engine.add_server_group_from(other, good);
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("not"), std::string::npos) << r.error().message;
	// another TEK policy (its keys would not fit)
	GcksGroupConfig aes128 = standby_config();
	aes128.teks[0].key_bits = 128;
	EXPECT_FALSE(ks2->engine.add_server_group_from(aes128, good).ok());
	// a key tree whose member counts do not add up
	auto d = detail::decode_snapshot(good);
	ASSERT_TRUE(d.ok());
	detail::GcksSnapshot s = d.value();
	s.tree.levels.back().back().members++;
	auto bad = detail::encode_snapshot(s);
	ASSERT_TRUE(bad.ok());
	r = ks2->engine.add_server_group_from(standby_config(), bad.value());
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("members"), std::string::npos) << r.error().message;
	// a member table that does not match the tree
	s = d.value();
	s.members.pop_back();
	EXPECT_FALSE(ks2->engine.add_server_group_from(standby_config(), detail::encode_snapshot(s).value()).ok());
	EXPECT_EQ(ks2->group("blue"), nullptr);
	// a group that runs already is not replaced
	ASSERT_TRUE(ks2->engine.add_server_group(standby_config()).ok());
	EXPECT_FALSE(ks2->engine.add_server_group_from(standby_config(), good).ok());
	EXPECT_TRUE(ks2->group("blue")->members.empty());
}

TEST_F(SnapshotTest, TheCodecRoundTripsAndAFlatTableGroupIsNotReplicated)
{
	auto snap = gcks->engine.server_snapshot("blue");
	ASSERT_TRUE(snap.ok());
	auto d = detail::decode_snapshot(snap.value());
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().members.size(), 2u);
	EXPECT_EQ(detail::encode_snapshot(d.value()).value(), snap.value());
	// GCKS_SNAPSHOT_SEEDS=DIR writes the fuzz target's seeds
	// (tests/fuzz/corpus/fuzz_gcks_snapshot/): this snapshot, and those of
	// 0 and 3 members
	if (const char *dir = std::getenv("GCKS_SNAPSHOT_SEEDS")) {
		auto write = [&](const std::string &name, const Bytes &b) {
			FILE *f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
			ASSERT_NE(f, nullptr);
			std::fwrite(b.data(), 1, b.size(), f);
			std::fclose(f);
		};
		write("two-members", snap.value());
		detail::GcksSnapshot none = d.value();
		none.members.clear();
		write("no-member-record", detail::encode_snapshot(none).value());
		Node &gm3 = net.add({gm_addrs[2]}, &creds);
		ASSERT_TRUE(gm3.engine.add_member_group(member_config(2)).ok());
		net.tick();
		write("three-members", gcks->engine.server_snapshot("blue").value());
	}
	GcksGroupConfig flat = standby_config();
	flat.name = "red";
	flat.group_id = id("@#726564");
	flat.hierarchy = KeyHierarchy::Flat;
	ASSERT_TRUE(ks2->engine.add_server_group(flat).ok());
	auto r = ks2->engine.server_snapshot("red");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code, WireError::Unsupported);
}

} // namespace
} // namespace groupsec::gdoi::test
