// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/config: the typed settings reader and durations.
#include <gtest/gtest.h>

#include "groupsec/config/settings.h"

namespace groupsec::config {
namespace {

class Settings {
public:
	Settings(std::initializer_list<std::pair<std::string, std::string>> kv)
	{
		for (const auto &p : kv)
			store_[p.first] = p.second;
		for (const auto &p : store_)
			values[p.first] = &p.second;
	}
	std::map<std::string, const std::string *> values;

private:
	std::map<std::string, std::string> store_;
};

enum class Mode { Fast, Slow };

TEST(Duration, Units)
{
	EXPECT_EQ(parse_duration("90").value(), 90u);
	EXPECT_EQ(parse_duration(" 90s ").value(), 90u);
	EXPECT_EQ(parse_duration("5m").value(), 300u);
	EXPECT_EQ(parse_duration("1h").value(), 3600u);
	EXPECT_EQ(parse_duration("2d").value(), 172800u);
	EXPECT_EQ(parse_duration("4294967295").value(), 4294967295u);
	EXPECT_EQ(parse_duration("x").error().message,
		  "\"x\" is not a duration (a number of seconds, optionally with s, m, h or d)");
	EXPECT_EQ(parse_duration("5w").error().message, "\"5w\" is not a duration (unit \"w\" is not s, m, h or d)");
	EXPECT_EQ(parse_duration("49711d").error().message, "\"49711d\" is not a duration (above 4294967295 seconds)");
}

TEST(SettingsReader, OptionalKeysLeaveDefaults)
{
	Settings s({});
	SettingsReader r("groups.blue", s.values);
	uint16_t n = 7;
	uint32_t d = 9;
	Mode m = Mode::Slow;
	std::optional<Bytes> mc;
	EXPECT_TRUE(r.number("n", 1, 10, n));
	EXPECT_TRUE(r.duration("d", d));
	EXPECT_TRUE(r.choice<Mode>("m", {{"fast", Mode::Fast}, {"slow", Mode::Slow}}, m));
	EXPECT_TRUE(r.multicast("mc", mc));
	EXPECT_EQ(n, 7);
	EXPECT_EQ(d, 9u);
	EXPECT_EQ(m, Mode::Slow);
	EXPECT_FALSE(mc);
	EXPECT_EQ(r.text("d", "1h"), "1h");
}

TEST(SettingsReader, RequiredKeyMissing)
{
	Settings s({});
	SettingsReader r("groups.blue", s.values);
	Bytes ip;
	EXPECT_FALSE(r.unicast("local_addrs", ip));
	EXPECT_EQ(r.problem(), "groups.blue.local_addrs: missing");
}

TEST(SettingsReader, TypedValues)
{
	Settings s({{"n", " 12 "},
		    {"d", "5m"},
		    {"short", "1h"},
		    {"m", "fast"},
		    {"addr", "192.0.2.1"},
		    {"addrs", "192.0.2.1, 2001:db8::1"},
		    {"mc", "239.1.1.1"},
		    {"ts", "10.0.0.0/8[udp]"}});
	SettingsReader r("groups.blue", s.values);
	uint16_t n = 0, sh = 0;
	uint32_t d = 0;
	Mode m = Mode::Slow;
	Bytes ip;
	std::vector<Bytes> ips;
	std::optional<Bytes> mc;
	net::TrafficSelector ts;
	ASSERT_TRUE(r.number("n", 1, 16, n));
	ASSERT_TRUE(r.duration("d", d));
	ASSERT_TRUE(r.short_duration("short", sh));
	ASSERT_TRUE(r.choice<Mode>("m", {{"fast", Mode::Fast}, {"slow", Mode::Slow}}, m));
	ASSERT_TRUE(r.unicast("addr", ip));
	ASSERT_TRUE(r.unicast_list("addrs", ips));
	ASSERT_TRUE(r.multicast("mc", mc));
	ASSERT_TRUE(r.traffic_selector("ts", ts));
	EXPECT_EQ(n, 12);
	EXPECT_EQ(d, 300u);
	EXPECT_EQ(sh, 3600);
	EXPECT_EQ(m, Mode::Fast);
	EXPECT_EQ(ip, (Bytes{192, 0, 2, 1}));
	ASSERT_EQ(ips.size(), 2u);
	EXPECT_EQ(ips[1].size(), 16u);
	EXPECT_EQ(mc, (Bytes{239, 1, 1, 1}));
	EXPECT_EQ(ts.ip_protocol, 17);
	EXPECT_TRUE(r.problem().empty());
}

struct Bad {
	const char *key, *value, *problem;
};

TEST(SettingsReader, ProblemsNameKeyAndValue)
{
	const Bad cases[] = {
		{"n", "17", "groups.blue.n: \"17\" is not a number from 1 to 16"},
		{"n", "-1", "groups.blue.n: \"-1\" is not a number from 1 to 16"},
		{"short", "1d", "groups.blue.short: \"1d\" is above 65535 seconds"},
		{"d", "1x", "groups.blue.d: \"1x\" is not a duration (unit \"x\" is not s, m, h or d)"},
		{"m", "medium", "groups.blue.m: \"medium\" is not fast, slow or idle"},
		{"addr", "nowhere", "groups.blue.addr: \"nowhere\" is not an IP address"},
		{"addr", "239.1.1.1", "groups.blue.addr: \"239.1.1.1\" is not a unicast address"},
		{"addr", "0.0.0.0", "groups.blue.addr: \"0.0.0.0\" is not a unicast address"},
		{"addr", "192.0.2.1, 192.0.2.2", "groups.blue.addr: \"192.0.2.1, 192.0.2.2\" is more than one address"},
		{"addrs", "", "groups.blue.addrs: empty list"},
		{"addrs", "192.0.2.1,,192.0.2.2", "groups.blue.addrs: \"192.0.2.1,,192.0.2.2\" has an empty list element"},
		{"addrs", "192.0.2.1, 192.0.2.1", "groups.blue.addrs: \"192.0.2.1\" is listed twice"},
		{"mc", "192.0.2.1", "groups.blue.mc: \"192.0.2.1\" is not a multicast address"},
		{"ts", "10.0.0.0/40", "groups.blue.ts: \"10.0.0.0/40\" is not a traffic selector (prefix length above 32)"},
	};
	for (const Bad &c : cases) {
		Settings s({{c.key, c.value}});
		SettingsReader r("groups.blue", s.values);
		uint16_t n = 0;
		uint32_t d = 0;
		Mode m = Mode::Fast;
		Bytes ip;
		std::vector<Bytes> ips;
		std::optional<Bytes> mc;
		net::TrafficSelector ts;
		std::string k = c.key;
		bool ok = k == "n" ? r.number("n", 1, 16, n)
			: k == "short" ? r.short_duration("short", n)
			: k == "d" ? r.duration("d", d)
			: k == "m" ? r.choice<Mode>("m", {{"fast", Mode::Fast}, {"slow", Mode::Slow}, {"idle", Mode::Slow}}, m)
			: k == "addr" ? r.unicast("addr", ip)
			: k == "addrs" ? r.unicast_list("addrs", ips)
			: k == "mc" ? r.multicast("mc", mc)
				    : r.traffic_selector("ts", ts);
		EXPECT_FALSE(ok) << c.value;
		EXPECT_EQ(r.problem(), c.problem);
	}
}

TEST(SettingsReader, ValuesAndListsThroughAParser)
{
	auto parse = [](std::string_view v) -> Result<int> {
		auto n = text::decimal(v, 100);
		if (!n)
			return make_error(WireError::BadValue, text::quote(v) + " is not a percentage");
		return static_cast<int>(*n);
	};
	Settings s({{"one", "42"}, {"many", "1, 2, 3"}, {"dup", "1, 1"}, {"bad", "1, x"}});
	SettingsReader r("sec", s.values);
	int one = 0;
	std::vector<int> many, dup, bad;
	ASSERT_TRUE(r.value("one", parse, one));
	EXPECT_EQ(one, 42);
	ASSERT_TRUE(r.list("many", parse, many));
	EXPECT_EQ(many, (std::vector<int>{1, 2, 3}));
	EXPECT_FALSE(r.list("dup", parse, dup));
	EXPECT_EQ(r.problem(), "sec.dup: \"1\" is listed twice");
	EXPECT_FALSE(r.list("bad", parse, bad));
	EXPECT_EQ(r.problem(), "sec.bad: \"x\" is not a percentage");
}

} // namespace
} // namespace groupsec::config
