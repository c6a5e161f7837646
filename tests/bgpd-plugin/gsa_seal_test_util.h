// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers of the sealed-route tests: a clock moved by hand, randomness
// that repeats one octet, addresses and prefixes from text.
#pragma once

#include <cstring>
#include <string>

#include "groupsec/base/hex.h"
#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/random.h"
#include "groupsec/net/address.h"
#include "gsa_seal_codec.h"

namespace groupsec::bgp::test {

class ManualClock : public crypto::Clock {
public:
	uint64_t now_ms() const override { return now; }
	uint64_t now = 1000000;
};

class FixedRandom : public crypto::RandomSource {
public:
	explicit FixedRandom(uint8_t v) : v_(v) {}
	void fill(uint8_t *out, size_t len) override { memset(out, v_, len); }

private:
	uint8_t v_;
};

inline Bytes ip(const std::string &s)
{
	return *net::parse_ip(s);
}

inline SealPrefix prefix(const std::string &s)
{
	size_t slash = s.find('/');
	SealPrefix p;
	p.addr = ip(s.substr(0, slash));
	p.len = static_cast<uint8_t>(std::stoi(s.substr(slash + 1)));
	return p;
}

inline Bytes key_of(uint8_t first)
{
	Bytes k(32);
	for (size_t i = 0; i < k.size(); i++)
		k[i] = static_cast<uint8_t>(first + i);
	return k;
}

// "" is no octet (parse_hex() refuses it)
inline Bytes hex(const std::string &s)
{
	return s.empty() ? Bytes() : *parse_hex(s);
}

} // namespace groupsec::bgp::test
