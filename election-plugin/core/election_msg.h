// SPDX-License-Identifier: GPL-2.0-or-later
// The messages of the key server election (seed 003, table 1): their code
// points and their codec. Every message carries its type, the sender's
// sequence number, the sender's identity, the group and a signature over
// everything before the signature (docs/election.md gives the octets).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::election {

// The election runs on its own UDP port, next to G-IKEv2's 848.
constexpr uint16_t kElectionPort = 849;
// The first octet of every message.
constexpr uint8_t kElectionVersion = 1;

enum class MessageType : uint8_t {
	LeaderRUThere = 1,    // is there a key server? (multicast query)
	LeaderRUThereAck = 2, // yes: I am the key server
	ElectionCall = 3,     // start an election
	Candidacy = 4,        // I stand in the election
	Victory = 5,          // I won the vote
	// state replication (docs/election.md): not in seed 003
	StandbyKey = 6,       // a standby candidate's ephemeral key, to the server
	Replica = 7,          // the server's state, encrypted for one standby
	ReplicaAck = 8,       // the standby holds that version (or: the server merged that state)
	Merge = 9,            // a server that stepped down: its last state, encrypted for the winner
};

// How the signature field is made (the verifier must be of the same kind).
enum class AuthMethod : uint8_t {
	Ed25519 = 1,   // RFC 8032, 64-octet signature
	EcdsaP256 = 2, // ECDSA on P-256 with SHA-256, r | s (64 octets)
	GroupPsk = 3,  // HMAC-SHA-256 under a group pre-shared key (32 octets): weaker
	PublicKey = 4, // RFC 7427 AUTH data by charon's credential manager (RSA, ECDSA, Ed25519)
};

std::optional<MessageType> message_type(uint8_t v);
// "LEADER_R_U_THERE" and so on; "UNKNOWN" for other values.
std::string_view message_name(uint8_t v);
std::optional<AuthMethod> auth_method(uint8_t v);
// "ed25519", "ecdsa-p256", "group-psk", "pubkey"; "unknown" for other values.
std::string_view auth_method_name(uint8_t v);
// The signature length of a method; 0 for PublicKey, whose length varies
// (1 to kMaxPublicKeySignature octets).
size_t signature_size(AuthMethod m);
// Longest RFC 7427 AUTH data accepted (an RSA-4096 signature and its
// AlgorithmIdentifier fit).
constexpr size_t kMaxPublicKeySignature = 1024;
// Whether a signature of len octets has the size method m makes.
bool signature_size_ok(AuthMethod m, size_t len);

// Longest sender identity, in octets.
constexpr size_t kMaxIdentity = 255;

struct Message {
	MessageType type = MessageType::LeaderRUThere;
	AuthMethod auth = AuthMethod::Ed25519;
	uint64_t sequence = 0;
	uint32_t group = 0;
	std::string identity; // 1..255 octets
	// LEADER_R_U_THERE_ACK, CANDIDACY, VICTORY only: the sender's priority
	// and its address (4 or 16 octets), the address members register to
	uint8_t priority = 0;
	Bytes address;
	// STANDBY_KEY, REPLICA, REPLICA_ACK, MERGE: the payload (election_replica.h
	// reads it), 1 to 65,535 octets
	Bytes body;
	Bytes signature;
};

// True if the type carries a replication payload (body).
bool has_replica_payload(MessageType t);

// True if the type carries the priority and address payload.
bool has_candidate_payload(MessageType t);

// The octets the signature covers: header, identity and payload.
// Fails only if the message cannot be encoded (identity or address size).
Result<Bytes> encode_signed_part(const Message &m);
// The whole datagram: the signed part, then the signature (m.signature,
// of the size the method requires).
Result<Bytes> encode(const Message &m);

struct Decoded {
	Message message;
	ByteView signed_part; // a window on the input: what the signature covers
};
// Parses a datagram; every malformed input gives an error, nothing else.
Result<Decoded> decode(ByteView datagram);

} // namespace groupsec::election
