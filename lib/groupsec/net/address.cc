// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/net/address.h"

#include <arpa/inet.h>

#include <algorithm>

#include "groupsec/base/text.h"

namespace groupsec::net {

using text::decimal;
using text::has_control;
using text::trim;

std::optional<Bytes> parse_ip(std::string_view s)
{
	if (s.empty() || s.size() >= 64 || has_control(s) || s.find('\0') != std::string_view::npos)
		return std::nullopt;
	std::string z(s);
	Bytes out(16);
	if (inet_pton(AF_INET, z.c_str(), out.data()) == 1) {
		out.resize(4);
		return out;
	}
	if (inet_pton(AF_INET6, z.c_str(), out.data()) == 1)
		return out;
	return std::nullopt;
}

std::string ip_text(ByteView ip)
{
	char buf[INET6_ADDRSTRLEN];
	if (ip.size() == 4 && inet_ntop(AF_INET, ip.data(), buf, sizeof(buf)))
		return buf;
	if (ip.size() == 16 && inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf)))
		return buf;
	return "";
}

bool is_multicast(ByteView ip)
{
	if (ip.size() == 4)
		return (ip[0] & 0xf0) == 0xe0;
	return ip.size() == 16 && ip[0] == 0xff;
}

bool is_unspecified(ByteView ip)
{
	return std::all_of(ip.begin(), ip.end(), [](uint8_t b) { return b == 0; });
}

const char *family_name(ByteView ip)
{
	return ip.size() == 4 ? "IPv4" : "IPv6";
}

bool operator==(const TrafficSelector &a, const TrafficSelector &b)
{
	return a.ts_type == b.ts_type && a.ip_protocol == b.ip_protocol && a.start_port == b.start_port &&
	       a.end_port == b.end_port && a.start_address == b.start_address && a.end_address == b.end_address;
}

TrafficSelector range_selector(Bytes start, Bytes end)
{
	TrafficSelector ts;
	ts.ts_type = static_cast<uint8_t>(start.size() == 4 ? TsType::Ipv4AddrRange : TsType::Ipv6AddrRange);
	ts.start_address = std::move(start);
	ts.end_address = std::move(end);
	return ts;
}

std::optional<size_t> prefix_length(ByteView start, ByteView end)
{
	if (start.size() != end.size())
		return std::nullopt;
	auto bit = [](ByteView b, size_t i) { return (b[i / 8] & (0x80 >> (i % 8))) != 0; };
	size_t bits = start.size() * 8;
	size_t len = 0;
	while (len < bits && bit(start, len) == bit(end, len))
		len++;
	for (size_t i = len; i < bits; i++) {
		if (bit(start, i) || !bit(end, i))
			return std::nullopt;
	}
	return len;
}

std::variant<TrafficSelector, PrefixError> parse_range(std::string_view s, PrefixForm form)
{
	const bool lenient = form == PrefixForm::Lenient;
	auto part = [&](std::string_view p) { return lenient ? trim(p) : p; };
	auto error = [](PrefixProblem p, std::string_view what) { return PrefixError{p, std::string(what), 0, ""}; };

	size_t dash = s.find('-');
	size_t slash = s.find('/');
	if (dash != std::string_view::npos && slash == std::string_view::npos) {
		std::string_view from = part(s.substr(0, dash)), to = part(s.substr(dash + 1));
		auto first = parse_ip(from);
		auto last = parse_ip(to);
		if (!first || !last)
			return error(PrefixProblem::NotAnAddress, first ? to : from);
		if (first->size() != last->size())
			return error(PrefixProblem::MixedFamilies, s);
		if (*first > *last)
			return error(PrefixProblem::Backwards, s);
		return range_selector(std::move(*first), std::move(*last));
	}
	if (slash == std::string_view::npos && !lenient)
		return error(PrefixProblem::NoLength, s);
	std::string_view addr = part(s.substr(0, slash));
	auto ip = parse_ip(addr);
	if (!ip)
		return error(PrefixProblem::NotAnAddress, addr);
	size_t max = ip->size() * 8;
	size_t length = max;
	if (slash != std::string_view::npos) {
		std::string_view len = part(s.substr(slash + 1));
		auto n = decimal(len, 255);
		if (!n || (!lenient && len.size() > 3)) {
			PrefixError e = error(PrefixProblem::BadLength, len);
			e.max_length = max;
			return e;
		}
		if (*n > max) {
			PrefixError e = error(PrefixProblem::LengthTooLarge, len);
			e.max_length = max;
			return e;
		}
		length = static_cast<size_t>(*n);
	}
	Bytes first = *ip, last = *ip;
	bool host_bits = false;
	for (size_t i = length; i < max; i++) {
		uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
		host_bits |= (first[i / 8] & mask) != 0;
		first[i / 8] &= static_cast<uint8_t>(~mask);
		last[i / 8] |= mask;
	}
	if (host_bits && !lenient) {
		PrefixError e = error(PrefixProblem::HostBits, s);
		e.network = ip_text(first) + "/" + std::to_string(length);
		return e;
	}
	return range_selector(std::move(first), std::move(last));
}

std::string range_text(const TrafficSelector &ts)
{
	const Bytes &a = ts.start_address, &b = ts.end_address;
	if ((a.size() != 4 && a.size() != 16) || a.size() != b.size())
		return "?";
	if (auto len = prefix_length(a, b))
		return ip_text(a) + "/" + std::to_string(*len);
	return ip_text(a) + "-" + ip_text(b);
}

namespace {

struct ProtocolName {
	const char *name;
	uint8_t number;
};

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpv6 = 58;

const ProtocolName kProtocols[] = {
	{"icmp", kIcmp}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50}, {"ah", 51},
	{"ipv6-icmp", kIcmpv6}, {"icmpv6", kIcmpv6}, {"sctp", 132},
};

Error bad(std::string why)
{
	return make_error(WireError::BadValue, std::move(why));
}

// The protocol of a "[proto/port]" suffix: a name, a number, "any" or empty.
Result<uint8_t> parse_protocol(std::string_view proto_text)
{
	if (proto_text.empty() || proto_text == "any")
		return uint8_t{0};
	for (const auto &p : kProtocols) {
		if (proto_text == p.name)
			return p.number;
	}
	auto n = decimal(proto_text, 255);
	if (!n)
		return bad("unknown protocol " + text::quote(proto_text));
	return static_cast<uint8_t>(*n);
}

struct PortRange {
	uint16_t from = 0, to = 0xffff;
};

// The port of a "[proto/port]" suffix: a port, a range, "opaque", "any" or empty.
Result<PortRange> parse_ports(std::string_view port_text)
{
	using text::quote;
	PortRange ports;
	if (port_text == "opaque") {
		ports.from = 0xffff;
		ports.to = 0;
	} else if (!port_text.empty() && port_text != "any") {
		size_t dash = port_text.find('-');
		auto lo = decimal(trim(port_text.substr(0, dash)), 0xffff);
		auto hi = dash == std::string_view::npos ? lo : decimal(trim(port_text.substr(dash + 1)), 0xffff);
		if (!lo || !hi)
			return bad("port " + quote(port_text) + " is not a number or range from 0 to 65535");
		if (*lo > *hi)
			return bad("port range " + quote(port_text) + " ends below its start");
		ports.from = static_cast<uint16_t>(*lo);
		ports.to = static_cast<uint16_t>(*hi);
	}
	return ports;
}

struct ProtoPorts {
	uint8_t proto = 0;
	PortRange ports;
};

// The "proto/port" text between the brackets.
Result<ProtoPorts> parse_proto_ports(std::string_view pp)
{
	std::string_view proto_text = pp, port_text;
	size_t slash = pp.find('/');
	if (slash != std::string_view::npos) {
		proto_text = pp.substr(0, slash);
		port_text = pp.substr(slash + 1);
	}
	auto proto = parse_protocol(trim(proto_text));
	if (!proto)
		return proto.error();
	auto ports = parse_ports(trim(port_text));
	if (!ports)
		return ports.error();
	ProtoPorts out{proto.value(), ports.value()};
	if (out.proto == kIcmp || out.proto == kIcmpv6) {
		// as strongSwan: a number below 256 is an ICMP type (code 0)
		if (out.ports.from < 256)
			out.ports.from = static_cast<uint16_t>(out.ports.from << 8);
		if (out.ports.to < 256)
			out.ports.to = static_cast<uint16_t>(out.ports.to << 8);
	}
	return out;
}

// The message for an address part parse_range() refused.
Error range_error(std::string_view addr, const PrefixError &e)
{
	switch (e.problem) {
	case PrefixProblem::NotAnAddress:
		return bad(addr.find('-') != std::string_view::npos && addr.find('/') == std::string_view::npos
				   ? "range bounds must be IP addresses"
				   : "not an IP address or subnet");
	case PrefixProblem::MixedFamilies:
		return bad("range bounds of different address families");
	case PrefixProblem::Backwards:
		return bad("range ends below its start");
	case PrefixProblem::BadLength:
		return bad("prefix length is not a number");
	case PrefixProblem::LengthTooLarge:
		return bad("prefix length above " + std::to_string(e.max_length));
	case PrefixProblem::NoLength:
	case PrefixProblem::HostBits:
		break; // not in the lenient form
	}
	return bad("not an IP address or subnet");
}

} // namespace

Result<TrafficSelector> parse_traffic_selector(std::string_view text)
{
	std::string_view s = trim(text);
	if (s.empty())
		return bad("empty");
	if (has_control(s))
		return bad("control character");

	ProtoPorts pp;
	std::string_view addr = s;
	size_t bracket = s.find('[');
	if (bracket != std::string_view::npos) {
		if (s.back() != ']')
			return bad("\"[\" without a closing \"]\" at the end");
		auto parsed = parse_proto_ports(s.substr(bracket + 1, s.size() - bracket - 2));
		if (!parsed)
			return parsed.error();
		pp = parsed.value();
		addr = trim(s.substr(0, bracket));
	}
	if (addr == "dynamic")
		return bad("\"dynamic\" has no meaning in a group policy");

	auto r = parse_range(addr, PrefixForm::Lenient);
	if (auto *e = std::get_if<PrefixError>(&r))
		return range_error(addr, *e);
	TrafficSelector ts = std::get<TrafficSelector>(std::move(r));
	ts.ip_protocol = pp.proto;
	ts.start_port = pp.ports.from;
	ts.end_port = pp.ports.to;
	return ts;
}

} // namespace groupsec::net
