// SPDX-License-Identifier: GPL-2.0-or-later
// The engine's text helpers: addresses, identities as text, hex.
// Identity::parse() is with the configuration parsers (gdoi_config.cc).
#include "engine_util.h"

#include <memory>

#include <arpa/inet.h>
#include <openssl/x509.h>

#include "gdoi_engine.h"

namespace groupsec::gdoi {

// --- Address ---

std::optional<Address> Address::parse(const std::string &ip, uint16_t port)
{
	Address a;
	a.port = port;
	uint8_t buf[16];
	if (inet_pton(AF_INET, ip.c_str(), buf) == 1)
		a.ip.assign(buf, buf + 4);
	else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1)
		a.ip.assign(buf, buf + 16);
	else
		return std::nullopt;
	return a;
}

std::string Address::ip_string() const
{
	char buf[INET6_ADDRSTRLEN] = "";
	if (ip.size() == 4)
		inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
	else if (ip.size() == 16)
		inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
	else
		return "?";
	return buf;
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

// --- Identity ---

namespace detail {

std::string hex_text(ByteView b)
{
	static const char d[] = "0123456789abcdef";
	std::string s;
	for (uint8_t v : b) {
		s += d[v >> 4];
		s += d[v & 15];
	}
	return s;
}

} // namespace detail

namespace {

using detail::hex_text;

struct X509NameFree {
	void operator()(X509_NAME *n) const { X509_NAME_free(n); }
};

std::string dn_to_string(ByteView der)
{
	const unsigned char *p = der.data();
	std::unique_ptr<X509_NAME, X509NameFree> name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
	if (!name)
		return "asn1dn:#" + hex_text(der);
	std::string out;
	for (int i = 0; i < X509_NAME_entry_count(name.get()); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name.get(), i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const char *sn = nid == NID_undef ? "?" : OBJ_nid2sn(nid);
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		if (!out.empty())
			out += ", ";
		out += sn;
		out += "=";
		out.append(reinterpret_cast<const char *>(ASN1_STRING_get0_data(v)),
			   static_cast<size_t>(ASN1_STRING_length(v)));
	}
	return out;
}

} // namespace

std::string Identity::str() const
{
	switch (static_cast<IdType>(type)) {
	case IdType::Ipv4Addr:
	case IdType::Ipv6Addr: {
		Address a;
		a.ip = data;
		return a.ip_string();
	}
	case IdType::Fqdn: {
		std::string s(data.begin(), data.end());
		bool looks_like_other = s.find('.') == std::string::npos || s.find('=') != std::string::npos ||
					s.find('@') != std::string::npos || Address::parse(s, 0).has_value();
		return looks_like_other ? "@" + s : s;
	}
	case IdType::Rfc822Addr:
		return std::string(data.begin(), data.end());
	case IdType::KeyId:
		return "@#" + hex_text(data);
	case IdType::DerAsn1Dn:
		return dn_to_string(data);
	default:
		return "#" + std::to_string(type) + ":" + hex_text(data);
	}
}

bool operator==(const Identity &a, const Identity &b)
{
	return a.type == b.type && a.data == b.data;
}

bool operator<(const Identity &a, const Identity &b)
{
	return a.type != b.type ? a.type < b.type : a.data < b.data;
}

} // namespace groupsec::gdoi
