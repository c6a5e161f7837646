/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_plugin.h"

#include <daemon.h>

#include "gdoi_core.h"

typedef struct private_gdoi_plugin_t private_gdoi_plugin_t;

/**
 * Private data of the gdoi plugin.
 */
struct private_gdoi_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	gdoi_plugin_t public;

	/**
	 * G-IKEv2 core, while the plugin's features are loaded.
	 */
	gdoi_core_t *core;
};

METHOD(plugin_t, get_name, char*,
	private_gdoi_plugin_t *this)
{
	return "gdoi";
}

/**
 * Load or unload the G-IKEv2 core.
 */
static bool plugin_cb(private_gdoi_plugin_t *this,
					  plugin_feature_t *feature, bool reg, void *cb_data)
{
	if (reg)
	{
		this->core = gdoi_core_create();
		if (!this->core)
		{
			DBG1(DBG_CFG, "gdoi: creating the G-IKEv2 core failed");
			return FALSE;
		}
		DBG1(DBG_CFG, "gdoi: %s", gdoi_core_describe(this->core));
	}
	else if (this->core)
	{
		gdoi_core_destroy(this->core);
		this->core = NULL;
	}
	return TRUE;
}

METHOD(plugin_t, get_features, int,
	private_gdoi_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK((plugin_feature_callback_t)plugin_cb, NULL),
			PLUGIN_PROVIDE(CUSTOM, "gdoi"),
				PLUGIN_SDEPEND(CUSTOM, "kernel-ipsec"),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void,
	private_gdoi_plugin_t *this)
{
	if (this->core)
	{
		gdoi_core_destroy(this->core);
	}
	free(this);
}

/**
 * Plugin constructor, see header.
 */
plugin_t *gdoi_plugin_create()
{
	private_gdoi_plugin_t *this;

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
