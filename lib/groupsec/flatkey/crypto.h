// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table: the few cryptographic operations the engine needs,
// all through OpenSSL libcrypto, plus the injected sources of randomness and
// time that keep the engine deterministic under test.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/key_wrap.h"
#include "groupsec/crypto/random.h"

namespace groupsec::flatkey {

// Every TEK, KEK and member key is a 256-bit AES key.
constexpr size_t kKeyBytes = 32;
using Key = crypto::Key256;

// Length of a key wrapped with AES key wrap with padding (RFC 5649); for a
// 32-byte key this is the same 40 bytes RFC 3394 gives.
constexpr size_t kWrappedKeyBytes = kKeyBytes + 8;

// The sources of randomness and time are lib/groupsec/crypto's; the
// names below are the ones the flat key table has always used.
using RandomSource = crypto::RandomSource;
using OpenSslRandom = crypto::OpenSslRandom;
using Clock = crypto::Clock;
using MonotonicClock = crypto::MonotonicClock;

// The one-way function of a revision step: revision r+1 of a key is
// advance(revision r). Every holder of revision r can compute it; nobody can
// go back.
Key advance_revision(const Key &k);
Key advance_revision(const Key &k, uint32_t steps);

// The key-encryption key made of several keys ("old KEK / TEK'" in the
// excluder table, or the product terms of a batch leave): only a holder of
// every part can compute it. A single part is used as is.
Key combine_keys(const std::vector<const Key *> &parts);

// A KEK replaced by derivation instead of a wrap: HKDF over old KEK and the
// new TEK, computable by exactly the holders of both.
Key derive_replacement(const Key &combined);

// XOR of concurrently created versions of one key (key merging).
Key xor_keys(const Key &a, const Key &b);

// AES-256 key wrap with padding (RFC 5649) of whole keys, through
// crypto::KeyWrap (one cipher context kept for reuse; not thread-safe). A
// copy has a context of its own (holders of a wrapper can then be copied,
// e.g. to keep a state to go back to).
class KeyWrapper {
public:
	// Wraps plaintext (1..4096 bytes) under kek. Empty result on failure.
	std::vector<uint8_t> wrap(const Key &kek, const uint8_t *plain, size_t len);
	std::vector<uint8_t> wrap(const Key &kek, const Key &plain) { return wrap(kek, plain.data(), plain.size()); }
	// Unwraps; nullopt if the integrity check fails or the input is
	// malformed.
	std::optional<std::vector<uint8_t>> unwrap(const Key &kek, const uint8_t *in, size_t len);
	std::optional<Key> unwrap_key(const Key &kek, const std::vector<uint8_t> &in);

private:
	crypto::KeyWrap wrap_;
};

} // namespace groupsec::flatkey
