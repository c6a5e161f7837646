/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "glue_test_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <daemon.h>

/**
 * Processor threads of the idle charon
 */
#define GLUE_THREADS 4

/*
 * Described in header
 */
int glue_charon_up(const char *name, const char *plugins)
{
	char conf[] = "/tmp/glue-test-XXXXXX";
	int fd = mkstemp(conf);
	bool ok;

	if (fd < 0)
	{
		return -1;
	}
	close(fd);
	/* an empty strongswan.conf: nothing of the host's configuration */
	ok = library_init(conf, name) && libcharon_init();
	unlink(conf);
	if (!ok)
	{
		return -1;
	}
	if (plugins && !lib->plugins->load(lib->plugins, (char*)plugins))
	{
		return -1;
	}
	lib->processor->set_threads(lib->processor, GLUE_THREADS);
	return 0;
}

/*
 * Described in header
 */
int glue_charon_down(void)
{
	lib->processor->set_threads(lib->processor, 0);
	lib->processor->cancel(lib->processor);
	libcharon_deinit();
	library_deinit();
	return 0;
}

/*
 * Described in header
 */
plugin_feature_t *glue_features_of(plugin_t *plugin, int *count)
{
	plugin_feature_t *f = NULL;

	*count = plugin->get_features(plugin, &f);
	return f;
}

/*
 * Described in header
 */
bool glue_load(plugin_t *plugin, bool reg)
{
	int n;
	plugin_feature_t *f = glue_features_of(plugin, &n);

	return f[0].arg.cb.f(plugin, &f[1], reg, f[0].arg.cb.data);
}

/*
 * Described in header
 */
int glue_unix_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
	{
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
	{
		return -1;
	}
	if (connect(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0)
	{
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}
