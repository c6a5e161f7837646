// SPDX-License-Identifier: GPL-2.0-or-later
// Hexadecimal text of bytes: the one encoder and decoder of the project
// (key logs, identities such as "@#0a1b", control socket output).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"

namespace groupsec {

// Lower-case digits, two per byte, no separator; "" for no bytes.
std::string to_hex(ByteView b);

// An even number of hex digits (either case) to bytes; nullopt for an
// empty string, an odd count or any other character.
std::optional<Bytes> parse_hex(std::string_view s);

} // namespace groupsec
