#include "groupsec/version.h"

#include "config.h"

namespace groupsec {

const char *version()
{
	return PACKAGE_VERSION;
}

} // namespace groupsec
