// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/cbc.h"

#include <string>

#include "groupsec/crypto/aes_cipher.h"

namespace groupsec::crypto {

namespace {

const EVP_CIPHER *cbc_cipher(size_t key_size)
{
	return detail::aes_cipher(detail::AesMode::Cbc, key_size);
}

std::optional<Error> check_sizes(ByteView key, ByteView iv, ByteView data)
{
	if (!cbc_cipher(key.size()))
		return make_error(WireError::BadKey, "AES key of " + std::to_string(key.size()) +
							     " octets, not 16, 24 or 32");
	if (iv.size() != kAesBlockBytes)
		return make_error(WireError::BadLength, "AES-CBC IV must be 16 octets");
	if (data.size() % kAesBlockBytes)
		return make_error(WireError::BadLength, "AES-CBC data is not a whole number of blocks");
	return std::nullopt;
}

// Runs the cipher (enc: 1 encrypt, 0 decrypt) over in into out.
std::optional<Error> run(int enc, ByteView key, ByteView iv, ByteView in, uint8_t *out)
{
	if (auto e = check_sizes(key, iv, in))
		return e;
	if (in.empty())
		return std::nullopt;
	detail::CipherCtx ctx(EVP_CIPHER_CTX_new());
	int len = 0, fin = 0;
	if (!ctx || EVP_CipherInit_ex(ctx.get(), cbc_cipher(key.size()), nullptr, key.data(), iv.data(), enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
	    EVP_CipherUpdate(ctx.get(), out, &len, in.data(), static_cast<int>(in.size())) != 1 ||
	    EVP_CipherFinal_ex(ctx.get(), out + len, &fin) != 1 || static_cast<size_t>(len + fin) != in.size())
		return make_error(WireError::CryptoFailure, enc ? "OpenSSL: AES-CBC encrypt" : "OpenSSL: AES-CBC decrypt");
	return std::nullopt;
}

} // namespace

std::optional<Error> aes_cbc_encrypt_to(ByteView key, ByteView iv, ByteView plain, uint8_t *out)
{
	return run(1, key, iv, plain, out);
}

Result<Bytes> aes_cbc_encrypt(ByteView key, ByteView iv, ByteView plain)
{
	Bytes out(plain.size());
	if (auto e = aes_cbc_encrypt_to(key, iv, plain, out.data()))
		return *e;
	return out;
}

Result<Bytes> aes_cbc_decrypt(ByteView key, ByteView iv, ByteView ciphertext)
{
	Bytes out(ciphertext.size());
	if (auto e = run(0, key, iv, ciphertext, out.data()))
		return *e;
	return out;
}

} // namespace groupsec::crypto
