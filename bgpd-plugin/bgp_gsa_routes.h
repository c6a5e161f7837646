/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: a member's sealed routes (bgp_gsa_routes.c): the
 * routing keys from the key server, the sealed attribute on the membership
 * route, opening the other members' routes and handing them to the gdoi
 * plugin, `show bgp gsa routes`.
 */
#ifndef BGP_GSA_ROUTES_H
#define BGP_GSA_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct thread_master;
struct gsa_groups;

void gsa_routes_init(struct thread_master *master, struct gsa_groups *groups);
void gsa_routes_fini(void);

/* The sealed attribute (flags, code, length, value) for the membership
 * route of endpoint; false when there is none to attach (no key yet, or
 * no prefixes). *attr is valid until the next call. */
bool gsa_routes_attr(const char *endpoint, const uint8_t **attr, size_t *len);

struct vty;
/* `gsa sealed-attribute type|grace` lines that differ from the defaults */
void gsa_routes_config_write(struct vty *vty);
/* back to the defaults (the default instance is gone) */
void gsa_routes_config_reset(void);

#endif /* BGP_GSA_ROUTES_H */
