// SPDX-License-Identifier: GPL-2.0-or-later
// The group tag of sealed routes: a transitive two-octet-AS Route Target
// extended community (RFC 4360 3.1, sub-type 0x02), global administrator
// the VPN's AS, local administrator the 32-bit group ID, so that a peer
// that filters on Route Targets (RFC 4684) can filter on the group.
// docs/bgp-gsa.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::bgp {

constexpr uint8_t kGroupTagType = 0x00;    // transitive two-octet AS-specific
constexpr uint8_t kGroupTagSubtype = 0x02; // Route Target
constexpr size_t kGroupTagBytes = 8;

struct GroupTag {
	uint16_t asn = 0;
	uint32_t group = 0;
};
bool operator==(const GroupTag &a, const GroupTag &b);

// 0x00 0x02 | asn | group, big-endian.
std::array<uint8_t, kGroupTagBytes> encode_group_tag(const GroupTag &t);
// The tag of an 8-octet extended community; BadLength for another size,
// BadValue for any type or sub-type but 0x00 0x02.
Result<GroupTag> decode_group_tag(ByteView community);
// "RT:65000:300", as FRR prints a Route Target.
std::string group_tag_text(const GroupTag &t);
// "65000:300" or "RT:65000:300": decimal AS (0..65535) and group ID
// (0..4294967295), nothing else.
Result<GroupTag> parse_group_tag(std::string_view text);

// The number of a group ID as the gdoi plugin shows or takes one ("300",
// "@#0000012c", "keyid:#0000012c": a KEY_ID of 4 octets); an error for a
// group ID of any other kind, which a tag cannot carry.
Result<uint32_t> parse_group_number(std::string_view text);

} // namespace groupsec::bgp
