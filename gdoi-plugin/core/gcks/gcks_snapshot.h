// SPDX-License-Identifier: GPL-2.0-or-later
// A key server group's state as octets, for a standby key server that
// continues the group with the same keys (docs/election.md, "State
// replication"): the Rekey SA, the TEKs, the message ID counters, the
// Sender-ID counter, the evicted identities, the member table and the key
// tree. Times travel as ages and remaining lifetimes, so that the two
// servers' clocks need not agree. Pure codec: no engine state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "../gdoi_engine.h"
#include "../group_keys.h"
#include "groupsec/keytree/key_tree.h"

namespace groupsec::gdoi::detail {

// "GSKS" and the format version: a snapshot of another version is refused.
constexpr uint32_t kSnapshotMagic = 0x47534b53;
constexpr uint8_t kSnapshotVersion = 1;
// Remaining lifetime of something that never expires.
constexpr uint64_t kSnapshotForever = UINT64_MAX;

struct SnapshotKek {
	Bytes spi; // 16 octets
	RekeySuite suite;
	SecretBytes keymat;
	uint32_t lifetime_s = 0;
	uint64_t age_ms = 0;
	uint64_t remain_ms = 0; // kSnapshotForever: never expires
	uint64_t next_message_id = 0; // up to 2^32
};

struct SnapshotTek {
	uint32_t spi = 0;
	uint16_t policy = 0;
	SecretBytes keymat;
	uint64_t age_ms = 0;
	uint64_t remain_ms = 0;
	bool current = true;
	uint64_t remove_in_ms = 0; // retiring: dropped this much later; 0 if not
};

struct SnapshotMember {
	Identity id;
	Address address, local;
	uint32_t leaf = 0;
	uint64_t age_ms = 0; // since it registered
	std::vector<uint32_t> sender_ids;
	std::vector<Identity> peers;
};

struct GcksSnapshot {
	Identity group_id;
	uint8_t hierarchy = 0; // KeyHierarchy
	uint8_t transport = 0; // RekeyTransport
	SnapshotKek kek;
	uint32_t last_message_id = 0;
	std::vector<SnapshotTek> teks;
	uint64_t next_sender_id = 0;
	uint8_t tree_known_depth = 0;
	std::vector<Identity> evicted;
	std::vector<SnapshotMember> members;
	keytree::KeyTreeServer::State tree;
};

Result<Bytes> encode_snapshot(const GcksSnapshot &s);
// Every malformed input is an error; nothing is read outside in.
Result<GcksSnapshot> decode_snapshot(ByteView in);

} // namespace groupsec::gdoi::detail
