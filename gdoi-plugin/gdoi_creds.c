/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_creds.h"

#include <daemon.h>
#include <credentials/keys/signature_params.h>

/*
 * Described in header
 */
identification_t *gdoi_creds_identity(const gdoi_id_t *id)
{
	return identification_create_from_encoding(id->type,
								chunk_create((u_char*)id->data, id->len));
}

/*
 * Described in header
 */
bool gdoi_creds_shared_key(void *ctx, const gdoi_id_t *local,
						   const gdoi_id_t *remote, uint8_t *key, size_t *len)
{
	identification_t *me, *other;
	shared_key_t *shared;
	chunk_t k;
	bool found = FALSE;

	me = gdoi_creds_identity(local);
	other = gdoi_creds_identity(remote);
	shared = lib->credmgr->get_shared(lib->credmgr, SHARED_IKE, me, other);
	if (shared)
	{
		k = shared->get_key(shared);
		if (k.len <= *len)
		{
			memcpy(key, k.ptr, k.len);
			*len = k.len;
			found = TRUE;
		}
		shared->destroy(shared);
	}
	else
	{
		DBG1(DBG_CFG, "gdoi: no shared key found for '%Y' - '%Y'", me, other);
	}
	me->destroy(me);
	other->destroy(other);
	return found;
}

/*
 * Described in header
 */
bool gdoi_creds_sign(void *ctx, const gdoi_id_t *signer, const uint8_t *data,
					 size_t len, uint8_t **auth, size_t *auth_len)
{
	identification_t *id;
	private_key_t *private;
	enumerator_t *enumerator;
	signature_params_t *params;
	chunk_t sig = chunk_empty, algid, out;
	bool ok = FALSE;
	uint8_t algid_len;

	id = gdoi_creds_identity(signer);
	private = lib->credmgr->get_private(lib->credmgr, KEY_ANY, id, NULL);
	if (!private)
	{
		DBG1(DBG_CFG, "gdoi: no private key found for '%Y'", id);
		id->destroy(id);
		return FALSE;
	}
	enumerator = signature_schemes_for_key(private->get_type(private),
										   private->get_keysize(private));
	while (enumerator->enumerate(enumerator, &params))
	{
		if (!private->sign(private, params->scheme, params->params,
						   chunk_create((u_char*)data, len), &sig))
		{
			continue;
		}
		if (signature_params_build(params, &algid))
		{
			if (algid.len <= 255)
			{
				algid_len = algid.len;
				out = chunk_cat("cmm", chunk_from_thing(algid_len), algid, sig);
				*auth = out.ptr;
				*auth_len = out.len;
				ok = TRUE;
				sig = chunk_empty;
			}
			else
			{
				chunk_free(&algid);
			}
		}
		chunk_free(&sig);
		break;
	}
	enumerator->destroy(enumerator);
	if (!ok)
	{
		DBG1(DBG_CFG, "gdoi: signing as '%Y' with its %N key failed", id,
			 key_type_names, private->get_type(private));
	}
	private->destroy(private);
	id->destroy(id);
	return ok;
}

/*
 * Described in header
 */
bool gdoi_creds_verify(void *ctx, const gdoi_id_t *signer, const uint8_t *data,
					   size_t len, const uint8_t *auth, size_t auth_len)
{
	identification_t *id;
	signature_params_t *params;
	public_key_t *public;
	enumerator_t *enumerator;
	key_type_t key_type;
	chunk_t a, sig;
	uint8_t algid_len;
	bool ok = FALSE;

	a = chunk_create((u_char*)auth, auth_len);
	if (!a.len)
	{
		return FALSE;
	}
	algid_len = a.ptr[0];
	a = chunk_skip(a, 1);
	if (algid_len > a.len)
	{
		return FALSE;
	}
	INIT(params);
	if (!signature_params_parse(chunk_create(a.ptr, algid_len), 1, params))
	{
		free(params);
		return FALSE;
	}
	sig = chunk_skip(a, algid_len);
	key_type = key_type_from_signature_scheme(params->scheme);

	id = gdoi_creds_identity(signer);
	enumerator = lib->credmgr->create_public_enumerator(lib->credmgr, key_type,
														id, NULL, FALSE);
	while (enumerator->enumerate(enumerator, &public, NULL))
	{
		if (public->verify(public, params->scheme, params->params,
						   chunk_create((u_char*)data, len), sig))
		{
			ok = TRUE;
			break;
		}
	}
	enumerator->destroy(enumerator);
	if (!ok)
	{
		DBG1(DBG_CFG, "gdoi: no trusted %N key of '%Y' verifies the signature",
			 key_type_names, key_type, id);
	}
	id->destroy(id);
	signature_params_destroy(params);
	return ok;
}
