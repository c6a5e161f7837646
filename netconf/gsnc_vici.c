/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: a blocking connection for one control-socket
 * request. The VICI client is the shared one; this file only owns the
 * socket (connect, write what the client queued, feed what was read).
 */
#define _GNU_SOURCE
#include "gsnc_vici.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct call {
	gs_vici_reply_fn fn;
	void *arg;
	bool done;
	bool answered;
};

static void on_reply(void *arg, const char *command, const struct gs_vici_msg *reply)
{
	struct call *c = arg;

	c->done = true;
	if (!reply)
		return;
	c->answered = true;
	c->fn(c->arg, command, reply);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int gsnc_vici_call(const char *path, const char *command, const char *const *args, gs_vici_reply_fn fn,
		   void *arg, int timeout_ms, char *err, size_t errsize)
{
	static const struct gs_vici_client_ops ops = {0};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct call c = {.fn = fn, .arg = arg};
	struct gs_vici_client *client;
	long deadline = now_ms() + timeout_ms;
	int fd, rc = -1;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errsize, "control socket path %s is too long", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	client = gs_vici_client_new(&ops, NULL);
	if (!client) {
		snprintf(err, errsize, "out of memory");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(err, errsize, "cannot connect to the key server's control socket %s: %s", path,
			 strerror(errno));
		goto out;
	}
	gs_vici_client_connected(client);
	if (gs_vici_client_request(client, command, args, on_reply, &c) < 0) {
		snprintf(err, errsize, "cannot encode the %s request", command);
		goto out;
	}
	while (!c.done) {
		const uint8_t *data;
		size_t pending = gs_vici_client_pending(client, &data);
		struct pollfd p = {.fd = fd, .events = POLLIN | (pending ? POLLOUT : 0)};
		long left = deadline - now_ms();
		int n;

		if (left <= 0) {
			snprintf(err, errsize, "the key server did not answer %s within %d s", command,
				 timeout_ms / 1000);
			goto out;
		}
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errsize, "poll: %s", strerror(errno));
			goto out;
		}
		if (p.revents & POLLOUT) {
			ssize_t w = send(fd, data, pending, MSG_NOSIGNAL);
			if (w < 0 && errno != EINTR && errno != EAGAIN) {
				snprintf(err, errsize, "cannot write to %s: %s", path, strerror(errno));
				goto out;
			}
			if (w > 0)
				gs_vici_client_written(client, (size_t)w);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[16384];
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				gs_vici_client_disconnected(client);
				break;
			}
			if (gs_vici_client_feed(client, buf, (size_t)r, err, errsize) < 0)
				goto out;
		}
	}
	if (!c.answered) {
		snprintf(err, errsize, "the key server did not answer %s", command);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	gs_vici_client_free(client);
	return rc;
}
