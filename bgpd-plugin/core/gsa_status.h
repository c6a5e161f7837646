// groupsec bgpd module: the module's status, as `show bgp gsa` prints it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace groupsec::bgp {

struct PeerStatus {
	std::string host;
	uint32_t remote_as = 0;
	std::string state;
	bool rr_client = false;
	uint64_t uptime_secs = 0;

	bool established() const { return state == "Established"; }
};

struct InstanceStatus {
	std::string name;
	uint32_t local_as = 0;
	std::string router_id;
	std::vector<PeerStatus> peers;

	size_t established_count() const;
};

struct ModuleStatus {
	std::string version;
	std::vector<InstanceStatus> instances;

	std::string to_text() const;
	std::string to_json() const;
};

// "1d02h03m", "02:03:04" or "never": the uptime format FRR operators know.
std::string format_uptime(uint64_t secs);

} // namespace groupsec::bgp
