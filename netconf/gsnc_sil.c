/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: the server instrumentation library of the module
 * groupsec-gdoi for yuma123's netconfd (loaded as libgroupsec-gdoi.so).
 *
 * bgpd's `crypto gdoi` configuration is the router's configuration of
 * record; this library ties netconfd's running datastore to it:
 *
 * - commit-validate: the new /gdoi is read into the core model of bgpd's
 *   CLI (core/gsa_gdoi.h), node by node; a node bgpd cannot hold is refused
 *   naming it; the complete groups go to charon's `check-config` (source
 *   "bgpd", what bgpd would load): a refusal is the rpc-error, with
 *   charon's message and the node of the setting it names. Nothing changes.
 * - commit-complete: the changed groups are configured in bgpd with vtysh
 *   (core/gsnc_text.h: new groups whole, changed ones in place; bgpd checks
 *   and loads them into charon as for any CLI change); if bgpd refuses, the
 *   previous groups are configured again, the commit fails and the
 *   datastore follows bgpd. bgpd's configuration file is written.
 * - every second (and when netconfd starts), bgpd's groups are read back
 *   (`show running-config`); when they differ from what was last seen
 *   (a change made in vtysh, a restart of bgpd), the datastore's groups
 *   are rebuilt from them.
 * - get: /gdoi/group/state is read from charon's control socket
 *   (list-groups, then list-members or list-sas) when asked.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procdefs.h"
#include "agt.h"
#include "agt_cb.h"
#include "agt_commit_complete.h"
#include "agt_commit_validate.h"
#include "agt_ncx.h"
#include "agt_timer.h"
#include "agt_util.h"
#include "cfg.h"
#include "getcb.h"
#include "log.h"
#include "ncx.h"
#include "ncxmod.h"
#include "obj.h"
#include "ses.h"
#include "status.h"
#include "val.h"
#include "val_util.h"

#include "gsa_core.h"
#include "gsa_gdoi.h"
#include "gsnc_text.h"
#include "gsnc_vtysh.h"
#include "gsnc_vici.h"

#define MOD "groupsec-gdoi"
/* bgpd's configuration source in charon */
#define SOURCE "bgpd"
#define VTYSH_TIMEOUT_S 30
#define VICI_TIMEOUT_MS 10000
#define SYNC_SECS 1

static ncx_module_t *gdoi_mod;
static char *last_seen; /* bgpd's groups as last read or applied, normalized */
static uint32 sync_timer;

static const char *vtysh_path(void)
{
	const char *p = getenv("GROUPSEC_VTYSH");
	return p && *p ? p : GSNC_VTYSH;
}

static const char *socket_path(void)
{
	const char *p = getenv("GROUPSEC_CONTROL_SOCKET");
	return p && *p ? p : GSNC_CONTROL_SOCKET;
}

static val_value_t *find(const val_value_t *parent, const char *name)
{
	return parent ? val_find_child(parent, (const xmlChar *)MOD, (const xmlChar *)name) : NULL;
}

static val_value_t *find_next(const val_value_t *parent, const char *name, val_value_t *cur)
{
	return val_find_next_child(parent, (const xmlChar *)MOD, (const xmlChar *)name, cur);
}

/* ------------------------------------------------------------ bgpd */

/* bgpd's groups as blocks, normalized; -1 if bgpd does not answer. */
static int bgpd_blocks(struct gsnc_blocks *b)
{
	static const char *const show[] = {"show running-config", NULL};
	char *out = NULL;
	int rc = gsnc_vtysh(vtysh_path(), "bgpd", show, VTYSH_TIMEOUT_S, &out);

	if (rc != 0 || !out || gsnc_blocks_parse(out, b)) {
		free(out);
		return -1;
	}
	free(out);
	return 0;
}

/* ------------------------------------------------------------ YANG -> model */

struct verr {
	val_value_t *node;
	status_t res;
	char msg[512];
};

static int refuse(struct verr *e, val_value_t *node, status_t res, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int refuse(struct verr *e, val_value_t *node, status_t res, const char *fmt, ...)
{
	va_list ap;

	e->node = node;
	e->res = res;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* the value of a leaf as text, in buf */
static const char *text_of(val_value_t *v, char *buf, size_t size)
{
	xmlChar *s = val_make_sprintf_string(v);

	snprintf(buf, size, "%s", s ? (const char *)s : "");
	if (s)
		m__free(s);
	return buf;
}

/* the value of a leaf or leaf-list entry as text, "" for other nodes */
static const char *value_of(val_value_t *v, char *buf, size_t size)
{
	if (!obj_is_leafy(v->obj)) {
		buf[0] = '\0';
		return buf;
	}
	return text_of(v, buf, size);
}

static bool named(const val_value_t *v, const char *name)
{
	return v->name && !xml_strcmp(v->name, (const xmlChar *)name);
}

/* A node bgpd's `crypto gdoi` has no command for: refused, unless it is
 * only the module's default (the plugin's default as well). */
static int not_here(struct verr *e, val_value_t *v)
{
	if (val_set_by_default(v) || (obj_is_leafy(v->obj) && val_is_default(v)))
		return 0;
	return refuse(e, v, ERR_NCX_OPERATION_NOT_SUPPORTED,
		      "%s is not configured through bgpd (crypto gdoi has no such command): "
		      "set it in charon's settings file",
		      (const char *)v->name);
}

static int edit(struct gsa_gdoi *cfg, const char *group, struct verr *e, val_value_t *node,
		enum gsa_gdoi_field field, unsigned index, const char *value, const char *value2)
{
	char err[256];

	/* each value is one word of a vtysh command */
	const char *words[] = {value, value2};

	for (size_t i = 0; i < 2; i++)
		if (words[i] && (!*words[i] || strpbrk(words[i], " \t\r\n")))
			return refuse(e, node, ERR_NCX_INVALID_VALUE,
				      "'%s': bgpd's crypto gdoi takes this value as one word, without spaces "
				      "(write distinguished names in the slash form)",
				      words[i]);
	if (gsa_gdoi_edit(cfg, group, field, false, index, value, value2, err, sizeof(err)))
		return refuse(e, node, ERR_NCX_INVALID_VALUE, "%s", err);
	return 0;
}

static int tek_to_model(struct gsa_gdoi *cfg, const char *g, val_value_t *tek, struct verr *e)
{
	char name[64], lts[256] = "", rts[256] = "", buf[256];
	val_value_t *c, *lnode = NULL;
	unsigned long idx;
	char *end;

	text_of(find(tek, "name"), name, sizeof(name));
	idx = strtoul(name, &end, 10);
	if (!isdigit((unsigned char)name[0]) || *end || idx < 1 || idx > 65535)
		return refuse(e, find(tek, "name"), ERR_NCX_OPERATION_NOT_SUPPORTED,
			      "tek %s: bgpd numbers TEKs (sa ipsec 1 to 65535): name it by a number", name);
	for (c = val_get_first_child(tek); c; c = val_get_next_child(c)) {
		if (named(c, "name"))
			continue;
		if (named(c, "local-ts")) {
			text_of(c, lts, sizeof(lts));
			lnode = c;
		} else if (named(c, "remote-ts")) {
			text_of(c, rts, sizeof(rts));
		} else if (named(c, "esp-proposal")) {
			if (!val_set_by_default(c) &&
			    edit(cfg, g, e, c, GSA_GDOI_SA_PROFILE, (unsigned)idx, text_of(c, buf, sizeof(buf)), NULL))
				return -1;
		} else if (not_here(e, c)) {
			return -1;
		}
	}
	if (lts[0] && edit(cfg, g, e, lnode, GSA_GDOI_SA_MATCH, (unsigned)idx, lts, rts[0] ? rts : lts))
		return -1;
	return 0;
}

static int server_to_model(struct gsa_gdoi *cfg, const char *g, val_value_t *s, const char *multicast,
			   struct verr *e)
{
	char buf[512];
	val_value_t *c;

	for (c = val_get_first_child(s); c; c = val_get_next_child(c)) {
		const char *v = value_of(c, buf, sizeof(buf));
		int rc = 0;

		if (named(c, "listen"))
			rc = edit(cfg, g, e, c, GSA_GDOI_LOCAL_ADDRESS, 0, v, NULL);
		else if (named(c, "members"))
			rc = edit(cfg, g, e, c, GSA_GDOI_MEMBER, 0, v, NULL);
		else if (named(c, "tek"))
			rc = tek_to_model(cfg, g, c, e);
		else if (named(c, "tek-lifetime") && !val_set_by_default(c))
			rc = edit(cfg, g, e, c, GSA_GDOI_SA_LIFETIME, 0, v, NULL);
		else if (named(c, "kek-lifetime") && !val_set_by_default(c))
			rc = edit(cfg, g, e, c, GSA_GDOI_REKEY_LIFETIME, 0, v, NULL);
		else if (named(c, "rekey") && !val_set_by_default(c))
			rc = edit(cfg, g, e, c, GSA_GDOI_REKEY_TRANSPORT, 0, v,
				  strcmp(v, "multicast") == 0 ? multicast : NULL);
		else if (named(c, "rekey-proposal") && !val_set_by_default(c))
			rc = edit(cfg, g, e, c, GSA_GDOI_REKEY_ALGORITHM, 0, v, NULL);
		else if (!named(c, "tek-lifetime") && !named(c, "kek-lifetime") && !named(c, "rekey") &&
			 !named(c, "rekey-proposal"))
			rc = not_here(e, c);
		if (rc)
			return -1;
	}
	return 0;
}

static int member_to_model(struct gsa_gdoi *cfg, const char *g, val_value_t *m, struct verr *e)
{
	char buf[512];
	val_value_t *c;

	for (c = val_get_first_child(m); c; c = val_get_next_child(c)) {
		const char *v = value_of(c, buf, sizeof(buf));
		int rc = 0;

		if (named(c, "servers"))
			rc = edit(cfg, g, e, c, GSA_GDOI_SERVER_ADDRESS, 0, v, NULL);
		else if (named(c, "local-addrs"))
			rc = edit(cfg, g, e, c, GSA_GDOI_LOCAL_ADDRESS, 0, v, NULL);
		else if (named(c, "server-id"))
			rc = edit(cfg, g, e, c, GSA_GDOI_SERVER_IDENTITY, 0, v, NULL);
		else if (named(c, "liveness")) {
			if (!val_set_by_default(c))
				rc = edit(cfg, g, e, c, GSA_GDOI_LIVENESS, 0, v, NULL);
		} else
			rc = not_here(e, c);
		if (rc)
			return -1;
	}
	return 0;
}

static int group_to_model(struct gsa_gdoi *cfg, val_value_t *gv, struct verr *e)
{
	char g[128], buf[512], multicast[128] = "", err[256];
	val_value_t *c, *member = find(gv, "member");
	val_value_t *mc = find(gv, "multicast");
	char *missing;

	text_of(find(gv, "name"), g, sizeof(g));
	if (gsa_gdoi_add_group(cfg, g, err, sizeof(err)))
		return refuse(e, gv, ERR_NCX_INVALID_VALUE, "%s", err);
	if (mc)
		text_of(mc, multicast, sizeof(multicast));
	for (c = val_get_first_child(gv); c; c = val_get_next_child(c)) {
		const char *v;
		int rc = 0;

		if (!obj_is_config(c->obj) || named(c, "name"))
			continue;
		v = value_of(c, buf, sizeof(buf));
		if (named(c, "group-id")) {
			const char *d = v;
			while (isdigit((unsigned char)*d))
				d++;
			if (!*v || *d)
				rc = refuse(e, c, ERR_NCX_OPERATION_NOT_SUPPORTED,
					    "group-id %s: bgpd takes a group number (identity number 0 to 4294967295)",
					    v);
			else
				rc = edit(cfg, g, e, c, GSA_GDOI_NUMBER, 0, v, NULL);
		} else if (named(c, "local-id")) {
			rc = edit(cfg, g, e, c, GSA_GDOI_LOCAL_IDENTITY, 0, v, NULL);
		} else if (named(c, "auth")) {
			if (!val_set_by_default(c))
				rc = edit(cfg, g, e, c, GSA_GDOI_AUTH, 0, v, NULL);
		} else if (named(c, "rekey-auth")) {
			if (!val_set_by_default(c))
				rc = edit(cfg, g, e, c, GSA_GDOI_REKEY_AUTH, 0, v, NULL);
		} else if (named(c, "multicast")) {
			/* a key server's comes with rekey = multicast */
			if (member)
				rc = edit(cfg, g, e, c, GSA_GDOI_REKEY_ADDRESS, 0, v, NULL);
		} else if (named(c, "server")) {
			rc = edit(cfg, g, e, c, GSA_GDOI_SERVER_LOCAL, 0, NULL, NULL);
			if (!rc)
				rc = server_to_model(cfg, g, c, multicast, e);
		} else if (named(c, "member")) {
			rc = member_to_model(cfg, g, c, e);
		} else {
			rc = not_here(e, c);
		}
		if (rc)
			return -1;
	}
	missing = gsa_gdoi_missing(cfg, g);
	if (missing && *missing) {
		refuse(e, gv, ERR_NCX_MISSING_INSTANCE,
		       "group %s lacks what bgpd needs to load it into charon: %s", g, missing);
		gsa_core_free(missing);
		return -1;
	}
	gsa_core_free(missing);
	return 0;
}

/* The model of the groups under root's /gdoi; NULL with e set. */
static struct gsa_gdoi *root_to_model(val_value_t *root, struct verr *e)
{
	struct gsa_gdoi *cfg = gsa_gdoi_new();
	val_value_t *gdoi = root ? find(root, "gdoi") : NULL, *c;

	if (!cfg) {
		refuse(e, NULL, ERR_INTERNAL_MEM, "out of memory");
		return NULL;
	}
	for (c = gdoi ? val_get_first_child(gdoi) : NULL; c; c = val_get_next_child(c)) {
		int rc = named(c, "group") ? group_to_model(cfg, c, e) : named(c, "plugin") ? not_here(e, c) : 0;
		if (rc) {
			gsa_gdoi_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

/* The node a charon message "groups.NAME.KEY: ..." is about. */
static val_value_t *node_of_setting(val_value_t *root, const char *msg)
{
	val_value_t *gdoi = find(root, "gdoi"), *g, *node = NULL;
	char name[128], key[128], leaf[128], buf[128];
	const char *p, *dot, *end;

	if (!gdoi || strncmp(msg, "groups.", 7) != 0)
		return NULL;
	p = msg + 7;
	dot = strchr(p, '.');
	end = strchr(p, ':');
	if (!end)
		end = p + strlen(p);
	if (!dot || dot > end) {
		dot = end;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(dot - p), p);
	for (g = find(gdoi, "group"); g; g = find_next(gdoi, "group", g))
		if (!strcmp(text_of(find(g, "name"), buf, sizeof(buf)), name))
			break;
	if (!g || dot == end)
		return g;
	snprintf(key, sizeof(key), "%.*s", (int)(end - dot - 1), dot + 1);
	for (char *k = key; *k; k++)
		if (*k == '_')
			*k = '-';
	if (!strcmp(key, "listen") || !strcmp(key, "local-addrs"))
		node = find(g, "server") ? find(find(g, "server"), "listen")
							: NULL;
	if (!strncmp(key, "tek-", 4) && strchr(key, '.')) {
		val_value_t *s = find(g, "server"), *t;
		snprintf(leaf, sizeof(leaf), "%s", strchr(key, '.') + 1);
		*strchr(key, '.') = '\0';
		for (t = s ? find(s, "tek") : NULL; t; t = find_next(s, "tek", t))
			if (!strcmp(text_of(find(t, "name"), buf, sizeof(buf)), key + 4))
				return find(t, leaf) ? find(t, leaf) : t;
		return g;
	}
	if (!node)
		node = find(g, key);
	if (!node && find(g, "server"))
		node = find(find(g, "server"), key);
	if (!node && find(g, "member"))
		node = find(find(g, "member"), key);
	return node ? node : g;
}

/* ------------------------------------------------------------ validate */

static status_t record(ses_cb_t *scb, xml_msg_hdr_t *msghdr, struct verr *e)
{
	ncx_errinfo_t info;

	memset(&info, 0, sizeof(info));
	info.error_message = (xmlChar *)e->msg;
	log_info("\ngroupsec-gdoi: refused: %s", e->msg);
	agt_record_error_errinfo(scb, msghdr, NCX_LAYER_CONTENT, e->res, NULL, NCX_NT_NONE, NULL,
				 e->node ? NCX_NT_VAL : NCX_NT_NONE, e->node, &info);
	return e->res;
}

struct check {
	bool ok;
	char errmsg[512];
};

static void on_check(void *arg, const char *command, const struct gs_vici_msg *reply)
{
	struct check *c = arg;
	const char *success = gs_vici_msg_get(reply, "success"), *errmsg = gs_vici_msg_get(reply, "errmsg");

	c->ok = success && !strcmp(success, "yes");
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", errmsg ? errmsg : "no reason given");
}

/* Whether the model's groups are what bgpd has now. */
static int same_as_bgpd(const struct gsa_gdoi *cfg, struct verr *e)
{
	struct gsnc_blocks want, have;
	int same;

	if (bgpd_blocks(&have))
		return refuse(e, NULL, ERR_NCX_OPERATION_FAILED, "bgpd does not answer vtysh (%s): nothing changed",
			      vtysh_path());
	gsnc_blocks_drop_incomplete(&have);
	if (gsnc_model_blocks(cfg, &want)) {
		gsnc_blocks_free(&have);
		return refuse(e, NULL, ERR_INTERNAL_MEM, "out of memory"), -1;
	}
	/* as sets of groups: bgpd keeps its own order */
	same = want.n == have.n;
	for (size_t i = 0; same && i < want.n; i++) {
		const char *h = gsnc_blocks_find(&have, want.names[i]);
		same = h && !strcmp(h, want.text[i]);
	}
	gsnc_blocks_free(&want);
	gsnc_blocks_free(&have);
	return same;
}

static status_t validate_cb(ses_cb_t *scb, xml_msg_hdr_t *msghdr, val_value_t *root)
{
	struct verr e = {.res = ERR_NCX_INVALID_VALUE};
	struct gsa_gdoi *cfg = root_to_model(root, &e);
	struct check c = {0};
	char **args, err[512];
	int same, rc;

	if (!cfg)
		return record(scb, msghdr, &e);
	same = same_as_bgpd(cfg, &e);
	if (same != 0) {
		gsa_gdoi_free(cfg);
		return same > 0 ? NO_ERR : record(scb, msghdr, &e);
	}
	args = gsa_gdoi_request_args(cfg, SOURCE);
	gsa_gdoi_free(cfg);
	if (!args) {
		refuse(&e, NULL, ERR_INTERNAL_MEM, "out of memory");
		return record(scb, msghdr, &e);
	}
	rc = gsnc_vici_call(socket_path(), "check-config", (const char *const *)args, on_check, &c,
			    VICI_TIMEOUT_MS, err, sizeof(err));
	gsa_gdoi_args_free(args);
	if (rc) {
		refuse(&e, NULL, ERR_NCX_OPERATION_FAILED, "%s: nothing changed", err);
		return record(scb, msghdr, &e);
	}
	if (!c.ok) {
		refuse(&e, node_of_setting(root, c.errmsg), ERR_NCX_INVALID_VALUE, "%s", c.errmsg);
		return record(scb, msghdr, &e);
	}
	return NO_ERR;
}

/* ------------------------------------------------------------ apply */

/* What vtysh said that is an error ("% ..." other than a note). */
static const char *vtysh_error(const char *out)
{
	const char *p = out;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		/* notes: a group loaded that waits for its key, and vtysh's
		 * own configuration file (it needs none) */
		if (*p == '%' && strncmp(p, "% Loaded, but not started", 25) != 0 &&
		    !memmem(p, len, "vtysh.conf", 10))
			return p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static int run_cmds(char **cmds, char **out)
{
	int rc = gsnc_vtysh(vtysh_path(), NULL, (const char *const *)cmds, VTYSH_TIMEOUT_S, out);

	if (rc != 0 || (*out && vtysh_error(*out)))
		return -1;
	return 0;
}

static void rebuild_from_bgpd(bool force);
static void add_state_nodes(void);

static status_t complete_cb(void)
{
	cfg_template_t *running = cfg_get_config_id(NCX_CFGID_RUNNING);
	struct verr e = {0};
	struct gsa_gdoi *cfg = running ? root_to_model(running->root, &e) : NULL;
	struct gsnc_blocks have, want;
	static const char *const save[] = {"write memory", NULL};
	char **cmds = NULL, *out = NULL;
	size_t changed = 0;
	status_t res = NO_ERR;

	if (!cfg) {
		log_error("\ngroupsec-gdoi: the committed configuration cannot be applied: %s", e.msg);
		free(last_seen);
		last_seen = NULL;
		return ERR_NCX_OPERATION_FAILED;
	}
	if (bgpd_blocks(&have)) {
		log_error("\ngroupsec-gdoi: bgpd does not answer vtysh: the configuration follows bgpd");
		gsa_gdoi_free(cfg);
		return NO_ERR;
	}
	gsnc_blocks_drop_incomplete(&have);
	if (gsnc_model_blocks(cfg, &want) == 0 && (cmds = gsnc_transition(&have, &want, &changed)) && cmds[1]) {
		if (run_cmds(cmds, &out)) {
			const char *why = out ? vtysh_error(out) : NULL;
			char **back = NULL, *out2 = NULL;
			struct gsnc_blocks now;

			log_error("\ngroupsec-gdoi: bgpd refused the change (%s): configuring the previous groups again",
				  why ? why : "vtysh failed");
			if (bgpd_blocks(&now) == 0) {
				gsnc_blocks_drop_incomplete(&now);
				back = gsnc_transition(&now, &have, &changed);
				if (back && back[1] && run_cmds(back, &out2))
					log_error("\ngroupsec-gdoi: bgpd refused the previous groups too: %s",
						  out2 ? out2 : "");
				gsnc_blocks_free(&now);
			}
			gsnc_cmds_free(back);
			free(out2);
			/* the commit fails; the datastore follows bgpd again at the
			 * next reading (outside netconfd's commit) */
			free(last_seen);
			last_seen = NULL;
			res = ERR_NCX_OPERATION_FAILED;
		} else {
			char *o = NULL;
			gsnc_vtysh(vtysh_path(), "bgpd", save, VTYSH_TIMEOUT_S, &o);
			free(o);
			log_info("\ngroupsec-gdoi: bgpd took the change (%zu groups)", changed);
		}
	}
	gsnc_cmds_free(cmds);
	free(out);
	gsnc_blocks_free(&want);
	gsnc_blocks_free(&have);
	gsa_gdoi_free(cfg);
	add_state_nodes();
	/* what bgpd has now is what the datastore says */
	if (res == NO_ERR && bgpd_blocks(&have) == 0) {
		free(last_seen);
		last_seen = gsnc_blocks_joined(&have);
		gsnc_blocks_free(&have);
	}
	return res;
}

/* ------------------------------------------------------------ bgpd -> datastore */

static val_value_t *new_child(val_value_t *parent, const char *name)
{
	obj_template_t *o = obj_find_child(parent->obj, (const xmlChar *)MOD, (const xmlChar *)name);
	val_value_t *v;

	if (!o || !(v = val_new_value()))
		return NULL;
	val_init_from_template(v, o);
	val_add_child(v, parent);
	return v;
}

static val_value_t *child(val_value_t *parent, const char *name)
{
	val_value_t *v = find(parent, name);
	return v ? v : new_child(parent, name);
}

static int add_leaf(val_value_t *parent, const char *name, const char *value)
{
	obj_template_t *o;
	status_t res = NO_ERR;
	val_value_t *v;

	if (!parent || !(o = obj_find_child(parent->obj, (const xmlChar *)MOD, (const xmlChar *)name)))
		return -1;
	v = val_make_simval_obj(o, (const xmlChar *)value, &res);
	if (!v || res != NO_ERR) {
		if (v)
			val_free_value(v);
		return -1;
	}
	val_add_child(v, parent);
	return 0;
}

static val_value_t *tek_entry(val_value_t *server, unsigned idx)
{
	char name[16], buf[64];
	val_value_t *t;

	snprintf(name, sizeof(name), "%u", idx);
	for (t = find(server, "tek"); t; t = find_next(server, "tek", t))
		if (!strcmp(text_of(find(t, "name"), buf, sizeof(buf)), name))
			return t;
	if (!(t = new_child(server, "tek")) || add_leaf(t, "name", name) ||
	    val_gen_index_chain(t->obj, t) != NO_ERR)
		return NULL;
	return t;
}

/* One line of bgpd's block as nodes of the group gv. */
static int line_to_nodes(val_value_t *gv, const char *line, bool *server)
{
	enum gsa_gdoi_field f;
	const char *v, *v2;
	unsigned idx;
	char *buf;
	int rc = -1;
	val_value_t *t;

	if (gsnc_line_edit(line, &f, &idx, &v, &v2, &buf))
		return -1;
	switch (f) {
	case GSA_GDOI_NUMBER:
		rc = add_leaf(gv, "group-id", v);
		break;
	case GSA_GDOI_SERVER_LOCAL:
		*server = true;
		rc = child(gv, "server") ? 0 : -1;
		break;
	case GSA_GDOI_SERVER_ADDRESS:
		rc = add_leaf(child(gv, "member"), "servers", v);
		break;
	case GSA_GDOI_SERVER_IDENTITY:
		rc = add_leaf(child(gv, "member"), "server-id", v);
		break;
	case GSA_GDOI_LOCAL_IDENTITY:
		rc = add_leaf(gv, "local-id", v);
		break;
	case GSA_GDOI_LOCAL_ADDRESS:
		rc = *server ? add_leaf(child(gv, "server"), "listen", v)
			     : add_leaf(child(gv, "member"), "local-addrs", v);
		break;
	case GSA_GDOI_MEMBER:
		rc = add_leaf(child(gv, "server"), "members", v);
		break;
	case GSA_GDOI_AUTH:
		rc = add_leaf(gv, "auth", v);
		break;
	case GSA_GDOI_REKEY_LIFETIME:
		rc = add_leaf(child(gv, "server"), "kek-lifetime", v);
		break;
	case GSA_GDOI_REKEY_AUTH:
		rc = add_leaf(gv, "rekey-auth", v);
		break;
	case GSA_GDOI_REKEY_TRANSPORT:
		rc = add_leaf(child(gv, "server"), "rekey", v);
		if (!rc && v2)
			rc = add_leaf(gv, "multicast", v2);
		break;
	case GSA_GDOI_REKEY_ADDRESS:
		rc = add_leaf(gv, "multicast", v);
		break;
	case GSA_GDOI_REKEY_ALGORITHM:
		rc = add_leaf(child(gv, "server"), "rekey-proposal", v);
		break;
	case GSA_GDOI_SA_LIFETIME:
		rc = add_leaf(child(gv, "server"), "tek-lifetime", v);
		break;
	case GSA_GDOI_LIVENESS:
		rc = add_leaf(child(gv, "member"), "liveness", v);
		break;
	case GSA_GDOI_SA_PROFILE:
		t = tek_entry(child(gv, "server"), idx);
		rc = t ? add_leaf(t, "esp-proposal", v) : -1;
		break;
	case GSA_GDOI_SA_MATCH:
		t = tek_entry(child(gv, "server"), idx);
		rc = t ? add_leaf(t, "local-ts", v) : -1;
		if (!rc)
			rc = add_leaf(t, "remote-ts", v2 ? v2 : v);
		break;
	case GSA_GDOI_SA:
		break;
	}
	free(buf);
	return rc;
}

/* A group node of a (normalized) block; NULL if the block is not complete
 * or has what the module cannot say. */
static val_value_t *block_to_group(val_value_t *gdoi, const char *name, const char *block)
{
	obj_template_t *o = obj_find_child(gdoi->obj, (const xmlChar *)MOD, (const xmlChar *)"group");
	val_value_t *gv = o ? val_new_value() : NULL;
	const char *p = strchr(block, '\n');
	bool server = false;

	if (!gv)
		return NULL;
	val_init_from_template(gv, o);
	if (add_leaf(gv, "name", name) || val_gen_index_chain(o, gv) != NO_ERR)
		goto fail;
	while (p && *++p) {
		const char *eol = strchr(p, '\n');
		char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p));
		int rc = line ? line_to_nodes(gv, line, &server) : -1;

		if (rc) {
			log_warn("\ngroupsec-gdoi: bgpd's group %s: '%s' has no place in the module", name,
				 line ? line : "");
			free(line);
			goto fail;
		}
		free(line);
		p = eol;
	}
	return gv;
fail:
	val_free_value(gv);
	return NULL;
}

/* The datastore's groups become bgpd's (if they changed since last seen,
 * or always with force). */
static void rebuild_from_bgpd(bool force)
{
	cfg_template_t *running = cfg_get_config_id(NCX_CFGID_RUNNING);
	struct gsnc_blocks have;
	struct gsa_gdoi *model;
	val_value_t *gdoi, *g;
	char *joined;

	if (!running || !running->root || bgpd_blocks(&have))
		return;
	joined = gsnc_blocks_joined(&have);
	if (!joined || (!force && last_seen && !strcmp(joined, last_seen))) {
		free(joined);
		gsnc_blocks_free(&have);
		return;
	}
	model = gsnc_blocks_model(&have);
	gdoi = find(running->root, "gdoi");
	if (!gdoi && have.n) {
		obj_template_t *o = ncx_find_object(gdoi_mod, (const xmlChar *)"gdoi");
		if (o && (gdoi = val_new_value())) {
			val_init_from_template(gdoi, o);
			val_add_child(gdoi, running->root);
		}
	}
	if (gdoi) {
		while ((g = find(gdoi, "group"))) {
			val_remove_child(g);
			val_free_value(g);
		}
		for (size_t i = 0; i < have.n; i++) {
			char *missing = model ? gsa_gdoi_missing(model, have.names[i]) : NULL;
			val_value_t *gv = NULL;

			/* an incomplete group stays bgpd's alone */
			if (missing && !*missing)
				gv = block_to_group(gdoi, have.names[i], have.text[i]);
			gsa_core_free(missing);
			if (gv)
				val_add_child(gv, gdoi);
		}
		cfg_set_dirty_flag(running);
		if (agt_ncx_cfg_save(running, FALSE) != NO_ERR)
			log_warn("\ngroupsec-gdoi: cannot save the startup configuration");
		/* the next edit starts from what is configured now */
		if (cfg_get_config_id(NCX_CFGID_CANDIDATE) && cfg_fill_candidate_from_running() != NO_ERR)
			log_warn("\ngroupsec-gdoi: cannot refill the candidate configuration");
	}
	add_state_nodes();
	log_info("\ngroupsec-gdoi: the configuration follows bgpd's (%zu groups)", have.n);
	free(last_seen);
	last_seen = joined;
	gsa_gdoi_free(model);
	gsnc_blocks_free(&have);
}

static int sync_cb(uint32 timer_id, void *cookie)
{
	rebuild_from_bgpd(false);
	return 0;
}


/* ------------------------------------------------------------ state */

struct reply {
	val_value_t *dst;
	const char *group;
	int which; /* 0 list-groups, 1 list-members, 2 list-sas */
};

static const char *const counters[] = {
	"received",	 "sent",	  "dropped-malformed", "dropped-auth",	   "dropped-replay",
	"dropped-unauthorized", "cookies-sent", "registrations", "rekeys", "invalid-spi",
	"ike-deletes-sent", "ike-deletes-received", "ike-rekeys", "liveness", "liveness-failed",
	"unsupported-critical", NULL,
};

/* a leaf from a value of the reply at path, if there is one */
static void copy_leaf(val_value_t *dst, const char *leaf, const struct gs_vici_msg *msg, const char *path)
{
	const char *v = gs_vici_msg_get(msg, path);

	if (v && dst)
		add_leaf(dst, leaf, !strcmp(v, "yes") ? "true" : !strcmp(v, "no") ? "false" : v);
}

struct items {
	val_value_t *dst;
	const char *leaf;
};

static void add_item(void *arg, const char *item)
{
	struct items *it = arg;
	add_leaf(it->dst, it->leaf, item);
}

static void on_member(void *arg, const char *name, const struct gs_vici_msg *m)
{
	val_value_t *st = arg, *e = new_child(st, "member");
	struct items it = {e, "sender-ids"};

	if (!e || add_leaf(e, "id", gs_vici_msg_get(m, "id") ? gs_vici_msg_get(m, "id") : name) ||
	    val_gen_index_chain(e->obj, e) != NO_ERR)
		return;
	copy_leaf(e, "address", m, "address");
	copy_leaf(e, "flat-id", m, "flat-id");
	copy_leaf(e, "registered", m, "registered");
	gs_vici_msg_list(m, "sender-ids", add_item, &it);
}

static void on_sa(void *arg, const char *name, const struct gs_vici_msg *m)
{
	val_value_t *st = arg, *e = new_child(st, "sa");

	if (!e || add_leaf(e, "spi", gs_vici_msg_get(m, "spi") ? gs_vici_msg_get(m, "spi") : name) ||
	    val_gen_index_chain(e->obj, e) != NO_ERR)
		return;
	copy_leaf(e, "protocol", m, "protocol");
	copy_leaf(e, "encr-alg", m, "encr-alg");
	copy_leaf(e, "encr-keysize", m, "encr-keysize");
	copy_leaf(e, "lifetime", m, "lifetime");
	copy_leaf(e, "expires", m, "expires");
	copy_leaf(e, "current", m, "current");
}

static void on_state(void *arg, const char *command, const struct gs_vici_msg *reply)
{
	struct reply *r = arg;
	char path[256];

	if (r->which == 0) {
		static const char *const leaves[][2] = {
			{"role", "role"}, {"state", "state"}, {"server", "server"},
			{"kek-message-id", "kek-message-id"}, {"member-count", "members"},
			{"evicted-count", "evicted"}, {"sa-count", "sas"},
		};
		struct items it = {r->dst, "sender-ids"};
		val_value_t *c;

		for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
			snprintf(path, sizeof(path), "groups.%s.%s", r->group, leaves[i][1]);
			copy_leaf(r->dst, leaves[i][0], reply, path);
		}
		snprintf(path, sizeof(path), "groups.%s.eviction.key-hierarchy", r->group);
		if (gs_vici_msg_get(reply, path) && (c = new_child(r->dst, "eviction"))) {
			static const char *const ev[] = {"key-hierarchy", "coalition-exposure", "tree-epoch",
							 "tree-depth", "exposed-keks", NULL};
			for (const char *const *e = ev; *e; e++) {
				snprintf(path, sizeof(path), "groups.%s.eviction.%s", r->group, *e);
				copy_leaf(c, *e, reply, path);
			}
		}
		snprintf(path, sizeof(path), "groups.%s.sender-ids", r->group);
		gs_vici_msg_list(reply, path, add_item, &it);
		if ((c = new_child(r->dst, "counters")))
			for (const char *const *n = counters; *n; n++) {
				snprintf(path, sizeof(path), "groups.%s.counters.%s", r->group, *n);
				copy_leaf(c, *n, reply, path);
			}
	} else if (r->which == 1) {
		struct items it = {r->dst, "evicted"};
		gs_vici_msg_sections(reply, "members", on_member, r->dst);
		gs_vici_msg_list(reply, "evicted", add_item, &it);
	} else {
		gs_vici_msg_sections(reply, "sas", on_sa, r->dst);
	}
}

/* get of /gdoi/group/state: charon's view of the group, asked now */
static status_t state_cb(ses_cb_t *scb, getcb_mode_t cbmode, const val_value_t *virval, val_value_t *dstval)
{
	char name[128], err[256], role[16] = "";
	const char *args[] = {"group", name, NULL};
	struct reply r = {.dst = dstval, .group = name};
	val_value_t *leaf;

	if (cbmode != GETCB_GET_VALUE || !virval->parent)
		return NO_ERR;
	text_of(find(virval->parent, "name"), name, sizeof(name));
	if (gsnc_vici_call(socket_path(), "list-groups", args, on_state, &r, VICI_TIMEOUT_MS, err, sizeof(err))) {
		log_warn("\ngroupsec-gdoi: state of %s: %s", name, err);
		return NO_ERR;
	}
	if ((leaf = find(dstval, "role")))
		text_of(leaf, role, sizeof(role));
	if (!strcmp(role, "server")) {
		r.which = 1;
		gsnc_vici_call(socket_path(), "list-members", args, on_state, &r, VICI_TIMEOUT_MS, err, sizeof(err));
	} else if (!strcmp(role, "member")) {
		r.which = 2;
		gsnc_vici_call(socket_path(), "list-sas", args, on_state, &r, VICI_TIMEOUT_MS, err, sizeof(err));
	}
	return NO_ERR;
}

/* Every group of the datastore gets its state node (virtual: filled when
 * read). */
static void add_state_nodes(void)
{
	cfg_template_t *running = cfg_get_config_id(NCX_CFGID_RUNNING);
	val_value_t *gdoi = running ? find(running->root, "gdoi") : NULL, *g;

	for (g = gdoi ? find(gdoi, "group") : NULL; g; g = find_next(gdoi, "group", g)) {
		obj_template_t *o = obj_find_child(g->obj, (const xmlChar *)MOD, (const xmlChar *)"state");
		val_value_t *v;

		if (find(g, "state") || !o || !(v = val_new_value()))
			continue;
		val_init_virtual(v, (void *)state_cb, o);
		val_add_child(v, g);
	}
}

/* ------------------------------------------------------------ SIL */

status_t y_groupsec_gdoi_init(const xmlChar *modname, const xmlChar *revision)
{
	agt_profile_t *profile = agt_get_profile();
	status_t res;

	if (xml_strcmp(modname, (const xmlChar *)MOD))
		return ERR_NCX_UNKNOWN_MODULE;
	res = ncxmod_load_module((const xmlChar *)MOD, revision, &profile->agt_savedevQ, &gdoi_mod);
	if (res != NO_ERR)
		return res;
	res = agt_commit_validate_register((const xmlChar *)MOD, validate_cb);
	if (res == NO_ERR)
		res = agt_commit_complete_register((const xmlChar *)MOD, complete_cb);
	return res;
}

status_t y_groupsec_gdoi_init2(void)
{
	/* bgpd's groups are the configuration: the datastore starts as theirs */
	rebuild_from_bgpd(true);
	add_state_nodes();
	return agt_timer_create(SYNC_SECS, TRUE, sync_cb, NULL, &sync_timer);
}

void y_groupsec_gdoi_cleanup(void)
{
	if (sync_timer)
		agt_timer_delete(sync_timer);
	agt_commit_validate_unregister((const xmlChar *)MOD);
	agt_commit_complete_unregister((const xmlChar *)MOD);
	free(last_seen);
	last_seen = NULL;
}
