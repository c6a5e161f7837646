// SPDX-License-Identifier: GPL-2.0-or-later
#include "shortcut_service.h"

#include <algorithm>
#include <set>

namespace groupsec::gdoi::shortcut {

namespace {

// The outside endpoint of a member's shortcut SAs: the address its IKE SA
// comes from, plain ESP (port 0).
Address outside_of(const Address &ike)
{
	return Address{ike.ip, 0};
}

} // namespace

struct ShortcutService::Manager : ManagerChannel, ManagerEvents {
	Manager(ShortcutService &s, std::string g, std::vector<ShortcutPeerConfig> m, const ManagerSettings &settings,
		std::vector<Prefix> p)
		: service(s), group(std::move(g)), members(std::move(m)), protected_prefixes(std::move(p)),
		  core(settings, s.clock_, s.random_, *this, this)
	{
	}

	bool send(const std::string &member, ByteView message) override
	{
		auto it = ids.find(member);
		return service.engine_ && it != ids.end() && service.engine_->send_shortcut(group, it->second, message);
	}
	void shortcut_up(const ShortcutInfo &s) override
	{
		if (service.hook_)
			service.hook_(group, s, true, "");
	}
	void shortcut_down(const ShortcutInfo &s, const std::string &reason) override
	{
		if (service.hook_)
			service.hook_(group, s, false, reason);
	}
	const ShortcutPeerConfig *config(const Identity &id) const
	{
		auto it = std::find_if(members.begin(), members.end(),
				       [&](const ShortcutPeerConfig &p) { return p.id == id; });
		return it == members.end() ? nullptr : &*it;
	}

	ShortcutService &service;
	std::string group;
	std::vector<ShortcutPeerConfig> members;
	std::vector<Prefix> protected_prefixes;
	// the manager names members by Identity::str(); the engine by Identity
	std::map<std::string, Identity> ids;
	ShortcutManager core;
};

struct ShortcutService::Member : MemberChannel {
	Member(ShortcutService &s, std::string g, Identity srv, std::vector<Prefix> in, const Address &l)
		: service(s), group(std::move(g)), server(std::move(srv)), inside(std::move(in)), local(l),
		  core(settings(), s.kernel_, *this, s.random_)
	{
	}

	MemberSettings settings() const
	{
		MemberSettings m;
		m.manager = server.str();
		m.inside = inside;
		m.local_outside = outside_of(local);
		return m;
	}
	bool send(ByteView message) override
	{
		return service.engine_ && service.engine_->send_shortcut(group, message);
	}

	ShortcutService &service;
	std::string group;
	Identity server;
	std::vector<Prefix> inside;
	Address local;
	ShortcutMember core;
};

ShortcutService::ShortcutService(KernelOps &kernel, const crypto::Clock &clock, crypto::RandomSource &random)
	: kernel_(kernel), clock_(clock), random_(random)
{
}

ShortcutService::~ShortcutService()
{
	for (auto &[g, m] : members_)
		m->core.teardown_all();
}

void ShortcutService::configure_manager(const std::string &group, const std::vector<ShortcutPeerConfig> &members,
					const ManagerSettings &settings, const std::vector<Prefix> &protected_prefixes)
{
	auto it = managers_.find(group);
	if (members.empty()) {
		if (it != managers_.end())
			managers_.erase(it);
		return;
	}
	if (it != managers_.end()) {
		bool same = it->second->members.size() == members.size();
		for (size_t i = 0; same && i < members.size(); i++)
			same = it->second->members[i].id == members[i].id && it->second->members[i].inside == members[i].inside;
		if (same) {
			it->second->protected_prefixes = protected_prefixes;
			return;
		}
		// members that stay keep their IKE SAs: they are taken in again
		// with their new prefixes when they next register
		managers_.erase(it);
	}
	managers_[group] = std::make_unique<Manager>(*this, group, members, settings, protected_prefixes);
}

void ShortcutService::configure_member(const std::string &group, const Identity &server,
				       const std::vector<Prefix> &inside, const Address &local)
{
	auto it = members_.find(group);
	if (it != members_.end()) {
		Member &m = *it->second;
		if (m.server == server && m.inside == inside && m.local == local)
			return;
		m.core.teardown_all();
		members_.erase(it);
	}
	if (inside.empty())
		return;
	members_[group] = std::make_unique<Member>(*this, group, server, inside, local);
}

void ShortcutService::retain(const std::vector<std::string> &groups)
{
	auto keep = [&](const std::string &g) { return std::find(groups.begin(), groups.end(), g) != groups.end(); };
	for (auto it = managers_.begin(); it != managers_.end();)
		it = keep(it->first) ? std::next(it) : managers_.erase(it);
	for (auto it = members_.begin(); it != members_.end();) {
		if (keep(it->first)) {
			++it;
			continue;
		}
		it->second->core.teardown_all();
		it = members_.erase(it);
	}
}

void ShortcutService::relayed(ByteView source, ByteView destination, uint64_t packets)
{
	for (auto &[g, m] : managers_)
		m->core.relayed(source, destination, packets);
}

void ShortcutService::new_session(ByteView source, ByteView destination)
{
	for (auto &[g, m] : managers_)
		m->core.new_session(source, destination);
}

void ShortcutService::packet(ByteView ip_packet)
{
	auto p = classify_relayed(ip_packet);
	if (!p)
		return;
	// a new session starts the setup at once; the packet counts as relayed
	// traffic of its pair as well
	if (p->new_session)
		new_session(p->source, p->destination);
	relayed(p->source, p->destination, 1);
}

Result<uint32_t> ShortcutService::request(const std::string &group, const std::string &a, const std::string &b)
{
	auto it = managers_.find(group);
	if (it == managers_.end())
		return make_error(WireError::Missing, "group '" + group + "' has no shortcut members");
	auto ia = Identity::parse(a);
	auto ib = Identity::parse(b);
	if (!ia)
		return make_error(WireError::BadValue, "'" + a + "' is not an identity");
	if (!ib)
		return make_error(WireError::BadValue, "'" + b + "' is not an identity");
	return it->second->core.request(ia->str(), ib->str());
}

Result<Done> ShortcutService::remove(const std::string &group, uint32_t id)
{
	auto it = managers_.find(group);
	if (it == managers_.end())
		return make_error(WireError::Missing, "group '" + group + "' has no shortcut members");
	return it->second->core.remove(id);
}

void ShortcutService::tick()
{
	for (auto &[g, m] : managers_)
		m->core.tick();
}

std::vector<ShortcutGroupView> ShortcutService::view() const
{
	std::vector<ShortcutGroupView> out;
	for (const auto &[g, m] : managers_) {
		ShortcutGroupView v;
		v.group = g;
		v.manager = true;
		v.shortcuts = m->core.shortcuts();
		for (const auto &[name, id] : m->ids)
			if (const MemberContext *c = m->core.member(name))
				v.members.push_back(*c);
		v.manager_counters = m->core.counters();
		out.push_back(std::move(v));
	}
	for (const auto &[g, m] : members_) {
		ShortcutGroupView v;
		v.group = g;
		v.member_shortcuts = m->core.shortcuts();
		v.member_counters = m->core.counters();
		out.push_back(std::move(v));
	}
	return out;
}

void ShortcutService::shortcut_message(const std::string &group, bool server, const Identity &peer,
				       ByteView message)
{
	if (server) {
		auto it = managers_.find(group);
		if (it != managers_.end())
			(void)it->second->core.receive(peer.str(), message); // rejections are counted
		return;
	}
	auto it = members_.find(group);
	if (it != members_.end()) {
		(void)it->second->core.receive(peer.str(), message);
		return;
	}
	// messages name no group: one that comes from the key server of a
	// group without shortcuts is not from any manager of ours
	for (auto &[g, m] : members_)
		(void)m->core.reject_foreign(peer.str());
}

void ShortcutService::shortcut_channel(const std::string &group, bool server, const Identity &peer,
				       const Address &address, bool up)
{
	if (!server) {
		auto it = members_.find(group);
		// a registration (re)starts the channel: the manager takes the
		// member in afresh and ends what it had with it (or, restarted,
		// knows nothing of it), so what this side holds goes too, rather
		// than send on SAs the peer may no longer have
		if (it != members_.end() && up) {
			it->second->core.teardown_all();
			it->second->core.manager_connected();
		}
		return;
	}
	auto it = managers_.find(group);
	if (it == managers_.end())
		return;
	Manager &m = *it->second;
	const ShortcutPeerConfig *c = m.config(peer);
	if (!c)
		return; // not a member shortcuts are made for
	const std::string name = peer.str();
	if (up) {
		m.ids[name] = peer;
		(void)m.core.member_outside(name, c->inside, outside_of(address));
		// registered from inside the protected network: no shortcuts
		if (std::any_of(m.protected_prefixes.begin(), m.protected_prefixes.end(),
				[&](const Prefix &p) { return p.contains(address.ip); }))
			(void)m.core.member_inside(name);
	} else {
		(void)m.core.member_gone(name);
		m.ids.erase(name);
	}
}

void ShortcutService::shortcut_moved(const std::string &group, bool server, const Identity &peer,
				     const Address &address)
{
	if (!server) {
		auto it = members_.find(group);
		if (it != members_.end())
			(void)it->second->core.local_address_changed(outside_of(address));
		return;
	}
	auto it = managers_.find(group);
	if (it == managers_.end())
		return;
	Manager &m = *it->second;
	const std::string name = peer.str();
	const ShortcutPeerConfig *c = m.config(peer);
	const MemberContext *ctx = m.core.member(name);
	if (!c || !ctx)
		return;
	const bool inside = std::any_of(m.protected_prefixes.begin(), m.protected_prefixes.end(),
					[&](const Prefix &p) { return p.contains(address.ip); });
	if (inside)
		(void)m.core.member_inside(name); // its shortcuts end on both sides
	else if (!ctx->is_outside)
		(void)m.core.member_outside(name, c->inside, outside_of(address)); // out again
	else
		(void)m.core.member_moved(name, outside_of(address)); // its peers follow
}

} // namespace groupsec::gdoi::shortcut
