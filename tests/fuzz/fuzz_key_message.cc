// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the flat key table's rekey message decoder (format 1 and
// the compact format 2): any input is either rejected with an error or
// decodes to a message that re-encodes to the same bytes; applying a
// decoded message (leaver notices included) to a key store never crashes,
// and a compact message that fails leaves the store unchanged.
//
// The store is a member of a table of realistic size: member 4242 of a
// 20,000-member table with the default symbol families, 543 KEKs
// (key_message_fuzz_table.h, keys in key_message_member.h). An input is one
// message, or 0xff followed by messages as [length (3)][message], applied
// in turn to the same store (the seeds hold a single leave and a sequence
// of a leave and batch leaves of 16 and 256 members of that table).
#include "groupsec/flatkey/key_message.h"
#include "groupsec/flatkey/key_store.h"
#include "key_message_member.h"

#include <cstdlib>
#include <cstring>

using namespace groupsec::flatkey;

namespace {

// What one message may cost the store, so that every input stays fast:
// a reference to a key the store holds may step that key's revision up to
// kMaxRevisionStep times (an HKDF each), and a leaver notice costs a hash
// per leaver and table. A leave of 1,024 of the 20,000 members costs about
// 1,024 x 5 notice hashes and a few hundred stepped references.
constexpr size_t kMaxRevisionSteps = 1u << 14;
constexpr size_t kMaxNoticeHashes = 1u << 16;

const KeyStore &member_store()
{
	static const KeyStore st = keymsg_fuzz::played_member().store();
	return st;
}

bool affordable(const KeyMessage &m, const KeyStore &st)
{
	size_t steps = 0;
	auto cost = [&](const KeyRef &r) {
		if (st.current(r.id))
			steps += 1 + std::min<size_t>(r.revision, kMaxRevisionStep);
	};
	for (const auto &e : m.entries) {
		for (const KeyRef &r : e.wrapping)
			cost(r);
		cost(e.wrapped);
		for (const KeyRef &r : e.carried)
			cost(r);
		if (steps > kMaxRevisionSteps)
			return false;
	}
	return m.leavers.ids.size() * m.leavers.radix.size() <= kMaxNoticeHashes;
}

// Decodes, checks the re-encoding and applies one message; false if it
// was rejected.
bool one(KeyStore &st, const uint8_t *data, size_t size)
{
	auto decoded = decode(groupsec::ByteView(data, size));
	if (!decoded.ok()) {
		if (decoded.error().message.empty())
			abort();
		return false;
	}
	const KeyMessage &m = decoded.value();
	std::vector<uint8_t> again = encode(m);
	if (again.size() != size || std::memcmp(again.data(), data, size) != 0)
		abort();
	if (!affordable(m, st))
		return false;
	KeyWrapper w;
	size_t before = st.size();
	std::optional<KeySlot> tek = st.current(KeyId::tek());
	ReceiveResult r = st.receive(m, w);
	if (m.versions_implied && !r.ok()) {
		std::optional<KeySlot> after = st.current(KeyId::tek());
		if (st.size() != before || tek.has_value() != after.has_value() ||
		    (tek && (tek->key != after->key || tek->version != after->version ||
			     tek->revision != after->revision)))
			abort();
	}
	// the format 1 path on the same store
	st.apply(m, w);
	return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	KeyStore st = member_store();
	if (size == 0 || data[0] != 0xff) {
		one(st, data, size);
		return 0;
	}
	size_t pos = 1;
	while (pos + 3 <= size) {
		size_t len = size_t(data[pos]) << 16 | size_t(data[pos + 1]) << 8 | data[pos + 2];
		pos += 3;
		len = std::min(len, size - pos);
		if (!one(st, data + pos, len))
			return 0;
		pos += len;
	}
	return 0;
}
