// SPDX-License-Identifier: GPL-2.0-or-later
// SecretBytes: the octets of a key (IKE SA keys, GSK_w, Rekey SA and TEK
// keying material, DH secrets, PSK copies). A Bytes whose whole allocation
// is wiped with OPENSSL_cleanse before it is given back: when it is
// destroyed, assigned over, cleared, or grows through its own functions.
// It is read wherever a Bytes or ByteView is; code that grows one through
// a Bytes& (wire::put_bytes) bypasses the wiping, so keys are built at
// their final size.
#pragma once

#include <initializer_list>
#include <iterator>
#include <utility>

#include <openssl/crypto.h>

#include "groupsec/base/bytes.h"

namespace groupsec {

class SecretBytes : public Bytes {
public:
	SecretBytes() = default;
	explicit SecretBytes(size_t n, uint8_t v = 0) : Bytes(n, v) {}
	SecretBytes(std::initializer_list<uint8_t> l) : Bytes(l) {}
	template <typename It, typename = typename std::iterator_traits<It>::iterator_category>
	SecretBytes(It first, It last) : Bytes(first, last)
	{
	}
	SecretBytes(ByteView v) : Bytes(v.begin(), v.end()) {}
	SecretBytes(const Bytes &b) : Bytes(b) {}
	// takes the buffer over: no copy is left behind
	SecretBytes(Bytes &&b) noexcept : Bytes(std::move(b)) {}
	SecretBytes(const SecretBytes &o) : Bytes(o) {}
	SecretBytes(SecretBytes &&o) noexcept : Bytes(std::move(o)) {}
	~SecretBytes() { wipe(); }

	SecretBytes &operator=(const Bytes &o)
	{
		if (this != &o) {
			wipe();
			Bytes::assign(o.begin(), o.end());
		}
		return *this;
	}
	SecretBytes &operator=(Bytes &&o) noexcept
	{
		if (this != &o) {
			wipe();
			Bytes::operator=(std::move(o));
		}
		return *this;
	}
	SecretBytes &operator=(const SecretBytes &o) { return *this = static_cast<const Bytes &>(o); }
	SecretBytes &operator=(SecretBytes &&o) noexcept { return *this = static_cast<Bytes &&>(o); }

	// The Bytes functions that free or reuse the buffer, wiping first.
	template <typename It, typename = typename std::iterator_traits<It>::iterator_category>
	void assign(It first, It last)
	{
		*this = SecretBytes(first, last); // the range may be in this buffer
	}
	void assign(size_t n, uint8_t v)
	{
		wipe();
		Bytes::assign(n, v);
	}
	void reserve(size_t n)
	{
		if (n <= capacity())
			return;
		SecretBytes bigger;
		bigger.Bytes::reserve(n);
		bigger.Bytes::assign(begin(), end());
		Bytes::swap(bigger); // the old buffer is wiped with bigger
	}
	void resize(size_t n, uint8_t v = 0)
	{
		reserve(n);
		Bytes::resize(n, v); // shrinking leaves octets in the buffer; wipe() covers them
	}
	void push_back(uint8_t v)
	{
		if (size() == capacity())
			reserve(size() ? 2 * size() : 16);
		Bytes::push_back(v);
	}
	void clear() noexcept { wipe(); }
	void shrink_to_fit() noexcept {} // the buffer stays until it is wiped
	void swap(SecretBytes &o) noexcept { Bytes::swap(o); }

	// Zeroes the whole buffer (beyond size() too) and empties it; the
	// buffer itself stays for reuse.
	void wipe() noexcept
	{
		if (capacity()) {
			Bytes::resize(capacity());
			OPENSSL_cleanse(data(), size());
		}
		Bytes::clear();
	}
};

} // namespace groupsec
