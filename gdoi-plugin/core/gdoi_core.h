/*
 * groupsec gdoi plugin: the C interface of the plugin's C++ core.
 */
#ifndef GDOI_CORE_H_
#define GDOI_CORE_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gdoi_core_t gdoi_core_t;

/**
 * Create the G-IKEv2 core.
 *
 * @return		core instance, NULL if out of memory
 */
gdoi_core_t *gdoi_core_create(void);

/**
 * UDP port the core's key server and members use.
 */
uint16_t gdoi_core_port(gdoi_core_t *core);

/**
 * One line describing the core, for the daemon log; valid until destroy.
 */
const char *gdoi_core_describe(gdoi_core_t *core);

/**
 * Destroy a core created by gdoi_core_create().
 */
void gdoi_core_destroy(gdoi_core_t *core);

#ifdef __cplusplus
}
#endif

#endif /* GDOI_CORE_H_ */
