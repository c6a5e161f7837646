// SPDX-License-Identifier: GPL-2.0-or-later
// Protection of the SK (Encrypted) payload, RFC 7296 3.14: AES-GCM with a
// 16-octet ICV (RFC 5282: 8-octet IV on the wire, 12-octet nonce = 4-octet
// salt | IV) or AES-CBC with HMAC-SHA-256-128 (encrypt, then MAC over the
// whole message).
#pragma once

#include <functional>
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

// --- IKE fragmentation (RFC 7383) ---
//
// A message too large for the path travels as several messages, each
// HDR, SKF{piece of the inner payload chain}: the IKE header of the
// original message (same SPIs, exchange, flags and Message ID; Next
// Payload 53, its own Length) and one Encrypted Fragment payload:
//   generic header (Next Payload: the first inner payload's type in
//   fragment 1, 0 in the others) | Fragment Number (2) | Total Fragments (2)
//   | IV | ciphertext of (piece | Padding | Pad Length) | ICV
// Each fragment is protected on its own, exactly as SK is, the Fragment
// Number and Total Fragments included in what the ICV covers.

// Octets the SKF generic header and its two counters take.
constexpr size_t kSkfHeaderSize = 8;

// One fragment, checked and decrypted.
struct Fragment {
	IkeHeader header; // of the fragment message as received
	uint8_t first_inner = 0; // Next Payload of SKF (fragment 1 only)
	uint16_t number = 0; // 1 ... total
	uint16_t total = 0;
	Bytes content; // this fragment's piece of the inner payload chain
};

// Whether a datagram is a fragment message: its IKE header's Next Payload
// is SKF (53). Nothing else is checked.
bool is_fragment_message(ByteView datagram);

// Seals inner as fragment messages of at most max_message octets each
// (the whole IKE message, header included), splitting the encoded inner
// chain into pieces as large as that allows. next_iv gives one fresh IV of
// sk_iv_size() octets per fragment. An error if max_message leaves no room
// for one octet of content, or more than 65535 fragments would be needed.
Result<std::vector<Bytes>> seal_fragments(const IkeHeader &header, const std::vector<Payload> &inner,
					  const SkKeys &keys, size_t max_message,
					  const std::function<Bytes()> &next_iv);

// Checks and opens one fragment message: the header and SKF layout (SKF
// the only payload and ending the datagram; Fragment Number from 1 to
// Total Fragments; Next Payload 0 unless in fragment 1), then the ICV
// (IntegrityFailed), then the padding.
Result<Fragment> open_fragment(ByteView datagram, const SkKeys &keys);

} // namespace groupsec::gdoi
