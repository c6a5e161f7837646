// SPDX-License-Identifier: GPL-2.0-or-later
#include "ike_sa_payload.h"

#include <algorithm>
#include <string>

#include <openssl/evp.h>

#include "../gikev2_wire.h"
#include "ike_crypto.h"

namespace groupsec::gdoi::ike {

namespace {

constexpr size_t kProposalHeader = 8;
constexpr size_t kTransformHeader = 8;
constexpr uint8_t kLastProposalMore = 2;
constexpr uint8_t kLastTransformMore = 3;

Error bad(WireError code, const std::string &what)
{
	return make_error(code, "SA: " + what);
}

Result<std::vector<Attribute>> decode_attributes(ByteView in)
{
	std::vector<Attribute> out;
	wire::Reader r(in);
	while (!r.done()) {
		uint16_t type, lv;
		if (!r.u16(type) || !r.u16(lv))
			return bad(WireError::Truncated, "transform attribute truncated");
		Attribute a;
		a.type = type & 0x7fff;
		a.tv = (type & 0x8000) != 0;
		if (a.tv) {
			a.value = {static_cast<uint8_t>(lv >> 8), static_cast<uint8_t>(lv)};
		} else if (!r.bytes(lv, a.value)) {
			return bad(WireError::BadLength, "transform attribute longer than its transform");
		}
		out.push_back(std::move(a));
	}
	return out;
}

void encode_attributes(const std::vector<Attribute> &attrs, Bytes &out)
{
	for (const Attribute &a : attrs) {
		if (a.tv) {
			wire::put_u16(out, static_cast<uint16_t>(0x8000 | a.type));
			wire::put_bytes(out, a.value);
		} else {
			wire::put_u16(out, a.type);
			wire::put_u16(out, static_cast<uint16_t>(a.value.size()));
			wire::put_bytes(out, a.value);
		}
	}
}

Result<std::vector<Proposal>> decode(ByteView body)
{
	std::vector<Proposal> out;
	wire::Reader r(body);
	uint8_t last = kLastProposalMore;
	while (last == kLastProposalMore) {
		uint8_t reserved, num_transforms, spi_size;
		uint16_t length;
		Proposal p;
		if (!r.u8(last) || !r.u8(reserved) || !r.u16(length) || !r.u8(p.number) || !r.u8(p.protocol) ||
		    !r.u8(spi_size) || !r.u8(num_transforms))
			return bad(WireError::Truncated, "proposal truncated");
		if (last != 0 && last != kLastProposalMore)
			return bad(WireError::BadValue, "Last Substruc " + std::to_string(last) + " in a proposal");
		if (length < kProposalHeader + spi_size || length - kProposalHeader > r.remaining() + 0u)
			return bad(WireError::BadLength, "proposal length " + std::to_string(length));
		if (p.number == 0)
			return bad(WireError::BadValue, "proposal number 0");
		ByteView rest;
		r.view(length - kProposalHeader, rest);
		wire::Reader pr(rest);
		pr.bytes(spi_size, p.spi);
		if (num_transforms == 0)
			return bad(WireError::Missing, "proposal without transforms");
		for (unsigned i = 0; i < num_transforms; i++) {
			uint8_t tlast, res1, type, res2;
			uint16_t tlen, id;
			if (!pr.u8(tlast) || !pr.u8(res1) || !pr.u16(tlen) || !pr.u8(type) || !pr.u8(res2) ||
			    !pr.u16(id))
				return bad(WireError::Truncated, "transform truncated");
			if (tlast != (i + 1 == num_transforms ? 0 : kLastTransformMore))
				return bad(WireError::BadValue, "transform count disagrees with Last Substruc");
			ByteView attrs;
			if (tlen < kTransformHeader || !pr.view(tlen - kTransformHeader, attrs))
				return bad(WireError::BadLength, "transform length " + std::to_string(tlen));
			auto a = decode_attributes(attrs);
			if (!a)
				return a.error();
			p.transforms.push_back(Transform{type, id, std::move(a).value()});
		}
		if (!pr.done())
			return bad(WireError::TrailingBytes, "octets after the last transform of a proposal");
		out.push_back(std::move(p));
	}
	if (!r.done())
		return bad(WireError::TrailingBytes, "octets after the last proposal");
	return out;
}

} // namespace

Result<std::vector<Proposal>> decode_sa(ByteView body)
{
	return wire::guarded([&] { return decode(body); });
}

Result<Bytes> encode_sa(const std::vector<Proposal> &proposals)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (proposals.empty())
			return bad(WireError::Missing, "no proposal");
		Bytes out;
		for (size_t i = 0; i < proposals.size(); i++) {
			const Proposal &p = proposals[i];
			if (p.transforms.empty() || p.transforms.size() > 255 || p.spi.size() > 255)
				return bad(WireError::BadValue, "proposal needs 1..255 transforms");
			Bytes body = p.spi;
			for (size_t t = 0; t < p.transforms.size(); t++) {
				Bytes attrs;
				encode_attributes(p.transforms[t].attributes, attrs);
				wire::put_u8(body, t + 1 == p.transforms.size() ? 0 : kLastTransformMore);
				wire::put_u8(body, 0);
				wire::put_u16(body, static_cast<uint16_t>(kTransformHeader + attrs.size()));
				wire::put_u8(body, p.transforms[t].type);
				wire::put_u8(body, 0);
				wire::put_u16(body, p.transforms[t].id);
				wire::put_bytes(body, attrs);
			}
			if (body.size() + kProposalHeader > 0xffff)
				return bad(WireError::BadLength, "proposal too long");
			wire::put_u8(out, i + 1 == proposals.size() ? 0 : kLastProposalMore);
			wire::put_u8(out, 0);
			wire::put_u16(out, static_cast<uint16_t>(kProposalHeader + body.size()));
			wire::put_u8(out, p.number);
			wire::put_u8(out, p.protocol);
			wire::put_u8(out, static_cast<uint8_t>(p.spi.size()));
			wire::put_u8(out, static_cast<uint8_t>(p.transforms.size()));
			wire::put_bytes(out, body);
		}
		return out;
	});
}

Result<KePayload> decode_ke(ByteView body)
{
	return wire::guarded([&]() -> Result<KePayload> {
		wire::Reader r(body);
		KePayload k;
		uint16_t reserved;
		if (!r.u16(k.group) || !r.u16(reserved))
			return make_error(WireError::Truncated, "KE: truncated");
		k.data = r.rest().to_bytes();
		if (k.data.empty())
			return make_error(WireError::Missing, "KE: no key exchange data");
		return k;
	});
}

Result<Bytes> encode_ke(const KePayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		Bytes out;
		wire::put_u16(out, p.group);
		wire::put_u16(out, 0);
		wire::put_bytes(out, p.data);
		return out;
	});
}

uint16_t key_length(const Transform &t)
{
	for (const Attribute &a : t.attributes)
		if (a.tv && a.type == static_cast<uint16_t>(TransformAttributeType::KeyLength) && a.value.size() == 2)
			return static_cast<uint16_t>(a.value[0] << 8 | a.value[1]);
	return 0;
}

Bytes nat_detection_hash(uint64_t spi_i, uint64_t spi_r, ByteView ip, uint16_t port)
{
	Bytes in;
	wire::put_u64(in, spi_i);
	wire::put_u64(in, spi_r);
	wire::put_bytes(in, ip);
	wire::put_u16(in, port);
	Bytes md(EVP_MAX_MD_SIZE);
	unsigned int len = 0;
	if (EVP_Digest(in.data(), in.size(), md.data(), &len, EVP_sha1(), nullptr) != 1)
		return {};
	md.resize(len);
	return md;
}

namespace {

constexpr size_t kSha1Size = 20;

bool same(ByteView a, ByteView b)
{
	return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

} // namespace

Result<InitTransport> read_init_transport(const std::vector<Payload> &payloads)
{
	InitTransport t;
	for (const Payload &p : payloads) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n)
			return n.error();
		const NotifyPayload &v = n.value();
		switch (static_cast<NotifyType>(v.type)) {
		case NotifyType::FragmentationSupported:
			t.fragmentation = true;
			break;
		case NotifyType::NatDetectionSourceIp:
		case NotifyType::NatDetectionDestinationIp:
			if (v.data.size() != kSha1Size || !v.spi.empty())
				return make_error(WireError::BadLength, "NAT_DETECTION notify data is not a SHA-1 hash");
			(v.type == static_cast<uint16_t>(NotifyType::NatDetectionSourceIp) ? t.nat_sources
											   : t.nat_destinations)
				.push_back(v.data);
			break;
		default:
			break;
		}
	}
	return t;
}

bool nat_between(const InitTransport &t, ByteView source_hash, ByteView destination_hash)
{
	if (t.nat_sources.empty() || t.nat_destinations.empty())
		return false;
	bool source = false;
	for (const Bytes &h : t.nat_sources)
		source = source || same(h, source_hash);
	return !source || !same(t.nat_destinations.front(), destination_hash);
}

std::vector<Payload> init_transport_notifies(bool fragmentation, const Bytes *source_hash,
					     const Bytes *destination_hash)
{
	std::vector<Payload> out;
	auto add = [&](NotifyType type, Bytes data) {
		NotifyPayload n;
		n.type = static_cast<uint16_t>(type);
		n.data = std::move(data);
		out.push_back(Payload{static_cast<uint8_t>(PayloadType::Notify), false, encode_notify(n).value()});
	};
	if (source_hash && destination_hash) {
		add(NotifyType::NatDetectionSourceIp, *source_hash);
		add(NotifyType::NatDetectionDestinationIp, *destination_hash);
	}
	if (fragmentation)
		add(NotifyType::FragmentationSupported, {});
	return out;
}

Payload signature_hash_notify()
{
	NotifyPayload n;
	n.type = kNotifySignatureHashAlgorithms;
	n.data = {0, 2, 0, 3, 0, 4};
	return Payload{static_cast<uint8_t>(PayloadType::Notify), false, encode_notify(n).value()};
}

} // namespace groupsec::gdoi::ike
