/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gdoi_settings.h"

#include <errno.h>
#include <stdio.h>

#include <daemon.h>
#include <collections/array.h>

#include <unistd.h>

/**
 * Flatten every key below section path into "relative.path" = value pairs.
 * path is used as the settings' key format, so it has every "%" doubled.
 */
static void flatten(settings_t *settings, char *path, char *prefix,
					array_t *keys, array_t *values)
{
	enumerator_t *enumerator;
	char *key, *value, *sub, *full, *rel;

	enumerator = settings->create_key_value_enumerator(settings, path);
	while (enumerator->enumerate(enumerator, &key, &value))
	{
		if (asprintf(&rel, "%s%s%s", prefix, *prefix ? "." : "", key) > 0)
		{
			array_insert(keys, ARRAY_TAIL, rel);
			array_insert(values, ARRAY_TAIL, strdup(value ?: ""));
		}
	}
	enumerator->destroy(enumerator);

	enumerator = settings->create_section_enumerator(settings, path);
	while (enumerator->enumerate(enumerator, &sub))
	{
		if (strchr(sub, '%'))
		{
			DBG1(DBG_CFG, "gdoi: section name '%s' ignored: '%%' is not "
				 "allowed", sub);
			continue;
		}
		if (asprintf(&full, "%s.%s", path, sub) > 0)
		{
			if (asprintf(&rel, "%s%s%s", prefix, *prefix ? "." : "", sub) > 0)
			{
				flatten(settings, full, rel, keys, values);
				free(rel);
			}
			free(full);
		}
	}
	enumerator->destroy(enumerator);
}

/*
 * Described in header
 */
int gdoi_settings_load(gdoi_core_t *core, char *err, size_t err_len)
{
	settings_t *settings = lib->settings, *file = NULL;
	array_t *keys, *values;
	char *path, *root, **k, **v;
	int groups, n, i;

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

	keys = array_create(0, 0);
	values = array_create(0, 0);
	flatten(settings, root, "", keys, values);
	n = array_count(keys);
	k = calloc(n + 1, sizeof(char*));
	v = calloc(n + 1, sizeof(char*));
	for (i = 0; i < n; i++)
	{
		array_get(keys, i, &k[i]);
		array_get(values, i, &v[i]);
	}
	groups = gdoi_core_load(core, (const char**)k, (const char**)v, n, err,
							err_len);
	free(k);
	free(v);
	if (groups < 0)
	{
		DBG1(DBG_CFG, "gdoi: configuration not loaded: %s", err);
	}
	else
	{
		DBG1(DBG_CFG, "gdoi: loaded %d group%s from %s", groups,
			 groups == 1 ? "" : "s", path ?: "strongswan.conf");
	}
	array_destroy_function(keys, (void*)free, NULL);
	array_destroy_function(values, (void*)free, NULL);
	free(root);
	DESTROY_IF(file);
	return groups;
}
