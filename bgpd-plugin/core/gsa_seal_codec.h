// SPDX-License-Identifier: GPL-2.0-or-later
// The sealed attribute of groupsec routes (docs/bgp-gsa.md): an optional
// transitive path attribute whose value is a list of sealed entries, one
// per group that names the endpoint,
//
//   version (1) = 2 | count (1) | per entry: length (2) | entry
//
// each entry a versioned blob
//
//   version (1) = 1 | suite (1) = 1 | group ID (4) | key epoch (4) |
//   originator AFI (1) | originator (4 or 16) | nonce (12) |
//   ciphertext | tag (16)
//
// with AES-256-GCM over the private routes (the gateway and the prefixes,
// NLRI-style) and the octets before the nonce as AAD. Pure functions: the
// key and the nonce's randomness come from the caller.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/crypto/random.h"

namespace groupsec::bgp {

constexpr uint8_t kSealVersion = 1; // of an entry (blob)
constexpr uint8_t kSealListVersion = 2; // of the attribute's value
// entries of one attribute: groups that name one endpoint
constexpr size_t kSealMaxEntries = 32;
constexpr uint8_t kSealSuiteAes256Gcm = 1;
constexpr size_t kSealKeyBytes = 32;
constexpr size_t kSealNonceBytes = 12;
constexpr size_t kSealTagBytes = 16;
constexpr size_t kSealMaxValue = 65535;
constexpr uint8_t kSealAttrFlags = 0xC0; // optional, transitive
constexpr uint8_t kSealDefaultCode = 255; // RFC 2042: reserved for development
// Address Family Numbers (IANA) as the blob writes them
constexpr uint8_t kAfiIpv4 = 1;
constexpr uint8_t kAfiIpv6 = 2;

// The values are those of enum gsa_seal_status (gsa_seal.h).
enum class SealStatus {
	Ok = 0,
	Invalid,
	Truncated,
	Malformed,
	Version,
	UnknownGroup,
	UnknownEpoch,
	EpochExpired,
	BadTag,
	TooLarge,
	NotFound,
	Internal,
};
// "bad-tag" and so on (gsa_seal_status_name()).
const char *seal_status_name(SealStatus s);

struct SealError {
	SealStatus code = SealStatus::Internal;
	std::string message;
};

// A value or a SealError.
template <typename T> class SealResult {
public:
	SealResult(T value) : v_(std::move(value)) {}
	SealResult(SealError error) : v_(std::move(error)) {}
	bool ok() const { return v_.index() == 0; }
	const T &value() const & { return std::get<0>(v_); }
	T &value() & { return std::get<0>(v_); }
	const SealError &error() const { return std::get<1>(v_); }

private:
	std::variant<T, SealError> v_;
};

inline SealError seal_error(SealStatus code, std::string message)
{
	return SealError{code, std::move(message)};
}

// A prefix: addr holds 4 (IPv4) or 16 (IPv6) octets, zero after len bits.
struct SealPrefix {
	Bytes addr;
	uint8_t len = 0;
};
bool operator==(const SealPrefix &a, const SealPrefix &b);
// "10.1.0.0/16"
std::string seal_prefix_text(const SealPrefix &p);

// What the ciphertext holds: the gateway traffic to the prefixes goes to
// (4 or 16 octets) and the prefixes (at least one).
struct SealedRoutes {
	Bytes gateway;
	std::vector<SealPrefix> prefixes;
};

// The plaintext: gateway AFI (1) | gateway | count (2) | per prefix AFI (1)
// | length in bits (1) | the prefix's leading octets (ceil(length / 8)).
SealResult<Bytes> encode_sealed_routes(const SealedRoutes &r);
SealResult<SealedRoutes> decode_sealed_routes(ByteView plain);

// The clear part of a blob; the views point into the blob parsed.
struct SealedHeader {
	uint8_t version = kSealVersion;
	uint8_t suite = kSealSuiteAes256Gcm;
	uint32_t group = 0;
	uint32_t epoch = 0;
	Bytes originator; // 4 or 16 octets
	ByteView aad; // version .. originator
	ByteView nonce;
	ByteView ciphertext;
	ByteView tag;
};
// Checks the structure only: Truncated, Version (another version or
// suite), Malformed (an originator AFI other than 1 or 2).
SealResult<SealedHeader> parse_sealed(ByteView value);

// Seals routes of group under key (32 octets) for epoch: the blob.
// Invalid for a bad key size, originator, gateway or prefix; TooLarge over
// 65535 octets.
SealResult<Bytes> seal_routes(ByteView key, uint32_t group, uint32_t epoch, ByteView originator,
			      const SealedRoutes &routes, crypto::RandomSource &random);
// Opens a parsed blob with key: BadTag if the tag does not verify (a wrong
// key, or any octet of the header or ciphertext changed), Malformed or
// Truncated if the plaintext that verified does not decode.
SealResult<SealedRoutes> open_routes(ByteView key, const SealedHeader &h);

// The attribute's value: the entries (blobs of seal_routes()) in
// ascending group order, each behind its 2-octet length. Invalid for no
// entry, an entry that does not parse or two of one group; TooLarge over
// kSealMaxEntries entries or 65535 octets.
SealResult<Bytes> encode_sealed_list(const std::vector<Bytes> &entries);
// Parses the attribute's value strictly: Truncated (ends inside the list
// header, a length or an entry), Version (a list version other than 2: a
// bare entry is refused), Malformed (a count of 0 or over kSealMaxEntries,
// entries not in strictly ascending group order, octets after the last
// one), or any error of parse_sealed() on an entry. The headers' views
// point into value.
SealResult<std::vector<SealedHeader>> parse_sealed_list(ByteView value);

// The whole path attribute: flags 0xC0 (0xD0 and a 2-octet length above
// 255 octets), code, length, value.
SealResult<Bytes> encode_seal_attribute(uint8_t code, ByteView value);
// The value of attribute code in a sequence of path attributes; NotFound
// if absent, Malformed if present without the optional and transitive
// bits, Truncated if an attribute runs past the end.
SealResult<ByteView> find_seal_attribute(ByteView attrs, uint8_t code);

} // namespace groupsec::bgp
