/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: groups over BGP.
 *
 * Member: `gsa group NAME id ID endpoint ADDR` joins a group; the module
 * originates a membership route for the endpoint (/32 or /128) tagged with
 * the route target of every group that names it.
 *
 * S/R (key server and route reflector in one router): the module keeps the
 * local key server's groups and registered members (list-groups and
 * list-members at every connection, then the member-registered, -left and
 * -evicted events) and installs the route map GSA-REFLECT, whose one
 * clause matches a route when it carries no group tag, or when every peer
 * of the update-group it is about to go to is a registered member of a
 * group of the route that its originator is a member of as well. Peers
 * whose outbound route map is GSA-REFLECT are filtered so; when membership
 * changes, the peers concerned are announced to again, which withdraws
 * what they may no longer see and sends what they now may. A member in
 * member-list mode (it named its peers at registration: `peers` in the
 * key server's lists and events) exchanges routes only with the members
 * it named.
 *
 * Outbound policy runs once per update-group with a copy of one peer's
 * configuration, so peers that may see different routes must not share an
 * update-group. The module splits them itself: each peer's membership
 * signature (core: Groups::signature()) gets a small tag (0: no group,
 * equal for equal signatures), which the module writes into the peer's
 * pmax_out of IPv4 and IPv6 unicast, a field bgpd's update-group key
 * includes and reads for nothing else unless `maximum-prefix-out` is
 * configured (such a peer keeps the operator's value and is split by it).
 * Then update_group_adjust_peer() moves the peer as `neighbor X solo`
 * would. Tags follow the key server's events, `gsa peer`, sessions coming
 * up, and a periodic check repairs what configuration resets. The match
 * still looks up the update-group and decides for all its peers: when
 * every one holds the same non-zero tag, which is the core's for them,
 * one decision stands for all; otherwise each is decided, and peers that
 * disagree get none of the group routes (denied-shared-update-group).
 * Decisions are the core's (core/gsa_groups.h).
 */

#include <zebra.h>

#include "command.h"
#include "hash.h"
#include "hook.h"
#include "log.h"
#include "memory.h"
#include "monotime.h"
#include "prefix.h"
#include "routemap.h"
#include "sockunion.h"
#include "thread.h"
#include "vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_aspath.h"
#include "bgpd/bgp_debug.h"
#include "bgpd/bgp_ecommunity.h"
#include "bgpd/bgp_fsm.h"
#include "bgpd/bgp_memory.h"
#include "bgpd/bgp_route.h"
#include "bgpd/bgp_table.h"
#include "bgpd/bgp_updgrp.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgp_gsa.h"
#include "bgp_gsa_control.h"
#include "bgp_gsa_groups.h"
#include "bgp_gsa_routes.h"
#include "gsa_core.h"
#include "gsa_sr.h"

DEFINE_MTYPE_STATIC(GSA, GSA_MEMBER_LIST, "GSA member list");
#endif

DEFINE_MTYPE_STATIC(GSA, GSA_GROUPS, "GSA groups state");

#define GSA_MAX_ORIGINATED 64
#define GSA_MAX_TARGETS 4096

static struct gsa_groups_state {
	struct gsa_groups *core;
	/* the membership routes this router originates */
	struct prefix originated[GSA_MAX_ORIGINATED];
	size_t n_originated;
	struct thread *t_sync;
	struct thread *t_registration;
	struct thread_master *master;
	bool listing; /* a list-groups is on its way */
	bool connected; /* to the control socket */
	struct thread *t_tags;
	/* every peer holds the core's tag for its signature now: one
	 * decision may stand for an update-group whose peers share a tag */
	bool tags_trusted;
} gsa_gs;

/* how often every peer's update-group tag is checked against the core's */
#define GSA_TAG_CHECK_SECS 5

/* how often a member asks how its gdoi groups register (show only) */
#define GSA_REGISTRATION_POLL_SECS 10

/* ------------------------------------------------------------ origination */

static struct bgp_path_info *gsa_own_path(struct bgp *bgp,
					  struct bgp_dest *dest)
{
	struct bgp_path_info *pi;

	for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next)
		if (pi->peer == bgp->peer_self && pi->type == ZEBRA_ROUTE_BGP &&
		    pi->sub_type == BGP_ROUTE_STATIC)
			return pi;
	return NULL;
}

static void gsa_withdraw(struct bgp *bgp, const struct prefix *p)
{
	afi_t afi = family2afi(p->family);
	struct bgp_dest *dest;
	struct bgp_path_info *pi;

	dest = bgp_afi_node_get(bgp->rib[afi][SAFI_UNICAST], afi, SAFI_UNICAST,
				p, NULL);
	pi = gsa_own_path(bgp, dest);
	if (pi) {
		bgp_path_info_delete(dest, pi);
		bgp_process(bgp, dest, afi, SAFI_UNICAST);
	}
	bgp_dest_unlock_node(dest);
}

static void gsa_originate(struct bgp *bgp, const struct prefix *p,
			  const struct gsa_membership_route *r)
{
	afi_t afi = family2afi(p->family);
	struct bgp_dest *dest;
	struct bgp_path_info *pi;
	struct attr attr, *attr_new;
	struct ecommunity *ecom = ecommunity_new();
	const uint8_t *sealed;
	size_t sealed_len;

	for (size_t i = 0; i < r->n_groups; i++) {
		struct ecommunity_val v;

		memcpy(v.val, r->rts[i], sizeof(v.val));
		ecommunity_add_val(ecom, &v, false, false);
	}
	bgp_attr_default_set(&attr, bgp, BGP_ORIGIN_IGP);
	if (afi == AFI_IP)
		attr.mp_nexthop_len = BGP_ATTR_NHLEN_IPV4;
	bgp_attr_set_ecommunity(&attr, ecom);
	/* the private prefixes, sealed: an optional transitive attribute
	 * bgpd does not know, carried as its unknown transitive ones are */
	if (gsa_routes_attr(r->endpoint, &sealed, &sealed_len)) {
		struct transit *transit = XCALLOC(MTYPE_TRANSIT, sizeof(*transit));

		transit->val = XMALLOC(MTYPE_TRANSIT_VAL, sealed_len);
		memcpy(transit->val, sealed, sealed_len);
		transit->length = sealed_len;
		bgp_attr_set_transit(&attr, transit);
	}
	attr_new = bgp_attr_intern(&attr);

	dest = bgp_afi_node_get(bgp->rib[afi][SAFI_UNICAST], afi, SAFI_UNICAST,
				p, NULL);
	pi = gsa_own_path(bgp, dest);
	if (pi && attrhash_cmp(pi->attr, attr_new) &&
	    !CHECK_FLAG(pi->flags, BGP_PATH_REMOVED)) {
		bgp_attr_unintern(&attr_new);
	} else if (pi) {
		bgp_path_info_set_flag(dest, pi, BGP_PATH_ATTR_CHANGED);
		if (CHECK_FLAG(pi->flags, BGP_PATH_REMOVED))
			bgp_path_info_restore(dest, pi);
		bgp_attr_unintern(&pi->attr);
		pi->attr = attr_new;
		pi->uptime = monotime(NULL);
		bgp_path_info_set_flag(dest, pi, BGP_PATH_VALID);
		bgp_process(bgp, dest, afi, SAFI_UNICAST);
	} else {
		pi = info_make(ZEBRA_ROUTE_BGP, BGP_ROUTE_STATIC, 0,
			       bgp->peer_self, attr_new, dest);
		bgp_path_info_set_flag(dest, pi, BGP_PATH_VALID);
		bgp_path_info_add(dest, pi);
		bgp_process(bgp, dest, afi, SAFI_UNICAST);
	}
	bgp_dest_unlock_node(dest);
	aspath_unintern(&attr.aspath);
}

/* Originate what the configuration says, withdraw what it no longer does. */
static void gsa_groups_sync(struct thread *t)
{
	struct bgp *bgp = bgp_get_default();
	struct gsa_membership_route routes[GSA_MAX_ORIGINATED];
	struct prefix want[GSA_MAX_ORIGINATED];
	size_t n, i, j;

	if (!bgp || !gsa_gs.core)
		return;
	gsa_groups_set_local_as(gsa_gs.core, bgp->as);
	n = gsa_groups_routes(gsa_gs.core, routes, GSA_MAX_ORIGINATED);
	if (n > GSA_MAX_ORIGINATED) {
		zlog_warn(
			"gsa: %zu tunnel endpoints configured, only %d are announced",
			n, GSA_MAX_ORIGINATED);
		n = GSA_MAX_ORIGINATED;
	}
	for (i = 0; i < n; i++) {
		memset(&want[i], 0, sizeof(want[i]));
		if (!str2prefix(routes[i].endpoint, &want[i]))
			continue;
		want[i].prefixlen = routes[i].prefix_len;
	}
	for (j = 0; j < gsa_gs.n_originated; j++) {
		bool kept = false;

		for (i = 0; i < n && !kept; i++)
			kept = prefix_same(&gsa_gs.originated[j], &want[i]);
		if (!kept)
			gsa_withdraw(bgp, &gsa_gs.originated[j]);
	}
	for (i = 0; i < n; i++) {
		gsa_originate(bgp, &want[i], &routes[i]);
		gsa_gs.originated[i] = want[i];
	}
	gsa_gs.n_originated = n;
}

static void gsa_groups_schedule_sync(void)
{
	if (gsa_gs.master)
		thread_add_event(gsa_gs.master, gsa_groups_sync, NULL, 0,
				 &gsa_gs.t_sync);
}

void gsa_groups_resync(void)
{
	gsa_groups_schedule_sync();
}

/* ------------------------------------------------------------ update-groups */

static const char *gsa_peer_address(const struct peer *peer, char *buf,
				    size_t size)
{
	return sockunion2str(&peer->su, buf, size);
}

/* Does bgpd's update-group key hold the module's tag for peer in afi? Not
 * when the operator configured maximum-prefix-out there. */
static bool gsa_tag_field_ours(const struct peer *peer, afi_t afi)
{
	return !CHECK_FLAG(peer->af_flags[afi][SAFI_UNICAST],
			   PEER_FLAG_MAX_PREFIX_OUT);
}

/* Write tag into the peer's update-group key and move it to the
 * update-group of its tag, with a copy of what it was sent: announcing
 * again withdraws and sends the difference (as `neighbor X solo` does). */
static void gsa_tag_apply(struct peer *peer, uint32_t tag)
{
	for (afi_t afi = AFI_IP; afi <= AFI_IP6; afi++) {
		struct peer_af *paf;

		if (!gsa_tag_field_ours(peer, afi) ||
		    peer->pmax_out[afi][SAFI_UNICAST] == tag)
			continue;
		if (BGP_DEBUG(update_groups, UPDATE_GROUPS))
			zlog_debug("gsa: %s %s update-group tag %u (was %u)",
				   peer->host, afi2str(afi), tag,
				   peer->pmax_out[afi][SAFI_UNICAST]);
		peer->pmax_out[afi][SAFI_UNICAST] = tag;
		/* not in an update-group yet: bgpd places it by its key when
		 * the session comes up (bgp_establish(), after the
		 * peer_status_changed hook) */
		paf = peer_af_find(peer, afi, SAFI_UNICAST);
		if (!paf || !paf->subgroup)
			continue;
		update_group_adjust_peer(paf);
		bgp_announce_route(peer, afi, SAFI_UNICAST, false);
	}
}

/* The peer's tag for its signature now, into bgpd. */
static bool gsa_tag_peer(struct peer *peer)
{
	char addr[SU_ADDRSTRLEN];
	uint32_t tag;

	if (!gsa_gs.core)
		return false;
	if (gsa_groups_peer_tag(gsa_gs.core,
				gsa_peer_address(peer, addr, sizeof(addr)),
				&tag) < 0) {
		/* fail closed: no decision stands for an update-group */
		gsa_gs.tags_trusted = false;
		return false;
	}
	gsa_tag_apply(peer, tag);
	return true;
}

/* Every peer of the default instance: its tag, written again where
 * configuration reset it (`no neighbor X maximum-prefix-out`, a
 * peer-group's settings); the tags of peers no longer there are freed. */
static void gsa_tag_all(void)
{
	struct bgp *bgp = bgp_get_default();
	struct listnode *node;
	struct peer *peer;
	char(*addrs)[SU_ADDRSTRLEN];
	const char **list;
	size_t n = 0;
	bool ok = true;

	if (!bgp || !gsa_gs.core)
		return;
	addrs = XCALLOC(MTYPE_GSA_GROUPS,
			sizeof(*addrs) * (listcount(bgp->peer) + 1));
	list = XCALLOC(MTYPE_GSA_GROUPS,
		       sizeof(*list) * (listcount(bgp->peer) + 1));
	for (ALL_LIST_ELEMENTS_RO(bgp->peer, node, peer)) {
		list[n] = gsa_peer_address(peer, addrs[n], sizeof(addrs[n]));
		n++;
	}
	gsa_groups_retain_tags(gsa_gs.core, list, n);
	for (ALL_LIST_ELEMENTS_RO(bgp->peer, node, peer))
		ok = gsa_tag_peer(peer) && ok;
	gsa_gs.tags_trusted = ok;
	XFREE(MTYPE_GSA_GROUPS, list);
	XFREE(MTYPE_GSA_GROUPS, addrs);
}

static void gsa_tag_check(struct thread *t)
{
	thread_add_timer(gsa_gs.master, gsa_tag_check, NULL,
			 GSA_TAG_CHECK_SECS, &gsa_gs.t_tags);
	gsa_tag_all();
}

/* a session came up: bgpd places it by its tag */
static int gsa_tag_on_status(struct peer *peer)
{
	if (peer->bgp && peer->bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT &&
	    peer_established(peer))
		gsa_tag_peer(peer);
	return 0;
}

/* ------------------------------------------------------------ reflection */

/* Announce again to the peer at address: what it may see was decided again,
 * and its signature with it. */
static void gsa_reannounce(void *arg, const char *address)
{
	struct bgp *bgp = bgp_get_default();
	union sockunion su;
	struct peer *peer;

	if (!bgp || str2sockunion(address, &su) < 0)
		return;
	peer = peer_lookup(bgp, &su);
	if (!peer)
		return;
	if (BGP_DEBUG(update, UPDATE_OUT))
		zlog_debug("gsa: membership of %s changed: announcing again",
			   address);
	gsa_tag_peer(peer);
	bgp_announce_route(peer, AFI_IP, SAFI_UNICAST, false);
	bgp_announce_route(peer, AFI_IP6, SAFI_UNICAST, false);
}

/* Announce again to every neighbor: a binding changes what a neighbor may
 * receive and what the others may receive from it. */
static void gsa_reannounce_all(void)
{
	struct bgp *bgp = bgp_get_default();
	struct listnode *node;
	struct peer *peer;

	if (!bgp)
		return;
	gsa_tag_all();
	for (ALL_LIST_ELEMENTS_RO(bgp->peer, node, peer)) {
		bgp_announce_route(peer, AFI_IP, SAFI_UNICAST, false);
		bgp_announce_route(peer, AFI_IP6, SAFI_UNICAST, false);
	}
}

struct gsa_updgrp_find {
	const struct peer *conf;
	struct update_group *found;
};

static int gsa_updgrp_find_walk(struct hash_bucket *bucket, void *arg)
{
	struct update_group *updgrp = bucket->data;
	struct gsa_updgrp_find *f = arg;

	if (UPDGRP_PEER(updgrp) == f->conf) {
		f->found = updgrp;
		return HASHWALK_ABORT;
	}
	return HASHWALK_CONTINUE;
}

/* The one peer whose decision stands for every peer of updgrp in afi:
 * all hold the same non-zero tag in bgpd's key, the core's for the first
 * of them. NULL: decide for each. */
static struct peer *gsa_updgrp_representative(struct update_group *updgrp,
					      afi_t afi)
{
	struct update_subgroup *subgrp;
	struct peer_af *paf;
	struct peer *rep = NULL;
	uint32_t tag = 0, core_tag;
	char addr[SU_ADDRSTRLEN];

	if (!gsa_gs.tags_trusted)
		return NULL;
	UPDGRP_FOREACH_SUBGRP (updgrp, subgrp)
		SUBGRP_FOREACH_PEER (subgrp, paf) {
			struct peer *p = paf->peer;

			if (!gsa_tag_field_ours(p, afi))
				return NULL;
			if (!rep) {
				rep = p;
				tag = p->pmax_out[afi][SAFI_UNICAST];
				if (!tag)
					return NULL;
			} else if (p->pmax_out[afi][SAFI_UNICAST] != tag)
				return NULL;
		}
	if (!rep ||
	    !gsa_groups_last_tag(gsa_gs.core,
				 gsa_peer_address(rep, addr, sizeof(addr)),
				 &core_tag) ||
	    core_tag != tag)
		return NULL;
	return rep;
}

static enum route_map_cmd_result_t
gsa_match_reflect(void *rule, const struct prefix *prefix, void *object)
{
	struct bgp_path_info *path = object;
	struct peer *peer = path->peer;
	struct ecommunity *ecom;
	uint8_t tags[GSA_MAX_ROUTE_GROUPS * 8];
	size_t n_tags = 0;
	char origin[SU_ADDRSTRLEN] = "";
	static char addrs[GSA_MAX_TARGETS][SU_ADDRSTRLEN];
	static const char *targets[GSA_MAX_TARGETS];
	size_t n_targets = 0;
	struct gsa_updgrp_find f = {};
	struct peer *rep = NULL;
	enum gsa_verdict v;

	if (!gsa_gs.core || !peer || !peer->bgp)
		return RMAP_NOMATCH;
	gsa_groups_set_local_as(gsa_gs.core, peer->bgp->as);
	ecom = path->attr ? bgp_attr_get_ecommunity(path->attr) : NULL;
	if (ecom && ecom->unit_size == ECOMMUNITY_SIZE)
		for (uint32_t i = 0; i < ecom->size; i++) {
			const uint8_t *ec = ecom->val + i * ECOMMUNITY_SIZE;

			if (gsa_groups_is_group_tag(gsa_gs.core, ec) &&
			    n_tags < GSA_MAX_ROUTE_GROUPS)
				memcpy(tags + 8 * n_tags++, ec, 8);
		}
	if (!n_tags)
		/* not a group route: the module lets it be */
		return RMAP_MATCH;

	/* the originator: the peer of the selected path */
	if (path->net) {
		struct bgp_path_info *pi;

		for (pi = bgp_dest_get_bgp_path_info(path->net); pi;
		     pi = pi->next)
			if (CHECK_FLAG(pi->flags, BGP_PATH_SELECTED))
				break;
		if (pi && pi->peer && pi->peer != pi->peer->bgp->peer_self)
			gsa_peer_address(pi->peer, origin, sizeof(origin));
	}

	/* the receivers: every peer of the update-group whose configuration
	 * `peer` is a copy of; a real peer (outside an update) alone */
	if (prefix &&
	    (prefix->family == AF_INET || prefix->family == AF_INET6)) {
		int afid = afindex(family2afi(prefix->family), SAFI_UNICAST);

		f.conf = peer;
		if (afid < BGP_AF_MAX && peer->bgp->update_groups[afid])
			hash_walk(peer->bgp->update_groups[afid],
				  gsa_updgrp_find_walk, &f);
	}
	if (f.found &&
	    (rep = gsa_updgrp_representative(f.found,
					      family2afi(prefix->family)))) {
		/* equal signatures, equal decisions: one for all */
		targets[n_targets] =
			gsa_peer_address(rep, addrs[0], sizeof(addrs[0]));
		n_targets++;
	} else if (f.found) {
		struct update_subgroup *subgrp;
		struct peer_af *paf;

		UPDGRP_FOREACH_SUBGRP (f.found, subgrp)
			SUBGRP_FOREACH_PEER (subgrp, paf) {
				if (n_targets == GSA_MAX_TARGETS)
					return RMAP_NOMATCH;
				targets[n_targets] = gsa_peer_address(
					paf->peer, addrs[n_targets],
					sizeof(addrs[n_targets]));
				n_targets++;
			}
	} else if (peer->su.sa.sa_family == AF_INET ||
		   peer->su.sa.sa_family == AF_INET6) {
		targets[n_targets] =
			gsa_peer_address(peer, addrs[0], sizeof(addrs[0]));
		n_targets++;
	}
	v = gsa_groups_decide(gsa_gs.core, tags, n_tags, origin, targets,
			      n_targets);
	if (BGP_DEBUG(update, UPDATE_OUT))
		zlog_debug("gsa: %pFX from %s to %zu peer(s) (first %s%s): %s",
			   prefix, origin[0] ? origin : "self", n_targets,
			   n_targets ? targets[0] : "-",
			   rep ? ", for its update-group" : "",
			   v == GSA_REFLECT ? "reflect" : "deny");
	return v == GSA_REFLECT ? RMAP_MATCH : RMAP_NOMATCH;
}

static void *gsa_match_compile(const char *arg)
{
	static int compiled = 1;

	return &compiled;
}

static void gsa_match_free(void *rule)
{
}

static const struct route_map_rule_cmd gsa_match_reflect_cmd = {
	GSA_MATCH_RULE,
	gsa_match_reflect,
	gsa_match_compile,
	gsa_match_free,
};

/* The module's route map: one clause, permit when the rule matches. */
static void gsa_route_map_install(void)
{
	struct route_map *map = route_map_get(GSA_ROUTE_MAP);
	struct route_map_index *index;

	index = route_map_index_get(map, RMAP_PERMIT, 10);
	if (route_map_add_match(index, GSA_MATCH_RULE, "",
				RMAP_EVENT_MATCH_ADDED) != RMAP_COMPILE_SUCCESS)
		zlog_err("gsa: cannot install the route map %s", GSA_ROUTE_MAP);
}

/* ------------------------------------------------------------ key server */

/* What a list-groups or list-members answer names, pointing into the
 * answer: as many entries as it holds. */
struct gsa_list {
	const char **names;
	const char **ids;
	char **peers; /* member lists ('\n'-joined, owned), NULL: auto */
	size_t n, cap;
};

static void gsa_list_add(struct gsa_list *l, const char *name, const char *id,
			 char *peers)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->names = XREALLOC(MTYPE_GSA_GROUPS, l->names,
				    l->cap * sizeof(*l->names));
		l->ids = XREALLOC(MTYPE_GSA_GROUPS, l->ids,
				  l->cap * sizeof(*l->ids));
		l->peers = XREALLOC(MTYPE_GSA_GROUPS, l->peers,
				    l->cap * sizeof(*l->peers));
	}
	l->names[l->n] = name;
	l->ids[l->n] = id;
	l->peers[l->n] = peers;
	l->n++;
}

static void gsa_list_free(struct gsa_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		XFREE(MTYPE_GSA_MEMBER_LIST, l->peers[i]);
	XFREE(MTYPE_GSA_GROUPS, l->names);
	XFREE(MTYPE_GSA_GROUPS, l->ids);
	XFREE(MTYPE_GSA_GROUPS, l->peers);
	l->n = l->cap = 0;
}

/* A member list as the core takes it: the items of the list `peers` of
 * msg joined by '\n'; NULL when there is none (auto-discovery). */
static void gsa_peer_item(void *arg, const char *item)
{
	char **out = arg;
	size_t have = *out ? strlen(*out) : 0;
	size_t add = strlen(item);
	char *s = XREALLOC(MTYPE_GSA_MEMBER_LIST, *out, have + add + 2);

	if (have)
		s[have++] = '\n';
	memcpy(s + have, item, add + 1);
	*out = s;
}

static char *gsa_member_list(const struct gs_vici_msg *msg)
{
	char *out = NULL;

	if (gs_vici_msg_list(msg, "peers", gsa_peer_item, &out) < 0)
		return NULL;
	if (!out)
		out = XSTRDUP(MTYPE_GSA_MEMBER_LIST, "");
	return out;
}

static void gsa_collect_server_group(void *arg, const char *name,
				     const struct gs_vici_msg *g)
{
	struct gsa_list *l = arg;
	const char *role = gs_vici_msg_get(g, "role");
	const char *id = gs_vici_msg_get(g, "group-id");
	const char *gname = gs_vici_msg_get(g, "name");

	if (!role || strcmp(role, "server") || !id)
		return;
	gsa_list_add(l, gname ? gname : name, id, NULL);
}

/* a member group of the local gdoi plugin: how it registers */
static void gsa_collect_member_group(void *arg, const char *name,
				     const struct gs_vici_msg *g)
{
	struct gsa_list *l = arg;
	const char *role = gs_vici_msg_get(g, "role");
	const char *id = gs_vici_msg_get(g, "group-id");

	if (!role || strcmp(role, "member") || !id)
		return;
	gsa_list_add(l, name, id, gsa_member_list(g));
}

static void gsa_collect_member(void *arg, const char *name,
			       const struct gs_vici_msg *m)
{
	struct gsa_list *l = arg;
	const char *id = gs_vici_msg_get(m, "id");
	const char *address = gs_vici_msg_get(m, "address");

	if (!address)
		return;
	gsa_list_add(l, id ? id : name, address, gsa_member_list(m));
}

static void gsa_on_members(void *arg, const char *command,
			   const struct gs_vici_msg *reply)
{
	struct gsa_list l = {};
	const char *group, *ok;

	if (!reply || !gsa_gs.core)
		return;
	ok = gs_vici_msg_get(reply, "success");
	group = gs_vici_msg_get(reply, "group");
	if (!ok || strcmp(ok, "yes") || !group) {
		zlog_warn("gsa: list-members: %s",
			  gs_vici_msg_get(reply, "errmsg")
				  ? gs_vici_msg_get(reply, "errmsg")
				  : "no answer");
		return;
	}
	gs_vici_msg_sections(reply, "members", gsa_collect_member, &l);
	gsa_groups_ks_members(gsa_gs.core, group, l.names, l.ids,
			      (const char *const *)l.peers, l.n, gsa_reannounce,
			      NULL);
	gsa_list_free(&l);
}

static void gsa_on_groups(void *arg, const char *command,
			  const struct gs_vici_msg *reply)
{
	struct gsa_list l = {};
	const char *ok;

	gsa_gs.listing = false;
	if (!reply || !gsa_gs.core)
		return;
	ok = gs_vici_msg_get(reply, "success");
	if (!ok || strcmp(ok, "yes")) {
		zlog_warn("gsa: list-groups refused");
		return;
	}
	gs_vici_msg_sections(reply, "groups", gsa_collect_member_group, &l);
	gsa_groups_gm_groups(gsa_gs.core, l.ids, (const char *const *)l.peers,
			     l.n);
	gsa_list_free(&l);
	gs_vici_msg_sections(reply, "groups", gsa_collect_server_group, &l);
	gsa_groups_ks_groups(gsa_gs.core, l.names, l.ids, l.n, gsa_reannounce,
			     NULL);
	for (size_t i = 0; i < l.n; i++) {
		const char *args[] = {"group", l.names[i], NULL};

		if (gsa_control_request("list-members", args, gsa_on_members,
					NULL) < 0)
			zlog_warn("gsa: cannot ask the members of %s",
				  l.names[i]);
	}
	gsa_list_free(&l);
}

/* Ask the key server for its groups, then each group's members. */
static void gsa_list_groups(void)
{
	if (gsa_gs.listing)
		return;
	if (gsa_control_request("list-groups", NULL, gsa_on_groups, NULL) < 0)
		zlog_warn("gsa: cannot ask the key server's groups");
	else
		gsa_gs.listing = true;
}

/* A member: how its gdoi member groups register (auto-discovery or a member
 * list) is shown next to the configured discovery. A new member list
 * raises no event on the member's socket: ask again now and then. */
static void gsa_registration_poll(struct thread *t)
{
	thread_add_timer(gsa_gs.master, gsa_registration_poll, NULL,
			 GSA_REGISTRATION_POLL_SECS, &gsa_gs.t_registration);
	if (gsa_gs.core && gsa_gs.connected &&
	    gsa_groups_routes(gsa_gs.core, NULL, 0) > 0)
		gsa_list_groups();
}

static int gsa_groups_on_state(bool connected)
{
	gsa_gs.connected = connected;
	/* an answer lost with the connection comes back as NULL */
	if (!connected || !gsa_gs.core)
		return 0;
	gsa_groups_ks_reset(gsa_gs.core);
	gsa_gs.listing = false;
	gsa_list_groups();
	return 0;
}

static int gsa_groups_on_event(const char *name, const struct gs_vici_msg *msg)
{
	const char *group = gs_vici_msg_get(msg, "group");
	const char *member = gs_vici_msg_get(msg, "member");
	const char *role = gs_vici_msg_get(msg, "role");

	/* a member group registered (again, perhaps with another member
	 * list): ask how its groups register now */
	if (gsa_gs.core && strcmp(name, "routing-key") == 0 && role &&
	    strcmp(role, "member") == 0) {
		gsa_list_groups();
		return 0;
	}
	if (!gsa_gs.core || !group || !member)
		return 0;
	/* a group the key server did not have when it was asked (charon
	 * loads its groups after it starts): ask again, the lists that come
	 * include this member */
	if (!gsa_groups_ks_knows(gsa_gs.core, group)) {
		gsa_list_groups();
		return 0;
	}
	if (strcmp(name, "member-registered") == 0) {
		char *peers = gsa_member_list(msg);

		gsa_groups_ks_registered(gsa_gs.core, group, member,
					 gs_vici_msg_get(msg, "address"), peers,
					 gsa_reannounce, NULL);
		XFREE(MTYPE_GSA_MEMBER_LIST, peers);
	} else if (strcmp(name, "member-left") == 0)
		gsa_groups_ks_gone(gsa_gs.core, group, member, false,
				   gsa_reannounce, NULL);
	else if (strcmp(name, "member-evicted") == 0)
		gsa_groups_ks_gone(gsa_gs.core, group, member, true,
				   gsa_reannounce, NULL);
	return 0;
}

/* ------------------------------------------------------------ CLI */

static bool gsa_default_bgp(struct vty *vty, struct bgp *bgp)
{
	if (bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT)
		return true;
	vty_out(vty, "%% Groups are configured in the default BGP instance\n");
	return false;
}

static int gsa_config_result(struct vty *vty, int ret, const char *err)
{
	if (ret < 0) {
		vty_out(vty, "%% %s\n", err);
		return CMD_WARNING_CONFIG_FAILED;
	}
	gsa_groups_schedule_sync();
	return CMD_SUCCESS;
}

DEFUN(gsa_group, gsa_group_cmd,
      "gsa group WORD id (0-4294967295) endpoint <A.B.C.D|X:X::X:X> [discovery <member-list|auto>]",
      "Group security association (groupsec) module\n"
      "Join a group\n"
      "Group name\n"
      "Group ID (the key server's group_id)\n"
      "Group ID\n"
      "This router's tunnel endpoint in the group\n"
      "IPv4 tunnel endpoint\n"
      "IPv6 tunnel endpoint\n"
      "How the group's members find each other\n"
      "The member names its peers when it registers\n"
      "The S/R solicits by group ID (default)\n")
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	char err[256];
	bool member_list = argc > 8 && strcmp(argv[8]->arg, "member-list") == 0;
	uint32_t id = strtoul(argv[4]->arg, NULL, 10);

	if (!gsa_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	return gsa_config_result(vty,
				 gsa_groups_set(gsa_gs.core, argv[2]->arg, id,
						argv[6]->arg, member_list, err,
						sizeof(err)),
				 err);
}

DEFUN(no_gsa_group, no_gsa_group_cmd,
      "no gsa group WORD [id (0-4294967295) endpoint <A.B.C.D|X:X::X:X> [discovery <member-list|auto>]]",
      NO_STR
      "Group security association (groupsec) module\n"
      "Leave a group\n"
      "Group name\n"
      "Group ID (the key server's group_id)\n"
      "Group ID\n"
      "This router's tunnel endpoint in the group\n"
      "IPv4 tunnel endpoint\n"
      "IPv6 tunnel endpoint\n"
      "How the group's members find each other\n"
      "The member names its peers when it registers\n"
      "The S/R solicits by group ID (default)\n")
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	char err[256];

	if (!gsa_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	return gsa_config_result(
		vty,
		gsa_groups_remove(gsa_gs.core, argv[3]->arg, err, sizeof(err)),
		err);
}

DEFUN(gsa_group_prefix, gsa_group_prefix_cmd,
      "[no] gsa group WORD prefix <A.B.C.D/M|X:X::X:X/M>",
      NO_STR
      "Group security association (groupsec) module\n"
      "A group this router joined\n"
      "Group name\n"
      "A private prefix announced to the group's members\n"
      "IPv4 prefix\n"
      "IPv6 prefix\n")
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	char err[256];
	bool no = strcmp(argv[0]->text, "no") == 0;
	int base = no ? 1 : 0;

	if (!gsa_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	return gsa_config_result(
		vty,
		gsa_groups_prefix(gsa_gs.core, argv[base + 2]->arg,
				  argv[base + 4]->arg, !no, err, sizeof(err)),
		err);
}

DEFUN(gsa_peer_identity, gsa_peer_identity_cmd,
      "gsa peer <A.B.C.D|X:X::X:X> identity WORD",
      "Group security association (groupsec) module\n"
      "A BGP neighbor that is a group member\n"
      "IPv4 address\n"
      "IPv6 address\n"
      "The identity it must be registered under with the key server\n"
      "Identity, in swanctl notation\n")
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	char err[256];
	int ret;

	if (!gsa_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	ret = gsa_groups_bind_peer(gsa_gs.core, argv[2]->arg, argv[4]->arg, err,
				   sizeof(err));
	if (ret == 0)
		gsa_reannounce_all();
	return gsa_config_result(vty, ret, err);
}

DEFUN(no_gsa_peer_identity, no_gsa_peer_identity_cmd,
      "no gsa peer <A.B.C.D|X:X::X:X> [identity WORD]",
      NO_STR
      "Group security association (groupsec) module\n"
      "A BGP neighbor that is a group member\n"
      "IPv4 address\n"
      "IPv6 address\n"
      "The identity it must be registered under with the key server\n"
      "Identity, in swanctl notation\n")
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	char err[256];
	int ret;

	if (!gsa_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	ret = gsa_groups_bind_peer(gsa_gs.core, argv[3]->arg, NULL, err,
				   sizeof(err));
	if (ret == 0)
		gsa_reannounce_all();
	return gsa_config_result(vty, ret, err);
}

static bool gsa_peer_filtered(struct peer *peer)
{
	for (afi_t afi = AFI_IP; afi <= AFI_IP6; afi++) {
		const char *name =
			peer->filter[afi][SAFI_UNICAST].map[RMAP_OUT].name;

		if (peer->afc[afi][SAFI_UNICAST] &&
		    (!name || strcmp(name, GSA_ROUTE_MAP)))
			return false;
	}
	return true;
}

DEFUN(show_bgp_gsa_groups, show_bgp_gsa_groups_cmd,
      "show bgp gsa groups [json]",
      SHOW_STR BGP_STR
      "Group security association (groupsec) module\n"
      "Groups: local ones, the key server's members, reflection\n" JSON_STR)
{
	struct bgp *bgp = bgp_get_default();
	struct gsa_neighbor_view *nv = NULL;
	char(*addrs)[SU_ADDRSTRLEN] = NULL;
	size_t n = 0;
	struct listnode *node;
	struct peer *peer;
	char *out;

	if (!gsa_gs.core) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING;
	}
	if (bgp) {
		gsa_groups_set_local_as(gsa_gs.core, bgp->as);
		nv = XCALLOC(MTYPE_GSA_GROUPS,
			     sizeof(*nv) * (listcount(bgp->peer) + 1));
		addrs = XCALLOC(MTYPE_GSA_GROUPS,
				sizeof(*addrs) * (listcount(bgp->peer) + 1));
		for (ALL_LIST_ELEMENTS_RO(bgp->peer, node, peer)) {
			if (!CHECK_FLAG(peer->flags, PEER_FLAG_CONFIG_NODE))
				continue;
			nv[n].address = gsa_peer_address(peer, addrs[n],
							 sizeof(addrs[n]));
			nv[n].state =
				lookup_msg(bgp_status_msg, peer->status, NULL);
			nv[n].filtered = gsa_peer_filtered(peer);
			nv[n].tag_held = !gsa_tag_field_ours(peer, AFI_IP);
			nv[n].applied_tag = peer->pmax_out[AFI_IP][SAFI_UNICAST];
			n++;
		}
	}
	out = gsa_groups_render(gsa_gs.core, nv, n, argc > 4);
	XFREE(MTYPE_GSA_GROUPS, nv);
	XFREE(MTYPE_GSA_GROUPS, addrs);
	if (!out) {
		vty_out(vty, "%% Out of memory\n");
		return CMD_WARNING;
	}
	vty_out(vty, "%s\n", out);
	gsa_core_free(out);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------ module */

void gsa_groups_config_write(struct vty *vty)
{
	char *lines;

	if (!gsa_gs.core)
		return;
	lines = gsa_groups_config(gsa_gs.core);
	if (lines) {
		vty_out(vty, "%s", lines);
		gsa_core_free(lines);
	}
}

void gsa_groups_instance_delete(void)
{
	/* the routes went with the instance */
	gsa_gs.n_originated = 0;
}

void gsa_groups_init(struct thread_master *master)
{
	gsa_gs.master = master;
	gsa_gs.tags_trusted = true; /* no peer has a tag yet: none is wrong */
	gsa_gs.core = gsa_groups_new();
	if (!gsa_gs.core) {
		zlog_err("gsa: groups: out of memory");
		return;
	}
	route_map_install_match(&gsa_match_reflect_cmd);
	gsa_route_map_install();
	hook_register(bgp_gsa_control_state, gsa_groups_on_state);
	hook_register(bgp_gsa_control_event, gsa_groups_on_event);
	hook_register(peer_status_changed, gsa_tag_on_status);
	install_element(BGP_NODE, &gsa_group_cmd);
	install_element(BGP_NODE, &no_gsa_group_cmd);
	install_element(BGP_NODE, &gsa_group_prefix_cmd);
	install_element(BGP_NODE, &gsa_peer_identity_cmd);
	install_element(BGP_NODE, &no_gsa_peer_identity_cmd);
	install_element(VIEW_NODE, &show_bgp_gsa_groups_cmd);
	gsa_routes_init(master, gsa_gs.core);
	thread_add_timer(master, gsa_registration_poll, NULL,
			 GSA_REGISTRATION_POLL_SECS, &gsa_gs.t_registration);
	thread_add_timer(master, gsa_tag_check, NULL, GSA_TAG_CHECK_SECS,
			 &gsa_gs.t_tags);
}

void gsa_groups_fini(void)
{
	THREAD_OFF(gsa_gs.t_sync);
	THREAD_OFF(gsa_gs.t_registration);
	THREAD_OFF(gsa_gs.t_tags);
	hook_unregister(peer_status_changed, gsa_tag_on_status);
	gsa_routes_fini();
	gsa_groups_free(gsa_gs.core);
	gsa_gs.core = NULL;
}
