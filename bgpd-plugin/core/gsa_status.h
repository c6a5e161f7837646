// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec bgpd module: the module's status, as `show bgp gsa` prints it.
#pragma once

#include <cstdint>
#include <optional>
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

struct EventStatus {
	std::string name;
	std::string subscription; // confirmed, pending, unknown, none
	uint64_t count = 0;
};

// The connection to the key server's control socket.
struct ControlStatus {
	std::string path;
	bool configured = false;
	std::string state; // connected, connecting, stopped
	uint64_t state_secs = 0;
	uint64_t connects = 0;
	uint64_t reconnects = 0;
	uint64_t failed_attempts = 0;
	unsigned retry_secs = 0;
	std::optional<std::string> last_error;
	std::optional<std::string> daemon;
	uint64_t events_total = 0;
	std::optional<std::string> last_event;
	uint64_t last_event_secs = 0;
	std::vector<EventStatus> events;

	std::string to_text() const;
};

struct ModuleStatus {
	std::string version;
	std::vector<InstanceStatus> instances;
	std::optional<ControlStatus> control;

	std::string to_text() const;
	std::string to_json() const;
};

// "1d02h03m", "02:03:04" or "never": the uptime format FRR operators know.
std::string format_uptime(uint64_t secs);

} // namespace groupsec::bgp
