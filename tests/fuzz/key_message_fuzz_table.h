// SPDX-License-Identifier: GPL-2.0-or-later
// The flat key table of fuzz_key_message and of its seed generator
// (key_message_seeds.cc): a key server of 20,000 members on a binary
// primary ID of 15 symbols with the default symbol families (543 KEKs per
// member), built the same way every time from counting randomness and a
// fixed clock, so the member the fuzz target plays holds the keys the
// seed messages were made for.
#pragma once
#include "groupsec/flatkey/flat_key_server.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace keymsg_fuzz {

using namespace groupsec::flatkey;

constexpr size_t kMembers = 20000;
// the member the target plays: index 4242, in none of the seeds' leaves
constexpr size_t kPlayed = 4242;

class CountingRandom : public RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(n_ * 131 + i * 7 + 1 + (n_ >> 8));
		n_++;
	}

private:
	uint64_t n_ = 0;
};

class FixedClock : public Clock {
public:
	uint64_t now_ms() const override { return 1000000; }
};

struct Table {
	CountingRandom rng;
	FixedClock clock;
	std::unique_ptr<FlatKeyServer> server;
	std::vector<MemberId> ids;
	MemberKeys played;
};

// Builds the table: kMembers joins in batches of 1000.
inline std::unique_ptr<Table> build()
{
	auto t = std::make_unique<Table>();
	std::string error;
	auto layout = IdLayout::with_families(std::vector<uint16_t>(15, 2), IdLayout::default_families(), &error);
	if (!layout) {
		fprintf(stderr, "key_message_fuzz_table: %s\n", error.c_str());
		abort();
	}
	t->server = std::make_unique<FlatKeyServer>(ServerConfig(*layout), t->rng, t->clock);
	for (size_t i = 0; i < kMembers; i += 1000) {
		std::vector<MemberId> batch;
		for (size_t j = i; j < i + 1000 && j < kMembers; j++)
			batch.push_back(*layout->from_index(j));
		JoinResult r = t->server->join_batch(batch);
		if (!r.ok) {
			fprintf(stderr, "key_message_fuzz_table: join: %s\n", r.error.c_str());
			abort();
		}
		for (size_t j = 0; j < r.members.size(); j++)
			if (i + j == kPlayed)
				t->played = r.members[j];
		t->ids.insert(t->ids.end(), batch.begin(), batch.end());
	}
	return t;
}

} // namespace keymsg_fuzz
