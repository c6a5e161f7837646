/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_trust_creds.h"

#include <daemon.h>
#include <credentials/sets/mem_cred.h>

#include "groupsec/trust/store_c.h"

typedef struct private_gdoi_trust_creds_t private_gdoi_trust_creds_t;

/**
 * Private data of a gdoi_trust_creds_t object.
 */
struct private_gdoi_trust_creds_t {

	/**
	 * Public interface.
	 */
	gdoi_trust_creds_t public;

	/**
	 * The store of trust lists
	 */
	gs_trust_store *store;

	/**
	 * The trusted certificates, registered with the credential manager
	 */
	mem_cred_t *creds;
};

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

METHOD(gdoi_trust_creds_t, reload, int,
	private_gdoi_trust_creds_t *this)
{
	mem_cred_t *fresh;
	int lists, certs;

	lists = gs_trust_store_load(this->store, problem, NULL);
	fresh = mem_cred_create();
	certs = gs_trust_store_trusted_any_group(this->store,
						GS_TRUST_USE_KEY_SERVER | GS_TRUST_USE_MEMBER, add_cert, fresh);
	this->creds->replace_certs(this->creds, fresh, FALSE);
	fresh->destroy(fresh);
	lib->credmgr->flush_cache(lib->credmgr, CERT_ANY);
	DBG1(DBG_CFG, "gdoi: %d trust list(s), %d trusted certificate(s)",
		 lists, certs);
	return certs;
}

METHOD(gdoi_trust_creds_t, destroy, void,
	private_gdoi_trust_creds_t *this)
{
	lib->credmgr->remove_set(lib->credmgr, &this->creds->set);
	lib->credmgr->flush_cache(lib->credmgr, CERT_ANY);
	this->creds->destroy(this->creds);
	gs_trust_store_destroy(this->store);
	free(this);
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
			.destroy = _destroy,
		},
		.store = gs_trust_store_open(dir),
		.creds = mem_cred_create(),
	);
	lib->credmgr->add_set(lib->credmgr, &this->creds->set);
	reload(this);
	return &this->public;
}
