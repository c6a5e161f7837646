// SPDX-License-Identifier: GPL-2.0-or-later
// Shortcut messages (seed 001): what the connectivity manager beside the key
// server and a member outside the gateway say to each other over the
// member's authenticated, encrypted IKE SA to the key server. Each message
// is the data of one private-use status notify, N(SHORTCUT) (40961), in an
// INFORMATIONAL request; docs/shortcuts.md has the byte layout.
//
// decode_shortcut_message() and encode_shortcut_message() are pure
// functions with the same checks: anything that encodes also decodes, and
// bad input is an Error with a message a person can read.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "../gdoi_engine.h"
#include "groupsec/base/secret_bytes.h"
#include "groupsec/net/address.h"

namespace groupsec::gdoi::shortcut {

// RFC 7296 3.10.1 "Private Use - Status": the notify type that carries a
// shortcut message (GATEWAY_TUNNELS is 40960).
constexpr uint16_t kShortcutNotifyType = 40961;
constexpr uint8_t kShortcutVersion = 1;
// Version, type, length, epoch, sequence, shortcut ID.
constexpr size_t kShortcutHeaderSize = 20;
// A message is at most this long (an IKE message must fit a datagram).
constexpr size_t kShortcutMaxSize = 1024;

// Types 1..127 go from the manager to a member, 128..255 from a member to
// the manager.
enum class MsgType : uint8_t {
	Offer = 1, // secrets of a pairwise SA pair and the peer's outside address
	Go = 2, // the peer has its inbound SA: install the outbound one
	PeerMoved = 3, // the peer's outside address changed
	Teardown = 4, // remove the shortcut, traffic goes back to the gateway
	Ack = 128, // a member's answer to one of the four
};
// "OFFER", "GO", "PEER_MOVED", "TEARDOWN", "ACK"; "UNKNOWN" otherwise.
const char *msg_type_name(MsgType t);
inline bool from_manager(MsgType t)
{
	return static_cast<uint8_t>(t) < 128;
}

enum class TeardownReason : uint8_t {
	Aborted = 1, // the setup failed or timed out
	PeerInside = 2, // the peer came back inside: use the gateway again
	Inside = 3, // you came back inside
	PeerGone = 4, // the peer left the group
	Operator = 5,
	Renewal = 6, // the SAs near their lifetime: a new pair follows
};
const char *teardown_reason_name(TeardownReason r);

enum class AckStatus : uint8_t {
	Ok = 0,
	UnknownShortcut = 1, // no shortcut with that ID here
	KernelFailed = 2, // the kernel refused an SA or policy; nothing changed
	NotMine = 3, // the offer's local inside prefix is not this member's
	Unsupported = 4, // the cipher suite or address family
	Duplicate = 5, // a shortcut with that ID or SPI exists already
	WrongState = 6, // e.g. GO before the offer was taken
};
const char *ack_status_name(AckStatus s);

// An inside address range as an address and a prefix length (no host bits).
struct Prefix {
	Bytes address; // 4 or 16 octets
	uint8_t length = 0;

	bool contains(ByteView ip) const;
	// every protocol and port of the prefix
	net::TrafficSelector selector() const;
	std::string str() const; // "10.1.0.0/16"
};
bool operator==(const Prefix &a, const Prefix &b);
// "10.1.0.7/32"; error for text that is no prefix or has host bits.
Result<Prefix> parse_prefix(const std::string &s);

// The cipher suite of the pair: IKEv2 transform IDs. Supported:
// ENCR_AES_GCM_16 (20) with 128 or 256 bits and no integrity, or
// ENCR_AES_CBC (12) with 128 or 256 bits and AUTH_HMAC_SHA2_256_128 (12).
struct Suite {
	uint16_t encryption = 20;
	uint16_t key_bits = 256;
	uint16_t integrity = 0;

	// The octets of one SA's keying material: the encryption key, its
	// 4-octet salt for AES-GCM, then the 32-octet integrity key for CBC.
	size_t keymat_size() const;
	bool supported() const;
};
bool operator==(const Suite &a, const Suite &b);

struct Offer {
	Suite suite;
	uint32_t lifetime_s = 0;
	uint32_t spi_in = 0; // the SA the peer sends on, this member receives on
	uint32_t spi_out = 0; // the SA this member sends on
	Address peer_outside; // the peer's outside address; port 0: plain ESP
	Prefix local_inside; // the recipient's inside prefix
	Prefix peer_inside;
	SecretBytes key_in; // keymat of spi_in
	SecretBytes key_out;
};
bool operator==(const Offer &a, const Offer &b);

struct Go {};
struct PeerMoved {
	Address peer_outside;
};
struct Teardown {
	TeardownReason reason = TeardownReason::Operator;
};
struct Ack {
	MsgType acked = MsgType::Offer;
	AckStatus status = AckStatus::Ok;
};

struct ShortcutMessage {
	uint32_t epoch = 0; // the sender's, drawn when it starts
	uint64_t sequence = 0; // per sender and receiver, from 1
	uint32_t shortcut_id = 0;
	std::variant<Offer, Go, PeerMoved, Teardown, Ack> body;

	MsgType type() const;
};
bool operator==(const ShortcutMessage &a, const ShortcutMessage &b);

Result<ShortcutMessage> decode_shortcut_message(ByteView in);
// The wire octets; SecretBytes, since an offer carries keys.
Result<SecretBytes> encode_shortcut_message(const ShortcutMessage &m);

} // namespace groupsec::gdoi::shortcut
