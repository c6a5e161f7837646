// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the text notations of lib/groupsec: hex, addresses,
// prefixes and ranges, traffic selectors, identities and group IDs, and the
// DER DN decoder (the input taken as DER too). The first byte picks the
// parser, the rest is its input. Whatever the input, nothing crashes; what
// one parser accepts, its printer writes in a form the parser reads back to
// the same value (hex, addresses, strict prefixes and ranges, IP and key ID
// identities).
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "groupsec/base/hex.h"
#include "groupsec/ident/dn.h"
#include "groupsec/ident/identity.h"
#include "groupsec/net/address.h"

using namespace groupsec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const uint8_t which = data[0];
	const std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
	switch (which % 6) {
	case 0: {
		auto b = parse_hex(text);
		if (b && parse_hex(to_hex(*b)) != b)
			abort();
		break;
	}
	case 1: {
		auto ip = net::parse_ip(text);
		if (ip && net::parse_ip(net::ip_text(*ip)) != ip)
			abort();
		break;
	}
	case 2: {
		auto form = which & 0x80 ? net::PrefixForm::Lenient : net::PrefixForm::Strict;
		auto r = net::parse_range(text, form);
		if (auto *ts = std::get_if<net::TrafficSelector>(&r)) {
			auto again = net::parse_range(net::range_text(*ts), net::PrefixForm::Strict);
			auto *back = std::get_if<net::TrafficSelector>(&again);
			if (!back || !(*back == *ts))
				abort();
		}
		break;
	}
	case 3: {
		auto ts = net::parse_traffic_selector(text);
		if (!ts.ok() && ts.error().message.empty())
			abort();
		break;
	}
	case 4: {
		auto id = which & 0x80 ? ident::parse_group_id(text) : ident::parse_identity(text);
		if (!id.ok()) {
			if (id.error().message.empty())
				abort();
			break;
		}
		std::string printed = ident::identity_text(id.value());
		auto t = static_cast<ident::IdType>(id.value().type);
		if (t == ident::IdType::Ipv4Addr || t == ident::IdType::Ipv6Addr || t == ident::IdType::KeyId) {
			auto back = ident::parse_identity(printed);
			if (!back.ok() || !(back.value() == id.value()))
				abort();
		}
		break;
	}
	case 5: {
		ident::dn_text(ByteView(data + 1, size - 1));
		// what encode_dn() makes of ASCII, the decoder reads
		bool ascii = true;
		for (unsigned char c : text)
			ascii = ascii && c >= 0x20 && c < 0x7f;
		auto dn = ident::encode_dn(text);
		if (ascii && dn.ok() && !ident::dn_text(dn.value()))
			abort();
		break;
	}
	}
	return 0;
}
