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

/* ---- helpers */

/* load the plugin's features, expecting it to create the (fake) core */
static void load_with_core(plugin_t *plugin)
{
	expect_function_call(election_core_create);
	will_return(election_core_create, &fake_core);
	expect_value(election_core_describe, core, &fake_core);
	assert_true(glue_load(plugin, TRUE));
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
	};

	return cmocka_run_group_tests_name("election plugin glue", tests,
									   charon_up, charon_down);
}
