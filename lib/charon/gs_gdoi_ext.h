/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_ext gdoi_ext
 * @{ @ingroup gdoi
 */

#ifndef GS_GDOI_EXT_H_
#define GS_GDOI_EXT_H_

#include <library.h>

/**
 * Name under which the gdoi plugin registers its gdoi_ext_t with
 * lib->set() while its features are loaded; other plugins find it with
 * lib->get() (and SDEPEND on CUSTOM "gdoi" so that it is there first).
 */
#define GDOI_EXT_NAME "gdoi-ext"

typedef struct gdoi_ext_t gdoi_ext_t;

/**
 * A command served for another plugin on the gdoi control socket: the
 * request's encoded VICI message in, the response's out (malloc()ed). Runs
 * with the gdoi plugin's lock held: it must not call back into gdoi_ext_t.
 *
 * @return				FALSE if there is no response (success = no)
 */
typedef bool (*gdoi_ext_command_cb_t)(void *ctx, const uint8_t *request,
									  size_t len, uint8_t **response,
									  size_t *response_len);

/**
 * What the gdoi plugin offers the plugins next to it: commands and events
 * on its control socket (docs/control-socket.md), and the key server of a
 * group chosen from outside (the election plugin, docs/election.md).
 */
struct gdoi_ext_t {

	/**
	 * Serve a command on the control socket.
	 *
	 * @return				FALSE if the name is taken
	 */
	bool (*add_command)(gdoi_ext_t *this, const char *name,
						gdoi_ext_command_cb_t cb, void *ctx);

	/**
	 * Serve an event clients may subscribe to.
	 *
	 * @return				FALSE if the name is taken
	 */
	bool (*add_event)(gdoi_ext_t *this, const char *name);

	/**
	 * Stop serving a command or event added before.
	 */
	void (*remove)(gdoi_ext_t *this, const char *name);

	/**
	 * Send an event added before to its subscribers; never blocks.
	 *
	 * @param message		encoded VICI message
	 * @return				FALSE if unknown or not a VICI message
	 */
	bool (*emit)(gdoi_ext_t *this, const char *name, chunk_t message);

	/**
	 * The elected key server of a group that waits for an election
	 * (`server = election`): on this node (self) the key server group
	 * serves, elsewhere it stands by; a member group registers to address
	 * with the elected server's identity.
	 *
	 * @param group			gdoi group name
	 * @param identity		elected server's identity, NULL if none
	 * @param address		its address, NULL if none
	 * @param self			this node was elected
	 * @return				FALSE if the group does not wait for an election,
	 *						or the change failed (logged)
	 */
	bool (*set_elected)(gdoi_ext_t *this, const char *group,
						const char *identity, const char *address, bool self);

	/**
	 * The state of an elected key server group serving on this node, as
	 * a versioned snapshot for the standby candidates (docs/election.md,
	 * "State replication").
	 *
	 * @param group			gdoi group name
	 * @param state			the snapshot, allocated (chunk_clear() it)
	 * @return				FALSE if the group does not serve here or is
	 *						not replicated
	 */
	bool (*snapshot)(gdoi_ext_t *this, const char *group, chunk_t *state);

	/**
	 * The latest snapshot replicated from the elected server: if this
	 * node is elected, the group starts from it (the same keys, members
	 * and counters) instead of afresh. Call before set_elected().
	 *
	 * @return				FALSE if the group does not wait for an
	 *						election or the snapshot does not decode
	 */
	bool (*set_replica)(gdoi_ext_t *this, const char *group, chunk_t state);

	/**
	 * The last snapshot of a server that stepped down for this one (two
	 * servers after a partition, docs/election.md): the group serving
	 * here keeps its own state and adds the identities that server
	 * evicted (evicting those registered here).
	 *
	 * @return				FALSE if the group does not serve here, the
	 *						snapshot does not decode, or the eviction failed
	 */
	bool (*merge_replica)(gdoi_ext_t *this, const char *group, chunk_t state);
};

#endif /** GS_GDOI_EXT_H_ @}*/
