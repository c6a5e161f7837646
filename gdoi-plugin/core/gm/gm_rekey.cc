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
	if (g->state != GmState::Idle) // excluded: registers again (excluded_by_delete())
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
	// RFC 9838 2.4.1.1: "The authentication data is calculated using ...
	// the current authentication key provided in the AUTH_KEY attribute"
	if (g.auth_key.empty() || !ctx_.deps.credentials->verify_with(g.auth_key, octets.value(), d)) {
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
	if (deletes_ike_sa(inner)) {
		peer_deleted(sa);
		return;
	}
	// shortcut SA messages (docs/shortcuts.md) from the key server of
	// the group registered over this SA
	GmGroup *g = find(sa.group);
	if (!g || g->ike_spi != sa.spi_i)
		return;
	const std::string group = g->cfg.name;
	const Identity server = g->cfg.server_id;
	for (const Bytes &m : shortcut_messages(inner)) {
		g->counters.shortcut_received++;
		if (ctx_.deps.shortcuts)
			ctx_.deps.shortcuts->shortcut_message(group, false, server, m);
	}
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
	// the inband table of RFC 9838 4.4.2.1.1: no AUTH_KEY (nor WRAP_KEY,
	// GM_SENDER_ID) in GSA_INBAND_REKEY
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::KeyDownload))
			continue;
		auto kd = decode_key_download(p.body);
		if (kd && kd.value().member_key_bag &&
		    (kd.value().member_key_bag->auth_key || !kd.value().member_key_bag->wrap_keys.empty() ||
		     !kd.value().member_key_bag->sender_ids.empty())) {
			count(&Counters::dropped_malformed);
			ike_.send_response(sa, h.message_id, h.exchange_type, {});
			return;
		}
	}
	GmGroup *g = inband_group(sa.spi_i, inner);
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
	auto r = apply(*g, inner, sa.gsk_w, false, &excluded, 0, true);
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
	if (g->state != GmState::Idle)
		schedule(*g);
}

namespace {

// The SPIs a GSA_INBAND_REKEY names: its GSA policies', its group key
// bags', its Deletes' (each with its protocol).
std::vector<std::pair<uint8_t, Bytes>> named_spis(const std::vector<Payload> &inner)
{
	std::vector<std::pair<uint8_t, Bytes>> out;
	for (const Payload &p : inner) {
		if (p.type == static_cast<uint8_t>(PayloadType::GroupSa)) {
			auto gsa = decode_gsa(p.body);
			if (!gsa)
				continue;
			if (gsa.value().kek)
				out.emplace_back(gsa.value().kek->protocol, gsa.value().kek->spi);
			for (const GsaPolicy &t : gsa.value().teks)
				out.emplace_back(t.protocol, t.spi);
		} else if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload)) {
			auto kd = decode_key_download(p.body);
			if (!kd)
				continue;
			for (const GroupKeyBag &b : kd.value().group_key_bags)
				out.emplace_back(b.protocol, b.spi);
		} else if (p.type == static_cast<uint8_t>(PayloadType::Delete)) {
			auto d = decode_delete(p.body);
			if (!d)
				continue;
			for (const Bytes &s : d.value().spis)
				out.emplace_back(d.value().protocol, s);
		}
	}
	return out;
}

bool holds(const GmGroup &g, uint8_t protocol, const Bytes &spi)
{
	if (protocol == static_cast<uint8_t>(SecurityProtocol::GikeUpdate))
		return (g.kek && g.kek->spi == spi) || (g.old_kek && g.old_kek->spi == spi);
	if (protocol != static_cast<uint8_t>(SecurityProtocol::Esp) || spi.size() != kIpsecSpiSize)
		return false;
	const uint32_t v = uint32_t(spi[0]) << 24 | uint32_t(spi[1]) << 16 | uint32_t(spi[2]) << 8 | spi[3];
	return std::any_of(g.teks.begin(), g.teks.end(), [&](const GmTek &t) { return t.sa.spi == v; });
}

} // namespace

// RFC 9838 2.5: GSA_INBAND_REKEY is "HDR, SK{GSA, KD, [N]}" (or "HDR,
// SK{D, [N]}", 2.6), without IDg, and the GM "processes the GSA, KD and N
// payloads in the same manner as if they were received in a registration
// exchange". The RFC's only handle on the group is the SA: SPIs "are
// assigned by the GCKS" (4.3) and name one group SA each. So with one group
// on the IKE SA it is that group; with several, the one holding an SA
// (Rekey SA or TEK) that the message's policies, key bags or Deletes name
// by protocol and SPI (our key server puts the TEKs it replaces in a
// Delete). None or two such groups: the message is refused.
GmGroup *GroupMember::inband_group(uint64_t spi, const std::vector<Payload> &inner)
{
	std::vector<GmGroup *> on_sa;
	for (auto &[n, m] : groups)
		if (m->ike_spi == spi)
			on_sa.push_back(m.get());
	if (on_sa.size() == 1)
		return on_sa[0];
	GmGroup *found = nullptr;
	const auto spis = named_spis(inner);
	for (GmGroup *m : on_sa) {
		const bool named = std::any_of(spis.begin(), spis.end(),
					       [&](const std::pair<uint8_t, Bytes> &x) { return holds(*m, x.first, x.second); });
		if (!named)
			continue;
		if (found)
			return nullptr;
		found = m;
	}
	return found;
}

} // namespace groupsec::gdoi::detail
