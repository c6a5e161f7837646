// SPDX-License-Identifier: GPL-2.0-or-later
// Tunnel endpoints of a group: for each remote gateway, the prefixes
// behind it. A member sends a group's traffic for those prefixes through
// the group SA in tunnel mode to that gateway. They come from the
// configuration and, at run time, from the control socket.
#pragma once

#include <string>
#include <vector>

#include "gdoi_engine.h"

namespace groupsec::gdoi {

struct TunnelEndpoint {
	Address gateway; // port unused
	std::vector<TrafficSelector> prefixes; // at least one
};
bool operator==(const TunnelEndpoint &a, const TunnelEndpoint &b);

} // namespace groupsec::gdoi
