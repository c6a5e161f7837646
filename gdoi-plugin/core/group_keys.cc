// SPDX-License-Identifier: GPL-2.0-or-later
// Group keys as both roles see them on the wire: RFC 9838 Key IDs of the
// flat key table and key tree keys, Rekey SAs, the signed octets of a
// GSA_REKEY.
#include "group_keys.h"

#include <algorithm>

#include "groupsec/crypto/prf.h"

#include "gikev2_wire.h"

namespace groupsec::gdoi::detail {

uint32_t flat_key_id(const flatkey::KeyId &id)
{
	switch (id.kind) {
	case flatkey::KeyKind::Tek:
		return 0x40000000u;
	case flatkey::KeyKind::Kek:
		return 0x80000000u | static_cast<uint32_t>(id.table) << 16 | static_cast<uint32_t>(id.symbol) << 8 |
		       id.value;
	case flatkey::KeyKind::Member:
		return 0xc0000000u | (id.member & 0x3fffffffu);
	}
	return 0;
}

std::optional<flatkey::KeyId> flat_key_from_id(uint32_t key_id)
{
	switch (key_id >> 30) {
	case 1:
		return key_id == 0x40000000u ? std::optional<flatkey::KeyId>(flatkey::KeyId::tek()) : std::nullopt;
	case 2:
		if (key_id & 0x3f000000u)
			return std::nullopt;
		return flatkey::KeyId::kek(static_cast<uint8_t>(key_id >> 16), static_cast<uint8_t>(key_id >> 8),
					   static_cast<uint8_t>(key_id));
	case 3:
		return flatkey::KeyId::member_key(key_id & 0x3fffffffu);
	}
	return std::nullopt;
}

uint32_t tree_key_id(const keytree::Key &k)
{
	static const char label[] = "groupsec key id";
	SecretBytes md = crypto::hmac_sha256(ByteView(k.data(), k.size()),
					     ByteView(reinterpret_cast<const uint8_t *>(label), sizeof(label) - 1));
	if (md.size() < 4)
		return 1;
	uint32_t id = uint32_t(md[0]) << 24 | uint32_t(md[1]) << 16 | uint32_t(md[2]) << 8 | md[3];
	return id ? id : 1;
}

Bytes flat_slot_entry(uint32_t key_id, const flatkey::KeySlot &slot)
{
	Bytes out;
	wire::put_u32(out, key_id);
	wire::put_u32(out, slot.version);
	wire::put_u32(out, slot.revision);
	wire::put_u32(out, slot.creator);
	return out;
}

std::optional<std::vector<FlatSlotInfo>> flat_slot_entries(ByteView value)
{
	if (value.size() % kFlatKeySlotBytes)
		return std::nullopt;
	std::vector<FlatSlotInfo> out;
	wire::Reader r(value);
	for (size_t i = 0; i < value.size() / kFlatKeySlotBytes; i++) {
		FlatSlotInfo f;
		r.u32(f.key_id);
		r.u32(f.version);
		r.u32(f.revision);
		r.u32(f.creator);
		out.push_back(f);
	}
	return out;
}

size_t kwa_key_bytes(uint16_t kwa)
{
	switch (kwa) {
	case static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_128):
		return 16;
	case static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_192):
		return 24;
	case static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256):
		return 32;
	}
	return 0;
}

bool operator==(const RekeySuite &a, const RekeySuite &b)
{
	return a.encryption == b.encryption && a.key_bits == b.key_bits && a.integrity == b.integrity &&
	       a.kwa == b.kwa;
}

bool rekey_suite_supported(const RekeySuite &s)
{
	const bool bits = s.key_bits == 128 || s.key_bits == 192 || s.key_bits == 256;
	const bool gcm = s.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16) &&
			 s.integrity == static_cast<uint16_t>(IntegrityId::None);
	const bool cbc = s.encryption == static_cast<uint16_t>(EncryptionId::AesCbc) &&
			 s.integrity == static_cast<uint16_t>(IntegrityId::HmacSha256_128);
	return bits && (gcm || cbc) && kwa_key_bytes(s.kwa) != 0;
}

namespace {

size_t salt_bytes(const RekeySuite &s)
{
	return s.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16) ? 4 : 0;
}

size_t integrity_bytes(const RekeySuite &s)
{
	return s.integrity == static_cast<uint16_t>(IntegrityId::HmacSha256_128) ? 32 : 0;
}

} // namespace

size_t rekey_keymat_bytes(const RekeySuite &s)
{
	return s.key_bits / 8u + salt_bytes(s) + integrity_bytes(s) + kwa_key_bytes(s.kwa);
}

RekeySa make_rekey_sa(Bytes spi, SecretBytes keymat, const RekeySuite &suite, uint32_t lifetime_s,
		      uint64_t now_ms)
{
	RekeySa k;
	k.spi = std::move(spi);
	k.suite = suite;
	const size_t e = suite.key_bits / 8u, salt = salt_bytes(suite), a = integrity_bytes(suite);
	auto at = [&](size_t n) { return keymat.begin() + static_cast<long>(n); };
	k.keys.cipher = salt ? SkCipher::AesGcm16 : SkCipher::AesCbcHmacSha256;
	k.keys.encryption_key.assign(at(0), at(e));
	k.keys.salt.assign(at(e), at(e + salt));
	k.keys.integrity_key.assign(at(e + salt), at(e + salt + a));
	k.gsk_w.assign(at(e + salt + a), keymat.end());
	k.keymat = std::move(keymat);
	k.lifetime_s = lifetime_s;
	k.created_ms = now_ms;
	k.expires_ms = lifetime_s ? now_ms + uint64_t(lifetime_s) * 1000 : UINT64_MAX;
	return k;
}

Result<Bytes> rekey_signed_octets(const IkeHeader &h, bool sk_critical, std::vector<Payload> inner)
{
	if (inner.empty() || inner.back().type != static_cast<uint8_t>(PayloadType::Authentication))
		return make_error(WireError::Missing, "GSA_REKEY without AUTH last");
	// RFC 9838 2.4.1.1: "The AUTH payload must have correct values in the
	// Payload Header, the Auth Method and the RESERVED fields. The
	// Authentication Data field is zeroed, but the ASN.1 Length and the
	// AlgorithmIdentifier fields must be properly filled in": the body is
	// Auth Method (1) | RESERVED (3) | ASN.1 Length (1) | AlgorithmIdentifier
	// | signature, and only the signature's octets become zeros
	Bytes &body = inner.back().body;
	if (body.size() < 5 || size_t(body[4]) + 5 > body.size())
		return make_error(WireError::BadLength, "AUTH shorter than its AlgorithmIdentifier");
	std::fill(body.begin() + 5 + body[4], body.end(), 0);
	Bytes p;
	auto first = encode_payload_chain(inner, p);
	if (!first)
		return first.error();
	// "the Length field in the IKE header ... is set to the sum of the
	// lengths of A and P, and the Payload Length field in the Encrypted
	// Payload header ... is set to the length of P plus the size of the
	// Payload header (four octets)"
	if (kIkeHeaderSize + kGenericPayloadHeaderSize + p.size() > 0xffff)
		return make_error(WireError::BadLength, "GSA_REKEY too long");
	IkeHeader adj = h;
	adj.next_payload = static_cast<uint8_t>(PayloadType::Encrypted);
	adj.length = static_cast<uint32_t>(kIkeHeaderSize + kGenericPayloadHeaderSize + p.size());
	Bytes octets = encode_ike_header(adj);
	wire::put_u8(octets, first.value());
	wire::put_u8(octets, sk_critical ? 0x80 : 0);
	wire::put_u16(octets, static_cast<uint16_t>(kGenericPayloadHeaderSize + p.size()));
	wire::put_bytes(octets, p);
	return octets;
}

} // namespace groupsec::gdoi::detail
