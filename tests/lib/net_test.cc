// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/net: addresses, prefixes, ranges and traffic selectors.
#include <gtest/gtest.h>

#include "groupsec/net/address.h"

namespace groupsec::net {
namespace {

TEST(Address, ParsesBothFamilies)
{
	EXPECT_EQ(parse_ip("192.0.2.1"), (Bytes{192, 0, 2, 1}));
	auto v6 = parse_ip("2001:db8::1");
	ASSERT_TRUE(v6);
	EXPECT_EQ(v6->size(), 16u);
	EXPECT_EQ((*v6)[0], 0x20);
	EXPECT_EQ((*v6)[15], 1);
}

TEST(Address, RefusesEverythingElse)
{
	for (const char *bad : {"", "192.0.2", "192.0.2.256", "host.example", "10.0.0.0/8", " 192.0.2.1",
				"fe80::1%eth0", "::g"})
		EXPECT_FALSE(parse_ip(bad)) << bad;
	EXPECT_FALSE(parse_ip(std::string_view("10.0.0.1\0", 9)));
	EXPECT_FALSE(parse_ip(std::string(80, '1')));
}

TEST(Address, TextRoundTrips)
{
	for (const char *s : {"192.0.2.1", "0.0.0.0", "2001:db8::1", "::", "ff02::1:2"})
		EXPECT_EQ(ip_text(*parse_ip(s)), s);
	EXPECT_EQ(ip_text(Bytes{1, 2, 3}), "");
}

TEST(Address, Classes)
{
	EXPECT_TRUE(is_multicast(*parse_ip("239.1.1.1")));
	EXPECT_TRUE(is_multicast(*parse_ip("ff02::1")));
	EXPECT_FALSE(is_multicast(*parse_ip("192.0.2.1")));
	EXPECT_TRUE(is_unspecified(*parse_ip("::")));
	EXPECT_FALSE(is_unspecified(*parse_ip("0.0.0.1")));
	EXPECT_STREQ(family_name(*parse_ip("::1")), "IPv6");
}

TEST(Range, StrictPrefixAndRange)
{
	auto p = parse_range("10.1.0.0/16", PrefixForm::Strict);
	ASSERT_TRUE(std::holds_alternative<TrafficSelector>(p));
	const auto &ts = std::get<TrafficSelector>(p);
	EXPECT_EQ(ts.start_address, (Bytes{10, 1, 0, 0}));
	EXPECT_EQ(ts.end_address, (Bytes{10, 1, 255, 255}));
	EXPECT_EQ(ts.ip_protocol, 0);
	EXPECT_EQ(ts.start_port, 0);
	EXPECT_EQ(ts.end_port, 0xffff);
	EXPECT_EQ(range_text(ts), "10.1.0.0/16");

	auto r = parse_range("10.1.0.1-10.1.0.9", PrefixForm::Strict);
	ASSERT_TRUE(std::holds_alternative<TrafficSelector>(r));
	EXPECT_EQ(range_text(std::get<TrafficSelector>(r)), "10.1.0.1-10.1.0.9");
}

PrefixProblem problem(std::string_view s, PrefixForm f)
{
	auto r = parse_range(s, f);
	EXPECT_TRUE(std::holds_alternative<PrefixError>(r)) << s;
	return std::holds_alternative<PrefixError>(r) ? std::get<PrefixError>(r).problem : PrefixProblem::NotAnAddress;
}

TEST(Range, StrictProblems)
{
	EXPECT_EQ(problem("10.1.0.1", PrefixForm::Strict), PrefixProblem::NoLength);
	EXPECT_EQ(problem("10.1.0.1/16", PrefixForm::Strict), PrefixProblem::HostBits);
	EXPECT_EQ(problem("10.1.0.0/33", PrefixForm::Strict), PrefixProblem::LengthTooLarge);
	EXPECT_EQ(problem("10.1.0.0/x", PrefixForm::Strict), PrefixProblem::BadLength);
	EXPECT_EQ(problem("10.1.0.0/0016", PrefixForm::Strict), PrefixProblem::BadLength);
	EXPECT_EQ(problem("10.1.0.9-10.1.0.1", PrefixForm::Strict), PrefixProblem::Backwards);
	EXPECT_EQ(problem("10.1.0.1-::1", PrefixForm::Strict), PrefixProblem::MixedFamilies);
	EXPECT_EQ(problem("nowhere/8", PrefixForm::Strict), PrefixProblem::NotAnAddress);
	auto e = std::get<PrefixError>(parse_range("10.1.2.3/16", PrefixForm::Strict));
	EXPECT_EQ(e.network, "10.1.0.0/16");
}

TEST(Range, LenientClearsHostBitsAndTakesHosts)
{
	auto p = parse_range(" 10.1.2.3 / 16 ", PrefixForm::Lenient);
	ASSERT_TRUE(std::holds_alternative<TrafficSelector>(p));
	EXPECT_EQ(range_text(std::get<TrafficSelector>(p)), "10.1.0.0/16");
	auto h = parse_range("2001:db8::1", PrefixForm::Lenient);
	ASSERT_TRUE(std::holds_alternative<TrafficSelector>(h));
	EXPECT_EQ(range_text(std::get<TrafficSelector>(h)), "2001:db8::1/128");
}

TEST(Range, TextOfOddSelectors)
{
	TrafficSelector odd;
	odd.start_address = Bytes{1, 2, 3};
	odd.end_address = Bytes{1, 2, 3};
	EXPECT_EQ(range_text(odd), "?");
	EXPECT_EQ(prefix_length(Bytes{10, 0, 0, 0}, Bytes{10, 0, 0, 255}), 24u);
	EXPECT_FALSE(prefix_length(Bytes{10, 0, 0, 1}, Bytes{10, 0, 0, 255}));
}

TEST(TrafficSelector, SwanctlNotation)
{
	auto t = parse_traffic_selector("10.0.0.0/8[tcp/1024-65535]");
	ASSERT_TRUE(t.ok()) << t.error().message;
	EXPECT_EQ(t.value().ip_protocol, 6);
	EXPECT_EQ(t.value().start_port, 1024);
	EXPECT_EQ(t.value().end_port, 65535);
	EXPECT_EQ(t.value().ts_type, static_cast<uint8_t>(TsType::Ipv4AddrRange));

	auto icmp = parse_traffic_selector("2001:db8::/32[ipv6-icmp/128]");
	ASSERT_TRUE(icmp.ok());
	EXPECT_EQ(icmp.value().ip_protocol, 58);
	EXPECT_EQ(icmp.value().start_port, 128 << 8);
	EXPECT_EQ(icmp.value().ts_type, static_cast<uint8_t>(TsType::Ipv6AddrRange));

	auto opaque = parse_traffic_selector("10.0.0.1[udp/opaque]");
	ASSERT_TRUE(opaque.ok());
	EXPECT_EQ(opaque.value().start_port, 0xffff);
	EXPECT_EQ(opaque.value().end_port, 0);
	EXPECT_EQ(parse_traffic_selector("10.0.0.0/8[any]").value(), parse_traffic_selector("10.0.0.0/8").value());
}

TEST(TrafficSelector, ReasonsForRefusal)
{
	struct Case {
		const char *in;
		const char *why;
	} cases[] = {
		{"", "empty"},
		{"10.0.0.0/8[tcp", "\"[\" without a closing \"]\" at the end"},
		{"10.0.0.0/8[bogus]", "unknown protocol \"bogus\""},
		{"10.0.0.0/8[tcp/70000]", "port \"70000\" is not a number or range from 0 to 65535"},
		{"10.0.0.0/8[tcp/9-1]", "port range \"9-1\" ends below its start"},
		{"dynamic", "\"dynamic\" has no meaning in a group policy"},
		{"10.0.0.1-host", "range bounds must be IP addresses"},
		{"10.0.0.1-::1", "range bounds of different address families"},
		{"10.0.0.9-10.0.0.1", "range ends below its start"},
		{"host.example", "not an IP address or subnet"},
		{"10.0.0.0/x", "prefix length is not a number"},
		{"10.0.0.0/33", "prefix length above 32"},
	};
	for (const auto &c : cases) {
		auto r = parse_traffic_selector(c.in);
		ASSERT_FALSE(r.ok()) << c.in;
		EXPECT_EQ(r.error().message, c.why) << c.in;
		EXPECT_EQ(r.error().code, WireError::BadValue);
	}
}

} // namespace
} // namespace groupsec::net
