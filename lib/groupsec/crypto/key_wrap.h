// SPDX-License-Identifier: GPL-2.0-or-later
// AES key wrap with padding (RFC 5649; for whole 64-bit blocks the output
// has the length RFC 3394 gives) under a 16, 24 or 32 octet key, through
// OpenSSL's EVP_aes_*_wrap_pad: the one key-wrap entry point of the
// project (flat key table, key tree, G-IKEv2 Key Download).
#pragma once

#include <memory>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/base/secret_bytes.h"

struct evp_cipher_ctx_st;

namespace groupsec::crypto {

// Largest plaintext wrapped.
constexpr size_t kMaxWrapPlain = 4096;

// One cipher context kept for reuse (many wraps in a row); not
// thread-safe. A copy gets a context of its own.
class KeyWrap {
public:
	KeyWrap();
	~KeyWrap();
	KeyWrap(const KeyWrap &) : KeyWrap() {}
	KeyWrap &operator=(const KeyWrap &) { return *this; }

	// BadKey for a key of another size, BadLength for an empty or too
	// long plaintext.
	Result<Bytes> wrap(ByteView kek, ByteView plain);
	// BadLength if wrapped is not 2..513 whole 64-bit blocks,
	// IntegrityFailed if the key is wrong or the input was changed.
	Result<SecretBytes> unwrap(ByteView kek, ByteView wrapped);

private:
	struct CtxFree {
		void operator()(evp_cipher_ctx_st *c) const;
	};
	Result<SecretBytes> run(ByteView kek, ByteView in, bool encrypt);
	std::unique_ptr<evp_cipher_ctx_st, CtxFree> ctx_;
};

// One-shot forms (a context of their own).
Result<Bytes> key_wrap(ByteView kek, ByteView plain);
Result<SecretBytes> key_unwrap(ByteView kek, ByteView wrapped);

} // namespace groupsec::crypto
