// SPDX-License-Identifier: GPL-2.0-or-later
// The `crypto gdoi` model of the bgpd module: CLI edits, the gdoi settings
// of complete groups, and the running-config text.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "gsa_core.h"
#include "gsa_gdoi.h"

namespace {

struct Cfg {
	Cfg() : c(gsa_gdoi_new()) {}
	~Cfg() { gsa_gdoi_free(c); }
	gsa_gdoi *c;
	char err[256] = "";

	int set(const char *group, gsa_gdoi_field f, const char *v = nullptr, const char *v2 = nullptr,
		uint32_t index = 0)
	{
		return gsa_gdoi_edit(c, group, f, false, index, v, v2, err, sizeof(err));
	}
	int unset(const char *group, gsa_gdoi_field f, const char *v = nullptr, uint32_t index = 0)
	{
		return gsa_gdoi_edit(c, group, f, true, index, v, nullptr, err, sizeof(err));
	}
	// the request's arguments as pairs, after "source"
	std::vector<std::pair<std::string, std::string>> args() const
	{
		std::vector<std::pair<std::string, std::string>> out;
		char **a = gsa_gdoi_request_args(c, "bgpd");
		EXPECT_NE(a, nullptr);
		for (char **p = a; p && p[0]; p += 2)
			out.emplace_back(p[0], p[1]);
		gsa_gdoi_args_free(a);
		return out;
	}
	std::string missing(const char *group) const
	{
		char *m = gsa_gdoi_missing(c, group);
		std::string s = m ? m : "<none>";
		gsa_core_free(m);
		return s;
	}
	std::string text() const
	{
		char *t = gsa_gdoi_config_text(c);
		std::string s = t ? t : "";
		gsa_core_free(t);
		return s;
	}
};

void key_server(Cfg &cfg)
{
	ASSERT_EQ(gsa_gdoi_add_group(cfg.c, "blue", cfg.err, sizeof(cfg.err)), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_NUMBER, "1234"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_SERVER_LOCAL), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_LOCAL_IDENTITY, "ks.example.net"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_LOCAL_ADDRESS, "192.0.2.1"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_MEMBER, "gm1.example.net"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_MEMBER, "gm2.example.net"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_SA_PROFILE, "aes128gcm16", nullptr, 1), 0);
}

TEST(GsaGdoi, AGroupIsSentOnlyWhenComplete)
{
	Cfg cfg;
	key_server(cfg);
	EXPECT_EQ(cfg.missing("blue"), "sa ipsec 1 match address");
	EXPECT_EQ(cfg.args(), (std::vector<std::pair<std::string, std::string>>{{"source", "bgpd"}}));
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_SA_MATCH, "10.0.0.0/8", "10.0.0.0/8", 1), 0);
	EXPECT_EQ(cfg.missing("blue"), "");
	EXPECT_EQ(cfg.args(), (std::vector<std::pair<std::string, std::string>>{
				      {"source", "bgpd"},
				      {"groups.blue.role", "server"},
				      {"groups.blue.group_id", "1234"},
				      {"groups.blue.local_id", "ks.example.net"},
				      {"groups.blue.listen", "192.0.2.1"},
				      {"groups.blue.members", "gm1.example.net, gm2.example.net"},
				      {"groups.blue.tek-1.local_ts", "10.0.0.0/8"},
				      {"groups.blue.tek-1.remote_ts", "10.0.0.0/8"},
				      {"groups.blue.tek-1.esp_proposal", "aes128gcm16"},
			      }));
	EXPECT_EQ(cfg.text(), "crypto gdoi group blue\n"
			      " identity number 1234\n"
			      " server local\n"
			      " local identity ks.example.net\n"
			      " local address 192.0.2.1\n"
			      " member identity gm1.example.net\n"
			      " member identity gm2.example.net\n"
			      " sa ipsec 1 profile aes128gcm16\n"
			      " sa ipsec 1 match address 10.0.0.0/8 10.0.0.0/8\n"
			      "exit\n!\n");
}

TEST(GsaGdoi, AMemberGroupMapsToTheMemberSettings)
{
	Cfg cfg;
	ASSERT_EQ(gsa_gdoi_add_group(cfg.c, "red", cfg.err, sizeof(cfg.err)), 0);
	EXPECT_EQ(cfg.missing("red"), "identity number, server local or server address");
	ASSERT_EQ(cfg.set("red", GSA_GDOI_NUMBER, "99"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_SERVER_ADDRESS, "192.0.2.1"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_SERVER_ADDRESS, "192.0.2.2"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_SERVER_IDENTITY, "ks.example.net"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_LOCAL_IDENTITY, "gm1.example.net"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_LOCAL_ADDRESS, "192.0.2.11"), 0);
	ASSERT_EQ(cfg.set("red", GSA_GDOI_REKEY_ADDRESS, "239.192.0.1"), 0);
	EXPECT_EQ(cfg.missing("red"), "");
	EXPECT_EQ(cfg.args(), (std::vector<std::pair<std::string, std::string>>{
				      {"source", "bgpd"},
				      {"groups.red.role", "member"},
				      {"groups.red.group_id", "99"},
				      {"groups.red.local_id", "gm1.example.net"},
				      {"groups.red.local_addrs", "192.0.2.11"},
				      {"groups.red.servers", "192.0.2.1, 192.0.2.2"},
				      {"groups.red.server_id", "ks.example.net"},
				      {"groups.red.multicast", "239.192.0.1"},
			      }));
	// a member group is not a key server group
	EXPECT_EQ(cfg.set("red", GSA_GDOI_SERVER_LOCAL), -1);
	EXPECT_STREQ(cfg.err, "group red is a member group (server address): remove that first");
	// without its key servers it is neither
	ASSERT_EQ(cfg.unset("red", GSA_GDOI_SERVER_ADDRESS, "192.0.2.1"), 0);
	ASSERT_EQ(cfg.unset("red", GSA_GDOI_SERVER_ADDRESS, "192.0.2.2"), 0);
	EXPECT_EQ(cfg.set("red", GSA_GDOI_SERVER_LOCAL), 0);
}

TEST(GsaGdoi, EditsThatMakeNoSenseAreRefusedAndChangeNothing)
{
	Cfg cfg;
	key_server(cfg);
	std::string before = cfg.text();
	EXPECT_EQ(gsa_gdoi_add_group(cfg.c, "bad.name", cfg.err, sizeof(cfg.err)), -1);
	EXPECT_STREQ(cfg.err, "'bad.name' is not a group name (up to 64 letters, digits, '-' and '_')");
	EXPECT_EQ(cfg.set("blue", GSA_GDOI_MEMBER, "gm1.example.net"), -1);
	EXPECT_STREQ(cfg.err, "member identity gm1.example.net is already configured");
	EXPECT_EQ(cfg.set("blue", GSA_GDOI_MEMBER, "/C=CH,O=x"), -1);
	EXPECT_EQ(cfg.unset("blue", GSA_GDOI_MEMBER, "gm9.example.net"), -1);
	EXPECT_STREQ(cfg.err, "member identity gm9.example.net is not configured");
	EXPECT_EQ(cfg.unset("blue", GSA_GDOI_SA, nullptr, 7), -1);
	EXPECT_STREQ(cfg.err, "sa ipsec 7 is not configured");
	EXPECT_EQ(cfg.set("green", GSA_GDOI_NUMBER, "1"), -1);
	EXPECT_STREQ(cfg.err, "no crypto gdoi group green");
	EXPECT_EQ(cfg.text(), before);
	// a copy is edited apart from its original
	gsa_gdoi *copy = gsa_gdoi_copy(cfg.c);
	ASSERT_EQ(gsa_gdoi_edit(copy, "blue", GSA_GDOI_SA_MATCH, false, 1, "10.0.0.0/8", nullptr, cfg.err,
				sizeof(cfg.err)),
		  0);
	EXPECT_FALSE(gsa_gdoi_same_settings(cfg.c, copy));
	EXPECT_EQ(cfg.text(), before);
	// removing the TEK's last setting removes the TEK
	ASSERT_EQ(cfg.unset("blue", GSA_GDOI_SA_PROFILE, nullptr, 1), 0);
	EXPECT_EQ(cfg.missing("blue"), "sa ipsec");
	EXPECT_TRUE(gsa_gdoi_same_settings(cfg.c, cfg.c));
	gsa_gdoi_free(copy);
	EXPECT_EQ(gsa_gdoi_remove_group(cfg.c, "blue", cfg.err, sizeof(cfg.err)), 0);
	EXPECT_EQ(cfg.text(), "");
}

TEST(GsaGdoi, RekeyTransportMulticastCarriesItsAddress)
{
	Cfg cfg;
	key_server(cfg);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_SA_MATCH, "10.0.0.0/8[udp/5000]", nullptr, 1), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_REKEY_TRANSPORT, "multicast", "239.192.0.1"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_REKEY_LIFETIME, "86400"), 0);
	ASSERT_EQ(cfg.set("blue", GSA_GDOI_SA_LIFETIME, "3600"), 0);
	std::map<std::string, std::string> a;
	for (auto &[k, v] : cfg.args())
		a[k] = v;
	EXPECT_EQ(a["groups.blue.rekey"], "multicast");
	EXPECT_EQ(a["groups.blue.multicast"], "239.192.0.1");
	EXPECT_EQ(a["groups.blue.kek_lifetime"], "86400");
	EXPECT_EQ(a["groups.blue.tek_lifetime"], "3600");
	EXPECT_EQ(a["groups.blue.tek-1.remote_ts"], "10.0.0.0/8[udp/5000]") << "the source if no destination";
	EXPECT_NE(cfg.text().find(" rekey transport multicast 239.192.0.1\n"), std::string::npos) << cfg.text();
	ASSERT_EQ(cfg.unset("blue", GSA_GDOI_REKEY_TRANSPORT), 0);
	for (auto &[k, v] : cfg.args())
		EXPECT_TRUE(k != "groups.blue.rekey" && k != "groups.blue.multicast") << k;
}

} // namespace
