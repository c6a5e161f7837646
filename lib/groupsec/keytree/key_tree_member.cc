// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: a member applying leave messages.
#include "groupsec/keytree/key_tree.h"

#include <algorithm>

namespace groupsec::keytree {

const char *to_string(KeyTreeMember::ApplyError e)
{
	using E = KeyTreeMember::ApplyError;
	switch (e) {
	case E::None:
		return "ok";
	case E::Excluded:
		return "this member was removed";
	case E::Stale:
		return "message already applied";
	case E::OutOfDate:
		return "a previous message was missed";
	case E::Integrity:
		return "key unwrap failed";
	case E::Malformed:
		return "malformed message";
	}
	return "unknown error";
}

KeyTreeMember::KeyTreeMember(MemberKeys k) : keys_(std::move(k))
{
	// Keys that do not describe a path are unusable: such a member
	// holds a zero path and counts as removed.
	if (keys_.depth > kMaxDepth || keys_.path.size() != keys_.depth + 1u ||
	    (uint64_t(keys_.leaf) >> keys_.depth) != 0) {
		valid_ = false;
		for (Key &x : keys_.path)
			wipe(x);
		keys_.path.assign(keys_.depth <= kMaxDepth ? keys_.depth + 1u : 1u,
				  Key{});
		if (keys_.depth > kMaxDepth)
			keys_.depth = 0;
	}
}

bool KeyTreeMember::extend(unsigned d)
{
	if (!valid_ || d < keys_.depth || d > kMaxDepth)
		return false;
	NodeKeyDeriver deriver;
	MemberKeys next;
	next.leaf = keys_.leaf;
	next.epoch = keys_.epoch;
	next.depth = static_cast<uint8_t>(d);
	next.path.reserve(d + 1u);
	next.path.assign(keys_.path.begin(), keys_.path.end());
	for (unsigned l = keys_.depth + 1u; l <= d; l++)
		next.path.push_back(deriver.derive_grown(
			next.path[l - 1], static_cast<uint8_t>(l), keys_.epoch));
	std::swap(keys_, next);
	return true;
}

KeyTreeMember::ApplyError KeyTreeMember::apply(const TreeMessage &m)
{
	if (!valid_)
		return ApplyError::Excluded;
	if (m.epoch <= keys_.epoch)
		return ApplyError::Stale;
	if (m.epoch - keys_.epoch != 1)
		return ApplyError::OutOfDate;
	if (check(m) || m.depth < keys_.depth)
		return ApplyError::Malformed;
	const uint32_t leaf = keys_.leaf;
	if (std::binary_search(m.leavers.begin(), m.leavers.end(), leaf))
		return ApplyError::Excluded;

	NodeKeyDeriver deriver;
	flatkey::KeyWrapper wrapper;
	// The new path in a buffer of its final size: no copy of a key is
	// left behind by a reallocation.
	MemberKeys next;
	next.leaf = leaf;
	next.path.reserve(m.depth + 1u);
	next.path.assign(keys_.path.begin(), keys_.path.end());
	next.path.resize(m.depth + 1u);
	// Levels the tree grew by since our last message: every growth
	// happened at our epoch, each new root derived from the one below.
	for (unsigned l = keys_.depth + 1u; l <= m.depth; l++)
		next.path[l] = deriver.derive_grown(
			next.path[l - 1], static_cast<uint8_t>(l), keys_.epoch);
	for (unsigned l = 1; l <= m.depth; l++) {
		const NodeName v{static_cast<uint8_t>(l), leaf >> l};
		if (!in_removed_set(m.leavers, l, v.pos))
			continue;
		const NodeName c{static_cast<uint8_t>(l - 1), leaf >> (l - 1)};
		auto w = std::lower_bound(
			m.wraps.begin(), m.wraps.end(), c,
			[](const Wrap &a, const NodeName &b) {
				return NodeName{a.level, a.pos} < b;
			});
		if (w != m.wraps.end() && NodeName{w->level, w->pos} == c) {
			auto k = wrapper.unwrap_key(next.path[l - 1], w->wrapped);
			if (!k)
				return ApplyError::Integrity;
			next.path[l] = *k;
			wipe(*k);
		} else {
			next.path[l] = deriver.derive(next.path[l - 1], v,
						       m.epoch);
		}
	}
	next.epoch = m.epoch;
	next.depth = m.depth;
	std::swap(keys_, next);
	return ApplyError::None;
}

} // namespace groupsec::keytree
