/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: a member's sealed routes.
 *
 * Keys: on every connection to the control socket and on each
 * `routing-key` event the module asks `routing-keys` and feeds the
 * keyring; when an epoch changes, the membership routes are originated
 * again (sealed under the new epoch) and the received routes opened again.
 *
 * Receiving: the bgp_process hook (and a timer, for grace periods that run
 * out) schedules a scan of the IPv4 and IPv6 unicast tables: each route
 * learned from a peer (the selected path, else a valid one, else any)
 * that carries the sealed attribute among its unknown
 * transitive attributes is opened (core/gsa_routes.h); what opens is handed
 * to the local gdoi plugin with `add-endpoint`, what is gone or no longer
 * opens with `remove-endpoint`. Only groups in which the local gdoi plugin
 * is a member get endpoints (on the S/R the key server opens and shows).
 */

#include <zebra.h>

#include "command.h"
#include "hook.h"
#include "log.h"
#include "prefix.h"
#include "thread.h"
#include "vty.h"

#include "bgpd/bgpd.h"
#include "bgpd/bgp_attr.h"
#include "bgpd/bgp_route.h"
#include "bgpd/bgp_table.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgp_gsa.h"
#include "bgp_gsa_control.h"
#include "bgp_gsa_groups.h"
#include "bgp_gsa_routes.h"
#include "gsa_core.h"
#include "gsa_routes.h"
#include "gsa_seal.h"
#endif

/* a scan soon after a change; one every so often for the grace periods */
#define GSA_ROUTES_SCAN_SOON_MS 200
#define GSA_ROUTES_SCAN_EVERY_MS 5000
#define GSA_ROUTES_MAX_MEMBER_GROUPS 256

static struct gsa_routes_state {
	struct thread_master *master;
	struct gsa_groups *groups;
	gsa_keyring_t *kr;
	struct gsa_routes *routes;
	struct thread *t_scan;
	bool asking; /* a routing-keys is on its way */
	bool ask_again;
	/* groups the local gdoi plugin is a member of (role member) */
	char member_groups[GSA_ROUTES_MAX_MEMBER_GROUPS][65];
	size_t n_member_groups;
} gsa_rs;

static bool gsa_routes_is_member_group(const char *group)
{
	for (size_t i = 0; i < gsa_rs.n_member_groups; i++)
		if (strcmp(gsa_rs.member_groups[i], group) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ to gdoi */

static void gsa_routes_on_endpoint_reply(void *arg, const char *command,
					 const struct gs_vici_msg *reply)
{
	const char *ok = reply ? gs_vici_msg_get(reply, "success") : NULL;

	if (!ok || strcmp(ok, "yes"))
		zlog_warn("gsa: %s refused: %s", command,
			  reply && gs_vici_msg_get(reply, "errmsg")
				  ? gs_vici_msg_get(reply, "errmsg")
				  : "no answer");
}

static void gsa_routes_endpoint(void *arg, int add, const char *group,
				const char *gateway,
				const char *const *prefixes, size_t n)
{
	const char *args[2 * (2 + 64) + 1];
	size_t a = 0;

	if (!gsa_routes_is_member_group(group))
		return;
	args[a++] = "group";
	args[a++] = group;
	args[a++] = "gateway";
	args[a++] = gateway;
	for (size_t i = 0; add && i < n && i < 64; i++) {
		args[a++] = "prefixes[]";
		args[a++] = prefixes[i];
	}
	args[a] = NULL;
	zlog_info("gsa: %s group %s gateway %s (%zu prefixes)",
		  add ? "add-endpoint" : "remove-endpoint", group, gateway, n);
	if (gsa_control_request(add ? "add-endpoint" : "remove-endpoint", args,
				gsa_routes_on_endpoint_reply, NULL) < 0)
		zlog_warn("gsa: cannot send %s for %s in %s: not connected",
			  add ? "add-endpoint" : "remove-endpoint", gateway,
			  group);
}

/* ------------------------------------------------------------ receiving */

static void gsa_routes_scan_table(struct bgp *bgp, afi_t afi)
{
	struct bgp_dest *dest;

	for (dest = bgp_table_top(bgp->rib[afi][SAFI_UNICAST]); dest;
	     dest = bgp_route_next(dest)) {
		struct bgp_path_info *pi, *use = NULL;
		const struct prefix *p = bgp_dest_get_prefix(dest);
		struct transit *transit;
		char route[PREFIX_STRLEN];

		for (pi = bgp_dest_get_bgp_path_info(dest); pi; pi = pi->next) {
			/* valid or not: the endpoint's reachability is the
			 * tunnel's business, the sealed prefixes are ours */
			if (pi->peer == bgp->peer_self ||
			    CHECK_FLAG(pi->flags, BGP_PATH_REMOVED) ||
			    CHECK_FLAG(pi->flags, BGP_PATH_HISTORY))
				continue;
			if (!use || CHECK_FLAG(pi->flags, BGP_PATH_SELECTED) ||
			    (CHECK_FLAG(pi->flags, BGP_PATH_VALID) &&
			     !CHECK_FLAG(use->flags, BGP_PATH_VALID)))
				use = pi;
		}
		if (!use || !use->attr)
			continue;
		transit = bgp_attr_get_transit(use->attr);
		if (!transit || transit->length <= 0)
			continue;
		prefix2str(p, route, sizeof(route));
		gsa_routes_received(gsa_rs.routes, gsa_rs.kr, route,
				    transit->val, (size_t)transit->length,
				    gsa_routes_endpoint, NULL);
	}
}

/* Only a router that is a member of a group hands opened routes out; on
 * the S/R (its gdoi plugin the key server of every group) opening is for
 * `show bgp gsa routes` alone, so it is done when that is asked. */
static bool gsa_routes_hands_out(void)
{
	return gsa_rs.n_member_groups > 0;
}

static void gsa_routes_scan_now(void)
{
	struct bgp *bgp = bgp_get_default();

	gsa_routes_scan_begin(gsa_rs.routes);
	if (bgp) {
		gsa_routes_scan_table(bgp, AFI_IP);
		gsa_routes_scan_table(bgp, AFI_IP6);
	}
	/* keys may have changed or a grace period ended since the blobs came */
	gsa_routes_reopen(gsa_rs.routes, gsa_rs.kr, gsa_routes_endpoint, NULL);
	gsa_routes_scan_end(gsa_rs.routes, gsa_routes_endpoint, NULL);
}

static void gsa_routes_scan(struct thread *t)
{
	if (!gsa_rs.routes || !gsa_routes_hands_out())
		return;
	gsa_routes_scan_now();
	thread_add_timer_msec(gsa_rs.master, gsa_routes_scan, NULL,
			      GSA_ROUTES_SCAN_EVERY_MS, &gsa_rs.t_scan);
}

static void gsa_routes_scan_soon(void)
{
	if (!gsa_rs.master || !gsa_routes_hands_out())
		return;
	THREAD_OFF(gsa_rs.t_scan);
	thread_add_timer_msec(gsa_rs.master, gsa_routes_scan, NULL,
			      GSA_ROUTES_SCAN_SOON_MS, &gsa_rs.t_scan);
}

static int gsa_routes_on_process(struct bgp *bgp, afi_t afi, safi_t safi,
				 struct bgp_dest *bn, struct peer *peer,
				 bool withdraw)
{
	if (safi == SAFI_UNICAST && bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT &&
	    (!gsa_rs.t_scan || thread_timer_remain_msec(gsa_rs.t_scan) >
				       GSA_ROUTES_SCAN_SOON_MS))
		gsa_routes_scan_soon();
	return 0;
}

/* ------------------------------------------------------------ keys */

struct gsa_keys_fed {
	bool changed;
	size_t n_member;
	char member[GSA_ROUTES_MAX_MEMBER_GROUPS][65];
};

static void gsa_routes_feed_group(void *arg, const char *name,
				  const struct gs_vici_msg *g)
{
	struct gsa_keys_fed *fed = arg;
	const char *gname = gs_vici_msg_get(g, "name");
	const char *role = gs_vici_msg_get(g, "role");
	const char *number = gs_vici_msg_get(g, "group-number");
	char err[GSA_SEAL_ERR_MAX] = "";
	int changed = 0;

	if (!gname)
		gname = name;
	if (role && strcmp(role, "member") == 0 &&
	    fed->n_member < GSA_ROUTES_MAX_MEMBER_GROUPS)
		snprintf(fed->member[fed->n_member++], sizeof(fed->member[0]),
			 "%s", gname);
	if (!number)
		return; /* an IDg that is no number: no group tag, no sealing */
	if (gsa_routes_feed_key(gsa_rs.routes, gsa_rs.kr, gname, number,
				gs_vici_msg_get(g, "epoch"),
				gs_vici_msg_get(g, "key"), &changed, err,
				sizeof(err)) != GSA_SEAL_OK)
		zlog_warn("gsa: routing key of %s refused: %s", gname, err);
	else if (changed) {
		zlog_info("gsa: group %s: routing key epoch %s", gname,
			  gs_vici_msg_get(g, "epoch"));
		fed->changed = true;
	}
}

static void gsa_routes_ask_keys(void);

static void gsa_routes_on_keys(void *arg, const char *command,
			       const struct gs_vici_msg *reply)
{
	struct gsa_keys_fed *fed;
	const char *ok;
	bool member_changed;

	gsa_rs.asking = false;
	if (reply && gsa_rs.routes) {
		ok = gs_vici_msg_get(reply, "success");
		if (!ok || strcmp(ok, "yes")) {
			zlog_warn("gsa: routing-keys refused: %s",
				  gs_vici_msg_get(reply, "errmsg")
					  ? gs_vici_msg_get(reply, "errmsg")
					  : "no reason");
		} else {
			fed = XCALLOC(MTYPE_TMP, sizeof(*fed));
			gs_vici_msg_sections(reply, "groups",
					     gsa_routes_feed_group, fed);
			member_changed =
				fed->n_member != gsa_rs.n_member_groups ||
				memcmp(gsa_rs.member_groups, fed->member,
				       fed->n_member * sizeof(fed->member[0]));
			memcpy(gsa_rs.member_groups, fed->member,
			       sizeof(fed->member));
			gsa_rs.n_member_groups = fed->n_member;
			if (member_changed) {
				/* routes opened before (or only shown) go
				 * to the groups this router is a member of now */
				gsa_routes_replay(gsa_rs.routes,
						  gsa_routes_endpoint, NULL);
				gsa_routes_scan_soon();
			}
			if (fed->changed) {
				/* seal again under the new epochs */
				gsa_groups_resync();
				gsa_routes_scan_soon();
			}
			XFREE(MTYPE_TMP, fed);
		}
	}
	if (gsa_rs.ask_again) {
		gsa_rs.ask_again = false;
		gsa_routes_ask_keys();
	}
}

static void gsa_routes_ask_keys(void)
{
	if (gsa_rs.asking) {
		/* an event after the question: the answer may be older */
		gsa_rs.ask_again = true;
		return;
	}
	if (gsa_control_request("routing-keys", NULL, gsa_routes_on_keys,
				NULL) == 0)
		gsa_rs.asking = true;
}

static int gsa_routes_on_state(bool connected)
{
	if (!connected || !gsa_rs.routes)
		return 0;
	gsa_rs.asking = false;
	gsa_rs.ask_again = false;
	gsa_routes_ask_keys();
	/* charon may have restarted: its endpoints went with it */
	gsa_routes_replay(gsa_rs.routes, gsa_routes_endpoint, NULL);
	return 0;
}

static int gsa_routes_on_event(const char *name, const struct gs_vici_msg *msg)
{
	if (gsa_rs.routes && strcmp(name, "routing-key") == 0)
		gsa_routes_ask_keys();
	return 0;
}

/* ------------------------------------------------------------ sealing */

bool gsa_routes_attr(const char *endpoint, const uint8_t **attr, size_t *len)
{
	char err[GSA_SEAL_ERR_MAX] = "";
	int ret;

	if (!gsa_rs.routes || !gsa_rs.groups)
		return false;
	ret = gsa_routes_seal(gsa_rs.routes, gsa_rs.kr, gsa_rs.groups,
			      endpoint, attr, len, err, sizeof(err));
	if (ret != GSA_SEAL_OK && ret != GSA_SEAL_ERR_NOT_FOUND)
		zlog_warn("gsa: cannot seal the prefixes of %s: %s", endpoint,
			  err);
	return ret == GSA_SEAL_OK;
}

/* ------------------------------------------------------------ config */

#ifndef VTYSH_EXTRACT_PL
#include "bgpd-plugin/bgp_gsa_routes_clippy.c"
#endif

/* The sealed attribute's settings are one per bgpd: the default instance. */
static bool gsa_routes_default_bgp(struct vty *vty, struct bgp *bgp)
{
	if (bgp->inst_type == BGP_INSTANCE_TYPE_DEFAULT)
		return true;
	vty_out(vty,
		"%% The sealed attribute is set in the default BGP instance\n");
	return false;
}

static void gsa_routes_set_type(uint8_t code)
{
	if (gsa_routes_code(gsa_rs.routes) == code)
		return;
	zlog_info("gsa: sealed attribute type %u", code);
	gsa_routes_set_code(gsa_rs.routes, code);
	/* originate under the new code; what came under the old one goes */
	gsa_groups_resync();
	gsa_routes_scan_soon();
}

static void gsa_routes_set_grace(uint32_t secs)
{
	gsa_keyring_set_grace(gsa_rs.kr, secs);
	/* a previous epoch may have closed (or opened again) */
	gsa_routes_scan_soon();
}

/* clang-format off */
DEFPY(gsa_sealed_attribute_type, gsa_sealed_attribute_type_cmd,
      "gsa sealed-attribute type (1-255)$code",
      "Group security association (groupsec) module\n"
      "The attribute carrying the sealed private prefixes\n"
      "Its path attribute type code (default 255)\n"
      "Type code: one bgpd does not parse itself\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);
	const char *parsed = gsa_seal_code_parsed((uint8_t)code);

	if (!gsa_routes_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (parsed) {
		vty_out(vty,
			"%% Type %ld is %s, an attribute bgpd parses itself: it would take the sealed attribute for one and drop it. Codes bgpd parses: 1-10, 14-18, 22, 23, 25, 32, 35, 40; the default is 255 (reserved for development)\n",
			code, parsed);
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (!gsa_rs.routes) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	gsa_routes_set_type((uint8_t)code);
	return CMD_SUCCESS;
}

/* clang-format off */
DEFPY(no_gsa_sealed_attribute_type, no_gsa_sealed_attribute_type_cmd,
      "no gsa sealed-attribute type [(1-255)]",
      NO_STR
      "Group security association (groupsec) module\n"
      "The attribute carrying the sealed private prefixes\n"
      "Its path attribute type code: back to 255\n"
      "Type code\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);

	if (!gsa_routes_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (gsa_rs.routes)
		gsa_routes_set_type(GSA_SEAL_ATTR_DEFAULT_CODE);
	return CMD_SUCCESS;
}

/* clang-format off */
DEFPY(gsa_sealed_attribute_grace, gsa_sealed_attribute_grace_cmd,
      "gsa sealed-attribute grace (0-86400)$secs",
      "Group security association (groupsec) module\n"
      "The attribute carrying the sealed private prefixes\n"
      "How long a group's previous key epoch still opens after a rekey (default 60)\n"
      "Seconds\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);

	if (!gsa_routes_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (!gsa_rs.kr) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	gsa_routes_set_grace((uint32_t)secs);
	return CMD_SUCCESS;
}

/* clang-format off */
DEFPY(no_gsa_sealed_attribute_grace, no_gsa_sealed_attribute_grace_cmd,
      "no gsa sealed-attribute grace [(0-86400)]",
      NO_STR
      "Group security association (groupsec) module\n"
      "The attribute carrying the sealed private prefixes\n"
      "The grace period of a previous key epoch: back to 60 seconds\n"
      "Seconds\n")
/* clang-format on */
{
	VTY_DECLVAR_CONTEXT(bgp, bgp);

	if (!gsa_routes_default_bgp(vty, bgp))
		return CMD_WARNING_CONFIG_FAILED;
	if (gsa_rs.kr)
		gsa_routes_set_grace(GSA_SEAL_DEFAULT_GRACE_SECS);
	return CMD_SUCCESS;
}

void gsa_routes_config_write(struct vty *vty)
{
	uint32_t grace;

	if (!gsa_rs.routes || !gsa_rs.kr)
		return;
	if (gsa_routes_code(gsa_rs.routes) != GSA_SEAL_ATTR_DEFAULT_CODE)
		vty_out(vty, " gsa sealed-attribute type %u\n",
			gsa_routes_code(gsa_rs.routes));
	grace = gsa_keyring_grace(gsa_rs.kr);
	if (grace != GSA_SEAL_DEFAULT_GRACE_SECS)
		vty_out(vty, " gsa sealed-attribute grace %u\n", grace);
}

void gsa_routes_config_reset(void)
{
	if (gsa_rs.routes)
		gsa_routes_set_type(GSA_SEAL_ATTR_DEFAULT_CODE);
	if (gsa_rs.kr)
		gsa_routes_set_grace(GSA_SEAL_DEFAULT_GRACE_SECS);
}

/* ------------------------------------------------------------ show */

DEFUN(show_bgp_gsa_routes, show_bgp_gsa_routes_cmd,
      "show bgp gsa routes [WORD] [json]",
      SHOW_STR BGP_STR
      "Group security association (groupsec) module\n"
      "The other members' sealed routes this router opened\n"
      "Only this group\n" JSON_STR)
{
	const char *group = NULL;
	bool json = false;
	char *out;

	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i]->text, "json") == 0)
			json = true;
		else
			group = argv[i]->arg;
	}
	if (!gsa_rs.routes) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING;
	}
	if (!gsa_routes_hands_out())
		gsa_routes_scan_now(); /* opened when asked: see above */
	out = gsa_routes_render(gsa_rs.routes, gsa_rs.kr, group, json);
	if (!out) {
		vty_out(vty, "%% Out of memory\n");
		return CMD_WARNING;
	}
	vty_out(vty, "%s\n", out);
	gsa_core_free(out);
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------ module */

void gsa_routes_init(struct thread_master *master, struct gsa_groups *groups)
{
	gsa_rs.master = master;
	gsa_rs.groups = groups;
	gsa_rs.kr = gsa_keyring_create(GSA_SEAL_DEFAULT_GRACE_SECS, NULL, NULL);
	gsa_rs.routes = gsa_routes_new(GSA_SEAL_ATTR_DEFAULT_CODE);
	if (!gsa_rs.kr || !gsa_rs.routes) {
		zlog_err("gsa: sealed routes: out of memory");
		gsa_routes_fini();
		return;
	}
	hook_register(bgp_gsa_control_state, gsa_routes_on_state);
	hook_register(bgp_gsa_control_event, gsa_routes_on_event);
	hook_register(bgp_process, gsa_routes_on_process);
	install_element(VIEW_NODE, &show_bgp_gsa_routes_cmd);
	install_element(BGP_NODE, &gsa_sealed_attribute_type_cmd);
	install_element(BGP_NODE, &no_gsa_sealed_attribute_type_cmd);
	install_element(BGP_NODE, &gsa_sealed_attribute_grace_cmd);
	install_element(BGP_NODE, &no_gsa_sealed_attribute_grace_cmd);
	thread_add_timer_msec(master, gsa_routes_scan, NULL,
			      GSA_ROUTES_SCAN_EVERY_MS, &gsa_rs.t_scan);
}

void gsa_routes_fini(void)
{
	THREAD_OFF(gsa_rs.t_scan);
	gsa_routes_free(gsa_rs.routes);
	gsa_rs.routes = NULL;
	if (gsa_rs.kr)
		gsa_keyring_destroy(gsa_rs.kr);
	gsa_rs.kr = NULL;
}
