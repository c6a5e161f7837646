/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: `crypto gdoi group NAME` (bgp_gsa_gdoi.c), charon's
 * gdoi groups configured from bgpd's CLI.
 */
#ifndef BGP_GSA_GDOI_H
#define BGP_GSA_GDOI_H

struct thread_master;

/* Install the node and its commands (at frr_late_init). */
void gsa_gdoi_init(struct thread_master *master);
void gsa_gdoi_fini(void);

#endif /* BGP_GSA_GDOI_H */
