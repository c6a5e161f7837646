// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the key server snapshot decoder (state replication,
// docs/election.md): a snapshot that decodes must encode back to the same
// octets, and its key tree goes to a scratch KeyTreeServer, which takes it
// or refuses it whole. The seeds (tests/fuzz/corpus/fuzz_gcks_snapshot/)
// are snapshots of groups of 0 to 5 members.
#include <cstdint>
#include <cstdlib>

#include "../../gdoi-plugin/core/gcks/gcks_snapshot.h"

using namespace groupsec;
using namespace groupsec::gdoi::detail;

namespace {

class CountingRandom : public crypto::RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = next++;
	}
	uint8_t next = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteView in(data, size);
	auto d = decode_snapshot(in);
	if (!d)
		return 0;
	auto again = encode_snapshot(d.value());
	if (!again || again.value() != in.to_bytes())
		abort();
	CountingRandom random;
	keytree::KeyTreeServer tree(random);
	const uint64_t epoch = tree.epoch();
	std::string why = tree.import_state(d.value().tree);
	if (why.empty()) {
		if (tree.epoch() != d.value().tree.epoch || tree.depth() != d.value().tree.depth)
			abort();
		// the imported tree works: a join takes a free leaf or says full
		tree.join();
	} else if (tree.epoch() != epoch || tree.depth() != 0) {
		abort(); // refused, yet changed
	}
	return 0;
}
