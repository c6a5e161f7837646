// SPDX-License-Identifier: GPL-2.0-or-later
#include "ike_crypto.h"

#include <algorithm>
#include <cstring>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "../gikev2_wire.h"

namespace groupsec::gdoi::ike {

namespace {

template <typename T, void (*F)(T *)> struct Deleter {
	void operator()(T *p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;

constexpr size_t kEcpCoordinate = 32;
constexpr const char *kEcpCurve = "prime256v1";

Error crypto_error(const char *what)
{
	return make_error(WireError::CryptoFailure, std::string("OpenSSL: ") + what);
}

// An ECP-256 key from the uncompressed point (and the private scalar).
Result<PkeyPtr> ecp_pkey(const uint8_t point[1 + 2 * kEcpCoordinate], const BIGNUM *priv)
{
	ParamBldPtr bld(OSSL_PARAM_BLD_new());
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kEcpCurve, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
					      1 + 2 * kEcpCoordinate) ||
	    (priv && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv)))
		return crypto_error("OSSL_PARAM_BLD");
	ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
	PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
	EVP_PKEY *pkey = nullptr;
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
	    EVP_PKEY_fromdata(ctx.get(), &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
		return make_error(WireError::BadValue, "not an ECP-256 key");
	return PkeyPtr(pkey);
}

// True if the 64 octets x|y are a point of ECP-256 (not infinity).
bool ecp_point_valid(ByteView xy, uint8_t out[1 + 2 * kEcpCoordinate])
{
	if (xy.size() != 2 * kEcpCoordinate)
		return false;
	out[0] = 0x04;
	std::memcpy(out + 1, xy.data(), xy.size());
	GroupPtr g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
	PointPtr p(g ? EC_POINT_new(g.get()) : nullptr);
	BnCtxPtr bn(BN_CTX_new());
	return g && p && bn && EC_POINT_oct2point(g.get(), p.get(), out, 1 + 2 * kEcpCoordinate, bn.get()) == 1 &&
	       EC_POINT_is_on_curve(g.get(), p.get(), bn.get()) == 1 && !EC_POINT_is_at_infinity(g.get(), p.get());
}

Result<SecretBytes> derive(EVP_PKEY *own, EVP_PKEY *peer)
{
	PkeyCtxPtr ctx(EVP_PKEY_CTX_new(own, nullptr));
	size_t len = 0;
	if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer) != 1 ||
	    EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1)
		return make_error(WireError::BadValue, "key exchange with the peer's value failed");
	SecretBytes out(len);
	if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1)
		return make_error(WireError::BadValue, "key exchange with the peer's value failed");
	out.resize(len);
	return out;
}

} // namespace

struct DhKey::Pkey {
	PkeyPtr key;
};

DhKey::~DhKey() = default;

bool dh_group_supported(uint16_t group)
{
	return group == kDhEcp256 || group == kDhCurve25519;
}

size_t dh_public_size(uint16_t group)
{
	return group == kDhEcp256 ? 2 * kEcpCoordinate : group == kDhCurve25519 ? 32 : 0;
}

Result<std::unique_ptr<DhKey>> DhKey::from_private(uint16_t group, ByteView secret)
{
	return wire::guarded([&]() -> Result<std::unique_ptr<DhKey>> {
		std::unique_ptr<DhKey> k(new DhKey());
		k->group_ = group;
		k->pkey_ = std::make_unique<Pkey>();
		if (group == kDhCurve25519) {
			if (secret.size() != 32)
				return make_error(WireError::BadValue, "Curve25519 private key must be 32 octets");
			k->pkey_->key.reset(
				EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
			size_t len = 32;
			k->public_.resize(len);
			if (!k->pkey_->key ||
			    EVP_PKEY_get_raw_public_key(k->pkey_->key.get(), k->public_.data(), &len) != 1 || len != 32)
				return crypto_error("X25519 key");
			return k;
		}
		if (group != kDhEcp256)
			return make_error(WireError::Unsupported, "DH group " + std::to_string(group));
		GroupPtr g(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
		BnCtxPtr bn(BN_CTX_new());
		BnPtr priv(BN_bin2bn(secret.data(), static_cast<int>(secret.size()), nullptr));
		if (!g || !bn || !priv)
			return crypto_error("EC group");
		if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(g.get())) >= 0)
			return make_error(WireError::BadValue, "scalar out of range");
		PointPtr pub(EC_POINT_new(g.get()));
		uint8_t point[1 + 2 * kEcpCoordinate];
		if (!pub || EC_POINT_mul(g.get(), pub.get(), priv.get(), nullptr, nullptr, bn.get()) != 1 ||
		    EC_POINT_point2oct(g.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point),
				       bn.get()) != sizeof(point))
			return crypto_error("EC point");
		auto pkey = ecp_pkey(point, priv.get());
		if (!pkey)
			return pkey.error();
		k->pkey_->key = std::move(pkey).value();
		k->public_.assign(point + 1, point + sizeof(point));
		return k;
	});
}

Result<SecretBytes> DhKey::shared_secret(ByteView peer) const
{
	return wire::guarded([&]() -> Result<SecretBytes> {
		if (peer.size() != dh_public_size(group_))
			return make_error(WireError::BadLength, "KE data of " + std::to_string(peer.size()) +
									" octets for DH group " + std::to_string(group_));
		PkeyPtr peer_key;
		if (group_ == kDhCurve25519) {
			peer_key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
			if (!peer_key)
				return make_error(WireError::BadValue, "not a Curve25519 public value");
		} else {
			uint8_t point[1 + 2 * kEcpCoordinate];
			if (!ecp_point_valid(peer, point))
				return make_error(WireError::BadValue, "not a point of ECP-256");
			auto pk = ecp_pkey(point, nullptr);
			if (!pk)
				return pk.error();
			peer_key = std::move(pk).value();
		}
		auto s = derive(pkey_->key.get(), peer_key.get());
		if (!s)
			return s;
		Bytes zero(s.value().size(), 0);
		if (equal(s.value(), zero))
			return make_error(WireError::BadValue, "all-zero shared secret");
		return s;
	});
}

IkeKeys derive_ike_keys(SkCipher cipher, size_t key_bytes, ByteView ni, ByteView nr, ByteView shared,
			uint64_t spi_i, uint64_t spi_r)
{
	Bytes nonces = ni.to_bytes();
	wire::put_bytes(nonces, nr);
	SecretBytes skeyseed = prf(nonces, shared);
	Bytes seed = nonces;
	wire::put_u64(seed, spi_i);
	wire::put_u64(seed, spi_r);
	const size_t prf_len = 32;
	const bool gcm = cipher == SkCipher::AesGcm16;
	const size_t integ = gcm ? 0 : 32;
	const size_t encr = key_bytes + (gcm ? 4 : 0);
	SecretBytes km = prf_plus(skeyseed, seed, prf_len + 2 * integ + 2 * encr + 2 * prf_len);
	size_t pos = 0;
	auto take = [&](size_t n) {
		SecretBytes b(km.begin() + static_cast<long>(pos), km.begin() + static_cast<long>(pos + n));
		pos += n;
		return b;
	};
	IkeKeys k;
	k.sk_d = take(prf_len);
	k.initiator.cipher = k.responder.cipher = cipher;
	k.initiator.integrity_key = take(integ);
	k.responder.integrity_key = take(integ);
	SecretBytes ei = take(encr), er = take(encr);
	k.sk_pi = take(prf_len);
	k.sk_pr = take(prf_len);
	if (gcm) {
		k.initiator.encryption_key.assign(ei.begin(), ei.end() - 4);
		k.initiator.salt.assign(ei.end() - 4, ei.end());
		k.responder.encryption_key.assign(er.begin(), er.end() - 4);
		k.responder.salt.assign(er.end() - 4, er.end());
	} else {
		k.initiator.encryption_key = std::move(ei);
		k.responder.encryption_key = std::move(er);
	}
	return k;
}

SecretBytes default_kwk(ByteView sk_d, size_t len)
{
	static const char label[] = "Key Wrap for G-IKEv2";
	return prf_plus(sk_d, ByteView(reinterpret_cast<const uint8_t *>(label), sizeof(label) - 1), len);
}

Bytes signed_octets(ByteView message, ByteView peer_nonce, ByteView sk_p, ByteView id_body)
{
	Bytes out = message.to_bytes();
	wire::put_bytes(out, peer_nonce);
	wire::put_bytes(out, prf(sk_p, id_body));
	return out;
}

Bytes psk_auth(ByteView shared_key, ByteView octets)
{
	static const char pad[] = "Key Pad for IKEv2";
	SecretBytes k = prf(shared_key, ByteView(reinterpret_cast<const uint8_t *>(pad), sizeof(pad) - 1));
	return prf(k, octets);
}

} // namespace groupsec::gdoi::ike
