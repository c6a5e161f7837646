// SPDX-License-Identifier: GPL-2.0-or-later
// Byte buffers: an owning vector and a read-only view, shared by every codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace groupsec {

using Bytes = std::vector<uint8_t>;

// A read-only window on bytes owned by someone else.
class ByteView {
public:
	constexpr ByteView() = default;
	constexpr ByteView(const uint8_t *data, size_t size) : data_(data), size_(size) {}
	ByteView(const Bytes &b) : data_(b.data()), size_(b.size()) {}

	constexpr const uint8_t *data() const { return data_; }
	constexpr size_t size() const { return size_; }
	constexpr bool empty() const { return size_ == 0; }
	constexpr uint8_t operator[](size_t i) const { return data_[i]; }
	const uint8_t *begin() const { return data_; }
	const uint8_t *end() const { return data_ + size_; }
	// the bytes [pos, pos + n); the caller checks the bounds
	constexpr ByteView sub(size_t pos, size_t n) const { return ByteView(data_ + pos, n); }
	Bytes to_bytes() const { return Bytes(begin(), end()); }

private:
	const uint8_t *data_ = nullptr;
	size_t size_ = 0;
};

} // namespace groupsec
