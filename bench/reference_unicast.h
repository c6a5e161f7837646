// SPDX-License-Identifier: GPL-2.0-or-later
// Reference for the rekey benchmark: naive per-member unicast. The server
// shares one individual key with each member; a leave sends the new group
// key wrapped under the individual key of every remaining member.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "reference_lkh.h"

#include <vector>

namespace groupsec {
namespace bench {

class UnicastGroup {
public:
	UnicastGroup(size_t n, flatkey::RandomSource &rng);
	RekeyCost leave(const std::vector<uint32_t> &members);
	void rejoin(const std::vector<uint32_t> &members);
	size_t server_bytes() const;
	size_t member_bytes() const;

private:
	flatkey::RandomSource &rng_;
	flatkey::KeyWrapper wrapper_;
	flatkey::Key group_;
	std::vector<flatkey::Key> key_;
	std::vector<uint8_t> live_;
};

} // namespace bench
} // namespace groupsec
