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
#include <credentials/auth_cfg.h>

#include "gs_gdoi_ext.h"

typedef struct gdoi_trust_creds_t gdoi_trust_creds_t;

/**
 * The certificates of the shared trust lists (trust-lists.md) in charon:
 * a credential set serving each certificate an active collection vouches
 * for (as key server, member or IKEv2 peer) as trusted, so that a peer
 * vouched for authenticates without a CA; and the check, when such a
 * certificate verified a peer, that its policy covers the group and use
 * it verified for. Conditions come from charon's IKE SAs (connected:ID)
 * and from the member groups (registered:GROUP); IKE SAs of peers no
 * longer trusted are closed.
 */
struct gdoi_trust_creds_t {

	/**
	 * Read the store again and replace the set's certificates with those
	 * trusted now; the credential manager's cache is flushed, and IKE SAs
	 * of peers the lists no longer trust are closed.
	 *
	 * @return			number of trusted certificates
	 */
	int (*reload)(gdoi_trust_creds_t *this);

	/**
	 * Whether a key that verified a peer may vouch for it in group for use
	 * (one GS_TRUST_USE_* bit). auth is how the key is trusted: a key
	 * chaining to a CA, or a certificate no collection holds, is left to
	 * charon's trust; a certificate of the lists that is not trusted for
	 * group and use now is refused (logged).
	 */
	bool (*accepts)(gdoi_trust_creds_t *this, auth_cfg_t *auth,
					const char *group, uint32_t use);

	/**
	 * Whether registered:GROUP holds: asked with no lock of this object held.
	 */
	void (*set_registered)(gdoi_trust_creds_t *this,
						   bool (*registered)(void *ctx, const char *group),
						   void *ctx);

	/**
	 * Serve the command `trust` on the gdoi control socket
	 * (gdoi_trust_command.h); a command that changed the store reloads it.
	 */
	void (*serve)(gdoi_trust_creds_t *this, gdoi_ext_t *ext);

	/**
	 * Unregister the set and destroy it.
	 */
	void (*destroy)(gdoi_trust_creds_t *this);
};

/**
 * Create the set on the store in dir, register it with the credential
 * manager and charon's bus, and load it.
 *
 * @param dir			the store's directory
 * @return				the set
 */
gdoi_trust_creds_t *gdoi_trust_creds_create(const char *dir);

#endif /** GDOI_TRUST_CREDS_H_ @}*/
