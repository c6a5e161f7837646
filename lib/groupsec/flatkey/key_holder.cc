// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/key_holder.h"

#include <algorithm>
#include <cstdint>

namespace groupsec::flatkey {

namespace {

std::string key_of(const MemberId &id)
{
	return std::string(id.begin(), id.end());
}

bool has_tek(const std::vector<KeyRef> &refs, uint32_t *version)
{
	for (const auto &r : refs)
		if (r.id.kind == KeyKind::Tek) {
			*version = r.version;
			return true;
		}
	return false;
}

} // namespace

uint32_t creator_tag(const std::set<uint32_t> &creators)
{
	if (creators.size() == 1)
		return *creators.begin();
	uint32_t h = 2166136261u; // FNV-1a over the sorted set
	for (uint32_t c : creators)
		for (int i = 0; i < 4; i++) {
			h ^= (c >> (8 * i)) & 0xff;
			h *= 16777619u;
		}
	return h | 0x80000000u;
}

bool supersedes(const HeartbeatEntry &b, uint32_t b_sender,
		const HeartbeatEntry &a, uint32_t a_sender)
{
	if (!(b.id == a.id))
		return false;
	if (b.version != a.version)
		return b.version > a.version;
	if (b.creators == a.creators) {
		if (b.revision != a.revision)
			return b.revision > a.revision;
		return b.creators.size() > 1 && b.creators.count(b_sender) &&
		       b_sender > a_sender;
	}
	return b.creators.size() > a.creators.size() &&
	       std::includes(b.creators.begin(), b.creators.end(),
			     a.creators.begin(), a.creators.end());
}

KeyMessage ExcluderTable::message() const
{
	KeyMessage m;
	for (const auto &c : cells)
		for (const auto &e : c.entries)
			m.entries.push_back(e);
	return m;
}

KeyHolderNode::KeyHolderNode(HolderConfig config, RandomSource &rng,
			     const Clock &clock)
	: config_(std::move(config)), rng_(rng), clock_(clock)
{
}

std::vector<KeyId> KeyHolderNode::my_keks() const
{
	std::vector<KeyId> out;
	for (size_t s = 0; s < config_.id.size(); s++)
		out.push_back(KeyId::kek(0, static_cast<uint8_t>(s),
					 config_.id[s]));
	return out;
}

bool KeyHolderNode::holder_has(const MemberId &m, const KeyId &id) const
{
	if (id.kind == KeyKind::Tek)
		return true;
	return id.kind == KeyKind::Kek && id.table == 0 &&
	       id.symbol < m.size() && m[id.symbol] == id.value;
}

std::optional<HeartbeatEntry> KeyHolderNode::view(const KeyId &id) const
{
	auto it = views_.find(id);
	if (it == views_.end() || it->second.creators.empty())
		return std::nullopt;
	HeartbeatEntry e;
	e.id = id;
	e.version = it->second.version;
	e.revision = it->second.revision;
	e.creators = it->second.creators;
	e.owner = it->second.owner;
	return e;
}

KeyRef KeyHolderNode::current_ref(const KeyId &id) const
{
	KeyRef r;
	r.id = id;
	auto it = views_.find(id);
	if (it == views_.end() || it->second.creators.empty())
		return r;
	r.version = it->second.version;
	r.revision = it->second.revision;
	r.creator = creator_tag(it->second.creators);
	return r;
}

std::optional<Key> KeyHolderNode::current_key(const KeyId &id) const
{
	auto it = views_.find(id);
	if (it == views_.end() || it->second.creators.empty())
		return std::nullopt;
	return raw_.find(current_ref(id));
}

void KeyHolderNode::refresh_merged(const KeyId &id)
{
	auto it = views_.find(id);
	if (it == views_.end() || it->second.creators.size() < 2)
		return;
	const View &v = it->second;
	// Revision r of a merged key is r one-way steps from the XOR of the
	// parts as created (revision 0).
	Key x{};
	for (uint32_t c : v.creators) {
		auto part = raw_.find(KeyRef{id, v.version, 0, c});
		if (!part)
			return; // known as a whole (granted) or not at all
		x = xor_keys(x, *part);
	}
	raw_.add(id, KeySlot{x, v.version, 0, creator_tag(v.creators)});
}

void KeyHolderNode::note(const KeyRef &ref, uint32_t epoch)
{
	View &v = views_[ref.id];
	auto old_tek = ref.id.kind == KeyKind::Tek ? current_key(ref.id)
						    : std::nullopt;
	KeySlot old_slot{};
	if (old_tek) {
		old_slot.key = *old_tek;
		old_slot.version = v.version;
		old_slot.revision = v.revision;
	}
	bool merged_tag = (ref.creator & 0x80000000u) != 0;
	if (merged_tag && (v.creators.empty() || ref.version != v.version ||
			   ref.creator != creator_tag(v.creators))) {
		auto &p = pending_[{ref.id, ref.version, ref.creator}];
		p = std::max(p, ref.revision);
	}
	if (ref.version > v.version || v.creators.empty()) {
		if (merged_tag)
			return; // a merged set is learnt with its parts
		v.version = ref.version;
		v.revision = ref.revision;
		v.creators = {ref.creator};
		v.epoch = epoch;
		v.owner = ref.creator;
	} else if (ref.version == v.version) {
		if (merged_tag) {
			if (ref.creator == creator_tag(v.creators))
				v.revision = std::max(v.revision, ref.revision);
		} else if (!v.creators.count(ref.creator)) {
			if (config_.policy == ConcurrentVersionPolicy::Merge) {
				v.creators.insert(ref.creator);
			} else if (ref.creator < *v.creators.begin()) {
				v.creators = {ref.creator};
				v.owner = ref.creator;
			}
			v.epoch = std::max(v.epoch, epoch);
			v.revision = std::max(v.revision, ref.revision);
		} else {
			v.revision = std::max(v.revision, ref.revision);
		}
	}
	// A revision announced for a merged set before all its parts
	// arrived applies once they have.
	auto p = pending_.find({ref.id, v.version, creator_tag(v.creators)});
	if (p != pending_.end())
		v.revision = std::max(v.revision, p->second);
	refresh_merged(ref.id);
	if (old_tek && (v.version != old_slot.version ||
			v.revision != old_slot.revision))
		retired_.push_back(Retired{old_slot,
					   clock_.now_ms() + config_.grace_ms});
}

KeySlot KeyHolderNode::make_key(const KeyId &id, uint32_t version)
{
	KeySlot s{rng_.key(), version, 0, config_.priority};
	raw_.add(id, s);
	View &v = views_[id];
	v.version = version;
	v.revision = 0;
	v.creators = {config_.priority};
	v.owner = config_.priority;
	v.epoch = 0;
	v.heard_ms = clock_.now_ms();
	owned_.insert(id);
	return s;
}

void KeyHolderNode::create_group()
{
	make_key(KeyId::tek(), 1);
	for (const auto &id : my_keks())
		make_key(id, 1);
	joined_[key_of(config_.id)] = 1;
}

Grant KeyHolderNode::admit(const MemberId &newcomer)
{
	Grant g;
	g.newcomer = newcomer;
	std::vector<KeyId> ids = {KeyId::tek()};
	for (size_t s = 0; s < newcomer.size(); s++)
		ids.push_back(KeyId::kek(0, static_cast<uint8_t>(s),
					 newcomer[s]));
	for (const auto &id : ids) {
		if (!holder_has(config_.id, id) || !current_key(id))
			continue;
		// Join by revision: the newcomer gets the next revision.
		KeyRef next = current_ref(id);
		next.revision++;
		note(next, 0);
		auto k = current_key(id);
		if (!k)
			continue;
		g.keys.push_back({id, KeySlot{*k, next.version, next.revision,
					      next.creator}});
		g.creators.push_back(views_[id].creators);
		g.epochs.push_back(views_[id].epoch);
		WrappedKey notice;
		notice.wrapped = next;
		g.notice.entries.push_back(notice);
	}
	g.joined_epoch = views_[KeyId::tek()].version;
	joined_[key_of(newcomer)] = g.joined_epoch;
	return g;
}

void KeyHolderNode::install(const KeyId &id, const KeySlot &slot,
			    const std::set<uint32_t> &creators, uint32_t epoch)
{
	raw_.add(id, slot);
	View &v = views_[id];
	if (slot.version < v.version && !v.creators.empty())
		return;
	v.version = slot.version;
	v.revision = slot.revision;
	v.creators = creators;
	v.epoch = epoch;
	if (v.owner == 0)
		v.owner = *creators.begin();
}

void KeyHolderNode::accept(const Grant &g)
{
	for (size_t i = 0; i < g.keys.size(); i++)
		install(g.keys[i].first, g.keys[i].second, g.creators[i],
			g.epochs[i]);
	joined_[key_of(config_.id)] = g.joined_epoch;
}

KeyMessage KeyHolderNode::create_missing()
{
	KeyMessage m;
	std::vector<KeyId> ids = my_keks();
	ids.insert(ids.begin(), KeyId::tek());
	for (const auto &id : ids) {
		if (current_key(id))
			continue;
		uint32_t version = views_.count(id) ? views_[id].version + 1 : 1;
		KeySlot s = make_key(id, version);
		WrappedKey notice;
		notice.wrapped = KeyRef{id, s.version, 0, s.creator};
		m.entries.push_back(notice);
	}
	return m;
}

void KeyHolderNode::on_admission(const Grant &g)
{
	joined_[key_of(g.newcomer)] = g.joined_epoch;
	apply(g.notice);
}

uint32_t KeyHolderNode::earliest_join(const std::vector<MemberId> &leavers) const
{
	uint32_t e = UINT32_MAX;
	for (const auto &l : leavers) {
		auto it = joined_.find(key_of(l));
		e = std::min(e, it == joined_.end() ? 0u : it->second);
	}
	return e;
}

bool KeyHolderNode::tainted(const KeyId &id, uint32_t earliest) const
{
	auto it = views_.find(id);
	return it != views_.end() && it->second.epoch > earliest;
}

ExcluderTable KeyHolderNode::exclude(const std::vector<MemberId> &leavers,
				     bool replace)
{
	ExcluderTable t;
	const IdLayout &l = config_.layout;
	t.leavers = leavers;
	t.excluder = config_.priority;
	t.cells.resize(l.kek_slots());
	uint32_t old_version = views_[KeyId::tek()].version;
	auto old_tek = current_key(KeyId::tek());
	KeySlot tek = make_key(KeyId::tek(), old_version + 1);
	if (old_tek)
		retired_.push_back(Retired{KeySlot{*old_tek, old_version, 0, 0},
					   clock_.now_ms() + config_.grace_ms});
	t.new_tek = KeyRef{KeyId::tek(), tek.version, 0, tek.creator};
	uint32_t earliest = earliest_join(leavers);
	for (size_t s = 0; s < l.width(); s++)
		for (unsigned v = 0; v < l.radix(0)[s]; v++) {
			KeyId id = KeyId::kek(0, static_cast<uint8_t>(s),
					      static_cast<uint8_t>(v));
			ExcluderCell &c = t.cells[l.slot(0, s, v)];
			for (const auto &m : leavers)
				c.unusable = c.unusable || holder_has(m, id);
			c.unknown = !holder_has(config_.id, id) ||
				    !current_key(id);
			if (!c.unknown && tainted(id, earliest))
				c.unusable = true;
		}
	if (replace)
		return complete(t);
	// Only the TEK' wraps.
	KeyWrapper w;
	for (const auto &id : my_keks()) {
		ExcluderCell &c = t.cells[l.slot(0, id.symbol, id.value)];
		if (c.unusable || c.unknown)
			continue;
		WrappedKey e;
		e.wrapping = {current_ref(id)};
		e.wrapped = t.new_tek;
		e.ciphertext = w.wrap(*current_key(id), tek.key);
		c.fill = ExcluderCell::Fill::Tek;
		c.fillers = {config_.priority};
		c.entries = {e};
	}
	return t;
}

ExcluderTable KeyHolderNode::complete(const ExcluderTable &in)
{
	ExcluderTable t = in;
	apply(t.message());
	auto tek = raw_.find(t.new_tek);
	if (!tek)
		return t;
	const IdLayout &l = config_.layout;
	uint32_t earliest = earliest_join(t.leavers);
	KeyWrapper w;
	for (const auto &id : my_keks()) {
		ExcluderCell &c = t.cells[l.slot(0, id.symbol, id.value)];
		auto old = current_key(id);
		if (c.fill != ExcluderCell::Fill::None || !old)
			continue;
		if (tainted(id, earliest))
			c.unusable = true;
		KeyRef old_ref = current_ref(id);
		WrappedKey e;
		if (!c.unusable) {
			e.wrapping = {old_ref};
			e.wrapped = t.new_tek;
			e.ciphertext = w.wrap(*old, *tek);
			c.fill = ExcluderCell::Fill::Tek;
		} else {
			KeySlot nk = make_key(id, old_ref.version + 1);
			views_[id].epoch = t.new_tek.version;
			e.wrapping = {old_ref, t.new_tek};
			e.wrapped = KeyRef{id, nk.version, 0, nk.creator};
			e.ciphertext = w.wrap(combine_keys({&*old, &*tek}), nk.key);
			c.fill = ExcluderCell::Fill::NewKek;
		}
		c.fillers = {config_.priority};
		c.entries = {e};
	}
	return t;
}

ExcluderTable KeyHolderNode::merge_tables(const ExcluderTable &a,
					  const ExcluderTable &b) const
{
	ExcluderTable t = a;
	if (!(a.new_tek == b.new_tek) || a.cells.size() != b.cells.size())
		return t;
	for (size_t i = 0; i < t.cells.size(); i++) {
		ExcluderCell &c = t.cells[i];
		const ExcluderCell &o = b.cells[i];
		c.unusable = c.unusable || o.unusable;
		if (o.fill == ExcluderCell::Fill::None || o.fillers == c.fillers)
			continue;
		if (c.fill == ExcluderCell::Fill::None ||
		    (c.fill == ExcluderCell::Fill::Tek &&
		     o.fill == ExcluderCell::Fill::NewKek)) {
			c = o;
			c.unusable = true;
			continue;
		}
		if (c.fill != ExcluderCell::Fill::NewKek ||
		    o.fill != ExcluderCell::Fill::NewKek)
			continue;
		if (config_.policy == ConcurrentVersionPolicy::LowestCreatorWins) {
			if (o.fillers.front() < c.fillers.front())
				c = o;
			continue;
		}
		for (size_t j = 0; j < o.fillers.size(); j++)
			if (std::find(c.fillers.begin(), c.fillers.end(),
				      o.fillers[j]) == c.fillers.end()) {
				c.fillers.push_back(o.fillers[j]);
				c.entries.push_back(o.entries[j]);
			}
	}
	return t;
}

void KeyHolderNode::apply(const KeyMessage &m)
{
	KeyWrapper w;
	for (size_t round = 0; round <= m.entries.size() + 1; round++) {
		size_t before = raw_.size();
		raw_.apply(m, w);
		for (const auto &e : m.entries) {
			uint32_t epoch = 0;
			if (e.wrapped.id.kind == KeyKind::Kek &&
			    !has_tek(e.wrapping, &epoch))
				epoch = 0;
			if (e.is_notice()) {
				auto it = views_.find(e.wrapped.id);
				if (it != views_.end() &&
				    (it->second.version == e.wrapped.version ||
				     (e.wrapped.creator & 0x80000000u)))
					note(e.wrapped, it->second.epoch);
			} else if (raw_.knows(e.wrapped)) {
				note(e.wrapped, epoch);
			}
		}
		if (raw_.size() == before)
			break;
	}
}

std::optional<Heartbeat> KeyHolderNode::tick()
{
	uint64_t now = clock_.now_ms();
	for (auto &kv : views_) {
		View &v = kv.second;
		if (v.owner == config_.priority || v.owner == 0 ||
		    owned_.count(kv.first) || !current_key(kv.first))
			continue;
		if (now - v.heard_ms > config_.takeover_after_ms) {
			v.owner = config_.priority;
			owned_.insert(kv.first);
		}
	}
	if (owned_.empty() ||
	    (last_beat_ms_ != 0 &&
	     now - last_beat_ms_ < config_.heartbeat_interval_ms))
		return std::nullopt;
	last_beat_ms_ = now;
	Heartbeat hb;
	hb.sender = config_.priority;
	for (const auto &id : owned_) {
		auto e = view(id);
		if (!e)
			continue;
		e->owner = config_.priority;
		hb.entries.push_back(*e);
	}
	return hb;
}

void KeyHolderNode::on_heartbeat(const Heartbeat &hb)
{
	uint64_t now = clock_.now_ms();
	for (const auto &e : hb.entries) {
		View &v = views_[e.id];
		if (v.creators.empty() || !current_key(e.id)) {
			// Not a key of ours: remember the newest version.
			if (e.version >= v.version && v.creators.empty())
				v.version = e.version;
			continue;
		}
		auto mine = view(e.id);
		if (e.version == v.version && e.creators == v.creators) {
			v.heard_ms = now;
			v.revision = std::max(v.revision, e.revision);
			if (e.owner == hb.sender) {
				if (owned_.count(e.id) && hb.sender != config_.priority) {
					if (hb.sender > config_.priority) {
						owned_.erase(e.id);
						v.owner = hb.sender;
					}
				} else {
					v.owner = hb.sender;
				}
			} else {
				v.owner = e.owner;
				if (e.owner == config_.priority)
					owned_.insert(e.id);
				else if (owned_.count(e.id) &&
					 hb.sender == config_.priority)
					owned_.erase(e.id);
			}
		} else if (owned_.count(e.id) &&
			   supersedes(e, hb.sender, *mine, config_.priority)) {
			owned_.erase(e.id);
			v.heard_ms = now;
		}
	}
}

std::optional<Heartbeat> KeyHolderNode::transfer(const KeyId &id, uint32_t to)
{
	if (!owned_.count(id))
		return std::nullopt;
	owned_.erase(id);
	views_[id].owner = to;
	views_[id].heard_ms = clock_.now_ms();
	Heartbeat hb;
	hb.sender = config_.priority;
	auto e = view(id);
	e->owner = to;
	hb.entries.push_back(*e);
	return hb;
}

PacketKeyHeader KeyHolderNode::packet_header() const
{
	PacketKeyHeader h;
	h.association_id = config_.priority;
	auto e = view(KeyId::tek());
	if (e) {
		h.key_version = e->version;
		h.key_revision = e->revision;
	}
	return h;
}

std::optional<Key> KeyHolderNode::tek_for(uint32_t version,
					  uint32_t revision) const
{
	KeyRef cur = current_ref(KeyId::tek());
	if (cur.version == version && cur.revision == revision)
		return current_key(KeyId::tek());
	uint64_t now = clock_.now_ms();
	for (const auto &r : retired_)
		if (r.tek.version == version && r.tek.revision == revision &&
		    now < r.until_ms)
			return r.tek.key;
	return std::nullopt;
}

void KeyHolderNode::absorb(const KeyHolderNode &other)
{
	raw_.merge_from(other.raw_);
	for (const auto &kv : other.views_) {
		for (uint32_t c : kv.second.creators)
			note(KeyRef{kv.first, kv.second.version,
				    kv.second.revision, c},
			     kv.second.epoch);
	}
}

} // namespace groupsec::flatkey
