// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: compact wire format of TreeMessage.
#include "groupsec/keytree/tree_message.h"

#include <algorithm>

namespace groupsec::keytree {

namespace {

// format, epoch, depth, leaver count, wrap count
constexpr size_t kFixedBytes = 1 + 8 + 1 + 4 + 4;
constexpr size_t kLeaverBytes = 4;
constexpr size_t kWrapEntryBytes = 1 + 4 + kWrapBytes;

void put8(std::vector<uint8_t> &o, uint8_t v) { o.push_back(v); }

void put32(std::vector<uint8_t> &o, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put64(std::vector<uint8_t> &o, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class Reader {
public:
	Reader(const uint8_t *d, size_t n) : d_(d), n_(n) {}
	size_t left() const { return n_ - at_; }
	bool get8(uint8_t *v)
	{
		if (left() < 1)
			return false;
		*v = d_[at_++];
		return true;
	}
	bool get32(uint32_t *v)
	{
		if (left() < 4)
			return false;
		uint32_t x = 0;
		for (int i = 0; i < 4; i++)
			x = (x << 8) | d_[at_++];
		*v = x;
		return true;
	}
	bool get64(uint64_t *v)
	{
		if (left() < 8)
			return false;
		uint64_t x = 0;
		for (int i = 0; i < 8; i++)
			x = (x << 8) | d_[at_++];
		*v = x;
		return true;
	}
	bool get(uint8_t *out, size_t len)
	{
		if (left() < len)
			return false;
		std::copy(d_ + at_, d_ + at_ + len, out);
		at_ += len;
		return true;
	}

private:
	const uint8_t *d_;
	size_t n_;
	size_t at_ = 0;
};

} // namespace

const char *to_string(DecodeError e)
{
	switch (e) {
	case DecodeError::None:
		return "ok";
	case DecodeError::Truncated:
		return "message truncated";
	case DecodeError::Format:
		return "not a key tree message (format byte)";
	case DecodeError::Depth:
		return "tree depth above 24";
	case DecodeError::NoLeavers:
		return "no leavers";
	case DecodeError::LeaverRange:
		return "leaver outside the tree";
	case DecodeError::LeaverOrder:
		return "leavers not sorted or duplicated";
	case DecodeError::WrapNode:
		return "wrap node not a child of a replaced node";
	case DecodeError::WrapOrder:
		return "wraps not sorted or duplicated";
	case DecodeError::WrapCount:
		return "two wraps for one node";
	case DecodeError::WrapLength:
		return "wrap not 40 bytes";
	case DecodeError::Trailing:
		return "trailing bytes after the last wrap";
	}
	return "unknown error";
}

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

DecodeError check(const TreeMessage &m)
{
	if (m.depth > kMaxDepth)
		return DecodeError::Depth;
	if (m.leavers.empty())
		return DecodeError::NoLeavers;
	const uint64_t leaves = uint64_t(1) << m.depth;
	for (size_t i = 0; i < m.leavers.size(); i++) {
		if (m.leavers[i] >= leaves)
			return DecodeError::LeaverRange;
		if (i > 0 && m.leavers[i] <= m.leavers[i - 1])
			return DecodeError::LeaverOrder;
	}
	for (size_t i = 0; i < m.wraps.size(); i++) {
		const Wrap &w = m.wraps[i];
		if (w.wrapped.size() != kWrapBytes)
			return DecodeError::WrapLength;
		if (w.level >= m.depth ||
		    uint64_t(w.pos) >= (leaves >> w.level) ||
		    !in_removed_set(m.leavers, w.level + 1u, w.pos >> 1))
			return DecodeError::WrapNode;
		if (i > 0) {
			const Wrap &p = m.wraps[i - 1];
			if (NodeName{w.level, w.pos} < NodeName{p.level, p.pos} ||
			    NodeName{w.level, w.pos} == NodeName{p.level, p.pos})
				return DecodeError::WrapOrder;
			if (w.level == p.level && (w.pos >> 1) == (p.pos >> 1))
				return DecodeError::WrapCount;
		}
	}
	return DecodeError::None;
}

size_t encoded_size(const TreeMessage &m)
{
	return kFixedBytes + kLeaverBytes * m.leavers.size() +
	       kWrapEntryBytes * m.wraps.size();
}

std::vector<uint8_t> encode(const TreeMessage &m)
{
	std::vector<uint8_t> o;
	if (check(m) != DecodeError::None)
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

DecodeResult parse(const uint8_t *data, size_t len)
{
	DecodeResult r;
	if (data == nullptr)
		len = 0;
	Reader in(data, len);
	uint8_t format = 0;
	if (!in.get8(&format)) {
		r.error = DecodeError::Truncated;
		return r;
	}
	if (format != kTreeFormat) {
		r.error = DecodeError::Format;
		return r;
	}
	TreeMessage &m = r.message;
	uint32_t n = 0;
	if (!in.get64(&m.epoch) || !in.get8(&m.depth)) {
		r.error = DecodeError::Truncated;
		return r;
	}
	if (m.depth > kMaxDepth) {
		r.error = DecodeError::Depth;
		return r;
	}
	if (!in.get32(&n)) {
		r.error = DecodeError::Truncated;
		return r;
	}
	// Counts are checked against the bytes left before anything is
	// allocated for them.
	if (n > in.left() / kLeaverBytes) {
		r.error = DecodeError::Truncated;
		return r;
	}
	m.leavers.resize(n);
	for (uint32_t i = 0; i < n; i++)
		in.get32(&m.leavers[i]);
	if (!in.get32(&n) || n > in.left() / kWrapEntryBytes) {
		r.error = DecodeError::Truncated;
		return r;
	}
	m.wraps.resize(n);
	for (uint32_t i = 0; i < n; i++) {
		Wrap &w = m.wraps[i];
		in.get8(&w.level);
		in.get32(&w.pos);
		w.wrapped.resize(kWrapBytes);
		in.get(w.wrapped.data(), kWrapBytes);
	}
	if (in.left() != 0) {
		r.error = DecodeError::Trailing;
		return r;
	}
	r.error = check(m);
	return r;
}

} // namespace

DecodeResult decode(const uint8_t *data, size_t len)
{
	DecodeResult r = parse(data, len);
	if (!r.ok())
		r.message = TreeMessage{}; // nothing of a bad message
	return r;
}

} // namespace groupsec::keytree
