/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gs_settings.h"

#include <stdio.h>

#include <daemon.h>
#include <collections/array.h>

typedef struct private_gs_settings_t private_gs_settings_t;

/**
 * Private data of a gs_settings_t object.
 */
struct private_gs_settings_t {

	/**
	 * Public gs_settings_t interface.
	 */
	gs_settings_t public;

	/**
	 * Owner's name, the prefix of log lines
	 */
	const char *name;

	/**
	 * Relative keys, char*
	 */
	array_t *keys;

	/**
	 * Values, char*
	 */
	array_t *values;

	/**
	 * NULL-terminated copies of the arrays' pointers, as handed out
	 */
	const char **key_list;
	const char **value_list;
};

/**
 * A relative path: prefix.name, or name below the top
 */
static char *relative(const char *prefix, const char *name)
{
	char *rel;

	if (asprintf(&rel, "%s%s%s", prefix, *prefix ? "." : "", name) < 0)
	{
		return NULL;
	}
	return rel;
}

/**
 * Add every key below section path, relative to it with prefix. path is the
 * settings' key format, so it has no '%' (section names with one are
 * skipped).
 */
static void flatten(private_gs_settings_t *this, settings_t *settings,
					char *path, char *prefix)
{
	enumerator_t *enumerator;
	char *key, *value, *sub, *full, *rel;

	enumerator = settings->create_key_value_enumerator(settings, path);
	while (enumerator->enumerate(enumerator, &key, &value))
	{
		rel = relative(prefix, key);
		if (rel)
		{
			array_insert(this->keys, ARRAY_TAIL, rel);
			array_insert(this->values, ARRAY_TAIL, strdup(value ?: ""));
		}
	}
	enumerator->destroy(enumerator);

	enumerator = settings->create_section_enumerator(settings, path);
	while (enumerator->enumerate(enumerator, &sub))
	{
		if (strchr(sub, '%'))
		{
			DBG1(DBG_CFG, "%s: section name '%s' ignored: '%%' is not "
				 "allowed", this->name, sub);
			continue;
		}
		if (asprintf(&full, "%s.%s", path, sub) > 0)
		{
			rel = relative(prefix, sub);
			if (rel)
			{
				flatten(this, settings, full, rel);
				free(rel);
			}
			free(full);
		}
	}
	enumerator->destroy(enumerator);
}

/**
 * A NULL-terminated list of the strings in an array
 */
static const char **list_of(array_t *array)
{
	const char **list;
	int i, n = array_count(array);

	list = calloc(n + 1, sizeof(char*));
	for (i = 0; i < n; i++)
	{
		array_get(array, i, &list[i]);
	}
	return list;
}

METHOD(gs_settings_t, get_count, int,
	private_gs_settings_t *this)
{
	return array_count(this->keys);
}

METHOD(gs_settings_t, get_keys, const char**,
	private_gs_settings_t *this)
{
	return this->key_list;
}

METHOD(gs_settings_t, get_values, const char**,
	private_gs_settings_t *this)
{
	return this->value_list;
}

METHOD(gs_settings_t, destroy, void,
	private_gs_settings_t *this)
{
	free(this->key_list);
	free(this->value_list);
	array_destroy_function(this->keys, (void*)free, NULL);
	array_destroy_function(this->values, (void*)free, NULL);
	free(this);
}

/*
 * Described in header
 */
gs_settings_t *gs_settings_flatten(const char *name, settings_t *settings,
								   const char *section)
{
	private_gs_settings_t *this;
	char *path;

	INIT(this,
		.public = {
			.get_count = _get_count,
			.get_keys = _get_keys,
			.get_values = _get_values,
			.destroy = _destroy,
		},
		.name = name,
		.keys = array_create(0, 0),
		.values = array_create(0, 0),
	);

	if (!strchr(section, '%'))
	{
		path = strdup(section);
		flatten(this, settings, path, "");
		free(path);
	}
	else
	{
		DBG1(DBG_CFG, "%s: section '%s' not read: '%%' is not allowed", name,
			 section);
	}
	this->key_list = list_of(this->keys);
	this->value_list = list_of(this->values);
	return &this->public;
}
