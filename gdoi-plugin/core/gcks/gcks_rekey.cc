// SPDX-License-Identifier: GPL-2.0-or-later
// GSA_REKEY (signed, unicast or multicast) and GSA_INBAND_REKEY, and
// evictions with forward access control: each a plan that changes nothing
// and a commit that cannot fail.
#include "key_server.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "../gikev2_wire.h"

namespace groupsec::gdoi::detail {

namespace {

// Signatures made for one GSA_REKEY at most (see rekey_message()).
constexpr unsigned kSignAttempts = 64;

} // namespace

// --- GSA_REKEY ---

namespace {

// The member key bag of a GSA_REKEY's KD gets AUTH_KEY key (RFC 9838
// 4.4.2.1.1 table note 4: AUTH_KEY "MUST be present in the GSA_REKEY
// exchange if the GCKS ... wants to change the public key for the
// following multicast rekey operations"); a message without KD gets one.
Result<Done> add_auth_key(std::vector<Payload> &inner, const Bytes &key)
{
	auto it = std::find_if(inner.begin(), inner.end(), [](const Payload &x) {
		return x.type == static_cast<uint8_t>(PayloadType::KeyDownload);
	});
	KeyDownloadPayload kd;
	if (it != inner.end()) {
		auto d = decode_key_download(it->body);
		if (!d)
			return d.error();
		kd = std::move(d).value();
	}
	if (!kd.member_key_bag)
		kd.member_key_bag.emplace();
	kd.member_key_bag->auth_key = key;
	auto b = encode_key_download(kd);
	if (!b)
		return b.error();
	if (it != inner.end())
		it->body = b.value();
	else
		inner.push_back(make_payload(PayloadType::KeyDownload, b.value()));
	return Done{};
}

} // namespace

// RFC 9838 2.4 "Before the current authentication key expires, the GCKS
// will send a new AUTH_KEY to the group members in a GSA_REKEY message."
// The key is local_id's as the credentials hold it now; it is announced in
// the first message of the next rekey, signed with the key the members
// hold, and signs from the second message on.
void KeyServer::rotate_auth_key(GcksGroup &g, RekeyPlan &p)
{
	if (g.cfg.rekey_auth != RekeyAuth::Signature)
		return;
	auto now = ctx_.deps.credentials->public_key(g.cfg.local_id);
	if (now && *now != g.auth_key)
		p.new_auth_key = std::move(now);
}

Result<Bytes> KeyServer::rekey_message(GcksGroup &g, RekeyPlan &p, const RekeySa &protecting, uint32_t id,
				       std::vector<Payload> inner)
{
	IkeHeader h;
	wire::Reader r(protecting.spi);
	r.u64(h.initiator_spi);
	r.u64(h.responder_spi);
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRekey);
	h.flags = kFlagInitiator;
	h.message_id = id;
	const bool announce = p.new_auth_key && !p.auth_key_announced;
	if (announce) {
		auto a = add_auth_key(inner, *p.new_auth_key);
		if (!a)
			return a.error();
	}
	if (g.cfg.rekey_auth == RekeyAuth::Signature) {
		auto s = sign_rekey(g, h, inner, announce ? &g.auth_key : nullptr);
		if (!s && announce) {
			// the key members verify with is gone: they cannot take
			// the new one from us; they refuse our rekeys (and
			// register again when their keys run out) until then
			ctx_.log_warning("group " + g.cfg.name + ": the signing key of " + g.cfg.local_id.str() +
					 " changed and the previous one, which members verify GSA_REKEY with "
					 "(AUTH_KEY), is no longer loaded to announce the new one: members "
					 "registered before refuse rekeys until they register again "
					 "(gdoictl reregister on each)");
			p.auth_key_announced = true;
			s = sign_rekey(g, h, inner, nullptr);
		}
		if (!s)
			return s.error();
	}
	if (announce)
		p.auth_key_announced = true;
	// AES-GCM: the message ID is the IV (it never repeats under one
	// Rekey SA's key); AES-CBC needs an unpredictable IV (RFC 7296 3.14)
	Bytes iv;
	if (protecting.keys.cipher == SkCipher::AesGcm16)
		wire::put_u64(iv, id);
	else
		iv = ctx_.random(sk_iv_size(protecting.keys.cipher));
	return seal_message(h, {}, inner, protecting.keys, iv);
}

// RFC 9838 2.4.1.1 "GSA_REKEY Message Authentication": sign A | P with the
// inner payloads "fully formed and ready for encryption, except for the
// content of the AUTH payload": the AUTH payload as it is sent, its
// Authentication Data zeroed. So the zeros are as long as the signature
// that replaces them. An ECDSA signature's DER length varies: when it comes
// out of another length than the placeholder's, it is made again over a
// placeholder of that length, until the two agree (a signature of fixed
// length agrees at the second attempt at the latest); docs/gikev2-wire.md.
Result<Done> KeyServer::sign_rekey(GcksGroup &g, const IkeHeader &h, std::vector<Payload> &inner, const Bytes *with)
{
	if (inner.back().type == static_cast<uint8_t>(PayloadType::Authentication))
		inner.pop_back(); // a second try with another key
	auto alg = sig_alg(g);
	if (!alg)
		return make_error(WireError::CryptoFailure, "group " + g.cfg.name + " has no signature algorithm");
	AuthPayload a{ike::kAuthDigitalSignature, {}};
	a.data.push_back(static_cast<uint8_t>(alg->size()));
	a.data.insert(a.data.end(), alg->begin(), alg->end());
	const size_t prefix = a.data.size();
	inner.push_back(make_payload(PayloadType::Authentication, {}));
	for (unsigned attempt = 0; attempt < kSignAttempts; attempt++) {
		AuthPayload placeholder = a;
		placeholder.data.resize(prefix + g.sig_bytes, 0);
		auto body = encode_auth(placeholder);
		if (!body)
			return body.error();
		inner.back().body = body.value();
		auto octets = rekey_signed_octets(h, false, inner);
		if (!octets)
			return octets.error();
		auto sig = ctx_.fault("sign") ? std::nullopt
			   : with	       ? ctx_.deps.credentials->sign_with(*with, octets.value())
					       : ctx_.deps.credentials->sign(g.cfg.local_id, octets.value());
		if (!sig || sig->size() <= prefix || !std::equal(a.data.begin(), a.data.end(), sig->begin()))
			return make_error(WireError::CryptoFailure, "GCKS signature failed");
		const bool fits = sig->size() - prefix == g.sig_bytes;
		g.sig_bytes = sig->size() - prefix;
		if (fits) {
			placeholder.data = *sig;
			auto full = encode_auth(placeholder);
			if (!full)
				return full.error();
			inner.back().body = full.value();
			return Done{};
		}
	}
	return make_error(WireError::CryptoFailure, "GCKS signature: no signature of the placeholder's length");
}

bool KeyServer::deliver(GcksGroup &g, ByteView datagram, const std::set<Identity> *leaving)
{
	if (g.cfg.rekey == RekeyTransport::Multicast)
		return ctx_.send(&g.counters, g.cfg.listen[0], *g.cfg.multicast, datagram);
	size_t tried = 0, sent = 0;
	for (auto &[id, m] : g.members) {
		if (leaving && leaving->count(id))
			continue;
		tried++;
		sent += ctx_.send(&g.counters, m.local, m.address, datagram) ? 1 : 0;
	}
	return tried == 0 || sent > 0;
}

Result<Done> KeyServer::rekey(GcksGroup &g, bool change_kek, bool new_teks, const MembershipChange *change)
{
	if (g.cfg.rekey == RekeyTransport::Inband)
		return rekey_inband(g, new_teks, change);
	RekeyPlan p;
	p.kek = g.kek;
	p.teks = g.teks;
	p.last_message_id = g.last_message_id;
	p.new_kek = change_kek;
	rotate_auth_key(g, p);
	if (change_kek) {
		auto r = plan_kek_message(g, p, change);
		if (!r)
			return r;
	}
	if (new_teks) {
		auto r = plan_tek_message(g, p);
		if (!r)
			return r;
	}
	// nothing has left this key server yet: a failure to send the first
	// message still changes nothing
	const std::set<Identity> *leaving = change ? &change->leaving : nullptr;
	if (!p.datagrams.empty() && !(!ctx_.fault("send") && deliver(g, p.datagrams[0], leaving)))
		return make_error(WireError::Unsupported, "rekey of group " + g.cfg.name + " could not be sent");
	commit_rekey(g, p, change);
	return Done{};
}

// RFC 9838 2.4.1.3: the message ID "is one greater than the value included
// in the previous rekey message. The first message sent over a new Rekey
// SA MUST use Message ID of 0."
Result<uint32_t> KeyServer::take_message_id(const GcksGroup &g, RekeyPlan &p, RekeySa &kek)
{
	if (kek.next_message_id > UINT32_MAX)
		return make_error(WireError::Unsupported, "group " + g.cfg.name + ": the Rekey SA's message IDs are used up");
	p.last_message_id = static_cast<uint32_t>(kek.next_message_id++);
	return p.last_message_id;
}

// The key a new Rekey SA's keys are wrapped under, and its KWK ID: the key
// hierarchy's new group key when membership changed, else the current
// Rekey SA's GSK_w (ID 0).
Result<std::pair<SecretBytes, uint32_t>> KeyServer::kek_wrapping_key(GcksGroup &g, const RekeySa &current,
								    const MembershipChange *change)
{
	if (change && change->tree_root)
		return std::make_pair(SecretBytes(change->tree_root->begin(), change->tree_root->end()),
				      tree_key_id(*change->tree_root));
	if (change && change->flat_tek) {
		const flatkey::FlatKeyServer &table = change->flat_table ? *change->flat_table : *g.flat;
		auto k = table.tek_for(change->flat_tek->version, change->flat_tek->revision);
		if (!k)
			return make_error(WireError::Missing, "flat key table has no current TEK");
		SecretBytes kwk(k->begin(), k->end());
		OPENSSL_cleanse(k->data(), k->size());
		return std::make_pair(std::move(kwk), flat_key_id(flatkey::KeyId::tek()));
	}
	return std::make_pair(SecretBytes(current.gsk_w), uint32_t(0));
}

Result<Done> KeyServer::plan_kek_message(GcksGroup &g, RekeyPlan &p, const MembershipChange *change)
{
	const RekeySuite suite{g.cfg.rekey_encryption, g.cfg.rekey_key_bits, g.cfg.rekey_integrity,
			       g.cfg.rekey_key_wrap};
	RekeySa next = make_rekey_sa(ctx_.random(kGikeUpdateSpiSize), ctx_.random(rekey_keymat_bytes(suite)), suite,
				     g.cfg.kek_lifetime_s, ctx_.now());
	auto kwk = kek_wrapping_key(g, p.kek, change);
	if (!kwk)
		return kwk.error();
	auto w = ike::key_wrap(kwk.value().first, next.keymat);
	if (!w)
		return w.error();
	const RekeySa protecting = p.kek;
	auto id = take_message_id(g, p, p.kek);
	if (!id)
		return id.error();
	// the new Rekey SA counts from 0 (kek_policy() announces no
	// GSA_INITIAL_MESSAGE_ID then)
	p.kek = next;
	GsaPayload gsa;
	gsa.kek = kek_policy(g, p.kek, false);
	KeyDownloadPayload kd;
	// the Rekey SA's group key bag holds its SA_KEY (4.5.2.1: "the Key ID
	// field MUST always be zero"); the key hierarchy's new keys are
	// WRAP_KEYs in a member key bag, as RFC 9838 Appendix A's exclusion
	// shows ("MP(6{15},16{15},11{16})") and the table of 4.4.2.1.1 allows
	// in GSA_REKEY, although 4.5.3 says a member key bag "MUST NOT be
	// sent in GSA_REKEY messages" (docs/gikev2-wire.md)
	GroupKeyBag bag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
			next.spi,
			{WrappedKey{0, kwk.value().second, w.value()}},
			{}};
	if (change) {
		if (!change->tree_wraps.empty()) {
			kd.member_key_bag.emplace();
			kd.member_key_bag->wrap_keys = change->tree_wraps;
		}
		auto attrs = change_attributes(g, *change);
		if (!attrs)
			return attrs.error();
		bag.other_attributes = std::move(attrs).value();
	}
	kd.group_key_bags.push_back(std::move(bag));
	auto gb = encode_gsa(gsa);
	auto kb = encode_key_download(kd);
	if (!gb || !kb)
		return gb ? kb.error() : gb.error();
	if (ctx_.fault("encode"))
		return make_error(WireError::BadLength, "rekey cannot be encoded (injected)");
	auto d = rekey_message(g, p, protecting, id.value(),
			       {make_payload(PayloadType::GroupSa, gb.value()),
				make_payload(PayloadType::KeyDownload, kb.value())});
	if (!d)
		return d.error();
	p.datagrams.push_back(std::move(d).value());
	return Done{};
}

namespace {

Payload delete_payload(const std::vector<uint32_t> &spis)
{
	DeletePayload del;
	del.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
	del.spi_size = kIpsecSpiSize;
	for (uint32_t s : spis) {
		Bytes b;
		wire::put_u32(b, s);
		del.spis.push_back(b);
	}
	return make_payload(PayloadType::Delete, encode_delete(del).value());
}

} // namespace

void KeyServer::fresh_teks(GcksGroup &g, RekeyPlan &p, std::vector<GcksTek> &fresh, std::vector<uint32_t> &old_spis)
{
	for (GcksTek &o : p.teks) {
		if (!o.current)
			continue;
		old_spis.push_back(o.spi);
		o.current = false;
		o.remove_ms = ctx_.now() + uint64_t(g.cfg.deactivation_delay_s) * 1000;
	}
	for (size_t i = 0; i < g.cfg.teks.size(); i++)
		fresh.push_back(make_tek(g, p.teks, i));
	p.teks.insert(p.teks.end(), fresh.begin(), fresh.end());
}

Result<Done> KeyServer::plan_tek_message(GcksGroup &g, RekeyPlan &p)
{
	std::vector<uint32_t> old_spis;
	std::vector<GcksTek> fresh;
	fresh_teks(g, p, fresh, old_spis);
	GsaPayload gsa = tek_gsa(g, p.teks);
	KeyDownloadPayload kd;
	for (const GcksTek &n : fresh) {
		auto w = ike::key_wrap(p.kek.gsk_w, n.keymat);
		if (!w)
			return w.error();
		Bytes spi;
		wire::put_u32(spi, n.spi);
		kd.group_key_bags.push_back(GroupKeyBag{
			static_cast<uint8_t>(SecurityProtocol::Esp), spi, {WrappedKey{0, 0, w.value()}}, {}});
	}
	auto gb = encode_gsa(gsa);
	auto kb = encode_key_download(kd);
	if (!gb || !kb)
		return gb ? kb.error() : gb.error();
	std::vector<Payload> inner{make_payload(PayloadType::GroupSa, gb.value()),
				   make_payload(PayloadType::KeyDownload, kb.value())};
	if (!old_spis.empty())
		inner.push_back(delete_payload(old_spis));
	auto id = take_message_id(g, p, p.kek);
	if (!id)
		return id.error();
	auto d = rekey_message(g, p, p.kek, id.value(), inner);
	if (!d)
		return d.error();
	p.datagrams.push_back(std::move(d).value());
	return Done{};
}

void KeyServer::commit_rekey(GcksGroup &g, RekeyPlan &p, const MembershipChange *change)
{
	g.kek = std::move(p.kek);
	g.teks = std::move(p.teks);
	g.last_message_id = p.last_message_id;
	if (p.auth_key_announced && p.new_auth_key)
		g.auth_key = std::move(*p.new_auth_key);
	// the first message went out (rekey()); the others are sent as well
	// as they can be
	const std::set<Identity> *leaving = change ? &change->leaving : nullptr;
	for (size_t i = 0; i < p.datagrams.size(); i++) {
		if (i > 0 && !ctx_.fault("send"))
			deliver(g, p.datagrams[i], leaving);
		g.counters.rekeys++;
	}
	if (p.new_kek)
		ctx_.log_rekey_sa(g.kek);
	if (change && change->flat)
		g.announcements.clear();
	if (ctx_.deps.events)
		ctx_.deps.events->rekey(g.cfg.name, true, g.last_message_id, p.new_kek);
}

// --- GSA_INBAND_REKEY (RekeyTransport::Inband) ---

// RFC 9838 2.4.2: "When the IKE SA protecting the member registration
// exchange is maintained while group member participates in the group, the
// GCKS can use the GSA_INBAND_REKEY exchange to individually provide policy
// updates to the group member." There is no Rekey SA: new TEKs (and the
// Delete of the ones they replace) go to each member over its IKE SA; a
// member without one is no longer in the group (forget_ike_sa()).
Result<Done> KeyServer::rekey_inband(GcksGroup &g, bool new_teks, const MembershipChange *change)
{
	if (ctx_.fault("encode"))
		return make_error(WireError::BadLength, "rekey cannot be encoded (injected)");
	RekeyPlan p;
	p.teks = g.teks;
	if (new_teks) {
		std::vector<GcksTek> fresh;
		std::vector<uint32_t> old_spis;
		fresh_teks(g, p, fresh, old_spis);
	}
	if (ctx_.fault("send"))
		return make_error(WireError::Unsupported, "rekey of group " + g.cfg.name + " could not be sent");
	g.teks = std::move(p.teks);
	g.counters.rekeys++;
	send_inband(g, change);
	if (ctx_.deps.events)
		ctx_.deps.events->rekey(g.cfg.name, true, g.last_message_id, false);
	return Done{};
}

void KeyServer::send_inband(GcksGroup &g, const MembershipChange *change)
{
	for (auto &[id, m] : g.members) {
		if (change && change->leaving.count(id))
			continue;
		send_inband_to(g, m);
	}
}

bool KeyServer::send_inband_to(GcksGroup &g, GcksMember &m)
{
	IkeSa *sa = m.ike_spi ? ike_.responder(m.ike_spi) : nullptr;
	if (!sa || !sa->authenticated || sa->closing)
		return false;
	if (sa->pending) {
		// IKE's window is one request: after the exchange under way
		// (response())
		m.inband_due = true;
		return true;
	}
	m.inband_due = false;
	// 2.4.2.1: "The GSA, KD and N payloads are built in the same manner as
	// in a registration exchange": the current TEK policies and their
	// keys under the IKE SA's GSK_w; section 5 (inband table): no
	// GSA_INITIAL_MESSAGE_ID, GSA_NEXT_SPI, GWP_SENDER_ID_BITS, WRAP_KEY,
	// AUTH_KEY or GM_SENDER_ID
	auto inner = member_payloads(g, m, sa->gsk_w, false, nullptr);
	if (!inner)
		return false;
	// The TEKs being retired go in D(ESP) (2.6, "If GCKS has a unicast SA
	// with group member then it can use the GSA_INBAND_REKEY exchange to
	// delete SAs"); their SPIs, or those of the policy, are what tell a
	// member of several groups on one IKE SA the group
	// (docs/gikev2-wire.md)
	std::vector<uint32_t> retiring;
	for (const GcksTek &t : g.teks)
		if (!t.current && t.remove_ms > ctx_.now())
			retiring.push_back(t.spi);
	if (!retiring.empty())
		inner.value().push_back(delete_payload(retiring));
	ike_.send_request(*sa, static_cast<uint8_t>(ExchangeType::GsaInbandRekey), inner.value(), g.cfg.name);
	return true;
}

// No key hierarchy is needed: the evicted members get nothing more (their
// IKE SAs are closed), and the new TEKs reach the others over theirs.
Result<Done> KeyServer::evict_inband(GcksGroup &g, const std::vector<Identity> &ids)
{
	MembershipChange c;
	c.leaving.insert(ids.begin(), ids.end());
	auto r = rekey_inband(g, true, &c);
	if (!r)
		return r;
	drop_members(g, ids);
	return Done{};
}

// --- Deletes ---

Result<Done> KeyServer::send_deletes(GcksGroup &g, const std::vector<DeletePayload> &deletes,
				     const std::vector<Identity> &members)
{
	std::vector<Payload> inner;
	for (const DeletePayload &d : deletes) {
		auto b = encode_delete(d);
		if (!b)
			return b.error();
		inner.push_back(make_payload(PayloadType::Delete, b.value()));
	}
	// members with an IKE SA of an inband group: GSA_INBAND_REKEY,
	// "HDR, SK{D, [N]}"; the others: one GSA_REKEY "HDR, SK{D, [N,]
	// [AUTH]}" (2.6), to the group or to each of them by unicast
	std::vector<const GcksMember *> by_rekey;
	for (auto &[id, m] : g.members) {
		if (!members.empty() && std::find(members.begin(), members.end(), id) == members.end())
			continue;
		IkeSa *sa = g.cfg.rekey == RekeyTransport::Inband && m.ike_spi ? ike_.responder(m.ike_spi) : nullptr;
		if (sa && sa->authenticated && !sa->pending && !sa->closing)
			ike_.send_request(*sa, static_cast<uint8_t>(ExchangeType::GsaInbandRekey), inner, g.cfg.name);
		else
			by_rekey.push_back(&m);
	}
	if (by_rekey.empty())
		return Done{};
	// an inband group has no Rekey SA: a member whose IKE SA is busy
	// cannot be told now
	if (g.cfg.rekey == RekeyTransport::Inband)
		return make_error(WireError::Unsupported, "Delete for group " + g.cfg.name + ": the IKE SA of " +
								  by_rekey[0]->id.str() + " is busy; try again");
	RekeyPlan p;
	p.kek = g.kek;
	p.last_message_id = g.last_message_id;
	auto id = take_message_id(g, p, p.kek);
	if (!id)
		return id.error();
	auto d = rekey_message(g, p, p.kek, id.value(), inner);
	if (!d)
		return d.error();
	bool sent = false;
	if (members.empty() && g.cfg.rekey == RekeyTransport::Multicast)
		sent = ctx_.send(&g.counters, g.cfg.listen[0], *g.cfg.multicast, d.value());
	else
		for (const GcksMember *m : by_rekey)
			sent = ctx_.send(&g.counters, m->local, m->address, d.value()) || sent;
	if (!sent)
		return make_error(WireError::Unsupported, "Delete for group " + g.cfg.name + " could not be sent");
	g.kek.next_message_id = p.kek.next_message_id;
	g.last_message_id = p.last_message_id;
	g.counters.rekeys++;
	return Done{};
}

// RFC 9838 2.6: "If a group member receives a Delete payload with zero SPI
// and protocol ID of GIKE_UPDATE, it means that the group member is
// excluded from the group." For the whole group, "the GCKS sends a Delete
// payload with an SPI of zero and Protocol ID of AH or ESP, followed by
// another Delete payload with a SPI of zero and Protocol ID of
// GIKE_UPDATE". An excluded member may register again (it is not
// evicted: evict() keeps it out) and keeps its place in the key table.
Result<Done> KeyServer::exclude(GcksGroup &g, const std::vector<Identity> &members)
{
	for (const Identity &m : members)
		if (!g.members.count(m))
			return make_error(WireError::Missing, m.str() + " is not a registered member of " + g.cfg.name);
	if (g.members.empty())
		return make_error(WireError::Missing, "group " + g.cfg.name + " has no registered member");
	std::vector<DeletePayload> dels;
	if (members.empty())
		dels.push_back(DeletePayload{static_cast<uint8_t>(SecurityProtocol::Esp), kIpsecSpiSize,
					     {Bytes(kIpsecSpiSize, 0)}});
	dels.push_back(DeletePayload{static_cast<uint8_t>(SecurityProtocol::GikeUpdate), kGikeUpdateSpiSize,
				     {Bytes(kGikeUpdateSpiSize, 0)}});
	return send_deletes(g, dels, members);
}

Result<Done> KeyServer::remove_members(GcksGroup &g, const std::vector<Identity> &members)
{
	if (members.empty())
		return make_error(WireError::Missing, "no member to evict from " + g.cfg.name);
	std::set<Identity> seen;
	for (const Identity &id : members) {
		if (!g.members.count(id))
			return make_error(WireError::Missing, id.str() + " is not a registered member of " + g.cfg.name);
		if (!seen.insert(id).second)
			return make_error(WireError::Duplicate, id.str() + " is named twice");
	}
	// copies: the callers' identities may live in state this removes
	const std::vector<Identity> ids(members.begin(), members.end());
	if (g.cfg.rekey == RekeyTransport::Inband)
		return evict_inband(g, ids);
	if (g.cfg.hierarchy == KeyHierarchy::Flat)
		return evict_flat(g, ids);
	return evict_tree(g, ids);
}

Result<Done> KeyServer::evict_tree(GcksGroup &g, const std::vector<Identity> &ids)
{
	std::vector<uint32_t> leaves;
	for (const Identity &id : ids)
		leaves.push_back(g.members.at(id).leaf);
	if (ctx_.fault("key-table"))
		return make_error(WireError::BadValue, "key tree: update failed (injected)");
	keytree::KeyTreeServer::LeavePlan plan = g.tree.plan_leave(leaves);
	if (!plan.ok)
		return make_error(WireError::BadValue, "key tree: " + plan.error);
	MembershipChange c;
	auto wraps = tree_leave_wraps(g, plan);
	if (!wraps)
		return wraps.error();
	c.tree_wraps = std::move(wraps).value();
	c.tree_root = plan.new_root;
	c.leaving.insert(ids.begin(), ids.end());
	auto r = rekey(g, true, true, &c);
	OPENSSL_cleanse(c.tree_root->data(), c.tree_root->size());
	if (!r)
		return r;
	g.tree.commit(plan);
	g.tree_known_depth = static_cast<uint8_t>(g.tree.depth());
	drop_members(g, ids);
	return Done{};
}

// The new keys of a key tree leave as RFC 9838 WRAP_KEYs (Key ID,
// KWK ID, the 32-octet key wrapped): every replaced node that still has
// members, wrapped under each child that still has members (the child's
// key after the leave). A member gets each key only by unwrapping (RFC
// 9838 3.3: the GM "processes the received SA_KEY attributes one by one
// trying to construct a new key path that starts from one of these
// attributes and ends with any key in the Working Key Path"), so a key
// the tree derives from a child is wrapped under that child as well.
// Then the keys the tree grew by since the last eviction, each under the
// one below it, for members that registered at a smaller depth.
Result<std::vector<WrappedKey>> KeyServer::tree_leave_wraps(const GcksGroup &g,
							     const keytree::KeyTreeServer::LeavePlan &plan)
{
	using Update = keytree::KeyTreeServer::LeavePlan::Update;
	const std::vector<Update> &changed = plan.changed();
	auto find = [&](uint8_t level, uint32_t pos) -> const Update * {
		for (const Update &u : changed)
			if (u.level == level && u.pos == pos)
				return &u;
		return nullptr;
	};
	std::vector<WrappedKey> out;
	auto wrap = [&](const keytree::Key &under, const keytree::Key &key) -> Result<Done> {
		auto w = ike::key_wrap(ByteView(under.data(), under.size()), ByteView(key.data(), key.size()));
		if (!w)
			return w.error();
		out.push_back(WrappedKey{tree_key_id(key), tree_key_id(under), w.value()});
		return Done{};
	};
	for (const Update &u : changed) {
		if (u.level == 0 || u.members == 0)
			continue;
		for (uint32_t cp : {2 * u.pos, 2 * u.pos + 1}) {
			const keytree::NodeName child{static_cast<uint8_t>(u.level - 1), cp};
			const Update *cu = find(child.level, cp);
			if ((cu ? cu->members : g.tree.node_members(child)) == 0)
				continue;
			keytree::Key ck = cu ? cu->key : g.tree.node_key(child);
			auto r = wrap(ck, u.key);
			keytree::wipe(ck);
			if (!r)
				return r.error();
		}
	}
	for (unsigned l = g.tree_known_depth; l < g.tree.depth(); l++) {
		const keytree::NodeName up{static_cast<uint8_t>(l + 1), 0}, below{static_cast<uint8_t>(l), 0};
		if (find(up.level, 0) || g.tree.node_members(below) == 0)
			continue;
		keytree::Key uk = g.tree.node_key(up), bk = g.tree.node_key(below);
		auto r = wrap(bk, uk);
		keytree::wipe(uk);
		keytree::wipe(bk);
		if (!r)
			return r.error();
	}
	return out;
}

// The flat key table's leave worked out on a copy of the table and its
// keys, which replace the group's only once the rekey went out.
Result<Done> KeyServer::evict_flat(GcksGroup &g, const std::vector<Identity> &ids)
{
	if (ctx_.fault("key-table"))
		return make_error(WireError::BadValue, "flat key table: update failed (injected)");
	auto table = std::make_unique<flatkey::FlatKeyServer>(*g.flat);
	flatkey::KeyStore keys = g.keys;
	std::vector<flatkey::MemberId> fids;
	for (const Identity &id : ids)
		fids.push_back(g.members.at(id).flat_id);
	flatkey::RekeyResult r = fids.size() == 1 ? table->leave(fids[0]) : table->leave_batch(fids);
	if (!r.ok)
		return make_error(WireError::BadValue, "flat key table: " + r.error);
	keys.apply(r.message, ctx_.wrapper);
	MembershipChange c;
	c.flat = &r.message;
	c.flat_table = table.get();
	c.flat_tek = table->current_tek();
	c.leaving.insert(ids.begin(), ids.end());
	auto rr = rekey(g, true, true, &c);
	if (!rr)
		return rr;
	g.flat = std::move(table);
	g.keys = std::move(keys);
	for (const Identity &id : ids)
		g.ids.release(g.members.at(id).flat_id);
	drop_members(g, ids);
	return Done{};
}

void KeyServer::drop_members(GcksGroup &g, const std::vector<Identity> &ids)
{
	for (const Identity &id : ids) {
		auto it = g.members.find(id);
		if (it == g.members.end())
			continue;
		uint64_t spi = it->second.ike_spi;
		const Address address = it->second.address;
		g.members.erase(it);
		g.evicted.insert(id);
		// its shortcut channel goes with it, IKE SA or not
		if (spi && ctx_.deps.shortcuts)
			ctx_.deps.shortcuts->shortcut_channel(g.cfg.name, true, id, address, false);
		if (!spi)
			continue;
		// RFC 9838 2.6: "after excluding an GM from the group the GCKS MAY
		// immediately delete the unicast SA with this GM": in an inband
		// group by a Delete, so that the member knows at once that it is
		// out (it tries to register again, and is refused); an IKE SA
		// another group of the member still uses stays
		IkeSa *sa = ike_.responder(spi);
		if (g.cfg.rekey == RekeyTransport::Inband && sa) {
			if (!uses_ike_sa(spi) && !ike_.close(*sa, &g.counters))
				ike_.remove_responder_sa(spi);
			continue;
		}
		ike_.remove_responder_sa(spi);
	}
}

} // namespace groupsec::gdoi::detail
