// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_community.h"

#include "groupsec/base/hex.h"
#include "groupsec/base/text.h"
#include "groupsec/ident/identity.h"

namespace groupsec::bgp {

bool operator==(const GroupTag &a, const GroupTag &b)
{
	return a.asn == b.asn && a.group == b.group;
}

std::array<uint8_t, kGroupTagBytes> encode_group_tag(const GroupTag &t)
{
	return {kGroupTagType,
		kGroupTagSubtype,
		static_cast<uint8_t>(t.asn >> 8),
		static_cast<uint8_t>(t.asn),
		static_cast<uint8_t>(t.group >> 24),
		static_cast<uint8_t>(t.group >> 16),
		static_cast<uint8_t>(t.group >> 8),
		static_cast<uint8_t>(t.group)};
}

Result<GroupTag> decode_group_tag(ByteView c)
{
	if (c.size() != kGroupTagBytes)
		return make_error(WireError::BadLength, "group tag: an extended community has 8 octets, not " +
								std::to_string(c.size()));
	if (c[0] != kGroupTagType || c[1] != kGroupTagSubtype)
		return make_error(WireError::BadValue, "group tag: type/sub-type 0x" + to_hex(c.sub(0, 2)) +
							       " is not a two-octet-AS Route Target (0x0002)");
	GroupTag t;
	t.asn = static_cast<uint16_t>(c[2] << 8 | c[3]);
	t.group = static_cast<uint32_t>(c[4]) << 24 | static_cast<uint32_t>(c[5]) << 16 |
		  static_cast<uint32_t>(c[6]) << 8 | c[7];
	return t;
}

std::string group_tag_text(const GroupTag &t)
{
	return "RT:" + std::to_string(t.asn) + ":" + std::to_string(t.group);
}

Result<GroupTag> parse_group_tag(std::string_view text)
{
	std::string_view s = text;
	if (s.size() >= 3 && text::equal_nocase(s.substr(0, 3), "RT:"))
		s.remove_prefix(3);
	size_t colon = s.find(':');
	auto bad = [&](const std::string &why) {
		return make_error(WireError::BadValue, "group tag " + text::quote(text) + ": " + why);
	};
	if (colon == std::string_view::npos)
		return bad("expected AS:GROUP, e.g. 65000:300");
	auto asn = text::decimal(s.substr(0, colon), 0xffff);
	if (!asn)
		return bad("the AS is not a number from 0 to 65535");
	auto group = text::decimal(s.substr(colon + 1), 0xffffffffu);
	if (!group)
		return bad("the group ID is not a number from 0 to 4294967295");
	return GroupTag{static_cast<uint16_t>(*asn), static_cast<uint32_t>(*group)};
}

Result<uint32_t> parse_group_number(std::string_view text)
{
	auto id = ident::parse_group_id(text);
	if (!id.ok())
		return id.error();
	const ident::Identity &i = id.value();
	if (i.type != static_cast<uint8_t>(ident::IdType::KeyId) || i.data.size() != 4)
		return make_error(WireError::Unsupported, "group ID " + text::quote(text) +
								  " is not a number (a KEY_ID of 4 octets): a group tag "
								  "carries only those");
	return static_cast<uint32_t>(i.data[0]) << 24 | static_cast<uint32_t>(i.data[1]) << 16 |
	       static_cast<uint32_t>(i.data[2]) << 8 | i.data[3];
}

} // namespace groupsec::bgp
