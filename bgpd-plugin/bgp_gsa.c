/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module for bgpd: group-keyed VPN membership over BGP.
 *
 * Loaded with `bgpd -M gsa`. This file registers the module, installs its
 * CLI and hands snapshots of bgpd's state to the C++ core (core/), which
 * does the work and the rendering; bgp_gsa_control.c keeps the connection
 * to the key server's control socket.
 */

#include <zebra.h>

#include <sys/un.h>

#include "command.h"
#include "libfrr.h"
#include "module.h"
#include "monotime.h"
#include "version.h"
#include "vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_debug.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgp_gsa.h"
#include "bgp_gsa_control.h"
#include "bgp_gsa_gdoi.h"
#include "bgp_gsa_groups.h"
#include "bgp_gsa_routes.h"
#include "gsa_core.h"
#endif

DEFINE_MGROUP(GSA, "groupsec GSA module");
DEFINE_MTYPE_STATIC(GSA, GSA_SNAPSHOT, "GSA status snapshot");

/* Snapshot of every BGP instance for the core; freed by gsa_snapshot_free */
struct gsa_snapshot {
	struct gsa_instance_view *inst;
	struct gsa_peer_view **peers; /* per instance, owned */
	size_t n;
	char (*router_ids)[INET_ADDRSTRLEN];
};

static void gsa_snapshot_free(struct gsa_snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++)
		XFREE(MTYPE_GSA_SNAPSHOT, snap->peers[i]);
	XFREE(MTYPE_GSA_SNAPSHOT, snap->peers);
	XFREE(MTYPE_GSA_SNAPSHOT, snap->inst);
	XFREE(MTYPE_GSA_SNAPSHOT, snap->router_ids);
}

static void gsa_snapshot_take(struct gsa_snapshot *snap)
{
	struct listnode *node, *pnode;
	struct bgp *bgp;
	struct peer *peer;
	size_t i = 0;
	time_t now = monotime(NULL);

	snap->n = listcount(bm->bgp);
	snap->inst = XCALLOC(MTYPE_GSA_SNAPSHOT,
			     sizeof(*snap->inst) * (snap->n + 1));
	snap->peers = XCALLOC(MTYPE_GSA_SNAPSHOT,
			      sizeof(*snap->peers) * (snap->n + 1));
	snap->router_ids = XCALLOC(MTYPE_GSA_SNAPSHOT,
				   sizeof(*snap->router_ids) * (snap->n + 1));

	for (ALL_LIST_ELEMENTS_RO(bm->bgp, node, bgp)) {
		struct gsa_instance_view *iv = &snap->inst[i];
		struct gsa_peer_view *pv;

		inet_ntop(AF_INET, &bgp->router_id, snap->router_ids[i],
			  INET_ADDRSTRLEN);
		iv->name = bgp->name ? bgp->name : VRF_DEFAULT_NAME;
		iv->local_as = bgp->as;
		iv->router_id = snap->router_ids[i];
		snap->peers[i] = pv =
			XCALLOC(MTYPE_GSA_SNAPSHOT,
				sizeof(*pv) * (listcount(bgp->peer) + 1));
		iv->peers = pv;
		for (ALL_LIST_ELEMENTS_RO(bgp->peer, pnode, peer)) {
			if (!CHECK_FLAG(peer->flags, PEER_FLAG_CONFIG_NODE))
				continue;
			pv->host = peer->host;
			pv->remote_as = peer->as;
			pv->state =
				lookup_msg(bgp_status_msg, peer->status, NULL);
			pv->rr_client =
				peer_af_flag_check(peer, AFI_IP, SAFI_UNICAST,
						   PEER_FLAG_REFLECTOR_CLIENT);
			pv->uptime_secs =
				peer->uptime && now >= peer->uptime
					? (uint64_t)(now - peer->uptime)
					: 0;
			pv++;
			iv->n_peers++;
		}
		i++;
	}
}

#ifndef VTYSH_EXTRACT_PL
#include "bgpd-plugin/bgp_gsa_clippy.c"
#endif

/* clang-format off */
DEFPY(show_bgp_gsa, show_bgp_gsa_cmd,
      "show bgp gsa [json$uj]",
      SHOW_STR BGP_STR
      "Group security association (groupsec) module\n"
      JSON_STR)
/* clang-format on */
{
	struct gsa_snapshot snap = {};
	struct gsa_control_view control;
	char *out;

	gsa_snapshot_take(&snap);
	gsa_control_get_view(&control);
	out = gsa_core_render_status(snap.inst, snap.n, &control, !!uj);
	gsa_snapshot_free(&snap);
	if (!out) {
		vty_out(vty, "%% Out of memory\n");
		return CMD_WARNING;
	}
	vty_out(vty, "%s\n", out);
	gsa_core_free(out);
	return CMD_SUCCESS;
}

/* The control socket is one per bgpd: it is configured in the default
 * instance only. */
static bool gsa_default_instance(struct vty *vty, struct bgp *bgp)
{
	if (bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT)
		return true;
	vty_out(vty,
		"%% The control socket is set in the default BGP instance\n");
	return false;
}

/* clang-format off */
DEFPY(gsa_control_socket, gsa_control_socket_cmd,
      "gsa control-socket PATH$path",
      "Group security association (groupsec) module\n"
      "The key server's control socket (charon's gdoi plugin)\n"
      "Absolute path of the UNIX socket\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	struct sockaddr_un sun;

	if (!gsa_default_instance(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (path[0] != '/' || strlen(path) >= sizeof(sun.sun_path)) {
		vty_out(vty,
			"%% The socket path must be absolute and shorter than %zu characters\n",
			sizeof(sun.sun_path));
		return CMD_WARNING_CONFIG_FAILED;
	}
	gsa_control_set_path(path);
	return CMD_SUCCESS;
}

/* clang-format off */
DEFPY(no_gsa_control_socket, no_gsa_control_socket_cmd,
      "no gsa control-socket [PATH]",
      NO_STR
      "Group security association (groupsec) module\n"
      "The key server's control socket: back to the default\n"
      "Absolute path of the UNIX socket\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);

	if (!gsa_default_instance(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (gsa_control_configured_path())
		gsa_control_set_path(NULL);
	return CMD_SUCCESS;
}

static int bgp_gsa_config_write(struct bgp *bgp, struct vty *vty)
{
	const char *path = gsa_control_configured_path();

	if (bgp->inst_type != BGP_INSTANCE_TYPE_DEFAULT)
		return 0;
	if (path)
		vty_out(vty, " gsa control-socket %s\n", path);
	gsa_groups_config_write(vty);
	gsa_routes_config_write(vty);
	return 0;
}

/* Without the default instance the setting is gone from the configuration:
 * back to the default socket. */
static int bgp_gsa_instance_delete(struct bgp *bgp)
{
	if (bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT) {
		gsa_groups_instance_delete();
		gsa_routes_config_reset();
	}
	if (bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT &&
	    gsa_control_configured_path())
		gsa_control_set_path(NULL);
	return 0;
}

static int bgp_gsa_late_init(struct thread_master *master)
{
	install_element(VIEW_NODE, &show_bgp_gsa_cmd);
	install_element(BGP_NODE, &gsa_control_socket_cmd);
	install_element(BGP_NODE, &no_gsa_control_socket_cmd);
	gsa_groups_init(master);
	gsa_gdoi_init(master);
	gsa_control_init(master);
	zlog_info("groupsec GSA module %s loaded", gsa_core_version());
	return 0;
}

static int bgp_gsa_fini(void)
{
	gsa_control_fini();
	gsa_gdoi_fini();
	gsa_groups_fini();
	return 0;
}

static int bgp_gsa_module_init(void)
{
	hook_register(frr_late_init, bgp_gsa_late_init);
	hook_register(frr_fini, bgp_gsa_fini);
	hook_register(bgp_inst_config_write, bgp_gsa_config_write);
	hook_register(bgp_inst_delete, bgp_gsa_instance_delete);
	return 0;
}

/* clang-format off */
FRR_MODULE_SETUP(.name = "bgpd_gsa", .version = FRR_VERSION,
		 .description = "groupsec group security association module",
		 .init = bgp_gsa_module_init,
);
/* clang-format on */
