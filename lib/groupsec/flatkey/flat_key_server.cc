// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/flat_key_server.h"

#include <algorithm>
#include <iterator>
#include <cstdint>
#include <unordered_set>

namespace groupsec::flatkey {

namespace {

std::string key_of(const MemberId &id)
{
	return std::string(id.begin(), id.end());
}

} // namespace

KeyStore MemberKeys::store() const
{
	KeyStore s;
	s.add(KeyId::tek(), tek);
	for (size_t i = 0; i < keks.size(); i++)
		s.add(kek_ids[i], keks[i]);
	s.add(KeyId::member_key(handle), individual);
	return s;
}

FlatKeyServer::FlatKeyServer(ServerConfig config, RandomSource &rng,
			     const Clock &clock)
	: config_(std::move(config)), rng_(rng), clock_(clock),
	  mk_(config_.layout.member_keks())
{
	const IdLayout &l = config_.layout;
	tek_.key = rng_.key();
	tek_.version = 1;
	slots_.resize(l.kek_slots());
	slot_ids_.resize(l.kek_slots());
	holders_.assign(l.kek_slots(), 0);
	pool_base_.assign(l.kek_slots(), 0);
	chain_.resize(l.kek_slots());
	for (size_t t = 0; t < l.tables(); t++)
		for (size_t s = 0; s < l.radix(t).size(); s++)
			for (unsigned v = 0; v < l.radix(t)[s]; v++) {
				size_t i = l.slot(t, s, v);
				slots_[i].key = rng_.key();
				slots_[i].version = 1;
				slot_ids_[i] = KeyId::kek(
					static_cast<uint8_t>(t),
					static_cast<uint8_t>(s),
					static_cast<uint8_t>(v));
			}
}

KeyRef FlatKeyServer::slot_ref(size_t slot) const
{
	KeyRef r;
	r.id = slot_ids_[slot];
	r.version = slots_[slot].version;
	r.revision = slots_[slot].revision;
	return r;
}

KeyRef FlatKeyServer::kek_ref(size_t table, size_t symbol, unsigned value) const
{
	return slot_ref(config_.layout.slot(table, symbol, value));
}

KeyRef FlatKeyServer::current_tek() const
{
	KeyRef r;
	r.version = tek_.version;
	r.revision = tek_.revision;
	return r;
}

bool FlatKeyServer::is_member(const MemberId &id) const
{
	return by_id_.count(key_of(id)) != 0;
}

void FlatKeyServer::retire_tek()
{
	retired_.push_back(Retired{tek_, clock_.now_ms() + config_.grace_ms});
}

bool FlatKeyServer::pool_knows_tek(uint32_t version) const
{
	auto it = pool_teks_.upper_bound(version);
	if (it == pool_teks_.begin())
		return false;
	--it;
	return version <= it->second;
}

void FlatKeyServer::pool_add_teks(uint32_t first, uint32_t last)
{
	if (first > last)
		return;
	uint64_t lo = first, hi = last;
	auto it = pool_teks_.upper_bound(first);
	if (it != pool_teks_.begin()) {
		auto p = std::prev(it);
		if (uint64_t(p->second) + 1 >= lo) {
			lo = p->first;
			hi = std::max<uint64_t>(hi, p->second);
			it = pool_teks_.erase(p);
		}
	}
	while (it != pool_teks_.end() && it->first <= hi + 1) {
		hi = std::max<uint64_t>(hi, it->second);
		it = pool_teks_.erase(it);
	}
	pool_teks_[static_cast<uint32_t>(lo)] = static_cast<uint32_t>(hi);
}

bool FlatKeyServer::pool_knows(size_t slot) const
{
	if (!pool_base_[slot])
		return false;
	for (uint32_t v : chain_[slot])
		if (!pool_knows_tek(v))
			return false;
	return true;
}

bool FlatKeyServer::kek_exposed(size_t table, size_t symbol,
				unsigned value) const
{
	return pool_knows(config_.layout.slot(table, symbol, value));
}

bool FlatKeyServer::tek_exposed() const
{
	return pool_knows_tek(tek_.version);
}

JoinResult FlatKeyServer::join(const MemberId &id)
{
	return join_batch({id});
}

// Why ids cannot join, or empty if they can.
std::string FlatKeyServer::join_refusal(const std::vector<MemberId> &ids) const
{
	const IdLayout &l = config_.layout;
	std::unordered_set<std::string> seen;
	for (const auto &id : ids) {
		if (!l.valid(id))
			return "member ID does not fit the layout";
		if (is_member(id) || !seen.insert(key_of(id)).second)
			return "member ID already in use";
	}
	if (ids.empty())
		return "no member";
	return {};
}

// The symbols of the newcomers and the KEK slots to advance, in the order
// of their first use; changes nothing.
FlatKeyServer::JoinPlan FlatKeyServer::plan_join(const std::vector<MemberId> &ids) const
{
	const IdLayout &l = config_.layout;
	JoinPlan plan;
	plan.base.resize(mk_);
	for (size_t t = 0, j = 0; t < l.tables(); t++)
		for (size_t s = 0; s < l.radix(t).size(); s++, j++)
			plan.base[j] = l.slot(t, s, 0);
	std::vector<bool> seen(slots_.size(), false);
	for (const auto &id : ids) {
		plan.symbols.push_back(l.all_symbols(id));
		for (size_t j = 0; j < mk_; j++) {
			size_t slot = plan.base[j] + plan.symbols.back()[j];
			if (!seen[slot] && holders_[slot] > 0)
				plan.advance.push_back(slot);
			seen[slot] = true;
		}
	}
	return plan;
}

// Gives a newcomer a handle (a departed member's under a new generation,
// or a fresh one) and its keys.
MemberKeys FlatKeyServer::admit(const MemberId &id, const std::vector<uint8_t> &symbols,
				const std::vector<size_t> &base)
{
	// Handles of departed members are reused under a new
	// generation, so an old individual key is never named again.
	uint32_t h;
	if (!free_.empty()) {
		h = free_.back();
		free_.pop_back();
		std::copy(symbols.begin(), symbols.end(), syms_.begin() + h * mk_);
		individual_[h] = rng_.key();
		live_[h] = 1;
		joined_version_[h] = tek_.version;
		generation_[h]++;
	} else {
		h = static_cast<uint32_t>(live_.size());
		syms_.insert(syms_.end(), symbols.begin(), symbols.end());
		individual_.push_back(rng_.key());
		live_.push_back(1);
		joined_version_.push_back(tek_.version);
		generation_.push_back(1);
	}
	by_id_.emplace(key_of(id), h);
	MemberKeys mkeys;
	mkeys.handle = h;
	mkeys.id = id;
	mkeys.tek = tek_;
	for (size_t j = 0; j < mk_; j++) {
		size_t slot = base[j] + symbols[j];
		holders_[slot]++;
		mkeys.kek_ids.push_back(slot_ids_[slot]);
		mkeys.keks.push_back(slots_[slot]);
	}
	mkeys.individual.key = individual_[h];
	mkeys.individual.version = generation_[h];
	return mkeys;
}

JoinResult FlatKeyServer::join_batch(const std::vector<MemberId> &ids)
{
	JoinResult res;
	res.error = join_refusal(ids);
	if (!res.error.empty())
		return res;
	const JoinPlan plan = plan_join(ids);

	// Every key a newcomer receives moves one revision forward, so that
	// it cannot read what was sent before it joined.
	res.announcement.format = kCompactFormat;
	res.announcement.base = current_tek();
	retire_tek();
	tek_.key = advance_revision(tek_.key);
	tek_.revision++;
	std::vector<WrappedKey> kek_notices;
	for (size_t slot : plan.advance) {
		slots_[slot].key = advance_revision(slots_[slot].key);
		slots_[slot].revision++;
		WrappedKey notice;
		notice.wrapped = slot_ref(slot);
		kek_notices.push_back(notice);
	}
	for (size_t i = 0; i < ids.size(); i++)
		res.members.push_back(admit(ids[i], plan.symbols[i], plan.base));
	// Holders of the advanced KEKs step them too (the newcomers' IDs are
	// not secret); a compact message names keys without revisions.
	WrappedKey notice;
	notice.wrapped = current_tek();
	res.announcement.tek = notice.wrapped;
	res.announcement.entries.push_back(notice);
	for (auto &n : kek_notices)
		res.announcement.entries.push_back(std::move(n));
	res.ok = true;
	return res;
}

RekeyResult FlatKeyServer::leave(const MemberId &id)
{
	return leave_batch({id});
}

// Covers the members in `on` by product terms (conjunctions of KEKs of the
// primary table) that contain none of the members in `off`. Symbols on which
// every `off` member agrees are settled first: each other value of such a
// symbol is a one-literal term. Then the symbol that splits `off` most evenly
// is branched on. Terms that would contain no member are never emitted
// (unused IDs are don't-cares). owner[h] is set to the index of the term
// that first covers member h.
void FlatKeyServer::cover(std::vector<uint32_t> on, std::vector<uint32_t> off,
			  std::vector<bool> &used, std::vector<Literal> &lits,
			  std::vector<std::vector<Literal>> &out,
			  std::vector<uint32_t> &owner) const
{
	std::vector<size_t> settled;
	for (;;) {
		if (on.empty())
			break;
		if (off.empty()) {
			for (uint32_t h : on)
				owner[h] = static_cast<uint32_t>(out.size());
			out.push_back(lits);
			break;
		}
		bool progress = settle(on, off, used, lits, out, owner, settled);
		if (on.empty())
			break;
		if (progress)
			continue;
		branch(std::move(on), std::move(off), used, lits, out, owner);
		break;
	}
	for (size_t s : settled)
		used[s] = false;
}

// One pass over the unused symbols on which every `off` member agrees:
// each other value present in `on` becomes a one-literal term, and `on`
// keeps only the members with the agreed value. Settled symbols are
// marked used and appended to `settled`; returns whether any was.
bool FlatKeyServer::settle(std::vector<uint32_t> &on, const std::vector<uint32_t> &off,
			   std::vector<bool> &used, std::vector<Literal> &lits,
			   std::vector<std::vector<Literal>> &out,
			   std::vector<uint32_t> &owner, std::vector<size_t> &settled) const
{
	const auto &radix = config_.layout.radix(0);
	const size_t w = radix.size();
	std::vector<uint32_t> count, term_of;
	bool progress = false;
	for (size_t s = 0; s < w && !on.empty(); s++) {
		if (used[s])
			continue;
		uint8_t v0 = sym(off[0], s);
		bool agree = true;
		for (uint32_t h : off)
			if (sym(h, s) != v0) {
				agree = false;
				break;
			}
		if (!agree)
			continue;
		count.assign(radix[s], 0);
		for (uint32_t h : on)
			count[sym(h, s)]++;
		term_of.assign(radix[s], 0);
		for (unsigned v = 0; v < radix[s]; v++) {
			if (v == v0 || count[v] == 0)
				continue;
			lits.push_back(Literal{static_cast<uint16_t>(s),
					       static_cast<uint8_t>(v)});
			term_of[v] = static_cast<uint32_t>(out.size());
			out.push_back(lits);
			lits.pop_back();
		}
		if (count[v0] != on.size()) {
			std::vector<uint32_t> keep;
			keep.reserve(count[v0]);
			for (uint32_t h : on)
				if (sym(h, s) == v0)
					keep.push_back(h);
				else
					owner[h] = term_of[sym(h, s)];
			on.swap(keep);
		}
		used[s] = true;
		settled.push_back(s);
		progress = true;
	}
	return progress;
}

// Branches on the unused symbol splitting `off` most evenly and covers
// each value's share of `on` recursively.
void FlatKeyServer::branch(std::vector<uint32_t> on, std::vector<uint32_t> off,
			   std::vector<bool> &used, std::vector<Literal> &lits,
			   std::vector<std::vector<Literal>> &out,
			   std::vector<uint32_t> &owner) const
{
	const auto &radix = config_.layout.radix(0);
	const size_t w = radix.size();
	std::vector<uint32_t> count;
	size_t best = w;
	size_t best_max = SIZE_MAX;
	for (size_t s = 0; s < w; s++) {
		if (used[s])
			continue;
		count.assign(radix[s], 0);
		for (uint32_t h : off)
			count[sym(h, s)]++;
		size_t mx = *std::max_element(count.begin(), count.end());
		if (mx < best_max) {
			best_max = mx;
			best = s;
		}
	}
	if (best == w)
		return; // cannot happen: on and off are disjoint
	used[best] = true;
	std::vector<std::vector<uint32_t>> on_v(radix[best]),
		off_v(radix[best]);
	for (uint32_t h : on)
		on_v[sym(h, best)].push_back(h);
	for (uint32_t h : off)
		off_v[sym(h, best)].push_back(h);
	for (unsigned v = 0; v < radix[best]; v++) {
		if (on_v[v].empty())
			continue;
		lits.push_back(Literal{static_cast<uint16_t>(best),
				       static_cast<uint8_t>(v)});
		cover(std::move(on_v[v]), std::move(off_v[v]), used, lits,
		      out, owner);
		lits.pop_back();
	}
	used[best] = false;
}

// Why ids cannot leave, or empty if they can; off gets their handles.
std::string FlatKeyServer::leave_refusal(const std::vector<MemberId> &ids,
					 std::vector<uint32_t> &off) const
{
	std::unordered_set<std::string> seen;
	for (const auto &id : ids) {
		auto it = by_id_.find(key_of(id));
		if (it == by_id_.end())
			return "not a member";
		if (!seen.insert(it->first).second)
			return "member listed twice";
		off.push_back(it->second);
	}
	if (off.empty())
		return "no member";
	return {};
}

std::vector<size_t> FlatKeyServer::table_bases() const
{
	const IdLayout &l = config_.layout;
	std::vector<size_t> base(mk_);
	for (size_t t = 0, j = 0; t < l.tables(); t++)
		for (size_t s = 0; s < l.radix(t).size(); s++, j++)
			base[j] = l.slot(t, s, 0);
	return base;
}

std::vector<uint32_t> FlatKeyServer::live_members(size_t leaving) const
{
	std::vector<uint32_t> on;
	on.reserve(by_id_.size() - leaving);
	for (uint32_t h = 0; h < live_.size(); h++)
		if (live_[h])
			on.push_back(h);
	return on;
}

bool FlatKeyServer::term_in(const std::vector<Literal> &t, const std::vector<uint8_t> &set) const
{
	for (const auto &lit : t)
		if (!set[config_.layout.slot(0, lit.symbol, lit.value)])
			return false;
	return true;
}

std::vector<KeyId> FlatKeyServer::term_ids(const std::vector<Literal> &t) const
{
	std::vector<KeyId> out;
	for (const auto &lit : t)
		out.push_back(slot_id(config_.layout.slot(0, lit.symbol, lit.value)));
	return out;
}

// The removed members' pool grows by the leavers: they knew every TEK
// made while they were members (at revision 0: those made after they
// joined) and the current version of each KEK they hold. Runs once the
// batch is accepted: what the pool knows then decides the plan.
void FlatKeyServer::pool_add_leavers(LeavePlan &p)
{
	p.in_now.assign(slots_.size(), 0);
	p.remaining = holders_;
	for (uint32_t h : p.off) {
		live_[h] = 0;
		pool_add_teks(joined_version_[h] + 1, tek_.version);
		for (size_t j = 0; j < mk_; j++) {
			size_t slot = p.base[j] + sym(h, j);
			p.in_now[slot] = 1;
			p.remaining[slot]--;
		}
	}
	p.in_hist.assign(slots_.size(), 0);
	for (size_t slot = 0; slot < slots_.size(); slot++) {
		if (p.in_now[slot]) {
			pool_base_[slot] = 1;
			chain_[slot].clear();
		}
		p.in_hist[slot] = pool_knows(slot);
	}
}

// Minimized cover of the remaining members by product terms, and the
// terms the defended coalition could open. One leaver: the excluder
// table, every other value of every symbol that still has a holder,
// found without walking the members. With extra tables, batches are
// covered by single KEKs no leaver holds (plan_family_cover); the
// product-term cover is tried as well for small batches only.
void FlatKeyServer::plan_term_cover(LeavePlan &p, RekeyResult &res) const
{
	const IdLayout &l = config_.layout;
	const std::vector<uint32_t> &off = p.off;
	if (p.families && off.size() >= kFamilyOnlyBatch) {
		p.on = live_members(off.size());
		p.have_on = true;
	} else if (off.size() == 1) {
		for (size_t s = 0; s < l.width(); s++)
			for (unsigned v = 0; v < l.radix(0)[s]; v++)
				if (v != sym(off[0], s) &&
				    p.remaining[l.slot(0, s, v)] > 0)
					p.terms.push_back({Literal{
						static_cast<uint16_t>(s),
						static_cast<uint8_t>(v)}});
	} else {
		p.on = live_members(off.size());
		p.have_on = true;
		if (!p.on.empty()) {
			std::vector<bool> used(l.width(), false);
			std::vector<Literal> lits;
			p.owner.assign(live_.size(), UINT32_MAX);
			cover(p.on, off, used, lits, p.terms, p.owner);
		}
	}
	CollusionReport &col = res.collusion;
	p.bad.assign(p.terms.size(), 0);
	for (size_t i = 0; i < p.terms.size(); i++) {
		if (term_in(p.terms[i], p.in_hist))
			col.exposed_terms.push_back(term_ids(p.terms[i]));
		if (term_in(p.terms[i], p.defend())) {
			p.bad[i] = 1;
			p.bad_terms.push_back(i);
		}
	}
	col.flagged = !col.exposed_terms.empty();
	col.whole_table = std::all_of(p.defend().begin(), p.defend().end(),
				      [](uint8_t b) { return b != 0; });
	res.resisted = !p.bad_terms.empty();
}

// Members of a term the coalition could open get TEK' under one KEK
// of theirs it lacks (preferring KEKs no removed member could
// rebuild, then the KEK with most holders), else under their
// individual key.
void FlatKeyServer::plan_resist(LeavePlan &p, RekeyResult &res) const
{
	p.chosen.assign(slots_.size(), 0);
	if (!res.resisted)
		return;
	if (!p.have_on) {
		p.on = live_members(p.off.size());
		p.have_on = true;
	}
	const std::vector<uint8_t> &defend = p.defend();
	auto matches = [&](uint32_t h, const std::vector<Literal> &t) {
		for (const auto &lit : t)
			if (sym(h, lit.symbol) != lit.value)
				return false;
		return true;
	};
	for (uint32_t h : p.on) {
		bool need = false;
		if (!p.owner.empty())
			need = p.owner[h] != UINT32_MAX && p.bad[p.owner[h]];
		else
			for (size_t i = 0; !need && i < p.bad_terms.size(); i++)
				need = matches(h, p.terms[p.bad_terms[i]]);
		if (!need)
			continue;
		size_t pick = SIZE_MAX;
		bool have = false;
		for (size_t j = 0; j < mk_ && !have; j++) {
			size_t slot = p.base[j] + sym(h, j);
			if (defend[slot])
				continue;
			if (p.chosen[slot])
				have = true;
			else if (pick == SIZE_MAX ||
				 (p.in_hist[pick] && !p.in_hist[slot]) ||
				 (p.in_hist[pick] == p.in_hist[slot] &&
				  p.remaining[slot] > p.remaining[pick]))
				pick = slot;
		}
		if (have)
			continue;
		if (pick == SIZE_MAX)
			res.collusion.covered_members.push_back(h);
		else
			p.chosen[pick] = 1;
	}
}

// Runs of consecutive extra tables with the same uniform V.
std::vector<std::vector<size_t>> FlatKeyServer::uniform_runs() const
{
	const IdLayout &l = config_.layout;
	std::vector<std::vector<size_t>> runs;
	for (size_t t = 1; t < l.tables(); t++) {
		const auto &r = l.radix(t);
		bool uniform = std::all_of(r.begin(), r.end(),
					   [&](uint16_t v) { return v == r[0]; });
		const auto &prev = runs.empty() ? r : l.radix(runs.back().back());
		if (!runs.empty() && uniform && prev[0] == r[0] &&
		    std::all_of(prev.begin(), prev.end(),
				[&](uint16_t v) { return v == prev[0]; }))
			runs.back().push_back(t);
		else
			runs.push_back({t});
	}
	return runs;
}

// One family plan: walk the tables in `order`, taking every value no
// member of the defended coalition holds that an uncovered member has.
// Gives up (false) once it takes `limit` KEKs; `stamp`/`run_id` mark the
// KEKs taken in this run.
bool FlatKeyServer::family_plan(const LeavePlan &p, const std::vector<uint8_t> &open,
				const std::vector<size_t> &order, size_t limit,
				std::vector<uint32_t> &stamp, uint32_t run_id,
				std::vector<size_t> &picks, std::vector<uint32_t> &unc) const
{
	const IdLayout &l = config_.layout;
	const std::vector<uint8_t> &defend = p.defend();
	std::vector<uint32_t> next;
	picks.clear();
	unc = p.on;
	for (size_t t : order) {
		for (size_t s = 0; s < l.radix(t).size() && !unc.empty(); s++) {
			size_t j = l.symbol_index(t, s);
			if (!open[j])
				continue;
			next.clear();
			for (uint32_t h : unc) {
				size_t slot = p.base[j] + sym(h, j);
				if (defend[slot]) {
					next.push_back(h);
				} else if (stamp[slot] != run_id) {
					stamp[slot] = run_id;
					picks.push_back(slot);
				}
			}
			unc.swap(next);
			if (picks.size() >= limit)
				return false;
		}
		if (unc.empty())
			break;
	}
	return true;
}

// Family cover: walk the symbols of one family (then the other
// tables), taking every value no member of the defended coalition
// holds that an uncovered member has, until all are covered; members
// left get their individual key. Each family is tried first in turn;
// the cheapest plan is kept if it beats the product-term cover.
void FlatKeyServer::plan_family_cover(LeavePlan &p, RekeyResult &res) const
{
	const IdLayout &l = config_.layout;
	CollusionReport &col = res.collusion;
	size_t best = SIZE_MAX;
	if (!(p.off.size() >= kFamilyOnlyBatch)) {
		best = col.covered_members.size();
		for (size_t i = 0; i < p.terms.size(); i++)
			best += !p.bad[i];
		for (uint8_t c : p.chosen)
			best += c;
	}
	// Symbols with a value to offer (undefended, with holders).
	std::vector<uint8_t> open(mk_, 0);
	for (size_t j = 0; j < mk_; j++) {
		size_t end = j + 1 < mk_ ? p.base[j + 1] : slots_.size();
		for (size_t slot = p.base[j]; slot < end && !open[j]; slot++)
			open[j] = !p.defend()[slot] && p.remaining[slot] > 0;
	}
	std::vector<uint32_t> stamp(slots_.size(), 0);
	uint32_t run_id = 0;
	std::vector<size_t> best_picks, picks;
	std::vector<uint32_t> best_left, unc;
	bool found = false;
	for (const auto &first : uniform_runs()) {
		std::vector<size_t> order = first;
		for (size_t t = 1; t < l.tables(); t++)
			if (std::find(first.begin(), first.end(), t) == first.end())
				order.push_back(t);
		order.push_back(0);
		run_id++;
		if (!family_plan(p, open, order, best, stamp, run_id, picks, unc) ||
		    picks.size() + unc.size() >= best)
			continue;
		best = picks.size() + unc.size();
		best_picks = picks;
		best_left = unc;
		found = true;
	}
	if (!found)
		return;
	p.terms.clear();
	p.bad.clear();
	res.resisted = false;
	col.exposed_terms.clear();
	std::fill(p.chosen.begin(), p.chosen.end(), 0);
	for (size_t slot : best_picks) {
		p.chosen[slot] = 1;
		if (p.in_hist[slot])
			col.exposed_terms.push_back({slot_id(slot)});
	}
	col.flagged = !col.exposed_terms.empty();
	col.covered_members = best_left;
	res.family_cover = true;
}

// New TEK, sent under the planned terms, KEKs and individual keys.
void FlatKeyServer::commit_new_tek(const LeavePlan &p, RekeyResult &res)
{
	const IdLayout &l = config_.layout;
	CollusionReport &col = res.collusion;
	retire_tek();
	KeyMessage &msg = res.message;
	msg.format = kCompactFormat;
	msg.base = current_tek();
	tek_.key = rng_.key();
	tek_.version = p.epoch;
	tek_.revision = 0;
	res.new_tek = current_tek();
	msg.tek = res.new_tek;
	auto wrap_tek = [&](std::vector<KeyRef> refs,
			    const std::vector<const Key *> &keys) {
		WrappedKey e;
		e.wrapping = std::move(refs);
		e.wrapped = res.new_tek;
		e.ciphertext = wrapper_.wrap(combine_keys(keys), tek_.key);
		msg.entries.push_back(std::move(e));
	};
	for (size_t i = 0; i < p.terms.size(); i++) {
		if (p.bad[i])
			continue;
		std::vector<KeyRef> refs;
		std::vector<const Key *> keys;
		for (const auto &lit : p.terms[i]) {
			size_t slot = l.slot(0, lit.symbol, lit.value);
			refs.push_back(slot_ref(slot));
			keys.push_back(&slots_[slot].key);
		}
		if (term_in(p.terms[i], p.in_hist))
			col.residual_terms.push_back(term_ids(p.terms[i]));
		wrap_tek(std::move(refs), keys);
		res.product_terms++;
	}
	for (size_t slot = 0; slot < slots_.size(); slot++)
		if (p.chosen[slot]) {
			if (p.in_hist[slot])
				col.residual_terms.push_back({slot_id(slot)});
			wrap_tek({slot_ref(slot)}, {&slots_[slot].key});
			res.product_terms++;
		}
	for (uint32_t h : col.covered_members) {
		KeyRef r;
		r.id = KeyId::member_key(h);
		r.version = generation_[h];
		wrap_tek({r}, {&individual_[h]});
		res.unicast++;
	}
	res.full_rekey = col.whole_table;
	col.residual = !col.residual_terms.empty();
	// The removed members learn TEK' from a residual wrap.
	if (col.residual)
		pool_add_teks(p.epoch, p.epoch);
}

// Every KEK a leaver held is replaced, for the remaining holders
// under old KEK / TEK'. With Resist, so is every KEK the removed
// members could rebuild. The replacement is known to the removed
// members if they know the old version and TEK'.
void FlatKeyServer::commit_kek_replacements(const LeavePlan &p, RekeyResult &res)
{
	KeyMessage &msg = res.message;
	for (size_t slot = 0; slot < slots_.size(); slot++) {
		if (!p.in_now[slot] &&
		    !(config_.collusion == CollusionPolicy::Resist &&
		      p.in_hist[slot]))
			continue;
		KeyRef old_ref = slot_ref(slot);
		Key old_key = slots_[slot].key;
		KeySlot &ns = slots_[slot];
		ns.version++;
		ns.revision = 0;
		res.keks_replaced++;
		if (p.remaining[slot] == 0) {
			ns.key = rng_.key();
			pool_base_[slot] = 0;
			chain_[slot].clear();
			continue;
		}
		chain_[slot].push_back(p.epoch);
		Key kek = combine_keys({&old_key, &tek_.key});
		if (config_.refresh == KekRefresh::Derive && p.in_now[slot]) {
			// named by the leaver notice
			ns.key = derive_replacement(kek);
			msg.leavers.replaced.push_back(old_ref);
			continue;
		}
		WrappedKey e;
		e.wrapping = {old_ref, res.new_tek};
		e.wrapped = slot_ref(slot);
		if (config_.refresh == KekRefresh::Derive) {
			ns.key = derive_replacement(kek);
		} else {
			ns.key = rng_.key();
			e.ciphertext = wrapper_.wrap(kek, ns.key);
		}
		msg.entries.push_back(std::move(e));
	}
}

// The leaver notice of a derived refresh: the layout and the leavers'
// IDs in ascending index (symbol 0 least significant).
void FlatKeyServer::leaver_notice(const LeavePlan &p, KeyMessage &msg) const
{
	const IdLayout &l = config_.layout;
	msg.leavers.radix.reserve(l.tables());
	for (size_t t = 0; t < l.tables(); t++)
		msg.leavers.radix.push_back(l.radix(t));
	for (uint32_t h : p.off)
		msg.leavers.ids.push_back(MemberId(
			syms_.begin() + h * mk_,
			syms_.begin() + h * mk_ + l.width()));
	std::sort(msg.leavers.ids.begin(), msg.leavers.ids.end(),
		  [](const MemberId &a, const MemberId &b) {
			  return std::lexicographical_compare(
				  a.rbegin(), a.rend(), b.rbegin(),
				  b.rend());
		  });
}

RekeyResult FlatKeyServer::leave_batch(const std::vector<MemberId> &ids)
{
	RekeyResult res;
	const IdLayout &l = config_.layout;
	LeavePlan p;
	res.error = leave_refusal(ids, p.off);
	if (!res.error.empty())
		return res;
	p.base = table_bases();
	p.epoch = tek_.version + 1; // version of TEK'
	p.resist = config_.collusion == CollusionPolicy::Resist;
	p.families = l.tables() > 1 && p.off.size() > 1;

	pool_add_leavers(p);
	plan_term_cover(p, res);
	plan_resist(p, res);
	if (p.families)
		plan_family_cover(p, res);

	commit_new_tek(p, res);
	commit_kek_replacements(p, res);
	if (config_.refresh == KekRefresh::Derive)
		leaver_notice(p, res.message);
	holders_ = std::move(p.remaining);
	for (uint32_t h : p.off) {
		by_id_.erase(key_of(MemberId(
			syms_.begin() + h * mk_,
			syms_.begin() + h * mk_ + l.width())));
		individual_[h] = Key{};
		free_.push_back(h);
	}
	res.ok = true;
	return res;
}

RekeyResult FlatKeyServer::full_rekey()
{
	RekeyResult res;
	retire_tek();
	KeyMessage &msg = res.message;
	msg.format = kCompactFormat;
	msg.base = current_tek();
	tek_.key = rng_.key();
	tek_.version++;
	tek_.revision = 0;
	res.new_tek = current_tek();
	msg.tek = res.new_tek;
	for (size_t slot = 0; slot < slots_.size(); slot++) {
		slots_[slot].key = rng_.key();
		slots_[slot].version++;
		slots_[slot].revision = 0;
		pool_base_[slot] = 0;
		chain_[slot].clear();
	}
	res.keks_replaced = slots_.size();
	const IdLayout &l = config_.layout;
	std::vector<size_t> base(mk_);
	for (size_t t = 0, j = 0; t < l.tables(); t++)
		for (size_t s = 0; s < l.radix(t).size(); s++, j++)
			base[j] = l.slot(t, s, 0);
	// TEK' and up to kMaxBundleKeks of the member's KEKs per bundle.
	std::vector<uint8_t> plain;
	for (uint32_t h = 0; h < live_.size(); h++) {
		if (!live_[h])
			continue;
		KeyRef r;
		r.id = KeyId::member_key(h);
		r.version = generation_[h];
		for (size_t first = 0; first < mk_; first += kMaxBundleKeks) {
			size_t n = std::min(kMaxBundleKeks, mk_ - first);
			WrappedKey e;
			e.wrapping = {r};
			e.wrapped = res.new_tek;
			plain.assign(kKeyBytes * (1 + n), 0);
			std::copy(tek_.key.begin(), tek_.key.end(), plain.begin());
			for (size_t i = 0; i < n; i++) {
				size_t j = first + i;
				size_t slot = base[j] + sym(h, j);
				e.carried.push_back(slot_ref(slot));
				std::copy(slots_[slot].key.begin(),
					  slots_[slot].key.end(),
					  plain.begin() + kKeyBytes * (1 + i));
			}
			e.ciphertext = wrapper_.wrap(individual_[h], plain.data(),
						     plain.size());
			std::fill(plain.begin(), plain.end(), 0);
			msg.entries.push_back(std::move(e));
		}
		res.unicast++;
	}
	std::fill(plain.begin(), plain.end(), 0);
	res.full_rekey = true;
	res.ok = true;
	return res;
}

PacketKeyHeader FlatKeyServer::packet_header(uint32_t association_id) const
{
	PacketKeyHeader h;
	h.association_id = association_id;
	h.key_version = tek_.version;
	h.key_revision = tek_.revision;
	return h;
}

std::optional<Key> FlatKeyServer::tek_for(uint32_t version,
					  uint32_t revision) const
{
	if (version == tek_.version && revision == tek_.revision)
		return tek_.key;
	uint64_t now = clock_.now_ms();
	for (const auto &r : retired_)
		if (r.tek.version == version && r.tek.revision == revision &&
		    now < r.until_ms)
			return r.tek.key;
	return std::nullopt;
}

void FlatKeyServer::expire()
{
	uint64_t now = clock_.now_ms();
	while (!retired_.empty() && retired_.front().until_ms <= now)
		retired_.pop_front();
}

StorageStats FlatKeyServer::storage() const
{
	StorageStats st;
	st.server_key_bytes =
		(slots_.size() + 1 + by_id_.size()) * (kKeyBytes + 12);
	st.server_member_bytes = by_id_.size() * (mk_ + 4);
	st.member_key_bytes = (mk_ + 2) * (kKeyBytes + 12);
	return st;
}

} // namespace groupsec::flatkey
