// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the groups core: no exception crosses it.
#include "gsa_sr.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "gsa_groups.h"

using groupsec::bgp::Discovery;
using groupsec::bgp::ExtCommunity;
using groupsec::bgp::Groups;
using groupsec::bgp::NeighborView;
using groupsec::bgp::RegisteredMember;

struct gsa_groups {
	Groups core;
};

static const char *str(const char *s)
{
	return s ? s : "";
}

static int done(const std::string &e, char *err, size_t errsize)
{
	if (e.empty())
		return 0;
	if (err && errsize)
		snprintf(err, errsize, "%s", e.c_str());
	return -1;
}

static void report(const std::set<std::string> &affected, gsa_affected_fn fn, void *arg)
{
	if (fn)
		for (const auto &a : affected)
			fn(arg, a.c_str());
}

extern "C" {

struct gsa_groups *gsa_groups_new(void)
{
	return new (std::nothrow) gsa_groups;
}

void gsa_groups_free(struct gsa_groups *g)
{
	delete g;
}

int gsa_groups_set(struct gsa_groups *g, const char *name, uint32_t id, const char *endpoint,
		   bool member_list, char *err, size_t errsize)
{
	try {
		return done(g->core.set_group(str(name), id, str(endpoint),
					      member_list ? Discovery::MemberList
							  : Discovery::Auto),
			    err, errsize);
	} catch (const std::bad_alloc &) {
		return done("out of memory", err, errsize);
	}
}

int gsa_groups_prefix(struct gsa_groups *g, const char *name, const char *prefix, bool add,
		      char *err, size_t errsize)
{
	try {
		return done(add ? g->core.add_prefix(str(name), str(prefix))
				: g->core.remove_prefix(str(name), str(prefix)),
			    err, errsize);
	} catch (const std::bad_alloc &) {
		return done("out of memory", err, errsize);
	}
}

int gsa_groups_remove(struct gsa_groups *g, const char *name, char *err, size_t errsize)
{
	try {
		return done(g->core.remove_group(str(name)), err, errsize);
	} catch (const std::bad_alloc &) {
		return done("out of memory", err, errsize);
	}
}

int gsa_groups_bind_peer(struct gsa_groups *g, const char *address, const char *identity,
			 char *err, size_t errsize)
{
	try {
		return done(identity ? g->core.bind_peer(str(address), identity)
				     : g->core.unbind_peer(str(address)),
			    err, errsize);
	} catch (const std::bad_alloc &) {
		return done("out of memory", err, errsize);
	}
}

char *gsa_groups_config(const struct gsa_groups *g)
{
	try {
		return strdup(g->core.config_lines().c_str());
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

size_t gsa_groups_routes(const struct gsa_groups *g, struct gsa_membership_route *out,
			 size_t max)
{
	try {
		auto routes = g->core.membership_routes();
		for (size_t i = 0; i < routes.size() && i < max; i++) {
			gsa_membership_route &r = out[i];
			memset(&r, 0, sizeof(r));
			snprintf(r.endpoint, sizeof(r.endpoint), "%s", routes[i].endpoint.c_str());
			r.prefix_len = routes[i].prefix_len;
			for (uint32_t id : routes[i].groups) {
				if (r.n_groups == GSA_MAX_ROUTE_GROUPS)
					break;
				auto rt = groupsec::bgp::group_route_target(g->core.tag_as(), id);
				memcpy(r.rts[r.n_groups++], rt.data(), 8);
			}
		}
		return routes.size();
	} catch (const std::bad_alloc &) {
		return 0;
	}
}

void gsa_groups_set_local_as(struct gsa_groups *g, uint32_t local_as)
{
	g->core.set_local_as(local_as);
}

void gsa_groups_route_target(const struct gsa_groups *g, uint32_t group_id, uint8_t out[8])
{
	auto rt = groupsec::bgp::group_route_target(g->core.tag_as(), group_id);
	memcpy(out, rt.data(), 8);
}

void gsa_groups_ks_reset(struct gsa_groups *g)
{
	g->core.key_server_reset();
}

void gsa_groups_ks_groups(struct gsa_groups *g, const char *const *names, const char *const *ids,
			  size_t n, gsa_affected_fn fn, void *arg)
{
	try {
		std::vector<std::pair<std::string, std::string>> groups;
		for (size_t i = 0; i < n; i++)
			groups.emplace_back(str(names[i]), str(ids[i]));
		report(g->core.key_server_groups(groups), fn, arg);
	} catch (const std::bad_alloc &) {
	}
}

// A member list as the glue passes it: NULL for auto-discovery, else the
// identities joined by '\n'.
static std::optional<std::set<std::string>> peer_set(const char *peers)
{
	if (!peers)
		return std::nullopt;
	std::set<std::string> out;
	std::string_view s(peers);
	while (!s.empty()) {
		auto nl = s.find('\n');
		auto one = s.substr(0, nl);
		if (!one.empty())
			out.emplace(one);
		if (nl == std::string_view::npos)
			break;
		s.remove_prefix(nl + 1);
	}
	return out;
}

void gsa_groups_ks_members(struct gsa_groups *g, const char *group,
			   const char *const *identities, const char *const *addresses,
			   const char *const *peer_lists, size_t n, gsa_affected_fn fn, void *arg)
{
	try {
		std::vector<RegisteredMember> members;
		for (size_t i = 0; i < n; i++)
			members.push_back(RegisteredMember{str(identities[i]), str(addresses[i]),
							   peer_set(peer_lists ? peer_lists[i] : nullptr)});
		report(g->core.key_server_members(str(group), members), fn, arg);
	} catch (const std::bad_alloc &) {
	}
}

void gsa_groups_gm_groups(struct gsa_groups *g, const char *const *ids,
			  const char *const *peer_lists, size_t n)
{
	try {
		std::vector<std::pair<uint32_t, std::optional<std::set<std::string>>>> modes;
		for (size_t i = 0; i < n; i++)
			if (auto num = groupsec::bgp::group_number(str(ids[i])))
				modes.emplace_back(*num, peer_set(peer_lists ? peer_lists[i] : nullptr));
		g->core.registration_modes(modes);
	} catch (const std::bad_alloc &) {
	}
}

bool gsa_groups_ks_knows(const struct gsa_groups *g, const char *group)
{
	try {
		return g->core.server_groups().count(str(group)) > 0;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

void gsa_groups_ks_registered(struct gsa_groups *g, const char *group, const char *identity,
			      const char *address, const char *peers, gsa_affected_fn fn, void *arg)
{
	try {
		report(g->core.member_registered(str(group), str(identity), str(address),
						 peer_set(peers)),
		       fn, arg);
	} catch (const std::bad_alloc &) {
	}
}

void gsa_groups_ks_gone(struct gsa_groups *g, const char *group, const char *identity,
			bool evicted, gsa_affected_fn fn, void *arg)
{
	try {
		report(g->core.member_gone(str(group), str(identity), evicted), fn, arg);
	} catch (const std::bad_alloc &) {
	}
}

enum gsa_verdict gsa_groups_decide(struct gsa_groups *g, const uint8_t *ecs, size_t n_ecs,
				   const char *origin, const char *const *targets,
				   size_t n_targets)
{
	try {
		std::vector<ExtCommunity> v(n_ecs);
		for (size_t i = 0; i < n_ecs; i++)
			memcpy(v[i].data(), ecs + 8 * i, 8);
		std::vector<std::string> t;
		for (size_t i = 0; i < n_targets; i++)
			t.emplace_back(str(targets[i]));
		switch (g->core.decide(v, str(origin), t)) {
		case groupsec::bgp::Verdict::NotGroupRoute:
			return GSA_NOT_GROUP_ROUTE;
		case groupsec::bgp::Verdict::Reflect:
			return GSA_REFLECT;
		case groupsec::bgp::Verdict::DeniedPeer:
			return GSA_DENIED_PEER;
		case groupsec::bgp::Verdict::DeniedOrigin:
			return GSA_DENIED_ORIGIN;
		case groupsec::bgp::Verdict::DeniedShared:
			return GSA_DENIED_SHARED;
		case groupsec::bgp::Verdict::DeniedNotNamed:
			return GSA_DENIED_NOT_NAMED;
		case groupsec::bgp::Verdict::UnknownGroup:
			break;
		}
		return GSA_DENIED_UNKNOWN_GROUP;
	} catch (const std::bad_alloc &) {
		// fail closed: a group route nobody could decide on stays here
		return GSA_DENIED_SHARED;
	}
}

int gsa_groups_peer_tag(struct gsa_groups *g, const char *address, uint32_t *tag)
{
	try {
		*tag = g->core.peer_tag(str(address));
		return 0;
	} catch (const std::bad_alloc &) {
		return -1;
	}
}

bool gsa_groups_last_tag(const struct gsa_groups *g, const char *address, uint32_t *tag)
{
	try {
		auto t = g->core.last_tag(str(address));
		if (t)
			*tag = *t;
		return t.has_value();
	} catch (const std::bad_alloc &) {
		return false;
	}
}

void gsa_groups_retain_tags(struct gsa_groups *g, const char *const *addresses, size_t n)
{
	try {
		std::set<std::string> keep;
		for (size_t i = 0; i < n; i++)
			keep.insert(str(addresses[i]));
		g->core.retain_tags(keep);
	} catch (const std::bad_alloc &) {
	}
}

bool gsa_groups_is_group_tag(const struct gsa_groups *g, const uint8_t *ec)
{
	return groupsec::bgp::group_of_route_target(ec, g->core.tag_as()).has_value();
}

char *gsa_groups_render(const struct gsa_groups *g, const struct gsa_neighbor_view *n,
			size_t n_neighbors, bool json)
{
	try {
		std::vector<NeighborView> ns;
		for (size_t i = 0; i < n_neighbors; i++)
			ns.push_back(NeighborView{str(n[i].address), str(n[i].state), n[i].filtered,
						  n[i].tag_held ? std::nullopt
								: std::optional<uint32_t>(n[i].applied_tag)});
		std::string s = json ? g->core.render_json(ns) : g->core.render_text(ns);
		return strdup(s.c_str());
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

} // extern "C"

// the groups core behind the C handle, for the sealed routes (gsa_routes.cc)
const groupsec::bgp::Groups &gsa_groups_core_of(const struct gsa_groups *g)
{
	return g->core;
}
