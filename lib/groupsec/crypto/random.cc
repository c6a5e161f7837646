// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/random.h"

#include <chrono>
#include <cstdlib>

#include <openssl/rand.h>

#include "groupsec/crypto/clock.h"

namespace groupsec::crypto {

Key256 RandomSource::key()
{
	Key256 k;
	fill(k.data(), k.size());
	return k;
}

void OpenSslRandom::fill(uint8_t *out, size_t len)
{
	if (len && RAND_bytes(out, static_cast<int>(len)) != 1)
		abort();
}

uint64_t MonotonicClock::now_ms() const
{
	using namespace std::chrono;
	return static_cast<uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

} // namespace groupsec::crypto
