// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_replica.h"

#include <openssl/evp.h>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"
#include "groupsec/crypto/aead.h"
#include "groupsec/crypto/prf.h"

namespace groupsec::election {

namespace {

Error bad(const std::string &what)
{
	return make_error(WireError::BadValue, "election replica: " + what);
}

Bytes additional_data(uint32_t group, const ReplicaPayload &p)
{
	Bytes aad;
	wire::put_u32(aad, group);
	wire::put_u64(aad, p.version);
	wire::put_u8(aad, static_cast<uint8_t>(p.recipient.size()));
	aad.insert(aad.end(), p.recipient.begin(), p.recipient.end());
	return aad;
}

} // namespace

struct ReplicaKey::Pkey {
	EVP_PKEY *key = nullptr;
	~Pkey() { EVP_PKEY_free(key); }
};

ReplicaKey::~ReplicaKey() = default;

std::unique_ptr<ReplicaKey> ReplicaKey::from_private(ByteView secret)
{
	if (secret.size() != kReplicaKeyBytes)
		return nullptr;
	std::unique_ptr<ReplicaKey> k(new ReplicaKey());
	k->pkey_ = std::make_unique<Pkey>();
	k->pkey_->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size());
	if (!k->pkey_->key)
		return nullptr;
	size_t len = kReplicaKeyBytes;
	k->public_.resize(len);
	if (EVP_PKEY_get_raw_public_key(k->pkey_->key, k->public_.data(), &len) != 1 || len != kReplicaKeyBytes)
		return nullptr;
	return k;
}

std::optional<SecretBytes> ReplicaKey::shared(ByteView peer) const
{
	if (peer.size() != kReplicaKeyBytes)
		return std::nullopt;
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size());
	if (!p)
		return std::nullopt;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey_->key, nullptr);
	SecretBytes out(kReplicaKeyBytes);
	size_t len = out.size();
	// OpenSSL refuses a low-order peer key (an all-zero secret)
	bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, p) == 1 &&
		  EVP_PKEY_derive(ctx, out.data(), &len) == 1 && len == kReplicaKeyBytes;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(p);
	if (!ok)
		return std::nullopt;
	return out;
}

Result<Bytes> encode_replica(const ReplicaPayload &p)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (p.recipient.empty() || p.recipient.size() > 255)
			return bad("recipient of " + std::to_string(p.recipient.size()) + " octets");
		if (p.server_key.size() != kReplicaKeyBytes || p.standby_key.size() != kReplicaKeyBytes ||
		    p.nonce.size() != kReplicaNonceBytes || p.sealed.size() < kReplicaTagBytes ||
		    p.sealed.size() > kMaxReplica + kReplicaTagBytes)
			return bad("key, nonce or sealed state of the wrong size");
		Bytes out;
		wire::put_u8(out, static_cast<uint8_t>(p.recipient.size()));
		out.insert(out.end(), p.recipient.begin(), p.recipient.end());
		wire::put_u64(out, p.version);
		wire::put_bytes(out, p.server_key);
		wire::put_bytes(out, p.standby_key);
		wire::put_bytes(out, p.nonce);
		wire::put_bytes(out, p.sealed);
		return out;
	});
}

Result<ReplicaPayload> decode_replica(ByteView in)
{
	return wire::guarded([&]() -> Result<ReplicaPayload> {
		wire::Reader r(in);
		ReplicaPayload p;
		uint8_t len;
		ByteView id;
		if (!r.u8(len) || len == 0 || !r.view(len, id) || !r.u64(p.version) ||
		    !r.bytes(kReplicaKeyBytes, p.server_key) || !r.bytes(kReplicaKeyBytes, p.standby_key) ||
		    !r.bytes(kReplicaNonceBytes, p.nonce))
			return wire::truncated("election replica");
		p.recipient.assign(id.begin(), id.end());
		if (r.remaining() < kReplicaTagBytes || r.remaining() > kMaxReplica + kReplicaTagBytes)
			return make_error(WireError::BadLength, "election replica: sealed state of " +
									std::to_string(r.remaining()) + " octets");
		p.sealed = r.rest().to_bytes();
		return p;
	});
}

Result<Bytes> decode_standby_key(ByteView in)
{
	if (in.size() != kReplicaKeyBytes)
		return make_error(WireError::BadLength,
				  "election standby key of " + std::to_string(in.size()) + " octets, expected 32");
	return in.to_bytes();
}

Result<uint64_t> decode_replica_ack(ByteView in)
{
	wire::Reader r(in);
	uint64_t v;
	if (in.size() != 8 || !r.u64(v))
		return make_error(WireError::BadLength,
				  "election replica ack of " + std::to_string(in.size()) + " octets, expected 8");
	return v;
}

Bytes encode_replica_ack(uint64_t version)
{
	Bytes out;
	wire::put_u64(out, version);
	return out;
}

std::optional<SecretBytes> replica_key(const ReplicaKey &own, ByteView peer, uint32_t group,
				       const std::string &server, const std::string &standby, ByteView server_key,
				       ByteView standby_key)
{
	auto secret = own.shared(peer);
	if (!secret)
		return std::nullopt;
	// both identities and both keys: a key belongs to one pair, one group
	std::string info = "groupsec election replica";
	Bytes ctx;
	wire::put_u32(ctx, group);
	wire::put_u8(ctx, static_cast<uint8_t>(server.size()));
	ctx.insert(ctx.end(), server.begin(), server.end());
	wire::put_u8(ctx, static_cast<uint8_t>(standby.size()));
	ctx.insert(ctx.end(), standby.begin(), standby.end());
	ctx.insert(ctx.end(), server_key.begin(), server_key.end());
	ctx.insert(ctx.end(), standby_key.begin(), standby_key.end());
	info.append(ctx.begin(), ctx.end());
	auto k = crypto::hkdf_sha256(*secret, info);
	SecretBytes key(k.begin(), k.end());
	std::fill(k.begin(), k.end(), 0);
	return key;
}

bool seal_replica(ByteView key, uint32_t group, ReplicaPayload &p, ByteView snapshot)
{
	if (snapshot.size() > kMaxReplica || p.nonce.size() != kReplicaNonceBytes)
		return false;
	auto sealed = crypto::aes_gcm_seal(key, p.nonce, additional_data(group, p), snapshot);
	if (!sealed)
		return false;
	p.sealed = std::move(sealed).value();
	return true;
}

Result<SecretBytes> open_replica(ByteView key, uint32_t group, const ReplicaPayload &p)
{
	if (p.sealed.size() < kReplicaTagBytes)
		return make_error(WireError::BadLength, "election replica: no tag");
	ByteView sealed(p.sealed);
	size_t n = sealed.size() - kReplicaTagBytes;
	return crypto::aes_gcm_open(key, p.nonce, additional_data(group, p), sealed.sub(0, n),
				    sealed.sub(n, kReplicaTagBytes));
}

} // namespace groupsec::election
