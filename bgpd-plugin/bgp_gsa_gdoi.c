/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: `crypto gdoi group NAME`, the G-IKEv2 groups of
 * charon's gdoi plugin configured from bgpd's CLI.
 *
 * The groups are held by the core (core/gsa_gdoi.h) and reach the plugin
 * over the control socket as one configuration source, "bgpd"
 * (docs/control-socket.md, check-config and load-config): every CLI change
 * edits a copy, charon checks the copy's complete groups (check-config)
 * and then loads them (load-config); a refusal is the command's error and
 * nothing changes. When the connection to charon comes (again), and after
 * bgpd read its configuration file, the whole configuration is loaded
 * again. `show crypto gdoi` asks charon what runs (list-groups,
 * list-members, list-sas).
 */

#include <zebra.h>

#include "command.h"
#include "hook.h"
#include "json.h"
#include "libfrr.h"
#include "log.h"
#include "thread.h"
#include "vty.h"

#ifndef VTYSH_EXTRACT_PL
#include "bgp_gsa.h"
#include "bgp_gsa_control.h"
#include "bgp_gsa_gdoi.h"
#include "bgp_gsa_node.h"
#include "gsa_core.h"
#include "gsa_gdoi.h"
#endif

/* the configuration source bgpd's groups are in charon */
#define GSA_GDOI_SOURCE "bgpd"
/* how long a CLI command waits for charon's answer */
#define GSA_GDOI_WAIT_MS 10000
/* a group charon could not start (no signing key yet) is loaded again */
#define GSA_GDOI_RETRY_SECS 5

static struct {
	struct thread_master *master;
	struct gsa_gdoi *cfg; /* what is configured */
	bool loaded;	      /* charon took cfg */
	bool reading;	      /* bgpd reads its configuration file */
	struct thread *t_replay;
} gsa_gdoi;

/* ------------------------------------------------------------ commit */

struct gsa_gdoi_answer {
	bool answered; /* a response came (else the connection ended) */
	bool ok;
	char errmsg[512];
	char not_started[512]; /* groups charon could not start, "" if none */
};

static void gsa_gdoi_on_answer(void *arg, const char *command,
			       const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_answer *a = arg;
	const char *success, *errmsg;

	if (!reply)
		return;
	a->answered = true;
	success = gs_vici_msg_get(reply, "success");
	errmsg = gs_vici_msg_get(reply, "errmsg");
	a->ok = success && strcmp(success, "yes") == 0;
	snprintf(a->errmsg, sizeof(a->errmsg), "%s",
		 errmsg ? errmsg : "no reason given");
	errmsg = gs_vici_msg_get(reply, "not-started");
	snprintf(a->not_started, sizeof(a->not_started), "%s",
		 errmsg ? errmsg : "");
}

static void gsa_gdoi_replay_task(struct thread *t);

/* Some group did not start: load again later (its key may come). */
static void gsa_gdoi_retry_later(const char *why)
{
	zlog_warn("gsa: crypto gdoi: %s; loading again in %d s", why,
		  GSA_GDOI_RETRY_SECS);
	thread_add_timer(gsa_gdoi.master, gsa_gdoi_replay_task, NULL,
			 GSA_GDOI_RETRY_SECS, &gsa_gdoi.t_replay);
}

/* check-config or load-config of cfg, waiting for the answer */
static bool gsa_gdoi_ask(const char *command, const struct gsa_gdoi *cfg,
			 struct gsa_gdoi_answer *a)
{
	char **args = gsa_gdoi_request_args(cfg, GSA_GDOI_SOURCE);
	int rc;

	memset(a, 0, sizeof(*a));
	if (!args) {
		snprintf(a->errmsg, sizeof(a->errmsg), "out of memory");
		return false;
	}
	rc = gsa_control_request_wait(command, (const char *const *)args,
				      gsa_gdoi_on_answer, a, GSA_GDOI_WAIT_MS);
	gsa_gdoi_args_free(args);
	if (rc < 0 || !a->answered) {
		snprintf(a->errmsg, sizeof(a->errmsg),
			 "the key server did not answer %s", command);
		return false;
	}
	return a->ok;
}

/*
 * next replaces the configuration if charon takes it (or cannot be asked:
 * then it gets it when it connects); else it is freed and the command
 * fails with charon's reason.
 */
static int gsa_gdoi_commit(struct vty *vty, struct gsa_gdoi *next)
{
	struct gsa_gdoi_answer a;

	if (!next) {
		vty_out(vty, "%% Out of memory\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (gsa_gdoi.reading || !gsa_control_connected()) {
		/* loaded after the file was read, or on connecting */
		gsa_gdoi_free(gsa_gdoi.cfg);
		gsa_gdoi.cfg = next;
		gsa_gdoi.loaded = false;
		if (!gsa_gdoi.reading && vty->type != VTY_FILE)
			vty_out(vty,
				"%% Not connected to the key server: the groups are checked and loaded when it connects\n");
		return CMD_SUCCESS;
	}
	if (gsa_gdoi.loaded && gsa_gdoi_same_settings(gsa_gdoi.cfg, next)) {
		/* nothing charon sees changed (an incomplete group) */
		gsa_gdoi_free(gsa_gdoi.cfg);
		gsa_gdoi.cfg = next;
		return CMD_SUCCESS;
	}
	if (!gsa_gdoi_ask("check-config", next, &a) ||
	    !gsa_gdoi_ask("load-config", next, &a)) {
		vty_out(vty, "%% %s\n", a.errmsg);
		gsa_gdoi_free(next);
		return CMD_WARNING_CONFIG_FAILED;
	}
	gsa_gdoi_free(gsa_gdoi.cfg);
	gsa_gdoi.cfg = next;
	gsa_gdoi.loaded = true;
	if (a.not_started[0]) {
		vty_out(vty, "%% Loaded, but not started: %s\n", a.not_started);
		gsa_gdoi_retry_later(a.not_started);
	}
	return CMD_SUCCESS;
}

static void gsa_gdoi_on_replayed(void *arg, const char *command,
				 const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_answer a = {};

	gsa_gdoi_on_answer(&a, command, reply);
	if (!a.answered)
		return; /* the connection ended: again on the next one */
	if (!a.ok) {
		zlog_err("gsa: crypto gdoi: the key server refused the configuration: %s",
			 a.errmsg);
		return;
	}
	gsa_gdoi.loaded = true;
	zlog_info("gsa: crypto gdoi: configuration loaded into the key server");
	if (a.not_started[0])
		gsa_gdoi_retry_later(a.not_started);
}

/* Load the whole configuration into charon, without waiting. */
static void gsa_gdoi_replay(void)
{
	char **args;

	if (gsa_gdoi.reading || !gsa_control_connected())
		return;
	args = gsa_gdoi_request_args(gsa_gdoi.cfg, GSA_GDOI_SOURCE);
	if (!args) {
		zlog_err("gsa: crypto gdoi: out of memory");
		return;
	}
	if (gsa_control_request("load-config", (const char *const *)args,
				gsa_gdoi_on_replayed, NULL) < 0)
		zlog_warn("gsa: crypto gdoi: cannot send load-config");
	gsa_gdoi_args_free(args);
}

static void gsa_gdoi_replay_task(struct thread *t)
{
	gsa_gdoi_replay();
}

static int gsa_gdoi_on_state(bool connected)
{
	gsa_gdoi.loaded = false;
	if (connected)
		gsa_gdoi_replay();
	return 0;
}

static int gsa_gdoi_config_pre(struct thread_master *tm)
{
	gsa_gdoi.reading = true;
	return 0;
}

static int gsa_gdoi_config_post(struct thread_master *tm)
{
	gsa_gdoi.reading = false;
	thread_add_event(gsa_gdoi.master, gsa_gdoi_replay_task, NULL, 0,
			 &gsa_gdoi.t_replay);
	return 0;
}

/* ------------------------------------------------------------ config */

static int gsa_gdoi_config_write(struct vty *vty)
{
	char *text = gsa_gdoi.cfg ? gsa_gdoi_config_text(gsa_gdoi.cfg) : NULL;

	/* each block ends in "!" already */
	if (text)
		vty_out(vty, "%s", text);
	gsa_core_free(text);
	return 0;
}

static struct cmd_node gsa_gdoi_node = {
	.name = "crypto gdoi group",
	.node = GSA_GDOI_NODE,
	.parent_node = CONFIG_NODE,
	.prompt = GSA_GDOI_PROMPT,
	.config_write = gsa_gdoi_config_write,
};

#ifndef VTYSH_EXTRACT_PL
#include "bgpd-plugin/bgp_gsa_gdoi_clippy.c"
#endif

#define GDOI_STR "Group Domain of Interpretation (G-IKEv2, RFC 9838)\n"
#define GDOI_GROUP_STR "A group of charon's gdoi plugin\n"

/* clang-format off */
DEFPY_NOSH(crypto_gdoi_group, crypto_gdoi_group_cmd,
      "crypto gdoi group WORD$name",
      "Security\n"
      GDOI_STR
      GDOI_GROUP_STR
      "Group name (letters, digits, '-', '_')\n")
/* clang-format on */
{
	char err[256];

	if (!gsa_gdoi.cfg) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	if (!gsa_gdoi_has_group(gsa_gdoi.cfg, name)) {
		struct gsa_gdoi *next = gsa_gdoi_copy(gsa_gdoi.cfg);
		int ret;

		if (next && gsa_gdoi_add_group(next, name, err, sizeof(err))) {
			vty_out(vty, "%% %s\n", err);
			gsa_gdoi_free(next);
			return CMD_WARNING_CONFIG_FAILED;
		}
		ret = gsa_gdoi_commit(vty, next);
		if (ret != CMD_SUCCESS)
			return ret;
	}
	VTY_PUSH_XPATH(GSA_GDOI_NODE, name);
	return CMD_SUCCESS;
}

/* clang-format off */
DEFPY(no_crypto_gdoi_group, no_crypto_gdoi_group_cmd,
      "no crypto gdoi group WORD$name",
      NO_STR
      "Security\n"
      GDOI_STR
      GDOI_GROUP_STR
      "Group name\n")
/* clang-format on */
{
	struct gsa_gdoi *next;
	char err[256];

	if (!gsa_gdoi.cfg) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	next = gsa_gdoi_copy(gsa_gdoi.cfg);
	if (next && gsa_gdoi_remove_group(next, name, err, sizeof(err))) {
		vty_out(vty, "%% %s\n", err);
		gsa_gdoi_free(next);
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_commit(vty, next);
}

/* One edit of the current group, committed. */
static int gsa_gdoi_set(struct vty *vty, enum gsa_gdoi_field field, bool no,
			uint32_t index, const char *value, const char *value2)
{
	struct gsa_gdoi *next;
	char err[256];

	if (!gsa_gdoi.cfg) {
		vty_out(vty, "%% The module has no state\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	next = gsa_gdoi_copy(gsa_gdoi.cfg);
	if (next && gsa_gdoi_edit(next, VTY_CURR_XPATH, field, no, index, value,
				  value2, err, sizeof(err))) {
		vty_out(vty, "%% %s\n", err);
		gsa_gdoi_free(next);
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_commit(vty, next);
}

/* clang-format off */
DEFPY(gdoi_identity_number, gdoi_identity_number_cmd,
      "[no] identity number [(0-4294967295)$num]",
      NO_STR
      "The group's identity\n"
      "A group number (group_id)\n"
      "Group number\n")
/* clang-format on */
{
	if (!no && !num_str) {
		vty_out(vty, "%% Give the group number\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_NUMBER, !!no, 0, num_str, NULL);
}

/* clang-format off */
DEFPY(gdoi_server_local, gdoi_server_local_cmd,
      "[no] server local",
      NO_STR
      "The group's key server\n"
      "This router is the key server (role server)\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_SERVER_LOCAL, !!no, 0, NULL, NULL);
}

/* clang-format off */
DEFPY(gdoi_server_address, gdoi_server_address_cmd,
      "[no] server address <A.B.C.D|X:X::X:X>$addr",
      NO_STR
      "The group's key server\n"
      "A key server to register with, tried in order (servers; role member)\n"
      "IPv4 address\n"
      "IPv6 address\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_SERVER_ADDRESS, !!no, 0, addr_str,
			    NULL);
}

/* clang-format off */
DEFPY(gdoi_server_identity, gdoi_server_identity_cmd,
      "[no] server identity [WORD$id]",
      NO_STR
      "The group's key server\n"
      "The identity the key server proves (server_id)\n"
      "Identity, in swanctl notation\n")
/* clang-format on */
{
	if (!no && !id) {
		vty_out(vty, "%% Give the identity\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_SERVER_IDENTITY, !!no, 0, id, NULL);
}

/* clang-format off */
DEFPY(gdoi_local_identity, gdoi_local_identity_cmd,
      "[no] local identity [WORD$id]",
      NO_STR
      "This router in the group\n"
      "Its identity (local_id)\n"
      "Identity, in swanctl notation\n")
/* clang-format on */
{
	if (!no && !id) {
		vty_out(vty, "%% Give the identity\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_LOCAL_IDENTITY, !!no, 0, id, NULL);
}

/* clang-format off */
DEFPY(gdoi_local_address, gdoi_local_address_cmd,
      "[no] local address <A.B.C.D|X:X::X:X>$addr",
      NO_STR
      "This router in the group\n"
      "An address it serves the group on (listen) or registers from (local_addrs)\n"
      "IPv4 address\n"
      "IPv6 address\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_LOCAL_ADDRESS, !!no, 0, addr_str,
			    NULL);
}

/* clang-format off */
DEFPY(gdoi_member_identity, gdoi_member_identity_cmd,
      "[no] member identity WORD$id",
      NO_STR
      "The group's members (key server)\n"
      "A member allowed to register (members)\n"
      "Identity, in swanctl notation\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_MEMBER, !!no, 0, id, NULL);
}

/* clang-format off */
DEFPY(gdoi_authentication, gdoi_authentication_cmd,
      "[no] authentication [<psk|pubkey>$how]",
      NO_STR
      "How members authenticate (auth)\n"
      "Pre-shared keys\n"
      "Public keys (certificates)\n")
/* clang-format on */
{
	if (!no && !how) {
		vty_out(vty, "%% Give psk or pubkey\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_AUTH, !!no, 0, how, NULL);
}

#define REKEY_STR "The group's rekeys (the Rekey SA, KEK)\n"

/* clang-format off */
DEFPY(gdoi_rekey_lifetime, gdoi_rekey_lifetime_cmd,
      "[no] rekey lifetime seconds [(1-4294967295)$secs]",
      NO_STR
      REKEY_STR
      "Lifetime of the Rekey SA (kek_lifetime)\n"
      "In seconds\n"
      "Seconds (at least 60)\n")
/* clang-format on */
{
	if (!no && !secs_str) {
		vty_out(vty, "%% Give the lifetime\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_LIFETIME, !!no, 0, secs_str,
			    NULL);
}

/* clang-format off */
DEFPY(gdoi_rekey_authentication, gdoi_rekey_authentication_cmd,
      "[no] rekey authentication [<signature|implicit>$how]",
      NO_STR
      REKEY_STR
      "How GSA_REKEY messages are authenticated (rekey_auth)\n"
      "Signed with the key server's private key\n"
      "Not signed\n")
/* clang-format on */
{
	if (!no && !how) {
		vty_out(vty, "%% Give signature or implicit\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_AUTH, !!no, 0, how, NULL);
}

/* clang-format off */
DEFPY(gdoi_rekey_transport, gdoi_rekey_transport_cmd,
      "rekey transport <unicast$how|inband$how|multicast$how <A.B.C.D|X:X::X:X>$addr>",
      REKEY_STR
      "How rekeys reach the members (rekey)\n"
      "GSA_REKEY to each member\n"
      "GSA_INBAND_REKEY over each member's IKE SA, no Rekey SA\n"
      "GSA_REKEY to a multicast group (multicast)\n"
      "IPv4 multicast group\n"
      "IPv6 multicast group\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_TRANSPORT, false, 0, how,
			    addr_str);
}

/* clang-format off */
DEFPY(no_gdoi_rekey_transport, no_gdoi_rekey_transport_cmd,
      "no rekey transport [<unicast|inband|multicast [<A.B.C.D|X:X::X:X>]>]",
      NO_STR
      REKEY_STR
      "How rekeys reach the members: back to unicast\n"
      "GSA_REKEY to each member\n"
      "GSA_INBAND_REKEY over each member's IKE SA\n"
      "GSA_REKEY to a multicast group\n"
      "IPv4 multicast group\n"
      "IPv6 multicast group\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_TRANSPORT, true, 0, NULL, NULL);
}

/* clang-format off */
DEFPY(gdoi_rekey_address, gdoi_rekey_address_cmd,
      "[no] rekey address [<A.B.C.D|X:X::X:X>$addr]",
      NO_STR
      REKEY_STR
      "The multicast group a member joins for GSA_REKEY (multicast)\n"
      "IPv4 multicast group\n"
      "IPv6 multicast group\n")
/* clang-format on */
{
	if (!no && !addr_str) {
		vty_out(vty, "%% Give the multicast group\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_ADDRESS, !!no, 0, addr_str,
			    NULL);
}

/* clang-format off */
DEFPY(gdoi_rekey_algorithm, gdoi_rekey_algorithm_cmd,
      "[no] rekey algorithm [WORD$proposal]",
      NO_STR
      REKEY_STR
      "The Rekey SA's transforms (rekey_proposal)\n"
      "An ESP proposal: aes256gcm16, aes128-sha256, ...\n")
/* clang-format on */
{
	if (!no && !proposal) {
		vty_out(vty, "%% Give the proposal\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_REKEY_ALGORITHM, !!no, 0, proposal,
			    NULL);
}

#define SA_STR "The group's data-security SAs (TEKs)\n"

/* clang-format off */
DEFPY(gdoi_sa_lifetime, gdoi_sa_lifetime_cmd,
      "[no] sa lifetime seconds [(1-4294967295)$secs]",
      NO_STR
      SA_STR
      "Lifetime of each TEK (tek_lifetime)\n"
      "In seconds\n"
      "Seconds (at least 60)\n")
/* clang-format on */
{
	if (!no && !secs_str) {
		vty_out(vty, "%% Give the lifetime\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_SA_LIFETIME, !!no, 0, secs_str, NULL);
}

/* clang-format off */
DEFPY(gdoi_sa_ipsec_profile, gdoi_sa_ipsec_profile_cmd,
      "[no] sa ipsec (1-65535)$seq profile [WORD$proposal]",
      NO_STR
      SA_STR
      "A TEK policy (tek-N)\n"
      "Its number\n"
      "Its ESP proposal (esp_proposal)\n"
      "aes256gcm16, aes128-sha256, ...\n")
/* clang-format on */
{
	if (!no && !proposal) {
		vty_out(vty, "%% Give the proposal\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_SA_PROFILE, !!no, seq, proposal,
			    NULL);
}

/* clang-format off */
DEFPY(gdoi_sa_ipsec_match, gdoi_sa_ipsec_match_cmd,
      "[no] sa ipsec (1-65535)$seq match address [WORD$local [WORD$remote]]",
      NO_STR
      SA_STR
      "A TEK policy (tek-N)\n"
      "Its number\n"
      "The traffic it protects\n"
      "Traffic selectors (local_ts, remote_ts)\n"
      "Source: 10.0.0.0/8, 10.0.0.0/8[udp/5000], ...\n"
      "Destination (the source if not given)\n")
/* clang-format on */
{
	if (!no && !local) {
		vty_out(vty, "%% Give the traffic selector\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_SA_MATCH, !!no, seq, local, remote);
}

/* clang-format off */
DEFPY(no_gdoi_sa_ipsec, no_gdoi_sa_ipsec_cmd,
      "no sa ipsec (1-65535)$seq",
      NO_STR
      SA_STR
      "A TEK policy (tek-N)\n"
      "Its number\n")
/* clang-format on */
{
	return gsa_gdoi_set(vty, GSA_GDOI_SA, true, seq, NULL, NULL);
}

/* clang-format off */
DEFPY(gdoi_liveness, gdoi_liveness_cmd,
      "[no] liveness seconds [(0-4294967295)$secs]",
      NO_STR
      "Check the key server after this long without word from it (liveness; members)\n"
      "In seconds\n"
      "Seconds (0: no checks)\n")
/* clang-format on */
{
	if (!no && !secs_str) {
		vty_out(vty, "%% Give the time\n");
		return CMD_WARNING_CONFIG_FAILED;
	}
	return gsa_gdoi_set(vty, GSA_GDOI_LIVENESS, !!no, 0, secs_str, NULL);
}

/* ------------------------------------------------------------ show */

/* at most this many groups are shown */
#define GSA_GDOI_SHOW_MAX 256

struct gsa_gdoi_show {
	struct vty *vty;
	json_object *json;  /* the groups array, or NULL for text */
	json_object *group; /* the group being shown (json) */
	bool members, gm;   /* ks members, gm */
	bool failed;
	char errmsg[512];
	/* the groups list-groups listed, shown after it answered (their
	 * members or SAs are asked for then) */
	size_t n;
	struct {
		char name[256];
		char *text;
		json_object *obj;
	} groups[GSA_GDOI_SHOW_MAX];
};

static void gsa_gdoi_failed_wait(struct gsa_gdoi_show *s, int rc)
{
	if (rc < 0 && !s->failed) {
		s->failed = true;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "the key server did not answer");
	}
}

/* Whether a show's request succeeded; if not, *failed and why. */
static bool gsa_gdoi_reply_ok(const struct gs_vici_msg *reply, bool *failed,
			      char *errmsg, size_t size)
{
	const char *success, *why;

	if (!reply) {
		*failed = true;
		snprintf(errmsg, size, "the key server did not answer");
		return false;
	}
	success = gs_vici_msg_get(reply, "success");
	if (!success || strcmp(success, "yes") != 0) {
		why = gs_vici_msg_get(reply, "errmsg");
		*failed = true;
		snprintf(errmsg, size, "%s", why ? why : "no reason given");
		return false;
	}
	return true;
}

static const char *msg_str(const struct gs_vici_msg *m, const char *key)
{
	const char *v = gs_vici_msg_get(m, key);

	return v ? v : "-";
}

static void gsa_gdoi_add_json_str(json_object *o, const char *key,
				  const struct gs_vici_msg *m, const char *mkey)
{
	const char *v = gs_vici_msg_get(m, mkey);

	if (v)
		json_object_string_add(o, key, v);
}

static void gsa_gdoi_add_json_int(json_object *o, const char *key,
				  const struct gs_vici_msg *m, const char *mkey)
{
	const char *v = gs_vici_msg_get(m, mkey);

	if (v)
		json_object_int_add(o, key, strtoll(v, NULL, 10));
}

static void gsa_gdoi_show_member(void *arg, const char *name,
				 const struct gs_vici_msg *m)
{
	struct gsa_gdoi_show *s = arg;

	if (s->json) {
		json_object *arr, *o = json_object_new_object();

		gsa_gdoi_add_json_str(o, "id", m, "id");
		gsa_gdoi_add_json_str(o, "address", m, "address");
		gsa_gdoi_add_json_int(o, "registeredSecs", m, "registered");
		gsa_gdoi_add_json_str(o, "discovery", m, "discovery");
		if (!json_object_object_get_ex(s->group, "members", &arr))
			return;
		json_object_array_add(arr, o);
		return;
	}
	vty_out(s->vty, "      %-32s %-24s registered %ss ago\n",
		msg_str(m, "id"), msg_str(m, "address"),
		msg_str(m, "registered"));
}

static void gsa_gdoi_on_members(void *arg, const char *command,
				const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_show *s = arg;

	if (!reply)
		return;
	if (!s->json)
		vty_out(s->vty, "    Registered members:\n");
	gs_vici_msg_sections(reply, "members", gsa_gdoi_show_member, s);
}

static void gsa_gdoi_show_sa(void *arg, const char *name,
			     const struct gs_vici_msg *m)
{
	struct gsa_gdoi_show *s = arg;

	if (s->json) {
		json_object *arr, *o = json_object_new_object();
		const char *cur = gs_vici_msg_get(m, "current");

		gsa_gdoi_add_json_str(o, "spi", m, "spi");
		gsa_gdoi_add_json_str(o, "encrAlg", m, "encr-alg");
		gsa_gdoi_add_json_int(o, "encrKeysize", m, "encr-keysize");
		gsa_gdoi_add_json_int(o, "lifetime", m, "lifetime");
		gsa_gdoi_add_json_int(o, "expires", m, "expires");
		json_object_boolean_add(o, "current",
					cur && strcmp(cur, "yes") == 0);
		if (!json_object_object_get_ex(s->group, "sas", &arr))
			return;
		json_object_array_add(arr, o);
		return;
	}
	vty_out(s->vty, "      SPI %s  %s/%s  lifetime %ss, expires in %ss%s\n",
		msg_str(m, "spi"), msg_str(m, "encr-alg"),
		msg_str(m, "encr-keysize"), msg_str(m, "lifetime"),
		msg_str(m, "expires"),
		strcmp(msg_str(m, "current"), "yes") == 0 ? "" : " (previous)");
}

static void gsa_gdoi_on_sas(void *arg, const char *command,
			    const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_show *s = arg;

	if (!reply)
		return;
	if (!s->json)
		vty_out(s->vty, "    Group SAs:\n");
	gs_vici_msg_sections(reply, "sas", gsa_gdoi_show_sa, s);
}

static void gsa_gdoi_show_group(void *arg, const char *entry,
				const struct gs_vici_msg *g)
{
	struct gsa_gdoi_show *s = arg;
	const char *name = gs_vici_msg_get(g, "name");
	const char *role = gs_vici_msg_get(g, "role");
	bool server = role && strcmp(role, "server") == 0;
	bool ours = name && gsa_gdoi.cfg && gsa_gdoi_has_group(gsa_gdoi.cfg, name);

	if (!name || (s->members && !server) || (s->gm && server) ||
	    s->n >= GSA_GDOI_SHOW_MAX)
		return;
	snprintf(s->groups[s->n].name, sizeof(s->groups[s->n].name), "%s",
		 name);
	if (s->json) {
		json_object *o = json_object_new_object();

		json_object_string_add(o, "name", name);
		gsa_gdoi_add_json_str(o, "role", g, "role");
		gsa_gdoi_add_json_str(o, "state", g, "state");
		gsa_gdoi_add_json_str(o, "groupId", g, "group-id");
		json_object_string_add(o, "configuredBy",
				       ours ? "bgpd" : "charon");
		gsa_gdoi_add_json_str(o, "server", g, "server");
		gsa_gdoi_add_json_str(o, "rekeyAuth", g, "rekey-auth");
		gsa_gdoi_add_json_int(o, "memberCount", g, "members");
		gsa_gdoi_add_json_int(o, "evicted", g, "evicted");
		gsa_gdoi_add_json_int(o, "sasCount", g, "sas");
		gsa_gdoi_add_json_int(o, "kekMessageId", g, "kek-message-id");
		if (s->members)
			json_object_object_add(o, "members",
					       json_object_new_array());
		if (s->gm)
			json_object_object_add(o, "sas", json_object_new_array());
		json_object_array_add(s->json, o);
		s->groups[s->n++].obj = o;
		return;
	}
	s->groups[s->n++].text = asprintfrr(
		MTYPE_TMP,
		"Group Name               : %s\n"
		"    Group Identity       : %s\n"
		"    Configured by        : %s\n"
		"    Role                 : %s\n"
		"    State                : %s\n"
		"    %s : %s%s%s\n"
		"    Rekey authentication : %s\n"
		"    Group SAs            : %s\n",
		name, msg_str(g, "group-id"),
		ours ? "bgpd (crypto gdoi)" : "charon's settings",
		server ? "key server" : "group member", msg_str(g, "state"),
		server ? "Members             " : "Key server          ",
		server ? msg_str(g, "members") : msg_str(g, "server"),
		server ? " registered, " : "",
		server ? msg_str(g, "evicted") : "",
		msg_str(g, "rekey-auth"), msg_str(g, "sas"));
}

/* The groups list-groups gave, with their members or SAs. */
static void gsa_gdoi_show_groups(struct gsa_gdoi_show *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *args[] = {"group", s->groups[i].name, NULL};

		s->group = s->groups[i].obj;
		if (s->groups[i].text) {
			vty_out(s->vty, "%s", s->groups[i].text);
			XFREE(MTYPE_TMP, s->groups[i].text);
		}
		if (s->members)
			gsa_gdoi_failed_wait(s, gsa_control_request_wait(
					"list-members", args, gsa_gdoi_on_members, s,
					GSA_GDOI_WAIT_MS));
		if (s->gm)
			gsa_gdoi_failed_wait(s, gsa_control_request_wait(
					"list-sas", args, gsa_gdoi_on_sas, s,
					GSA_GDOI_WAIT_MS));
	}
}

static void gsa_gdoi_on_groups(void *arg, const char *command,
			       const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_show *s = arg;

	if (!gsa_gdoi_reply_ok(reply, &s->failed, s->errmsg,
			       sizeof(s->errmsg)))
		return;
	gs_vici_msg_sections(reply, "groups", gsa_gdoi_show_group, s);
}

/* Groups configured in bgpd that charon does not run (incomplete, or not
 * loaded yet). */
static void gsa_gdoi_show_pending(struct gsa_gdoi_show *s, const char *only,
				  json_object *pending)
{
	const char *const *names;
	size_t n;

	if (!gsa_gdoi.cfg)
		return;
	names = gsa_gdoi_groups(gsa_gdoi.cfg, &n);
	for (size_t i = 0; i < n; i++) {
		char *missing;

		if (only && strcmp(only, names[i]) != 0)
			continue;
		missing = gsa_gdoi_missing(gsa_gdoi.cfg, names[i]);
		if (!missing)
			continue;
		if (pending) {
			json_object *o = json_object_new_object();

			json_object_string_add(o, "name", names[i]);
			json_object_boolean_add(o, "complete", !*missing);
			json_object_boolean_add(o, "loaded",
						!*missing && gsa_gdoi.loaded);
			if (*missing)
				json_object_string_add(o, "missing", missing);
			json_object_array_add(pending, o);
		} else if (*missing) {
			vty_out(s->vty,
				"Group Name               : %s\n    Configured by        : bgpd (crypto gdoi), incomplete: missing %s\n",
				names[i], missing);
		} else if (!gsa_gdoi.loaded) {
			vty_out(s->vty,
				"Group Name               : %s\n    Configured by        : bgpd (crypto gdoi), not loaded into the key server yet\n",
				names[i]);
		}
		gsa_core_free(missing);
	}
}

/* clang-format off */
DEFPY(show_crypto_gdoi, show_crypto_gdoi_cmd,
      "show crypto gdoi [group WORD$name] [<ks$ks members|gm$gm>] [json$uj]",
      SHOW_STR
      "Security\n"
      GDOI_STR
      "One group\n"
      "Group name\n"
      "Key server groups\n"
      "Their registered members\n"
      "Member groups and their SAs\n"
      JSON_STR)
/* clang-format on */
{
	struct gsa_gdoi_show *s = XCALLOC(MTYPE_TMP, sizeof(*s));
	const char *args[] = {"group", name, NULL};
	json_object *top = NULL, *groups = NULL, *config = NULL;
	int ret = CMD_SUCCESS;

	s->vty = vty;
	s->members = !!ks;
	s->gm = !!gm;
	if (uj) {
		top = json_object_new_object();
		groups = json_object_new_array();
		config = json_object_new_array();
		s->json = groups;
	}
	if (!gsa_control_connected()) {
		s->failed = true;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "not connected to the key server");
	} else {
		gsa_gdoi_failed_wait(s, gsa_control_request_wait(
				"list-groups", name ? args : NULL,
				gsa_gdoi_on_groups, s, GSA_GDOI_WAIT_MS));
	}
	gsa_gdoi_show_groups(s);
	gsa_gdoi_show_pending(s, name, config);
	if (uj) {
		json_object_object_add(top, "groups", groups);
		json_object_object_add(top, "configured", config);
		if (s->failed)
			json_object_string_add(top, "error", s->errmsg);
		vty_json(vty, top);
	} else if (s->failed) {
		vty_out(vty, "%% %s\n", s->errmsg);
		ret = CMD_WARNING;
	}
	XFREE(MTYPE_TMP, s);
	return ret;
}

/* ------------------------------------------------ show ... shortcuts */

/* What list-shortcuts answers (docs/control-socket.md), shown as text or
 * as json with the keys in camelCase. */
struct gsa_gdoi_shortcuts {
	struct vty *vty;
	json_object *groups; /* the groups array, or NULL for text */
	json_object *list;   /* the array being filled (json) */
	bool failed;
	char errmsg[512];
};

/* A control-socket key ("offers-sent") as a json key ("offersSent"). */
static void gsa_gdoi_camel(const char *key, char *out, size_t size)
{
	size_t n = 0;
	bool up = false;

	for (; *key && n + 1 < size; key++) {
		if (*key == '-') {
			up = true;
			continue;
		}
		out[n++] = up ? (char)toupper((unsigned char)*key) : *key;
		up = false;
	}
	out[n] = '\0';
}

/* keys of m into o; ints are numbers, yes/no booleans, others text */
static void gsa_gdoi_json_keys(json_object *o, const struct gs_vici_msg *m,
			       const char *const *ints,
			       const char *const *bools,
			       const char *const *texts)
{
	char key[64];

	for (; ints && *ints; ints++) {
		gsa_gdoi_camel(*ints, key, sizeof(key));
		gsa_gdoi_add_json_int(o, key, m, *ints);
	}
	for (; bools && *bools; bools++) {
		const char *v = gs_vici_msg_get(m, *bools);

		gsa_gdoi_camel(*bools, key, sizeof(key));
		if (v)
			json_object_boolean_add(o, key, strcmp(v, "yes") == 0);
	}
	for (; texts && *texts; texts++) {
		gsa_gdoi_camel(*texts, key, sizeof(key));
		gsa_gdoi_add_json_str(o, key, m, *texts);
	}
}

static const char *const gsa_gdoi_manager_counters[] = {
	"detected-relayed", "detected-session", "offers-sent", "up",
	"aborted", "moves-sent", "teardowns-sent", "refused-unknown-member",
	"rejected-forged", "rejected-replay", "rejected-malformed",
	"acks-unexpected", "send-failures", NULL};
static const char *const gsa_gdoi_member_counters[] = {
	"offers", "outbound", "moves", "teardowns", "refused",
	"kernel-failures", "rejected-forged", "rejected-replay",
	"rejected-malformed", "send-failures", NULL};

static void gsa_gdoi_add_list_item(void *arg, const char *item)
{
	json_object_array_add(arg, json_object_new_string(item));
}

static void gsa_gdoi_text_list_item(void *arg, const char *item)
{
	struct gsa_gdoi_shortcuts *s = arg;

	vty_out(s->vty, " %s", item);
}

/* one shortcut of a manager */
static void gsa_gdoi_show_manager_shortcut(void *arg, const char *name,
					   const struct gs_vici_msg *m)
{
	static const char *const ints[] = {"id", "age", "up", "attempt",
					   "moves", NULL};
	static const char *const bools[] = {"inbound-a", "inbound-b",
					    "outbound-a", "outbound-b", NULL};
	static const char *const texts[] = {"a", "b", "inside-a", "inside-b",
					    "state", "spi-ab", "spi-ba", NULL};
	struct gsa_gdoi_shortcuts *s = arg;

	if (s->groups) {
		json_object *o = json_object_new_object();

		gsa_gdoi_json_keys(o, m, ints, bools, texts);
		json_object_array_add(s->list, o);
		return;
	}
	vty_out(s->vty,
		"    Shortcut %s: %s (%s) <-> %s (%s), %s, SPIs %s/%s, moves %s\n",
		msg_str(m, "id"), msg_str(m, "a"), msg_str(m, "inside-a"),
		msg_str(m, "b"), msg_str(m, "inside-b"), msg_str(m, "state"),
		msg_str(m, "spi-ab"), msg_str(m, "spi-ba"), msg_str(m, "moves"));
}

/* one member context of a manager */
static void gsa_gdoi_show_manager_member(void *arg, const char *name,
					 const struct gs_vici_msg *m)
{
	static const char *const texts[] = {"id", "outside", "state", NULL};
	struct gsa_gdoi_shortcuts *s = arg;

	if (s->groups) {
		json_object *o = json_object_new_object();
		json_object *inside = json_object_new_array();
		json_object *ids = json_object_new_array();

		gsa_gdoi_json_keys(o, m, NULL, NULL, texts);
		gs_vici_msg_list(m, "inside", gsa_gdoi_add_list_item, inside);
		gs_vici_msg_list(m, "shortcuts", gsa_gdoi_add_list_item, ids);
		json_object_object_add(o, "inside", inside);
		json_object_object_add(o, "shortcuts", ids);
		json_object_array_add(s->list, o);
		return;
	}
	vty_out(s->vty, "    Member %s: %s at %s, inside", msg_str(m, "id"),
		msg_str(m, "state"), msg_str(m, "outside"));
	gs_vici_msg_list(m, "inside", gsa_gdoi_text_list_item, s);
	vty_out(s->vty, ", shortcuts");
	if (gs_vici_msg_list(m, "shortcuts", gsa_gdoi_text_list_item, s) <= 0)
		vty_out(s->vty, " none");
	vty_out(s->vty, "\n");
}

/* one shortcut of a member */
static void gsa_gdoi_show_member_shortcut(void *arg, const char *name,
					  const struct gs_vici_msg *m)
{
	static const char *const ints[] = {"id", NULL};
	static const char *const bools[] = {"outbound", NULL};
	static const char *const texts[] = {"peer", "local-inside",
					    "peer-inside", "spi-in", "spi-out",
					    NULL};
	struct gsa_gdoi_shortcuts *s = arg;

	if (s->groups) {
		json_object *o = json_object_new_object();

		gsa_gdoi_json_keys(o, m, ints, bools, texts);
		json_object_array_add(s->list, o);
		return;
	}
	vty_out(s->vty,
		"    Shortcut %s: %s <-> %s via %s, SPI in %s, out %s%s\n",
		msg_str(m, "id"), msg_str(m, "local-inside"),
		msg_str(m, "peer-inside"), msg_str(m, "peer"),
		msg_str(m, "spi-in"), msg_str(m, "spi-out"),
		strcmp(msg_str(m, "outbound"), "yes") == 0
			? ""
			: " (inbound only)");
}

static void gsa_gdoi_show_shortcut_group(void *arg, const char *entry,
					 const struct gs_vici_msg *g)
{
	struct gsa_gdoi_shortcuts *s = arg;
	const char *role = msg_str(g, "role");
	bool manager = strcmp(role, "manager") == 0;
	const char *const *counters = manager ? gsa_gdoi_manager_counters
					      : gsa_gdoi_member_counters;
	char key[64];

	if (s->groups) {
		json_object *o = json_object_new_object();
		json_object *c = json_object_new_object();

		gsa_gdoi_add_json_str(o, "group", g, "group");
		json_object_string_add(o, "role", role);
		s->list = json_object_new_array();
		json_object_object_add(o, "shortcuts", s->list);
		gs_vici_msg_sections(g, "shortcuts",
				     manager ? gsa_gdoi_show_manager_shortcut
					     : gsa_gdoi_show_member_shortcut,
				     s);
		if (manager) {
			s->list = json_object_new_array();
			json_object_object_add(o, "members", s->list);
			gs_vici_msg_sections(g, "members",
					     gsa_gdoi_show_manager_member, s);
		}
		for (const char *const *k = counters; *k; k++) {
			char path[96];

			snprintf(path, sizeof(path), "counters.%s", *k);
			gsa_gdoi_camel(*k, key, sizeof(key));
			gsa_gdoi_add_json_int(c, key, g, path);
		}
		json_object_object_add(o, "counters", c);
		json_object_array_add(s->groups, o);
		return;
	}
	vty_out(s->vty, "Group Name               : %s\n", msg_str(g, "group"));
	vty_out(s->vty, "    Role                 : %s\n",
		manager ? "connectivity manager (key server)" : "member");
	if (!gs_vici_msg_sections(g, "shortcuts",
				  manager ? gsa_gdoi_show_manager_shortcut
					  : gsa_gdoi_show_member_shortcut,
				  s))
		vty_out(s->vty, "    No shortcuts\n");
	if (manager)
		gs_vici_msg_sections(g, "members", gsa_gdoi_show_manager_member,
				     s);
	vty_out(s->vty, "    Counters            :");
	for (const char *const *k = counters; *k; k++) {
		char path[96];

		snprintf(path, sizeof(path), "counters.%s", *k);
		vty_out(s->vty, " %s %s", *k, msg_str(g, path));
	}
	vty_out(s->vty, "\n");
}

static void gsa_gdoi_on_shortcuts(void *arg, const char *command,
				  const struct gs_vici_msg *reply)
{
	struct gsa_gdoi_shortcuts *s = arg;

	if (!gsa_gdoi_reply_ok(reply, &s->failed, s->errmsg,
			       sizeof(s->errmsg)))
		return;
	gs_vici_msg_sections(reply, "groups", gsa_gdoi_show_shortcut_group, s);
}

/* clang-format off */
DEFPY(show_crypto_gdoi_shortcuts, show_crypto_gdoi_shortcuts_cmd,
      "show crypto gdoi shortcuts [group WORD$name] [json$uj]",
      SHOW_STR
      "Security\n"
      GDOI_STR
      "Shortcut SAs between outside members\n"
      "One group\n"
      "Group name\n"
      JSON_STR)
/* clang-format on */
{
	struct gsa_gdoi_shortcuts s = {.vty = vty};
	const char *args[] = {"group", name, NULL};
	json_object *top = NULL;
	int rc;

	if (uj) {
		top = json_object_new_object();
		s.groups = json_object_new_array();
	}
	if (!gsa_control_connected()) {
		s.failed = true;
		snprintf(s.errmsg, sizeof(s.errmsg),
			 "not connected to the key server");
	} else {
		rc = gsa_control_request_wait("list-shortcuts",
					      name ? args : NULL,
					      gsa_gdoi_on_shortcuts, &s,
					      GSA_GDOI_WAIT_MS);
		if (rc < 0 && !s.failed) {
			s.failed = true;
			snprintf(s.errmsg, sizeof(s.errmsg),
				 "the key server did not answer");
		}
	}
	if (uj) {
		json_object_object_add(top, "groups", s.groups);
		if (s.failed)
			json_object_string_add(top, "error", s.errmsg);
		vty_json(vty, top);
		return CMD_SUCCESS;
	}
	if (s.failed) {
		vty_out(vty, "%% %s\n", s.errmsg);
		return CMD_WARNING;
	}
	return CMD_SUCCESS;
}

/* ------------------------------------------------------------ module */

void gsa_gdoi_init(struct thread_master *master)
{
	gsa_gdoi.master = master;
	/* until bgpd read its configuration file, charon is left alone: an
	 * empty configuration would unload the groups bgpd loaded before */
	gsa_gdoi.reading = true;
	gsa_gdoi.cfg = gsa_gdoi_new();
	if (!gsa_gdoi.cfg)
		zlog_err("gsa: crypto gdoi: out of memory");
	hook_register(bgp_gsa_control_state, gsa_gdoi_on_state);
	hook_register(frr_config_pre, gsa_gdoi_config_pre);
	hook_register(frr_config_post, gsa_gdoi_config_post);

	install_node(&gsa_gdoi_node);
	install_default(GSA_GDOI_NODE);
#ifndef VTYSH_EXTRACT_PL
	/* vtysh enters the node with its own command (vtysh/gsa_vtysh.c) */
	install_element(CONFIG_NODE, &crypto_gdoi_group_cmd);
#endif
	install_element(CONFIG_NODE, &no_crypto_gdoi_group_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_identity_number_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_server_local_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_server_address_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_server_identity_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_local_identity_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_local_address_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_member_identity_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_authentication_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_rekey_lifetime_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_rekey_authentication_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_rekey_transport_cmd);
	install_element(GSA_GDOI_NODE, &no_gdoi_rekey_transport_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_rekey_address_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_rekey_algorithm_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_sa_lifetime_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_sa_ipsec_profile_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_sa_ipsec_match_cmd);
	install_element(GSA_GDOI_NODE, &no_gdoi_sa_ipsec_cmd);
	install_element(GSA_GDOI_NODE, &gdoi_liveness_cmd);
	install_element(VIEW_NODE, &show_crypto_gdoi_cmd);
	install_element(VIEW_NODE, &show_crypto_gdoi_shortcuts_cmd);
}

void gsa_gdoi_fini(void)
{
	THREAD_OFF(gsa_gdoi.t_replay);
	gsa_gdoi_free(gsa_gdoi.cfg);
	gsa_gdoi.cfg = NULL;
}
