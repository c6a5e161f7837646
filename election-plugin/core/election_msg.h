// SPDX-License-Identifier: GPL-2.0-or-later
// Message types of the key server election (seed 003).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace groupsec::election {

// The election runs on its own UDP port, next to G-IKEv2's 848.
constexpr uint16_t kElectionPort = 849;

enum class MessageType : uint8_t {
	LeaderRUThere = 1, // is there a key server?
	LeaderAck = 2,     // yes, I am
	ElectionCall = 3,  // start an election
	Candidacy = 4,     // I stand
	Vote = 5,          // my choice
	Victory = 6,       // I won
};

std::optional<MessageType> message_type(uint8_t v);
// "LEADER_R_U_THERE" and so on; "UNKNOWN" for other values.
std::string_view message_name(uint8_t v);

} // namespace groupsec::election
