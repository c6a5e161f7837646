/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gs_charon gs_charon
 * @ingroup cplugins
 *
 * @defgroup gs_socket gs_socket
 * @{ @ingroup gs_charon
 */

#ifndef GS_SOCKET_H_
#define GS_SOCKET_H_

#include <library.h>

typedef struct gs_socket_t gs_socket_t;

/**
 * Called for each datagram received on the socket's port.
 *
 * @param data			user data
 * @param local			address the datagram was sent to, with the socket's port
 * @param remote		address and port it came from
 * @param datagram		the datagram
 */
typedef void (*gs_socket_cb_t)(void *data, host_t *local, host_t *remote,
							   chunk_t datagram);

/**
 * UDP sockets of a plugin on a port of its own (charon keeps 500/4500),
 * IPv4 and IPv6, bypassing IPsec policies. The local address of each
 * received datagram is known (PKTINFO), a datagram can be sent from a
 * chosen local address, and the sockets can join multicast groups.
 */
struct gs_socket_t {

	/**
	 * Send a datagram.
	 *
	 * @param local			source address (its port is ignored), NULL or
	 *						%any for the kernel's choice
	 * @param remote		destination address and port
	 * @param datagram		datagram to send
	 * @return				TRUE if sent
	 */
	bool (*send)(gs_socket_t *this, host_t *local, host_t *remote,
				 chunk_t datagram);

	/**
	 * Join a multicast group to receive datagrams sent to it. Joining a
	 * group again is no error.
	 *
	 * @param group			IPv4 or IPv6 multicast address
	 * @return				TRUE if joined
	 */
	bool (*join)(gs_socket_t *this, host_t *group);

	/**
	 * Destroy a gs_socket_t. No receive callback runs after it returns.
	 */
	void (*destroy)(gs_socket_t *this);
};

/**
 * Open the sockets and start receiving.
 *
 * @param name			owner's name, the prefix of its log lines
 * @param port			UDP port
 * @param cb			receive callback, called from a processor thread
 * @param data			user data for cb
 * @return				socket, NULL if no socket could be bound
 */
gs_socket_t *gs_socket_create(const char *name, uint16_t port,
							  gs_socket_cb_t cb, void *data);

#endif /** GS_SOCKET_H_ @}*/
