/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: bgpd's `crypto gdoi` blocks, and vtysh.
 */
#define _GNU_SOURCE
#include "gsnc_bgpd.h"

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

#include "gsa_core.h"

extern char **environ;

#define GROUP_PREFIX "crypto gdoi group "

void gsnc_blocks_free(struct gsnc_blocks *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->names[i]);
		free(b->text[i]);
	}
	free(b->names);
	free(b->text);
	memset(b, 0, sizeof(*b));
}

int gsnc_blocks_parse(const char *text, struct gsnc_blocks *b)
{
	const char *p = text;

	memset(b, 0, sizeof(*b));
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > strlen(GROUP_PREFIX) && strncmp(p, GROUP_PREFIX, strlen(GROUP_PREFIX)) == 0) {
			/* the block: its indented lines, then "exit" and "!" if
			 * they follow (vtysh and bgpd write them differently) */
			const char *end = eol ? eol + 1 : p + len, *name = p + strlen(GROUP_PREFIX);
			char **names, **texts;

			while (*end == ' ' || !strncmp(end, "exit\n", 5) || !strcmp(end, "exit") ||
			       !strncmp(end, "!\n", 2) || !strcmp(end, "!")) {
				const char *e = strchr(end, '\n');
				bool closing = *end != ' ';

				end = e ? e + 1 : end + strlen(end);
				if (closing && end[-2] == '!')
					break;
			}
			names = realloc(b->names, (b->n + 1) * sizeof(*names));
			if (names)
				b->names = names;
			texts = realloc(b->text, (b->n + 1) * sizeof(*texts));
			if (texts)
				b->text = texts;
			if (!names || !texts)
				goto oom;
			b->names[b->n] = strndup(name, len - strlen(GROUP_PREFIX));
			b->text[b->n] = strndup(p, (size_t)(end - p));
			b->n++;
			if (!b->names[b->n - 1] || !b->text[b->n - 1])
				goto oom;
			p = end;
			continue;
		}
		p = eol ? eol + 1 : NULL;
	}
	return 0;
oom:
	gsnc_blocks_free(b);
	return -1;
}

const char *gsnc_blocks_find(const struct gsnc_blocks *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->names[i], name) == 0)
			return b->text[i];
	return NULL;
}

static const struct {
	const char *prefix;
	enum gsa_gdoi_field field;
	bool two; /* value and value2 */
} lines[] = {
	{"identity number ", GSA_GDOI_NUMBER, false},
	{"server address ", GSA_GDOI_SERVER_ADDRESS, false},
	{"server identity ", GSA_GDOI_SERVER_IDENTITY, false},
	{"local identity ", GSA_GDOI_LOCAL_IDENTITY, false},
	{"local address ", GSA_GDOI_LOCAL_ADDRESS, false},
	{"member identity ", GSA_GDOI_MEMBER, false},
	{"authentication ", GSA_GDOI_AUTH, false},
	{"rekey lifetime seconds ", GSA_GDOI_REKEY_LIFETIME, false},
	{"rekey authentication ", GSA_GDOI_REKEY_AUTH, false},
	{"rekey transport ", GSA_GDOI_REKEY_TRANSPORT, true},
	{"rekey address ", GSA_GDOI_REKEY_ADDRESS, false},
	{"rekey algorithm ", GSA_GDOI_REKEY_ALGORITHM, false},
	{"sa lifetime seconds ", GSA_GDOI_SA_LIFETIME, false},
	{"liveness seconds ", GSA_GDOI_LIVENESS, false},
};

int gsnc_line_edit(const char *line, enum gsa_gdoi_field *field, unsigned *index, const char **value,
		   const char **value2, char **buf)
{
	char *copy, *sp;

	*index = 0;
	*value = *value2 = NULL;
	*buf = NULL;
	if (strcmp(line, "server local") == 0) {
		*field = GSA_GDOI_SERVER_LOCAL;
		return 0;
	}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t n = strlen(lines[i].prefix);
		if (strncmp(line, lines[i].prefix, n) != 0 || !line[n])
			continue;
		if (!(copy = strdup(line + n)))
			return -1;
		*field = lines[i].field;
		*value = copy;
		if (lines[i].two && (sp = strchr(copy, ' '))) {
			*sp = '\0';
			*value2 = sp + 1;
		}
		*buf = copy;
		return 0;
	}
	if (strncmp(line, "sa ipsec ", 9) == 0) {
		char *end, *rest;
		unsigned long idx = strtoul(line + 9, &end, 10);

		if (end == line + 9 || idx < 1 || idx > 65535 || *end != ' ')
			return -1;
		if (!(copy = strdup(end + 1)))
			return -1;
		*index = (unsigned)idx;
		if (strncmp(copy, "profile ", 8) == 0) {
			*field = GSA_GDOI_SA_PROFILE;
			*value = copy + 8;
		} else if (strncmp(copy, "match address ", 14) == 0) {
			*field = GSA_GDOI_SA_MATCH;
			rest = copy + 14;
			*value = rest;
			if ((sp = strchr(rest, ' '))) {
				*sp = '\0';
				*value2 = sp + 1;
			}
		} else {
			free(copy);
			return -1;
		}
		*buf = copy;
		return 0;
	}
	return -1;
}

struct gsa_gdoi *gsnc_blocks_model(const struct gsnc_blocks *b)
{
	struct gsa_gdoi *cfg = gsa_gdoi_new();
	char err[256];

	if (!cfg)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		const char *p;

		if (gsa_gdoi_add_group(cfg, b->names[i], err, sizeof(err)))
			goto fail;
		p = strchr(b->text[i], '\n');
		while (p && *++p) {
			const char *eol = strchr(p, '\n');
			char *line = strndup(p, eol ? (size_t)(eol - p) : strlen(p)), *buf;
			const char *v, *v2, *l;
			enum gsa_gdoi_field f;
			unsigned idx;
			int rc = 0;

			if (!line)
				goto fail;
			for (l = line; *l == ' '; l++)
				;
			if (*l && strcmp(l, "exit") != 0 && strcmp(l, "!") != 0) {
				rc = gsnc_line_edit(l, &f, &idx, &v, &v2, &buf);
				if (rc == 0) {
					rc = gsa_gdoi_edit(cfg, b->names[i], f, false, idx, v, v2, err, sizeof(err));
					free(buf);
				}
			}
			free(line);
			if (rc)
				goto fail;
			p = eol;
		}
	}
	return cfg;
fail:
	gsa_gdoi_free(cfg);
	return NULL;
}

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
