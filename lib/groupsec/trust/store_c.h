/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The C interface of the trust list store (store.h) for the charon glue:
 * open the store's directory, load it again after a change, and list the
 * certificates trusted now for a use. Nothing here throws; a NULL store
 * is an empty one.
 */
#ifndef GROUPSEC_TRUST_STORE_C_H
#define GROUPSEC_TRUST_STORE_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the uses of trust-lists.md (Uses ::= BIT STRING) */
#define GS_TRUST_USE_KEY_SERVER 0x1u
#define GS_TRUST_USE_MEMBER 0x2u
#define GS_TRUST_USE_ELECTION 0x4u
#define GS_TRUST_USE_IKE 0x8u

typedef struct gs_trust_store gs_trust_store;

/* A store on dir, not read yet; NULL only without memory. */
gs_trust_store *gs_trust_store_open(const char *dir);

/*
 * Reads every collection of the directory again (a missing directory is
 * an empty store). Each collection left out, and a directory that cannot
 * be read, is reported to problem. Returns the number of collections read.
 */
int gs_trust_store_load(gs_trust_store *store,
			void (*problem)(void *ctx, const char *message), void *ctx);

/*
 * Calls add with the DER of every certificate trusted now (system time)
 * for one of uses in every group: an active collection's entry whose
 * policy is current, names one of uses, and lists the group "*".
 * Conditional collections count as inactive (no condition source yet).
 * Returns the number of certificates passed.
 */
int gs_trust_store_trusted_any_group(gs_trust_store *store, uint32_t uses,
				     void (*add)(void *ctx, const uint8_t *der, size_t len),
				     void *ctx);

void gs_trust_store_destroy(gs_trust_store *store);

#ifdef __cplusplus
}
#endif

#endif
