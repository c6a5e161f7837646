/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_control gdoi_control
 * @{ @ingroup gdoi
 */

#ifndef GDOI_CONTROL_H_
#define GDOI_CONTROL_H_

#include <library.h>

#include "gdoi_dispatcher.h"
#include "gs_timer.h"

typedef struct gdoi_control_t gdoi_control_t;

/**
 * The control socket (charon.plugins.gdoi.socket, VICI wire format):
 * reads each client's length-framed messages and hands them to the core,
 * writing back its replies.
 */
struct gdoi_control_t {

	/**
	 * Close the socket and destroy a gdoi_control_t.
	 */
	void (*destroy)(gdoi_control_t *this);
};

/**
 * Open the control socket.
 *
 * @param dispatcher	the core to hand messages to
 * @param timer			kicked after each message (a command may arm
 *						timers that are due at once)
 * @return				control socket, NULL if it cannot be opened
 */
gdoi_control_t *gdoi_control_create(gdoi_dispatcher_t *dispatcher,
									gs_timer_t *timer);

#endif /** GDOI_CONTROL_H_ @}*/
