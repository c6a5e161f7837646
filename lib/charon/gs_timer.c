/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gs_timer.h"

#include <processing/jobs/callback_job.h>
#include <threading/condvar.h>
#include <threading/mutex.h>

typedef struct private_gs_timer_t private_gs_timer_t;

/**
 * Private data of a gs_timer_t object.
 */
struct private_gs_timer_t {

	/**
	 * Public gs_timer_t interface.
	 */
	gs_timer_t public;

	/**
	 * Callback running the core's timers
	 */
	gs_timer_cb_t cb;

	/**
	 * User data of cb
	 */
	void *data;

	/**
	 * Protects the fields below
	 */
	mutex_t *mutex;

	/**
	 * Signaled when a run ends
	 */
	condvar_t *condvar;

	/**
	 * Number of the job that is due next; older jobs are stale
	 */
	u_int generation;

	/**
	 * Runs of the callback in progress
	 */
	u_int running;

	/**
	 * TRUE once destroyed
	 */
	bool stopped;

	/**
	 * This object and every queued job
	 */
	refcount_t refs;
};

/**
 * A queued run of the callback
 */
typedef struct {

	/**
	 * The timer
	 */
	private_gs_timer_t *timer;

	/**
	 * The generation it was queued for
	 */
	u_int generation;
} timer_job_t;

/**
 * Drop a reference, free the timer with the last one
 */
static void release(private_gs_timer_t *this)
{
	if (ref_put(&this->refs))
	{
		this->condvar->destroy(this->condvar);
		this->mutex->destroy(this->mutex);
		free(this);
	}
}

static job_requeue_t run(timer_job_t *job);

static void job_done(timer_job_t *job)
{
	release(job->timer);
	free(job);
}

/**
 * Queue the next run in ms milliseconds, superseding any queued one;
 * this->mutex held
 */
static void schedule(private_gs_timer_t *this, uint32_t ms)
{
	timer_job_t *job;

	INIT(job,
		.timer = this,
		.generation = ++this->generation,
	);
	ref_get(&this->refs);
	lib->scheduler->schedule_job_ms(lib->scheduler,
		(job_t*)callback_job_create_with_prio((callback_job_cb_t)run, job,
				(callback_job_cleanup_t)job_done, NULL, JOB_PRIO_HIGH), ms);
}

/**
 * Run the callback if this job is still the one due, then queue the next
 */
static job_requeue_t run(timer_job_t *job)
{
	private_gs_timer_t *this = job->timer;
	uint32_t wait;

	this->mutex->lock(this->mutex);
	if (this->stopped || job->generation != this->generation)
	{
		this->mutex->unlock(this->mutex);
		return JOB_REQUEUE_NONE;
	}
	this->running++;
	this->mutex->unlock(this->mutex);

	/* no lock of ours is held: the callback takes its core's lock, which
	 * a thread calling kick() may hold */
	wait = this->cb(this->data);

	this->mutex->lock(this->mutex);
	this->running--;
	if (!this->stopped && job->generation == this->generation)
	{
		schedule(this, wait);
	}
	this->condvar->broadcast(this->condvar);
	this->mutex->unlock(this->mutex);
	return JOB_REQUEUE_NONE;
}

METHOD(gs_timer_t, kick, void,
	private_gs_timer_t *this)
{
	this->mutex->lock(this->mutex);
	if (!this->stopped)
	{
		schedule(this, 0);
	}
	this->mutex->unlock(this->mutex);
}

METHOD(gs_timer_t, destroy, void,
	private_gs_timer_t *this)
{
	this->mutex->lock(this->mutex);
	this->stopped = TRUE;
	while (this->running)
	{
		this->condvar->wait(this->condvar, this->mutex);
	}
	this->mutex->unlock(this->mutex);
	release(this);
}

/*
 * Described in header
 */
gs_timer_t *gs_timer_create(gs_timer_cb_t cb, void *data)
{
	private_gs_timer_t *this;

	INIT(this,
		.public = {
			.kick = _kick,
			.destroy = _destroy,
		},
		.cb = cb,
		.data = data,
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.condvar = condvar_create(CONDVAR_TYPE_DEFAULT),
		.refs = 1,
	);

	return &this->public;
}
