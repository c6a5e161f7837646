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
 * Whether the condition KIND:ARGUMENT of a conditional collection holds
 * now ("registered", GROUP or "connected", IDENTITY).
 */
typedef int (*gs_trust_holds_t)(void *ctx, const char *kind, const char *argument);

/*
 * Calls add with the DER of every certificate trusted now (system time)
 * for one of uses in some group: an entry of an active collection (holds
 * judges the conditions; NULL: none holds) whose policy is current and
 * names one of uses. Each certificate once. Returns the number passed.
 */
int gs_trust_store_trusted(gs_trust_store *store, uint32_t uses, gs_trust_holds_t holds,
			   void *holds_ctx, void (*add)(void *ctx, const uint8_t *der, size_t len),
			   void *ctx);

/* what gs_trust_store_check() found */
#define GS_TRUST_TRUSTED 1
#define GS_TRUST_REFUSED 0
#define GS_TRUST_NOT_LISTED (-1)

/*
 * Whether the certificate der is trusted now for group and use (one bit):
 * GS_TRUST_TRUSTED; GS_TRUST_REFUSED with the reason in why (the policy
 * check that failed, or the inactive collections it is in); or
 * GS_TRUST_NOT_LISTED if no collection holds it.
 */
int gs_trust_store_check(gs_trust_store *store, const uint8_t *der, size_t len, const char *group,
			 uint32_t use, gs_trust_holds_t holds, void *holds_ctx, char *why,
			 size_t why_len);

void gs_trust_store_destroy(gs_trust_store *store);

#ifdef __cplusplus
}
#endif

#endif
