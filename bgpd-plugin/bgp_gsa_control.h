/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: bgpd's connection to the key server's control socket.
 *
 * The module subscribes to the gdoi plugin's event streams (member
 * registered, left, evicted, rekey, SA installed and removed, endpoint
 * changed) over lib/frr's VICI connection, keeps it up across charon
 * restarts, counts what arrives and hands each event to whoever registered
 * on the bgp_gsa_control_event hook.
 */
#ifndef BGP_GSA_CONTROL_H
#define BGP_GSA_CONTROL_H

#include "hook.h"

#include "groupsec/vici/client_c.h"

struct thread_master;
struct gsa_control_view;

/*
 * An event of the key server arrived. name is the event ("member-evicted");
 * read its fields with gs_vici_msg_get(msg, "group"). Both are valid
 * during the call only.
 */
DECLARE_HOOK(bgp_gsa_control_event,
	     (const char *name, const struct gs_vici_msg *msg), (name, msg));

/*
 * The connection came up (subscriptions sent: ask for the state now) or
 * went down.
 */
DECLARE_HOOK(bgp_gsa_control_state, (bool connected), (connected));

/*
 * Send a command on the connection (see gs_vici_conn_request); -1 when not
 * connected. fn gets NULL if the connection ends first.
 */
int gsa_control_request(const char *command, const char *const *args,
			gs_vici_reply_fn fn, void *arg);

/*
 * Send a command and wait for the answer (gs_vici_conn_request_wait): for
 * the CLI, which must answer before it returns. 0 when fn was called (with
 * NULL if the connection ended or the answer did not come within
 * timeout_ms), -1 when not connected.
 */
int gsa_control_request_wait(const char *command, const char *const *args,
			     gs_vici_reply_fn fn, void *arg, int timeout_ms);

/* The connection is up. */
bool gsa_control_connected(void);

/* The socket the module uses when none is configured. */
extern const char *const gsa_control_default_path;

/* Start the connection to the default socket (at frr_late_init). */
void gsa_control_init(struct thread_master *master);
void gsa_control_fini(void);

/* Use path (NULL: back to the default) from now on. */
void gsa_control_set_path(const char *path);
/* The configured socket, NULL when the default is used. */
const char *gsa_control_configured_path(void);

/*
 * The connection's state for `show bgp gsa`; strings and arrays valid until
 * the event loop runs again.
 */
void gsa_control_get_view(struct gsa_control_view *view);

#endif /* BGP_GSA_CONTROL_H */
