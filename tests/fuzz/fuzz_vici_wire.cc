// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the VICI codec: packets, bare messages and stream framing.
// Whatever decodes must encode to the same octets (the encoding is
// canonical) and decode again to the same tree.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "groupsec/vici/vici_wire.h"

using namespace groupsec;
using namespace groupsec::vici;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteView in(data, size);

	auto p = decode_packet(in);
	if (p.ok()) {
		auto e = encode_packet_payload(p.value());
		if (!e.ok() || e.value() != in.to_bytes())
			abort();
		auto again = decode_packet(e.value());
		if (!again.ok() || !(again.value() == p.value()))
			abort();
	}

	auto m = decode_message(in);
	if (m.ok()) {
		auto e = encode_message(m.value());
		if (!e.ok() || e.value() != in.to_bytes())
			abort();
	}

	// the input as a stream cut into pieces of a size its first octet picks
	if (size > 0) {
		size_t piece = 1 + data[0] % 64;
		StreamReader r(4096);
		size_t taken = 0;
		for (size_t pos = 1; pos < size; pos += piece) {
			r.push(in.sub(pos, std::min(piece, size - pos)));
			for (;;) {
				auto n = r.next();
				if (!n.ok() || !n.value())
					break;
				if (n.value()->size() > 4096)
					abort();
				taken += kLengthHeaderSize + n.value()->size();
				decode_packet(*n.value(), 4096);
			}
		}
		// every octet is either in a packet taken or still buffered
		if (r.next().ok() && taken + r.buffered() != size - 1)
			abort();
	}
	return 0;
}
