/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * CMocka tests of the gdoi plugin's charon glue: the C++ core is replaced
 * by mocks, charon is real and idle. They check what the glue hands the
 * core (settings, datagrams, control socket bytes), what the core's
 * callbacks do in charon (sockets, credential manager, the key server's
 * state files) and what the glue checks itself (PSKs shared by members).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <daemon.h>
#include <library.h>
#include <bus/listeners/logger.h>
#include <collections/enumerator.h>
#include <credentials/sets/mem_cred.h>
#include <plugins/plugin.h>
#include <plugins/plugin_feature.h>
#include <threading/mutex.h>
#include <threading/condvar.h>

#include <cmocka.h>

#include "gdoi_core.h"
#include "gs_gdoi_ext.h"
#include "gdoi_creds.h"
#include "gdoi_state.h"
#include "glue_test_util.h"

#define TEST_PORT 18848
#define TEST_NATT_PORT 18500
#define TEST_SOCKET "/tmp/gdoi-glue-test.vici"

plugin_t *gdoi_plugin_create(void);

/* ---- mocked core: records what the glue hands it */

static int fake_core;
static gdoi_core_env_t env;
static bool create_fails;
static char *loaded[32][2];
static int loaded_count;
static int load_result;
static int load_calls, psk_group_calls;

static mutex_t *seen_lock;
static condvar_t *seen_cond;
static chunk_t seen_datagram;
static gdoi_addr_t seen_remote, seen_local;
static gdoi_transport_t transport;
static int transport_calls;
static int control_opened, control_closed;

gdoi_core_t *gdoi_core_create(const gdoi_core_env_t *e, uint32_t reqid_base)
{
	if (create_fails)
	{
		return NULL;
	}
	env = *e;
	return (gdoi_core_t*)&fake_core;
}

bool gdoi_core_set_transport(gdoi_core_t *core, const gdoi_transport_t *t,
							 char *err, size_t err_len)
{
	transport = *t;
	transport_calls++;
	return TRUE;
}

uint16_t gdoi_core_port(gdoi_core_t *core)
{
	return TEST_PORT;
}

const char *gdoi_core_describe(gdoi_core_t *core)
{
	return "mock core";
}

bool gdoi_core_registered(gdoi_core_t *core, const char *group)
{
	return FALSE;
}

int gdoi_core_load(gdoi_core_t *core, const char *const *keys,
				   const char *const *values, size_t n, char *err, size_t err_len)
{
	size_t i;

	for (i = 0; i < n && i < countof(loaded); i++)
	{
		loaded[i][0] = strdup(keys[i]);
		loaded[i][1] = strdup(values[i]);
	}
	loaded_count = n;
	load_calls++;
	if (load_result < 0)
	{
		snprintf(err, err_len, "mock refuses");
	}
	return load_result;
}

void gdoi_core_psk_groups(gdoi_core_t *core,
						  void (*cb)(void *data, const char *group,
									 const gdoi_id_t *local,
									 const gdoi_id_t *members, size_t count),
						  void *data)
{
	psk_group_calls++;
}

size_t gdoi_core_local_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max)
{
	return 0;
}

size_t gdoi_core_multicast_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max)
{
	return 0;
}

void gdoi_core_receive(gdoi_core_t *core, const gdoi_addr_t *local,
					   const gdoi_addr_t *remote, const uint8_t *data, size_t len)
{
	seen_lock->lock(seen_lock);
	chunk_free(&seen_datagram);
	seen_datagram = chunk_clone(chunk_create((u_char*)data, len));
	seen_remote = *remote;
	seen_local = *local;
	seen_cond->broadcast(seen_cond);
	seen_lock->unlock(seen_lock);
}

static int ticks;
static uint32_t tick_wait = 1000;

uint32_t gdoi_core_tick(gdoi_core_t *core)
{
	uint32_t wait;

	seen_lock->lock(seen_lock);
	ticks++;
	wait = tick_wait;
	seen_cond->broadcast(seen_cond);
	seen_lock->unlock(seen_lock);
	return wait;
}

/* control clients: what is queued for each, by id */
#define MAX_CLIENTS 8
static chunk_t client_out[MAX_CLIENTS];
/* an endless stream of output (a client that subscribed to a lot) */
static bool client_endless[MAX_CLIENTS];
/* the queue overflowed: output() asks to close */
static bool client_overflow[MAX_CLIENTS];
static mutex_t *client_lock;
static unsigned last_opened;
static bool client_broken[MAX_CLIENTS];

bool gdoi_core_client_open(gdoi_core_t *core, unsigned id)
{
	if (id >= MAX_CLIENTS)
	{
		return FALSE;
	}
	client_lock->lock(client_lock);
	control_opened++;
	last_opened = id;
	chunk_free(&client_out[id]);
	client_endless[id] = client_overflow[id] = client_broken[id] = FALSE;
	client_lock->unlock(client_lock);
	return TRUE;
}

/* configurations applied; a client's byte 'g' applies one (load-config) */
static unsigned core_generation;

unsigned gdoi_core_config_generation(gdoi_core_t *core)
{
	return core_generation;
}

/* echoes the bytes, 7 made 8; byte 0xff breaks the protocol */
bool gdoi_core_client_input(gdoi_core_t *core, unsigned id,
							const uint8_t *data, size_t len)
{
	chunk_t more = chunk_clone(chunk_create((u_char*)data, len));
	bool ok = TRUE;
	size_t i;

	for (i = 0; i < more.len; i++)
	{
		core_generation += more.ptr[i] == 'g';
		ok = ok && more.ptr[i] != 0xff;
		more.ptr[i] += more.ptr[i] == 7;
	}
	client_lock->lock(client_lock);
	client_out[id] = chunk_cat("mm", client_out[id], more);
	/* the core's rule: a client that broke the protocol is closed once
	 * its answers are out */
	client_overflow[id] |= !ok && !client_out[id].len;
	client_broken[id] |= !ok;
	client_lock->unlock(client_lock);
	env.control_wake(env.ctx, id);
	return ok;
}

long gdoi_core_client_output(gdoi_core_t *core, unsigned id, uint8_t *buf,
							 size_t len)
{
	long n;

	client_lock->lock(client_lock);
	if (client_overflow[id])
	{
		n = -1;
	}
	else if (client_endless[id])
	{
		if (len)
		{
			memset(buf, 'e', len);
		}
		n = len;
	}
	else
	{
		n = min(len, client_out[id].len);
		if (n)
		{
			memcpy(buf, client_out[id].ptr, n);
		}
		if (!client_out[id].len && client_broken[id])
		{
			n = -1;
		}
	}
	client_lock->unlock(client_lock);
	return n;
}

void gdoi_core_client_written(gdoi_core_t *core, unsigned id, size_t n)
{
	chunk_t rest;

	client_lock->lock(client_lock);
	if (!client_endless[id])
	{
		rest = chunk_clone(chunk_skip(client_out[id], n));
		chunk_free(&client_out[id]);
		client_out[id] = rest;
	}
	client_lock->unlock(client_lock);
}

void gdoi_core_client_close(gdoi_core_t *core, unsigned id)
{
	client_lock->lock(client_lock);
	control_closed++;
	chunk_free(&client_out[id]);
	client_lock->unlock(client_lock);
}

/* the relayed-traffic feed is off unless configured: never called here */
void gdoi_core_shortcut_packet(gdoi_core_t *core, const uint8_t *pkt,
							   size_t len)
{
	fail_msg("relayed traffic fed without shortcut_relay_interface");
}

/* charon's roam events: the tests here change no address, and a roam event
 * that comes anyway finds no IKE SA to move */
size_t gdoi_core_roam(gdoi_core_t *core,
					  bool (*is_local)(void *ctx, const gdoi_addr_t *addr),
					  bool (*source)(void *ctx, const gdoi_addr_t *dst,
									 gdoi_addr_t *src), void *ctx)
{
	return 0;
}

/* what other plugins asked of the core through gdoi_ext_t */
static char ext_calls[512];

static void ext_call(const char *what)
{
	snprintf(ext_calls + strlen(ext_calls), sizeof(ext_calls) - strlen(ext_calls),
			 "%s%s", *ext_calls ? " " : "", what);
}

bool gdoi_core_control_add_command(gdoi_core_t *core, const char *name,
								   gdoi_core_command_cb_t cb, void *ctx)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "command:%s", name);
	ext_call(buf);
	return cb != NULL;
}

bool gdoi_core_control_add_event(gdoi_core_t *core, const char *name)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "event:%s", name);
	ext_call(buf);
	return TRUE;
}

void gdoi_core_control_remove(gdoi_core_t *core, const char *name)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "remove:%s", name);
	ext_call(buf);
}

bool gdoi_core_control_emit(gdoi_core_t *core, const char *name,
							const uint8_t *message, size_t len)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "emit:%s:%zu", name, len);
	ext_call(buf);
	return TRUE;
}

bool gdoi_core_set_elected(gdoi_core_t *core, const char *group,
						   const char *identity, const char *address,
						   bool self, char *err, size_t err_len)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "elected:%s:%s:%s:%s", group, identity ?: "-",
			 address ?: "-", self ? "self" : "other");
	ext_call(buf);
	if (streq(group, "red"))
	{
		snprintf(err, err_len, "group 'red' does not wait for an election");
		return FALSE;
	}
	return TRUE;
}

void gdoi_core_destroy(gdoi_core_t *core)
{
	function_called();
	check_expected_ptr(core);
}

/* ---- helpers */

static void unload(plugin_t *plugin)
{
	expect_function_call(gdoi_core_destroy);
	expect_value(gdoi_core_destroy, core, &fake_core);
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
}

static void reset(void)
{
	int i;

	for (i = 0; i < loaded_count && i < countof(loaded); i++)
	{
		free(loaded[i][0]);
		free(loaded[i][1]);
	}
	loaded_count = 0;
	load_result = 1;
	create_fails = FALSE;
	memset(&env, 0, sizeof(env));
}

static const char *loaded_value(const char *key)
{
	int i;

	for (i = 0; i < loaded_count; i++)
	{
		if (streq(loaded[i][0], key))
		{
			return loaded[i][1];
		}
	}
	return NULL;
}

/* ---- tests */

static void test_features(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	plugin_feature_t *f;
	int n;

	assert_string_equal(plugin->get_name(plugin), "gdoi");
	f = glue_features_of(plugin, &n);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].kind, FEATURE_CALLBACK);
	assert_int_equal(f[1].kind, FEATURE_PROVIDE);
	assert_string_equal(f[1].arg.custom, "gdoi");
	assert_int_equal(f[2].kind, FEATURE_SDEPEND);
	assert_string_equal(f[2].arg.custom, "kernel-ipsec");
	plugin->destroy(plugin);
}

static void test_settings_reach_the_core_flattened(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.groups.blue.role",
						   "member", lib->ns);
	lib->settings->set_str(lib->settings,
						   "%s.plugins.gdoi.groups.blue.tek-1.local_ts",
						   "10.0.0.0/8", lib->ns);
	lib->settings->set_str(lib->settings,
				"%s.plugins.gdoi.groups.blue.endpoints.gm2.gateway",
				"192.0.2.12", lib->ns);
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(loaded_count, 3);
	assert_string_equal(loaded_value("blue.role"), "member");
	assert_string_equal(loaded_value("blue.tek-1.local_ts"), "10.0.0.0/8");
	assert_string_equal(loaded_value("blue.endpoints.gm2.gateway"), "192.0.2.12");
	assert_non_null(env.send);
	assert_non_null(env.shared_key);
	assert_non_null(env.add_sa);
	unload(plugin);
}

static bool ext_command(void *ctx, const uint8_t *request, size_t len,
						uint8_t **response, size_t *response_len)
{
	return FALSE;
}

bool gdoi_core_snapshot(gdoi_core_t *core, const char *group, uint8_t **out,
						size_t *len, char *err, size_t err_len)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "snapshot:%s", group);
	ext_call(buf);
	if (!streq(group, "blue"))
	{
		snprintf(err, err_len, "group '%s' does not wait for an election", group);
		return FALSE;
	}
	*out = malloc(3);
	memcpy(*out, "abc", 3);
	*len = 3;
	return TRUE;
}

bool gdoi_core_set_replica(gdoi_core_t *core, const char *group,
						   const uint8_t *data, size_t len, char *err,
						   size_t err_len)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "replica:%s:%zu", group, len);
	ext_call(buf);
	if (!streq(group, "blue"))
	{
		snprintf(err, err_len, "no key server group");
		return FALSE;
	}
	return TRUE;
}

bool gdoi_core_merge_replica(gdoi_core_t *core, const char *group,
							 const uint8_t *data, size_t len, char *err,
							 size_t err_len)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "merge:%s:%zu", group, len);
	ext_call(buf);
	if (!streq(group, "blue"))
	{
		snprintf(err, err_len, "no key server group");
		return FALSE;
	}
	return TRUE;
}

static void test_other_plugins_reach_the_core_through_gdoi_ext(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	gdoi_ext_t *ext;
	u_char msg[] = {3, 1, 'a', 0, 1, 'b'};

	reset();
	memset(ext_calls, 0, sizeof(ext_calls));
	assert_null(lib->get(lib, GDOI_EXT_NAME));
	assert_true(glue_load(plugin, TRUE));
	ext = lib->get(lib, GDOI_EXT_NAME);
	assert_non_null(ext);
	assert_true(ext->add_command(ext, "list-elections", ext_command, NULL));
	assert_true(ext->add_event(ext, "leader-changed"));
	assert_true(ext->emit(ext, "leader-changed", chunk_from_thing(msg)));
	assert_true(ext->set_elected(ext, "blue", "ks2.example.net", "192.0.2.2", TRUE));
	assert_false(ext->set_elected(ext, "red", NULL, NULL, FALSE));
	/* state replication: the server's snapshot out, a standby's in */
	{
		chunk_t state = chunk_empty;

		assert_true(ext->snapshot(ext, "blue", &state));
		assert_int_equal(state.len, 3);
		assert_memory_equal(state.ptr, "abc", 3);
		chunk_free(&state);
		assert_false(ext->snapshot(ext, "red", &state));
		assert_true(ext->set_replica(ext, "blue", chunk_from_thing(msg)));
		assert_false(ext->set_replica(ext, "red", chunk_from_thing(msg)));
		assert_true(ext->merge_replica(ext, "blue", chunk_from_thing(msg)));
		assert_false(ext->merge_replica(ext, "red", chunk_from_thing(msg)));
	}
	ext->remove(ext, "list-elections");
	/* the plugin's own glue serves trust (the shared trust lists) first */
	assert_string_equal(ext_calls, "command:trust command:list-elections event:leader-changed "
						"emit:leader-changed:6 elected:blue:ks2.example.net:192.0.2.2:self "
						"elected:red:-:-:other snapshot:blue snapshot:red replica:blue:6 "
						"replica:red:6 merge:blue:6 merge:red:6 remove:list-elections");
	unload(plugin);
	/* gone with the plugin's features */
	assert_null(lib->get(lib, GDOI_EXT_NAME));
}

static void test_a_refused_configuration_still_loads_the_plugin(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	load_result = -1;
	assert_true(glue_load(plugin, TRUE));
	unload(plugin);
}

static void test_an_unreadable_config_file_loads_no_group(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.config",
						   "/nonexistent/gdoi.conf", lib->ns);
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(loaded_count, 0);
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.config", NULL,
						   lib->ns);
}

static void test_the_core_cannot_be_created(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	create_fails = TRUE;
	assert_false(glue_load(plugin, TRUE));
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
}

static void test_datagrams_reach_the_core_and_the_core_can_send(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_port = htons(TEST_PORT),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	}, me = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t me_len = sizeof(me);
	gdoi_addr_t local = { .len = 4, .ip = {127, 0, 0, 1}, .port = TEST_PORT };
	gdoi_addr_t remote = { .len = 4, .ip = {127, 0, 0, 1} };
	char reply[16];
	struct pollfd pfd;
	int fd, waited = 0;

	reset();
	assert_true(glue_load(plugin, TRUE));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr*)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr*)&me, &me_len), 0);

	seen_lock->lock(seen_lock);
	chunk_free(&seen_datagram);
	assert_int_equal(sendto(fd, "hello", 5, 0, (struct sockaddr*)&to,
							sizeof(to)), 5);
	while (!seen_datagram.len && waited++ < 50)
	{
		seen_cond->timed_wait(seen_cond, seen_lock, 100);
	}
	assert_int_equal(seen_datagram.len, 5);
	assert_memory_equal(seen_datagram.ptr, "hello", 5);
	assert_int_equal(seen_remote.len, 4);
	assert_int_equal(seen_remote.port, ntohs(me.sin_port));
	seen_lock->unlock(seen_lock);

	/* the core's send callback goes out through the plugin's socket */
	remote.port = ntohs(me.sin_port);
	env.send(env.ctx, &local, &remote, (const uint8_t*)"world", 5);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(recv(fd, reply, sizeof(reply), 0), 5);
	assert_memory_equal(reply, "world", 5);
	close(fd);
	unload(plugin);
}

/* a datagram from fd to 127.0.0.1:port reaches the core; returns the local
 * address the core was given */
static gdoi_addr_t deliver(int fd, uint16_t port, const char *text)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	gdoi_addr_t local;
	int waited = 0;

	seen_lock->lock(seen_lock);
	chunk_free(&seen_datagram);
	assert_int_equal(sendto(fd, text, strlen(text), 0, (struct sockaddr*)&to,
							sizeof(to)), strlen(text));
	while (!seen_datagram.len && waited++ < 50)
	{
		seen_cond->timed_wait(seen_cond, seen_lock, 100);
	}
	assert_int_equal(seen_datagram.len, strlen(text));
	local = seen_local;
	seen_lock->unlock(seen_lock);
	return local;
}

static void test_transport_settings_reach_the_core(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	transport_calls = 0;
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(transport_calls, 1);
	assert_int_equal(transport.port, 848);
	assert_int_equal(transport.port_nat_t, 0);
	assert_true(transport.fragmentation);
	assert_int_equal(transport.fragment_size, 0);
	unload(plugin);

	lib->settings->set_int(lib->settings, "%s.plugins.gdoi.port", 1500, lib->ns);
	lib->settings->set_bool(lib->settings, "%s.plugins.gdoi.fragmentation",
							FALSE, lib->ns);
	lib->settings->set_int(lib->settings, "%s.plugins.gdoi.fragment_size",
						   1400, lib->ns);
	plugin = gdoi_plugin_create();
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(transport.port, 1500);
	assert_false(transport.fragmentation);
	assert_int_equal(transport.fragment_size, 1400);
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.port", NULL, lib->ns);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.fragmentation",
						   NULL, lib->ns);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.fragment_size",
						   NULL, lib->ns);
}

static void test_charons_own_ports_are_refused(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	/* charon's socket keeps 500 and 4500 unless moved */
	lib->settings->set_int(lib->settings, "%s.plugins.gdoi.port_nat_t", 4500,
						   lib->ns);
	expect_function_call(gdoi_core_destroy);
	expect_value(gdoi_core_destroy, core, &fake_core);
	assert_false(glue_load(plugin, TRUE));
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
	/* moved: allowed */
	lib->settings->set_int(lib->settings, "%s.port_nat_t", 14500, lib->ns);
	plugin = gdoi_plugin_create();
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(transport.port_nat_t, 4500);
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.port_nat_t", NULL,
						   lib->ns);
	lib->settings->set_str(lib->settings, "%s.port_nat_t", NULL, lib->ns);
}

static void test_the_nat_traversal_port_has_its_own_socket(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	struct sockaddr_in me = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	}, from;
	socklen_t me_len = sizeof(me), from_len = sizeof(from);
	gdoi_addr_t local, remote = { .len = 4, .ip = {127, 0, 0, 1} };
	struct pollfd pfd;
	char reply[16];
	int fd;

	reset();
	lib->settings->set_int(lib->settings, "%s.plugins.gdoi.port_nat_t",
						   TEST_NATT_PORT, lib->ns);
	assert_true(glue_load(plugin, TRUE));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr*)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr*)&me, &me_len), 0);

	/* the core learns the port each datagram came to */
	local = deliver(fd, TEST_PORT, "to 848");
	assert_int_equal(local.port, TEST_PORT);
	local = deliver(fd, TEST_NATT_PORT, "to 4500");
	assert_int_equal(local.port, TEST_NATT_PORT);

	/* and sends from either port */
	remote.port = ntohs(me.sin_port);
	pfd.fd = fd;
	pfd.events = POLLIN;
	env.send(env.ctx, &local, &remote, (const uint8_t*)"natt", 4);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(recvfrom(fd, reply, sizeof(reply), 0,
							  (struct sockaddr*)&from, &from_len), 4);
	assert_int_equal(ntohs(from.sin_port), TEST_NATT_PORT);
	local.port = TEST_PORT;
	env.send(env.ctx, &local, &remote, (const uint8_t*)"main", 4);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(recvfrom(fd, reply, sizeof(reply), 0,
							  (struct sockaddr*)&from, &from_len), 4);
	assert_int_equal(ntohs(from.sin_port), TEST_PORT);
	close(fd);
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.port_nat_t", NULL,
						   lib->ns);
}

static void test_shared_keys_come_from_the_credential_manager(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	mem_cred_t *creds = mem_cred_create();
	identification_t *gm, *ks;
	linked_list_t *owners;
	gdoi_id_t a = { .type = ID_FQDN, .data = (uint8_t*)"gm1.example.net",
					.len = strlen("gm1.example.net") };
	gdoi_id_t b = { .type = ID_FQDN, .data = (uint8_t*)"ks.example.net",
					.len = strlen("ks.example.net") };
	gdoi_id_t c = { .type = ID_FQDN, .data = (uint8_t*)"other.example.net",
					.len = strlen("other.example.net") };
	uint8_t key[64];
	size_t len = sizeof(key);

	reset();
	gm = identification_create_from_string("gm1.example.net");
	ks = identification_create_from_string("ks.example.net");
	owners = linked_list_create_with_items(gm, ks, NULL);
	creds->add_shared_list(creds, shared_key_create(SHARED_IKE,
							chunk_clone(chunk_from_str("group secret"))), owners);
	lib->credmgr->add_set(lib->credmgr, &creds->set);

	assert_true(glue_load(plugin, TRUE));
	assert_true(env.shared_key(env.ctx, &a, &b, key, &len));
	assert_int_equal(len, strlen("group secret"));
	assert_memory_equal(key, "group secret", len);
	len = sizeof(key);
	assert_false(env.shared_key(env.ctx, &c, &c, key, &len));
	len = 4;
	assert_false(env.shared_key(env.ctx, &a, &b, key, &len)); /* too small */
	/* no private key for this identity: no signature, and nothing verifies */
	{
		uint8_t *auth = NULL;
		size_t auth_len = 0;
		uint8_t junk[] = { 3, 1, 2, 3, 4, 5 };

		assert_false(env.sign(env.ctx, &b, (const uint8_t*)"x", 1, &auth, &auth_len));
		assert_null(auth);
		assert_false(env.verify(env.ctx, &b, "blue", GDOI_PEER_KEY_SERVER,
								(const uint8_t*)"x", 1, junk, sizeof(junk)));
		assert_false(env.verify(env.ctx, &b, "blue", GDOI_PEER_MEMBER,
								(const uint8_t*)"x", 1, junk, 0));
	}
	unload(plugin);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
}

static void test_the_control_socket_passes_bytes_both_ways(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint8_t request[] = { 0, 0, 0, 3, 7, 'a', 'b' }, reply[7];
	uint8_t load[] = { 0, 0, 0, 3, 7, 'g', 'g' };
	int fd, i, psk_calls;

	reset();
	control_opened = control_closed = 0;
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.socket",
						   "unix://" TEST_SOCKET, lib->ns);
	assert_true(glue_load(plugin, TRUE));
	strcpy(addr.sun_path, TEST_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr*)&addr, sizeof(addr)), 0);
	for (i = 0; i < 2; i++)
	{
		assert_int_equal(write(fd, request, sizeof(request)), sizeof(request));
		assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL),
						 sizeof(reply));
		assert_int_equal(reply[3], 3);
		assert_int_equal(reply[4], 8);
		assert_memory_equal(reply + 5, "ab", 2);
	}
	/* a client loaded groups: the glue does what it does after a reload */
	psk_calls = psk_group_calls;
	assert_int_equal(write(fd, load, sizeof(load)), sizeof(load));
	assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL),
					 sizeof(reply));
	assert_int_equal(psk_group_calls, psk_calls + 1);
	close(fd);
	for (i = 0; i < 50 && !control_closed; i++)
	{
		usleep(20000);
	}
	assert_int_equal(control_opened, 1);
	assert_int_equal(control_closed, 1);
	unload(plugin);
}

static int control_connect(void)
{
	int fd = glue_unix_connect(TEST_SOCKET);

	assert_true(fd >= 0);
	return fd;
}

#define wait_for glue_wait_for

/* a client that never reads while endless output is queued for it: the
 * others are served, waking it never blocks, and when its queue overflows
 * it is closed */
static void test_a_stuck_control_client_blocks_nobody(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	uint8_t request[] = { 0, 0, 0, 3, 7, 'a', 'b' }, reply[7], buf[4096];
	unsigned stuck_id;
	int stuck, live, i;
	ssize_t n;

	reset();
	control_opened = control_closed = 0;
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.socket",
						   "unix://" TEST_SOCKET, lib->ns);
	assert_true(glue_load(plugin, TRUE));
	stuck = control_connect();
	assert_int_equal(write(stuck, "x", 1), 1);
	wait_for(&control_opened, 1);
	stuck_id = last_opened;
	client_lock->lock(client_lock);
	client_endless[stuck_id] = TRUE;
	client_lock->unlock(client_lock);
	/* the engine keeps queueing for it; each wake returns at once */
	for (i = 0; i < 1000; i++)
	{
		env.control_wake(env.ctx, stuck_id);
	}

	live = control_connect();
	for (i = 0; i < 20; i++)
	{
		assert_int_equal(write(live, request, sizeof(request)), sizeof(request));
		assert_int_equal(recv(live, reply, sizeof(reply), MSG_WAITALL),
						 sizeof(reply));
		assert_int_equal(reply[4], 8);
	}
	assert_int_equal(control_closed, 0);

	/* its queue overflows: it goes, the live one stays */
	client_lock->lock(client_lock);
	client_overflow[stuck_id] = TRUE;
	client_lock->unlock(client_lock);
	env.control_wake(env.ctx, stuck_id);
	wait_for(&control_closed, 1);
	/* what it did not read, then the end */
	while ((n = recv(stuck, buf, sizeof(buf), 0)) > 0)
	{
		assert_true(buf[n - 1] == 'e' || buf[n - 1] == 'x');
	}
	assert_int_equal(n, 0);
	assert_int_equal(write(live, request, sizeof(request)), sizeof(request));
	assert_int_equal(recv(live, reply, sizeof(reply), MSG_WAITALL),
					 sizeof(reply));
	close(stuck);
	close(live);
	wait_for(&control_closed, 2);
	unload(plugin);
}

static void test_a_client_breaking_the_protocol_gets_its_answer(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	uint8_t request[] = { 7, 0xff }, reply[3];
	int fd;

	reset();
	control_opened = control_closed = 0;
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.socket",
						   "unix://" TEST_SOCKET, lib->ns);
	assert_true(glue_load(plugin, TRUE));
	fd = control_connect();
	assert_int_equal(write(fd, request, sizeof(request)), sizeof(request));
	assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL), 2);
	assert_int_equal(reply[0], 8);
	assert_int_equal(reply[1], 0xff);
	wait_for(&control_closed, 1);
	close(fd);
	unload(plugin);
}

static void test_member_keys_are_appended_to_a_private_file(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	char path[] = "/tmp/gdoi-glue-member-keys-XXXXXX", text[256];
	struct stat st;
	FILE *f;
	size_t n;
	int fd;

	/* off by default */
	reset();
	assert_true(glue_load(plugin, TRUE));
	assert_null(env.save_member_key);
	unload(plugin);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	plugin = gdoi_plugin_create();
	reset();
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.save_member_keys",
						   path, lib->ns);
	assert_true(glue_load(plugin, TRUE));
	assert_non_null(env.save_member_key);
	assert_null(env.save_keys);
	env.save_member_key(env.ctx, "{\"kind\":\"kek\"}");
	env.save_member_key(env.ctx, "{\"kind\":\"tek\"}");
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.save_member_keys",
						   NULL, lib->ns);

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	assert_string_equal(text, "{\"kind\":\"kek\"}\n{\"kind\":\"tek\"}\n");
}

/* wait until the core's timers ran n times in all; seen_lock held */
static void wait_ticks(int n)
{
	timeval_t until;

	time_monotonic(&until);
	timeval_add_ms(&until, 5000);
	while (ticks < n)
	{
		if (seen_cond->timed_wait_abs(seen_cond, seen_lock, until))
		{
			break;
		}
	}
	assert_true(ticks >= n);
}

static void test_the_cores_timers_run_on_charons_scheduler(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	uint8_t request[] = { 0, 0, 0, 3, 7, 'a', 'b' }, reply[7];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, n;

	reset();
	seen_lock->lock(seen_lock);
	ticks = 0;
	/* the core asks for its next run in a minute */
	tick_wait = 60000;
	seen_lock->unlock(seen_lock);
	assert_true(glue_load(plugin, TRUE));
	/* the timers run once the plugin is loaded */
	seen_lock->lock(seen_lock);
	wait_ticks(1);
	n = ticks;
	seen_lock->unlock(seen_lock);

	/* a reload may add groups whose timers are due now */
	assert_true(plugin->reload(plugin));
	seen_lock->lock(seen_lock);
	wait_ticks(n + 1);
	n = ticks;
	seen_lock->unlock(seen_lock);

	/* so may a command on the control socket */
	strcpy(addr.sun_path, TEST_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr*)&addr, sizeof(addr)), 0);
	assert_int_equal(write(fd, request, sizeof(request)), sizeof(request));
	assert_int_equal(recv(fd, reply, sizeof(reply), MSG_WAITALL),
					 sizeof(reply));
	seen_lock->lock(seen_lock);
	wait_ticks(n + 1);
	seen_lock->unlock(seen_lock);
	close(fd);
	unload(plugin);
	seen_lock->lock(seen_lock);
	tick_wait = 1000;
	seen_lock->unlock(seen_lock);
}

/* ---- the key server's state files */

static char state_base[] = "/tmp/gdoi-glue-state-XXXXXX";
static char *default_state;

/* a fresh directory below state_base, not created yet */
static char *state_dir(const char *name)
{
	char *dir;

	assert_true(asprintf(&dir, "%s/%s", state_base, name) > 0);
	return dir;
}

static char *read_text(const char *path)
{
	char *text;
	FILE *f = fopen(path, "r");

	if (!f)
	{
		return NULL;
	}
	text = calloc(1, 65536);
	if (fread(text, 1, 65535, f) == 0)
	{
		text[0] = '\0';
	}
	fclose(f);
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
}

/* entries in a directory besides . and .. */
static int entries(const char *dir)
{
	enumerator_t *e = enumerator_create_directory(dir);
	char *name;
	int n = 0;

	assert_non_null(e);
	while (e->enumerate(e, &name, NULL, NULL))
	{
		n++;
	}
	e->destroy(e);
	return n;
}

typedef struct {
	int count;
	uint8_t type[8];
	char data[8][64];
} loaded_ids_t;

static void add_id(void *list, const gdoi_id_t *id)
{
	loaded_ids_t *ids = list;

	assert_true(ids->count < 8 && id->len < 64);
	ids->type[ids->count] = id->type;
	memcpy(ids->data[ids->count], id->data, id->len);
	ids->data[ids->count][id->len] = '\0';
	ids->count++;
}

static const gdoi_id_t three_ids[] = {
	{ .type = ID_FQDN, .data = (uint8_t*)"gm3.example.net", .len = 15 },
	{ .type = ID_RFC822_ADDR, .data = (uint8_t*)"gm4@example.net", .len = 15 },
	{ .type = ID_KEY_ID, .data = (uint8_t*)"\x01\x02\x00\xff", .len = 4 },
};

static void test_state_files_round_trip(void **state)
{
	char *dir = state_dir("round-trip"), *path, err[256] = "";
	gdoi_state_t *s;
	loaded_ids_t ids = {};
	struct stat st;

	s = gdoi_state_create(dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* nothing stored yet: nothing evicted */
	assert_true(s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)));
	assert_int_equal(ids.count, 0);

	assert_true(s->save_evicted(s, "blue", three_ids, 3, err, sizeof(err)));
	assert_true(asprintf(&path, "%s/blue.evicted", dir) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(dir), 1); /* no temporary file left */
	assert_true(s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)));
	assert_int_equal(ids.count, 3);
	assert_int_equal(ids.type[0], ID_FQDN);
	assert_string_equal(ids.data[0], "gm3.example.net");
	assert_int_equal(ids.type[1], ID_RFC822_ADDR);
	assert_string_equal(ids.data[1], "gm4@example.net");
	assert_int_equal(ids.type[2], ID_KEY_ID);
	assert_memory_equal(ids.data[2], "\x01\x02\x00\xff", 4);

	/* everyone readmitted */
	assert_true(s->save_evicted(s, "blue", NULL, 0, err, sizeof(err)));
	memset(&ids, 0, sizeof(ids));
	assert_true(s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)));
	assert_int_equal(ids.count, 0);
	/* a name that is no file name is refused */
	assert_false(s->save_evicted(s, "../blue", three_ids, 1, err, sizeof(err)));
	assert_false(s->load_evicted(s, "", add_id, &ids, err, sizeof(err)));
	s->destroy(s);
	free(path);
	free(dir);
}

static void test_state_files_are_replaced_whole(void **state)
{
	char *dir = state_dir("atomic"), *path, *red, err[256] = "", old[256];
	gdoi_state_t *s = gdoi_state_create(dir);
	struct stat before, after;
	ssize_t n;
	int fd;

	assert_true(asprintf(&path, "%s/blue.evicted", dir) > 0);
	assert_true(s->save_evicted(s, "blue", three_ids, 1, err, sizeof(err)));
	assert_int_equal(stat(path, &before), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(s->save_evicted(s, "blue", three_ids, 3, err, sizeof(err)));
	/* a reader of the old file still reads it whole: a new file took its
	 * name, the old one was not written over */
	n = read(fd, old, sizeof(old) - 1);
	assert_true(n > 0);
	old[n] = '\0';
	close(fd);
	assert_string_equal(old, "gdoi-evicted 1 blue\n"
					    "2 676d332e6578616d706c652e6e6574\n"
					    "end 1\n");
	assert_int_equal(stat(path, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	assert_string_equal(read_text(path), "gdoi-evicted 1 blue\n"
					    "2 676d332e6578616d706c652e6e6574\n"
					    "3 676d34406578616d706c652e6e6574\n"
					    "11 010200ff\n"
					    "end 3\n");
	/* a file that cannot be put in place: an error, nothing left behind,
	 * the other group's file as it was */
	assert_true(asprintf(&red, "%s/red.evicted", dir) > 0);
	assert_int_equal(mkdir(red, 0700), 0);
	assert_false(s->save_evicted(s, "red", three_ids, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot replace"));
	assert_int_equal(entries(dir), 2);
	assert_int_equal(stat(path, &before), 0);
	assert_true(before.st_ino == after.st_ino);
	rmdir(red);
	s->destroy(s);
	free(red);
	free(path);
	free(dir);
}

static void test_corrupt_state_files_are_refused(void **state)
{
	struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "gdoi-evicted 1 red\nend 0\n", "line 1: not \"gdoi-evicted 1 blue\"" },
		{ "gdoi-evicted 2 blue\nend 0\n", "line 1:" },
		{ "gdoi-evicted 1 blue\n2 676d33\n", "no end line (the file is truncated)" },
		{ "gdoi-evicted 1 blue\n2 676d33\nend 1", "line 3: not ended (the file is truncated)" },
		{ "gdoi-evicted 1 blue\n2 676d3\nend 1\n", "line 2: not an identity" },
		{ "gdoi-evicted 1 blue\n2 676D33\nend 1\n", "line 2: not an identity" },
		{ "gdoi-evicted 1 blue\n0 676d33\nend 1\n", "line 2: not an identity" },
		{ "gdoi-evicted 1 blue\n256 676d33\nend 1\n", "line 2: not an identity" },
		{ "gdoi-evicted 1 blue\n2 \nend 1\n", "line 2: not an identity" },
		{ "gdoi-evicted 1 blue\n2 676d33\n\nend 1\n", "line 3: not an identity" },
		{ "gdoi-evicted 1 blue\n2 676d33\nend 2\n", "line 3: the end line does not say 1 identities" },
		{ "gdoi-evicted 1 blue\nend 0\n2 676d33\n", "line 3: text after the end line" },
		{ "gdoi-evicted 1 blue\n2 67\0006d\nend 1\n", "not a text file" },
	};
	char *dir = state_dir("corrupt"), *path, err[512];
	gdoi_state_t *s = gdoi_state_create(dir);
	loaded_ids_t ids;
	FILE *f;
	int i;

	assert_true(asprintf(&path, "%s/blue.evicted", dir) > 0);
	for (i = 0; i < countof(cases); i++)
	{
		f = fopen(path, "w");
		assert_non_null(f);
		/* the NUL case is one character longer than strlen() says */
		fwrite(cases[i].text, 1, strlen(cases[i].text) +
			   (strstr(cases[i].err, "text file") ? 8 : 0), f);
		fclose(f);
		err[0] = '\0';
		memset(&ids, 0, sizeof(ids));
		if (s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)))
		{
			fail_msg("case %d was read", i);
		}
		if (!strstr(err, cases[i].err) || !strstr(err, path))
		{
			fail_msg("case %d: '%s' does not say '%s'", i, err, cases[i].err);
		}
	}
	/* a file we cannot read is no empty list */
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_false(s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)));
	assert_non_null(strstr(err, "not a file"));
	rmdir(path);
	/* and a good one is read */
	write_text(path, "gdoi-evicted 1 blue\n2 676d33\nend 1\n");
	memset(&ids, 0, sizeof(ids));
	assert_true(s->load_evicted(s, "blue", add_id, &ids, err, sizeof(err)));
	assert_int_equal(ids.count, 1);
	assert_string_equal(ids.data[0], "gm3");
	s->destroy(s);
	free(path);
	free(dir);
}

static void test_the_plugin_keeps_evictions_in_its_state_dir(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();
	char *dir = state_dir("plugin"), *text, *path, err[256];
	loaded_ids_t ids = {};
	struct stat st;

	reset();
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.state_dir", dir,
						   lib->ns);
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_non_null(env.load_evicted);
	assert_non_null(env.save_evicted);
	assert_true(env.save_evicted(env.ctx, "blue", three_ids, 1, err, sizeof(err)));
	assert_true(asprintf(&path, "%s/blue.evicted", dir) > 0);
	text = read_text(path);
	assert_non_null(text);
	assert_non_null(strstr(text, "676d332e6578616d706c652e6e6574"));
	assert_true(env.load_evicted(env.ctx, "blue", add_id, &ids, err, sizeof(err)));
	assert_int_equal(ids.count, 1);
	unload(plugin);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.state_dir",
						   default_state, lib->ns);
	free(text);
	free(path);
	free(dir);
}

static void test_a_reload_loads_the_groups_again(void **state)
{
	plugin_t *plugin = gdoi_plugin_create();

	reset();
	load_calls = psk_group_calls = 0;
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(load_calls, 1);
	assert_int_equal(psk_group_calls, 1);
	assert_true(plugin->reload(plugin));
	assert_int_equal(load_calls, 2);
	assert_int_equal(psk_group_calls, 2);
	unload(plugin);
}

/* ---- PSKs shared by members */

static int psk_warnings;
static char psk_warning[1024];

static void capture_log(logger_t *this, debug_t group, level_t level,
						int thread, ike_sa_t *ike_sa, const char *message)
{
	if (strstr(message, "share one PSK"))
	{
		psk_warnings++;
		snprintf(psk_warning, sizeof(psk_warning), "%s", message);
	}
}

static level_t capture_level(logger_t *this, debug_t group)
{
	return LEVEL_CTRL;
}

static void test_members_sharing_a_psk_are_warned_about(void **state)
{
	logger_t capture = { .log = capture_log, .get_level = capture_level };
	mem_cred_t *creds = mem_cred_create();
	gdoi_id_t ks = { .type = ID_FQDN, .data = (uint8_t*)"ks.example.net",
					 .len = 14 };
	gdoi_id_t gms[5];
	char names[5][32];
	int i;

	for (i = 0; i < 5; i++)
	{
		snprintf(names[i], sizeof(names[i]), "gm%d.example.net", i + 1);
		gms[i] = (gdoi_id_t){ .type = ID_FQDN, .data = (uint8_t*)names[i],
							  .len = strlen(names[i]) };
	}
	/* gm1 and gm2: one secrets section with three identities; gm3 and
	 * gm4: two sections with the same secret; gm5: none of its own, so
	 * charon's credential manager gives it one of the key server's */
	creds->add_shared(creds, shared_key_create(SHARED_IKE,
							chunk_clone(chunk_from_str("one for two"))),
				identification_create_from_string("ks.example.net"),
				identification_create_from_string("gm1.example.net"),
				identification_create_from_string("gm2.example.net"), NULL);
	creds->add_shared(creds, shared_key_create(SHARED_IKE,
							chunk_clone(chunk_from_str("same bytes"))),
				identification_create_from_string("ks.example.net"),
				identification_create_from_string("gm3.example.net"), NULL);
	creds->add_shared(creds, shared_key_create(SHARED_IKE,
							chunk_clone(chunk_from_str("same bytes"))),
				identification_create_from_string("ks.example.net"),
				identification_create_from_string("gm4.example.net"), NULL);
	lib->credmgr->add_set(lib->credmgr, &creds->set);
	charon->bus->add_logger(charon->bus, &capture);

	psk_warnings = 0;
	assert_int_equal(gdoi_creds_shared_psks("blue", &ks, gms, 5), 5);
	assert_int_equal(psk_warnings, 2);
	assert_non_null(strstr(psk_warning, "gdoi: warning: group blue: "));
	assert_non_null(strstr(psk_warning, " members share one PSK with "
						   "'ks.example.net' ('gm"));
	assert_non_null(strstr(psk_warning, "can register as any other"));
	psk_warnings = 0;
	assert_int_equal(gdoi_creds_shared_psks("blue", &ks, gms, 4), 4);
	assert_int_equal(psk_warnings, 2);
	/* members with their own PSKs: no warning */
	psk_warnings = 0;
	assert_int_equal(gdoi_creds_shared_psks("blue", &ks, &gms[1], 2), 0);
	assert_int_equal(psk_warnings, 0);
	assert_int_equal(gdoi_creds_shared_psks("blue", &ks, &gms[4], 1), 0);
	assert_int_equal(psk_warnings, 0);

	charon->bus->remove_logger(charon->bus, &capture);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
}

/* the glue runs inside a real, idle charon */
static int charon_up(void **state)
{
	if (glue_charon_up("charon", NULL) != 0 || !mkdtemp(state_base) ||
		asprintf(&default_state, "%s/default", state_base) < 0)
	{
		return -1;
	}
	/* state files of the plugin's tests go below state_base too, and the
	 * control socket is the test's own */
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.state_dir",
						   default_state, lib->ns);
	lib->settings->set_str(lib->settings, "%s.plugins.gdoi.socket",
						   "unix://" TEST_SOCKET, lib->ns);
	seen_lock = mutex_create(MUTEX_TYPE_DEFAULT);
	client_lock = mutex_create(MUTEX_TYPE_DEFAULT);
	seen_cond = condvar_create(CONDVAR_TYPE_DEFAULT);
	return 0;
}

static int charon_down(void **state)
{
	glue_charon_down();
	seen_cond->destroy(seen_cond);
	seen_lock->destroy(seen_lock);
	client_lock->destroy(client_lock);
	chunk_free(&seen_datagram);
	reset();
	/* what the state tests wrote */
	if (fork() == 0)
	{
		execlp("rm", "rm", "-rf", state_base, NULL);
		_exit(1);
	}
	wait(NULL);
	free(default_state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_settings_reach_the_core_flattened),
		cmocka_unit_test(test_a_refused_configuration_still_loads_the_plugin),
		cmocka_unit_test(test_other_plugins_reach_the_core_through_gdoi_ext),
		cmocka_unit_test(test_an_unreadable_config_file_loads_no_group),
		cmocka_unit_test(test_the_core_cannot_be_created),
		cmocka_unit_test(test_datagrams_reach_the_core_and_the_core_can_send),
		cmocka_unit_test(test_transport_settings_reach_the_core),
		cmocka_unit_test(test_charons_own_ports_are_refused),
		cmocka_unit_test(test_the_nat_traversal_port_has_its_own_socket),
		cmocka_unit_test(test_shared_keys_come_from_the_credential_manager),
		cmocka_unit_test(test_the_control_socket_passes_bytes_both_ways),
		cmocka_unit_test(test_a_stuck_control_client_blocks_nobody),
		cmocka_unit_test(test_a_client_breaking_the_protocol_gets_its_answer),
		cmocka_unit_test(test_member_keys_are_appended_to_a_private_file),
		cmocka_unit_test(test_the_cores_timers_run_on_charons_scheduler),
		cmocka_unit_test(test_state_files_round_trip),
		cmocka_unit_test(test_state_files_are_replaced_whole),
		cmocka_unit_test(test_corrupt_state_files_are_refused),
		cmocka_unit_test(test_the_plugin_keeps_evictions_in_its_state_dir),
		cmocka_unit_test(test_a_reload_loads_the_groups_again),
		cmocka_unit_test(test_members_sharing_a_psk_are_warned_about),
	};

	return cmocka_run_group_tests_name("gdoi plugin glue", tests, charon_up,
									   charon_down);
}
