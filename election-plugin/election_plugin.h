/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup election election
 * @ingroup cplugins
 *
 * @defgroup election_plugin election_plugin
 * @{ @ingroup election
 */

#ifndef ELECTION_PLUGIN_H_
#define ELECTION_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct election_plugin_t election_plugin_t;

/**
 * Secure election of the group key server among candidates.
 */
struct election_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	plugin_t plugin;
};

#endif /** ELECTION_PLUGIN_H_ @}*/
