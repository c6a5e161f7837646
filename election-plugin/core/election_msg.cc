// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_msg.h"

namespace groupsec::election {

std::optional<MessageType> message_type(uint8_t v)
{
	if (v >= static_cast<uint8_t>(MessageType::LeaderRUThere) &&
	    v <= static_cast<uint8_t>(MessageType::Victory))
		return static_cast<MessageType>(v);
	return std::nullopt;
}

std::string_view message_name(uint8_t v)
{
	auto t = message_type(v);
	if (!t)
		return "UNKNOWN";
	switch (*t) {
	case MessageType::LeaderRUThere:
		return "LEADER_R_U_THERE";
	case MessageType::LeaderAck:
		return "LEADER_ACK";
	case MessageType::ElectionCall:
		return "ELECTION_CALL";
	case MessageType::Candidacy:
		return "CANDIDACY";
	case MessageType::Vote:
		return "VOTE";
	case MessageType::Victory:
		return "VICTORY";
	}
	return "UNKNOWN";
}

} // namespace groupsec::election
