/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: groups over BGP (bgp_gsa_groups.c): members'
 * membership routes, the S/R's reflection to registered members only, and
 * `show bgp gsa groups`.
 */
#ifndef BGP_GSA_GROUPS_H
#define BGP_GSA_GROUPS_H

struct thread_master;
struct vty;

/* the module's route map, for `neighbor X route-map GSA-REFLECT out` */
#define GSA_ROUTE_MAP "GSA-REFLECT"
/* its match rule (no CLI of its own: the module owns the route map) */
#define GSA_MATCH_RULE "gsa-reflect"

/* at frr_late_init: CLI, route map, control socket hooks */
void gsa_groups_init(struct thread_master *master);
void gsa_groups_fini(void);
/* `router bgp` lines of the default instance */
void gsa_groups_config_write(struct vty *vty);
/* originate the membership routes again (their sealed attribute changed) */
void gsa_groups_resync(void);
/* the default instance is gone, and with it the routes */
void gsa_groups_instance_delete(void);

#endif /* BGP_GSA_GROUPS_H */
