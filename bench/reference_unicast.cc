// SPDX-License-Identifier: GPL-2.0-or-later
#include "reference_unicast.h"

namespace groupsec {
namespace bench {

namespace {
// The flat table's compact format 2 (key_message.cc): 21-byte header; a
// member entry is tag, 4-byte handle, 40-byte wrap.
constexpr size_t kHeaderBytes = 21;
constexpr size_t kEntryBytes = 1 + 4 + flatkey::kWrappedKeyBytes;
} // namespace

UnicastGroup::UnicastGroup(size_t n, flatkey::RandomSource &rng)
	: rng_(rng), group_(rng.key()), key_(n), live_(n, 1)
{
	for (auto &k : key_)
		k = rng_.key();
}

RekeyCost UnicastGroup::leave(const std::vector<uint32_t> &members)
{
	RekeyCost c;
	for (uint32_t m : members)
		live_[m] = 0;
	group_ = rng_.key();
	for (size_t i = 0; i < key_.size(); i++) {
		if (!live_[i])
			continue;
		auto ct = wrapper_.wrap(key_[i], group_);
		c.wrapped++;
		c.bytes += kEntryBytes + ct.size() - flatkey::kWrappedKeyBytes;
	}
	c.bytes += kHeaderBytes;
	return c;
}

void UnicastGroup::rejoin(const std::vector<uint32_t> &members)
{
	for (uint32_t m : members) {
		live_[m] = 1;
		key_[m] = rng_.key();
	}
}

size_t UnicastGroup::server_bytes() const
{
	return (key_.size() + 1) * (flatkey::kKeyBytes + 12);
}

size_t UnicastGroup::member_bytes() const
{
	return 2 * (flatkey::kKeyBytes + 12);
}

} // namespace bench
} // namespace groupsec
