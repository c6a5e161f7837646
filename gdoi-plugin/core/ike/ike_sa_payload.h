// SPDX-License-Identifier: GPL-2.0-or-later
// The IKEv2 payloads of IKE_SA_INIT that G-IKEv2 reuses unchanged: SA
// (RFC 7296 3.3, proposals of transforms) and KE (3.4). Internal to the core.
#pragma once

#include <cstdint>
#include <vector>

#include "../gikev2_message.h"
#include "../gikev2_payloads.h"
#include "../gikev2_result.h"

namespace groupsec::gdoi::ike {

struct Proposal {
	uint8_t number = 1;
	uint8_t protocol = 1; // IKE
	Bytes spi; // empty in IKE_SA_INIT
	std::vector<Transform> transforms;
};

// At least one proposal, each with at least one transform and a nonzero
// number (a response carries the number of the proposal it chose).
Result<std::vector<Proposal>> decode_sa(ByteView body);
Result<Bytes> encode_sa(const std::vector<Proposal> &proposals);

struct KePayload {
	uint16_t group = 0;
	Bytes data;
};
Result<KePayload> decode_ke(ByteView body);
Result<Bytes> encode_ke(const KePayload &p);

// N(SIGNATURE_HASH_ALGORITHMS) (RFC 7427 4) naming SHA2-256, SHA2-384
// and SHA2-512: "the peer MAY use the Digital Signature authentication
// method" only when it got this notify, so both roles send it in
// IKE_SA_INIT.
Payload signature_hash_notify();

// The value of a transform's Key Length attribute, 0 if absent.
uint16_t key_length(const Transform &t);

} // namespace groupsec::gdoi::ike
