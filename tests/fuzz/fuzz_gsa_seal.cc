// SPDX-License-Identifier: GPL-2.0-or-later
// The sealed attribute's decoders (bgpd-plugin/core/gsa_seal_codec.h,
// gsa_keyring.h, gsa_seal.h): the list of entries (which, when it parses,
// must encode again to the same octets), the blob header, opening with a keyring
// that holds the input's group and epoch (so a tag that happens to verify
// reaches the plaintext decoder), the path attribute walk, the group tag
// and its text. An input whose first octet is 0xff is a plaintext: it is
// sealed under the keyring's current key and opened again, which must
// succeed exactly when the plaintext decodes, and give back the same
// octets when encoded again.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../../bgpd-plugin/core/gsa_community.h"
#include "../../bgpd-plugin/core/gsa_keyring.h"
#include "../../bgpd-plugin/core/gsa_seal.h"
#include "../../bgpd-plugin/core/gsa_seal_codec.h"
#include "groupsec/base/writer.h"
#include "groupsec/crypto/aead.h"
#include "groupsec/crypto/clock.h"

using namespace groupsec;
using namespace groupsec::bgp;

namespace {

class FixedClock : public crypto::Clock {
public:
	uint64_t now_ms() const override { return 1000; }
};

Bytes key_of(uint8_t first)
{
	Bytes k(32);
	for (size_t i = 0; i < k.size(); i++)
		k[i] = static_cast<uint8_t>(first + i);
	return k;
}

// group 300: epoch 0x1a2b3c4d current (the seeds' key 00 01 .. 1f), epoch 1
// previous within its grace; group 7: epoch 5
Keyring &ring()
{
	static FixedClock clock;
	static Keyring *r = [] {
		auto *k = new Keyring(clock, 60000);
		k->update(300, 1, key_of(0x40));
		k->update(300, 0x1a2b3c4d, key_of(0));
		k->update(7, 5, key_of(0x80));
		return k;
	}();
	return *r;
}

gsa_keyring_t *c_ring()
{
	static gsa_keyring_t *r = [] {
		gsa_keyring_t *k = gsa_keyring_create(60, nullptr, nullptr);
		Bytes key = key_of(0);
		gsa_keyring_update(k, 300, 0x1a2b3c4d, key.data(), key.size(), nullptr, nullptr, 0);
		return k;
	}();
	return r;
}

void check(bool ok)
{
	if (!ok)
		abort();
}

void plaintext(ByteView plain)
{
	Bytes blob;
	wire::put_u8(blob, kSealVersion);
	wire::put_u8(blob, kSealSuiteAes256Gcm);
	wire::put_u32(blob, 300);
	wire::put_u32(blob, 0x1a2b3c4d);
	wire::put_u8(blob, kAfiIpv4);
	wire::put_bytes(blob, Bytes{192, 0, 2, 1});
	Bytes aad = blob;
	Bytes nonce(kSealNonceBytes, 0x22);
	auto sealed = crypto::aes_gcm_seal(key_of(0), nonce, aad, plain);
	check(sealed.ok());
	wire::put_bytes(blob, nonce);
	wire::put_bytes(blob, sealed.value());
	auto decoded = decode_sealed_routes(plain);
	auto opened = ring().open(blob);
	check(opened.ok() == decoded.ok());
	if (!decoded.ok()) {
		check(opened.error().code == decoded.error().code);
		return;
	}
	auto again = encode_sealed_routes(decoded.value());
	check(again.ok() && ByteView(again.value()).size() == plain.size() &&
	      memcmp(again.value().data(), plain.data(), plain.size()) == 0);
	check(opened.value().routes.prefixes == decoded.value().prefixes);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteView in(data, size);
	if (size >= 1 && data[0] == 0xff) {
		plaintext(in.sub(1, size - 1));
		return 0;
	}

	auto h = parse_sealed(in);
	auto o = ring().open(in);
	check(!o.ok() || h.ok());
	if (h.ok()) {
		check(h.value().aad.size() + h.value().nonce.size() + h.value().ciphertext.size() + h.value().tag.size() ==
		      size);
	}

	gsa_opened opened;
	char err[GSA_SEAL_ERR_MAX];
	if (gsa_open(c_ring(), data, size, &opened, err, sizeof(err)) == GSA_SEAL_OK) {
		check(opened.count > 0);
		gsa_opened_free(&opened);
	} else {
		check(opened.prefixes == nullptr && strlen(err) < sizeof(err));
	}
	uint32_t group = 0, epoch = 0;
	gsa_addr orig;
	gsa_seal_peek(data, size, &group, &epoch, &orig, err, sizeof(err));

	// the attribute's value: a list of entries, strict and canonical
	auto list = parse_sealed_list(in);
	auto opened_list = ring().open_list(in);
	check(list.ok() == opened_list.ok());
	if (list.ok()) {
		check(!list.value().empty() && list.value().size() <= kSealMaxEntries);
		std::vector<Bytes> entries;
		for (const SealedHeader &h : list.value())
			entries.emplace_back(h.aad.begin(), h.tag.end());
		auto again = encode_sealed_list(entries);
		check(again.ok() && again.value().size() == size && memcmp(again.value().data(), data, size) == 0);
		check(opened_list.value().size() == list.value().size());
	}
	gsa_opened_entry *entries = nullptr;
	size_t n_entries = 0;
	if (gsa_open_list(c_ring(), data, size, &entries, &n_entries, err, sizeof(err)) == GSA_SEAL_OK) {
		check(list.ok() && n_entries == list.value().size());
		for (size_t i = 0; i < n_entries; i++)
			check(entries[i].status != GSA_SEAL_OK || entries[i].opened.count > 0);
		gsa_opened_entries_free(entries, n_entries);
	} else {
		check(entries == nullptr && n_entries == 0);
	}

	auto routes = decode_sealed_routes(in);
	if (routes.ok()) {
		auto again = encode_sealed_routes(routes.value());
		check(again.ok() && again.value().size() == size && memcmp(again.value().data(), data, size) == 0);
	}

	auto attr = find_seal_attribute(in, kSealDefaultCode);
	if (attr.ok()) {
		check(attr.value().data() >= data && attr.value().data() + attr.value().size() <= data + size);
		ring().open(attr.value());
		ring().open_list(attr.value());
	}
	const uint8_t *value = nullptr;
	size_t value_len = 0;
	gsa_seal_attr_find(data, size, kSealDefaultCode, &value, &value_len, err, sizeof(err));

	if (size >= kGroupTagBytes) {
		auto t = decode_group_tag(in.sub(0, kGroupTagBytes));
		if (t.ok()) {
			auto back = encode_group_tag(t.value());
			check(memcmp(back.data(), data, kGroupTagBytes) == 0);
		}
	}
	std::string text(reinterpret_cast<const char *>(data), size);
	auto t = parse_group_tag(text);
	if (t.ok()) {
		auto back = parse_group_tag(group_tag_text(t.value()));
		check(back.ok() && back.value() == t.value());
	}
	parse_group_number(text);
	return 0;
}
