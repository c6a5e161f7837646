// SPDX-License-Identifier: GPL-2.0-or-later
// Internal to lib/groupsec/crypto: the OpenSSL AES cipher of a mode and key
// size, and the owner of a cipher context, shared by AES-GCM, AES-CBC and
// key wrap.
#pragma once

#include <cstddef>
#include <memory>

#include <openssl/evp.h>

namespace groupsec::crypto::detail {

enum class AesMode { Gcm, Cbc, WrapPad };

// The cipher of mode m for an AES key of key_size octets; nullptr unless
// key_size is 16, 24 or 32.
const EVP_CIPHER *aes_cipher(AesMode m, size_t key_size);

struct CipherCtxFree {
	void operator()(EVP_CIPHER_CTX *c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

} // namespace groupsec::crypto::detail
