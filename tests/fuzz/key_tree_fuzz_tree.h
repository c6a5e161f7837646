// SPDX-License-Identifier: GPL-2.0-or-later
// The fixed key tree of fuzz_key_tree and its seed writer: 8 members, leaf
// 5 removed at epoch 1, every key from a counter. Seed messages lead to
// epoch 2 of this tree, so the target's members can apply them.
#pragma once

#include "groupsec/keytree/key_tree.h"

#include <cstring>

namespace keytree_fuzz {

class CountingRandom : public groupsec::flatkey::RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(n_ * 131 + i * 7 + 1);
		n_++;
	}

private:
	uint64_t n_ = 0;
};

// Builds the tree in s; the members at epoch 1 go to out (leaf 5 free).
inline void build(groupsec::keytree::KeyTreeServer &s,
		  std::vector<groupsec::keytree::MemberKeys> *out)
{
	for (int i = 0; i < 8; i++)
		s.join();
	auto p = s.plan_leave({5});
	s.commit(p);
	if (out)
		for (uint32_t l = 0; l < 8; l++)
			if (s.occupied(l))
				out->push_back(s.keys_of(l));
}

} // namespace keytree_fuzz
