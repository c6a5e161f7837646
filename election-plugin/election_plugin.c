/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "election_plugin.h"

#include <daemon.h>

#include "election_core.h"

typedef struct private_election_plugin_t private_election_plugin_t;

/**
 * Private data of the election plugin.
 */
struct private_election_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	election_plugin_t public;

	/**
	 * election core, while the plugin's features are loaded.
	 */
	election_core_t *core;
};

METHOD(plugin_t, get_name, char*,
	private_election_plugin_t *this)
{
	return "election";
}

/**
 * Load or unload the election core.
 */
static bool plugin_cb(private_election_plugin_t *this,
					  plugin_feature_t *feature, bool reg, void *cb_data)
{
	if (reg)
	{
		this->core = election_core_create();
		if (!this->core)
		{
			DBG1(DBG_CFG, "election: creating the election core failed");
			return FALSE;
		}
		DBG1(DBG_CFG, "election: %s", election_core_describe(this->core));
	}
	else if (this->core)
	{
		election_core_destroy(this->core);
		this->core = NULL;
	}
	return TRUE;
}

METHOD(plugin_t, get_features, int,
	private_election_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK((plugin_feature_callback_t)plugin_cb, NULL),
			PLUGIN_PROVIDE(CUSTOM, "election"),
				PLUGIN_SDEPEND(CUSTOM, "gdoi"),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void,
	private_election_plugin_t *this)
{
	if (this->core)
	{
		election_core_destroy(this->core);
	}
	free(this);
}

/**
 * Plugin constructor, see header.
 */
plugin_t *election_plugin_create()
{
	private_election_plugin_t *this;

	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.destroy = _destroy,
			},
		},
	);

	return &this->public.plugin;
}
