// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: compact wire format of TreeMessage.
#include "groupsec/keytree/tree_message.h"

#include <algorithm>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"

namespace groupsec::keytree {

namespace {

// format, epoch, depth, leaver count, wrap count
constexpr size_t kFixedBytes = 1 + 8 + 1 + 4 + 4;
constexpr size_t kLeaverBytes = 4;
constexpr size_t kWrapEntryBytes = 1 + 4 + kWrapBytes;

void put8(std::vector<uint8_t> &o, uint8_t v)
{
	wire::put_u8(o, v);
}

void put32(std::vector<uint8_t> &o, uint32_t v)
{
	wire::put_u32(o, v);
}

void put64(std::vector<uint8_t> &o, uint64_t v)
{
	wire::put_u64(o, v);
}

// What the decoder or check() found wrong; reported as an Error.
enum class Problem {
	None,
	Truncated,   // the buffer ends inside a field or an announced list
	Format,      // first byte is not kTreeFormat
	Depth,       // depth above kMaxDepth
	NoLeavers,   // leaver count 0
	LeaverRange, // a leaf index >= 2^depth
	LeaverOrder, // leavers not strictly ascending (unsorted/duplicate)
	WrapNode,    // wrap node outside the tree or not a child of a T node
	WrapOrder,   // wraps not strictly ascending by (level, pos)
	WrapCount,   // two wraps for one parent
	WrapLength,  // a wrap that is not kWrapBytes long (structs only)
	Trailing,    // bytes after the last wrap
};

Error to_error(Problem e)
{
	switch (e) {
	case Problem::None:
		return make_error(WireError::BadValue, "ok");
	case Problem::Truncated:
		return make_error(WireError::Truncated, "message truncated");
	case Problem::Format:
		return make_error(WireError::BadVersion, "not a key tree message (format byte)");
	case Problem::Depth:
		return make_error(WireError::BadValue, "tree depth above 24");
	case Problem::NoLeavers:
		return make_error(WireError::Missing, "no leavers");
	case Problem::LeaverRange:
		return make_error(WireError::BadValue, "leaver outside the tree");
	case Problem::LeaverOrder:
		return make_error(WireError::BadValue, "leavers not sorted or duplicated");
	case Problem::WrapNode:
		return make_error(WireError::BadValue, "wrap node not a child of a replaced node");
	case Problem::WrapOrder:
		return make_error(WireError::BadValue, "wraps not sorted or duplicated");
	case Problem::WrapCount:
		return make_error(WireError::Duplicate, "two wraps for one node");
	case Problem::WrapLength:
		return make_error(WireError::BadLength, "wrap not 40 bytes");
	case Problem::Trailing:
		return make_error(WireError::TrailingBytes, "trailing bytes after the last wrap");
	}
	return make_error(WireError::BadValue, "unknown error");
}

} // namespace

bool in_removed_set(const std::vector<uint32_t> &sorted_leavers,
		    unsigned level, uint32_t pos)
{
	if (level > 32)
		return false;
	uint64_t lo = uint64_t(pos) << level;
	uint64_t hi = (uint64_t(pos) + 1) << level;
	auto it = std::lower_bound(sorted_leavers.begin(), sorted_leavers.end(),
				   lo, [](uint32_t a, uint64_t b) {
					   return uint64_t(a) < b;
				   });
	return it != sorted_leavers.end() && uint64_t(*it) < hi;
}

namespace {

Problem check_problem(const TreeMessage &m)
{
	if (m.depth > kMaxDepth)
		return Problem::Depth;
	if (m.leavers.empty())
		return Problem::NoLeavers;
	const uint64_t leaves = uint64_t(1) << m.depth;
	for (size_t i = 0; i < m.leavers.size(); i++) {
		if (m.leavers[i] >= leaves)
			return Problem::LeaverRange;
		if (i > 0 && m.leavers[i] <= m.leavers[i - 1])
			return Problem::LeaverOrder;
	}
	for (size_t i = 0; i < m.wraps.size(); i++) {
		const Wrap &w = m.wraps[i];
		if (w.wrapped.size() != kWrapBytes)
			return Problem::WrapLength;
		if (w.level >= m.depth ||
		    uint64_t(w.pos) >= (leaves >> w.level) ||
		    !in_removed_set(m.leavers, w.level + 1u, w.pos >> 1))
			return Problem::WrapNode;
		if (i > 0) {
			const Wrap &p = m.wraps[i - 1];
			if (NodeName{w.level, w.pos} < NodeName{p.level, p.pos} ||
			    NodeName{w.level, w.pos} == NodeName{p.level, p.pos})
				return Problem::WrapOrder;
			if (w.level == p.level && (w.pos >> 1) == (p.pos >> 1))
				return Problem::WrapCount;
		}
	}
	return Problem::None;
}

} // namespace

std::optional<Error> check(const TreeMessage &m)
{
	Problem p = check_problem(m);
	if (p == Problem::None)
		return std::nullopt;
	return to_error(p);
}

size_t encoded_size(const TreeMessage &m)
{
	return kFixedBytes + kLeaverBytes * m.leavers.size() +
	       kWrapEntryBytes * m.wraps.size();
}

std::vector<uint8_t> encode(const TreeMessage &m)
{
	std::vector<uint8_t> o;
	if (check(m))
		return o;
	o.reserve(encoded_size(m));
	put8(o, kTreeFormat);
	put64(o, m.epoch);
	put8(o, m.depth);
	put32(o, static_cast<uint32_t>(m.leavers.size()));
	for (uint32_t x : m.leavers)
		put32(o, x);
	put32(o, static_cast<uint32_t>(m.wraps.size()));
	for (const Wrap &w : m.wraps) {
		put8(o, w.level);
		put32(o, w.pos);
		o.insert(o.end(), w.wrapped.begin(), w.wrapped.end());
	}
	return o;
}

namespace {

struct Parsed {
	Problem error = Problem::None;
	TreeMessage message;
};

Parsed parse(ByteView data)
{
	Parsed r;
	wire::Reader in(data);
	uint8_t format = 0;
	if (!in.u8(format)) {
		r.error = Problem::Truncated;
		return r;
	}
	if (format != kTreeFormat) {
		r.error = Problem::Format;
		return r;
	}
	TreeMessage &m = r.message;
	uint32_t n = 0;
	if (!in.u64(m.epoch) || !in.u8(m.depth)) {
		r.error = Problem::Truncated;
		return r;
	}
	if (m.depth > kMaxDepth) {
		r.error = Problem::Depth;
		return r;
	}
	if (!in.u32(n)) {
		r.error = Problem::Truncated;
		return r;
	}
	// Counts are checked against the bytes left before anything is
	// allocated for them.
	if (n > in.remaining() / kLeaverBytes) {
		r.error = Problem::Truncated;
		return r;
	}
	m.leavers.resize(n);
	for (uint32_t i = 0; i < n; i++)
		in.u32(m.leavers[i]);
	if (!in.u32(n) || n > in.remaining() / kWrapEntryBytes) {
		r.error = Problem::Truncated;
		return r;
	}
	m.wraps.resize(n);
	for (uint32_t i = 0; i < n; i++) {
		Wrap &w = m.wraps[i];
		in.u8(w.level);
		in.u32(w.pos);
		in.bytes(kWrapBytes, w.wrapped);
	}
	if (in.remaining() != 0) {
		r.error = Problem::Trailing;
		return r;
	}
	r.error = check_problem(m);
	return r;
}

} // namespace

Result<TreeMessage> decode(ByteView in)
{
	return wire::guarded([&]() -> Result<TreeMessage> {
		Parsed p = parse(in);
		if (p.error != Problem::None)
			return to_error(p.error); // nothing of a bad message
		return std::move(p.message);
	});
}

} // namespace groupsec::keytree
