// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_payloads.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "gikev2_wire.h"

namespace groupsec::gdoi {

using wire::Reader;

namespace {

constexpr uint16_t kAttrFormatTv = 0x8000;
constexpr uint8_t kLastTransform = 0;
constexpr uint8_t kMoreTransforms = 3;
constexpr size_t kSubstructHeaderSize = 4;
constexpr size_t kWrappedKeyHeaderSize = 8;

constexpr uint8_t proto(SecurityProtocol p) { return static_cast<uint8_t>(p); }
constexpr uint8_t ttype(TransformType t) { return static_cast<uint8_t>(t); }
template <typename E> constexpr uint16_t attr(E e) { return static_cast<uint16_t>(e); }

std::string num(uint64_t v) { return std::to_string(v); }

Error bad_value(const std::string &what) { return make_error(WireError::BadValue, what); }
Error bad_length(const std::string &what) { return make_error(WireError::BadLength, what); }

// A (protocol, second octet, length) header and the body it announces;
// used by GSA policies, key bags and their group-wide/member variants.
struct Substruct {
	uint8_t protocol;
	uint8_t second;
	ByteView body;
};

Result<Substruct> read_substruct(Reader &r, const char *what)
{
	uint8_t protocol, second;
	uint16_t length;
	if (!r.u8(protocol) || !r.u8(second) || !r.u16(length))
		return wire::truncated(what);
	if (length < kSubstructHeaderSize)
		return bad_length(std::string(what) + ": length " + num(length) + " shorter than its header");
	ByteView body;
	if (!r.view(length - kSubstructHeaderSize, body))
		return bad_length(std::string(what) + ": length " + num(length) + " runs past the payload");
	return Substruct{protocol, second, body};
}

Result<bool> write_substruct(Bytes &out, uint8_t protocol, uint8_t second, const Bytes &body, const char *what)
{
	if (body.size() > 0xffff - kSubstructHeaderSize)
		return bad_length(std::string(what) + " too long for a 16-bit length");
	wire::put_u8(out, protocol);
	wire::put_u8(out, second);
	wire::put_u16(out, static_cast<uint16_t>(body.size() + kSubstructHeaderSize));
	wire::put_bytes(out, body);
	return true;
}

// --- attributes ---------------------------------------------------------

Result<std::vector<Attribute>> read_attributes(ByteView in, const char *what)
{
	Reader r(in);
	std::vector<Attribute> out;
	while (!r.done()) {
		uint16_t af_type, len_or_value;
		if (!r.u16(af_type) || !r.u16(len_or_value))
			return wire::truncated(std::string(what) + " attribute");
		Attribute a;
		a.type = af_type & 0x7fff;
		a.tv = (af_type & kAttrFormatTv) != 0;
		if (a.tv) {
			a.value = {static_cast<uint8_t>(len_or_value >> 8), static_cast<uint8_t>(len_or_value)};
		} else if (!r.bytes(len_or_value, a.value)) {
			return bad_length(std::string(what) + " attribute " + num(a.type) + ": length " +
					  num(len_or_value) + " runs past its structure");
		}
		out.push_back(std::move(a));
	}
	return out;
}

Result<bool> write_attribute(Bytes &out, const Attribute &a)
{
	if (a.type > 0x7fff)
		return bad_value("attribute type " + num(a.type) + " exceeds 15 bits");
	if (a.tv) {
		if (a.value.size() != 2)
			return bad_length("TV attribute " + num(a.type) + " needs a 2-octet value");
		wire::put_u16(out, static_cast<uint16_t>(kAttrFormatTv | a.type));
		wire::put_bytes(out, a.value);
		return true;
	}
	if (a.value.size() > 0xffff)
		return bad_length("TLV attribute " + num(a.type) + " too long");
	wire::put_u16(out, a.type);
	wire::put_u16(out, static_cast<uint16_t>(a.value.size()));
	wire::put_bytes(out, a.value);
	return true;
}

Result<bool> write_attributes(Bytes &out, const std::vector<Attribute> &attrs)
{
	for (const Attribute &a : attrs) {
		auto w = write_attribute(out, a);
		if (!w)
			return w;
	}
	return true;
}

uint32_t be32(const Bytes &b)
{
	return static_cast<uint32_t>(b[0]) << 24 | static_cast<uint32_t>(b[1]) << 16 |
	       static_cast<uint32_t>(b[2]) << 8 | b[3];
}

uint16_t be16(const Bytes &b)
{
	return static_cast<uint16_t>(b[0] << 8 | b[1]);
}

Bytes be32_bytes(uint32_t v)
{
	Bytes b;
	wire::put_u32(b, v);
	return b;
}

// An attribute whose type this core interprets must have its registered
// format; type 0 is reserved everywhere.
Result<bool> check_other_attribute(const Attribute &a, const char *what)
{
	if (a.type == 0)
		return bad_value(std::string(what) + " attribute type 0 is reserved");
	return true;
}

// --- traffic selectors and transforms -----------------------------------

size_t address_size(uint8_t ts_type)
{
	switch (static_cast<TsType>(ts_type)) {
	case TsType::Ipv4AddrRange:
		return 4;
	case TsType::Ipv6AddrRange:
		return 16;
	}
	return 0;
}

Result<TrafficSelector> read_ts(Reader &r)
{
	TrafficSelector ts;
	uint16_t length;
	if (!r.u8(ts.ts_type) || !r.u8(ts.ip_protocol) || !r.u16(length))
		return wire::truncated("traffic selector");
	size_t asize = address_size(ts.ts_type);
	if (asize == 0)
		return make_error(WireError::Unsupported, "traffic selector type " + num(ts.ts_type));
	if (length != 8 + 2 * asize)
		return bad_length("traffic selector type " + num(ts.ts_type) + " with length " + num(length));
	if (!r.u16(ts.start_port) || !r.u16(ts.end_port) || !r.bytes(asize, ts.start_address) ||
	    !r.bytes(asize, ts.end_address))
		return wire::truncated("traffic selector");
	return ts;
}

Result<bool> write_ts(Bytes &out, const TrafficSelector &ts)
{
	size_t asize = address_size(ts.ts_type);
	if (asize == 0)
		return make_error(WireError::Unsupported, "traffic selector type " + num(ts.ts_type));
	if (ts.start_address.size() != asize || ts.end_address.size() != asize)
		return bad_length("traffic selector addresses must be " + num(asize) + " octets");
	wire::put_u8(out, ts.ts_type);
	wire::put_u8(out, ts.ip_protocol);
	wire::put_u16(out, static_cast<uint16_t>(8 + 2 * asize));
	wire::put_u16(out, ts.start_port);
	wire::put_u16(out, ts.end_port);
	wire::put_bytes(out, ts.start_address);
	wire::put_bytes(out, ts.end_address);
	return true;
}

// Reads transforms up to and including the one marked last.
Result<std::vector<Transform>> read_transforms(Reader &r)
{
	std::vector<Transform> out;
	for (;;) {
		uint8_t last, reserved, reserved2;
		uint16_t length;
		Transform t;
		if (!r.u8(last) || !r.u8(reserved) || !r.u16(length))
			return wire::truncated("transform");
		if (last != kLastTransform && last != kMoreTransforms)
			return bad_value("transform Last Substruc " + num(last) + ", not 0 or 3");
		if (length < 8)
			return bad_length("transform length " + num(length) + " shorter than its header");
		ByteView body;
		if (!r.view(length - 4, body))
			return bad_length("transform length " + num(length) + " runs past its policy");
		Reader tr(body);
		tr.u8(t.type);
		tr.u8(reserved2);
		tr.u16(t.id);
		auto attrs = read_attributes(tr.rest(), "transform");
		if (!attrs)
			return attrs.error();
		t.attributes = std::move(attrs.value());
		out.push_back(std::move(t));
		if (last == kLastTransform)
			return out;
	}
}

Result<bool> write_transforms(Bytes &out, const std::vector<Transform> &transforms)
{
	for (size_t i = 0; i < transforms.size(); i++) {
		const Transform &t = transforms[i];
		Bytes body;
		wire::put_u8(body, t.type);
		wire::put_u8(body, 0);
		wire::put_u16(body, t.id);
		auto w = write_attributes(body, t.attributes);
		if (!w)
			return w;
		if (body.size() > 0xffff - 4)
			return bad_length("transform too long");
		wire::put_u8(out, i + 1 < transforms.size() ? kMoreTransforms : kLastTransform);
		wire::put_u8(out, 0);
		wire::put_u16(out, static_cast<uint16_t>(body.size() + 4));
		wire::put_bytes(out, body);
	}
	return true;
}

// RFC 9838 "Valid Transform Types": each mandatory type exactly once, each
// optional type at most once, no other type.
Result<bool> check_transforms(uint8_t protocol, const std::vector<Transform> &transforms)
{
	std::vector<uint8_t> mandatory, optional;
	switch (static_cast<SecurityProtocol>(protocol)) {
	case SecurityProtocol::GikeUpdate:
		mandatory = {ttype(TransformType::Encryption), ttype(TransformType::KeyWrapAlgorithm)};
		// INTEG depends on whether ENCR is an AEAD; GCAUTH only at registration
		optional = {ttype(TransformType::Integrity), ttype(TransformType::GroupControllerAuth)};
		break;
	case SecurityProtocol::Esp:
		mandatory = {ttype(TransformType::Encryption), ttype(TransformType::SequenceNumbers)};
		optional = {ttype(TransformType::Integrity)};
		break;
	case SecurityProtocol::Ah:
		mandatory = {ttype(TransformType::Integrity), ttype(TransformType::SequenceNumbers)};
		break;
	default:
		return bad_value("GSA policy protocol " + num(protocol));
	}
	std::vector<uint8_t> seen;
	for (const Transform &t : transforms) {
		bool allowed = std::count(mandatory.begin(), mandatory.end(), t.type) ||
			       std::count(optional.begin(), optional.end(), t.type);
		if (!allowed)
			return bad_value("transform type " + num(t.type) + " not valid for protocol " +
					 num(protocol));
		if (std::count(seen.begin(), seen.end(), t.type))
			return make_error(WireError::Duplicate, "transform type " + num(t.type) + " twice");
		seen.push_back(t.type);
	}
	for (uint8_t m : mandatory) {
		if (!std::count(seen.begin(), seen.end(), m))
			return make_error(WireError::Missing, "protocol " + num(protocol) +
								      " policy lacks transform type " + num(m));
	}
	return true;
}

// --- GSA policy ---------------------------------------------------------

size_t spi_size_for(uint8_t protocol)
{
	switch (static_cast<SecurityProtocol>(protocol)) {
	case SecurityProtocol::GikeUpdate:
		return kGikeUpdateSpiSize;
	case SecurityProtocol::Ah:
	case SecurityProtocol::Esp:
		return kIpsecSpiSize;
	default:
		return 0;
	}
}

bool is_group_sa_protocol(uint8_t p)
{
	return p == proto(SecurityProtocol::GikeUpdate) || p == proto(SecurityProtocol::Ah) ||
	       p == proto(SecurityProtocol::Esp);
}

Result<bool> check_policy_attributes(const GsaPolicy &p)
{
	if (p.initial_message_id && p.protocol != proto(SecurityProtocol::GikeUpdate))
		return bad_value("GSA_INITIAL_MESSAGE_ID outside a GIKE_UPDATE policy");
	for (const Bytes &spi : p.next_spis) {
		if (spi.size() != p.spi.size())
			return bad_length("GSA_NEXT_SPI of " + num(spi.size()) + " octets, SPI size " +
					  num(p.spi.size()));
	}
	for (const Attribute &a : p.other_attributes) {
		auto c = check_other_attribute(a, "GSA");
		if (!c)
			return c;
		if (a.type == attr(GsaAttributeType::KeyLifetime) ||
		    a.type == attr(GsaAttributeType::InitialMessageId) || a.type == attr(GsaAttributeType::NextSpi))
			return bad_value("GSA attribute " + num(a.type) + " belongs in its own field");
	}
	return true;
}

Result<GsaPolicy> read_gsa_policy(const Substruct &s)
{
	GsaPolicy p;
	p.protocol = s.protocol;
	size_t spi_size = spi_size_for(p.protocol);
	if (s.second != spi_size)
		return bad_value("GSA policy for protocol " + num(p.protocol) + " with SPI size " +
				 num(s.second) + ", not " + num(spi_size));
	Reader r(s.body);
	if (!r.bytes(spi_size, p.spi))
		return wire::truncated("GSA policy SPI");
	auto src = read_ts(r);
	if (!src)
		return src.error();
	p.source = std::move(src.value());
	auto dst = read_ts(r);
	if (!dst)
		return dst.error();
	p.destination = std::move(dst.value());
	auto transforms = read_transforms(r);
	if (!transforms)
		return transforms.error();
	p.transforms = std::move(transforms.value());
	auto c = check_transforms(p.protocol, p.transforms);
	if (!c)
		return c.error();
	auto attrs = read_attributes(r.rest(), "GSA");
	if (!attrs)
		return attrs.error();
	for (Attribute &a : attrs.value()) {
		switch (static_cast<GsaAttributeType>(a.type)) {
		case GsaAttributeType::KeyLifetime:
		case GsaAttributeType::InitialMessageId: {
			bool lifetime = a.type == attr(GsaAttributeType::KeyLifetime);
			std::optional<uint32_t> &field = lifetime ? p.key_lifetime : p.initial_message_id;
			const char *name = lifetime ? "GSA_KEY_LIFETIME" : "GSA_INITIAL_MESSAGE_ID";
			if (a.tv || a.value.size() != 4)
				return bad_length(std::string(name) + " must be TLV with 4 octets");
			if (field)
				return make_error(WireError::Duplicate, std::string(name) + " twice");
			field = be32(a.value);
			break;
		}
		case GsaAttributeType::NextSpi:
			if (a.tv)
				return bad_value("GSA_NEXT_SPI must be TLV");
			p.next_spis.push_back(std::move(a.value));
			break;
		default:
			p.other_attributes.push_back(std::move(a));
			break;
		}
	}
	auto ca = check_policy_attributes(p);
	if (!ca)
		return ca.error();
	return p;
}

Result<bool> write_gsa_policy(Bytes &out, const GsaPolicy &p)
{
	if (!is_group_sa_protocol(p.protocol))
		return bad_value("GSA policy protocol " + num(p.protocol));
	if (p.spi.size() != spi_size_for(p.protocol))
		return bad_length("GSA policy SPI of " + num(p.spi.size()) + " octets for protocol " +
				  num(p.protocol));
	auto c = check_transforms(p.protocol, p.transforms);
	if (!c)
		return c;
	c = check_policy_attributes(p);
	if (!c)
		return c;
	Bytes body = p.spi;
	if (!(c = write_ts(body, p.source)) || !(c = write_ts(body, p.destination)) ||
	    !(c = write_transforms(body, p.transforms)))
		return c;
	std::vector<Attribute> attrs;
	if (p.key_lifetime)
		attrs.push_back(make_tlv_attribute(attr(GsaAttributeType::KeyLifetime), be32_bytes(*p.key_lifetime)));
	if (p.initial_message_id)
		attrs.push_back(make_tlv_attribute(attr(GsaAttributeType::InitialMessageId),
						   be32_bytes(*p.initial_message_id)));
	for (const Bytes &spi : p.next_spis)
		attrs.push_back(make_tlv_attribute(attr(GsaAttributeType::NextSpi), spi));
	attrs.insert(attrs.end(), p.other_attributes.begin(), p.other_attributes.end());
	if (!(c = write_attributes(body, attrs)))
		return c;
	return write_substruct(out, p.protocol, static_cast<uint8_t>(p.spi.size()), body, "GSA policy");
}

Result<GroupWidePolicy> read_gw_policy(const Substruct &s)
{
	GroupWidePolicy g;
	auto attrs = read_attributes(s.body, "GW policy");
	if (!attrs)
		return attrs.error();
	for (Attribute &a : attrs.value()) {
		std::optional<uint16_t> *field = nullptr;
		switch (static_cast<GwPolicyAttributeType>(a.type)) {
		case GwPolicyAttributeType::ActivationTimeDelay:
			field = &g.activation_time_delay;
			break;
		case GwPolicyAttributeType::DeactivationTimeDelay:
			field = &g.deactivation_time_delay;
			break;
		case GwPolicyAttributeType::SenderIdBits:
			field = &g.sender_id_bits;
			break;
		}
		if (!field) {
			auto c = check_other_attribute(a, "GW policy");
			if (!c)
				return c.error();
			g.other_attributes.push_back(std::move(a));
			continue;
		}
		if (!a.tv)
			return bad_value("GW policy attribute " + num(a.type) + " must be TV");
		if (*field)
			return make_error(WireError::Duplicate, "GW policy attribute " + num(a.type) + " twice");
		*field = be16(a.value);
	}
	return g;
}

Result<bool> write_gw_policy(Bytes &out, const GroupWidePolicy &g)
{
	std::vector<Attribute> attrs;
	if (g.activation_time_delay)
		attrs.push_back(make_tv_attribute(attr(GwPolicyAttributeType::ActivationTimeDelay),
						  *g.activation_time_delay));
	if (g.deactivation_time_delay)
		attrs.push_back(make_tv_attribute(attr(GwPolicyAttributeType::DeactivationTimeDelay),
						  *g.deactivation_time_delay));
	if (g.sender_id_bits)
		attrs.push_back(make_tv_attribute(attr(GwPolicyAttributeType::SenderIdBits), *g.sender_id_bits));
	for (const Attribute &a : g.other_attributes) {
		auto c = check_other_attribute(a, "GW policy");
		if (!c)
			return c;
		if (a.type >= 1 && a.type <= 3)
			return bad_value("GW policy attribute " + num(a.type) + " belongs in its own field");
		attrs.push_back(a);
	}
	Bytes body;
	auto c = write_attributes(body, attrs);
	if (!c)
		return c;
	return write_substruct(out, 0, 0, body, "GW policy");
}

// --- key bags -----------------------------------------------------------

Result<WrappedKey> read_wrapped_key(const Attribute &a, const char *what)
{
	if (a.tv)
		return bad_value(std::string(what) + " must be TLV");
	if (a.value.size() <= kWrappedKeyHeaderSize)
		return bad_length(std::string(what) + " of " + num(a.value.size()) +
				  " octets holds no encrypted key");
	WrappedKey k;
	Reader r(a.value);
	r.u32(k.key_id);
	r.u32(k.kwk_id);
	k.encrypted_key = r.rest().to_bytes();
	return k;
}

Attribute wrapped_key_attribute(uint16_t type, const WrappedKey &k)
{
	Bytes v;
	wire::put_u32(v, k.key_id);
	wire::put_u32(v, k.kwk_id);
	wire::put_bytes(v, k.encrypted_key);
	return make_tlv_attribute(type, std::move(v));
}

Result<bool> check_group_key_bag(const GroupKeyBag &b)
{
	if (!is_group_sa_protocol(b.protocol))
		return bad_value("group key bag protocol " + num(b.protocol));
	if (b.spi.size() != spi_size_for(b.protocol))
		return bad_length("group key bag SPI of " + num(b.spi.size()) + " octets for protocol " +
				  num(b.protocol));
	bool ipsec = b.protocol != proto(SecurityProtocol::GikeUpdate);
	// an intermediate key only next to a Rekey SA's SA_KEY
	for (const WrappedKey &k : b.sa_keys)
		if (k.key_id != 0 && ipsec)
			return bad_value("SA_KEY with Key ID " + num(k.key_id) + ", not 0");
	if (std::none_of(b.sa_keys.begin(), b.sa_keys.end(), [](const WrappedKey &k) { return k.key_id == 0; }))
		return make_error(WireError::Missing, "group key bag without SA_KEY");
	if (ipsec && b.sa_keys.size() != 1)
		return make_error(WireError::Duplicate, "AH/ESP key bag with " + num(b.sa_keys.size()) + " SA_KEYs");
	for (const WrappedKey &k : b.sa_keys) {
		if (ipsec && k.kwk_id != 0)
			return bad_value("AH/ESP SA_KEY with KWK ID " + num(k.kwk_id) + ", not 0");
		if (k.encrypted_key.empty())
			return bad_length("SA_KEY without encrypted key");
	}
	for (const Attribute &a : b.other_attributes) {
		auto c = check_other_attribute(a, "group key bag");
		if (!c)
			return c;
		if (a.type == attr(GroupKeyBagAttributeType::SaKey))
			return bad_value("SA_KEY belongs in sa_keys");
	}
	return true;
}

Result<bool> check_member_key_bag(const MemberKeyBag &b)
{
	for (const WrappedKey &k : b.wrap_keys) {
		if (k.key_id == 0)
			return bad_value("WRAP_KEY with Key ID 0");
		if (k.encrypted_key.empty())
			return bad_length("WRAP_KEY without encrypted key");
	}
	if (b.auth_key && b.auth_key->empty())
		return bad_length("empty AUTH_KEY");
	for (const Bytes &sid : b.sender_ids) {
		if (sid.empty())
			return bad_length("empty GM_SENDER_ID");
	}
	for (const Attribute &a : b.other_attributes) {
		auto c = check_other_attribute(a, "member key bag");
		if (!c)
			return c;
		if (a.type >= 1 && a.type <= 3)
			return bad_value("member key bag attribute " + num(a.type) + " belongs in its own field");
	}
	return true;
}

Result<GroupKeyBag> read_group_key_bag(const Substruct &s)
{
	GroupKeyBag b;
	b.protocol = s.protocol;
	size_t spi_size = spi_size_for(b.protocol);
	if (s.second != spi_size)
		return bad_value("group key bag for protocol " + num(b.protocol) + " with SPI size " +
				 num(s.second) + ", not " + num(spi_size));
	Reader r(s.body);
	if (!r.bytes(spi_size, b.spi))
		return wire::truncated("group key bag SPI");
	auto attrs = read_attributes(r.rest(), "group key bag");
	if (!attrs)
		return attrs.error();
	for (Attribute &a : attrs.value()) {
		if (a.type == attr(GroupKeyBagAttributeType::SaKey)) {
			auto k = read_wrapped_key(a, "SA_KEY");
			if (!k)
				return k.error();
			b.sa_keys.push_back(std::move(k.value()));
		} else {
			b.other_attributes.push_back(std::move(a));
		}
	}
	auto c = check_group_key_bag(b);
	if (!c)
		return c.error();
	return b;
}

Result<MemberKeyBag> read_member_key_bag(const Substruct &s)
{
	MemberKeyBag b;
	auto attrs = read_attributes(s.body, "member key bag");
	if (!attrs)
		return attrs.error();
	for (Attribute &a : attrs.value()) {
		switch (static_cast<MemberKeyBagAttributeType>(a.type)) {
		case MemberKeyBagAttributeType::WrapKey: {
			auto k = read_wrapped_key(a, "WRAP_KEY");
			if (!k)
				return k.error();
			b.wrap_keys.push_back(std::move(k.value()));
			break;
		}
		case MemberKeyBagAttributeType::AuthKey:
			if (a.tv)
				return bad_value("AUTH_KEY must be TLV");
			if (b.auth_key)
				return make_error(WireError::Duplicate, "AUTH_KEY twice");
			b.auth_key = std::move(a.value);
			break;
		case MemberKeyBagAttributeType::GmSenderId:
			if (a.tv)
				return bad_value("GM_SENDER_ID must be TLV");
			b.sender_ids.push_back(std::move(a.value));
			break;
		default:
			b.other_attributes.push_back(std::move(a));
			break;
		}
	}
	auto c = check_member_key_bag(b);
	if (!c)
		return c.error();
	return b;
}

// --- notify -------------------------------------------------------------

bool is_group_notify(uint16_t type)
{
	switch (static_cast<NotifyType>(type)) {
	case NotifyType::InvalidGroupId:
	case NotifyType::AuthorizationFailed:
	case NotifyType::RegistrationFailed:
	case NotifyType::GroupSender:
		return true;
	default:
		return false;
	}
}

Result<bool> check_notify(const NotifyPayload &p)
{
	if (p.spi.size() > 0xff)
		return bad_length("notify SPI too long");
	if (is_group_notify(p.type) && (p.protocol != 0 || !p.spi.empty()))
		return bad_value(std::string(notify_name(p.type)) + " with a protocol or SPI");
	if (p.type == static_cast<uint16_t>(NotifyType::GroupSender) && p.data.size() != 4)
		return bad_length("GROUP_SENDER with " + num(p.data.size()) + " octets of data, not 4");
	return true;
}

// --- delete -------------------------------------------------------------

Result<bool> check_delete(uint8_t protocol, uint8_t spi_size, size_t count)
{
	switch (static_cast<SecurityProtocol>(protocol)) {
	case SecurityProtocol::None:
	case SecurityProtocol::Ike:
		if (spi_size != 0 || count != 0)
			return bad_value("Delete for protocol " + num(protocol) + " carries SPIs");
		return true;
	case SecurityProtocol::Ah:
	case SecurityProtocol::Esp:
	case SecurityProtocol::GikeUpdate:
		if (spi_size != spi_size_for(protocol))
			return bad_value("Delete for protocol " + num(protocol) + " with SPI size " + num(spi_size));
		if (count == 0)
			return make_error(WireError::Missing, "Delete without SPIs");
		return true;
	}
	return bad_value("Delete for protocol " + num(protocol));
}

// --- identification -----------------------------------------------------

Result<bool> check_identification(const IdentificationPayload &p)
{
	if (p.id_type == 0)
		return bad_value("ID type 0 is reserved");
	if (p.data.empty())
		return bad_length("empty identification data");
	if (p.id_type == static_cast<uint8_t>(IdType::Ipv4Addr) && p.data.size() != 4)
		return bad_length("ID_IPV4_ADDR of " + num(p.data.size()) + " octets");
	if (p.id_type == static_cast<uint8_t>(IdType::Ipv6Addr) && p.data.size() != 16)
		return bad_length("ID_IPV6_ADDR of " + num(p.data.size()) + " octets");
	return true;
}

constexpr size_t kNonceMin = 16;
constexpr size_t kNonceMax = 256;

} // namespace

// --- equality -----------------------------------------------------------

bool operator==(const IdentificationPayload &a, const IdentificationPayload &b)
{
	return a.id_type == b.id_type && a.data == b.data;
}
bool operator==(const NoncePayload &a, const NoncePayload &b)
{
	return a.nonce == b.nonce;
}
bool operator==(const AuthPayload &a, const AuthPayload &b)
{
	return a.method == b.method && a.data == b.data;
}
bool operator==(const NotifyPayload &a, const NotifyPayload &b)
{
	return std::tie(a.protocol, a.spi, a.type, a.data) == std::tie(b.protocol, b.spi, b.type, b.data);
}
bool operator==(const DeletePayload &a, const DeletePayload &b)
{
	return std::tie(a.protocol, a.spi_size, a.spis) == std::tie(b.protocol, b.spi_size, b.spis);
}
bool operator==(const Attribute &a, const Attribute &b)
{
	return std::tie(a.type, a.tv, a.value) == std::tie(b.type, b.tv, b.value);
}
bool operator==(const Transform &a, const Transform &b)
{
	return std::tie(a.type, a.id, a.attributes) == std::tie(b.type, b.id, b.attributes);
}
bool operator==(const GsaPolicy &a, const GsaPolicy &b)
{
	return std::tie(a.protocol, a.spi, a.source, a.destination, a.transforms, a.key_lifetime,
			a.initial_message_id, a.next_spis, a.other_attributes) ==
	       std::tie(b.protocol, b.spi, b.source, b.destination, b.transforms, b.key_lifetime,
			b.initial_message_id, b.next_spis, b.other_attributes);
}
bool operator==(const GroupWidePolicy &a, const GroupWidePolicy &b)
{
	return std::tie(a.activation_time_delay, a.deactivation_time_delay, a.sender_id_bits, a.other_attributes) ==
	       std::tie(b.activation_time_delay, b.deactivation_time_delay, b.sender_id_bits, b.other_attributes);
}
bool operator==(const GsaPayload &a, const GsaPayload &b)
{
	return std::tie(a.kek, a.teks, a.group_wide) == std::tie(b.kek, b.teks, b.group_wide);
}
bool operator==(const WrappedKey &a, const WrappedKey &b)
{
	return std::tie(a.key_id, a.kwk_id, a.encrypted_key) == std::tie(b.key_id, b.kwk_id, b.encrypted_key);
}
bool operator==(const GroupKeyBag &a, const GroupKeyBag &b)
{
	return std::tie(a.protocol, a.spi, a.sa_keys, a.other_attributes) ==
	       std::tie(b.protocol, b.spi, b.sa_keys, b.other_attributes);
}
bool operator==(const MemberKeyBag &a, const MemberKeyBag &b)
{
	return std::tie(a.wrap_keys, a.auth_key, a.sender_ids, a.other_attributes) ==
	       std::tie(b.wrap_keys, b.auth_key, b.sender_ids, b.other_attributes);
}
bool operator==(const KeyDownloadPayload &a, const KeyDownloadPayload &b)
{
	return a.group_key_bags == b.group_key_bags && a.member_key_bag == b.member_key_bag;
}

Attribute make_tv_attribute(uint16_t type, uint16_t value)
{
	return Attribute{type, true, {static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)}};
}

Attribute make_tlv_attribute(uint16_t type, Bytes value)
{
	return Attribute{type, false, std::move(value)};
}

// --- identification, nonce, auth ----------------------------------------

Result<IdentificationPayload> decode_identification(ByteView body)
{
	return wire::guarded([&]() -> Result<IdentificationPayload> {
		Reader r(body);
		IdentificationPayload p;
		ByteView reserved;
		if (!r.u8(p.id_type) || !r.view(3, reserved))
			return wire::truncated("identification payload");
		p.data = r.rest().to_bytes();
		auto c = check_identification(p);
		if (!c)
			return c.error();
		return p;
	});
}

Result<Bytes> encode_identification(const IdentificationPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		auto c = check_identification(p);
		if (!c)
			return c.error();
		Bytes out = {p.id_type, 0, 0, 0};
		wire::put_bytes(out, p.data);
		return out;
	});
}

Result<NoncePayload> decode_nonce(ByteView body)
{
	return wire::guarded([&]() -> Result<NoncePayload> {
		if (body.size() < kNonceMin || body.size() > kNonceMax)
			return bad_length("nonce of " + num(body.size()) + " octets, not 16 to 256");
		return NoncePayload{body.to_bytes()};
	});
}

Result<Bytes> encode_nonce(const NoncePayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (p.nonce.size() < kNonceMin || p.nonce.size() > kNonceMax)
			return bad_length("nonce of " + num(p.nonce.size()) + " octets, not 16 to 256");
		return p.nonce;
	});
}

Result<AuthPayload> decode_auth(ByteView body)
{
	return wire::guarded([&]() -> Result<AuthPayload> {
		Reader r(body);
		AuthPayload p;
		ByteView reserved;
		if (!r.u8(p.method) || !r.view(3, reserved))
			return wire::truncated("AUTH payload");
		if (p.method == 0)
			return bad_value("AUTH method 0 is reserved");
		p.data = r.rest().to_bytes();
		if (p.data.empty())
			return bad_length("AUTH payload without data");
		return p;
	});
}

Result<Bytes> encode_auth(const AuthPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (p.method == 0)
			return bad_value("AUTH method 0 is reserved");
		if (p.data.empty())
			return bad_length("AUTH payload without data");
		Bytes out = {p.method, 0, 0, 0};
		wire::put_bytes(out, p.data);
		return out;
	});
}

// --- notify -------------------------------------------------------------

Result<NotifyPayload> decode_notify(ByteView body)
{
	return wire::guarded([&]() -> Result<NotifyPayload> {
		Reader r(body);
		NotifyPayload p;
		uint8_t spi_size;
		if (!r.u8(p.protocol) || !r.u8(spi_size) || !r.u16(p.type))
			return wire::truncated("notify payload");
		if (!r.bytes(spi_size, p.spi))
			return bad_length("notify SPI size " + num(spi_size) + " runs past the payload");
		p.data = r.rest().to_bytes();
		auto c = check_notify(p);
		if (!c)
			return c.error();
		return p;
	});
}

Result<Bytes> encode_notify(const NotifyPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		auto c = check_notify(p);
		if (!c)
			return c.error();
		Bytes out;
		wire::put_u8(out, p.protocol);
		wire::put_u8(out, static_cast<uint8_t>(p.spi.size()));
		wire::put_u16(out, p.type);
		wire::put_bytes(out, p.spi);
		wire::put_bytes(out, p.data);
		return out;
	});
}

NotifyPayload make_group_sender_notify(uint32_t count)
{
	return NotifyPayload{0, {}, static_cast<uint16_t>(NotifyType::GroupSender), be32_bytes(count)};
}

Result<uint32_t> group_sender_count(const NotifyPayload &p)
{
	if (p.type != static_cast<uint16_t>(NotifyType::GroupSender))
		return bad_value("notify type " + num(p.type) + " is not GROUP_SENDER");
	if (p.data.size() != 4)
		return bad_length("GROUP_SENDER with " + num(p.data.size()) + " octets of data, not 4");
	return be32(p.data);
}

// --- member list (private use) -------------------------------------------

namespace {

Result<bool> check_member_list(const std::vector<ident::Identity> &peers)
{
	if (peers.empty())
		return bad_length("MEMBER_LIST names nobody");
	if (peers.size() > kMaxMemberList)
		return bad_length("MEMBER_LIST names " + num(peers.size()) + " members, more than " +
				  num(kMaxMemberList));
	for (size_t i = 0; i < peers.size(); i++) {
		const ident::Identity &id = peers[i];
		switch (static_cast<IdType>(id.type)) {
		case IdType::Ipv4Addr:
			if (id.data.size() != 4)
				return bad_length("MEMBER_LIST: an IPv4 identity of " + num(id.data.size()) + " octets");
			break;
		case IdType::Ipv6Addr:
			if (id.data.size() != 16)
				return bad_length("MEMBER_LIST: an IPv6 identity of " + num(id.data.size()) + " octets");
			break;
		case IdType::Fqdn:
		case IdType::Rfc822Addr:
		case IdType::DerAsn1Dn:
		case IdType::KeyId:
			if (id.data.empty() || id.data.size() > kMaxMemberListId)
				return bad_length("MEMBER_LIST: an identity of " + num(id.data.size()) +
						  " octets (1 to " + num(kMaxMemberListId) + ")");
			break;
		default:
			return bad_value("MEMBER_LIST: identity type " + num(id.type));
		}
		for (size_t j = 0; j < i; j++)
			if (peers[j] == id)
				return make_error(WireError::Duplicate, "MEMBER_LIST names " + id.str() + " twice");
	}
	return true;
}

} // namespace

Result<NotifyPayload> make_member_list_notify(const std::vector<ident::Identity> &peers)
{
	auto c = check_member_list(peers);
	if (!c)
		return c.error();
	NotifyPayload n{0, {}, static_cast<uint16_t>(NotifyType::MemberList), {}};
	for (const ident::Identity &id : peers) {
		wire::put_u8(n.data, id.type);
		wire::put_u8(n.data, 0);
		wire::put_u16(n.data, static_cast<uint16_t>(id.data.size()));
		wire::put_bytes(n.data, id.data);
	}
	return n;
}

Result<std::vector<ident::Identity>> member_list_identities(const NotifyPayload &p)
{
	if (p.type != static_cast<uint16_t>(NotifyType::MemberList))
		return bad_value("notify type " + num(p.type) + " is not MEMBER_LIST");
	if (p.protocol != 0 || !p.spi.empty())
		return bad_value("MEMBER_LIST with a protocol or SPI");
	return wire::guarded([&]() -> Result<std::vector<ident::Identity>> {
		Reader r(p.data);
		std::vector<ident::Identity> out;
		while (!r.done()) {
			if (out.size() == kMaxMemberList)
				return bad_length("MEMBER_LIST names more than " + num(kMaxMemberList) + " members");
			uint8_t type, reserved;
			uint16_t length;
			if (!r.u8(type) || !r.u8(reserved) || !r.u16(length))
				return wire::truncated("MEMBER_LIST entry");
			if (reserved != 0)
				return bad_value("MEMBER_LIST: reserved octet " + num(reserved));
			ident::Identity id;
			id.type = type;
			if (!r.bytes(length, id.data))
				return bad_length("MEMBER_LIST: identity length " + num(length) + " runs past the data");
			out.push_back(std::move(id));
		}
		auto c = check_member_list(out);
		if (!c)
			return c.error();
		return out;
	});
}

// --- delete -------------------------------------------------------------

Result<DeletePayload> decode_delete(ByteView body)
{
	return wire::guarded([&]() -> Result<DeletePayload> {
		Reader r(body);
		DeletePayload p;
		uint16_t count;
		if (!r.u8(p.protocol) || !r.u8(p.spi_size) || !r.u16(count))
			return wire::truncated("Delete payload");
		if (r.remaining() != static_cast<size_t>(count) * p.spi_size)
			return bad_length(num(count) + " SPIs of " + num(p.spi_size) + " octets but " +
					  num(r.remaining()) + " octets follow");
		auto c = check_delete(p.protocol, p.spi_size, count);
		if (!c)
			return c.error();
		for (uint16_t i = 0; i < count; i++) {
			Bytes spi;
			r.bytes(p.spi_size, spi);
			p.spis.push_back(std::move(spi));
		}
		return p;
	});
}

Result<Bytes> encode_delete(const DeletePayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (p.spis.size() > 0xffff)
			return bad_length("too many SPIs for one Delete");
		auto c = check_delete(p.protocol, p.spi_size, p.spis.size());
		if (!c)
			return c.error();
		Bytes out;
		wire::put_u8(out, p.protocol);
		wire::put_u8(out, p.spi_size);
		wire::put_u16(out, static_cast<uint16_t>(p.spis.size()));
		for (const Bytes &spi : p.spis) {
			if (spi.size() != p.spi_size)
				return bad_length("SPI of " + num(spi.size()) + " octets, SPI size " + num(p.spi_size));
			wire::put_bytes(out, spi);
		}
		return out;
	});
}

// --- GSA ----------------------------------------------------------------

Result<GsaPayload> decode_gsa(ByteView body)
{
	return wire::guarded([&]() -> Result<GsaPayload> {
		Reader r(body);
		GsaPayload p;
		while (!r.done()) {
			auto s = read_substruct(r, "GSA policy");
			if (!s)
				return s.error();
			uint8_t protocol = s.value().protocol;
			if (protocol == 0) {
				if (p.group_wide)
					return make_error(WireError::Duplicate, "two GW policies");
				auto g = read_gw_policy(s.value());
				if (!g)
					return g.error();
				p.group_wide = std::move(g.value());
				continue;
			}
			if (!is_group_sa_protocol(protocol))
				return make_error(WireError::Unsupported, "GSA policy protocol " + num(protocol));
			auto pol = read_gsa_policy(s.value());
			if (!pol)
				return pol.error();
			if (protocol == proto(SecurityProtocol::GikeUpdate)) {
				if (p.kek)
					return make_error(WireError::Duplicate, "two GSA KEK policies");
				p.kek = std::move(pol.value());
			} else {
				p.teks.push_back(std::move(pol.value()));
			}
		}
		if (!p.kek && p.teks.empty())
			return make_error(WireError::Missing, "GSA payload without a KEK or TEK policy");
		return p;
	});
}

Result<Bytes> encode_gsa(const GsaPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (!p.kek && p.teks.empty())
			return make_error(WireError::Missing, "GSA payload without a KEK or TEK policy");
		if (p.kek && p.kek->protocol != proto(SecurityProtocol::GikeUpdate))
			return bad_value("KEK policy with protocol " + num(p.kek->protocol));
		Bytes out;
		if (p.kek) {
			auto w = write_gsa_policy(out, *p.kek);
			if (!w)
				return w.error();
		}
		for (const GsaPolicy &tek : p.teks) {
			if (tek.protocol != proto(SecurityProtocol::Ah) && tek.protocol != proto(SecurityProtocol::Esp))
				return bad_value("TEK policy with protocol " + num(tek.protocol));
			auto w = write_gsa_policy(out, tek);
			if (!w)
				return w.error();
		}
		if (p.group_wide) {
			auto w = write_gw_policy(out, *p.group_wide);
			if (!w)
				return w.error();
		}
		return out;
	});
}

// --- KD -----------------------------------------------------------------

Result<KeyDownloadPayload> decode_key_download(ByteView body)
{
	return wire::guarded([&]() -> Result<KeyDownloadPayload> {
		Reader r(body);
		KeyDownloadPayload p;
		while (!r.done()) {
			auto s = read_substruct(r, "key bag");
			if (!s)
				return s.error();
			uint8_t protocol = s.value().protocol;
			if (protocol == 0) {
				if (p.member_key_bag)
					return make_error(WireError::Duplicate, "two member key bags");
				auto m = read_member_key_bag(s.value());
				if (!m)
					return m.error();
				p.member_key_bag = std::move(m.value());
				continue;
			}
			if (!is_group_sa_protocol(protocol))
				return make_error(WireError::Unsupported, "key bag protocol " + num(protocol));
			auto g = read_group_key_bag(s.value());
			if (!g)
				return g.error();
			p.group_key_bags.push_back(std::move(g.value()));
		}
		if (p.group_key_bags.empty() && !p.member_key_bag)
			return make_error(WireError::Missing, "KD payload without key bags");
		return p;
	});
}

Result<Bytes> encode_key_download(const KeyDownloadPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (p.group_key_bags.empty() && !p.member_key_bag)
			return make_error(WireError::Missing, "KD payload without key bags");
		Bytes out;
		for (const GroupKeyBag &b : p.group_key_bags) {
			auto c = check_group_key_bag(b);
			if (!c)
				return c.error();
			std::vector<Attribute> attrs;
			for (const WrappedKey &k : b.sa_keys)
				attrs.push_back(wrapped_key_attribute(attr(GroupKeyBagAttributeType::SaKey), k));
			attrs.insert(attrs.end(), b.other_attributes.begin(), b.other_attributes.end());
			Bytes body = b.spi;
			c = write_attributes(body, attrs);
			if (!c)
				return c.error();
			c = write_substruct(out, b.protocol, static_cast<uint8_t>(b.spi.size()), body, "group key bag");
			if (!c)
				return c.error();
		}
		if (p.member_key_bag) {
			const MemberKeyBag &m = *p.member_key_bag;
			auto c = check_member_key_bag(m);
			if (!c)
				return c.error();
			std::vector<Attribute> attrs;
			for (const WrappedKey &k : m.wrap_keys)
				attrs.push_back(wrapped_key_attribute(attr(MemberKeyBagAttributeType::WrapKey), k));
			if (m.auth_key)
				attrs.push_back(make_tlv_attribute(attr(MemberKeyBagAttributeType::AuthKey), *m.auth_key));
			for (const Bytes &sid : m.sender_ids)
				attrs.push_back(make_tlv_attribute(attr(MemberKeyBagAttributeType::GmSenderId), sid));
			attrs.insert(attrs.end(), m.other_attributes.begin(), m.other_attributes.end());
			Bytes body;
			c = write_attributes(body, attrs);
			if (!c)
				return c.error();
			c = write_substruct(out, 0, 0, body, "member key bag");
			if (!c)
				return c.error();
		}
		return out;
	});
}

} // namespace groupsec::gdoi
