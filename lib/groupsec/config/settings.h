// SPDX-License-Identifier: GPL-2.0-or-later
// A typed reader over flattened settings ({"tek-1.local_ts", "10.0.0.0/8"}
// below a section such as "groups.blue"): each getter reads one key,
// checks and converts its value, and on the first bad value returns false
// leaving "<section>.<key>: <reason>" in problem(). Getters of optional
// keys leave the output alone when the key is absent.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "groupsec/base/result.h"
#include "groupsec/base/text.h"
#include "groupsec/net/address.h"

namespace groupsec::config {

// Seconds from "90", "90s", "5m", "1h", "2d" (strongSwan's time values);
// the error message is "\"<text>\" is not a duration (<reason>)".
Result<uint32_t> parse_duration(std::string_view s);

class SettingsReader {
public:
	// section: the key path in front of every key ("groups.blue");
	// values: the settings by key below it, not owned.
	SettingsReader(std::string section, const std::map<std::string, const std::string *> &values)
		: section_(std::move(section)), values_(values)
	{
	}

	const std::string &problem() const { return problem_; }
	std::string where(const std::string &key) const { return section_ + "." + key; }
	const std::string *find(const std::string &key) const;
	// The value as written (trimmed), or the default's text.
	std::string text(const std::string &key, const char *fallback) const;
	// Records the problem; always false.
	bool fail(const std::string &key, const std::string &message);
	// The value; a "missing" problem if absent.
	const std::string *required(const std::string &key);

	// One of the words (optional key).
	template <typename T>
	bool choice(const std::string &key, const std::vector<std::pair<const char *, T>> &words, T &out)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		std::string_view t = text::trim(*v);
		for (const auto &w : words) {
			if (t == w.first) {
				out = w.second;
				return true;
			}
		}
		std::string names;
		for (size_t i = 0; i < words.size(); i++)
			names += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + std::string(words[i].first);
		return fail(key, text::quote(*v) + " is not " + names);
	}

	// A decimal number from lo to hi (optional key); hi must fit T.
	template <typename T> bool number(const std::string &key, uint64_t lo, uint64_t hi, T &out)
	{
		uint64_t v = out;
		if (!read_number(key, lo, hi, v))
			return false;
		out = static_cast<T>(v);
		return true;
	}
	// A duration in seconds (optional key).
	bool duration(const std::string &key, uint32_t &out);
	// A duration of at most 65535 seconds (optional key).
	bool short_duration(const std::string &key, uint16_t &out);

	// A unicast IPv4 or IPv6 address, one only (required key).
	bool unicast(const std::string &key, Bytes &out);
	// A comma-separated list of unicast addresses, none twice (required).
	bool unicast_list(const std::string &key, std::vector<Bytes> &out);
	// A multicast address (optional key).
	bool multicast(const std::string &key, std::optional<Bytes> &out);
	// A traffic selector in swanctl notation (required key).
	bool traffic_selector(const std::string &key, net::TrafficSelector &out);

	// A value parse() converts to a Result<T> (required key); parse's
	// error message is the whole reason.
	template <typename T, typename Parse> bool value(const std::string &key, Parse &&parse, T &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		Result<T> r = parse(std::string_view(*v));
		if (!r.ok())
			return fail(key, r.error().message);
		out = std::move(r).value();
		return true;
	}

	// A non-empty comma-separated list of such values, none twice
	// (required key).
	template <typename T, typename Parse> bool list(const std::string &key, Parse &&parse, std::vector<T> &out)
	{
		const std::string *v = required(key);
		if (!v)
			return false;
		if (text::trim(*v).empty())
			return fail(key, "empty list");
		for (std::string_view item : text::split_list(*v)) {
			if (item.empty())
				return fail(key, text::quote(*v) + " has an empty list element");
			Result<T> r = parse(item);
			if (!r.ok())
				return fail(key, r.error().message);
			if (std::find(out.begin(), out.end(), r.value()) != out.end())
				return fail(key, text::quote(item) + " is listed twice");
			out.push_back(std::move(r).value());
		}
		return true;
	}

private:
	bool read_number(const std::string &key, uint64_t lo, uint64_t hi, uint64_t &out);
	bool unicast_item(const std::string &key, std::string_view item, Bytes &out);

	std::string section_;
	const std::map<std::string, const std::string *> &values_;
	std::string problem_;
};

} // namespace groupsec::config
