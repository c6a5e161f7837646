// SPDX-License-Identifier: GPL-2.0-or-later
// IKE identities (RFC 7296 3.5) and group IDs in swanctl's notation: the
// one parser and the one printer of the project, so that what a listing
// shows can be handed back to a command, and a DN encodes to the octets
// strongSwan gives it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::ident {

// Identification types (RFC 7296 3.5).
enum class IdType : uint8_t {
	Ipv4Addr = 1,
	Fqdn = 2,
	Rfc822Addr = 3,
	Ipv6Addr = 5,
	DerAsn1Dn = 9,
	DerAsn1Gn = 10,
	KeyId = 11,
};

struct Identity {
	uint8_t type = 0; // IdType
	Bytes data;

	// parse_identity(), nullopt on any error.
	static std::optional<Identity> parse(const std::string &s);
	// identity_text().
	std::string str() const;
};
bool operator==(const Identity &a, const Identity &b);
bool operator!=(const Identity &a, const Identity &b);
bool operator<(const Identity &a, const Identity &b);

Identity make_identity(IdType type, Bytes data);

// An identity in swanctl's notation: an IPv4/IPv6 address, "@fqdn" or
// "host.name" (FQDN), "user@host" or "@@user" (RFC822), "@#hex" (KEY_ID),
// the prefixes "fqdn:", "email:", "rfc822:", "userfqdn:", "keyid:"
// ("keyid:#hex" too), "ipv4:", "ipv6:", or a DN ("C=CH, O=Example,
// CN=gm1" or "/C=CH/O=Example/CN=gm1", see encode_dn()). Spaces around
// are ignored. The error message is the reason only ("empty", ...).
Result<Identity> parse_identity(std::string_view s);

// The notation parse_identity() reads back: "192.0.2.1", "host.name" or
// "@name" where the bare name would read as another type, "user@host",
// "@#0a0b" (KEY_ID), "C=CH, O=Example, CN=gm1"; octets that have no
// such form as "fqdn:#hex", "email:#hex", "asn1dn:#hex", "#type:hex".
std::string identity_text(const Identity &id);

// A group ID (IDg): a decimal number from 0 to 4294967295 is an ID_KEY_ID
// of 4 octets, big-endian; anything else is an identity as swanctl writes
// it. The error message is "\"<text>\" is not a group ID (<reason>)".
Result<Identity> parse_group_id(std::string_view s);

} // namespace groupsec::ident
