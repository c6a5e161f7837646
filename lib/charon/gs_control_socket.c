/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gs_control_socket.h"

#include <errno.h>
#include <unistd.h>

#include <collections/linked_list.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>
#include <utils/debug.h>

/** bytes moved per read() or write() */
#define CHUNK 16384

/** bytes read from one client before others get their turn */
#define READ_BUDGET (4 * CHUNK)

typedef struct private_gs_control_socket_t private_gs_control_socket_t;

/**
 * Private data of a gs_control_socket_t object.
 */
struct private_gs_control_socket_t {

	/**
	 * Public interface.
	 */
	gs_control_socket_t public;

	/**
	 * What the clients' bytes go to.
	 */
	gs_control_handler_t handler;

	/**
	 * Accepts clients.
	 */
	stream_service_t *service;

	/**
	 * Connected clients, as entry_t.
	 */
	linked_list_t *entries;

	/**
	 * Protects entries, next_id and stopped; held while a client is
	 * closed and while a writer is registered. The stream callbacks never
	 * take it, so waiting for them under it is safe.
	 */
	mutex_t *mutex;

	/**
	 * Next client id.
	 */
	u_int next_id;

	/**
	 * destroy() was called: queued jobs do nothing.
	 */
	bool stopped;

	/**
	 * References: the socket itself and every queued job.
	 */
	refcount_t refs;
};

/**
 * One client.
 */
typedef struct {

	/** the socket */
	private_gs_control_socket_t *this;

	/** the client's connection */
	stream_t *stream;

	/** client id */
	u_int id;

	/** a disconnect job is queued */
	bool closing;
} entry_t;

/**
 * What a job does to one client.
 */
typedef struct {
	private_gs_control_socket_t *this;
	u_int id;
} job_data_t;

static void put(private_gs_control_socket_t *this)
{
	if (ref_put(&this->refs))
	{
		this->entries->destroy(this->entries);
		this->mutex->destroy(this->mutex);
		free(this);
	}
}

CALLBACK(job_data_destroy, void,
	job_data_t *data)
{
	put(data->this);
	free(data);
}

static void queue_job(private_gs_control_socket_t *this, u_int id,
					  callback_job_cb_t cb)
{
	job_data_t *data;

	INIT(data,
		.this = this,
		.id = id,
	);
	ref_get(&this->refs);
	lib->processor->queue_job(lib->processor,
			(job_t*)callback_job_create_with_prio(cb, data, job_data_destroy,
												  NULL, JOB_PRIO_CRITICAL));
}

/**
 * Remove the client of that id from the list; NULL if there is none.
 * Call with the mutex held.
 */
static entry_t *remove_entry(private_gs_control_socket_t *this, u_int id)
{
	enumerator_t *enumerator;
	entry_t *entry, *found = NULL;

	enumerator = this->entries->create_enumerator(this->entries);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->id == id)
		{
			this->entries->remove_at(this->entries, enumerator);
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Close a client that is no longer in the list.
 */
static void destroy_entry(entry_t *entry)
{
	private_gs_control_socket_t *this = entry->this;

	/* waits until no callback of the stream runs */
	entry->stream->destroy(entry->stream);
	this->handler.close(this->handler.user, entry->id);
	free(entry);
}

CALLBACK(disconnect_job, job_requeue_t,
	job_data_t *data)
{
	private_gs_control_socket_t *this = data->this;
	entry_t *entry;

	/* held throughout: destroy() waits for a client being closed */
	this->mutex->lock(this->mutex);
	entry = this->stopped ? NULL : remove_entry(this, data->id);
	if (entry)
	{
		destroy_entry(entry);
	}
	this->mutex->unlock(this->mutex);
	return JOB_REQUEUE_NONE;
}

/**
 * Close a client from within one of its stream's callbacks (which may not
 * destroy the stream, nor take the mutex): a job does it, once.
 */
static void disconnect(entry_t *entry)
{
	if (cas_bool(&entry->closing, FALSE, TRUE))
	{
		queue_job(entry->this, entry->id, disconnect_job);
	}
}

CALLBACK(on_write, bool,
	entry_t *entry, stream_t *stream)
{
	private_gs_control_socket_t *this = entry->this;
	u_char buf[CHUNK];
	ssize_t len, done;

	while (TRUE)
	{
		len = this->handler.output(this->handler.user, entry->id, buf,
								   sizeof(buf));
		if (len < 0)
		{
			disconnect(entry);
			return FALSE;
		}
		if (len == 0)
		{	/* wake() registers us again when there is more */
			return FALSE;
		}
		done = stream->write(stream, buf, len, FALSE);
		if (done < 0)
		{
			if (errno == EWOULDBLOCK || errno == EAGAIN || errno == EINTR)
			{
				return TRUE;
			}
			DBG2(DBG_CFG, "control client %u: write failed: %s", entry->id,
				 strerror(errno));
			disconnect(entry);
			return FALSE;
		}
		this->handler.written(this->handler.user, entry->id, done);
		if (done < len)
		{
			return TRUE;
		}
	}
}

CALLBACK(on_read, bool,
	entry_t *entry, stream_t *stream)
{
	private_gs_control_socket_t *this = entry->this;
	u_char buf[CHUNK];
	size_t total = 0;
	ssize_t len;

	while (total < READ_BUDGET)
	{
		len = stream->read(stream, buf, sizeof(buf), FALSE);
		if (len == 0)
		{
			disconnect(entry);
			return FALSE;
		}
		if (len < 0)
		{
			if (errno == EWOULDBLOCK || errno == EAGAIN || errno == EINTR)
			{
				return TRUE;
			}
			DBG2(DBG_CFG, "control client %u: read failed: %s", entry->id,
				 strerror(errno));
			disconnect(entry);
			return FALSE;
		}
		total += len;
		if (!this->handler.input(this->handler.user, entry->id, buf, len))
		{
			/* what was answered still goes out, then the client goes */
			this->public.wake(&this->public, entry->id);
			return FALSE;
		}
	}
	return TRUE;
}

CALLBACK(enable_writer_job, job_requeue_t,
	job_data_t *data)
{
	private_gs_control_socket_t *this = data->this;
	enumerator_t *enumerator;
	entry_t *entry;

	/* held while registering: the client cannot be destroyed meanwhile;
	 * the stream callbacks never take it */
	this->mutex->lock(this->mutex);
	if (!this->stopped)
	{
		enumerator = this->entries->create_enumerator(this->entries);
		while (enumerator->enumerate(enumerator, &entry))
		{
			if (entry->id == data->id && !entry->closing)
			{
				/* a client whose queue overflowed goes now, even if it
				 * never makes room to write to */
				if (this->handler.output(this->handler.user, entry->id,
										 NULL, 0) < 0)
				{
					this->entries->remove_at(this->entries, enumerator);
					destroy_entry(entry);
				}
				else
				{
					entry->stream->on_write(entry->stream, on_write, entry);
				}
				break;
			}
		}
		enumerator->destroy(enumerator);
	}
	this->mutex->unlock(this->mutex);
	return JOB_REQUEUE_NONE;
}

METHOD(gs_control_socket_t, wake, void,
	private_gs_control_socket_t *this, u_int id)
{
	/* on_write() may not be registered from within a stream's callback,
	 * nor where the handler's lock is held: a job does it */
	queue_job(this, id, enable_writer_job);
}

CALLBACK(on_accept, bool,
	private_gs_control_socket_t *this, stream_t *stream)
{
	entry_t *entry;

	INIT(entry,
		.this = this,
		.stream = stream,
	);
	this->mutex->lock(this->mutex);
	if (this->stopped)
	{
		this->mutex->unlock(this->mutex);
		free(entry);
		return FALSE;
	}
	entry->id = ++this->next_id;
	this->mutex->unlock(this->mutex);

	if (!this->handler.open(this->handler.user, entry->id))
	{
		free(entry);
		return FALSE;
	}
	this->mutex->lock(this->mutex);
	if (this->stopped)
	{
		this->mutex->unlock(this->mutex);
		this->handler.close(this->handler.user, entry->id);
		free(entry);
		return FALSE;
	}
	this->entries->insert_last(this->entries, entry);
	/* under the mutex: a wake job for this client waits until it reads */
	stream->on_read(stream, on_read, entry);
	this->mutex->unlock(this->mutex);
	return TRUE;
}

METHOD(gs_control_socket_t, get_clients, u_int,
	private_gs_control_socket_t *this)
{
	u_int count;

	this->mutex->lock(this->mutex);
	count = this->entries->get_count(this->entries);
	this->mutex->unlock(this->mutex);
	return count;
}

METHOD(gs_control_socket_t, destroy, void,
	private_gs_control_socket_t *this)
{
	entry_t *entry;

	/* no new clients */
	DESTROY_IF(this->service);
	this->mutex->lock(this->mutex);
	/* queued jobs find nothing from here on */
	this->stopped = TRUE;
	while (this->entries->remove_first(this->entries,
									   (void**)&entry) == SUCCESS)
	{
		destroy_entry(entry);
	}
	this->mutex->unlock(this->mutex);
	put(this);
}

/*
 * Described in header
 */
gs_control_socket_t *gs_control_socket_create(char *uri,
										gs_control_handler_t *handler)
{
	private_gs_control_socket_t *this;

	INIT(this,
		.public = {
			.wake = _wake,
			.get_clients = _get_clients,
			.destroy = _destroy,
		},
		.handler = *handler,
		.entries = linked_list_create(),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.refs = 1,
	);

	if (strpfx(uri, "unix://"))
	{
		unlink(uri + strlen("unix://"));
	}
	this->service = lib->streams->create_service(lib->streams, uri, 10);
	if (!this->service)
	{
		DBG1(DBG_CFG, "creating the control socket %s failed", uri);
		destroy(this);
		return NULL;
	}
	this->service->on_accept(this->service, (stream_service_cb_t)on_accept,
							 this, JOB_PRIO_CRITICAL, 0);
	return &this->public;
}
