/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * What every CMocka test of charon glue shares: a real, idle charon to run
 * the glue in (it logs through charon's bus and runs jobs on charon's
 * processor), and the steps of loading a plugin's features as charon's
 * plugin loader takes them.
 */
#ifndef GLUE_TEST_UTIL_H_
#define GLUE_TEST_UTIL_H_

#include <library.h>
#include <plugins/plugin.h>
#include <plugins/plugin_feature.h>
#include <unistd.h>

/**
 * Start libstrongswan and libcharon with an empty strongswan.conf (nothing
 * of the host's configuration) and processor threads, so that watchers,
 * the scheduler and stream services run.
 *
 * @param name			namespace of the settings (lib->ns)
 * @param plugins		strongSwan plugins to load (e.g. "openssl"), or NULL
 * @return				0 if up (a CMocka group setup result)
 */
int glue_charon_up(const char *name, const char *plugins);

/**
 * Stop what glue_charon_up() started.
 *
 * @return				0 (a CMocka group teardown result)
 */
int glue_charon_down(void);

/**
 * The features a plugin declares.
 *
 * @param plugin		plugin
 * @param count			receives their number
 * @return				the features
 */
plugin_feature_t *glue_features_of(plugin_t *plugin, int *count);

/**
 * Load or unload a plugin's features through its callback, which is the
 * first feature (as charon's plugin loader calls it).
 *
 * @param plugin		plugin
 * @param reg			TRUE to load, FALSE to unload
 * @return				what the callback returns
 */
bool glue_load(plugin_t *plugin, bool reg);

/**
 * Connect to a UNIX stream socket, reads timing out after 5 s.
 *
 * @param path			socket path
 * @return				connected socket, -1 on failure
 */
int glue_unix_connect(const char *path);

/**
 * Wait up to 5 s for a counter other threads move to reach value, then
 * assert it did (needs cmocka.h).
 */
#define glue_wait_for(counter, value) do { \
	int _i; \
	for (_i = 0; _i < 250 && *(counter) < (value); _i++) \
	{ \
		usleep(20000); \
	} \
	assert_int_equal(*(counter), (value)); \
} while (0)

/**
 * Wait up to 5 s for a condition other threads make true (a job still
 * queued on charon's processor, say), then assert it holds (needs cmocka.h).
 */
#define glue_wait_until(cond) do { \
	int _i; \
	for (_i = 0; _i < 250 && !(cond); _i++) \
	{ \
		usleep(20000); \
	} \
	assert_true(cond); \
} while (0)

#endif /* GLUE_TEST_UTIL_H_ */
