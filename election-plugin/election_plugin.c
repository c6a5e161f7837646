/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "election_plugin.h"

#include <arpa/inet.h>
#include <sys/random.h>
#include <time.h>

#include <daemon.h>
#include <collections/linked_list.h>
#include <threading/mutex.h>
#include <utils/identification.h>

#include "election_core.h"
#include "gs_gdoi_ext.h"
#include "gs_creds.h"
#include "gs_socket.h"
#include "gs_timer.h"

/**
 * Most timer wait, so that a missed kick costs a second at most
 */
#define MAX_WAIT_MS 1000

typedef struct private_election_plugin_t private_election_plugin_t;
typedef struct group_t group_t;
typedef struct change_t change_t;

/**
 * One configured election (charon.plugins.election.groups.NAME)
 */
struct group_t {

	/** configured name */
	char *name;

	/** group ID in the messages */
	uint32_t id;

	/** this node's address (source of what it sends) */
	host_t *local;

	/** multicast group to send to, NULL for a peer list */
	host_t *multicast;

	/** peer addresses (host_t*) of a unicast group */
	linked_list_t *peers;

	/** gdoi group whose key server this election chooses, NULL if none */
	char *gdoi_group;

	/** this node's identity, signing with its key (auth = pubkey), else NULL */
	identification_t *signer;

	/** the election runs (with auth = pubkey: once the key is loaded) */
	bool started;
};

/**
 * A new leader, to be passed on once the core's lock is released
 */
struct change_t {

	/** group ID */
	uint32_t id;

	/** elected identity, "" if none */
	char identity[256];

	/** its address */
	char address[48];

	/** this node */
	bool self;

	/** leader-changed event message, encoded */
	chunk_t event;

	/** not a leader change: the state a server that stepped down sent
	 *  this server, to merge (allocated) */
	chunk_t merge;
};

/**
 * Private data of the election plugin.
 */
struct private_election_plugin_t {

	/**
	 * Implements plugin interface.
	 */
	election_plugin_t public;

	/**
	 * election core, while the plugin's features are loaded.
	 */
	election_core_t *core;

	/**
	 * Serializes every call into the core
	 */
	mutex_t *mutex;

	/**
	 * Configured groups (group_t*)
	 */
	linked_list_t *groups;

	/**
	 * Leader changes the core reported in the current call (change_t*)
	 */
	linked_list_t *changes;

	/**
	 * UDP sockets on the election port
	 */
	gs_socket_t *socket;

	/**
	 * UDP port
	 */
	uint16_t port;

	/**
	 * The core's timer
	 */
	gs_timer_t *timer;

	/**
	 * charon's random source for coin tosses and jitter
	 */
	rng_t *rng;

	/**
	 * The gdoi plugin's interface, NULL if it is not loaded
	 */
	gdoi_ext_t *gdoi;

	/**
	 * When the groups' states were last handed to the core (ms, now_cb())
	 */
	uint64_t replicated;
};

/**
 * Name of commands and events on the gdoi control socket
 */
#define CMD_LIST "list-elections"
#define EVENT_LEADER "leader-changed"

static void group_destroy(group_t *group)
{
	free(group->name);
	free(group->gdoi_group);
	DESTROY_IF(group->signer);
	DESTROY_IF(group->local);
	DESTROY_IF(group->multicast);
	group->peers->destroy_offset(group->peers, offsetof(host_t, destroy));
	free(group);
}

static group_t *find_group(private_election_plugin_t *this, uint32_t id)
{
	enumerator_t *enumerator;
	group_t *group, *found = NULL;

	enumerator = this->groups->create_enumerator(this->groups);
	while (enumerator->enumerate(enumerator, &group))
	{
		if (group->id == id)
		{
			found = group;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Core callback: send a datagram to a group (this->mutex held)
 */
static void send_cb(private_election_plugin_t *this, uint32_t id,
					const uint8_t *data, size_t len)
{
	enumerator_t *enumerator;
	group_t *group;
	host_t *peer;
	chunk_t datagram = chunk_create((u_char*)data, len);

	group = find_group(this, id);
	if (!group || !this->socket)
	{
		return;
	}
	if (group->multicast)
	{
		this->socket->send(this->socket, group->local, group->multicast,
						   datagram);
		return;
	}
	enumerator = group->peers->create_enumerator(group->peers);
	while (enumerator->enumerate(enumerator, &peer))
	{
		if (!peer->ip_equals(peer, group->local))
		{
			this->socket->send(this->socket, group->local, peer, datagram);
		}
	}
	enumerator->destroy(enumerator);
}

/**
 * Core callback: a new key server (this->mutex held)
 */
static void leader_cb(private_election_plugin_t *this, uint32_t id,
					  const char *identity, const char *address, bool self)
{
	change_t *change;
	group_t *group = find_group(this, id);

	DBG1(DBG_CFG, "election: group %s: key server %s%s%s%s",
		 group ? group->name : "?", *identity ? identity : "none",
		 *identity ? " at " : "", *identity ? address : "",
		 self ? " (this node)" : "");
	INIT(change,
		.id = id,
		.self = self,
	);
	snprintf(change->identity, sizeof(change->identity), "%s", identity);
	snprintf(change->address, sizeof(change->address), "%s", address);
	this->changes->insert_last(this->changes, change);
}

/**
 * Core callback: a server that stepped down for this one sent its last
 * state (this->mutex held)
 */
static void merge_cb(private_election_plugin_t *this, uint32_t id,
					 const char *from, const uint8_t *state, size_t len)
{
	change_t *change;
	group_t *group = find_group(this, id);

	DBG1(DBG_CFG, "election: group %s: %s stepped down, merging its last "
		 "state (%zu octets)", group ? group->name : "?", from, len);
	INIT(change,
		.id = id,
		.merge = chunk_clone(chunk_create((u_char*)state, len)),
	);
	this->changes->insert_last(this->changes, change);
}

/**
 * Core callback: an election failed its attempt limit (this->mutex held)
 */
static void incomplete_cb(private_election_plugin_t *this, uint32_t id)
{
	group_t *group = find_group(this, id);

	DBG1(DBG_CFG, "election: group %s: election incomplete, no key server "
		 "elected", group ? group->name : "?");
}

/**
 * Core callback: charon's monotonic time in milliseconds
 */
static uint64_t now_cb(private_election_plugin_t *this)
{
	timeval_t tv;

	time_monotonic(&tv);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/**
 * Core callback: sign with identity's private key (credential manager)
 */
static bool sign_cb(private_election_plugin_t *this, uint32_t id,
					const char *identity, const uint8_t *data, size_t len,
					uint8_t *sig, size_t *sig_len)
{
	identification_t *signer;
	chunk_t auth = chunk_empty;
	bool ok;

	signer = identification_create_from_string((char*)identity);
	ok = gs_creds_sign("election", signer,
					   chunk_create((u_char*)data, len), &auth);
	signer->destroy(signer);
	if (ok && auth.len > *sig_len)
	{
		DBG1(DBG_CFG, "election: a signature of %zu octets is too long",
			 auth.len);
		ok = FALSE;
	}
	if (ok)
	{
		memcpy(sig, auth.ptr, auth.len);
		*sig_len = auth.len;
	}
	chunk_free(&auth);
	return ok;
}

/**
 * Core callback: verify identity's signature with a trusted public key
 */
static bool verify_cb(private_election_plugin_t *this, uint32_t id,
					  const char *identity, const uint8_t *data, size_t len,
					  const uint8_t *sig, size_t sig_len)
{
	identification_t *signer;
	bool ok;

	signer = identification_create_from_string((char*)identity);
	ok = gs_creds_verify("election", signer, chunk_create((u_char*)data, len),
						 chunk_create((u_char*)sig, sig_len));
	signer->destroy(signer);
	return ok;
}

/**
 * Core callback: randomness from charon's RNG
 */
static void random_cb(private_election_plugin_t *this, uint8_t *buf,
					  size_t len)
{
	if (!this->rng || !this->rng->get_bytes(this->rng, len, buf))
	{
		/* never a predictable coin: fall back to the kernel's */
		if (getrandom(buf, len, 0) != (ssize_t)len)
		{
			memset(buf, 0, len);
		}
	}
}

/**
 * Build the events of the changes the core reported (this->mutex held)
 */
static void prepare_changes(private_election_plugin_t *this)
{
	enumerator_t *enumerator;
	change_t *change;
	uint8_t *msg;
	size_t len;

	enumerator = this->changes->create_enumerator(this->changes);
	while (enumerator->enumerate(enumerator, &change))
	{
		if (!change->event.ptr && !change->merge.ptr &&
			election_core_event_message(this->core, change->id, &msg, &len))
		{
			change->event = chunk_create(msg, len);
		}
	}
	enumerator->destroy(enumerator);
}

/**
 * Pass leader changes on to the gdoi plugin and the control socket's
 * clients (this->mutex not held: the gdoi plugin takes its own lock)
 */
static void flush_changes(private_election_plugin_t *this, linked_list_t *changes)
{
	change_t *change;
	group_t *group;
	gdoi_ext_t *gdoi = this->gdoi;

	while (changes->remove_first(changes, (void**)&change) == SUCCESS)
	{
		this->mutex->lock(this->mutex);
		group = find_group(this, change->id);
		this->mutex->unlock(this->mutex);
		if (change->merge.ptr)
		{
			if (gdoi && group && group->gdoi_group &&
				!gdoi->merge_replica(gdoi, group->gdoi_group, change->merge))
			{
				DBG1(DBG_CFG, "election: group %s: the state of the server "
					 "that stepped down is not merged", group->name);
			}
			chunk_clear(&change->merge);
			free(change);
			continue;
		}
		if (gdoi && group && group->gdoi_group && change->self)
		{
			/* the state replicated from the last server, to continue
			 * its group with the same keys */
			chunk_t replica = chunk_empty;
			uint64_t version = 0;
			bool held;

			this->mutex->lock(this->mutex);
			held = this->core &&
				   election_core_replica(this->core, change->id, &replica.ptr,
										 &replica.len, &version);
			this->mutex->unlock(this->mutex);
			if (held)
			{
				DBG1(DBG_CFG, "election: group %s: continuing from the "
					 "replicated state, version %llu (%zu octets)", group->name,
					 (unsigned long long)version, replica.len);
				gdoi->set_replica(gdoi, group->gdoi_group, replica);
				chunk_clear(&replica);
			}
		}
		if (gdoi && group && group->gdoi_group)
		{
			gdoi->set_elected(gdoi, group->gdoi_group,
							  *change->identity ? change->identity : NULL,
							  *change->identity ? change->address : NULL,
							  change->self);
		}
		if (change->self)
		{	/* the key server group serves now (or failed to start, logged):
			 * the new server announces itself, and the members that
			 * wait for its answer register to it */
			this->mutex->lock(this->mutex);
			if (this->core)
			{
				election_core_service_ready(this->core, change->id);
			}
			this->mutex->unlock(this->mutex);
		}
		if (gdoi && change->event.ptr)
		{
			gdoi->emit(gdoi, EVENT_LEADER, change->event);
		}
		free(change->event.ptr);
		free(change);
	}
}

/**
 * Take the changes of the last core call (this->mutex held)
 */
static linked_list_t *take_changes(private_election_plugin_t *this)
{
	linked_list_t *taken;

	prepare_changes(this);
	taken = this->changes;
	this->changes = linked_list_create();
	return taken;
}

static void done_changes(private_election_plugin_t *this, linked_list_t *taken)
{
	flush_changes(this, taken);
	taken->destroy(taken);
}

/**
 * The address of host as text, without the port
 */
static bool address_text(host_t *host, char *buf, size_t len)
{
	chunk_t addr = host->get_address(host);
	int family = host->get_family(host);

	return (family == AF_INET || family == AF_INET6) &&
		   addr.len == (family == AF_INET ? 4 : 16) &&
		   inet_ntop(family, addr.ptr, buf, len) != NULL;
}

/**
 * Whether host is an IPv4 or IPv6 multicast address
 */
static bool is_multicast(host_t *host)
{
	chunk_t addr = host->get_address(host);

	if (host->get_family(host) == AF_INET)
	{
		return addr.len == 4 && (addr.ptr[0] & 0xf0) == 0xe0;
	}
	return addr.len == 16 && addr.ptr[0] == 0xff;
}

/**
 * A datagram on the election port
 */
static void receive_cb(private_election_plugin_t *this, host_t *local,
					   host_t *remote, chunk_t datagram)
{
	linked_list_t *taken;
	char source[64];

	if (!address_text(remote, source, sizeof(source)))
	{
		return;
	}
	this->mutex->lock(this->mutex);
	if (!this->core)
	{
		this->mutex->unlock(this->mutex);
		return;
	}
	election_core_receive(this->core, datagram.ptr, datagram.len, source);
	taken = take_changes(this);
	this->mutex->unlock(this->mutex);
	done_changes(this, taken);
	/* a datagram may have armed a timer due sooner */
	if (this->timer)
	{
		this->timer->kick(this->timer);
	}
}

/**
 * Start the elections that can run: with auth = pubkey, once the
 * credential manager holds this node's private key (a node that cannot
 * sign must not stand, vote or call). this->mutex held.
 */
static void start_groups(private_election_plugin_t *this)
{
	enumerator_t *enumerator;
	private_key_t *private;
	group_t *group;

	enumerator = this->groups->create_enumerator(this->groups);
	while (enumerator->enumerate(enumerator, &group))
	{
		if (group->started)
		{
			continue;
		}
		if (group->signer)
		{
			private = lib->credmgr->get_private(lib->credmgr, KEY_ANY,
												group->signer, NULL);
			if (!private)
			{
				continue;
			}
			private->destroy(private);
		}
		group->started = election_core_start(this->core, group->id);
		DBG1(DBG_CFG, "election: group %s: %s", group->name,
			 group->started ? "election started" : "starting failed");
	}
	enumerator->destroy(enumerator);
}

/**
 * How often the elected server hands the core its group's state (ms)
 */
#define REPLICATE_MS 200

/**
 * Whether this node is the elected server of a group with a gdoi group
 * (this->mutex held)
 */
static bool serves_replicated(private_election_plugin_t *this)
{
	election_snapshot_t snap;
	group_t *group;
	size_t i;

	for (i = 0; this->core && i < election_core_count(this->core); i++)
	{
		if (election_core_snapshot(this->core, i, &snap) && snap.leader_self)
		{
			group = find_group(this, snap.group);
			if (group && group->gdoi_group)
			{
				return TRUE;
			}
		}
	}
	return FALSE;
}

/**
 * State replication: hand the core the current state of every gdoi group
 * this node serves as the elected key server; the core sends new versions
 * to the standbys (this->mutex not held: the gdoi plugin takes its own
 * lock, and may call list_cb() under it)
 */
static void replicate(private_election_plugin_t *this)
{
	enumerator_t *enumerator;
	election_snapshot_t snap;
	group_t *group;
	struct {
		uint32_t id;
		char gdoi_group[64];
	} serving[16];
	int count = 0, i;
	chunk_t state;

	if (!this->gdoi)
	{
		return;
	}
	this->mutex->lock(this->mutex);
	if (this->core && now_cb(this) < this->replicated + REPLICATE_MS)
	{	/* not on every datagram: at most every REPLICATE_MS */
		this->mutex->unlock(this->mutex);
		return;
	}
	if (this->core)
	{
		this->replicated = now_cb(this);
	}
	for (i = 0; this->core && i < election_core_count(this->core); i++)
	{
		if (!election_core_snapshot(this->core, i, &snap) || !snap.leader_self)
		{
			continue;
		}
		enumerator = this->groups->create_enumerator(this->groups);
		while (count < countof(serving) &&
			   enumerator->enumerate(enumerator, &group))
		{
			if (group->id == snap.group && group->gdoi_group &&
				strlen(group->gdoi_group) < sizeof(serving[0].gdoi_group))
			{
				serving[count].id = group->id;
				strcpy(serving[count].gdoi_group, group->gdoi_group);
				count++;
			}
		}
		enumerator->destroy(enumerator);
	}
	this->mutex->unlock(this->mutex);
	for (i = 0; i < count; i++)
	{
		if (!this->gdoi->snapshot(this->gdoi, serving[i].gdoi_group, &state))
		{
			continue;
		}
		this->mutex->lock(this->mutex);
		if (this->core &&
			!election_core_set_replica(this->core, serving[i].id, state.ptr,
									   state.len))
		{
			DBG2(DBG_CFG, "election: group %u: state of %zu octets not "
				 "replicated", serving[i].id, state.len);
		}
		this->mutex->unlock(this->mutex);
		chunk_clear(&state);
	}
}

/**
 * Run the core's due timers; milliseconds until the next
 */
static uint32_t tick_cb(private_election_plugin_t *this)
{
	linked_list_t *taken;
	uint64_t now, next;
	uint32_t wait;

	this->mutex->lock(this->mutex);
	if (!this->core)
	{
		this->mutex->unlock(this->mutex);
		return MAX_WAIT_MS;
	}
	start_groups(this);
	now = now_cb(this);
	if (election_core_next_deadline(this->core) <= now)
	{
		election_core_on_timer(this->core);
	}
	next = election_core_next_deadline(this->core);
	now = now_cb(this);
	wait = next <= now ? 1 : next - now > MAX_WAIT_MS ? MAX_WAIT_MS : next - now;
	if (serves_replicated(this) && wait > REPLICATE_MS)
	{	/* the elected server looks for a new state this often */
		wait = REPLICATE_MS;
	}
	taken = take_changes(this);
	this->mutex->unlock(this->mutex);
	done_changes(this, taken);
	replicate(this);
	return wait;
}

/**
 * The control socket's list-elections (the gdoi plugin's lock held)
 */
static bool list_cb(private_election_plugin_t *this, const uint8_t *request,
					size_t len, uint8_t **response, size_t *response_len)
{
	bool ok = FALSE;

	this->mutex->lock(this->mutex);
	if (this->core)
	{
		ok = election_core_list_message(this->core, request, len, response,
										response_len);
	}
	this->mutex->unlock(this->mutex);
	return ok;
}

/**
 * A number of a group's settings, def if it is not set
 */
static u_int get_uint(char *name, char *key, u_int def)
{
	return lib->settings->get_int(lib->settings,
					"%s.plugins.election.groups.%s.%s", def, lib->ns, name, key);
}

/**
 * Add the identities of a comma-separated list as peers of a group
 */
static bool add_peers(private_election_plugin_t *this, group_t *group,
					  char *list, bool candidate, const char *self)
{
	enumerator_t *enumerator;
	const char *why = NULL;
	char *id;

	if (!list)
	{
		return TRUE;
	}
	enumerator = enumerator_create_token(list, ",", " ");
	while (!why && enumerator->enumerate(enumerator, &id))
	{
		if (streq(id, self))
		{
			continue;
		}
		why = election_core_add_peer(this->core, group->id, id, NULL, 0,
									 candidate);
		if (why)
		{
			DBG1(DBG_CFG, "election: group %s: %s %s: %s", group->name,
				 candidate ? "candidate" : "member", id, why);
		}
	}
	enumerator->destroy(enumerator);
	return why == NULL;
}

/**
 * Read, check and add one group; FALSE (logged) if it is refused
 */
static bool load_group(private_election_plugin_t *this, char *name)
{
	election_group_conf_t conf = {
		.name = name,
	};
	char *identity, *address, *auth, *psk, *multicast, *peers, *candidates;
	char *key = "%s.plugins.election.groups.%s.%s";
	enumerator_t *enumerator;
	group_t *group;
	const char *why;
	char *peer;
	host_t *host;
	int id;

	identity = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "identity");
	address = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "address");
	auth = lib->settings->get_str(lib->settings, key, "pubkey", lib->ns, name, "auth");
	psk = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "psk");
	multicast = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "multicast");
	peers = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "peers");
	candidates = lib->settings->get_str(lib->settings, key, NULL, lib->ns, name, "candidates");
	id = lib->settings->get_int(lib->settings, key, -1, lib->ns, name, "group");

	if (id < 0 || !identity || !address || !candidates)
	{
		DBG1(DBG_CFG, "election: group %s: group, identity, address and "
			 "candidates are required", name);
		return FALSE;
	}
	if (!multicast == !peers)
	{
		DBG1(DBG_CFG, "election: group %s: set either multicast or peers",
			 name);
		return FALSE;
	}
	if (find_group(this, id))
	{
		DBG1(DBG_CFG, "election: group %s: group %d is configured twice",
			 name, id);
		return FALSE;
	}
	INIT(group,
		.name = strdup(name),
		.id = id,
		.peers = linked_list_create(),
		.gdoi_group = strdupnull(lib->settings->get_str(lib->settings, key,
									NULL, lib->ns, name, "gdoi_group")),
	);
	group->local = host_create_from_string(address, this->port);
	if (!group->local)
	{
		DBG1(DBG_CFG, "election: group %s: address '%s' is no IP address",
			 name, address);
		group_destroy(group);
		return FALSE;
	}
	if (multicast)
	{
		group->multicast = host_create_from_string(multicast, this->port);
		if (!group->multicast ||
			group->multicast->get_family(group->multicast) !=
				group->local->get_family(group->local) ||
			!is_multicast(group->multicast))
		{
			DBG1(DBG_CFG, "election: group %s: multicast '%s' is no multicast "
				 "address of the family of %s", name, multicast, address);
			group_destroy(group);
			return FALSE;
		}
	}
	else
	{
		enumerator = enumerator_create_token(peers, ",", " ");
		while (enumerator->enumerate(enumerator, &peer))
		{
			host = host_create_from_string(peer, this->port);
			if (!host || host->get_family(host) !=
							group->local->get_family(group->local))
			{
				DBG1(DBG_CFG, "election: group %s: peer '%s' is no address of "
					 "the family of %s", name, peer, address);
				DESTROY_IF(host);
				enumerator->destroy(enumerator);
				group_destroy(group);
				return FALSE;
			}
			group->peers->insert_last(group->peers, host);
		}
		enumerator->destroy(enumerator);
	}

	conf.group = id;
	conf.identity = identity;
	conf.address = address;
	conf.candidate = lib->settings->get_bool(lib->settings, key, FALSE,
											 lib->ns, name, "candidate");
	conf.priority = get_uint(name, "priority", 0);
	conf.retransmits = get_uint(name, "retransmits", 0);
	conf.max_attempts = get_uint(name, "max_attempts", 0);
	conf.rogue_stack = get_uint(name, "rogue_stack", 0);
	conf.query_ms = get_uint(name, "query", 0);
	conf.keepalive_ms = get_uint(name, "keepalive", 0);
	conf.listen_ms = get_uint(name, "listen", 0);
	conf.probation_ms = get_uint(name, "probation", 0);
	conf.call_jitter_ms = get_uint(name, "call_jitter", 0);
	conf.incomplete_retry_ms = get_uint(name, "incomplete_retry", 0);
	conf.rogue_hold_ms = get_uint(name, "rogue_hold", 0);
	/* state replication only for a gdoi group's key server */
	conf.no_replication = !group->gdoi_group;
	/* the elected server answers once its gdoi group serves */
	conf.await_service = group->gdoi_group != NULL;
	/* above anything sent before a restart */
	conf.first_sequence = (uint64_t)time(NULL) << 20;
	if (get_uint(name, "priority", 0) > 255)
	{
		DBG1(DBG_CFG, "election: group %s: priority above 255", name);
		group_destroy(group);
		return FALSE;
	}
	if (streq(auth, "pubkey"))
	{
		conf.auth = ELECTION_AUTH_PUBKEY;
		group->signer = identification_create_from_string(identity);
	}
	else if (streq(auth, "psk"))
	{
		if (!psk)
		{
			DBG1(DBG_CFG, "election: group %s: auth = psk needs psk", name);
			group_destroy(group);
			return FALSE;
		}
		conf.auth = ELECTION_AUTH_GROUP_PSK;
		conf.key = (uint8_t*)psk;
		conf.key_len = strlen(psk);
	}
	else
	{
		DBG1(DBG_CFG, "election: group %s: auth '%s' is not pubkey or psk",
			 name, auth);
		group_destroy(group);
		return FALSE;
	}
	why = election_core_add_group(this->core, &conf);
	if (why)
	{
		DBG1(DBG_CFG, "election: group %s: %s", name, why);
		group_destroy(group);
		return FALSE;
	}
	this->groups->insert_last(this->groups, group);
	if (!add_peers(this, group, candidates, TRUE, identity) ||
		!add_peers(this, group, lib->settings->get_str(lib->settings, key,
							NULL, lib->ns, name, "members"), FALSE, identity))
	{
		return FALSE;
	}
	DBG1(DBG_CFG, "election: group %s (%u): %s %s at %s, %s, %s %s", name, id,
		 conf.candidate ? "candidate" : "member", identity, address, auth,
		 multicast ? "multicast" : "peers", multicast ?: peers);
	return TRUE;
}

/**
 * Load every group; FALSE if one is refused (nothing runs then)
 */
static bool load_groups(private_election_plugin_t *this)
{
	enumerator_t *enumerator;
	char *name;
	bool ok = TRUE;

	enumerator = lib->settings->create_section_enumerator(lib->settings,
								"%s.plugins.election.groups", lib->ns);
	while (ok && enumerator->enumerate(enumerator, &name))
	{
		ok = load_group(this, name);
	}
	enumerator->destroy(enumerator);
	return ok;
}

/**
 * Stop and destroy what the plugin started, the newest first
 */
static void stop(private_election_plugin_t *this)
{
	linked_list_t *taken;
	change_t *change;

	if (this->gdoi)
	{
		this->gdoi->remove(this->gdoi, CMD_LIST);
		this->gdoi->remove(this->gdoi, EVENT_LEADER);
		this->gdoi = NULL;
	}
	DESTROY_IF(this->timer);
	this->timer = NULL;
	DESTROY_IF(this->socket);
	this->socket = NULL;
	this->mutex->lock(this->mutex);
	if (this->core)
	{
		election_core_destroy(this->core);
		this->core = NULL;
	}
	taken = this->changes;
	this->changes = linked_list_create();
	this->groups->destroy_function(this->groups, (void*)group_destroy);
	this->groups = linked_list_create();
	this->mutex->unlock(this->mutex);
	while (taken->remove_first(taken, (void**)&change) == SUCCESS)
	{
		free(change->event.ptr);
		chunk_clear(&change->merge);
		free(change);
	}
	taken->destroy(taken);
	DESTROY_IF(this->rng);
	this->rng = NULL;
}

/**
 * Create the core, read the groups, open the socket, start the elections
 */
static bool start(private_election_plugin_t *this)
{
	election_callbacks_t cb = {
		.ctx = this,
		.send = (void*)send_cb,
		.leader_changed = (void*)leader_cb,
		.incomplete = (void*)incomplete_cb,
		.now_ms = (void*)now_cb,
		.sign = (void*)sign_cb,
		.verify = (void*)verify_cb,
		.random = (void*)random_cb,
		.merge = (void*)merge_cb,
	};
	enumerator_t *enumerator;
	group_t *group;

	this->rng = lib->crypto->create_rng(lib->crypto, RNG_WEAK);
	this->core = election_core_create();
	if (!this->core)
	{
		DBG1(DBG_CFG, "election: creating the election core failed");
		return FALSE;
	}
	this->port = lib->settings->get_int(lib->settings,
					"%s.plugins.election.port", election_core_port(this->core),
					lib->ns);
	DBG1(DBG_CFG, "election: %s", election_core_describe(this->core));
	election_core_set_callbacks(this->core, &cb);
	if (!load_groups(this))
	{
		return FALSE;
	}
	if (this->groups->get_count(this->groups) == 0)
	{
		DBG1(DBG_CFG, "election: no groups configured");
		return TRUE;
	}
	this->socket = gs_socket_create("election", this->port,
									(gs_socket_cb_t)receive_cb, this);
	if (!this->socket)
	{
		DBG1(DBG_CFG, "election: no socket on UDP port %u", this->port);
		return FALSE;
	}
	enumerator = this->groups->create_enumerator(this->groups);
	while (enumerator->enumerate(enumerator, &group))
	{
		if (group->multicast &&
			!this->socket->join(this->socket, group->multicast))
		{
			DBG1(DBG_CFG, "election: group %s: joining %H failed", group->name,
				 group->multicast);
		}
	}
	enumerator->destroy(enumerator);
	this->gdoi = lib->get(lib, GDOI_EXT_NAME);
	if (this->gdoi)
	{
		if (!this->gdoi->add_command(this->gdoi, CMD_LIST, (void*)list_cb, this) ||
			!this->gdoi->add_event(this->gdoi, EVENT_LEADER))
		{
			DBG1(DBG_CFG, "election: the gdoi control socket refused %s",
				 CMD_LIST);
		}
	}
	else
	{
		DBG1(DBG_CFG, "election: the gdoi plugin is not loaded: no control "
			 "commands, no key server switched");
	}
	this->mutex->lock(this->mutex);
	start_groups(this);
	this->mutex->unlock(this->mutex);
	this->timer = gs_timer_create((gs_timer_cb_t)tick_cb, this);
	this->timer->kick(this->timer);
	return TRUE;
}

METHOD(plugin_t, get_name, char*,
	private_election_plugin_t *this)
{
	return "election";
}

/**
 * Load or unload the election core, its socket and timer.
 */
static bool plugin_cb(private_election_plugin_t *this,
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
	private_election_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK((plugin_feature_callback_t)plugin_cb, NULL),
			PLUGIN_PROVIDE(CUSTOM, "election"),
				PLUGIN_SDEPEND(CUSTOM, "gdoi"),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void,
	private_election_plugin_t *this)
{
	stop(this);
	this->groups->destroy(this->groups);
	this->changes->destroy(this->changes);
	this->mutex->destroy(this->mutex);
	free(this);
}

/**
 * Plugin constructor, see header.
 */
plugin_t *election_plugin_create()
{
	private_election_plugin_t *this;

	INIT(this,
		.public = {
			.plugin = {
				.get_name = _get_name,
				.get_features = _get_features,
				.destroy = _destroy,
			},
		},
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.groups = linked_list_create(),
		.changes = linked_list_create(),
	);

	return &this->public.plugin;
}
