/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/*
 * CMocka tests of lib/charon, the glue the charon plugins share, inside a
 * real, idle charon: the UDP socket (PKTINFO, sending from a chosen
 * address, one socket per port and callback), signing and verification
 * through the credential manager, settings flattening, and the timer on
 * charon's scheduler.
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
#include <sys/socket.h>
#include <netinet/in.h>

#include <daemon.h>
#include <library.h>
#include <credentials/sets/mem_cred.h>
#include <processing/jobs/callback_job.h>
#include <threading/condvar.h>
#include <threading/mutex.h>

#include <cmocka.h>

#include "glue_test_util.h"
#include "gs_creds.h"
#include "gs_settings.h"
#include "gs_socket.h"
#include "gs_timer.h"

/* two ports of the test's own, chosen at start: other test runs on this
 * machine may bind fixed ones */
static uint16_t PORT_A, PORT_B;

/* how long a test waits for something that happens in charon's threads */
#define WAIT_MS 5000

static mutex_t *lock;
static condvar_t *cond;

/* ---- the socket */

typedef struct {
	int count;
	chunk_t datagram;
	host_t *local;
	host_t *remote;
} received_t;

static void on_datagram(received_t *r, host_t *local, host_t *remote,
						chunk_t datagram)
{
	lock->lock(lock);
	r->count++;
	chunk_free(&r->datagram);
	r->datagram = chunk_clone(datagram);
	DESTROY_IF(r->local);
	DESTROY_IF(r->remote);
	r->local = local->clone(local);
	r->remote = remote->clone(remote);
	cond->broadcast(cond);
	lock->unlock(lock);
}

static void received_clear(received_t *r)
{
	chunk_free(&r->datagram);
	DESTROY_IF(r->local);
	DESTROY_IF(r->remote);
	memset(r, 0, sizeof(*r));
}

/* wait until r has count datagrams; lock held */
static void wait_received(received_t *r, int count)
{
	timeval_t until;

	time_monotonic(&until);
	timeval_add_ms(&until, WAIT_MS);
	while (r->count < count)
	{
		if (cond->timed_wait_abs(cond, lock, until))
		{
			break;
		}
	}
}

/* a plain UDP socket of the test on an ephemeral port of addr */
static int peer_socket(int family, const char *addr, host_t **me)
{
	host_t *bind_to = host_create_from_string((char*)addr, 0);
	socklen_t len = *bind_to->get_sockaddr_len(bind_to);
	int fd;

	fd = socket(family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, bind_to->get_sockaddr(bind_to), len), 0);
	assert_int_equal(getsockname(fd, bind_to->get_sockaddr(bind_to), &len), 0);
	*me = bind_to;
	return fd;
}

static void send_to(int fd, const char *addr, uint16_t port, const char *text)
{
	host_t *to = host_create_from_string((char*)addr, port);

	assert_int_equal(sendto(fd, text, strlen(text), 0, to->get_sockaddr(to),
							*to->get_sockaddr_len(to)), strlen(text));
	to->destroy(to);
}

static void expect_reply(int fd, const char *text)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[64];

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), strlen(text));
	assert_memory_equal(buf, text, strlen(text));
}

/* a datagram to addr reaches the callback with addr as local address (from
 * PKTINFO) and the peer's address and port; the reply goes out from addr */
static void round_trip(int family, const char *addr)
{
	received_t r = {};
	gs_socket_t *s;
	host_t *me, *local;
	int fd;

	s = gs_socket_create("test", PORT_A, (gs_socket_cb_t)on_datagram, &r);
	assert_non_null(s);
	fd = peer_socket(family, addr, &me);

	lock->lock(lock);
	send_to(fd, addr, PORT_A, "hello");
	wait_received(&r, 1);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.datagram.len, 5);
	assert_memory_equal(r.datagram.ptr, "hello", 5);
	local = host_create_from_string((char*)addr, 0);
	assert_true(r.local->ip_equals(r.local, local));
	assert_int_equal(r.local->get_port(r.local), PORT_A);
	assert_true(r.remote->equals(r.remote, me));
	lock->unlock(lock);

	assert_true(s->send(s, local, me, chunk_from_str("world")));
	expect_reply(fd, "world");
	/* the kernel's choice of source address works too */
	assert_true(s->send(s, NULL, me, chunk_from_str("again")));
	expect_reply(fd, "again");

	close(fd);
	s->destroy(s);
	local->destroy(local);
	me->destroy(me);
	received_clear(&r);
}

static void test_socket_ipv4_round_trip(void **state)
{
	round_trip(AF_INET, "127.0.0.1");
}

static void test_socket_ipv6_round_trip(void **state)
{
	round_trip(AF_INET6, "::1");
}

static void test_sockets_on_two_ports_have_their_own_callbacks(void **state)
{
	received_t a = {}, b = {};
	gs_socket_t *sa, *sb;
	host_t *me;
	int fd;

	sa = gs_socket_create("a", PORT_A, (gs_socket_cb_t)on_datagram, &a);
	sb = gs_socket_create("b", PORT_B, (gs_socket_cb_t)on_datagram, &b);
	assert_non_null(sa);
	assert_non_null(sb);
	fd = peer_socket(AF_INET, "127.0.0.1", &me);

	lock->lock(lock);
	send_to(fd, "127.0.0.1", PORT_B, "to b");
	wait_received(&b, 1);
	send_to(fd, "127.0.0.1", PORT_A, "to a");
	wait_received(&a, 1);
	assert_int_equal(a.count, 1);
	assert_int_equal(b.count, 1);
	assert_memory_equal(a.datagram.ptr, "to a", 4);
	assert_memory_equal(b.datagram.ptr, "to b", 4);
	lock->unlock(lock);

	close(fd);
	sa->destroy(sa);
	sb->destroy(sb);
	me->destroy(me);
	received_clear(&a);
	received_clear(&b);
}

static void test_a_unicast_address_is_no_group_to_join(void **state)
{
	received_t r = {};
	gs_socket_t *s;
	host_t *unicast4, *unicast6;

	s = gs_socket_create("test", PORT_A, (gs_socket_cb_t)on_datagram, &r);
	assert_non_null(s);
	unicast4 = host_create_from_string("192.0.2.1", 0);
	unicast6 = host_create_from_string("2001:db8::1", 0);
	assert_false(s->join(s, unicast4));
	assert_false(s->join(s, unicast6));
	unicast4->destroy(unicast4);
	unicast6->destroy(unicast6);
	s->destroy(s);
}

/* ---- credentials */

static identification_t *id(const char *name)
{
	return identification_create_from_string((char*)name);
}

static void test_shared_keys_come_from_the_credential_manager(void **state)
{
	mem_cred_t *creds = mem_cred_create();
	identification_t *ks = id("ks.example.net"), *gm = id("gm1.example.net");
	identification_t *other = id("other.example.net");
	chunk_t key;

	creds->add_shared(creds, shared_key_create(SHARED_IKE,
							chunk_clone(chunk_from_str("group secret"))),
					  ks->clone(ks), gm->clone(gm), NULL);
	lib->credmgr->add_set(lib->credmgr, &creds->set);

	assert_true(gs_creds_shared_key("test", gm, ks, &key));
	assert_true(chunk_equals(key, chunk_from_str("group secret")));
	chunk_clear(&key);
	assert_false(gs_creds_shared_key("test", other, other, &key));

	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
	ks->destroy(ks);
	gm->destroy(gm);
	other->destroy(other);
}

/* a fresh key pair of an identity in a credential set: the private key and
 * its public key, trusted (a raw key, as swanctl loads pubkeys) */
static void add_key_pair(mem_cred_t *creds, key_type_t type, int bits,
						 identification_t *owner)
{
	private_key_t *private;
	public_key_t *public;
	certificate_t *cert;

	private = lib->creds->create(lib->creds, CRED_PRIVATE_KEY, type,
								 BUILD_KEY_SIZE, bits, BUILD_END);
	assert_non_null(private);
	public = private->get_public_key(private);
	assert_non_null(public);
	cert = lib->creds->create(lib->creds, CRED_CERTIFICATE, CERT_TRUSTED_PUBKEY,
							  BUILD_PUBLIC_KEY, public,
							  BUILD_SUBJECT, owner, BUILD_END);
	assert_non_null(cert);
	public->destroy(public);
	creds->add_key(creds, private);
	creds->add_cert(creds, TRUE, cert);
}

static void test_signatures_verify_with_the_signers_trusted_key(void **state)
{
	mem_cred_t *creds = mem_cred_create();
	identification_t *node1 = id("node1.example.net");
	identification_t *node2 = id("node2.example.net");
	identification_t *nobody = id("nobody.example.net");
	chunk_t data = chunk_from_str("election call, seq 7"), auth, bad;

	add_key_pair(creds, KEY_ECDSA, 256, node1);
	add_key_pair(creds, KEY_ECDSA, 256, node2);
	lib->credmgr->add_set(lib->credmgr, &creds->set);

	assert_true(gs_creds_sign("test", node1, data, &auth));
	/* RFC 7427 AUTH data: the AlgorithmIdentifier's length, itself, the
	 * signature */
	assert_true(auth.len > 1 + auth.ptr[0]);
	assert_true(gs_creds_verify("test", node1, data, auth));
	/* another signer's key, other data, a changed signature: no */
	assert_false(gs_creds_verify("test", node2, data, auth));
	assert_false(gs_creds_verify("test", node1,
								 chunk_from_str("election call, seq 8"), auth));
	bad = chunk_clone(auth);
	bad.ptr[bad.len - 1] ^= 0x01;
	assert_false(gs_creds_verify("test", node1, data, bad));
	chunk_free(&bad);
	/* AUTH data that cannot be parsed verifies nothing */
	assert_false(gs_creds_verify("test", node1, data, chunk_empty));
	bad = chunk_from_chars(0xff, 0x30, 0x00);
	assert_false(gs_creds_verify("test", node1, data, bad));
	bad = chunk_from_chars(0x03, 0x01, 0x02, 0x03, 0x04, 0x05);
	assert_false(gs_creds_verify("test", node1, data, bad));
	bad = chunk_create(auth.ptr, 1 + auth.ptr[0]);
	assert_false(gs_creds_verify("test", node1, data, bad));
	chunk_free(&auth);
	/* no private key: no signature */
	auth = chunk_empty;
	assert_false(gs_creds_sign("test", nobody, data, &auth));
	assert_null(auth.ptr);

	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
	node1->destroy(node1);
	node2->destroy(node2);
	nobody->destroy(nobody);
}

/* accept(): counts its calls, answers as told, sees how the key is trusted */
typedef struct {
	int calls;
	bool answer;
	bool saw_auth;
} accept_log_t;

static bool accept_cb(accept_log_t *log, public_key_t *key, auth_cfg_t *auth)
{
	log->calls++;
	log->saw_auth = auth && auth->get(auth, AUTH_RULE_SUBJECT_CERT);
	return log->answer;
}

static void test_the_key_that_verified_may_be_refused(void **state)
{
	mem_cred_t *creds = mem_cred_create();
	identification_t *node1 = id("node1.example.net");
	chunk_t data = chunk_from_str("GSA_AUTH octets"), auth, bad;
	accept_log_t log = { .answer = TRUE };

	add_key_pair(creds, KEY_ECDSA, 256, node1);
	lib->credmgr->add_set(lib->credmgr, &creds->set);
	assert_true(gs_creds_sign("test", node1, data, &auth));

	assert_true(gs_creds_verify_accept("test", node1, data, auth,
									   (gs_creds_accept_t)accept_cb, &log));
	assert_int_equal(log.calls, 1);
	assert_true(log.saw_auth);
	/* refused where it is used: the signature does not count */
	log = (accept_log_t){ .answer = FALSE };
	assert_false(gs_creds_verify_accept("test", node1, data, auth,
										(gs_creds_accept_t)accept_cb, &log));
	assert_int_equal(log.calls, 1);
	/* only a key that verifies is asked about */
	log = (accept_log_t){ .answer = TRUE };
	bad = chunk_clone(auth);
	bad.ptr[bad.len - 1] ^= 0x01;
	assert_false(gs_creds_verify_accept("test", node1, data, bad,
										(gs_creds_accept_t)accept_cb, &log));
	assert_int_equal(log.calls, 0);
	chunk_free(&bad);
	/* no accept(): any trusted key */
	assert_true(gs_creds_verify_accept("test", node1, data, auth, NULL, NULL));

	chunk_free(&auth);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
	node1->destroy(node1);
}

/* a list of DER SubjectPublicKeyInfos, as gs_creds_trusted_keys() fills it */
static void add_spki(linked_list_t *list, chunk_t spki)
{
	chunk_t *c = malloc(sizeof(*c));

	*c = chunk_clone(spki);
	list->insert_last(list, c);
}

static void free_spki(chunk_t *c)
{
	chunk_free(c);
	free(c);
}

/* RFC 9838 AUTH_KEY: the signer's public key, signatures by that key found
 * by the key itself (a previous key after the identity got a new one),
 * verified with the key alone; the trusted keys of an identity */
static void test_auth_keys_sign_and_verify_by_public_key(void **state)
{
	mem_cred_t *creds = mem_cred_create(), *creds2;
	identification_t *ks = id("ks.example.net"), *nobody = id("nobody.example.net");
	chunk_t data = chunk_from_str("GSA_REKEY A | P"), first, second, auth, *listed;
	linked_list_t *trusted = linked_list_create();

	add_key_pair(creds, KEY_ECDSA, 256, ks);
	lib->credmgr->add_set(lib->credmgr, &creds->set);
	assert_true(gs_creds_public_key("test", ks, &first));
	assert_true(gs_creds_sign("test", ks, data, &auth));
	assert_true(gs_creds_verify_with("test", first, data, auth));
	assert_false(gs_creds_verify_with("test", first,
									  chunk_from_str("GSA_REKEY other"), auth));
	assert_false(gs_creds_verify_with("test", chunk_from_str("not a key"),
									  data, auth));
	chunk_free(&auth);
	gs_creds_trusted_keys(ks, (void*)add_spki, trusted);
	assert_int_equal(trusted->get_count(trusted), 1);
	trusted->get_first(trusted, (void**)&listed);
	assert_true(chunk_equals(*listed, first));
	trusted->destroy_function(trusted, (void*)free_spki);
	trusted = linked_list_create();
	gs_creds_trusted_keys(nobody, (void*)add_spki, trusted);
	assert_int_equal(trusted->get_count(trusted), 0);

	/* a second key for the same identity, the first still loaded: each
	 * signs when asked for by its public key; once the first is unloaded,
	 * only the second */
	creds2 = mem_cred_create();
	add_key_pair(creds2, KEY_ECDSA, 256, ks);
	lib->credmgr->add_set(lib->credmgr, &creds2->set);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	assert_true(gs_creds_public_key("test", ks, &second));
	assert_false(chunk_equals(first, second));
	lib->credmgr->add_set(lib->credmgr, &creds->set);
	assert_true(gs_creds_sign_with("test", first, data, &auth));
	assert_true(gs_creds_verify_with("test", first, data, auth));
	assert_false(gs_creds_verify_with("test", second, data, auth));
	chunk_free(&auth);
	assert_true(gs_creds_sign_with("test", second, data, &auth));
	assert_true(gs_creds_verify_with("test", second, data, auth));
	assert_false(gs_creds_verify_with("test", first, data, auth));
	chunk_free(&auth);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	auth = chunk_empty;
	assert_false(gs_creds_sign_with("test", first, data, &auth));
	assert_false(gs_creds_public_key("test", nobody, &auth));
	lib->credmgr->remove_set(lib->credmgr, &creds2->set);
	creds2->destroy(creds2);
	lib->credmgr->add_set(lib->credmgr, &creds->set);

	trusted->destroy_function(trusted, (void*)free_spki);
	lib->credmgr->remove_set(lib->credmgr, &creds->set);
	creds->destroy(creds);
	chunk_free(&first);
	chunk_free(&second);
	ks->destroy(ks);
	nobody->destroy(nobody);
}

/* ---- settings */

static const char *value_of(gs_settings_t *flat, const char *key)
{
	const char **keys = flat->get_keys(flat), **values = flat->get_values(flat);
	int i;

	for (i = 0; i < flat->get_count(flat); i++)
	{
		if (streq(keys[i], key))
		{
			return values[i];
		}
	}
	return NULL;
}

static void test_settings_are_flattened_below_a_section(void **state)
{
	settings_t *settings;
	gs_settings_t *flat;
	const char **keys;

	settings = settings_create_string(
		"top {\n"
		"  groups {\n"
		"    blue {\n"
		"      role = member\n"
		"      tek-1 {\n"
		"        local_ts = 10.0.0.0/8\n"
		"      }\n"
		"      endpoints { gm2 { gateway = 192.0.2.12 } }\n"
		"      empty = \"\"\n"
		"    }\n"
		"    red%x { role = server }\n"
		"    key = value\n"
		"  }\n"
		"  other = not below groups\n"
		"}\n");
	assert_non_null(settings);

	flat = gs_settings_flatten("test", settings, "top.groups");
	assert_int_equal(flat->get_count(flat), 5);
	keys = flat->get_keys(flat);
	/* a section's keys come before its subsections' */
	assert_string_equal(keys[0], "key");
	assert_string_equal(keys[1], "blue.role");
	assert_null(keys[5]);
	assert_null(flat->get_values(flat)[5]);
	assert_string_equal(value_of(flat, "key"), "value");
	assert_string_equal(value_of(flat, "blue.role"), "member");
	assert_string_equal(value_of(flat, "blue.tek-1.local_ts"), "10.0.0.0/8");
	assert_string_equal(value_of(flat, "blue.endpoints.gm2.gateway"),
						"192.0.2.12");
	assert_string_equal(value_of(flat, "blue.empty"), "");
	/* a section name with '%' is skipped */
	assert_null(value_of(flat, "red%x.role"));
	assert_null(value_of(flat, "other"));
	flat->destroy(flat);

	/* no such section, or a path with '%': nothing */
	flat = gs_settings_flatten("test", settings, "top.none");
	assert_int_equal(flat->get_count(flat), 0);
	assert_null(flat->get_keys(flat)[0]);
	flat->destroy(flat);
	flat = gs_settings_flatten("test", settings, "top.groups.red%x");
	assert_int_equal(flat->get_count(flat), 0);
	flat->destroy(flat);

	settings->destroy(settings);
}

/* ---- the timer */

typedef struct {
	int runs;
	uint32_t wait;
} ticks_t;

static uint32_t on_tick(ticks_t *t)
{
	uint32_t wait;

	lock->lock(lock);
	t->runs++;
	wait = t->wait;
	cond->broadcast(cond);
	lock->unlock(lock);
	return wait;
}

/* wait until t has run runs times; lock held; FALSE on timeout */
static bool wait_runs(ticks_t *t, int runs)
{
	timeval_t until;

	time_monotonic(&until);
	timeval_add_ms(&until, WAIT_MS);
	while (t->runs < runs)
	{
		if (cond->timed_wait_abs(cond, lock, until))
		{
			return FALSE;
		}
	}
	return TRUE;
}

/* a job on charon's scheduler after ms, to see what ran before it */
static bool marker_seen;

static job_requeue_t marker(void *data)
{
	lock->lock(lock);
	marker_seen = TRUE;
	cond->broadcast(cond);
	lock->unlock(lock);
	return JOB_REQUEUE_NONE;
}

/* lock held */
static void wait_for_scheduler(uint32_t ms)
{
	timeval_t until;

	marker_seen = FALSE;
	lib->scheduler->schedule_job_ms(lib->scheduler,
			(job_t*)callback_job_create(marker, NULL, NULL, NULL), ms);
	time_monotonic(&until);
	timeval_add_ms(&until, WAIT_MS + ms);
	while (!marker_seen)
	{
		assert_false(cond->timed_wait_abs(cond, lock, until));
	}
}

static void test_the_timer_runs_when_kicked_and_when_due(void **state)
{
	ticks_t t = { .wait = 20 };
	gs_timer_t *timer = gs_timer_create((gs_timer_cb_t)on_tick, &t);

	lock->lock(lock);
	/* stopped until the first kick */
	wait_for_scheduler(50);
	assert_int_equal(t.runs, 0);
	lock->unlock(lock);

	timer->kick(timer);
	lock->lock(lock);
	/* then again each time it asks to */
	assert_true(wait_runs(&t, 5));
	/* a long wait, cut short by a kick */
	t.wait = 60000;
	assert_true(wait_runs(&t, t.runs + 1));
	wait_for_scheduler(50);
	t.runs = 0;
	lock->unlock(lock);
	timer->kick(timer);
	lock->lock(lock);
	assert_true(wait_runs(&t, 1));
	/* a kick supersedes what was due: no second chain of runs */
	t.wait = 30;
	lock->unlock(lock);
	timer->kick(timer);
	timer->kick(timer);
	lock->lock(lock);
	assert_true(wait_runs(&t, 3));
	t.runs = 0;
	wait_for_scheduler(300);
	/* about ten runs in 300 ms, not twice or three times that */
	assert_true(t.runs >= 3);
	assert_true(t.runs <= 14);
	lock->unlock(lock);

	timer->destroy(timer);
	lock->lock(lock);
	t.runs = 0;
	/* destroyed: what was queued does nothing */
	wait_for_scheduler(100);
	assert_int_equal(t.runs, 0);
	lock->unlock(lock);
}

static void test_a_destroyed_timer_ignores_kicks_queued_before(void **state)
{
	ticks_t t = { .wait = 0 };
	gs_timer_t *timer = gs_timer_create((gs_timer_cb_t)on_tick, &t);

	t.wait = 60000;
	timer->kick(timer);
	lock->lock(lock);
	assert_true(wait_runs(&t, 1));
	lock->unlock(lock);
	timer->destroy(timer);
	lock->lock(lock);
	wait_for_scheduler(50);
	assert_int_equal(t.runs, 1);
	lock->unlock(lock);
}

static int charon_up(void **state)
{
	if (glue_charon_up("charon", "openssl random nonce pem pkcs1 pubkey") != 0)
	{
		return -1;
	}
	lock = mutex_create(MUTEX_TYPE_DEFAULT);
	cond = condvar_create(CONDVAR_TYPE_DEFAULT);
	PORT_A = 20000 + getpid() % 20000;
	PORT_B = PORT_A + 1;
	return 0;
}

static int charon_down(void **state)
{
	glue_charon_down();
	cond->destroy(cond);
	lock->destroy(lock);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_ipv4_round_trip),
		cmocka_unit_test(test_socket_ipv6_round_trip),
		cmocka_unit_test(test_sockets_on_two_ports_have_their_own_callbacks),
		cmocka_unit_test(test_a_unicast_address_is_no_group_to_join),
		cmocka_unit_test(test_shared_keys_come_from_the_credential_manager),
		cmocka_unit_test(test_signatures_verify_with_the_signers_trusted_key),
		cmocka_unit_test(test_the_key_that_verified_may_be_refused),
		cmocka_unit_test(test_auth_keys_sign_and_verify_by_public_key),
		cmocka_unit_test(test_settings_are_flattened_below_a_section),
		cmocka_unit_test(test_the_timer_runs_when_kicked_and_when_due),
		cmocka_unit_test(test_a_destroyed_timer_ignores_kicks_queued_before),
	};

	return cmocka_run_group_tests_name("charon glue (lib/charon)", tests,
									   charon_up, charon_down);
}
