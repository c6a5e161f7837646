#include "groupsec/flatkey/crypto.h"

#include <cstdlib>
#include <cstring>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

namespace groupsec {
namespace flatkey {

namespace {

struct KdfFree {
	void operator()(EVP_KDF *k) const { EVP_KDF_free(k); }
};
struct KdfCtxFree {
	void operator()(EVP_KDF_CTX *c) const { EVP_KDF_CTX_free(c); }
};

} // namespace

Key RandomSource::key()
{
	Key k;
	fill(k.data(), k.size());
	return k;
}

void OpenSslRandom::fill(uint8_t *out, size_t len)
{
	if (RAND_bytes(out, static_cast<int>(len)) != 1)
		abort();
}

uint64_t MonotonicClock::now_ms() const
{
	using namespace std::chrono;
	return static_cast<uint64_t>(
		duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
			.count());
}

Key hkdf_sha256(const uint8_t *ikm, size_t ikm_len, std::string_view info)
{
	std::unique_ptr<EVP_KDF, KdfFree> kdf(
		EVP_KDF_fetch(nullptr, "HKDF", nullptr));
	if (!kdf)
		abort();
	std::unique_ptr<EVP_KDF_CTX, KdfCtxFree> ctx(EVP_KDF_CTX_new(kdf.get()));
	if (!ctx)
		abort();
	char digest[] = "SHA256";
	OSSL_PARAM params[4];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_KEY, const_cast<uint8_t *>(ikm), ikm_len);
	params[2] = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_INFO, const_cast<char *>(info.data()),
		info.size());
	params[3] = OSSL_PARAM_construct_end();
	Key out;
	if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1)
		abort();
	return out;
}

Key advance_revision(const Key &k)
{
	return hkdf_sha256(k.data(), k.size(), "groupsec flatkey revision");
}

Key advance_revision(const Key &k, uint32_t steps)
{
	Key out = k;
	for (uint32_t i = 0; i < steps; i++)
		out = advance_revision(out);
	return out;
}

Key combine_keys(const std::vector<const Key *> &parts)
{
	if (parts.size() == 1)
		return *parts[0];
	std::vector<uint8_t> ikm;
	ikm.reserve(parts.size() * kKeyBytes);
	for (const Key *p : parts)
		ikm.insert(ikm.end(), p->begin(), p->end());
	return hkdf_sha256(ikm.data(), ikm.size(),
			   "groupsec flatkey conjunction");
}

Key derive_replacement(const Key &combined)
{
	return hkdf_sha256(combined.data(), combined.size(),
			   "groupsec flatkey replacement");
}

Key xor_keys(const Key &a, const Key &b)
{
	Key out;
	for (size_t i = 0; i < out.size(); i++)
		out[i] = a[i] ^ b[i];
	return out;
}

void KeyWrapper::CtxFree::operator()(evp_cipher_ctx_st *c) const
{
	EVP_CIPHER_CTX_free(c);
}

KeyWrapper::KeyWrapper() : ctx_(EVP_CIPHER_CTX_new())
{
	if (!ctx_)
		abort();
}

KeyWrapper::~KeyWrapper() = default;

std::vector<uint8_t> KeyWrapper::wrap(const Key &kek, const uint8_t *plain,
				      size_t len)
{
	std::vector<uint8_t> out;
	if (len == 0 || len > 4096)
		return out;
	EVP_CIPHER_CTX_reset(ctx_.get());
	EVP_CIPHER_CTX_set_flags(ctx_.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_EncryptInit_ex(ctx_.get(), EVP_aes_256_wrap_pad(), nullptr,
			       kek.data(), nullptr) != 1)
		return out;
	out.resize(len + 16);
	int n = 0;
	if (EVP_EncryptUpdate(ctx_.get(), out.data(), &n, plain,
			      static_cast<int>(len)) != 1 ||
	    n <= 0) {
		out.clear();
		return out;
	}
	int m = 0;
	if (EVP_EncryptFinal_ex(ctx_.get(), out.data() + n, &m) != 1) {
		out.clear();
		return out;
	}
	out.resize(static_cast<size_t>(n + m));
	return out;
}

std::optional<std::vector<uint8_t>> KeyWrapper::unwrap(const Key &kek,
						       const uint8_t *in,
						       size_t len)
{
	// RFC 5649: at least two 64-bit blocks, whole blocks only.
	if (len < 16 || len % 8 != 0 || len > 4096 + 16)
		return std::nullopt;
	EVP_CIPHER_CTX_reset(ctx_.get());
	EVP_CIPHER_CTX_set_flags(ctx_.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(ctx_.get(), EVP_aes_256_wrap_pad(), nullptr,
			       kek.data(), nullptr) != 1)
		return std::nullopt;
	std::vector<uint8_t> out(len);
	int n = 0;
	if (EVP_DecryptUpdate(ctx_.get(), out.data(), &n, in,
			      static_cast<int>(len)) != 1 ||
	    n <= 0)
		return std::nullopt;
	int m = 0;
	if (EVP_DecryptFinal_ex(ctx_.get(), out.data() + n, &m) != 1)
		return std::nullopt;
	out.resize(static_cast<size_t>(n + m));
	return out;
}

std::optional<Key> KeyWrapper::unwrap_key(const Key &kek,
					  const std::vector<uint8_t> &in)
{
	auto plain = unwrap(kek, in.data(), in.size());
	if (!plain || plain->size() != kKeyBytes)
		return std::nullopt;
	Key k;
	std::memcpy(k.data(), plain->data(), k.size());
	std::fill(plain->begin(), plain->end(), 0);
	return k;
}

} // namespace flatkey
} // namespace groupsec
