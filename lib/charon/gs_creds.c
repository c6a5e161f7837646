/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gs_creds.h"

#include <daemon.h>
#include <credentials/keys/signature_params.h>

/*
 * Described in header
 */
bool gs_creds_shared_key(const char *name, identification_t *local,
						 identification_t *remote, chunk_t *key)
{
	shared_key_t *shared;

	shared = lib->credmgr->get_shared(lib->credmgr, SHARED_IKE, local, remote);
	if (!shared)
	{
		DBG1(DBG_CFG, "%s: no shared key found for '%Y' - '%Y'", name, local,
			 remote);
		return FALSE;
	}
	*key = chunk_clone(shared->get_key(shared));
	shared->destroy(shared);
	return TRUE;
}

/**
 * RFC 7427 AUTH data of a signature made with params
 */
static bool build_auth(signature_params_t *params, chunk_t sig, chunk_t *auth)
{
	chunk_t algid;
	uint8_t algid_len;

	if (!signature_params_build(params, &algid))
	{
		return FALSE;
	}
	if (algid.len > 255)
	{
		chunk_free(&algid);
		return FALSE;
	}
	algid_len = algid.len;
	*auth = chunk_cat("cmc", chunk_from_thing(algid_len), algid, sig);
	return TRUE;
}

/*
 * Described in header
 */
/**
 * RFC 7427 AUTH data over data with private, which is destroyed
 */
static bool sign_private(const char *name, private_key_t *private,
						 chunk_t data, chunk_t *auth)
{
	enumerator_t *enumerator;
	signature_params_t *params;
	chunk_t sig = chunk_empty;
	bool ok = FALSE;

	enumerator = signature_schemes_for_key(private->get_type(private),
										   private->get_keysize(private));
	while (enumerator->enumerate(enumerator, &params))
	{
		if (!private->sign(private, params->scheme, params->params, data, &sig))
		{
			continue;
		}
		ok = build_auth(params, sig, auth);
		chunk_free(&sig);
		break;
	}
	enumerator->destroy(enumerator);
	if (!ok)
	{
		DBG1(DBG_CFG, "%s: signing with a %N key failed", name,
			 key_type_names, private->get_type(private));
	}
	private->destroy(private);
	return ok;
}

/*
 * Described in header
 */
bool gs_creds_sign(const char *name, identification_t *signer, chunk_t data,
				   chunk_t *auth)
{
	private_key_t *private;

	private = lib->credmgr->get_private(lib->credmgr, KEY_ANY, signer, NULL);
	if (!private)
	{
		DBG1(DBG_CFG, "%s: no private key found for '%Y'", name, signer);
		return FALSE;
	}
	return sign_private(name, private, data, auth);
}

/*
 * Described in header
 */
bool gs_creds_public_key(const char *name, identification_t *signer,
						 chunk_t *spki)
{
	private_key_t *private;
	public_key_t *public;
	bool ok = FALSE;

	private = lib->credmgr->get_private(lib->credmgr, KEY_ANY, signer, NULL);
	if (!private)
	{
		DBG1(DBG_CFG, "%s: no private key found for '%Y'", name, signer);
		return FALSE;
	}
	public = private->get_public_key(private);
	if (public)
	{
		ok = public->get_encoding(public, PUBKEY_SPKI_ASN1_DER, spki);
		public->destroy(public);
	}
	private->destroy(private);
	return ok;
}

/**
 * A public key from its DER SubjectPublicKeyInfo
 */
static public_key_t *load_spki(chunk_t spki)
{
	return lib->creds->create(lib->creds, CRED_PUBLIC_KEY, KEY_ANY,
							  BUILD_BLOB_ASN1_DER, spki, BUILD_END);
}

/*
 * Described in header
 */
bool gs_creds_sign_with(const char *name, chunk_t spki, chunk_t data,
						chunk_t *auth)
{
	private_key_t *private = NULL;
	public_key_t *public;
	identification_t *keyid;
	chunk_t fp;

	public = load_spki(spki);
	if (!public)
	{
		return FALSE;
	}
	/* a key ID identity is looked up by the keys' fingerprints */
	if (public->get_fingerprint(public, KEYID_PUBKEY_SHA1, &fp))
	{
		keyid = identification_create_from_encoding(ID_KEY_ID, fp);
		private = lib->credmgr->get_private(lib->credmgr,
											public->get_type(public), keyid,
											NULL);
		keyid->destroy(keyid);
	}
	public->destroy(public);
	if (!private)
	{
		DBG1(DBG_CFG, "%s: the private key of a previous signing key is not "
			 "loaded", name);
		return FALSE;
	}
	return sign_private(name, private, data, auth);
}

/**
 * Split RFC 7427 AUTH data into its signature parameters and signature
 */
static signature_params_t *parse_auth(chunk_t auth, chunk_t *sig)
{
	signature_params_t *params;
	uint8_t algid_len;

	if (!auth.len)
	{
		return NULL;
	}
	algid_len = auth.ptr[0];
	auth = chunk_skip(auth, 1);
	if (algid_len > auth.len)
	{
		return NULL;
	}
	INIT(params);
	if (!signature_params_parse(chunk_create(auth.ptr, algid_len), 1, params))
	{
		free(params);
		return NULL;
	}
	*sig = chunk_skip(auth, algid_len);
	return params;
}

/*
 * Described in header
 */
bool gs_creds_verify(const char *name, identification_t *signer, chunk_t data,
					 chunk_t auth)
{
	return gs_creds_verify_accept(name, signer, data, auth, NULL, NULL);
}

/*
 * Described in header
 */
bool gs_creds_verify_accept(const char *name, identification_t *signer,
							chunk_t data, chunk_t auth,
							gs_creds_accept_t accept, void *ctx)
{
	signature_params_t *params;
	public_key_t *public;
	enumerator_t *enumerator;
	key_type_t key_type;
	auth_cfg_t *how;
	chunk_t sig;
	bool ok = FALSE, refused = FALSE;

	params = parse_auth(auth, &sig);
	if (!params)
	{
		return FALSE;
	}
	key_type = key_type_from_signature_scheme(params->scheme);
	enumerator = lib->credmgr->create_public_enumerator(lib->credmgr, key_type,
														signer, NULL, FALSE);
	while (enumerator->enumerate(enumerator, &public, &how))
	{
		if (public->verify(public, params->scheme, params->params, data, sig))
		{
			if (accept && !accept(ctx, public, how))
			{
				refused = TRUE;
				continue;
			}
			ok = TRUE;
			break;
		}
	}
	enumerator->destroy(enumerator);
	if (!ok && refused)
	{
		DBG1(DBG_CFG, "%s: the %N key of '%Y' that verifies the signature is "
			 "not trusted here", name, key_type_names, key_type, signer);
	}
	else if (!ok)
	{
		DBG1(DBG_CFG, "%s: no trusted %N key of '%Y' verifies the signature",
			 name, key_type_names, key_type, signer);
	}
	signature_params_destroy(params);
	return ok;
}

/*
 * Described in header
 */
bool gs_creds_verify_with(const char *name, chunk_t spki, chunk_t data,
						  chunk_t auth)
{
	signature_params_t *params;
	public_key_t *public;
	chunk_t sig;
	bool ok;

	params = parse_auth(auth, &sig);
	if (!params)
	{
		return FALSE;
	}
	public = load_spki(spki);
	ok = public && public->verify(public, params->scheme, params->params,
								  data, sig);
	if (!ok)
	{
		DBG1(DBG_CFG, "%s: the signature does not verify with the key "
			 "server's AUTH_KEY", name);
	}
	DESTROY_IF(public);
	signature_params_destroy(params);
	return ok;
}

/*
 * Described in header
 */
void gs_creds_trusted_keys(identification_t *peer,
						   void (*add)(void *list, chunk_t spki), void *list)
{
	enumerator_t *enumerator;
	public_key_t *public;
	chunk_t spki;

	enumerator = lib->credmgr->create_public_enumerator(lib->credmgr, KEY_ANY,
														peer, NULL, FALSE);
	while (enumerator->enumerate(enumerator, &public, NULL))
	{
		if (public->get_encoding(public, PUBKEY_SPKI_ASN1_DER, &spki))
		{
			add(list, spki);
			chunk_free(&spki);
		}
	}
	enumerator->destroy(enumerator);
}
