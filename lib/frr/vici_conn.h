/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec FRR glue: a VICI connection on FRR's event loop.
 *
 * Connects to a UNIX stream socket without blocking, reads and writes on
 * the thread_master's read/write tasks, and hands the bytes to the sans-IO
 * VICI client (groupsec/vici/client_c.h), which frames, encodes and
 * decodes. When the socket is not there yet, or the server closes it (a
 * charon restart), it connects again after a delay that doubles from
 * GS_VICI_CONN_BACKOFF_MIN to GS_VICI_CONN_BACKOFF_MAX seconds and drops
 * back to the minimum once the server has answered on a new connection.
 * Subscriptions are sent again on every connection.
 */
#ifndef GS_FRR_VICI_CONN_H
#define GS_FRR_VICI_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "groupsec/vici/client_c.h"

#ifdef __cplusplus
extern "C" {
#endif

struct thread_master;

#define GS_VICI_CONN_BACKOFF_MIN 1
#define GS_VICI_CONN_BACKOFF_MAX 30

enum gs_vici_conn_state {
	GS_VICI_CONN_STOPPED,	 /**< no socket configured, or stopped */
	GS_VICI_CONN_CONNECTING, /**< waiting to connect or connecting */
	GS_VICI_CONN_CONNECTED,	 /**< connected */
};

/** "stopped", "connecting", "connected" */
const char *gs_vici_conn_state_name(enum gs_vici_conn_state state);

/** What the connection tells its owner; called on the event loop. */
struct gs_vici_conn_ops {
	/** An event of a subscribed stream. */
	void (*event)(void *arg, const char *name,
		      const struct gs_vici_msg *msg);
	/** The connection is up (subscriptions sent) or went down. */
	void (*state)(void *arg, enum gs_vici_conn_state state);
	/** The server confirmed (or refused) a subscription. */
	void (*subscribed)(void *arg, const char *name, bool confirmed);
};

/** The connection as `show` commands print it. */
struct gs_vici_conn_status {
	enum gs_vici_conn_state state;
	const char *path;	 /**< socket path, NULL when stopped */
	uint64_t connects;	 /**< connections established */
	uint64_t reconnects;	 /**< of those, after a lost one */
	uint64_t attempts;	 /**< connect attempts that failed */
	time_t since;		 /**< monotime of the last state change */
	unsigned int retry_secs; /**< delay before the next attempt */
	const char *last_error;	 /**< why the last attempt or link failed */
};

struct gs_vici_conn;

/**
 * A stopped connection on master. ops and arg are kept; the callbacks must
 * not free the connection.
 */
struct gs_vici_conn *gs_vici_conn_new(struct thread_master *master,
				      const struct gs_vici_conn_ops *ops,
				      void *arg);

/** Stop and free; *conn becomes NULL. */
void gs_vici_conn_free(struct gs_vici_conn **conn);

/** Subscribe to an event stream now and on every later connection. */
int gs_vici_conn_subscribe(struct gs_vici_conn *conn, const char *event);

/** Connect to path now (closing any connection to another path). */
void gs_vici_conn_start(struct gs_vici_conn *conn, const char *path);

/** Close the connection and stop reconnecting. */
void gs_vici_conn_stop(struct gs_vici_conn *conn);

/**
 * Send a command (see gs_vici_client_request); -1 when not connected.
 */
int gs_vici_conn_request(struct gs_vici_conn *conn, const char *command,
			 const char *const *args, gs_vici_reply_fn fn,
			 void *arg);

/**
 * Send a command and wait for its answer, reading the connection until it
 * comes (events that arrive meanwhile go to the callbacks as usual), at
 * most timeout_ms: for the answers a CLI command must give before it
 * returns. fn has been called (with NULL if the connection ended, or was
 * closed because the answer did not come in time) when this returns 0;
 * -1 when not connected or called from inside a callback of this
 * connection (fn is then not called).
 */
int gs_vici_conn_request_wait(struct gs_vici_conn *conn, const char *command,
			      const char *const *args, gs_vici_reply_fn fn,
			      void *arg, int timeout_ms);

/** The state; strings valid until the connection changes. */
void gs_vici_conn_get_status(const struct gs_vici_conn *conn,
			     struct gs_vici_conn_status *status);

#ifdef __cplusplus
}
#endif

#endif /* GS_FRR_VICI_CONN_H */
