/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * gdoi_trust_creds in a real, idle charon against a mocked store: the
 * certificates the store trusts are served by charon's credential manager
 * as trusted, their public keys are the trusted keys of their identities,
 * a reload replaces them (cache flushed), and destroying the set takes them
 * away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <library.h>
#include <credentials/keys/public_key.h>

#include "glue_test_util.h"
#include "trust/gdoi_trust_creds.h"
#include "trust_store_mock.h"
#include "groupsec/trust/store_c.h"

static const uint8_t *signer_only[] = { trust_mock_signer_der };
static const size_t signer_only_len[] = { sizeof(trust_mock_signer_der) };
static const uint8_t *recipient_and_junk[] = { trust_mock_recipient_der,
											   (const uint8_t*)"junk" };
static const size_t recipient_and_junk_len[] = {
	sizeof(trust_mock_recipient_der), 4 };

/**
 * Number of certificates of id charon serves (trusted ones only if trusted)
 */
static int certs_of(const char *id_text, bool trusted)
{
	identification_t *id = identification_create_from_string((char*)id_text);
	enumerator_t *e;
	certificate_t *cert;
	int n = 0;

	e = lib->credmgr->create_cert_enumerator(lib->credmgr, CERT_X509, KEY_ANY,
											 id, trusted);
	while (e->enumerate(e, &cert))
	{
		n++;
	}
	e->destroy(e);
	id->destroy(id);
	return n;
}

/**
 * Number of trusted public keys of id (what AUTH verification uses)
 */
static int trusted_keys_of(const char *id_text)
{
	identification_t *id = identification_create_from_string((char*)id_text);
	enumerator_t *e;
	public_key_t *key;
	int n = 0;

	e = lib->credmgr->create_public_enumerator(lib->credmgr, KEY_ANY, id,
											   NULL, FALSE);
	while (e->enumerate(e, &key, NULL))
	{
		n++;
	}
	e->destroy(e);
	id->destroy(id);
	return n;
}

static const char *signer_id = "O=groupsec fuzz, CN=signer";
static const char *recipient_id = "O=groupsec fuzz, CN=recipient";

static void test_trusted_certificates_are_served_as_trusted(void **state)
{
	gdoi_trust_creds_t *trust;

	trust_store_mock_serve(signer_only, signer_only_len, 1, 1);
	assert_int_equal(trusted_keys_of(signer_id), 0);
	trust = gdoi_trust_creds_create("/some/where/trust");
	assert_string_equal(trust_store_mock_dir(), "/some/where/trust");
	assert_int_equal(trust_store_mock_loads(), 1);
	assert_int_equal(trust_store_mock_uses(), GS_TRUST_USE_KEY_SERVER |
					 GS_TRUST_USE_MEMBER | GS_TRUST_USE_IKE);
	assert_int_equal(certs_of(signer_id, TRUE), 1);
	/* a self-signed certificate served as trusted: its key is trusted */
	assert_int_equal(trusted_keys_of(signer_id), 1);
	assert_int_equal(trusted_keys_of(recipient_id), 0);
	trust->destroy(trust);
	assert_int_equal(certs_of(signer_id, FALSE), 0);
	assert_int_equal(trusted_keys_of(signer_id), 0);
	/* the job that closes IKE SAs of peers no longer trusted, queued by
	 * the load, holds the store until it has run */
	glue_wait_until(trust_store_mock_open_stores() == 0);
}

static void test_a_reload_replaces_the_certificates(void **state)
{
	gdoi_trust_creds_t *trust;

	trust_store_mock_serve(signer_only, signer_only_len, 1, 1);
	trust = gdoi_trust_creds_create("/x");
	assert_int_equal(trusted_keys_of(signer_id), 1);

	/* the signer's list disabled, another enabled (with a certificate
	 * that does not parse, left out) */
	trust_store_mock_serve(recipient_and_junk, recipient_and_junk_len, 2, 1);
	trust->reload(trust);
	assert_int_equal(trust_store_mock_loads(), 1);
	assert_int_equal(trusted_keys_of(signer_id), 0);
	assert_int_equal(certs_of(signer_id, FALSE), 0);
	assert_int_equal(trusted_keys_of(recipient_id), 1);

	/* nothing trusted any more (and the store reports a problem) */
	trust_store_mock_serve(NULL, NULL, 0, -1);
	assert_int_equal(trust->reload(trust), 0);
	assert_int_equal(trusted_keys_of(recipient_id), 0);
	trust->destroy(trust);
}

static void test_a_key_of_the_lists_is_judged_per_group_and_use(void **state)
{
	gdoi_trust_creds_t *trust;
	certificate_t *cert, *ca;
	auth_cfg_t *auth;

	trust_store_mock_serve(signer_only, signer_only_len, 1, 1);
	trust = gdoi_trust_creds_create("/x");
	cert = lib->creds->create(lib->creds, CRED_CERTIFICATE, CERT_X509,
				BUILD_BLOB_ASN1_DER, chunk_from_thing(trust_mock_signer_der),
				BUILD_END);
	assert_non_null(cert);
	auth = auth_cfg_create();
	auth->add(auth, AUTH_RULE_SUBJECT_CERT, cert->get_ref(cert));

	/* the store decides for a certificate it holds */
	trust_store_mock_check(GS_TRUST_REFUSED, "excludes the group blue");
	assert_false(trust->accepts(trust, auth, "blue", GS_TRUST_USE_KEY_SERVER));
	assert_string_equal(trust_store_mock_checked_group(), "blue");
	assert_int_equal(trust_store_mock_checked_use(), GS_TRUST_USE_KEY_SERVER);
	trust_store_mock_check(GS_TRUST_TRUSTED, "");
	assert_true(trust->accepts(trust, auth, "red", GS_TRUST_USE_MEMBER));
	assert_string_equal(trust_store_mock_checked_group(), "red");
	assert_int_equal(trust_store_mock_checked_use(), GS_TRUST_USE_MEMBER);
	/* one it does not hold is charon's trust alone */
	trust_store_mock_check(GS_TRUST_NOT_LISTED, "");
	assert_true(trust->accepts(trust, auth, "blue", GS_TRUST_USE_KEY_SERVER));

	/* a key chaining to a CA is not asked about */
	trust_store_mock_check(GS_TRUST_REFUSED, "not asked");
	ca = cert->get_ref(cert);
	auth->add(auth, AUTH_RULE_CA_CERT, ca);
	assert_true(trust->accepts(trust, auth, "blue", GS_TRUST_USE_KEY_SERVER));
	assert_string_equal(trust_store_mock_checked_group(), "");
	/* nor a raw key */
	assert_true(trust->accepts(trust, NULL, "blue", GS_TRUST_USE_KEY_SERVER));

	auth->destroy(auth);
	cert->destroy(cert);
	trust->destroy(trust);
}

static int setup(void **state)
{
	return glue_charon_up("charon", "openssl pem pkcs1 pubkey x509");
}

static int teardown(void **state)
{
	return glue_charon_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trusted_certificates_are_served_as_trusted),
		cmocka_unit_test(test_a_reload_replaces_the_certificates),
		cmocka_unit_test(test_a_key_of_the_lists_is_judged_per_group_and_use),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
