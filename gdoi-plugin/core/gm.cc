// The group member (GM): IKE_SA_INIT initiator (cookies, INVALID_KE),
// GSA_AUTH / GSA_REGISTRATION, GSA and KD processing with the Working Key
// Path kept as a flat key store, GSA_REKEY checks (ICV, signature, message
// ID), GSA_INBAND_REKEY, SA installation, re-registration before expiry.
#include <algorithm>
#include <map>

#include <openssl/crypto.h>

#include "engine_impl.h"
#include "gikev2_wire.h"
#include "ike_sa_payload.h"

namespace groupsec::gdoi {

using detail::find_payload;
using detail::make_payload;
using detail::GmGroup;
using detail::GmTek;
using detail::IkeSa;
using detail::RekeySa;

namespace {

Error fail(WireError c, const std::string &m)
{
	return make_error(c, m);
}

const Transform *find_transform(const GsaPolicy &p, TransformType t)
{
	for (const Transform &x : p.transforms)
		if (x.type == static_cast<uint8_t>(t))
			return &x;
	return nullptr;
}

uint16_t transform_key_bits(const Transform &t)
{
	return ike::key_length(t);
}

bool is_error_notify(uint16_t t)
{
	return t < 16384;
}

} // namespace

GmGroup *Engine::Impl::gm_by_name(const std::string &name)
{
	auto it = members.find(name);
	return it == members.end() ? nullptr : it->second.get();
}

// --- registration ---

void Engine::Impl::gm_send_init(IkeSa &sa, const std::string &group)
{
	GmGroup *g = gm_by_name(group);
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
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::KeyWrapAlgorithm),
					 static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256),
					 {}});
	auto sab = ike::encode_sa({p});
	auto keb = ike::encode_ke(ike::KePayload{sa.dh_group, sa.dh->public_value()});
	auto nib = encode_nonce(NoncePayload{sa.ni});
	if (!sab || !keb || !nib)
		return;
	m.payloads.push_back(make_payload(PayloadType::SecurityAssociation, sab.value()));
	m.payloads.push_back(make_payload(PayloadType::KeyExchange, keb.value()));
	m.payloads.push_back(make_payload(PayloadType::Nonce, nib.value()));
	auto d = encode_message(m);
	if (!d)
		return;
	sa.init_request = d.value();
	IkeSa::Pending pend;
	pend.id = 0;
	pend.exchange = m.header.exchange_type;
	pend.datagram = d.value();
	pend.next_ms = now() + detail::kRetransmitBaseMs;
	pend.transmits = 1;
	pend.group = group;
	sa.group = group;
	sa.next_request_id = 1;
	send(&g->counters, sa.local, sa.remote, pend.datagram);
	sa.pending = std::move(pend);
}

void Engine::Impl::gm_start(GmGroup &g)
{
	if (g.state == "registering")
		return;
	const Address server = g.cfg.servers[g.server_index % g.cfg.servers.size()];
	for (auto &[spi, sa] : initiator_sas) {
		if (!sa->authenticated || !(sa->remote == server) || !(sa->local == g.cfg.local) ||
		    !(sa->own == g.cfg.local_id))
			continue;
		if (sa->pending) {
			g.next_register_ms = now() + 1000;
			return;
		}
		// a further group over the IKE SA we have: GSA_REGISTRATION
		g.state = "registering";
		g.ike_spi = spi;
		g.server_address = server;
		IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
		std::vector<Payload> req{make_payload(PayloadType::GroupId, encode_identification(idg).value())};
		if (g.cfg.sender_ids)
			req.push_back(make_payload(PayloadType::Notify,
						   encode_notify(make_group_sender_notify(g.cfg.sender_ids)).value()));
		send_request(*sa, static_cast<uint8_t>(ExchangeType::GsaRegistration), req, g.cfg.name);
		return;
	}
	auto sa = std::make_unique<IkeSa>();
	sa->initiator = true;
	sa->spi_i = random_spi();
	sa->local = g.cfg.local;
	sa->remote = server;
	sa->dh_group = g.cfg.dh_group;
	sa->own = g.cfg.local_id;
	sa->created_ms = now();
	auto dh = ike::DhKey::generate(sa->dh_group, [&](uint8_t *o, size_t n) { deps.random->fill(o, n); });
	if (!dh) {
		g.next_register_ms = now() + detail::kRetryRegistrationMs;
		return;
	}
	sa->dh = std::move(dh).value();
	sa->ni = random(detail::kNonceBytes);
	g.state = "registering";
	g.ike_spi = sa->spi_i;
	g.server_address = server;
	IkeSa &ref = *sa;
	initiator_sas[sa->spi_i] = std::move(sa);
	gm_send_init(ref, g.cfg.name);
}

void Engine::Impl::gm_failed(GmGroup &g, bool next_server)
{
	g.state = g.teks.empty() ? "idle" : "registered";
	if (next_server) {
		g.server_index = (g.server_index + 1) % g.cfg.servers.size();
		g.next_register_ms = now() + (g.server_index == 0 ? detail::kRetryRegistrationMs : 0);
	} else {
		g.next_register_ms = now() + detail::kRetryRegistrationMs;
	}
}

void Engine::Impl::gm_exchange_failed(IkeSa &sa)
{
	for (auto &[n, g] : members)
		if (g->ike_spi == sa.spi_i && g->state == "registering")
			gm_failed(*g, true);
}

void Engine::Impl::gm_start_over(IkeSa &sa)
{
	const uint64_t spi = sa.spi_i;
	const std::string asked = sa.pending ? sa.pending->group : std::string();
	std::vector<GmGroup *> on_it;
	for (auto &[n, g] : members)
		if (g->ike_spi == spi || n == asked)
			on_it.push_back(g.get());
	initiator_sas.erase(spi);
	// the group SAs stay: traffic goes on under them until the new
	// registration replaces them
	for (GmGroup *g : on_it) {
		g->state = g->teks.empty() ? "idle" : "registered";
		g->ike_spi = 0;
		g->next_register_ms = now();
	}
	for (GmGroup *g : on_it)
		gm_start(*g);
}

void Engine::Impl::gm_invalid_spi(IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c)
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
	count(&Counters::invalid_spi);
	gm_start_over(sa);
}

void Engine::Impl::gm_send_auth(IkeSa &sa, GmGroup &g)
{
	IdentificationPayload idi{g.cfg.local_id.type, g.cfg.local_id.data};
	IdentificationPayload idr{g.cfg.server_id.type, g.cfg.server_id.data};
	IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
	Bytes idi_body = encode_identification(idi).value();
	Bytes octets = ike::signed_octets(sa.init_request, sa.nr, sa.keys.sk_pi, idi_body);
	AuthPayload auth;
	if (g.cfg.auth == AuthKind::Psk) {
		auto key = psk(g.cfg.local_id, g.cfg.server_id);
		if (!key) {
			gm_failed(g, false);
			return;
		}
		auth.method = ike::kAuthSharedKey;
		auth.data = ike::psk_auth(*key, octets);
	} else {
		auto sig = deps.credentials->sign(g.cfg.local_id, octets);
		if (!sig || sig->empty()) {
			gm_failed(g, false);
			return;
		}
		auth.method = ike::kAuthDigitalSignature;
		auth.data = *sig;
	}
	std::vector<Payload> req{make_payload(PayloadType::IdInitiator, idi_body),
				 make_payload(PayloadType::IdResponder, encode_identification(idr).value()),
				 make_payload(PayloadType::Authentication, encode_auth(auth).value()),
				 make_payload(PayloadType::GroupId, encode_identification(idg).value())};
	if (g.cfg.sender_ids)
		req.push_back(make_payload(PayloadType::Notify,
					   encode_notify(make_group_sender_notify(g.cfg.sender_ids)).value()));
	send_request(sa, static_cast<uint8_t>(ExchangeType::GsaAuth), req, g.cfg.name);
}

void Engine::Impl::gm_receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h)
{
	auto it = initiator_sas.find(h.initiator_spi);
	if (it == initiator_sas.end() || !(it->second->remote.ip == remote.ip)) {
		if (Counters *c = attribute(local, false)) {
			c->received++;
			c->dropped_auth++;
		}
		return;
	}
	if (h.flags & kFlagResponse)
		gm_response(*it->second, datagram, h);
	else
		gm_inband(*it->second, datagram, h);
}

void Engine::Impl::gm_response(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	GmGroup *g = gm_by_name(sa.pending ? sa.pending->group : sa.group);
	Counters *c = g ? &g->counters : attribute(sa.local, false);
	if (c)
		c->received++;
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::Informational)) {
		gm_invalid_spi(sa, datagram, h, c);
		return;
	}
	if (!g || !sa.pending || h.message_id != sa.pending->id || h.exchange_type != sa.pending->exchange) {
		if (c)
			c->dropped_replay++;
		return;
	}
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::IkeSaInit)) {
		auto m = decode_message(datagram);
		if (!m || m.value().encrypted) {
			c->dropped_malformed++;
			return;
		}
		const auto &ps = m.value().payloads;
		for (const Payload &p : ps) {
			if (p.type != static_cast<uint8_t>(PayloadType::Notify))
				continue;
			auto n = decode_notify(p.body);
			if (!n) {
				c->dropped_malformed++;
				return;
			}
			if (n.value().type == ike::kNotifyCookie && h.responder_spi == 0) {
				if (n.value().data.empty() || n.value().data.size() > 64) {
					c->dropped_malformed++;
					return;
				}
				sa.cookie = n.value().data;
				gm_send_init(sa, g->cfg.name);
				return;
			}
			if (n.value().type == ike::kNotifyInvalidKePayload && h.responder_spi == 0 &&
			    n.value().data.size() == 2) {
				uint16_t grp = static_cast<uint16_t>(n.value().data[0] << 8 | n.value().data[1]);
				if (grp == sa.dh_group || !ike::dh_group_supported(grp)) {
					c->dropped_malformed++;
					return;
				}
				auto dh = ike::DhKey::generate(
					grp, [&](uint8_t *o, size_t len) { deps.random->fill(o, len); });
				if (!dh)
					return;
				sa.dh_group = grp;
				sa.dh = std::move(dh).value();
				gm_send_init(sa, g->cfg.name);
				return;
			}
			if (is_error_notify(n.value().type) && h.responder_spi == 0) {
				gm_failed(*g, true);
				initiator_sas.erase(sa.spi_i);
				return;
			}
		}
		const Payload *sa_p = find_payload(ps, PayloadType::SecurityAssociation);
		const Payload *ke_p = find_payload(ps, PayloadType::KeyExchange);
		const Payload *nr_p = find_payload(ps, PayloadType::Nonce);
		if (!sa_p || !ke_p || !nr_p || h.responder_spi == 0) {
			c->dropped_malformed++;
			return;
		}
		auto props = ike::decode_sa(sa_p->body);
		auto ke = ike::decode_ke(ke_p->body);
		auto nr = decode_nonce(nr_p->body);
		if (!props || !ke || !nr || props.value().size() != 1 || ke.value().group != sa.dh_group) {
			c->dropped_malformed++;
			return;
		}
		// the chosen proposal must be the one we offered
		uint16_t encr = 0, prf = 0, dh = 0, bits = 0;
		for (const Transform &t : props.value()[0].transforms) {
			if (t.type == 1) {
				encr = t.id;
				bits = ike::key_length(t);
			} else if (t.type == 2) {
				prf = t.id;
			} else if (t.type == 4) {
				dh = t.id;
			}
		}
		GmGroup &gg = *g;
		if (encr != gg.cfg.ike_encryption || bits != 256 || prf != ike::kPrfHmacSha256 || dh != sa.dh_group) {
			c->dropped_malformed++;
			return;
		}
		auto shared = sa.dh->shared_secret(ke.value().data);
		if (!shared) {
			c->dropped_malformed++;
			return;
		}
		sa.spi_r = h.responder_spi;
		sa.nr = nr.value().nonce;
		sa.cipher = encr == ike::kEncrAesGcm16 ? SkCipher::AesGcm16 : SkCipher::AesCbcHmacSha256;
		sa.keys = ike::derive_ike_keys(sa.cipher, 32, sa.ni, sa.nr, shared.value(), sa.spi_i, sa.spi_r);
		log_ike_sa(sa);
		sa.gsk_w = ike::default_kwk(sa.keys.sk_d, 32);
		sa.keyed = true;
		sa.init_response = datagram.to_bytes();
		sa.dh.reset();
		sa.pending.reset();
		gm_send_auth(sa, gg);
		return;
	}
	auto opened = open_message(datagram, sa.keys.responder);
	if (!opened) {
		(opened.error().code == WireError::IntegrityFailed ? c->dropped_auth : c->dropped_malformed)++;
		return;
	}
	const std::vector<Payload> &inner = opened.value().inner;
	sa.pending.reset();
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (n && is_error_notify(n.value().type)) {
			gm_failed(*g, n.value().type == static_cast<uint16_t>(NotifyType::InvalidGroupId));
			// the key server keeps no IKE SA it registered nobody on
			if (!sa.authenticated)
				initiator_sas.erase(sa.spi_i);
			return;
		}
	}
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaAuth)) {
		const Payload *idr_p = find_payload(inner, PayloadType::IdResponder);
		const Payload *auth_p = find_payload(inner, PayloadType::Authentication);
		auto idr = idr_p ? decode_identification(idr_p->body)
				 : Result<IdentificationPayload>(fail(WireError::Missing, "no IDr"));
		auto auth = auth_p ? decode_auth(auth_p->body) : Result<AuthPayload>(fail(WireError::Missing, "no AUTH"));
		if (!idr || !auth) {
			c->dropped_malformed++;
			gm_failed(*g, false);
			return;
		}
		Identity peer{idr.value().id_type, idr.value().data};
		Bytes octets = ike::signed_octets(sa.init_response, sa.ni, sa.keys.sk_pr, idr_p->body);
		bool ok = peer == g->cfg.server_id;
		if (ok && g->cfg.auth == AuthKind::Psk) {
			auto key = psk(g->cfg.local_id, g->cfg.server_id);
			ok = auth.value().method == ike::kAuthSharedKey && key &&
			     ike::equal(ike::psk_auth(*key, octets), auth.value().data);
		} else if (ok) {
			ok = auth.value().method == ike::kAuthDigitalSignature &&
			     deps.credentials->verify(peer, octets, auth.value().data);
		}
		if (!ok) {
			c->dropped_auth++;
			gm_failed(*g, false);
			initiator_sas.erase(sa.spi_i);
			return;
		}
		sa.authenticated = true;
	}
	gm_registered(*g, sa, inner);
}

void Engine::Impl::gm_registered(GmGroup &g, IkeSa &sa, const std::vector<Payload> &inner)
{
	bool excluded = false;
	auto r = gm_apply(g, inner, sa.gsk_w, true, &excluded);
	if (!r) {
		(r.error().code == WireError::IntegrityFailed ? g.counters.dropped_auth
							       : g.counters.dropped_malformed)++;
		log_error("group " + g.cfg.name + ": registration with " + sa.remote.str() +
			  " refused: " + r.error().message);
		gm_failed(g, false);
		return;
	}
	g.state = "registered";
	g.server_address = sa.remote;
	g.ike_spi = sa.spi_i;
	g.counters.registrations++;
	gm_schedule(g);
}

// --- GSA and KD ---

Result<Done> Engine::Impl::gm_apply(GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
				    bool registration, bool *excluded, uint32_t rekey_id)
{
	const uint64_t t = now();
	std::optional<GsaPayload> gsa;
	std::optional<KeyDownloadPayload> kd;
	std::vector<uint32_t> deletes;
	for (const Payload &p : inner) {
		if (p.type == static_cast<uint8_t>(PayloadType::GroupSa)) {
			auto x = decode_gsa(p.body);
			if (!x)
				return x.error();
			if (gsa)
				return fail(WireError::Duplicate, "two GSA payloads");
			gsa = std::move(x).value();
		} else if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload)) {
			auto x = decode_key_download(p.body);
			if (!x)
				return x.error();
			if (kd)
				return fail(WireError::Duplicate, "two KD payloads");
			kd = std::move(x).value();
		} else if (p.type == static_cast<uint8_t>(PayloadType::Delete)) {
			auto x = decode_delete(p.body);
			if (!x)
				return x.error();
			if (x.value().protocol == static_cast<uint8_t>(SecurityProtocol::Esp))
				for (const Bytes &s : x.value().spis)
					deletes.push_back(uint32_t(s[0]) << 24 | uint32_t(s[1]) << 16 |
							  uint32_t(s[2]) << 8 | s[3]);
		}
	}
	if (!gsa || !kd)
		return fail(WireError::Missing, "GSA and KD are needed");
	flatkey::KeyStore store = registration ? flatkey::KeyStore() : g.keys;
	// the key tree as it will be after this message
	std::optional<keytree::KeyTreeMember> tree;
	if (!registration && g.tree)
		tree.emplace(g.tree->keys());
	auto kwk_for = [&](uint32_t kwk_id) -> std::vector<SecretBytes> {
		std::vector<SecretBytes> out;
		if (kwk_id == 0) {
			out.emplace_back(default_kwk);
			return out;
		}
		if (auto n = detail::tree_node_from_id(kwk_id)) {
			if (tree) {
				const keytree::MemberKeys &k = tree->keys();
				if (n->level <= k.depth && n->pos == k.leaf >> n->level)
					out.emplace_back(k.path[n->level].begin(), k.path[n->level].end());
			}
			return out;
		}
		auto id = detail::flat_key_from_id(kwk_id);
		if (!id)
			return out;
		if (auto s = store.current(*id))
			out.emplace_back(s->key.begin(), s->key.end());
		return out;
	};
	std::vector<uint32_t> sender_ids;
	if (kd->member_key_bag) {
		for (const Bytes &sid : kd->member_key_bag->sender_ids) {
			if (sid.size() != detail::kSenderIdBits / 8)
				return fail(WireError::BadLength, "GM_SENDER_ID of the wrong size");
			sender_ids.push_back(uint32_t(sid[0]) << 8 | sid[1]);
		}
		// key tree path keys at registration, by level
		std::map<uint8_t, std::pair<uint32_t, keytree::Key>> tree_keys;
		std::optional<std::pair<uint64_t, uint8_t>> tree_state;
		for (const WrappedKey &w : kd->member_key_bag->wrap_keys) {
			if (auto n = detail::tree_node_from_id(w.key_id)) {
				if (!registration)
					return fail(WireError::BadValue, "key tree WRAP_KEY outside a registration");
				std::optional<SecretBytes> plain;
				for (const Bytes &kwk : kwk_for(w.kwk_id)) {
					auto u = ike::key_unwrap(kwk, w.encrypted_key);
					if (u) {
						plain = std::move(u).value();
						break;
					}
				}
				if (!plain)
					return fail(WireError::IntegrityFailed, "WRAP_KEY does not unwrap");
				if (plain->size() != flatkey::kKeyBytes)
					return fail(WireError::BadLength, "key tree key of the wrong size");
				if (!tree_keys.emplace(n->level, std::make_pair(n->pos, keytree::Key{})).second)
					return fail(WireError::Duplicate, "two key tree keys of one level");
				std::copy(plain->begin(), plain->end(), tree_keys[n->level].second.begin());
				continue;
			}
			auto id = detail::flat_key_from_id(w.key_id);
			if (!id)
				return fail(WireError::BadValue, "WRAP_KEY with an unknown Key ID");
			std::optional<flatkey::KeySlot> slot;
			for (const SecretBytes &kwk : kwk_for(w.kwk_id)) {
				auto plain = ike::key_unwrap(kwk, w.encrypted_key);
				if (plain && (slot = detail::flat_wrap_slot(plain.value())))
					break;
			}
			if (!slot)
				return fail(WireError::IntegrityFailed, "WRAP_KEY does not unwrap");
			store.add(*id, *slot);
		}
		for (const Attribute &a : kd->member_key_bag->other_attributes) {
			if (!a.tv && a.type == detail::kKeyTreeStateAttribute) {
				if (!registration || a.value.size() != detail::kKeyTreeStateBytes || tree_state)
					return fail(WireError::BadValue, "key tree state attribute");
				wire::Reader r(a.value);
				uint64_t epoch = 0;
				uint8_t depth = 0;
				r.u64(epoch);
				r.u8(depth);
				tree_state = std::make_pair(epoch, depth);
				continue;
			}
			if (!a.tv && a.type == detail::kKeyTreeMessageAttribute) {
				keytree::DecodeResult m = keytree::decode(a.value.data(), a.value.size());
				if (!m.ok())
					return fail(WireError::BadValue,
						    std::string("key tree message: ") + keytree::to_string(m.error));
				if (!tree)
					return fail(WireError::Missing, "key tree message without a key tree");
				keytree::KeyTreeMember::ApplyError e = tree->apply(m.message);
				if (e == keytree::KeyTreeMember::ApplyError::kStale)
					continue;
				if (e != keytree::KeyTreeMember::ApplyError::kNone) {
					// removed from the group, or no longer able to
					// follow it (a message was missed): register anew
					if (excluded)
						*excluded = true;
					return fail(e == keytree::KeyTreeMember::ApplyError::kExcluded ?
							    WireError::IntegrityFailed :
							    WireError::BadValue,
						    "key tree message cannot be applied");
				}
				continue;
			}
			if (a.tv || a.type != detail::kFlatKeyMessageAttribute)
				continue;
			flatkey::DecodeResult m = flatkey::decode(a.value.data(), a.value.size());
			if (!m.ok())
				return fail(WireError::BadValue,
					    std::string("flat key table message: ") + flatkey::to_string(m.error));
			// a message that does not start from our TEK (an
			// announcement older than our registration) changes
			// nothing; one we cannot read leaves us without the
			// new TEK, which the Rekey SA's keys need
			store.receive(m.message, wrapper);
		}
		if (!tree_keys.empty() || tree_state) {
			auto wipe = [&]() {
				for (auto &[l, k] : tree_keys)
					OPENSSL_cleanse(k.second.data(), k.second.size());
			};
			if (!tree_state || tree_state->second > keytree::kMaxDepth ||
			    tree_keys.size() != size_t(tree_state->second) + 1) {
				wipe();
				return fail(WireError::Missing, "incomplete key tree path");
			}
			keytree::MemberKeys mk;
			mk.epoch = tree_state->first;
			mk.depth = tree_state->second;
			mk.leaf = tree_keys.begin()->second.first;
			for (uint8_t l = 0; l <= mk.depth; l++) {
				auto it = tree_keys.find(l);
				if (it == tree_keys.end() || it->second.first != mk.leaf >> l ||
				    (uint64_t(mk.leaf) >> mk.depth) != 0) {
					wipe();
					return fail(WireError::BadValue, "key tree keys do not form a path");
				}
				mk.path.push_back(it->second.second);
			}
			wipe();
			tree.emplace(std::move(mk));
		}
	}
	auto find_bag = [&](uint8_t proto, const Bytes &spi) -> const GroupKeyBag * {
		for (const GroupKeyBag &b : kd->group_key_bags)
			if (b.protocol == proto && b.spi == spi)
				return &b;
		return nullptr;
	};
	std::optional<RekeySa> new_kek;
	std::optional<uint32_t> initial_id;
	bool signature = g.gcauth_signature;
	Bytes sig_alg = g.sig_alg;
	if (gsa->kek) {
		const GsaPolicy &p = *gsa->kek;
		const Transform *encr = find_transform(p, TransformType::Encryption);
		const Transform *kwa = find_transform(p, TransformType::KeyWrapAlgorithm);
		const Transform *gca = find_transform(p, TransformType::GroupControllerAuth);
		if (!encr || encr->id != static_cast<uint16_t>(EncryptionId::AesGcm16) ||
		    transform_key_bits(*encr) != 256 || !kwa ||
		    kwa->id != static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256) ||
		    find_transform(p, TransformType::Integrity))
			return fail(WireError::Unsupported, "Rekey SA must be AES-GCM-16-256 with KW_5649_256");
		if (registration) {
			if (!gca)
				return fail(WireError::Missing, "no GCAUTH transform at registration");
			if (gca->id == static_cast<uint16_t>(GroupControllerAuthMethod::DigitalSignature)) {
				signature = true;
				sig_alg.clear();
				for (const Attribute &a : gca->attributes)
					if (!a.tv && a.type == static_cast<uint16_t>(
								       TransformAttributeType::SignatureAlgorithmId))
						sig_alg = a.value;
				if (sig_alg.empty() || sig_alg.size() > 255)
					return fail(WireError::Missing, "GCAUTH without a signature algorithm");
			} else if (gca->id == static_cast<uint16_t>(GroupControllerAuthMethod::Implicit)) {
				// every member holds the Rekey SA keys: unsigned
				// rekeys are only taken when configured so
				if (g.cfg.rekey_auth != RekeyAuth::Implicit)
					return fail(WireError::Unsupported,
						    "the key server does not sign its GSA_REKEY messages (GCAUTH "
						    "implicit), so any member could forge them; refused by "
						    "rekey_auth = signature");
				signature = false;
				sig_alg.clear();
			} else {
				return fail(WireError::Unsupported, "GCAUTH method " + std::to_string(gca->id));
			}
		} else if (gca) {
			return fail(WireError::BadValue, "GCAUTH in a rekey");
		}
		const GroupKeyBag *bag = find_bag(p.protocol, p.spi);
		if (!bag)
			return fail(WireError::Missing, "no keys for the Rekey SA");
		std::optional<SecretBytes> keymat;
		for (const WrappedKey &w : bag->sa_keys) {
			for (const SecretBytes &kwk : kwk_for(w.kwk_id)) {
				auto plain = ike::key_unwrap(kwk, w.encrypted_key);
				if (plain && plain.value().size() == detail::kKekKeymatBytes) {
					keymat = std::move(plain).value();
					break;
				}
			}
			if (keymat)
				break;
		}
		if (!keymat) {
			if (excluded)
				*excluded = true;
			return fail(WireError::IntegrityFailed, "cannot unwrap the Rekey SA keys");
		}
		new_kek = detail::make_rekey_sa(p.spi, *keymat, p.key_lifetime.value_or(86400), t);
		log_rekey_sa(*new_kek);
		initial_id = p.initial_message_id.value_or(0);
	}
	std::vector<GmTek> fresh;
	for (const GsaPolicy &p : gsa->teks) {
		if (p.protocol != static_cast<uint8_t>(SecurityProtocol::Esp))
			return fail(WireError::Unsupported, "only ESP data-security SAs");
		const Transform *encr = find_transform(p, TransformType::Encryption);
		const Transform *integ = find_transform(p, TransformType::Integrity);
		if (!encr)
			return fail(WireError::Missing, "TEK without encryption");
		uint16_t bits = transform_key_bits(*encr);
		bool gcm = encr->id == static_cast<uint16_t>(EncryptionId::AesGcm16);
		bool cbc = encr->id == static_cast<uint16_t>(EncryptionId::AesCbc);
		if ((!gcm && !cbc) || (bits != 128 && bits != 192 && bits != 256) || (gcm && integ) ||
		    (cbc && (!integ || integ->id != static_cast<uint16_t>(IntegrityId::HmacSha256_128))))
			return fail(WireError::Unsupported, "TEK transforms");
		const GroupKeyBag *bag = find_bag(p.protocol, p.spi);
		if (!bag || bag->sa_keys.size() != 1)
			return fail(WireError::Missing, "no keys for a TEK");
		std::optional<SecretBytes> keymat;
		for (const SecretBytes &kwk : kwk_for(bag->sa_keys[0].kwk_id)) {
			auto plain = ike::key_unwrap(kwk, bag->sa_keys[0].encrypted_key);
			if (plain) {
				keymat = std::move(plain).value();
				break;
			}
		}
		if (!keymat)
			return fail(WireError::IntegrityFailed, "TEK keys do not unwrap");
		size_t ek = bits / 8u + (gcm ? 4u : 0u), ik = cbc ? 32u : 0u;
		if (keymat->size() != ek + ik)
			return fail(WireError::BadLength, "TEK keying material of the wrong size");
		GmTek tek;
		tek.sa.group = g.cfg.name;
		tek.sa.spi = uint32_t(p.spi[0]) << 24 | uint32_t(p.spi[1]) << 16 | uint32_t(p.spi[2]) << 8 | p.spi[3];
		tek.sa.encryption = encr->id;
		tek.sa.encryption_key.assign(keymat->begin(), keymat->begin() + static_cast<long>(ek));
		tek.sa.integrity = integ ? integ->id : 0;
		tek.sa.integrity_key.assign(keymat->begin() + static_cast<long>(ek), keymat->end());
		tek.sa.source = p.source;
		tek.sa.destination = p.destination;
		tek.sa.lifetime_s = p.key_lifetime.value_or(3600);
		tek.sa.outbound = true;
		tek.key_bits = bits;
		tek.expires_ms = t + uint64_t(tek.sa.lifetime_s) * 1000;
		fresh.push_back(std::move(tek));
	}
	if (registration && !new_kek && fresh.empty())
		return fail(WireError::Missing, "registration without SAs");

	// commit
	g.keys = std::move(store);
	const bool tree_changed = tree && (registration || !g.tree || g.tree->epoch() != tree->epoch());
	g.tree.reset();
	if (tree)
		g.tree.emplace(tree->keys());
	if (deps.keylog) {
		if (new_kek)
			deps.keylog->member_key(g.cfg.name, "kek", detail::hex_text(new_kek->spi), new_kek->keymat,
						rekey_id);
		if (tree_changed) {
			const keytree::MemberKeys &k = g.tree->keys();
			for (size_t l = 0; l < k.path.size(); l++)
				deps.keylog->member_key(g.cfg.name, "tree",
							std::to_string(l) + "/" + std::to_string(k.leaf >> l),
							ByteView(k.path[l].data(), k.path[l].size()), k.epoch);
		}
	}
	if (gsa->group_wide) {
		g.atd = gsa->group_wide->activation_time_delay.value_or(0);
		g.dtd = gsa->group_wide->deactivation_time_delay.value_or(0);
	}
	const uint64_t dtd_ms = uint64_t(g.dtd) * 1000;
	if (registration) {
		g.gcauth_signature = signature;
		g.sig_alg = sig_alg;
		g.sender_ids = std::move(sender_ids);
	}
	if (new_kek) {
		if (registration || !g.kek) {
			g.old_kek.reset();
		} else {
			g.old_kek = g.kek;
			g.old_kek_remove_ms = t + dtd_ms;
		}
		// RFC 9838 2.4.1.4: a new Rekey SA's first expected message ID is
		// its GSA_INITIAL_MESSAGE_ID, "if the GSA_INITIAL_MESSAGE_ID
		// attribute is not received for the Rekey SA, the GM MUST assume
		// zero"; a Rekey SA we hold already (a registration naming it
		// again) keeps what it has accepted: 2.3.3, the attribute "MUST be
		// checked by a GM against any previously received Message ID",
		// a lower one "should be considered stale and MUST be ignored"
		new_kek->next_message_id = *initial_id;
		for (const std::optional<RekeySa> *held : {&g.kek, &g.old_kek})
			if (*held && (*held)->spi == new_kek->spi)
				new_kek->next_message_id =
					std::max(new_kek->next_message_id, (*held)->next_message_id);
		g.kek = new_kek;
	} else if (registration) {
		g.kek.reset();
		g.old_kek.reset();
	}
	if (registration) {
		for (auto it = g.teks.begin(); it != g.teks.end();) {
			bool kept = std::any_of(fresh.begin(), fresh.end(),
						[&](const GmTek &f) { return f.sa.spi == it->sa.spi; });
			if (!kept) {
				deps.sas->remove(g.cfg.name, it->sa.spi);
				it = g.teks.erase(it);
			} else {
				++it;
			}
		}
	}
	// a rekey's new SAs receive at once and send after the activation
	// delay, so that every member can receive them by then
	const bool delayed = !registration && g.atd > 0 && !g.teks.empty();
	for (GmTek &f : fresh) {
		auto have = std::find_if(g.teks.begin(), g.teks.end(), [&](const GmTek &o) { return o.sa.spi == f.sa.spi; });
		if (have != g.teks.end()) {
			have->expires_ms = f.expires_ms;
			continue;
		}
		if (delayed) {
			f.sa.outbound = false;
			f.activate_ms = t + uint64_t(g.atd) * 1000;
		}
		if (!deps.sas->install(f.sa))
			continue;
		if (deps.keylog) {
			SecretBytes keymat;
			keymat.reserve(f.sa.encryption_key.size() + f.sa.integrity_key.size()); // no copy left behind
			keymat.insert(keymat.end(), f.sa.encryption_key.begin(), f.sa.encryption_key.end());
			keymat.insert(keymat.end(), f.sa.integrity_key.begin(), f.sa.integrity_key.end());
			Bytes spi;
			wire::put_u32(spi, f.sa.spi);
			deps.keylog->member_key(g.cfg.name, "tek", detail::hex_text(spi), keymat, rekey_id);
		}
		g.teks.push_back(std::move(f));
	}
	for (uint32_t spi : deletes) {
		for (GmTek &o : g.teks) {
			if (o.sa.spi != spi || !o.current)
				continue;
			o.current = false;
			o.remove_ms = t + dtd_ms;
		}
	}
	return Done{};
}

void Engine::Impl::gm_schedule(GmGroup &g)
{
	const uint64_t t = now();
	uint64_t expiry = UINT64_MAX;
	for (const GmTek &k : g.teks)
		if (k.current)
			expiry = std::min(expiry, k.expires_ms);
	if (g.kek)
		expiry = std::min(expiry, g.kek->expires_ms);
	if (expiry == UINT64_MAX) {
		g.next_register_ms = t + detail::kRetryRegistrationMs;
		return;
	}
	uint64_t margin = uint64_t(g.cfg.reregister_margin_s) * 1000;
	uint64_t at = expiry > margin ? expiry - margin : 0;
	if (at <= t)
		at = t + (expiry > t ? (expiry - t) / 2 : 0) + 1;
	g.next_register_ms = at;
}

void Engine::Impl::gm_exclude(GmGroup &g)
{
	// the key server closed our IKE SA with the eviction
	bool shared = false;
	for (auto &[n, m] : members)
		shared = shared || (m.get() != &g && m->ike_spi == g.ike_spi);
	if (!shared)
		initiator_sas.erase(g.ike_spi);
	g.ike_spi = 0;
	for (const GmTek &k : g.teks)
		deps.sas->remove(g.cfg.name, k.sa.spi);
	g.teks.clear();
	g.kek.reset();
	g.old_kek.reset();
	g.keys = flatkey::KeyStore();
	g.tree.reset();
	g.state = "idle";
	g.next_register_ms = now() + detail::kRetryRegistrationMs;
}

// --- GSA_REKEY and GSA_INBAND_REKEY ---

void Engine::Impl::gm_rekey(const Address &local, ByteView datagram, const IkeHeader &h)
{
	Bytes spi;
	wire::put_u64(spi, h.initiator_spi);
	wire::put_u64(spi, h.responder_spi);
	GmGroup *g = nullptr;
	const RekeySa *kek = nullptr;
	for (auto &[n, m] : members) {
		if (m->kek && m->kek->spi == spi) {
			g = m.get();
			kek = &*m->kek;
		} else if (m->old_kek && m->old_kek->spi == spi) {
			g = m.get();
			kek = &*m->old_kek;
		}
		if (g)
			break;
	}
	if (!g) {
		// no Rekey SA of ours: nothing can check it
		if (Counters *c = attribute(local, false)) {
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
	const bool has_auth = !inner.empty() && inner.back().type == static_cast<uint8_t>(PayloadType::Authentication);
	if (g->gcauth_signature) {
		if (!has_auth) {
			c.dropped_auth++;
			return;
		}
		auto a = decode_auth(inner.back().body);
		if (!a) {
			c.dropped_malformed++;
			return;
		}
		const Bytes &d = a.value().data;
		const Bytes &alg = g->sig_alg;
		if (a.value().method != ike::kAuthDigitalSignature || d.size() <= alg.size() + 1 ||
		    d[0] != alg.size() || !std::equal(alg.begin(), alg.end(), d.begin() + 1)) {
			c.dropped_auth++;
			return;
		}
		// A | P as the GCKS signed it (RFC 9838 2.4.1.1): the message as
		// received, the AUTH payload's signature octets zeroed
		auto octets = detail::rekey_signed_octets(h, opened.value().message.encrypted->critical, inner);
		if (!octets) {
			c.dropped_malformed++;
			return;
		}
		if (!deps.credentials->verify(g->cfg.server_id, octets.value(), d)) {
			c.dropped_auth++;
			return;
		}
		inner.pop_back();
	} else if (has_auth) {
		c.dropped_auth++;
		return;
	}
	bool excluded = false;
	SecretBytes kwk = kek->gsk_w;
	const Bytes via = kek->spi; // gm_apply() may replace *kek
	auto r = gm_apply(*g, inner, kwk, false, &excluded, h.message_id);
	if (!r) {
		if (excluded) {
			gm_exclude(*g);
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
	if (deps.events)
		deps.events->rekey(g->cfg.name, false, h.message_id, false);
	gm_schedule(*g);
}

void Engine::Impl::gm_inband(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	Counters *c = counters_for(sa.group);
	if (!c)
		c = attribute(sa.local, false);
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
	auto opened = open_request(sa, datagram, h, sa.keys.responder, 0, c);
	if (!opened)
		return;
	if (h.exchange_type != static_cast<uint8_t>(ExchangeType::GsaInbandRekey)) {
		count(&Counters::dropped_malformed);
		return;
	}
	const auto &inner = *opened;
	GmGroup *g = nullptr;
	if (const Payload *idg_p = find_payload(inner, PayloadType::GroupId)) {
		auto idg = decode_identification(idg_p->body);
		if (idg)
			for (auto &[n, m] : members)
				if (m->ike_spi == sa.spi_i && m->cfg.group_id == Identity{idg.value().id_type, idg.value().data})
					g = m.get();
	} else {
		for (auto &[n, m] : members)
			if (m->ike_spi == sa.spi_i)
				g = g ? nullptr : m.get();
	}
	if (!g) {
		count(&Counters::dropped_malformed);
		send_response(sa, h.message_id, h.exchange_type, {});
		return;
	}
	sa.group = g->cfg.name;
	if (c != &g->counters) {
		if (c)
			c->received--;
		g->counters.received++;
	}
	bool excluded = false;
	auto r = gm_apply(*g, inner, sa.gsk_w, false, &excluded);
	send_response(sa, h.message_id, h.exchange_type, {});
	if (!r) {
		if (excluded)
			gm_exclude(*g);
		else
			(r.error().code == WireError::IntegrityFailed ? g->counters.dropped_auth
								       : g->counters.dropped_malformed)++;
		return;
	}
	g->counters.rekeys++;
	if (deps.events)
		deps.events->rekey(g->cfg.name, false, g->last_message_id, false);
	gm_schedule(*g);
}

// --- timers and state ---

void Engine::Impl::gm_tick(GmGroup &g, uint64_t t)
{
	for (GmTek &k : g.teks) {
		if (k.activate_ms && t >= k.activate_ms) {
			k.activate_ms = 0;
			k.sa.outbound = true;
			deps.sas->activate(g.cfg.name, k.sa.spi);
		}
	}
	for (auto it = g.teks.begin(); it != g.teks.end();) {
		bool gone = (!it->current && t >= it->remove_ms) || t >= it->expires_ms;
		if (gone) {
			deps.sas->remove(g.cfg.name, it->sa.spi);
			it = g.teks.erase(it);
		} else {
			++it;
		}
	}
	if (g.old_kek && t >= g.old_kek_remove_ms)
		g.old_kek.reset();
	if (g.kek && t >= g.kek->expires_ms)
		g.kek.reset();
	if (g.state != "registering" && t >= g.next_register_ms)
		gm_start(g);
}

uint64_t Engine::Impl::gm_next(const GmGroup &g) const
{
	uint64_t n = g.state == "registering" ? UINT64_MAX : g.next_register_ms;
	for (const GmTek &k : g.teks) {
		n = std::min(n, k.current ? k.expires_ms : std::min(k.remove_ms, k.expires_ms));
		if (k.activate_ms)
			n = std::min(n, k.activate_ms);
	}
	if (g.old_kek)
		n = std::min(n, g.old_kek_remove_ms);
	return n;
}

GroupState Engine::Impl::gm_state(const GmGroup &g) const
{
	GroupState s;
	s.name = g.cfg.name;
	s.group_id = g.cfg.group_id;
	s.server = false;
	s.state = g.state;
	s.server_address = g.server_address;
	s.kek_message_id = g.last_message_id;
	s.rekey_auth = g.cfg.rekey_auth;
	s.sender_ids = g.sender_ids;
	for (const GmTek &k : g.teks)
		s.sas.push_back(SaState{k.sa.spi, k.sa.encryption, k.key_bits, k.sa.lifetime_s, k.expires_ms, k.current});
	s.counters = g.counters;
	return s;
}

} // namespace groupsec::gdoi
