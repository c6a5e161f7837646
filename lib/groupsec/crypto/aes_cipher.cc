// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/aes_cipher.h"

#include "groupsec/crypto/aead.h"

namespace groupsec::crypto {

namespace detail {

namespace {

// OpenSSL 3 looks a legacy EVP_aes_*() cipher up in its provider at every
// EVP_*Init_ex() (an implicit fetch, under the method store's lock), and
// the first lookup in a process loads the default provider's algorithms
// into that store. One explicit fetch per cipher, kept for the process's
// life, does that work once (OpenSSL 3's guide to performance, "explicit
// fetching"). They are never freed: OpenSSL's own exit handler
// releases its provider, and a cipher freed before a late user would be
// a use after free.
struct Ciphers {
	EVP_CIPHER *c[3][3];

	Ciphers()
	{
		// rows: the modes; columns: 128, 192, 256-bit keys
		static const char *const names[3][3] = {
			{"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
			{"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
			{"AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD"},
		};
		for (int m = 0; m < 3; m++)
			for (int k = 0; k < 3; k++)
				c[m][k] = EVP_CIPHER_fetch(nullptr, names[m][k], nullptr);
	}
	Ciphers(const Ciphers &) = delete;
	Ciphers &operator=(const Ciphers &) = delete;
};

const Ciphers &ciphers()
{
	static const Ciphers all; // thread-safe initialization
	return all;
}

} // namespace

const EVP_CIPHER *aes_cipher(AesMode m, size_t key_size)
{
	int k = key_size == 16 ? 0 : key_size == 24 ? 1 : key_size == 32 ? 2 : -1;
	if (k < 0)
		return nullptr;
	return ciphers().c[static_cast<int>(m)][k];
}

} // namespace detail

bool prepare_ciphers()
{
	const auto &all = detail::ciphers();
	for (const auto &row : all.c)
		for (const EVP_CIPHER *e : row)
			if (!e)
				return false;
	return true;
}

} // namespace groupsec::crypto
