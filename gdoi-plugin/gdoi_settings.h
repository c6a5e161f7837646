/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_settings gdoi_settings
 * @{ @ingroup gdoi
 */

#ifndef GDOI_SETTINGS_H_
#define GDOI_SETTINGS_H_

#include <library.h>

#include "gdoi_core.h"

/**
 * Load the groups into the core: from the file named by
 * charon.plugins.gdoi.config (a swanctl-style file with a top-level
 * "groups" section) if set, else from charon.plugins.gdoi.groups in
 * strongswan.conf. On error the core keeps what it had and the error is
 * logged and written to err.
 *
 * @param core			core to load into
 * @param err			receives an error message
 * @param err_len		size of err
 * @return				number of groups, -1 on error
 */
int gdoi_settings_load(gdoi_core_t *core, char *err, size_t err_len);

#endif /** GDOI_SETTINGS_H_ @}*/
