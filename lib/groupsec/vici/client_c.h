/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec VICI: the C interface of the sans-IO client (client.h), for C
 * glue that owns the socket and the event loop (lib/frr/vici_conn.c).
 *
 * The client owns no socket and reads no clock: the glue hands it the bytes
 * it read, writes the bytes it asks to send, and tells it when a connection
 * begins. Nothing allocated on one side is freed on the other; messages are
 * lent to callbacks and valid only during the call. No C++ exception
 * crosses this interface.
 */
#ifndef GS_VICI_CLIENT_C_H
#define GS_VICI_CLIENT_C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A received message (event or command response), lent to a callback. */
struct gs_vici_msg;

/**
 * The value at a path in the message: names of the sections down to the
 * value, joined by '.', such as "member.id". NULL if there is none, or if
 * it is a section or a list. The value is NUL-terminated (VICI values on
 * the control socket are text).
 */
const char *gs_vici_msg_get(const struct gs_vici_msg *msg, const char *path);

/** One sub-section of a message, lent to a gs_vici_msg_sections callback. */
typedef void (*gs_vici_section_fn)(void *arg, const char *name,
				   const struct gs_vici_msg *section);

/**
 * Call fn for every sub-section of the section at path ("" for the message
 * itself), in order, with its name and contents (read them with
 * gs_vici_msg_get, valid during the call). Lists and values are skipped.
 * Returns how many there were; 0 if path names no section.
 */
size_t gs_vici_msg_sections(const struct gs_vici_msg *msg, const char *path,
			    gs_vici_section_fn fn, void *arg);

/** One item of a list, lent to a gs_vici_msg_list callback. */
typedef void (*gs_vici_item_fn)(void *arg, const char *item);

/**
 * Call fn for every item of the list at path (as in gs_vici_msg_get), in
 * order. Returns how many there were, or -1 if path names no list.
 */
long gs_vici_msg_list(const struct gs_vici_msg *msg, const char *path,
		      gs_vici_item_fn fn, void *arg);

/**
 * The message on one line for a log: "key=value section={ ... } list=[a, b]",
 * truncated to fit. Returns buf.
 */
const char *gs_vici_msg_format(const struct gs_vici_msg *msg, char *buf,
			       size_t size);

/** What the client tells the glue, each called from inside a feed. */
struct gs_vici_client_ops {
	/** An event of a stream the client subscribed to. */
	void (*event)(void *arg, const char *name,
		      const struct gs_vici_msg *msg);
	/** The server's answer to a subscription: confirmed or unknown. */
	void (*subscribed)(void *arg, const char *name, bool confirmed);
};

/**
 * The answer to a request: the response message, or NULL when the server
 * does not know the command or the connection ended before the answer.
 */
typedef void (*gs_vici_reply_fn)(void *arg, const char *command,
				 const struct gs_vici_msg *reply);

struct gs_vici_client;

/** A client with no connection; NULL if out of memory. */
struct gs_vici_client *gs_vici_client_new(const struct gs_vici_client_ops *ops,
					  void *arg);
void gs_vici_client_free(struct gs_vici_client *client);

/**
 * Subscribe to an event stream, on this connection (if one is up) and on
 * every later one. Returns 0, or -1 if the name is not a VICI name.
 */
int gs_vici_client_subscribe(struct gs_vici_client *client, const char *name);

/**
 * A new connection begins: whatever was buffered of the old one is dropped,
 * its unanswered requests are answered with NULL, and the subscriptions are
 * queued for sending.
 */
void gs_vici_client_connected(struct gs_vici_client *client);

/** The connection ended: unanswered requests are answered with NULL. */
void gs_vici_client_disconnected(struct gs_vici_client *client);

/**
 * Queue a command. args are key and value strings in pairs, ended by NULL
 * (NULL itself for none). Keys "name[]" in a row make one list "name" with
 * their values as items (`prefixes[]`, `10.1.0.0/16`, `prefixes[]`, ...).
 * A key with dots is a value in sections: `groups.blue.role` is the value
 * `role` in the section `blue` of the section `groups` (created by the
 * first key that names them). The reply comes to fn (which may be NULL).
 * Returns 0, or -1 if there is no connection or the request cannot be
 * encoded (then fn is not called).
 */
int gs_vici_client_request(struct gs_vici_client *client, const char *command,
			   const char *const *args, gs_vici_reply_fn fn,
			   void *arg);

/**
 * Bytes read from the connection, in any pieces. Calls the callbacks for
 * every packet completed. Returns 0, or -1 on a protocol error (the text is
 * in err): the glue closes the connection.
 */
int gs_vici_client_feed(struct gs_vici_client *client, const uint8_t *data,
			size_t len, char *err, size_t errsize);

/** The bytes waiting to be written; *data valid until the next call. */
size_t gs_vici_client_pending(struct gs_vici_client *client,
			      const uint8_t **data);

/** n of the pending bytes were written. */
void gs_vici_client_written(struct gs_vici_client *client, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GS_VICI_CLIENT_C_H */
