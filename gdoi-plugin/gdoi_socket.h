/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gdoi_socket gdoi_socket
 * @{ @ingroup gdoi
 */

#ifndef GDOI_SOCKET_H_
#define GDOI_SOCKET_H_

#include <library.h>

typedef struct gdoi_socket_t gdoi_socket_t;

/**
 * Called for each datagram received on the G-IKEv2 port.
 *
 * @param data			user data
 * @param local			address the datagram was sent to
 * @param remote		address and port it came from
 * @param datagram		the datagram
 */
typedef void (*gdoi_socket_cb_t)(void *data, host_t *local, host_t *remote,
								 chunk_t datagram);

/**
 * UDP sockets of G-IKEv2 (RFC 9838 allows port 848, charon keeps 500/4500),
 * IPv4 and IPv6, bypassing IPsec policies.
 */
struct gdoi_socket_t {

	/**
	 * Send a datagram.
	 *
	 * @param local			source address (its port is ignored)
	 * @param remote		destination address and port
	 * @param datagram		datagram to send
	 * @return				TRUE if sent
	 */
	bool (*send)(gdoi_socket_t *this, host_t *local, host_t *remote,
				 chunk_t datagram);

	/**
	 * Join a multicast group to receive rekeys sent to it.
	 *
	 * @param group			IPv4 or IPv6 multicast address
	 * @return				TRUE if joined
	 */
	bool (*join)(gdoi_socket_t *this, host_t *group);

	/**
	 * Destroy a gdoi_socket_t.
	 */
	void (*destroy)(gdoi_socket_t *this);
};

/**
 * Open the sockets and start receiving.
 *
 * @param port			UDP port
 * @param cb			receive callback, called from a processor thread
 * @param data			user data for cb
 * @return				socket, NULL if no socket could be bound
 */
gdoi_socket_t *gdoi_socket_create(uint16_t port, gdoi_socket_cb_t cb,
								  void *data);

#endif /** GDOI_SOCKET_H_ @}*/
