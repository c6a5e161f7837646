// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the sans-IO VICI client with what a server might send: after a
// command request and an event subscription, the input arrives in pieces
// of a size its first octet picks. Whatever is accepted is an answer in
// order or an event; an error sticks; nothing is answered twice.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "groupsec/vici/client.h"

using namespace groupsec;
using namespace groupsec::vici;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	Client c(4096);
	uint64_t req = c.request("list-groups").value();
	uint64_t sub = c.subscribe("member-evicted").value();
	c.consume_output(c.output().size());
	size_t piece = 1 + data[0] % 64;
	bool failed = false;
	size_t answers = 0;
	for (size_t pos = 1; pos < size; pos += piece) {
		auto r = c.feed(ByteView(data + pos, std::min(piece, size - pos)));
		if (!r.ok()) {
			failed = true;
			if (!c.failed() || c.feed(ByteView(data, 1)).ok())
				abort();
		} else if (failed) {
			abort();
		}
		while (auto m = c.next()) {
			if (m->kind == Received::Kind::Event) {
				if (m->id != 0 || m->name.empty())
					abort();
				continue;
			}
			answers++;
			uint64_t want = answers == 1 ? req : sub;
			if (answers > 2 || m->id != want)
				abort();
		}
	}
	if (c.outstanding() + answers != 2)
		abort();
	return 0;
}
