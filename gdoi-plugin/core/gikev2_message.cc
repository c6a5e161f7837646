// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_message.h"

#include <string>
#include <tuple>

#include "gikev2.h"
#include "gikev2_wire.h"

namespace groupsec::gdoi {

using wire::Reader;

namespace {

constexpr uint8_t kCriticalBit = 0x80;
constexpr uint8_t kEncrypted = static_cast<uint8_t>(PayloadType::Encrypted);

std::string type_str(uint8_t t)
{
	return std::string(payload_name(t)) + " (" + std::to_string(t) + ")";
}

// One generic payload header and the body it announces.
struct RawPayload {
	uint8_t next;
	bool critical;
	ByteView body;
};

Result<RawPayload> read_generic(Reader &r, uint8_t type)
{
	uint8_t next, flags;
	uint16_t length;
	if (!r.u8(next) || !r.u8(flags) || !r.u16(length))
		return wire::truncated("payload " + type_str(type) + " header");
	if (length < kGenericPayloadHeaderSize)
		return make_error(WireError::BadLength,
				  "payload " + type_str(type) + ": length " + std::to_string(length) +
					  " shorter than its header");
	ByteView body;
	if (!r.view(length - kGenericPayloadHeaderSize, body))
		return make_error(WireError::BadLength, "payload " + type_str(type) + ": length " +
								std::to_string(length) + " runs past the message");
	return RawPayload{next, (flags & kCriticalBit) != 0, body};
}

Result<bool> write_generic(Bytes &out, uint8_t next, bool critical, ByteView body)
{
	if (body.size() > 0xffff - kGenericPayloadHeaderSize)
		return make_error(WireError::BadLength, "payload body of " + std::to_string(body.size()) +
								" octets does not fit a 16-bit length");
	wire::put_u8(out, next);
	wire::put_u8(out, critical ? kCriticalBit : 0);
	wire::put_u16(out, static_cast<uint16_t>(body.size() + kGenericPayloadHeaderSize));
	wire::put_bytes(out, body);
	return true;
}

// The start of an UnsupportedCritical error's message; the payload type
// follows (unsupported_critical_type() reads it back).
const std::string kUnknownCritical = "unknown payload type ";

// Walks the chain from type first. On SK (if allowed) stores it in sk and
// requires it to end the input.
Result<std::vector<Payload>> read_chain(uint8_t first, ByteView in, std::optional<EncryptedPayload> *sk)
{
	Reader r(in);
	std::vector<Payload> out;
	uint8_t type = first;
	while (type != 0) {
		auto raw = read_generic(r, type);
		if (!raw)
			return raw.error();
		const RawPayload &p = raw.value();
		if (type == kEncrypted) {
			if (!sk)
				return make_error(WireError::BadValue, "SK payload inside SK");
			if (!r.done())
				return make_error(WireError::TrailingBytes,
						  "SK payload is not the last in the message");
			*sk = EncryptedPayload{p.next, p.critical, p.body.to_bytes()};
			return out;
		}
		if (p.critical && !payload_type_known(type))
			return make_error(WireError::UnsupportedCritical,
					  kUnknownCritical + std::to_string(type) + " marked critical");
		out.push_back(Payload{type, p.critical, p.body.to_bytes()});
		type = p.next;
	}
	if (!r.done())
		return make_error(WireError::TrailingBytes,
				  std::to_string(r.remaining()) + " octets after the last payload");
	return out;
}

Result<uint8_t> write_chain(const std::vector<Payload> &payloads, uint8_t terminal, Bytes &out)
{
	for (size_t i = 0; i < payloads.size(); i++) {
		const Payload &p = payloads[i];
		if (p.type == kEncrypted || p.type == 0)
			return make_error(WireError::BadValue,
					  "payload type " + std::to_string(p.type) + " cannot be in a chain");
		uint8_t next = i + 1 < payloads.size() ? payloads[i + 1].type : terminal;
		auto w = write_generic(out, next, p.critical, p.body);
		if (!w)
			return w.error();
	}
	return payloads.empty() ? terminal : payloads.front().type;
}

} // namespace

bool operator==(const IkeHeader &a, const IkeHeader &b)
{
	return std::tie(a.initiator_spi, a.responder_spi, a.next_payload, a.major_version, a.minor_version,
			a.exchange_type, a.flags, a.message_id, a.length) ==
	       std::tie(b.initiator_spi, b.responder_spi, b.next_payload, b.major_version, b.minor_version,
			b.exchange_type, b.flags, b.message_id, b.length);
}

bool operator==(const Payload &a, const Payload &b)
{
	return a.type == b.type && a.critical == b.critical && a.body == b.body;
}

bool operator==(const EncryptedPayload &a, const EncryptedPayload &b)
{
	return a.first_inner == b.first_inner && a.critical == b.critical && a.data == b.data;
}

bool operator==(const Message &a, const Message &b)
{
	return a.header == b.header && a.payloads == b.payloads && a.encrypted == b.encrypted;
}

Result<IkeHeader> decode_ike_header(ByteView in)
{
	Reader r(in);
	IkeHeader h;
	uint8_t version;
	if (!r.u64(h.initiator_spi) || !r.u64(h.responder_spi) || !r.u8(h.next_payload) || !r.u8(version) ||
	    !r.u8(h.exchange_type) || !r.u8(h.flags) || !r.u32(h.message_id) || !r.u32(h.length))
		return wire::truncated("IKE header");
	h.major_version = version >> 4;
	h.minor_version = version & 0x0f;
	if (h.major_version != kIkeMajorVersion)
		return make_error(WireError::BadVersion,
				  "IKE major version " + std::to_string(h.major_version) + ", not 2");
	return h;
}

Bytes encode_ike_header(const IkeHeader &h)
{
	Bytes out;
	out.reserve(kIkeHeaderSize);
	wire::put_u64(out, h.initiator_spi);
	wire::put_u64(out, h.responder_spi);
	wire::put_u8(out, h.next_payload);
	wire::put_u8(out, static_cast<uint8_t>(h.major_version << 4 | (h.minor_version & 0x0f)));
	wire::put_u8(out, h.exchange_type);
	wire::put_u8(out, h.flags);
	wire::put_u32(out, h.message_id);
	wire::put_u32(out, h.length);
	return out;
}

Result<Message> decode_message(ByteView in)
{
	return wire::guarded([&]() -> Result<Message> {
		auto h = decode_ike_header(in);
		if (!h)
			return h.error();
		Message m;
		m.header = h.value();
		if (m.header.length != in.size())
			return make_error(WireError::BadLength,
					  "IKE header length " + std::to_string(m.header.length) +
						  " but the datagram has " + std::to_string(in.size()) + " octets");
		auto chain = read_chain(m.header.next_payload, in.sub(kIkeHeaderSize, in.size() - kIkeHeaderSize),
					&m.encrypted);
		if (!chain)
			return chain.error();
		m.payloads = std::move(chain.value());
		return m;
	});
}

Result<Bytes> encode_message(const Message &m)
{
	return wire::guarded([&]() -> Result<Bytes> {
		Bytes out = encode_ike_header(m.header);
		auto first = write_chain(m.payloads, m.encrypted ? kEncrypted : 0, out);
		if (!first)
			return first.error();
		if (m.encrypted) {
			auto w = write_generic(out, m.encrypted->first_inner, m.encrypted->critical,
					       m.encrypted->data);
			if (!w)
				return w.error();
		}
		out[16] = first.value();
		uint32_t len = static_cast<uint32_t>(out.size());
		out[24] = static_cast<uint8_t>(len >> 24);
		out[25] = static_cast<uint8_t>(len >> 16);
		out[26] = static_cast<uint8_t>(len >> 8);
		out[27] = static_cast<uint8_t>(len);
		return out;
	});
}

Result<std::vector<Payload>> decode_payload_chain(uint8_t first, ByteView in)
{
	return wire::guarded([&]() { return read_chain(first, in, nullptr); });
}

Result<uint8_t> encode_payload_chain(const std::vector<Payload> &payloads, Bytes &out)
{
	return wire::guarded([&]() -> Result<uint8_t> {
		Bytes chain;
		auto first = write_chain(payloads, 0, chain);
		if (first)
			wire::put_bytes(out, chain);
		return first;
	});
}

std::optional<uint8_t> unsupported_critical_type(const Error &e)
{
	if (e.code != WireError::UnsupportedCritical || e.message.compare(0, kUnknownCritical.size(), kUnknownCritical))
		return std::nullopt;
	unsigned v = 0;
	size_t i = kUnknownCritical.size(), digits = 0;
	for (; i < e.message.size() && e.message[i] >= '0' && e.message[i] <= '9' && digits < 3; i++, digits++)
		v = v * 10 + unsigned(e.message[i] - '0');
	if (!digits || v > 255)
		return std::nullopt;
	return static_cast<uint8_t>(v);
}

} // namespace groupsec::gdoi
