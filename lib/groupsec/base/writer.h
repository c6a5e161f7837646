// SPDX-License-Identifier: GPL-2.0-or-later
// Big-endian writing into a growing buffer, and the helpers every codec
// shares (the truncation error, exception containment).
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::wire {
inline void put_u8(Bytes &out, uint8_t v)
{
	out.push_back(v);
}
inline void put_u16(Bytes &out, uint16_t v)
{
	out.push_back(static_cast<uint8_t>(v >> 8));
	out.push_back(static_cast<uint8_t>(v));
}
inline void put_u32(Bytes &out, uint32_t v)
{
	put_u16(out, static_cast<uint16_t>(v >> 16));
	put_u16(out, static_cast<uint16_t>(v));
}
inline void put_u64(Bytes &out, uint64_t v)
{
	put_u32(out, static_cast<uint32_t>(v >> 32));
	put_u32(out, static_cast<uint32_t>(v));
}
inline void put_bytes(Bytes &out, ByteView b)
{
	out.insert(out.end(), b.begin(), b.end());
}

inline Error truncated(const std::string &what)
{
	return make_error(WireError::Truncated, what + ": truncated");
}

// Runs a codec body so that no exception (only std::bad_alloc can occur)
// leaves the public API.
template <typename F> auto guarded(F &&f) -> decltype(f())
{
	try {
		return f();
	} catch (const std::exception &) {
		return make_error(WireError::NoMemory, "out of memory");
	}
}

} // namespace groupsec::wire
