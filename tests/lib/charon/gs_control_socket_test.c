/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 *
 * CMocka tests of lib/charon's control socket on a real, idle libstrongswan
 * (watcher, processor): a handler in memory queues per client what it is
 * sent, and the tests check what reaches the clients, that a client that
 * never reads delays no one (nor the thread that queues for it, holding
 * the handler's lock), and that every client is closed once.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <library.h>
#include <threading/mutex.h>
#include <threading/thread.h>

#include <cmocka.h>

#include "glue_test_util.h"
#include "gs_control_socket.h"

#define TEST_SOCKET "/tmp/groupsec-control-socket-test.sock"
#define MAX_CLIENTS 16
/* what a client may have queued before the handler gives up on it */
#define BOUND (256 * 1024)

/* ---- the handler: an echo server with a bounded queue per client */

static mutex_t *lock;
static chunk_t queued[MAX_CLIENTS];
static bool overflowed[MAX_CLIENTS];
static int opened, closed;
static u_int last_id;
static gs_control_socket_t *sock;

/* appends to a client's queue (lock held), waking the socket */
static void enqueue(u_int id, chunk_t data)
{
	if (queued[id].len + data.len > BOUND)
	{
		overflowed[id] = TRUE;
		chunk_free(&queued[id]);
	}
	else
	{
		queued[id] = chunk_cat("mc", queued[id], data);
	}
	sock->wake(sock, id);
}

static bool h_open(void *user, u_int id)
{
	if (id >= MAX_CLIENTS)
	{
		return FALSE;
	}
	lock->lock(lock);
	opened++;
	last_id = id;
	chunk_free(&queued[id]);
	overflowed[id] = FALSE;
	lock->unlock(lock);
	return TRUE;
}

static bool h_input(void *user, u_int id, u_char *data, size_t len)
{
	lock->lock(lock);
	enqueue(id, chunk_create(data, len));
	lock->unlock(lock);
	return TRUE;
}

static ssize_t h_output(void *user, u_int id, u_char *buf, size_t len)
{
	ssize_t n;

	lock->lock(lock);
	if (overflowed[id])
	{
		n = -1;
	}
	else
	{
		n = min(len, queued[id].len);
		if (n)
		{
			memcpy(buf, queued[id].ptr, n);
		}
	}
	lock->unlock(lock);
	return n;
}

static void h_written(void *user, u_int id, size_t len)
{
	chunk_t rest;

	lock->lock(lock);
	rest = chunk_clone(chunk_skip(queued[id], len));
	chunk_free(&queued[id]);
	queued[id] = rest;
	lock->unlock(lock);
}

static void h_close(void *user, u_int id)
{
	lock->lock(lock);
	closed++;
	chunk_free(&queued[id]);
	lock->unlock(lock);
}

static gs_control_handler_t handler = {
	.open = h_open,
	.input = h_input,
	.output = h_output,
	.written = h_written,
	.close = h_close,
};

/* ---- helpers */

static int client(void)
{
	int fd = glue_unix_connect(TEST_SOCKET);

	assert_true(fd >= 0);
	return fd;
}

#define wait_for glue_wait_for

static void start(void)
{
	opened = closed = 0;
	sock = gs_control_socket_create("unix://" TEST_SOCKET, &handler);
	assert_non_null(sock);
}

static void echo(int fd, const char *text)
{
	char buf[64];
	size_t len = strlen(text);

	assert_int_equal(write(fd, text, len), len);
	assert_int_equal(recv(fd, buf, len, MSG_WAITALL), len);
	assert_memory_equal(buf, text, len);
}

/* ---- tests */

static void test_bytes_go_both_ways_and_each_client_closes_once(void **state)
{
	int a, b;

	start();
	a = client();
	b = client();
	echo(a, "hello");
	echo(b, "world");
	echo(a, "again");
	assert_int_equal(opened, 2);
	assert_int_equal(sock->get_clients(sock), 2);
	close(a);
	wait_for(&closed, 1);
	echo(b, "still here");
	/* destroy closes the rest */
	sock->destroy(sock);
	assert_int_equal(closed, 2);
	assert_int_equal(recv(b, (char[1]){0}, 1, 0), 0);
	close(b);
}

/* a client that sends and never reads: its queue fills the socket buffer,
 * then the handler's bound, and it is closed; meanwhile another client is
 * answered and the thread queueing for the stuck one (holding the
 * handler's lock) never waits */
static void test_a_stuck_client_delays_no_one(void **state)
{
	char junk[4096];
	u_int stuck_id;
	int stuck, live, i;
	timeval_t t0, t1;
	ssize_t n;

	start();
	stuck = client();
	echo(stuck, "x");
	stuck_id = last_id;
	live = client();

	memset(junk, 'j', sizeof(junk));
	time_monotonic(&t0);
	for (i = 0; i < 1000; i++)
	{
		lock->lock(lock);
		if (!overflowed[stuck_id])
		{
			enqueue(stuck_id, chunk_from_thing(junk));
		}
		lock->unlock(lock);
		if (i % 100 == 0)
		{
			echo(live, "ping");
		}
	}
	time_monotonic(&t1);
	/* 4 MB queued for a client that takes none of it: bounded, prompt */
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	lock->lock(lock);
	assert_true(overflowed[stuck_id]);
	lock->unlock(lock);
	wait_for(&closed, 1);
	echo(live, "after");
	/* what the stuck client was sent before, then the end */
	while ((n = recv(stuck, junk, sizeof(junk), 0)) > 0)
	{
	}
	assert_int_equal(n, 0);
	close(stuck);
	close(live);
	wait_for(&closed, 2);
	sock->destroy(sock);
	assert_int_equal(closed, 2);
}

/* wakes for clients that are gone, or never were, do nothing */
static void test_wakes_for_unknown_clients_are_harmless(void **state)
{
	int fd;

	start();
	sock->wake(sock, 12345);
	fd = client();
	echo(fd, "x");
	close(fd);
	wait_for(&closed, 1);
	sock->wake(sock, last_id);
	echo(fd = client(), "y");
	close(fd);
	wait_for(&closed, 2);
	sock->destroy(sock);
}

static int setup(void **state)
{
	char conf[] = "/tmp/groupsec-control-socket-test-XXXXXX";
	int fd = mkstemp(conf);
	bool ok;

	if (fd < 0)
	{
		return -1;
	}
	close(fd);
	ok = library_init(conf, "control-socket-test");
	unlink(conf);
	if (!ok)
	{
		return -1;
	}
	lib->processor->set_threads(lib->processor, 4);
	lock = mutex_create(MUTEX_TYPE_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	int i;

	lib->processor->set_threads(lib->processor, 0);
	lib->processor->cancel(lib->processor);
	for (i = 0; i < MAX_CLIENTS; i++)
	{
		chunk_free(&queued[i]);
	}
	lock->destroy(lock);
	library_deinit();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_go_both_ways_and_each_client_closes_once),
		cmocka_unit_test(test_a_stuck_client_delays_no_one),
		cmocka_unit_test(test_wakes_for_unknown_clients_are_harmless),
	};

	return cmocka_run_group_tests_name("control socket", tests, setup,
									   teardown);
}
