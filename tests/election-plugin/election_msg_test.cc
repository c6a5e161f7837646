// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_core.h"
#include "election_msg.h"

#include <gtest/gtest.h>
#include <string>

using namespace groupsec::election;

TEST(ElectionMsg, NamesEveryMessageOfTheProtocol)
{
	EXPECT_EQ(message_name(1), "LEADER_R_U_THERE");
	EXPECT_EQ(message_name(2), "LEADER_ACK");
	EXPECT_EQ(message_name(3), "ELECTION_CALL");
	EXPECT_EQ(message_name(4), "CANDIDACY");
	EXPECT_EQ(message_name(5), "VOTE");
	EXPECT_EQ(message_name(6), "VICTORY");
}

TEST(ElectionMsg, RejectsValuesOutsideTheProtocol)
{
	EXPECT_FALSE(message_type(0));
	EXPECT_FALSE(message_type(7));
	EXPECT_FALSE(message_type(255));
	EXPECT_EQ(message_name(0), "UNKNOWN");
}

TEST(ElectionCore, DescribesItselfWithThePortItUses)
{
	election_core_t *core = election_core_create();
	ASSERT_NE(core, nullptr);
	EXPECT_EQ(election_core_port(core), 849);
	EXPECT_NE(std::string(election_core_describe(core)).find("UDP port 849"), std::string::npos);
	election_core_destroy(core);
}
