/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * A mock of the trust list store's C interface (lib/groupsec/trust/store_c.h)
 * for the glue tests: it serves the certificates a test gives it, and two
 * self-signed certificates to give (EC P-256, valid until 2126, test only).
 */
#ifndef TRUST_STORE_MOCK_H_
#define TRUST_STORE_MOCK_H_

#include <stddef.h>
#include <stdint.h>

/**
 * What the mock store serves from now on: count certificates (DER) and the
 * number of collections load() reports (below 0: none, and one problem
 * reported). The buffers must outlive their use.
 */
void trust_store_mock_serve(const uint8_t *const *der, const size_t *len, int count,
							int lists);

/** How many times load() was called since the last serve(). */
int trust_store_mock_loads(void);

/** The uses the last call of trusted() asked for. */
uint32_t trust_store_mock_uses(void);

/**
 * What check() answers from now on (GS_TRUST_*), with reason why; the
 * group and use it was last asked for, "" and 0 if not since.
 */
void trust_store_mock_check(int result, const char *why);
const char *trust_store_mock_checked_group(void);
uint32_t trust_store_mock_checked_use(void);

/** The directory the last store was opened on ("" if none). */
const char *trust_store_mock_dir(void);

/** Stores not yet destroyed. */
int trust_store_mock_open_stores(void);

/** "O=groupsec fuzz, CN=signer" and "O=groupsec fuzz, CN=recipient" */
extern const uint8_t trust_mock_signer_der[430];
extern const uint8_t trust_mock_recipient_der[436];

#endif
