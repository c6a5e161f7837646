// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/base/hex.h"

namespace groupsec {

namespace {

int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace

std::string to_hex(ByteView b)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.reserve(b.size() * 2);
	for (uint8_t v : b) {
		out += digits[v >> 4];
		out += digits[v & 15];
	}
	return out;
}

std::optional<Bytes> parse_hex(std::string_view s)
{
	if (s.empty() || s.size() % 2)
		return std::nullopt;
	Bytes out;
	out.reserve(s.size() / 2);
	for (size_t i = 0; i < s.size(); i += 2) {
		int hi = digit_value(s[i]), lo = digit_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return std::nullopt;
		out.push_back(static_cast<uint8_t>(hi << 4 | lo));
	}
	return out;
}

} // namespace groupsec
