// SPDX-License-Identifier: GPL-2.0-or-later
// The routing keys the gdoi plugin hands to the bgpd module over the
// control socket (`routing-keys`, docs/bgp-gsa.md "Keys and epochs"):
//
//   epoch = SPI of the group's current TEK (the lowest SPI when the group
//           has several TEK policies, so both roles pick the same one)
//   key   = HKDF-SHA-256(salt = none, IKM = that TEK's KEYMAT,
//                        info = "groupsec bgp-gsa routing key v1" | 0x00 |
//                               epoch (4, big-endian) | IDg type (1) |
//                               IDg data)
//
// KEYMAT is what the key server drew and sent in the TEK's key bag (the
// ESP encryption key with its salt, then the integrity key): the key server
// and every member hold the same octets, and a member evicted never gets
// the KEYMAT of the TEK that replaces it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gdoi_engine.h"

namespace groupsec::gdoi {

constexpr const char *kRoutingKeyLabel = "groupsec bgp-gsa routing key v1";

// The routing key of the TEK with this KEYMAT and SPI in group group_id.
SecretBytes derive_routing_key(ByteView tek_keymat, uint32_t epoch, const Identity &group_id);

// The epoch among the SPIs of a group's current TEKs: the lowest;
// nullopt if there is none.
std::optional<uint32_t> routing_epoch(const std::vector<uint32_t> &current_spis);

} // namespace groupsec::gdoi
