// SPDX-License-Identifier: GPL-2.0-or-later
// Update-group tags: membership signatures and the tags they map to.
#include "gsa_groups.h"
#include "gsa_sr.h"
#include "gsa_tags.h"

#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace groupsec::bgp;

namespace {

constexpr uint16_t kAs = 65000;
constexpr uint32_t kA = 1001, kB = 1002;
const std::string m1 = "192.0.2.11", m2 = "192.0.2.12", m3 = "192.0.2.13", m4 = "192.0.2.14",
		  m5 = "192.0.2.15", outsider = "192.0.2.50";

// A = {m1, m2, m3, m5}, B = {m3, m4, m5}: m1 and m2 share {A}, m3 and m5
// share {A, B}, m4 alone has {B}.
Groups sr()
{
	Groups g;
	g.set_local_as(kAs);
	g.key_server_groups({{"A", "1001"}, {"B", "1002"}});
	g.key_server_members("A", {{"m1", m1}, {"m2", m2}, {"m3", m3}, {"m5", m5}});
	g.key_server_members("B", {{"m3", m3}, {"m4", m4}, {"m5", m5}});
	return g;
}

std::vector<ExtCommunity> tags(std::initializer_list<uint32_t> ids)
{
	std::vector<ExtCommunity> v;
	for (uint32_t id : ids)
		v.push_back(group_route_target(kAs, id));
	return v;
}

} // namespace

TEST(GsaTags, EmptySignatureIsZeroOthersCountFromOne)
{
	SignatureTags t;
	EXPECT_EQ(t.assign("a", ""), 0u);
	EXPECT_EQ(t.assign("b", "1:A"), 1u);
	EXPECT_EQ(t.assign("c", "1:A"), 1u);
	EXPECT_EQ(t.assign("d", "1:B"), 2u);
	EXPECT_EQ(t.tag_of("a"), 0u);
	EXPECT_EQ(t.tag_of("c"), 1u);
	EXPECT_FALSE(t.tag_of("nobody"));
	EXPECT_EQ(t.live(), 2u);
	EXPECT_EQ(t.peers(), 4u);
	// asking again changes nothing
	EXPECT_EQ(t.assign("b", "1:A"), 1u);
	EXPECT_EQ(t.live(), 2u);
}

TEST(GsaTags, StableWhileHeldFreedAndReusedAfter)
{
	SignatureTags t;
	ASSERT_EQ(t.assign("b", "1:A"), 1u);
	ASSERT_EQ(t.assign("c", "1:A"), 1u);
	ASSERT_EQ(t.assign("d", "1:B"), 2u);
	// b leaves A: A keeps its tag for c, b gets a new one
	EXPECT_EQ(t.assign("b", "1:C"), 3u);
	EXPECT_EQ(t.tag_of("c"), 1u);
	// the last holder of A goes: 1 is free and the next new signature takes it
	t.forget("c");
	EXPECT_EQ(t.live(), 2u);
	EXPECT_EQ(t.assign("e", "1:D"), 1u);
	// a peer changing signature always changes tag, even when it held the
	// only one: never freed and taken again in one step
	EXPECT_EQ(t.assign("e", "1:E"), 4u);
	EXPECT_EQ(t.assign("f", "1:F"), 1u);
	// retain: the others are forgotten and their tags freed
	t.retain({"b", "f"});
	EXPECT_EQ(t.peers(), 2u);
	EXPECT_FALSE(t.tag_of("d"));
	EXPECT_EQ(t.assign("g", "1:G"), 2u);
	EXPECT_EQ(t.assign("h", "1:H"), 4u);
	EXPECT_EQ(t.assign("i", "1:I"), 5u);
}

TEST(GsaTags, ChurnKeepsTagsSmallAndDistinct)
{
	SignatureTags t;
	// 100 peers over 10 signatures, moved around many times
	for (int round = 0; round < 50; round++)
		for (int p = 0; p < 100; p++)
			t.assign("p" + std::to_string(p), "s" + std::to_string((p + round) % 10));
	std::map<uint32_t, std::set<std::string>> sigs;
	for (int p = 0; p < 100; p++) {
		auto tag = t.tag_of("p" + std::to_string(p));
		ASSERT_TRUE(tag);
		EXPECT_GE(*tag, 1u);
		EXPECT_LE(*tag, 11u); // at most one more than live during a move
		sigs[*tag].insert("s" + std::to_string((p + 49) % 10));
	}
	// one signature per tag, one tag per signature
	EXPECT_EQ(sigs.size(), 10u);
	for (const auto &[tag, s] : sigs)
		EXPECT_EQ(s.size(), 1u) << tag;
	EXPECT_EQ(t.live(), 10u);
}

TEST(GsaTags, SignatureIsTheSetOfGroups)
{
	Groups g = sr();
	EXPECT_EQ(g.signature(outsider), "");
	EXPECT_EQ(g.signature(m1), g.signature(m2));
	EXPECT_EQ(g.signature(m3), g.signature(m5));
	EXPECT_NE(g.signature(m1), g.signature(m3));
	EXPECT_NE(g.signature(m4), g.signature(m3));
	EXPECT_NE(g.signature(m1), g.signature(m4));
	// as the address is written makes no difference
	EXPECT_EQ(g.signature(m1 + "[848]"), g.signature(m1));
	EXPECT_EQ(g.signature("2001:db8:0::1"), "");
}

TEST(GsaTags, EqualSignaturesEqualTagsAndEqualDecisions)
{
	Groups g = sr();
	std::map<std::string, uint32_t> tag;
	for (const auto &a : {m1, m2, m3, m4, m5, outsider})
		tag[a] = g.peer_tag(a);
	EXPECT_EQ(tag[outsider], 0u);
	EXPECT_EQ(tag[m1], tag[m2]);
	EXPECT_EQ(tag[m3], tag[m5]);
	EXPECT_EQ(std::set<uint32_t>({tag[m1], tag[m3], tag[m4], tag[outsider]}).size(), 4u);
	EXPECT_EQ(g.last_tag(m1), tag[m1]);
	// what the module's decision depends on: every route, from every
	// originator, is decided alike for two peers with one tag
	const std::vector<std::vector<ExtCommunity>> routes = {tags({kA}), tags({kB}), tags({kA, kB})};
	const std::vector<std::string> all = {m1, m2, m3, m4, m5, outsider};
	for (const auto &r : routes)
		for (const auto &o : std::vector<std::string>{"", m1, m2, m3, m4, m5})
			for (const auto &x : all)
				for (const auto &y : all) {
					if (tag[x] == tag[y]) {
						EXPECT_EQ(g.decide(r, o, {x}), g.decide(r, o, {y}))
							<< o << " to " << x << " and " << y;
					}
				}
}

TEST(GsaTags, MemberListModeAndNamedPeersAreUnique)
{
	Groups g = sr();
	// m1 registers with a member list naming m2: m1 (member-list mode) and
	// m2 (named) are decided pair by pair, each on its own
	g.member_registered("A", "m1", m1, std::set<std::string>{"m2"});
	EXPECT_EQ(g.signature(m1), "=" + m1);
	EXPECT_EQ(g.signature(m2), "=" + m2);
	uint32_t t1 = g.peer_tag(m1), t2 = g.peer_tag(m2), t3 = g.peer_tag(m3), t5 = g.peer_tag(m5);
	EXPECT_NE(t1, t2);
	EXPECT_NE(t1, t3);
	EXPECT_NE(t2, t3);
	// m3 and m5 are not named: still one tag, and decided alike
	EXPECT_EQ(t3, t5);
	EXPECT_EQ(g.decide(tags({kA}), m1, {m3}), g.decide(tags({kA}), m1, {m5}));
	// m2 named, m3 not: they differ, which is why m2 is on its own
	EXPECT_NE(g.decide(tags({kA}), m1, {m2}), g.decide(tags({kA}), m1, {m3}));
	// m1 back in auto-discovery: m1 and m2 share a tag again, m2 keeps none
	// of the unique ones
	g.member_registered("A", "m1", m1, std::nullopt);
	EXPECT_EQ(g.peer_tag(m1), g.peer_tag(m2));
}

TEST(GsaTags, BoundIdentityDecidesTheSignature)
{
	Groups g = sr();
	// m2's address bound to another identity than the one registered there
	ASSERT_EQ(g.bind_peer(m2, "someone-else"), "");
	EXPECT_EQ(g.signature(m2), "");
	EXPECT_EQ(g.peer_tag(m2), 0u);
	ASSERT_EQ(g.bind_peer(m2, "m2"), "");
	EXPECT_EQ(g.peer_tag(m2), g.peer_tag(m1));
}

TEST(GsaTags, EventsMoveTags)
{
	Groups g = sr();
	uint32_t a = g.peer_tag(m1);
	ASSERT_EQ(g.peer_tag(m2), a);
	uint32_t ab = g.peer_tag(m3);
	// m2 evicted from A: no group, tag 0; m1 keeps A's tag
	auto affected = g.member_gone("A", "m2", true);
	EXPECT_TRUE(affected.count(m2));
	EXPECT_EQ(g.peer_tag(m2), 0u);
	EXPECT_EQ(g.peer_tag(m1), a);
	// m1 joins B too: it now shares m3's tag
	g.member_registered("B", "m1", m1);
	EXPECT_EQ(g.peer_tag(m1), ab);
	// A's tag has no holder left (m1 moved, m2 gone): the next new set takes it
	g.member_registered("A", "m4", m4);
	g.member_gone("B", "m4", false);
	EXPECT_EQ(g.signature(m4), "1:A");
	EXPECT_EQ(g.peer_tag(m4), a);
	// the group gone from the key server: its members lose it
	g.key_server_groups({{"B", "1002"}});
	EXPECT_EQ(g.peer_tag(m4), 0u);
	EXPECT_EQ(g.peer_tag(m1), g.peer_tag(m3));
	EXPECT_NE(g.peer_tag(m1), 0u);
	// neighbors gone: their tags are freed
	g.retain_tags({m1});
	EXPECT_FALSE(g.last_tag(m3));
	EXPECT_EQ(g.last_tag(m1), g.peer_tag(m1));
}

TEST(GsaTags, CInterfaceAndShow)
{
	struct gsa_groups *c = gsa_groups_new();
	const char *names[] = {"A"}, *ids[] = {"1001"};
	gsa_groups_ks_groups(c, names, ids, 1, nullptr, nullptr);
	const char *mids[] = {"m1", "m2"}, *maddrs[] = {"192.0.2.11", "192.0.2.12"};
	gsa_groups_ks_members(c, "A", mids, maddrs, nullptr, 2, nullptr, nullptr);
	uint32_t t1 = 99, t2 = 99, t0 = 99, last = 0;
	ASSERT_EQ(gsa_groups_peer_tag(c, "192.0.2.11", &t1), 0);
	ASSERT_EQ(gsa_groups_peer_tag(c, "192.0.2.12", &t2), 0);
	ASSERT_EQ(gsa_groups_peer_tag(c, "192.0.2.50", &t0), 0);
	EXPECT_EQ(t1, 1u);
	EXPECT_EQ(t2, 1u);
	EXPECT_EQ(t0, 0u);
	EXPECT_TRUE(gsa_groups_last_tag(c, "192.0.2.12", &last));
	EXPECT_EQ(last, 1u);
	EXPECT_FALSE(gsa_groups_last_tag(c, "192.0.2.99", &last));
	gsa_neighbor_view nv[] = {{"192.0.2.11", "Established", true, false, 1},
				  {"192.0.2.12", "Established", true, false, 0},
				  {"192.0.2.50", "Established", true, true, 0}};
	char *out = gsa_groups_render(c, nv, 3, true);
	ASSERT_TRUE(out);
	std::string json(out);
	free(out);
	EXPECT_NE(json.find("\"m1\":{\"address\":\"192.0.2.11\",\"peerState\":\"Established\","
			    "\"peerFiltered\":true,\"updateGroupTag\":1"),
		  std::string::npos)
		<< json;
	EXPECT_NE(json.find("\"updateGroupTag\":1,\"updateGroupTagApplied\":true"), std::string::npos) << json;
	// bgpd does not hold it yet for m2
	EXPECT_NE(json.find("\"updateGroupTag\":1,\"updateGroupTagApplied\":false"), std::string::npos) << json;
	EXPECT_NE(json.find("\"updateGroupTag\":0,\"updateGroupTagApplied\":false"), std::string::npos) << json;
	out = gsa_groups_render(c, nv, 3, false);
	ASSERT_TRUE(out);
	std::string text(out);
	free(out);
	EXPECT_NE(text.find("update-group tag 1, groups: A"), std::string::npos) << text;
	EXPECT_NE(text.find("update-group tag 1 (bgpd holds 0), groups: A"), std::string::npos) << text;
	EXPECT_NE(text.find("update-group tag 0 (held by maximum-prefix-out), groups: none"), std::string::npos)
		<< text;
	const char *keep[] = {"192.0.2.11"};
	gsa_groups_retain_tags(c, keep, 1);
	EXPECT_FALSE(gsa_groups_last_tag(c, "192.0.2.12", &last));
	gsa_groups_free(c);
}
