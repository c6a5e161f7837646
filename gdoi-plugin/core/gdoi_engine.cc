// The G-IKEv2 engine: addresses and identities, configuration checks, the
// IKE SA plumbing both roles share (sealing, requests, retransmission,
// cached responses) and the dispatch of datagrams and timers.
#include "gdoi_engine.h"

#include "gdoi_config.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <arpa/inet.h>
#include <openssl/x509.h>

#include "engine_impl.h"
#include "gikev2_wire.h"

namespace groupsec::gdoi {

// --- Address ---

std::optional<Address> Address::parse(const std::string &ip, uint16_t port)
{
	Address a;
	a.port = port;
	uint8_t buf[16];
	if (inet_pton(AF_INET, ip.c_str(), buf) == 1)
		a.ip.assign(buf, buf + 4);
	else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1)
		a.ip.assign(buf, buf + 16);
	else
		return std::nullopt;
	return a;
}

std::string Address::ip_string() const
{
	char buf[INET6_ADDRSTRLEN] = "";
	if (ip.size() == 4)
		inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
	else if (ip.size() == 16)
		inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
	else
		return "?";
	return buf;
}

std::string Address::str() const
{
	return ip_string() + "[" + std::to_string(port) + "]";
}

bool operator==(const Address &a, const Address &b)
{
	return a.ip == b.ip && a.port == b.port;
}

bool operator<(const Address &a, const Address &b)
{
	return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
}

// --- Identity ---

namespace {

std::string to_hex(ByteView b)
{
	static const char d[] = "0123456789abcdef";
	std::string s;
	for (uint8_t v : b) {
		s += d[v >> 4];
		s += d[v & 15];
	}
	return s;
}

struct X509NameFree {
	void operator()(X509_NAME *n) const { X509_NAME_free(n); }
};

std::string dn_to_string(ByteView der)
{
	const unsigned char *p = der.data();
	std::unique_ptr<X509_NAME, X509NameFree> name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
	if (!name)
		return "asn1dn:#" + to_hex(der);
	std::string out;
	for (int i = 0; i < X509_NAME_entry_count(name.get()); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(name.get(), i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const char *sn = nid == NID_undef ? "?" : OBJ_nid2sn(nid);
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		if (!out.empty())
			out += ", ";
		out += sn;
		out += "=";
		out.append(reinterpret_cast<const char *>(ASN1_STRING_get0_data(v)),
			   static_cast<size_t>(ASN1_STRING_length(v)));
	}
	return out;
}

} // namespace

std::optional<Identity> Identity::parse(const std::string &s)
{
	// one parser for identities everywhere (configuration, control
	// socket), so that a DN encodes to the same octets as strongSwan's
	auto id = parse_identity(s);
	if (!id)
		return std::nullopt;
	return id.value();
}

std::string Identity::str() const
{
	switch (static_cast<IdType>(type)) {
	case IdType::Ipv4Addr:
	case IdType::Ipv6Addr: {
		Address a;
		a.ip = data;
		return a.ip_string();
	}
	case IdType::Fqdn: {
		std::string s(data.begin(), data.end());
		bool looks_like_other = s.find('.') == std::string::npos || s.find('=') != std::string::npos ||
					s.find('@') != std::string::npos || Address::parse(s, 0).has_value();
		return looks_like_other ? "@" + s : s;
	}
	case IdType::Rfc822Addr:
		return std::string(data.begin(), data.end());
	case IdType::KeyId:
		return "@#" + to_hex(data);
	case IdType::DerAsn1Dn:
		return dn_to_string(data);
	default:
		return "#" + std::to_string(type) + ":" + to_hex(data);
	}
}

bool operator==(const Identity &a, const Identity &b)
{
	return a.type == b.type && a.data == b.data;
}

bool operator<(const Identity &a, const Identity &b)
{
	return a.type != b.type ? a.type < b.type : a.data < b.data;
}

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
	return std::nullopt;
}

// --- flat key table keys as RFC 9838 wrapped keys ---

namespace detail {

uint32_t flat_key_id(const flatkey::KeyId &id)
{
	switch (id.kind) {
	case flatkey::KeyKind::kTek:
		return 0x40000000u;
	case flatkey::KeyKind::kKek:
		return 0x80000000u | static_cast<uint32_t>(id.table) << 16 | static_cast<uint32_t>(id.symbol) << 8 |
		       id.value;
	case flatkey::KeyKind::kMember:
		return 0xc0000000u | (id.member & 0x3fffffffu);
	}
	return 0;
}

std::optional<flatkey::KeyId> flat_key_from_id(uint32_t key_id)
{
	switch (key_id >> 30) {
	case 1:
		return key_id == 0x40000000u ? std::optional<flatkey::KeyId>(flatkey::KeyId::tek()) : std::nullopt;
	case 2:
		if (key_id & 0x3f000000u)
			return std::nullopt;
		return flatkey::KeyId::kek(static_cast<uint8_t>(key_id >> 16), static_cast<uint8_t>(key_id >> 8),
					   static_cast<uint8_t>(key_id));
	case 3:
		return flatkey::KeyId::member_key(key_id & 0x3fffffffu);
	}
	return std::nullopt;
}

std::string hex_text(ByteView b)
{
	return to_hex(b);
}

uint32_t tree_key_id(keytree::NodeName n)
{
	return 0x40000000u | static_cast<uint32_t>(n.level + 1) << 24 | (n.pos & 0x00ffffffu);
}

std::optional<keytree::NodeName> tree_node_from_id(uint32_t key_id)
{
	if (key_id >> 30 != 1 || key_id & 0x20000000u)
		return std::nullopt;
	uint32_t level = (key_id >> 24) & 0x1f;
	if (level == 0 || level - 1 > keytree::kMaxDepth)
		return std::nullopt;
	keytree::NodeName n{static_cast<uint8_t>(level - 1), key_id & 0x00ffffffu};
	if (n.level < 32 && (uint64_t(n.pos) << n.level) >= (uint64_t(1) << keytree::kMaxDepth))
		return std::nullopt;
	return n;
}

SecretBytes flat_wrap_plain(const flatkey::KeySlot &slot)
{
	Bytes head;
	wire::put_u32(head, slot.version);
	wire::put_u32(head, slot.revision);
	wire::put_u32(head, slot.creator);
	SecretBytes out(head.size() + slot.key.size());
	std::copy(slot.key.begin(), slot.key.end(), std::copy(head.begin(), head.end(), out.begin()));
	return out;
}

std::optional<flatkey::KeySlot> flat_wrap_slot(ByteView plain)
{
	if (plain.size() != kFlatWrapPlainBytes)
		return std::nullopt;
	wire::Reader r(plain);
	flatkey::KeySlot s;
	r.u32(s.version);
	r.u32(s.revision);
	r.u32(s.creator);
	std::copy(plain.begin() + 12, plain.end(), s.key.begin());
	return s;
}

RekeySa make_rekey_sa(Bytes spi, SecretBytes keymat, uint32_t lifetime_s, uint64_t now_ms)
{
	RekeySa k;
	k.spi = std::move(spi);
	k.keys.cipher = SkCipher::AesGcm16;
	k.keys.encryption_key.assign(keymat.begin(), keymat.begin() + kKekKeyBytes);
	k.keys.salt.assign(keymat.begin() + kKekKeyBytes, keymat.begin() + kKekKeyBytes + 4);
	k.gsk_w.assign(keymat.begin() + kKekKeyBytes + 4, keymat.end());
	k.keymat = std::move(keymat);
	k.lifetime_s = lifetime_s;
	k.created_ms = now_ms;
	k.expires_ms = now_ms + uint64_t(lifetime_s) * 1000;
	return k;
}

Result<Bytes> rekey_signed_octets(const IkeHeader &h, bool sk_critical, std::vector<Payload> inner)
{
	if (inner.empty() || inner.back().type != static_cast<uint8_t>(PayloadType::Authentication))
		return make_error(WireError::Missing, "GSA_REKEY without AUTH last");
	// RFC 9838 2.4.1.1: "The AUTH payload must have correct values in the
	// Payload Header, the Auth Method and the RESERVED fields. The
	// Authentication Data field is zeroed, but the ASN.1 Length and the
	// AlgorithmIdentifier fields must be properly filled in": the body is
	// Auth Method (1) | RESERVED (3) | ASN.1 Length (1) | AlgorithmIdentifier
	// | signature, and only the signature's octets become zeros
	Bytes &body = inner.back().body;
	if (body.size() < 5 || size_t(body[4]) + 5 > body.size())
		return make_error(WireError::BadLength, "AUTH shorter than its AlgorithmIdentifier");
	std::fill(body.begin() + 5 + body[4], body.end(), 0);
	Bytes p;
	auto first = encode_payload_chain(inner, p);
	if (!first)
		return first.error();
	// "the Length field in the IKE header ... is set to the sum of the
	// lengths of A and P, and the Payload Length field in the Encrypted
	// Payload header ... is set to the length of P plus the size of the
	// Payload header (four octets)"
	if (kIkeHeaderSize + kGenericPayloadHeaderSize + p.size() > 0xffff)
		return make_error(WireError::BadLength, "GSA_REKEY too long");
	IkeHeader adj = h;
	adj.next_payload = static_cast<uint8_t>(PayloadType::Encrypted);
	adj.length = static_cast<uint32_t>(kIkeHeaderSize + kGenericPayloadHeaderSize + p.size());
	Bytes octets = encode_ike_header(adj);
	wire::put_u8(octets, first.value());
	wire::put_u8(octets, sk_critical ? 0x80 : 0);
	wire::put_u16(octets, static_cast<uint16_t>(kGenericPayloadHeaderSize + p.size()));
	wire::put_bytes(octets, p);
	return octets;
}

} // namespace detail

// --- IKE SA plumbing ---

using detail::IkeSa;

Bytes Engine::Impl::random(size_t n)
{
	Bytes b(n);
	if (n)
		deps.random->fill(b.data(), n);
	return b;
}

uint64_t Engine::Impl::random_spi()
{
	for (;;) {
		Bytes b = random(8);
		uint64_t v = 0;
		for (uint8_t x : b)
			v = v << 8 | x;
		if (v != 0 && !responder_sas.count(v) && !initiator_sas.count(v))
			return v;
	}
}

std::optional<SecretBytes> Engine::Impl::psk(const Identity &local, const Identity &remote)
{
	auto key = deps.credentials->shared_key(local, remote);
	if (!key)
		return std::nullopt;
	return SecretBytes(std::move(*key)); // takes the buffer: no copy is left
}

bool Engine::Impl::send(Counters *c, const Address &local, const Address &remote, ByteView datagram)
{
	if (!deps.transport->send(local, remote, datagram))
		return false;
	if (c)
		c->sent++;
	return true;
}

Counters *Engine::Impl::counters_for(const std::string &group)
{
	auto s = servers.find(group);
	if (s != servers.end())
		return &s->second->counters;
	auto m = members.find(group);
	if (m != members.end())
		return &m->second->counters;
	return nullptr;
}

// The group a datagram that names none is counted against: a group
// bound to the local address, the other role's groups after.
Counters *Engine::Impl::attribute(const Address &local, bool server_first)
{
	auto server = [&]() -> Counters * {
		for (auto &[n, g] : servers)
			for (const Address &a : g->cfg.listen)
				if (a == local)
					return &g->counters;
		return nullptr;
	};
	auto member = [&]() -> Counters * {
		for (auto &[n, g] : members)
			if (g->cfg.local == local || (g->cfg.multicast && *g->cfg.multicast == local))
				return &g->counters;
		return nullptr;
	};
	Counters *c = server_first ? server() : member();
	if (!c)
		c = server_first ? member() : server();
	if (!c && !servers.empty())
		c = &servers.begin()->second->counters;
	if (!c && !members.empty())
		c = &members.begin()->second->counters;
	return c;
}

Result<Bytes> Engine::Impl::seal(IkeSa &sa, uint8_t exchange, uint32_t id, bool response,
				 const std::vector<Payload> &inner)
{
	IkeHeader h;
	h.initiator_spi = sa.spi_i;
	h.responder_spi = sa.spi_r;
	h.exchange_type = exchange;
	h.flags = static_cast<uint8_t>((sa.initiator ? kFlagInitiator : 0) | (response ? kFlagResponse : 0));
	h.message_id = id;
	const SkKeys &k = sa.initiator ? sa.keys.initiator : sa.keys.responder;
	Bytes iv;
	if (k.cipher == SkCipher::AesGcm16) {
		wire::put_u64(iv, ++sa.iv_counter);
	} else {
		iv = random(sk_iv_size(k.cipher));
	}
	return seal_message(h, {}, inner, k, iv);
}

void Engine::Impl::send_request(IkeSa &sa, uint8_t exchange, const std::vector<Payload> &inner,
				const std::string &group)
{
	uint32_t id = sa.next_request_id++;
	auto d = seal(sa, exchange, id, false, inner);
	if (!d)
		return;
	IkeSa::Pending p;
	p.id = id;
	p.exchange = exchange;
	p.datagram = std::move(d).value();
	p.next_ms = now() + detail::kRetransmitBaseMs;
	p.transmits = 1;
	p.group = group;
	sa.group = group;
	send(counters_for(group), sa.local, sa.remote, p.datagram);
	sa.pending = std::move(p);
}

std::optional<std::vector<Payload>> Engine::Impl::open_request(IkeSa &sa, ByteView datagram, const IkeHeader &h,
								 const SkKeys &keys, uint32_t first_id, Counters *c)
{
	auto count = [&](uint64_t Counters::*field) {
		if (c)
			(c->*field)++;
	};
	uint32_t expected = sa.last_peer_request ? *sa.last_peer_request + 1 : first_id;
	bool again = sa.last_peer_request && h.message_id == *sa.last_peer_request && h.message_id >= first_id;
	if (!again && h.message_id != expected) {
		count(h.message_id < expected ? &Counters::dropped_replay : &Counters::dropped_malformed);
		return std::nullopt;
	}
	auto opened = open_message(datagram, keys);
	if (!opened) {
		count(opened.error().code == WireError::IntegrityFailed ? &Counters::dropped_auth
									: &Counters::dropped_malformed);
		return std::nullopt;
	}
	if (again) {
		send(c, sa.local, sa.remote, sa.last_response);
		return std::nullopt;
	}
	return std::move(opened).value().inner;
}

void Engine::Impl::send_response(IkeSa &sa, uint32_t id, uint8_t exchange, const std::vector<Payload> &inner)
{
	auto d = seal(sa, exchange, id, true, inner);
	if (!d)
		return;
	sa.last_peer_request = id;
	sa.last_response = std::move(d).value();
	send(counters_for(sa.group), sa.local, sa.remote, sa.last_response);
}

void Engine::Impl::retransmit(uint64_t now_ms)
{
	std::vector<IkeSa *> failed, start_over;
	for (auto *map : {&initiator_sas, &responder_sas}) {
		for (auto &[spi, sa] : *map) {
			if (!sa->pending || sa->pending->next_ms > now_ms)
				continue;
			// a request on an IKE SA the key server may have lost (it
			// restarted): after one unanswered retransmission the
			// member registers afresh rather than waiting out the rest
			if (sa->initiator && sa->authenticated && sa->pending->transmits >= 2) {
				start_over.push_back(sa.get());
				continue;
			}
			if (sa->pending->transmits >= detail::kMaxTransmits) {
				failed.push_back(sa.get());
				continue;
			}
			sa->pending->transmits++;
			sa->pending->next_ms = now_ms + (detail::kRetransmitBaseMs << (sa->pending->transmits - 1));
			send(counters_for(sa->pending->group), sa->local, sa->remote, sa->pending->datagram);
		}
	}
	for (IkeSa *sa : failed) {
		if (sa->initiator) {
			gm_exchange_failed(*sa);
			initiator_sas.erase(sa->spi_i);
		} else {
			// a member that does not answer GSA_INBAND_REKEY loses its
			// IKE SA and falls back to GSA_REKEY
			remove_responder_sa(sa->spi_r);
		}
	}
	std::vector<uint64_t> over;
	for (IkeSa *sa : start_over)
		over.push_back(sa->spi_i);
	for (uint64_t spi : over) {
		auto it = initiator_sas.find(spi);
		if (it != initiator_sas.end())
			gm_start_over(*it->second);
	}
}

void Engine::Impl::add_responder_sa(std::unique_ptr<IkeSa> sa)
{
	const uint64_t spi = sa->spi_r;
	responder_by_init[{sa->spi_i, sa->remote}] = spi;
	if (!sa->authenticated)
		half_open_sas++;
	responder_sas[spi] = std::move(sa);
}

void Engine::Impl::responder_authenticated(IkeSa &sa)
{
	if (sa.authenticated)
		return;
	sa.authenticated = true;
	half_open_sas--;
}

void Engine::Impl::remove_responder_sa(uint64_t spi)
{
	for (auto &[n, g] : servers)
		for (auto &[id, m] : g->members)
			if (m.ike_spi == spi)
				m.ike_spi = 0;
	auto it = responder_sas.find(spi);
	if (it == responder_sas.end())
		return;
	auto init = responder_by_init.find({it->second->spi_i, it->second->remote});
	if (init != responder_by_init.end() && init->second == spi)
		responder_by_init.erase(init);
	if (!it->second->authenticated)
		half_open_sas--;
	responder_sas.erase(it);
}

void Engine::Impl::expire_responder_sas(uint64_t t)
{
	std::set<uint64_t> used;
	for (auto &[n, g] : servers)
		for (auto &[id, m] : g->members)
			if (m.ike_spi)
				used.insert(m.ike_spi);
	std::vector<uint64_t> gone;
	for (auto &[spi, sa] : responder_sas) {
		if (!sa->authenticated) {
			if (t >= sa->created_ms + detail::kHalfOpenTimeoutMs)
				gone.push_back(spi);
		} else if (used.count(spi) || sa->pending) {
			sa->unused_since_ms.reset();
		} else if (!sa->unused_since_ms) {
			sa->unused_since_ms = t;
		} else if (t >= *sa->unused_since_ms + detail::kUnusedIkeSaTimeoutMs) {
			gone.push_back(spi);
		}
	}
	for (uint64_t spi : gone)
		remove_responder_sa(spi);
}

void Engine::Impl::expire_initiator_sas()
{
	for (auto it = initiator_sas.begin(); it != initiator_sas.end();) {
		const IkeSa &sa = *it->second;
		bool used = false;
		for (auto &[n, g] : members)
			used = used || g->ike_spi == sa.spi_i;
		if (!sa.pending && (!sa.authenticated || !used))
			it = initiator_sas.erase(it);
		else
			++it;
	}
}

// --- cookies (RFC 7296 2.6) ---

void Engine::Impl::rotate_cookie_secret(uint64_t t)
{
	if (!cookie_start_ms) {
		cookie_start_ms = t;
		cookie_epoch = 0;
		cookie_secret = random(detail::kCookieSecretBytes);
		cookie_previous.clear();
		return;
	}
	const uint64_t epoch = t > *cookie_start_ms ? (t - *cookie_start_ms) / detail::kCookieSecretPeriodMs : 0;
	if (epoch <= cookie_epoch)
		return;
	if (epoch == cookie_epoch + 1)
		cookie_previous = std::move(cookie_secret);
	else
		cookie_previous.clear(); // two periods or more without a cookie
	cookie_secret = random(detail::kCookieSecretBytes);
	cookie_epoch = epoch;
}

namespace {

Bytes cookie_with(ByteView secret, uint8_t version, ByteView ni, const Address &remote, uint64_t spi_i)
{
	Bytes in = ni.to_bytes();
	wire::put_bytes(in, remote.ip);
	wire::put_u64(in, spi_i);
	Bytes cookie{version};
	wire::put_bytes(cookie, ike::prf(secret, in));
	return cookie;
}

} // namespace

Bytes Engine::Impl::make_cookie(ByteView ni, const Address &remote, uint64_t spi_i) const
{
	return cookie_with(cookie_secret, static_cast<uint8_t>(cookie_epoch), ni, remote, spi_i);
}

bool Engine::Impl::cookie_valid(ByteView cookie, ByteView ni, const Address &remote, uint64_t spi_i) const
{
	if (cookie.empty() || cookie_secret.empty())
		return false;
	const uint8_t version = cookie[0];
	if (version == static_cast<uint8_t>(cookie_epoch))
		return ike::equal(cookie, cookie_with(cookie_secret, version, ni, remote, spi_i));
	if (!cookie_previous.empty() && version == static_cast<uint8_t>(cookie_epoch - 1))
		return ike::equal(cookie, cookie_with(cookie_previous, version, ni, remote, spi_i));
	return false;
}

// --- Engine ---

Engine::Engine(EngineDeps deps) : impl_(std::make_unique<Impl>(deps)) {}
Engine::~Engine() = default;

Result<Done> Engine::add_server_group(const GcksGroupConfig &c)
{
	if (auto e = validate(c))
		return make_error(WireError::BadValue, *e);
	if (impl_->members.count(c.name))
		return make_error(WireError::Duplicate, "group " + c.name + " is a member group here");
	return wire::guarded([&]() -> Result<Done> {
		// what the group needs before anything changes: a signature by
		// its identity, and the identities it evicted before
		std::optional<Bytes> sig_alg;
		if (c.rekey_auth == RekeyAuth::Signature) {
			auto alg = impl_->gcks_signature_algorithm(c);
			if (!alg)
				return alg.error();
			sig_alg = alg.value();
		}
		auto it = impl_->servers.find(c.name);
		const bool keep = it != impl_->servers.end() && it->second->cfg.group_id == c.group_id &&
				  it->second->cfg.id_bits == c.id_bits && it->second->cfg.rekey_auth == c.rekey_auth &&
				  it->second->cfg.hierarchy == c.hierarchy;
		std::set<Identity> evicted;
		if (keep) {
			evicted = it->second->evicted; // stored with every change
		} else if (impl_->deps.evictions) {
			auto stored = impl_->deps.evictions->load(c.name);
			if (!stored)
				return make_error(stored.error().code,
						  "group " + c.name + ": evicted members: " + stored.error().message);
			evicted.insert(stored.value().begin(), stored.value().end());
		} else if (it != impl_->servers.end()) {
			evicted = it->second->evicted;
		}
		if (c.rekey_auth == RekeyAuth::Implicit)
			impl_->log_warning("group " + c.name +
					   ": GSA_REKEY messages are not signed (rekey_auth = implicit): every member "
					   "holds the Rekey SA keys and can forge rekeys to the others");
		if (keep) {
			detail::GcksGroup &g = *it->second;
			bool policy_changed = g.cfg.teks.size() != c.teks.size();
			for (size_t i = 0; !policy_changed && i < c.teks.size(); i++) {
				const TekPolicyConfig &a = g.cfg.teks[i], &b = c.teks[i];
				policy_changed = !(a.source == b.source && a.destination == b.destination &&
						   a.encryption == b.encryption && a.key_bits == b.key_bits &&
						   a.integrity == b.integrity);
			}
			std::vector<Identity> gone;
			for (auto &[id, m] : g.members)
				if (std::find(c.authorized.begin(), c.authorized.end(), id) == c.authorized.end())
					gone.push_back(id);
			g.cfg = c;
			g.sig_alg = sig_alg;
			if (!gone.empty()) {
				// no longer authorized: removed by one rekey, not
				// evicted (authorizing them again lets them back)
				auto r = impl_->gcks_evict(g, gone);
				if (!r)
					return r;
				for (const Identity &id : gone) {
					g.evicted.erase(id);
					if (impl_->deps.events)
						impl_->deps.events->member_left(g.cfg.name, id, "unauthorized",
										g.members.size());
				}
			}
			if (policy_changed && gone.empty())
				return impl_->gcks_rekey(g, false, true);
			return Done{};
		}
		auto g = std::make_unique<detail::GcksGroup>(c, impl_->deps.random, impl_->deps.clock);
		g->sig_alg = sig_alg;
		g->evicted = std::move(evicted);
		impl_->init_keys(*g);
		impl_->servers[c.name] = std::move(g);
		return Done{};
	});
}

Result<Done> Engine::add_member_group(const GmGroupConfig &c)
{
	if (auto e = validate(c))
		return make_error(WireError::BadValue, *e);
	if (impl_->servers.count(c.name))
		return make_error(WireError::Duplicate, "group " + c.name + " is a key server group here");
	if (!impl_->deps.sas)
		return make_error(WireError::Missing, "a member group needs an SA sink");
	return wire::guarded([&]() -> Result<Done> {
		if (c.rekey_auth == RekeyAuth::Implicit)
			impl_->log_warning("group " + c.name +
					   ": unsigned GSA_REKEY messages are accepted if the key server sends them "
					   "(rekey_auth = implicit): any member of the group can forge them");
		auto it = impl_->members.find(c.name);
		if (it != impl_->members.end()) {
			for (const detail::GmTek &t : it->second->teks)
				impl_->deps.sas->remove(c.name, t.sa.spi);
			impl_->members.erase(it);
		}
		auto g = std::make_unique<detail::GmGroup>();
		g->cfg = c;
		g->next_register_ms = impl_->now();
		impl_->members[c.name] = std::move(g);
		return Done{};
	});
}

Result<Done> Engine::remove_group(const std::string &name)
{
	if (impl_->servers.erase(name))
		return Done{};
	auto it = impl_->members.find(name);
	if (it == impl_->members.end())
		return make_error(WireError::Missing, "no group " + name);
	for (const detail::GmTek &t : it->second->teks)
		impl_->deps.sas->remove(name, t.sa.spi);
	for (auto &[spi, sa] : impl_->initiator_sas)
		if (sa->pending && sa->pending->group == name)
			sa->pending.reset();
	impl_->members.erase(it);
	return Done{};
}

void Engine::receive(const Address &local, const Address &remote, ByteView datagram)
{
	try {
		auto h = decode_ike_header(datagram);
		if (!h || h.value().length != datagram.size()) {
			if (Counters *c = impl_->attribute(local, true)) {
				c->received++;
				c->dropped_malformed++;
			}
			return;
		}
		const IkeHeader &hd = h.value();
		if (hd.exchange_type == static_cast<uint8_t>(ExchangeType::GsaRekey)) {
			impl_->gm_rekey(local, datagram, hd);
		} else if (hd.flags & kFlagResponse) {
			// an answer to a request we sent
			if (hd.flags & kFlagInitiator)
				impl_->gcks_receive(local, remote, datagram, hd); // sent by the original initiator
			else
				impl_->gm_receive(local, remote, datagram, hd);
		} else if (hd.flags & kFlagInitiator) {
			impl_->gcks_receive(local, remote, datagram, hd);
		} else {
			impl_->gm_receive(local, remote, datagram, hd);
		}
	} catch (const std::exception &) {
		// allocation failure: the datagram is lost, the state is whole
	}
}

void Engine::tick()
{
	try {
		uint64_t now = impl_->now();
		impl_->retransmit(now);
		impl_->expire_responder_sas(now);
		impl_->expire_initiator_sas();
		if (impl_->cookie_start_ms)
			impl_->rotate_cookie_secret(now);
		for (auto &[n, g] : impl_->servers)
			impl_->gcks_tick(*g, now);
		for (auto &[n, g] : impl_->members)
			impl_->gm_tick(*g, now);
	} catch (const std::exception &) {
	}
}

uint64_t Engine::next_timeout_ms() const
{
	uint64_t now = impl_->now();
	uint64_t next = now + 60000;
	for (auto *map : {&impl_->initiator_sas, &impl_->responder_sas})
		for (auto &[spi, sa] : *map) {
			if (sa->pending)
				next = std::min(next, sa->pending->next_ms);
			if (!sa->initiator && !sa->authenticated)
				next = std::min(next, sa->created_ms + detail::kHalfOpenTimeoutMs);
			if (!sa->initiator && sa->unused_since_ms)
				next = std::min(next, *sa->unused_since_ms + detail::kUnusedIkeSaTimeoutMs);
		}
	for (auto &[n, g] : impl_->servers)
		next = std::min(next, impl_->gcks_next(*g));
	for (auto &[n, g] : impl_->members)
		next = std::min(next, impl_->gm_next(*g));
	return std::max(next, now);
}

Result<Done> Engine::rekey(const std::string &group)
{
	auto it = impl_->servers.find(group);
	if (it == impl_->servers.end())
		return make_error(WireError::Missing, "no key server group " + group);
	return wire::guarded([&] { return impl_->gcks_rekey(*it->second, false, true); });
}

Result<Done> Engine::evict(const std::string &group, const Identity &member)
{
	auto it = impl_->servers.find(group);
	if (it == impl_->servers.end())
		return make_error(WireError::Missing, "no key server group " + group);
	return evict(group, std::vector<Identity>{member});
}

Result<Done> Engine::evict(const std::string &group, const std::vector<Identity> &members)
{
	auto it = impl_->servers.find(group);
	if (it == impl_->servers.end())
		return make_error(WireError::Missing, "no key server group " + group);
	return wire::guarded([&]() -> Result<Done> {
		detail::GcksGroup &g = *it->second;
		for (const Identity &member : members)
			if (!g.members.count(member))
				return make_error(WireError::Missing,
						  member.str() + " is not a registered member of " + group);
		// stored first: an eviction that a restart would forget does not
		// happen
		const std::set<Identity> before = g.evicted;
		std::set<Identity> after = before;
		after.insert(members.begin(), members.end());
		auto stored = impl_->gcks_store_evicted(g, after);
		if (!stored)
			return stored;
		auto r = impl_->gcks_evict(g, members);
		if (!r)
			impl_->gcks_store_evicted(g, before);
		else if (impl_->deps.events)
			for (const Identity &member : members)
				impl_->deps.events->member_evicted(group, member, g.members.size());
		return r;
	});
}

Result<Done> Engine::readmit(const std::string &group, const Identity &member)
{
	auto it = impl_->servers.find(group);
	if (it == impl_->servers.end())
		return make_error(WireError::Missing, "no key server group " + group);
	return wire::guarded([&]() -> Result<Done> {
		detail::GcksGroup &g = *it->second;
		if (!g.evicted.count(member))
			return make_error(WireError::Missing, member.str() + " is not evicted from " + group);
		std::set<Identity> after = g.evicted;
		after.erase(member);
		auto stored = impl_->gcks_store_evicted(g, after);
		if (!stored)
			return stored;
		g.evicted = std::move(after);
		return Done{};
	});
}

Result<Done> Engine::reregister(const std::string &group)
{
	detail::GmGroup *g = impl_->gm_by_name(group);
	if (!g)
		return make_error(WireError::Missing, "no member group " + group);
	if (g->state == "registering")
		return make_error(WireError::BadValue, "group " + group + " is registering");
	g->next_register_ms = impl_->now();
	return wire::guarded([&]() -> Result<Done> {
		impl_->gm_start(*g);
		return Done{};
	});
}

std::vector<GroupState> Engine::groups() const
{
	std::vector<GroupState> out;
	for (auto &[n, g] : impl_->servers)
		out.push_back(impl_->gcks_state(*g));
	for (auto &[n, g] : impl_->members)
		out.push_back(impl_->gm_state(*g));
	return out;
}

void Engine::set_cookie_threshold(size_t half_open)
{
	impl_->cookie_threshold = half_open;
}

size_t Engine::responder_ike_sas() const
{
	return impl_->responder_sas.size();
}

size_t Engine::half_open() const
{
	return impl_->half_open_sas;
}

} // namespace groupsec::gdoi
