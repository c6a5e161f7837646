// SPDX-License-Identifier: GPL-2.0-or-later
// IKEv2 key exchange and key derivation for G-IKEv2 (RFC 7296 2.14, 2.15;
// RFC 9838 "Default Key Wrap Key"): Diffie-Hellman groups 19 (ECP-256,
// RFC 5903) and 31 (Curve25519, RFC 8031), PRF_HMAC_SHA2_256, prf+, the
// IKE SA keys, the AUTH octets and shared-key AUTH, AES key wrap (RFC 5649)
// with 128/192/256-bit keys. Internal to the core.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "../gikev2_result.h"
#include "../gikev2_sk.h"
#include "groupsec/crypto/key_wrap.h"
#include "groupsec/crypto/prf.h"

namespace groupsec::gdoi::ike {

// Transform IDs of IKE_SA_INIT this core speaks.
constexpr uint16_t kPrfHmacSha256 = 5;
constexpr uint16_t kDhEcp256 = 19;
constexpr uint16_t kDhCurve25519 = 31;
constexpr uint16_t kEncrAesCbc = 12;
constexpr uint16_t kEncrAesGcm16 = 20;
constexpr uint16_t kIntegHmacSha256_128 = 12;

// AUTH methods (RFC 7296 3.8, RFC 7427).
constexpr uint8_t kAuthSharedKey = 2;
constexpr uint8_t kAuthDigitalSignature = 14;

// Notify types of RFC 7296 the exchanges use.
constexpr uint16_t kNotifyInvalidKePayload = 17;
constexpr uint16_t kNotifyNoProposalChosen = 14;
constexpr uint16_t kNotifyCookie = 16390;
// RFC 7427 4: N(SIGNATURE_HASH_ALGORITHMS) in IKE_SA_INIT, its data the
// 2-octet hash algorithm identifiers the sender supports (RFC 7427 7:
// SHA2-256 2, SHA2-384 3, SHA2-512 4).
constexpr uint16_t kNotifySignatureHashAlgorithms = 16431;

bool dh_group_supported(uint16_t group);
// Public value size of the group (64 for ECP-256 x|y, 32 for Curve25519).
size_t dh_public_size(uint16_t group);

// One side of an ephemeral Diffie-Hellman exchange.
class DhKey {
public:
	~DhKey();
	DhKey(const DhKey &) = delete;
	DhKey &operator=(const DhKey &) = delete;

	// A key pair whose private part comes from the random octets draw()
	// returns (so a deterministic source gives a deterministic key).
	template <typename Draw> static Result<std::unique_ptr<DhKey>> generate(uint16_t group, Draw &&draw)
	{
		for (int attempt = 0; attempt < 16; attempt++) {
			SecretBytes secret(32);
			draw(secret.data(), secret.size());
			auto k = from_private(group, secret);
			if (k.ok() || k.error().code != WireError::BadValue)
				return k;
		}
		return make_error(WireError::CryptoFailure, "no usable private key drawn");
	}
	// BadValue if the octets are not a usable private key of the group.
	static Result<std::unique_ptr<DhKey>> from_private(uint16_t group, ByteView secret);

	uint16_t group() const { return group_; }
	// The Key Exchange Data of the KE payload.
	const Bytes &public_value() const { return public_; }
	// g^ir: the x coordinate for ECP-256, the X25519 output for group 31.
	// BadValue if peer is not a valid public value of the group.
	Result<SecretBytes> shared_secret(ByteView peer) const;

private:
	struct Pkey;
	DhKey() = default;
	uint16_t group_ = 0;
	Bytes public_;
	std::unique_ptr<Pkey> pkey_;
};

// PRF_HMAC_SHA2_256 (its output is often a key: wiped when freed).
inline SecretBytes prf(ByteView key, ByteView data)
{
	return crypto::hmac_sha256(key, data);
}
// prf+ (RFC 7296 2.13): len octets of T1 | T2 | ...
using crypto::prf_plus;

// The keys of one IKE SA.
struct IkeKeys {
	SecretBytes sk_d;
	SecretBytes sk_pi, sk_pr;
	SkKeys initiator; // SK_ai / SK_ei: protects what the initiator sends
	SkKeys responder; // SK_ar / SK_er
};

// SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er |
// SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). key_bytes is the
// encryption key size (16, 24, 32); AES-GCM adds 4 octets of salt.
IkeKeys derive_ike_keys(SkCipher cipher, size_t key_bytes, ByteView ni, ByteView nr, ByteView shared,
			uint64_t spi_i, uint64_t spi_r);

// GSK_w = prf+(SK_d, "Key Wrap for G-IKEv2"), len octets.
SecretBytes default_kwk(ByteView sk_d, size_t len);

// <SignedOctets> of RFC 7296 2.15: message | nonce of the peer |
// prf(SK_p, ID payload body).
Bytes signed_octets(ByteView message, ByteView peer_nonce, ByteView sk_p, ByteView id_body);
// Shared-key AUTH data: prf(prf(key, "Key Pad for IKEv2"), signed octets).
Bytes psk_auth(ByteView shared_key, ByteView octets);

// Constant-time equality.
using crypto::equal;

// AES key wrap with padding (RFC 5649) under a 16, 24 or 32 octet key.
using crypto::key_unwrap;
using crypto::key_wrap;

// SHA-256.
using crypto::sha256;

} // namespace groupsec::gdoi::ike
