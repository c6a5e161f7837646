// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/ident/identity.h"

#include <algorithm>
#include <cstring>

#include "groupsec/base/hex.h"
#include "groupsec/base/text.h"
#include "groupsec/ident/dn.h"
#include "groupsec/net/address.h"

namespace groupsec::ident {

namespace {

using text::quote;
using text::trim;

Error bad(std::string message)
{
	return make_error(WireError::BadValue, std::move(message));
}

Bytes to_bytes(std::string_view s)
{
	return Bytes(s.begin(), s.end());
}

bool printable(const Bytes &b)
{
	return !b.empty() && std::all_of(b.begin(), b.end(), [](uint8_t c) { return c >= 0x20 && c <= 0x7e; });
}

} // namespace

std::optional<Identity> Identity::parse(const std::string &s)
{
	auto id = parse_identity(s);
	if (!id)
		return std::nullopt;
	return std::move(id).value();
}

std::string Identity::str() const
{
	return identity_text(*this);
}

bool operator==(const Identity &a, const Identity &b)
{
	return a.type == b.type && a.data == b.data;
}

bool operator!=(const Identity &a, const Identity &b)
{
	return !(a == b);
}

bool operator<(const Identity &a, const Identity &b)
{
	return a.type != b.type ? a.type < b.type : a.data < b.data;
}

Identity make_identity(IdType type, Bytes data)
{
	Identity id;
	id.type = static_cast<uint8_t>(type);
	id.data = std::move(data);
	return id;
}

Result<Identity> parse_identity(std::string_view text)
{
	std::string_view s = trim(text);
	if (s.empty())
		return bad("empty");
	if (text::has_control(s))
		return bad("control character");

	struct Prefix {
		const char *name;
		IdType type;
	};
	static const Prefix prefixes[] = {
		{"ipv4:", IdType::Ipv4Addr}, {"ipv6:", IdType::Ipv6Addr}, {"fqdn:", IdType::Fqdn},
		{"rfc822:", IdType::Rfc822Addr}, {"email:", IdType::Rfc822Addr}, {"userfqdn:", IdType::Rfc822Addr},
		{"keyid:", IdType::KeyId},
	};
	for (const auto &p : prefixes) {
		size_t n = strlen(p.name);
		if (s.size() < n || !text::equal_nocase(s.substr(0, n), p.name))
			continue;
		std::string_view rest = s.substr(n);
		if (rest.empty())
			return bad("empty");
		if (p.type == IdType::Ipv4Addr || p.type == IdType::Ipv6Addr) {
			auto ip = net::parse_ip(rest);
			if (!ip || (ip->size() == 4) != (p.type == IdType::Ipv4Addr))
				return bad(std::string("not an ") + (p.type == IdType::Ipv4Addr ? "IPv4" : "IPv6") +
					   " address");
			return make_identity(p.type, *ip);
		}
		if (p.type == IdType::KeyId && rest.front() == '#') {
			auto hex = parse_hex(rest.substr(1));
			if (!hex)
				return bad("key ID \"#\" needs an even number of hex digits");
			return make_identity(IdType::KeyId, *hex);
		}
		return make_identity(p.type, to_bytes(rest));
	}

	if (s.front() == '@') {
		std::string_view rest = s.substr(1);
		if (!rest.empty() && rest.front() == '#') {
			auto hex = parse_hex(rest.substr(1));
			if (!hex)
				return bad("key ID \"@#\" needs an even number of hex digits");
			return make_identity(IdType::KeyId, *hex);
		}
		if (!rest.empty() && rest.front() == '@') {
			if (rest.size() == 1)
				return bad("empty");
			return make_identity(IdType::Rfc822Addr, to_bytes(rest.substr(1)));
		}
		if (rest.empty())
			return bad("empty");
		return make_identity(IdType::Fqdn, to_bytes(rest));
	}
	if (s.find('=') != std::string_view::npos) {
		auto dn = encode_dn(s);
		if (!dn.ok())
			return bad("distinguished name: " + dn.error().message);
		return make_identity(IdType::DerAsn1Dn, dn.value());
	}
	if (s.find('@') != std::string_view::npos)
		return make_identity(IdType::Rfc822Addr, to_bytes(s));
	if (auto ip = net::parse_ip(s))
		return make_identity(ip->size() == 4 ? IdType::Ipv4Addr : IdType::Ipv6Addr, *ip);
	return make_identity(IdType::Fqdn, to_bytes(s));
}

std::string identity_text(const Identity &id)
{
	switch (static_cast<IdType>(id.type)) {
	case IdType::Ipv4Addr:
	case IdType::Ipv6Addr:
		if (id.data.size() == (id.type == static_cast<uint8_t>(IdType::Ipv4Addr) ? 4u : 16u))
			return net::ip_text(id.data);
		break;
	case IdType::Fqdn: {
		if (!printable(id.data))
			return "fqdn:#" + to_hex(id.data);
		// "@" where the bare name would read as another type
		std::string s(id.data.begin(), id.data.end());
		bool ambiguous = s.find('.') == std::string::npos || s.find('=') != std::string::npos ||
				 s.find('@') != std::string::npos || net::parse_ip(s).has_value();
		return ambiguous ? "@" + s : s;
	}
	case IdType::Rfc822Addr:
		if (printable(id.data))
			return std::string(id.data.begin(), id.data.end());
		return "email:#" + to_hex(id.data);
	case IdType::KeyId:
		return "@#" + to_hex(id.data);
	case IdType::DerAsn1Dn:
		if (auto dn = dn_text(id.data))
			return *dn;
		return "asn1dn:#" + to_hex(id.data);
	case IdType::DerAsn1Gn:
		break;
	}
	return "#" + std::to_string(id.type) + ":" + to_hex(id.data);
}

Result<Identity> parse_group_id(std::string_view text)
{
	std::string_view s = trim(text);
	if (!s.empty() && std::all_of(s.begin(), s.end(), text::is_digit)) {
		auto n = text::decimal(s, 0xffffffffu);
		if (!n)
			return bad(quote(text) + " is not a group ID (numbers go up to 4294967295)");
		uint32_t v = static_cast<uint32_t>(*n);
		return make_identity(IdType::KeyId, Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
							 static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)});
	}
	auto id = parse_identity(text);
	if (!id.ok())
		return bad(quote(text) + " is not a group ID (" + id.error().message + ")");
	return id;
}

} // namespace groupsec::ident
