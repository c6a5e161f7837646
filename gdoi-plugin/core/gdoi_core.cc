// The C boundary of the gdoi plugin's core; no exception crosses it.
#include "gdoi_core.h"

#include <memory>
#include <new>
#include <string>

#include "gikev2.h"
#include "groupsec/version.h"

struct gdoi_core_t {
	std::string description;
};

extern "C" gdoi_core_t *gdoi_core_create(void)
{
	try {
		auto core = std::make_unique<gdoi_core_t>();
		core->description = std::string("G-IKEv2 (RFC 9838) core ") +
				    groupsec::version() + ", UDP port " +
				    std::to_string(groupsec::gdoi::kGikev2Port);
		return core.release();
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" uint16_t gdoi_core_port(gdoi_core_t *core)
{
	return groupsec::gdoi::kGikev2Port;
}

extern "C" const char *gdoi_core_describe(gdoi_core_t *core)
{
	return core->description.c_str();
}

extern "C" void gdoi_core_destroy(gdoi_core_t *core)
{
	std::unique_ptr<gdoi_core_t> owned(core);
}
