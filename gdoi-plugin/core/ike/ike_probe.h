// SPDX-License-Identifier: GPL-2.0-or-later
// The first half of `gstrust fetch` (trust-lists.md "Fetch"): one
// IKE_SA_INIT request to an IKEv2 responder (charon on 500) or a G-IKEv2
// key server (848), and what its answer reveals: the proposal the peer
// chose, its vendor IDs, the CAs it asks for (CERTREQ), NAT on the path
// (its NAT detection hashes against ours), fragmentation and signature
// hash support. The exchange is then abandoned: the responder's half-open
// IKE SA times out. Pure: the caller sends, receives and draws randomness.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../gikev2_message.h"
#include "../gikev2_payloads.h"
#include "../gikev2_result.h"
#include "groupsec/crypto/random.h"
#include "ike_crypto.h"

namespace groupsec::gdoi::ike {

struct ProbeOptions {
	bool gikev2 = false; // a G-IKEv2 key server: the proposal carries KWA
	uint16_t dh_group = kDhCurve25519; // 19 or 31
	Bytes local_ip, remote_ip; // 4 or 16 octets each
	uint16_t local_port = 0, remote_port = 0;
	Bytes cookie; // N(COOKIE) data of the responder's first answer, if any
};

struct ProbeRequest {
	uint64_t spi_i = 0;
	Bytes datagram;
};

// The IKE_SA_INIT request: every combination this core speaks (AES-GCM-16
// and AES-CBC with HMAC-SHA2-256-128, 128 and 256-bit keys, PRF-HMAC-SHA2-256,
// the one DH group of opts), nonce, NAT detection hashes, fragmentation and
// signature hash notifies.
Result<ProbeRequest> probe_request(const ProbeOptions &opts, crypto::RandomSource &random);

struct ProbeTransform {
	uint8_t type = 0;
	uint16_t id = 0;
	uint16_t key_length = 0; // 0 if none
};

struct ProbeAnswer {
	// a retry is needed: with the cookie, or with the DH group asked for
	Bytes cookie;
	uint16_t invalid_ke_group = 0;
	// an error notify ended the exchange (NO_PROPOSAL_CHOSEN, ...), 0 if none
	uint16_t error = 0;
	uint64_t spi_r = 0;
	std::vector<ProbeTransform> proposal; // the transforms the peer chose
	std::vector<Bytes> vendor_ids;
	uint8_t certreq_encoding = 0; // 4: X.509 signature
	std::vector<Bytes> certreq_authorities; // SHA-1 of each CA's SubjectPublicKeyInfo
	bool fragmentation = false;
	std::vector<uint16_t> signature_hashes; // RFC 7427 hash algorithm identifiers
	bool nat_detection = false; // the peer sent NAT detection notifies
	// its NAT_DETECTION_DESTINATION_IP is not our address and port: a NAT
	// in front of us
	bool nat_local = false;
	// none of its NAT_DETECTION_SOURCE_IP is the address and port we sent
	// to: a NAT in front of the peer
	bool nat_remote = false;
};

// Reads the responder's answer to req: an error if the datagram is not an
// IKE_SA_INIT response to it or a payload is malformed.
Result<ProbeAnswer> probe_answer(ByteView datagram, const ProbeRequest &req, const ProbeOptions &opts);

// "ENCR_AES_GCM_16-256", "PRF_HMAC_SHA2_256", "ECP_256", ...; numbers for others.
std::string probe_transform_name(const ProbeTransform &t);

} // namespace groupsec::gdoi::ike
