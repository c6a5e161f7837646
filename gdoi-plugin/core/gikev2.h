// SPDX-License-Identifier: GPL-2.0-or-later
// G-IKEv2 (RFC 9838) code points the key server and group members speak.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "groupsec/ident/identity.h"
#include "groupsec/net/address.h"

namespace groupsec::gdoi {

// RFC 9838 allows G-IKEv2 on UDP port 848 (the GDOI port); using it keeps
// the plugin loadable into a stock charon, which owns 500 and 4500.
constexpr uint16_t kGikev2Port = 848;

enum class ExchangeType : uint8_t {
	IkeSaInit = 34,      // RFC 7296
	Informational = 37,  // RFC 7296 (here: N(INVALID_IKE_SPI) only)
	GsaAuth = 39,        // RFC 9838
	GsaRegistration = 40,
	GsaRekey = 41,
	GsaInbandRekey = 42,
};

enum class PayloadType : uint8_t {
	None = 0,
	SecurityAssociation = 33, // RFC 7296; SAg in G-IKEv2
	KeyExchange = 34,
	IdInitiator = 35,
	IdResponder = 36,
	Certificate = 37,
	CertificateRequest = 38,
	Authentication = 39,
	Nonce = 40,
	Notify = 41,
	Delete = 42,
	VendorId = 43,
	TsInitiator = 44,
	TsResponder = 45,
	Encrypted = 46,
	Configuration = 47,
	Eap = 48,
	GroupId = 50, // IDg, RFC 9838
	// SKF, RFC 7383: one fragment of an SK message (a message of its own)
	EncryptedFragment = 53,
	GroupSa = 51, // GSA
	KeyDownload = 52, // KD
};

// IKEv2 Security Protocol Identifiers as G-IKEv2 uses them. Zero marks a
// group-wide policy, a member key bag and "the whole group SA" in Delete.
enum class SecurityProtocol : uint8_t {
	None = 0,
	Ike = 1,
	Ah = 2,
	Esp = 3,
	GikeUpdate = 6, // RFC 9838 (IANA), docs/gikev2-wire.md
};

// SPI sizes RFC 9838 fixes per protocol.
constexpr size_t kGikeUpdateSpiSize = 16;
constexpr size_t kIpsecSpiSize = 4;

// Notify message types G-IKEv2 adds, and the IKEv2 ones its codecs name.
enum class NotifyType : uint16_t {
	UnsupportedCriticalPayload = 1, // RFC 7296
	InvalidIkeSpi = 4,
	InvalidSyntax = 7,
	AuthenticationFailed = 24,
	InvalidGroupId = 45, // RFC 9838
	AuthorizationFailed = 46,
	RegistrationFailed = 49, // RFC 9838 (IANA)
	GroupSender = 16429,
	UseTransportMode = 16391, // RFC 7296; RFC 9838 2.3.4 gives it its group meaning
	// RFC 7296 3.10.1 "Private Use - Status" (40960-65535): ours, the
	// group's SAs are tunnels to the destinations' gateways (docs/gikev2-wire.md)
	GatewayTunnels = 40960,
	// ours too: a shortcut SA message (docs/shortcuts.md)
	Shortcut = 40961,
	// ours too: the members a member in member-list mode names at
	// registration (docs/gikev2-wire.md; 40961 is SHORTCUT, shortcut_wire.h)
	MemberList = 40962,
	// RFC 7296 2.23 (data: SHA-1 of SPIi | SPIr | IP | port)
	NatDetectionSourceIp = 16388,
	NatDetectionDestinationIp = 16389,
	// RFC 7383 2.3 (no data)
	FragmentationSupported = 16430,
	// RFC 4555 3.5 (no data): the initiator's addresses changed, the
	// request's source is its new address (docs/shortcuts.md, "Moves")
	UpdateSaAddresses = 16400,
};

// Transform types (RFC 7296 3.3.2; RFC 9838 "GSA Transforms").
enum class TransformType : uint8_t {
	Encryption = 1,
	Prf = 2,
	Integrity = 3,
	KeyExchange = 4,
	SequenceNumbers = 5,
	KeyWrapAlgorithm = 13, // RFC 9838 (IANA)
	GroupControllerAuth = 14, // RFC 9838 (IANA)
};

// Transform IDs this core names (others pass through as numbers).
enum class EncryptionId : uint16_t { AesCbc = 12, AesGcm8 = 18, AesGcm12 = 19, AesGcm16 = 20 };
enum class IntegrityId : uint16_t { None = 0, HmacSha256_128 = 12 };
enum class KeyWrapAlgorithm : uint16_t { Kw5649_128 = 1, Kw5649_192 = 2, Kw5649_256 = 3, KwArx = 4 };
enum class GroupControllerAuthMethod : uint16_t { Implicit = 1, DigitalSignature = 2 };
enum class SequenceNumbersId : uint16_t {
	Sequential32 = 0,
	PartiallyTransmitted64 = 1,
	Unspecified32 = 2, // RFC 9838 (IANA) "32-bit Unspecified Numbers"
};

// Transform attribute types (RFC 7296 3.3.5; RFC 9838 GCAUTH transform).
enum class TransformAttributeType : uint16_t {
	KeyLength = 14, // TV
	SignatureAlgorithmId = 18, // TLV, RFC 9838 (IANA)
};

// GSA policy attributes (RFC 9838 "GSA Attributes"), all TLV.
enum class GsaAttributeType : uint16_t { KeyLifetime = 1, InitialMessageId = 2, NextSpi = 3 };
// Group-wide policy attributes (RFC 9838 "GW Policy Attributes"), all TV.
enum class GwPolicyAttributeType : uint16_t { ActivationTimeDelay = 1, DeactivationTimeDelay = 2, SenderIdBits = 3 };
// Group key bag attributes (RFC 9838 "Group Key Bag"), TLV.
enum class GroupKeyBagAttributeType : uint16_t { SaKey = 1 };
// Member key bag attributes (RFC 9838 "Member Key Bag"), TLV.
enum class MemberKeyBagAttributeType : uint16_t { WrapKey = 1, AuthKey = 2, GmSenderId = 3 };

// Identification types (RFC 7296 3.5) usable in IDg.
using ident::IdType;

// Traffic selector types (RFC 7296 3.13.1).
using net::TsType;

// IKE header flags (RFC 7296 3.1).
constexpr uint8_t kFlagInitiator = 0x08;
constexpr uint8_t kFlagVersion = 0x10;
constexpr uint8_t kFlagResponse = 0x20;

// The exchange type for a wire value, if G-IKEv2 uses it.
std::optional<ExchangeType> exchange_type(uint8_t v);
// "GSA_AUTH" and so on; "UNKNOWN" for values G-IKEv2 does not use.
std::string_view exchange_name(uint8_t v);
// "IDg", "GSA", "KD" and the IKEv2 payloads G-IKEv2 carries.
std::string_view payload_name(uint8_t v);
// True for the payload types this core recognizes (RFC 7296 33..48 and
// RFC 9838 50..52); an unrecognized payload with the critical bit set makes
// a message invalid.
bool payload_type_known(uint8_t v);
// "INVALID_GROUP_ID", "GROUP_SENDER", ...; "UNKNOWN" otherwise.
std::string_view notify_name(uint16_t v);

} // namespace groupsec::gdoi
