#include "gsa_core.h"
#include "gsa_status.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <memory>
#include <string>

using namespace groupsec::bgp;

namespace {

ModuleStatus two_member_sr()
{
	ModuleStatus st;
	st.version = "9.9.9";
	InstanceStatus inst;
	inst.name = "default";
	inst.local_as = 65000;
	inst.router_id = "192.0.2.1";
	inst.peers.push_back({"192.0.2.2", 65000, "Established", true, 75});
	inst.peers.push_back({"192.0.2.3", 65000, "Active", true, 0});
	st.instances.push_back(inst);
	return st;
}

} // namespace

TEST(GsaStatus, CountsOnlyEstablishedPeers)
{
	auto st = two_member_sr();
	EXPECT_EQ(st.instances[0].established_count(), 1u);
	st.instances[0].peers[1].state = "Established";
	EXPECT_EQ(st.instances[0].established_count(), 2u);
}

TEST(GsaStatus, JsonCarriesEveryPeerKeyedByAddress)
{
	EXPECT_EQ(two_member_sr().to_json(),
		  R"({"module":"gsa","version":"9.9.9","instances":{"default":)"
		  R"({"localAs":65000,"routerId":"192.0.2.1","peerCount":2,"establishedCount":1,)"
		  R"("peers":{"192.0.2.2":{"remoteAs":65000,"state":"Established",)"
		  R"("routeReflectorClient":true,"uptimeSecs":75},)"
		  R"("192.0.2.3":{"remoteAs":65000,"state":"Active",)"
		  R"("routeReflectorClient":true,"uptimeSecs":0}}}}})");
}

TEST(GsaStatus, TextShowsOneLinePerNeighbor)
{
	std::string t = two_member_sr().to_text();
	EXPECT_NE(t.find("BGP instance default, local AS 65000, router-id 192.0.2.1"), std::string::npos) << t;
	EXPECT_NE(t.find("Neighbors: 2, established: 1"), std::string::npos) << t;
	EXPECT_NE(t.find("192.0.2.2"), std::string::npos);
	EXPECT_NE(t.find("00:01:15"), std::string::npos) << t;
}

TEST(GsaStatus, TextSaysWhenThereIsNoInstance)
{
	ModuleStatus st;
	st.version = "1";
	EXPECT_NE(st.to_text().find("No BGP instance is configured"), std::string::npos);
	EXPECT_EQ(st.to_json(), R"({"module":"gsa","version":"1","instances":{}})");
}

TEST(GsaStatus, UptimeUsesFrrFormats)
{
	EXPECT_EQ(format_uptime(0), "00:00:00");
	EXPECT_EQ(format_uptime(3661), "01:01:01");
	EXPECT_EQ(format_uptime(86400 + 2 * 3600 + 3 * 60), "1d02h03m");
	EXPECT_EQ(format_uptime(15 * 86400 + 5 * 3600), "02w1d05h");
}

TEST(GsaCore, CBoundaryRendersTheSnapshotAndToleratesNullStrings)
{
	gsa_peer_view peers[] = {
		{"2001:db8::2", 65001, "Established", false, 1},
		{nullptr, 65002, nullptr, false, 0},
	};
	gsa_instance_view inst = {"blue", 65000, "198.51.100.1", peers, 2};
	std::unique_ptr<char, decltype(&free)> out(gsa_core_render_status(&inst, 1, true), free);
	ASSERT_TRUE(out);
	std::string s(out.get());
	EXPECT_NE(s.find(R"("blue":{"localAs":65000,"routerId":"198.51.100.1","peerCount":2,"establishedCount":1)"), std::string::npos) << s;
	EXPECT_NE(s.find(R"("":{"remoteAs":65002,"state":"")"), std::string::npos) << s;
	EXPECT_NE(s.find(std::string("\"version\":\"") + gsa_core_version() + "\""), std::string::npos);
}
