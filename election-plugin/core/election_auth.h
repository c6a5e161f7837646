// SPDX-License-Identifier: GPL-2.0-or-later
// Signing and verifying election messages. The core sees only these two
// interfaces; the charon glue may implement them over the credential
// manager. The implementations here use OpenSSL: Ed25519, ECDSA P-256 with
// SHA-256 (signature r | s), and HMAC-SHA-256 under a group pre-shared key,
// the weaker mode: every holder of the key can speak for every identity.
#pragma once

#include <memory>

#include "election_msg.h"
#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/base/secret_bytes.h"

namespace groupsec::election {

class Signer {
public:
	virtual ~Signer() = default;
	virtual AuthMethod method() const = 0;
	// The signature (signature_size(method()) octets) of data.
	virtual Result<Bytes> sign(ByteView data) const = 0;
};

class Verifier {
public:
	virtual ~Verifier() = default;
	virtual AuthMethod method() const = 0;
	// True if signature is a valid signature of data; false for anything else.
	virtual bool verify(ByteView data, ByteView signature) const = 0;
};

constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kP256ScalarBytes = 32;
constexpr size_t kP256PointBytes = 65; // 0x04 | x | y

// Ed25519 from the 32-octet private key (seed); public_key() gives the
// 32-octet public key.
Result<std::unique_ptr<Signer>> ed25519_signer(ByteView private_key, Bytes *public_key = nullptr);
Result<std::unique_ptr<Verifier>> ed25519_verifier(ByteView public_key);

// ECDSA P-256 from the 32-octet private scalar; *public_key receives the
// uncompressed point (65 octets).
Result<std::unique_ptr<Signer>> ecdsa_p256_signer(ByteView private_scalar, Bytes *public_key = nullptr);
// From the uncompressed point; refused if it is not on the curve.
Result<std::unique_ptr<Verifier>> ecdsa_p256_verifier(ByteView public_point);

// HMAC-SHA-256 under the group key (at least 16 octets).
Result<std::unique_ptr<Signer>> group_psk_signer(ByteView key);
Result<std::unique_ptr<Verifier>> group_psk_verifier(ByteView key);

} // namespace groupsec::election
