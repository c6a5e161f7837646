/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_control.h"

#include <daemon.h>
#include <unistd.h>

/**
 * Largest control socket message we accept
 */
#define MAX_CONTROL_MESSAGE (512 * 1024)

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
	 * Control socket
	 */
	stream_service_t *control;
};

/**
 * Control socket: serve one client until it closes the connection
 */
static bool control_cb(private_gdoi_control_t *this, stream_t *stream)
{
	gdoi_control_conn_t *conn;
	uint32_t len;
	uint8_t *msg, *out;
	size_t out_len;
	bool keep = TRUE;

	conn = this->dispatcher->control_open(this->dispatcher);
	if (!conn)
	{
		return FALSE;
	}
	while (keep && stream->read_all(stream, &len, sizeof(len)))
	{
		len = ntohl(len);
		if (len > MAX_CONTROL_MESSAGE)
		{
			DBG1(DBG_CFG, "gdoi: control message of %u bytes refused", len);
			break;
		}
		msg = malloc(sizeof(uint32_t) + len);
		htoun32(msg, len);
		if (!stream->read_all(stream, msg + sizeof(uint32_t), len))
		{
			free(msg);
			break;
		}
		out = NULL;
		out_len = 0;
		keep = this->dispatcher->control_input(this->dispatcher, conn, msg,
											   sizeof(uint32_t) + len, &out,
											   &out_len);
		this->timer->kick(this->timer);
		free(msg);
		if (out_len && !stream->write_all(stream, out, out_len))
		{
			keep = FALSE;
		}
		free(out);
	}
	this->dispatcher->control_close(this->dispatcher, conn);
	return FALSE;
}

METHOD(gdoi_control_t, destroy, void,
	private_gdoi_control_t *this)
{
	this->control->destroy(this->control);
	free(this);
}

/*
 * Described in header
 */
gdoi_control_t *gdoi_control_create(gdoi_dispatcher_t *dispatcher,
									gs_timer_t *timer)
{
	private_gdoi_control_t *this;
	char *uri;

	uri = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.socket",
								 "unix://" GDOI_PIDDIR "/gdoi.vici", lib->ns);
	if (strpfx(uri, "unix://"))
	{
		unlink(uri + strlen("unix://"));
	}
	INIT(this,
		.public = {
			.destroy = _destroy,
		},
		.dispatcher = dispatcher,
		.timer = timer,
		.control = lib->streams->create_service(lib->streams, uri, 10),
	);
	if (!this->control)
	{
		DBG1(DBG_CFG, "gdoi: creating the control socket %s failed", uri);
		free(this);
		return NULL;
	}
	this->control->on_accept(this->control, (stream_service_cb_t)control_cb,
							 this, JOB_PRIO_CRITICAL, 0);
	DBG1(DBG_CFG, "gdoi: control socket on %s", uri);
	return &this->public;
}
