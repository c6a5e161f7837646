// SPDX-License-Identifier: GPL-2.0-or-later
// Bounds-checked big-endian reading; every read checks the bounds first and
// a failed read consumes nothing.
#pragma once

#include <cstdint>

#include "groupsec/base/bytes.h"

namespace groupsec::wire {

// Reads from a ByteView; every read checks the bounds first and a failed
// read consumes nothing.
class Reader {
public:
	explicit Reader(ByteView in) : in_(in) {}

	size_t remaining() const { return in_.size() - pos_; }
	size_t position() const { return pos_; }
	bool done() const { return pos_ == in_.size(); }

	bool u8(uint8_t &v)
	{
		if (remaining() < 1)
			return false;
		v = in_[pos_++];
		return true;
	}
	bool u16(uint16_t &v)
	{
		if (remaining() < 2)
			return false;
		v = static_cast<uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
		pos_ += 2;
		return true;
	}
	bool u32(uint32_t &v)
	{
		if (remaining() < 4)
			return false;
		v = static_cast<uint32_t>(in_[pos_]) << 24 | static_cast<uint32_t>(in_[pos_ + 1]) << 16 |
		    static_cast<uint32_t>(in_[pos_ + 2]) << 8 | in_[pos_ + 3];
		pos_ += 4;
		return true;
	}
	bool u64(uint64_t &v)
	{
		uint32_t hi = 0, lo = 0;
		if (remaining() < 8)
			return false;
		u32(hi);
		u32(lo);
		v = static_cast<uint64_t>(hi) << 32 | lo;
		return true;
	}
	bool view(size_t n, ByteView &v)
	{
		if (remaining() < n)
			return false;
		v = in_.sub(pos_, n);
		pos_ += n;
		return true;
	}
	bool bytes(size_t n, Bytes &v)
	{
		ByteView b;
		if (!view(n, b))
			return false;
		v = b.to_bytes();
		return true;
	}
	ByteView rest()
	{
		ByteView r = in_.sub(pos_, remaining());
		pos_ = in_.size();
		return r;
	}

private:
	ByteView in_;
	size_t pos_ = 0;
};

} // namespace groupsec::wire
