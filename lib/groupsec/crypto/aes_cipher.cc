// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/aes_cipher.h"

namespace groupsec::crypto::detail {

const EVP_CIPHER *aes_cipher(AesMode m, size_t key_size)
{
	// rows: 128, 192, 256-bit keys
	switch (m) {
	case AesMode::Gcm:
		return key_size == 16 ? EVP_aes_128_gcm() : key_size == 24 ? EVP_aes_192_gcm()
			: key_size == 32 ? EVP_aes_256_gcm() : nullptr;
	case AesMode::Cbc:
		return key_size == 16 ? EVP_aes_128_cbc() : key_size == 24 ? EVP_aes_192_cbc()
			: key_size == 32 ? EVP_aes_256_cbc() : nullptr;
	case AesMode::WrapPad:
		return key_size == 16 ? EVP_aes_128_wrap_pad() : key_size == 24 ? EVP_aes_192_wrap_pad()
			: key_size == 32 ? EVP_aes_256_wrap_pad() : nullptr;
	}
	return nullptr;
}

} // namespace groupsec::crypto::detail
