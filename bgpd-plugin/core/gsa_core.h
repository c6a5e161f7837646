/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec bgpd module: the C interface of the module's C++ core.
 *
 * The FRR glue (bgp_gsa.c) takes a snapshot of bgpd's state into the plain
 * structs below and asks the core to render it; the core holds no FRR type.
 */
#ifndef GSA_CORE_H
#define GSA_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One BGP neighbor as the module sees it. */
struct gsa_peer_view {
	const char *host;     /**< neighbor address or name */
	uint32_t remote_as;   /**< its AS number */
	const char *state;    /**< FSM state name, "Established" when up */
	bool rr_client;       /**< route-reflector client for IPv4 unicast */
	uint64_t uptime_secs; /**< seconds in the current state */
};

/** One BGP instance (the default one or a VRF). */
struct gsa_instance_view {
	const char *name;      /**< "default" or the VRF name */
	uint32_t local_as;
	const char *router_id; /**< dotted quad */
	const struct gsa_peer_view *peers;
	size_t n_peers;
};

/** One event stream of the key server's control socket. */
struct gsa_event_view {
	const char *name;	  /**< "member-registered" */
	const char *subscription; /**< "confirmed", "pending", "unknown"
				       (the server has no such event) or
				       "none" (not connected) */
	uint64_t count;		  /**< events received since bgpd started */
};

/** The connection to the key server's control socket. */
struct gsa_control_view {
	const char *path;	  /**< socket path */
	bool configured;	  /**< set by `gsa control-socket` */
	const char *state;	  /**< "connected", "connecting", "stopped" */
	uint64_t state_secs;	  /**< seconds in that state */
	uint64_t connects;	  /**< connections made */
	uint64_t reconnects;	  /**< of those, after one was lost */
	uint64_t failed_attempts; /**< connect attempts that failed */
	unsigned int retry_secs;  /**< next attempt in, when connecting */
	const char *last_error;	  /**< NULL if none */
	const char *daemon;	  /**< "gdoi 1.2.3", NULL until it answered */
	uint64_t events_total;
	const char *last_event;	  /**< NULL before the first */
	uint64_t last_event_secs; /**< seconds since the last event */
	const struct gsa_event_view *events;
	size_t n_events;
};

/**
 * Render `show bgp gsa` for the given instances.
 *
 * @param inst		instances, in display order
 * @param n		number of instances
 * @param control	the control socket connection, NULL to leave it out
 * @param json		true for the JSON form, false for text
 * @return		NUL-terminated text to free with gsa_core_free(),
 *			NULL if out of memory
 */
char *gsa_core_render_status(const struct gsa_instance_view *inst, size_t n,
			     const struct gsa_control_view *control, bool json);

/**
 * The key server's event streams the module subscribes to, in the order
 * docs/control-socket.md lists them (static strings).
 */
const char *const *gsa_core_control_events(size_t *n);

/** Free text the core returned. */
void gsa_core_free(char *text);

/** The groupsec version this module was built from. */
const char *gsa_core_version(void);

#ifdef __cplusplus
}
#endif

#endif /* GSA_CORE_H */
