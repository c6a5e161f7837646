/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gs_settings gs_settings
 * @{ @ingroup gs_charon
 */

#ifndef GS_SETTINGS_H_
#define GS_SETTINGS_H_

#include <library.h>

typedef struct gs_settings_t gs_settings_t;

/**
 * Every key below a settings section as flat "relative.path" = value pairs,
 * the form in which a plugin's C++ core reads its configuration. Keys of a
 * section come before those of its subsections, each in the order of the
 * settings. Subsections whose name has a '%' are skipped (and logged): the
 * settings take a section path as a format string.
 */
struct gs_settings_t {

	/**
	 * Number of pairs.
	 *
	 * @return				number of pairs
	 */
	int (*get_count)(gs_settings_t *this);

	/**
	 * The keys, relative to the section, in the order of the values.
	 *
	 * @return				get_count() keys and a NULL, owned by this
	 */
	const char **(*get_keys)(gs_settings_t *this);

	/**
	 * The values; a key set to "" has "" (strongSwan drops a key with
	 * nothing after its "=").
	 *
	 * @return				get_count() values and a NULL, owned by this
	 */
	const char **(*get_values)(gs_settings_t *this);

	/**
	 * Destroy a gs_settings_t.
	 */
	void (*destroy)(gs_settings_t *this);
};

/**
 * Flatten a section.
 *
 * @param name			owner's name, the prefix of its log lines
 * @param settings		settings to read
 * @param section		full path of the section, with no '%'
 * @return				the pairs (none if the section does not exist)
 */
gs_settings_t *gs_settings_flatten(const char *name, settings_t *settings,
								   const char *section);

#endif /** GS_SETTINGS_H_ @}*/
