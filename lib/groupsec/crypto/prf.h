// SPDX-License-Identifier: GPL-2.0-or-later
// Hashes and key derivation through OpenSSL: SHA-256, HMAC-SHA-256 (the
// IKEv2 PRF_HMAC_SHA2_256), prf+ (RFC 7296 2.13) and HKDF-SHA-256
// (RFC 5869). Outputs that are keys come back as SecretBytes or Key256.
#pragma once

#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/secret_bytes.h"
#include "groupsec/crypto/random.h"

namespace groupsec::crypto {

Bytes sha256(ByteView data);

// HMAC-SHA-256; empty if OpenSSL fails.
SecretBytes hmac_sha256(ByteView key, ByteView data);

// prf+ over HMAC-SHA-256: len octets of T1 | T2 | ... (at most 255
// blocks); empty if len is beyond that.
SecretBytes prf_plus(ByteView key, ByteView seed, size_t len);

// HKDF-SHA-256 with an empty salt, producing one 256-bit key.
Key256 hkdf_sha256(ByteView ikm, std::string_view info);

// Constant-time equality (sizes compared in the clear).
bool equal(ByteView a, ByteView b);

} // namespace groupsec::crypto
