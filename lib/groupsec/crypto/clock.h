// SPDX-License-Identifier: GPL-2.0-or-later
// The one clock every core reads: injected, so that a test moves time by
// hand; MonotonicClock in production.
#pragma once

#include <cstdint>

namespace groupsec::crypto {

// Monotonic milliseconds.
class Clock {
public:
	virtual ~Clock() = default;
	virtual uint64_t now_ms() const = 0;
};

// std::chrono::steady_clock.
class MonotonicClock : public Clock {
public:
	uint64_t now_ms() const override;
};

} // namespace groupsec::crypto
