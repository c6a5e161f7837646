// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: a binary key hierarchy whose leaves are the members
// and whose root key is the group's key-encryption key, rekeyed on leave
// with upward derivation (in the manner of Canetti et al., INFOCOM 1999).
//
// Every node on a leaver's path gets a new key. A node with one child that
// still has members takes derive(key of that child); a node with two takes
// derive(key of one child) and one wrap of the new key under the other
// child's key (after the leave). A leave of one member in a full tree of
// depth d costs d - 1 wraps where LKH needs 2d - 1. The set of holders of
// every node key stays exactly the members below the node, so no coalition
// of removed members, removed at any times, can compute a key sent after
// the last of them left (docs/key-tree.md has the argument and the costs).
//
// Joins send nothing and change no existing key: the joiner takes the
// lowest free leaf and receives the current keys of its path (it can read
// what was protected by the current root before it joined; rekey the root
// with a leave or a fresh TEK if that matters). A full tree grows one level:
// the new root's key is derive_grown(old root key), which every member
// holding the old root computes itself when a message shows the new depth.
//
// KeyTreeServer changes state in two steps: plan_leave() computes the
// message and every new key without touching the tree; commit() installs a
// plan and cannot fail. KeyTreeMember::apply() is all or nothing.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "groupsec/keytree/tree_message.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct evp_mac_st;
struct evp_mac_ctx_st;

namespace groupsec::keytree {

using flatkey::Key;

// Wipes a key (OPENSSL_cleanse).
void wipe(Key &k);

// HMAC-SHA-256 with cached OpenSSL objects; not thread-safe.
//   derive(k, v, e)       = HMAC(k, "groupsec keytree v1" || u8 level(v)
//                                   || u32 pos(v) || u64 e)
//   derive_grown(k, d, e) = HMAC(k, "groupsec keytree v1 grown" || u8 d
//                                   || u32 0 || u64 e)
// (integers big-endian). derive_grown gives the key of the root (d, 0) a
// tree gets when it grows from depth d - 1 at epoch e, from the old root.
class NodeKeyDeriver {
public:
	NodeKeyDeriver();
	~NodeKeyDeriver();
	NodeKeyDeriver(const NodeKeyDeriver &) = delete;
	NodeKeyDeriver &operator=(const NodeKeyDeriver &) = delete;

	Key derive(const Key &child, NodeName v, uint64_t epoch);
	Key derive_grown(const Key &old_root, uint8_t new_depth, uint64_t epoch);

private:
	Key mac(const Key &k, const uint8_t *msg, size_t len);
	struct MacFree {
		void operator()(evp_mac_st *m) const;
	};
	struct CtxFree {
		void operator()(evp_mac_ctx_st *c) const;
	};
	std::unique_ptr<evp_mac_st, MacFree> mac_;
	std::unique_ptr<evp_mac_ctx_st, CtxFree> ctx_;
};

// One-shot forms (a NodeKeyDeriver each call).
Key derive(const Key &child, NodeName v, uint64_t epoch);
Key derive_grown(const Key &old_root, uint8_t new_depth, uint64_t epoch);

// What a member holds: path[l] = key of (l, leaf >> l), l = 0..depth.
// Wiped on destruction.
struct MemberKeys {
	uint32_t leaf = 0;
	uint8_t depth = 0;
	uint64_t epoch = 0;
	std::vector<Key> path;

	MemberKeys() = default;
	MemberKeys(const MemberKeys &) = default;
	MemberKeys(MemberKeys &&) = default;
	MemberKeys &operator=(const MemberKeys &) = default;
	MemberKeys &operator=(MemberKeys &&) = default;
	~MemberKeys();
	const Key &root() const { return path.back(); }
};

class KeyTreeServer {
public:
	// rng gives every fresh key; it must outlive the server.
	explicit KeyTreeServer(flatkey::RandomSource &rng,
			       unsigned max_depth = kMaxDepth);
	~KeyTreeServer();
	KeyTreeServer(const KeyTreeServer &) = delete;
	KeyTreeServer &operator=(const KeyTreeServer &) = delete;

	// Takes the lowest free leaf (growing the tree by one level when it
	// is full); nullopt when full at max_depth. Sends nothing to anyone.
	std::optional<MemberKeys> join();

	// Current path keys of an occupied leaf (re-registration); an empty
	// path if the leaf is free or outside the tree.
	MemberKeys keys_of(uint32_t leaf) const;

	// A leave in two steps: plan_leave() computes the message and every
	// new key and changes nothing; commit() installs the plan. A plan is
	// valid only until the next join or commit.
	struct LeavePlan {
		bool ok = false;
		std::string error; // when !ok
		TreeMessage message;
		Key new_root{};

		LeavePlan() = default;
		LeavePlan(const LeavePlan &) = default;
		LeavePlan(LeavePlan &&) = default;
		LeavePlan &operator=(const LeavePlan &) = default;
		LeavePlan &operator=(LeavePlan &&) = default;
		~LeavePlan();

		// A node whose key the plan replaces, with its key and member
		// count after the leave (the leavers' leaves: members 0).
		struct Update {
			uint8_t level = 0;
			uint32_t pos = 0;
			uint32_t members = 0;
			Key key{};
		};
		// Ascending by level, then by pos; the root last.
		const std::vector<Update> &changed() const { return updates; }

	private:
		friend class KeyTreeServer;
		uint64_t generation = 0; // server state the plan was made on
		std::vector<Update> updates;
	};
	// Errors (nothing changes): empty list, a leaf free or outside the
	// tree, a leaf listed twice, a key wrap failure.
	LeavePlan plan_leave(const std::vector<uint32_t> &leaves) const;
	// Installs p. Returns false and changes nothing if p is not ok or was
	// made before the last join or commit.
	bool commit(const LeavePlan &p);

	// The whole state (depth, epoch, every node's key and member count),
	// to continue the tree elsewhere (a standby key server): levels[l][pos]
	// as the server holds them, level 0 the leaves, levels[depth] the root.
	struct NodeState {
		Key key{};
		uint32_t members = 0;
	};
	struct State {
		unsigned depth = 0;
		uint64_t epoch = 0;
		std::vector<std::vector<NodeState>> levels;
		State() = default;
		State(const State &) = default;
		State(State &&) = default;
		State &operator=(const State &) = default;
		State &operator=(State &&) = default;
		~State();
	};
	State export_state() const;
	// Replaces the tree by s, all or nothing: the reason it is refused
	// (a depth above max_depth, levels of impossible sizes, member counts
	// that do not add up), empty on success.
	std::string import_state(const State &s);

	const Key &root() const;
	uint64_t epoch() const { return epoch_; }
	unsigned depth() const { return depth_; }
	size_t members() const;
	bool occupied(uint32_t leaf) const;
	// Key of a node; all zero outside the stored range.
	Key node_key(NodeName n) const;
	uint32_t node_members(NodeName n) const;
	// Bytes allocated for node keys and per-node state (vector capacity).
	size_t server_bytes() const;
	// Keys one member holds: (depth + 1) * 32.
	size_t member_bytes() const;

private:
	struct Node {
		Key key{};
		uint32_t members = 0;
	};
	const Node *node(unsigned level, uint32_t pos) const;
	static void extend(std::vector<Node> &lv, size_t n);
	// A child of a node whose key a leave replaces.
	struct Child {
		uint32_t pos;
		bool changed;
		uint32_t members;
		const Key *key;
	};
	std::string leave_refusal(const std::vector<uint32_t> &sorted) const;
	void children(unsigned l, uint32_t v, const std::vector<uint32_t> &prev_pos,
		      const std::vector<uint32_t> &prev_members, const std::vector<Key> &prev_key,
		      size_t &j, Child c[2]) const;
	bool plan_node_key(const NodeName &name, const Child c[2], uint64_t epoch, TreeMessage &m,
			   Key &k) const;

	flatkey::RandomSource &rng_;
	unsigned max_depth_;
	unsigned depth_ = 0;
	uint64_t epoch_ = 0;
	uint64_t generation_ = 0;
	// level_[l][pos], sized to the range of leaves ever used.
	std::vector<std::vector<Node>> level_;
	mutable flatkey::KeyWrapper wrapper_;
	mutable NodeKeyDeriver deriver_;
};

class KeyTreeMember {
public:
	// k as join() or keys_of() gave it. Keys that do not describe a
	// path (path size != depth + 1, leaf outside the tree) make a member
	// that rejects every message as Excluded.
	explicit KeyTreeMember(MemberKeys k);

	enum class ApplyError {
		None,
		Excluded,  // our leaf is among the leavers
		Stale,	    // epoch <= ours: already applied
		OutOfDate, // epoch > ours + 1: a message was missed
		Integrity, // a wrap did not unwrap under our key
		Malformed, // breaks a decoder rule, or the tree shrank
	};
	// The tree grew to depth d without a message (joins into a full
	// tree): computes the new roots above ours, as apply() would. Only
	// valid while no leave happened since our epoch. False (nothing
	// changes) if d is below our depth or above kMaxDepth.
	bool extend(unsigned d);

	// All or nothing: on success epoch() == m.epoch, depth() == m.depth
	// and the path keys are the server's after m. (The OpenSSL objects
	// live for one call, so that a member is a plain copyable value.)
	ApplyError apply(const TreeMessage &m);

	const Key &root() const { return keys_.root(); }
	uint64_t epoch() const { return keys_.epoch; }
	uint32_t leaf() const { return keys_.leaf; }
	unsigned depth() const { return keys_.depth; }
	const MemberKeys &keys() const { return keys_; }

private:
	MemberKeys keys_;
	bool valid_ = true;
};

const char *to_string(KeyTreeMember::ApplyError e);

} // namespace groupsec::keytree
