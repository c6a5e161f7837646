// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the seed corpus of fuzz_gikev2_skf. Build (against the libraries
// of a build tree, here build/obj) and run from the source tree:
//   g++ -std=c++17 -Igdoi-plugin/core -Ilib -Ibuild/obj tests/fuzz/skf_seeds.cc \
//       build/obj/gdoi-plugin/core/.libs/libgdoicore.a build/obj/lib/.libs/libgroupsec.a -lcrypto \
//       -o /tmp/skf_seeds
//   /tmp/skf_seeds tests/fuzz/corpus
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "../../gdoi-plugin/core/gikev2.h"
#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_sk.h"
#include "gikev2_fuzz_keys.h"

using namespace groupsec::gdoi;

namespace {

void write(const std::string &dir, const std::string &name, const Bytes &b)
{
	mkdir(dir.c_str(), 0755);
	std::ofstream out(dir + "/" + name, std::ios::binary);
	out.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<Payload> inner(size_t n)
{
	Bytes kd(n);
	for (size_t i = 0; i < n; i++)
		kd[i] = static_cast<uint8_t>(i);
	return {Payload{static_cast<uint8_t>(PayloadType::IdResponder), false, Bytes{2, 0, 0, 0, 'k', 's'}},
		Payload{static_cast<uint8_t>(PayloadType::KeyDownload), false, kd}};
}

// The records mode: the fragments of one message as length | datagram.
Bytes records(uint8_t mode, const SkKeys &keys, size_t size, size_t max_message, bool reverse)
{
	IkeHeader h;
	h.initiator_spi = 7;
	h.responder_spi = 9;
	h.exchange_type = 39;
	h.flags = 0x20;
	h.message_id = 1;
	uint8_t n = 0;
	auto frags = seal_fragments(h, inner(size), keys, max_message, [&]() {
		return Bytes(sk_iv_size(keys.cipher), ++n);
	});
	if (!frags.ok()) {
		fprintf(stderr, "seed: %s\n", frags.error().message.c_str());
		exit(1);
	}
	auto all = frags.value();
	if (reverse)
		std::reverse(all.begin(), all.end());
	Bytes out{mode};
	for (const Bytes &d : all) {
		out.push_back(static_cast<uint8_t>(d.size() >> 8));
		out.push_back(static_cast<uint8_t>(d.size()));
		out.insert(out.end(), d.begin(), d.end());
	}
	return out;
}

// The round trip mode: fragment size octet, first type, chain.
Bytes chain(uint8_t mode, uint8_t size_octet)
{
	Bytes c;
	auto first = encode_payload_chain(inner(300), c);
	Bytes out{mode, size_octet, first.value()};
	out.insert(out.end(), c.begin(), c.end());
	return out;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	const std::string dir = std::string(argv[1]) + "/fuzz_gikev2_skf";
	write(dir, "gcm_three_fragments", records(0, fuzz::gcm_keys(), 700, 300, false));
	write(dir, "cbc_three_fragments_reversed", records(1, fuzz::cbc_keys(), 700, 300, true));
	write(dir, "gcm_one_fragment", records(0, fuzz::gcm_keys(), 20, 300, false));
	write(dir, "gcm_too_many_fragments", records(0, fuzz::gcm_keys(), 2000, 150, false));
	write(dir, "round_trip_gcm", chain(2, 30));
	write(dir, "round_trip_cbc", chain(3, 10));
	return 0;
}
