// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/prf.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

namespace groupsec::crypto {

namespace {

struct KdfFree {
	void operator()(EVP_KDF *k) const { EVP_KDF_free(k); }
};
struct KdfCtxFree {
	void operator()(EVP_KDF_CTX *c) const { EVP_KDF_CTX_free(c); }
};

const uint8_t kEmpty = 0;

} // namespace

Bytes sha256(ByteView data)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(data.empty() ? &kEmpty : data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
		return Bytes();
	return Bytes(md, md + len);
}

SecretBytes hmac_sha256(ByteView key, ByteView data)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()),
		  data.empty() ? &kEmpty : data.data(), data.size(), md, &len))
		return SecretBytes();
	SecretBytes out(md, md + len);
	OPENSSL_cleanse(md, sizeof(md));
	return out;
}

SecretBytes prf_plus(ByteView key, ByteView seed, size_t len)
{
	// every buffer at its final size: T(n-1) | seed | n, and the output
	constexpr size_t kBlock = 32;
	SecretBytes out(len + kBlock), in(kBlock + seed.size() + 1);
	size_t have = 0, in_len = 0;
	for (uint8_t i = 1; have < len && i != 0; i++) {
		auto at = std::copy(seed.begin(), seed.end(), in.begin() + static_cast<long>(in_len));
		*at = i;
		SecretBytes t = hmac_sha256(key, ByteView(in.data(), in_len + seed.size() + 1));
		if (t.size() != kBlock)
			return SecretBytes();
		std::copy(t.begin(), t.end(), out.begin() + static_cast<long>(have));
		std::copy(t.begin(), t.end(), in.begin());
		in_len = kBlock;
		have += kBlock;
	}
	if (have < len)
		return SecretBytes();
	out.resize(len);
	return out;
}

Key256 hkdf_sha256(ByteView ikm, std::string_view info)
{
	std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
	if (!kdf)
		abort();
	std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf.get()));
	if (!ctx)
		abort();
	char digest[] = "SHA256";
	OSSL_PARAM params[4];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t *>(ikm.data()),
						      ikm.size());
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char *>(info.data()),
						      info.size());
	params[3] = OSSL_PARAM_construct_end();
	Key256 out;
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
		abort();
	return out;
}

bool equal(ByteView a, ByteView b)
{
	return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

} // namespace groupsec::crypto
