// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec key tree: node key derivation and the key server's tree.
#include "groupsec/keytree/key_tree.h"

#include <algorithm>
#include <cstdlib>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

namespace groupsec::keytree {

namespace {

constexpr char kDeriveLabel[] = "groupsec keytree v1";
constexpr char kGrownLabel[] = "groupsec keytree v1 grown";

// label || u8 level || u32 pos || u64 epoch, big-endian
size_t node_message(uint8_t *out, const char *label, size_t label_len,
		    uint8_t level, uint32_t pos, uint64_t epoch)
{
	size_t n = 0;
	for (size_t i = 0; i < label_len; i++)
		out[n++] = static_cast<uint8_t>(label[i]);
	out[n++] = level;
	for (int i = 3; i >= 0; i--)
		out[n++] = static_cast<uint8_t>(pos >> (8 * i));
	for (int i = 7; i >= 0; i--)
		out[n++] = static_cast<uint8_t>(epoch >> (8 * i));
	return n;
}

// Keys that are wiped when the scope ends.
struct KeyList {
	std::vector<Key> v;
	void clear()
	{
		for (Key &k : v)
			wipe(k);
		v.clear();
	}
	~KeyList() { clear(); }
};

} // namespace

void wipe(Key &k) { OPENSSL_cleanse(k.data(), k.size()); }

// ---- NodeKeyDeriver

void NodeKeyDeriver::MacFree::operator()(evp_mac_st *m) const
{
	EVP_MAC_free(m);
}

void NodeKeyDeriver::CtxFree::operator()(evp_mac_ctx_st *c) const
{
	EVP_MAC_CTX_free(c);
}

NodeKeyDeriver::NodeKeyDeriver() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr))
{
	if (!mac_)
		abort();
	ctx_.reset(EVP_MAC_CTX_new(mac_.get()));
	if (!ctx_)
		abort();
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(ctx_.get(), params) != 1)
		abort();
}

NodeKeyDeriver::~NodeKeyDeriver() = default;

Key NodeKeyDeriver::mac(const Key &k, const uint8_t *msg, size_t len)
{
	// A failure here leaves no safe key to return: fail closed.
	Key out;
	size_t outl = 0;
	if (EVP_MAC_init(ctx_.get(), k.data(), k.size(), nullptr) != 1 ||
	    EVP_MAC_update(ctx_.get(), msg, len) != 1 ||
	    EVP_MAC_final(ctx_.get(), out.data(), &outl, out.size()) != 1 ||
	    outl != out.size())
		abort();
	return out;
}

Key NodeKeyDeriver::derive(const Key &child, NodeName v, uint64_t epoch)
{
	uint8_t msg[sizeof(kDeriveLabel) + 13];
	size_t n = node_message(msg, kDeriveLabel, sizeof(kDeriveLabel) - 1,
				v.level, v.pos, epoch);
	return mac(child, msg, n);
}

Key NodeKeyDeriver::derive_grown(const Key &old_root, uint8_t new_depth,
				 uint64_t epoch)
{
	uint8_t msg[sizeof(kGrownLabel) + 13];
	size_t n = node_message(msg, kGrownLabel, sizeof(kGrownLabel) - 1,
				new_depth, 0, epoch);
	return mac(old_root, msg, n);
}

Key derive(const Key &child, NodeName v, uint64_t epoch)
{
	NodeKeyDeriver d;
	return d.derive(child, v, epoch);
}

Key derive_grown(const Key &old_root, uint8_t new_depth, uint64_t epoch)
{
	NodeKeyDeriver d;
	return d.derive_grown(old_root, new_depth, epoch);
}

MemberKeys::~MemberKeys()
{
	for (Key &k : path)
		wipe(k);
}

// ---- KeyTreeServer

KeyTreeServer::LeavePlan::~LeavePlan()
{
	wipe(new_root);
	for (Update &u : updates)
		wipe(u.key);
}

KeyTreeServer::KeyTreeServer(flatkey::RandomSource &rng, unsigned max_depth)
	: rng_(rng), max_depth_(std::min(max_depth, kMaxDepth))
{
	// An empty tree of depth 0: the root is the free leaf 0, with a
	// key nobody holds.
	level_.resize(1);
	level_[0].push_back(Node{rng_.key(), 0});
}

KeyTreeServer::~KeyTreeServer()
{
	for (auto &lv : level_)
		for (Node &n : lv)
			wipe(n.key);
}

void KeyTreeServer::extend(std::vector<Node> &lv, size_t n)
{
	if (n > lv.capacity()) {
		// Move to a bigger buffer by hand, so that the keys left in
		// the old one are wiped before it is freed.
		std::vector<Node> bigger;
		bigger.reserve(std::max(n, 2 * lv.capacity()));
		bigger.assign(lv.begin(), lv.end());
		for (Node &x : lv)
			wipe(x.key);
		lv.swap(bigger);
	}
	lv.resize(n);
}

KeyTreeServer::State::~State()
{
	for (auto &lv : levels)
		for (NodeState &n : lv)
			wipe(n.key);
}

KeyTreeServer::State KeyTreeServer::export_state() const
{
	State s;
	s.depth = depth_;
	s.epoch = epoch_;
	s.levels.resize(level_.size());
	for (size_t l = 0; l < level_.size(); l++) {
		s.levels[l].reserve(level_[l].size());
		for (const Node &n : level_[l])
			s.levels[l].push_back(NodeState{n.key, n.members});
	}
	return s;
}

std::string KeyTreeServer::import_state(const State &s)
{
	if (s.depth > max_depth_)
		return "tree depth " + std::to_string(s.depth) + " above the limit " + std::to_string(max_depth_);
	if (s.levels.size() != size_t(s.depth) + 1)
		return "tree of depth " + std::to_string(s.depth) + " with " + std::to_string(s.levels.size()) +
		       " levels";
	for (unsigned l = 0; l <= s.depth; l++) {
		const auto &lv = s.levels[l];
		const uint64_t most = uint64_t(1) << (s.depth - l);
		if (lv.empty() || lv.size() > most)
			return "tree level " + std::to_string(l) + " of " + std::to_string(lv.size()) + " nodes";
		for (size_t pos = 0; pos < lv.size(); pos++) {
			uint64_t want;
			if (l == 0) {
				if (lv[pos].members > 1)
					return "tree leaf " + std::to_string(pos) + " with " +
					       std::to_string(lv[pos].members) + " members";
				continue;
			}
			const auto &below = s.levels[l - 1];
			want = (2 * pos < below.size() ? below[2 * pos].members : 0) +
			       (2 * pos + 1 < below.size() ? below[2 * pos + 1].members : 0);
			if (lv[pos].members != want)
				return "tree node (" + std::to_string(l) + ", " + std::to_string(pos) + ") counts " +
				       std::to_string(lv[pos].members) + " members, its children " +
				       std::to_string(want);
		}
	}
	std::vector<std::vector<Node>> next(s.levels.size());
	for (size_t l = 0; l < s.levels.size(); l++) {
		next[l].reserve(s.levels[l].size());
		for (const NodeState &n : s.levels[l])
			next[l].push_back(Node{n.key, n.members});
	}
	for (auto &lv : level_)
		for (Node &n : lv)
			wipe(n.key);
	level_.swap(next);
	depth_ = s.depth;
	epoch_ = s.epoch;
	generation_++;
	return {};
}

const KeyTreeServer::Node *KeyTreeServer::node(unsigned level,
					       uint32_t pos) const
{
	if (level >= level_.size() || pos >= level_[level].size())
		return nullptr;
	return &level_[level][pos];
}

const Key &KeyTreeServer::root() const { return level_[depth_][0].key; }

size_t KeyTreeServer::members() const { return level_[depth_][0].members; }

bool KeyTreeServer::occupied(uint32_t leaf) const
{
	const Node *n = node(0, leaf);
	return n && n->members != 0;
}

Key KeyTreeServer::node_key(NodeName n) const
{
	const Node *x = node(n.level, n.pos);
	return x ? x->key : Key{};
}

uint32_t KeyTreeServer::node_members(NodeName n) const
{
	const Node *x = node(n.level, n.pos);
	return x ? x->members : 0;
}

size_t KeyTreeServer::server_bytes() const
{
	size_t b = level_.capacity() * sizeof(std::vector<Node>);
	for (const auto &lv : level_)
		b += lv.capacity() * sizeof(Node);
	return b;
}

size_t KeyTreeServer::member_bytes() const
{
	return (depth_ + 1) * flatkey::kKeyBytes;
}

MemberKeys KeyTreeServer::keys_of(uint32_t leaf) const
{
	MemberKeys k;
	if (!occupied(leaf))
		return k;
	k.leaf = leaf;
	k.depth = static_cast<uint8_t>(depth_);
	k.epoch = epoch_;
	k.path.reserve(depth_ + 1);
	for (unsigned l = 0; l <= depth_; l++)
		k.path.push_back(level_[l][leaf >> l].key);
	return k;
}

std::optional<MemberKeys> KeyTreeServer::join()
{
	if (level_[depth_][0].members == (uint64_t(1) << depth_)) {
		if (depth_ >= max_depth_)
			return std::nullopt;
		// The old root becomes the left child; every member holding
		// it computes the new root's key.
		Node r;
		r.key = deriver_.derive_grown(level_[depth_][0].key,
					      static_cast<uint8_t>(depth_ + 1),
					      epoch_);
		r.members = level_[depth_][0].members;
		level_.emplace_back();
		level_.back().push_back(r);
		wipe(r.key);
		depth_++;
	}
	// Lowest free leaf: go left unless the left subtree is full.
	uint32_t pos = 0;
	for (unsigned l = depth_; l > 0; l--) {
		const Node *c = node(l - 1, 2 * pos);
		if (c && c->members == (uint64_t(1) << (l - 1)))
			pos = 2 * pos + 1;
		else
			pos = 2 * pos;
	}
	const uint32_t leaf = pos;
	for (unsigned l = 0; l <= depth_; l++) {
		auto &lv = level_[l];
		uint32_t p = leaf >> l;
		if (p >= lv.size())
			extend(lv, p + 1);
		Node &n = lv[p];
		if (n.members == 0) {
			wipe(n.key);
			n.key = rng_.key();
		}
		n.members++;
	}
	generation_++;
	return keys_of(leaf);
}

// Why the sorted leaves cannot leave, or empty if they can.
std::string KeyTreeServer::leave_refusal(const std::vector<uint32_t> &sorted) const
{
	for (size_t i = 0; i < sorted.size(); i++) {
		if (i > 0 && sorted[i] == sorted[i - 1])
			return "leaf " + std::to_string(sorted[i]) + " listed twice";
		if (!occupied(sorted[i]))
			return "leaf " + std::to_string(sorted[i]) + " is not a member";
	}
	return {};
}

// The two children of node v at level l: changed ones from the level
// below (prev_*, ascending by pos, walked by j), others as stored.
void KeyTreeServer::children(unsigned l, uint32_t v, const std::vector<uint32_t> &prev_pos,
			     const std::vector<uint32_t> &prev_members, const std::vector<Key> &prev_key,
			     size_t &j, Child c[2]) const
{
	for (int s = 0; s < 2; s++) {
		uint32_t cp = 2 * v + s;
		while (j < prev_pos.size() && prev_pos[j] < cp)
			j++;
		if (j < prev_pos.size() && prev_pos[j] == cp) {
			c[s] = Child{cp, true, prev_members[j], &prev_key[j]};
		} else {
			const Node *n = node(l - 1, cp);
			c[s] = Child{cp, false, n ? n->members : 0, n ? &n->key : nullptr};
		}
	}
}

// The new key of node name over children c; a wrap goes to m. False if
// the wrap failed.
bool KeyTreeServer::plan_node_key(const NodeName &name, const Child c[2], uint64_t epoch, TreeMessage &m,
				  Key &k) const
{
	if (c[0].members == 0 && c[1].members == 0) {
		// Nobody below: a key nobody holds.
		k = rng_.key();
	} else if (c[0].members == 0 || c[1].members == 0) {
		const Child &only = c[0].members ? c[0] : c[1];
		k = deriver_.derive(*only.key, name, epoch);
	} else {
		// Derive from an unchanged child if there is
		// one, wrap under the other.
		int d = (!c[1].changed && c[0].changed) ? 1 : 0;
		const Child &dc = c[d], &wc = c[1 - d];
		k = deriver_.derive(*dc.key, name, epoch);
		Wrap w;
		w.level = static_cast<uint8_t>(name.level - 1);
		w.pos = wc.pos;
		w.wrapped = wrapper_.wrap(*wc.key, k);
		if (w.wrapped.size() != kWrapBytes)
			return false;
		m.wraps.push_back(std::move(w));
	}
	return true;
}

KeyTreeServer::LeavePlan
KeyTreeServer::plan_leave(const std::vector<uint32_t> &leaves) const
{
	LeavePlan p;
	p.generation = generation_;
	if (leaves.empty()) {
		p.error = "no leaves given";
		return p;
	}
	std::vector<uint32_t> sorted(leaves);
	std::sort(sorted.begin(), sorted.end());
	p.error = leave_refusal(sorted);
	if (!p.error.empty())
		return p;
	const uint64_t epoch = epoch_ + 1;
	TreeMessage &m = p.message;
	m.epoch = epoch;
	m.depth = static_cast<uint8_t>(depth_);
	m.leavers = sorted;

	// Level 0: the leavers' leaves are freed and their keys forgotten.
	p.updates.reserve(sorted.size() * (depth_ + 1));
	for (uint32_t x : sorted)
		p.updates.push_back(LeavePlan::Update{0, x, 0, Key{}});
	if (depth_ == 0) {
		// The only member left; the root is its leaf.
		p.updates[0].key = rng_.key();
		p.new_root = p.updates[0].key;
		p.ok = true;
		return p;
	}

	// The changed nodes of the level below, ascending by pos, with
	// their state after the leave.
	std::vector<uint32_t> prev_pos(sorted);
	std::vector<uint32_t> prev_members(sorted.size(), 0);
	KeyList prev_key;
	prev_key.v.resize(sorted.size());
	std::vector<uint32_t> cur_pos, cur_members;
	KeyList cur_key;

	for (unsigned l = 1; l <= depth_; l++) {
		cur_pos.clear();
		cur_members.clear();
		cur_key.clear();
		for (uint32_t x : prev_pos)
			if (cur_pos.empty() || cur_pos.back() != (x >> 1))
				cur_pos.push_back(x >> 1);
		cur_key.v.reserve(cur_pos.size()); // no reallocation below
		size_t j = 0; // walks prev_pos alongside
		for (uint32_t v : cur_pos) {
			Child c[2];
			children(l, v, prev_pos, prev_members, prev_key.v, j, c);
			const NodeName name{static_cast<uint8_t>(l), v};
			Key k;
			if (!plan_node_key(name, c, epoch, m, k)) {
				wipe(k);
				for (LeavePlan::Update &u : p.updates)
					wipe(u.key);
				p.updates.clear();
				p.message = TreeMessage{};
				p.error = "key wrap failed";
				return p;
			}
			cur_members.push_back(c[0].members + c[1].members);
			cur_key.v.push_back(k);
			p.updates.push_back(LeavePlan::Update{
				static_cast<uint8_t>(l), v,
				c[0].members + c[1].members, k});
			wipe(k);
		}
		prev_pos.swap(cur_pos);
		prev_members.swap(cur_members);
		prev_key.v.swap(cur_key.v);
	}
	p.new_root = p.updates.back().key;
	p.ok = true;
	return p;
}

bool KeyTreeServer::commit(const LeavePlan &p)
{
	if (!p.ok || p.generation != generation_ ||
	    p.message.epoch != epoch_ + 1)
		return false;
	for (const LeavePlan::Update &u : p.updates) {
		Node &n = level_[u.level][u.pos];
		wipe(n.key);
		n.key = u.key;
		n.members = u.members;
	}
	epoch_ = p.message.epoch;
	generation_++;
	return true;
}

} // namespace groupsec::keytree
