// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the flat key table's rekey message decoder (format 1 and
// the compact format 2): any input is either rejected with an error or
// decodes to a message that re-encodes to the same bytes; applying a decoded
// message (leaver notices included) to a key store never crashes, and a compact message that fails
// leaves the store unchanged.
#include "groupsec/flatkey/key_message.h"
#include "groupsec/flatkey/key_store.h"

#include <cstdlib>
#include <cstring>

using namespace groupsec::flatkey;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	auto decoded = decode(groupsec::ByteView(data, size));
	if (!decoded.ok()) {
		if (decoded.error().message.empty())
			abort();
		return 0;
	}
	const KeyMessage &m = decoded.value();
	std::vector<uint8_t> again = encode(m);
	if (again.size() != size || std::memcmp(again.data(), data, size) != 0)
		abort();
	// Bound the work per input: each wrapping key may cost a chain of
	// one-way steps.
	size_t refs = 0;
	for (const auto &e : m.entries)
		refs += e.wrapping.size() + 1;
	// A leaver notice costs a hash per member and extra table.
	refs += m.leavers.ids.size() * m.leavers.radix.size();
	if (refs > 16)
		return 0;
	// A store holding a few fixed keys tries to use the message.
	KeyStore st;
	Key k{};
	for (uint8_t v = 0; v < 2; v++) {
		k[0] = v;
		st.add(KeyId::kek(0, 0, v), KeySlot{k, 1, 0, 0});
	}
	st.add(KeyId::tek(), KeySlot{k, 1, 0, 0});
	st.add(KeyId::member_key(0), KeySlot{k, 1, 0, 0});
	KeyWrapper w;
	size_t before = st.size();
	ReceiveResult r = st.receive(m, w);
	if (m.versions_implied && !r.ok() && st.size() != before)
		abort();
	st.apply(m, w);
	return 0;
}
