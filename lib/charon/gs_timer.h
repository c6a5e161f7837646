/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gs_timer gs_timer
 * @{ @ingroup gs_charon
 */

#ifndef GS_TIMER_H_
#define GS_TIMER_H_

#include <library.h>

typedef struct gs_timer_t gs_timer_t;

/**
 * Runs the timers of a core; returns when it wants to run again.
 *
 * @param data			user data
 * @return				milliseconds until the next run is due
 */
typedef uint32_t (*gs_timer_cb_t)(void *data);

/**
 * The timer of a plugin's core on charon's scheduler: the callback runs as
 * a job of charon's processor when the time it asked for has passed, or
 * sooner when kicked (new work that may have timers due at once). Stale
 * runs (superseded by a kick) are dropped, so a kick never makes a chain
 * of runs. The callback may run in two threads at once after a kick: it
 * serializes the core itself.
 */
struct gs_timer_t {

	/**
	 * Run the callback as soon as possible, then again when it asks to.
	 * Starts the timer; does nothing once it is destroyed.
	 */
	void (*kick)(gs_timer_t *this);

	/**
	 * Stop the timer and destroy it; waits for a run in progress to end, so
	 * it must not be called from the callback. Jobs still queued in the
	 * scheduler find the timer stopped and do nothing.
	 */
	void (*destroy)(gs_timer_t *this);
};

/**
 * Create a timer, stopped until the first kick().
 *
 * @param cb			callback running the core's timers
 * @param data			user data of cb
 * @return				timer
 */
gs_timer_t *gs_timer_create(gs_timer_cb_t cb, void *data);

#endif /** GS_TIMER_H_ @}*/
