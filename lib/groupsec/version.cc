#include "groupsec/version.h"

#include "gs_config.h"

namespace groupsec {

const char *version()
{
	return PACKAGE_VERSION;
}

} // namespace groupsec
