/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_dispatcher.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <netpacket/packet.h>
#include <string.h>
#include <unistd.h>

#include <daemon.h>
#include <kernel/kernel_listener.h>
#include <threading/mutex.h>

#include "gdoi_creds.h"
#include "gdoi_kernel.h"
#include "gdoi_settings.h"

/**
 * First reqid of group SAs, far above charon's own allocation
 */
#define DEFAULT_REQID_BASE 0x40000000

/**
 * G-IKEv2's port unless configured (RFC 9838 allows GDOI's)
 */
#define GDOI_PORT 848

/**
 * Most multicast groups joined
 */
#define MAX_MULTICAST_GROUPS 32

typedef struct private_gdoi_dispatcher_t private_gdoi_dispatcher_t;

/**
 * Private data of a gdoi_dispatcher_t object.
 */
struct private_gdoi_dispatcher_t {

	/**
	 * Public gdoi_dispatcher_t interface.
	 */
	gdoi_dispatcher_t public;

	/**
	 * The shared trust lists, judging keys that verify a peer's AUTH
	 */
	gdoi_trust_creds_t *trust;

	/**
	 * G-IKEv2 core
	 */
	gdoi_core_t *core;

	/**
	 * Serializes every call into the core
	 */
	mutex_t *mutex;

	/**
	 * AF_PACKET socket of the relayed-traffic feed, -1 if none
	 */
	int relay_fd;

	/**
	 * Told by charon's kernel interface when the host's addresses change
	 */
	kernel_listener_t listener;

	/**
	 * Socket the core sends through, NULL if none
	 */
	gs_socket_t *socket;

	/**
	 * Socket on the NAT traversal port, NULL if none
	 */
	gs_socket_t *nat_t_socket;

	/**
	 * NAT traversal port, 0 if off
	 */
	uint16_t nat_t_port;

	/**
	 * Key logs
	 */
	gdoi_keylog_t *keylog;

	/**
	 * What the key server keeps across restarts (evicted members)
	 */
	gdoi_state_t *state;

	/**
	 * What other plugins use, see get_ext()
	 */
	gdoi_ext_t ext;

	/**
	 * Told when a control client has output waiting, and its data
	 */
	void (*wake)(void *data, u_int id);
	void *wake_data;
};

/**
 * Core callback: send a datagram
 */
/**
 * Verify a peer's AUTH, with the trust lists' view of group and role
 */
static bool verify_cb(private_gdoi_dispatcher_t *this, const gdoi_id_t *signer,
					  const char *group, gdoi_peer_role_t role,
					  const uint8_t *data, size_t len, const uint8_t *auth,
					  size_t auth_len)
{
	return gdoi_creds_verify(this->trust, signer, group, role, data, len,
							 auth, auth_len);
}

METHOD(gdoi_dispatcher_t, registered, bool,
	private_gdoi_dispatcher_t *this, const char *group)
{
	bool r;

	/* recursive: also asked from within the core, verifying an AUTH */
	this->mutex->lock(this->mutex);
	r = gdoi_core_registered(this->core, group);
	this->mutex->unlock(this->mutex);
	return r;
}

static bool send_cb(private_gdoi_dispatcher_t *this, const gdoi_addr_t *local,
					const gdoi_addr_t *remote, const uint8_t *data, size_t len)
{
	host_t *src, *dst;
	bool sent = FALSE;

	gs_socket_t *socket = this->socket;

	if (this->nat_t_port && local->port == this->nat_t_port)
	{
		socket = this->nat_t_socket;
	}
	src = gdoi_kernel_host(local);
	dst = gdoi_kernel_host(remote);
	if (src && dst && socket)
	{
		sent = socket->send(socket, src, dst, chunk_create((u_char*)data, len));
	}
	DESTROY_IF(src);
	DESTROY_IF(dst);
	return sent;
}

/**
 * Core callback: log a line
 */
static void log_cb(private_gdoi_dispatcher_t *this, gdoi_log_level_t level,
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
static void save_keys_cb(private_gdoi_dispatcher_t *this, const char *line)
{
	this->keylog->save_keys(this->keylog, line);
}

/**
 * Core callback: a key a member took into use, as one JSON line
 */
static void save_member_key_cb(private_gdoi_dispatcher_t *this,
							   const char *line)
{
	this->keylog->save_member_key(this->keylog, line);
}

/**
 * Core callback: the identities evicted from a key server group
 */
static bool load_evicted_cb(private_gdoi_dispatcher_t *this, const char *group,
							void (*add)(void *list, const gdoi_id_t *id),
							void *list, char *err, size_t err_len)
{
	return this->state->load_evicted(this->state, group, add, list, err,
									 err_len);
}

/**
 * Core callback: store the identities evicted from a key server group
 */
static bool save_evicted_cb(private_gdoi_dispatcher_t *this, const char *group,
							const gdoi_id_t *ids, size_t count, char *err,
							size_t err_len)
{
	return this->state->save_evicted(this->state, group, ids, count, err,
									 err_len);
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
 * Join the multicast groups members receive rekeys on; this->mutex held
 */
static void join_groups(private_gdoi_dispatcher_t *this)
{
	gdoi_addr_t addrs[MAX_MULTICAST_GROUPS];
	host_t *group;
	size_t i, n;

	if (!this->socket)
	{
		return;
	}
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

METHOD(gdoi_dispatcher_t, get_port, uint16_t,
	private_gdoi_dispatcher_t *this)
{
	return gdoi_core_port(this->core);
}

METHOD(gdoi_dispatcher_t, set_socket, void,
	private_gdoi_dispatcher_t *this, gs_socket_t *socket)
{
	this->mutex->lock(this->mutex);
	this->socket = socket;
	join_groups(this);
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_dispatcher_t, get_nat_t_port, uint16_t,
	private_gdoi_dispatcher_t *this)
{
	return this->nat_t_port;
}

METHOD(gdoi_dispatcher_t, set_nat_t_socket, void,
	private_gdoi_dispatcher_t *this, gs_socket_t *socket)
{
	this->mutex->lock(this->mutex);
	this->nat_t_socket = socket;
	this->mutex->unlock(this->mutex);
}

/**
 * Read how the core uses the network from the plugin's settings; FALSE
 * (logged) if a port is charon's own or a value is refused
 */
static bool set_transport(private_gdoi_dispatcher_t *this)
{
	gdoi_transport_t t = {
		.port = lib->settings->get_int(lib->settings,
						"%s.plugins.gdoi.port", GDOI_PORT, lib->ns),
		.port_nat_t = lib->settings->get_int(lib->settings,
						"%s.plugins.gdoi.port_nat_t", 0, lib->ns),
		.fragmentation = lib->settings->get_bool(lib->settings,
						"%s.plugins.gdoi.fragmentation", TRUE, lib->ns),
		.fragment_size = lib->settings->get_int(lib->settings,
						"%s.plugins.gdoi.fragment_size", 0, lib->ns),
	};
	uint16_t own[] = {
		lib->settings->get_int(lib->settings, "%s.port", CHARON_UDP_PORT,
							   lib->ns),
		lib->settings->get_int(lib->settings, "%s.port_nat_t",
							   CHARON_NATT_PORT, lib->ns),
	};
	char err[256] = "";
	int i;

	/* charon's socket binds its ports with SO_REUSEADDR as ours do: two
	 * sockets on one port would split the datagrams between them */
	for (i = 0; i < countof(own); i++)
	{
		if (own[i] && (t.port == own[i] || t.port_nat_t == own[i]))
		{
			DBG1(DBG_CFG, "gdoi: UDP port %u is charon's own (%s.%s): move "
				 "charon's socket to other ports to use it for G-IKEv2",
				 own[i], lib->ns, i ? "port_nat_t" : "port");
			return FALSE;
		}
	}
	if (!gdoi_core_set_transport(this->core, &t, err, sizeof(err)))
	{
		DBG1(DBG_CFG, "gdoi: %s", err);
		return FALSE;
	}
	this->nat_t_port = t.port_nat_t;
	return TRUE;
}

METHOD(gdoi_dispatcher_t, receive, void,
	private_gdoi_dispatcher_t *this, host_t *local, host_t *remote,
	chunk_t datagram)
{
	gdoi_addr_t l, r;

	gdoi_kernel_addr(local, &l);
	gdoi_kernel_addr(remote, &r);
	this->mutex->lock(this->mutex);
	gdoi_core_receive(this->core, &l, &r, datagram.ptr, datagram.len);
	/* timers a datagram arms (retransmissions, expiry) are seconds away:
	 * the timer, which runs at least once a second, runs them */
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_dispatcher_t, tick, uint32_t,
	private_gdoi_dispatcher_t *this)
{
	uint32_t wait;

	this->mutex->lock(this->mutex);
	wait = gdoi_core_tick(this->core);
	this->mutex->unlock(this->mutex);
	return wait;
}

METHOD(gdoi_dispatcher_t, load, void,
	private_gdoi_dispatcher_t *this)
{
	char err[1024];

	this->mutex->lock(this->mutex);
	/* a bad configuration is logged and changes nothing */
	gdoi_settings_load(this->core, err, sizeof(err));
	/* the PSKs of the members are known if the credentials were loaded */
	gdoi_core_psk_groups(this->core, psk_group_cb, this);
	join_groups(this);
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_dispatcher_t, client_open, bool,
	private_gdoi_dispatcher_t *this, u_int id)
{
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_client_open(this->core, id);
	this->mutex->unlock(this->mutex);
	return ok;
}

METHOD(gdoi_dispatcher_t, client_input, bool,
	private_gdoi_dispatcher_t *this, u_int id, u_char *data, size_t len)
{
	unsigned generation;
	bool ok;

	this->mutex->lock(this->mutex);
	generation = gdoi_core_config_generation(this->core);
	ok = gdoi_core_client_input(this->core, id, data, len);
	if (gdoi_core_config_generation(this->core) != generation)
	{	/* a client loaded groups (load-config): as after a reload */
		gdoi_core_psk_groups(this->core, psk_group_cb, this);
		join_groups(this);
	}
	this->mutex->unlock(this->mutex);
	return ok;
}

METHOD(gdoi_dispatcher_t, client_output, ssize_t,
	private_gdoi_dispatcher_t *this, u_int id, u_char *buf, size_t len)
{
	ssize_t n;

	this->mutex->lock(this->mutex);
	n = gdoi_core_client_output(this->core, id, buf, len);
	this->mutex->unlock(this->mutex);
	return n;
}

METHOD(gdoi_dispatcher_t, client_written, void,
	private_gdoi_dispatcher_t *this, u_int id, size_t len)
{
	this->mutex->lock(this->mutex);
	gdoi_core_client_written(this->core, id, len);
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_dispatcher_t, client_close, void,
	private_gdoi_dispatcher_t *this, u_int id)
{
	this->mutex->lock(this->mutex);
	gdoi_core_client_close(this->core, id);
	this->mutex->unlock(this->mutex);
}

/**
 * Core callback: output is queued for a control client (this->mutex held)
 */
static void control_wake_cb(private_gdoi_dispatcher_t *this, unsigned id)
{
	if (this->wake)
	{
		this->wake(this->wake_data, id);
	}
}

METHOD(gdoi_dispatcher_t, set_wake, void,
	private_gdoi_dispatcher_t *this, void (*wake)(void *data, u_int id),
	void *data)
{
	this->mutex->lock(this->mutex);
	this->wake = wake;
	this->wake_data = data;
	this->mutex->unlock(this->mutex);
}

/**
 * Shortcut SAs: the packets the gateway relays, as they come in decrypted
 * on the interface charon.plugins.gdoi.shortcut_relay_interface names
 * (kernel-libipsec's TUN device), feed the connectivity managers'
 * triggers: relayed traffic, and new sessions (TCP SYN). The IP header and
 * what follows of the TCP header are read; a burst is read per call.
 */
static bool relay_cb(private_gdoi_dispatcher_t *this, int fd,
					 watcher_event_t event)
{
	/* an IPv4 header with options (60) and TCP up to its flags (14) */
	uint8_t pkt[128];
	struct sockaddr_ll from;
	socklen_t from_len;
	ssize_t len;
	int i;

	for (i = 0; i < 256; i++)
	{
		from_len = sizeof(from);
		len = recvfrom(fd, pkt, sizeof(pkt), MSG_DONTWAIT | MSG_TRUNC,
					   (struct sockaddr*)&from, &from_len);
		if (len < 0)
		{
			break;
		}
		/* what comes in decrypted, not what goes out to be encrypted */
		if (from.sll_pkttype == PACKET_OUTGOING)
		{
			continue;
		}
		/* with MSG_TRUNC, len is the packet's length: more than was read */
		this->mutex->lock(this->mutex);
		gdoi_core_shortcut_packet(this->core, pkt, (size_t)len < sizeof(pkt) ?
								  (size_t)len : sizeof(pkt));
		this->mutex->unlock(this->mutex);
	}
	return TRUE;
}

/**
 * Open the relayed-traffic feed if configured
 */
static void open_relay_feed(private_gdoi_dispatcher_t *this)
{
	struct sockaddr_ll addr = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
	};
	char *name;

	this->relay_fd = -1;
	name = lib->settings->get_str(lib->settings,
						"%s.plugins.gdoi.shortcut_relay_interface", NULL, lib->ns);
	if (!name)
	{
		return;
	}
	addr.sll_ifindex = if_nametoindex(name);
	if (!addr.sll_ifindex)
	{
		DBG1(DBG_CFG, "gdoi: shortcut_relay_interface %s: no such interface",
			 name);
		return;
	}
	/* the network layer header first, on any link type */
	this->relay_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC,
							htons(ETH_P_ALL));
	if (this->relay_fd < 0 ||
		bind(this->relay_fd, (struct sockaddr*)&addr, sizeof(addr)) != 0)
	{
		DBG1(DBG_CFG, "gdoi: shortcut_relay_interface %s: %s", name,
			 strerror(errno));
		if (this->relay_fd >= 0)
		{
			close(this->relay_fd);
		}
		this->relay_fd = -1;
		return;
	}
	lib->watcher->add(lib->watcher, this->relay_fd, WATCHER_READ,
					  (watcher_cb_t)relay_cb, this);
	DBG1(DBG_CFG, "gdoi: relayed traffic on %s feeds the shortcut managers",
		 name);
}

METHOD(gdoi_ext_t, ext_add_command, bool,
	gdoi_ext_t *ext, const char *name, gdoi_ext_command_cb_t cb, void *ctx)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_control_add_command(this->core, name,
									   (gdoi_core_command_cb_t)cb, ctx);
	this->mutex->unlock(this->mutex);
	return ok;
}

METHOD(gdoi_ext_t, ext_add_event, bool,
	gdoi_ext_t *ext, const char *name)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_control_add_event(this->core, name);
	this->mutex->unlock(this->mutex);
	return ok;
}

METHOD(gdoi_ext_t, ext_remove, void,
	gdoi_ext_t *ext, const char *name)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);

	this->mutex->lock(this->mutex);
	gdoi_core_control_remove(this->core, name);
	this->mutex->unlock(this->mutex);
}

METHOD(gdoi_ext_t, ext_emit, bool,
	gdoi_ext_t *ext, const char *name, chunk_t message)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_control_emit(this->core, name, message.ptr, message.len);
	this->mutex->unlock(this->mutex);
	return ok;
}

METHOD(gdoi_ext_t, ext_set_elected, bool,
	gdoi_ext_t *ext, const char *group, const char *identity,
	const char *address, bool self)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	char err[256] = "";
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_set_elected(this->core, group, identity, address, self,
							   err, sizeof(err));
	if (ok)
	{
		join_groups(this);
	}
	this->mutex->unlock(this->mutex);
	if (!ok)
	{
		DBG1(DBG_CFG, "gdoi: group %s: elected key server %s not taken: %s",
			 group, identity ?: "(none)", err);
	}
	return ok;
}

/**
 * Core callback of gdoi_core_roam(): whether addr is still one of ours
 */
static bool roam_is_local(private_gdoi_dispatcher_t *this,
						  const gdoi_addr_t *addr)
{
	host_t *host = gdoi_kernel_host(addr);
	bool local;

	if (!host)
	{
		return TRUE;
	}
	local = charon->kernel->get_interface(charon->kernel, host, NULL);
	host->destroy(host);
	return local;
}

/**
 * Core callback of gdoi_core_roam(): our source address towards dst
 */
static bool roam_source(private_gdoi_dispatcher_t *this,
						const gdoi_addr_t *dst, gdoi_addr_t *src)
{
	host_t *to = gdoi_kernel_host(dst), *from;

	if (!to)
	{
		return FALSE;
	}
	from = charon->kernel->get_source_addr(charon->kernel, to, NULL);
	to->destroy(to);
	if (!from)
	{
		return FALSE;
	}
	gdoi_kernel_addr(from, src);
	from->destroy(from);
	return TRUE;
}

METHOD(kernel_listener_t, roam, bool,
	kernel_listener_t *listener, bool address)
{
	private_gdoi_dispatcher_t *this = (void*)listener -
							offsetof(private_gdoi_dispatcher_t, listener);
	size_t moved;

	/* addresses or routes changed: an IKE SA whose address is gone moves
	 * to the source address of the route towards its key server */
	this->mutex->lock(this->mutex);
	moved = gdoi_core_roam(this->core, (void*)roam_is_local,
						   (void*)roam_source, this);
	this->mutex->unlock(this->mutex);
	if (moved)
	{
		DBG1(DBG_IKE, "gdoi: %zu IKE SA(s) with key servers moved to a new "
			 "local address", moved);
	}
	return TRUE;
}

METHOD(gdoi_ext_t, ext_snapshot, bool,
	gdoi_ext_t *ext, const char *group, chunk_t *state)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	char err[256] = "";
	uint8_t *data = NULL;
	size_t len = 0;
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_snapshot(this->core, group, &data, &len, err, sizeof(err));
	this->mutex->unlock(this->mutex);
	if (!ok)
	{
		DBG2(DBG_CFG, "gdoi: group %s: no snapshot: %s", group, err);
		return FALSE;
	}
	*state = chunk_create(data, len);
	return TRUE;
}

METHOD(gdoi_ext_t, ext_set_replica, bool,
	gdoi_ext_t *ext, const char *group, chunk_t state)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	char err[256] = "";
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_set_replica(this->core, group, state.ptr, state.len, err,
							   sizeof(err));
	this->mutex->unlock(this->mutex);
	if (!ok)
	{
		DBG1(DBG_CFG, "gdoi: group %s: replicated state refused: %s", group,
			 err);
	}
	return ok;
}

METHOD(gdoi_ext_t, ext_merge_replica, bool,
	gdoi_ext_t *ext, const char *group, chunk_t state)
{
	private_gdoi_dispatcher_t *this = (void*)ext -
							offsetof(private_gdoi_dispatcher_t, ext);
	char err[256] = "";
	bool ok;

	this->mutex->lock(this->mutex);
	ok = gdoi_core_merge_replica(this->core, group, state.ptr, state.len, err,
								 sizeof(err));
	this->mutex->unlock(this->mutex);
	if (!ok)
	{
		DBG1(DBG_CFG, "gdoi: group %s: state of the server that stepped down "
			 "not merged: %s", group, err);
	}
	return ok;
}

METHOD(gdoi_dispatcher_t, get_ext, gdoi_ext_t*,
	private_gdoi_dispatcher_t *this)
{
	return &this->ext;
}

METHOD(gdoi_dispatcher_t, destroy, void,
	private_gdoi_dispatcher_t *this)
{
	charon->kernel->remove_listener(charon->kernel, &this->listener);
	if (this->relay_fd >= 0)
	{
		lib->watcher->remove(lib->watcher, this->relay_fd);
		close(this->relay_fd);
	}
	this->mutex->lock(this->mutex);
	gdoi_core_destroy(this->core);
	this->mutex->unlock(this->mutex);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
gdoi_dispatcher_t *gdoi_dispatcher_create(gdoi_keylog_t *keylog,
										  gdoi_state_t *state,
										  gdoi_trust_creds_t *trust)
{
	private_gdoi_dispatcher_t *this;
	gdoi_core_env_t env = {
		.send = (void*)send_cb,
		.shared_key = gdoi_creds_shared_key,
		.sign = gdoi_creds_sign,
		.verify = (void*)verify_cb,
		.public_key = gdoi_creds_public_key,
		.sign_with = gdoi_creds_sign_with,
		.verify_with = gdoi_creds_verify_with,
		.trusted_keys = gdoi_creds_trusted_keys,
		.add_sa = gdoi_kernel_add_sa,
		.del_sa = gdoi_kernel_del_sa,
		.add_policy = gdoi_kernel_add_policy,
		.del_policy = gdoi_kernel_del_policy,
		.no_transport = gdoi_kernel_no_transport,
		.query_sa = gdoi_kernel_query_sa,
		.log = (void*)log_cb,
		.load_evicted = (void*)load_evicted_cb,
		.save_evicted = (void*)save_evicted_cb,
		.control_wake = (void*)control_wake_cb,
	};

	INIT(this,
		.public = {
			.get_port = _get_port,
			.set_socket = _set_socket,
			.get_nat_t_port = _get_nat_t_port,
			.set_nat_t_socket = _set_nat_t_socket,
			.receive = _receive,
			.tick = _tick,
			.load = _load,
			.client_open = _client_open,
			.client_input = _client_input,
			.client_output = _client_output,
			.client_written = _client_written,
			.client_close = _client_close,
			.set_wake = _set_wake,
			.get_ext = _get_ext,
			.registered = _registered,
			.destroy = _destroy,
		},
		.ext = {
			.add_command = _ext_add_command,
			.add_event = _ext_add_event,
			.remove = _ext_remove,
			.emit = _ext_emit,
			.set_elected = _ext_set_elected,
			.snapshot = _ext_snapshot,
			.set_replica = _ext_set_replica,
			.merge_replica = _ext_merge_replica,
		},
		.listener = {
			.roam = _roam,
		},
		.mutex = mutex_create(MUTEX_TYPE_RECURSIVE),
		.trust = trust,
		.keylog = keylog,
		.state = state,
	);

	env.ctx = this;
	if (keylog->logs_keys(keylog))
	{
		env.save_keys = (void*)save_keys_cb;
	}
	if (keylog->logs_member_keys(keylog))
	{
		env.save_member_key = (void*)save_member_key_cb;
	}
	this->core = gdoi_core_create(&env, lib->settings->get_int(lib->settings,
							"%s.plugins.gdoi.reqid_base", DEFAULT_REQID_BASE,
							lib->ns));
	if (!this->core)
	{
		DBG1(DBG_CFG, "gdoi: creating the G-IKEv2 core failed");
		this->mutex->destroy(this->mutex);
		free(this);
		return NULL;
	}
	if (!set_transport(this))
	{
		gdoi_core_destroy(this->core);
		this->mutex->destroy(this->mutex);
		free(this);
		return NULL;
	}
	DBG1(DBG_CFG, "gdoi: %s, state in %s", gdoi_core_describe(this->core),
		 state->get_dir(state));
	_load(this);
	open_relay_feed(this);
	/* a member's IKE SA with its key server follows its address */
	charon->kernel->add_listener(charon->kernel, &this->listener);
	return &this->public;
}
