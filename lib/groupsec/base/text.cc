// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/base/text.h"

#include <algorithm>
#include <cstdio>

namespace groupsec::text {

namespace {

bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s)
{
	while (!s.empty() && is_space(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && is_space(s.back()))
		s.remove_suffix(1);
	return s;
}

bool has_control(std::string_view s)
{
	return std::any_of(s.begin(), s.end(), [](char c) {
		auto u = static_cast<unsigned char>(c);
		return u < 0x20 || u == 0x7f;
	});
}

bool equal_nocase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (size_t i = 0; i < a.size(); i++) {
		if (lower(a[i]) != lower(b[i]))
			return false;
	}
	return true;
}

std::string quote(std::string_view s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20 || c == 0x7f) {
			char buf[8];
			snprintf(buf, sizeof(buf), "\\x%02x", c);
			out += buf;
		} else {
			out += static_cast<char>(c);
		}
	}
	return out + "\"";
}

std::optional<uint64_t> decimal(std::string_view s, uint64_t max)
{
	if (s.empty())
		return std::nullopt;
	uint64_t v = 0;
	for (char c : s) {
		if (!is_digit(c))
			return std::nullopt;
		uint64_t d = static_cast<uint64_t>(c - '0');
		if (d > max || v > (max - d) / 10)
			return std::nullopt; // v * 10 + d > max, without overflowing
		v = v * 10 + d;
	}
	return v;
}

std::vector<std::string_view> split_list(std::string_view s)
{
	std::vector<std::string_view> out;
	size_t start = 0;
	for (;;) {
		size_t comma = s.find(',', start);
		out.push_back(trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
		if (comma == std::string_view::npos)
			return out;
		start = comma + 1;
	}
}

} // namespace groupsec::text
