// SPDX-License-Identifier: GPL-2.0-or-later
// The group member: its groups, registration with the key server
// (IKE_SA_INIT, GSA_AUTH, GSA_REGISTRATION), re-registration before expiry,
// exclusion, timers and the state shown of it.
#include "group_member.h"

#include <algorithm>

#include "../gikev2_wire.h"
#include "../ike/ike_sa_payload.h"

namespace groupsec::gdoi::detail {

namespace {

// Member-list mode: N(MEMBER_LIST) with the members it names (the list was
// checked when the group was added).
void add_member_list(const GmGroupConfig &c, std::vector<Payload> &req)
{
	if (c.peers.empty())
		return;
	auto n = make_member_list_notify(c.peers);
	if (n)
		req.push_back(make_payload(PayloadType::Notify, encode_notify(n.value()).value()));
}

} // namespace

const char *gm_state_name(GmState s)
{
	switch (s) {
	case GmState::Idle:
		return "idle";
	case GmState::Registering:
		return "registering";
	case GmState::Registered:
		return "registered";
	}
	return "?";
}

GmGroup *GroupMember::find(const std::string &name)
{
	auto it = groups.find(name);
	return it == groups.end() ? nullptr : it->second.get();
}

Result<Done> GroupMember::add_group(const GmGroupConfig &c)
{
	if (c.rekey_auth == RekeyAuth::Implicit)
		ctx_.log_warning("group " + c.name +
				 ": unsigned GSA_REKEY messages are accepted if the key server sends them "
				 "(rekey_auth = implicit): any member of the group can forge them");
	auto it = groups.find(c.name);
	if (it != groups.end()) {
		for (const GmTek &t : it->second->teks)
			ctx_.deps.sas->remove(c.name, t.sa.spi);
		groups.erase(it);
	}
	auto g = std::make_unique<GmGroup>();
	g->cfg = c;
	g->next_register_ms = ctx_.now();
	groups[c.name] = std::move(g);
	return Done{};
}

void GroupMember::remove_group(const std::string &name)
{
	auto it = groups.find(name);
	if (it == groups.end())
		return;
	for (const GmTek &t : it->second->teks)
		ctx_.deps.sas->remove(name, t.sa.spi);
	for (IkeSa *sa : ike_.initiators())
		if (sa->pending && sa->pending->group == name)
			sa->pending.reset();
	groups.erase(it);
}

Result<Done> GroupMember::reregister(GmGroup &g)
{
	if (g.state == GmState::Registering)
		return make_error(WireError::BadValue, "group " + g.cfg.name + " is registering");
	g.next_register_ms = ctx_.now();
	return wire::guarded([&]() -> Result<Done> {
		start(g);
		return Done{};
	});
}

bool GroupMember::uses_ike_sa(uint64_t spi) const
{
	for (auto &[n, g] : groups)
		if (g->ike_spi == spi)
			return true;
	return false;
}

Counters *GroupMember::counters_at(const Address &local)
{
	for (auto &[n, g] : groups)
		if (g->cfg.local == local || (g->cfg.multicast && *g->cfg.multicast == local))
			return &g->counters;
	return nullptr;
}

// --- registration ---

void GroupMember::send_init(IkeSa &sa, const std::string &group)
{
	GmGroup *g = find(group);
	if (!g)
		return;
	Message m;
	m.header.initiator_spi = sa.spi_i;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagInitiator;
	if (!sa.cookie.empty()) {
		NotifyPayload n;
		n.type = ike::kNotifyCookie;
		n.data = sa.cookie;
		m.payloads.push_back(make_payload(PayloadType::Notify, encode_notify(n).value()));
	}
	ike::Proposal p;
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
					 g->cfg.ike_encryption,
					 {make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength),
							    256)}});
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Prf), ike::kPrfHmacSha256, {}});
	if (g->cfg.ike_encryption == ike::kEncrAesCbc)
		p.transforms.push_back(
			Transform{static_cast<uint8_t>(TransformType::Integrity), ike::kIntegHmacSha256_128, {}});
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::KeyExchange), sa.dh_group, {}});
	p.transforms.push_back(
		Transform{static_cast<uint8_t>(TransformType::KeyWrapAlgorithm), g->cfg.key_wrap, {}});
	auto sab = ike::encode_sa({p});
	auto keb = ike::encode_ke(ike::KePayload{sa.dh_group, sa.dh->public_value()});
	auto nib = encode_nonce(NoncePayload{sa.ni});
	if (!sab || !keb || !nib)
		return;
	m.payloads.push_back(make_payload(PayloadType::SecurityAssociation, sab.value()));
	m.payloads.push_back(make_payload(PayloadType::KeyExchange, keb.value()));
	m.payloads.push_back(make_payload(PayloadType::Nonce, nib.value()));
	// RFC 7296 2.23 (SPIr is 0 in the request) and RFC 7383 2.3
	std::optional<Bytes> nat_src, nat_dst;
	if (ctx_.transport.nat_t_port) {
		nat_src = ike::nat_detection_hash(sa.spi_i, 0, sa.local.ip, sa.local.port);
		nat_dst = ike::nat_detection_hash(sa.spi_i, 0, sa.remote.ip, sa.remote.port);
	}
	for (Payload &p : ike::init_transport_notifies(ctx_.transport.fragmentation, nat_src ? &*nat_src : nullptr,
						       nat_dst ? &*nat_dst : nullptr))
		m.payloads.push_back(std::move(p));
	m.payloads.push_back(ike::signature_hash_notify());
	auto d = encode_message(m);
	if (!d)
		return;
	sa.init_request = d.value();
	ike_.send_first_request(sa, m.header.exchange_type, std::move(d).value(), group, &g->counters);
}

void GroupMember::start(GmGroup &g)
{
	if (g.state == GmState::Registering)
		return;
	const Address server = g.cfg.servers[g.server_index % g.cfg.servers.size()];
	for (IkeSa *sa : ike_.initiators()) {
		// by IP: behind a NAT the IKE SA moved to the NAT traversal port
		if (!sa->authenticated || sa->closing || !(sa->remote.ip == server.ip) || !(sa->local.ip == g.cfg.local.ip) ||
		    !(sa->own == g.cfg.local_id))
			continue;
		if (sa->pending) {
			g.next_register_ms = ctx_.now() + 1000;
			return;
		}
		// a further group over the IKE SA we have: GSA_REGISTRATION
		g.state = GmState::Registering;
		g.ike_spi = sa->spi_i;
		g.server_address = server;
		IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
		std::vector<Payload> req{make_payload(PayloadType::GroupId, encode_identification(idg).value())};
		if (g.cfg.sender)
			req.push_back(make_payload(PayloadType::Notify,
						   encode_notify(make_group_sender_notify(g.cfg.sender_ids)).value()));
		add_member_list(g.cfg, req);
		ike_.send_request(*sa, static_cast<uint8_t>(ExchangeType::GsaRegistration), req, g.cfg.name);
		return;
	}
	auto sa = std::make_unique<IkeSa>();
	sa->initiator = true;
	sa->spi_i = ike_.random_spi();
	sa->local = g.cfg.local;
	sa->remote = server;
	sa->dh_group = g.cfg.dh_group;
	sa->own = g.cfg.local_id;
	sa->created_ms = ctx_.now();
	auto dh = ike::DhKey::generate(sa->dh_group, [&](uint8_t *o, size_t n) { ctx_.deps.random->fill(o, n); });
	if (!dh) {
		g.next_register_ms = ctx_.now() + kRetryRegistrationMs;
		return;
	}
	sa->dh = std::move(dh).value();
	sa->ni = ctx_.random(kNonceBytes);
	g.state = GmState::Registering;
	g.ike_spi = sa->spi_i;
	g.server_address = server;
	send_init(ike_.add_initiator_sa(std::move(sa)), g.cfg.name);
}

void GroupMember::failed(GmGroup &g, bool next_server)
{
	g.state = g.teks.empty() ? GmState::Idle : GmState::Registered;
	if (next_server) {
		g.server_index = (g.server_index + 1) % g.cfg.servers.size();
		g.next_register_ms = ctx_.now() + (g.server_index == 0 ? kRetryRegistrationMs : 0);
	} else {
		g.next_register_ms = ctx_.now() + kRetryRegistrationMs;
	}
}

void GroupMember::exchange_failed(IkeSa &sa)
{
	for (auto &[n, g] : groups)
		if (g->ike_spi == sa.spi_i && g->state == GmState::Registering)
			failed(*g, true);
}

void GroupMember::start_over(IkeSa &sa)
{
	const uint64_t spi = sa.spi_i;
	const std::string asked = sa.pending ? sa.pending->group : std::string();
	const bool probe = sa.pending && sa.pending->exchange == static_cast<uint8_t>(ExchangeType::Informational);
	std::vector<GmGroup *> on_it;
	for (auto &[n, g] : groups)
		if (g->ike_spi == spi || n == asked)
			on_it.push_back(g.get());
	if (probe)
		if (GmGroup *g = find(asked))
			g->counters.liveness_failed++;
	ike_.remove_initiator_sa(spi);
	// the group SAs stay: traffic goes on under them until the new
	// registration replaces them
	for (GmGroup *g : on_it) {
		g->state = g->teks.empty() ? GmState::Idle : GmState::Registered;
		g->ike_spi = 0;
		g->next_register_ms = ctx_.now();
	}
	for (GmGroup *g : on_it)
		start(*g);
}

void GroupMember::invalid_spi(IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c)
{
	auto count = [&](uint64_t Counters::*f) {
		if (c)
			(c->*f)++;
	};
	auto m = decode_message(datagram);
	if (!m || m.value().encrypted) {
		count(&Counters::dropped_malformed);
		return;
	}
	bool notice = false;
	for (const Payload &p : m.value().payloads) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n) {
			count(&Counters::dropped_malformed);
			return;
		}
		notice = notice || n.value().type == static_cast<uint16_t>(NotifyType::InvalidIkeSpi);
	}
	// anyone can send this: it counts only as the answer to the request
	// we have outstanding on this IKE SA, and then takes nothing away
	// but the IKE SA
	if (!notice || !sa.keyed || !sa.pending || h.responder_spi != sa.spi_r || h.message_id != sa.pending->id) {
		count(&Counters::dropped_auth);
		return;
	}
	// our Delete of an SA the key server dropped already: gone on both
	// sides, nothing to start over
	if (sa.closing) {
		ike_.remove_initiator_sa(sa.spi_i);
		return;
	}
	count(&Counters::invalid_spi);
	start_over(sa);
}

void GroupMember::send_auth(IkeSa &sa, GmGroup &g)
{
	IdentificationPayload idi{g.cfg.local_id.type, g.cfg.local_id.data};
	IdentificationPayload idr{g.cfg.server_id.type, g.cfg.server_id.data};
	IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
	Bytes idi_body = encode_identification(idi).value();
	Bytes octets = ike::signed_octets(sa.init_request, sa.nr, sa.keys.sk_pi, idi_body);
	AuthPayload auth;
	if (g.cfg.auth == AuthKind::Psk) {
		auto key = ctx_.psk(g.cfg.local_id, g.cfg.server_id);
		if (!key) {
			failed(g, false);
			return;
		}
		auth.method = ike::kAuthSharedKey;
		auth.data = ike::psk_auth(*key, octets);
	} else {
		auto sig = ctx_.deps.credentials->sign(g.cfg.local_id, octets);
		if (!sig || sig->empty()) {
			failed(g, false);
			return;
		}
		auth.method = ike::kAuthDigitalSignature;
		auth.data = *sig;
	}
	std::vector<Payload> req{make_payload(PayloadType::IdInitiator, idi_body),
				 make_payload(PayloadType::IdResponder, encode_identification(idr).value()),
				 make_payload(PayloadType::Authentication, encode_auth(auth).value()),
				 make_payload(PayloadType::GroupId, encode_identification(idg).value())};
	// RFC 9838 2.3.1: "A GM that intends to act as Group Sender MUST
	// include a Notify payload status type of GROUP_SENDER"
	if (g.cfg.sender)
		req.push_back(make_payload(PayloadType::Notify,
					   encode_notify(make_group_sender_notify(g.cfg.sender_ids)).value()));
	add_member_list(g.cfg, req);
	ike_.send_request(sa, static_cast<uint8_t>(ExchangeType::GsaAuth), req, g.cfg.name);
}

void GroupMember::schedule(GmGroup &g)
{
	const uint64_t t = ctx_.now();
	uint64_t expiry = UINT64_MAX;
	for (const GmTek &k : g.teks)
		if (k.current)
			expiry = std::min(expiry, k.expires_ms);
	if (g.kek)
		expiry = std::min(expiry, g.kek->expires_ms);
	// no GSA_KEY_LIFETIME anywhere (RFC 9838 4.4.2.2.1: it "SHOULD NOT
	// be used if inband rekey ... is employed"): the SAs last until the
	// key server replaces or deletes them, nothing to re-register for
	if (expiry == UINT64_MAX) {
		g.next_register_ms = UINT64_MAX;
		return;
	}
	uint64_t margin = uint64_t(g.cfg.reregister_margin_s) * 1000;
	uint64_t at = expiry > margin ? expiry - margin : 0;
	if (at <= t)
		at = t + (expiry > t ? (expiry - t) / 2 : 0) + 1;
	g.next_register_ms = at;
}

void GroupMember::exclude(GmGroup &g)
{
	// the key server closed our IKE SA with the eviction
	bool shared = false;
	for (auto &[n, m] : groups)
		shared = shared || (m.get() != &g && m->ike_spi == g.ike_spi);
	if (!shared)
		ike_.remove_initiator_sa(g.ike_spi);
	g.ike_spi = 0;
	for (const GmTek &k : g.teks)
		ctx_.deps.sas->remove(g.cfg.name, k.sa.spi);
	g.teks.clear();
	g.kek.reset();
	g.old_kek.reset();
	g.keys = flatkey::KeyStore();
	g.path.clear();
	g.state = GmState::Idle;
	g.next_register_ms = ctx_.now() + kRetryRegistrationMs;
}

// RFC 9838 2.6: "In this situation the group member MUST re-register if it
// wants to continue participating in this group ... It is RECOMMENDED that
// a GM waits some randomly chosen time before initiating a registration
// request in this situation to avoid overloading the GCKS." We wait 1 to
// 10 s, over the IKE SA we still have if there is one (GSA_REGISTRATION).
void GroupMember::excluded_by_delete(GmGroup &g, const std::string &why)
{
	for (const GmTek &k : g.teks)
		ctx_.deps.sas->remove(g.cfg.name, k.sa.spi);
	g.teks.clear();
	g.kek.reset();
	g.old_kek.reset();
	g.keys = flatkey::KeyStore();
	g.path.clear();
	g.state = GmState::Idle;
	const Bytes r = ctx_.random(2);
	const uint64_t delay_ms = 1000 + (uint64_t(r[0]) << 8 | r[1]) % 9001;
	g.next_register_ms = ctx_.now() + delay_ms;
	ctx_.log_warning("group " + g.cfg.name +
			 ": the key server excluded this member (" + why + "): the group's SAs "
			 "are removed; registering again in " +
			 std::to_string(delay_ms) + " ms");
}

// --- timers and state ---

void GroupMember::check_ike_sa(GmGroup &g, uint64_t t)
{
	if (g.state != GmState::Registered || !g.ike_spi)
		return;
	IkeSa *sa = ike_.initiator(g.ike_spi);
	if (!sa || !sa->authenticated || sa->closing || sa->pending)
		return;
	// RFC 7296 2.8.3: an IKE SA past its lifetime is replaced; we
	// re-authenticate (a new IKE_SA_INIT and GSA_AUTH, which also checks
	// that we are still authorized and brings fresh keys) and then delete
	// the old one, rather than rekey it with CREATE_CHILD_SA, which
	// RFC 9838 leaves out of G-IKEv2's exchanges
	if (g.cfg.ike_lifetime_s && t >= sa->created_ms + uint64_t(g.cfg.ike_lifetime_s) * 1000) {
		replace_ike_sa(*sa);
		return;
	}
	// RFC 7296 2.4: "liveness checks" are empty INFORMATIONAL requests
	if (g.cfg.liveness_s && t >= sa->last_heard_ms + uint64_t(g.cfg.liveness_s) * 1000) {
		g.counters.liveness++;
		ike_.send_request(*sa, static_cast<uint8_t>(ExchangeType::Informational), {}, g.cfg.name);
	}
}

void GroupMember::replace_ike_sa(IkeSa &sa)
{
	const uint64_t spi = sa.spi_i;
	std::vector<GmGroup *> on_it;
	for (auto &[n, g] : groups)
		if (g->ike_spi == spi)
			on_it.push_back(g.get());
	if (!on_it.empty())
		on_it[0]->counters.ike_rekeys++;
	// no new exchange starts on the old SA; the groups register over a
	// new one, keeping their SAs until the registration replaces them
	sa.closing = true;
	for (GmGroup *g : on_it) {
		g->ike_spi = 0;
		// the first group makes the new IKE SA, the others follow over it
		// with GSA_REGISTRATION once it is authenticated
		g->next_register_ms = ctx_.now() + (g == on_it[0] ? 0 : 1000);
	}
	if (!on_it.empty())
		start(*on_it[0]);
	ike_.close(sa, on_it.empty() ? nullptr : &on_it[0]->counters);
}

void GroupMember::peer_deleted(IkeSa &sa)
{
	const uint64_t spi = sa.spi_i;
	std::vector<GmGroup *> on_it;
	for (auto &[n, g] : groups)
		if (g->ike_spi == spi)
			on_it.push_back(g.get());
	for (GmGroup *g : on_it) {
		g->counters.ike_deletes_received++;
		g->ike_spi = 0;
		// RFC 9838 2.3.3: "If for some reason the IKE SA is closed and
		// no GIKE_UPDATE policy is received during the registration
		// process, the GM MUST consider itself excluded from the group.
		// To continue participating in the group, the GM needs to
		// re-register." (an inband group: its rekeys came over this IKE
		// SA only)
		if (g->state == GmState::Registered && !g->kek && !g->old_kek) {
			excluded_by_delete(*g, "it closed the IKE SA of a group without a Rekey SA");
			continue;
		}
		// a registration cut short starts again; a registered group
		// keeps its SAs and gets its rekeys by GSA_REKEY
		if (g->state == GmState::Registering) {
			g->state = g->teks.empty() ? GmState::Idle : GmState::Registered;
			g->next_register_ms = ctx_.now();
		}
	}
	ike_.remove_initiator_sa(spi);
}

void GroupMember::tick(GmGroup &g, uint64_t t)
{
	check_ike_sa(g, t);
	for (GmTek &k : g.teks) {
		if (k.activate_ms && t >= k.activate_ms) {
			k.activate_ms = 0;
			k.sa.outbound = true;
			ctx_.deps.sas->activate(g.cfg.name, k.sa.spi);
		}
	}
	for (auto it = g.teks.begin(); it != g.teks.end();) {
		bool gone = (!it->current && t >= it->remove_ms) || t >= it->expires_ms;
		if (gone) {
			ctx_.deps.sas->remove(g.cfg.name, it->sa.spi);
			it = g.teks.erase(it);
		} else {
			++it;
		}
	}
	if (g.old_kek && t >= g.old_kek_remove_ms)
		g.old_kek.reset();
	if (g.kek && t >= g.kek->expires_ms)
		g.kek.reset();
	if (g.state != GmState::Registering && t >= g.next_register_ms)
		start(g);
}

uint64_t GroupMember::next(const GmGroup &g) const
{
	uint64_t n = g.state == GmState::Registering ? UINT64_MAX : g.next_register_ms;
	if (g.state == GmState::Registered && g.ike_spi && (g.cfg.liveness_s || g.cfg.ike_lifetime_s)) {
		if (const IkeSa *sa = ike_.initiator(g.ike_spi); sa && sa->authenticated && !sa->pending) {
			if (g.cfg.liveness_s)
				n = std::min(n, sa->last_heard_ms + uint64_t(g.cfg.liveness_s) * 1000);
			if (g.cfg.ike_lifetime_s)
				n = std::min(n, sa->created_ms + uint64_t(g.cfg.ike_lifetime_s) * 1000);
		}
	}
	for (const GmTek &k : g.teks) {
		n = std::min(n, k.current ? k.expires_ms : std::min(k.remove_ms, k.expires_ms));
		if (k.activate_ms)
			n = std::min(n, k.activate_ms);
	}
	if (g.old_kek)
		n = std::min(n, g.old_kek_remove_ms);
	return n;
}

GroupState GroupMember::state(const GmGroup &g) const
{
	GroupState s;
	s.name = g.cfg.name;
	s.group_id = g.cfg.group_id;
	s.server = false;
	s.state = gm_state_name(g.state);
	s.server_address = g.server_address;
	s.kek_message_id = g.last_message_id;
	s.rekey_auth = g.cfg.rekey_auth;
	s.sender_ids = g.sender_ids;
	s.peers = g.cfg.peers;
	for (const GmTek &k : g.teks)
		s.sas.push_back(SaState{k.sa.spi, k.sa.encryption, k.key_bits, k.sa.lifetime_s, k.expires_ms, k.current});
	s.counters = g.counters;
	return s;
}

} // namespace groupsec::gdoi::detail
