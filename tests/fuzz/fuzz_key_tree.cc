// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the key tree's rekey message decoder: any input is either
// rejected with an error (and nothing else), or decodes to a message that
// re-encodes to the same bytes. Every decoded message is given to the
// members of a small tree (tests/fuzz/key_tree_fuzz_tree.h, at the epoch
// before the seeds'): a member either applies it completely (new epoch and
// depth, a full path) or keeps every key.
#include "groupsec/keytree/key_tree.h"
#include "key_tree_fuzz_tree.h"

#include <cstdlib>
#include <cstring>

using namespace groupsec::keytree;

namespace {

const std::vector<MemberKeys> &members()
{
	static const std::vector<MemberKeys> m = [] {
		keytree_fuzz::CountingRandom rng;
		KeyTreeServer s(rng);
		std::vector<MemberKeys> out;
		keytree_fuzz::build(s, &out);
		return out;
	}();
	return m;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	auto decoded = decode(groupsec::ByteView(data, size));
	if (!decoded.ok()) {
		if (decoded.error().message.empty())
			abort();
		return 0;
	}
	const TreeMessage &msg = decoded.value();
	if (check(msg))
		abort();
	std::vector<uint8_t> again = encode(msg);
	if (again.size() != size || encoded_size(msg) != size ||
	    std::memcmp(again.data(), data, size) != 0)
		abort();
	for (const MemberKeys &k : members()) {
		KeyTreeMember m(k);
		using E = KeyTreeMember::ApplyError;
		E e = m.apply(msg);
		const MemberKeys &now = m.keys();
		if (e == E::None) {
			if (now.epoch != msg.epoch ||
			    now.depth != msg.depth ||
			    now.path.size() != now.depth + 1u ||
			    now.leaf != k.leaf)
				abort();
			// applied once only
			if (m.apply(msg) != E::Stale)
				abort();
		} else if (now.path != k.path || now.epoch != k.epoch ||
			   now.depth != k.depth) {
			abort();
		}
	}
	return 0;
}
