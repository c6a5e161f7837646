/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/frr's VICI connection on a real FRR thread_master against a UNIX
 * socket this test serves by hand: a connection to a socket that is not
 * there yet, subscriptions on connect, events, a server that goes away and
 * comes back (reconnect, subscriptions again), and the doubling delay
 * between failed attempts.
 */

#include <zebra.h>

#include <setjmp.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "memory.h"
#include "monotime.h"
#include "thread.h"

#include "frr/vici_conn.h"

static struct thread_master *master;
static char sock_path[108];
static int listen_fd = -1;

static struct {
	int states[16];
	int n_states;
	int events;
	char last_event[64];
	char last_group[64];
	int confirmed, unknown;
	int replies, lost_replies;
} seen;

static void on_event(void *arg, const char *name, const struct gs_vici_msg *msg)
{
	const char *group = gs_vici_msg_get(msg, "group");

	seen.events++;
	snprintf(seen.last_event, sizeof(seen.last_event), "%s", name);
	snprintf(seen.last_group, sizeof(seen.last_group), "%s",
		 group ? group : "");
}

static void on_state(void *arg, enum gs_vici_conn_state state)
{
	if (seen.n_states < (int)array_size(seen.states))
		seen.states[seen.n_states++] = state;
}

static void on_subscribed(void *arg, const char *name, bool confirmed)
{
	if (confirmed)
		seen.confirmed++;
	else
		seen.unknown++;
}

static void on_reply(void *arg, const char *command,
		     const struct gs_vici_msg *reply)
{
	if (reply)
		seen.replies++;
	else
		seen.lost_replies++;
}

static const struct gs_vici_conn_ops ops = {
	.event = on_event,
	.state = on_state,
	.subscribed = on_subscribed,
};

/* ---- the event loop, bounded in time */

static bool timed_out;

static void deadline_hit(struct thread *t)
{
	timed_out = true;
}

/* Run the loop until cond(conn) or timeout_ms; returns cond's last value. */
static bool run_until(struct gs_vici_conn *conn,
		      bool (*cond)(struct gs_vici_conn *), long timeout_ms)
{
	struct thread *deadline = NULL;
	struct thread thread;

	timed_out = false;
	thread_add_timer_msec(master, deadline_hit, NULL, timeout_ms,
			      &deadline);
	while (!cond(conn) && !timed_out && thread_fetch(master, &thread))
		thread_call(&thread);
	THREAD_OFF(deadline);
	return cond(conn);
}

static struct gs_vici_conn_status status_of(struct gs_vici_conn *conn)
{
	struct gs_vici_conn_status st;

	gs_vici_conn_get_status(conn, &st);
	return st;
}

static bool is_connected(struct gs_vici_conn *conn)
{
	return status_of(conn).state == GS_VICI_CONN_CONNECTED;
}

static bool is_connecting(struct gs_vici_conn *conn)
{
	return status_of(conn).state == GS_VICI_CONN_CONNECTING;
}

static bool one_attempt_failed(struct gs_vici_conn *conn)
{
	return status_of(conn).attempts >= 1;
}

static uint64_t attempts_target;

static bool attempts_reached(struct gs_vici_conn *conn)
{
	return status_of(conn).attempts >= attempts_target;
}

static bool got_event(struct gs_vici_conn *conn)
{
	return seen.events > 0;
}

static bool got_reply(struct gs_vici_conn *conn)
{
	return seen.replies > 0;
}

/* ---- the server side, by hand */

static void serve(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	strlcpy(sun.sun_path, sock_path, sizeof(sun.sun_path));
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(listen_fd >= 0);
	assert_int_equal(bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)),
			 0);
	assert_int_equal(listen(listen_fd, 4), 0);
}

static void unserve(void)
{
	close(listen_fd);
	listen_fd = -1;
	unlink(sock_path);
}

static int accept_client(void)
{
	int fd = accept(listen_fd, NULL, NULL);
	struct timeval tv = {.tv_sec = 5};

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read one packet (without its length) from the client. */
static size_t read_packet(int fd, uint8_t *buf, size_t size)
{
	uint8_t hdr[4];
	size_t len;

	assert_int_equal(recv(fd, hdr, 4, MSG_WAITALL), 4);
	len = (size_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	assert_true(len <= size);
	assert_int_equal(recv(fd, buf, len, MSG_WAITALL), (ssize_t)len);
	return len;
}

static void expect_register(int fd, const char *event)
{
	uint8_t buf[300];
	size_t len = read_packet(fd, buf, sizeof(buf));

	assert_int_equal(len, 2 + strlen(event));
	assert_int_equal(buf[0], 3); /* EVENT_REGISTER */
	assert_int_equal(buf[1], strlen(event));
	assert_memory_equal(buf + 2, event, strlen(event));
}

static void send_bytes(int fd, const void *data, size_t len)
{
	assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* EVENT_CONFIRM, EVENT_UNKNOWN */
static void send_op(int fd, uint8_t op)
{
	uint8_t pkt[] = {0, 0, 0, 1, op};

	send_bytes(fd, pkt, sizeof(pkt));
}

/* EVENT name { group = value } */
static void send_event(int fd, const char *name, const char *group)
{
	uint8_t pkt[300];
	size_t n = 4, nl = strlen(name), gl = strlen(group);

	pkt[n++] = 7;
	pkt[n++] = nl;
	memcpy(pkt + n, name, nl);
	n += nl;
	pkt[n++] = 3; /* KEY_VALUE */
	pkt[n++] = 5;
	memcpy(pkt + n, "group", 5);
	n += 5;
	pkt[n++] = 0;
	pkt[n++] = gl;
	memcpy(pkt + n, group, gl);
	n += gl;
	pkt[0] = pkt[1] = pkt[2] = 0;
	pkt[3] = n - 4;
	send_bytes(fd, pkt, n);
}

/* ---- tests */

static int setup(void **state)
{
	char dir[] = "/tmp/gs-vici-conn-XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/gdoi.vici", dir);
	master = thread_master_create("vici-conn-test");
	memset(&seen, 0, sizeof(seen));
	return 0;
}

static int teardown(void **state)
{
	char *slash;

	if (listen_fd >= 0)
		unserve();
	thread_master_free(master);
	slash = strrchr(sock_path, '/');
	*slash = '\0';
	rmdir(sock_path);
	return 0;
}

static void test_connects_subscribes_and_survives_a_restart(void **state)
{
	struct gs_vici_conn *conn = gs_vici_conn_new(master, &ops, NULL);
	struct gs_vici_conn_status st;
	int fd;

	assert_non_null(conn);
	assert_int_equal(gs_vici_conn_subscribe(conn, "member-registered"), 0);
	assert_int_equal(gs_vici_conn_subscribe(conn, "rekey"), 0);
	st = status_of(conn);
	assert_int_equal(st.state, GS_VICI_CONN_STOPPED);
	assert_null(st.path);

	/* no socket yet: connecting, one attempt failed, retried after 1s */
	gs_vici_conn_start(conn, sock_path);
	assert_true(run_until(conn, one_attempt_failed, 2000));
	st = status_of(conn);
	assert_int_equal(st.state, GS_VICI_CONN_CONNECTING);
	assert_string_equal(st.path, sock_path);
	assert_non_null(strstr(st.last_error, "No such file"));
	assert_int_equal(st.retry_secs, 1);
	assert_int_equal(
		gs_vici_conn_request(conn, "version", NULL, on_reply, NULL),
		-1);

	/* the server appears: connected at the next attempt */
	serve();
	assert_true(run_until(conn, is_connected, 3000));
	st = status_of(conn);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.reconnects, 0);
	assert_null(st.last_error);
	fd = accept_client();
	expect_register(fd, "member-registered");
	expect_register(fd, "rekey");

	/* confirmations and an event */
	send_op(fd, 5);
	send_op(fd, 6);
	send_event(fd, "member-registered", "blue");
	assert_true(run_until(conn, got_event, 3000));
	assert_int_equal(seen.confirmed, 1);
	assert_int_equal(seen.unknown, 1);
	assert_string_equal(seen.last_event, "member-registered");
	assert_string_equal(seen.last_group, "blue");

	/* a command round trip */
	assert_int_equal(
		gs_vici_conn_request(conn, "version", NULL, on_reply, NULL), 0);
	{
		uint8_t buf[64];
		size_t len = read_packet(fd, buf, sizeof(buf));
		uint8_t resp[] = {0, 0, 0, 1, 1};

		assert_int_equal(buf[0], 0); /* CMD_REQUEST */
		assert_int_equal(len, 2 + strlen("version"));
		send_bytes(fd, resp, sizeof(resp));
	}
	assert_true(run_until(conn, got_reply, 3000));

	/* the server restarts: the link is lost, then made again, and the
	 * subscriptions are sent again */
	assert_int_equal(
		gs_vici_conn_request(conn, "version", NULL, on_reply, NULL), 0);
	{
		uint8_t buf[64];

		read_packet(fd, buf, sizeof(buf)); /* read, never answered */
	}
	close(fd);
	assert_true(run_until(conn, is_connecting, 3000));
	assert_int_equal(seen.lost_replies, 1);
	st = status_of(conn);
	assert_string_equal(st.last_error, "closed by the server");
	assert_true(run_until(conn, is_connected, 3000));
	st = status_of(conn);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.reconnects, 1);
	fd = accept_client();
	expect_register(fd, "member-registered");
	expect_register(fd, "rekey");
	seen.events = 0;
	send_op(fd, 5);
	send_op(fd, 5);
	send_event(fd, "member-registered", "red");
	assert_true(run_until(conn, got_event, 3000));
	assert_string_equal(seen.last_group, "red");
	assert_int_equal(seen.confirmed, 3);

	/* a server that sends garbage is dropped */
	{
		uint8_t bad[] = {0, 0, 0, 1, 99};

		send_bytes(fd, bad, sizeof(bad));
	}
	assert_true(run_until(conn, is_connecting, 3000));
	assert_non_null(status_of(conn).last_error);
	close(fd);

	/* the server is gone for good: the delay doubles per failure, 1s
	 * after the lost link, then 2s, 4s */
	unserve();
	attempts_target = status_of(conn).attempts + 2;
	assert_true(run_until(conn, attempts_reached, 5000));
	st = status_of(conn);
	assert_int_equal(st.state, GS_VICI_CONN_CONNECTING);
	assert_int_equal(st.retry_secs, 4);

	gs_vici_conn_stop(conn);
	st = status_of(conn);
	assert_int_equal(st.state, GS_VICI_CONN_STOPPED);
	assert_null(st.path);
	gs_vici_conn_free(&conn);
	assert_null(conn);
}

static void test_path_too_long_is_an_attempt_that_fails(void **state)
{
	struct gs_vici_conn *conn = gs_vici_conn_new(master, &ops, NULL);
	char path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	gs_vici_conn_start(conn, path);
	assert_true(run_until(conn, one_attempt_failed, 2000));
	assert_non_null(strstr(status_of(conn).last_error, "socket path"));
	gs_vici_conn_free(&conn);
}

/* A request the caller waits for: answered (the answer may already be in
 * the socket), or not in time (the connection is closed, the caller hears
 * NULL); -1 without a connection. */
static void test_a_waited_for_request_gets_its_answer_or_gives_up(void **state)
{
	struct gs_vici_conn *conn = gs_vici_conn_new(master, &ops, NULL);
	/* CMD_RESPONSE { success = yes } */
	static const uint8_t yes[] = {0, 0, 0, 15, 1, 3, 7, 's', 'u', 'c', 'c', 'e', 's', 's', 0, 3, 'y', 'e', 's'};
	uint8_t buf[300];
	size_t len;
	int fd;

	assert_int_equal(gs_vici_conn_request_wait(conn, "version", NULL,
						   on_reply, NULL, 100),
			 -1);
	serve();
	gs_vici_conn_start(conn, sock_path);
	assert_true(run_until(conn, is_connected, 3000));
	fd = accept_client();

	send_bytes(fd, yes, sizeof(yes));
	assert_int_equal(gs_vici_conn_request_wait(conn, "version", NULL,
						   on_reply, NULL, 2000),
			 0);
	assert_int_equal(seen.replies, 1);
	len = read_packet(fd, buf, sizeof(buf));
	assert_int_equal(len, 2 + strlen("version"));
	assert_int_equal(buf[0], 0); /* CMD_REQUEST */
	assert_memory_equal(buf + 2, "version", strlen("version"));

	/* no answer within 200 ms: given up, the connection closed */
	assert_int_equal(gs_vici_conn_request_wait(conn, "list-groups", NULL,
						   on_reply, NULL, 200),
			 0);
	assert_int_equal(seen.replies, 1);
	assert_int_equal(seen.lost_replies, 1);
	assert_int_equal(status_of(conn).state, GS_VICI_CONN_CONNECTING);
	assert_non_null(strstr(status_of(conn).last_error,
			       "no answer to list-groups within 200 ms"));
	close(fd);
	gs_vici_conn_free(&conn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_connects_subscribes_and_survives_a_restart, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_path_too_long_is_an_attempt_that_fails, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_a_waited_for_request_gets_its_answer_or_gives_up,
			setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
