// SPDX-License-Identifier: GPL-2.0-or-later
// The checks of a group configuration before the engine takes it.
#include <string>

#include "gdoi_engine.h"
#include "gikev2_payloads.h"
#include "group_keys.h"
#include "ike/ike_crypto.h"

namespace groupsec::gdoi {

const char *rekey_auth_name(RekeyAuth a)
{
	return a == RekeyAuth::Implicit ? "implicit" : "signature";
}

// --- configuration checks ---

namespace {

std::optional<std::string> check_ts(const TrafficSelector &t, const std::string &what)
{
	size_t n = t.ts_type == static_cast<uint8_t>(TsType::Ipv4AddrRange)   ? 4
		   : t.ts_type == static_cast<uint8_t>(TsType::Ipv6AddrRange) ? 16
									      : 0;
	if (!n)
		return what + ": traffic selector type " + std::to_string(t.ts_type) + " is not 7 or 8";
	if (t.start_address.size() != n || t.end_address.size() != n)
		return what + ": addresses must be " + std::to_string(n) + " octets for the selector type";
	return std::nullopt;
}

bool identity_usable(const Identity &id)
{
	return id.type != 0 && !id.data.empty();
}

} // namespace

std::optional<std::string> validate(const GcksGroupConfig &c)
{
	if (c.name.empty())
		return std::string("group name is empty");
	const std::string g = "group " + c.name;
	if (!identity_usable(c.group_id))
		return g + ": group ID is empty";
	if (!identity_usable(c.local_id))
		return g + ": local identity is empty";
	if (c.listen.empty())
		return g + ": no listen address";
	for (const Address &a : c.listen)
		if (a.ip.size() != 4 && a.ip.size() != 16)
			return g + ": listen address is not IPv4 or IPv6";
	if (c.teks.empty())
		return g + ": no TEK policy";
	for (size_t i = 0; i < c.teks.size(); i++) {
		const TekPolicyConfig &t = c.teks[i];
		const std::string w = g + ": TEK " + std::to_string(i + 1);
		if (t.encryption != static_cast<uint16_t>(EncryptionId::AesGcm16) &&
		    t.encryption != static_cast<uint16_t>(EncryptionId::AesCbc))
			return w + ": encryption " + std::to_string(t.encryption) +
			       " is not 20 (AES-GCM-16) or 12 (AES-CBC)";
		if (t.key_bits != 128 && t.key_bits != 192 && t.key_bits != 256)
			return w + ": key size " + std::to_string(t.key_bits) + " is not 128, 192 or 256";
		if (t.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16) && t.integrity != 0)
			return w + ": AES-GCM takes no integrity algorithm";
		if (t.encryption == static_cast<uint16_t>(EncryptionId::AesCbc) &&
		    t.integrity != static_cast<uint16_t>(IntegrityId::HmacSha256_128))
			return w + ": AES-CBC needs integrity 12 (HMAC-SHA-256-128)";
		if (auto e = check_ts(t.source, w + " source"))
			return e;
		if (auto e = check_ts(t.destination, w + " destination"))
			return e;
	}
	if (c.tek_lifetime_s < 60)
		return g + ": TEK lifetime must be at least 60 s";
	if (c.kek_lifetime_s < 60)
		return g + ": KEK lifetime must be at least 60 s";
	if (c.rekey == RekeyTransport::Multicast && (!c.multicast || (c.multicast->ip.size() != 4 &&
								      c.multicast->ip.size() != 16)))
		return g + ": multicast rekey needs a multicast address";
	if (c.id_bits < 1 || c.id_bits > 32)
		return g + ": id_bits must be 1..32";
	if (c.sender_id_bits < 1 || c.sender_id_bits > detail::kMaxSenderIdBits)
		return g + ": sender_id_bits must be 1.." + std::to_string(detail::kMaxSenderIdBits);
	if (!detail::rekey_suite_supported(
		    detail::RekeySuite{c.rekey_encryption, c.rekey_key_bits, c.rekey_integrity, c.rekey_key_wrap}))
		return g + ": the Rekey SA must be AES-GCM-16 or AES-CBC with HMAC-SHA-256-128, 128, 192 or 256 "
			   "bits, with KW_5649_128, KW_5649_192 or KW_5649_256";
	for (const Identity &a : c.authorized)
		if (!identity_usable(a))
			return g + ": empty identity in the authorized list";
	return std::nullopt;
}

std::optional<std::string> validate(const GmGroupConfig &c)
{
	if (c.name.empty())
		return std::string("group name is empty");
	const std::string g = "group " + c.name;
	if (c.sender_ids > detail::kMaxSenderIds)
		return g + ": at most " + std::to_string(detail::kMaxSenderIds) + " Sender-IDs";
	if (c.sender_ids && !c.sender)
		return g + ": Sender-IDs are only for a group sender";
	if (!identity_usable(c.group_id))
		return g + ": group ID is empty";
	if (!identity_usable(c.local_id))
		return g + ": local identity is empty";
	if (!identity_usable(c.server_id))
		return g + ": key server identity is empty";
	if (c.local.ip.size() != 4 && c.local.ip.size() != 16)
		return g + ": local address is not IPv4 or IPv6";
	if (c.servers.empty())
		return g + ": no key server address";
	for (const Address &a : c.servers)
		if (a.ip.size() != c.local.ip.size())
			return g + ": key server " + a.str() + " is not of the local address family";
	if (c.multicast && c.multicast->ip.size() != 4 && c.multicast->ip.size() != 16)
		return g + ": multicast address is not IPv4 or IPv6";
	if (!ike::dh_group_supported(c.dh_group))
		return g + ": DH group " + std::to_string(c.dh_group) + " is not 19 or 31";
	if (c.ike_encryption != ike::kEncrAesGcm16 && c.ike_encryption != ike::kEncrAesCbc)
		return g + ": IKE encryption " + std::to_string(c.ike_encryption) + " is not 20 or 12";
	if (!detail::kwa_key_bytes(c.key_wrap))
		return g + ": key wrap algorithm " + std::to_string(c.key_wrap) +
		       " is not KW_5649_128 (1), KW_5649_192 (2) or KW_5649_256 (3)";
	if (!c.peers.empty()) {
		auto n = make_member_list_notify(c.peers);
		if (!n)
			return g + ": member list: " + n.error().message;
	}
	return std::nullopt;
}

} // namespace groupsec::gdoi
