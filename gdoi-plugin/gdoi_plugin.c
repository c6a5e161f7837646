/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gdoi_plugin.h"

#include <daemon.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <threading/condvar.h>
#include <threading/mutex.h>
#include <threading/thread.h>

#include "control_socket.h"
#include "gdoi_core.h"
#include "gdoi_creds.h"
#include "gdoi_kernel.h"
#include "gdoi_settings.h"
#include "gdoi_socket.h"
#include "gdoi_state.h"

/**
 * First reqid of group SAs, far above charon's own allocation
 */
#define DEFAULT_REQID_BASE 0x40000000

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
	 * G-IKEv2 core, while the plugin's features are loaded
	 */
	gdoi_core_t *core;

	/**
	 * Serializes every call into the core
	 */
	mutex_t *mutex;

	/**
	 * Wakes the timer thread early
	 */
	condvar_t *condvar;

	/**
	 * Timer thread
	 */
	thread_t *timer;

	/**
	 * TRUE while the timer thread should run
	 */
	bool running;

	/**
	 * UDP sockets on the G-IKEv2 port
	 */
	gdoi_socket_t *socket;

	/**
	 * Control socket
	 */
	control_socket_t *control;

	/**
	 * Wireshark's IKEv2 decryption table to append keys to, NULL if none
	 */
	char *key_table;

	/**
	 * Member key material log to append to, NULL if none
	 */
	char *member_keys;

	/**
	 * What the key server keeps across restarts (evicted members)
	 */
	gdoi_state_t *state;
};

METHOD(plugin_t, get_name, char*,
	private_gdoi_plugin_t *this)
{
	return "gdoi";
}

/**
 * Core callback: send a datagram
 */
static bool send_cb(private_gdoi_plugin_t *this, const gdoi_addr_t *local,
					const gdoi_addr_t *remote, const uint8_t *data, size_t len)
{
	host_t *src, *dst;
	bool sent = FALSE;

	src = gdoi_kernel_host(local);
	dst = gdoi_kernel_host(remote);
	if (src && dst && this->socket)
	{
		sent = this->socket->send(this->socket, src, dst,
								  chunk_create((u_char*)data, len));
	}
	DESTROY_IF(src);
	DESTROY_IF(dst);
	return sent;
}

/**
 * Core callback: log a line
 */
static void log_cb(private_gdoi_plugin_t *this, gdoi_log_level_t level,
				   const char *msg)
{
	switch (level)
	{
		case GDOI_LOG_ERROR:
		case GDOI_LOG_INFO:
			DBG1(DBG_IKE, "gdoi: %s", msg);
			break;
		case GDOI_LOG_WARNING:
			DBG1(DBG_IKE, "gdoi: warning: %s", msg);
			break;
		default:
			DBG2(DBG_IKE, "gdoi: %s", msg);
			break;
	}
}

/**
 * Core callback: keys of a new IKE SA or Rekey SA for Wireshark
 */
static void save_keys_cb(private_gdoi_plugin_t *this, const char *line)
{
	FILE *file;

	file = fopen(this->key_table, "a");
	if (!file)
	{
		DBG1(DBG_IKE, "gdoi: opening key table '%s' failed: %s",
			 this->key_table, strerror(errno));
		return;
	}
	fprintf(file, "%s\n", line);
	fclose(file);
}

/**
 * Core callback: a key a member took into use, as one JSON line. The file
 * holds the group's secrets: it is made readable by its owner only, and
 * each line goes out in a single append.
 */
static void save_member_key_cb(private_gdoi_plugin_t *this, const char *line)
{
	char *buf;
	ssize_t len, written;
	int fd;

	len = asprintf(&buf, "%s\n", line);
	if (len < 0)
	{
		return;
	}
	fd = open(this->member_keys, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		DBG1(DBG_IKE, "gdoi: opening member key log '%s' failed: %s",
			 this->member_keys, strerror(errno));
		memwipe(buf, len);
		free(buf);
		return;
	}
	written = write(fd, buf, len);
	if (written != len)
	{
		DBG1(DBG_IKE, "gdoi: writing member key log '%s' failed: %s",
			 this->member_keys, written < 0 ? strerror(errno) : "short write");
	}
	close(fd);
	memwipe(buf, len);
	free(buf);
}

/**
 * Core callback: the identities evicted from a key server group
 */
static bool load_evicted_cb(private_gdoi_plugin_t *this, const char *group,
							void (*add)(void *list, const gdoi_id_t *id),
							void *list, char *err, size_t err_len)
{
	return this->state->load_evicted(this->state, group, add, list, err,
									 err_len);
}

/**
 * Core callback: store the identities evicted from a key server group
 */
static bool save_evicted_cb(private_gdoi_plugin_t *this, const char *group,
							const gdoi_id_t *ids, size_t count, char *err,
							size_t err_len)
{
	return this->state->save_evicted(this->state, group, ids, count, err,
									 err_len);
}

/**
 * Socket callback: a datagram arrived
 */
static void receive_cb(private_gdoi_plugin_t *this, host_t *local,
					   host_t *remote, chunk_t datagram)
{
	gdoi_addr_t l, r;

	gdoi_kernel_addr(local, &l);
	gdoi_kernel_addr(remote, &r);
	this->mutex->lock(this->mutex);
	if (this->core)
	{
		gdoi_core_receive(this->core, &l, &r, datagram.ptr, datagram.len);
	}
	/* timers a datagram arms (retransmissions, expiry) are seconds away:
	 * the timer thread, which wakes at least once a second, runs them */
	this->mutex->unlock(this->mutex);
}

/**
 * Timer thread: run the core's timers when they are due
 */
static void *timer_thread(private_gdoi_plugin_t *this)
{
	uint32_t wait;

	this->mutex->lock(this->mutex);
	while (this->running)
	{
		wait = gdoi_core_tick(this->core);
		this->condvar->timed_wait(this->condvar, this->mutex, wait);
	}
	this->mutex->unlock(this->mutex);
	return NULL;
}

/**
 * Control socket: a client connected
 */
static bool control_open(private_gdoi_plugin_t *this, u_int id)
{
	bool ok;

	this->mutex->lock(this->mutex);
	ok = this->core && gdoi_core_client_open(this->core, id);
	this->mutex->unlock(this->mutex);
	return ok;
}

/**
 * Control socket: bytes from a client
 */
static bool control_input(private_gdoi_plugin_t *this, u_int id, u_char *data,
						  size_t len)
{
	bool ok;

	this->mutex->lock(this->mutex);
	ok = this->core && gdoi_core_client_input(this->core, id, data, len);
	/* a command may have changed what the timers wait for */
	this->condvar->signal(this->condvar);
	this->mutex->unlock(this->mutex);
	return ok;
}

/**
 * Control socket: what is queued for a client
 */
static ssize_t control_output(private_gdoi_plugin_t *this, u_int id,
							  u_char *buf, size_t len)
{
	ssize_t n = -1;

	this->mutex->lock(this->mutex);
	if (this->core)
	{
		n = gdoi_core_client_output(this->core, id, buf, len);
	}
	this->mutex->unlock(this->mutex);
	return n;
}

/**
 * Control socket: bytes written to a client
 */
static void control_written(private_gdoi_plugin_t *this, u_int id, size_t len)
{
	this->mutex->lock(this->mutex);
	if (this->core)
	{
		gdoi_core_client_written(this->core, id, len);
	}
	this->mutex->unlock(this->mutex);
}

/**
 * Control socket: a client is gone
 */
static void control_close(private_gdoi_plugin_t *this, u_int id)
{
	this->mutex->lock(this->mutex);
	if (this->core)
	{
		gdoi_core_client_close(this->core, id);
	}
	this->mutex->unlock(this->mutex);
}

/**
 * Core callback: output is queued for a control client (this->mutex held)
 */
static void control_wake_cb(private_gdoi_plugin_t *this, unsigned id)
{
	if (this->control)
	{
		this->control->wake(this->control, id);
	}
}

/**
 * Open the control socket
 */
static void open_control(private_gdoi_plugin_t *this)
{
	control_socket_handler_t handler = {
		.open = (void*)control_open,
		.input = (void*)control_input,
		.output = (void*)control_output,
		.written = (void*)control_written,
		.close = (void*)control_close,
		.user = this,
	};
	control_socket_t *control;
	char *uri;

	uri = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.socket",
								 "unix://" GDOI_PIDDIR "/gdoi.vici", lib->ns);
	control = control_socket_create(uri, &handler);
	if (!control)
	{
		DBG1(DBG_CFG, "gdoi: creating the control socket %s failed", uri);
		return;
	}
	this->mutex->lock(this->mutex);
	this->control = control;
	this->mutex->unlock(this->mutex);
	DBG1(DBG_CFG, "gdoi: control socket on %s", uri);
}

/**
 * Join the multicast groups members receive rekeys on
 */
static void join_groups(private_gdoi_plugin_t *this)
{
	gdoi_addr_t addrs[32];
	host_t *group;
	size_t i, n;

	n = gdoi_core_multicast_addrs(this->core, addrs, countof(addrs));
	for (i = 0; i < n; i++)
	{
		group = gdoi_kernel_host(&addrs[i]);
		if (group)
		{
			this->socket->join(this->socket, group);
			group->destroy(group);
		}
	}
}

/**
 * Core callback: warn about a PSK group whose members share PSKs
 */
static void psk_group_cb(void *data, const char *group, const gdoi_id_t *local,
						 const gdoi_id_t *members, size_t count)
{
	gdoi_creds_shared_psks(group, local, members, count);
}

/**
 * Load (or load again) the groups; this->mutex held or no thread running
 */
static void load_groups(private_gdoi_plugin_t *this)
{
	char err[1024];

	/* a bad configuration is logged and changes nothing */
	gdoi_settings_load(this->core, err, sizeof(err));
	/* the PSKs of the members are known if the credentials were loaded */
	gdoi_core_psk_groups(this->core, psk_group_cb, this);
	if (this->socket)
	{
		join_groups(this);
	}
}

/**
 * Stop everything the plugin started
 */
static void stop(private_gdoi_plugin_t *this)
{
	control_socket_t *control;

	this->mutex->lock(this->mutex);
	control = this->control;
	this->control = NULL;
	this->mutex->unlock(this->mutex);
	DESTROY_IF(control);
	if (this->timer)
	{
		this->mutex->lock(this->mutex);
		this->running = FALSE;
		this->condvar->signal(this->condvar);
		this->mutex->unlock(this->mutex);
		this->timer->join(this->timer);
		this->timer = NULL;
	}
	DESTROY_IF(this->socket);
	this->socket = NULL;
	if (this->core)
	{
		this->mutex->lock(this->mutex);
		gdoi_core_destroy(this->core);
		this->core = NULL;
		this->mutex->unlock(this->mutex);
	}
	DESTROY_IF(this->state);
	this->state = NULL;
}

/**
 * Load or unload the G-IKEv2 core, its sockets and timers.
 */
static bool plugin_cb(private_gdoi_plugin_t *this,
					  plugin_feature_t *feature, bool reg, void *cb_data)
{
	gdoi_core_env_t env = {
		.ctx = this,
		.send = (void*)send_cb,
		.shared_key = gdoi_creds_shared_key,
		.sign = gdoi_creds_sign,
		.verify = gdoi_creds_verify,
		.add_sa = gdoi_kernel_add_sa,
		.del_sa = gdoi_kernel_del_sa,
		.add_policy = gdoi_kernel_add_policy,
		.del_policy = gdoi_kernel_del_policy,
		.log = (void*)log_cb,
		.load_evicted = (void*)load_evicted_cb,
		.save_evicted = (void*)save_evicted_cb,
		.control_wake = (void*)control_wake_cb,
	};
	char *dir;

	if (!reg)
	{
		stop(this);
		return TRUE;
	}
	dir = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.save_keys",
								 NULL, lib->ns);
	free(this->key_table);
	this->key_table = NULL;
	if (dir && asprintf(&this->key_table, "%s/ikev2_decryption_table", dir) > 0)
	{
		env.save_keys = (void*)save_keys_cb;
		DBG1(DBG_CFG, "gdoi: saving IKE and Rekey SA keys to %s (for "
			 "debugging only)", this->key_table);
	}
	free(this->member_keys);
	this->member_keys = lib->settings->get_str(lib->settings,
							"%s.plugins.gdoi.save_member_keys", NULL, lib->ns);
	if (this->member_keys && *this->member_keys)
	{
		this->member_keys = strdup(this->member_keys);
		env.save_member_key = (void*)save_member_key_cb;
		DBG1(DBG_CFG, "gdoi: appending the group keys members receive to %s "
			 "(diagnostics only: the file holds the group's secrets)",
			 this->member_keys);
	}
	else
	{
		this->member_keys = NULL;
	}
	this->state = gdoi_state_create(lib->settings->get_str(lib->settings,
							"%s.plugins.gdoi.state_dir", GDOI_STATEDIR, lib->ns));
	this->core = gdoi_core_create(&env, lib->settings->get_int(lib->settings,
							"%s.plugins.gdoi.reqid_base", DEFAULT_REQID_BASE,
							lib->ns));
	if (!this->core)
	{
		DBG1(DBG_CFG, "gdoi: creating the G-IKEv2 core failed");
		stop(this);
		return FALSE;
	}
	DBG1(DBG_CFG, "gdoi: %s, state in %s", gdoi_core_describe(this->core),
		 this->state->get_dir(this->state));
	load_groups(this);

	this->socket = gdoi_socket_create(gdoi_core_port(this->core),
									  (gdoi_socket_cb_t)receive_cb, this);
	if (!this->socket)
	{
		DBG1(DBG_CFG, "gdoi: no socket on UDP port %u",
			 gdoi_core_port(this->core));
		stop(this);
		return FALSE;
	}
	join_groups(this);
	this->running = TRUE;
	this->timer = thread_create((thread_main_t)timer_thread, this);
	if (!this->timer)
	{
		stop(this);
		return FALSE;
	}
	open_control(this);
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
	bool loaded = FALSE;

	this->mutex->lock(this->mutex);
	if (this->core)
	{
		DBG1(DBG_CFG, "gdoi: loading the groups again");
		load_groups(this);
		/* the timers of new groups are due now */
		this->condvar->signal(this->condvar);
		loaded = TRUE;
	}
	this->mutex->unlock(this->mutex);
	return loaded;
}

METHOD(plugin_t, destroy, void,
	private_gdoi_plugin_t *this)
{
	stop(this);
	free(this->key_table);
	free(this->member_keys);
	this->condvar->destroy(this->condvar);
	this->mutex->destroy(this->mutex);
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
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.condvar = condvar_create(CONDVAR_TYPE_DEFAULT),
	);

	return &this->public.plugin;
}
