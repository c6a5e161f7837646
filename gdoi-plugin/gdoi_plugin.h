/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi gdoi
 * @ingroup cplugins
 *
 * @defgroup gdoi_plugin gdoi_plugin
 * @{ @ingroup gdoi
 */

#ifndef GDOI_PLUGIN_H_
#define GDOI_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct gdoi_plugin_t gdoi_plugin_t;

/**
 * G-IKEv2 (RFC 9838) group key server and group member plugin.
 */
struct gdoi_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	plugin_t plugin;
};

#endif /** GDOI_PLUGIN_H_ @}*/
