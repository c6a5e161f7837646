/*
 * CMocka tests of a charon plugin's glue (gdoi_plugin.c, election_plugin.c):
 * the plugin's C++ core is replaced by mocks so that the test sees exactly
 * what the glue asks of it. Compiled once per plugin with -DGLUE_PLUGIN=name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <daemon.h>
#include <library.h>
#include <plugins/plugin.h>
#include <plugins/plugin_feature.h>

#include <cmocka.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)
#define CORE(fn) CAT(CAT(GLUE_PLUGIN, _core_), fn)
#define CORE_T CAT(GLUE_PLUGIN, _core_t)

/* cmocka stringifies function names: expand CORE(fn) first */
#define EXPECT_CALL(fn) expect_function_call(fn)
#define WILL_RETURN(fn, v) will_return(fn, v)
#define EXPECT_VALUE(fn, arg, v) expect_value(fn, arg, v)

typedef struct CORE_T CORE_T;
plugin_t *CAT(GLUE_PLUGIN, _plugin_create)(void);

/* ---- mocked core */

static int fake_core;

CORE_T *CORE(create)(void)
{
	function_called();
	return mock_ptr_type(CORE_T *);
}

const char *CORE(describe)(CORE_T *core)
{
	check_expected_ptr(core);
	return "mock core";
}

uint16_t CORE(port)(CORE_T *core)
{
	return 0;
}

void CORE(destroy)(CORE_T *core)
{
	function_called();
	check_expected_ptr(core);
}

/* ---- helpers */

static plugin_feature_t *features_of(plugin_t *plugin, int *count)
{
	plugin_feature_t *f = NULL;

	*count = plugin->get_features(plugin, &f);
	return f;
}

static bool load(plugin_t *plugin, bool reg)
{
	int n;
	plugin_feature_t *f = features_of(plugin, &n);

	return f[0].arg.cb.f(plugin, &f[1], reg, f[0].arg.cb.data);
}

/* load the plugin's features, expecting it to create the (fake) core */
static void load_with_core(plugin_t *plugin)
{
	EXPECT_CALL(CORE(create));
	WILL_RETURN(CORE(create), &fake_core);
	EXPECT_VALUE(CORE(describe), core, &fake_core);
	assert_true(load(plugin, TRUE));
}

static void expect_core_destroyed(void)
{
	EXPECT_CALL(CORE(destroy));
	EXPECT_VALUE(CORE(destroy), core, &fake_core);
}

/* ---- tests */

static void test_name(void **state)
{
	plugin_t *plugin = CAT(GLUE_PLUGIN, _plugin_create)();

	assert_string_equal(plugin->get_name(plugin), STR(GLUE_PLUGIN));
	plugin->destroy(plugin);
}

static void test_features_provide_the_plugin_through_a_callback(void **state)
{
	plugin_t *plugin = CAT(GLUE_PLUGIN, _plugin_create)();
	plugin_feature_t *f;
	int n;

	f = features_of(plugin, &n);
	assert_int_equal(n, 3);
	assert_int_equal(f[0].kind, FEATURE_CALLBACK);
	assert_non_null(f[0].arg.cb.f);
	assert_int_equal(f[1].kind, FEATURE_PROVIDE);
	assert_int_equal(f[1].type, FEATURE_CUSTOM);
	assert_string_equal(f[1].arg.custom, STR(GLUE_PLUGIN));
	assert_int_equal(f[2].kind, FEATURE_SDEPEND);
	plugin->destroy(plugin);
}

static void test_load_creates_and_unload_destroys_the_core(void **state)
{
	plugin_t *plugin = CAT(GLUE_PLUGIN, _plugin_create)();

	load_with_core(plugin);
	expect_core_destroyed();
	assert_true(load(plugin, FALSE));

	/* unloaded: destroying the plugin must not touch the core again */
	plugin->destroy(plugin);
}

static void test_load_fails_when_the_core_cannot_be_created(void **state)
{
	plugin_t *plugin = CAT(GLUE_PLUGIN, _plugin_create)();

	EXPECT_CALL(CORE(create));
	WILL_RETURN(CORE(create), NULL);
	assert_false(load(plugin, TRUE));
	/* nothing to unload */
	assert_true(load(plugin, FALSE));
	plugin->destroy(plugin);
}

static void test_destroy_releases_a_loaded_core(void **state)
{
	plugin_t *plugin = CAT(GLUE_PLUGIN, _plugin_create)();

	load_with_core(plugin);
	expect_core_destroyed();
	plugin->destroy(plugin);
}

/* the glue logs through charon's bus: run it inside a real, idle charon */
static int charon_up(void **state)
{
	char conf[] = "/tmp/glue-test-XXXXXX";
	int fd = mkstemp(conf);
	bool ok;

	if (fd < 0)
	{
		return -1;
	}
	close(fd);
	/* an empty strongswan.conf: nothing of the host's configuration */
	ok = library_init(conf, "glue-test") && libcharon_init();
	unlink(conf);
	return ok ? 0 : -1;
}

static int charon_down(void **state)
{
	libcharon_deinit();
	library_deinit();
	return 0;
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

	return cmocka_run_group_tests_name(STR(GLUE_PLUGIN) "_plugin glue", tests, charon_up, charon_down);
}
