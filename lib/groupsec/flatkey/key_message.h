// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table: rekey messages. A message is a list of entries,
// each naming the key(s) it is wrapped under and the key it carries:
//
//   wrap    - the new key, AES key wrap (RFC 5649) under the wrapping key,
//             or under the conjunction of several (combine_keys());
//   derive  - no ciphertext: holders of the wrapping keys compute the new
//             key as derive_replacement(combine_keys(wrapping keys));
//   notice  - no wrapping key and no ciphertext: the named key moved to the
//             given revision, holders advance it with the one-way function.
//
// A compact message may end with a leaver notice (LeaverNotice): the
// removed members' primary IDs, from which every holder derives which of
// its KEKs are replaced.
//
// Two wire formats: format 1 names every key with its version, revision and
// creator; the compact format 2 (what the key server sends) names KEKs by
// (table, symbol, value) only: each key is taken at the receiver's current
// version after the earlier entries of the same message, and the message
// header names the TEK the receiver must hold before and the TEK it leads
// to. A receiver that missed a message is told so by the header; a wrong
// key fails the AES key wrap integrity check. KeyStore::receive() applies
// decoded compact messages.
//
// The G-IKEv2 plugin carries the encoded message in a Key Download payload;
// a member needs no knowledge of the table to apply it. Wire format in
// docs/flat-key-table.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::flatkey {

enum class KeyKind : uint8_t {
	Tek = 0,    // the traffic encryption key
	Kek = 1,    // KEK (table, symbol, value)
	Member = 2, // a member's individual key (registration handle)
};

struct KeyId {
	KeyKind kind = KeyKind::Tek;
	uint8_t table = 0;
	uint8_t symbol = 0;
	uint8_t value = 0;
	uint32_t member = 0;

	static KeyId tek() { return KeyId{}; }
	static KeyId kek(uint8_t t, uint8_t s, uint8_t v)
	{
		return KeyId{KeyKind::Kek, t, s, v, 0};
	}
	static KeyId member_key(uint32_t handle)
	{
		return KeyId{KeyKind::Member, 0, 0, 0, handle};
	}
	bool operator==(const KeyId &o) const
	{
		return kind == o.kind && table == o.table &&
		       symbol == o.symbol && value == o.value &&
		       member == o.member;
	}
	bool operator<(const KeyId &o) const;
};

// A key at one version and revision. creator identifies who made that
// version (0: the central key server; in the distributed variant the
// creator's priority, or a tag of the creator set of a merged key).
struct KeyRef {
	KeyId id;
	uint32_t version = 0;
	uint32_t revision = 0;
	uint32_t creator = 0;

	bool operator==(const KeyRef &o) const
	{
		return id == o.id && version == o.version &&
		       revision == o.revision && creator == o.creator;
	}
};

struct WrappedKey {
	std::vector<KeyRef> wrapping; // empty: notice
	KeyRef wrapped;
	std::vector<uint8_t> ciphertext; // empty: derive or notice
	// Further keys in the same ciphertext after the wrapped key (a member
	// bundle of a full re-key: TEK' then the member's new KEKs).
	std::vector<KeyRef> carried;

	bool is_notice() const { return wrapping.empty(); }
	bool is_derived() const
	{
		return !wrapping.empty() && ciphertext.empty();
	}
};

// Compact format only: the members a leave removed, by primary ID, and the
// symbol layout (V per symbol, per table; the IdLayout of the group). Every
// KEK one of them held (in every table, extra symbols derived from the
// primary ID as IdLayout::all_symbols() does) is replaced: a holder computes
// derive_replacement(combine_keys(KEK, TEK')) at the next version, after the
// message's entries. The message carries no per-KEK entry for them.
struct LeaverNotice {
	std::vector<std::vector<uint16_t>> radix;
	// Primary IDs in ascending index order (symbol 0 least significant).
	std::vector<std::vector<uint8_t>> ids;
	// The server's versions of the KEKs replaced. Not on the wire (a
	// receiver of a compact message takes its current version); used by
	// KeyStore::apply() on a message as the server made it.
	std::vector<KeyRef> replaced;

	bool empty() const { return ids.empty(); }
};

constexpr uint8_t kMessageFormat = 1;
constexpr uint8_t kCompactFormat = 2;

struct KeyMessage {
	std::vector<WrappedKey> entries;
	// Wire format encode() writes.
	uint8_t format = kMessageFormat;
	// Compact format: the TEK a receiver must hold before applying the
	// message, and the TEK the message leads to (one revision further, or
	// the next version at revision 0).
	KeyRef base;
	KeyRef tek;
	// Set by decode() for compact messages: the versions and revisions in
	// the entries are not on the wire (zero); KeyStore::receive() takes
	// them from the receiver's state.
	bool versions_implied = false;
	// Compact format: members removed (see LeaverNotice).
	LeaverNotice leavers;

	size_t wrapped_count() const;
	bool operator==(const KeyMessage &o) const;
};

constexpr size_t kMaxEntries = 1u << 22;
constexpr size_t kMaxWrapping = 64;
// The furthest a holder steps a key's revision for one reference or
// notice (KeyStore): a longer jump is no legitimate message.
constexpr uint32_t kMaxRevisionStep = 4096;

// Join announcements (revision notices only) folded for the members that
// have not received them yet: next is merged into the last message of
// pending, a format 1 message naming the newest revision of every key
// announced since it began, so that what is pending grows with the size
// of the table, not with the number of joins. A new message begins once
// the last one spans kMaxRevisionStep revisions of the TEK (base holds
// the TEK before its first join; base is not on the wire in format 1);
// applied in order, each steps a holder's keys at most that far. false,
// and pending unchanged, if next is not a join announcement (a TEK
// revision notice with KEK revision notices).
bool fold_notices(std::vector<KeyMessage> &pending, const KeyMessage &next);

// Empty if m cannot be written in m.format (see encodable()).
std::vector<uint8_t> encode(const KeyMessage &m);
size_t encoded_size(const KeyMessage &m);
// Whether m fits its format: format 1 cannot carry bundles or a leaver
// notice; the compact
// format needs every entry in one of its shapes (docs/flat-key-table.md)
// and a TEK step of one revision or one version.
bool encodable(const KeyMessage &m);
// Never throws; on error nothing but the error is produced. Its code is
// Truncated, BadVersion (unknown message format), BadValue (unknown key
// kind, inconsistent entry, a TEK step neither one revision nor one
// version), BadLength (too many entries or wrapping keys, bad wrapped key
// length) or TrailingBytes; its message says which ("truncated", ...).
Result<KeyMessage> decode(ByteView in);

using groupsec::to_string;

// Per-packet header of FIG. 8: who sent the packet (association ID) and
// which TEK version and revision protect it.
struct PacketKeyHeader {
	uint32_t association_id = 0;
	uint32_t key_version = 0;
	uint32_t key_revision = 0;
};
constexpr size_t kPacketKeyHeaderBytes = 12;
void encode(const PacketKeyHeader &h, uint8_t out[kPacketKeyHeaderBytes]);
bool decode(const uint8_t *data, size_t len, PacketKeyHeader *out);

} // namespace groupsec::flatkey
