// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2_sk.h"

#include <algorithm>
#include <memory>
#include <string>

#include <openssl/crypto.h>

#include "gikev2.h"
#include "gikev2_wire.h"
#include "groupsec/crypto/aead.h"
#include "groupsec/crypto/cbc.h"
#include "groupsec/crypto/prf.h"

namespace groupsec::gdoi {

namespace {

constexpr size_t kGcmIvSize = 8;
constexpr size_t kGcmSaltSize = 4;
constexpr size_t kGcmNonceSize = kGcmSaltSize + kGcmIvSize;
constexpr size_t kCbcBlockSize = 16;
constexpr size_t kIcvSize = 16;
constexpr size_t kHmacSha256KeySize = 32;

Error crypto_error(const char *what)
{
	return make_error(WireError::CryptoFailure, std::string("OpenSSL: ") + what);
}

Result<bool> check_keys(const SkKeys &k)
{
	size_t n = k.encryption_key.size();
	if (n != 16 && n != 24 && n != 32)
		return make_error(WireError::BadKey, "AES key of " + std::to_string(k.encryption_key.size()) +
							     " octets, not 16, 24 or 32");
	if (k.cipher == SkCipher::AesGcm16 && k.salt.size() != kGcmSaltSize)
		return make_error(WireError::BadKey, "AES-GCM salt must be 4 octets");
	if (k.cipher == SkCipher::AesCbcHmacSha256 && k.integrity_key.size() != kHmacSha256KeySize)
		return make_error(WireError::BadKey, "HMAC-SHA-256 key must be 32 octets");
	return true;
}

SecretBytes gcm_nonce(const SkKeys &k, ByteView iv)
{
	SecretBytes nonce(k.salt.size() + iv.size());
	std::copy(iv.begin(), iv.end(), std::copy(k.salt.begin(), k.salt.end(), nonce.begin()));
	return nonce;
}

// HMAC-SHA-256 over data, truncated to 128 bits.
Result<Bytes> hmac_icv(const SkKeys &k, ByteView data)
{
	SecretBytes md = crypto::hmac_sha256(k.integrity_key, data);
	if (md.size() < kIcvSize)
		return crypto_error("HMAC-SHA-256");
	return Bytes(md.begin(), md.begin() + kIcvSize);
}

// Encrypts pt into out (pt.size() octets) and, for GCM, writes the tag.
Result<bool> encrypt(const SkKeys &k, ByteView iv, ByteView aad, ByteView pt,
		     uint8_t *out, uint8_t *tag)
{
	if (k.cipher == SkCipher::AesGcm16) {
		SecretBytes nonce = gcm_nonce(k, iv);
		if (crypto::aes_gcm_seal_to(k.encryption_key, nonce, aad, pt, out, tag))
			return crypto_error("AES-GCM");
		return true;
	}
	if (crypto::aes_cbc_encrypt_to(k.encryption_key, iv, pt, out))
		return crypto_error("AES-CBC encrypt");
	return true;
}

// Decrypts ct; for GCM checks the tag (IntegrityFailed when it fails).
Result<Bytes> decrypt(const SkKeys &k, ByteView iv, ByteView aad, ByteView ct,
		      ByteView tag)
{
	if (k.cipher == SkCipher::AesGcm16) {
		SecretBytes nonce = gcm_nonce(k, iv);
		auto pt = crypto::aes_gcm_open(k.encryption_key, nonce, aad, ct, tag);
		if (!pt.ok()) {
			if (pt.error().code == WireError::IntegrityFailed)
				return make_error(WireError::IntegrityFailed, "SK: AES-GCM tag does not verify");
			return crypto_error("AES-GCM");
		}
		return Bytes(std::move(pt).value());
	}
	auto pt = crypto::aes_cbc_decrypt(k.encryption_key, iv, ct);
	if (!pt.ok())
		return crypto_error("AES-CBC decrypt");
	return std::move(pt).value();
}

} // namespace

size_t sk_iv_size(SkCipher c)
{
	return c == SkCipher::AesGcm16 ? kGcmIvSize : kCbcBlockSize;
}

size_t sk_icv_size(SkCipher)
{
	return kIcvSize;
}

Result<Bytes> seal_message(const IkeHeader &header, const std::vector<Payload> &clear,
			   const std::vector<Payload> &inner, const SkKeys &keys, ByteView iv)
{
	return wire::guarded([&]() -> Result<Bytes> {
		auto checked = check_keys(keys);
		if (!checked)
			return checked.error();
		size_t iv_size = sk_iv_size(keys.cipher);
		if (iv.size() != iv_size)
			return make_error(WireError::BadKey, "IV of " + std::to_string(iv.size()) + " octets, not " +
								     std::to_string(iv_size));
		Bytes pt;
		auto first = encode_payload_chain(inner, pt);
		if (!first)
			return first.error();
		// Padding | Pad Length: AES-CBC fills the last block, AES-GCM adds none
		size_t pad = 0;
		if (keys.cipher == SkCipher::AesCbcHmacSha256)
			pad = (kCbcBlockSize - (pt.size() + 1) % kCbcBlockSize) % kCbcBlockSize;
		pt.insert(pt.end(), pad, 0);
		pt.push_back(static_cast<uint8_t>(pad));

		Message m;
		m.header = header;
		m.payloads = clear;
		m.encrypted = EncryptedPayload{first.value(), false, Bytes(iv_size + pt.size() + kIcvSize)};
		auto encoded = encode_message(m);
		if (!encoded)
			return encoded.error();
		Bytes out = std::move(encoded.value());
		size_t iv_at = out.size() - m.encrypted->data.size();
		size_t ct_at = iv_at + iv_size;
		size_t icv_at = ct_at + pt.size();
		std::copy(iv.begin(), iv.end(), out.begin() + iv_at);
		ByteView aad(out.data(), iv_at);
		auto e = encrypt(keys, iv, aad, pt, out.data() + ct_at, out.data() + icv_at);
		if (!e)
			return e.error();
		if (keys.cipher == SkCipher::AesCbcHmacSha256) {
			auto icv = hmac_icv(keys, ByteView(out.data(), icv_at));
			if (!icv)
				return icv.error();
			std::copy(icv.value().begin(), icv.value().end(), out.begin() + icv_at);
		}
		return out;
	});
}

Result<OpenedMessage> open_message(ByteView datagram, const SkKeys &keys)
{
	return wire::guarded([&]() -> Result<OpenedMessage> {
		auto checked = check_keys(keys);
		if (!checked)
			return checked.error();
		auto m = decode_message(datagram);
		if (!m)
			return m.error();
		if (!m.value().encrypted)
			return make_error(WireError::Missing, "message has no SK payload");
		const Bytes &sk = m.value().encrypted->data;
		size_t iv_size = sk_iv_size(keys.cipher);
		bool cbc = keys.cipher == SkCipher::AesCbcHmacSha256;
		size_t min_ct = cbc ? kCbcBlockSize : 1;
		if (sk.size() < iv_size + min_ct + kIcvSize)
			return make_error(WireError::BadLength,
					  "SK payload of " + std::to_string(sk.size()) + " octets is too short");
		size_t ct_size = sk.size() - iv_size - kIcvSize;
		if (cbc && ct_size % kCbcBlockSize != 0)
			return make_error(WireError::BadLength, "SK ciphertext is not a whole number of AES blocks");

		size_t sk_at = datagram.size() - sk.size();
		ByteView iv = datagram.sub(sk_at, iv_size);
		ByteView ct = datagram.sub(sk_at + iv_size, ct_size);
		ByteView icv = datagram.sub(datagram.size() - kIcvSize, kIcvSize);
		if (cbc) {
			auto expect = hmac_icv(keys, datagram.sub(0, datagram.size() - kIcvSize));
			if (!expect)
				return expect.error();
			if (CRYPTO_memcmp(expect.value().data(), icv.data(), kIcvSize) != 0)
				return make_error(WireError::IntegrityFailed, "SK: HMAC-SHA-256-128 does not verify");
		}
		auto pt = decrypt(keys, iv, datagram.sub(0, sk_at), ct, icv);
		if (!pt)
			return pt.error();
		const Bytes &plain = pt.value();
		size_t pad = plain.back();
		if (pad + 1 > plain.size())
			return make_error(WireError::BadLength, "SK pad length " + std::to_string(pad) +
									" exceeds the plaintext");
		auto inner = decode_payload_chain(m.value().encrypted->first_inner,
						  ByteView(plain.data(), plain.size() - pad - 1));
		if (!inner)
			return inner.error();
		return OpenedMessage{std::move(m.value()), std::move(inner.value())};
	});
}

// --- IKE fragmentation (RFC 7383) ---

namespace {

constexpr uint8_t kSkf = static_cast<uint8_t>(PayloadType::EncryptedFragment);
constexpr size_t kMaxFragments = 0xffff;

// The largest piece of the inner chain one fragment message of at most
// max_message octets carries (0 if none fits).
size_t fragment_capacity(const SkKeys &keys, size_t max_message)
{
	const size_t fixed = kIkeHeaderSize + kSkfHeaderSize + sk_iv_size(keys.cipher) + kIcvSize;
	if (max_message <= fixed + 1)
		return 0;
	size_t room = max_message - fixed; // piece | Padding | Pad Length
	if (keys.cipher == SkCipher::AesCbcHmacSha256)
		room -= room % kCbcBlockSize;
	return room ? room - 1 : 0;
}

// One fragment message: header, SKF header, then IV, ciphertext, ICV.
Result<Bytes> seal_fragment(IkeHeader h, uint8_t next, uint16_t number, uint16_t total, ByteView piece,
			    const SkKeys &keys, ByteView iv)
{
	Bytes pt = piece.to_bytes();
	size_t pad = 0;
	if (keys.cipher == SkCipher::AesCbcHmacSha256)
		pad = (kCbcBlockSize - (pt.size() + 1) % kCbcBlockSize) % kCbcBlockSize;
	pt.insert(pt.end(), pad, 0);
	pt.push_back(static_cast<uint8_t>(pad));
	const size_t body = kSkfHeaderSize + iv.size() + pt.size() + kIcvSize;
	h.next_payload = kSkf;
	h.length = static_cast<uint32_t>(kIkeHeaderSize + body);
	Bytes out = encode_ike_header(h);
	wire::put_u8(out, next);
	wire::put_u8(out, 0);
	wire::put_u16(out, static_cast<uint16_t>(body));
	wire::put_u16(out, number);
	wire::put_u16(out, total);
	const size_t iv_at = out.size();
	out.insert(out.end(), iv.begin(), iv.end());
	const size_t ct_at = out.size();
	const size_t icv_at = ct_at + pt.size();
	out.resize(icv_at + kIcvSize);
	// RFC 7383 2.5: the AAD (AEAD) or the ICV (encrypt then MAC) covers
	// the Fragment Number and Total Fragments like the rest of the header
	auto e = encrypt(keys, iv, ByteView(out.data(), iv_at), pt, out.data() + ct_at, out.data() + icv_at);
	OPENSSL_cleanse(pt.data(), pt.size());
	if (!e)
		return e.error();
	if (keys.cipher == SkCipher::AesCbcHmacSha256) {
		auto icv = hmac_icv(keys, ByteView(out.data(), icv_at));
		if (!icv)
			return icv.error();
		std::copy(icv.value().begin(), icv.value().end(), out.begin() + icv_at);
	}
	return out;
}

} // namespace

bool is_fragment_message(ByteView datagram)
{
	return datagram.size() > 16 && datagram[16] == kSkf;
}

Result<std::vector<Bytes>> seal_fragments(const IkeHeader &header, const std::vector<Payload> &inner,
					  const SkKeys &keys, size_t max_message,
					  const std::function<Bytes()> &next_iv)
{
	return wire::guarded([&]() -> Result<std::vector<Bytes>> {
		auto checked = check_keys(keys);
		if (!checked)
			return checked.error();
		const size_t cap = fragment_capacity(keys, max_message);
		if (cap == 0)
			return make_error(WireError::BadValue, "a fragment of " + std::to_string(max_message) +
								       " octets has no room for content");
		Bytes chain;
		auto first = encode_payload_chain(inner, chain);
		if (!first)
			return first.error();
		const size_t n = chain.empty() ? 1 : (chain.size() + cap - 1) / cap;
		if (n > kMaxFragments)
			return make_error(WireError::BadLength, "message needs more than 65535 fragments");
		std::vector<Bytes> out;
		for (size_t i = 0; i < n; i++) {
			const size_t at = i * cap;
			ByteView piece(chain.data() + at, std::min(cap, chain.size() - at));
			Bytes iv = next_iv();
			if (iv.size() != sk_iv_size(keys.cipher))
				return make_error(WireError::BadKey, "IV of the wrong size");
			// RFC 7383 2.5: Next Payload "MUST be set to the payload type
			// of the first inner payload" in fragment 1, zero in the others
			auto f = seal_fragment(header, i == 0 ? first.value() : 0, static_cast<uint16_t>(i + 1),
					       static_cast<uint16_t>(n), piece, keys, iv);
			if (!f)
				return f.error();
			out.push_back(std::move(f).value());
		}
		OPENSSL_cleanse(chain.data(), chain.size());
		return out;
	});
}

Result<Fragment> open_fragment(ByteView datagram, const SkKeys &keys)
{
	return wire::guarded([&]() -> Result<Fragment> {
		auto checked = check_keys(keys);
		if (!checked)
			return checked.error();
		auto h = decode_ike_header(datagram);
		if (!h)
			return h.error();
		if (h.value().length != datagram.size())
			return make_error(WireError::BadLength, "IKE header Length is not the datagram's size");
		if (h.value().next_payload != kSkf)
			return make_error(WireError::Missing, "message has no SKF payload");
		Fragment f;
		f.header = h.value();
		wire::Reader r(datagram.sub(kIkeHeaderSize, datagram.size() - kIkeHeaderSize));
		uint8_t reserved;
		uint16_t length;
		if (!r.u8(f.first_inner) || !r.u8(reserved) || !r.u16(length) || !r.u16(f.number) || !r.u16(f.total))
			return wire::truncated("SKF header");
		// SKF is the only payload: it ends the datagram
		if (length != datagram.size() - kIkeHeaderSize)
			return make_error(WireError::BadLength, "SKF Payload Length does not end the datagram");
		// RFC 7383 2.5: Fragment Number "MUST be less than or equal to"
		// Total Fragments; neither "MUST" be zero
		if (f.number == 0 || f.total == 0 || f.number > f.total)
			return make_error(WireError::BadValue, "fragment " + std::to_string(f.number) + " of " +
								       std::to_string(f.total));
		if (f.number != 1 && f.first_inner != 0)
			return make_error(WireError::BadValue, "Next Payload set in a fragment other than the first");
		const size_t iv_size = sk_iv_size(keys.cipher);
		const bool cbc = keys.cipher == SkCipher::AesCbcHmacSha256;
		const size_t min_ct = cbc ? kCbcBlockSize : 1;
		const size_t iv_at = kIkeHeaderSize + kSkfHeaderSize;
		if (datagram.size() < iv_at + iv_size + min_ct + kIcvSize)
			return make_error(WireError::BadLength, "SKF payload is too short");
		const size_t ct_size = datagram.size() - iv_at - iv_size - kIcvSize;
		if (cbc && ct_size % kCbcBlockSize != 0)
			return make_error(WireError::BadLength, "SKF ciphertext is not a whole number of AES blocks");
		ByteView iv = datagram.sub(iv_at, iv_size);
		ByteView ct = datagram.sub(iv_at + iv_size, ct_size);
		ByteView icv = datagram.sub(datagram.size() - kIcvSize, kIcvSize);
		if (cbc) {
			auto expect = hmac_icv(keys, datagram.sub(0, datagram.size() - kIcvSize));
			if (!expect)
				return expect.error();
			if (CRYPTO_memcmp(expect.value().data(), icv.data(), kIcvSize) != 0)
				return make_error(WireError::IntegrityFailed, "SKF: HMAC-SHA-256-128 does not verify");
		}
		auto pt = decrypt(keys, iv, datagram.sub(0, iv_at), ct, icv);
		if (!pt)
			return pt.error().code == WireError::IntegrityFailed
				       ? make_error(WireError::IntegrityFailed, "SKF: AES-GCM tag does not verify")
				       : pt.error();
		Bytes &plain = pt.value();
		const size_t pad = plain.back();
		if (pad + 1 > plain.size())
			return make_error(WireError::BadLength, "SKF pad length exceeds the plaintext");
		f.content.assign(plain.begin(), plain.end() - static_cast<std::ptrdiff_t>(pad + 1));
		OPENSSL_cleanse(plain.data(), plain.size());
		return f;
	});
}

} // namespace groupsec::gdoi
