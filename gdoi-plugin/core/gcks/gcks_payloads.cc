// SPDX-License-Identifier: GPL-2.0-or-later
// The key server's keys and policies as payloads: the Rekey SA and TEKs,
// the GSA policies, the member key bag of a registration or a membership
// change.
#include "key_server.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "../gikev2_wire.h"

namespace groupsec::gdoi::detail {

namespace {

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

// RFC 9838 4.4.2 (the GSA policy's traffic selectors): "For the Rekey SA
// (with the GIKE_UPDATE protocol) the destination traffic selectors MUST
// define a single multicast IP address, an IP protocol (assumed to be UDP)
// and a single port the GSA_REKEY messages will be destined to. The source
// traffic selector in this case SHOULD define a single IP address, an IP
// protocol (assumed to be UDP) and a single port the GSA_REKEY messages
// will be originated from."
TrafficSelector single_udp_selector(const Address &a)
{
	TrafficSelector ts;
	ts.ts_type = static_cast<uint8_t>(a.ip.size() == 16 ? TsType::Ipv6AddrRange : TsType::Ipv4AddrRange);
	ts.ip_protocol = 17;
	ts.start_port = ts.end_port = a.port;
	ts.start_address = a.ip;
	ts.end_address = a.ip;
	return ts;
}

} // namespace

size_t tek_keymat_bytes(const TekPolicyConfig &p)
{
	return p.key_bits / 8u + (p.encryption == static_cast<uint16_t>(EncryptionId::AesGcm16) ? 4u : 32u);
}

// --- keys and policy ---

RekeySuite rekey_suite(const GcksGroupConfig &c)
{
	return RekeySuite{c.rekey_encryption, c.rekey_key_bits, c.rekey_integrity, c.rekey_key_wrap};
}

void KeyServer::new_kek(GcksGroup &g)
{
	const RekeySuite suite = rekey_suite(g.cfg);
	g.kek = make_rekey_sa(ctx_.random(kGikeUpdateSpiSize), ctx_.random(rekey_keymat_bytes(suite)), suite,
			      g.cfg.kek_lifetime_s, ctx_.now());
	ctx_.log_rekey_sa(g.kek);
}

GcksTek KeyServer::make_tek(const GcksGroup &g, const std::vector<GcksTek> &teks, size_t policy)
{
	GcksTek t;
	for (;;) {
		Bytes b = ctx_.random(4);
		t.spi = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
		bool taken = t.spi < 256;
		for (const GcksTek &o : teks)
			taken = taken || o.spi == t.spi;
		if (!taken)
			break;
	}
	t.policy = policy;
	t.keymat = ctx_.random(tek_keymat_bytes(g.cfg.teks[policy]));
	t.created_ms = ctx_.now();
	t.expires_ms = t.created_ms + uint64_t(g.cfg.tek_lifetime_s) * 1000;
	return t;
}

void KeyServer::init_keys(GcksGroup &g)
{
	new_kek(g);
	g.teks.clear();
	for (size_t i = 0; i < g.cfg.teks.size(); i++)
		g.teks.push_back(make_tek(g, g.teks, i));
}

Result<Bytes> KeyServer::signature_algorithm(const GcksGroupConfig &c)
{
	static const uint8_t probe[] = "G-IKEv2 GCKS signature algorithm";
	auto sig = ctx_.deps.credentials->sign(c.local_id, ByteView(probe, sizeof(probe) - 1));
	if (sig && !sig->empty() && (*sig)[0] > 0 && size_t((*sig)[0]) + 1 < sig->size())
		return Bytes(sig->begin() + 1, sig->begin() + 1 + (*sig)[0]);
	return make_error(WireError::Missing, "group " + c.name + ": no private key of " + c.local_id.str() +
						      " to sign its GSA_REKEY messages with (rekey_auth = signature): "
						      "load one, or set rekey_auth = implicit on the key server and "
						      "every member");
}

// The group's signature algorithm, nullopt for implicit authentication.
std::optional<Bytes> KeyServer::sig_alg(GcksGroup &g)
{
	if (g.cfg.rekey_auth != RekeyAuth::Signature)
		return std::nullopt;
	return g.sig_alg;
}

Result<Done> KeyServer::store_evicted(const GcksGroup &g, const std::set<Identity> &evicted)
{
	if (!ctx_.deps.evictions)
		return Done{};
	auto r = ctx_.deps.evictions->store(g.cfg.name, std::vector<Identity>(evicted.begin(), evicted.end()));
	if (!r)
		return make_error(r.error().code, "group " + g.cfg.name +
							  ": the evicted members cannot be stored, nothing changed: " +
							  r.error().message);
	return Done{};
}

GsaPolicy KeyServer::kek_policy(GcksGroup &g, const RekeySa &kek, bool registration)
{
	GsaPolicy p;
	p.protocol = static_cast<uint8_t>(SecurityProtocol::GikeUpdate);
	p.spi = kek.spi;
	// from the address GSA_REKEY leaves from, UDP, its port; to the
	// multicast group, UDP, its port. Unicast GSA_REKEY goes to each
	// member's own address, so the destination keeps a wildcard address
	// (there is no multicast address to name) but is UDP to the port of
	// the group's first listen address, the G-IKEv2 port members use
	p.source = single_udp_selector(g.cfg.listen[0]);
	if (g.cfg.rekey == RekeyTransport::Multicast && g.cfg.multicast) {
		p.destination = single_udp_selector(*g.cfg.multicast);
	} else {
		p.destination = any_selector(g.cfg.listen[0].ip.size());
		p.destination.ip_protocol = 17;
		p.destination.start_port = p.destination.end_port = g.cfg.listen[0].port;
	}
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
					 kek.suite.encryption,
					 {key_length_attribute(kek.suite.key_bits)}});
	// 4.4.2.1: "If AEAD encryption algorithm is used, then INTEG transform
	// either MUST NOT be specified or MUST contain value NONE"
	if (kek.suite.integrity)
		p.transforms.push_back(
			Transform{static_cast<uint8_t>(TransformType::Integrity), kek.suite.integrity, {}});
	p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::KeyWrapAlgorithm), kek.suite.kwa, {}});
	if (registration) {
		// implicit only when configured so; a signature group always
		// has its algorithm (a member refuses a signature without one)
		auto alg = sig_alg(g);
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
	uint64_t left = kek.expires_ms > ctx_.now() ? (kek.expires_ms - ctx_.now()) / 1000 : 0;
	p.key_lifetime = static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(left, 1), UINT32_MAX));
	// RFC 9838 2.3.4: "the initial Message ID value the GCKS will use when
	// sending the GSA_REKEY messages to the group members is non-zero,
	// then this value is specified in the GSA_INITIAL_MESSAGE_ID
	// attribute": the next ID on this Rekey SA, left out while it is 0
	// (2.4.1.4: without it a member "MUST assume zero")
	//
	// Not in GSA_INBAND_REKEY (registration false; a new Rekey SA of a
	// GSA_REKEY counts from 0 and has none either): 2.3.4, "This attribute
	// MUST NOT be used if inband rekey (via the GSA_INBAND_REKEY exchange)
	// is employed by the GCKS for the GM."
	if (kek.next_message_id && registration)
		p.initial_message_id = static_cast<uint32_t>(std::min<uint64_t>(kek.next_message_id, UINT32_MAX));
	return p;
}

GsaPayload KeyServer::tek_gsa(const GcksGroup &g, const std::vector<GcksTek> &teks, bool sender_bits)
{
	GsaPayload gsa;
	for (const GcksTek &t : teks) {
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
		// 4.4.2.1.3: "32-bit Unspecified Numbers" "MUST be used by the
		// GCKS in case of multi-sender multicast Data-Security SAs";
		// "32-bit Sequential Numbers" "SHOULD be used by the GCKS for
		// single-sender multicast Data-Security SAs"
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::SequenceNumbers),
						 static_cast<uint16_t>(c.single_sender ? SequenceNumbersId::Sequential32
										       : SequenceNumbersId::Unspecified32),
						 {}});
		uint64_t left = t.expires_ms > ctx_.now() ? (t.expires_ms - ctx_.now()) / 1000 : 0;
		p.key_lifetime = static_cast<uint32_t>(std::max<uint64_t>(left, 1));
		gsa.teks.push_back(std::move(p));
	}
	GroupWidePolicy gw;
	// 4.4.3.1.2 and the table of section 5: GWP_SENDER_ID_BITS "MUST be present if the
	// GCKS policy includes at least one cipher in counter mode of
	// operation and the GM included the GROUP_SENDER notify into the
	// registration request. Otherwise it MUST NOT be present", and never
	// in GSA_REKEY or GSA_INBAND_REKEY
	if (sender_bits)
		gw.sender_id_bits = g.cfg.sender_id_bits;
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
Result<std::vector<Attribute>> KeyServer::flat_attributes(GcksGroup &g, const flatkey::KeyMessage &m)
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
		out.push_back(make_tlv_attribute(kFlatKeyMessageAttribute, Bytes(b.begin(), b.end())));
	}
	return out;
}

// The flat key table's messages of a change, for the Rekey SA's group
// key bag; none for the key tree (its keys are intermediate keys).
Result<std::vector<Attribute>> KeyServer::change_attributes(GcksGroup &g, const MembershipChange &c)
{
	if (c.flat)
		return flat_attributes(g, *c.flat);
	return std::vector<Attribute>{};
}

// At registration: the member's Sender-IDs, its key tree path and the flat
// table keys it holds, each a WRAP_KEY of the key itself (RFC 9838 4.5.3.1:
// "The size of the attribute data MUST be equal to the key size for this
// key wrap algorithm"). The key tree path travels as the RFC's Appendix A
// shows a member's LKH path, "MP(3{1},7{3},GSK_w{7})": the leaf under
// GSK_w (KWK ID 0), every other key under the one below it, so that the
// Key Path from the Rekey SA's SA_KEY (wrapped under the root) ends at
// GSK_w and becomes the member's Working Key Path (3.3). root: the
// tree's root key, for the SA_KEY.
Result<Done> KeyServer::registration_keys(GcksGroup &g, const GcksMember &m, ByteView kwk, MemberKeyBag &mb,
					  std::optional<keytree::Key> &root)
{
	// GM_SENDER_ID: the Sender-ID in the octets of GWP_SENDER_ID_BITS,
	// big-endian
	for (uint32_t sid : m.sender_ids) {
		Bytes b;
		for (int shift = ((g.cfg.sender_id_bits + 7) / 8 - 1) * 8; shift >= 0; shift -= 8)
			b.push_back(static_cast<uint8_t>(sid >> shift));
		mb.sender_ids.push_back(std::move(b));
	}
	// RFC 9838 4.5.3.1: WRAP_KEY "MUST NOT be used if inband rekey (via the
	// GSA_INBAND_REKEY exchange) is employed by the GCKS for the GM": an
	// inband group has no key hierarchy (section 5, inband table: WRAP_KEY
	// "-")
	if (g.cfg.rekey == RekeyTransport::Inband)
		return Done{};
	if (g.cfg.hierarchy == KeyHierarchy::Tree) {
		keytree::MemberKeys mk = g.tree.keys_of(m.leaf);
		uint32_t below = 0;
		for (size_t l = 0; l < mk.path.size(); l++) {
			// (MemberKeys wipes its keys when it goes)
			ByteView wrapping = l ? ByteView(mk.path[l - 1].data(), mk.path[l - 1].size()) : kwk;
			auto w = ike::key_wrap(wrapping, ByteView(mk.path[l].data(), mk.path[l].size()));
			if (!w)
				return w.error();
			const uint32_t id = tree_key_id(mk.path[l]);
			mb.wrap_keys.push_back(WrappedKey{id, below, w.value()});
			below = id;
		}
		if (!mk.path.empty())
			root = mk.path.back();
	}
	Bytes slots;
	for (const flatkey::KeyId &id : m.key_ids) {
		auto slot = g.keys.current(id);
		if (!slot)
			continue;
		auto w = ike::key_wrap(kwk, ByteView(slot->key.data(), slot->key.size()));
		if (!w)
			return w.error();
		mb.wrap_keys.push_back(WrappedKey{flat_key_id(id), 0, w.value()});
		wire::put_bytes(slots, flat_slot_entry(flat_key_id(id), *slot));
	}
	if (!slots.empty())
		mb.other_attributes.push_back(make_tlv_attribute(kFlatKeySlotsAttribute, slots));
	return Done{};
}

Result<std::vector<Payload>> KeyServer::member_payloads(GcksGroup &g, const GcksMember &m, ByteView kwk,
							   bool registration, const MembershipChange *change)
{
	GsaPayload gsa = tek_gsa(g, g.teks, registration && !m.sender_ids.empty());
	// RFC 9838 4.4 "Group Policies": "if the group policy does not require
	// the use of a Rekey SA, the GCKS would not need to send a GSA KEK
	// policy to the group member since all SA updates would be performed
	// using the GSA_INBAND_REKEY exchange via the unicast IKE SA"
	const bool inband = g.cfg.rekey == RekeyTransport::Inband;
	if (!inband)
		gsa.kek = kek_policy(g, g.kek, registration);
	KeyDownloadPayload kd;
	MemberKeyBag mb;
	std::optional<keytree::Key> root;
	if (registration) {
		auto r = registration_keys(g, m, kwk, mb, root);
		if (!r) {
			if (root)
				keytree::wipe(*root);
			return r.error();
		}
	}
	if (!inband) {
		// the Rekey SA's keys under the key tree's root at registration, else
		// under GSK_w
		const uint32_t kek_kwk_id = root ? tree_key_id(*root) : 0;
		auto kb = root ? ike::key_wrap(ByteView(root->data(), root->size()), g.kek.keymat)
			       : ike::key_wrap(kwk, g.kek.keymat);
		if (root)
			keytree::wipe(*root);
		if (!kb)
			return kb.error();
		GroupKeyBag kek_bag{static_cast<uint8_t>(SecurityProtocol::GikeUpdate),
				    g.kek.spi,
				    {WrappedKey{0, kek_kwk_id, kb.value()}},
				    {}};
		if (change) {
			auto attrs = change_attributes(g, *change);
			if (!attrs)
				return attrs.error();
			kek_bag.other_attributes = std::move(attrs).value();
		}
		kd.group_key_bags.push_back(std::move(kek_bag));
	}
	for (const GcksTek &t : g.teks) {
		if (!t.current)
			continue;
		auto w = ike::key_wrap(kwk, t.keymat);
		if (!w)
			return w.error();
		Bytes spi;
		wire::put_u32(spi, t.spi);
		kd.group_key_bags.push_back(GroupKeyBag{
			static_cast<uint8_t>(SecurityProtocol::Esp), spi, {WrappedKey{0, 0, w.value()}}, {}});
	}
	// RFC 9838 4.4.2.1.1 (GCAUTH Digital Signature): "the GCKS MUST include
	// the AUTH_KEY attribute containing the public key into the KD payload
	// at the time the GM is registered to the group"; with Implicit it
	// "MUST NOT include the AUTH_KEY attribute". Section 5, the inband
	// table: AUTH_KEY "-" (there is no GSA_REKEY to authenticate).
	if (registration && !inband && g.cfg.rekey_auth == RekeyAuth::Signature)
		mb.auth_key = g.auth_key;
	if (!mb.wrap_keys.empty() || !mb.other_attributes.empty() || !mb.sender_ids.empty() || mb.auth_key)
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

} // namespace groupsec::gdoi::detail
