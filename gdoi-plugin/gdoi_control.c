/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_control.h"

#include <daemon.h>

#include "gs_control_socket.h"

typedef struct private_gdoi_control_t private_gdoi_control_t;

/**
 * Private data of a gdoi_control_t object.
 */
struct private_gdoi_control_t {

	/**
	 * Public gdoi_control_t interface.
	 */
	gdoi_control_t public;

	/**
	 * The core
	 */
	gdoi_dispatcher_t *dispatcher;

	/**
	 * The core's timer
	 */
	gs_timer_t *timer;

	/**
	 * Control socket, serving its clients asynchronously
	 */
	gs_control_socket_t *socket;
};

static bool client_open(private_gdoi_control_t *this, u_int id)
{
	return this->dispatcher->client_open(this->dispatcher, id);
}

static bool client_input(private_gdoi_control_t *this, u_int id, u_char *data,
						 size_t len)
{
	bool ok;

	ok = this->dispatcher->client_input(this->dispatcher, id, data, len);
	/* a command may have changed what the timers wait for */
	this->timer->kick(this->timer);
	return ok;
}

static ssize_t client_output(private_gdoi_control_t *this, u_int id,
							 u_char *buf, size_t len)
{
	return this->dispatcher->client_output(this->dispatcher, id, buf, len);
}

static void client_written(private_gdoi_control_t *this, u_int id, size_t len)
{
	this->dispatcher->client_written(this->dispatcher, id, len);
}

static void client_close(private_gdoi_control_t *this, u_int id)
{
	this->dispatcher->client_close(this->dispatcher, id);
}

/**
 * The core queued output for a client (its lock held): never blocks
 */
static void wake(private_gdoi_control_t *this, u_int id)
{
	this->socket->wake(this->socket, id);
}

METHOD(gdoi_control_t, destroy, void,
	private_gdoi_control_t *this)
{
	this->dispatcher->set_wake(this->dispatcher, NULL, NULL);
	this->socket->destroy(this->socket);
	free(this);
}

/*
 * Described in header
 */
gdoi_control_t *gdoi_control_create(gdoi_dispatcher_t *dispatcher,
									gs_timer_t *timer)
{
	private_gdoi_control_t *this;
	gs_control_handler_t handler = {
		.open = (void*)client_open,
		.input = (void*)client_input,
		.output = (void*)client_output,
		.written = (void*)client_written,
		.close = (void*)client_close,
	};
	char *uri;

	uri = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.socket",
								 "unix://" GDOI_PIDDIR "/gdoi.vici", lib->ns);
	INIT(this,
		.public = {
			.destroy = _destroy,
		},
		.dispatcher = dispatcher,
		.timer = timer,
	);
	handler.user = this;
	this->socket = gs_control_socket_create(uri, &handler);
	if (!this->socket)
	{
		DBG1(DBG_CFG, "gdoi: creating the control socket %s failed", uri);
		free(this);
		return NULL;
	}
	dispatcher->set_wake(dispatcher, (void*)wake, this);
	DBG1(DBG_CFG, "gdoi: control socket on %s", uri);
	return &this->public;
}
