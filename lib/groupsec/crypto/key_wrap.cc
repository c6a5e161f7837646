// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/crypto/key_wrap.h"

#include <cstdlib>
#include <string>

#include <openssl/evp.h>

#include "groupsec/base/writer.h"
#include "groupsec/crypto/aes_cipher.h"

namespace groupsec::crypto {

namespace {

const EVP_CIPHER *wrap_cipher(size_t key_size)
{
	return detail::aes_cipher(detail::AesMode::WrapPad, key_size);
}

} // namespace

void KeyWrap::CtxFree::operator()(evp_cipher_ctx_st *c) const
{
	EVP_CIPHER_CTX_free(c);
}

KeyWrap::KeyWrap() : ctx_(EVP_CIPHER_CTX_new())
{
	if (!ctx_)
		abort();
}

KeyWrap::~KeyWrap() = default;

Result<SecretBytes> KeyWrap::run(ByteView kek, ByteView in, bool encrypt)
{
	const EVP_CIPHER *c = wrap_cipher(kek.size());
	if (!c)
		return make_error(WireError::BadKey, "key wrap key must be 16, 24 or 32 octets");
	if (in.empty() || in.size() > kMaxWrapPlain + (encrypt ? 0 : 8) ||
	    (!encrypt && (in.size() < 16 || in.size() % 8 != 0)))
		return make_error(WireError::BadLength, "wrapped key of " + std::to_string(in.size()) + " octets");
	EVP_CIPHER_CTX *ctx = ctx_.get();
	EVP_CIPHER_CTX_reset(ctx);
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, c, nullptr, kek.data(), nullptr, encrypt ? 1 : 0) != 1)
		return make_error(WireError::CryptoFailure, "key wrap init failed");
	SecretBytes out(in.size() + 16);
	int len = 0, fin = 0;
	if (EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 || len <= 0 ||
	    EVP_CipherFinal_ex(ctx, out.data() + len, &fin) != 1) {
		if (encrypt)
			return make_error(WireError::CryptoFailure, "key wrap failed");
		return make_error(WireError::IntegrityFailed, "key unwrap: integrity check failed");
	}
	out.resize(static_cast<size_t>(len + fin));
	return out;
}

Result<Bytes> KeyWrap::wrap(ByteView kek, ByteView plain)
{
	return wire::guarded([&]() -> Result<Bytes> {
		auto w = run(kek, plain, true);
		if (!w)
			return w.error();
		return Bytes(std::move(w).value()); // not secret once wrapped
	});
}

Result<SecretBytes> KeyWrap::unwrap(ByteView kek, ByteView wrapped)
{
	return wire::guarded([&] { return run(kek, wrapped, false); });
}

Result<Bytes> key_wrap(ByteView kek, ByteView plain)
{
	return KeyWrap().wrap(kek, plain);
}

Result<SecretBytes> key_unwrap(ByteView kek, ByteView wrapped)
{
	return KeyWrap().unwrap(kek, wrapped);
}

} // namespace groupsec::crypto
