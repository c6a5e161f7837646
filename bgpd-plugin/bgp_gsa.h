/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec GSA module: what the module's files share.
 */
#ifndef BGP_GSA_H
#define BGP_GSA_H

#include "memory.h"

/* every allocation of the module is accounted under this group */
DECLARE_MGROUP(GSA);

#endif /* BGP_GSA_H */
