// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/json.h"

#include <gtest/gtest.h>

using groupsec::JsonWriter;

TEST(JsonWriter, NestedContainersGetCommasOnlyBetweenElements)
{
	JsonWriter w;
	w.begin_object()
		.key("a").value(1)
		.key("b").begin_array().value("x").value(true).null().end_array()
		.key("c").begin_object().end_object()
		.end_object();
	EXPECT_EQ(w.str(), R"({"a":1,"b":["x",true,null],"c":{}})");
	EXPECT_TRUE(w.complete());
}

TEST(JsonWriter, IncompleteWhileAContainerIsOpen)
{
	JsonWriter w;
	EXPECT_FALSE(w.complete());
	w.begin_array();
	EXPECT_FALSE(w.complete());
	w.end_array();
	EXPECT_TRUE(w.complete());
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters)
{
	std::string out;
	JsonWriter::quote(out, std::string_view("a\"b\\c\n\x01\x7f", 8));
	EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\x7f\"");
}

TEST(JsonWriter, UnsignedValuesKeepTheirFullRange)
{
	JsonWriter w;
	w.begin_array().value(uint64_t{18446744073709551615u}).value(int64_t{-5}).end_array();
	EXPECT_EQ(w.str(), "[18446744073709551615,-5]");
}
