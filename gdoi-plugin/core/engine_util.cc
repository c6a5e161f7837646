// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's Address: parsed and printed with lib's net helpers.
#include <string>

#include "gdoi_engine.h"
#include "groupsec/net/address.h"

namespace groupsec::gdoi {

std::optional<Address> Address::parse(const std::string &ip, uint16_t port)
{
	auto octets = net::parse_ip(ip);
	if (!octets)
		return std::nullopt;
	Address a;
	a.ip = std::move(*octets);
	a.port = port;
	return a;
}

std::string Address::ip_string() const
{
	if (ip.size() != 4 && ip.size() != 16)
		return "?";
	return net::ip_text(ip);
}

const char *sa_mode_name(SaMode m)
{
	switch (m) {
	case SaMode::Tunnel:
		return "tunnel";
	case SaMode::Gateway:
		return "gateway";
	case SaMode::Transport:
		return "transport";
	}
	return "?";
}

std::string Address::str() const
{
	return ip_string() + "[" + std::to_string(port) + "]";
}

bool operator==(const Address &a, const Address &b)
{
	return a.ip == b.ip && a.port == b.port;
}

bool operator<(const Address &a, const Address &b)
{
	return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
}

} // namespace groupsec::gdoi
