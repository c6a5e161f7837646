// SPDX-License-Identifier: GPL-2.0-or-later
// AES-GCM (NIST SP 800-38D) through OpenSSL, with a 12-octet nonce and a
// 16-octet tag: the one AEAD of the project (G-IKEv2 SK payloads, sealed
// routes).
#pragma once

#include <cstdint>
#include <optional>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/base/secret_bytes.h"

namespace groupsec::crypto {

constexpr size_t kGcmNonceBytes = 12;
constexpr size_t kGcmTagBytes = 16;

// Encrypts plain under key (16, 24 or 32 octets) into out (plain.size()
// octets, may be where plain is) and writes the tag to tag
// (kGcmTagBytes). nullopt on success; BadKey or BadLength for a key or
// nonce of the wrong size, CryptoFailure if OpenSSL fails.
std::optional<Error> aes_gcm_seal_to(ByteView key, ByteView nonce, ByteView aad, ByteView plain, uint8_t *out,
				     uint8_t *tag);
// The same, returning ciphertext | tag.
Result<Bytes> aes_gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plain);

// Decrypts ciphertext and checks tag over it and aad: IntegrityFailed when
// the tag does not verify (nothing of the plaintext is returned then).
Result<SecretBytes> aes_gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext, ByteView tag);

// Fetches OpenSSL's AES ciphers (GCM, CBC, key wrap) once for the process.
// The first use of any of them does it anyway; a daemon calls this when it
// starts so that its first packet or route does not pay for loading the
// provider's algorithms. false when OpenSSL lacks one of them (each use of
// that cipher then fails with CryptoFailure).
bool prepare_ciphers();

} // namespace groupsec::crypto
