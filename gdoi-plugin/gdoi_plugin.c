/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_plugin.h"

#include <daemon.h>

#include "gdoi_control.h"
#include "gdoi_dispatcher.h"
#include "gdoi_keylog.h"
#include "gdoi_state.h"
#include "gs_socket.h"
#include "gs_timer.h"
#include "trust/gdoi_trust_creds.h"

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
	 * Key logs for diagnostics
	 */
	gdoi_keylog_t *keylog;

	/**
	 * What the key server keeps across restarts (evicted members)
	 */
	gdoi_state_t *state;

	/**
	 * The G-IKEv2 core, while the plugin's features are loaded
	 */
	gdoi_dispatcher_t *dispatcher;

	/**
	 * UDP sockets on the G-IKEv2 port
	 */
	gs_socket_t *socket;

	/**
	 * UDP sockets on the NAT traversal port, NULL if off
	 */
	gs_socket_t *nat_t_socket;

	/**
	 * The core's timer
	 */
	gs_timer_t *timer;

	/**
	 * Control socket, NULL if it could not be opened
	 */
	gdoi_control_t *control;

	/**
	 * The certificates of the shared trust lists
	 */
	gdoi_trust_creds_t *trust;
};

METHOD(plugin_t, get_name, char*,
	private_gdoi_plugin_t *this)
{
	return "gdoi";
}

/**
 * Stop and destroy what the plugin started, the newest first
 */
static void stop(private_gdoi_plugin_t *this)
{
	if (this->dispatcher)
	{
		lib->set(lib, GDOI_EXT_NAME, NULL);
	}
	DESTROY_IF(this->control);
	this->control = NULL;
	if (this->trust)
	{
		this->trust->set_registered(this->trust, NULL, NULL);
	}
	DESTROY_IF(this->timer);
	this->timer = NULL;
	if (this->nat_t_socket)
	{
		this->dispatcher->set_nat_t_socket(this->dispatcher, NULL);
		this->nat_t_socket->destroy(this->nat_t_socket);
		this->nat_t_socket = NULL;
	}
	if (this->socket)
	{
		this->dispatcher->set_socket(this->dispatcher, NULL);
		this->socket->destroy(this->socket);
		this->socket = NULL;
	}
	DESTROY_IF(this->dispatcher);
	this->dispatcher = NULL;
	/* after the core, whose verifications ask it */
	DESTROY_IF(this->trust);
	this->trust = NULL;
	DESTROY_IF(this->state);
	this->state = NULL;
	DESTROY_IF(this->keylog);
	this->keylog = NULL;
}

/**
 * Create and wire the plugin's objects
 */
static bool start(private_gdoi_plugin_t *this)
{
	uint16_t port, nat_t;

	this->trust = gdoi_trust_creds_create(lib->settings->get_str(lib->settings,
						"%s.plugins.gdoi.trust_dir", GDOI_STATEDIR "/trust", lib->ns));
	this->keylog = gdoi_keylog_create();
	this->state = gdoi_state_create(lib->settings->get_str(lib->settings,
						"%s.plugins.gdoi.state_dir", GDOI_STATEDIR, lib->ns));
	this->dispatcher = gdoi_dispatcher_create(this->keylog, this->state,
											  this->trust);
	if (!this->dispatcher)
	{
		return FALSE;
	}
	this->trust->set_registered(this->trust,
						(void*)this->dispatcher->registered, this->dispatcher);
	this->trust->serve(this->trust, this->dispatcher->get_ext(this->dispatcher));
	port = this->dispatcher->get_port(this->dispatcher);
	this->socket = gs_socket_create("gdoi", port,
						(gs_socket_cb_t)this->dispatcher->receive,
						this->dispatcher);
	if (!this->socket)
	{
		DBG1(DBG_CFG, "gdoi: no socket on UDP port %u", port);
		return FALSE;
	}
	this->dispatcher->set_socket(this->dispatcher, this->socket);
	nat_t = this->dispatcher->get_nat_t_port(this->dispatcher);
	if (nat_t)
	{
		this->nat_t_socket = gs_socket_create("gdoi", nat_t,
						(gs_socket_cb_t)this->dispatcher->receive,
						this->dispatcher);
		if (!this->nat_t_socket)
		{
			DBG1(DBG_CFG, "gdoi: no socket on UDP port %u (NAT traversal)",
				 nat_t);
			return FALSE;
		}
		this->dispatcher->set_nat_t_socket(this->dispatcher,
										   this->nat_t_socket);
	}
	this->timer = gs_timer_create((gs_timer_cb_t)this->dispatcher->tick,
								  this->dispatcher);
	this->timer->kick(this->timer);
	this->control = gdoi_control_create(this->dispatcher, this->timer);
	/* for the plugins next to this one (election) */
	lib->set(lib, GDOI_EXT_NAME, this->dispatcher->get_ext(this->dispatcher));
	return TRUE;
}

/**
 * Load or unload the G-IKEv2 core, its sockets and timers.
 */
static bool plugin_cb(private_gdoi_plugin_t *this,
					  plugin_feature_t *feature, bool reg, void *cb_data)
{
	if (reg && !start(this))
	{
		stop(this);
		return FALSE;
	}
	if (!reg)
	{
		stop(this);
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

METHOD(plugin_t, reload, bool,
	private_gdoi_plugin_t *this)
{
	if (!this->dispatcher)
	{
		return FALSE;
	}
	/* the trust lists first: a group may start with a peer vouched for */
	this->trust->reload(this->trust);
	DBG1(DBG_CFG, "gdoi: loading the groups again");
	this->dispatcher->load(this->dispatcher);
	/* the timers of new groups are due now */
	this->timer->kick(this->timer);
	return TRUE;
}

METHOD(plugin_t, destroy, void,
	private_gdoi_plugin_t *this)
{
	stop(this);
	free(this);
}

/*
 * Described in header
 */
plugin_t *gdoi_plugin_create()
{
	private_gdoi_plugin_t *this;

	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.reload = _reload,
				.destroy = _destroy,
			},
		},
	);

	return &this->public.plugin;
}
