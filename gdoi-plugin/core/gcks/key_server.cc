// SPDX-License-Identifier: GPL-2.0-or-later
// The key server: its groups (added, reconfigured, evicted from,
// re-admitted), their timers and the state shown of them.
#include "key_server.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "../gikev2_wire.h"

namespace groupsec::gdoi::detail {

namespace {

bool same_host(const Address &a, const Address &b)
{
	return a.ip == b.ip && a.port == b.port;
}

// When the key server replaces a key: a tenth of the lifetime before it
// ends, but at least two minutes (half the lifetime at most) before, so
// rekeys reach members ahead of their re-registration margin.
uint64_t soft_expiry(uint64_t created_ms, uint32_t lifetime_s)
{
	uint64_t life = uint64_t(lifetime_s) * 1000;
	uint64_t lead = std::max<uint64_t>(life / 10, std::min<uint64_t>(life / 2, 120000));
	return created_ms + life - lead;
}

} // namespace

GcksGroup::GcksGroup(const GcksGroupConfig &c, Random *r, const gdoi::Clock *clock)
	: cfg(c), rnd(*r), clk(*clock), tree(rnd),
	  flat(std::make_unique<flatkey::FlatKeyServer>(flatkey::ServerConfig(flatkey::IdLayout::binary(c.id_bits)),
							rnd, clk)),
	  ids(flat->layout())
{
}

// --- groups ---

GcksGroup *KeyServer::find(const std::string &name)
{
	auto it = groups.find(name);
	return it == groups.end() ? nullptr : it->second.get();
}

Result<Done> KeyServer::add_group(const GcksGroupConfig &c)
{
	// what the group needs before anything changes: a signature by its
	// identity, and the identities it evicted before
	std::optional<Bytes> alg;
	Bytes auth_key;
	// an inband group sends no GSA_REKEY, so nothing to sign (and no
	// AUTH_KEY: RFC 9838 section 5, the inband table)
	const bool inband = c.rekey == RekeyTransport::Inband;
	if (c.rekey_auth == RekeyAuth::Signature && !inband) {
		auto a = signature_algorithm(c);
		if (!a)
			return a.error();
		alg = a.value();
		// RFC 9838 AUTH_KEY: the public key members verify with
		auto k = ctx_.deps.credentials->public_key(c.local_id);
		if (!k || k->empty())
			return make_error(WireError::Missing, "group " + c.name + ": no public key of " +
								      c.local_id.str() +
								      " to give members as AUTH_KEY (rekey_auth = "
								      "signature)");
		auth_key = std::move(*k);
	}
	auto it = groups.find(c.name);
	// a signature algorithm cannot change in GSA_REKEY (members learn it
	// at registration only): another one starts the group anew
	const bool keep = it != groups.end() && it->second->cfg.group_id == c.group_id &&
			  it->second->cfg.id_bits == c.id_bits && it->second->cfg.rekey_auth == c.rekey_auth &&
			  it->second->cfg.hierarchy == c.hierarchy && it->second->sig_alg == alg &&
			  (it->second->cfg.rekey == RekeyTransport::Inband) == inband;
	std::set<Identity> evicted;
	if (keep) {
		evicted = it->second->evicted; // stored with every change
	} else if (ctx_.deps.evictions) {
		auto stored = ctx_.deps.evictions->load(c.name);
		if (!stored)
			return make_error(stored.error().code,
					  "group " + c.name + ": evicted members: " + stored.error().message);
		evicted.insert(stored.value().begin(), stored.value().end());
	} else if (it != groups.end()) {
		evicted = it->second->evicted;
	}
	if (c.rekey_auth == RekeyAuth::Implicit && !inband)
		ctx_.log_warning("group " + c.name +
				 ": GSA_REKEY messages are not signed (rekey_auth = implicit): every member "
				 "holds the Rekey SA keys and can forge rekeys to the others");
	if (keep)
		return reconfigure(*it->second, c, std::move(alg));
	auto g = std::make_unique<GcksGroup>(c, ctx_.deps.random, ctx_.deps.clock);
	g->sig_alg = alg;
	g->auth_key = std::move(auth_key);
	g->evicted = std::move(evicted);
	init_keys(*g);
	groups[c.name] = std::move(g);
	return Done{};
}

Result<Done> KeyServer::reconfigure(GcksGroup &g, const GcksGroupConfig &c, std::optional<Bytes> alg)
{
	bool policy_changed = g.cfg.teks.size() != c.teks.size();
	for (size_t i = 0; !policy_changed && i < c.teks.size(); i++) {
		const TekPolicyConfig &a = g.cfg.teks[i], &b = c.teks[i];
		policy_changed = !(a.source == b.source && a.destination == b.destination &&
				   a.encryption == b.encryption && a.key_bits == b.key_bits && a.integrity == b.integrity &&
				   a.single_sender == b.single_sender);
	}
	// a new Rekey SA suite comes with a new Rekey SA
	const bool kek_changed = !(RekeySuite{g.cfg.rekey_encryption, g.cfg.rekey_key_bits, g.cfg.rekey_integrity,
					      g.cfg.rekey_key_wrap} == RekeySuite{c.rekey_encryption, c.rekey_key_bits,
										  c.rekey_integrity, c.rekey_key_wrap});
	std::vector<Identity> gone;
	for (auto &[id, m] : g.members)
		if (std::find(c.authorized.begin(), c.authorized.end(), id) == c.authorized.end())
			gone.push_back(id);
	g.cfg = c;
	g.sig_alg = std::move(alg);
	if (!gone.empty()) {
		// no longer authorized: removed by one rekey, not evicted
		// (authorizing them again lets them back)
		auto r = remove_members(g, gone);
		if (!r)
			return r;
		for (const Identity &id : gone) {
			g.evicted.erase(id);
			if (ctx_.deps.events)
				ctx_.deps.events->member_left(g.cfg.name, id, "unauthorized", g.members.size());
		}
	}
	if ((policy_changed || kek_changed) && gone.empty())
		return rekey(g, kek_changed, policy_changed);
	return Done{};
}

Result<Done> KeyServer::evict(GcksGroup &g, const std::vector<Identity> &members)
{
	for (const Identity &member : members)
		if (!g.members.count(member))
			return make_error(WireError::Missing, member.str() + " is not a registered member of " + g.cfg.name);
	// stored first: an eviction that a restart would forget does not
	// happen
	const std::set<Identity> before = g.evicted;
	std::set<Identity> after = before;
	after.insert(members.begin(), members.end());
	auto stored = store_evicted(g, after);
	if (!stored)
		return stored;
	auto r = remove_members(g, members);
	if (!r)
		store_evicted(g, before);
	else if (ctx_.deps.events)
		for (const Identity &member : members)
			ctx_.deps.events->member_evicted(g.cfg.name, member, g.members.size());
	return r;
}

Result<Done> KeyServer::merge_evicted(GcksGroup &g, const std::vector<Identity> &evicted, size_t *added)
{
	std::set<Identity> registered;
	std::set<Identity> after = g.evicted;
	for (const Identity &id : evicted) {
		if (g.evicted.count(id))
			continue;
		if (g.members.count(id))
			registered.insert(id);
		else
			after.insert(id);
	}
	const size_t fresh = after.size() - g.evicted.size() + registered.size();
	if (after.size() != g.evicted.size()) {
		// stored first, as an eviction
		auto stored = store_evicted(g, after);
		if (!stored)
			return stored;
	}
	if (!registered.empty()) {
		// evict() stores the registered ones with the others
		const std::set<Identity> before = g.evicted;
		g.evicted = after;
		auto r = evict(g, std::vector<Identity>(registered.begin(), registered.end()));
		if (!r) {
			g.evicted = before;
			store_evicted(g, before);
			return r;
		}
	} else {
		g.evicted = std::move(after);
	}
	if (added)
		*added = fresh;
	return Done{};
}

Result<Done> KeyServer::readmit(GcksGroup &g, const Identity &member)
{
	if (!g.evicted.count(member))
		return make_error(WireError::Missing, member.str() + " is not evicted from " + g.cfg.name);
	std::set<Identity> after = g.evicted;
	after.erase(member);
	auto stored = store_evicted(g, after);
	if (!stored)
		return stored;
	g.evicted = std::move(after);
	return Done{};
}

bool KeyServer::uses_ike_sa(uint64_t spi) const
{
	if (!spi)
		return false;
	for (auto &[n, g] : groups)
		for (auto &[id, m] : g->members)
			if (m.ike_spi == spi)
				return true;
	return false;
}

bool KeyServer::wants_ike_sa(uint64_t spi) const
{
	if (!spi)
		return false;
	for (auto &[n, g] : groups)
		if (g->cfg.rekey == RekeyTransport::Inband)
			for (auto &[id, m] : g->members)
				if (m.ike_spi == spi)
					return true;
	return false;
}

void KeyServer::forget_ike_sa(uint64_t spi)
{
	for (auto &[n, g] : groups) {
		std::vector<Identity> gone;
		for (auto &[id, m] : g->members) {
			if (m.ike_spi != spi)
				continue;
			m.ike_spi = 0;
			if (ctx_.deps.shortcuts)
				ctx_.deps.shortcuts->shortcut_channel(g->cfg.name, true, id, m.address, false);
			if (g->cfg.rekey == RekeyTransport::Inband)
				gone.push_back(id);
		}
		// RFC 9838 2.3.3: "If for some reason the IKE SA is closed and
		// no GIKE_UPDATE policy is received during the registration
		// process, the GM MUST consider itself excluded from the group":
		// so does the key server; the member registers again to come
		// back (it is not evicted)
		for (const Identity &id : gone) {
			g->members.erase(id);
			if (ctx_.deps.events)
				ctx_.deps.events->member_left(g->cfg.name, id, "ike-sa-lost", g->members.size());
		}
	}
}

Counters *KeyServer::counters_at(const Address &local)
{
	for (auto &[n, g] : groups)
		for (const Address &a : g->cfg.listen)
			if (a == local)
				return &g->counters;
	return nullptr;
}

// --- timers and state ---

void KeyServer::tick(GcksGroup &g, uint64_t t)
{
	bool tek_due = false;
	for (const GcksTek &k : g.teks)
		tek_due = tek_due || (k.current && t >= soft_expiry(k.created_ms, g.cfg.tek_lifetime_s));
	// an inband group has no Rekey SA to replace
	bool kek_due = g.cfg.rekey != RekeyTransport::Inband && t >= soft_expiry(g.kek.created_ms, g.kek.lifetime_s);
	if (tek_due || kek_due)
		rekey(g, kek_due, tek_due);
	g.teks.erase(std::remove_if(g.teks.begin(), g.teks.end(),
				    [&](const GcksTek &k) { return !k.current && t >= k.remove_ms; }),
		     g.teks.end());
	g.flat->expire();
}

uint64_t KeyServer::next(const GcksGroup &g) const
{
	uint64_t n = g.cfg.rekey == RekeyTransport::Inband ? UINT64_MAX : soft_expiry(g.kek.created_ms, g.kek.lifetime_s);
	for (const GcksTek &k : g.teks)
		n = std::min(n, k.current ? soft_expiry(k.created_ms, g.cfg.tek_lifetime_s) : k.remove_ms);
	return n;
}

GroupState KeyServer::state(const GcksGroup &g) const
{
	GroupState s;
	s.name = g.cfg.name;
	s.group_id = g.cfg.group_id;
	s.server = true;
	s.state = "serving";
	s.server_address = g.cfg.listen[0];
	s.kek_message_id = g.last_message_id;
	s.rekey_auth = g.cfg.rekey_auth;
	for (auto &[id, m] : g.members)
		s.members.push_back(MemberState{m.id, m.address,
						g.cfg.hierarchy == KeyHierarchy::Tree ? m.leaf : m.flat_number,
						m.registered_ms, m.sender_ids, m.peers});
	s.evicted.assign(g.evicted.begin(), g.evicted.end());
	for (const GcksTek &k : g.teks) {
		const TekPolicyConfig &c = g.cfg.teks[k.policy];
		s.sas.push_back(SaState{k.spi, c.encryption, c.key_bits, g.cfg.tek_lifetime_s, k.expires_ms, k.current});
	}
	s.counters = g.counters;
	s.exposure.hierarchy = g.cfg.hierarchy;
	if (g.cfg.hierarchy == KeyHierarchy::Flat) {
		s.exposure.tek_exposed = g.flat->tek_exposed();
		const flatkey::IdLayout &l = g.flat->layout();
		for (size_t tbl = 0; tbl < l.tables(); tbl++)
			for (size_t sym = 0; sym < l.radix(tbl).size(); sym++)
				for (unsigned v = 0; v < l.radix(tbl)[sym]; v++)
					s.exposure.exposed_keks += g.flat->kek_exposed(tbl, sym, v) ? 1 : 0;
	} else {
		s.exposure.epoch = g.tree.epoch();
		s.exposure.depth = g.tree.depth();
	}
	return s;
}

GcksGroup *KeyServer::find(const Identity &group_id, const Address &local)
{
	GcksGroup *any = nullptr;
	for (auto &[n, g] : groups) {
		if (!(g->cfg.group_id == group_id))
			continue;
		for (const Address &a : g->cfg.listen)
			if (same_host(a, local))
				return g.get();
		any = g.get();
	}
	return any;
}

} // namespace groupsec::gdoi::detail
