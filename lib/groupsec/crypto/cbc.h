// SPDX-License-Identifier: GPL-2.0-or-later
// AES-CBC (NIST SP 800-38A) through OpenSSL, without padding: the caller
// pads to the block (G-IKEv2 SK payloads with AES-CBC and HMAC-SHA-256).
#pragma once

#include <cstdint>
#include <optional>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::crypto {

constexpr size_t kAesBlockBytes = 16;

// Encrypts plain (a whole number of blocks) under key (16, 24 or 32
// octets) and iv (kAesBlockBytes) into out (plain.size() octets, may be
// where plain is). nullopt on success; BadKey for a key of the wrong
// size, BadLength for an IV or a plaintext of the wrong size,
// CryptoFailure if OpenSSL fails.
std::optional<Error> aes_cbc_encrypt_to(ByteView key, ByteView iv, ByteView plain, uint8_t *out);
// The same, returning the ciphertext.
Result<Bytes> aes_cbc_encrypt(ByteView key, ByteView iv, ByteView plain);

// Decrypts ciphertext (a whole number of blocks); the same errors.
Result<Bytes> aes_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext);

} // namespace groupsec::crypto
