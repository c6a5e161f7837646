// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers shared by the G-IKEv2 codec tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>

#include "gikev2_result.h"

namespace groupsec::gdoi::test {

// "0b 00 00 00 67" -> bytes; spaces and newlines are ignored.
inline Bytes hex(const std::string &s)
{
	Bytes out;
	int hi = -1;
	for (char c : s) {
		if (std::isspace(static_cast<unsigned char>(c)))
			continue;
		int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
		if (hi < 0) {
			hi = v;
		} else {
			out.push_back(static_cast<uint8_t>(hi << 4 | v));
			hi = -1;
		}
	}
	return out;
}

inline Bytes concat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const Bytes &p : parts)
		out.insert(out.end(), p.begin(), p.end());
	return out;
}

inline Bytes repeat(uint8_t v, size_t n)
{
	return Bytes(n, v);
}

} // namespace groupsec::gdoi::test
