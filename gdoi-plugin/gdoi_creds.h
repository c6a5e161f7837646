/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_creds gdoi_creds
 * @{ @ingroup gdoi
 */

#ifndef GDOI_CREDS_H_
#define GDOI_CREDS_H_

#include <library.h>

#include "gdoi_core.h"
#include "trust/gdoi_trust_creds.h"

/**
 * The core's callbacks on charon's credential manager (lib/charon's
 * gs_creds), with identities of the core, and the check of PSKs shared by
 * members of a group.
 */

/**
 * The IKE shared key of two identities from charon's credential manager
 * (loaded with swanctl --load-creds).
 *
 * @param ctx			unused
 * @param local			our identity
 * @param remote		the peer's identity
 * @param key			receives the key
 * @param len			size of key, receives the key length
 * @return				TRUE if a key was found and fits
 */
bool gdoi_creds_shared_key(void *ctx, const gdoi_id_t *local,
						   const gdoi_id_t *remote, uint8_t *key, size_t *len);

/**
 * Sign data with the private key of signer and build RFC 7427 AUTH data.
 *
 * @param auth			receives the AUTH data, malloc()ed
 */
bool gdoi_creds_sign(void *ctx, const gdoi_id_t *signer, const uint8_t *data,
					 size_t len, uint8_t **auth, size_t *auth_len);

/**
 * Verify RFC 7427 AUTH data of signer with a trusted public key (a
 * certificate of signer that chains to a trusted CA, or a trusted raw key)
 * that trust, the shared trust lists, accepts for signer as the peer of
 * group in role.
 */
bool gdoi_creds_verify(gdoi_trust_creds_t *trust, const gdoi_id_t *signer,
					   const char *group, gdoi_peer_role_t role,
					   const uint8_t *data, size_t len, const uint8_t *auth,
					   size_t auth_len);

/**
 * RFC 9838 AUTH_KEY: the DER SubjectPublicKeyInfo of signer's private key.
 *
 * @param spki			receives the encoding, malloc()ed
 */
bool gdoi_creds_public_key(void *ctx, const gdoi_id_t *signer, uint8_t **spki,
						   size_t *spki_len);

/**
 * Sign data with the private key of public key spki (a previous signing
 * key, kept loaded while a new one is announced) and build RFC 7427 AUTH
 * data.
 *
 * @param auth			receives the AUTH data, malloc()ed
 */
bool gdoi_creds_sign_with(void *ctx, const uint8_t *spki, size_t spki_len,
						  const uint8_t *data, size_t len, uint8_t **auth,
						  size_t *auth_len);

/**
 * Verify RFC 7427 AUTH data with public key spki (the key server's
 * AUTH_KEY).
 */
bool gdoi_creds_verify_with(void *ctx, const uint8_t *spki, size_t spki_len,
							const uint8_t *data, size_t len,
							const uint8_t *auth, size_t auth_len);

/**
 * The trusted public keys of peer, each handed to add(list, spki, len).
 */
void gdoi_creds_trusted_keys(void *ctx, const gdoi_id_t *peer,
							 void (*add)(void *list, const uint8_t *spki,
										 size_t len), void *list);

/**
 * Warn about members of a PSK group that share their PSK with the key
 * server: each of them can register as any other. The PSKs come from the
 * credential manager; members without one are not counted.
 *
 * @param group			group name, for the log
 * @param local			the key server's identity
 * @param members		the identities of the group's members
 * @param count			number of members
 * @return				number of members whose PSK another member has too
 */
int gdoi_creds_shared_psks(const char *group, const gdoi_id_t *local,
						   const gdoi_id_t *members, size_t count);

/**
 * An identity of the core as identification_t.
 */
identification_t *gdoi_creds_identity(const gdoi_id_t *id);

#endif /** GDOI_CREDS_H_ @}*/
