// SPDX-License-Identifier: GPL-2.0-or-later
#include "gdoi_core.h"
#include "gdoi_core_env_util.h"
#include "gikev2.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>
#include <string>

using namespace groupsec::gdoi;
using namespace groupsec::gdoi::test;

TEST(Gikev2, ExchangeTypesAreRfc9838CodePoints)
{
	EXPECT_EQ(exchange_name(34), "IKE_SA_INIT");
	EXPECT_EQ(exchange_name(39), "GSA_AUTH");
	EXPECT_EQ(exchange_name(40), "GSA_REGISTRATION");
	EXPECT_EQ(exchange_name(41), "GSA_REKEY");
	EXPECT_EQ(exchange_name(42), "GSA_INBAND_REKEY");
	EXPECT_EQ(exchange_name(37), "INFORMATIONAL");
}

TEST(Gikev2, OtherExchangeTypesAreUnknown)
{
	for (int v = 0; v < 256; v++) {
		bool known = v == 34 || v == 37 || (v >= 39 && v <= 42);
		EXPECT_EQ(exchange_type(static_cast<uint8_t>(v)).has_value(), known) << v;
		if (!known) {
			EXPECT_EQ(exchange_name(static_cast<uint8_t>(v)), "UNKNOWN") << v;
		}
	}
}

TEST(Gikev2, GroupPayloadNames)
{
	EXPECT_EQ(payload_name(50), "IDg");
	EXPECT_EQ(payload_name(51), "GSA");
	EXPECT_EQ(payload_name(52), "KD");
	EXPECT_EQ(payload_name(46), "SK");
	EXPECT_EQ(payload_name(53), "SKF");
	EXPECT_EQ(payload_name(54), "UNKNOWN");
}

TEST(GdoiCore, DescribesItselfWithThePortItUses)
{
	RecordingEnv rec;
	gdoi_core_env_t env = rec.env();
	gdoi_core_t *core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	EXPECT_EQ(gdoi_core_port(core), 848);
	EXPECT_NE(std::string(gdoi_core_describe(core)).find("UDP port 848"), std::string::npos);
	gdoi_core_destroy(core);
}

TEST(GdoiCore, LoadsGroupsAndKeepsThemOnABadConfiguration)
{
	RecordingEnv rec;
	gdoi_core_env_t env = rec.env();
	gdoi_core_t *core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	std::string err;
	ASSERT_EQ(load(core, kBlueMember, err), 1) << err;
	gdoi_addr_t addrs[4];
	ASSERT_EQ(gdoi_core_local_addrs(core, addrs, 4), 1u);
	EXPECT_EQ(addrs[0].len, 4);
	EXPECT_EQ(addrs[0].ip[3], 11);
	EXPECT_EQ(addrs[0].port, 848);

	auto bad = kBlueMember;
	bad[3].second = "192.0.2.300";
	EXPECT_EQ(load(core, bad, err), -1);
	EXPECT_NE(err.find("groups.blue.local_addrs"), std::string::npos) << err;
	// the group loaded before is still there
	ASSERT_EQ(gdoi_core_local_addrs(core, addrs, 4), 1u);
	EXPECT_EQ(addrs[0].ip[3], 11);

	auto own = kBlueMember;
	own[6].second = "192.0.2.11"; // the member's own address as a tunnel endpoint
	EXPECT_EQ(load(core, own, err), -1);
	EXPECT_NE(err.find("own address"), std::string::npos) << err;
	gdoi_core_destroy(core);
}

TEST(GdoiCore, ControlConnectionAnswersVici)
{
	RecordingEnv rec;
	gdoi_core_env_t env = rec.env();
	gdoi_core_t *core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	std::string err;
	ASSERT_EQ(load(core, kBlueMember, err), 1) << err;
	gdoi_control_conn_t *conn = gdoi_core_control_open(core);
	ASSERT_NE(conn, nullptr);
	// CMD_REQUEST "list-endpoints" { group = blue }
	std::vector<uint8_t> msg = {0, 14};
	const std::string cmd = "list-endpoints";
	msg.insert(msg.end(), cmd.begin(), cmd.end());
	msg.insert(msg.end(), {3, 5, 'g', 'r', 'o', 'u', 'p', 0, 4, 'b', 'l', 'u', 'e'});
	std::vector<uint8_t> framed = {0, 0, 0, static_cast<uint8_t>(msg.size())};
	framed.insert(framed.end(), msg.begin(), msg.end());
	uint8_t *out = nullptr;
	size_t out_len = 0;
	ASSERT_TRUE(gdoi_core_control_input(conn, framed.data(), framed.size(), &out, &out_len));
	ASSERT_GT(out_len, 5u);
	EXPECT_EQ(out[4], 1) << "CMD_RESPONSE";
	std::string reply(reinterpret_cast<char *>(out), out_len);
	EXPECT_NE(reply.find("192.0.2.12"), std::string::npos);
	EXPECT_NE(reply.find("10.2.0.0/24"), std::string::npos);
	free(out);
	// a packet type a client may not send closes the connection
	std::vector<uint8_t> bogus = {0, 0, 0, 1, 7};
	out = nullptr;
	EXPECT_FALSE(gdoi_core_control_input(conn, bogus.data(), bogus.size(), &out, &out_len));
	free(out);
	gdoi_core_control_close(conn);
	gdoi_core_destroy(core);
}
