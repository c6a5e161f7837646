// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/key_store.h"

#include "groupsec/flatkey/member_id.h"

#include <set>

#include <algorithm>

namespace groupsec::flatkey {

namespace {

// The KEKs (every table) that the members of a leaver notice held.
std::set<KeyId> notice_keks(const LeaverNotice &n)
{
	std::set<KeyId> out;
	if (n.radix.empty())
		return out;
	std::vector<std::vector<uint16_t>> extra(n.radix.begin() + 1,
						 n.radix.end());
	auto l = IdLayout::create(n.radix[0], extra, nullptr);
	if (!l)
		return out;
	for (const auto &id : n.ids) {
		if (!l->valid(id))
			continue;
		auto syms = l->all_symbols(id);
		for (size_t t = 0, j = 0; t < l->tables(); t++)
			for (size_t s = 0; s < l->radix(t).size(); s++, j++)
				out.insert(KeyId::kek(static_cast<uint8_t>(t),
						      static_cast<uint8_t>(s),
						      syms[j]));
	}
	return out;
}

} // namespace

const char *to_string(ReceiveError e)
{
	switch (e) {
	case ReceiveError::None:
		return "ok";
	case ReceiveError::OutOfDate:
		return "out of date: the message starts from a TEK this store does not hold";
	case ReceiveError::Integrity:
		return "key wrap integrity check failed: stale key or altered message";
	case ReceiveError::Excluded:
		return "nothing in the message for this store";
	}
	return "?";
}

void KeyStore::add(const KeyId &id, const KeySlot &slot)
{
	auto &versions = keys_[id];
	for (auto &v : versions) {
		if (v.version == slot.version && v.creator == slot.creator) {
			if (slot.revision < v.revision) {
				v.revision = slot.revision;
				v.key = slot.key;
			}
			if (slot.revision > v.cur_revision) {
				v.cur_revision = slot.revision;
				v.cur_key = slot.key;
			}
			return;
		}
	}
	versions.push_back(Version{slot.version, slot.creator, slot.revision,
				   slot.key, slot.revision, slot.key});
}

void KeyStore::note_revision(const KeyRef &ref)
{
	auto it = keys_.find(ref.id);
	if (it == keys_.end())
		return;
	for (auto &v : it->second)
		if (v.version == ref.version && v.creator == ref.creator &&
		    ref.revision > v.cur_revision &&
		    ref.revision - v.cur_revision <= kMaxRevisionStep) {
			v.cur_key = advance_revision(v.cur_key,
						     ref.revision - v.cur_revision);
			v.cur_revision = ref.revision;
		}
}

std::optional<KeySlot> KeyStore::current(const KeyId &id) const
{
	auto it = keys_.find(id);
	if (it == keys_.end() || it->second.empty())
		return std::nullopt;
	const Version *best = nullptr;
	for (const auto &v : it->second)
		if (!best || v.version > best->version ||
		    (v.version == best->version &&
		     v.cur_revision > best->cur_revision))
			best = &v;
	return KeySlot{best->cur_key, best->version, best->cur_revision,
		       best->creator};
}

ReceiveResult KeyStore::receive(const KeyMessage &m, KeyWrapper &wrapper)
{
	if (m.versions_implied)
		return receive_compact(m, wrapper);
	ReceiveResult r;
	r.learned = apply(m, wrapper);
	return r;
}

std::optional<KeySlot> KeyStore::pending(const Updates &upd, const KeyId &id) const
{
	auto it = upd.find(id);
	if (it != upd.end())
		return it->second;
	return current(id);
}

// A revision step: TEK' and every KEK with a notice move one revision.
void KeyStore::plan_revision_step(const KeyMessage &m, const KeySlot &tek, Updates &upd,
				  std::optional<Key> &tekp) const
{
	tekp = advance_revision(tek.key);
	for (const auto &e : m.entries) {
		if (!e.is_notice() || e.wrapped.id.kind == KeyKind::Tek)
			continue;
		auto c = pending(upd, e.wrapped.id);
		if (!c)
			continue;
		c->key = advance_revision(c->key);
		c->revision++;
		upd[e.wrapped.id] = *c;
	}
}

// One entry of a compact rekey: TEK' (and the KEKs it carries) or a
// replaced KEK, if this store holds the keys it is wrapped under.
ReceiveError KeyStore::plan_compact_entry(const WrappedKey &e, KeyWrapper &wrapper, Updates &upd,
					  std::optional<Key> &tekp) const
{
	bool to_tek = e.wrapped.id.kind == KeyKind::Tek;
	if (to_tek && tekp && e.carried.empty())
		return ReceiveError::None;
	std::vector<Key> parts;
	std::optional<KeySlot> replaced;
	if (to_tek) {
		for (const auto &w : e.wrapping) {
			auto c = pending(upd, w.id);
			if (!c)
				break;
			parts.push_back(c->key);
		}
		if (parts.size() != e.wrapping.size())
			return ReceiveError::None;
	} else {
		replaced = pending(upd, e.wrapped.id);
		if (!replaced || !tekp)
			return ReceiveError::None;
		parts = {replaced->key, *tekp};
	}
	std::vector<const Key *> ptrs;
	for (const auto &p : parts)
		ptrs.push_back(&p);
	Key kek = combine_keys(ptrs);
	if (!to_tek) {
		KeySlot ns;
		ns.version = replaced->version + 1;
		if (e.is_derived()) {
			ns.key = derive_replacement(kek);
		} else {
			auto got = wrapper.unwrap_key(kek, e.ciphertext);
			if (!got)
				return ReceiveError::Integrity;
			ns.key = *got;
		}
		upd[e.wrapped.id] = ns;
		return ReceiveError::None;
	}
	if (e.carried.empty()) {
		auto got = wrapper.unwrap_key(kek, e.ciphertext);
		if (!got)
			return ReceiveError::Integrity;
		tekp = *got;
		return ReceiveError::None;
	}
	return plan_carried(e, kek, wrapper, upd, tekp);
}

// TEK' with the KEKs carried along in one wrap.
ReceiveError KeyStore::plan_carried(const WrappedKey &e, const Key &kek, KeyWrapper &wrapper,
				    Updates &upd, std::optional<Key> &tekp) const
{
	auto plain = wrapper.unwrap(kek, e.ciphertext.data(), e.ciphertext.size());
	if (!plain || plain->size() != kKeyBytes * (1 + e.carried.size()))
		return ReceiveError::Integrity;
	Key k;
	std::copy(plain->begin(), plain->begin() + kKeyBytes, k.begin());
	tekp = k;
	for (size_t i = 0; i < e.carried.size(); i++) {
		auto c = pending(upd, e.carried[i].id);
		if (!c)
			return ReceiveError::Integrity;
		KeySlot ns;
		ns.version = c->version + 1;
		std::copy(plain->begin() + kKeyBytes * (1 + i),
			  plain->begin() + kKeyBytes * (2 + i), ns.key.begin());
		upd[e.carried[i].id] = ns;
	}
	std::fill(plain->begin(), plain->end(), 0);
	return ReceiveError::None;
}

// KEKs the removed members held: replaced after the entries.
void KeyStore::plan_leaver_keks(const LeaverNotice &leavers, const Key &tekp, Updates &upd) const
{
	for (const KeyId &id : notice_keks(leavers)) {
		auto c = pending(upd, id);
		if (!c)
			continue;
		KeySlot ns;
		ns.version = c->version + 1;
		ns.key = derive_replacement(combine_keys({&c->key, &tekp}));
		upd[id] = ns;
	}
}

ReceiveResult KeyStore::receive_compact(const KeyMessage &m,
					KeyWrapper &wrapper)
{
	ReceiveResult res;
	auto fail = [&](ReceiveError e) {
		ReceiveResult bad;
		bad.error = e;
		return bad;
	};
	auto tek = current(KeyId::tek());
	if (!tek || tek->version != m.base.version ||
	    tek->revision != m.base.revision)
		return fail(ReceiveError::OutOfDate);
	// Changes are collected here and committed only if the whole
	// message applies.
	Updates upd;
	std::optional<Key> tekp;
	if (m.tek.version == m.base.version) {
		plan_revision_step(m, *tek, upd, tekp);
	} else {
		for (const auto &e : m.entries) {
			if (e.is_notice())
				continue;
			ReceiveError err = plan_compact_entry(e, wrapper, upd, tekp);
			if (err != ReceiveError::None)
				return fail(err);
		}
	}
	if (!tekp)
		return fail(ReceiveError::Excluded);
	if (!m.leavers.empty())
		plan_leaver_keks(m.leavers, *tekp, upd);
	for (const auto &kv : upd)
		add(kv.first, kv.second);
	add(KeyId::tek(), KeySlot{*tekp, m.tek.version, m.tek.revision, 0});
	res.learned = upd.size() + 1;
	return res;
}

std::optional<Key> KeyStore::find(const KeyRef &ref) const
{
	auto it = keys_.find(ref.id);
	if (it == keys_.end())
		return std::nullopt;
	for (const auto &v : it->second) {
		if (v.version != ref.version || v.creator != ref.creator)
			continue;
		if (v.revision > ref.revision)
			return std::nullopt;
		// Revisions are one-way steps; a long jump is not a
		// legitimate message. Step from the newest revision known
		// when the reference is at or past it.
		if (ref.revision >= v.cur_revision) {
			if (ref.revision - v.cur_revision > kMaxRevisionStep)
				return std::nullopt;
			return advance_revision(v.cur_key, ref.revision - v.cur_revision);
		}
		if (ref.revision - v.revision > kMaxRevisionStep)
			return std::nullopt;
		return advance_revision(v.key, ref.revision - v.revision);
	}
	return std::nullopt;
}

// Whether this store holds a revision at or before a notice's.
bool KeyStore::holds_older(const KeyRef &ref) const
{
	auto it = keys_.find(ref.id);
	if (it == keys_.end())
		return false;
	for (const auto &v : it->second)
		if (v.version == ref.version && v.creator == ref.creator &&
		    v.revision <= ref.revision)
			return true;
	return false;
}

// Unwraps TEK' and the KEKs carried with it; the carried ones are added.
std::optional<Key> KeyStore::unwrap_carried(const WrappedKey &e, const Key &kek, KeyWrapper &wrapper,
					    size_t &learned)
{
	auto plain = wrapper.unwrap(kek, e.ciphertext.data(), e.ciphertext.size());
	if (!plain || plain->size() != kKeyBytes * (1 + e.carried.size()))
		return std::nullopt;
	Key k;
	std::copy(plain->begin(), plain->begin() + kKeyBytes, k.begin());
	for (size_t c = 0; c < e.carried.size(); c++) {
		KeySlot s;
		std::copy(plain->begin() + kKeyBytes * (1 + c),
			  plain->begin() + kKeyBytes * (2 + c), s.key.begin());
		s.version = e.carried[c].version;
		s.revision = e.carried[c].revision;
		s.creator = e.carried[c].creator;
		add(e.carried[c].id, s);
		learned++;
	}
	std::fill(plain->begin(), plain->end(), 0);
	return k;
}

// One entry of a full message: Pending while the keys it is wrapped under
// are missing, Done once nothing more can come of it, Learned if it gave
// a new key.
KeyStore::EntryStep KeyStore::apply_entry(const WrappedKey &e, KeyWrapper &wrapper, size_t &learned)
{
	if (e.is_notice())
		note_revision(e.wrapped);
	bool known = knows(e.wrapped);
	for (const auto &c : e.carried)
		known = known && knows(c);
	if (known)
		return EntryStep::Done;
	if (e.is_notice()) {
		// Holders of an older revision advance.
		return holds_older(e.wrapped) ? EntryStep::Done : EntryStep::Pending;
	}
	std::vector<Key> parts;
	for (const auto &w : e.wrapping) {
		auto k = find(w);
		if (!k)
			break;
		parts.push_back(*k);
	}
	if (parts.size() != e.wrapping.size())
		return EntryStep::Pending;
	std::vector<const Key *> ptrs;
	for (const auto &p : parts)
		ptrs.push_back(&p);
	Key kek = combine_keys(ptrs);
	std::optional<Key> got;
	if (e.is_derived())
		got = derive_replacement(kek);
	else if (e.carried.empty())
		got = wrapper.unwrap_key(kek, e.ciphertext);
	else
		got = unwrap_carried(e, kek, wrapper, learned);
	if (!got)
		return EntryStep::Done;
	KeySlot s;
	s.key = *got;
	s.version = e.wrapped.version;
	s.revision = e.wrapped.revision;
	s.creator = e.wrapped.creator;
	add(e.wrapped.id, s);
	learned++;
	return EntryStep::Learned;
}

// A leaver notice, after the entries, at the versions the server
// replaced (a compact message from the wire went to receive_compact()).
size_t KeyStore::apply_leaver_notice(const KeyMessage &m)
{
	size_t learned = 0;
	auto tekp = m.leavers.empty() ? std::nullopt : find(m.tek);
	if (!tekp)
		return 0;
	for (const KeyRef &r : m.leavers.replaced) {
		auto k = find(r);
		if (!k)
			continue;
		KeyRef nr = r;
		nr.version++;
		nr.revision = 0;
		nr.creator = 0;
		if (knows(nr))
			continue;
		add(r.id, KeySlot{derive_replacement(combine_keys({&*k, &*tekp})),
				  nr.version, 0, 0});
		learned++;
	}
	return learned;
}

size_t KeyStore::apply(const KeyMessage &m, KeyWrapper &wrapper)
{
	if (m.versions_implied)
		return receive_compact(m, wrapper).learned;
	size_t learned = 0;
	std::vector<bool> done(m.entries.size(), false);
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < m.entries.size(); i++) {
			if (done[i])
				continue;
			EntryStep step = apply_entry(m.entries[i], wrapper, learned);
			done[i] = step != EntryStep::Pending;
			progress = progress || step == EntryStep::Learned;
		}
	}
	return learned + apply_leaver_notice(m);
}

std::optional<KeySlot> KeyStore::newest(const KeyId &id) const
{
	auto it = keys_.find(id);
	if (it == keys_.end() || it->second.empty())
		return std::nullopt;
	const Version *best = nullptr;
	for (const auto &v : it->second)
		if (!best || v.version > best->version)
			best = &v;
	KeySlot s;
	s.key = best->key;
	s.version = best->version;
	s.revision = best->revision;
	s.creator = best->creator;
	return s;
}

void KeyStore::merge_from(const KeyStore &other)
{
	for (const auto &kv : other.keys_)
		for (const auto &v : kv.second)
			add(kv.first, KeySlot{v.key, v.version, v.revision,
					      v.creator});
}

size_t KeyStore::size() const
{
	size_t n = 0;
	for (const auto &kv : keys_)
		n += kv.second.size();
	return n;
}

} // namespace groupsec::flatkey
