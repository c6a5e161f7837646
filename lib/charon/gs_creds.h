/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gs_creds gs_creds
 * @{ @ingroup gs_charon
 */

#ifndef GS_CREDS_H_
#define GS_CREDS_H_

#include <library.h>
#include <credentials/auth_cfg.h>

/**
 * Signing, verification and shared keys through charon's credential
 * manager (what swanctl --load-creds and --load-authorities load), for
 * plugins that authenticate their own messages. Signatures travel as
 * RFC 7427 AUTH data: one byte with the length of the AlgorithmIdentifier,
 * the AlgorithmIdentifier, the signature.
 *
 * Each function logs why it failed, its lines prefixed with name.
 */

/**
 * The IKE shared key of two identities.
 *
 * @param name			owner's name, the prefix of its log lines
 * @param local			our identity
 * @param remote		the peer's identity
 * @param key			receives a copy of the key, to be cleared with
 *						chunk_clear()
 * @return				TRUE if a key was found
 */
bool gs_creds_shared_key(const char *name, identification_t *local,
						 identification_t *remote, chunk_t *key);

/**
 * Sign data with the private key of signer, with the first signature
 * scheme its key type supports, and build RFC 7427 AUTH data.
 *
 * @param name			owner's name, the prefix of its log lines
 * @param signer		identity whose private key signs
 * @param data			data to sign
 * @param auth			receives the AUTH data, allocated
 * @return				TRUE if signed
 */
bool gs_creds_sign(const char *name, identification_t *signer, chunk_t data,
				   chunk_t *auth);

/**
 * Verify RFC 7427 AUTH data of signer with a trusted public key (a
 * certificate of signer that chains to a trusted CA, or a trusted raw key).
 * AUTH data that cannot be parsed verifies nothing.
 *
 * @param name			owner's name, the prefix of its log lines
 * @param signer		identity that claims to have signed
 * @param data			signed data
 * @param auth			AUTH data
 * @return				TRUE if a trusted key of signer verifies it
 */
bool gs_creds_verify(const char *name, identification_t *signer, chunk_t data,
					 chunk_t auth);

/**
 * Says whether a trusted key that verified a signature may vouch for the
 * signer where it is used: auth holds how the key is trusted (its
 * certificate as AUTH_RULE_SUBJECT_CERT, the CA it chains to as
 * AUTH_RULE_CA_CERT).
 */
typedef bool (*gs_creds_accept_t)(void *ctx, public_key_t *key,
								  auth_cfg_t *auth);

/**
 * Like gs_creds_verify(), accepting only a key accept() agrees to.
 *
 * @param accept		judges the key that verified, NULL accepts any
 * @param ctx			passed to accept
 */
bool gs_creds_verify_accept(const char *name, identification_t *signer,
							chunk_t data, chunk_t auth,
							gs_creds_accept_t accept, void *ctx);

/**
 * The DER SubjectPublicKeyInfo of the private key of signer.
 *
 * @param spki			receives the encoding, allocated
 * @return				FALSE if there is no such key
 */
bool gs_creds_public_key(const char *name, identification_t *signer,
						 chunk_t *spki);

/**
 * Like gs_creds_sign(), with the private key of public key spki (DER
 * SubjectPublicKeyInfo) found by its key ID.
 */
bool gs_creds_sign_with(const char *name, chunk_t spki, chunk_t data,
						chunk_t *auth);

/**
 * Verify RFC 7427 AUTH data over data with public key spki (DER
 * SubjectPublicKeyInfo).
 */
bool gs_creds_verify_with(const char *name, chunk_t spki, chunk_t data,
						  chunk_t auth);

/**
 * The trusted public keys of peer, each handed to add() as its DER
 * SubjectPublicKeyInfo (valid for the call only).
 */
void gs_creds_trusted_keys(identification_t *peer,
						   void (*add)(void *list, chunk_t spki), void *list);

#endif /** GS_CREDS_H_ @}*/
