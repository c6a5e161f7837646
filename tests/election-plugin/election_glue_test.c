/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * CMocka tests of the election plugin's charon glue (election_plugin.c):
 * the C++ core is replaced by mocks so that the test sees exactly what the
 * glue asks of it; charon is real and idle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <daemon.h>
#include <library.h>
#include <plugins/plugin.h>
#include <plugins/plugin_feature.h>

#include <cmocka.h>

#include "election_core.h"
#include "glue_test_util.h"

plugin_t *election_plugin_create(void);

/* ---- mocked core */

static int fake_core;

election_core_t *election_core_create(void)
{
	function_called();
	return mock_ptr_type(election_core_t *);
}

const char *election_core_describe(election_core_t *core)
{
	check_expected_ptr(core);
	return "mock core";
}

uint16_t election_core_port(election_core_t *core)
{
	return 0;
}

void election_core_destroy(election_core_t *core)
{
	function_called();
	check_expected_ptr(core);
}

void election_core_set_callbacks(election_core_t *core, const election_callbacks_t *cb)
{
	check_expected_ptr(core);
	assert_non_null(cb->send);
	assert_non_null(cb->now_ms);
	assert_non_null(cb->sign);
	assert_non_null(cb->verify);
}

/* what the glue configured, for the tests to check */
static char added_identity[64], added_address[64], added_name[64];
static int added_auth, added_group;
static bool added_candidate;
static uint32_t added_priority, added_listen;
static uint64_t added_first_sequence;
static char peers_added[256];

const char *election_core_add_group(election_core_t *core, const election_group_conf_t *conf)
{
	function_called();
	snprintf(added_identity, sizeof(added_identity), "%s", conf->identity);
	snprintf(added_address, sizeof(added_address), "%s", conf->address);
	snprintf(added_name, sizeof(added_name), "%s", conf->name);
	added_auth = conf->auth;
	added_group = conf->group;
	added_candidate = conf->candidate;
	added_priority = conf->priority;
	added_listen = conf->listen_ms;
	added_first_sequence = conf->first_sequence;
	return mock_ptr_type(const char *);
}

const char *election_core_add_peer(election_core_t *core, uint32_t group, const char *identity,
								   const uint8_t *public_key, size_t len, bool candidate)
{
	assert_null(public_key);
	snprintf(peers_added + strlen(peers_added), sizeof(peers_added) - strlen(peers_added),
			 "%s%s%s", *peers_added ? " " : "", identity, candidate ? "*" : "");
	return NULL;
}

bool election_core_start(election_core_t *core, uint32_t group)
{
	function_called();
	check_expected(group);
	return true;
}

void election_core_receive(election_core_t *core, const uint8_t *data, size_t len,
						   const char *source)
{
}

uint64_t election_core_next_deadline(election_core_t *core)
{
	return UINT64_MAX;
}

void election_core_on_timer(election_core_t *core)
{
}

bool election_core_list_message(election_core_t *core, const uint8_t *request, size_t len,
								uint8_t **out, size_t *out_len)
{
	return false;
}

bool election_core_event_message(election_core_t *core, uint32_t group, uint8_t **out,
								 size_t *out_len)
{
	return false;
}

size_t election_core_count(election_core_t *core)
{
	return 0;
}

bool election_core_snapshot(election_core_t *core, size_t index, election_snapshot_t *out)
{
	return false;
}

bool election_core_set_replica(election_core_t *core, uint32_t group, const uint8_t *data,
							   size_t len)
{
	return false;
}

bool election_core_service_ready(election_core_t *core, uint32_t group)
{
	return false;
}

bool election_core_replica(election_core_t *core, uint32_t group, uint8_t **out, size_t *len,
						   uint64_t *version)
{
	return false;
}

/* ---- helpers */

/* load the plugin's features, expecting it to create the (fake) core */
static void load_with_core(plugin_t *plugin)
{
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	assert_true(glue_load(plugin, TRUE));
}

static void set_key(const char *key, const char *value)
{
	char path[256];

	/* the settings split the format at its dots, not the arguments' */
	snprintf(path, sizeof(path), "charon.plugins.election.%s", key);
	lib->settings->set_str(lib->settings, path, (char*)value);
}

/* one group, as the lab's candidates have it */
static void configure_group(void)
{
	set_key("port", "18849");
	set_key("groups.ks.group", "1234");
	set_key("groups.ks.identity", "ks2.example.net");
	set_key("groups.ks.address", "127.0.0.1");
	set_key("groups.ks.candidate", "yes");
	set_key("groups.ks.priority", "7");
	set_key("groups.ks.listen", "300");
	set_key("groups.ks.peers", "127.0.0.1, 127.0.0.2");
	set_key("groups.ks.candidates", "ks1.example.net, ks2.example.net");
	set_key("groups.ks.members", "gm1.example.net");
}

static void unconfigure(void)
{
	lib->settings->load_string(lib->settings, "charon {}", FALSE);
	memset(peers_added, 0, sizeof(peers_added));
}

static void expect_core_destroyed(void)
{
	expect_function_call(election_core_destroy);
	expect_value(election_core_destroy, core, &fake_core);
}

/* ---- tests */

static void test_name(void **state)
{
	plugin_t *plugin = election_plugin_create();

	assert_string_equal(plugin->get_name(plugin), "election");
	plugin->destroy(plugin);
}

static void test_features_provide_the_plugin_through_a_callback(void **state)
{
	plugin_t *plugin = election_plugin_create();
	plugin_feature_t *f;
	int n;

	f = glue_features_of(plugin, &n);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].kind, FEATURE_CALLBACK);
	assert_non_null(f[0].arg.cb.f);
	assert_int_equal(f[1].kind, FEATURE_PROVIDE);
	assert_int_equal(f[1].type, FEATURE_CUSTOM);
	assert_string_equal(f[1].arg.custom, "election");
	assert_int_equal(f[2].kind, FEATURE_SDEPEND);
	assert_string_equal(f[2].arg.custom, "gdoi");
	plugin->destroy(plugin);
}

static void test_load_creates_and_unload_destroys_the_core(void **state)
{
	plugin_t *plugin = election_plugin_create();

	load_with_core(plugin);
	expect_core_destroyed();
	assert_true(glue_load(plugin, FALSE));

	/* unloaded: destroying the plugin must not touch the core again */
	plugin->destroy(plugin);
}

static void test_load_fails_when_the_core_cannot_be_created(void **state)
{
	plugin_t *plugin = election_plugin_create();

	expect_function_call(election_core_create);
	will_return(election_core_create, NULL);
	assert_false(glue_load(plugin, TRUE));
	/* nothing to unload */
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
}

static void test_destroy_releases_a_loaded_core(void **state)
{
	plugin_t *plugin = election_plugin_create();

	load_with_core(plugin);
	expect_core_destroyed();
	plugin->destroy(plugin);
}

static void test_a_group_is_configured_from_the_settings_and_started(void **state)
{
	plugin_t *plugin = election_plugin_create();
	uint64_t now = (uint64_t)time(NULL) << 20;

	configure_group();
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	expect_function_call(election_core_add_group);
	will_return(election_core_add_group, NULL);
	/* no election_core_start(): the credential manager has no key of
	 * ks2.example.net, and a node that cannot sign does not take part */
	assert_true(glue_load(plugin, TRUE));
	assert_string_equal(added_name, "ks");
	assert_int_equal(added_group, 1234);
	assert_string_equal(added_identity, "ks2.example.net");
	assert_string_equal(added_address, "127.0.0.1");
	assert_int_equal(added_auth, ELECTION_AUTH_PUBKEY);
	assert_true(added_candidate);
	assert_int_equal(added_priority, 7);
	assert_int_equal(added_listen, 300);
	/* above anything a restart before sent: the wall clock */
	assert_true(added_first_sequence >= now);
	/* itself is no peer; candidates marked */
	assert_string_equal(peers_added, "ks1.example.net* gm1.example.net");
	expect_core_destroyed();
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
	unconfigure();
}

static void test_a_group_key_election_starts_at_once(void **state)
{
	plugin_t *plugin = election_plugin_create();

	configure_group();
	set_key("groups.ks.auth", "psk");
	set_key("groups.ks.psk", "a group key of 16 octets or more");
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	expect_function_call(election_core_add_group);
	will_return(election_core_add_group, NULL);
	expect_function_call(election_core_start);
	expect_value(election_core_start, group, 1234);
	assert_true(glue_load(plugin, TRUE));
	assert_int_equal(added_auth, ELECTION_AUTH_GROUP_PSK);
	expect_core_destroyed();
	assert_true(glue_load(plugin, FALSE));
	plugin->destroy(plugin);
	unconfigure();
}

static void test_multicast_and_peers_together_are_refused(void **state)
{
	plugin_t *plugin = election_plugin_create();

	configure_group();
	set_key("groups.ks.multicast", "239.192.0.49");
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	expect_core_destroyed();
	assert_false(glue_load(plugin, TRUE));
	plugin->destroy(plugin);
	unconfigure();
}

static void test_a_group_the_core_refuses_stops_the_load(void **state)
{
	plugin_t *plugin = election_plugin_create();

	configure_group();
	set_key("groups.ks.auth", "psk");
	set_key("groups.ks.psk", "short");
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	expect_function_call(election_core_add_group);
	will_return(election_core_add_group, "the group key must have at least 16 octets");
	expect_core_destroyed();
	assert_false(glue_load(plugin, TRUE));
	assert_int_equal(added_auth, ELECTION_AUTH_GROUP_PSK);
	plugin->destroy(plugin);
	unconfigure();
}

static void test_an_unknown_auth_method_is_refused(void **state)
{
	plugin_t *plugin = election_plugin_create();

	configure_group();
	set_key("groups.ks.auth", "rsa");
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	expect_value(election_core_set_callbacks, core, &fake_core);
	expect_core_destroyed();
	assert_false(glue_load(plugin, TRUE));
	plugin->destroy(plugin);
	unconfigure();
}

static int charon_up(void **state)
{
	return glue_charon_up("charon", NULL);
}

static int charon_down(void **state)
{
	return glue_charon_down();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_features_provide_the_plugin_through_a_callback),
		cmocka_unit_test(test_load_creates_and_unload_destroys_the_core),
		cmocka_unit_test(test_load_fails_when_the_core_cannot_be_created),
		cmocka_unit_test(test_destroy_releases_a_loaded_core),
		cmocka_unit_test(test_a_group_is_configured_from_the_settings_and_started),
		cmocka_unit_test(test_a_group_key_election_starts_at_once),
		cmocka_unit_test(test_multicast_and_peers_together_are_refused),
		cmocka_unit_test(test_a_group_the_core_refuses_stops_the_load),
		cmocka_unit_test(test_an_unknown_auth_method_is_refused),
	};

	return cmocka_run_group_tests_name("election plugin glue", tests,
									   charon_up, charon_down);
}
