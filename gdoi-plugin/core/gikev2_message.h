// SPDX-License-Identifier: GPL-2.0-or-later
// The IKEv2 header and the generic payload chain of a G-IKEv2 message
// (RFC 7296 3.1, 3.2), with the SK payload kept as opaque bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gikev2_result.h"

namespace groupsec::gdoi {

constexpr size_t kIkeHeaderSize = 28;
constexpr size_t kGenericPayloadHeaderSize = 4;
constexpr uint8_t kIkeMajorVersion = 2;
constexpr uint8_t kIkeMinorVersion = 0;

struct IkeHeader {
	uint64_t initiator_spi = 0;
	uint64_t responder_spi = 0;
	uint8_t next_payload = 0;
	uint8_t major_version = kIkeMajorVersion;
	uint8_t minor_version = kIkeMinorVersion;
	uint8_t exchange_type = 0;
	uint8_t flags = 0;
	uint32_t message_id = 0;
	uint32_t length = 0;
};
bool operator==(const IkeHeader &a, const IkeHeader &b);
inline bool operator!=(const IkeHeader &a, const IkeHeader &b) { return !(a == b); }

// The 28 header octets as they stand: no check of length against anything
// but the major version, which must be 2.
Result<IkeHeader> decode_ike_header(ByteView in);
Bytes encode_ike_header(const IkeHeader &h);

// One payload of the chain: its type, critical bit and body (the octets
// after the 4-octet generic header). Payloads whose type this core does
// not know are kept here unread.
struct Payload {
	uint8_t type = 0;
	bool critical = false;
	Bytes body;
};
bool operator==(const Payload &a, const Payload &b);
inline bool operator!=(const Payload &a, const Payload &b) { return !(a == b); }

// The SK payload (RFC 7296 3.14): the type of the first protected payload
// and IV | ciphertext | ICV.
struct EncryptedPayload {
	uint8_t first_inner = 0;
	bool critical = false;
	Bytes data;
};
bool operator==(const EncryptedPayload &a, const EncryptedPayload &b);

// A whole message. encode_message() derives header.next_payload and
// header.length from the payloads; decode_message() checks them.
struct Message {
	IkeHeader header;
	std::vector<Payload> payloads; // before SK, or all of them
	std::optional<EncryptedPayload> encrypted; // SK, always last
};
bool operator==(const Message &a, const Message &b);

// Parses a datagram: the header's length must equal the input size, every
// payload length must fit, SK must end the message, no bytes may follow
// the last payload, and an unknown payload with the critical bit is an
// UnsupportedCritical error.
Result<Message> decode_message(ByteView in);
// Fails if a body is too long for a 16-bit payload length.
Result<Bytes> encode_message(const Message &m);

// A chain of payloads starting with type first (the inside of SK).
Result<std::vector<Payload>> decode_payload_chain(uint8_t first, ByteView in);
// Appends the chain to out; returns the type of its first payload (0 if
// empty). An SK payload cannot be in such a chain.
Result<uint8_t> encode_payload_chain(const std::vector<Payload> &payloads, Bytes &out);

// The payload type of an UnsupportedCritical error from decode_message()
// or open_message() (an unknown payload marked critical), nullopt for any
// other error.
std::optional<uint8_t> unsupported_critical_type(const Error &e);

} // namespace groupsec::gdoi
