/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_creds.h"

#include <daemon.h>
#include <collections/hashtable.h>
#include <collections/linked_list.h>
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

/**
 * A PSK of the key server and the members it serves
 */
typedef struct {
	chunk_t key;
	linked_list_t *members;
} psk_holders_t;

static u_int psk_hash(chunk_t *key)
{
	return chunk_hash(*key);
}

static bool psk_equals(chunk_t *a, chunk_t *b)
{
	return chunk_equals_const(*a, *b);
}

/*
 * Described in header
 */
int gdoi_creds_shared_psks(const char *group, const gdoi_id_t *local,
						   const gdoi_id_t *members, size_t count)
{
	identification_t *me, *other;
	hashtable_t *keys;
	enumerator_t *enumerator;
	shared_key_t *shared;
	psk_holders_t *holders;
	chunk_t key;
	size_t i;
	int n, sharing = 0;

	me = gdoi_creds_identity(local);
	keys = hashtable_create((hashtable_hash_t)psk_hash,
							(hashtable_equals_t)psk_equals, 32);
	for (i = 0; i < count; i++)
	{
		other = gdoi_creds_identity(&members[i]);
		shared = lib->credmgr->get_shared(lib->credmgr, SHARED_IKE, me, other);
		if (!shared)
		{
			other->destroy(other);
			continue;
		}
		key = shared->get_key(shared);
		holders = keys->get(keys, &key);
		if (!holders)
		{
			INIT(holders,
				.key = chunk_clone(key),
				.members = linked_list_create(),
			);
			keys->put(keys, &holders->key, holders);
		}
		holders->members->insert_last(holders->members, other);
		shared->destroy(shared);
	}
	enumerator = keys->create_enumerator(keys);
	while (enumerator->enumerate(enumerator, NULL, &holders))
	{
		n = holders->members->get_count(holders->members);
		if (n > 1)
		{
			identification_t *first = NULL, *second = NULL;
			enumerator_t *names;

			sharing += n;
			names = holders->members->create_enumerator(holders->members);
			names->enumerate(names, &first);
			names->enumerate(names, &second);
			names->destroy(names);
			DBG1(DBG_CFG, "gdoi: warning: group %s: %d members share one PSK "
				 "with '%Y' ('%Y', '%Y'%s): each of them can register as any "
				 "other; give every member its own PSK, or a certificate "
				 "(auth = pubkey)", group, n, me, first, second,
				 n > 2 ? " and more" : "");
		}
		holders->members->destroy_offset(holders->members,
										 offsetof(identification_t, destroy));
		chunk_clear(&holders->key);
		free(holders);
	}
	enumerator->destroy(enumerator);
	keys->destroy(keys);
	me->destroy(me);
	return sharing;
}
