/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec FRR glue: a VICI connection on FRR's event loop.
 *
 * The I/O half of the VICI client: a non-blocking UNIX stream socket
 * driven by thread_master tasks (a timer to connect, a write task to finish
 * connecting and to drain the output, a read task). Framing and the
 * protocol are the sans-IO client's (groupsec/vici/client_c.h).
 */

#include <zebra.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>

#include "log.h"
#include "memory.h"
#include "monotime.h"
#include "network.h"
#include "thread.h"

#include "vici_conn.h"

DEFINE_MGROUP(GS_FRR, "groupsec FRR glue");
DEFINE_MTYPE_STATIC(GS_FRR, GS_VICI_CONN, "groupsec VICI connection");
DEFINE_MTYPE_STATIC(GS_FRR, GS_VICI_PATH, "groupsec VICI socket path");

/* read at most this much per read task, so that a busy server cannot hold
 * the event loop */
#define GS_VICI_READ_CHUNK 16384
#define GS_VICI_READS_PER_TASK 8

struct gs_vici_conn {
	struct thread_master *master;
	const struct gs_vici_conn_ops *ops;
	void *arg;
	struct gs_vici_client *client;

	char *path;
	int fd;
	enum gs_vici_conn_state state;
	/* a connection was up before: the next one is a reconnect */
	bool was_up;
	/* delay of the next retry; doubles per failure, reset on an answer */
	unsigned int backoff;
	/* inside gs_vici_client_feed: the read task writes when it returns */
	bool in_feed;

	uint64_t connects, reconnects, attempts;
	time_t since;
	char last_error[160];

	struct thread *t_retry;	  /* timer: connect again */
	struct thread *t_connect; /* write: a connect in progress finished */
	struct thread *t_read;
	struct thread *t_write;
};

static void conn_try_connect(struct thread *t);
static void conn_read(struct thread *t);
static void conn_write(struct thread *t);

const char *gs_vici_conn_state_name(enum gs_vici_conn_state state)
{
	switch (state) {
	case GS_VICI_CONN_STOPPED:
		return "stopped";
	case GS_VICI_CONN_CONNECTING:
		return "connecting";
	case GS_VICI_CONN_CONNECTED:
		return "connected";
	}
	return "unknown";
}

static void conn_set_state(struct gs_vici_conn *conn,
			   enum gs_vici_conn_state state)
{
	if (conn->state == state)
		return;
	conn->state = state;
	conn->since = monotime(NULL);
	if (conn->ops->state)
		conn->ops->state(conn->arg, state);
}

/* Close the socket and cancel its tasks; the client forgets the link. */
static void conn_close(struct gs_vici_conn *conn)
{
	THREAD_OFF(conn->t_connect);
	THREAD_OFF(conn->t_read);
	THREAD_OFF(conn->t_write);
	if (conn->fd >= 0) {
		close(conn->fd);
		conn->fd = -1;
	}
	gs_vici_client_disconnected(conn->client);
}

static void conn_schedule_retry(struct gs_vici_conn *conn)
{
	unsigned int delay = conn->backoff;

	conn->backoff = MIN(conn->backoff * 2, GS_VICI_CONN_BACKOFF_MAX);
	thread_add_timer(conn->master, conn_try_connect, conn, delay,
			 &conn->t_retry);
	zlog_debug("gsa: control socket %s: next attempt in %us", conn->path,
		   delay);
}

/* A connect attempt failed: try again later. */
static void conn_attempt_failed(struct gs_vici_conn *conn, const char *what,
				int err)
{
	snprintf(conn->last_error, sizeof(conn->last_error), "%s: %s", what,
		 safe_strerror(err));
	conn->attempts++;
	zlog_debug("gsa: control socket %s: %s", conn->path, conn->last_error);
	conn_close(conn);
	conn_set_state(conn, GS_VICI_CONN_CONNECTING);
	conn_schedule_retry(conn);
}

/* An established connection ended: connect again later. */
static void conn_lost(struct gs_vici_conn *conn, const char *why)
{
	snprintf(conn->last_error, sizeof(conn->last_error), "%s", why);
	zlog_info("gsa: control socket %s: connection lost: %s", conn->path,
		  why);
	conn_close(conn);
	conn->was_up = true;
	conn_set_state(conn, GS_VICI_CONN_CONNECTING);
	conn_schedule_retry(conn);
}

/*
 * Write what the client has queued, as far as the socket takes it; the
 * rest on the next write task. Returns false if the connection was lost.
 */
static bool conn_flush(struct gs_vici_conn *conn)
{
	const uint8_t *data;
	size_t len;
	ssize_t n;

	if (conn->state != GS_VICI_CONN_CONNECTED || conn->in_feed)
		return true;
	while ((len = gs_vici_client_pending(conn->client, &data)) > 0) {
		n = send(conn->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			gs_vici_client_written(conn->client, (size_t)n);
			continue;
		}
		if (n < 0 && ERRNO_IO_RETRY(errno)) {
			thread_add_write(conn->master, conn_write, conn,
					 conn->fd, &conn->t_write);
			return true;
		}
		conn_lost(conn, n < 0 ? safe_strerror(errno)
				      : "the socket takes no data");
		return false;
	}
	THREAD_OFF(conn->t_write);
	return true;
}

static void conn_write(struct thread *t)
{
	conn_flush(THREAD_ARG(t));
}

static void conn_up(struct gs_vici_conn *conn)
{
	conn->connects++;
	if (conn->was_up)
		conn->reconnects++;
	conn->last_error[0] = '\0';
	zlog_info("gsa: control socket %s: connected", conn->path);
	gs_vici_client_connected(conn->client);
	/* the owner may send its first requests from the state callback */
	conn_set_state(conn, GS_VICI_CONN_CONNECTED);
	if (conn->state != GS_VICI_CONN_CONNECTED)
		return;
	thread_add_read(conn->master, conn_read, conn, conn->fd, &conn->t_read);
	conn_flush(conn);
}

static void conn_connect_done(struct thread *t)
{
	struct gs_vici_conn *conn = THREAD_ARG(t);
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		conn_attempt_failed(conn, "connect", err);
		return;
	}
	conn_up(conn);
}

static void conn_try_connect(struct thread *t)
{
	struct gs_vici_conn *conn = THREAD_ARG(t);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (!conn->path || conn->fd >= 0)
		return;
	conn_set_state(conn, GS_VICI_CONN_CONNECTING);
	if (strlen(conn->path) >= sizeof(sun.sun_path)) {
		conn_attempt_failed(conn, "socket path", ENAMETOOLONG);
		return;
	}
	strlcpy(sun.sun_path, conn->path, sizeof(sun.sun_path));

	conn->fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (conn->fd < 0) {
		conn_attempt_failed(conn, "socket", errno);
		return;
	}
	if (connect(conn->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		conn_up(conn);
		return;
	}
	if (errno == EINPROGRESS) {
		thread_add_write(conn->master, conn_connect_done, conn,
				 conn->fd, &conn->t_connect);
		return;
	}
	/* EAGAIN: the listen backlog is full; retried like any failure */
	conn_attempt_failed(conn, "connect", errno);
}

/* Reads once from the socket and feeds what came to the client: 1 when
 * something was fed, 0 when nothing is there to read now, -1 when the
 * connection is lost (conn_lost() has run). */
static int conn_read_once(struct gs_vici_conn *conn)
{
	uint8_t buf[GS_VICI_READ_CHUNK];
	char err[160];
	ssize_t n;

	n = read(conn->fd, buf, sizeof(buf));
	if (n == 0) {
		conn_lost(conn, "closed by the server");
		return -1;
	}
	if (n < 0) {
		if (ERRNO_IO_RETRY(errno))
			return 0;
		conn_lost(conn, safe_strerror(errno));
		return -1;
	}
	conn->in_feed = true;
	n = gs_vici_client_feed(conn->client, buf, (size_t)n, err, sizeof(err));
	conn->in_feed = false;
	if (n < 0) {
		conn_lost(conn, err);
		return -1;
	}
	return 1;
}

static void conn_read(struct thread *t)
{
	struct gs_vici_conn *conn = THREAD_ARG(t);
	int i, r;

	for (i = 0; i < GS_VICI_READS_PER_TASK; i++) {
		r = conn_read_once(conn);
		if (r < 0)
			return;
		if (r == 0)
			break;
		/* the callbacks may have queued requests */
		if (!conn_flush(conn))
			return;
	}
	thread_add_read(conn->master, conn_read, conn, conn->fd, &conn->t_read);
}

/* The client's callbacks, forwarded to the owner. */
static void conn_on_event(void *arg, const char *name,
			  const struct gs_vici_msg *msg)
{
	struct gs_vici_conn *conn = arg;

	if (conn->ops->event)
		conn->ops->event(conn->arg, name, msg);
}

static void conn_on_subscribed(void *arg, const char *name, bool confirmed)
{
	struct gs_vici_conn *conn = arg;

	/* the server answers on this connection: back to the short delay */
	conn->backoff = GS_VICI_CONN_BACKOFF_MIN;
	if (conn->ops->subscribed)
		conn->ops->subscribed(conn->arg, name, confirmed);
}

static const struct gs_vici_client_ops conn_client_ops = {
	.event = conn_on_event,
	.subscribed = conn_on_subscribed,
};

struct gs_vici_conn *gs_vici_conn_new(struct thread_master *master,
				      const struct gs_vici_conn_ops *ops,
				      void *arg)
{
	struct gs_vici_conn *conn;

	conn = XCALLOC(MTYPE_GS_VICI_CONN, sizeof(*conn));
	conn->client = gs_vici_client_new(&conn_client_ops, conn);
	if (!conn->client) {
		XFREE(MTYPE_GS_VICI_CONN, conn);
		return NULL;
	}
	conn->master = master;
	conn->ops = ops;
	conn->arg = arg;
	conn->fd = -1;
	conn->state = GS_VICI_CONN_STOPPED;
	conn->backoff = GS_VICI_CONN_BACKOFF_MIN;
	conn->since = monotime(NULL);
	return conn;
}

void gs_vici_conn_stop(struct gs_vici_conn *conn)
{
	THREAD_OFF(conn->t_retry);
	conn_close(conn);
	XFREE(MTYPE_GS_VICI_PATH, conn->path);
	conn->was_up = false;
	conn->backoff = GS_VICI_CONN_BACKOFF_MIN;
	conn_set_state(conn, GS_VICI_CONN_STOPPED);
}

void gs_vici_conn_free(struct gs_vici_conn **connp)
{
	struct gs_vici_conn *conn = *connp;

	if (!conn)
		return;
	gs_vici_conn_stop(conn);
	gs_vici_client_free(conn->client);
	XFREE(MTYPE_GS_VICI_CONN, conn);
	*connp = NULL;
}

void gs_vici_conn_start(struct gs_vici_conn *conn, const char *path)
{
	if (conn->path && strcmp(conn->path, path) == 0 &&
	    conn->state != GS_VICI_CONN_STOPPED)
		return;
	gs_vici_conn_stop(conn);
	conn->path = XSTRDUP(MTYPE_GS_VICI_PATH, path);
	conn->connects = conn->reconnects = conn->attempts = 0;
	conn->last_error[0] = '\0';
	thread_add_event(conn->master, conn_try_connect, conn, 0,
			 &conn->t_retry);
}

int gs_vici_conn_subscribe(struct gs_vici_conn *conn, const char *event)
{
	if (gs_vici_client_subscribe(conn->client, event) < 0)
		return -1;
	conn_flush(conn);
	return 0;
}

int gs_vici_conn_request(struct gs_vici_conn *conn, const char *command,
			 const char *const *args, gs_vici_reply_fn fn,
			 void *arg)
{
	if (conn->state != GS_VICI_CONN_CONNECTED)
		return -1;
	if (gs_vici_client_request(conn->client, command, args, fn, arg) < 0)
		return -1;
	conn_flush(conn);
	return 0;
}

/* The answer to a waited-for request, and whether it came. */
struct conn_wait {
	gs_vici_reply_fn fn;
	void *arg;
	bool answered;
};

static void conn_wait_reply(void *arg, const char *command,
			    const struct gs_vici_msg *reply)
{
	struct conn_wait *w = arg;

	w->answered = true;
	if (w->fn)
		w->fn(w->arg, command, reply);
}

int gs_vici_conn_request_wait(struct gs_vici_conn *conn, const char *command,
			      const char *const *args, gs_vici_reply_fn fn,
			      void *arg, int timeout_ms)
{
	struct conn_wait w = {.fn = fn, .arg = arg};
	int64_t deadline, left;
	struct timeval now;
	char err[160];

	if (conn->in_feed || conn->state != GS_VICI_CONN_CONNECTED)
		return -1;
	if (gs_vici_client_request(conn->client, command, args,
				   conn_wait_reply, &w) < 0)
		return -1;
	monotime(&now);
	deadline = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000 + timeout_ms;
	while (!w.answered) {
		const uint8_t *data;
		struct pollfd pfd;

		if (!conn_flush(conn))
			break; /* lost: the client answered with NULL */
		monotime(&now);
		left = deadline - ((int64_t)now.tv_sec * 1000 +
				   now.tv_usec / 1000);
		if (left <= 0) {
			snprintf(err, sizeof(err), "no answer to %s within %d ms",
				 command, timeout_ms);
			conn_lost(conn, err); /* answers w with NULL */
			break;
		}
		pfd.fd = conn->fd;
		pfd.events = POLLIN;
		if (gs_vici_client_pending(conn->client, &data) > 0)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		if (conn_read_once(conn) < 0)
			break; /* lost: the client answered with NULL */
	}
	if (conn->state == GS_VICI_CONN_CONNECTED)
		conn_flush(conn);
	return w.answered ? 0 : -1;
}

void gs_vici_conn_get_status(const struct gs_vici_conn *conn,
			     struct gs_vici_conn_status *status)
{
	memset(status, 0, sizeof(*status));
	status->state = conn->state;
	status->path = conn->path;
	status->connects = conn->connects;
	status->reconnects = conn->reconnects;
	status->attempts = conn->attempts;
	status->since = conn->since;
	/* rounded up: "in 1s" until the attempt is made */
	status->retry_secs =
		conn->t_retry
			? (thread_timer_remain_msec(conn->t_retry) + 999) / 1000
			: 0;
	status->last_error = conn->last_error[0] ? conn->last_error : NULL;
}
