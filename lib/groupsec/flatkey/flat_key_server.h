// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table, centralized variant: the key server keeps one TEK
// and V·W KEKs (plus those of optional extra symbol tables); each member
// holds the TEK and exactly the KEKs its symbols select. Joins advance
// revisions (one-way function, only revision numbers travel); leaves
// replace the TEK and every KEK the leavers held (named, with derivation,
// by one leaver notice of their primary IDs). With symbol families, a batch
// leave covers the remaining members with single KEKs no leaver holds;
// otherwise (and for small batches, if cheaper) with a minimized set of
// product terms over the ID symbols (in the manner of Chang et al.,
// INFOCOM 1999). Nothing the leavers of the operation could open together
// is sent: members a term would have reached get TEK' under another KEK or
// their individual key. The server
// also keeps track of what all members removed so far could rebuild by
// pooling their keys, and reports messages such a coalition could open
// (or, with CollusionPolicy::Resist, avoids them). full_rekey() clears
// that history.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/key_message.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/flatkey/member_id.h"

#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace groupsec::flatkey {

enum class CollusionPolicy {
	// Re-key so that no coalition of removed members, across all earlier
	// operations, learns the TEK.
	Resist,
	// No coalition of the members removed by one operation learns the
	// TEK; terms that members removed at different times could open
	// together are kept and reported (CollusionReport::residual).
	AcceptFlagged,
};

enum class KekRefresh {
	// Replacement KEK random, wrapped under old KEK / TEK' (seed 002).
	Wrap,
	// Replacement KEK derived from old KEK and TEK': the same holders as
	// Wrap, no wrapped key sent.
	Derive,
};

struct ServerConfig {
	ServerConfig(IdLayout l) : layout(std::move(l)) {}
	IdLayout layout;
	uint64_t grace_ms = 120000;
	CollusionPolicy collusion = CollusionPolicy::AcceptFlagged;
	KekRefresh refresh = KekRefresh::Derive;
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
	// True if the members removed so far (this operation's leavers and
	// everyone removed before, pooling what they hold and can rebuild)
	// hold every KEK of a product term of the minimized cover.
	bool flagged = false;
	// Those terms (KEK sets).
	std::vector<std::vector<KeyId>> exposed_terms;
	// True if the message sent still has TEK' under KEKs that coalition
	// holds: removed members of different operations together learn
	// TEK' (AcceptFlagged only; Resist never sends such a wrap).
	bool residual = false;
	std::vector<std::vector<KeyId>> residual_terms;
	// Remaining members whose every KEK the coalition the policy defends
	// against holds (AcceptFlagged: this operation's leavers; Resist:
	// every removed member): they got TEK' under their individual key.
	std::vector<uint32_t> covered_members;
	// That coalition holds every KEK of every table: the re-key went to
	// every member under its individual key.
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
	// Terms the defended-against coalition could open were replaced by
	// single KEKs it lacks and individual keys.
	bool resisted = false;
	// Every member got TEK' (and, from full_rekey(), its KEKs) under its
	// individual key.
	bool full_rekey = false;
	// A batch leave covered the remaining members with single KEKs of the
	// extra symbol families (no product terms).
	bool family_cover = false;
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
	// Full re-key: a new TEK and a new random version of every KEK, sent
	// to each member under its individual key (TEK' and its KEKs in one
	// wrap). Nothing a removed member ever held or could rebuild helps
	// with the new keys, so the exposure history is cleared. Costs one
	// wrap per member and kMaxBundleKeks KEKs; for an operator's periodic
	// or on-demand use.
	RekeyResult full_rekey();
	// KEKs per bundle (TEK' first); a member holding more gets several.
	static constexpr size_t kMaxBundleKeks = 127;
	// Batches of at least this many leavers skip the product-term cover
	// when the layout has extra tables (the family cover is cheaper).
	static constexpr size_t kFamilyOnlyBatch = 16;

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
	// Whether the members removed so far could together know or rebuild
	// the current version of the KEK / the current TEK.
	bool kek_exposed(size_t table, size_t symbol, unsigned value) const;
	bool tek_exposed() const;

private:
	// What a batch of joins changes, computed before anything changes.
	struct JoinPlan {
		std::vector<size_t> base; // first slot of each symbol's KEKs
		std::vector<std::vector<uint8_t>> symbols; // per newcomer
		std::vector<size_t> advance; // held KEK slots to step, in order
	};
	std::string join_refusal(const std::vector<MemberId> &ids) const;
	JoinPlan plan_join(const std::vector<MemberId> &ids) const;
	MemberKeys admit(const MemberId &id, const std::vector<uint8_t> &symbols,
			 const std::vector<size_t> &base);

	struct Literal {
		uint16_t symbol;
		uint8_t value;
	};
	void cover(std::vector<uint32_t> on, std::vector<uint32_t> off,
		   std::vector<bool> &used, std::vector<Literal> &lits,
		   std::vector<std::vector<Literal>> &out,
		   std::vector<uint32_t> &owner) const;
	bool settle(std::vector<uint32_t> &on, const std::vector<uint32_t> &off,
		    std::vector<bool> &used, std::vector<Literal> &lits,
		    std::vector<std::vector<Literal>> &out,
		    std::vector<uint32_t> &owner, std::vector<size_t> &settled) const;
	void branch(std::vector<uint32_t> on, std::vector<uint32_t> off,
		    std::vector<bool> &used, std::vector<Literal> &lits,
		    std::vector<std::vector<Literal>> &out,
		    std::vector<uint32_t> &owner) const;

	// What a batch of leaves changes, planned before the keys change.
	struct LeavePlan {
		std::vector<uint32_t> off; // the leavers' handles
		std::vector<size_t> base; // first slot of each symbol's KEKs
		uint32_t epoch = 0; // version of TEK'
		bool resist = false;
		bool families = false; // covered by single KEKs of extra tables
		std::vector<uint8_t> in_now; // slots a leaver holds
		std::vector<uint8_t> in_hist; // slots the removed members know
		std::vector<uint32_t> remaining; // holders once they left
		std::vector<uint32_t> on; // the remaining members
		bool have_on = false;
		std::vector<uint32_t> owner; // term covering each member
		std::vector<std::vector<Literal>> terms;
		std::vector<uint8_t> bad; // per term: the coalition could open it
		std::vector<size_t> bad_terms;
		std::vector<uint8_t> chosen; // single KEKs TEK' goes under
		// The coalition the message must keep out.
		const std::vector<uint8_t> &defend() const { return resist ? in_hist : in_now; }
	};
	std::string leave_refusal(const std::vector<MemberId> &ids,
				  std::vector<uint32_t> &off) const;
	std::vector<size_t> table_bases() const;
	std::vector<uint32_t> live_members(size_t leaving) const;
	bool term_in(const std::vector<Literal> &t, const std::vector<uint8_t> &set) const;
	std::vector<KeyId> term_ids(const std::vector<Literal> &t) const;
	void pool_add_leavers(LeavePlan &p);
	void plan_term_cover(LeavePlan &p, RekeyResult &res) const;
	void plan_resist(LeavePlan &p, RekeyResult &res) const;
	std::vector<std::vector<size_t>> uniform_runs() const;
	bool family_plan(const LeavePlan &p, const std::vector<uint8_t> &open,
			 const std::vector<size_t> &order, size_t limit,
			 std::vector<uint32_t> &stamp, uint32_t run_id,
			 std::vector<size_t> &picks, std::vector<uint32_t> &unc) const;
	void plan_family_cover(LeavePlan &p, RekeyResult &res) const;
	void commit_new_tek(const LeavePlan &p, RekeyResult &res);
	void commit_kek_replacements(const LeavePlan &p, RekeyResult &res);
	void leaver_notice(const LeavePlan &p, KeyMessage &msg) const;
	uint8_t sym(uint32_t h, size_t s) const { return syms_[h * mk_ + s]; }
	KeyRef slot_ref(size_t slot) const;
	KeyId slot_id(size_t slot) const { return slot_ids_[slot]; }
	void retire_tek();
	bool pool_knows(size_t slot) const;
	bool pool_knows_tek(uint32_t version) const;
	void pool_add_teks(uint32_t first, uint32_t last);

	ServerConfig config_;
	RandomSource &rng_;
	const Clock &clock_;
	KeyWrapper wrapper_;
	size_t mk_; // KEKs per member
	KeySlot tek_;
	std::vector<KeySlot> slots_;
	std::vector<KeyId> slot_ids_;
	std::vector<uint32_t> holders_;
	// What the members removed so far know together. TEK versions (at
	// revision 0) they know: intervals first -> last.
	std::map<uint32_t, uint32_t> pool_teks_;
	// Per slot: some removed member held a version of the KEK, and the TEK
	// versions under which each later version was made from the one
	// before (old KEK / TEK'). The current version is known to them if
	// they know every one of those TEKs.
	std::vector<uint8_t> pool_base_;
	std::vector<std::vector<uint32_t>> chain_;
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

} // namespace groupsec::flatkey
