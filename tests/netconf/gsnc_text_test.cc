// SPDX-License-Identifier: GPL-2.0-or-later
// The NETCONF agent's core: bgpd's `crypto gdoi` blocks cut from a running
// configuration, read back as the CLI's edits, and the vtysh commands
// from one configuration to another.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "gsa_core.h"
#include "gsa_gdoi.h"
#include "gsnc_text.h"

namespace {

// vtysh writes the block with "exit" and no "!"; bgpd's file with both
const char kRunning[] = "frr version 8.4.4\n"
                        "!\n"
                        "crypto gdoi group blue\n"
                        " identity number 1234\n"
                        " server local\n"
                        " local identity ks.example.net\n"
                        " local address 192.0.2.1\n"
                        " member identity gm1.example.net\n"
                        " member identity gm2.example.net\n"
                        " sa ipsec 1 profile aes256gcm16\n"
                        " sa ipsec 1 match address 10.0.0.0/8 10.0.0.0/8\n"
                        "exit\n"
                        "crypto gdoi group half\n"
                        " identity number 9\n"
                        "exit\n"
                        "!\n"
                        "router bgp 65000\n"
                        " bgp router-id 192.0.2.1\n"
                        "exit\n"
                        "!\n";

struct Blocks {
	gsnc_blocks b{};
	explicit Blocks(const std::string &text) { EXPECT_EQ(gsnc_blocks_parse(text.c_str(), &b), 0); }
	~Blocks() { gsnc_blocks_free(&b); }
};

std::vector<std::string> commands(const gsnc_blocks &from, const gsnc_blocks &to, size_t *changed)
{
	char **c = gsnc_transition(&from, &to, changed);
	std::vector<std::string> out;
	for (char **p = c; p && *p; p++)
		out.push_back(*p);
	gsnc_cmds_free(c);
	return out;
}

TEST(GsncText, CutsTheBlocksOutNormalized)
{
	Blocks b(kRunning);
	ASSERT_EQ(b.b.n, 2u);
	EXPECT_STREQ(b.b.names[0], "blue");
	EXPECT_STREQ(b.b.names[1], "half");
	EXPECT_STREQ(b.b.text[1], "crypto gdoi group half\nidentity number 9\n");
	EXPECT_EQ(std::string(gsnc_blocks_find(&b.b, "blue")).rfind("crypto gdoi group blue\nidentity number 1234\n", 0),
	          0u);
	EXPECT_EQ(gsnc_blocks_find(&b.b, "red"), nullptr);
	// the bgp block is not one
	EXPECT_EQ(std::string(b.b.text[0]).find("router"), std::string::npos);
}

TEST(GsncText, ReadsLinesAsTheEditsOfTheCli)
{
	gsa_gdoi_field f;
	unsigned idx;
	const char *v, *v2;
	char *buf;
	ASSERT_EQ(gsnc_line_edit("sa ipsec 7 match address 10.0.0.0/8 10.1.0.0/16", &f, &idx, &v, &v2, &buf), 0);
	EXPECT_EQ(f, GSA_GDOI_SA_MATCH);
	EXPECT_EQ(idx, 7u);
	EXPECT_STREQ(v, "10.0.0.0/8");
	EXPECT_STREQ(v2, "10.1.0.0/16");
	free(buf);
	ASSERT_EQ(gsnc_line_edit("rekey transport multicast 239.1.1.1", &f, &idx, &v, &v2, &buf), 0);
	EXPECT_EQ(f, GSA_GDOI_REKEY_TRANSPORT);
	EXPECT_STREQ(v, "multicast");
	EXPECT_STREQ(v2, "239.1.1.1");
	free(buf);
	ASSERT_EQ(gsnc_line_edit("server local", &f, &idx, &v, &v2, &buf), 0);
	EXPECT_EQ(f, GSA_GDOI_SERVER_LOCAL);
	for (const char *bad : {"sa ipsec 0 profile x", "sa ipsec 70000 profile x", "sa ipsec 1 nothing x",
	                        "local identity a b", "identity number ", "router bgp 1", "", "sa ipsec 1 profile a b"})
		EXPECT_EQ(gsnc_line_edit(bad, &f, &idx, &v, &v2, &buf), -1) << bad;
}

TEST(GsncText, TheModelOfTheBlocksWritesThemBack)
{
	Blocks b(kRunning);
	gsa_gdoi *m = gsnc_blocks_model(&b.b);
	ASSERT_NE(m, nullptr);
	char *missing = gsa_gdoi_missing(m, "half");
	EXPECT_STRNE(missing, "");
	gsa_core_free(missing);
	gsnc_blocks again{};
	ASSERT_EQ(gsnc_model_blocks(m, &again), 0);
	ASSERT_EQ(again.n, 2u);
	EXPECT_STREQ(again.text[0], b.b.text[0]);
	gsnc_blocks_free(&again);
	gsa_gdoi_free(m);
	// the incomplete group is bgpd's alone
	gsnc_blocks_drop_incomplete(&b.b);
	ASSERT_EQ(b.b.n, 1u);
	EXPECT_STREQ(b.b.names[0], "blue");
}

TEST(GsncText, ANewGroupComesWholeWithItsLocalIdentityLast)
{
	Blocks from("");
	Blocks to(kRunning);
	gsnc_blocks_drop_incomplete(&to.b);
	size_t changed = 0;
	std::vector<std::string> c = commands(from.b, to.b, &changed);
	EXPECT_EQ(changed, 1u);
	ASSERT_EQ(c.size(), 11u);
	EXPECT_EQ(c[0], "configure terminal");
	EXPECT_EQ(c[1], "crypto gdoi group blue");
	EXPECT_EQ(c[9], "local identity ks.example.net");
	EXPECT_EQ(c[10], "exit");
}

TEST(GsncText, AChangedGroupIsEditedInPlace)
{
	Blocks from(kRunning);
	std::string changed_text = kRunning;
	changed_text.replace(changed_text.find(" member identity gm2.example.net\n"), 33, " member identity gm3.example.net\n");
	changed_text.replace(changed_text.find(" sa ipsec 1 profile aes256gcm16"), 31, " sa ipsec 1 profile aes128gcm16");
	Blocks to(changed_text);
	size_t changed = 0;
	std::vector<std::string> c = commands(from.b, to.b, &changed);
	EXPECT_EQ(changed, 1u);
	std::vector<std::string> want = {"configure terminal", "crypto gdoi group blue", "member identity gm3.example.net",
	                                 "sa ipsec 1 profile aes128gcm16", "no member identity gm2.example.net", "exit"};
	EXPECT_EQ(c, want);
	// and back, and nothing when they are the same
	EXPECT_EQ(commands(to.b, from.b, &changed).size(), 6u);
	EXPECT_EQ(commands(to.b, to.b, &changed), std::vector<std::string>{"configure terminal"});
	EXPECT_EQ(changed, 0u);
}

TEST(GsncText, AGroupThatGoesOrChangesRoleIsRemoved)
{
	Blocks from(kRunning);
	Blocks to("crypto gdoi group blue\n identity number 1234\n server address 192.0.2.1\n"
	          " server identity ks.example.net\n local identity gm1.example.net\n local address 192.0.2.11\nexit\n");
	size_t changed = 0;
	std::vector<std::string> c = commands(from.b, to.b, &changed);
	ASSERT_GE(c.size(), 4u);
	EXPECT_EQ(c[1], "no crypto gdoi group blue");
	EXPECT_EQ(c[2], "no crypto gdoi group half");
	EXPECT_EQ(c[3], "crypto gdoi group blue");
	EXPECT_EQ(c[c.size() - 2], "local identity gm1.example.net");
}

} // namespace
