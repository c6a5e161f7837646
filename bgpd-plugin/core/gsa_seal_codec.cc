// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_seal_codec.h"

#include <algorithm>
#include <exception>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"
#include "groupsec/crypto/aead.h"
#include "groupsec/net/address.h"

namespace groupsec::bgp {

namespace {

using wire::put_bytes;
using wire::put_u16;
using wire::put_u32;
using wire::put_u8;

std::string num(uint64_t v)
{
	return std::to_string(v);
}

bool afi_of(size_t addr_bytes, uint8_t &afi)
{
	if (addr_bytes == 4)
		afi = kAfiIpv4;
	else if (addr_bytes == 16)
		afi = kAfiIpv6;
	else
		return false;
	return true;
}

// 4 or 16 for AFI 1 or 2, 0 for any other
size_t afi_bytes(uint8_t afi)
{
	return afi == kAfiIpv4 ? 4 : afi == kAfiIpv6 ? 16 : 0;
}

// The prefix is 4 or 16 octets, len fits, no bit set after len.
bool prefix_valid(const SealPrefix &p)
{
	size_t n = p.addr.size();
	if ((n != 4 && n != 16) || p.len > n * 8)
		return false;
	for (size_t bit = p.len; bit < n * 8; bit++)
		if (p.addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

// Runs f, turning an exception (only std::bad_alloc can occur) into
// Internal: no exception leaves the codec.
template <typename T, typename F> SealResult<T> guarded(F &&f)
{
	try {
		return f();
	} catch (const std::exception &) {
		return seal_error(SealStatus::Internal, "out of memory");
	}
}

} // namespace

const char *seal_status_name(SealStatus s)
{
	switch (s) {
	case SealStatus::Ok:
		return "ok";
	case SealStatus::Invalid:
		return "invalid";
	case SealStatus::Truncated:
		return "truncated";
	case SealStatus::Malformed:
		return "malformed";
	case SealStatus::Version:
		return "version";
	case SealStatus::UnknownGroup:
		return "unknown-group";
	case SealStatus::UnknownEpoch:
		return "unknown-epoch";
	case SealStatus::EpochExpired:
		return "epoch-expired";
	case SealStatus::BadTag:
		return "bad-tag";
	case SealStatus::TooLarge:
		return "too-large";
	case SealStatus::NotFound:
		return "not-found";
	case SealStatus::Internal:
		return "internal";
	}
	return "unknown";
}

bool operator==(const SealPrefix &a, const SealPrefix &b)
{
	return a.len == b.len && a.addr == b.addr;
}

std::string seal_prefix_text(const SealPrefix &p)
{
	return net::ip_text(p.addr) + "/" + num(p.len);
}

SealResult<Bytes> encode_sealed_routes(const SealedRoutes &r)
{
	return guarded<Bytes>([&]() -> SealResult<Bytes> {
		uint8_t afi = 0;
		if (!afi_of(r.gateway.size(), afi))
			return seal_error(SealStatus::Invalid, "sealed routes: the gateway is not an IPv4 or IPv6 address");
		if (r.prefixes.empty())
			return seal_error(SealStatus::Invalid, "sealed routes: no prefix");
		if (r.prefixes.size() > 0xffff)
			return seal_error(SealStatus::TooLarge, "sealed routes: " + num(r.prefixes.size()) +
									" prefixes, at most 65535");
		Bytes out;
		put_u8(out, afi);
		put_bytes(out, r.gateway);
		put_u16(out, static_cast<uint16_t>(r.prefixes.size()));
		for (const SealPrefix &p : r.prefixes) {
			if (!prefix_valid(p))
				return seal_error(SealStatus::Invalid,
						  "sealed routes: prefix " +
							  (p.addr.size() == 4 || p.addr.size() == 16 ? seal_prefix_text(p)
												     : std::string("?")) +
							  " is not an IPv4 or IPv6 prefix without host bits");
			afi_of(p.addr.size(), afi);
			put_u8(out, afi);
			put_u8(out, p.len);
			put_bytes(out, ByteView(p.addr.data(), (p.len + 7u) / 8));
		}
		return out;
	});
}

SealResult<SealedRoutes> decode_sealed_routes(ByteView plain)
{
	return guarded<SealedRoutes>([&]() -> SealResult<SealedRoutes> {
		wire::Reader r(plain);
		SealedRoutes out;
		uint8_t afi = 0;
		if (!r.u8(afi))
			return seal_error(SealStatus::Truncated, "sealed routes: no gateway");
		size_t n = afi_bytes(afi);
		if (!n)
			return seal_error(SealStatus::Malformed, "sealed routes: gateway AFI " + num(afi) +
									 " is not 1 (IPv4) or 2 (IPv6)");
		if (!r.bytes(n, out.gateway))
			return seal_error(SealStatus::Truncated, "sealed routes: the gateway is truncated");
		uint16_t count = 0;
		if (!r.u16(count))
			return seal_error(SealStatus::Truncated, "sealed routes: the prefix count is truncated");
		if (count == 0)
			return seal_error(SealStatus::Malformed, "sealed routes: no prefix");
		for (uint16_t i = 0; i < count; i++) {
			SealPrefix p;
			if (!r.u8(afi) || !r.u8(p.len))
				return seal_error(SealStatus::Truncated, "sealed routes: prefix " + num(i) + " is truncated");
			n = afi_bytes(afi);
			if (!n)
				return seal_error(SealStatus::Malformed, "sealed routes: prefix " + num(i) + ": AFI " +
										 num(afi) + " is not 1 (IPv4) or 2 (IPv6)");
			if (p.len > n * 8)
				return seal_error(SealStatus::Malformed, "sealed routes: prefix " + num(i) + ": length " +
										 num(p.len) + " is over " + num(n * 8));
			ByteView lead;
			if (!r.view((p.len + 7u) / 8, lead))
				return seal_error(SealStatus::Truncated, "sealed routes: prefix " + num(i) + " is truncated");
			p.addr.assign(n, 0);
			std::copy(lead.begin(), lead.end(), p.addr.begin());
			if (!prefix_valid(p))
				return seal_error(SealStatus::Malformed, "sealed routes: prefix " + num(i) + " (" +
										 seal_prefix_text(p) +
										 ") has bits set after its length");
			out.prefixes.push_back(std::move(p));
		}
		if (!r.done())
			return seal_error(SealStatus::Malformed,
					  "sealed routes: " + num(r.remaining()) + " octets after the last prefix");
		return out;
	});
}

SealResult<SealedHeader> parse_sealed(ByteView value)
{
	return guarded<SealedHeader>([&]() -> SealResult<SealedHeader> {
		wire::Reader r(value);
		SealedHeader h;
		if (!r.u8(h.version) || !r.u8(h.suite))
			return seal_error(SealStatus::Truncated, "sealed attribute: " + num(value.size()) +
									 " octets, truncated in the header");
		if (h.version != kSealVersion)
			return seal_error(SealStatus::Version,
					  "sealed attribute: version " + num(h.version) + " (this code reads 1)");
		if (h.suite != kSealSuiteAes256Gcm)
			return seal_error(SealStatus::Version,
					  "sealed attribute: suite " + num(h.suite) + " (this code reads 1, AES-256-GCM)");
		uint8_t afi = 0;
		if (!r.u32(h.group) || !r.u32(h.epoch) || !r.u8(afi))
			return seal_error(SealStatus::Truncated, "sealed attribute: " + num(value.size()) +
									 " octets, truncated in the header");
		size_t n = afi_bytes(afi);
		if (!n)
			return seal_error(SealStatus::Malformed, "sealed attribute: originator AFI " + num(afi) +
									 " is not 1 (IPv4) or 2 (IPv6)");
		if (!r.bytes(n, h.originator))
			return seal_error(SealStatus::Truncated, "sealed attribute: the originator is truncated");
		h.aad = value.sub(0, r.position());
		if (!r.view(kSealNonceBytes, h.nonce) || r.remaining() < kSealTagBytes)
			return seal_error(SealStatus::Truncated, "sealed attribute: " + num(value.size()) +
									 " octets, too short for the nonce and the tag");
		h.ciphertext = value.sub(r.position(), r.remaining() - kSealTagBytes);
		h.tag = value.sub(value.size() - kSealTagBytes, kSealTagBytes);
		return h;
	});
}

SealResult<Bytes> seal_routes(ByteView key, uint32_t group, uint32_t epoch, ByteView originator,
			      const SealedRoutes &routes, crypto::RandomSource &random)
{
	return guarded<Bytes>([&]() -> SealResult<Bytes> {
		if (key.size() != kSealKeyBytes)
			return seal_error(SealStatus::Invalid, "seal: the key has " + num(key.size()) + " octets, not 32");
		uint8_t afi = 0;
		if (!afi_of(originator.size(), afi))
			return seal_error(SealStatus::Invalid, "seal: the originator is not an IPv4 or IPv6 address");
		auto plain = encode_sealed_routes(routes);
		if (!plain.ok())
			return plain.error();
		Bytes out;
		put_u8(out, kSealVersion);
		put_u8(out, kSealSuiteAes256Gcm);
		put_u32(out, group);
		put_u32(out, epoch);
		put_u8(out, afi);
		put_bytes(out, originator);
		size_t aad_len = out.size();
		if (aad_len + kSealNonceBytes + plain.value().size() + kSealTagBytes > kSealMaxValue)
			return seal_error(SealStatus::TooLarge,
					  "seal: " + num(routes.prefixes.size()) + " prefixes need " +
						  num(aad_len + kSealNonceBytes + plain.value().size() + kSealTagBytes) +
						  " octets, over the attribute's 65535");
		uint8_t nonce[kSealNonceBytes];
		random.fill(nonce, sizeof(nonce));
		put_bytes(out, ByteView(nonce, sizeof(nonce)));
		size_t ct = out.size();
		out.resize(ct + plain.value().size() + kSealTagBytes);
		Bytes aad(out.begin(), out.begin() + static_cast<long>(aad_len));
		if (auto e = crypto::aes_gcm_seal_to(key, ByteView(nonce, sizeof(nonce)), aad, plain.value(),
						     out.data() + ct, out.data() + ct + plain.value().size()))
			return seal_error(SealStatus::Internal, "seal: " + e->message);
		return out;
	});
}

SealResult<SealedRoutes> open_routes(ByteView key, const SealedHeader &h)
{
	return guarded<SealedRoutes>([&]() -> SealResult<SealedRoutes> {
		if (key.size() != kSealKeyBytes)
			return seal_error(SealStatus::Invalid, "open: the key has " + num(key.size()) + " octets, not 32");
		auto plain = crypto::aes_gcm_open(key, h.nonce, h.aad, h.ciphertext, h.tag);
		if (!plain.ok()) {
			if (plain.error().code == WireError::IntegrityFailed)
				return seal_error(SealStatus::BadTag, "sealed attribute of group " + num(h.group) + " epoch " +
									      num(h.epoch) + ": the tag does not verify");
			return seal_error(SealStatus::Internal, "open: " + plain.error().message);
		}
		return decode_sealed_routes(plain.value());
	});
}

SealResult<Bytes> encode_sealed_list(const std::vector<Bytes> &entries)
{
	return guarded<Bytes>([&]() -> SealResult<Bytes> {
		if (entries.empty())
			return seal_error(SealStatus::Invalid, "sealed list: no entry");
		if (entries.size() > kSealMaxEntries)
			return seal_error(SealStatus::TooLarge, "sealed list: " + num(entries.size()) +
									" entries, at most " + num(kSealMaxEntries));
		std::vector<std::pair<uint32_t, const Bytes *>> order;
		size_t total = 2;
		for (const Bytes &e : entries) {
			auto h = parse_sealed(e);
			if (!h.ok())
				return seal_error(SealStatus::Invalid, "sealed list: an entry does not parse: " +
									       h.error().message);
			order.emplace_back(h.value().group, &e);
			total += 2 + e.size();
		}
		std::sort(order.begin(), order.end(),
			  [](const auto &a, const auto &b) { return a.first < b.first; });
		for (size_t i = 1; i < order.size(); i++)
			if (order[i].first == order[i - 1].first)
				return seal_error(SealStatus::Invalid,
						  "sealed list: two entries of group " + num(order[i].first));
		if (total > kSealMaxValue)
			return seal_error(SealStatus::TooLarge,
					  "sealed list: " + num(total) + " octets, over the attribute's 65535");
		Bytes out;
		put_u8(out, kSealListVersion);
		put_u8(out, static_cast<uint8_t>(order.size()));
		for (const auto &[group, e] : order) {
			put_u16(out, static_cast<uint16_t>(e->size()));
			put_bytes(out, *e);
		}
		return out;
	});
}

SealResult<std::vector<SealedHeader>> parse_sealed_list(ByteView value)
{
	using Headers = std::vector<SealedHeader>;
	return guarded<Headers>([&]() -> SealResult<Headers> {
		wire::Reader r(value);
		uint8_t version = 0, count = 0;
		if (!r.u8(version) || !r.u8(count))
			return seal_error(SealStatus::Truncated,
					  "sealed attribute: " + num(value.size()) + " octets, truncated in the header");
		if (version != kSealListVersion)
			return seal_error(SealStatus::Version, "sealed attribute: version " + num(version) +
									" (this code reads 2, a list of entries)");
		if (count == 0 || count > kSealMaxEntries)
			return seal_error(SealStatus::Malformed, "sealed attribute: " + num(count) +
									  " entries (1 to " + num(kSealMaxEntries) +
									  ")");
		Headers out;
		for (size_t i = 0; i < count; i++) {
			uint16_t len = 0;
			ByteView entry;
			if (!r.u16(len) || !r.view(len, entry))
				return seal_error(SealStatus::Truncated,
						  "sealed attribute: entry " + num(i) + " runs past the end");
			auto h = parse_sealed(entry);
			if (!h.ok())
				return seal_error(h.error().code, "entry " + num(i) + ": " + h.error().message);
			if (!out.empty() && h.value().group <= out.back().group)
				return seal_error(SealStatus::Malformed,
						  "sealed attribute: entry " + num(i) + " (group " +
							  num(h.value().group) + ") does not follow group " +
							  num(out.back().group) + " in ascending order");
			out.push_back(std::move(h.value()));
		}
		if (!r.done())
			return seal_error(SealStatus::Malformed,
					  "sealed attribute: " + num(r.remaining()) + " octets after the last entry");
		return out;
	});
}

SealResult<Bytes> encode_seal_attribute(uint8_t code, ByteView value)
{
	return guarded<Bytes>([&]() -> SealResult<Bytes> {
		if (value.size() > kSealMaxValue)
			return seal_error(SealStatus::TooLarge,
					  "attribute: a value of " + num(value.size()) + " octets, over 65535");
		Bytes out;
		bool extended = value.size() > 255;
		put_u8(out, static_cast<uint8_t>(kSealAttrFlags | (extended ? 0x10 : 0)));
		put_u8(out, code);
		if (extended)
			put_u16(out, static_cast<uint16_t>(value.size()));
		else
			put_u8(out, static_cast<uint8_t>(value.size()));
		put_bytes(out, value);
		return out;
	});
}

SealResult<ByteView> find_seal_attribute(ByteView attrs, uint8_t code)
{
	wire::Reader r(attrs);
	while (!r.done()) {
		uint8_t flags = 0, type = 0;
		size_t at = r.position();
		if (!r.u8(flags) || !r.u8(type))
			return seal_error(SealStatus::Truncated, "path attributes: octet " + num(at) + ": truncated header");
		uint16_t len = 0;
		if (flags & 0x10) {
			if (!r.u16(len))
				return seal_error(SealStatus::Truncated,
						  "path attributes: octet " + num(at) + ": truncated length");
		} else {
			uint8_t l8 = 0;
			if (!r.u8(l8))
				return seal_error(SealStatus::Truncated,
						  "path attributes: octet " + num(at) + ": truncated length");
			len = l8;
		}
		ByteView value;
		if (!r.view(len, value))
			return seal_error(SealStatus::Truncated, "path attributes: attribute " + num(type) + " at octet " +
									 num(at) + " runs past the end");
		if (type != code)
			continue;
		if ((flags & 0xC0) != 0xC0)
			return seal_error(SealStatus::Malformed, "attribute " + num(code) + ": flags 0x" +
									 std::string(1, "0123456789abcdef"[flags >> 4]) +
									 std::string(1, "0123456789abcdef"[flags & 15]) +
									 " lack optional and transitive");
		return value;
	}
	return seal_error(SealStatus::NotFound, "attribute " + num(code) + " not found");
}

} // namespace groupsec::bgp
