/*
 * groupsec GSA module for bgpd: group-keyed VPN membership over BGP.
 *
 * Loaded with `bgpd -M gsa`. This file is the whole FRR side of the module:
 * it registers the module, installs its CLI and hands snapshots of bgpd's
 * state to the C++ core (core/), which does the work and the rendering.
 */

#include <zebra.h>

#include "command.h"
#include "libfrr.h"
#include "module.h"
#include "monotime.h"
#include "version.h"
#include "vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_debug.h"

#ifndef VTYSH_EXTRACT_PL
#include "gsa_core.h"
#endif

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
		XFREE(MTYPE_TMP, snap->peers[i]);
	XFREE(MTYPE_TMP, snap->peers);
	XFREE(MTYPE_TMP, snap->inst);
	XFREE(MTYPE_TMP, snap->router_ids);
}

static void gsa_snapshot_take(struct gsa_snapshot *snap)
{
	struct listnode *node, *pnode;
	struct bgp *bgp;
	struct peer *peer;
	size_t i = 0;
	time_t now = monotime(NULL);

	snap->n = listcount(bm->bgp);
	snap->inst = XCALLOC(MTYPE_TMP, sizeof(*snap->inst) * (snap->n + 1));
	snap->peers = XCALLOC(MTYPE_TMP, sizeof(*snap->peers) * (snap->n + 1));
	snap->router_ids =
		XCALLOC(MTYPE_TMP, sizeof(*snap->router_ids) * (snap->n + 1));

	for (ALL_LIST_ELEMENTS_RO(bm->bgp, node, bgp)) {
		struct gsa_instance_view *iv = &snap->inst[i];
		struct gsa_peer_view *pv;

		inet_ntop(AF_INET, &bgp->router_id, snap->router_ids[i],
			  INET_ADDRSTRLEN);
		iv->name = bgp->name ? bgp->name : VRF_DEFAULT_NAME;
		iv->local_as = bgp->as;
		iv->router_id = snap->router_ids[i];
		snap->peers[i] = pv = XCALLOC(
			MTYPE_TMP, sizeof(*pv) * (listcount(bgp->peer) + 1));
		iv->peers = pv;
		for (ALL_LIST_ELEMENTS_RO(bgp->peer, pnode, peer)) {
			if (!CHECK_FLAG(peer->flags, PEER_FLAG_CONFIG_NODE))
				continue;
			pv->host = peer->host;
			pv->remote_as = peer->as;
			pv->state = lookup_msg(bgp_status_msg, peer->status, NULL);
			pv->rr_client = peer_af_flag_check(
				peer, AFI_IP, SAFI_UNICAST,
				PEER_FLAG_REFLECTOR_CLIENT);
			pv->uptime_secs = peer->uptime && now >= peer->uptime
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

DEFPY(show_bgp_gsa, show_bgp_gsa_cmd,
      "show bgp gsa [json$uj]",
      SHOW_STR BGP_STR
      "Group security association (groupsec) module\n"
      JSON_STR)
{
	struct gsa_snapshot snap = {};
	char *out;

	gsa_snapshot_take(&snap);
	out = gsa_core_render_status(snap.inst, snap.n, !!uj);
	gsa_snapshot_free(&snap);
	if (!out) {
		vty_out(vty, "%% Out of memory\n");
		return CMD_WARNING;
	}
	vty_out(vty, "%s\n", out);
	free(out);
	return CMD_SUCCESS;
}

static int bgp_gsa_late_init(struct thread_master *master)
{
	install_element(VIEW_NODE, &show_bgp_gsa_cmd);
	zlog_info("groupsec GSA module %s loaded", gsa_core_version());
	return 0;
}

static int bgp_gsa_module_init(void)
{
	hook_register(frr_late_init, bgp_gsa_late_init);
	return 0;
}

FRR_MODULE_SETUP(.name = "bgpd_gsa", .version = FRR_VERSION,
		 .description = "groupsec group security association module",
		 .init = bgp_gsa_module_init,
);
