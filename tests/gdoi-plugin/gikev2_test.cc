#include "gdoi_core.h"
#include "gikev2.h"

#include <gtest/gtest.h>
#include <string>

using namespace groupsec::gdoi;

TEST(Gikev2, ExchangeTypesAreRfc9838CodePoints)
{
	EXPECT_EQ(exchange_name(34), "IKE_SA_INIT");
	EXPECT_EQ(exchange_name(39), "GSA_AUTH");
	EXPECT_EQ(exchange_name(40), "GSA_REGISTRATION");
	EXPECT_EQ(exchange_name(41), "GSA_REKEY");
	EXPECT_EQ(exchange_name(42), "GSA_INBAND_REKEY");
}

TEST(Gikev2, OtherExchangeTypesAreUnknown)
{
	for (int v = 0; v < 256; v++) {
		bool known = v == 34 || (v >= 39 && v <= 42);
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
	EXPECT_EQ(payload_name(53), "UNKNOWN");
}

TEST(GdoiCore, DescribesItselfWithThePortItUses)
{
	gdoi_core_t *core = gdoi_core_create();
	ASSERT_NE(core, nullptr);
	EXPECT_EQ(gdoi_core_port(core), 848);
	EXPECT_NE(std::string(gdoi_core_describe(core)).find("UDP port 848"), std::string::npos);
	gdoi_core_destroy(core);
}
