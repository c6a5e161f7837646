/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_state gdoi_state
 * @{ @ingroup gdoi
 */

#ifndef GDOI_STATE_H_
#define GDOI_STATE_H_

#include <library.h>

#include "gdoi_core.h"

typedef struct gdoi_state_t gdoi_state_t;

/**
 * What the key server keeps across restarts, in files of a state
 * directory: the identities evicted from each group (GROUP.evicted),
 * refused until an operator re-admits them.
 *
 * A file is written whole or not at all (a temporary file in the same
 * directory, fsync, rename, fsync of the directory) and read strictly:
 * anything but a file this object wrote, complete, is an error.
 */
struct gdoi_state_t {

	/**
	 * Read the identities evicted from a group.
	 *
	 * @param group			group name (letters, digits, '-' and '_')
	 * @param add			called with list and each identity
	 * @param list			passed to add
	 * @param err			receives the problem on failure
	 * @param err_len		size of err
	 * @return				TRUE if read (no file: nothing evicted), FALSE if
	 *						the file cannot be read or is not one we wrote
	 */
	bool (*load_evicted)(gdoi_state_t *this, const char *group,
						 void (*add)(void *list, const gdoi_id_t *id),
						 void *list, char *err, size_t err_len);

	/**
	 * Replace the identities evicted from a group.
	 *
	 * @param group			group name
	 * @param ids			the identities
	 * @param count			number of ids
	 * @param err			receives the problem on failure
	 * @param err_len		size of err
	 * @return				TRUE if stored; FALSE if not, and the file
	 *						stored before is left as it was
	 */
	bool (*save_evicted)(gdoi_state_t *this, const char *group,
						 const gdoi_id_t *ids, size_t count, char *err,
						 size_t err_len);

	/**
	 * The state directory.
	 */
	const char* (*get_dir)(gdoi_state_t *this);

	/**
	 * Destroy a gdoi_state_t.
	 */
	void (*destroy)(gdoi_state_t *this);
};

/**
 * Create the state of the key server in a directory, which is created
 * (mode 0700) if it does not exist. A directory that cannot be created is
 * logged; saving fails then.
 *
 * @param dir			the state directory
 * @return				gdoi_state_t instance
 */
gdoi_state_t *gdoi_state_create(const char *dir);

#endif /** GDOI_STATE_H_ @}*/
