/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_creds.h"

#include <daemon.h>
#include <collections/hashtable.h>
#include <collections/linked_list.h>

#include "gs_creds.h"
#include "groupsec/trust/store_c.h"

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
	chunk_t k;
	bool found = FALSE;

	me = gdoi_creds_identity(local);
	other = gdoi_creds_identity(remote);
	if (gs_creds_shared_key("gdoi", me, other, &k))
	{
		if (k.len <= *len)
		{
			memcpy(key, k.ptr, k.len);
			*len = k.len;
			found = TRUE;
		}
		chunk_clear(&k);
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
	chunk_t out;
	bool ok;

	id = gdoi_creds_identity(signer);
	ok = gs_creds_sign("gdoi", id, chunk_create((u_char*)data, len), &out);
	if (ok)
	{
		*auth = out.ptr;
		*auth_len = out.len;
	}
	id->destroy(id);
	return ok;
}

/*
 * Described in header
 */
/**
 * Where a key that verified is used, for the trust lists to judge
 */
typedef struct {
	gdoi_trust_creds_t *trust;
	const char *group;
	uint32_t use;
} verify_scope_t;

static bool accept_key(verify_scope_t *scope, public_key_t *key,
					   auth_cfg_t *auth)
{
	return !scope->trust ||
		   scope->trust->accepts(scope->trust, auth, scope->group, scope->use);
}

/*
 * Described in header
 */
bool gdoi_creds_verify(gdoi_trust_creds_t *trust, const gdoi_id_t *signer,
					   const char *group, gdoi_peer_role_t role,
					   const uint8_t *data, size_t len, const uint8_t *auth,
					   size_t auth_len)
{
	verify_scope_t scope = {
		.trust = trust,
		.group = group,
		.use = role == GDOI_PEER_KEY_SERVER ? GS_TRUST_USE_KEY_SERVER
											: GS_TRUST_USE_MEMBER,
	};
	identification_t *id;
	bool ok;

	id = gdoi_creds_identity(signer);
	ok = gs_creds_verify_accept("gdoi", id, chunk_create((u_char*)data, len),
						chunk_create((u_char*)auth, auth_len),
						(gs_creds_accept_t)accept_key, &scope);
	id->destroy(id);
	return ok;
}

/*
 * Described in header
 */
bool gdoi_creds_public_key(void *ctx, const gdoi_id_t *signer, uint8_t **spki,
						   size_t *spki_len)
{
	identification_t *id;
	chunk_t out;
	bool ok;

	id = gdoi_creds_identity(signer);
	ok = gs_creds_public_key("gdoi", id, &out);
	if (ok)
	{
		*spki = out.ptr;
		*spki_len = out.len;
	}
	id->destroy(id);
	return ok;
}

/*
 * Described in header
 */
bool gdoi_creds_sign_with(void *ctx, const uint8_t *spki, size_t spki_len,
						  const uint8_t *data, size_t len, uint8_t **auth,
						  size_t *auth_len)
{
	chunk_t out;

	if (!gs_creds_sign_with("gdoi", chunk_create((u_char*)spki, spki_len),
							chunk_create((u_char*)data, len), &out))
	{
		return FALSE;
	}
	*auth = out.ptr;
	*auth_len = out.len;
	return TRUE;
}

/*
 * Described in header
 */
bool gdoi_creds_verify_with(void *ctx, const uint8_t *spki, size_t spki_len,
							const uint8_t *data, size_t len,
							const uint8_t *auth, size_t auth_len)
{
	return gs_creds_verify_with("gdoi", chunk_create((u_char*)spki, spki_len),
								chunk_create((u_char*)data, len),
								chunk_create((u_char*)auth, auth_len));
}

/**
 * The core's list and its add() as gs_creds_trusted_keys() calls them
 */
typedef struct {
	void (*add)(void *list, const uint8_t *spki, size_t len);
	void *list;
} trusted_list_t;

static void add_trusted(trusted_list_t *l, chunk_t spki)
{
	l->add(l->list, spki.ptr, spki.len);
}

/*
 * Described in header
 */
void gdoi_creds_trusted_keys(void *ctx, const gdoi_id_t *peer,
							 void (*add)(void *list, const uint8_t *spki,
										 size_t len), void *list)
{
	trusted_list_t l = { .add = add, .list = list };
	identification_t *id;

	id = gdoi_creds_identity(peer);
	gs_creds_trusted_keys(id, (void*)add_trusted, &l);
	id->destroy(id);
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
