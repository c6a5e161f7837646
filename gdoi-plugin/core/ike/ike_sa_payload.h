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

// RFC 7296 2.23: the data of N(NAT_DETECTION_SOURCE_IP) and
// N(NAT_DETECTION_DESTINATION_IP), "SHA-1(SPIs | IP | Port)": SPIi, SPIr
// (0 in the IKE_SA_INIT request), the IPv4 or IPv6 address and the UDP
// port, in network order.
Bytes nat_detection_hash(uint64_t spi_i, uint64_t spi_r, ByteView ip, uint16_t port);

// What an IKE_SA_INIT message says about the transport.
struct InitTransport {
	bool fragmentation = false; // N(IKEV2_FRAGMENTATION_SUPPORTED)
	std::vector<Bytes> nat_sources; // N(NAT_DETECTION_SOURCE_IP) data, any number
	std::vector<Bytes> nat_destinations; // N(NAT_DETECTION_DESTINATION_IP) data
};
// Reads those notifies from an IKE_SA_INIT message's payloads; an error
// if one of them is malformed (a NAT_DETECTION_* whose data is not 20
// octets, or that has an SPI).
Result<InitTransport> read_init_transport(const std::vector<Payload> &payloads);
// Whether NAT detection data show a NAT: the hashes were sent and none of
// the sources (or not the destination) matches what we computed.
bool nat_between(const InitTransport &t, ByteView source_hash, ByteView destination_hash);
// The notify payloads that say it: N(IKEV2_FRAGMENTATION_SUPPORTED) if
// fragmentation, the two NAT_DETECTION_* if the hashes are given.
std::vector<Payload> init_transport_notifies(bool fragmentation, const Bytes *source_hash,
					     const Bytes *destination_hash);

} // namespace groupsec::gdoi::ike
