// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes IKE fragments (RFC 7383) with the fixed keys of fuzz_gikev2_sk.
// First octet: bit 0 picks the cipher (AES-GCM / AES-CBC+HMAC).
// Bit 1 clear: the rest is a sequence of records, each a 2-octet length
// and a datagram, opened with open_fragment() and, if it opens, given to
// one Reassembly under small limits with the clock moving 1 s per record;
// whatever completes must decode or fail cleanly, and the limits hold.
// Bit 1 set: octet 1 is a fragment size (100 + 4 * octet), octet 2 the
// first payload type, the rest a payload chain; sealed as fragments,
// opened and reassembled in reverse order, it must come back the same.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_sk.h"
#include "../../gdoi-plugin/core/ike/ike_fragments.h"
#include "gikev2_fuzz_keys.h"

using namespace groupsec::gdoi;

namespace {

void records(ByteView in, const SkKeys &keys)
{
	detail::FragmentLimits lim;
	lim.max_fragments = 8;
	lim.max_bytes = 4096;
	lim.timeout_ms = 5000;
	lim.max_total_bytes = 6000;
	size_t pool = 0;
	{
		detail::Reassembly r(&pool);
		uint64_t now = 0;
		size_t at = 0;
		while (at + 2 <= in.size()) {
			size_t n = size_t(in[at]) << 8 | in[at + 1];
			at += 2;
			n = std::min(n, in.size() - at);
			auto f = open_fragment(in.sub(at, n), keys);
			at += n;
			now += 1000;
			if (!f.ok())
				continue;
			if (f.value().number == 0 || f.value().number > f.value().total)
				abort();
			auto step = r.add(f.value(), (f.value().header.flags & 0x20) != 0, now, lim);
			if (r.bytes() > lim.max_bytes || pool != r.bytes())
				abort();
			if (step == detail::Reassembly::Step::Complete) {
				(void)r.take();
				if (r.active() || pool != 0)
					abort();
			}
		}
	}
	if (pool != 0)
		abort();
}

void round_trip(ByteView in, const SkKeys &keys)
{
	if (in.size() < 2)
		return;
	const size_t max_message = 100 + 4 * size_t(in[0]);
	auto inner = decode_payload_chain(in[1], in.sub(2, in.size() - 2));
	if (!inner.ok())
		return;
	IkeHeader h;
	h.initiator_spi = 1;
	h.responder_spi = 2;
	h.exchange_type = 39;
	h.message_id = 1;
	uint64_t n = 0;
	auto frags = seal_fragments(h, inner.value(), keys, max_message, [&]() {
		Bytes iv(sk_iv_size(keys.cipher), 0);
		iv[0] = static_cast<uint8_t>(++n);
		iv[1] = static_cast<uint8_t>(n >> 8);
		return iv;
	});
	if (!frags.ok())
		return;
	detail::FragmentLimits lim;
	lim.max_fragments = 0xffff;
	lim.max_bytes = SIZE_MAX / 2;
	lim.max_total_bytes = SIZE_MAX / 2;
	detail::Reassembly r;
	auto &all = frags.value();
	for (size_t i = all.size(); i-- > 0;) {
		if (all[i].size() > max_message)
			abort();
		auto f = open_fragment(all[i], keys);
		if (!f.ok())
			abort();
		auto step = r.add(f.value(), false, 0, lim);
		if (step != (i == 0 ? detail::Reassembly::Step::Complete : detail::Reassembly::Step::Stored))
			abort();
	}
	auto back = r.take();
	if (!back.ok() || back.value() != inner.value())
		abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	SkKeys keys = (data[0] & 1) ? fuzz::cbc_keys() : fuzz::gcm_keys();
	ByteView rest(data + 1, size - 1);
	if (data[0] & 2)
		round_trip(rest, keys);
	else
		records(rest, keys);
	return 0;
}
