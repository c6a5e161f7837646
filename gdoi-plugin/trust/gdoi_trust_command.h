/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * The control socket's command `trust` (docs/trust-lists.md): gstrust's
 * commands that read or change the store of trust lists (list, show,
 * trusted, enable, disable, condition, remove), run in the daemon on its
 * own store and with its view of the conditions. C++ without strongSwan
 * headers, for the glue to call.
 */
#ifndef GDOI_TRUST_COMMAND_H_
#define GDOI_TRUST_COMMAND_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "groupsec/trust/store_c.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Answers a `trust` request on the store in dir. The request (an encoded
 * VICI message) holds the list `args`: gstrust's arguments, `--json`
 * first if wanted, then the command and its arguments (no `--dir`). The
 * response (malloc()ed, encoded) holds `success`, `status` (gstrust's
 * exit status), `output` (what gstrust printed) and, on failure, `errmsg`
 * (its message). *changed is set if the command changed the store.
 * Returns FALSE only without memory.
 */
bool gdoi_trust_command(const char *dir, const uint8_t *request, size_t len,
			gs_trust_holds_t holds, void *holds_ctx, uint8_t **response,
			size_t *response_len, bool *changed);

#ifdef __cplusplus
}
#endif

#endif
