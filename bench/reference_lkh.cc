// SPDX-License-Identifier: GPL-2.0-or-later
#include "reference_lkh.h"

#include <algorithm>

namespace groupsec {
namespace bench {

namespace {
// The same compact rules as the flat table's format 2 (key_message.cc):
// a 21-byte header (format, TEK before and after, entry count) and per
// wrapped key an entry tag, the 4-byte index of the child node whose key
// wraps it (the wrapped key is the parent's; versions implied as the
// receiver's current ones), and the 40-byte wrap.
constexpr size_t kHeaderBytes = 21;
constexpr size_t kEntryBytes = 1 + 4 + flatkey::kWrappedKeyBytes;
} // namespace

LkhTree::LkhTree(unsigned depth, flatkey::RandomSource &rng)
	: depth_(depth), n_(size_t(1) << depth), rng_(rng), key_(2 * n_),
	  occ_(2 * n_, 0)
{
	for (size_t i = 1; i < 2 * n_; i++)
		key_[i] = rng_.key();
	for (size_t i = n_; i < 2 * n_; i++)
		occ_[i] = 1;
	for (size_t i = n_ - 1; i >= 1; i--)
		occ_[i] = occ_[2 * i] + occ_[2 * i + 1];
}

RekeyCost LkhTree::leave(const std::vector<uint32_t> &leaves)
{
	RekeyCost c;
	std::vector<size_t> changed;
	for (uint32_t l : leaves) {
		size_t x = n_ + l;
		occ_[x] = 0;
		key_[x] = flatkey::Key{};
		for (x /= 2; x >= 1; x /= 2) {
			occ_[x]--;
			changed.push_back(x);
		}
	}
	std::sort(changed.begin(), changed.end());
	changed.erase(std::unique(changed.begin(), changed.end()),
		      changed.end());
	// deepest first, so children are new before their parent
	for (auto it = changed.rbegin(); it != changed.rend(); ++it) {
		size_t x = *it;
		key_[x] = rng_.key();
		if (occ_[x] == 0)
			continue;
		for (size_t ch : {2 * x, 2 * x + 1}) {
			if (occ_[ch] == 0)
				continue;
			auto ct = wrapper_.wrap(key_[ch], key_[x]);
			c.wrapped++;
			c.bytes += kEntryBytes - flatkey::kWrappedKeyBytes +
				   ct.size();
		}
	}
	c.bytes += kHeaderBytes;
	return c;
}

void LkhTree::rejoin(const std::vector<uint32_t> &leaves)
{
	for (uint32_t l : leaves) {
		size_t x = n_ + l;
		occ_[x] = 1;
		key_[x] = rng_.key();
		for (x /= 2; x >= 1; x /= 2) {
			occ_[x]++;
			key_[x] = flatkey::advance_revision(key_[x]);
		}
	}
}

size_t LkhTree::server_bytes() const
{
	return (2 * n_ - 1) * (flatkey::kKeyBytes + 12);
}

size_t LkhTree::member_bytes() const
{
	return (depth_ + 1) * (flatkey::kKeyBytes + 12);
}

} // namespace bench
} // namespace groupsec
