// SPDX-License-Identifier: GPL-2.0-or-later
#include "shortcut_wire.h"

#include <cstring>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"

namespace groupsec::gdoi::shortcut {

namespace {

Error bad(WireError code, const std::string &what)
{
	return make_error(code, "shortcut message: " + what);
}

bool host_bits_clear(const Bytes &a, uint8_t length)
{
	for (size_t bit = length; bit < a.size() * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

std::optional<Error> check_prefix(const Prefix &p, const char *what)
{
	if (p.address.size() != 4 && p.address.size() != 16)
		return bad(WireError::BadValue, std::string(what) + ": not an IPv4 or IPv6 prefix");
	if (p.length > p.address.size() * 8)
		return bad(WireError::BadValue, std::string(what) + ": prefix length " +
							   std::to_string(p.length) + " too large");
	if (!host_bits_clear(p.address, p.length))
		return bad(WireError::BadValue, std::string(what) + ": host bits set in " + p.str());
	return std::nullopt;
}

std::optional<Error> check_endpoint(const Address &a, const char *what)
{
	if (a.ip.size() != 4 && a.ip.size() != 16)
		return bad(WireError::BadValue, std::string(what) + ": not an IPv4 or IPv6 address");
	if (net::is_unspecified(a.ip) || net::is_multicast(a.ip))
		return bad(WireError::BadValue, std::string(what) + ": " + a.ip_string() +
							   " is not a unicast address");
	return std::nullopt;
}

std::optional<Error> check_offer(const Offer &o)
{
	if (!o.suite.supported())
		return bad(WireError::Unsupported, "cipher suite " + std::to_string(o.suite.encryption) + "/" +
							  std::to_string(o.suite.key_bits) + "/" +
							  std::to_string(o.suite.integrity) + " is not supported");
	if (o.lifetime_s == 0)
		return bad(WireError::BadValue, "lifetime 0");
	// RFC 4303 2.1: SPIs 1 to 255 are reserved, 0 is never an SA's
	if (o.spi_in < 256 || o.spi_out < 256)
		return bad(WireError::BadValue, "SPI below 256");
	if (o.spi_in == o.spi_out)
		return bad(WireError::BadValue, "inbound and outbound SPI are the same");
	if (auto e = check_endpoint(o.peer_outside, "peer outside address"))
		return e;
	if (auto e = check_prefix(o.local_inside, "local inside prefix"))
		return e;
	if (auto e = check_prefix(o.peer_inside, "peer inside prefix"))
		return e;
	if (o.local_inside.address.size() != o.peer_inside.address.size())
		return bad(WireError::BadValue, "inside prefixes of different families");
	if (o.key_in.size() != o.suite.keymat_size() || o.key_out.size() != o.suite.keymat_size())
		return bad(WireError::BadLength, "keying material of " + std::to_string(o.key_in.size()) + " and " +
							 std::to_string(o.key_out.size()) + " octets, the suite needs " +
							 std::to_string(o.suite.keymat_size()));
	return std::nullopt;
}

uint8_t family_octet(size_t size)
{
	return size == 16 ? 6 : 4;
}

bool read_family(wire::Reader &r, size_t &size)
{
	uint8_t f;
	if (!r.u8(f))
		return false;
	size = f == 4 ? 4 : f == 6 ? 16 : 0;
	return true;
}

void put_endpoint(Bytes &out, const Address &a)
{
	wire::put_u8(out, family_octet(a.ip.size()));
	wire::put_u8(out, 0);
	wire::put_u16(out, a.port);
	wire::put_bytes(out, a.ip);
}

Result<Address> read_endpoint(wire::Reader &r, const char *what)
{
	size_t size;
	uint8_t reserved;
	Address a;
	if (!read_family(r, size) || !r.u8(reserved) || !r.u16(a.port))
		return wire::truncated(std::string("shortcut message: ") + what);
	if (!size)
		return bad(WireError::BadValue, std::string(what) + ": address family not 4 or 6");
	if (!r.bytes(size, a.ip))
		return wire::truncated(std::string("shortcut message: ") + what);
	if (auto e = check_endpoint(a, what))
		return *e;
	return a;
}

void put_prefix(Bytes &out, const Prefix &p)
{
	wire::put_u8(out, family_octet(p.address.size()));
	wire::put_u8(out, p.length);
	wire::put_bytes(out, p.address);
}

Result<Prefix> read_prefix(wire::Reader &r, const char *what)
{
	size_t size;
	Prefix p;
	if (!read_family(r, size) || !r.u8(p.length))
		return wire::truncated(std::string("shortcut message: ") + what);
	if (!size)
		return bad(WireError::BadValue, std::string(what) + ": address family not 4 or 6");
	if (!r.bytes(size, p.address))
		return wire::truncated(std::string("shortcut message: ") + what);
	if (auto e = check_prefix(p, what))
		return *e;
	return p;
}

Result<SecretBytes> read_key(wire::Reader &r, const char *what)
{
	uint16_t len;
	ByteView v;
	if (!r.u16(len) || !r.view(len, v))
		return wire::truncated(std::string("shortcut message: ") + what);
	return SecretBytes(v);
}

void put_key(SecretBytes &out, const SecretBytes &k)
{
	wire::put_u16(out, static_cast<uint16_t>(k.size()));
	out.insert(out.end(), k.begin(), k.end());
}

Result<Offer> read_offer(wire::Reader &r)
{
	Offer o;
	uint16_t reserved;
	if (!r.u16(o.suite.encryption) || !r.u16(o.suite.key_bits) || !r.u16(o.suite.integrity) ||
	    !r.u16(reserved) || !r.u32(o.lifetime_s) || !r.u32(o.spi_in) || !r.u32(o.spi_out))
		return wire::truncated("shortcut message: offer");
	auto peer = read_endpoint(r, "peer outside address");
	if (!peer)
		return peer.error();
	o.peer_outside = std::move(peer).value();
	auto local = read_prefix(r, "local inside prefix");
	if (!local)
		return local.error();
	o.local_inside = std::move(local).value();
	auto peer_inside = read_prefix(r, "peer inside prefix");
	if (!peer_inside)
		return peer_inside.error();
	o.peer_inside = std::move(peer_inside).value();
	auto in = read_key(r, "inbound key");
	if (!in)
		return in.error();
	o.key_in = std::move(in).value();
	auto out = read_key(r, "outbound key");
	if (!out)
		return out.error();
	o.key_out = std::move(out).value();
	if (auto e = check_offer(o))
		return *e;
	return o;
}

bool known_teardown_reason(uint8_t v)
{
	return v >= 1 && v <= 6;
}

bool known_ack_status(uint8_t v)
{
	return v <= 6;
}

bool known_type(uint8_t v)
{
	return (v >= 1 && v <= 4) || v == 128;
}

} // namespace

const char *msg_type_name(MsgType t)
{
	switch (t) {
	case MsgType::Offer:
		return "OFFER";
	case MsgType::Go:
		return "GO";
	case MsgType::PeerMoved:
		return "PEER_MOVED";
	case MsgType::Teardown:
		return "TEARDOWN";
	case MsgType::Ack:
		return "ACK";
	}
	return "UNKNOWN";
}

const char *teardown_reason_name(TeardownReason r)
{
	switch (r) {
	case TeardownReason::Aborted:
		return "aborted";
	case TeardownReason::PeerInside:
		return "peer-inside";
	case TeardownReason::Inside:
		return "inside";
	case TeardownReason::PeerGone:
		return "peer-gone";
	case TeardownReason::Operator:
		return "operator";
	case TeardownReason::Renewal:
		return "renewal";
	}
	return "unknown";
}

const char *ack_status_name(AckStatus s)
{
	switch (s) {
	case AckStatus::Ok:
		return "ok";
	case AckStatus::UnknownShortcut:
		return "unknown-shortcut";
	case AckStatus::KernelFailed:
		return "kernel-failed";
	case AckStatus::NotMine:
		return "not-mine";
	case AckStatus::Unsupported:
		return "unsupported";
	case AckStatus::Duplicate:
		return "duplicate";
	case AckStatus::WrongState:
		return "wrong-state";
	}
	return "unknown";
}

bool Prefix::contains(ByteView ip) const
{
	if (ip.size() != address.size())
		return false;
	for (size_t bit = 0; bit < length; bit++) {
		uint8_t mask = 0x80 >> (bit % 8);
		if ((ip[bit / 8] & mask) != (address[bit / 8] & mask))
			return false;
	}
	return true;
}

net::TrafficSelector Prefix::selector() const
{
	Bytes end = address;
	for (size_t bit = length; bit < end.size() * 8; bit++)
		end[bit / 8] |= 0x80 >> (bit % 8);
	net::TrafficSelector ts = net::range_selector(address, end);
	return ts;
}

std::string Prefix::str() const
{
	return net::ip_text(address) + "/" + std::to_string(length);
}

bool operator==(const Prefix &a, const Prefix &b)
{
	return a.address == b.address && a.length == b.length;
}

Result<Prefix> parse_prefix(const std::string &s)
{
	auto r = net::parse_range(s, net::PrefixForm::Strict);
	if (std::holds_alternative<net::PrefixError>(r))
		return make_error(WireError::BadValue, "\"" + s + "\" is not a prefix");
	const auto &ts = std::get<net::TrafficSelector>(r);
	auto len = net::prefix_length(ts.start_address, ts.end_address);
	if (!len)
		return make_error(WireError::BadValue, "\"" + s + "\" is a range, not a prefix");
	return Prefix{ts.start_address, static_cast<uint8_t>(*len)};
}

size_t Suite::keymat_size() const
{
	size_t n = key_bits / 8;
	if (encryption == 20)
		n += 4;
	if (integrity == 12)
		n += 32;
	return n;
}

bool Suite::supported() const
{
	if (key_bits != 128 && key_bits != 256)
		return false;
	return (encryption == 20 && integrity == 0) || (encryption == 12 && integrity == 12);
}

bool operator==(const Suite &a, const Suite &b)
{
	return a.encryption == b.encryption && a.key_bits == b.key_bits && a.integrity == b.integrity;
}

bool operator==(const Offer &a, const Offer &b)
{
	return a.suite == b.suite && a.lifetime_s == b.lifetime_s && a.spi_in == b.spi_in &&
	       a.spi_out == b.spi_out && a.peer_outside == b.peer_outside && a.local_inside == b.local_inside &&
	       a.peer_inside == b.peer_inside && a.key_in == b.key_in && a.key_out == b.key_out;
}

MsgType ShortcutMessage::type() const
{
	switch (body.index()) {
	case 0:
		return MsgType::Offer;
	case 1:
		return MsgType::Go;
	case 2:
		return MsgType::PeerMoved;
	case 3:
		return MsgType::Teardown;
	default:
		return MsgType::Ack;
	}
}

bool operator==(const ShortcutMessage &a, const ShortcutMessage &b)
{
	if (a.epoch != b.epoch || a.sequence != b.sequence || a.shortcut_id != b.shortcut_id ||
	    a.type() != b.type())
		return false;
	switch (a.type()) {
	case MsgType::Offer:
		return std::get<Offer>(a.body) == std::get<Offer>(b.body);
	case MsgType::Go:
		return true;
	case MsgType::PeerMoved:
		return std::get<PeerMoved>(a.body).peer_outside == std::get<PeerMoved>(b.body).peer_outside;
	case MsgType::Teardown:
		return std::get<Teardown>(a.body).reason == std::get<Teardown>(b.body).reason;
	case MsgType::Ack:
		return std::get<Ack>(a.body).acked == std::get<Ack>(b.body).acked &&
		       std::get<Ack>(a.body).status == std::get<Ack>(b.body).status;
	}
	return false;
}

Result<ShortcutMessage> decode_shortcut_message(ByteView in)
{
	return wire::guarded([&]() -> Result<ShortcutMessage> {
		wire::Reader r(in);
		uint8_t version, type;
		uint16_t length;
		ShortcutMessage m;
		if (!r.u8(version) || !r.u8(type) || !r.u16(length) || !r.u32(m.epoch) || !r.u64(m.sequence) ||
		    !r.u32(m.shortcut_id))
			return wire::truncated("shortcut message: header");
		if (version != kShortcutVersion)
			return bad(WireError::BadVersion, "version " + std::to_string(version) + ", expected " +
								 std::to_string(kShortcutVersion));
		if (length != in.size())
			return bad(WireError::BadLength, "length field " + std::to_string(length) + " but " +
								std::to_string(in.size()) + " octets");
		if (in.size() > kShortcutMaxSize)
			return bad(WireError::BadLength, "longer than " + std::to_string(kShortcutMaxSize) +
								" octets");
		if (!known_type(type))
			return bad(WireError::Unsupported, "unknown type " + std::to_string(type));
		if (m.sequence == 0)
			return bad(WireError::BadValue, "sequence number 0");
		if (m.shortcut_id == 0)
			return bad(WireError::BadValue, "shortcut ID 0");
		switch (static_cast<MsgType>(type)) {
		case MsgType::Offer: {
			auto o = read_offer(r);
			if (!o)
				return o.error();
			m.body = std::move(o).value();
			break;
		}
		case MsgType::Go:
			m.body = Go{};
			break;
		case MsgType::PeerMoved: {
			auto a = read_endpoint(r, "peer outside address");
			if (!a)
				return a.error();
			m.body = PeerMoved{std::move(a).value()};
			break;
		}
		case MsgType::Teardown: {
			uint8_t reason, r1;
			uint16_t r2;
			if (!r.u8(reason) || !r.u8(r1) || !r.u16(r2))
				return wire::truncated("shortcut message: teardown");
			if (!known_teardown_reason(reason))
				return bad(WireError::BadValue, "unknown teardown reason " + std::to_string(reason));
			m.body = Teardown{static_cast<TeardownReason>(reason)};
			break;
		}
		case MsgType::Ack: {
			uint8_t acked, status;
			uint16_t r2;
			if (!r.u8(acked) || !r.u8(status) || !r.u16(r2))
				return wire::truncated("shortcut message: ack");
			if (!known_type(acked) || !from_manager(static_cast<MsgType>(acked)))
				return bad(WireError::BadValue, "an ack of type " + std::to_string(acked));
			if (!known_ack_status(status))
				return bad(WireError::BadValue, "unknown ack status " + std::to_string(status));
			m.body = Ack{static_cast<MsgType>(acked), static_cast<AckStatus>(status)};
			break;
		}
		}
		if (!r.done())
			return bad(WireError::TrailingBytes, std::to_string(r.remaining()) + " octets after the " +
								    msg_type_name(m.type()) + " body");
		return m;
	});
}

Result<SecretBytes> encode_shortcut_message(const ShortcutMessage &m)
{
	return wire::guarded([&]() -> Result<SecretBytes> {
		if (m.sequence == 0)
			return bad(WireError::BadValue, "sequence number 0");
		if (m.shortcut_id == 0)
			return bad(WireError::BadValue, "shortcut ID 0");
		SecretBytes out;
		out.reserve(kShortcutMaxSize);
		wire::put_u8(out, kShortcutVersion);
		wire::put_u8(out, static_cast<uint8_t>(m.type()));
		wire::put_u16(out, 0); // length, below
		wire::put_u32(out, m.epoch);
		wire::put_u64(out, m.sequence);
		wire::put_u32(out, m.shortcut_id);
		switch (m.type()) {
		case MsgType::Offer: {
			const Offer &o = std::get<Offer>(m.body);
			if (auto e = check_offer(o))
				return *e;
			wire::put_u16(out, o.suite.encryption);
			wire::put_u16(out, o.suite.key_bits);
			wire::put_u16(out, o.suite.integrity);
			wire::put_u16(out, 0);
			wire::put_u32(out, o.lifetime_s);
			wire::put_u32(out, o.spi_in);
			wire::put_u32(out, o.spi_out);
			put_endpoint(out, o.peer_outside);
			put_prefix(out, o.local_inside);
			put_prefix(out, o.peer_inside);
			put_key(out, o.key_in);
			put_key(out, o.key_out);
			break;
		}
		case MsgType::Go:
			break;
		case MsgType::PeerMoved: {
			const auto &p = std::get<PeerMoved>(m.body);
			if (auto e = check_endpoint(p.peer_outside, "peer outside address"))
				return *e;
			put_endpoint(out, p.peer_outside);
			break;
		}
		case MsgType::Teardown: {
			auto reason = static_cast<uint8_t>(std::get<Teardown>(m.body).reason);
			if (!known_teardown_reason(reason))
				return bad(WireError::BadValue, "unknown teardown reason " + std::to_string(reason));
			wire::put_u8(out, reason);
			wire::put_u8(out, 0);
			wire::put_u16(out, 0);
			break;
		}
		case MsgType::Ack: {
			const auto &a = std::get<Ack>(m.body);
			auto acked = static_cast<uint8_t>(a.acked);
			auto status = static_cast<uint8_t>(a.status);
			if (!known_type(acked) || !from_manager(a.acked))
				return bad(WireError::BadValue, "an ack of type " + std::to_string(acked));
			if (!known_ack_status(status))
				return bad(WireError::BadValue, "unknown ack status " + std::to_string(status));
			wire::put_u8(out, acked);
			wire::put_u8(out, status);
			wire::put_u16(out, 0);
			break;
		}
		}
		if (out.size() > kShortcutMaxSize)
			return bad(WireError::BadLength, "longer than " + std::to_string(kShortcutMaxSize) + " octets");
		out[2] = static_cast<uint8_t>(out.size() >> 8);
		out[3] = static_cast<uint8_t>(out.size());
		return out;
	});
}

} // namespace groupsec::gdoi::shortcut
