// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/config/settings.h"

namespace groupsec::config {

using text::quote;
using text::trim;

Result<uint32_t> parse_duration(std::string_view text)
{
	constexpr uint64_t kMax = 0xffffffffu;
	auto fail = [&](const std::string &why) {
		return make_error(WireError::BadValue, quote(text) + " is not a duration (" + why + ")");
	};
	std::string_view s = trim(text);
	size_t digits = 0;
	while (digits < s.size() && text::is_digit(s[digits]))
		digits++;
	if (digits == 0)
		return fail("a number of seconds, optionally with s, m, h or d");
	std::string_view unit = trim(s.substr(digits));
	uint64_t scale = 1;
	if (unit == "m")
		scale = 60;
	else if (unit == "h")
		scale = 3600;
	else if (unit == "d")
		scale = 86400;
	else if (!unit.empty() && unit != "s")
		return fail("unit " + quote(unit) + " is not s, m, h or d");
	auto n = text::decimal(s.substr(0, digits), kMax);
	if (!n || *n * scale > kMax)
		return fail("above 4294967295 seconds");
	return static_cast<uint32_t>(*n * scale);
}

const std::string *SettingsReader::find(const std::string &key) const
{
	auto it = values_.find(key);
	return it == values_.end() ? nullptr : it->second;
}

std::string SettingsReader::text(const std::string &key, const char *fallback) const
{
	const std::string *v = find(key);
	return v ? std::string(trim(*v)) : fallback;
}

bool SettingsReader::fail(const std::string &key, const std::string &message)
{
	problem_ = where(key) + ": " + message;
	return false;
}

const std::string *SettingsReader::required(const std::string &key)
{
	const std::string *v = find(key);
	if (!v)
		fail(key, "missing");
	return v;
}

bool SettingsReader::read_number(const std::string &key, uint64_t lo, uint64_t hi, uint64_t &out)
{
	const std::string *v = find(key);
	if (!v)
		return true;
	auto n = text::decimal(trim(*v), hi);
	if (!n || *n < lo)
		return fail(key, quote(*v) + " is not a number from " + std::to_string(lo) + " to " + std::to_string(hi));
	out = *n;
	return true;
}

bool SettingsReader::duration(const std::string &key, uint32_t &out)
{
	const std::string *v = find(key);
	if (!v)
		return true;
	auto d = parse_duration(*v);
	if (!d.ok())
		return fail(key, d.error().message);
	out = d.value();
	return true;
}

bool SettingsReader::short_duration(const std::string &key, uint16_t &out)
{
	uint32_t d = out;
	if (!duration(key, d))
		return false;
	if (d > 0xffff)
		return fail(key, quote(*find(key)) + " is above 65535 seconds");
	out = static_cast<uint16_t>(d);
	return true;
}

bool SettingsReader::unicast_item(const std::string &key, std::string_view item, Bytes &out)
{
	auto ip = net::parse_ip(trim(item));
	if (!ip)
		return fail(key, quote(item) + " is not an IP address");
	if (net::is_multicast(*ip) || net::is_unspecified(*ip))
		return fail(key, quote(item) + " is not a unicast address");
	out = std::move(*ip);
	return true;
}

bool SettingsReader::unicast(const std::string &key, Bytes &out)
{
	const std::string *v = required(key);
	if (!v)
		return false;
	if (v->find(',') != std::string::npos)
		return fail(key, quote(*v) + " is more than one address");
	return unicast_item(key, *v, out);
}

bool SettingsReader::unicast_list(const std::string &key, std::vector<Bytes> &out)
{
	const std::string *v = required(key);
	if (!v)
		return false;
	if (trim(*v).empty())
		return fail(key, "empty list");
	for (std::string_view item : text::split_list(*v)) {
		if (item.empty())
			return fail(key, quote(*v) + " has an empty list element");
		Bytes ip;
		if (!unicast_item(key, item, ip))
			return false;
		if (std::find(out.begin(), out.end(), ip) != out.end())
			return fail(key, quote(item) + " is listed twice");
		out.push_back(std::move(ip));
	}
	return true;
}

bool SettingsReader::multicast(const std::string &key, std::optional<Bytes> &out)
{
	const std::string *v = find(key);
	if (!v)
		return true;
	auto ip = net::parse_ip(trim(*v));
	if (!ip)
		return fail(key, quote(*v) + " is not an IP address");
	if (!net::is_multicast(*ip))
		return fail(key, quote(*v) + " is not a multicast address");
	out = std::move(*ip);
	return true;
}

bool SettingsReader::traffic_selector(const std::string &key, net::TrafficSelector &out)
{
	const std::string *v = required(key);
	if (!v)
		return false;
	auto ts = net::parse_traffic_selector(*v);
	if (!ts.ok())
		return fail(key, quote(*v) + " is not a traffic selector (" + ts.error().message + ")");
	out = std::move(ts).value();
	return true;
}

} // namespace groupsec::config
