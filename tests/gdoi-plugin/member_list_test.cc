// SPDX-License-Identifier: GPL-2.0-or-later
// Member-list mode: a member names the other members it wants to reach in
// N(MEMBER_LIST) (40962, private use) of its GSA_AUTH and GSA_REGISTRATION;
// the key server keeps the list per member, reports it with the member,
// replaces it on re-registration and forgets it with the member.
#include <gtest/gtest.h>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_payloads.h"
#include "gikev2_sk.h"

namespace groupsec::gdoi::test {
namespace {

class MemberListTest : public GroupTest {
protected:
	void start(std::vector<Identity> peers)
	{
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
		for (size_t i = 0; i < 2; i++) {
			Node &m = net.add({gm_addrs[i]}, &creds);
			GmGroupConfig c = member_config(i);
			if (i == 0)
				c.peers = peers;
			ASSERT_TRUE(m.engine.add_member_group(c).ok());
			gms.push_back(&m);
		}
		net.tick();
	}

	const MemberState *member(const Identity &who)
	{
		const GroupState *g = gcks->group("blue");
		if (!g)
			return nullptr;
		for (const MemberState &m : g->members)
			if (m.id == who)
				return &m;
		return nullptr;
	}

	// The MEMBER_LIST notifies of the GSA_AUTH requests gm1 sent.
	std::vector<std::vector<Identity>> sent_member_lists()
	{
		std::vector<std::vector<Identity>> out;
		const auto &ike = gcks->keylog.ike_sas;
		for (const Datagram &d : net.sent_with_exchange(kAuth)) {
			if (!(d.from == gm_addrs[0]))
				continue;
			for (const auto &k : ike) {
				auto opened = open_message(d.data, k.initiator);
				if (!opened)
					continue;
				for (const Payload &p : opened.value().inner) {
					if (p.type != static_cast<uint8_t>(PayloadType::Notify))
						continue;
					auto n = decode_notify(p.body);
					if (n && n.value().type == static_cast<uint16_t>(NotifyType::MemberList)) {
						auto ids = member_list_identities(n.value());
						EXPECT_TRUE(ids.ok());
						if (ids)
							out.push_back(ids.value());
					}
				}
			}
		}
		return out;
	}
};

TEST_F(MemberListTest, TheKeyServerKeepsAndReportsTheNamedMembers)
{
	start({gm_ids[1]});
	ASSERT_EQ(gms[0]->group("blue")->state, "registered");
	ASSERT_EQ(gms[1]->group("blue")->state, "registered");
	EXPECT_EQ(sent_member_lists(), (std::vector<std::vector<Identity>>{{gm_ids[1]}}));
	const MemberState *m1 = member(gm_ids[0]);
	ASSERT_NE(m1, nullptr);
	EXPECT_EQ(m1->peers, (std::vector<Identity>{gm_ids[1]}));
	// auto-discovery: no list
	const MemberState *m2 = member(gm_ids[1]);
	ASSERT_NE(m2, nullptr);
	EXPECT_TRUE(m2->peers.empty());
}

TEST_F(MemberListTest, AReRegistrationReplacesTheListAndEvictionForgetsIt)
{
	start({gm_ids[1]});
	ASSERT_NE(member(gm_ids[0]), nullptr);
	// the member now names gm2 and gm3, and registers again
	GmGroupConfig c = member_config(0);
	c.peers = {gm_ids[2], gm_ids[1]};
	ASSERT_TRUE(gms[0]->engine.add_member_group(c).ok());
	net.tick();
	ASSERT_EQ(gms[0]->group("blue")->state, "registered");
	ASSERT_NE(member(gm_ids[0]), nullptr);
	EXPECT_EQ(member(gm_ids[0])->peers, (std::vector<Identity>{gm_ids[2], gm_ids[1]}));
	// without a list it is back in auto-discovery
	ASSERT_TRUE(gms[0]->engine.add_member_group(member_config(0)).ok());
	net.tick();
	ASSERT_NE(member(gm_ids[0]), nullptr);
	EXPECT_TRUE(member(gm_ids[0])->peers.empty());
	// evicted: gone with its list
	c.peers = {gm_ids[1]};
	ASSERT_TRUE(gms[0]->engine.add_member_group(c).ok());
	net.tick();
	ASSERT_EQ(member(gm_ids[0])->peers.size(), 1u);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[0]).ok());
	net.run();
	EXPECT_EQ(member(gm_ids[0]), nullptr);
}

TEST_F(MemberListTest, ANewListAloneRegistersAgainAndKeepsTheSas)
{
	start({gm_ids[1]});
	Node &m = *gms[0];
	ASSERT_EQ(m.group("blue")->state, "registered");
	const size_t installed = m.sink.ever.size();
	ASSERT_GT(installed, 0u);
	ASSERT_TRUE(m.engine.set_member_list("blue", {gm_ids[1], gm_ids[2]}).ok());
	net.tick();
	ASSERT_NE(member(gm_ids[0]), nullptr);
	EXPECT_EQ(member(gm_ids[0])->peers, (std::vector<Identity>{gm_ids[1], gm_ids[2]}));
	EXPECT_EQ(m.group("blue")->state, "registered");
	// a bad list changes nothing
	EXPECT_FALSE(m.engine.set_member_list("blue", {Identity{static_cast<uint8_t>(IdType::Ipv4Addr), {1}}}).ok());
	EXPECT_FALSE(m.engine.set_member_list("red", {gm_ids[1]}).ok());
	// back to auto-discovery
	ASSERT_TRUE(m.engine.set_member_list("blue", {}).ok());
	net.tick();
	EXPECT_TRUE(member(gm_ids[0])->peers.empty());
}

TEST_F(MemberListTest, AMemberWithABadListIsRefusedBeforeItSendsAnything)
{
	gcks = &net.add({gcks_addr}, &creds);
	Node &m = net.add({gm_addrs[0]}, &creds);
	GmGroupConfig c = member_config(0);
	c.peers = {Identity{static_cast<uint8_t>(IdType::Ipv4Addr), {192, 0, 2}}};
	EXPECT_FALSE(m.engine.add_member_group(c).ok());
	c.peers.clear();
	for (int i = 0; i <= 64; i++)
		c.peers.push_back(id("gm" + std::to_string(100 + i) + ".example.net"));
	EXPECT_FALSE(m.engine.add_member_group(c).ok());
	c.peers.pop_back();
	EXPECT_TRUE(m.engine.add_member_group(c).ok());
}

} // namespace
} // namespace groupsec::gdoi::test
