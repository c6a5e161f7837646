// SPDX-License-Identifier: GPL-2.0-or-later
// Small text helpers of the settings readers and the notations built on
// them (addresses, identities, durations): trimming, quoting for error
// messages, strict decimal numbers, comma-separated lists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace groupsec::text {

bool is_digit(char c);
// Spaces and tabs off both ends.
std::string_view trim(std::string_view s);
// Any octet below 0x20, or DEL.
bool has_control(std::string_view s);
// ASCII case-insensitive equality.
bool equal_nocase(std::string_view a, std::string_view b);

// The value in double quotes for an error message: '"' and '\' escaped,
// control octets as \xNN.
std::string quote(std::string_view s);

// A decimal number up to max; nullopt for anything else (sign, hex,
// spaces, empty, above max).
std::optional<uint64_t> decimal(std::string_view s, uint64_t max);

// Comma-separated list, each element trimmed; an empty element stays
// empty so that the caller can reject it.
std::vector<std::string_view> split_list(std::string_view s);

} // namespace groupsec::text
