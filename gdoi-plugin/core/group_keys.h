// SPDX-License-Identifier: GPL-2.0-or-later
// What the key server and the member agree on beyond the codecs: payload
// helpers, RFC 9838 Key IDs of the flat key table and key tree keys, the
// private-use member key bag attributes, the Rekey SA (GSA KEK) and the
// octets a signed GSA_REKEY signs. Internal to the core.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gdoi_engine.h"
#include "gikev2_message.h"
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/keytree/key_tree.h"

namespace groupsec::gdoi::detail {

// Sender-IDs (RFC 9838 GWP_SENDER_ID_BITS, GM_SENDER_ID): 16 bits, at
// most 16 per member.
constexpr uint16_t kSenderIdBits = 16;
constexpr uint32_t kMaxSenderIds = 16;

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

// Rekey SA keying material: GSK_e (AES-256) | salt | GSK_w (KW_5649_256).
constexpr size_t kKekKeyBytes = 32;
constexpr size_t kKekKeymatBytes = kKekKeyBytes + 4 + 32;
// Member key bag attribute (private use range) carrying an encoded flat
// key table message (lib/groupsec/flatkey/key_message.h).
constexpr uint16_t kFlatKeyMessageAttribute = 16384;
// Plaintext of a WRAP_KEY holding a flat key table key:
// version (4) | revision (4) | creator (4) | key (32).
constexpr size_t kFlatWrapPlainBytes = 12 + flatkey::kKeyBytes;

// Member key bag attribute (private use range) carrying an encoded key
// tree message (lib/groupsec/keytree/key_tree.h, docs/key-tree.md).
constexpr uint16_t kKeyTreeMessageAttribute = 16385;
// Member key bag attribute (private use range) at registration: the key
// tree's epoch (8 octets) and depth (1 octet) the WRAP_KEYs belong to.
constexpr uint16_t kKeyTreeStateAttribute = 16386;
constexpr size_t kKeyTreeStateBytes = 9;

// RFC 9838 Key IDs of key tree keys: 0x40000000 | (level + 1) << 24 | pos
// (never 0, never a flat key table Key ID). The WRAP_KEY of a tree key
// unwraps to the 32-octet key itself.
uint32_t tree_key_id(keytree::NodeName n);
std::optional<keytree::NodeName> tree_node_from_id(uint32_t key_id);

// RFC 9838 Key IDs of flat key table keys (never 0).
uint32_t flat_key_id(const flatkey::KeyId &id);
std::optional<flatkey::KeyId> flat_key_from_id(uint32_t key_id);
SecretBytes flat_wrap_plain(const flatkey::KeySlot &slot);
std::optional<flatkey::KeySlot> flat_wrap_slot(ByteView plain);

// The keys of a Rekey SA (GSA KEK).
struct RekeySa {
	Bytes spi; // 16 octets: IKE SPIi | SPIr of GSA_REKEY
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
// Splits keymat (kKekKeymatBytes) into GSK_e | GSK_w.
RekeySa make_rekey_sa(Bytes spi, SecretBytes keymat, uint32_t lifetime_s, uint64_t now_ms);

// RFC 9838 2.4.1.1 "GSA_REKEY Message Authentication": the octets a
// signed GSA_REKEY signs, A | P. h: the message's header (its Length and
// the SK Payload Length are adjusted here); sk_critical: the C bit of its
// SK payload; inner: its inner payloads, AUTH last, whose Authentication
// Data (after the ASN.1 Length octet and the AlgorithmIdentifier) is
// zeroed here keeping its length, so the key server (placeholder) and a
// member (signature received) get the same octets.
Result<Bytes> rekey_signed_octets(const IkeHeader &h, bool sk_critical, std::vector<Payload> inner);

} // namespace groupsec::gdoi::detail
