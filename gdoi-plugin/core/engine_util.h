// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's text helpers, kept in one place: its hex encoder. Address
// parsing and printing and Identity printing (declared with their types in
// gdoi_engine.h) are defined in engine_util.cc beside it. Internal to the
// core.
#pragma once

#include <string>

#include "gikev2_result.h"

namespace groupsec::gdoi::detail {

// Lower-case hex of b (the engine's one hex encoder).
std::string hex_text(ByteView b);

} // namespace groupsec::gdoi::detail
