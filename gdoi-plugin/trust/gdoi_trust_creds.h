/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_trust_creds gdoi_trust_creds
 * @{ @ingroup gdoi
 */

#ifndef GDOI_TRUST_CREDS_H_
#define GDOI_TRUST_CREDS_H_

#include <library.h>

typedef struct gdoi_trust_creds_t gdoi_trust_creds_t;

/**
 * The certificates of the shared trust lists (trust-lists.md) as a
 * credential set of charon: each certificate an active collection accepts
 * as key server or member of every group is served as trusted, so that a
 * peer vouched for in an imported list authenticates without a CA.
 */
struct gdoi_trust_creds_t {

	/**
	 * Read the store again and replace the set's certificates with those
	 * trusted now; the credential manager's cache is flushed.
	 *
	 * @return			number of trusted certificates
	 */
	int (*reload)(gdoi_trust_creds_t *this);

	/**
	 * Unregister the set and destroy it.
	 */
	void (*destroy)(gdoi_trust_creds_t *this);
};

/**
 * Create the set on the store in dir, register it with the credential
 * manager and load it.
 *
 * @param dir			the store's directory
 * @return				the set
 */
gdoi_trust_creds_t *gdoi_trust_creds_create(const char *dir);

#endif /** GDOI_TRUST_CREDS_H_ @}*/
