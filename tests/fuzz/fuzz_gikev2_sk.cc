// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes SK decryption with fixed keys. First octet: bit 0 picks the
// cipher (AES-GCM / AES-CBC+HMAC); bit 1 clear opens the rest as a
// datagram; bit 1 set reads the rest as octet 1 = first payload type and a
// payload chain, seals it and checks that opening gives it back.
#include <cstdint>
#include <cstdlib>

#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_sk.h"
#include "gikev2_fuzz_keys.h"

using namespace groupsec::gdoi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	SkKeys keys = (data[0] & 1) ? fuzz::cbc_keys() : fuzz::gcm_keys();
	if (!(data[0] & 2)) {
		auto opened = open_message(ByteView(data + 1, size - 1), keys);
		if (opened.ok() && !opened.value().message.encrypted)
			abort();
		return 0;
	}
	if (size < 2)
		return 0;
	auto inner = decode_payload_chain(data[1], ByteView(data + 2, size - 2));
	if (!inner.ok())
		return 0;
	IkeHeader h;
	h.initiator_spi = 1;
	h.exchange_type = 41;
	Bytes iv(sk_iv_size(keys.cipher), 0x5e);
	auto sealed = seal_message(h, {}, inner.value(), keys, iv);
	if (!sealed.ok())
		return 0; // too long for one SK payload
	auto opened = open_message(sealed.value(), keys);
	if (!opened.ok() || opened.value().inner != inner.value())
		abort();
	return 0;
}
