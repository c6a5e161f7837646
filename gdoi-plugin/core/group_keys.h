// SPDX-License-Identifier: GPL-2.0-or-later
// What the key server and the member agree on beyond the codecs: payload
// helpers, RFC 9838 Key IDs of the flat key table and key tree keys, a
// member's Working Key Path, the flat key table's private-use attributes,
// the Rekey SA (GSA KEK) and the octets a signed GSA_REKEY signs. Internal
// to the core.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gdoi_engine.h"
#include "gikev2_message.h"
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/keytree/key_tree.h"

namespace groupsec::gdoi::detail {

// Sender-IDs (RFC 9838 GWP_SENDER_ID_BITS, GM_SENDER_ID): the key server
// gives Sender-IDs of GcksGroupConfig::sender_id_bits (16 unless set), at
// most 16 per member (2.5.1: "The GCKS should have a policy-defined upper
// bound for the number of Sender-ID values that it will return
// irrespective of the number requested by the GM"). A member reads any
// width from 1 to kMaxSenderIdBits the key server declares.
constexpr uint32_t kMaxSenderIds = 16;
constexpr uint16_t kMaxSenderIdBits = 32;

inline Payload make_payload(PayloadType t, Bytes body)
{
	return Payload{static_cast<uint8_t>(t), false, std::move(body)};
}

inline const Payload *find_payload(const std::vector<Payload> &ps, PayloadType t)
{
	for (const Payload &p : ps)
		if (p.type == static_cast<uint8_t>(t))
			return &p;
	return nullptr;
}

// The key size of an RFC 9838 Key Wrap Algorithm transform ID:
// KW_5649_128 / _192 / _256 wrap with a 16, 24 or 32 octet key (RFC 5649);
// 0 for any other ID (KW_ARX is not supported).
size_t kwa_key_bytes(uint16_t kwa);

// The transforms of a Rekey SA (the GIKE_UPDATE policy, RFC 9838 4.4.2.1):
// ENCR_AES_GCM_16 (INTEG none) or ENCR_AES_CBC with AUTH_HMAC_SHA2_256_128,
// a 128, 192 or 256-bit key, and a KW_5649 key wrap algorithm.
struct RekeySuite {
	uint16_t encryption = static_cast<uint16_t>(EncryptionId::AesGcm16);
	uint16_t key_bits = 256;
	uint16_t integrity = 0;
	uint16_t kwa = static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256);
};
bool operator==(const RekeySuite &a, const RekeySuite &b);
// Whether the core speaks this suite.
bool rekey_suite_supported(const RekeySuite &s);
// RFC 9838 3.4: "GSK_e | GSK_a | GSK_w = KEYMAT": GSK_e the encryption
// key (with the 4-octet salt for AES-GCM, RFC 5282), GSK_a the HMAC key
// (none for an AEAD), GSK_w the KWA's key.
size_t rekey_keymat_bytes(const RekeySuite &s);
// Group key bag attribute (private use range) of the Rekey SA's key bag
// in GSA_REKEY and GSA_INBAND_REKEY: an encoded flat key table message
// (lib/groupsec/flatkey/key_message.h). Its entries are wrapped under
// combinations of keys, which no single KWK ID names (docs/gikev2-wire.md).
constexpr uint16_t kFlatKeyMessageAttribute = 16384;
// Member key bag attribute (private use range), at registration only: for
// each flat key table key among the WRAP_KEYs, Key ID (4) | version (4) |
// revision (4) | creator (4). The WRAP_KEYs themselves hold the 32-octet
// keys (RFC 9838 4.5.3.1: "The size of the attribute data MUST be equal to
// the key size for this key wrap algorithm").
constexpr uint16_t kFlatKeySlotsAttribute = 16387;
constexpr size_t kFlatKeySlotBytes = 16;

// Key IDs of key tree keys: the first 4 octets of HMAC-SHA-256(key,
// "groupsec key id"), 1 if they are 0. A new key has a new ID, whatever
// node it belongs to; the ID tells nothing of the node.
uint32_t tree_key_id(const keytree::Key &k);

// One key of a member's Working Key Path (RFC 9838 3.3 "GM Key
// Management Semantics"): a key it received in a WRAP_KEY, by Key ID.
struct HeldKey {
	uint32_t id = 0;
	SecretBytes key;
};
// The Working Key Path, first the key nearest the SA keys (the root of a
// key tree), last the one GSK_w wrapped at registration (the leaf).
using KeyPath = std::vector<HeldKey>;

// Key IDs of flat key table keys (never 0).
uint32_t flat_key_id(const flatkey::KeyId &id);
std::optional<flatkey::KeyId> flat_key_from_id(uint32_t key_id);
// The kFlatKeySlotsAttribute entry of a key, and its reading.
Bytes flat_slot_entry(uint32_t key_id, const flatkey::KeySlot &slot);
struct FlatSlotInfo {
	uint32_t key_id = 0;
	uint32_t version = 0, revision = 0, creator = 0;
};
std::optional<std::vector<FlatSlotInfo>> flat_slot_entries(ByteView value);

// The keys of a Rekey SA (GSA KEK).
struct RekeySa {
	Bytes spi; // 16 octets: IKE SPIi | SPIr of GSA_REKEY
	RekeySuite suite;
	SecretBytes keymat;
	SkKeys keys;
	SecretBytes gsk_w;
	uint32_t lifetime_s = 0;
	uint64_t created_ms = 0;
	uint64_t expires_ms = 0;
	// GSA_REKEY message IDs count per Rekey SA (RFC 9838 2.4.1.3: "The
	// first message sent over a new Rekey SA MUST use Message ID of 0").
	// GCKS: the ID of the next message sent over this SA; member: the
	// lowest ID accepted on it (2.4.1.4), its GSA_INITIAL_MESSAGE_ID or 0
	// at first. 2^32 when the 32-bit IDs are used up.
	uint64_t next_message_id = 0;
};
// Splits keymat (rekey_keymat_bytes(suite)) into GSK_e | GSK_a | GSK_w.
// lifetime_s 0: no GSA_KEY_LIFETIME, the SA never expires (expires_ms is
// UINT64_MAX; RFC 9838 4.4.2.2.1 fixes no default).
RekeySa make_rekey_sa(Bytes spi, SecretBytes keymat, const RekeySuite &suite, uint32_t lifetime_s,
		      uint64_t now_ms);

// RFC 9838 2.4.1.1 "GSA_REKEY Message Authentication": the octets a
// signed GSA_REKEY signs, A | P. h: the message's header (its Length and
// the SK Payload Length are adjusted here); sk_critical: the C bit of its
// SK payload; inner: its inner payloads, AUTH last, whose Authentication
// Data (after the ASN.1 Length octet and the AlgorithmIdentifier) is
// zeroed here keeping its length, so the key server (placeholder) and a
// member (signature received) get the same octets.
Result<Bytes> rekey_signed_octets(const IkeHeader &h, bool sk_critical, std::vector<Payload> inner);

} // namespace groupsec::gdoi::detail
