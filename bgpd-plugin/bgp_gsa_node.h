/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: the CLI node of `crypto gdoi group NAME`.
 *
 * FRR's node types are a closed enum; the module's node takes a number
 * above them, the same in bgpd and in the vtysh that rebuild-vtysh.sh
 * builds (vtysh/gsa_vtysh.c includes this file).
 */
#ifndef BGP_GSA_NODE_H
#define BGP_GSA_NODE_H

#define GSA_GDOI_NODE ((enum node_type)(NODE_TYPE_MAX + 32))
#define GSA_GDOI_PROMPT "%s(config-gdoi-group)# "

#endif /* BGP_GSA_NODE_H */
