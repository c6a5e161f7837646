// SPDX-License-Identifier: GPL-2.0-or-later
// Protection of the SK (Encrypted) payload, RFC 7296 3.14: AES-GCM with a
// 16-octet ICV (RFC 5282: 8-octet IV on the wire, 12-octet nonce = 4-octet
// salt | IV) or AES-CBC with HMAC-SHA-256-128 (encrypt, then MAC over the
// whole message).
#pragma once

#include <vector>

#include "gikev2_message.h"
#include "gikev2_result.h"
#include "secret_bytes.h"

namespace groupsec::gdoi {

enum class SkCipher {
	AesGcm16, // ENCR_AES_GCM_16, key 16/24/32 octets + 4-octet salt
	AesCbcHmacSha256, // ENCR_AES_CBC key 16/24/32 + AUTH_HMAC_SHA2_256_128 key 32
};

struct SkKeys {
	SkCipher cipher = SkCipher::AesGcm16;
	SecretBytes encryption_key;
	SecretBytes salt; // AES-GCM only
	SecretBytes integrity_key; // AES-CBC only
};

// IV octets on the wire: 8 for AES-GCM, 16 for AES-CBC.
size_t sk_iv_size(SkCipher c);
// ICV octets at the end of SK: 16 for both.
size_t sk_icv_size(SkCipher c);
// A fresh IV is drawn from the engine's one RandomSource (AES-GCM needs an
// IV that never repeats under one key; a counter passed to seal_message()
// also does).

// Builds HDR, clear..., SK{inner...}: derives header.next_payload and
// header.length, pads (AES-CBC to the block size, AES-GCM not at all) and
// computes the ICV. iv must be sk_iv_size() octets.
Result<Bytes> seal_message(const IkeHeader &header, const std::vector<Payload> &clear,
			   const std::vector<Payload> &inner, const SkKeys &keys, ByteView iv);

struct OpenedMessage {
	Message message; // header, the payloads before SK, SK as received
	std::vector<Payload> inner; // the payloads SK protected
};

// Parses a datagram that ends in SK, verifies its ICV (IntegrityFailed if
// it does not verify), decrypts it and parses the inner payload chain.
Result<OpenedMessage> open_message(ByteView datagram, const SkKeys &keys);

} // namespace groupsec::gdoi
