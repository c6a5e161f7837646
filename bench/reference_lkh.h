// SPDX-License-Identifier: GPL-2.0-or-later
// Reference for the rekey benchmark: a binary logical key hierarchy (LKH)
// over a complete tree of N = 2^d leaves, root key = group key. A leave
// replaces every key on the removed members' paths, each new key wrapped
// under the current key of each child that still has members.
#pragma once

#include "groupsec/flatkey/crypto.h"

#include <vector>

namespace groupsec {
namespace bench {

struct RekeyCost {
	size_t wrapped = 0;
	size_t bytes = 0;
};

class LkhTree {
public:
	// All leaves occupied.
	LkhTree(unsigned depth, flatkey::RandomSource &rng);
	RekeyCost leave(const std::vector<uint32_t> &leaves);
	// Puts members back on their leaves (fresh leaf keys, path keys
	// advanced one revision); not part of the measured cost.
	void rejoin(const std::vector<uint32_t> &leaves);
	size_t members() const { return occ_[1]; }
	size_t server_bytes() const;
	size_t member_bytes() const;

private:
	unsigned depth_;
	size_t n_;
	flatkey::RandomSource &rng_;
	flatkey::KeyWrapper wrapper_;
	std::vector<flatkey::Key> key_; // heap order, 1 = root
	std::vector<uint32_t> occ_;	// members below each node
};

} // namespace bench
} // namespace groupsec
