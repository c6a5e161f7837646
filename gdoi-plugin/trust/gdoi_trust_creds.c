/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_trust_creds.h"

#include <daemon.h>
#include <bus/listeners/listener.h>
#include <collections/linked_list.h>
#include <credentials/sets/mem_cred.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>

#include "groupsec/trust/store_c.h"
#include "gdoi_trust_command.h"

typedef struct private_gdoi_trust_creds_t private_gdoi_trust_creds_t;

/**
 * The store as loaded once, shared by the checks that run while a reload
 * replaces it
 */
typedef struct {
	gs_trust_store *store;
	refcount_t refs;
} store_ref_t;

/**
 * An IKE SA that is up, for connected:IDENTITY
 */
typedef struct {
	uint32_t unique_id;
	identification_t *peer;
} connected_t;

/**
 * Private data of a gdoi_trust_creds_t object.
 */
struct private_gdoi_trust_creds_t {

	/**
	 * Public interface.
	 */
	gdoi_trust_creds_t public;

	/**
	 * Our view of charon's IKE SAs
	 */
	listener_t listener;

	/**
	 * The store's directory
	 */
	char *dir;

	/**
	 * The store loaded last, its references counted
	 */
	store_ref_t *current;

	/**
	 * The trusted certificates, registered with the credential manager
	 */
	mem_cred_t *creds;

	/**
	 * The IKE SAs up, connected_t
	 */
	linked_list_t *connected;

	/**
	 * Whether registered:GROUP holds, and its context
	 */
	bool (*registered)(void *ctx, const char *group);
	void *registered_ctx;

	/**
	 * Guards current, connected and registered (never held while a check
	 * asks for a condition)
	 */
	mutex_t *mutex;

	/**
	 * References: ours, and one of each job queued
	 */
	refcount_t refs;
};

static store_ref_t *get_store(private_gdoi_trust_creds_t *this)
{
	store_ref_t *ref;

	this->mutex->lock(this->mutex);
	ref = this->current;
	if (ref)
	{
		ref_get(&ref->refs);
	}
	this->mutex->unlock(this->mutex);
	return ref;
}

static void put_store(store_ref_t *ref)
{
	if (ref && ref_put(&ref->refs))
	{
		gs_trust_store_destroy(ref->store);
		free(ref);
	}
}

/**
 * gs_trust_holds_t: charon's and the member groups' view of a condition
 */
static int holds(private_gdoi_trust_creds_t *this, const char *kind,
				 const char *argument)
{
	bool (*registered)(void *ctx, const char *group);
	enumerator_t *enumerator;
	identification_t *want;
	connected_t *c;
	void *ctx;
	int up = 0;

	if (streq(kind, "registered"))
	{
		this->mutex->lock(this->mutex);
		registered = this->registered;
		ctx = this->registered_ctx;
		this->mutex->unlock(this->mutex);
		return registered && registered(ctx, argument);
	}
	if (!streq(kind, "connected"))
	{
		return 0;
	}
	want = identification_create_from_string((char*)argument);
	this->mutex->lock(this->mutex);
	enumerator = this->connected->create_enumerator(this->connected);
	while (!up && enumerator->enumerate(enumerator, &c))
	{
		up = c->peer->equals(c->peer, want);
	}
	enumerator->destroy(enumerator);
	this->mutex->unlock(this->mutex);
	want->destroy(want);
	return up;
}

/**
 * The set serves the certificates of conditional lists too, whether their
 * condition holds or not: accepts() and authorize() judge it when a peer
 * authenticates
 */
static int holds_all(void *ctx, const char *kind, const char *argument)
{
	return 1;
}

/**
 * Log a collection the store left out
 */
static void problem(void *ctx, const char *message)
{
	DBG1(DBG_CFG, "gdoi: trust list left out: %s", message);
}

/**
 * Add one trusted certificate to a set
 */
static void add_cert(void *ctx, const uint8_t *der, size_t len)
{
	mem_cred_t *set = ctx;
	certificate_t *cert;

	cert = lib->creds->create(lib->creds, CRED_CERTIFICATE, CERT_X509,
							  BUILD_BLOB_ASN1_DER, chunk_create((u_char*)der, len),
							  BUILD_END);
	if (!cert)
	{
		DBG1(DBG_CFG, "gdoi: a trusted certificate of the trust lists does "
			 "not parse");
		return;
	}
	DBG2(DBG_CFG, "gdoi: trusting '%Y' from the trust lists",
		 cert->get_subject(cert));
	set->add_cert(set, TRUE, cert);
}

/**
 * Check a certificate that verified a peer against the lists; TRUE if no
 * list holds it
 */
static bool check_cert(private_gdoi_trust_creds_t *this, certificate_t *cert,
					   const char *group, uint32_t use, bool log)
{
	store_ref_t *ref;
	chunk_t der;
	char why[512];
	int r = GS_TRUST_NOT_LISTED;

	if (!cert->get_encoding(cert, CERT_ASN1_DER, &der))
	{
		return FALSE;
	}
	ref = get_store(this);
	if (ref)
	{
		r = gs_trust_store_check(ref->store, der.ptr, der.len, group, use,
								 (gs_trust_holds_t)holds, this, why, sizeof(why));
	}
	put_store(ref);
	chunk_free(&der);
	if (r == GS_TRUST_REFUSED && log)
	{
		DBG1(DBG_CFG, "gdoi: trust lists: '%Y' is not trusted for %s (%s): %s",
			 cert->get_subject(cert), group,
			 use == GS_TRUST_USE_KEY_SERVER ? "key-server" :
			 use == GS_TRUST_USE_MEMBER ? "member" : "ike", why);
	}
	return r != GS_TRUST_REFUSED;
}

METHOD(gdoi_trust_creds_t, accepts, bool,
	private_gdoi_trust_creds_t *this, auth_cfg_t *auth, const char *group,
	uint32_t use)
{
	certificate_t *cert;

	if (!auth || auth->get(auth, AUTH_RULE_CA_CERT))
	{	/* a raw key, or a chain to a CA: charon's trust, not the lists' */
		return TRUE;
	}
	cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
	return !cert || check_cert(this, cert, group, use, TRUE);
}

/**
 * Whether an IKE SA's peer is still trusted, for a plain IKEv2 connection:
 * use ike, the connection's name as the group
 */
static bool ike_sa_trusted(private_gdoi_trust_creds_t *this, ike_sa_t *ike_sa,
						   bool log)
{
	enumerator_t *enumerator;
	peer_cfg_t *peer_cfg;
	certificate_t *cert;
	auth_cfg_t *auth;
	bool ok = TRUE;

	peer_cfg = ike_sa->get_peer_cfg(ike_sa);
	if (!peer_cfg)
	{
		return TRUE;
	}
	enumerator = ike_sa->create_auth_cfg_enumerator(ike_sa, FALSE);
	while (ok && enumerator->enumerate(enumerator, &auth))
	{
		if (auth->get(auth, AUTH_RULE_CA_CERT))
		{
			continue;
		}
		cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
		ok = !cert || check_cert(this, cert, peer_cfg->get_name(peer_cfg),
								 GS_TRUST_USE_IKE, log);
	}
	enumerator->destroy(enumerator);
	return ok;
}

/**
 * Close the IKE SAs whose peers the lists no longer trust (a job: the
 * event that called for it may hold an IKE SA)
 */
static job_requeue_t close_untrusted(private_gdoi_trust_creds_t *this)
{
	enumerator_t *enumerator;
	linked_list_t *ids;
	ike_sa_t *ike_sa;
	uintptr_t id;

	if (!charon->ike_sa_manager || !charon->controller)
	{	/* a charon that does not run IKE */
		return JOB_REQUEUE_NONE;
	}
	ids = linked_list_create();
	enumerator = charon->ike_sa_manager->create_enumerator(
												charon->ike_sa_manager, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		if (ike_sa->get_state(ike_sa) == IKE_ESTABLISHED &&
			!ike_sa_trusted(this, ike_sa, TRUE))
		{
			ids->insert_last(ids,
						(void*)(uintptr_t)ike_sa->get_unique_id(ike_sa));
		}
	}
	enumerator->destroy(enumerator);
	while (ids->remove_first(ids, (void**)&id) == SUCCESS)
	{
		DBG1(DBG_CFG, "gdoi: closing IKE SA #%u: its peer is no longer "
			 "trusted by the trust lists", (u_int)id);
		charon->controller->terminate_ike(charon->controller, (uint32_t)id,
										  FALSE, NULL, NULL, 0);
	}
	ids->destroy(ids);
	return JOB_REQUEUE_NONE;
}

static void connected_destroy(connected_t *c)
{
	c->peer->destroy(c->peer);
	free(c);
}

/**
 * Free the object once its last reference is gone
 */
static void put_this(private_gdoi_trust_creds_t *this)
{
	if (ref_put(&this->refs))
	{
		this->creds->destroy(this->creds);
		put_store(this->current);
		this->connected->destroy_function(this->connected,
										  (void*)connected_destroy);
		this->mutex->destroy(this->mutex);
		free(this->dir);
		free(this);
	}
}

static void queue_close_untrusted(private_gdoi_trust_creds_t *this)
{
	ref_get(&this->refs);
	lib->processor->queue_job(lib->processor,
			(job_t*)callback_job_create((callback_job_cb_t)close_untrusted,
										this, (callback_job_cleanup_t)put_this,
										NULL));
}

/**
 * The object of our listener
 */
static private_gdoi_trust_creds_t *of_listener(listener_t *listener)
{
	return (void*)listener - offsetof(private_gdoi_trust_creds_t, listener);
}

static bool authorize(listener_t *listener, ike_sa_t *ike_sa, bool final,
					  bool *success)
{
	private_gdoi_trust_creds_t *this = of_listener(listener);

	if (final && !ike_sa_trusted(this, ike_sa, TRUE))
	{
		*success = FALSE;
	}
	return TRUE;
}

static bool ike_updown(listener_t *listener, ike_sa_t *ike_sa, bool up)
{
	private_gdoi_trust_creds_t *this = of_listener(listener);
	enumerator_t *enumerator;
	connected_t *c;
	uint32_t id = ike_sa->get_unique_id(ike_sa);
	bool changed = FALSE;

	this->mutex->lock(this->mutex);
	if (up)
	{
		INIT(c,
			.unique_id = id,
			.peer = ike_sa->get_other_id(ike_sa)->clone(
											ike_sa->get_other_id(ike_sa)),
		);
		this->connected->insert_last(this->connected, c);
		changed = TRUE;
	}
	else
	{
		enumerator = this->connected->create_enumerator(this->connected);
		while (enumerator->enumerate(enumerator, &c))
		{
			if (c->unique_id == id)
			{
				this->connected->remove_at(this->connected, enumerator);
				connected_destroy(c);
				changed = TRUE;
			}
		}
		enumerator->destroy(enumerator);
	}
	this->mutex->unlock(this->mutex);
	if (changed && !up)
	{	/* a list conditional on this SA may have lapsed */
		queue_close_untrusted(this);
	}
	return TRUE;
}

static bool ike_rekey(listener_t *listener, ike_sa_t *old, ike_sa_t *new)
{
	private_gdoi_trust_creds_t *this = of_listener(listener);
	enumerator_t *enumerator;
	connected_t *c;

	this->mutex->lock(this->mutex);
	enumerator = this->connected->create_enumerator(this->connected);
	while (enumerator->enumerate(enumerator, &c))
	{
		if (c->unique_id == old->get_unique_id(old))
		{
			c->unique_id = new->get_unique_id(new);
		}
	}
	enumerator->destroy(enumerator);
	this->mutex->unlock(this->mutex);
	return TRUE;
}

METHOD(gdoi_trust_creds_t, reload, int,
	private_gdoi_trust_creds_t *this)
{
	store_ref_t *ref, *old;
	mem_cred_t *fresh;
	int lists, certs;

	INIT(ref,
		.store = gs_trust_store_open(this->dir),
		.refs = 1,
	);
	lists = gs_trust_store_load(ref->store, problem, NULL);
	fresh = mem_cred_create();
	certs = gs_trust_store_trusted(ref->store, GS_TRUST_USE_KEY_SERVER |
								   GS_TRUST_USE_MEMBER | GS_TRUST_USE_IKE,
								   holds_all, NULL, add_cert, fresh);
	this->mutex->lock(this->mutex);
	old = this->current;
	this->current = ref;
	this->creds->replace_certs(this->creds, fresh, FALSE);
	this->mutex->unlock(this->mutex);
	put_store(old);
	fresh->destroy(fresh);
	lib->credmgr->flush_cache(lib->credmgr, CERT_ANY);
	DBG1(DBG_CFG, "gdoi: %d trust list(s), %d trusted certificate(s)",
		 lists, certs);
	queue_close_untrusted(this);
	return certs;
}

/**
 * gdoi_ext_command_cb_t of the command trust
 */
static bool trust_command(private_gdoi_trust_creds_t *this,
						  const uint8_t *request, size_t len,
						  uint8_t **response, size_t *response_len)
{
	bool changed = FALSE;

	if (!gdoi_trust_command(this->dir, request, len, (gs_trust_holds_t)holds,
							this, response, response_len, &changed))
	{
		return FALSE;
	}
	if (changed)
	{
		reload(this);
	}
	return TRUE;
}

METHOD(gdoi_trust_creds_t, serve, void,
	private_gdoi_trust_creds_t *this, gdoi_ext_t *ext)
{
	if (!ext->add_command(ext, "trust", (gdoi_ext_command_cb_t)trust_command,
						  this))
	{
		DBG1(DBG_CFG, "gdoi: the control command trust is taken");
	}
}

METHOD(gdoi_trust_creds_t, set_registered, void,
	private_gdoi_trust_creds_t *this,
	bool (*registered)(void *ctx, const char *group), void *ctx)
{
	this->mutex->lock(this->mutex);
	this->registered = registered;
	this->registered_ctx = ctx;
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_trust_creds_t, destroy, void,
	private_gdoi_trust_creds_t *this)
{
	charon->bus->remove_listener(charon->bus, &this->listener);
	lib->credmgr->remove_set(lib->credmgr, &this->creds->set);
	lib->credmgr->flush_cache(lib->credmgr, CERT_ANY);
	set_registered(this, NULL, NULL);
	/* a job still queued holds a reference */
	put_this(this);
}

/*
 * Described in header
 */
gdoi_trust_creds_t *gdoi_trust_creds_create(const char *dir)
{
	private_gdoi_trust_creds_t *this;

	INIT(this,
		.public = {
			.reload = _reload,
			.accepts = _accepts,
			.set_registered = _set_registered,
			.serve = _serve,
			.destroy = _destroy,
		},
		.listener = {
			.authorize = authorize,
			.ike_updown = ike_updown,
			.ike_rekey = ike_rekey,
		},
		.dir = strdup(dir),
		.creds = mem_cred_create(),
		.connected = linked_list_create(),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.refs = 1,
	);
	lib->credmgr->add_set(lib->credmgr, &this->creds->set);
	charon->bus->add_listener(charon->bus, &this->listener);
	reload(this);
	return &this->public;
}
