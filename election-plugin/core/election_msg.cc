// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_msg.h"

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"

namespace groupsec::election {

namespace {

// version, type, auth, identity length, sequence, group
constexpr size_t kFixedHeader = 16;
constexpr uint8_t kFamilyIpv4 = 4;
constexpr uint8_t kFamilyIpv6 = 6;

Error bad(const std::string &what)
{
	return make_error(WireError::BadValue, "election message: " + what);
}

} // namespace

std::optional<MessageType> message_type(uint8_t v)
{
	if (v >= static_cast<uint8_t>(MessageType::LeaderRUThere) &&
	    v <= static_cast<uint8_t>(MessageType::Merge))
		return static_cast<MessageType>(v);
	return std::nullopt;
}

std::string_view message_name(uint8_t v)
{
	auto t = message_type(v);
	if (!t)
		return "UNKNOWN";
	switch (*t) {
	case MessageType::LeaderRUThere:
		return "LEADER_R_U_THERE";
	case MessageType::LeaderRUThereAck:
		return "LEADER_R_U_THERE_ACK";
	case MessageType::ElectionCall:
		return "ELECTION_CALL";
	case MessageType::Candidacy:
		return "ELECTION_CANDIDACY";
	case MessageType::Victory:
		return "VICTORY_ANNOUNCEMENT";
	case MessageType::StandbyKey:
		return "STANDBY_KEY";
	case MessageType::Replica:
		return "REPLICA";
	case MessageType::ReplicaAck:
		return "REPLICA_ACK";
	case MessageType::Merge:
		return "MERGE";
	}
	return "UNKNOWN";
}

std::optional<AuthMethod> auth_method(uint8_t v)
{
	if (v >= static_cast<uint8_t>(AuthMethod::Ed25519) && v <= static_cast<uint8_t>(AuthMethod::PublicKey))
		return static_cast<AuthMethod>(v);
	return std::nullopt;
}

std::string_view auth_method_name(uint8_t v)
{
	auto m = auth_method(v);
	if (!m)
		return "unknown";
	switch (*m) {
	case AuthMethod::Ed25519:
		return "ed25519";
	case AuthMethod::EcdsaP256:
		return "ecdsa-p256";
	case AuthMethod::GroupPsk:
		return "group-psk";
	case AuthMethod::PublicKey:
		return "pubkey";
	}
	return "unknown";
}

size_t signature_size(AuthMethod m)
{
	return m == AuthMethod::PublicKey ? 0 : m == AuthMethod::GroupPsk ? 32 : 64;
}

bool signature_size_ok(AuthMethod m, size_t len)
{
	if (m == AuthMethod::PublicKey)
		return len >= 1 && len <= kMaxPublicKeySignature;
	return len == signature_size(m);
}

namespace {
std::string signature_size_text(AuthMethod m)
{
	if (m == AuthMethod::PublicKey)
		return "1 to " + std::to_string(kMaxPublicKeySignature);
	return std::to_string(signature_size(m));
}
} // namespace

bool has_candidate_payload(MessageType t)
{
	return t == MessageType::LeaderRUThereAck || t == MessageType::Candidacy || t == MessageType::Victory;
}

bool has_replica_payload(MessageType t)
{
	return t == MessageType::StandbyKey || t == MessageType::Replica || t == MessageType::ReplicaAck ||
	       t == MessageType::Merge;
}

Result<Bytes> encode_signed_part(const Message &m)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (m.identity.empty() || m.identity.size() > kMaxIdentity)
			return bad("identity of " + std::to_string(m.identity.size()) + " octets (1 to 255)");
		if (!message_type(static_cast<uint8_t>(m.type)) || !auth_method(static_cast<uint8_t>(m.auth)))
			return bad("unknown type or authentication method");
		bool payload = has_candidate_payload(m.type);
		if (payload && m.address.size() != 4 && m.address.size() != 16)
			return bad("address of " + std::to_string(m.address.size()) + " octets (4 or 16)");
		Bytes out;
		out.reserve(kFixedHeader + m.identity.size() + 2 + 18 + 2 + 64);
		wire::put_u8(out, kElectionVersion);
		wire::put_u8(out, static_cast<uint8_t>(m.type));
		wire::put_u8(out, static_cast<uint8_t>(m.auth));
		wire::put_u8(out, static_cast<uint8_t>(m.identity.size()));
		wire::put_u64(out, m.sequence);
		wire::put_u32(out, m.group);
		out.insert(out.end(), m.identity.begin(), m.identity.end());
		if (payload) {
			wire::put_u16(out, static_cast<uint16_t>(2 + m.address.size()));
			wire::put_u8(out, m.priority);
			wire::put_u8(out, m.address.size() == 4 ? kFamilyIpv4 : kFamilyIpv6);
			wire::put_bytes(out, m.address);
		} else if (has_replica_payload(m.type)) {
			if (m.body.empty() || m.body.size() > 0xffff)
				return bad("payload of " + std::to_string(m.body.size()) + " octets (1 to 65535)");
			wire::put_u16(out, static_cast<uint16_t>(m.body.size()));
			wire::put_bytes(out, m.body);
		} else {
			wire::put_u16(out, 0);
		}
		return out;
	});
}

Result<Bytes> encode(const Message &m)
{
	auto part = encode_signed_part(m);
	if (!part)
		return part.error();
	return wire::guarded([&]() -> Result<Bytes> {
		if (!signature_size_ok(m.auth, m.signature.size()))
			return bad("signature of " + std::to_string(m.signature.size()) + " octets, " +
				   std::string(auth_method_name(static_cast<uint8_t>(m.auth))) + " needs " +
				   signature_size_text(m.auth));
		Bytes out = std::move(part).value();
		wire::put_u16(out, static_cast<uint16_t>(m.signature.size()));
		wire::put_bytes(out, m.signature);
		return out;
	});
}

Result<Decoded> decode(ByteView in)
{
	return wire::guarded([&]() -> Result<Decoded> {
		wire::Reader r(in);
		Decoded d;
		Message &m = d.message;
		uint8_t version, type, auth, id_len;
		if (!r.u8(version) || !r.u8(type) || !r.u8(auth) || !r.u8(id_len) || !r.u64(m.sequence) ||
		    !r.u32(m.group))
			return wire::truncated("election message header");
		if (version != kElectionVersion)
			return make_error(WireError::BadVersion,
					  "election message: version " + std::to_string(version) + ", expected 1");
		auto t = message_type(type);
		if (!t)
			return bad("unknown type " + std::to_string(type));
		m.type = *t;
		auto a = auth_method(auth);
		if (!a)
			return bad("unknown authentication method " + std::to_string(auth));
		m.auth = *a;
		if (id_len == 0)
			return bad("empty sender identity");
		ByteView id;
		if (!r.view(id_len, id))
			return wire::truncated("election message identity");
		m.identity.assign(id.begin(), id.end());
		uint16_t payload_len;
		ByteView payload;
		if (!r.u16(payload_len) || !r.view(payload_len, payload))
			return wire::truncated("election message payload");
		if (has_candidate_payload(m.type)) {
			if (payload_len < 2)
				return make_error(WireError::BadLength, "election message: payload of " +
										std::to_string(payload_len) + " octets");
			m.priority = payload[0];
			uint8_t family = payload[1];
			size_t want = family == kFamilyIpv4 ? 4 : family == kFamilyIpv6 ? 16 : 0;
			if (!want)
				return bad("unknown address family " + std::to_string(family));
			if (payload_len != 2 + want)
				return make_error(WireError::BadLength,
						  "election message: payload of " + std::to_string(payload_len) +
							  " octets, family " + std::to_string(family) + " needs " +
							  std::to_string(2 + want));
			m.address = payload.sub(2, want).to_bytes();
		} else if (has_replica_payload(m.type)) {
			if (payload_len == 0)
				return make_error(WireError::BadLength, std::string("election message: ") +
										std::string(message_name(type)) +
										" without its payload");
			m.body = payload.to_bytes();
		} else if (payload_len != 0) {
			return make_error(WireError::BadLength, std::string("election message: ") +
									std::string(message_name(type)) +
									" carries no payload, got " +
									std::to_string(payload_len) + " octets");
		}
		d.signed_part = in.sub(0, r.position());
		uint16_t sig_len;
		if (!r.u16(sig_len) || !r.bytes(sig_len, m.signature))
			return wire::truncated("election message signature");
		if (!signature_size_ok(m.auth, sig_len))
			return make_error(WireError::BadLength,
					  "election message: signature of " + std::to_string(sig_len) + " octets, " +
						  std::string(auth_method_name(auth)) + " needs " +
						  signature_size_text(m.auth));
		if (!r.done())
			return make_error(WireError::TrailingBytes, "election message: " +
									    std::to_string(r.remaining()) +
									    " octets after the signature");
		return d;
	});
}

} // namespace groupsec::election
