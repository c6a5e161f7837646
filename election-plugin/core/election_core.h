// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * groupsec election plugin: the C interface of the plugin's C++ core.
 */
#ifndef ELECTION_CORE_H_
#define ELECTION_CORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct election_core_t election_core_t;

/**
 * Create the election core.
 *
 * @return		core instance, NULL if out of memory
 */
election_core_t *election_core_create(void);

/**
 * UDP port the election runs on.
 */
uint16_t election_core_port(election_core_t *core);

/**
 * One line describing the core, for the daemon log; valid until destroy.
 */
const char *election_core_describe(election_core_t *core);

/**
 * Destroy a core created by election_core_create().
 */
void election_core_destroy(election_core_t *core);

/**
 * One group's election as the control socket shows it; strings are
 * NUL-terminated and truncated to their buffers.
 */
typedef struct {
	uint32_t group;
	/** the group's name in the configuration ("" if none given) */
	char name[64];
	/** "ready", "discovery", "election", "client", "leader", "election-incomplete" */
	char state[24];
	/** "none", "querying", "call-pending", "listen", "probation", "confirming" */
	char phase[16];
	/** identity of the current key server, "" if none */
	char leader[256];
	/** its address as text, "" if none */
	char leader_address[48];
	/** this node is the key server */
	bool leader_self;
	/** "none", "elected", "collision", "no-victor", "incomplete", "found", "stepped-down" */
	char last_result[16];
	/** failed elections since the last success */
	uint32_t attempts;
	uint64_t rounds;
	uint64_t collisions;
	uint64_t leader_changes;
	uint64_t received;
	uint64_t sent;
	uint64_t malformed;
	uint64_t forged;
	uint64_t replayed;
	uint64_t rogue;
	uint64_t unauthorized;
	uint64_t ignored;
	/** state replication (docs/election.md): the version held and its
	 *  size, the server it came from ("" if none); the server: the
	 *  standbys known and those holding that version */
	uint64_t replica_version;
	uint64_t replica_bytes;
	char replica_from[256];
	uint64_t standbys;
	uint64_t standbys_current;
	uint64_t replicas_sent;
	uint64_t replicas_received;
} election_snapshot_t;

/**
 * Number of groups the core runs an election for.
 */
size_t election_core_count(election_core_t *core);

/**
 * The state and counters of the index-th group's election.
 *
 * @return		FALSE if index is out of range
 */
bool election_core_snapshot(election_core_t *core, size_t index, election_snapshot_t *out);

/** Authentication methods, as on the wire (docs/election.md). */
enum {
	ELECTION_AUTH_ED25519 = 1,
	ELECTION_AUTH_ECDSA_P256 = 2,
	ELECTION_AUTH_GROUP_PSK = 3,
	/** RFC 7427 AUTH data made and checked by the glue's sign() and verify() */
	ELECTION_AUTH_PUBKEY = 4,
};

/**
 * One group's election as the glue configures it. Numbers left 0 take
 * the core's defaults (docs/election.md).
 */
typedef struct {
	uint32_t group;
	/** the group's name in the configuration, shown by the control socket (may be NULL) */
	const char *name;
	/** this node's identity, as its peers know it */
	const char *identity;
	/** this node's address, IPv4 or IPv6 text */
	const char *address;
	bool candidate;
	uint8_t priority;
	uint32_t retransmits;
	uint32_t max_attempts;
	uint32_t rogue_stack;
	/** first sequence number sent; must grow across restarts */
	uint64_t first_sequence;
	uint32_t query_ms;
	uint32_t keepalive_ms;
	uint32_t listen_ms;
	uint32_t probation_ms;
	uint32_t call_jitter_ms;
	uint32_t incomplete_retry_ms;
	uint32_t rogue_hold_ms;
	/** no state replication (docs/election.md): the election names a
	 *  server that has no state to replicate */
	bool no_replication;
	/** elected, this node answers queries and announces itself only after
	 *  election_core_service_ready(): the glue switches its service on
	 *  first, so that nobody is sent to a server that does not serve yet */
	bool await_service;
	/** ELECTION_AUTH_* */
	int auth;
	/** private key (Ed25519: 32 octets, P-256: 32-octet scalar) or the group key (>= 16 octets);
	 *  none with ELECTION_AUTH_PUBKEY (the glue's sign() signs) */
	const uint8_t *key;
	size_t key_len;
} election_group_conf_t;

/**
 * What the core asks of the glue. Every call into the core happens under
 * the glue's lock; the callbacks are made from within those calls.
 */
typedef struct {
	void *ctx;
	/** send a datagram to the group (multicast, or each peer) */
	void (*send)(void *ctx, uint32_t group, const uint8_t *data, size_t len);
	/** a new key server (identity "" if none any more); address as text */
	void (*leader_changed)(void *ctx, uint32_t group, const char *identity,
						   const char *address, bool self);
	/** the group's election failed its attempt limit */
	void (*incomplete)(void *ctx, uint32_t group);
	/** monotonic milliseconds */
	uint64_t (*now_ms)(void *ctx);
	/** ELECTION_AUTH_PUBKEY: sign data with identity's private key; *sig_len
	 *  is the size of sig on entry, the signature's length on return */
	bool (*sign)(void *ctx, uint32_t group, const char *identity, const uint8_t *data,
				 size_t len, uint8_t *sig, size_t *sig_len);
	/** ELECTION_AUTH_PUBKEY: whether sig is identity's signature of data */
	bool (*verify)(void *ctx, uint32_t group, const char *identity, const uint8_t *data,
				   size_t len, const uint8_t *sig, size_t sig_len);
	/** optional: len random octets (coin tosses, jitter); OpenSSL's if NULL */
	void (*random)(void *ctx, uint8_t *buf, size_t len);
	/** optional: this node serves and `from`, a server that stepped down
	 *  in its favour, sent its last state (a gdoi snapshot) to merge */
	void (*merge)(void *ctx, uint32_t group, const char *from, const uint8_t *state,
				  size_t len);
} election_callbacks_t;

/**
 * Set the callbacks; before the first group is started.
 */
void election_core_set_callbacks(election_core_t *core, const election_callbacks_t *cb);

/**
 * Add a group's election (not yet started).
 *
 * @return		NULL, or why the configuration is refused (valid until
 *				the next call); nothing is changed then
 */
const char *election_core_add_group(election_core_t *core, const election_group_conf_t *conf);

/**
 * Authorize a peer of a group: its public key (Ed25519: 32 octets, P-256:
 * the 65-octet uncompressed point; none in group key mode and with
 * ELECTION_AUTH_PUBKEY, where the glue's verify() finds it by the
 * identity) and whether it may win. Before the group is started.
 *
 * @return		NULL, or why it is refused
 */
const char *election_core_add_peer(election_core_t *core, uint32_t group, const char *identity,
								   const uint8_t *public_key, size_t len, bool candidate);

/**
 * Start a group's election: Ready -> Discovery.
 *
 * @return		FALSE if the group is unknown or already started
 */
bool election_core_start(election_core_t *core, uint32_t group);

/**
 * A datagram received on the election port; source: the sender's address
 * as text (NULL if unknown). It goes to the group it names.
 */
void election_core_receive(election_core_t *core, const uint8_t *data, size_t len,
						   const char *source);

/**
 * When election_core_on_timer() is due next, UINT64_MAX if never.
 */
uint64_t election_core_next_deadline(election_core_t *core);

/**
 * Run every timer due now.
 */
void election_core_on_timer(election_core_t *core);

/**
 * The service of a group this node was elected for is on (the gdoi
 * plugin's key server group serves): the server in office announces
 * itself and answers queries from now on (conf.await_service). Call it
 * after passing on a leader change naming this node.
 * @return		FALSE if the group is unknown or not started
 */
bool election_core_service_ready(election_core_t *core, uint32_t group);

/**
 * State replication, the server in office: the group's current state
 * (the gdoi plugin's snapshot of its key server group); new octets get
 * the next version and go to the standby candidates.
 * @return		FALSE if this node is not the group's server or the state
 *				is too large (nothing changes)
 */
bool election_core_set_replica(election_core_t *core, uint32_t group, const uint8_t *data,
							   size_t len);

/**
 * State replication, a standby: the latest state received from the server
 * in office (malloc()ed into *out) and its version.
 * @return		FALSE if none is held
 */
bool election_core_replica(election_core_t *core, uint32_t group, uint8_t **out, size_t *len,
						   uint64_t *version);

/**
 * The control socket's `list-elections` (docs/control-socket.md): the
 * request's encoded VICI message in (an optional `group = NAME`), the
 * response's out, malloc()ed.
 *
 * @return		FALSE if out of memory
 */
bool election_core_list_message(election_core_t *core, const uint8_t *request, size_t len,
								uint8_t **out, size_t *out_len);

/**
 * The `leader-changed` event's encoded VICI message, malloc()ed: the
 * group's snapshot after the change.
 *
 * @return		FALSE if the group is unknown or out of memory
 */
bool election_core_event_message(election_core_t *core, uint32_t group, uint8_t **out,
								 size_t *out_len);

#ifdef __cplusplus
}

#include <memory>

namespace groupsec::election {
class ElectionFsm;
// Adds a group's election to the core (C++ only: the glue builds the
// state machine with its transport and signer).
bool core_add(election_core_t *core, std::shared_ptr<ElectionFsm> fsm);
// The snapshot in the C layout.
void fill_snapshot(const ElectionFsm &fsm, election_snapshot_t *out);
} // namespace groupsec::election
#endif

#endif /* ELECTION_CORE_H_ */
