/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gdoi_settings.h"

#include <errno.h>
#include <stdio.h>

#include <daemon.h>
#include <unistd.h>

#include "gs_settings.h"

/*
 * Described in header
 */
int gdoi_settings_load(gdoi_core_t *core, char *err, size_t err_len)
{
	settings_t *settings = lib->settings, *file = NULL;
	gs_settings_t *flat;
	char *path, *root;
	int groups;

	path = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.config",
								  NULL, lib->ns);
	if (path)
	{
		if (access(path, R_OK) != 0)
		{
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
			DBG1(DBG_CFG, "gdoi: %s", err);
			return -1;
		}
		file = settings_create(path);
		if (!file)
		{
			snprintf(err, err_len, "%s is not a valid configuration file", path);
			DBG1(DBG_CFG, "gdoi: %s", err);
			return -1;
		}
		settings = file;
		root = strdup("groups");
	}
	else if (strchr(lib->ns, '%') ||
			 asprintf(&root, "%s.plugins.gdoi.groups", lib->ns) < 0)
	{
		return -1;
	}

	flat = gs_settings_flatten("gdoi", settings, root);
	groups = gdoi_core_load(core, flat->get_keys(flat), flat->get_values(flat),
							flat->get_count(flat), err, err_len);
	flat->destroy(flat);
	if (groups < 0)
	{
		DBG1(DBG_CFG, "gdoi: configuration not loaded: %s", err);
	}
	else
	{
		DBG1(DBG_CFG, "gdoi: loaded %d group%s from %s", groups,
			 groups == 1 ? "" : "s", path ?: "strongswan.conf");
	}
	free(root);
	DESTROY_IF(file);
	return groups;
}
