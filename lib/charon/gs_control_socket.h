/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

/**
 * @defgroup gs_control_socket gs_control_socket
 * @{ @ingroup groupsec_charon
 */

#ifndef GS_CONTROL_SOCKET_H_
#define GS_CONTROL_SOCKET_H_

#include <library.h>

typedef struct gs_control_socket_t gs_control_socket_t;
typedef struct gs_control_handler_t gs_control_handler_t;

/**
 * What a control socket does with its clients' bytes: the VICI server of a
 * plugin's core, which queues replies and events per client. Callbacks come
 * from charon's threads, for one client one at a time; the handler locks
 * what it shares.
 */
struct gs_control_handler_t {

	/**
	 * A client connected.
	 *
	 * @param user		handler's data
	 * @param id		client id, unique among the connected clients
	 * @return			FALSE to refuse the client (it is closed)
	 */
	bool (*open)(void *user, u_int id);

	/**
	 * Bytes read from a client.
	 *
	 * @return			FALSE if the client broke the protocol: nothing more
	 *					is read, what output() holds is written, then the
	 *					client is closed
	 */
	bool (*input)(void *user, u_int id, u_char *data, size_t len);

	/**
	 * Copies up to len of the bytes queued for a client into buf without
	 * taking them; written() says how many went out.
	 *
	 * @return			bytes copied, 0 if none are queued, -1 to close the
	 *					client now (len 0 asks only that); may be called
	 *					with the socket's lock held, so the handler never
	 *					calls into the socket under its own lock except
	 *					wake()
	 */
	ssize_t (*output)(void *user, u_int id, u_char *buf, size_t len);

	/**
	 * len of the bytes output() copied were written to the client.
	 */
	void (*written)(void *user, u_int id, size_t len);

	/**
	 * A client is gone (it closed, broke the protocol, or was closed);
	 * called once for every client open() accepted.
	 */
	void (*close)(void *user, u_int id);

	/** data passed to every callback */
	void *user;
};

/**
 * A UNIX (or other stream) socket serving its clients asynchronously on
 * charon's watcher: reads when a client sends, writes when output is queued
 * and the client takes it, never waits for a client. A client that does not
 * read holds nothing but its own queue, which the handler bounds.
 */
struct gs_control_socket_t {

	/**
	 * Output is queued for a client (or output() will ask to close it):
	 * write it as the client takes it. Never blocks; may be called from
	 * any thread, also with the handler's lock held and from within the
	 * handler's callbacks.
	 *
	 * @param id		client id
	 */
	void (*wake)(gs_control_socket_t *this, u_int id);

	/**
	 * Number of connected clients.
	 */
	u_int (*get_clients)(gs_control_socket_t *this);

	/**
	 * Stop serving, close every client (the handler's close() is called
	 * for each) and destroy the socket.
	 */
	void (*destroy)(gs_control_socket_t *this);
};

/**
 * Listen on uri ("unix:///var/run/gdoi.vici").
 *
 * @param uri			where to listen
 * @param handler		the handler, copied
 * @return				socket, NULL if uri cannot be listened on
 */
gs_control_socket_t *gs_control_socket_create(char *uri,
										gs_control_handler_t *handler);

#endif /** GS_CONTROL_SOCKET_H_ @}*/
