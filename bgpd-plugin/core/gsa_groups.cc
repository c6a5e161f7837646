// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_groups.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <variant>

#include "groupsec/json.h"
#include "groupsec/net/address.h"

namespace groupsec::bgp {

// ---------------------------------------------------------------- the tag

uint16_t tag_asn(uint32_t local_as)
{
	return local_as <= 0xffff ? uint16_t(local_as) : kAsTrans;
}

ExtCommunity group_route_target(uint16_t asn, uint32_t group_id)
{
	return {0x00,
		0x02,
		uint8_t(asn >> 8),
		uint8_t(asn & 0xff),
		uint8_t(group_id >> 24),
		uint8_t(group_id >> 16),
		uint8_t(group_id >> 8),
		uint8_t(group_id)};
}

std::optional<uint32_t> group_of_route_target(const uint8_t *ec, uint16_t asn)
{
	if (ec[0] != 0x00 || ec[1] != 0x02 || ((ec[2] << 8) | ec[3]) != asn)
		return std::nullopt;
	return (uint32_t(ec[4]) << 24) | (uint32_t(ec[5]) << 16) |
	       (uint32_t(ec[6]) << 8) | ec[7];
}

static std::optional<uint32_t> decimal(std::string_view s)
{
	if (s.empty() || s.size() > 10)
		return std::nullopt;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return std::nullopt;
		v = v * 10 + uint64_t(c - '0');
	}
	if (v > 0xffffffffu)
		return std::nullopt;
	return uint32_t(v);
}

std::optional<uint32_t> group_number(std::string_view id)
{
	if (auto d = decimal(id))
		return d;
	if (id.size() == 10 && id.substr(0, 2) == "@#") {
		uint32_t v = 0;
		for (char c : id.substr(2)) {
			int x;
			if (c >= '0' && c <= '9')
				x = c - '0';
			else if (c >= 'a' && c <= 'f')
				x = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				x = c - 'A' + 10;
			else
				return std::nullopt;
			v = (v << 4) | uint32_t(x);
		}
		return v;
	}
	auto ip = net::parse_ip(id);
	if (ip && ip->size() == 4)
		return (uint32_t((*ip)[0]) << 24) | (uint32_t((*ip)[1]) << 16) |
		       (uint32_t((*ip)[2]) << 8) | (*ip)[3];
	return std::nullopt;
}

std::optional<std::string> normalize_address(std::string_view text)
{
	auto bracket = text.find('[');
	if (bracket != std::string_view::npos)
		text = text.substr(0, bracket);
	auto ip = net::parse_ip(text);
	if (!ip)
		return std::nullopt;
	return net::ip_text(*ip);
}

// ---------------------------------------------------------------- member

const char *discovery_name(Discovery d)
{
	return d == Discovery::MemberList ? "member-list" : "auto";
}

LocalGroup *Groups::local(std::string_view name)
{
	for (auto &g : local_)
		if (g.name == name)
			return &g;
	return nullptr;
}

static bool valid_name(std::string_view name)
{
	if (name.empty() || name.size() > 64)
		return false;
	for (char c : name)
		if (c <= 0x20 || c >= 0x7f)
			return false;
	return true;
}

std::string Groups::set_group(std::string_view name, uint32_t id, std::string_view endpoint,
			      Discovery discovery)
{
	if (!valid_name(name))
		return "a group name is 1 to 64 printable characters without spaces";
	auto ep = normalize_address(endpoint);
	if (!ep || endpoint.find('[') != std::string_view::npos)
		return "the tunnel endpoint '" + std::string(endpoint) + "' is no IP address";
	for (const auto &g : local_)
		if (g.name != name && g.id == id)
			return "group " + g.name + " has the ID " + std::to_string(id) + " already";
	LocalGroup *g = local(name);
	if (!g) {
		local_.push_back(LocalGroup{std::string(name), id, *ep, discovery, {}});
		return "";
	}
	g->id = id;
	g->endpoint = *ep;
	g->discovery = discovery;
	return "";
}

static std::variant<std::string, std::string> canonical_prefix(std::string_view prefix)
{
	// index 0: the prefix as shown; index 1: an error
	auto r = net::parse_range(prefix, net::PrefixForm::Strict);
	if (auto *e = std::get_if<net::PrefixError>(&r)) {
		std::string why;
		switch (e->problem) {
		case net::PrefixProblem::HostBits:
			why = "has host bits set (the network is " + e->network + ")";
			break;
		case net::PrefixProblem::NoLength:
			why = "has no prefix length";
			break;
		default:
			why = "is no prefix";
		}
		return std::variant<std::string, std::string>(
			std::in_place_index<1>, "prefix '" + std::string(prefix) + "' " + why);
	}
	const auto &ts = std::get<net::TrafficSelector>(r);
	return std::variant<std::string, std::string>(std::in_place_index<0>, net::range_text(ts));
}

std::string Groups::add_prefix(std::string_view name, std::string_view prefix)
{
	LocalGroup *g = local(name);
	if (!g)
		return "no group " + std::string(name) + ": configure its ID and endpoint first";
	auto c = canonical_prefix(prefix);
	if (c.index() == 1)
		return std::get<1>(c);
	const std::string &p = std::get<0>(c);
	if (std::find(g->prefixes.begin(), g->prefixes.end(), p) == g->prefixes.end())
		g->prefixes.push_back(p);
	return "";
}

std::string Groups::remove_prefix(std::string_view name, std::string_view prefix)
{
	LocalGroup *g = local(name);
	if (!g)
		return "no group " + std::string(name);
	auto c = canonical_prefix(prefix);
	if (c.index() == 1)
		return std::get<1>(c);
	auto it = std::find(g->prefixes.begin(), g->prefixes.end(), std::get<0>(c));
	if (it == g->prefixes.end())
		return "group " + std::string(name) + " has no prefix " + std::get<0>(c);
	g->prefixes.erase(it);
	return "";
}

std::string Groups::remove_group(std::string_view name)
{
	for (auto it = local_.begin(); it != local_.end(); ++it)
		if (it->name == name) {
			local_.erase(it);
			return "";
		}
	return "no group " + std::string(name);
}

void Groups::registration_modes(
	const std::vector<std::pair<uint32_t, std::optional<std::set<std::string>>>> &modes)
{
	registration_.clear();
	for (const auto &[n, peers] : modes)
		registration_[n] = peers;
}

std::vector<MembershipRoute> Groups::membership_routes() const
{
	std::map<std::string, MembershipRoute> by_ep;
	for (const auto &g : local_) {
		auto &r = by_ep[g.endpoint];
		r.endpoint = g.endpoint;
		r.prefix_len = g.endpoint.find(':') == std::string::npos ? 32 : 128;
		r.groups.push_back(g.id);
	}
	std::vector<MembershipRoute> out;
	for (auto &[ep, r] : by_ep) {
		std::sort(r.groups.begin(), r.groups.end());
		out.push_back(std::move(r));
	}
	return out;
}

std::string Groups::config_lines() const
{
	std::string out;
	for (const auto &[addr, id] : bound_)
		out += " gsa peer " + addr + " identity " + id + "\n";
	for (const auto &g : local_) {
		out += " gsa group " + g.name + " id " + std::to_string(g.id) + " endpoint " +
		       g.endpoint;
		if (g.discovery != Discovery::Auto)
			out += std::string(" discovery ") + discovery_name(g.discovery);
		out += "\n";
		for (const auto &p : g.prefixes)
			out += " gsa group " + g.name + " prefix " + p + "\n";
	}
	return out;
}

// ---------------------------------------------------------------- S/R

const char *verdict_name(Verdict v)
{
	switch (v) {
	case Verdict::NotGroupRoute:
		return "not-a-group-route";
	case Verdict::Reflect:
		return "reflect";
	case Verdict::DeniedPeer:
		return "denied-peer-not-member";
	case Verdict::DeniedOrigin:
		return "denied-origin-not-member";
	case Verdict::DeniedShared:
		return "denied-shared-update-group";
	case Verdict::DeniedNotNamed:
		return "denied-not-named";
	case Verdict::UnknownGroup:
		return "denied-unknown-group";
	}
	return "?";
}

bool members_pair(const RegisteredMember &a, const RegisteredMember &b)
{
	if (a.peers && !a.peers->count(b.identity))
		return false;
	if (b.peers && !b.peers->count(a.identity))
		return false;
	return true;
}

std::string Groups::bind_peer(std::string_view address, std::string_view identity)
{
	auto a = normalize_address(address);
	if (!a)
		return "'" + std::string(address) + "' is no IP address";
	if (identity.empty() || identity.size() > 255)
		return "the identity is empty or too long";
	bound_[*a] = std::string(identity);
	return "";
}

std::string Groups::unbind_peer(std::string_view address)
{
	auto a = normalize_address(address);
	if (!a || !bound_.erase(*a))
		return "no identity is bound to " + std::string(address);
	return "";
}

std::set<std::string> Groups::addresses_of(const ServerGroup &g) const
{
	std::set<std::string> out;
	for (const auto &[id, m] : g.members)
		out.insert(m.address);
	return out;
}

void Groups::key_server_reset()
{
	for (auto &[name, g] : server_)
		g.members_known = false;
}

std::set<std::string> Groups::key_server_groups(
	const std::vector<std::pair<std::string, std::string>> &groups)
{
	std::set<std::string> affected;
	std::map<std::string, ServerGroup> next;
	for (const auto &[name, gid] : groups) {
		auto it = server_.find(name);
		ServerGroup g = it != server_.end() ? it->second : ServerGroup{};
		g.name = name;
		if (it != server_.end() && it->second.group_id != gid) {
			auto a = addresses_of(g);
			affected.insert(a.begin(), a.end());
			g.members.clear();
			reindex(g);
		}
		g.group_id = gid;
		g.number = group_number(gid);
		next[name] = std::move(g);
	}
	for (const auto &[name, g] : server_)
		if (!next.count(name)) {
			auto a = addresses_of(g);
			affected.insert(a.begin(), a.end());
		}
	server_ = std::move(next);
	return affected;
}

std::set<std::string> Groups::key_server_members(std::string_view group,
						 const std::vector<RegisteredMember> &members)
{
	auto it = server_.find(std::string(group));
	if (it == server_.end())
		return {};
	ServerGroup &g = it->second;
	std::set<std::string> affected = addresses_of(g);
	std::map<std::string, RegisteredMember> next;
	for (const auto &m : members) {
		auto a = normalize_address(m.address);
		if (a)
			next[m.identity] = RegisteredMember{m.identity, *a, m.peers};
	}
	bool changed = next.size() != g.members.size();
	for (const auto &[id, m] : next) {
		affected.insert(m.address);
		auto old = g.members.find(id);
		if (old == g.members.end() || old->second.address != m.address ||
		    old->second.peers != m.peers)
			changed = true;
	}
	g.members = std::move(next);
	reindex(g);
	g.members_known = true;
	return changed ? affected : std::set<std::string>{};
}

std::set<std::string> Groups::member_registered(std::string_view group, std::string_view identity,
						std::string_view address,
						std::optional<std::set<std::string>> peers)
{
	auto it = server_.find(std::string(group));
	auto a = normalize_address(address);
	if (it == server_.end() || !a)
		return {};
	ServerGroup &g = it->second;
	g.registered_events++;
	auto &slot = g.members[std::string(identity)];
	bool same = slot.address == *a && slot.peers == peers;
	std::string old = slot.address;
	slot = RegisteredMember{std::string(identity), *a, std::move(peers)};
	reindex(g);
	if (same)
		return {};
	// the new member sees the others' routes and they see its (or, with
	// a new member list, others than before)
	std::set<std::string> affected = addresses_of(g);
	if (!old.empty())
		affected.insert(old);
	return affected;
}

std::set<std::string> Groups::member_gone(std::string_view group, std::string_view identity,
					  bool evicted)
{
	auto it = server_.find(std::string(group));
	if (it == server_.end())
		return {};
	ServerGroup &g = it->second;
	(evicted ? g.evicted_events : g.left_events)++;
	std::set<std::string> affected = addresses_of(g);
	if (!g.members.erase(std::string(identity)))
		return {};
	reindex(g);
	return affected; // includes the one gone
}

const ServerGroup *Groups::server_by_number(uint32_t n) const
{
	for (const auto &[name, g] : server_)
		if (g.number && *g.number == n)
			return &g;
	return nullptr;
}

ServerGroup *Groups::server_by_number(uint32_t n)
{
	return const_cast<ServerGroup *>(std::as_const(*this).server_by_number(n));
}

std::vector<const RegisteredMember *> Groups::members_at(const ServerGroup &g,
							 std::string_view address) const
{
	std::vector<const RegisteredMember *> out;
	auto a = normalize_address(address);
	if (!a)
		return out;
	auto bound = bound_.find(*a);
	if (bound != bound_.end()) {
		auto m = g.members.find(bound->second);
		if (m != g.members.end() && m->second.address == *a)
			out.push_back(&m->second);
		return out;
	}
	auto [from, to] = g.by_address.equal_range(*a);
	for (auto i = from; i != to; ++i) {
		auto m = g.members.find(i->second);
		if (m != g.members.end())
			out.push_back(&m->second);
	}
	return out;
}

bool Groups::member_at(const ServerGroup &g, std::string_view address) const
{
	auto a = normalize_address(address);
	if (!a)
		return false;
	auto bound = bound_.find(*a);
	if (bound != bound_.end()) {
		auto m = g.members.find(bound->second);
		return m != g.members.end() && m->second.address == *a;
	}
	return g.by_address.count(*a) != 0;
}

void Groups::reindex(ServerGroup &g)
{
	g.by_address.clear();
	g.named.clear();
	for (const auto &[id, m] : g.members) {
		g.by_address.emplace(m.address, id);
		if (m.peers)
			g.named.insert(m.peers->begin(), m.peers->end());
	}
}

// ---------------------------------------------------------------- update-groups

std::string Groups::signature(std::string_view address) const
{
	auto a = normalize_address(address);
	if (!a)
		return "=" + std::string(address);
	std::string sig;
	for (const auto &[name, g] : server_) {
		if (!g.number)
			continue; // no route target: decides nothing
		auto ms = members_at(g, *a);
		if (ms.empty())
			continue;
		for (const RegisteredMember *m : ms)
			if (m->peers || g.named.count(m->identity))
				return "=" + *a;
		// length-prefixed: no name can make two sets look alike
		sig += std::to_string(name.size()) + ":" + name;
	}
	return sig;
}

uint32_t Groups::peer_tag(std::string_view address)
{
	auto a = normalize_address(address);
	return tags_.assign(a.value_or(std::string(address)), signature(address));
}

std::optional<uint32_t> Groups::last_tag(std::string_view address) const
{
	auto a = normalize_address(address);
	return tags_.tag_of(a.value_or(std::string(address)));
}

void Groups::retain_tags(const std::set<std::string> &addresses)
{
	std::set<std::string> keep;
	for (const auto &x : addresses)
		keep.insert(normalize_address(x).value_or(x));
	tags_.retain(keep);
}

bool Groups::is_member(uint32_t group, std::string_view address) const
{
	const ServerGroup *g = server_by_number(group);
	return g && member_at(*g, address);
}

Verdict Groups::decide(const std::vector<ExtCommunity> &ecs, std::string_view origin,
		       const std::vector<std::string> &targets)
{
	std::vector<ServerGroup *> groups;
	bool tagged = false;
	for (const auto &ec : ecs) {
		auto n = group_of_route_target(ec.data(), asn_);
		if (!n)
			continue;
		tagged = true;
		if (ServerGroup *g = server_by_number(*n))
			groups.push_back(g);
	}
	if (!tagged)
		return Verdict::NotGroupRoute;
	if (groups.empty()) {
		unknown_denied_++;
		return Verdict::UnknownGroup;
	}
	// the groups the originator may speak for (this router: all of them)
	std::vector<ServerGroup *> from;
	for (ServerGroup *g : groups)
		if (origin.empty() || member_at(*g, origin))
			from.push_back(g);
	if (from.empty()) {
		for (ServerGroup *g : groups)
			g->counters.denied_origin++;
		return Verdict::DeniedOrigin;
	}
	// each target must be a member of one of those groups, and there a
	// pair with the originator (member lists, members_pair())
	size_t allowed = 0, unnamed = 0;
	for (const auto &t : targets) {
		bool member = false, ok = false;
		for (ServerGroup *g : from) {
			auto to = members_at(*g, t);
			if (to.empty())
				continue;
			member = true;
			if (origin.empty()) {
				ok = true;
				break;
			}
			for (const RegisteredMember *o : members_at(*g, origin))
				for (const RegisteredMember *m : to)
					ok = ok || members_pair(*o, *m);
		}
		allowed += ok;
		unnamed += member && !ok;
	}
	Verdict v = targets.empty() || allowed == 0
			    ? (unnamed == targets.size() && !targets.empty() ? Verdict::DeniedNotNamed
									     : Verdict::DeniedPeer)
		    : allowed == targets.size() ? Verdict::Reflect
						: Verdict::DeniedShared;
	for (ServerGroup *g : from) {
		auto &c = g->counters;
		(v == Verdict::Reflect	      ? c.reflected
		 : v == Verdict::DeniedPeer     ? c.denied_peer
		 : v == Verdict::DeniedNotNamed ? c.denied_named
						: c.denied_shared)++;
	}
	return v;
}

// ---------------------------------------------------------------- show

static std::string join(const std::vector<std::string> &v)
{
	std::string out;
	for (const auto &s : v)
		out += (out.empty() ? "" : ", ") + s;
	return out;
}

static std::string rt_text(uint16_t asn, uint32_t n)
{
	return "RT:" + std::to_string(asn) + ":" + std::to_string(n);
}

static const NeighborView *neighbor_at(const std::vector<NeighborView> &ns,
				       const std::string &addr)
{
	for (const auto &n : ns)
		if (normalize_address(n.address).value_or("") == addr)
			return &n;
	return nullptr;
}

std::string Groups::render_text(const std::vector<NeighborView> &neighbors) const
{
	std::string out;
	char line[512];
	if (!local_.empty()) {
		out += "Local groups (member):\n";
		snprintf(line, sizeof(line), "  %-12s %-10s %-22s %-11s %s\n", "Group", "ID",
			 "Route target", "Discovery", "Endpoint / private prefixes");
		out += line;
		for (const auto &g : local_) {
			snprintf(line, sizeof(line), "  %-12s %-10u %-22s %-11s %s%s%s\n",
				 g.name.c_str(), g.id, rt_text(asn_, g.id).c_str(),
				 discovery_name(g.discovery), g.endpoint.c_str(),
				 g.prefixes.empty() ? "" : " / ", join(g.prefixes).c_str());
			out += line;
			auto r = registration_.find(g.id);
			if (r == registration_.end())
				continue;
			std::vector<std::string> named;
			if (r->second)
				named.assign(r->second->begin(), r->second->end());
			out += std::string("    gdoi registers it with ") +
			       (r->second ? "member list: " + join(named) : std::string("auto-discovery"));
			if ((g.discovery == Discovery::MemberList) != r->second.has_value())
				out += " (not the configured discovery: the gdoi group's peers setting rules)";
			out += "\n";
		}
	}
	if (!server_.empty()) {
		out += "Key server groups (reflection):\n";
		for (const auto &[name, g] : server_) {
			snprintf(line, sizeof(line), "  Group %s, ID %s, %s, %zu members%s\n",
				 name.c_str(), g.group_id.c_str(),
				 g.number ? rt_text(asn_, *g.number).c_str()
					  : "no route target (not a 32-bit ID)",
				 g.members.size(), g.members_known ? "" : " (list pending)");
			out += line;
			for (const auto &[id, m] : g.members) {
				const NeighborView *n = neighbor_at(neighbors, m.address);
				snprintf(line, sizeof(line), "    %-24s %-16s %s\n", id.c_str(),
					 m.address.c_str(),
					 !n ? "no BGP peer"
					    : (n->state + (n->filtered ? "" : ", not filtered")).c_str());
				out += line;
				if (m.peers) {
					std::vector<std::string> named(m.peers->begin(), m.peers->end());
					out += "      member list: " +
					       (named.empty() ? std::string("(nobody)") : join(named)) + "\n";
				}
			}
			snprintf(line, sizeof(line),
				 "    Reflected %llu, denied: peer not member %llu, origin not member %llu, shared update-group %llu, not named %llu\n"
				 "    Events: registered %llu, left %llu, evicted %llu\n",
				 (unsigned long long)g.counters.reflected,
				 (unsigned long long)g.counters.denied_peer,
				 (unsigned long long)g.counters.denied_origin,
				 (unsigned long long)g.counters.denied_shared,
				 (unsigned long long)g.counters.denied_named,
				 (unsigned long long)g.registered_events,
				 (unsigned long long)g.left_events,
				 (unsigned long long)g.evicted_events);
			out += line;
		}
		snprintf(line, sizeof(line), "Routes of groups the key server does not serve, denied: %llu\n",
			 (unsigned long long)unknown_denied_);
		out += line;
	}
	if (!neighbors.empty()) {
		out += "Neighbors:\n";
		for (const auto &n : neighbors) {
			std::vector<std::string> in;
			auto a = normalize_address(n.address).value_or(n.address);
			for (const auto &[name, g] : server_)
				if (member_at(g, a))
					in.push_back(name);
			auto tag = tags_.tag_of(a);
			std::string t = tag ? std::to_string(*tag) : std::string("-");
			if (tag && n.applied_tag != tag)
				t += n.applied_tag ? " (bgpd holds " + std::to_string(*n.applied_tag) + ")"
						   : " (held by maximum-prefix-out)";
			snprintf(line, sizeof(line), "  %-24s %-12s %-12s update-group tag %s, groups: %s\n",
				 n.address.c_str(), n.state.c_str(),
				 n.filtered ? "filtered" : "unfiltered", t.c_str(),
				 in.empty() ? "none" : join(in).c_str());
			out += line;
		}
	}
	if (out.empty())
		out = "No groups\n";
	return out;
}

std::string Groups::render_json(const std::vector<NeighborView> &neighbors) const
{
	JsonWriter w;
	w.begin_object();
	w.key("localGroups").begin_object();
	for (const auto &g : local_) {
		w.key(g.name).begin_object();
		w.key("id").value(uint64_t{g.id});
		w.key("routeTarget").value(rt_text(asn_, g.id));
		w.key("discovery").value(discovery_name(g.discovery));
		w.key("endpoint").value(g.endpoint);
		w.key("prefixes").begin_array();
		for (const auto &p : g.prefixes)
			w.value(p);
		w.end_array().end_object();
	}
	w.end_object();
	// how the local gdoi plugin registers each local group it has
	w.key("localRegistration").begin_object();
	for (const auto &g : local_) {
		auto r = registration_.find(g.id);
		if (r == registration_.end())
			continue;
		w.key(g.name).begin_object();
		w.key("discovery").value(r->second ? "member-list" : "auto");
		w.key("memberList");
		if (r->second) {
			w.begin_array();
			for (const auto &p : *r->second)
				w.value(p);
			w.end_array();
		} else {
			w.null();
		}
		w.key("matchesConfig").value((g.discovery == Discovery::MemberList) == r->second.has_value());
		w.end_object();
	}
	w.end_object();
	w.key("serverGroups").begin_object();
	for (const auto &[name, g] : server_) {
		w.key(name).begin_object();
		w.key("groupId").value(g.group_id);
		w.key("routeTarget");
		g.number ? w.value(rt_text(asn_, *g.number)) : w.null();
		w.key("membersKnown").value(g.members_known);
		w.key("members").begin_object();
		for (const auto &[id, m] : g.members) {
			const NeighborView *n = neighbor_at(neighbors, m.address);
			w.key(id).begin_object();
			w.key("address").value(m.address);
			w.key("peerState");
			n ? w.value(n->state) : w.null();
			w.key("peerFiltered").value(n && n->filtered);
			auto tag = tags_.tag_of(m.address);
			w.key("updateGroupTag");
			tag ? w.value(uint64_t{*tag}) : w.null();
			w.key("discovery").value(m.peers ? "member-list" : "auto");
			w.key("memberList");
			if (m.peers) {
				w.begin_array();
				for (const auto &p : *m.peers)
					w.value(p);
				w.end_array();
			} else {
				w.null();
			}
			w.end_object();
		}
		w.end_object();
		w.key("counters").begin_object();
		w.key("reflected").value(g.counters.reflected);
		w.key("deniedPeerNotMember").value(g.counters.denied_peer);
		w.key("deniedOriginNotMember").value(g.counters.denied_origin);
		w.key("deniedSharedUpdateGroup").value(g.counters.denied_shared);
		w.key("deniedNotNamed").value(g.counters.denied_named);
		w.key("registeredEvents").value(g.registered_events);
		w.key("leftEvents").value(g.left_events);
		w.key("evictedEvents").value(g.evicted_events);
		w.end_object().end_object();
	}
	w.end_object();
	w.key("deniedUnknownGroup").value(unknown_denied_);
	w.key("neighbors").begin_object();
	for (const auto &n : neighbors) {
		auto a = normalize_address(n.address).value_or(n.address);
		w.key(n.address).begin_object();
		w.key("state").value(n.state);
		w.key("filtered").value(n.filtered);
		w.key("groups").begin_array();
		for (const auto &[name, g] : server_)
			if (member_at(g, a))
				w.value(name);
		w.end_array();
		auto b = bound_.find(a);
		w.key("identity");
		b != bound_.end() ? w.value(b->second) : w.null();
		// the module's tag for it, and whether bgpd's update-group key
		// holds it (false: not yet, or the operator's maximum-prefix-out)
		auto tag = tags_.tag_of(a);
		w.key("updateGroupTag");
		tag ? w.value(uint64_t{*tag}) : w.null();
		w.key("updateGroupTagApplied").value(tag.has_value() && n.applied_tag == tag);
		w.end_object();
	}
	w.end_object();
	w.end_object();
	return w.str();
}

} // namespace groupsec::bgp
