/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: one blocking request on the gdoi plugin's control
 * socket, through the shared sans-IO VICI client (lib/groupsec/vici/client_c.h).
 * netconfd's callbacks are synchronous: the request waits, at most timeout_ms.
 */
#ifndef GSNC_VICI_H
#define GSNC_VICI_H

#include <stddef.h>

#include "groupsec/vici/client_c.h"

/**
 * Send command with args (pairs, NULL-ended) to the socket at path and hand
 * the response to fn (during this call). Returns 0 once fn had the answer,
 * -1 with err set when the socket could not be used or did not answer.
 */
int gsnc_vici_call(const char *path, const char *command, const char *const *args, gs_vici_reply_fn fn,
		   void *arg, int timeout_ms, char *err, size_t errsize);

#endif /* GSNC_VICI_H */
