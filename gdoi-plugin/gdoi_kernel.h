/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_kernel gdoi_kernel
 * @{ @ingroup gdoi
 */

#ifndef GDOI_KERNEL_H_
#define GDOI_KERNEL_H_

#include <library.h>

#include "gdoi_core.h"

/**
 * Install a group SA through charon->kernel (XFRM or kernel-libipsec).
 *
 * @param ctx			unused
 * @param sa			the SA as the core describes it
 * @return				TRUE if installed
 */
bool gdoi_kernel_add_sa(void *ctx, const gdoi_kernel_sa_t *sa);

/**
 * Delete a group SA installed with gdoi_kernel_add_sa().
 */
void gdoi_kernel_del_sa(void *ctx, const gdoi_kernel_sa_t *sa);

/**
 * What a group SA installed with gdoi_kernel_add_sa() has carried.
 *
 * @param ctx			unused
 * @param sa			the SA as the core describes it
 * @param bytes			bytes, as the kernel counts them
 * @param packets		packets
 * @return				TRUE if the kernel said
 */
bool gdoi_kernel_query_sa(void *ctx, const gdoi_kernel_sa_t *sa,
						  uint64_t *bytes, uint64_t *packets);

/**
 * Install a policy of a group SA (tunnel or transport mode).
 */
bool gdoi_kernel_add_policy(void *ctx, const gdoi_kernel_policy_t *policy);

/**
 * Delete a policy installed with gdoi_kernel_add_policy().
 */
void gdoi_kernel_del_policy(void *ctx, const gdoi_kernel_policy_t *policy);

/**
 * Why charon's kernel interface cannot make transport-mode group SAs (a
 * static string), NULL if it can.
 *
 * @param ctx			unused
 */
const char *gdoi_kernel_no_transport(void *ctx);

/**
 * Convert an address of the core to a host_t, NULL if malformed.
 */
host_t *gdoi_kernel_host(const gdoi_addr_t *addr);

/**
 * Convert a host_t to an address of the core.
 */
void gdoi_kernel_addr(host_t *host, gdoi_addr_t *addr);

#endif /** GDOI_KERNEL_H_ @}*/
