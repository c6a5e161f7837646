// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_core.h"
#include "gsa_status.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

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
	std::unique_ptr<char, decltype(&gsa_core_free)> out(gsa_core_render_status(&inst, 1, nullptr, true),
							   gsa_core_free);
	ASSERT_TRUE(out);
	std::string s(out.get());
	EXPECT_NE(s.find(R"("blue":{"localAs":65000,"routerId":"198.51.100.1","peerCount":2,"establishedCount":1)"), std::string::npos) << s;
	EXPECT_NE(s.find(R"("":{"remoteAs":65002,"state":"")"), std::string::npos) << s;
	EXPECT_NE(s.find(std::string("\"version\":\"") + gsa_core_version() + "\""), std::string::npos);
	EXPECT_EQ(s.find("controlSocket"), std::string::npos) << s;
}

namespace {

ControlStatus connected_control()
{
	ControlStatus c;
	c.path = "/run/gdoi.vici";
	c.state = "connected";
	c.state_secs = 62;
	c.connects = 2;
	c.reconnects = 1;
	c.failed_attempts = 3;
	c.daemon = "gdoi 1.0";
	c.events_total = 3;
	c.last_event = "member-registered";
	c.last_event_secs = 5;
	c.events = {{"member-registered", "confirmed", 2}, {"rekey", "unknown", 1}};
	return c;
}

} // namespace

TEST(GsaStatus, JsonShowsTheControlSocketAfterTheInstances)
{
	ModuleStatus st;
	st.version = "1";
	st.control = connected_control();
	EXPECT_EQ(st.to_json(),
		  R"({"module":"gsa","version":"1","instances":{},"controlSocket":{"path":"/run/gdoi.vici",)"
		  R"("configured":false,"state":"connected","stateSecs":62,"connects":2,"reconnects":1,)"
		  R"("failedAttempts":3,"retrySecs":0,"lastError":null,"daemon":"gdoi 1.0","eventsReceived":3,)"
		  R"("lastEvent":"member-registered","lastEventSecs":5,"events":{"member-registered":)"
		  R"({"subscription":"confirmed","count":2},"rekey":{"subscription":"unknown","count":1}}}})");
	st.control->last_event.reset();
	st.control->daemon.reset();
	st.control->last_error = "connect: No such file or directory";
	st.control->state = "connecting";
	std::string j = st.to_json();
	EXPECT_NE(j.find(R"("lastError":"connect: No such file or directory","daemon":null,)"
			 R"("eventsReceived":3,"lastEvent":null,"events":)"),
		  std::string::npos)
		<< j;
}

TEST(GsaStatus, TextShowsTheConnectionAndOneLinePerEvent)
{
	ModuleStatus st;
	st.version = "1";
	st.control = connected_control();
	std::string t = st.to_text();
	EXPECT_NE(t.find("Control socket /run/gdoi.vici (default): connected for 00:01:02\n"), std::string::npos) << t;
	EXPECT_NE(t.find("Connects: 2, reconnects: 1, failed attempts: 3"), std::string::npos) << t;
	EXPECT_NE(t.find("Daemon: gdoi 1.0"), std::string::npos) << t;
	EXPECT_NE(t.find("Events received: 3, last member-registered 00:00:05 ago"), std::string::npos) << t;
	EXPECT_NE(t.find("member-registered    confirmed    2"), std::string::npos) << t;
	st.control->state = "connecting";
	st.control->retry_secs = 4;
	st.control->configured = true;
	st.control->last_error = "closed by the server";
	t = st.to_text();
	EXPECT_NE(t.find("Control socket /run/gdoi.vici: connecting, next attempt in 4s for"), std::string::npos) << t;
	EXPECT_NE(t.find("Last error: closed by the server"), std::string::npos) << t;
}

TEST(GsaCore, CBoundaryRendersTheControlView)
{
	gsa_event_view ev[] = {{"member-left", "pending", 7}, {nullptr, nullptr, 0}};
	gsa_control_view cv = {};
	cv.path = "/x.vici";
	cv.configured = true;
	cv.state = "connected";
	cv.events = ev;
	cv.n_events = 2;
	cv.events_total = 7;
	cv.last_event = "member-left";
	std::unique_ptr<char, decltype(&gsa_core_free)> out(gsa_core_render_status(nullptr, 0, &cv, true),
							   gsa_core_free);
	ASSERT_TRUE(out);
	std::string s(out.get());
	EXPECT_NE(s.find(R"("controlSocket":{"path":"/x.vici","configured":true,"state":"connected")"), std::string::npos) << s;
	EXPECT_NE(s.find(R"("daemon":null)"), std::string::npos) << s;
	EXPECT_NE(s.find(R"("member-left":{"subscription":"pending","count":7},"":{"subscription":"","count":0})"),
		  std::string::npos) << s;
}

TEST(GsaCore, SubscribesToEveryEventOfTheKeyServer)
{
	size_t n = 0;
	const char *const *names = gsa_core_control_events(&n);
	ASSERT_EQ(n, 10u);
	std::vector<std::string> got(names, names + n);
	EXPECT_EQ(got, (std::vector<std::string>{"member-registered", "member-left", "member-evicted", "rekey",
						 "sa-installed", "sa-removed", "endpoint-changed", "routing-key",
						 "shortcut-up", "shortcut-down"}));
}
