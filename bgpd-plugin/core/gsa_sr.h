/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec bgpd module: the C interface of the groups core (gsa_groups.h)
 * for the FRR glue: member configuration and membership routes, the key
 * server's groups and members, the reflection decision, `show bgp gsa
 * groups`. Strings in are copied; text out is freed with gsa_core_free().
 * Every function that changes who may see what reports the peer addresses
 * whose routes are to be evaluated again through fn.
 */
#ifndef GSA_SR_H
#define GSA_SR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gsa_groups;

struct gsa_groups *gsa_groups_new(void);
void gsa_groups_free(struct gsa_groups *g);

/* ---- member configuration: 0, or -1 with the reason in err */
int gsa_groups_set(struct gsa_groups *g, const char *name, uint32_t id,
		   const char *endpoint, bool member_list, char *err,
		   size_t errsize);
int gsa_groups_prefix(struct gsa_groups *g, const char *name,
		      const char *prefix, bool add, char *err, size_t errsize);
int gsa_groups_remove(struct gsa_groups *g, const char *name, char *err,
		      size_t errsize);
/* S/R: the BGP neighbor at address must be registered as identity (NULL:
 * unbind) */
int gsa_groups_bind_peer(struct gsa_groups *g, const char *address,
			 const char *identity, char *err, size_t errsize);
/* the running-config lines (" gsa ...\n") */
char *gsa_groups_config(const struct gsa_groups *g);

/* ---- the membership routes this router originates */
#define GSA_MAX_ROUTE_GROUPS 32
struct gsa_membership_route {
	char endpoint[48];     /* "192.0.2.11", "2001:db8::11" */
	unsigned prefix_len;   /* 32 or 128 */
	size_t n_groups;
	uint8_t rts[GSA_MAX_ROUTE_GROUPS][8]; /* each group's route target */
};
/* up to max routes into out; returns how many there are */
size_t gsa_groups_routes(const struct gsa_groups *g,
			 struct gsa_membership_route *out, size_t max);
/* the instance's AS: group route targets are RT:AS:GROUP (AS_TRANS for a
 * four-octet AS) */
void gsa_groups_set_local_as(struct gsa_groups *g, uint32_t local_as);
/* group's route target (8 octets) in the AS set */
void gsa_groups_route_target(const struct gsa_groups *g, uint32_t group_id,
			     uint8_t out[8]);

/* ---- the key server (S/R) */
typedef void (*gsa_affected_fn)(void *arg, const char *address);
void gsa_groups_ks_reset(struct gsa_groups *g);
/* list-groups: the key server's groups (role server), names and IDs */
void gsa_groups_ks_groups(struct gsa_groups *g, const char *const *names,
			  const char *const *ids, size_t n, gsa_affected_fn fn,
			  void *arg);
/*
 * list-members of one group. peer_lists (NULL: every member in
 * auto-discovery) gives each member's member list: NULL for
 * auto-discovery, else the identities it named joined by '\n' ("" when
 * it named nobody).
 */
void gsa_groups_ks_members(struct gsa_groups *g, const char *group,
			   const char *const *identities,
			   const char *const *addresses,
			   const char *const *peer_lists, size_t n,
			   gsa_affected_fn fn, void *arg);
/*
 * list-groups on a member: the local gdoi plugin's member groups, each its
 * group ID (as list-groups shows it) and member list (as in
 * gsa_groups_ks_members(), NULL: auto-discovery), for show.
 */
void gsa_groups_gm_groups(struct gsa_groups *g, const char *const *ids,
			  const char *const *peer_lists, size_t n);
/* does the key server serve a group of that name, as last listed? */
bool gsa_groups_ks_knows(const struct gsa_groups *g, const char *group);
/* peers: its member list as in gsa_groups_ks_members(), NULL for auto */
void gsa_groups_ks_registered(struct gsa_groups *g, const char *group,
			      const char *identity, const char *address,
			      const char *peers, gsa_affected_fn fn,
			      void *arg);
void gsa_groups_ks_gone(struct gsa_groups *g, const char *group,
			const char *identity, bool evicted,
			gsa_affected_fn fn, void *arg);

/* ---- the reflection decision */
enum gsa_verdict {
	GSA_NOT_GROUP_ROUTE, /* no group route target: not the module's */
	GSA_REFLECT,
	GSA_DENIED_PEER,
	GSA_DENIED_ORIGIN,
	GSA_DENIED_SHARED,
	GSA_DENIED_UNKNOWN_GROUP,
	GSA_DENIED_NOT_NAMED, /* member-list mode: the pair did not name each other */
};
/*
 * A route with these extended communities (n_ecs of 8 octets) from origin
 * (peer address; "" or NULL for this router) to the peers of one
 * update-group (targets).
 */
enum gsa_verdict gsa_groups_decide(struct gsa_groups *g, const uint8_t *ecs,
				   size_t n_ecs, const char *origin,
				   const char *const *targets,
				   size_t n_targets);
/* is ec (8 octets) a route target of the AS set (a group's tag)? */
bool gsa_groups_is_group_tag(const struct gsa_groups *g, const uint8_t *ec);

/* ---- update-groups: peers with equal membership signatures may share one
 * (docs/bgp-gsa.md, "Update-groups"). The peer at address gets its tag for
 * its signature now: 0 for a peer in no group, equal for equal signatures,
 * distinct otherwise. 0 and *tag set, or -1 (out of memory): no tag. */
int gsa_groups_peer_tag(struct gsa_groups *g, const char *address,
			uint32_t *tag);
/* the tag last given to the peer at address; false if none */
bool gsa_groups_last_tag(const struct gsa_groups *g, const char *address,
			 uint32_t *tag);
/* the neighbors now (n addresses): the tags of the others are freed */
void gsa_groups_retain_tags(struct gsa_groups *g,
			    const char *const *addresses, size_t n);

/* ---- show bgp gsa groups */
struct gsa_neighbor_view {
	const char *address;
	const char *state;
	bool filtered; /* its outbound route map is the module's */
	bool tag_held; /* the operator's maximum-prefix-out holds the field */
	uint32_t applied_tag; /* else the tag bgpd's update-group key holds */
};
char *gsa_groups_render(const struct gsa_groups *g,
			const struct gsa_neighbor_view *n, size_t n_neighbors,
			bool json);

#ifdef __cplusplus
}
#endif

#endif /* GSA_SR_H */
