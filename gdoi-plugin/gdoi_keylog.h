/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_keylog gdoi_keylog
 * @{ @ingroup gdoi
 */

#ifndef GDOI_KEYLOG_H_
#define GDOI_KEYLOG_H_

#include <library.h>

typedef struct gdoi_keylog_t gdoi_keylog_t;

/**
 * The key logs for diagnostics, both off unless configured:
 * charon.plugins.gdoi.save_keys names a folder whose
 * ikev2_decryption_table (Wireshark's IKEv2 decryption table) gets the keys
 * of each IKE SA and Rekey SA; charon.plugins.gdoi.save_member_keys names a
 * file that gets one JSON line per key a member takes into use. Both files
 * hold secrets.
 */
struct gdoi_keylog_t {

	/**
	 * Whether the IKE and Rekey SA keys are logged.
	 *
	 * @return				TRUE if save_keys is configured
	 */
	bool (*logs_keys)(gdoi_keylog_t *this);

	/**
	 * Whether the keys members take into use are logged.
	 *
	 * @return				TRUE if save_member_keys is configured
	 */
	bool (*logs_member_keys)(gdoi_keylog_t *this);

	/**
	 * Append a line to the Wireshark decryption table.
	 *
	 * @param line			one table line, without newline
	 */
	void (*save_keys)(gdoi_keylog_t *this, const char *line);

	/**
	 * Append a line to the member key log, in a single write to a file
	 * readable by its owner only; the copy made for it is wiped.
	 *
	 * @param line			one JSON line, without newline
	 */
	void (*save_member_key)(gdoi_keylog_t *this, const char *line);

	/**
	 * Destroy a gdoi_keylog_t.
	 */
	void (*destroy)(gdoi_keylog_t *this);
};

/**
 * Create the key logs as charon.plugins.gdoi configures them.
 *
 * @return				key logs
 */
gdoi_keylog_t *gdoi_keylog_create();

#endif /** GDOI_KEYLOG_H_ @}*/
