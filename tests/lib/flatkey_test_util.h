// SPDX-License-Identifier: GPL-2.0-or-later
// Deterministic randomness and time for the flat key table tests.
#pragma once

#include "groupsec/flatkey/crypto.h"

#include <random>

namespace groupsec::flatkey {
namespace test {

class SeededRandom : public RandomSource {
public:
	explicit SeededRandom(uint64_t seed) : gen_(seed) {}
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(gen_());
	}

private:
	std::mt19937_64 gen_;
};

class FakeClock : public Clock {
public:
	uint64_t now_ms() const override { return now; }
	uint64_t now = 1000;
};

} // namespace test
} // namespace groupsec::flatkey
