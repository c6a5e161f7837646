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

Result<Bytes> KeyServer::rekey_message(GcksGroup &g, const RekeySa &protecting, uint32_t id,
					       std::vector<Payload> inner)
{
	IkeHeader h;
	wire::Reader r(protecting.spi);
	r.u64(h.initiator_spi);
	r.u64(h.responder_spi);
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaRekey);
	h.flags = kFlagInitiator;
	h.message_id = id;
	if (g.cfg.rekey_auth == RekeyAuth::Signature) {
		auto alg = sig_alg(g);
		if (!alg)
			return make_error(WireError::CryptoFailure, "group " + g.cfg.name + " has no signature algorithm");
		// RFC 9838 2.4.1.1 "GSA_REKEY Message Authentication": sign A | P
		// with the inner payloads "fully formed and ready for encryption,
		// except for the content of the AUTH payload": the AUTH payload
		// as it is sent, its Authentication Data zeroed. So the zeros are
		// as long as the signature that replaces them. An ECDSA
		// signature's DER length varies: when it comes out of another
		// length than the placeholder's, it is made again over a
		// placeholder of that length, until the two agree (a signature of
		// fixed length agrees at the second attempt at the latest);
		// docs/gikev2-wire.md.
		AuthPayload a{ike::kAuthDigitalSignature, {}};
		a.data.push_back(static_cast<uint8_t>(alg->size()));
		a.data.insert(a.data.end(), alg->begin(), alg->end());
		const size_t prefix = a.data.size();
		inner.push_back(make_payload(PayloadType::Authentication, {}));
		bool signed_ok = false;
		for (unsigned attempt = 0; attempt < kSignAttempts && !signed_ok; attempt++) {
			AuthPayload placeholder = a;
			placeholder.data.resize(prefix + g.sig_bytes, 0);
			auto body = encode_auth(placeholder);
			if (!body)
				return body.error();
			inner.back().body = body.value();
			auto octets = rekey_signed_octets(h, false, inner);
			if (!octets)
				return octets.error();
			auto sig = ctx_.fault("sign") ? std::nullopt : ctx_.deps.credentials->sign(g.cfg.local_id, octets.value());
			if (!sig || sig->size() <= prefix || !std::equal(a.data.begin(), a.data.end(), sig->begin()))
				return make_error(WireError::CryptoFailure, "GCKS signature failed");
			signed_ok = sig->size() - prefix == g.sig_bytes;
			g.sig_bytes = sig->size() - prefix;
			if (signed_ok) {
				placeholder.data = *sig;
				auto full = encode_auth(placeholder);
				if (!full)
					return full.error();
				inner.back().body = full.value();
			}
		}
		if (!signed_ok)
			return make_error(WireError::CryptoFailure,
					  "GCKS signature: no signature of the placeholder's length");
	}
	Bytes iv;
	wire::put_u64(iv, id);
	return seal_message(h, {}, inner, protecting.keys, iv);
}

bool KeyServer::deliver(GcksGroup &g, ByteView datagram, const std::set<Identity> *leaving)
{
	if (g.cfg.rekey == RekeyTransport::Multicast)
		return ctx_.send(&g.counters, g.cfg.listen[0], *g.cfg.multicast, datagram);
	size_t tried = 0, sent = 0;
	for (auto &[id, m] : g.members) {
		if ((g.cfg.inband_rekey && m.ike_spi) || (leaving && leaving->count(id)))
			continue;
		tried++;
		sent += ctx_.send(&g.counters, m.local, m.address, datagram) ? 1 : 0;
	}
	return tried == 0 || sent > 0;
}

Result<Done> KeyServer::rekey(GcksGroup &g, bool change_kek, bool new_teks,
				      const MembershipChange *change)
{
	const uint64_t t = ctx_.now();
	std::vector<Bytes> datagrams;
	std::vector<uint32_t> old_spis;
	RekeySa old_kek = g.kek;
	std::vector<GcksTek> old_teks = g.teks;
	uint32_t old_last = g.last_message_id;
	auto restore = [&](Error e) -> Result<Done> {
		g.kek = old_kek; // with its message ID
		g.teks = old_teks;
		g.last_message_id = old_last;
		return e;
	};
	// RFC 9838 2.4.1.3: the message ID "is one greater than the value
	// included in the previous rekey message. The first message sent
	// over a new Rekey SA MUST use Message ID of 0."
	auto take_id = [&](RekeySa &kek) -> Result<uint32_t> {
		if (kek.next_message_id > UINT32_MAX)
			return make_error(WireError::Unsupported,
					  "group " + g.cfg.name + ": the Rekey SA's message IDs are used up");
		g.last_message_id = static_cast<uint32_t>(kek.next_message_id++);
		return g.last_message_id;
	};
	if (change_kek) {
		RekeySa next = make_rekey_sa(ctx_.random(kGikeUpdateSpiSize), ctx_.random(kKekKeymatBytes),
						     g.cfg.kek_lifetime_s, t);
		// the new Rekey SA's keys: under the key hierarchy's new group
		// key when membership changed, else under the current Rekey
		// SA's GSK_w
		SecretBytes kwk = old_kek.gsk_w;
		uint32_t kwk_id = 0;
		if (change && change->tree_root) {
			kwk.assign(change->tree_root->begin(), change->tree_root->end());
			kwk_id = tree_key_id(keytree::NodeName{static_cast<uint8_t>(change->tree->depth), 0});
		} else if (change && change->flat_tek) {
			auto k = g.flat->tek_for(change->flat_tek->version, change->flat_tek->revision);
			if (!k)
				return make_error(WireError::Missing, "flat key table has no current TEK");
			kwk.assign(k->begin(), k->end());
			OPENSSL_cleanse(k->data(), k->size());
			kwk_id = flat_key_id(flatkey::KeyId::tek());
		}
		auto w = ike::key_wrap(kwk, next.keymat);
		if (!w)
			return w.error();
		auto id = take_id(g.kek);
		if (!id)
			return restore(id.error());
		// the new Rekey SA counts from 0 (kek_policy() announces no
		// GSA_INITIAL_MESSAGE_ID then)
		g.kek = next;
		GsaPayload gsa;
		gsa.kek = kek_policy(g, false);
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
							next.spi,
							{WrappedKey{0, kwk_id, w.value()}},
							{}});
		if (change) {
			auto attrs = change_attributes(g, *change);
			if (!attrs)
				return restore(attrs.error());
			if (!attrs.value().empty()) {
				MemberKeyBag mb;
				mb.other_attributes = std::move(attrs).value();
				kd.member_key_bag = std::move(mb);
			}
		}
		auto gb = encode_gsa(gsa);
		auto kb = encode_key_download(kd);
		if (!gb || !kb)
			return restore(gb ? kb.error() : gb.error());
		if (ctx_.fault("encode"))
			return restore(make_error(WireError::BadLength, "rekey cannot be encoded (injected)"));
		auto d = rekey_message(g, old_kek, id.value(),
					    {make_payload(PayloadType::GroupSa, gb.value()),
					     make_payload(PayloadType::KeyDownload, kb.value())});
		if (!d)
			return restore(d.error());
		datagrams.push_back(std::move(d).value());
	}
	if (new_teks) {
		std::vector<GcksTek> fresh;
		for (GcksTek &o : g.teks) {
			if (!o.current)
				continue;
			old_spis.push_back(o.spi);
			o.current = false;
			o.remove_ms = t + uint64_t(g.cfg.deactivation_delay_s) * 1000;
		}
		for (size_t i = 0; i < g.cfg.teks.size(); i++)
			fresh.push_back(make_tek(g, i));
		g.teks.insert(g.teks.end(), fresh.begin(), fresh.end());
		GsaPayload gsa = tek_gsa(g);
		KeyDownloadPayload kd;
		for (const GcksTek &n : fresh) {
			auto w = ike::key_wrap(g.kek.gsk_w, n.keymat);
			if (!w)
				return restore(w.error());
			Bytes spi;
			wire::put_u32(spi, n.spi);
			kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp),
								spi,
								{WrappedKey{0, 0, w.value()}},
								{}});
		}
		std::vector<Payload> inner;
		auto gb = encode_gsa(gsa);
		auto kb = encode_key_download(kd);
		if (!gb || !kb)
			return restore(gb ? kb.error() : gb.error());
		inner.push_back(make_payload(PayloadType::GroupSa, gb.value()));
		inner.push_back(make_payload(PayloadType::KeyDownload, kb.value()));
		if (!old_spis.empty()) {
			DeletePayload del;
			del.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
			del.spi_size = kIpsecSpiSize;
			for (uint32_t s : old_spis) {
				Bytes b;
				wire::put_u32(b, s);
				del.spis.push_back(b);
			}
			inner.push_back(make_payload(PayloadType::Delete, encode_delete(del).value()));
		}
		auto id = take_id(g.kek);
		if (!id)
			return restore(id.error());
		auto d = rekey_message(g, g.kek, id.value(), inner);
		if (!d)
			return restore(d.error());
		datagrams.push_back(std::move(d).value());
	}
	// nothing has left this key server yet: a failure to send the first
	// message still changes nothing
	const std::set<Identity> *leaving = change ? &change->leaving : nullptr;
	for (size_t i = 0; i < datagrams.size(); i++) {
		bool ok = !ctx_.fault("send") && deliver(g, datagrams[i], leaving);
		if (!ok && i == 0)
			return restore(make_error(WireError::Unsupported, "rekey of group " + g.cfg.name +
										  " could not be sent"));
		g.counters.rekeys++;
	}
	if (change_kek)
		ctx_.log_rekey_sa(g.kek);
	if (change && change->flat)
		g.announcements.clear();
	if (g.cfg.inband_rekey) {
		// members with an IKE SA: their own copy of the policy and keys
		for (auto &[id, m] : g.members) {
			if (leaving && leaving->count(id))
				continue;
			auto sa = m.ike_spi ? ike_.responder_sas.find(m.ike_spi) : ike_.responder_sas.end();
			if (sa == ike_.responder_sas.end() || !sa->second->authenticated || sa->second->pending) {
				for (const Bytes &d : datagrams)
					ctx_.send(&g.counters, m.local, m.address, d);
				continue;
			}
			auto inner = member_payloads(g, m, sa->second->gsk_w, false, change);
			if (!inner)
				continue;
			IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
			inner.value().insert(inner.value().begin(),
					     make_payload(PayloadType::GroupId, encode_identification(idg).value()));
			ike_.send_request(*sa->second, static_cast<uint8_t>(ExchangeType::GsaInbandRekey), inner.value(),
				     g.cfg.name);
		}
	}
	return Done{};
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
	c.tree = &plan.message;
	c.tree_root = plan.new_root;
	c.leaving.insert(ids.begin(), ids.end());
	auto r = rekey(g, true, true, &c);
	OPENSSL_cleanse(c.tree_root->data(), c.tree_root->size());
	if (!r)
		return r;
	g.tree.commit(plan);
	drop_members(g, ids);
	return Done{};
}

Result<Done> KeyServer::evict_flat(GcksGroup &g, const std::vector<Identity> &ids)
{
	if (ctx_.fault("key-table"))
		return make_error(WireError::BadValue, "flat key table: update failed (injected)");
	// what to go back to if the rekey cannot go out
	auto saved_flat = std::make_unique<flatkey::FlatKeyServer>(*g.flat);
	flatkey::KeyStore saved_keys = g.keys;
	std::vector<flatkey::MemberId> fids;
	for (const Identity &id : ids)
		fids.push_back(g.members.at(id).flat_id);
	flatkey::RekeyResult r = fids.size() == 1 ? g.flat->leave(fids[0]) : g.flat->leave_batch(fids);
	auto restore = [&]() {
		g.flat = std::move(saved_flat);
		g.keys = std::move(saved_keys);
	};
	if (!r.ok) {
		restore();
		return make_error(WireError::BadValue, "flat key table: " + r.error);
	}
	g.keys.apply(r.message, ctx_.wrapper);
	MembershipChange c;
	c.flat = &r.message;
	c.flat_tek = g.flat->current_tek();
	c.leaving.insert(ids.begin(), ids.end());
	auto rr = rekey(g, true, true, &c);
	if (!rr) {
		restore();
		return rr;
	}
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
		g.members.erase(it);
		g.evicted.insert(id);
		if (spi)
			ike_.remove_responder_sa(spi);
	}
}

} // namespace groupsec::gdoi::detail
