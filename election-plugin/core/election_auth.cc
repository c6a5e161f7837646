// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_auth.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "groupsec/base/writer.h"
#include "groupsec/crypto/prf.h"

namespace groupsec::election {

namespace {

template <typename T, void (*F)(T *)> struct Free {
	void operator()(T *p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_clear_free>>;
using BnCtx = std::unique_ptr<BN_CTX, Free<BN_CTX, BN_CTX_free>>;
using Group = std::unique_ptr<EC_GROUP, Free<EC_GROUP, EC_GROUP_free>>;
using Point = std::unique_ptr<EC_POINT, Free<EC_POINT, EC_POINT_free>>;
using Sig = std::unique_ptr<ECDSA_SIG, Free<ECDSA_SIG, ECDSA_SIG_free>>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Free<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Free<OSSL_PARAM, OSSL_PARAM_free>>;

Error crypto_failure(const char *what)
{
	return make_error(WireError::CryptoFailure, std::string("election: OpenSSL ") + what + " failed");
}

// One-shot EVP_DigestSign (md: nullptr for Ed25519).
Result<Bytes> digest_sign(EVP_PKEY *key, const EVP_MD *md, ByteView data)
{
	MdCtx ctx(EVP_MD_CTX_new());
	size_t len = 0;
	if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
	    EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1)
		return crypto_failure("DigestSign");
	Bytes sig(len);
	if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1)
		return crypto_failure("DigestSign");
	sig.resize(len);
	return sig;
}

bool digest_verify(EVP_PKEY *key, const EVP_MD *md, ByteView data, ByteView sig)
{
	MdCtx ctx(EVP_MD_CTX_new());
	return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
	       EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

class Ed25519SignerImpl : public Signer {
public:
	explicit Ed25519SignerImpl(Pkey key) : key_(std::move(key)) {}
	AuthMethod method() const override { return AuthMethod::Ed25519; }
	Result<Bytes> sign(ByteView data) const override { return digest_sign(key_.get(), nullptr, data); }

private:
	Pkey key_;
};

class Ed25519VerifierImpl : public Verifier {
public:
	explicit Ed25519VerifierImpl(Pkey key) : key_(std::move(key)) {}
	AuthMethod method() const override { return AuthMethod::Ed25519; }
	bool verify(ByteView data, ByteView sig) const override
	{
		return sig.size() == 64 && digest_verify(key_.get(), nullptr, data, sig);
	}

private:
	Pkey key_;
};

// An EC key on P-256 from the public point and, for a key pair, the scalar.
Result<Pkey> p256_key(ByteView point, const BIGNUM *priv)
{
	ParamBld bld(OSSL_PARAM_BLD_new());
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ||
	    (priv && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv)))
		return crypto_failure("OSSL_PARAM_BLD");
	Params params(OSSL_PARAM_BLD_to_param(bld.get()));
	PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
	EVP_PKEY *key = nullptr;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
	    EVP_PKEY_fromdata(ctx.get(), &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
		return make_error(WireError::BadKey, "election: not a P-256 key");
	return Pkey(key);
}

// True if point is an uncompressed point of P-256 other than infinity.
bool p256_point_valid(ByteView point)
{
	if (point.size() != kP256PointBytes || point[0] != 0x04)
		return false;
	Group g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
	Point p(g ? EC_POINT_new(g.get()) : nullptr);
	BnCtx bn(BN_CTX_new());
	return g && p && bn && EC_POINT_oct2point(g.get(), p.get(), point.data(), point.size(), bn.get()) == 1 &&
	       EC_POINT_is_on_curve(g.get(), p.get(), bn.get()) == 1 && !EC_POINT_is_at_infinity(g.get(), p.get());
}

class EcdsaSignerImpl : public Signer {
public:
	explicit EcdsaSignerImpl(Pkey key) : key_(std::move(key)) {}
	AuthMethod method() const override { return AuthMethod::EcdsaP256; }
	Result<Bytes> sign(ByteView data) const override
	{
		auto der = digest_sign(key_.get(), EVP_sha256(), data);
		if (!der)
			return der.error();
		const unsigned char *p = der.value().data();
		Sig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.value().size())));
		if (!sig)
			return crypto_failure("d2i_ECDSA_SIG");
		Bytes raw(64);
		if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
		    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32)
			return crypto_failure("BN_bn2binpad");
		return raw;
	}

private:
	Pkey key_;
};

class EcdsaVerifierImpl : public Verifier {
public:
	explicit EcdsaVerifierImpl(Pkey key) : key_(std::move(key)) {}
	AuthMethod method() const override { return AuthMethod::EcdsaP256; }
	bool verify(ByteView data, ByteView raw) const override
	{
		if (raw.size() != 64)
			return false;
		Sig sig(ECDSA_SIG_new());
		BIGNUM *r = BN_bin2bn(raw.data(), 32, nullptr);
		BIGNUM *s = BN_bin2bn(raw.data() + 32, 32, nullptr);
		if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
			BN_free(r);
			BN_free(s);
			return false;
		}
		unsigned char *der = nullptr;
		int len = i2d_ECDSA_SIG(sig.get(), &der);
		if (len <= 0)
			return false;
		bool ok = digest_verify(key_.get(), EVP_sha256(), data, ByteView(der, static_cast<size_t>(len)));
		OPENSSL_free(der);
		return ok;
	}

private:
	Pkey key_;
};

class PskImpl : public Signer, public Verifier {
public:
	explicit PskImpl(ByteView key) : key_(key) {}
	AuthMethod method() const override { return AuthMethod::GroupPsk; }
	Result<Bytes> sign(ByteView data) const override
	{
		SecretBytes mac = crypto::hmac_sha256(key_, data);
		if (mac.size() != 32)
			return crypto_failure("HMAC");
		return Bytes(mac.begin(), mac.end());
	}
	bool verify(ByteView data, ByteView sig) const override
	{
		SecretBytes mac = crypto::hmac_sha256(key_, data);
		return mac.size() == 32 && sig.size() == 32 && crypto::equal(mac, sig);
	}

private:
	SecretBytes key_;
};

constexpr size_t kMinPskBytes = 16;

} // namespace

Result<std::unique_ptr<Signer>> ed25519_signer(ByteView private_key, Bytes *public_key)
{
	return wire::guarded([&]() -> Result<std::unique_ptr<Signer>> {
		if (private_key.size() != kEd25519KeyBytes)
			return make_error(WireError::BadKey, "election: an Ed25519 private key has 32 octets");
		Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, private_key.data(),
						      private_key.size()));
		if (!key)
			return crypto_failure("Ed25519 key");
		if (public_key) {
			size_t len = kEd25519KeyBytes;
			public_key->assign(len, 0);
			if (EVP_PKEY_get_raw_public_key(key.get(), public_key->data(), &len) != 1 ||
			    len != kEd25519KeyBytes)
				return crypto_failure("Ed25519 public key");
		}
		return std::unique_ptr<Signer>(new Ed25519SignerImpl(std::move(key)));
	});
}

Result<std::unique_ptr<Verifier>> ed25519_verifier(ByteView public_key)
{
	return wire::guarded([&]() -> Result<std::unique_ptr<Verifier>> {
		if (public_key.size() != kEd25519KeyBytes)
			return make_error(WireError::BadKey, "election: an Ed25519 public key has 32 octets");
		Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(),
						     public_key.size()));
		if (!key)
			return make_error(WireError::BadKey, "election: not an Ed25519 public key");
		return std::unique_ptr<Verifier>(new Ed25519VerifierImpl(std::move(key)));
	});
}

Result<std::unique_ptr<Signer>> ecdsa_p256_signer(ByteView scalar, Bytes *public_key)
{
	return wire::guarded([&]() -> Result<std::unique_ptr<Signer>> {
		if (scalar.size() != kP256ScalarBytes)
			return make_error(WireError::BadKey, "election: a P-256 private key has 32 octets");
		Group g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
		Bn priv(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr));
		BnCtx bn(BN_CTX_new());
		Point pub(g ? EC_POINT_new(g.get()) : nullptr);
		if (!g || !priv || !bn || !pub)
			return crypto_failure("P-256 key");
		if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(g.get())) >= 0)
			return make_error(WireError::BadKey, "election: the P-256 private key is out of range");
		Bytes point(kP256PointBytes);
		if (EC_POINT_mul(g.get(), pub.get(), priv.get(), nullptr, nullptr, bn.get()) != 1 ||
		    EC_POINT_point2oct(g.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(),
				       bn.get()) != kP256PointBytes)
			return crypto_failure("P-256 public key");
		auto key = p256_key(point, priv.get());
		if (!key)
			return key.error();
		if (public_key)
			*public_key = point;
		return std::unique_ptr<Signer>(new EcdsaSignerImpl(std::move(key).value()));
	});
}

Result<std::unique_ptr<Verifier>> ecdsa_p256_verifier(ByteView point)
{
	return wire::guarded([&]() -> Result<std::unique_ptr<Verifier>> {
		if (!p256_point_valid(point))
			return make_error(WireError::BadKey, "election: not an uncompressed P-256 point");
		auto key = p256_key(point, nullptr);
		if (!key)
			return key.error();
		return std::unique_ptr<Verifier>(new EcdsaVerifierImpl(std::move(key).value()));
	});
}

Result<std::unique_ptr<Signer>> group_psk_signer(ByteView key)
{
	if (key.size() < kMinPskBytes)
		return make_error(WireError::BadKey, "election: a group key has at least 16 octets");
	return wire::guarded([&]() -> Result<std::unique_ptr<Signer>> { return std::unique_ptr<Signer>(new PskImpl(key)); });
}

Result<std::unique_ptr<Verifier>> group_psk_verifier(ByteView key)
{
	if (key.size() < kMinPskBytes)
		return make_error(WireError::BadKey, "election: a group key has at least 16 octets");
	return wire::guarded(
		[&]() -> Result<std::unique_ptr<Verifier>> { return std::unique_ptr<Verifier>(new PskImpl(key)); });
}

} // namespace groupsec::election
