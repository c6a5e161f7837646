/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: running vtysh.
 */
#define _GNU_SOURCE
#include "gsnc_vtysh.h"

#include <fcntl.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


extern char **environ;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int gsnc_vtysh(const char *vtysh, const char *daemon, const char *const *commands, int timeout_s, char **out)
{
	size_t n = 0, len = 0, cap = 4096;
	const char **argv;
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0;
	long deadline = now_ms() + timeout_s * 1000L;
	char *buf;
	pid_t pid;

	*out = NULL;
	while (commands[n])
		n++;
	argv = calloc(2 * n + 4, sizeof(*argv));
	buf = malloc(cap);
	if (!argv || !buf || pipe2(pipefd, O_CLOEXEC) != 0) {
		free(argv);
		free(buf);
		return -1;
	}
	n = 0;
	argv[n++] = vtysh;
	if (daemon) {
		argv[n++] = "-d";
		argv[n++] = daemon;
	}
	for (const char *const *c = commands; *c; c++) {
		argv[n++] = "-c";
		argv[n++] = *c;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (posix_spawn(&pid, vtysh, &fa, NULL, (char *const *)argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		free(buf);
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			status = -1;
			break;
		}
		if (len + 1024 > cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				kill(pid, SIGKILL);
				status = -1;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(pipefd[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(pipefd[0]);
	buf[len] = '\0';
	{
		int ws;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
			;
		if (status == 0)
			status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	}
	*out = buf;
	return status;
}
