// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table, distributed variant (seed 002, FIG. 1a): every
// participant holds the TEK and the W KEKs of its ID, may admit newcomers
// (join by revision), may exclude members with the excluder table, and acts
// as key holder for keys it created: it heartbeats the key's ID, version,
// revision and owner. Concurrently created versions of a key are merged by
// XOR and carry the set of their creators; a key holder whose heartbeat
// stops is replaced by the participant with the highest priority that holds
// the key.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/key_message.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/flatkey/member_id.h"

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace groupsec::flatkey {

enum class ConcurrentVersionPolicy {
	// Concurrent versions merge: XOR of the keys, set of creators.
	Merge,
	// Key by key, the creator with the lowest priority value wins
	// (seed 002, paragraphs 0077-0078).
	LowestCreatorWins,
};

struct HolderConfig {
	HolderConfig(IdLayout l, MemberId i, uint32_t p)
		: layout(std::move(l)), id(std::move(i)), priority(p)
	{
	}
	IdLayout layout;     // primary table only
	MemberId id;
	uint32_t priority;   // e.g. the participant's address; unique
	uint64_t heartbeat_interval_ms = 10000;
	uint64_t takeover_after_ms = 35000;
	uint64_t grace_ms = 120000;
	ConcurrentVersionPolicy policy = ConcurrentVersionPolicy::Merge;
};

// Tag naming a set of creators in a KeyRef: the creator itself for one,
// a hash with the top bit set for several.
uint32_t creator_tag(const std::set<uint32_t> &creators);

struct HeartbeatEntry {
	KeyId id;
	uint32_t version = 0;
	uint32_t revision = 0;
	std::set<uint32_t> creators;
	uint32_t owner = 0;
};

struct Heartbeat {
	uint32_t sender = 0;
	std::vector<HeartbeatEntry> entries;
};

// Paragraph 0085: does announcement b (sent by b_sender) supersede a (sent
// by a_sender) for the same key? (a) same version, newer revision; (b) newer
// version (every version is based on the one before it); (c) a merged key
// including a's creators; (d) the same merged key announced by a
// contributor with higher priority.
bool supersedes(const HeartbeatEntry &b, uint32_t b_sender,
		const HeartbeatEntry &a, uint32_t a_sender);

// What a sponsor hands a newcomer over the admission channel, and what it
// tells the group (only revision numbers and the newcomer's ID).
struct Grant {
	std::vector<std::pair<KeyId, KeySlot>> keys;
	std::vector<std::set<uint32_t>> creators; // per key
	std::vector<uint32_t> epochs;		  // per key
	KeyMessage notice;
	MemberId newcomer;
	uint32_t joined_epoch = 0; // TEK version at admission
};

// Seed 002 Tables 1-4: one cell per KEK of the primary table.
struct ExcluderCell {
	bool unusable = false; // a removed member knows (or can rebuild) it
	bool unknown = false;  // the excluder does not hold it
	enum class Fill { None, Tek, NewKek } fill = Fill::None;
	std::vector<uint32_t> fillers;
	std::vector<WrappedKey> entries;
};

struct ExcluderTable {
	std::vector<MemberId> leavers;
	uint32_t excluder = 0;
	KeyRef new_tek;
	std::vector<ExcluderCell> cells; // IdLayout::slot(0, s, v)
	// Every filled entry.
	KeyMessage message() const;
};

class KeyHolderNode {
public:
	KeyHolderNode(HolderConfig config, RandomSource &rng, const Clock &clock);

	uint32_t priority() const { return config_.priority; }
	const MemberId &id() const { return config_.id; }

	// First participant: creates the TEK and its own KEKs and holds them.
	void create_group();
	// Sponsor side: gives a newcomer the TEK and the KEKs both hold, each
	// advanced one revision. Everyone else applies grant.notice and
	// on_admission().
	Grant admit(const MemberId &newcomer);
	// Newcomer side.
	void accept(const Grant &g);
	// Newcomer: creates every key it needs that no sponsor gave it, one
	// version above what heartbeats showed, and becomes its holder.
	KeyMessage create_missing();
	void on_admission(const Grant &g);

	// Excludes members: a new TEK' wrapped under every KEK this node holds
	// that no removed member can know; with replace, every such KEK this
	// node holds is replaced under old KEK / TEK'.
	ExcluderTable exclude(const std::vector<MemberId> &leavers,
			      bool replace = true);
	// Completes a table as far as this node can (needs TEK' from it).
	ExcluderTable complete(const ExcluderTable &t);
	// Joins two completions of the same exclusion.
	ExcluderTable merge_tables(const ExcluderTable &a,
				   const ExcluderTable &b) const;

	// Learns whatever the message gives; merges concurrent versions.
	void apply(const KeyMessage &m);
	// Fallback of paragraph 0079: TEK' handed over by unicast.
	void install(const KeyId &id, const KeySlot &slot,
		     const std::set<uint32_t> &creators, uint32_t epoch = 0);

	// Heartbeat of the keys this node holds, if the interval has passed;
	// also claims keys whose holder fell silent.
	std::optional<Heartbeat> tick();
	void on_heartbeat(const Heartbeat &hb);
	// Hands a held key to another participant that knows it.
	std::optional<Heartbeat> transfer(const KeyId &id, uint32_t to);

	// The node's current view of a key.
	std::optional<HeartbeatEntry> view(const KeyId &id) const;
	std::optional<Key> current_key(const KeyId &id) const;
	KeyRef current_ref(const KeyId &id) const;
	bool holds(const KeyId &id) const { return owned_.count(id) != 0; }
	bool knows_key(const KeyRef &ref) const { return raw_.knows(ref); }
	// FIG. 8 header for a packet this node sends.
	PacketKeyHeader packet_header() const;
	std::optional<Key> tek_for(uint32_t version, uint32_t revision) const;
	// Everything another node knew (adversary simulation in tests).
	void absorb(const KeyHolderNode &other);

private:
	struct View {
		uint32_t version = 0;
		uint32_t revision = 0;
		std::set<uint32_t> creators;
		uint32_t owner = 0;
		uint32_t epoch = 0; // TEK version that wrapped this version
		uint64_t heard_ms = 0;
	};
	std::vector<KeyId> my_keks() const;
	bool holder_has(const MemberId &m, const KeyId &id) const;
	void refresh_merged(const KeyId &id);
	void note(const KeyRef &ref, uint32_t epoch);
	KeySlot make_key(const KeyId &id, uint32_t version);
	uint32_t earliest_join(const std::vector<MemberId> &leavers) const;
	bool tainted(const KeyId &id, uint32_t earliest) const;

	HolderConfig config_;
	RandomSource &rng_;
	const Clock &clock_;
	KeyStore raw_;
	std::map<KeyId, View> views_;
	std::set<KeyId> owned_;
	std::map<std::string, uint32_t> joined_; // member -> TEK version
	// revisions announced for merged sets not complete yet
	std::map<std::tuple<KeyId, uint32_t, uint32_t>, uint32_t> pending_;
	uint64_t last_beat_ms_ = 0;
	struct Retired {
		KeySlot tek;
		uint64_t until_ms;
	};
	std::vector<Retired> retired_;
};

} // namespace groupsec::flatkey
