/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_dispatcher gdoi_dispatcher
 * @{ @ingroup gdoi
 */

#ifndef GDOI_DISPATCHER_H_
#define GDOI_DISPATCHER_H_

#include <library.h>

#include "gdoi_core.h"
#include "gs_gdoi_ext.h"
#include "gdoi_keylog.h"
#include "gdoi_state.h"
#include "gs_socket.h"
#include "trust/gdoi_trust_creds.h"

typedef struct gdoi_dispatcher_t gdoi_dispatcher_t;

/**
 * The G-IKEv2 core in charon: hands it datagrams, timer runs, control
 * socket bytes and configuration, one call at a time (the core is not
 * thread-safe), and implements its callbacks with charon (the socket, the
 * credential manager, charon->kernel, the key logs, the state files, the
 * log).
 */
struct gdoi_dispatcher_t {

	/**
	 * The UDP port the core speaks on.
	 *
	 * @return				port
	 */
	uint16_t (*get_port)(gdoi_dispatcher_t *this);

	/**
	 * Set the socket the core sends through, and join the multicast groups
	 * of its groups on it.
	 *
	 * @param socket		socket, NULL before destroying it
	 */
	void (*set_socket)(gdoi_dispatcher_t *this, gs_socket_t *socket);

	/**
	 * The NAT traversal port (charon.plugins.gdoi.port_nat_t).
	 *
	 * @return				port, 0 if NAT traversal is off
	 */
	uint16_t (*get_nat_t_port)(gdoi_dispatcher_t *this);

	/**
	 * Set the socket on the NAT traversal port: datagrams the core sends
	 * from that port go through it.
	 *
	 * @param socket		socket, NULL before destroying it
	 */
	void (*set_nat_t_socket)(gdoi_dispatcher_t *this, gs_socket_t *socket);

	/**
	 * A datagram arrived (a gs_socket_cb_t with this as data).
	 *
	 * @param local			address it was sent to
	 * @param remote		address and port it came from
	 * @param datagram		the datagram
	 */
	void (*receive)(gdoi_dispatcher_t *this, host_t *local, host_t *remote,
					chunk_t datagram);

	/**
	 * Run the core's timers (a gs_timer_cb_t with this as data).
	 *
	 * @return				milliseconds until the next run is due
	 */
	uint32_t (*tick)(gdoi_dispatcher_t *this);

	/**
	 * Load the groups (again) from the configuration, warn about members
	 * sharing a PSK, and join the groups' multicast groups. A bad
	 * configuration is logged and changes nothing.
	 */
	void (*load)(gdoi_dispatcher_t *this);

	/**
	 * A client connected to the control socket.
	 *
	 * @param id			client id, unique among connected clients
	 * @return				FALSE to refuse it
	 */
	bool (*client_open)(gdoi_dispatcher_t *this, u_int id);

	/**
	 * Bytes read from a control client.
	 *
	 * @return				FALSE if the client broke the protocol
	 */
	bool (*client_input)(gdoi_dispatcher_t *this, u_int id, u_char *data,
						 size_t len);

	/**
	 * Copy up to len bytes queued for a control client into buf, without
	 * taking them.
	 *
	 * @return				bytes copied, 0 if none, -1 to close the client
	 */
	ssize_t (*client_output)(gdoi_dispatcher_t *this, u_int id, u_char *buf,
							 size_t len);

	/**
	 * len of the bytes client_output() copied went out.
	 */
	void (*client_written)(gdoi_dispatcher_t *this, u_int id, size_t len);

	/**
	 * A control client is gone.
	 */
	void (*client_close)(gdoi_dispatcher_t *this, u_int id);

	/**
	 * Set who is told that a control client has output waiting (called
	 * with the core's lock held: must not block).
	 */
	void (*set_wake)(gdoi_dispatcher_t *this,
					 void (*wake)(void *data, u_int id), void *data);

	/**
	 * What other plugins may use: commands and events on the control
	 * socket, the elected key server of a group.
	 *
	 * @return				interface, valid until destroy()
	 */
	gdoi_ext_t *(*get_ext)(gdoi_dispatcher_t *this);

	/**
	 * Whether member group `group` is registered with its key server.
	 */
	bool (*registered)(gdoi_dispatcher_t *this, const char *group);

	/**
	 * Destroy the core and this object.
	 */
	void (*destroy)(gdoi_dispatcher_t *this);
};

/**
 * Create the core, with the reqid base charon.plugins.gdoi configures, and
 * load its groups.
 *
 * @param keylog		key logs the core writes to
 * @param state			state files of the key server
 * @param trust			shared trust lists judging the keys that verify a
 *						peer's AUTH (kept, not owned)
 * @return				dispatcher, NULL if the core cannot be created
 */
gdoi_dispatcher_t *gdoi_dispatcher_create(gdoi_keylog_t *keylog,
										  gdoi_state_t *state,
										  gdoi_trust_creds_t *trust);

#endif /** GDOI_DISPATCHER_H_ @}*/
