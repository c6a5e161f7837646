// SPDX-License-Identifier: GPL-2.0-or-later
// The one source of randomness every core takes: injected, so that a test
// runs a core deterministically; OpenSslRandom in production.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace groupsec::crypto {

// A 256-bit key (AES-256, HKDF-SHA-256 output).
constexpr size_t kKey256Bytes = 32;
using Key256 = std::array<uint8_t, kKey256Bytes>;

class RandomSource {
public:
	virtual ~RandomSource() = default;
	virtual void fill(uint8_t *out, size_t len) = 0;
	// A fresh 256-bit key drawn with fill().
	Key256 key();
};

// RAND_bytes. Aborts the process if the OpenSSL DRBG fails: running on
// with predictable keys would be worse.
class OpenSslRandom : public RandomSource {
public:
	void fill(uint8_t *out, size_t len) override;
};

} // namespace groupsec::crypto
