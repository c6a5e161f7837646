// The key server (GCKS): IKE_SA_INIT responder with cookies, GSA_AUTH and
// GSA_REGISTRATION (authentication, authorization, GSA and KD), the flat
// key table behind the member key bags, GSA_REKEY (signed, unicast or
// multicast) and GSA_INBAND_REKEY, eviction with forward access control.
#include <algorithm>

#include <openssl/crypto.h>

#include "engine_impl.h"
#include "gikev2_wire.h"
#include "ike_sa_payload.h"

namespace groupsec::gdoi {

using detail::find_payload;
using detail::make_payload;
using detail::GcksGroup;
using detail::GcksMember;
using detail::GcksTek;
using detail::IkeSa;
using detail::RekeySa;

namespace {

Payload notify_payload(NotifyType t)
{
	NotifyPayload n;
	n.type = static_cast<uint16_t>(t);
	return make_payload(PayloadType::Notify, encode_notify(n).value());
}

TrafficSelector any_selector(size_t family)
{
	TrafficSelector ts;
	ts.ts_type = static_cast<uint8_t>(family == 16 ? TsType::Ipv6AddrRange : TsType::Ipv4AddrRange);
	ts.start_address.assign(family, 0x00);
	ts.end_address.assign(family, 0xff);
	return ts;
}

Attribute key_length_attribute(uint16_t bits)
{
	return make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength), bits);
}

size_t tek_keymat_bytes(const TekPolicyConfig &p)
{
	return p.key_bits / 8u + (p.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16) ? 4u : 32u);
}

// When the key server replaces a key: a tenth of the lifetime before it
// ends, but at least two minutes (half the lifetime at most) before, so
// rekeys reach members ahead of their re-registration margin.
uint64_t soft_expiry(uint64_t created_ms, uint32_t lifetime_s)
{
	uint64_t life = uint64_t(lifetime_s) * 1000;
	uint64_t lead = std::max<uint64_t>(life / 10, std::min<uint64_t>(life / 2, 120000));
	return created_ms + life - lead;
}

uint32_t flat_number(const flatkey::MemberId &id)
{
	uint32_t n = 0;
	for (size_t i = 0; i < id.size() && i < 32; i++)
		n |= uint32_t(id[i] & 1) << i;
	return n;
}

// Signatures made for one GSA_REKEY at most (see gcks_rekey_message()).
constexpr unsigned kSignAttempts = 64;

bool same_host(const Address &a, const Address &b)
{
	return a.ip == b.ip && a.port == b.port;
}

} // namespace

detail::GcksGroup::GcksGroup(const GcksGroupConfig &c, Random *r, const gdoi::Clock *clock)
	: cfg(c), rnd(r), clk(clock), tree(rnd),
	  flat(std::make_unique<flatkey::FlatKeyServer>(flatkey::ServerConfig(flatkey::IdLayout::binary(c.id_bits)),
							rnd, clk)),
	  ids(flat->layout())
{
}

// --- keys and policy ---

void Engine::Impl::new_kek(GcksGroup &g)
{
	g.kek = detail::make_rekey_sa(random(kGikeUpdateSpiSize), random(detail::kKekKeymatBytes),
				      g.cfg.kek_lifetime_s, now());
	log_rekey_sa(g.kek);
}

GcksTek Engine::Impl::make_tek(GcksGroup &g, size_t policy)
{
	GcksTek t;
	for (;;) {
		Bytes b = random(4);
		t.spi = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
		bool taken = t.spi < 256;
		for (const GcksTek &o : g.teks)
			taken = taken || o.spi == t.spi;
		if (!taken)
			break;
	}
	t.policy = policy;
	t.keymat = random(tek_keymat_bytes(g.cfg.teks[policy]));
	t.created_ms = now();
	t.expires_ms = t.created_ms + uint64_t(g.cfg.tek_lifetime_s) * 1000;
	return t;
}

void Engine::Impl::init_keys(GcksGroup &g)
{
	new_kek(g);
	g.teks.clear();
	for (size_t i = 0; i < g.cfg.teks.size(); i++)
		g.teks.push_back(make_tek(g, i));
}

Result<Bytes> Engine::Impl::gcks_signature_algorithm(const GcksGroupConfig &c)
{
	static const uint8_t probe[] = "G-IKEv2 GCKS signature algorithm";
	auto sig = deps.credentials->sign(c.local_id, ByteView(probe, sizeof(probe) - 1));
	if (sig && !sig->empty() && (*sig)[0] > 0 && size_t((*sig)[0]) + 1 < sig->size())
		return Bytes(sig->begin() + 1, sig->begin() + 1 + (*sig)[0]);
	return make_error(WireError::Missing, "group " + c.name + ": no private key of " + c.local_id.str() +
						      " to sign its GSA_REKEY messages with (rekey_auth = signature): "
						      "load one, or set rekey_auth = implicit on the key server and "
						      "every member");
}

// The group's signature algorithm, nullopt for implicit authentication.
std::optional<Bytes> Engine::Impl::gcks_sig_alg(GcksGroup &g)
{
	if (g.cfg.rekey_auth != RekeyAuth::Signature)
		return std::nullopt;
	return g.sig_alg;
}

Result<Done> Engine::Impl::gcks_store_evicted(const GcksGroup &g, const std::set<Identity> &evicted)
{
	if (!deps.evictions)
		return Done{};
	auto r = deps.evictions->store(g.cfg.name, std::vector<Identity>(evicted.begin(), evicted.end()));
	if (!r)
		return make_error(r.error().code, "group " + g.cfg.name +
							  ": the evicted members cannot be stored, nothing changed: " +
							  r.error().message);
	return Done{};
}

GsaPolicy Engine::Impl::kek_policy(GcksGroup &g, bool registration)
{
	GsaPolicy p;
	p.protocol = static_cast<uint8_t>(SecurityProtocol::GikeUpdate);
	p.spi = g.kek.spi;
	p.source = any_selector(g.cfg.listen[0].ip.size());
	p.destination = p.source;
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
					 static_cast<uint16_t>(EncryptionId::AesGcm16),
					 {key_length_attribute(256)}});
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::KeyWrapAlgorithm),
					 static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256),
					 {}});
	if (registration) {
		// implicit only when configured so; a signature group always
		// has its algorithm (a member refuses a signature without one)
		auto alg = gcks_sig_alg(g);
		Transform t{static_cast<uint8_t>(TransformType::GroupControllerAuth), 0, {}};
		if (g.cfg.rekey_auth == RekeyAuth::Signature) {
			t.id = static_cast<uint16_t>(GroupControllerAuthMethod::DigitalSignature);
			if (alg)
				t.attributes.push_back(make_tlv_attribute(
					static_cast<uint16_t>(TransformAttributeType::SignatureAlgorithmId), *alg));
		} else {
			t.id = static_cast<uint16_t>(GroupControllerAuthMethod::Implicit);
		}
		p.transforms.push_back(std::move(t));
	}
	uint64_t left = g.kek.expires_ms > now() ? (g.kek.expires_ms - now()) / 1000 : 0;
	p.key_lifetime = static_cast<uint32_t>(std::max<uint64_t>(left, 1));
	// RFC 9838 2.3.4: "the initial Message ID value the GCKS will use when
	// sending the GSA_REKEY messages to the group members is non-zero,
	// then this value is specified in the GSA_INITIAL_MESSAGE_ID
	// attribute": the next ID on this Rekey SA, left out while it is 0
	// (2.4.1.4: without it a member "MUST assume zero")
	if (g.kek.next_message_id)
		p.initial_message_id = static_cast<uint32_t>(std::min<uint64_t>(g.kek.next_message_id, UINT32_MAX));
	return p;
}

GsaPayload Engine::Impl::tek_gsa(GcksGroup &g)
{
	GsaPayload gsa;
	for (const GcksTek &t : g.teks) {
		if (!t.current)
			continue;
		const TekPolicyConfig &c = g.cfg.teks[t.policy];
		GsaPolicy p;
		p.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
		wire::put_u32(p.spi, t.spi);
		p.source = c.source;
		p.destination = c.destination;
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption), c.encryption,
						 {key_length_attribute(c.key_bits)}});
		if (c.integrity)
			p.transforms.push_back(
				Transform{static_cast<uint8_t>(TransformType::Integrity), c.integrity, {}});
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::SequenceNumbers),
						 static_cast<uint16_t>(SequenceNumbersId::Sequential32),
						 {}});
		uint64_t left = t.expires_ms > now() ? (t.expires_ms - now()) / 1000 : 0;
		p.key_lifetime = static_cast<uint32_t>(std::max<uint64_t>(left, 1));
		gsa.teks.push_back(std::move(p));
	}
	GroupWidePolicy gw;
	gw.sender_id_bits = detail::kSenderIdBits;
	gw.activation_time_delay = g.cfg.activation_delay_s;
	gw.deactivation_time_delay = g.cfg.deactivation_delay_s;
	gsa.group_wide = gw;
	return gsa;
}

// GSA and KD for a member over an IKE SA: every key wrapped under the IKE
// SA's GSK_w.
// The pending join announcements (folded: the newest revision of each key,
// see flatkey::fold_notices()), then m: each an encoded flat key table
// message in its own attribute, applied by members in order (a key a
// member holds at a newer revision, or does not hold, changes nothing for
// it).
Result<std::vector<Attribute>> Engine::Impl::flat_attributes(GcksGroup &g, const flatkey::KeyMessage &m)
{
	std::vector<Attribute> out;
	std::vector<const flatkey::KeyMessage *> all;
	for (const flatkey::KeyMessage &a : g.announcements)
		all.push_back(&a);
	all.push_back(&m);
	for (const flatkey::KeyMessage *x : all) {
		std::vector<uint8_t> b = flatkey::encode(*x);
		if (b.empty())
			return make_error(WireError::BadValue, "flat key table message cannot be encoded");
		if (b.size() > 0xffff - 4)
			return make_error(WireError::BadLength, "flat key table message too long for an attribute");
		out.push_back(make_tlv_attribute(detail::kFlatKeyMessageAttribute, Bytes(b.begin(), b.end())));
	}
	return out;
}

Result<std::vector<Attribute>> Engine::Impl::change_attributes(GcksGroup &g, const detail::MembershipChange &c)
{
	if (c.flat)
		return flat_attributes(g, *c.flat);
	std::vector<Attribute> out;
	if (c.tree) {
		std::vector<uint8_t> b = keytree::encode(*c.tree);
		if (b.empty())
			return make_error(WireError::BadValue, "key tree message cannot be encoded");
		if (b.size() > 0xffff - 4)
			return make_error(WireError::BadLength, "key tree message too long for an attribute");
		out.push_back(make_tlv_attribute(detail::kKeyTreeMessageAttribute, Bytes(b.begin(), b.end())));
	}
	return out;
}

Result<std::vector<Payload>> Engine::Impl::member_payloads(GcksGroup &g, const GcksMember &m, ByteView kwk,
							   bool registration, const detail::MembershipChange *change)
{
	GsaPayload gsa = tek_gsa(g);
	gsa.kek = kek_policy(g, registration);
	KeyDownloadPayload kd;
	auto kb = ike::key_wrap(kwk, g.kek.keymat);
	if (!kb)
		return kb.error();
	kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
						g.kek.spi,
						{WrappedKey{0, 0, kb.value()}},
						{}});
	for (const GcksTek &t : g.teks) {
		if (!t.current)
			continue;
		auto w = ike::key_wrap(kwk, t.keymat);
		if (!w)
			return w.error();
		Bytes spi;
		wire::put_u32(spi, t.spi);
		kd.group_key_bags.push_back(
			GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp), spi, {WrappedKey{0, 0, w.value()}}, {}});
	}
	MemberKeyBag mb;
	if (registration) {
		for (uint32_t sid : m.sender_ids)
			mb.sender_ids.push_back(Bytes{static_cast<uint8_t>(sid >> 8), static_cast<uint8_t>(sid)});
		if (g.cfg.hierarchy == KeyHierarchy::Tree) {
			// the member's key tree path, leaf first, each key as
			// itself
			keytree::MemberKeys mk = g.tree.keys_of(m.leaf);
			for (size_t l = 0; l < mk.path.size(); l++) {
				keytree::NodeName n{static_cast<uint8_t>(l), mk.leaf >> l};
				// (MemberKeys wipes its keys when it goes)
				auto w = ike::key_wrap(kwk, ByteView(mk.path[l].data(), mk.path[l].size()));
				if (!w)
					return w.error();
				mb.wrap_keys.push_back(WrappedKey{detail::tree_key_id(n), 0, w.value()});
			}
			Bytes state;
			wire::put_u64(state, mk.epoch);
			wire::put_u8(state, mk.depth);
			mb.other_attributes.push_back(make_tlv_attribute(detail::kKeyTreeStateAttribute, state));
		}
		for (const flatkey::KeyId &id : m.key_ids) {
			auto slot = g.keys.current(id);
			if (!slot)
				continue;
			auto w = ike::key_wrap(kwk, detail::flat_wrap_plain(*slot));
			if (!w)
				return w.error();
			mb.wrap_keys.push_back(WrappedKey{detail::flat_key_id(id), 0, w.value()});
		}
	}
	if (change) {
		auto attrs = change_attributes(g, *change);
		if (!attrs)
			return attrs.error();
		for (Attribute &a : attrs.value())
			mb.other_attributes.push_back(std::move(a));
	}
	if (!mb.wrap_keys.empty() || !mb.other_attributes.empty())
		kd.member_key_bag = std::move(mb);
	auto gb = encode_gsa(gsa);
	if (!gb)
		return gb.error();
	auto kdb = encode_key_download(kd);
	if (!kdb)
		return kdb.error();
	return std::vector<Payload>{make_payload(PayloadType::GroupSa, gb.value()),
				    make_payload(PayloadType::KeyDownload, kdb.value())};
}

namespace {

// How many Sender-IDs a request asks for with N(GROUP_SENDER), 0 if none.
uint32_t requested_senders(const std::vector<Payload> &inner)
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
	return 0;
}

} // namespace

Result<std::vector<Payload>> Engine::Impl::gcks_register(GcksGroup &g, IkeSa &sa, const Address &local,
							 const Address &remote, uint32_t senders)
{
	if (senders > detail::kMaxSenderIds)
		return make_error(WireError::BadValue, "more than " + std::to_string(detail::kMaxSenderIds) +
							       " Sender-IDs asked for");
	auto known = g.members.find(sa.peer);
	size_t have = known == g.members.end() ? 0 : known->second.sender_ids.size();
	if (senders > have && g.next_sender_id + (senders - have) > (1u << detail::kSenderIdBits))
		return make_error(WireError::Unsupported, "group " + g.cfg.name + " has no Sender-IDs left");
	auto it = g.members.find(sa.peer);
	if (it == g.members.end() && g.cfg.hierarchy == KeyHierarchy::Tree) {
		auto mk = g.tree.join();
		if (!mk)
			return make_error(WireError::Unsupported, "group " + g.cfg.name + " is full");
		GcksMember m;
		m.id = sa.peer;
		m.leaf = mk->leaf;
		it = g.members.emplace(sa.peer, std::move(m)).first;
	} else if (it == g.members.end()) {
		auto fid = g.ids.assign_next();
		if (!fid)
			return make_error(WireError::Unsupported, "group " + g.cfg.name + " is full");
		flatkey::JoinResult jr = g.flat->join(*fid);
		if (!jr.ok || jr.members.empty()) {
			g.ids.release(*fid);
			return make_error(WireError::BadValue, "flat key table: " + jr.error);
		}
		g.keys.apply(jr.announcement, wrapper);
		if (!flatkey::fold_notices(g.announcements, jr.announcement))
			g.announcements.push_back(jr.announcement);
		const flatkey::MemberKeys &mk = jr.members[0];
		GcksMember m;
		m.id = sa.peer;
		m.flat_id = *fid;
		m.flat_number = flat_number(*fid);
		g.keys.merge_from(mk.store());
		m.key_ids.push_back(flatkey::KeyId::tek());
		m.key_ids.insert(m.key_ids.end(), mk.kek_ids.begin(), mk.kek_ids.end());
		m.key_ids.push_back(flatkey::KeyId::member_key(mk.handle));
		it = g.members.emplace(sa.peer, std::move(m)).first;
	}
	GcksMember &m = it->second;
	while (m.sender_ids.size() < senders)
		m.sender_ids.push_back(g.next_sender_id++);
	m.address = remote;
	m.local = local;
	m.registered_ms = now();
	if (m.ike_spi && m.ike_spi != sa.spi_r) {
		// registered again over a new IKE SA: the old one goes unless
		// another group of this member still uses it
		uint64_t old = m.ike_spi;
		m.ike_spi = 0;
		bool used = false;
		for (auto &[name, sg] : servers)
			for (auto &[mid, other] : sg->members)
				used = used || other.ike_spi == old;
		if (!used)
			remove_responder_sa(old);
	}
	m.ike_spi = sa.spi_r;
	auto payloads = member_payloads(g, m, sa.gsk_w, true, nullptr);
	if (payloads && deps.events)
		deps.events->member_registered(g.cfg.name,
					       MemberState{m.id, m.address,
							   g.cfg.hierarchy == KeyHierarchy::Tree ? m.leaf : m.flat_number,
							   m.registered_ms, m.sender_ids},
					       known != g.members.end(), g.members.size());
	return payloads;
}

// --- GSA_REKEY ---

Result<Bytes> Engine::Impl::gcks_rekey_message(GcksGroup &g, const RekeySa &protecting, uint32_t id,
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
		auto alg = gcks_sig_alg(g);
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
			auto octets = detail::rekey_signed_octets(h, false, inner);
			if (!octets)
				return octets.error();
			auto sig = fault("sign") ? std::nullopt : deps.credentials->sign(g.cfg.local_id, octets.value());
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

bool Engine::Impl::gcks_deliver(GcksGroup &g, ByteView datagram, const std::set<Identity> *leaving)
{
	if (g.cfg.rekey == RekeyTransport::Multicast)
		return send(&g.counters, g.cfg.listen[0], *g.cfg.multicast, datagram);
	size_t tried = 0, sent = 0;
	for (auto &[id, m] : g.members) {
		if ((g.cfg.inband_rekey && m.ike_spi) || (leaving && leaving->count(id)))
			continue;
		tried++;
		sent += send(&g.counters, m.local, m.address, datagram) ? 1 : 0;
	}
	return tried == 0 || sent > 0;
}

Result<Done> Engine::Impl::gcks_rekey(GcksGroup &g, bool change_kek, bool new_teks,
				      const detail::MembershipChange *change)
{
	const uint64_t t = now();
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
		RekeySa next = detail::make_rekey_sa(random(kGikeUpdateSpiSize), random(detail::kKekKeymatBytes),
						     g.cfg.kek_lifetime_s, t);
		// the new Rekey SA's keys: under the key hierarchy's new group
		// key when membership changed, else under the current Rekey
		// SA's GSK_w
		SecretBytes kwk = old_kek.gsk_w;
		uint32_t kwk_id = 0;
		if (change && change->tree_root) {
			kwk.assign(change->tree_root->begin(), change->tree_root->end());
			kwk_id = detail::tree_key_id(keytree::NodeName{static_cast<uint8_t>(change->tree->depth), 0});
		} else if (change && change->flat_tek) {
			auto k = g.flat->tek_for(change->flat_tek->version, change->flat_tek->revision);
			if (!k)
				return make_error(WireError::Missing, "flat key table has no current TEK");
			kwk.assign(k->begin(), k->end());
			OPENSSL_cleanse(k->data(), k->size());
			kwk_id = detail::flat_key_id(flatkey::KeyId::tek());
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
		if (fault("encode"))
			return restore(make_error(WireError::BadLength, "rekey cannot be encoded (injected)"));
		auto d = gcks_rekey_message(g, old_kek, id.value(),
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
		auto d = gcks_rekey_message(g, g.kek, id.value(), inner);
		if (!d)
			return restore(d.error());
		datagrams.push_back(std::move(d).value());
	}
	// nothing has left this key server yet: a failure to send the first
	// message still changes nothing
	const std::set<Identity> *leaving = change ? &change->leaving : nullptr;
	for (size_t i = 0; i < datagrams.size(); i++) {
		bool ok = !fault("send") && gcks_deliver(g, datagrams[i], leaving);
		if (!ok && i == 0)
			return restore(make_error(WireError::Unsupported, "rekey of group " + g.cfg.name +
										  " could not be sent"));
		g.counters.rekeys++;
	}
	if (change_kek)
		log_rekey_sa(g.kek);
	if (change && change->flat)
		g.announcements.clear();
	if (g.cfg.inband_rekey) {
		// members with an IKE SA: their own copy of the policy and keys
		for (auto &[id, m] : g.members) {
			if (leaving && leaving->count(id))
				continue;
			auto sa = m.ike_spi ? responder_sas.find(m.ike_spi) : responder_sas.end();
			if (sa == responder_sas.end() || !sa->second->authenticated || sa->second->pending) {
				for (const Bytes &d : datagrams)
					send(&g.counters, m.local, m.address, d);
				continue;
			}
			auto inner = member_payloads(g, m, sa->second->gsk_w, false, change);
			if (!inner)
				continue;
			IdentificationPayload idg{g.cfg.group_id.type, g.cfg.group_id.data};
			inner.value().insert(inner.value().begin(),
					     make_payload(PayloadType::GroupId, encode_identification(idg).value()));
			send_request(*sa->second, static_cast<uint8_t>(ExchangeType::GsaInbandRekey), inner.value(),
				     g.cfg.name);
		}
	}
	if (deps.events)
		deps.events->rekey(g.cfg.name, true, g.last_message_id, change_kek);
	return Done{};
}

Result<Done> Engine::Impl::gcks_evict(GcksGroup &g, const std::vector<Identity> &members)
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
		return gcks_evict_flat(g, ids);
	return gcks_evict_tree(g, ids);
}

Result<Done> Engine::Impl::gcks_evict_tree(GcksGroup &g, const std::vector<Identity> &ids)
{
	std::vector<uint32_t> leaves;
	for (const Identity &id : ids)
		leaves.push_back(g.members.at(id).leaf);
	if (fault("key-table"))
		return make_error(WireError::BadValue, "key tree: update failed (injected)");
	keytree::KeyTreeServer::LeavePlan plan = g.tree.plan_leave(leaves);
	if (!plan.ok)
		return make_error(WireError::BadValue, "key tree: " + plan.error);
	detail::MembershipChange c;
	c.tree = &plan.message;
	c.tree_root = plan.new_root;
	c.leaving.insert(ids.begin(), ids.end());
	auto r = gcks_rekey(g, true, true, &c);
	OPENSSL_cleanse(c.tree_root->data(), c.tree_root->size());
	if (!r)
		return r;
	g.tree.commit(plan);
	gcks_drop_members(g, ids);
	return Done{};
}

Result<Done> Engine::Impl::gcks_evict_flat(GcksGroup &g, const std::vector<Identity> &ids)
{
	if (fault("key-table"))
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
	g.keys.apply(r.message, wrapper);
	detail::MembershipChange c;
	c.flat = &r.message;
	c.flat_tek = g.flat->current_tek();
	c.leaving.insert(ids.begin(), ids.end());
	auto rr = gcks_rekey(g, true, true, &c);
	if (!rr) {
		restore();
		return rr;
	}
	for (const Identity &id : ids)
		g.ids.release(g.members.at(id).flat_id);
	gcks_drop_members(g, ids);
	return Done{};
}

void Engine::Impl::gcks_drop_members(GcksGroup &g, const std::vector<Identity> &ids)
{
	for (const Identity &id : ids) {
		auto it = g.members.find(id);
		if (it == g.members.end())
			continue;
		uint64_t spi = it->second.ike_spi;
		g.members.erase(it);
		g.evicted.insert(id);
		if (spi)
			remove_responder_sa(spi);
	}
}

// --- timers and state ---

void Engine::Impl::gcks_tick(GcksGroup &g, uint64_t t)
{
	bool tek_due = false;
	for (const GcksTek &k : g.teks)
		tek_due = tek_due || (k.current && t >= soft_expiry(k.created_ms, g.cfg.tek_lifetime_s));
	bool kek_due = t >= soft_expiry(g.kek.created_ms, g.kek.lifetime_s);
	if (tek_due || kek_due)
		gcks_rekey(g, kek_due, tek_due);
	g.teks.erase(std::remove_if(g.teks.begin(), g.teks.end(),
				    [&](const GcksTek &k) { return !k.current && t >= k.remove_ms; }),
		     g.teks.end());
	g.flat->expire();
}

uint64_t Engine::Impl::gcks_next(const GcksGroup &g) const
{
	uint64_t n = soft_expiry(g.kek.created_ms, g.kek.lifetime_s);
	for (const GcksTek &k : g.teks)
		n = std::min(n, k.current ? soft_expiry(k.created_ms, g.cfg.tek_lifetime_s) : k.remove_ms);
	return n;
}

GroupState Engine::Impl::gcks_state(const GcksGroup &g) const
{
	GroupState s;
	s.name = g.cfg.name;
	s.group_id = g.cfg.group_id;
	s.server = true;
	s.state = "serving";
	s.server_address = g.cfg.listen[0];
	s.kek_message_id = g.last_message_id;
	s.rekey_auth = g.cfg.rekey_auth;
	for (auto &[id, m] : g.members)
		s.members.push_back(MemberState{m.id, m.address,
						g.cfg.hierarchy == KeyHierarchy::Tree ? m.leaf : m.flat_number,
						m.registered_ms, m.sender_ids});
	s.evicted.assign(g.evicted.begin(), g.evicted.end());
	for (const GcksTek &k : g.teks) {
		const TekPolicyConfig &c = g.cfg.teks[k.policy];
		s.sas.push_back(SaState{k.spi, c.encryption, c.key_bits, g.cfg.tek_lifetime_s, k.expires_ms, k.current});
	}
	s.counters = g.counters;
	s.exposure.hierarchy = g.cfg.hierarchy;
	if (g.cfg.hierarchy == KeyHierarchy::Flat) {
		s.exposure.tek_exposed = g.flat->tek_exposed();
		const flatkey::IdLayout &l = g.flat->layout();
		for (size_t tbl = 0; tbl < l.tables(); tbl++)
			for (size_t sym = 0; sym < l.radix(tbl).size(); sym++)
				for (unsigned v = 0; v < l.radix(tbl)[sym]; v++)
					s.exposure.exposed_keks += g.flat->kek_exposed(tbl, sym, v) ? 1 : 0;
	} else {
		s.exposure.epoch = g.tree.epoch();
		s.exposure.depth = g.tree.depth();
	}
	return s;
}

GcksGroup *Engine::Impl::gcks_find(const Identity &group_id, const Address &local)
{
	GcksGroup *any = nullptr;
	for (auto &[n, g] : servers) {
		if (!(g->cfg.group_id == group_id))
			continue;
		for (const Address &a : g->cfg.listen)
			if (same_host(a, local))
				return g.get();
		any = g.get();
	}
	return any;
}

// --- datagrams ---

void Engine::Impl::gcks_receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h)
{
	if (!(h.flags & kFlagResponse) && h.exchange_type == static_cast<uint8_t>(ExchangeType::IkeSaInit)) {
		gcks_ike_sa_init(local, remote, datagram, h);
		return;
	}
	auto it = responder_sas.find(h.responder_spi);
	if (it == responder_sas.end() || it->second->spi_i != h.initiator_spi || !it->second->keyed) {
		Counters *c = attribute(local, true);
		if (c) {
			c->received++;
			c->dropped_auth++;
		}
		// a response is never answered (RFC 7296 2.21.4)
		if (!(h.flags & kFlagResponse))
			gcks_invalid_spi(local, remote, h, c);
		return;
	}
	if (h.flags & kFlagResponse)
		gcks_response(*it->second, datagram, h);
	else
		gcks_request(*it->second, datagram, h);
}

void Engine::Impl::gcks_invalid_spi(const Address &local, const Address &remote, const IkeHeader &h, Counters *c)
{
	// only where we serve a group: a member whose key server restarted
	// learns at once that its IKE SA is gone and registers again (by IP:
	// the glue gives the local address of a datagram without its port)
	bool serving = false;
	for (auto &[n, g] : servers)
		for (const Address &a : g->cfg.listen)
			serving = serving || a.ip == local.ip;
	if (!serving)
		return;
	const uint64_t t = now();
	if (t >= invalid_spi_window_ms + 1000 || t < invalid_spi_window_ms) {
		invalid_spi_window_ms = t;
		invalid_spi_in_window = 0;
	}
	if (invalid_spi_in_window >= detail::kInvalidSpiPerSecond)
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
	if (!d)
		return;
	invalid_spi_in_window++;
	if (send(c, local, remote, d.value()) && c)
		c->invalid_spi++;
}

namespace {

// The IKE proposal we accept from a member's SA payload.
struct Choice {
	ike::Proposal proposal;
	SkCipher cipher = SkCipher::AesGcm16;
	size_t key_bytes = 32;
	uint16_t dh = 0;
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
				if (t.id == static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256))
					kwa = &t;
				break;
			}
		}
		if (!encr || !prf || (encr->id == ike::kEncrAesCbc && !integ))
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
		if (kwa)
			c.proposal.transforms.push_back(*kwa);
		c.cipher = encr->id == ike::kEncrAesGcm16 ? SkCipher::AesGcm16 : SkCipher::AesCbcHmacSha256;
		c.key_bytes = ike::key_length(*encr) / 8u;
		c.dh = ke_group;
		return c;
	}
	return std::nullopt;
}

} // namespace

void Engine::Impl::gcks_ike_sa_init(const Address &local, const Address &remote, ByteView datagram,
				    const IkeHeader &h)
{
	Counters *c = attribute(local, true);
	if (!c)
		return;
	c->received++;
	auto m = decode_message(datagram);
	if (!m || h.responder_spi != 0 || h.message_id != 0 || m.value().encrypted) {
		c->dropped_malformed++;
		return;
	}
	// a retransmitted request: the same answer
	auto known = responder_by_init.find({h.initiator_spi, remote});
	if (known != responder_by_init.end()) {
		auto sa = responder_sas.find(known->second);
		if (sa != responder_sas.end() && sa->second->init_request == datagram.to_bytes() &&
		    !sa->second->authenticated)
			send(c, local, remote, sa->second->init_response);
		return;
	}
	const std::vector<Payload> &ps = m.value().payloads;
	const Payload *sa_p = find_payload(ps, PayloadType::SecurityAssociation);
	const Payload *ke_p = find_payload(ps, PayloadType::KeyExchange);
	const Payload *ni_p = find_payload(ps, PayloadType::Nonce);
	if (!sa_p || !ke_p || !ni_p) {
		c->dropped_malformed++;
		return;
	}
	auto props = ike::decode_sa(sa_p->body);
	auto ke = ike::decode_ke(ke_p->body);
	auto ni = decode_nonce(ni_p->body);
	if (!props || !ke || !ni) {
		c->dropped_malformed++;
		return;
	}
	auto reply_notify = [&](uint16_t type, Bytes data) {
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
			send(c, local, remote, d.value());
	};
	// RFC 7296 2.6: past the threshold, only a request that returns our
	// cookie creates state
	if (half_open_sas >= cookie_threshold) {
		rotate_cookie_secret(now());
		bool ok = false;
		if (!ps.empty() && ps[0].type == static_cast<uint8_t>(PayloadType::Notify)) {
			auto n = decode_notify(ps[0].body);
			ok = n && n.value().type == ike::kNotifyCookie &&
			     cookie_valid(n.value().data, ni.value().nonce, remote, h.initiator_spi);
		}
		if (!ok) {
			c->cookies_sent++;
			reply_notify(ike::kNotifyCookie, make_cookie(ni.value().nonce, remote, h.initiator_spi));
			return;
		}
	}
	uint16_t other = 0;
	auto choice = choose(props.value(), ke.value().group, &other);
	if (!choice) {
		if (other) {
			Bytes g;
			wire::put_u16(g, other);
			reply_notify(ike::kNotifyInvalidKePayload, g);
		} else {
			reply_notify(ike::kNotifyNoProposalChosen, {});
		}
		return;
	}
	auto dh = ike::DhKey::generate(choice->dh, [&](uint8_t *o, size_t n) { deps.random->fill(o, n); });
	if (!dh)
		return;
	auto shared = dh.value()->shared_secret(ke.value().data);
	if (!shared) {
		c->dropped_malformed++;
		return;
	}
	auto sa = std::make_unique<IkeSa>();
	sa->initiator = false;
	sa->spi_i = h.initiator_spi;
	sa->spi_r = random_spi();
	sa->local = local;
	sa->remote = remote;
	sa->dh_group = choice->dh;
	sa->cipher = choice->cipher;
	sa->ni = ni.value().nonce;
	sa->nr = random(detail::kNonceBytes);
	sa->created_ms = now();
	sa->keys = ike::derive_ike_keys(sa->cipher, choice->key_bytes, sa->ni, sa->nr, shared.value(), sa->spi_i,
					sa->spi_r);
	log_ike_sa(*sa);
	sa->gsk_w = ike::default_kwk(sa->keys.sk_d, 32);
	sa->keyed = true;
	sa->init_request = datagram.to_bytes();
	Message r;
	r.header.initiator_spi = sa->spi_i;
	r.header.responder_spi = sa->spi_r;
	r.header.exchange_type = h.exchange_type;
	r.header.flags = kFlagResponse;
	auto sab = ike::encode_sa({choice->proposal});
	auto keb = ike::encode_ke(ike::KePayload{choice->dh, dh.value()->public_value()});
	auto nrb = encode_nonce(NoncePayload{sa->nr});
	if (!sab || !keb || !nrb)
		return;
	r.payloads.push_back(make_payload(PayloadType::SecurityAssociation, sab.value()));
	r.payloads.push_back(make_payload(PayloadType::KeyExchange, keb.value()));
	r.payloads.push_back(make_payload(PayloadType::Nonce, nrb.value()));
	auto d = encode_message(r);
	if (!d)
		return;
	sa->init_response = d.value();
	sa->last_peer_request = 0;
	sa->last_response = d.value();
	sa->next_request_id = 0;
	send(c, local, remote, sa->init_response);
	add_responder_sa(std::move(sa));
}

void Engine::Impl::gcks_request(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	Counters *c = counters_for(sa.group);
	if (!c)
		c = attribute(sa.local, true);
	if (c)
		c->received++;
	auto count = [&](uint64_t Counters::*field) {
		if (c)
			(c->*field)++;
	};
	// the member's requests follow IKE_SA_INIT (message ID 0)
	auto opened = open_request(sa, datagram, h, sa.keys.initiator, 1, c);
	if (!opened)
		return;
	const auto &inner = *opened;
	if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaAuth) && !sa.authenticated)
		gcks_gsa_auth(sa, h, inner);
	else if (h.exchange_type == static_cast<uint8_t>(ExchangeType::GsaRegistration) && sa.authenticated)
		gcks_gsa_registration(sa, h, inner);
	else
		count(&Counters::dropped_malformed);
}

void Engine::Impl::gcks_gsa_auth(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	Counters *c = counters_for(sa.group);
	if (!c)
		c = attribute(sa.local, true);
	const Payload *idi_p = find_payload(inner, PayloadType::IdInitiator);
	const Payload *auth_p = find_payload(inner, PayloadType::Authentication);
	const Payload *idg_p = find_payload(inner, PayloadType::GroupId);
	if (!idi_p || !auth_p || !idg_p) {
		if (c)
			c->dropped_malformed++;
		return;
	}
	auto idi = decode_identification(idi_p->body);
	auto auth = decode_auth(auth_p->body);
	auto idg = decode_identification(idg_p->body);
	if (!idi || !auth || !idg) {
		if (c)
			c->dropped_malformed++;
		return;
	}
	for (const Payload &p : inner) {
		if (p.type == static_cast<uint8_t>(PayloadType::Notify) && !decode_notify(p.body)) {
			if (c)
				c->dropped_malformed++;
			return;
		}
	}
	const uint64_t spi = sa.spi_r;
	GcksGroup *g = gcks_find(Identity{idg.value().id_type, idg.value().data}, sa.local);
	if (!g) {
		send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::InvalidGroupId)});
		remove_responder_sa(spi);
		return;
	}
	sa.group = g->cfg.name;
	c = &g->counters;
	// the first message of this SA was counted before the group was known
	Identity peer{idi.value().id_type, idi.value().data};
	Bytes octets = ike::signed_octets(sa.init_request, sa.nr, sa.keys.sk_pi, idi_p->body);
	bool ok = false;
	if (g->cfg.member_auth == AuthKind::Psk) {
		auto key = psk(g->cfg.local_id, peer);
		ok = auth.value().method == ike::kAuthSharedKey && key &&
		     ike::equal(ike::psk_auth(*key, octets), auth.value().data);
	} else {
		ok = auth.value().method == ike::kAuthDigitalSignature &&
		     deps.credentials->verify(peer, octets, auth.value().data);
	}
	if (!ok) {
		c->dropped_auth++;
		send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::AuthenticationFailed)});
		remove_responder_sa(spi);
		return;
	}
	IdentificationPayload idr{g->cfg.local_id.type, g->cfg.local_id.data};
	Bytes idr_body = encode_identification(idr).value();
	Bytes r_octets = ike::signed_octets(sa.init_response, sa.ni, sa.keys.sk_pr, idr_body);
	AuthPayload r_auth;
	if (g->cfg.member_auth == AuthKind::Psk) {
		auto key = psk(g->cfg.local_id, peer);
		r_auth.method = ike::kAuthSharedKey;
		r_auth.data = ike::psk_auth(*key, r_octets);
	} else {
		auto sig = deps.credentials->sign(g->cfg.local_id, r_octets);
		if (!sig || sig->empty()) {
			send_response(sa, h.message_id, h.exchange_type,
				      {notify_payload(NotifyType::RegistrationFailed)});
			remove_responder_sa(spi);
			return;
		}
		r_auth.method = ike::kAuthDigitalSignature;
		r_auth.data = *sig;
	}
	std::vector<Payload> reply{make_payload(PayloadType::IdResponder, idr_body),
				   make_payload(PayloadType::Authentication, encode_auth(r_auth).value())};
	bool authorized = std::find(g->cfg.authorized.begin(), g->cfg.authorized.end(), peer) !=
				  g->cfg.authorized.end() &&
			  !g->evicted.count(peer);
	// an IKE SA that registers nobody goes with its answer: a peer that
	// retries leaves nothing behind
	if (!authorized) {
		c->dropped_unauthorized++;
		reply.push_back(notify_payload(NotifyType::AuthorizationFailed));
		send_response(sa, h.message_id, h.exchange_type, reply);
		remove_responder_sa(spi);
		return;
	}
	responder_authenticated(sa);
	sa.peer = peer;
	auto reg = gcks_register(*g, sa, sa.local, sa.remote, requested_senders(inner));
	if (!reg) {
		reply.push_back(notify_payload(NotifyType::RegistrationFailed));
		send_response(sa, h.message_id, h.exchange_type, reply);
		remove_responder_sa(spi);
		return;
	}
	reply.insert(reply.end(), reg.value().begin(), reg.value().end());
	c->registrations++;
	send_response(sa, h.message_id, h.exchange_type, reply);
}

void Engine::Impl::gcks_gsa_registration(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner)
{
	Counters *c = counters_for(sa.group);
	const Payload *idg_p = find_payload(inner, PayloadType::GroupId);
	auto idg = idg_p ? decode_identification(idg_p->body) : Result<IdentificationPayload>(
									 make_error(WireError::Missing, "no IDg"));
	if (!idg) {
		if (c)
			c->dropped_malformed++;
		return;
	}
	GcksGroup *g = gcks_find(Identity{idg.value().id_type, idg.value().data}, sa.local);
	if (!g) {
		send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::InvalidGroupId)});
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
			send_response(sa, h.message_id, h.exchange_type, {});
			// the eviction removes sa with the member's IKE SA: keep
			// a copy of the identity and do not touch sa after it
			const Identity leaver = sa.peer;
			if (g->members.count(leaver)) {
				GcksGroup &group = *g;
				if (gcks_evict(group, std::vector<Identity>{leaver})) {
					group.evicted.erase(leaver);
					if (deps.events)
						deps.events->member_left(group.cfg.name, leaver, "left",
									 group.members.size());
				}
			}
			return;
		}
	}
	bool authorized = std::find(g->cfg.authorized.begin(), g->cfg.authorized.end(), sa.peer) !=
				  g->cfg.authorized.end() &&
			  !g->evicted.count(sa.peer);
	if (!authorized) {
		g->counters.dropped_unauthorized++;
		send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::AuthorizationFailed)});
		return;
	}
	auto reg = gcks_register(*g, sa, sa.local, sa.remote, requested_senders(inner));
	if (!reg) {
		send_response(sa, h.message_id, h.exchange_type, {notify_payload(NotifyType::RegistrationFailed)});
		return;
	}
	g->counters.registrations++;
	send_response(sa, h.message_id, h.exchange_type, reg.value());
}

void Engine::Impl::gcks_response(IkeSa &sa, ByteView datagram, const IkeHeader &h)
{
	Counters *c = counters_for(sa.pending ? sa.pending->group : sa.group);
	if (c)
		c->received++;
	if (!sa.pending || h.message_id != sa.pending->id || h.exchange_type != sa.pending->exchange) {
		if (c)
			c->dropped_replay++;
		return;
	}
	auto opened = open_message(datagram, sa.keys.initiator);
	if (!opened) {
		if (c)
			(opened.error().code == WireError::IntegrityFailed ? c->dropped_auth : c->dropped_malformed)++;
		return;
	}
	sa.pending.reset();
}

} // namespace groupsec::gdoi
