// SPDX-License-Identifier: GPL-2.0-or-later
// GSA_REKEY (ICV, signature, message ID) and GSA_INBAND_REKEY as the
// member receives them.
#include "group_member.h"

#include <algorithm>

#include "../gikev2_wire.h"

namespace groupsec::gdoi::detail {

// --- GSA_REKEY and GSA_INBAND_REKEY ---

void GroupMember::rekey(const Address &local, ByteView datagram, const IkeHeader &h)
{
	Bytes spi;
	wire::put_u64(spi, h.initiator_spi);
	wire::put_u64(spi, h.responder_spi);
	GmGroup *g = nullptr;
	const RekeySa *kek = by_rekey_sa(spi, &g);
	if (!kek) {
		// no Rekey SA of ours: nothing can check it
		if (Counters *c = ctx_.counters->attribute(local, false)) {
			c->received++;
			c->dropped_auth++;
		}
		return;
	}
	Counters &c = g->counters;
	c.received++;
	if (h.flags & kFlagResponse) {
		c.dropped_malformed++;
		return;
	}
	auto opened = open_message(datagram, kek->keys);
	if (!opened) {
		(opened.error().code == WireError::IntegrityFailed ? c.dropped_auth : c.dropped_malformed)++;
		return;
	}
	if (!opened.value().message.payloads.empty()) {
		c.dropped_malformed++;
		return;
	}
	// a replay goes before the signature check costs anything (the ICV
	// above covers the message ID); each Rekey SA has its own count
	// (RFC 9838 2.4.1.4), also the old one during the deactivation delay
	if (h.message_id < kek->next_message_id) {
		c.dropped_replay++;
		return;
	}
	std::vector<Payload> inner = opened.value().inner;
	if (!rekey_auth_ok(*g, h, opened.value().message.encrypted->critical, inner, c))
		return;
	bool excluded = false;
	SecretBytes kwk = kek->gsk_w;
	const Bytes via = kek->spi; // apply() may replace *kek
	auto r = apply(*g, inner, kwk, false, &excluded, h.message_id);
	if (!r) {
		if (excluded) {
			exclude(*g);
			return;
		}
		(r.error().code == WireError::IntegrityFailed ? c.dropped_auth : c.dropped_malformed)++;
		return;
	}
	// the Rekey SA it came over expects a higher ID now; a new Rekey SA
	// it brought counts on its own
	for (std::optional<RekeySa> *held : {&g->kek, &g->old_kek})
		if (*held && (*held)->spi == via)
			(*held)->next_message_id = std::max((*held)->next_message_id, uint64_t(h.message_id) + 1);
	g->last_message_id = h.message_id;
	c.rekeys++;
	if (ctx_.deps.events)
		ctx_.deps.events->rekey(g->cfg.name, false, h.message_id, false);
	schedule(*g);
}

const RekeySa *GroupMember::by_rekey_sa(const Bytes &spi, GmGroup **group)
{
	for (auto &[n, m] : groups) {
		if (m->kek && m->kek->spi == spi) {
			*group = m.get();
			return &*m->kek;
		}
		if (m->old_kek && m->old_kek->spi == spi) {
			*group = m.get();
			return &*m->old_kek;
		}
	}
	return nullptr;
}

bool GroupMember::rekey_auth_ok(GmGroup &g, const IkeHeader &h, bool sk_critical, std::vector<Payload> &inner,
				Counters &c)
{
	const bool has_auth = !inner.empty() && inner.back().type == static_cast<uint8_t>(PayloadType::Authentication);
	if (!g.gcauth_signature) {
		if (has_auth)
			c.dropped_auth++;
		return !has_auth;
	}
	if (!has_auth) {
		c.dropped_auth++;
		return false;
	}
	auto a = decode_auth(inner.back().body);
	if (!a) {
		c.dropped_malformed++;
		return false;
	}
	const Bytes &d = a.value().data;
	const Bytes &alg = g.sig_alg;
	if (a.value().method != ike::kAuthDigitalSignature || d.size() <= alg.size() + 1 || d[0] != alg.size() ||
	    !std::equal(alg.begin(), alg.end(), d.begin() + 1)) {
		c.dropped_auth++;
		return false;
	}
	// A | P as the GCKS signed it (RFC 9838 2.4.1.1): the message as
	// received, the AUTH payload's signature octets zeroed
	auto octets = rekey_signed_octets(h, sk_critical, inner);
	if (!octets) {
		c.dropped_malformed++;
		return false;
	}
	if (!ctx_.deps.credentials->verify(g.cfg.server_id, octets.value(), d)) {
		c.dropped_auth++;
		return false;
	}
	inner.pop_back();
	return true;
}

void GroupMember::informational(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	// RFC 7296 1.4.1: a Delete of the IKE SA is answered with an empty
	// INFORMATIONAL response and the SA closed; 1.5: any other request,
	// a liveness check included, gets a response too
	ike_.send_response(sa, h.message_id, h.exchange_type, {});
	if (deletes_ike_sa(inner))
		peer_deleted(sa);
}

void GroupMember::inband(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	Counters *c = ctx_.counters->counters_for(sa.group);
	if (!c)
		c = ctx_.counters->attribute(sa.local, false);
	if (c)
		c->received++;
	auto count = [&](uint64_t Counters::*f) {
		if (c)
			(c->*f)++;
	};
	if (!sa.authenticated) {
		count(&Counters::dropped_malformed);
		return;
	}
	// the key server's requests on our IKE SA count from 0
	auto opened = ike_.open_request(sa, datagram, h, sa.keys.responder, 0, c);
	if (!opened)
		return;
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::Informational)) {
		informational(sa, h, *opened);
		return;
	}
	if (h.exchange_type != static_cast<uint8_t>(ExchangeType::GsaInbandRekey)) {
		count(&Counters::dropped_malformed);
		return;
	}
	const auto &inner = *opened;
	GmGroup *g = nullptr;
	if (const Payload *idg_p = find_payload(inner, PayloadType::GroupId)) {
		auto idg = decode_identification(idg_p->body);
		if (idg)
			for (auto &[n, m] : groups)
				if (m->ike_spi == sa.spi_i && m->cfg.group_id == Identity{idg.value().id_type, idg.value().data})
					g = m.get();
	} else {
		for (auto &[n, m] : groups)
			if (m->ike_spi == sa.spi_i)
				g = g ? nullptr : m.get();
	}
	if (!g) {
		count(&Counters::dropped_malformed);
		ike_.send_response(sa, h.message_id, h.exchange_type, {});
		return;
	}
	sa.group = g->cfg.name;
	if (c != &g->counters) {
		if (c)
			c->received--;
		g->counters.received++;
	}
	bool excluded = false;
	auto r = apply(*g, inner, sa.gsk_w, false, &excluded);
	ike_.send_response(sa, h.message_id, h.exchange_type, {});
	if (!r) {
		if (excluded)
			exclude(*g);
		else
			(r.error().code == WireError::IntegrityFailed ? g->counters.dropped_auth
								       : g->counters.dropped_malformed)++;
		return;
	}
	g->counters.rekeys++;
	if (ctx_.deps.events)
		ctx_.deps.events->rekey(g->cfg.name, false, g->last_message_id, false);
	schedule(*g);
}

} // namespace groupsec::gdoi::detail
