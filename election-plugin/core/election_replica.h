// SPDX-License-Identifier: GPL-2.0-or-later
// State replication from the elected key server to the standby candidates
// (docs/election.md, "State replication"): the payloads of STANDBY_KEY,
// REPLICA and REPLICA_ACK, and their encryption. Each standby announces an
// ephemeral X25519 key in a signed STANDBY_KEY; the server encrypts the
// snapshot for it with AES-256-GCM under a key derived (HKDF-SHA-256) from
// the X25519 secret of the server's and the standby's ephemeral keys, in a
// REPLICA it signs: only that standby can read it, and both ends know who
// made the keys (the election's signatures).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/base/secret_bytes.h"

namespace groupsec::election {

constexpr size_t kReplicaKeyBytes = 32; // an X25519 public key
constexpr size_t kReplicaNonceBytes = 12;
constexpr size_t kReplicaTagBytes = 16;
// The largest snapshot one REPLICA carries: the message must fit one UDP
// datagram (65,507 octets of IPv4 payload) with its header and signature.
constexpr size_t kMaxReplica = 60000;

// An ephemeral X25519 key pair.
class ReplicaKey {
public:
	~ReplicaKey();
	ReplicaKey(const ReplicaKey &) = delete;
	ReplicaKey &operator=(const ReplicaKey &) = delete;
	// From 32 random octets (deterministic for a deterministic source).
	static std::unique_ptr<ReplicaKey> from_private(ByteView secret);
	const Bytes &public_key() const { return public_; }
	// The X25519 secret with peer's public key; nullopt if peer is not a
	// usable public key (of the wrong size, or of low order).
	std::optional<SecretBytes> shared(ByteView peer) const;

private:
	ReplicaKey() = default;
	struct Pkey;
	std::unique_ptr<Pkey> pkey_;
	Bytes public_;
};

// REPLICA's payload (after the standby's key, which picks the recipient).
struct ReplicaPayload {
	std::string recipient; // the standby's identity, 1..255 octets
	uint64_t version = 0;
	Bytes server_key; // the server's ephemeral public key
	Bytes standby_key; // the standby key it is encrypted for
	Bytes nonce;
	Bytes sealed; // the snapshot, encrypted, then the 16-octet tag
};

Result<Bytes> encode_replica(const ReplicaPayload &p);
Result<ReplicaPayload> decode_replica(ByteView in);
// STANDBY_KEY: the key alone; REPLICA_ACK: the version alone.
Result<Bytes> decode_standby_key(ByteView in);
Result<uint64_t> decode_replica_ack(ByteView in);
Bytes encode_replica_ack(uint64_t version);

// The AES-256-GCM key of one server-standby pair of a group.
std::optional<SecretBytes> replica_key(const ReplicaKey &own, ByteView peer, uint32_t group,
				       const std::string &server, const std::string &standby, ByteView server_key,
				       ByteView standby_key);
// Seals snapshot into p.sealed (p's other fields set); the additional data
// is the group, the version and the recipient.
bool seal_replica(ByteView key, uint32_t group, ReplicaPayload &p, ByteView snapshot);
// The snapshot, or an error (IntegrityFailed: not sealed for us).
Result<SecretBytes> open_replica(ByteView key, uint32_t group, const ReplicaPayload &p);

} // namespace groupsec::election
