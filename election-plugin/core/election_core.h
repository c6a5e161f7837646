// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * groupsec election plugin: the C interface of the plugin's C++ core.
 */
#ifndef ELECTION_CORE_H_
#define ELECTION_CORE_H_

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

#ifdef __cplusplus
}
#endif

#endif /* ELECTION_CORE_H_ */
