// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/aead.h"

#include <memory>

#include <openssl/evp.h>

#include "groupsec/base/writer.h"
#include "groupsec/crypto/aes_cipher.h"

namespace groupsec::crypto {

namespace {

using detail::AesMode;
using Ctx = detail::CipherCtx;

const EVP_CIPHER *gcm_cipher(size_t key_size)
{
	return detail::aes_cipher(AesMode::Gcm, key_size);
}

std::optional<Error> check_sizes(ByteView key, ByteView nonce)
{
	if (!gcm_cipher(key.size()))
		return make_error(WireError::BadKey, "AES-GCM key must be 16, 24 or 32 octets");
	if (nonce.size() != kGcmNonceBytes)
		return make_error(WireError::BadLength, "AES-GCM nonce must be 12 octets");
	return std::nullopt;
}

const uint8_t kEmpty = 0;

const uint8_t *data_of(ByteView b)
{
	return b.empty() ? &kEmpty : b.data();
}

} // namespace

std::optional<Error> aes_gcm_seal_to(ByteView key, ByteView nonce, ByteView aad, ByteView plain, uint8_t *out,
				     uint8_t *tag)
{
	if (auto e = check_sizes(key, nonce))
		return e;
	Ctx ctx(EVP_CIPHER_CTX_new());
	int len = 0, fin = 0;
	if (!ctx || EVP_EncryptInit_ex(ctx.get(), gcm_cipher(key.size()), nullptr, nullptr, nullptr) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceBytes, nullptr) != 1 ||
	    EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
	    EVP_EncryptUpdate(ctx.get(), nullptr, &len, data_of(aad), static_cast<int>(aad.size())) != 1)
		return make_error(WireError::CryptoFailure, "AES-GCM setup failed");
	if (EVP_EncryptUpdate(ctx.get(), out, &len, data_of(plain), static_cast<int>(plain.size())) != 1 ||
	    EVP_EncryptFinal_ex(ctx.get(), out + len, &fin) != 1 || static_cast<size_t>(len + fin) != plain.size())
		return make_error(WireError::CryptoFailure, "AES-GCM encryption failed");
	if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagBytes, tag) != 1)
		return make_error(WireError::CryptoFailure, "AES-GCM tag failed");
	return std::nullopt;
}

Result<Bytes> aes_gcm_seal(ByteView key, ByteView nonce, ByteView aad, ByteView plain)
{
	return wire::guarded([&]() -> Result<Bytes> {
		Bytes out(plain.size() + kGcmTagBytes);
		if (auto e = aes_gcm_seal_to(key, nonce, aad, plain, out.data(), out.data() + plain.size()))
			return *e;
		return out;
	});
}

Result<SecretBytes> aes_gcm_open(ByteView key, ByteView nonce, ByteView aad, ByteView ciphertext, ByteView tag)
{
	return wire::guarded([&]() -> Result<SecretBytes> {
		if (auto e = check_sizes(key, nonce))
			return *e;
		if (tag.size() != kGcmTagBytes)
			return make_error(WireError::BadLength, "AES-GCM tag must be 16 octets");
		Bytes tag_copy = tag.to_bytes();
		Ctx ctx(EVP_CIPHER_CTX_new());
		int len = 0, fin = 0;
		if (!ctx || EVP_DecryptInit_ex(ctx.get(), gcm_cipher(key.size()), nullptr, nullptr, nullptr) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceBytes, nullptr) != 1 ||
		    EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
		    EVP_DecryptUpdate(ctx.get(), nullptr, &len, data_of(aad), static_cast<int>(aad.size())) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag_copy.data()) != 1)
			return make_error(WireError::CryptoFailure, "AES-GCM setup failed");
		// one spare block: EVP may write up to a block more than it reports
		SecretBytes plain(ciphertext.size() + 16);
		if (EVP_DecryptUpdate(ctx.get(), plain.data(), &len, data_of(ciphertext),
				      static_cast<int>(ciphertext.size())) != 1)
			return make_error(WireError::CryptoFailure, "AES-GCM decryption failed");
		if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &fin) != 1)
			return make_error(WireError::IntegrityFailed, "AES-GCM tag does not verify");
		plain.resize(static_cast<size_t>(len + fin));
		return plain;
	});
}

} // namespace groupsec::crypto
