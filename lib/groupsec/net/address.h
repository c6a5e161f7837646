// SPDX-License-Identifier: GPL-2.0-or-later
// IP addresses, prefixes and traffic selectors as text: the one parser and
// formatter of each, shared by configuration, control socket and logs.
// Addresses are their network-order octets: 4 (IPv4) or 16 (IPv6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::net {

// The octets of an IPv4 ("192.0.2.1") or IPv6 ("2001:db8::1") literal;
// nullopt for anything else (names, zone IDs, a prefix, control octets).
std::optional<Bytes> parse_ip(std::string_view s);
// "192.0.2.1" from 4 octets, "2001:db8::1" from 16, "" for any other size.
std::string ip_text(ByteView ip);

bool is_multicast(ByteView ip);
// All zero (0.0.0.0, ::).
bool is_unspecified(ByteView ip);
// "IPv4" or "IPv6" by the size.
const char *family_name(ByteView ip);

// RFC 7296 3.13.1 traffic selector types.
enum class TsType : uint8_t { Ipv4AddrRange = 7, Ipv6AddrRange = 8 };

// An address range of one family, an IP protocol (0: any) and a port
// range; for ICMP the "port" is type << 8 | code, as IKEv2 carries it.
struct TrafficSelector {
	uint8_t ts_type = static_cast<uint8_t>(TsType::Ipv4AddrRange);
	uint8_t ip_protocol = 0; // 0: any
	uint16_t start_port = 0;
	uint16_t end_port = 0xffff;
	Bytes start_address; // 4 or 16 octets per ts_type
	Bytes end_address;
};
bool operator==(const TrafficSelector &a, const TrafficSelector &b);

// The selector of [start, end] (one family), any protocol, any port.
TrafficSelector range_selector(Bytes start, Bytes end);

// The prefix length of [start, end] if the range is one prefix.
std::optional<size_t> prefix_length(ByteView start, ByteView end);

// How a range or prefix is written.
enum class PrefixForm {
	// "10.1.0.0/16" with no host bits set, or a range "10.1.0.1-10.1.0.9";
	// a bare address is refused (control socket endpoints).
	Strict,
	// as Strict, but host bits are cleared and a bare address is a host
	// prefix (swanctl traffic selectors).
	Lenient,
};

// Why a range or prefix was refused; message() says it in words.
enum class PrefixProblem {
	NotAnAddress,     // the address part (of a prefix or a bound) is none
	MixedFamilies,    // range bounds of different families
	Backwards,        // range ends below its start
	NoLength,         // Strict: no "/length"
	BadLength,        // the length is no number
	LengthTooLarge,   // the length is above 32 or 128
	HostBits,         // Strict: bits set below the prefix length
};

struct PrefixError {
	PrefixProblem problem;
	std::string part; // the offending text (address, bound or length)
	size_t max_length = 0; // BadLength, LengthTooLarge: 32 or 128
	std::string network; // HostBits: "10.1.0.0/16"
};

// A prefix or range (no protocol or ports) to the selector covering every
// protocol and port; the error says which part is wrong.
std::variant<TrafficSelector, PrefixError> parse_range(std::string_view s, PrefixForm form);

// "10.1.0.0/16" when the selector's range is a prefix, else
// "10.1.0.1-10.1.0.9"; "?" for a selector without usable addresses.
// Protocol and ports are not shown.
std::string range_text(const TrafficSelector &ts);

// A traffic selector as swanctl.conf writes one: a prefix, address or
// range as PrefixForm::Lenient reads it, optionally followed by
// "[proto/port]": proto is "any", a name (tcp, udp, icmp, ipv6-icmp,
// icmpv6, sctp, gre, esp, ah) or a number; port is "any", "opaque", a
// number or a range "1024-65535" (for ICMP and ICMPv6 a number below 256
// is the message type). The error message is the reason only.
Result<TrafficSelector> parse_traffic_selector(std::string_view s);

} // namespace groupsec::net
