// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: the rekey message a leave produces, and its compact
// wire format (docs/key-tree.md, byte by byte).
//
// A message names the epoch it leads to, the depth of the tree, the leaf
// indices of the members removed (sorted, unique) and, per wrapped key,
// the node whose key wraps it: a wrap (level, pos) carries the new key of
// the parent (level + 1, pos >> 1), AES key wrap with padding (RFC 5649)
// under the key the child (level, pos) has after this message. Every other
// new key on a receiver's path is derived (key_tree.h, derive()), so the
// message needs no more than the leavers to be self-describing.
//
// encode() and decode() are pure functions; decode() never reads past the
// buffer and reports the first rule a message breaks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::keytree {

// Deepest tree: 2^24 leaves.
constexpr unsigned kMaxDepth = 24;

// First byte of an encoded message. Formats 1 and 2 are the flat key
// table's (flatkey/key_message.h), so a receiver can tell them apart.
constexpr uint8_t kTreeFormat = 3;

// Bytes of one wrap on the wire: a 32-byte key under AES key wrap.
constexpr size_t kWrapBytes = 40;

// A node: level 0 is a leaf, pos = leaf index >> level; the root of a
// tree of depth d is (d, 0).
struct NodeName {
	uint8_t level = 0;
	uint32_t pos = 0;

	bool operator==(const NodeName &o) const
	{
		return level == o.level && pos == o.pos;
	}
	bool operator!=(const NodeName &o) const { return !(*this == o); }
	bool operator<(const NodeName &o) const
	{
		return level != o.level ? level < o.level : pos < o.pos;
	}
};

// The new key of (level + 1, pos >> 1) wrapped under the key of
// (level, pos) after the message.
struct Wrap {
	uint8_t level = 0;
	uint32_t pos = 0;
	std::vector<uint8_t> wrapped;
};

struct TreeMessage {
	uint64_t epoch = 0; // the epoch this message leads to
	uint8_t depth = 0;  // depth of the tree after the message
	std::vector<uint32_t> leavers;
	std::vector<Wrap> wraps; // ascending by (level, pos)
};

// The rules decode() enforces, for a message built in memory: nullopt if
// m could have come from decode(), else the error decode() would give.
std::optional<Error> check(const TreeMessage &m);

// Empty if check(m) fails.
std::vector<uint8_t> encode(const TreeMessage &m);

// Size encode(m) has, without encoding (m assumed valid).
size_t encoded_size(const TreeMessage &m);

// Never throws; on error nothing but the error is produced: Truncated,
// BadVersion (not the key tree format), Missing (no leavers), Duplicate
// (two wraps for one node), TrailingBytes or BadValue (depth, leaver or
// wrap out of range or order), with the reason in words.
Result<TreeMessage> decode(ByteView in);

using groupsec::to_string;

// Whether (level, pos) is an ancestor-set node of the sorted leavers: some
// leaver x has x >> level == pos. level may be 0 (then: pos is a leaver).
bool in_removed_set(const std::vector<uint32_t> &sorted_leavers,
		    unsigned level, uint32_t pos);

} // namespace groupsec::keytree
