// groupsec flat key table, centralized variant: the key server keeps one TEK
// and V·W KEKs (plus those of optional extra symbol tables); each member
// holds the TEK and exactly the KEKs its symbols select. Joins advance
// revisions (one-way function, only revision numbers travel); leaves
// replace the TEK and every KEK the leavers held. A batch leave covers the
// remaining members with a minimized set of product terms over the ID
// symbols (in the manner of Chang et al., INFOCOM 1999), checks whether the
// removed members together could rebuild any term (collusion) and, unless
// told to accept that, falls back to a re-key that resists them.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/key_message.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/flatkey/member_id.h"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace groupsec {
namespace flatkey {

enum class CollusionPolicy {
	// Re-key so that no coalition of removed members learns the TEK.
	kResist,
	// Keep the minimized product terms; report the exposure.
	kAcceptFlagged,
};

enum class KekRefresh {
	// Replacement KEK random, wrapped under old KEK / TEK' (seed 002).
	kWrap,
	// Replacement KEK derived from old KEK and TEK' (no wrapped key).
	kDerive,
};

struct ServerConfig {
	ServerConfig(IdLayout l) : layout(std::move(l)) {}
	IdLayout layout;
	uint64_t grace_ms = 120000;
	CollusionPolicy collusion = CollusionPolicy::kResist;
	KekRefresh refresh = KekRefresh::kWrap;
};

// What a newcomer receives over its registration channel.
struct MemberKeys {
	uint32_t handle = 0;
	MemberId id;
	KeySlot tek;
	std::vector<KeyId> kek_ids;
	std::vector<KeySlot> keks;
	KeySlot individual; // KeyId::member_key(handle), version = generation

	// A key store holding exactly these keys.
	KeyStore store() const;
};

struct JoinResult {
	bool ok = false;
	std::string error;
	std::vector<MemberKeys> members; // one per joiner
	KeyMessage announcement;	 // revision notices for everyone else
};

struct CollusionReport {
	// True if the removed members together (with members removed before,
	// see leave_batch) hold every literal of a product term of the
	// minimized cover.
	bool flagged = false;
	// Literal sets (KEKs) the removed members could rebuild together.
	std::vector<std::vector<KeyId>> exposed_terms;
	// Remaining members whose every KEK some removed member holds.
	std::vector<uint32_t> covered_members;
	// Every KEK slot of every table held by some removed member.
	bool whole_table = false;
};

struct RekeyResult {
	bool ok = false;
	std::string error;
	KeyMessage message;
	KeyRef new_tek;
	size_t product_terms = 0;  // TEK' wrapped under KEK combinations
	size_t unicast = 0;	   // TEK' wrapped under individual keys
	size_t keks_replaced = 0;
	bool resisted = false; // fallback re-key against collusion used
	CollusionReport collusion;
};

struct StorageStats {
	size_t server_key_bytes = 0; // table keys and individual keys
	size_t server_member_bytes = 0; // membership records (IDs)
	size_t member_key_bytes = 0; // keys one member holds
};

class FlatKeyServer {
public:
	FlatKeyServer(ServerConfig config, RandomSource &rng, const Clock &clock);

	JoinResult join(const MemberId &id);
	// All joiners in one revision step.
	JoinResult join_batch(const std::vector<MemberId> &ids);
	RekeyResult leave(const MemberId &id);
	// The removed members are assumed to pool their keys with everyone
	// removed before: a KEK replaced while a leaver was a member was
	// wrapped under a TEK it knew and an old value an earlier leaver
	// knew, so it counts as known to the removed members.
	RekeyResult leave_batch(const std::vector<MemberId> &ids);

	const IdLayout &layout() const { return config_.layout; }
	size_t members() const { return by_id_.size(); }
	bool is_member(const MemberId &id) const;
	KeyRef current_tek() const;
	// FIG. 8 header for a packet this server (association id) sends.
	PacketKeyHeader packet_header(uint32_t association_id) const;
	// TEK for a received packet's version and revision: the current one
	// or one retired less than grace_ms ago.
	std::optional<Key> tek_for(uint32_t version, uint32_t revision) const;
	// Drops retired keys past their grace period.
	void expire();
	StorageStats storage() const;
	// The server's view of one KEK slot (tests, diagnostics).
	KeyRef kek_ref(size_t table, size_t symbol, unsigned value) const;

private:
	struct Literal {
		uint16_t symbol;
		uint8_t value;
	};
	void cover(std::vector<uint32_t> on, std::vector<uint32_t> off,
		   std::vector<bool> &used, std::vector<Literal> &lits,
		   std::vector<std::vector<Literal>> &out) const;
	uint8_t sym(uint32_t h, size_t s) const { return syms_[h * mk_ + s]; }
	KeyRef slot_ref(size_t slot) const;
	KeyId slot_id(size_t slot) const { return slot_ids_[slot]; }
	void retire_tek();

	ServerConfig config_;
	RandomSource &rng_;
	const Clock &clock_;
	KeyWrapper wrapper_;
	size_t mk_; // KEKs per member
	KeySlot tek_;
	std::vector<KeySlot> slots_;
	std::vector<KeyId> slot_ids_;
	std::vector<uint32_t> holders_;
	// TEK version whose TEK' wrapped the slot's current version (0: none)
	std::vector<uint32_t> created_epoch_;
	// member records by handle
	std::vector<uint8_t> syms_;
	std::vector<Key> individual_;
	std::vector<uint8_t> live_;
	std::vector<uint32_t> joined_version_; // TEK version at join
	std::vector<uint32_t> generation_;     // individual key version
	std::vector<uint32_t> free_;	       // handles to reuse
	std::unordered_map<std::string, uint32_t> by_id_;
	struct Retired {
		KeySlot tek;
		uint64_t until_ms;
	};
	std::deque<Retired> retired_;
};

} // namespace flatkey
} // namespace groupsec
