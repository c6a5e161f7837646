// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the seed corpus of fuzz_key_tree: leave messages (epoch 2) of the
// target's fixed tree. Build and run from the source tree:
//   g++ -std=c++17 -Ilib -Itests/fuzz tests/fuzz/key_tree_seeds.cc lib/groupsec/keytree/*.cc lib/groupsec/flatkey/crypto.cc -lcrypto -o /tmp/key_tree_seeds
//   /tmp/key_tree_seeds tests/fuzz/corpus/fuzz_key_tree
#include "key_tree_fuzz_tree.h"

#include <cstdio>
#include <fstream>
#include <string>

using namespace groupsec::keytree;

namespace {

void write(const std::string &dir, const char *name, const TreeMessage &m)
{
	auto b = encode(m);
	if (b.empty()) {
		fprintf(stderr, "seed %s: not encodable\n", name);
		exit(1);
	}
	std::ofstream(dir + "/" + name, std::ios::binary)
		.write(reinterpret_cast<const char *>(b.data()),
		       static_cast<std::streamsize>(b.size()));
}

std::vector<MemberKeys> epoch1;

// Writes the message of a planned (not committed) leave, after checking
// that the target's members all reach the planned root with it.
void leave(KeyTreeServer &s, const std::string &dir, const char *name,
	   std::vector<uint32_t> who)
{
	auto p = s.plan_leave(who);
	if (!p.ok) {
		fprintf(stderr, "seed %s: %s\n", name, p.error.c_str());
		exit(1);
	}
	for (const MemberKeys &k : epoch1) {
		KeyTreeMember m(k);
		auto e = m.apply(p.message);
		bool gone = false;
		for (uint32_t x : who)
			gone |= x == k.leaf;
		if (gone ? e != KeyTreeMember::ApplyError::Excluded
			 : (e != KeyTreeMember::ApplyError::None ||
			    m.root() != p.new_root)) {
			fprintf(stderr, "seed %s: member %u: %s\n", name,
				k.leaf, to_string(e));
			exit(1);
		}
	}
	write(dir, name, p.message);
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	std::string dir = argv[1];
	keytree_fuzz::CountingRandom rng;
	KeyTreeServer s(rng);
	keytree_fuzz::build(s, &epoch1);
	leave(s, dir, "single_leave", {3});
	leave(s, dir, "pair_leave", {0, 7});
	leave(s, dir, "batch_leave", {1, 2, 4, 6});
	leave(s, dir, "all_but_one", {0, 1, 2, 3, 4, 6});
	// leaf 5 again, then leaf 8: the tree grows to depth 4
	s.join();
	s.join();
	leave(s, dir, "grown_right_leave", {8});
	leave(s, dir, "grown_both_halves", {2, 8});
	return 0;
}
