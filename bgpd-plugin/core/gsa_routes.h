/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec bgpd module: a member's sealed routes (docs/bgp-gsa.md,
 * "Sealed routes on a member").
 *
 * - Keys: each group of the gdoi plugin's `routing-keys` answer goes into
 *   the keyring, and its name is remembered (add-endpoint names the group).
 * - Sealing: the membership route of an endpoint carries the sealed
 *   attribute with one entry per group naming the endpoint that has a
 *   routing key and private prefixes; each entry is kept and reused until
 *   its group's epoch or prefixes change (a new nonce on every call would
 *   re-advertise the route each time).
 * - Opening: each received route (by prefix) with the attribute is opened,
 *   every entry of a group with a key; each opened entry is handed to the
 *   glue's callback as an endpoint of its group to add, and as one to
 *   remove when it is withdrawn, changes or can no longer be opened.
 *   Failures are counted by status name.
 *
 * No FRR type, no clock of its own (the keyring's), no I/O.
 */
#ifndef GROUPSEC_GSA_ROUTES_H
#define GROUPSEC_GSA_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "gsa_seal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gsa_routes;
struct gsa_groups;

/* The status name of a route whose originator in the blob is not the
 * address of the route it came with. */
#define GSA_ROUTES_ORIGINATOR_MISMATCH "originator-mismatch"

struct gsa_routes *gsa_routes_new(uint8_t code);
void gsa_routes_free(struct gsa_routes *r);
uint8_t gsa_routes_code(const struct gsa_routes *r);
/* Another code point: the attributes are sealed and encoded again on the
 * next gsa_routes_seal(); received routes are looked for under it from the
 * next gsa_routes_received(). */
void gsa_routes_set_code(struct gsa_routes *r, uint8_t code);

/* One group of the `routing-keys` answer: name, group-number (decimal),
 * epoch (8 hex digits), key (64 hex digits). A group without epoch/key
 * (NULL) is skipped (GSA_SEAL_OK, *changed = 0). *changed = 1 when the
 * group's epoch changed. */
int gsa_routes_feed_key(struct gsa_routes *r, gsa_keyring_t *kr, const char *name, const char *number,
			const char *epoch_hex, const char *key_hex, int *changed, char *err, size_t errlen);

/* The sealed attribute (flags, code, length, value) for the membership
 * route of endpoint, from the local groups of g: one entry per group naming
 * the endpoint that has both a key and prefixes; *attr (valid until the
 * next call for the endpoint) and *attr_len, or GSA_SEAL_ERR_NOT_FOUND when
 * there is no such group. */
int gsa_routes_seal(struct gsa_routes *r, gsa_keyring_t *kr, const struct gsa_groups *g, const char *endpoint,
		    const uint8_t **attr, size_t *attr_len, char *err, size_t errlen);

/* add = 1: traffic of group to prefixes goes to gateway; add = 0: no more
 * (prefixes NULL, n 0). */
typedef void (*gsa_endpoint_fn)(void *arg, int add, const char *group, const char *gateway,
				const char *const *prefixes, size_t n);

/* A route (prefix text, "192.0.2.12/32") received or changed with the path
 * attributes attrs (FRR's unknown transitive attributes; NULL/0 for none). */
void gsa_routes_received(struct gsa_routes *r, const gsa_keyring_t *kr, const char *route, const uint8_t *attrs,
			 size_t len, gsa_endpoint_fn fn, void *arg);
/* A scan of the whole table: gsa_routes_scan_begin(), then
 * gsa_routes_received() for every route that carries the attribute, then
 * gsa_routes_scan_end() withdraws the kept routes not seen since. */
void gsa_routes_scan_begin(struct gsa_routes *r);
void gsa_routes_scan_end(struct gsa_routes *r, gsa_endpoint_fn fn, void *arg);
/* The route is gone. */
void gsa_routes_withdrawn(struct gsa_routes *r, const char *route, gsa_endpoint_fn fn, void *arg);
/* Open again every kept route whose opening may give another answer now
 * (a key changed, a grace period ended, a group was renamed); the others
 * are left as they are. */
void gsa_routes_reopen(struct gsa_routes *r, const gsa_keyring_t *kr, gsa_endpoint_fn fn, void *arg);
/* Every opened route handed out again (the control socket came back). */
void gsa_routes_replay(const struct gsa_routes *r, gsa_endpoint_fn fn, void *arg);

/* The drops counted under status name (0 for a name never counted). */
uint64_t gsa_routes_dropped(const struct gsa_routes *r, const char *status);
/* How many entries (a route's, of one group) are opened now: the adds
 * handed out less the removes. */
size_t gsa_routes_opened(const struct gsa_routes *r);

/* `show bgp gsa routes [GROUP] [json]`; free with gsa_core_free(). */
char *gsa_routes_render(const struct gsa_routes *r, const gsa_keyring_t *kr, const char *group, int json);

#ifdef __cplusplus
}
#endif

#endif /* GROUPSEC_GSA_ROUTES_H */
