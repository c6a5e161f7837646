/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: bgpd's connection to the key server's control socket.
 *
 * One connection per bgpd (one charon per router). On every connection the
 * module subscribes to the key server's events and asks the daemon for its
 * version (a command round trip `show bgp gsa` proves); each event is
 * counted, logged at debug level and handed to the bgp_gsa_control_event
 * hook, where the S/R's route handling attaches.
 */

#include <zebra.h>

#include "hook.h"
#include "log.h"
#include "memory.h"
#include "monotime.h"
#include "thread.h"

#include "frr/vici_conn.h"

#include "bgp_gsa.h"
#include "bgp_gsa_control.h"
#include "gsa_core.h"

DEFINE_MTYPE_STATIC(GSA, GSA_CONTROL_PATH, "GSA control socket path");
DEFINE_MTYPE_STATIC(GSA, GSA_CONTROL_DAEMON, "GSA control daemon version");

DEFINE_HOOK(bgp_gsa_control_event,
	    (const char *name, const struct gs_vici_msg *msg), (name, msg));
DEFINE_HOOK(bgp_gsa_control_state, (bool connected), (connected));

#ifndef GSA_DEFAULT_CONTROL_SOCKET
#define GSA_DEFAULT_CONTROL_SOCKET "/var/run/gdoi.vici"
#endif
const char *const gsa_control_default_path = GSA_DEFAULT_CONTROL_SOCKET;

/* at most this many event streams (the key server has 7) */
#define GSA_MAX_EVENTS 16

enum gsa_subscription {
	GSA_SUB_PENDING,
	GSA_SUB_CONFIRMED,
	GSA_SUB_UNKNOWN,
};

static const char *const gsa_subscription_names[] = {
	[GSA_SUB_PENDING] = "pending",
	[GSA_SUB_CONFIRMED] = "confirmed",
	[GSA_SUB_UNKNOWN] = "unknown",
};

static struct gsa_control {
	struct gs_vici_conn *conn;
	char *configured_path; /* NULL: the default */
	char *daemon;	       /* "gdoi 1.2.3", from `version` */
	/* the key server's event streams, from the core */
	const char *const *names;
	size_t n_events;
	enum gsa_subscription sub[GSA_MAX_EVENTS];
	uint64_t count[GSA_MAX_EVENTS];
	uint64_t total;
	int last; /* index of the last event, -1 before the first */
	time_t last_time;
	/* for the view */
	struct gsa_event_view events[GSA_MAX_EVENTS];
	struct gs_vici_conn_status status;
} gsa_control = {.last = -1};

static int gsa_control_event_index(const char *name)
{
	for (size_t i = 0; i < gsa_control.n_events; i++)
		if (strcmp(gsa_control.names[i], name) == 0)
			return (int)i;
	return -1;
}

static void gsa_control_on_event(void *arg, const char *name,
				 const struct gs_vici_msg *msg)
{
	struct gsa_control *gc = arg;
	int i = gsa_control_event_index(name);
	char text[512];

	zlog_debug("gsa: control event %s: %s", name,
		   gs_vici_msg_format(msg, text, sizeof(text)));
	if (i < 0)
		return;
	gc->count[i]++;
	gc->total++;
	gc->last = i;
	gc->last_time = monotime(NULL);
	hook_call(bgp_gsa_control_event, name, msg);
}

static void gsa_control_on_subscribed(void *arg, const char *name,
				      bool confirmed)
{
	struct gsa_control *gc = arg;
	int i = gsa_control_event_index(name);

	if (!confirmed)
		zlog_warn("gsa: control socket: the key server has no event %s",
			  name);
	if (i >= 0)
		gc->sub[i] = confirmed ? GSA_SUB_CONFIRMED : GSA_SUB_UNKNOWN;
}

static void gsa_control_on_version(void *arg, const char *command,
				   const struct gs_vici_msg *reply)
{
	struct gsa_control *gc = arg;
	const char *daemon, *version;

	if (!reply)
		return; /* connection lost, or a daemon without `version` */
	daemon = gs_vici_msg_get(reply, "daemon");
	version = gs_vici_msg_get(reply, "version");
	XFREE(MTYPE_GSA_CONTROL_DAEMON, gc->daemon);
	gc->daemon = XSTRDUP(MTYPE_GSA_CONTROL_DAEMON, daemon ? daemon : "?");
	if (version) {
		size_t len = strlen(gc->daemon) + 1 + strlen(version) + 1;
		char *both = XMALLOC(MTYPE_GSA_CONTROL_DAEMON, len);

		snprintf(both, len, "%s %s", gc->daemon, version);
		XFREE(MTYPE_GSA_CONTROL_DAEMON, gc->daemon);
		gc->daemon = both;
	}
	zlog_info("gsa: control socket: daemon %s", gc->daemon);
}

static void gsa_control_on_state(void *arg, enum gs_vici_conn_state state)
{
	struct gsa_control *gc = arg;

	if (state != GS_VICI_CONN_CONNECTED) {
		XFREE(MTYPE_GSA_CONTROL_DAEMON, gc->daemon);
		hook_call(bgp_gsa_control_state, false);
		return;
	}
	/* the subscriptions went out with the connection */
	for (size_t i = 0; i < gc->n_events; i++)
		gc->sub[i] = GSA_SUB_PENDING;
	if (gs_vici_conn_request(gc->conn, "version", NULL,
				 gsa_control_on_version, gc) < 0)
		zlog_warn("gsa: control socket: cannot send `version`");
	hook_call(bgp_gsa_control_state, true);
}

int gsa_control_request(const char *command, const char *const *args,
			gs_vici_reply_fn fn, void *arg)
{
	if (!gsa_control.conn)
		return -1;
	return gs_vici_conn_request(gsa_control.conn, command, args, fn, arg);
}

int gsa_control_request_wait(const char *command, const char *const *args,
			     gs_vici_reply_fn fn, void *arg, int timeout_ms)
{
	if (!gsa_control.conn)
		return -1;
	return gs_vici_conn_request_wait(gsa_control.conn, command, args, fn,
					 arg, timeout_ms);
}

bool gsa_control_connected(void)
{
	struct gs_vici_conn_status st;

	if (!gsa_control.conn)
		return false;
	gs_vici_conn_get_status(gsa_control.conn, &st);
	return st.state == GS_VICI_CONN_CONNECTED;
}

static const struct gs_vici_conn_ops gsa_control_ops = {
	.event = gsa_control_on_event,
	.state = gsa_control_on_state,
	.subscribed = gsa_control_on_subscribed,
};

void gsa_control_init(struct thread_master *master)
{
	struct gsa_control *gc = &gsa_control;

	gc->names = gsa_core_control_events(&gc->n_events);
	if (gc->n_events > GSA_MAX_EVENTS)
		gc->n_events = GSA_MAX_EVENTS;
	gc->conn = gs_vici_conn_new(master, &gsa_control_ops, gc);
	if (!gc->conn) {
		zlog_err("gsa: control socket: out of memory");
		return;
	}
	for (size_t i = 0; i < gc->n_events; i++)
		gs_vici_conn_subscribe(gc->conn, gc->names[i]);
	gs_vici_conn_start(gc->conn, gc->configured_path
					     ? gc->configured_path
					     : gsa_control_default_path);
}

void gsa_control_fini(void)
{
	struct gsa_control *gc = &gsa_control;

	gs_vici_conn_free(&gc->conn);
	XFREE(MTYPE_GSA_CONTROL_PATH, gc->configured_path);
	XFREE(MTYPE_GSA_CONTROL_DAEMON, gc->daemon);
}

void gsa_control_set_path(const char *path)
{
	struct gsa_control *gc = &gsa_control;

	XFREE(MTYPE_GSA_CONTROL_PATH, gc->configured_path);
	if (path)
		gc->configured_path = XSTRDUP(MTYPE_GSA_CONTROL_PATH, path);
	if (gc->conn)
		gs_vici_conn_start(gc->conn,
				   path ? path : gsa_control_default_path);
}

const char *gsa_control_configured_path(void)
{
	return gsa_control.configured_path;
}

void gsa_control_get_view(struct gsa_control_view *view)
{
	struct gsa_control *gc = &gsa_control;
	time_t now = monotime(NULL);

	memset(view, 0, sizeof(*view));
	if (!gc->conn) {
		view->state = "stopped";
		return;
	}
	gs_vici_conn_get_status(gc->conn, &gc->status);
	view->path = gc->status.path;
	view->configured = gc->configured_path != NULL;
	view->state = gs_vici_conn_state_name(gc->status.state);
	view->state_secs = now >= gc->status.since
				   ? (uint64_t)(now - gc->status.since)
				   : 0;
	view->connects = gc->status.connects;
	view->reconnects = gc->status.reconnects;
	view->failed_attempts = gc->status.attempts;
	view->retry_secs = gc->status.retry_secs;
	view->last_error = gc->status.last_error;
	view->daemon = gc->daemon;
	view->events_total = gc->total;
	if (gc->last >= 0) {
		view->last_event = gc->names[gc->last];
		view->last_event_secs =
			now >= gc->last_time ? (uint64_t)(now - gc->last_time)
					     : 0;
	}
	for (size_t i = 0; i < gc->n_events; i++) {
		gc->events[i].name = gc->names[i];
		gc->events[i].count = gc->count[i];
		gc->events[i].subscription =
			gc->status.state == GS_VICI_CONN_CONNECTED
				? gsa_subscription_names[gc->sub[i]]
				: "none";
	}
	view->events = gc->events;
	view->n_events = gc->n_events;
}
