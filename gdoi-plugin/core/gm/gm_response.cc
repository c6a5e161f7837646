// SPDX-License-Identifier: GPL-2.0-or-later
// The key server's answers to the member's requests: IKE_SA_INIT (cookies,
// INVALID_KE_PAYLOAD), GSA_AUTH and GSA_REGISTRATION.
#include "group_member.h"

#include <algorithm>

#include "../gikev2_wire.h"
#include "../ike/ike_sa_payload.h"

namespace groupsec::gdoi::detail {

namespace {

bool is_error_notify(uint16_t t)
{
	return t < 16384;
}

} // namespace

void GroupMember::receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h)
{
	IkeSa *sa = ike_.initiator(h.initiator_spi);
	if (!sa || !(sa->remote.ip == remote.ip)) {
		if (Counters *c = ctx_.counters->attribute(local, false)) {
			c->received++;
			c->dropped_auth++;
		}
		return;
	}
	if (h.flags & kFlagResponse)
		response(*sa, datagram, h);
	else
		inband(*sa, datagram, h);
}

void GroupMember::response(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	GmGroup *g = find(sa.pending ? sa.pending->group : sa.group);
	Counters *c = g ? &g->counters : ctx_.counters->attribute(sa.local, false);
	if (c)
		c->received++;
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::Informational)) {
		// protected: the answer to our INFORMATIONAL request; else
		// perhaps N(INVALID_IKE_SPI) from a key server that restarted
		auto m = decode_message(datagram);
		if (m && m.value().encrypted && sa.keyed)
			informational_response(sa, datagram, h, c);
		else
			invalid_spi(sa, datagram, h, c);
		return;
	}
	if (!g || !sa.pending || h.message_id != sa.pending->id || h.exchange_type != sa.pending->exchange) {
		if (c)
			c->dropped_replay++;
		return;
	}
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::IkeSaInit)) {
		init_response(sa, *g, datagram, h);
		return;
	}
	auto opened = ike_.open(sa, datagram, h, sa.keys.responder);
	if (!opened) {
		(opened.error().code == WireError::IntegrityFailed ? c->dropped_auth : c->dropped_malformed)++;
		return;
	}
	if (!opened.value()) // a fragment: more to come
		return;
	const std::vector<Payload> &inner = *opened.value();
	sa.pending.reset();
	sa.last_heard_ms = ctx_.now();
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (n && is_error_notify(n.value().type)) {
			failed(*g, n.value().type == static_cast<uint16_t>(NotifyType::InvalidGroupId));
			// the key server keeps no IKE SA it registered nobody on
			if (!sa.authenticated)
				ike_.remove_initiator_sa(sa.spi_i);
			return;
		}
	}
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaAuth)) {
		if (!server_auth_ok(sa, *g, inner))
			return;
		sa.authenticated = true;
	}
	// the answer to our own N(NO_PROPOSAL_CHOSEN): nothing to apply
	if (g->state != GmState::Registering)
		return;
	registered(*g, sa, inner);
}

void GroupMember::informational_response(IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c)
{
	auto count = [&](uint64_t Counters::*f) {
		if (c)
			(c->*f)++;
	};
	if (!sa.pending || h.message_id != sa.pending->id || h.exchange_type != sa.pending->exchange) {
		count(&Counters::dropped_replay);
		return;
	}
	auto opened = open_message(datagram, sa.keys.responder);
	if (!opened) {
		count(opened.error().code == WireError::IntegrityFailed ? &Counters::dropped_auth
									: &Counters::dropped_malformed);
		return;
	}
	// the key server holds the SA: a liveness check passed, or our Delete
	// was answered and the SA is gone on both sides
	sa.pending.reset();
	sa.last_heard_ms = ctx_.now();
	if (sa.closing)
		ike_.remove_initiator_sa(sa.spi_i);
}

void GroupMember::init_response(IkeSa &sa, GmGroup &g, ByteView datagram, const IkeHeader &h)
{
	auto m = decode_message(datagram);
	if (!m || m.value().encrypted) {
		g.counters.dropped_malformed++;
		return;
	}
	const auto &ps = m.value().payloads;
	for (const Payload &p : ps) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n) {
			g.counters.dropped_malformed++;
			return;
		}
		if (init_notify(sa, g, n.value(), h))
			return;
	}
	if (!key_ike_sa(sa, g, ps, datagram, h)) {
		g.counters.dropped_malformed++;
		return;
	}
	send_auth(sa, g);
}

bool GroupMember::init_notify(IkeSa &sa, GmGroup &g, const NotifyPayload &n, const IkeHeader &h)
{
	if (h.responder_spi != 0)
		return false;
	if (n.type == ike::kNotifyCookie) {
		if (n.data.empty() || n.data.size() > 64) {
			g.counters.dropped_malformed++;
			return true;
		}
		sa.cookie = n.data;
		send_init(sa, g.cfg.name);
		return true;
	}
	if (n.type == ike::kNotifyInvalidKePayload && n.data.size() == 2) {
		uint16_t grp = static_cast<uint16_t>(n.data[0] << 8 | n.data[1]);
		if (grp == sa.dh_group || !ike::dh_group_supported(grp)) {
			g.counters.dropped_malformed++;
			return true;
		}
		auto dh = ike::DhKey::generate(grp, [&](uint8_t *o, size_t len) { ctx_.deps.random->fill(o, len); });
		if (!dh)
			return true;
		sa.dh_group = grp;
		sa.dh = std::move(dh).value();
		send_init(sa, g.cfg.name);
		return true;
	}
	if (is_error_notify(n.type)) {
		failed(g, true);
		ike_.remove_initiator_sa(sa.spi_i);
		return true;
	}
	return false;
}

bool GroupMember::key_ike_sa(IkeSa &sa, GmGroup &g, const std::vector<Payload> &ps, ByteView datagram,
			     const IkeHeader &h)
{
	const Payload *sa_p = find_payload(ps, PayloadType::SecurityAssociation);
	const Payload *ke_p = find_payload(ps, PayloadType::KeyExchange);
	const Payload *nr_p = find_payload(ps, PayloadType::Nonce);
	if (!sa_p || !ke_p || !nr_p || h.responder_spi == 0)
		return false;
	auto props = ike::decode_sa(sa_p->body);
	auto ke = ike::decode_ke(ke_p->body);
	auto nr = decode_nonce(nr_p->body);
	if (!props || !ke || !nr || props.value().size() != 1 || ke.value().group != sa.dh_group)
		return false;
	// the chosen proposal must be the one we offered
	uint16_t encr = 0, prf = 0, dh = 0, bits = 0, kwa = 0;
	for (const Transform &t : props.value()[0].transforms) {
		if (t.type == 1) {
			encr = t.id;
			bits = ike::key_length(t);
		} else if (t.type == 2) {
			prf = t.id;
		} else if (t.type == 4) {
			dh = t.id;
		} else if (t.type == static_cast<uint8_t>(TransformType::KeyWrapAlgorithm)) {
			kwa = t.id;
		}
	}
	// RFC 9838 4.5.4: the key wrap algorithm "MUST be negotiated in the
	// IKE_SA_INIT exchange": the answer must name the one we offered
	if (encr != g.cfg.ike_encryption || bits != 256 || prf != ike::kPrfHmacSha256 || dh != sa.dh_group ||
	    kwa != g.cfg.key_wrap)
		return false;
	auto transport = ike::read_init_transport(ps);
	if (!transport)
		return false;
	auto shared = sa.dh->shared_secret(ke.value().data);
	if (!shared)
		return false;
	sa.spi_r = h.responder_spi;
	// RFC 7383 2.3: fragments only where both sides said so
	sa.fragmentation = ctx_.transport.fragmentation && transport.value().fragmentation;
	// RFC 7296 2.23: if the NAT_DETECTION_* hashes "do not match the
	// addresses in the outer packet", the initiator "MUST tunnel all
	// future IKE and ESP packets associated with this IKE SA over UDP
	// port 4500" (the NAT traversal port both sides are configured with)
	if (ctx_.transport.nat_t_port) {
		sa.nat = ike::nat_between(transport.value(),
					  ike::nat_detection_hash(sa.spi_i, sa.spi_r, sa.remote.ip, sa.remote.port),
					  ike::nat_detection_hash(sa.spi_i, sa.spi_r, sa.local.ip, sa.local.port));
		if (sa.nat) {
			sa.local.port = ctx_.transport.nat_t_port;
			sa.remote.port = ctx_.transport.nat_t_port;
		}
	}
	sa.nr = nr.value().nonce;
	sa.cipher = encr == ike::kEncrAesGcm16 ? SkCipher::AesGcm16 : SkCipher::AesCbcHmacSha256;
	sa.keys = ike::derive_ike_keys(sa.cipher, 32, sa.ni, sa.nr, shared.value(), sa.spi_i, sa.spi_r);
	ike_.log_ike_sa(sa);
	sa.kwa = kwa;
	sa.gsk_w = ike::default_kwk(sa.keys.sk_d, kwa_key_bytes(kwa));
	sa.keyed = true;
	sa.init_response = datagram.to_bytes();
	sa.dh.reset();
	sa.pending.reset();
	return true;
}

bool GroupMember::server_auth_ok(IkeSa &sa, GmGroup &g, const std::vector<Payload> &inner)
{
	const Payload *idr_p = find_payload(inner, PayloadType::IdResponder);
	const Payload *auth_p = find_payload(inner, PayloadType::Authentication);
	auto idr = idr_p ? decode_identification(idr_p->body)
			 : Result<IdentificationPayload>(make_error(WireError::Missing, "no IDr"));
	auto auth = auth_p ? decode_auth(auth_p->body) : Result<AuthPayload>(make_error(WireError::Missing, "no AUTH"));
	if (!idr || !auth) {
		g.counters.dropped_malformed++;
		failed(g, false);
		return false;
	}
	Identity peer{idr.value().id_type, idr.value().data};
	Bytes octets = ike::signed_octets(sa.init_response, sa.ni, sa.keys.sk_pr, idr_p->body);
	bool ok = peer == g.cfg.server_id;
	if (ok && g.cfg.auth == AuthKind::Psk) {
		auto key = ctx_.psk(g.cfg.local_id, g.cfg.server_id);
		ok = auth.value().method == ike::kAuthSharedKey && key &&
		     ike::equal(ike::psk_auth(*key, octets), auth.value().data);
	} else if (ok) {
		ok = auth.value().method == ike::kAuthDigitalSignature &&
		     ctx_.deps.credentials->verify(peer, octets, auth.value().data, g.cfg.name, PeerRole::KeyServer);
	}
	if (!ok) {
		g.counters.dropped_auth++;
		failed(g, false);
		ike_.remove_initiator_sa(sa.spi_i);
	}
	return ok;
}

void GroupMember::registered(GmGroup &g, IkeSa &sa, const std::vector<Payload> &inner)
{
	bool excluded = false;
	auto r = apply(g, inner, sa.gsk_w, true, &excluded);
	if (!r) {
		(r.error().code == WireError::IntegrityFailed ? g.counters.dropped_auth
							       : g.counters.dropped_malformed)++;
		ctx_.log_error("group " + g.cfg.name + ": registration with " + sa.remote.str() +
			  " refused: " + r.error().message);
		failed(g, false);
		// RFC 9838 2.3.1: "If the GSA_AUTH exchange is completed
		// successfully, but the group member finds the policy sent by
		// the GCKS is unacceptable, the member SHOULD inform the GCKS
		// about this by initiating the GSA_REGISTRATION exchange with
		// the IDg payload and the NO_PROPOSAL_CHOSEN notification"
		if (r.error().code == WireError::Unsupported && sa.authenticated && !sa.pending) {
			IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
			NotifyPayload n;
			n.type = ike::kNotifyNoProposalChosen;
			ike_.send_request(sa, static_cast<uint8_t>(ExchangeType::GsaRegistration),
					  {make_payload(PayloadType::GroupId, encode_identification(idg).value()),
					   make_payload(PayloadType::Notify, encode_notify(n).value())},
					  g.cfg.name);
		}
		return;
	}
	g.state = GmState::Registered;
	g.server_address = sa.remote;
	g.ike_spi = sa.spi_i;
	g.counters.registrations++;
	schedule(g);
	if (ctx_.deps.shortcuts)
		ctx_.deps.shortcuts->shortcut_channel(g.cfg.name, false, g.cfg.server_id, sa.remote, true);
}

} // namespace groupsec::gdoi::detail
