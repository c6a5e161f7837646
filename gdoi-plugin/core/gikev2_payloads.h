// SPDX-License-Identifier: GPL-2.0-or-later
// Bodies of the payloads G-IKEv2 adds (IDg, GSA, KD) and of the IKEv2
// payloads it frames (Identification, Nonce, Auth, Notify, Delete). Each
// decoder reads one payload body (the octets after the generic payload
// header) and each encoder writes one; see docs/gikev2-wire.md.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gikev2.h"
#include "gikev2_result.h"

namespace groupsec::gdoi {

// IDi, IDr (RFC 7296 3.5) and IDg (RFC 9838): type, 3 reserved octets, data.
struct IdentificationPayload {
	uint8_t id_type = 0;
	Bytes data;
};
bool operator==(const IdentificationPayload &a, const IdentificationPayload &b);
// Checks the data against the type: 4 octets for ID_IPV4_ADDR, 16 for
// ID_IPV6_ADDR, at least one octet otherwise.
Result<IdentificationPayload> decode_identification(ByteView body);
Result<Bytes> encode_identification(const IdentificationPayload &p);

// Ni, Nr (RFC 7296 3.9): 16 to 256 octets.
struct NoncePayload {
	Bytes nonce;
};
bool operator==(const NoncePayload &a, const NoncePayload &b);
Result<NoncePayload> decode_nonce(ByteView body);
Result<Bytes> encode_nonce(const NoncePayload &p);

// AUTH (RFC 7296 3.8): method, 3 reserved octets, data.
struct AuthPayload {
	uint8_t method = 0;
	Bytes data;
};
bool operator==(const AuthPayload &a, const AuthPayload &b);
Result<AuthPayload> decode_auth(ByteView body);
Result<Bytes> encode_auth(const AuthPayload &p);

// N (RFC 7296 3.10). For the RFC 9838 types the protocol and SPI must be
// empty, and GROUP_SENDER carries exactly a 4-octet count.
struct NotifyPayload {
	uint8_t protocol = 0;
	Bytes spi;
	uint16_t type = 0;
	Bytes data;
};
bool operator==(const NotifyPayload &a, const NotifyPayload &b);
Result<NotifyPayload> decode_notify(ByteView body);
Result<Bytes> encode_notify(const NotifyPayload &p);
// N(GROUP_SENDER) asking for count Sender-IDs.
NotifyPayload make_group_sender_notify(uint32_t count);
// The count of a GROUP_SENDER notify.
Result<uint32_t> group_sender_count(const NotifyPayload &p);

// N(MEMBER_LIST) (40962, RFC 7296 private-use status, docs/gikev2-wire.md):
// the identities of the other members a member in member-list mode names
// in its GSA_AUTH or GSA_REGISTRATION. Protocol 0, no SPI; the data is one
// entry per identity, each ID Type (1 octet, RFC 7296 3.5), reserved (1
// octet, zero), length of the ID data (2 octets) and the ID data: 1 to
// kMaxMemberList distinct identities, each 1 to kMaxMemberListId octets,
// of type IPv4 (4 octets), FQDN, RFC822, IPv6 (16 octets), DN or KEY_ID,
// nothing after the last. The decoder refuses anything else.
constexpr size_t kMaxMemberList = 64;
constexpr size_t kMaxMemberListId = 255;
Result<NotifyPayload> make_member_list_notify(const std::vector<ident::Identity> &peers);
Result<std::vector<ident::Identity>> member_list_identities(const NotifyPayload &p);

// D (RFC 7296 3.11), with RFC 9838's reading: protocol 0 deletes the whole
// group SA, an all-zero SPI deletes every SA of the protocol.
struct DeletePayload {
	uint8_t protocol = 0;
	uint8_t spi_size = 0;
	std::vector<Bytes> spis; // each spi_size octets
};
bool operator==(const DeletePayload &a, const DeletePayload &b);
Result<DeletePayload> decode_delete(ByteView body);
Result<Bytes> encode_delete(const DeletePayload &p);

// A data attribute (RFC 7296 3.3.5): TV (AF=1) carries a 2-octet value,
// TLV (AF=0) a value of its own length.
struct Attribute {
	uint16_t type = 0; // 15 bits
	bool tv = false;
	Bytes value; // exactly 2 octets when tv
};
bool operator==(const Attribute &a, const Attribute &b);
Attribute make_tv_attribute(uint16_t type, uint16_t value);
Attribute make_tlv_attribute(uint16_t type, Bytes value);

// A transform substructure (RFC 7296 3.3.2) inside a GSA policy.
struct Transform {
	uint8_t type = 0;
	uint16_t id = 0;
	std::vector<Attribute> attributes;
};
bool operator==(const Transform &a, const Transform &b);

// A traffic selector (RFC 7296 3.13.1), IPv4 or IPv6 range.
using net::TrafficSelector;

// GSA policy substructure: the Rekey SA (GSA KEK, protocol GIKE_UPDATE,
// 16-octet SPI) or a Data-Security SA (GSA TEK, AH or ESP, 4-octet SPI).
struct GsaPolicy {
	uint8_t protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
	Bytes spi;
	TrafficSelector source;
	TrafficSelector destination;
	std::vector<Transform> transforms; // at least one
	// GSA attributes
	std::optional<uint32_t> key_lifetime; // GSA_KEY_LIFETIME, seconds
	std::optional<uint32_t> initial_message_id; // GSA_INITIAL_MESSAGE_ID, KEK only
	std::vector<Bytes> next_spis; // GSA_NEXT_SPI, each of the SPI's size
	std::vector<Attribute> other_attributes; // unassigned or private types, kept
};
bool operator==(const GsaPolicy &a, const GsaPolicy &b);

// Group-wide policy substructure (protocol 0), the group's activation and
// deactivation policy (GDOI's GAP).
struct GroupWidePolicy {
	std::optional<uint16_t> activation_time_delay; // GWP_ATD, seconds
	std::optional<uint16_t> deactivation_time_delay; // GWP_DTD, seconds
	std::optional<uint16_t> sender_id_bits; // GWP_SENDER_ID_BITS
	std::vector<Attribute> other_attributes;
};
bool operator==(const GroupWidePolicy &a, const GroupWidePolicy &b);

// GSA (51). Canonical order on the wire: KEK, TEKs, group-wide policy.
struct GsaPayload {
	std::optional<GsaPolicy> kek;
	std::vector<GsaPolicy> teks;
	std::optional<GroupWidePolicy> group_wide;
};
bool operator==(const GsaPayload &a, const GsaPayload &b);
Result<GsaPayload> decode_gsa(ByteView body);
Result<Bytes> encode_gsa(const GsaPayload &p);

// Wrapped key (RFC 9838 "Key Wrapping"): the key wrap algorithm's output is
// opaque here.
struct WrappedKey {
	uint32_t key_id = 0; // 0: SA keying material
	uint32_t kwk_id = 0; // 0: the default key wrap key
	Bytes encrypted_key; // at least one octet
};
bool operator==(const WrappedKey &a, const WrappedKey &b);

// Group key bag: keys of one SA, named by protocol and SPI.
struct GroupKeyBag {
	uint8_t protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
	Bytes spi;
	// The wrapped keys of the bag, attribute type 1, in order. Key ID 0:
	// an SA_KEY, one for AH/ESP, one or more for GIKE_UPDATE. Key ID not 0,
	// GIKE_UPDATE only: an intermediate key (RFC 9838 4.5.4: Key ID "The
	// value zero means that the encrypted key contains SA keys ...,
	// otherwise it contains some intermediate key"), as older key servers
	// of ours sent a key hierarchy's new keys in GSA_REKEY; members still
	// take them (our key server now sends WRAP_KEYs in a member key bag,
	// as RFC 9838 Appendix A does).
	std::vector<WrappedKey> sa_keys;
	std::vector<Attribute> other_attributes;
};
bool operator==(const GroupKeyBag &a, const GroupKeyBag &b);

// Member key bag (protocol 0): keys and parameters of one member.
struct MemberKeyBag {
	std::vector<WrappedKey> wrap_keys; // WRAP_KEY, key_id != 0
	std::optional<Bytes> auth_key; // AUTH_KEY, DER SubjectPublicKeyInfo
	std::vector<Bytes> sender_ids; // GM_SENDER_ID
	std::vector<Attribute> other_attributes;
};
bool operator==(const MemberKeyBag &a, const MemberKeyBag &b);

// KD (52). Canonical order on the wire: group key bags, then the member
// key bag.
struct KeyDownloadPayload {
	std::vector<GroupKeyBag> group_key_bags;
	std::optional<MemberKeyBag> member_key_bag;
};
bool operator==(const KeyDownloadPayload &a, const KeyDownloadPayload &b);
Result<KeyDownloadPayload> decode_key_download(ByteView body);
Result<Bytes> encode_key_download(const KeyDownloadPayload &p);

} // namespace groupsec::gdoi
