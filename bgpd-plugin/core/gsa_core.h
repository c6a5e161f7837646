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

/**
 * Render `show bgp gsa` for the given instances.
 *
 * @param inst		instances, in display order
 * @param n		number of instances
 * @param json		true for the JSON form, false for text
 * @return		malloc()ed NUL-terminated text, NULL if out of memory
 */
char *gsa_core_render_status(const struct gsa_instance_view *inst, size_t n,
			     bool json);

/** The groupsec version this module was built from. */
const char *gsa_core_version(void);

#ifdef __cplusplus
}
#endif

#endif /* GSA_CORE_H */
