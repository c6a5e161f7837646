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
	/** "ready", "discovery", "election", "client", "leader", "election-incomplete" */
	char state[24];
	/** "none", "querying", "call-pending", "listen", "probation" */
	char phase[16];
	/** identity of the current key server, "" if none */
	char leader[256];
	/** its address as text, "" if none */
	char leader_address[48];
	/** this node is the key server */
	bool leader_self;
	/** "none", "elected", "collision", "no-victor", "incomplete", "found" */
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
