// SPDX-License-Identifier: GPL-2.0-or-later
// The groups core: route targets, member configuration, membership routes,
// the key server's members and the reflection decision.
#include "gsa_groups.h"
#include "gsa_sr.h"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace groupsec::bgp;

namespace {

constexpr uint32_t kA = 1001, kB = 1002;

// An S/R whose key server serves A = {m1, m2, m3} and B = {m3, m4}.
constexpr uint16_t kAs = 65000;

Groups sr()
{
	Groups g;
	g.set_local_as(kAs);
	g.key_server_groups({{"A", "@#000003e9"}, {"B", "1002"}});
	g.key_server_members("A", {{"m1.example.net", "192.0.2.11[848]"},
				   {"m2.example.net", "192.0.2.12[848]"},
				   {"m3.example.net", "192.0.2.13[848]"}});
	g.key_server_members("B", {{"m3.example.net", "192.0.2.13"}, {"m4.example.net", "192.0.2.14"}});
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

TEST(GsaGroups, RouteTargetLayout)
{
	auto rt = group_route_target(65000, 1234);
	const uint8_t want[8] = {0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x04, 0xd2};
	EXPECT_EQ(0, memcmp(rt.data(), want, 8));
	EXPECT_EQ(group_of_route_target(rt.data(), 65000), 1234u);
	// a route target of another AS, or another type: not a group's
	EXPECT_FALSE(group_of_route_target(rt.data(), 65001));
	const uint8_t ipv4_rt[8] = {0x01, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x04, 0xd2};
	const uint8_t soo[8] = {0x00, 0x03, 0xfd, 0xe8, 0x00, 0x00, 0x04, 0xd2};
	EXPECT_FALSE(group_of_route_target(ipv4_rt, 65000));
	EXPECT_FALSE(group_of_route_target(soo, 65000));
	// a four-octet AS tags with AS_TRANS
	EXPECT_EQ(tag_asn(65000), 65000);
	EXPECT_EQ(tag_asn(4200000000u), 23456);
	gsa_groups *g = gsa_groups_new();
	gsa_groups_set_local_as(g, 65000);
	EXPECT_TRUE(gsa_groups_is_group_tag(g, rt.data()));
	gsa_groups_set_local_as(g, 65001);
	EXPECT_FALSE(gsa_groups_is_group_tag(g, rt.data()));
	gsa_groups_free(g);
}

TEST(GsaGroups, GroupNumbersFromKeyServerIds)
{
	EXPECT_EQ(group_number("1234"), 1234u);
	EXPECT_EQ(group_number("@#000004d2"), 1234u);
	EXPECT_EQ(group_number("@#000004D2"), 1234u);
	EXPECT_EQ(group_number("198.51.100.1"), 0xc6336401u);
	EXPECT_EQ(group_number("4294967295"), 0xffffffffu);
	EXPECT_FALSE(group_number("4294967296"));
	EXPECT_FALSE(group_number("@#67727031aa")); // not four octets
	EXPECT_FALSE(group_number("blue.example.net"));
	EXPECT_FALSE(group_number("2001:db8::1"));
	EXPECT_EQ(normalize_address("192.0.2.11[848]"), "192.0.2.11");
	EXPECT_EQ(normalize_address("2001:DB8:0::1"), "2001:db8::1");
	EXPECT_FALSE(normalize_address("gm1"));
}

TEST(GsaGroups, MemberConfigurationAndRoutes)
{
	Groups g;
	EXPECT_EQ(g.set_group("A", kA, "192.0.2.13", Discovery::Auto), "");
	EXPECT_EQ(g.set_group("B", kB, "192.0.2.13", Discovery::MemberList), "");
	EXPECT_EQ(g.add_prefix("A", "10.3.0.0/24"), "");
	EXPECT_EQ(g.add_prefix("A", "10.3.0.0/24"), ""); // the same once
	EXPECT_EQ(g.add_prefix("B", "2001:db8:3::/48"), "");
	// bad input: a clear error and nothing changed
	EXPECT_EQ(g.add_prefix("A", "10.3.0.1/24"),
		  "prefix '10.3.0.1/24' has host bits set (the network is 10.3.0.0/24)");
	EXPECT_NE(g.add_prefix("C", "10.9.0.0/24"), "");
	EXPECT_NE(g.set_group("C", kA, "192.0.2.13", Discovery::Auto), ""); // ID taken
	EXPECT_NE(g.set_group("C", 7, "gm3", Discovery::Auto), "");
	EXPECT_NE(g.set_group("bad name", 7, "192.0.2.1", Discovery::Auto), "");
	ASSERT_EQ(g.local_groups().size(), 2u);
	EXPECT_EQ(g.local_groups()[0].prefixes, std::vector<std::string>{"10.3.0.0/24"});

	// one route for the shared endpoint, tagged with both groups
	auto routes = g.membership_routes();
	ASSERT_EQ(routes.size(), 1u);
	EXPECT_EQ(routes[0].endpoint, "192.0.2.13");
	EXPECT_EQ(routes[0].prefix_len, 32u);
	EXPECT_EQ(routes[0].groups, (std::vector<uint32_t>{kA, kB}));

	EXPECT_EQ(g.config_lines(), " gsa group A id 1001 endpoint 192.0.2.13\n"
				    " gsa group A prefix 10.3.0.0/24\n"
				    " gsa group B id 1002 endpoint 192.0.2.13 discovery member-list\n"
				    " gsa group B prefix 2001:db8:3::/48\n");
	EXPECT_EQ(g.set_group("B", kB, "2001:db8::13", Discovery::Auto), "");
	routes = g.membership_routes();
	ASSERT_EQ(routes.size(), 2u);
	EXPECT_EQ(routes[1].endpoint, "2001:db8::13");
	EXPECT_EQ(routes[1].prefix_len, 128u);
	EXPECT_EQ(g.remove_prefix("A", "10.3.0.0/24"), "");
	EXPECT_NE(g.remove_prefix("A", "10.3.0.0/24"), "");
	EXPECT_EQ(g.remove_group("B"), "");
	EXPECT_NE(g.remove_group("B"), "");
	EXPECT_EQ(g.membership_routes().size(), 1u);
}

TEST(GsaGroups, ReflectsOnlyBetweenMembersOfOneGroup)
{
	Groups g = sr();
	const std::string m1 = "192.0.2.11", m2 = "192.0.2.12", m3 = "192.0.2.13", m4 = "192.0.2.14",
			  outsider = "192.0.2.50";
	// m1's route (A) goes to m2 and m3, not to m4 nor to an outsider
	EXPECT_EQ(g.decide(tags({kA}), m1, {m2}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), m1, {m3}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), m1, {m4}), Verdict::DeniedPeer);
	EXPECT_EQ(g.decide(tags({kA}), m1, {outsider}), Verdict::DeniedPeer);
	// m3's route carries both tags: to m1 through A, to m4 through B
	EXPECT_EQ(g.decide(tags({kA, kB}), m3, {m1}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA, kB}), m3, {m4}), Verdict::Reflect);
	// a route claiming B from m1 (not a member of B) goes nowhere
	EXPECT_EQ(g.decide(tags({kB}), m1, {m4}), Verdict::DeniedOrigin);
	// ... and m4's tag A does not let it reach A through B's membership
	EXPECT_EQ(g.decide(tags({kA, kB}), m4, {m1}), Verdict::DeniedPeer);
	// routes without a group tag are not the module's
	EXPECT_EQ(g.decide({}, m1, {outsider}), Verdict::NotGroupRoute);
	// a tag of a group the key server does not serve: denied
	EXPECT_EQ(g.decide(tags({77}), m1, {m2}), Verdict::UnknownGroup);
	EXPECT_EQ(g.unknown_group_denials(), 1u);
	// the router's own routes go to the members
	EXPECT_EQ(g.decide(tags({kA}), "", {m2}), Verdict::Reflect);
	// counted on every group of the route its originator is a member of
	const auto &a = g.server_groups().at("A").counters;
	EXPECT_EQ(a.reflected, 5u);
	EXPECT_EQ(a.denied_peer, 2u);
	EXPECT_EQ(g.server_groups().at("B").counters.denied_peer, 1u);
	EXPECT_EQ(g.server_groups().at("B").counters.denied_origin, 1u);
}

TEST(GsaGroups, OneUpdateGroupMustAgreeOrNothingGoes)
{
	Groups g = sr();
	// m2 (A) and m4 (B) in one update-group: m1's A route must not reach m4
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12", "192.0.2.14"}),
		  Verdict::DeniedShared);
	EXPECT_EQ(g.server_groups().at("A").counters.denied_shared, 1u);
	// all members of A: fine
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12", "192.0.2.13"}),
		  Verdict::Reflect);
}

TEST(GsaGroups, EventsChangeMembershipAndNameTheAffected)
{
	Groups g = sr();
	// m2 evicted from A: m1, m2, m3 are to be evaluated again
	auto affected = g.member_gone("A", "m2.example.net", true);
	EXPECT_EQ(affected, (std::set<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"}));
	EXPECT_FALSE(g.is_member(kA, "192.0.2.12"));
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12"}), Verdict::DeniedPeer);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.11"}), Verdict::DeniedOrigin);
	EXPECT_EQ(g.server_groups().at("A").evicted_events, 1u);
	// gone twice: nothing more to do
	EXPECT_TRUE(g.member_gone("A", "m2.example.net", false).empty());
	// registers again (readmitted): the group's members and it
	affected = g.member_registered("A", "m2.example.net", "192.0.2.12");
	EXPECT_EQ(affected, (std::set<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"}));
	// a re-registration from the same address changes nothing
	EXPECT_TRUE(g.member_registered("A", "m2.example.net", "192.0.2.12").empty());
	// events of groups the key server does not list are ignored
	EXPECT_TRUE(g.member_registered("C", "x", "192.0.2.99").empty());
	// a list that says the same changes nothing; one that differs names all
	EXPECT_TRUE(g.key_server_members("B", {{"m3.example.net", "192.0.2.13"},
					      {"m4.example.net", "192.0.2.14"}})
			    .empty());
	EXPECT_EQ(g.key_server_members("B", {{"m3.example.net", "192.0.2.13"}}),
		  (std::set<std::string>{"192.0.2.13", "192.0.2.14"}));
	// a group gone from the key server: its members are affected
	EXPECT_EQ(g.key_server_groups({{"A", "@#000003e9"}}),
		  (std::set<std::string>{"192.0.2.13"}));
	EXPECT_FALSE(g.is_member(kB, "192.0.2.13"));
}

TEST(GsaGroups, BoundIdentityMustMatchTheRegistration)
{
	Groups g = sr();
	EXPECT_EQ(g.bind_peer("192.0.2.12", "m2.example.net"), "");
	EXPECT_TRUE(g.is_member(kA, "192.0.2.12"));
	// another identity registered from m2's address does not make it m2
	g.member_gone("A", "m2.example.net", false);
	g.member_registered("A", "intruder.example.net", "192.0.2.12");
	EXPECT_FALSE(g.is_member(kA, "192.0.2.12"));
	EXPECT_EQ(g.unbind_peer("192.0.2.12"), "");
	EXPECT_TRUE(g.is_member(kA, "192.0.2.12"));
	EXPECT_NE(g.unbind_peer("192.0.2.12"), "");
	EXPECT_NE(g.bind_peer("m2", "m2.example.net"), "");
	EXPECT_EQ(g.bind_peer("192.0.2.14", "m4.example.net"), "");
	EXPECT_EQ(g.config_lines(), " gsa peer 192.0.2.14 identity m4.example.net\n");
}

TEST(GsaGroups, ShowsGroupsMembersAndDecisions)
{
	Groups g = sr();
	g.decide(tags({kA}), "192.0.2.11", {"192.0.2.14"});
	std::vector<NeighborView> ns{{"192.0.2.11", "Established", true},
				     {"192.0.2.50", "Established", false}};
	std::string text = g.render_text(ns);
	EXPECT_NE(text.find("Group A, ID @#000003e9, RT:65000:1001, 3 members"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("m1.example.net           192.0.2.11       Established"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("denied: peer not member 1"), std::string::npos) << text;
	// no tag computed for it yet: "-"
	EXPECT_NE(text.find("192.0.2.50               Established  unfiltered   update-group tag -, groups: none"),
		  std::string::npos)
		<< text;
	std::string json = g.render_json(ns);
	EXPECT_NE(json.find("\"A\":{\"groupId\":\"@#000003e9\",\"routeTarget\":\"RT:65000:1001\""),
		  std::string::npos)
		<< json;
	EXPECT_NE(json.find("\"deniedPeerNotMember\":1"), std::string::npos) << json;
	EXPECT_NE(json.find("\"192.0.2.11\":{\"state\":\"Established\",\"filtered\":true,\"groups\":[\"A\"]"),
		  std::string::npos)
		<< json;
}

TEST(GsaGroups, CInterface)
{
	gsa_groups *g = gsa_groups_new();
	gsa_groups_set_local_as(g, 65000);
	char err[256] = "";
	ASSERT_EQ(gsa_groups_set(g, "A", kA, "192.0.2.11", false, err, sizeof(err)), 0);
	EXPECT_EQ(gsa_groups_prefix(g, "A", "10.1.0.1/24", true, err, sizeof(err)), -1);
	EXPECT_STREQ(err, "prefix '10.1.0.1/24' has host bits set (the network is 10.1.0.0/24)");
	gsa_membership_route r[2];
	ASSERT_EQ(gsa_groups_routes(g, r, 2), 1u);
	EXPECT_STREQ(r[0].endpoint, "192.0.2.11");
	ASSERT_EQ(r[0].n_groups, 1u);
	EXPECT_EQ(group_of_route_target(r[0].rts[0], 65000), kA);

	const char *names[] = {"A"}, *ids[] = {"1001"};
	std::vector<std::string> seen;
	auto collect = [](void *arg, const char *a) {
		static_cast<std::vector<std::string> *>(arg)->push_back(a);
	};
	EXPECT_FALSE(gsa_groups_ks_knows(g, "A"));
	gsa_groups_ks_groups(g, names, ids, 1, collect, &seen);
	EXPECT_TRUE(gsa_groups_ks_knows(g, "A"));
	EXPECT_FALSE(gsa_groups_ks_knows(g, "B"));
	const char *mids[] = {"m1", "m2"}, *maddrs[] = {"192.0.2.11[848]", "192.0.2.12[848]"};
	gsa_groups_ks_members(g, "A", mids, maddrs, nullptr, 2, collect, &seen);
	EXPECT_EQ(seen, (std::vector<std::string>{"192.0.2.11", "192.0.2.12"}));
	uint8_t rt[8];
	gsa_groups_route_target(g, kA, rt);
	const char *targets[] = {"192.0.2.12"};
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", targets, 1), GSA_REFLECT);
	seen.clear();
	gsa_groups_ks_gone(g, "A", "m2", true, collect, &seen);
	EXPECT_EQ(seen, (std::vector<std::string>{"192.0.2.11", "192.0.2.12"}));
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", targets, 1), GSA_DENIED_PEER);
	char *text = gsa_groups_render(g, nullptr, 0, true);
	ASSERT_TRUE(text);
	EXPECT_NE(std::string(text).find("\"evictedEvents\":1"), std::string::npos) << text;
	free(text);
	text = gsa_groups_config(g);
	EXPECT_STREQ(text, " gsa group A id 1001 endpoint 192.0.2.11\n");
	free(text);
	gsa_groups_free(g);
}

// Member-list mode: m1 names m2 only; m2 and m3 use auto-discovery.
TEST(GsaGroups, MemberListReflectsOnlyBetweenNamedMembers)
{
	Groups g = sr();
	auto affected = g.member_registered("A", "m1.example.net", "192.0.2.11[848]",
					    std::set<std::string>{"m2.example.net"});
	// a new list: every member of the group is evaluated again
	EXPECT_EQ(affected, (std::set<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"}));
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12"}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.13"}), Verdict::DeniedNotNamed);
	// symmetric: m1 receives only routes of the members it named
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.11"}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.13", {"192.0.2.11"}), Verdict::DeniedNotNamed);
	// the auto members still see each other
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.13"}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.13", {"192.0.2.12"}), Verdict::Reflect);
	// the S/R's own routes are not the member list's business
	EXPECT_EQ(g.decide(tags({kA}), "", {"192.0.2.11"}), Verdict::Reflect);
	// a non-member is still a non-member
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.14"}), Verdict::DeniedPeer);
	// one update-group with m2 and m3: nobody gets it
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12", "192.0.2.13"}),
		  Verdict::DeniedShared);
	const auto &c = g.server_groups().at("A").counters;
	EXPECT_EQ(c.denied_named, 2u);
	EXPECT_EQ(c.reflected, 5u);
	EXPECT_EQ(c.denied_shared, 1u);
	// the list's group only: in B, m3 (auto) and m4 (auto) are unaffected
	EXPECT_EQ(g.decide(tags({kB}), "192.0.2.13", {"192.0.2.14"}), Verdict::Reflect);
}

TEST(GsaGroups, BothInMemberListModeMustNameEachOther)
{
	Groups g = sr();
	g.member_registered("A", "m1.example.net", "192.0.2.11", std::set<std::string>{"m2.example.net"});
	g.member_registered("A", "m2.example.net", "192.0.2.12", std::set<std::string>{"m3.example.net"});
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12"}), Verdict::DeniedNotNamed);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.11"}), Verdict::DeniedNotNamed);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.13"}), Verdict::Reflect);
	// m2 re-registers naming m1 too: the new list replaces the old one
	auto affected = g.member_registered("A", "m2.example.net", "192.0.2.12",
					    std::set<std::string>{"m1.example.net"});
	EXPECT_EQ(affected, (std::set<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"}));
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.12"}), Verdict::Reflect);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.13"}), Verdict::DeniedNotNamed);
	// the same list again changes nothing
	EXPECT_TRUE(g.member_registered("A", "m2.example.net", "192.0.2.12",
					std::set<std::string>{"m1.example.net"})
			    .empty());
	// back to auto-discovery: a change
	EXPECT_FALSE(g.member_registered("A", "m2.example.net", "192.0.2.12").empty());
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.13"}), Verdict::Reflect);
	// evicted: the list goes with the member
	g.member_gone("A", "m1.example.net", true);
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.11"}), Verdict::DeniedPeer);
	g.member_registered("A", "m1.example.net", "192.0.2.11");
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.12", {"192.0.2.11"}), Verdict::Reflect);
}

TEST(GsaGroups, MemberListsFromListMembersAndShown)
{
	Groups g = sr();
	EXPECT_TRUE(g.key_server_members("A", {{"m1.example.net", "192.0.2.11[848]"},
					      {"m2.example.net", "192.0.2.12[848]"},
					      {"m3.example.net", "192.0.2.13[848]"}})
			    .empty());
	// the same members, one with a list now: a change
	EXPECT_EQ(g.key_server_members("A", {{"m1.example.net", "192.0.2.11[848]",
					      std::set<std::string>{"m2.example.net"}},
					     {"m2.example.net", "192.0.2.12[848]"},
					     {"m3.example.net", "192.0.2.13[848]"}}),
		  (std::set<std::string>{"192.0.2.11", "192.0.2.12", "192.0.2.13"}));
	EXPECT_EQ(g.decide(tags({kA}), "192.0.2.11", {"192.0.2.13"}), Verdict::DeniedNotNamed);
	std::string text = g.render_text({});
	EXPECT_NE(text.find("      member list: m2.example.net\n"), std::string::npos) << text;
	EXPECT_NE(text.find("not named 1"), std::string::npos) << text;
	std::string json = g.render_json({});
	EXPECT_NE(json.find("\"discovery\":\"member-list\",\"memberList\":[\"m2.example.net\"]"),
		  std::string::npos)
		<< json;
	EXPECT_NE(json.find("\"discovery\":\"auto\",\"memberList\":null"), std::string::npos) << json;
	EXPECT_NE(json.find("\"deniedNotNamed\":1"), std::string::npos) << json;
}

TEST(GsaGroups, MemberListsThroughTheCInterface)
{
	struct gsa_groups *g = gsa_groups_new();
	gsa_groups_set_local_as(g, 65000);
	const char *names[] = {"A"}, *ids[] = {"1001"};
	gsa_groups_ks_groups(g, names, ids, 1, nullptr, nullptr);
	const char *mids[] = {"m1", "m2", "m3"};
	const char *maddrs[] = {"192.0.2.11", "192.0.2.12", "192.0.2.13"};
	const char *lists[] = {"m2\nm9", nullptr, nullptr};
	gsa_groups_ks_members(g, "A", mids, maddrs, lists, 3, nullptr, nullptr);
	uint8_t rt[8];
	gsa_groups_route_target(g, kA, rt);
	const char *to2[] = {"192.0.2.12"}, *to3[] = {"192.0.2.13"};
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", to2, 1), GSA_REFLECT);
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", to3, 1), GSA_DENIED_NOT_NAMED);
	// re-registered naming m3 only
	std::vector<std::string> seen;
	auto collect = [](void *arg, const char *a) {
		static_cast<std::vector<std::string> *>(arg)->push_back(a);
	};
	gsa_groups_ks_registered(g, "A", "m1", "192.0.2.11", "m3", collect, &seen);
	EXPECT_EQ(seen.size(), 3u);
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", to2, 1), GSA_DENIED_NOT_NAMED);
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", to3, 1), GSA_REFLECT);
	// an empty list names nobody
	gsa_groups_ks_registered(g, "A", "m1", "192.0.2.11", "", nullptr, nullptr);
	EXPECT_EQ(gsa_groups_decide(g, rt, 1, "192.0.2.11", to3, 1), GSA_DENIED_NOT_NAMED);
	gsa_groups_free(g);
}

TEST(GsaGroups, ShowsHowTheLocalGdoiGroupsRegister)
{
	Groups g;
	g.set_local_as(kAs);
	ASSERT_EQ(g.set_group("A", kA, "192.0.2.11", Discovery::MemberList), "");
	ASSERT_EQ(g.set_group("B", kB, "192.0.2.11", Discovery::Auto), "");
	// not listed yet: nothing said
	EXPECT_EQ(g.render_text({}).find("gdoi registers"), std::string::npos);
	EXPECT_NE(g.render_json({}).find("\"localRegistration\":{}"), std::string::npos);
	g.registration_modes({{kA, std::set<std::string>{"gm2.example.net"}}, {kB, std::nullopt}});
	std::string text = g.render_text({});
	EXPECT_NE(text.find("    gdoi registers it with member list: gm2.example.net\n"), std::string::npos) << text;
	EXPECT_NE(text.find("    gdoi registers it with auto-discovery\n"), std::string::npos) << text;
	EXPECT_EQ(text.find("not the configured discovery"), std::string::npos) << text;
	std::string json = g.render_json({});
	EXPECT_NE(json.find("\"localRegistration\":{\"A\":{\"discovery\":\"member-list\",\"memberList\":"
			    "[\"gm2.example.net\"],\"matchesConfig\":true},\"B\":{\"discovery\":\"auto\","
			    "\"memberList\":null,\"matchesConfig\":true}}"),
		  std::string::npos)
		<< json;
	// B configured for member lists, its gdoi group names nobody: shown
	ASSERT_EQ(g.set_group("B", kB, "192.0.2.11", Discovery::MemberList), "");
	text = g.render_text({});
	EXPECT_NE(text.find("auto-discovery (not the configured discovery: the gdoi group's peers setting rules)"),
		  std::string::npos)
		<< text;
	EXPECT_NE(g.render_json({}).find("\"matchesConfig\":false"), std::string::npos);
	// through the C interface, by the group ID list-groups shows
	struct gsa_groups *c = gsa_groups_new();
	char err[128];
	ASSERT_EQ(gsa_groups_set(c, "A", kA, "192.0.2.11", true, err, sizeof(err)), 0);
	const char *ids[] = {"@#000003e9", "fqdn-group"}, *lists[] = {"gm2.example.net\ngm3.example.net", nullptr};
	gsa_groups_gm_groups(c, ids, lists, 2);
	char *out = gsa_groups_render(c, nullptr, 0, false);
	ASSERT_TRUE(out);
	EXPECT_NE(std::string(out).find("member list: gm2.example.net, gm3.example.net\n"), std::string::npos) << out;
	free(out);
	gsa_groups_free(c);
}
