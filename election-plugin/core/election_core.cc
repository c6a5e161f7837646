// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the election plugin's core; no exception crosses it.
#include "election_core.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "election_fsm.h"
#include "election_msg.h"
#include "groupsec/net/address.h"
#include "groupsec/version.h"

struct election_core_t {
	std::string description;
	std::vector<std::shared_ptr<groupsec::election::ElectionFsm>> groups;
};

namespace {

template <size_t N> void copy_text(char (&dst)[N], const std::string &src)
{
	size_t n = src.size() < N - 1 ? src.size() : N - 1;
	std::memcpy(dst, src.data(), n);
	dst[n] = '\0';
}

} // namespace

namespace groupsec::election {

bool core_add(election_core_t *core, std::shared_ptr<ElectionFsm> fsm)
{
	try {
		core->groups.push_back(std::move(fsm));
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

void fill_snapshot(const ElectionFsm &fsm, election_snapshot_t *out)
{
	ElectionSnapshot s = fsm.snapshot();
	std::memset(out, 0, sizeof(*out));
	out->group = s.group;
	copy_text(out->state, state_name(s.state));
	copy_text(out->phase, phase_name(s.phase));
	copy_text(out->leader, s.leader.identity);
	copy_text(out->leader_address, net::ip_text(s.leader.address));
	out->leader_self = s.leader.self;
	copy_text(out->last_result, outcome_name(s.last_outcome));
	out->attempts = s.attempts;
	out->rounds = s.counters.rounds;
	out->collisions = s.counters.collisions;
	out->leader_changes = s.counters.leader_changes;
	out->received = s.counters.received;
	out->sent = s.counters.sent;
	out->malformed = s.counters.malformed;
	out->forged = s.counters.forged;
	out->replayed = s.counters.replayed;
	out->rogue = s.counters.rogue;
	out->unauthorized = s.counters.unauthorized;
	out->ignored = s.counters.ignored;
}

} // namespace groupsec::election

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

extern "C" size_t election_core_count(election_core_t *core)
{
	return core->groups.size();
}

extern "C" bool election_core_snapshot(election_core_t *core, size_t index, election_snapshot_t *out)
{
	if (index >= core->groups.size())
		return false;
	try {
		groupsec::election::fill_snapshot(*core->groups[index], out);
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}
