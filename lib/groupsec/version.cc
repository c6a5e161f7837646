// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/version.h"

#include "gs_config.h"

namespace groupsec {

const char *version()
{
	return PACKAGE_VERSION;
}

} // namespace groupsec
