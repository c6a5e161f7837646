// SPDX-License-Identifier: GPL-2.0-or-later
// The exchanges a member starts with the key server: IKE_SA_INIT (with
// cookies), GSA_AUTH (authentication, authorization, GSA and KD),
// GSA_REGISTRATION; the answers to our GSA_INBAND_REKEY.
#include "key_server.h"

#include <algorithm>
#include <optional>

#include <openssl/crypto.h>

#include "../gikev2_wire.h"
#include "../ike/ike_sa_payload.h"

namespace groupsec::gdoi::detail {

namespace {

Payload notify_payload(NotifyType t)
{
	NotifyPayload n;
	n.type = static_cast<uint16_t>(t);
	return make_payload(PayloadType::Notify, encode_notify(n).value());
}

uint32_t flat_number(const flatkey::MemberId &id)
{
	uint32_t n = 0;
	for (size_t i = 0; i < id.size() && i < 32; i++)
		n |= uint32_t(id[i] & 1) << i;
	return n;
}

} // namespace

namespace {

// The count of Sender-IDs a request asks for with N(GROUP_SENDER), nullopt
// if it has none (the member is not a sender).
std::optional<uint32_t> requested_senders(const std::vector<Payload> &inner)
{
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n || n.value().type != static_cast<uint16_t>(NotifyType::GroupSender))
			continue;
		auto count = group_sender_count(n.value());
		return count ? count.value() : 0;
	}
	return std::nullopt;
}

// The members a request names with N(MEMBER_LIST) (member-list mode);
// empty if it has none (auto-discovery); an error if the list does not
// decode or comes twice.
Result<std::vector<Identity>> requested_member_list(const std::vector<Payload> &inner)
{
	std::optional<std::vector<Identity>> out;
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n || n.value().type != static_cast<uint16_t>(NotifyType::MemberList))
			continue;
		if (out)
			return make_error(WireError::Duplicate, "MEMBER_LIST twice");
		auto ids = member_list_identities(n.value());
		if (!ids)
			return ids.error();
		out = std::move(ids).value();
	}
	return out.value_or(std::vector<Identity>{});
}

// A TEK of the group uses a counter-based mode (AES-GCM): senders need
// Sender-IDs (RFC 9838 2.5.1).
bool counter_mode(const GcksGroupConfig &c)
{
	return std::any_of(c.teks.begin(), c.teks.end(), [](const TekPolicyConfig &t) {
		return t.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16);
	});
}

} // namespace

Result<std::vector<Payload>> KeyServer::register_member(GcksGroup &g, IkeSa &sa, const Address &local,
							 const Address &remote, std::optional<uint32_t> senders,
							 std::vector<Identity> peers)
{
	// RFC 9838 2.5.1: "Requesting a value of 1 is not necessary since the
	// GCKS will automatically allocate exactly one to the group sender";
	// 4.5.3.3: "The GCKS MAY send fewer values than requested by the GM
	// (e.g. if it is running out of Sender-IDs), but it MUST NOT send more
	// than requested": a count of 0 gets one, a count above our limit
	// (kMaxSenderIds) or above what is left gets that many. 2.5.1: "A GCKS
	// allocates new Sender-ID values for each registration operation by a
	// group sender": a re-registration gets new ones.
	uint32_t give = 0;
	if (senders && counter_mode(g.cfg)) {
		// GWP_SENDER_ID_BITS wide: 2^bits values, 0 first (2.5.1)
		const uint64_t all = uint64_t{1} << g.cfg.sender_id_bits;
		const uint64_t left = g.next_sender_id < all ? all - g.next_sender_id : 0;
		if (left == 0)
			return make_error(WireError::Unsupported, "group " + g.cfg.name + " has no Sender-IDs left");
		give = static_cast<uint32_t>(
			std::min<uint64_t>(std::min(std::max<uint32_t>(*senders, 1), kMaxSenderIds), left));
	}
	auto known = g.members.find(sa.peer);
	auto joined = known != g.members.end() ? Result<GcksMember *>(&known->second) : join(g, sa.peer);
	if (!joined)
		return joined.error();
	GcksMember &m = *joined.value();
	m.sender_ids.clear();
	while (m.sender_ids.size() < give)
		m.sender_ids.push_back(static_cast<uint32_t>(g.next_sender_id++));
	m.address = remote;
	m.local = local;
	m.registered_ms = ctx_.now();
	// a re-registration replaces the member list (none: auto-discovery)
	m.peers = std::move(peers);
	replace_ike_sa(m, sa.spi_r);
	auto payloads = member_payloads(g, m, sa.gsk_w, true, nullptr);
	// RFC 9838 2.3.4: "The mode of operation for the Data-Security SAs is
	// determined by the presence of the USE_TRANSPORT_MODE notification in
	// the GCKS's response message of the registration exchange"; tunnel
	// mode is then address preservation. Gateway tunnels, which the RFC
	// has no code point for, travel as a private-use status notify.
	if (payloads && g.cfg.sa_mode != SaMode::Tunnel)
		payloads.value().push_back(notify_payload(g.cfg.sa_mode == SaMode::Transport
								  ? NotifyType::UseTransportMode
								  : NotifyType::GatewayTunnels));
	if (payloads && ctx_.deps.shortcuts)
		ctx_.deps.shortcuts->shortcut_channel(g.cfg.name, true, m.id, m.address, true);
	if (payloads && ctx_.deps.events)
		ctx_.deps.events->member_registered(g.cfg.name,
						    MemberState{m.id, m.address,
								g.cfg.hierarchy == KeyHierarchy::Tree ? m.leaf : m.flat_number,
								m.registered_ms, m.sender_ids, m.peers},
						    known != g.members.end(), g.members.size());
	return payloads;
}

// A new member of the group: a leaf of the key tree, or a member ID of the
// flat key table with its keys.
Result<GcksMember *> KeyServer::join(GcksGroup &g, const Identity &peer)
{
	GcksMember m;
	m.id = peer;
	// an inband group keeps no key hierarchy: an evicted member's IKE SA
	// is closed and the others get new TEKs over theirs
	if (g.cfg.rekey == RekeyTransport::Inband)
		return &g.members.emplace(peer, std::move(m)).first->second;
	if (g.cfg.hierarchy == KeyHierarchy::Tree) {
		auto mk = g.tree.join();
		if (!mk)
			return make_error(WireError::Unsupported, "group " + g.cfg.name + " is full");
		m.leaf = mk->leaf;
		return &g.members.emplace(peer, std::move(m)).first->second;
	}
	auto fid = g.ids.assign_next();
	if (!fid)
		return make_error(WireError::Unsupported, "group " + g.cfg.name + " is full");
	flatkey::JoinResult jr = g.flat->join(*fid);
	if (!jr.ok || jr.members.empty()) {
		g.ids.release(*fid);
		return make_error(WireError::BadValue, "flat key table: " + jr.error);
	}
	g.keys.apply(jr.announcement, ctx_.wrapper);
	if (!flatkey::fold_notices(g.announcements, jr.announcement))
		g.announcements.push_back(jr.announcement);
	const flatkey::MemberKeys &mk = jr.members[0];
	m.flat_id = *fid;
	m.flat_number = flat_number(*fid);
	g.keys.merge_from(mk.store());
	m.key_ids.push_back(flatkey::KeyId::tek());
	m.key_ids.insert(m.key_ids.end(), mk.kek_ids.begin(), mk.kek_ids.end());
	m.key_ids.push_back(flatkey::KeyId::member_key(mk.handle));
	return &g.members.emplace(peer, std::move(m)).first->second;
}

// The member registered over IKE SA spi: an old one goes unless another
// group of this member still uses it.
void KeyServer::replace_ike_sa(GcksMember &m, uint64_t spi)
{
	if (m.ike_spi && m.ike_spi != spi) {
		uint64_t old = m.ike_spi;
		m.ike_spi = 0;
		if (!uses_ike_sa(old))
			ike_.remove_responder_sa(old);
	}
	m.ike_spi = spi;
}

// --- datagrams ---

void KeyServer::receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h)
{
	if (!(h.flags & kFlagResponse) && h.exchange_type == static_cast<uint8_t>(ExchangeType::IkeSaInit)) {
		ike_sa_init(local, remote, datagram, h);
		return;
	}
	IkeSa *sa = ike_.responder(h.responder_spi);
	if (!sa || sa->spi_i != h.initiator_spi || !sa->keyed) {
		Counters *c = ctx_.counters->attribute(local, true);
		if (c) {
			c->received++;
			c->dropped_auth++;
		}
		// a response is never answered (RFC 7296 2.21.4)
		if (!(h.flags & kFlagResponse))
			invalid_spi(local, remote, h, c);
		return;
	}
	if (h.flags & kFlagResponse)
		response(*sa, datagram, h);
	else
		request(*sa, local, remote, datagram, h);
}

void KeyServer::invalid_spi(const Address &local, const Address &remote, const IkeHeader &h, Counters *c)
{
	// only where we serve a group: a member whose key server restarted
	// learns at once that its IKE SA is gone and registers again (by IP:
	// the glue gives the local address of a datagram without its port)
	bool serving = false;
	for (auto &[n, g] : groups)
		for (const Address &a : g->cfg.listen)
			serving = serving || a.ip == local.ip;
	if (!serving)
		return;
	// the same SPIs and message ID, not protected: the member checks
	// them against its outstanding request
	Message m;
	m.header.initiator_spi = h.initiator_spi;
	m.header.responder_spi = h.responder_spi;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::Informational);
	m.header.flags = kFlagResponse;
	m.header.message_id = h.message_id;
	m.payloads.push_back(notify_payload(NotifyType::InvalidIkeSpi));
	auto d = encode_message(m);
	if (!d || !ike_.take_invalid_spi_answer(ctx_.now()))
		return;
	if (ctx_.send(c, local, remote, d.value()) && c)
		c->invalid_spi++;
}

namespace {

// The IKE proposal we accept from a member's SA payload.
struct Choice {
	ike::Proposal proposal;
	SkCipher cipher = SkCipher::AesGcm16;
	size_t key_bytes = 32;
	uint16_t dh = 0;
	uint16_t kwa = 0;
};

std::optional<Choice> choose(const std::vector<ike::Proposal> &ps, uint16_t ke_group, uint16_t *other_group)
{
	for (const ike::Proposal &p : ps) {
		if (p.protocol != static_cast<uint8_t>(SecurityProtocol::Ike))
			continue;
		const Transform *encr = nullptr, *prf = nullptr, *integ = nullptr, *kwa = nullptr;
		bool ke_ok = false;
		uint16_t alt = 0;
		for (const Transform &t : p.transforms) {
			uint16_t bits = ike::key_length(t);
			switch (t.type) {
			case 1:
				if (!encr && (t.id == ike::kEncrAesGcm16 || t.id == ike::kEncrAesCbc) &&
				    (bits == 128 || bits == 192 || bits == 256))
					encr = &t;
				break;
			case 2:
				if (t.id == ike::kPrfHmacSha256)
					prf = &t;
				break;
			case 3:
				if (t.id == ike::kIntegHmacSha256_128)
					integ = &t;
				break;
			case 4:
				if (t.id == ke_group && ike::dh_group_supported(t.id))
					ke_ok = true;
				else if (ike::dh_group_supported(t.id) && !alt)
					alt = t.id;
				break;
			case static_cast<uint8_t>(TransformType::KeyWrapAlgorithm):
				if (!kwa && kwa_key_bytes(t.id))
					kwa = &t;
				break;
			}
		}
		// RFC 9838 4.5.4: "In G-IKEv2 the key wrap algorithm MUST be
		// negotiated in the IKE_SA_INIT exchange, so that the GCKS be
		// able to send encrypted keys to the GM in the GSA_AUTH
		// exchange": a proposal without a KWA we support is not taken
		if (!encr || !prf || (encr->id == ike::kEncrAesCbc && !integ) || !kwa)
			continue;
		if (!ke_ok) {
			if (alt && other_group && !*other_group)
				*other_group = alt;
			continue;
		}
		Choice c;
		c.proposal.number = p.number;
		c.proposal.transforms.push_back(*encr);
		c.proposal.transforms.push_back(*prf);
		if (encr->id == ike::kEncrAesCbc)
			c.proposal.transforms.push_back(*integ);
		c.proposal.transforms.push_back(Transform{4, ke_group, {}});
		c.proposal.transforms.push_back(*kwa);
		c.kwa = kwa->id;
		c.cipher = encr->id == ike::kEncrAesGcm16 ? SkCipher::AesGcm16 : SkCipher::AesCbcHmacSha256;
		c.key_bytes = ike::key_length(*encr) / 8u;
		c.dh = ke_group;
		return c;
	}
	return std::nullopt;
}

// An unprotected IKE_SA_INIT response of one notify.
void reply_notify(EngineContext &ctx, Counters *c, const Address &local, const Address &remote, const IkeHeader &h,
		  uint16_t type, Bytes data)
{
	Message r;
	r.header.initiator_spi = h.initiator_spi;
	r.header.exchange_type = h.exchange_type;
	r.header.flags = kFlagResponse;
	NotifyPayload n;
	n.type = type;
	n.data = std::move(data);
	auto body = encode_notify(n);
	if (!body)
		return;
	r.payloads.push_back(make_payload(PayloadType::Notify, body.value()));
	auto d = encode_message(r);
	if (d)
		ctx.send(c, local, remote, d.value());
}

// What an IKE_SA_INIT request offers.
struct InitRequest {
	std::vector<ike::Proposal> proposals;
	ike::KePayload ke;
	Bytes ni;
	ike::InitTransport transport; // fragmentation, NAT detection
};

std::optional<InitRequest> decode_init(const std::vector<Payload> &ps)
{
	const Payload *sa_p = find_payload(ps, PayloadType::SecurityAssociation);
	const Payload *ke_p = find_payload(ps, PayloadType::KeyExchange);
	const Payload *ni_p = find_payload(ps, PayloadType::Nonce);
	if (!sa_p || !ke_p || !ni_p)
		return std::nullopt;
	auto props = ike::decode_sa(sa_p->body);
	auto ke = ike::decode_ke(ke_p->body);
	auto ni = decode_nonce(ni_p->body);
	auto transport = ike::read_init_transport(ps);
	if (!props || !ke || !ni || !transport)
		return std::nullopt;
	return InitRequest{std::move(props).value(), std::move(ke).value(), std::move(ni).value().nonce,
			   std::move(transport).value()};
}

// RFC 7296 2.6: past the threshold, only a request that returns our cookie
// creates state. false if it did not (and got a cookie to return).
bool cookie_passed(EngineContext &ctx, IkeSas &ike, Counters *c, const Address &local, const Address &remote,
		   const IkeHeader &h, const std::vector<Payload> &ps, ByteView ni)
{
	if (!ike.cookie_needed())
		return true;
	ike.rotate_cookie_secret(ctx.now());
	if (!ps.empty() && ps[0].type == static_cast<uint8_t>(PayloadType::Notify)) {
		auto n = decode_notify(ps[0].body);
		if (n && n.value().type == ike::kNotifyCookie &&
		    ike.cookie_valid(n.value().data, ni, remote, h.initiator_spi))
			return true;
	}
	c->cookies_sent++;
	reply_notify(ctx, c, local, remote, h, ike::kNotifyCookie, ike.make_cookie(ni, remote, h.initiator_spi));
	return false;
}

// The responder SA of an accepted IKE_SA_INIT and its response.
void respond_init(EngineContext &ctx, IkeSas &ike, Counters *c, const Address &local, const Address &remote,
		  ByteView datagram, const IkeHeader &h, const InitRequest &req, const Choice &choice)
{
	auto dh = ike::DhKey::generate(choice.dh, [&](uint8_t *o, size_t n) { ctx.deps.random->fill(o, n); });
	if (!dh)
		return;
	auto shared = dh.value()->shared_secret(req.ke.data);
	if (!shared) {
		c->dropped_malformed++;
		return;
	}
	auto sa = std::make_unique<IkeSa>();
	sa->initiator = false;
	sa->spi_i = h.initiator_spi;
	sa->spi_r = ike.random_spi();
	sa->local = local;
	sa->remote = remote;
	sa->dh_group = choice.dh;
	sa->cipher = choice.cipher;
	sa->ni = req.ni;
	sa->nr = ctx.random(kNonceBytes);
	sa->created_ms = ctx.now();
	sa->keys = ike::derive_ike_keys(sa->cipher, choice.key_bytes, sa->ni, sa->nr, shared.value(), sa->spi_i,
					sa->spi_r);
	ike.log_ike_sa(*sa);
	sa->kwa = choice.kwa;
	sa->gsk_w = ike::default_kwk(sa->keys.sk_d, kwa_key_bytes(choice.kwa));
	sa->keyed = true;
	sa->init_request = datagram.to_bytes();
	Message r;
	r.header.initiator_spi = sa->spi_i;
	r.header.responder_spi = sa->spi_r;
	r.header.exchange_type = h.exchange_type;
	r.header.flags = kFlagResponse;
	auto sab = ike::encode_sa({choice.proposal});
	auto keb = ike::encode_ke(ike::KePayload{choice.dh, dh.value()->public_value()});
	auto nrb = encode_nonce(NoncePayload{sa->nr});
	if (!sab || !keb || !nrb)
		return;
	r.payloads.push_back(make_payload(PayloadType::SecurityAssociation, sab.value()));
	r.payloads.push_back(make_payload(PayloadType::KeyExchange, keb.value()));
	r.payloads.push_back(make_payload(PayloadType::Nonce, nrb.value()));
	// RFC 7383 2.3: the responder that supports IKE fragmentation answers
	// the initiator's N(IKEV2_FRAGMENTATION_SUPPORTED) with its own
	sa->fragmentation = ctx.transport.fragmentation && req.transport.fragmentation;
	// RFC 7296 2.23: NAT detection where the member asked for it and we
	// do NAT traversal
	std::optional<Bytes> nat_src, nat_dst;
	if (ctx.transport.nat_t_port && !req.transport.nat_sources.empty()) {
		sa->nat = ike::nat_between(req.transport, ike::nat_detection_hash(sa->spi_i, 0, remote.ip, remote.port),
					   ike::nat_detection_hash(sa->spi_i, 0, local.ip, local.port));
		nat_src = ike::nat_detection_hash(sa->spi_i, sa->spi_r, local.ip, local.port);
		nat_dst = ike::nat_detection_hash(sa->spi_i, sa->spi_r, remote.ip, remote.port);
	}
	for (Payload &p : ike::init_transport_notifies(sa->fragmentation, nat_src ? &*nat_src : nullptr,
						       nat_dst ? &*nat_dst : nullptr))
		r.payloads.push_back(std::move(p));
	r.payloads.push_back(ike::signature_hash_notify());
	auto d = encode_message(r);
	if (!d)
		return;
	sa->init_response = d.value();
	sa->last_peer_request = 0;
	sa->last_response = {d.value()};
	sa->next_request_id = 0;
	ctx.send(c, local, remote, sa->init_response);
	ike.add_responder_sa(std::move(sa));
}

} // namespace

void KeyServer::ike_sa_init(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h)
{
	Counters *c = ctx_.counters->attribute(local, true);
	if (!c)
		return;
	c->received++;
	auto m = decode_message(datagram);
	if (!m && h.responder_spi == 0 && h.message_id == 0) {
		// RFC 7296 2.5: answered with N(UNSUPPORTED_CRITICAL_PAYLOAD),
		// its data the payload type
		if (auto type = unsupported_critical_type(m.error())) {
			c->unsupported_critical++;
			reply_notify(ctx_, c, local, remote, h, static_cast<uint16_t>(NotifyType::UnsupportedCriticalPayload),
				     Bytes{*type});
			return;
		}
	}
	if (!m || h.responder_spi != 0 || h.message_id != 0 || m.value().encrypted) {
		c->dropped_malformed++;
		return;
	}
	// a retransmitted request: the same answer
	if (ike_.init_known(h.initiator_spi, remote)) {
		IkeSa *sa = ike_.responder_for_init(h.initiator_spi, remote);
		if (sa && sa->init_request == datagram.to_bytes() && !sa->authenticated)
			ctx_.send(c, local, remote, sa->init_response);
		return;
	}
	const std::vector<Payload> &ps = m.value().payloads;
	auto req = decode_init(ps);
	if (!req) {
		c->dropped_malformed++;
		return;
	}
	if (!cookie_passed(ctx_, ike_, c, local, remote, h, ps, req->ni))
		return;
	uint16_t other = 0;
	auto choice = choose(req->proposals, req->ke.group, &other);
	if (!choice) {
		Bytes g;
		if (other)
			wire::put_u16(g, other);
		reply_notify(ctx_, c, local, remote, h, other ? ike::kNotifyInvalidKePayload : ike::kNotifyNoProposalChosen,
			     g);
		return;
	}
	respond_init(ctx_, ike_, c, local, remote, datagram, h, *req, *choice);
}

namespace {

// Whether inner (an INFORMATIONAL request's payloads) holds
// N(UPDATE_SA_ADDRESSES) (RFC 4555 3.5).
bool updates_addresses(const std::vector<Payload> &inner)
{
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (n && n.value().type == static_cast<uint16_t>(NotifyType::UpdateSaAddresses))
			return true;
	}
	return false;
}

} // namespace

void KeyServer::members_moved(const IkeSa &sa)
{
	for (auto &[name, g] : groups) {
		for (auto &[id, m] : g->members) {
			if (m.ike_spi != sa.spi_r)
				continue;
			m.address = sa.remote;
			m.local = sa.local;
			if (ctx_.deps.shortcuts)
				ctx_.deps.shortcuts->shortcut_moved(g->cfg.name, true, m.id, m.address);
		}
	}
}

void KeyServer::request(IkeSa &sa, const Address &local, const Address &remote, ByteView datagram,
			const IkeHeader &h)
{
	Counters *c = ctx_.counters->counters_for(sa.group);
	if (!c)
		c = ctx_.counters->attribute(sa.local, true);
	if (c)
		c->received++;
	auto count = [&](uint64_t Counters::*field) {
		if (c)
			(c->*field)++;
	};
	// the member's requests follow IKE_SA_INIT (message ID 0)
	auto opened = ike_.open_request(sa, datagram, h, sa.keys.initiator, 1, c, &remote);
	if (!opened)
		return;
	const auto &inner = *opened;
	// RFC 7296 2.23: behind a NAT, the peer's address and port are those
	// of its latest authenticated request (a member moves to the NAT
	// traversal port after IKE_SA_INIT); RFC 4555 3.5: a member whose
	// address changed says so with N(UPDATE_SA_ADDRESSES) in an
	// authenticated INFORMATIONAL request from its new address
	const Address before = sa.remote;
	if (sa.nat || (sa.authenticated && h.exchange_type == static_cast<uint8_t>(ExchangeType::Informational) &&
		       updates_addresses(inner)))
		ike_.move_responder(sa, local, remote);
	if (sa.authenticated && !(sa.remote == before))
		members_moved(sa);
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaAuth) && !sa.authenticated)
		gsa_auth(sa, h, inner);
	else if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaRegistration) && sa.authenticated)
		gsa_registration(sa, h, inner);
	else if (h.exchange_type == static_cast<uint8_t>(ExchangeType::Informational) && sa.authenticated)
		informational(sa, h, inner);
	else
		count(&Counters::dropped_malformed);
}

void KeyServer::informational(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	Counters *c = ctx_.counters->counters_for(sa.group);
	// RFC 7296 1.4.1: "the recipient MUST close the designated security
	// associations"; the response to a Delete of the IKE SA is empty
	if (deletes_ike_sa(inner)) {
		ike_.send_response(sa, h.message_id, h.exchange_type, {});
		if (c)
			c->ike_deletes_received++;
		// the member stays registered: rekeys reach it by GSA_REKEY
		// (in an inband group it leaves: forget_ike_sa())
		ike_.remove_responder_sa(sa.spi_r);
		return;
	}
	// RFC 7296 1.5: any other INFORMATIONAL request, an empty one (a
	// liveness check, 2.4) included, gets a response; notifications we do
	// not know are ignored
	ike_.send_response(sa, h.message_id, h.exchange_type, {});
	if (inner.empty()) {
		sa.peer_checks_liveness = true;
		if (c)
			c->liveness++;
		return;
	}
	// shortcut SA messages (docs/shortcuts.md) of a registered member,
	// taken once answered; the sink may send on this SA (copies: sa may
	// not outlive the call)
	const std::string group = sa.group;
	const Identity peer = sa.peer;
	if (!uses_ike_sa(sa.spi_r))
		return;
	for (const Bytes &m : shortcut_messages(inner)) {
		if (c)
			c->shortcut_received++;
		if (ctx_.deps.shortcuts)
			ctx_.deps.shortcuts->shortcut_message(group, true, peer, m);
	}
}

void KeyServer::gsa_auth(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	Counters *c = ctx_.counters->counters_for(sa.group);
	if (!c)
		c = ctx_.counters->attribute(sa.local, true);
	const Payload *idi_p = find_payload(inner, PayloadType::IdInitiator);
	const Payload *auth_p = find_payload(inner, PayloadType::Authentication);
	const Payload *idg_p = find_payload(inner, PayloadType::GroupId);
	auto idi = idi_p ? decode_identification(idi_p->body) : Result<IdentificationPayload>(Error{});
	auto auth = auth_p ? decode_auth(auth_p->body) : Result<AuthPayload>(Error{});
	auto idg = idg_p ? decode_identification(idg_p->body) : Result<IdentificationPayload>(Error{});
	bool malformed = !idi || !auth || !idg;
	for (const Payload &p : inner)
		malformed = malformed || (p.type == static_cast<uint8_t>(PayloadType::Notify) && !decode_notify(p.body));
	auto named = requested_member_list(inner);
	malformed = malformed || !named;
	if (malformed) {
		if (c)
			c->dropped_malformed++;
		return;
	}
	Identity peer{idi.value().id_type, idi.value().data};
	GcksGroup *g = find(Identity{idg.value().id_type, idg.value().data}, sa.local);
	if (!g) {
		unknown_group(sa, h, peer, idi_p->body, auth.value(), c);
		return;
	}
	sa.group = g->cfg.name;
	// the first message of this SA was counted before the group was known
	if (!member_auth_ok(*g, sa, peer, idi_p->body, auth.value())) {
		g->counters.dropped_auth++;
		refuse(sa, h, {}, NotifyType::AuthenticationFailed);
		return;
	}
	auto reply = auth_reply(*g, sa, peer);
	if (!reply) {
		refuse(sa, h, {}, NotifyType::RegistrationFailed);
		return;
	}
	// an IKE SA that registers nobody goes with its answer: a peer that
	// retries leaves nothing behind
	if (!authorized(*g, peer)) {
		g->counters.dropped_unauthorized++;
		refuse(sa, h, std::move(*reply), NotifyType::AuthorizationFailed);
		return;
	}
	ike_.responder_authenticated(sa);
	sa.peer = peer;
	auto reg = register_member(*g, sa, sa.local, sa.remote, requested_senders(inner),
				   std::move(named).value());
	if (!reg) {
		refuse(sa, h, std::move(*reply), NotifyType::RegistrationFailed);
		return;
	}
	reply->insert(reply->end(), reg.value().begin(), reg.value().end());
	g->counters.registrations++;
	ike_.send_response(sa, h.message_id, h.exchange_type, *reply);
}

// A GSA_AUTH for a group we do not serve. RFC 7296 2.21.2: an IKE_AUTH
// error other than a failed authentication comes "after the
// authentication", and RFC 9838 2.3.1 answers a group-related error with
// "HDR, SK{IDr, [CERT,] AUTH, N}": the member is authenticated as a group
// served on this address would (the first whose credentials check out)
// before it learns that the group ID is unknown; if none does, it gets
// AUTHENTICATION_FAILED, and cannot probe for group IDs.
void KeyServer::unknown_group(IkeSa &sa, const IkeHeader &h, const Identity &peer, ByteView idi_body,
			      const AuthPayload &auth, Counters *c)
{
	for (auto &[n, g] : groups) {
		const bool here = std::any_of(g->cfg.listen.begin(), g->cfg.listen.end(),
					      [&](const Address &a) { return a.ip == sa.local.ip; });
		if (!here || !member_auth_ok(*g, sa, peer, idi_body, auth))
			continue;
		auto reply = auth_reply(*g, sa, peer);
		if (!reply)
			break;
		refuse(sa, h, std::move(*reply), NotifyType::InvalidGroupId);
		return;
	}
	if (c)
		c->dropped_auth++;
	refuse(sa, h, {}, NotifyType::AuthenticationFailed);
}

void KeyServer::refuse(IkeSa &sa, const IkeHeader &h, std::vector<Payload> reply, NotifyType why)
{
	const uint64_t spi = sa.spi_r;
	reply.push_back(notify_payload(why));
	ike_.send_response(sa, h.message_id, h.exchange_type, reply);
	ike_.remove_responder_sa(spi);
}

bool KeyServer::authorized(const GcksGroup &g, const Identity &peer) const
{
	return std::find(g.cfg.authorized.begin(), g.cfg.authorized.end(), peer) != g.cfg.authorized.end() &&
	       !g.evicted.count(peer);
}

bool KeyServer::member_auth_ok(GcksGroup &g, IkeSa &sa, const Identity &peer, ByteView idi_body,
			       const AuthPayload &auth)
{
	Bytes octets = ike::signed_octets(sa.init_request, sa.nr, sa.keys.sk_pi, idi_body);
	if (g.cfg.member_auth == AuthKind::Psk) {
		auto key = ctx_.psk(g.cfg.local_id, peer);
		return auth.method == ike::kAuthSharedKey && key && ike::equal(ike::psk_auth(*key, octets), auth.data);
	}
	return auth.method == ike::kAuthDigitalSignature && ctx_.deps.credentials->verify(peer, octets, auth.data, g.cfg.name, PeerRole::Member);
}

std::optional<std::vector<Payload>> KeyServer::auth_reply(GcksGroup &g, IkeSa &sa, const Identity &peer)
{
	IdentificationPayload idr{g.cfg.local_id.type, g.cfg.local_id.data};
	Bytes idr_body = encode_identification(idr).value();
	Bytes octets = ike::signed_octets(sa.init_response, sa.ni, sa.keys.sk_pr, idr_body);
	AuthPayload a;
	if (g.cfg.member_auth == AuthKind::Psk) {
		auto key = ctx_.psk(g.cfg.local_id, peer);
		a.method = ike::kAuthSharedKey;
		a.data = ike::psk_auth(*key, octets);
	} else {
		auto sig = ctx_.deps.credentials->sign(g.cfg.local_id, octets);
		if (!sig || sig->empty())
			return std::nullopt;
		a.method = ike::kAuthDigitalSignature;
		a.data = *sig;
	}
	return std::vector<Payload>{make_payload(PayloadType::IdResponder, idr_body),
				    make_payload(PayloadType::Authentication, encode_auth(a).value())};
}

void KeyServer::gsa_registration(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	Counters *c = ctx_.counters->counters_for(sa.group);
	const Payload *idg_p = find_payload(inner, PayloadType::GroupId);
	auto idg = idg_p ? decode_identification(idg_p->body) : Result<IdentificationPayload>(
									 make_error(WireError::Missing, "no IDg"));
	if (!idg) {
		if (c)
			c->dropped_malformed++;
		return;
	}
	GcksGroup *g = find(Identity{idg.value().id_type, idg.value().data}, sa.local);
	if (!g) {
		ike_.send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::InvalidGroupId)});
		return;
	}
	sa.group = g->cfg.name;
	g->counters.received++;
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n) {
			g->counters.dropped_malformed++;
			return;
		}
		// the member leaves the group or rejects its policy
		if (n.value().type == static_cast<uint16_t>(NotifyType::RegistrationFailed) ||
		    n.value().type == ike::kNotifyNoProposalChosen) {
			ike_.send_response(sa, h.message_id, h.exchange_type, {});
			// the eviction removes sa with the member's IKE SA: keep
			// a copy of the identity and do not touch sa after it
			const Identity leaver = sa.peer;
			if (g->members.count(leaver)) {
				GcksGroup &group = *g;
				if (remove_members(group, std::vector<Identity>{leaver})) {
					group.evicted.erase(leaver);
					if (ctx_.deps.events)
						ctx_.deps.events->member_left(group.cfg.name, leaver, "left",
									      group.members.size());
				}
			}
			return;
		}
	}
	if (!authorized(*g, sa.peer)) {
		g->counters.dropped_unauthorized++;
		ike_.send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::AuthorizationFailed)});
		return;
	}
	auto named = requested_member_list(inner);
	if (!named) {
		g->counters.dropped_malformed++;
		return;
	}
	auto reg = register_member(*g, sa, sa.local, sa.remote, requested_senders(inner),
				   std::move(named).value());
	if (!reg) {
		ike_.send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::RegistrationFailed)});
		return;
	}
	g->counters.registrations++;
	ike_.send_response(sa, h.message_id, h.exchange_type, reg.value());
}

void KeyServer::response(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	Counters *c = ctx_.counters->counters_for(sa.pending ? sa.pending->group : sa.group);
	if (c)
		c->received++;
	if (!sa.pending || h.message_id != sa.pending->id || h.exchange_type != sa.pending->exchange) {
		if (c)
			c->dropped_replay++;
		return;
	}
	auto opened = ike_.open(sa, datagram, h, sa.keys.initiator);
	if (!opened) {
		if (c)
			(opened.error().code == WireError::IntegrityFailed ? c->dropped_auth : c->dropped_malformed)++;
		return;
	}
	if (!opened.value()) // a fragment: more to come
		return;
	sa.pending.reset();
	sa.last_heard_ms = ctx_.now();
	// our Delete was answered: the SA is gone on both sides
	if (sa.closing) {
		ike_.remove_responder_sa(sa.spi_r);
		return;
	}
	// an inband rekey that found the IKE SA busy goes now (one group at
	// a time: the window is one request)
	const uint64_t spi = sa.spi_r;
	for (auto &[n, g] : groups) {
		if (g->cfg.rekey != RekeyTransport::Inband)
			continue;
		for (auto &[id, m] : g->members) {
			if (m.ike_spi == spi && m.inband_due) {
				send_inband_to(*g, m);
				return;
			}
		}
	}
}

} // namespace groupsec::gdoi::detail
