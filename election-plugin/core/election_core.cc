// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the election plugin's core; no exception crosses it.
#include "election_core.h"

#include <memory>
#include <new>
#include <string>

#include "election_msg.h"
#include "groupsec/version.h"

struct election_core_t {
	std::string description;
};

extern "C" election_core_t *election_core_create(void)
{
	try {
		auto core = std::make_unique<election_core_t>();
		core->description = std::string("key server election core ") +
				    groupsec::version() + ", UDP port " +
				    std::to_string(groupsec::election::kElectionPort);
		return core.release();
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" uint16_t election_core_port(election_core_t *core)
{
	return groupsec::election::kElectionPort;
}

extern "C" const char *election_core_describe(election_core_t *core)
{
	return core->description.c_str();
}

extern "C" void election_core_destroy(election_core_t *core)
{
	std::unique_ptr<election_core_t> owned(core);
}
