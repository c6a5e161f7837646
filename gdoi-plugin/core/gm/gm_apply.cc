// SPDX-License-Identifier: GPL-2.0-or-later
// GSA and KD as a member applies them: the Working Key Path (flat key
// store, key tree path), the Rekey SA, the TEKs. plan() works out what
// changes without changing anything; commit() does it and cannot fail.
#include "group_member.h"

#include <algorithm>
#include <map>
#include <set>

#include <openssl/crypto.h>

#include "../gikev2_wire.h"
#include "groupsec/base/hex.h"
#include "../ike/ike_sa_payload.h"

namespace groupsec::gdoi::detail {

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

uint32_t spi_value(const Bytes &s)
{
	return uint32_t(s[0]) << 24 | uint32_t(s[1]) << 16 | uint32_t(s[2]) << 8 | s[3];
}

// The GSA and KD payloads of a message, and what its Delete payloads
// delete.
struct GsaKd {
	GsaPayload gsa;
	KeyDownloadPayload kd;
	bool has_gsa = false; // a delete-only message has neither
	std::vector<uint32_t> deletes; // ESP SPIs
	bool delete_teks = false; // D(ESP, 0)
	std::vector<Bytes> kek_deletes; // D(GIKE_UPDATE, SPIs)
	bool excluded = false; // D(GIKE_UPDATE, 0)
};

bool all_zero(const Bytes &b)
{
	return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

// RFC 9838 2.6 "Deletion of SAs". "The GCKS can signal deletion of all the
// Data-Security SAs by sending a Delete payload with an SPI value equal to
// zero"; "If a group member receives a Delete payload with zero SPI and
// protocol ID of GIKE_UPDATE, it means that the group member is excluded
// from the group." AH SPIs name no SA of ours (we install ESP only).
Result<Done> read_delete(const DeletePayload &d, GsaKd &out)
{
	const bool zero = d.spis.size() == 1 && all_zero(d.spis[0]);
	switch (static_cast<SecurityProtocol>(d.protocol)) {
	case SecurityProtocol::Esp:
		if (zero)
			out.delete_teks = true;
		else
			for (const Bytes &s : d.spis)
				out.deletes.push_back(spi_value(s));
		return Done{};
	case SecurityProtocol::Ah:
		return Done{};
	case SecurityProtocol::GikeUpdate:
		if (zero)
			out.excluded = true;
		else
			out.kek_deletes.insert(out.kek_deletes.end(), d.spis.begin(), d.spis.end());
		return Done{};
	default:
		return fail(WireError::BadValue, "Delete of protocol " + std::to_string(d.protocol) + " in a group update");
	}
}

Result<GsaKd> decode_gsa_kd(const std::vector<Payload> &inner, bool registration)
{
	std::optional<GsaPayload> gsa;
	std::optional<KeyDownloadPayload> kd;
	GsaKd out;
	bool deletes = false;
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
			if (registration)
				return fail(WireError::BadValue, "Delete in a registration");
			auto r = read_delete(x.value(), out);
			if (!r)
				return r.error();
			deletes = true;
		}
	}
	// 2.6: a rekey may be "HDR, SK{D, [N,] [AUTH]}" alone; a KD may come
	// without GSA only to announce a new AUTH_KEY
	if (gsa && !kd)
		return fail(WireError::Missing, "GSA without KD");
	if (!gsa && (registration || (!kd && !deletes)))
		return fail(WireError::Missing, "GSA and KD are needed");
	if (gsa) {
		out.gsa = std::move(*gsa);
		out.has_gsa = true;
	}
	if (kd)
		out.kd = std::move(*kd);
	return out;
}

// A key a KWK ID leads to, and how: chain, the message's intermediate
// keys it took (the one the KWK ID names first), and where it ended.
struct Reached {
	SecretBytes key;
	KeyPath chain;
	// kAnchorGskW: the default KWK; kAnchorOther: a key outside the Working
	// Key Path (a flat key table key); else the index in the Working Key
	// Path of the key it ended with
	long anchor = 0;
};
constexpr long kAnchorGskW = -1;
constexpr long kAnchorOther = -2;
// Bounds on the search for a Key Path (the message is authenticated, but
// a careless key server should not cost much).
constexpr unsigned kMaxKeyPathLength = 32;
constexpr size_t kMaxKeyPaths = 64;
constexpr size_t kMaxSearchSteps = 4096;

// What a plan reads: the message, the keys it may be wrapped under, and
// the update it fills in (whose key store holds the flat key table keys
// the message's later keys may be wrapped under).
struct Planner {
	const GsaKd &m;
	ByteView default_kwk;
	bool registration;
	bool *excluded;
	GmUpdate &u;
	flatkey::KeyWrapper &wrapper;
	// the Working Key Path before this message
	const KeyPath &held;
	// the message's intermediate keys: the member key bag's WRAP_KEYs
	// (but a registration's flat key table keys), the Rekey SA's group key
	// bag's Key IDs other than 0
	std::vector<const WrappedKey *> wraps;
	// steps of the current search (reach()), against kMaxSearchSteps
	mutable size_t steps = 0;

	void exclude() const
	{
		if (excluded)
			*excluded = true;
	}
	// Every key a KWK ID leads to (RFC 9838 3.3): 0 is the default KWK;
	// other IDs name an intermediate key of this message, unwrapped under
	// whatever its own KWK ID leads to, or a key of the Working Key Path,
	// or a flat key table key we hold. Any Key ID values work: they are
	// only compared. An intermediate key must unwrap to the key size of
	// the key wrap algorithm (4.5.3.1), 32 octets for KW_5649_256.
	void reach(uint32_t kwk_id, unsigned depth, std::vector<Reached> &out) const
	{
		if (depth == 0)
			steps = 0;
		if (out.size() >= kMaxKeyPaths || ++steps > kMaxSearchSteps)
			return;
		if (kwk_id == 0) {
			out.push_back(Reached{SecretBytes(default_kwk), {}, kAnchorGskW});
			return;
		}
		if (depth < kMaxKeyPathLength) {
			for (const WrappedKey *w : wraps) {
				if (w->key_id != kwk_id)
					continue;
				std::vector<Reached> below;
				reach(w->kwk_id, depth + 1, below);
				for (Reached &r : below) {
					auto plain = ike::key_unwrap(r.key, w->encrypted_key);
					if (!plain || plain.value().size() != flatkey::kKeyBytes || out.size() >= kMaxKeyPaths)
						continue;
					Reached x{std::move(plain).value(), {}, r.anchor};
					x.chain.push_back(HeldKey{w->key_id, x.key});
					for (HeldKey &k : r.chain)
						x.chain.push_back(std::move(k));
					out.push_back(std::move(x));
				}
			}
		}
		for (size_t i = 0; i < held.size() && out.size() < kMaxKeyPaths; i++)
			if (held[i].id == kwk_id)
				out.push_back(Reached{held[i].key, {}, static_cast<long>(i)});
		if (auto id = flat_key_from_id(kwk_id))
			if (auto s = u.store.current(*id))
				out.push_back(Reached{SecretBytes(s->key.begin(), s->key.end()), {}, kAnchorOther});
	}
	// Unwraps w under the first key its KWK ID leads to that opens it.
	std::optional<std::pair<SecretBytes, Reached>> unwrap(const WrappedKey &w) const
	{
		std::vector<Reached> ways;
		reach(w.kwk_id, 0, ways);
		for (Reached &r : ways) {
			auto plain = ike::key_unwrap(r.key, w.encrypted_key);
			if (plain)
				return std::make_pair(std::move(plain).value(), std::move(r));
		}
		return std::nullopt;
	}
	const GroupKeyBag *bag(uint8_t proto, const Bytes &spi) const
	{
		for (const GroupKeyBag &b : m.kd.group_key_bags)
			if (b.protocol == proto && b.spi == spi)
				return &b;
		return nullptr;
	}
};

// The Working Key Path after a Key Path r led to the Rekey SA's keys
// (RFC 9838 3.3): unchanged if it is empty; the whole path if it ended
// with GSK_w ("the whole new Key Path is stored by the GM as the GM's
// Working Key Path"); else it replaces "a part of the GM's current Working
// Key Path from the beginning and up to (but not including) the key that
// the GM has used to decrypt the last key in the new Key Path".
std::optional<KeyPath> next_path(const KeyPath &held, const Reached &r)
{
	if (r.chain.empty() || r.anchor == kAnchorOther)
		return std::nullopt;
	KeyPath p = r.chain;
	if (r.anchor >= 0)
		p.insert(p.end(), held.begin() + r.anchor, held.end());
	return p;
}

// The flat key table keys of a registration: the WRAP_KEYs the private
// slots attribute describes, each the 32-octet key, into the update's
// store. Returns the Key IDs taken.
Result<std::set<uint32_t>> plan_flat_keys(const Planner &pl, const MemberKeyBag &mb)
{
	std::set<uint32_t> taken;
	for (const Attribute &a : mb.other_attributes) {
		if (a.tv || a.type != kFlatKeySlotsAttribute)
			continue;
		auto slots = flat_slot_entries(ByteView(a.value.data(), a.value.size()));
		if (!slots)
			return fail(WireError::BadLength, "flat key slots attribute");
		for (const FlatSlotInfo &f : *slots) {
			auto id = flat_key_from_id(f.key_id);
			const WrappedKey *w = nullptr;
			for (const WrappedKey &x : mb.wrap_keys)
				if (x.key_id == f.key_id)
					w = &x;
			if (!id || !w || !taken.insert(f.key_id).second)
				return fail(WireError::BadValue, "flat key slot without its WRAP_KEY");
			auto plain = pl.unwrap(*w);
			if (!plain)
				return fail(WireError::IntegrityFailed, "WRAP_KEY does not unwrap");
			if (plain->first.size() != flatkey::kKeyBytes)
				return fail(WireError::BadLength, "WRAP_KEY of the wrong size");
			flatkey::KeySlot slot;
			slot.version = f.version;
			slot.revision = f.revision;
			slot.creator = f.creator;
			std::copy(plain->first.begin(), plain->first.end(), slot.key.begin());
			pl.u.store.add(*id, slot);
			OPENSSL_cleanse(slot.key.data(), slot.key.size());
		}
	}
	return taken;
}

// The Sender-IDs of a registration, each GWP_SENDER_ID_BITS wide (RFC 9838
// 4.4.3.1.2: "This value is applied to each Sender-ID value distributed in
// the KD payload"). 4.5.3.3: GM_SENDER_ID "MUST NOT appear in the rekey
// operations"; 2.5.2: "If the Sender-ID value doesn't fit into the number
// of bits from the GWP_SENDER_ID_BITS attributes, then the GM MUST treat
// this as a fatal error and re-register to the group".
Result<Done> plan_sender_ids(const Planner &pl, const MemberKeyBag &mb)
{
	if (mb.sender_ids.empty())
		return Done{};
	if (!pl.registration)
		return fail(WireError::BadValue, "GM_SENDER_ID in a rekey");
	const auto &gw = pl.m.gsa.group_wide;
	const uint16_t bits = gw && gw->sender_id_bits ? *gw->sender_id_bits : 0;
	if (bits == 0 || bits > kMaxSenderIdBits)
		return fail(WireError::BadValue, "GM_SENDER_ID without a usable GWP_SENDER_ID_BITS");
	for (const Bytes &sid : mb.sender_ids) {
		uint64_t v = 0;
		for (uint8_t o : sid)
			v = v << 8 | o;
		if (sid.size() > 8 || (bits < 64 && v >> bits))
			return fail(WireError::BadValue, "GM_SENDER_ID does not fit in GWP_SENDER_ID_BITS");
		pl.u.sender_ids.push_back(static_cast<uint32_t>(v));
	}
	return Done{};
}

// The member key bag of a registration: Sender-IDs, flat key table keys,
// and the WRAP_KEYs of the key server's hierarchy as intermediate keys of
// the message (pl.wraps), each of which must unwrap.
Result<Done> plan_member_bag(Planner &pl, const MemberKeyBag &mb)
{
	auto sids = plan_sender_ids(pl, mb);
	if (!sids)
		return sids;
	auto flat = plan_flat_keys(pl, mb);
	if (!flat)
		return flat.error();
	for (const WrappedKey &w : mb.wrap_keys)
		if (!flat.value().count(w.key_id))
			pl.wraps.push_back(&w);
	for (const WrappedKey *w : pl.wraps) {
		auto plain = pl.unwrap(*w);
		if (!plain)
			return fail(WireError::IntegrityFailed, "WRAP_KEY does not unwrap");
		if (plain->first.size() != flatkey::kKeyBytes)
			return fail(WireError::BadLength, "WRAP_KEY of the wrong size");
	}
	return Done{};
}

// A registration's Working Key Path when the Rekey SA's keys did not lead
// through the WRAP_KEYs (a key server that wraps them under GSK_w): the
// longest Key Path any WRAP_KEY starts that ends with GSK_w.
std::optional<KeyPath> registration_path(const Planner &pl)
{
	std::optional<KeyPath> best;
	for (const WrappedKey *w : pl.wraps) {
		std::vector<Reached> ways;
		pl.reach(w->key_id, 0, ways);
		for (Reached &r : ways)
			if (r.anchor == kAnchorGskW && (!best || r.chain.size() > best->size()))
				best = std::move(r.chain);
	}
	return best;
}

// A rekey's flat key table messages (the Rekey SA's group key bag), in
// order: a message that does not start from our TEK (an announcement
// older than our registration) changes nothing; one we cannot read leaves
// us without the new TEK, which the Rekey SA's keys need.
Result<Done> plan_flat_messages(const Planner &pl, const GroupKeyBag &b)
{
	for (const Attribute &a : b.other_attributes) {
		if (a.tv || a.type != kFlatKeyMessageAttribute)
			continue;
		auto m = flatkey::decode(ByteView(a.value.data(), a.value.size()));
		if (!m.ok())
			return fail(WireError::BadValue, "flat key table message: " + m.error().message);
		pl.u.store.receive(m.value(), pl.wrapper);
	}
	return Done{};
}

// RFC 9838 rules on what a rekey (GSA_REKEY, GSA_INBAND_REKEY) must not
// carry, and the intermediate keys it may.
Result<Done> check_rekey_kd(Planner &pl)
{
	const KeyDownloadPayload &kd = pl.m.kd;
	if (kd.member_key_bag) {
		// 4.4.2.1.3 GM_SENDER_ID: "This attribute MUST NOT appear in the
		// rekey operations (in the GSA_REKEY or GSA_INBAND_REKEY
		// exchanges)"
		const MemberKeyBag &mb = *kd.member_key_bag;
		if (!mb.sender_ids.empty())
			return fail(WireError::BadValue, "GM_SENDER_ID in a rekey");
		// 4.5.3 says the member key bag "MUST NOT be sent in GSA_REKEY
		// messages", yet the rest of the RFC puts two of its attributes
		// there: the table of 4.4.2.1.1 allows WRAP_KEY ("[M]", note (3):
		// "MUST be present if the GCKS employs key management method that
		// relies on key tree") and AUTH_KEY (note (4)) in GSA_REKEY, 3.3
		// has the GM use "the keys from the WRAP_KEY attributes that are
		// present in the same message", and Appendix A's exclusion is
		// "KD(GP(SA3)(1{K_sa3},15{K_sa3}),MP(6{15},16{15},11{16}))". A
		// rekey's member key bag may hold those two (docs/gikev2-wire.md,
		// "Checked against a peer written from the RFC text"); anything
		// else in it (a private attribute) is refused
		if ((!mb.auth_key && mb.wrap_keys.empty()) || !mb.other_attributes.empty())
			return fail(WireError::BadValue, "member key bag in a rekey");
		for (const WrappedKey &w : mb.wrap_keys)
			pl.wraps.push_back(&w);
	}
	const GroupKeyBag *kek = nullptr;
	for (const GroupKeyBag &b : kd.group_key_bags) {
		if (b.protocol != static_cast<uint8_t>(SecurityProtocol::GikeUpdate))
			continue;
		// one Rekey SA per group: its keys come in one key bag
		if (kek)
			return fail(WireError::Duplicate, "keys for two Rekey SAs");
		kek = &b;
	}
	if (kek) {
		for (const WrappedKey &w : kek->sa_keys)
			if (w.key_id != 0)
				pl.wraps.push_back(&w);
		auto r = plan_flat_messages(pl, *kek);
		if (!r)
			return r;
	}
	return Done{};
}

// The GCAUTH transform of a registration: how the key server's rekeys
// are authenticated.
Result<Done> plan_gcauth(const Planner &pl, const Transform *gca, RekeyAuth configured)
{
	if (!pl.registration) {
		if (gca)
			return fail(WireError::BadValue, "GCAUTH in a rekey");
		return Done{};
	}
	if (!gca)
		return fail(WireError::Missing, "no GCAUTH transform at registration");
	if (gca->id == static_cast<uint16_t>(GroupControllerAuthMethod::DigitalSignature)) {
		pl.u.signature = true;
		pl.u.sig_alg.clear();
		for (const Attribute &a : gca->attributes)
			if (!a.tv && a.type == static_cast<uint16_t>(TransformAttributeType::SignatureAlgorithmId))
				pl.u.sig_alg = a.value;
		if (pl.u.sig_alg.empty() || pl.u.sig_alg.size() > 255)
			return fail(WireError::Missing, "GCAUTH without a signature algorithm");
		return Done{};
	}
	if (gca->id == static_cast<uint16_t>(GroupControllerAuthMethod::Implicit)) {
		for (const Attribute &a : gca->attributes)
			if (a.type == static_cast<uint16_t>(TransformAttributeType::SignatureAlgorithmId))
				return fail(WireError::BadValue, "GCAUTH Implicit with a Signature Algorithm Identifier");
		// every member holds the Rekey SA keys: unsigned rekeys are only
		// taken when configured so
		if (configured != RekeyAuth::Implicit)
			return fail(WireError::Unsupported, "the key server does not sign its GSA_REKEY messages (GCAUTH "
							    "implicit), so any member could forge them; refused by "
							    "rekey_auth = signature");
		pl.u.signature = false;
		pl.u.sig_alg.clear();
		return Done{};
	}
	return fail(WireError::Unsupported, "GCAUTH method " + std::to_string(gca->id));
}

// The Rekey SA of the GSA and its keys.
Result<Done> plan_kek(const Planner &pl, const GsaPolicy &p, RekeyAuth configured, uint64_t t)
{
	const Transform *encr = find_transform(p, TransformType::Encryption);
	const Transform *integ = find_transform(p, TransformType::Integrity);
	const Transform *kwa = find_transform(p, TransformType::KeyWrapAlgorithm);
	// 4.4.2.1 (*): "If AEAD encryption algorithm is used, then INTEG
	// transform either MUST NOT be specified or MUST contain value NONE;
	// otherwise it MUST be specified and MUST contain value other than
	// NONE"
	RekeySuite suite;
	if (encr && kwa) {
		suite = RekeySuite{encr->id, ike::key_length(*encr), integ ? integ->id : uint16_t(0), kwa->id};
	}
	if (!encr || !kwa || !rekey_suite_supported(suite))
		return fail(WireError::Unsupported, "Rekey SA transforms: AES-GCM-16 or AES-CBC with "
						    "HMAC-SHA-256-128 (128, 192 or 256 bits) with KW_5649_128, "
						    "KW_5649_192 or KW_5649_256 are supported");
	auto gca = plan_gcauth(pl, find_transform(p, TransformType::GroupControllerAuth), configured);
	if (!gca)
		return gca;
	const GroupKeyBag *bag = pl.bag(p.protocol, p.spi);
	if (!bag)
		return fail(WireError::Missing, "no keys for the Rekey SA");
	// 4.5.2.1: "in the GSA_AUTH, GSA_REGISTRATION and GSA_INBAND_REKEY
	// exchanges exactly one SA_KEY attribute MUST be present"
	if (pl.registration && std::count_if(bag->sa_keys.begin(), bag->sa_keys.end(),
					     [](const WrappedKey &w) { return w.key_id == 0; }) != 1)
		return fail(WireError::Duplicate, "more than one SA_KEY for the Rekey SA at registration");
	// 3.3: the GM "processes the received SA_KEY attributes one by one
	// trying to construct a new key path"
	std::optional<SecretBytes> keymat;
	std::optional<KeyPath> path;
	for (const WrappedKey &w : bag->sa_keys) {
		if (w.key_id != 0)
			continue; // an intermediate key (pl.wraps)
		std::vector<Reached> ways;
		pl.reach(w.kwk_id, 0, ways);
		for (Reached &r : ways) {
			auto plain = ike::key_unwrap(r.key, w.encrypted_key);
			if (plain && plain.value().size() == rekey_keymat_bytes(suite)) {
				keymat = std::move(plain).value();
				path = next_path(pl.held, r);
				break;
			}
		}
		if (keymat)
			break;
	}
	if (!keymat) {
		pl.exclude();
		return fail(WireError::IntegrityFailed, "cannot unwrap the Rekey SA keys");
	}
	if (path)
		pl.u.path = std::move(path);
	// no GSA_KEY_LIFETIME: no expiry of our making (4.4.2.2.1 gives no
	// default; the SA lasts until replaced or deleted)
	pl.u.new_kek = make_rekey_sa(p.spi, *keymat, suite, p.key_lifetime.value_or(0), t);
	pl.u.initial_id = p.initial_message_id.value_or(0);
	return Done{};
}

// One TEK of the GSA and its keys.
Result<GmTek> plan_tek(const Planner &pl, const GsaPolicy &p, const std::string &group, uint64_t t)
{
	if (p.protocol != static_cast<uint8_t>(SecurityProtocol::Esp))
		return fail(WireError::Unsupported, "only ESP data-security SAs");
	const Transform *encr = find_transform(p, TransformType::Encryption);
	const Transform *integ = find_transform(p, TransformType::Integrity);
	if (!encr)
		return fail(WireError::Missing, "TEK without encryption");
	uint16_t bits = ike::key_length(*encr);
	bool gcm = encr->id == static_cast<uint16_t>(EncryptionId::AesGcm16);
	bool cbc = encr->id == static_cast<uint16_t>(EncryptionId::AesCbc);
	// an AEAD with no INTEG or INTEG NONE (RFC 9838 4.4.2.1, RFC 7296 3.3)
	if ((!gcm && !cbc) || (bits != 128 && bits != 192 && bits != 256) ||
	    (gcm && integ && integ->id != static_cast<uint16_t>(IntegrityId::None)) ||
	    (cbc && (!integ || integ->id != static_cast<uint16_t>(IntegrityId::HmacSha256_128))))
		return fail(WireError::Unsupported, "TEK transforms");
	if (gcm)
		integ = nullptr;
	// 4.4.2.1.3: "the "Partially Transmitted 64-bit Sequential Numbers"
	// transform ID MUST NOT be used for multicast Data-Security SAs"; the
	// codec makes SN mandatory for ESP
	const Transform *sn = find_transform(p, TransformType::SequenceNumbers);
	if (!sn || (sn->id != static_cast<uint16_t>(SequenceNumbersId::Sequential32) &&
		    sn->id != static_cast<uint16_t>(SequenceNumbersId::Unspecified32)))
		return fail(WireError::Unsupported, "TEK sequence numbers: ESN (Partially Transmitted 64-bit "
						    "Sequential Numbers) is not allowed on a multicast SA");
	const GroupKeyBag *bag = pl.bag(p.protocol, p.spi);
	if (!bag || bag->sa_keys.size() != 1)
		return fail(WireError::Missing, "no keys for a TEK");
	std::optional<SecretBytes> keymat;
	if (auto plain = pl.unwrap(bag->sa_keys[0]))
		keymat = std::move(plain->first);
	if (!keymat)
		return fail(WireError::IntegrityFailed, "TEK keys do not unwrap");
	size_t ek = bits / 8u + (gcm ? 4u : 0u), ik = cbc ? 32u : 0u;
	if (keymat->size() != ek + ik)
		return fail(WireError::BadLength, "TEK keying material of the wrong size");
	GmTek tek;
	tek.sa.group = group;
	tek.sa.spi = spi_value(p.spi);
	tek.sa.encryption = encr->id;
	tek.sa.encryption_key.assign(keymat->begin(), keymat->begin() + static_cast<long>(ek));
	tek.sa.integrity = integ ? integ->id : 0;
	tek.sa.integrity_key.assign(keymat->begin() + static_cast<long>(ek), keymat->end());
	tek.sa.source = p.source;
	tek.sa.destination = p.destination;
	// no GSA_KEY_LIFETIME: no limit of our making (lifetime 0)
	tek.sa.lifetime_s = p.key_lifetime.value_or(0);
	tek.sa.outbound = true;
	tek.key_bits = bits;
	tek.expires_ms = tek.sa.lifetime_s ? t + uint64_t(tek.sa.lifetime_s) * 1000 : UINT64_MAX;
	return tek;
}

// RFC 9838 2.3.4: "if it [USE_TRANSPORT_MODE] is present, then SAs are
// created in transport mode; otherwise, SAs are created in tunnel mode",
// which "MUST be tunnel mode with address preservation" (4.4.2); our
// key server's private-use GATEWAY_TUNNELS asks for tunnels to gateways.
SaMode registration_mode(const std::vector<Payload> &inner)
{
	SaMode mode = SaMode::Tunnel;
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (!n)
			continue;
		if (n.value().type == static_cast<uint16_t>(NotifyType::UseTransportMode))
			return SaMode::Transport;
		if (n.value().type == static_cast<uint16_t>(NotifyType::GatewayTunnels))
			mode = SaMode::Gateway;
	}
	return mode;
}

// RFC 9838 section 5 ("Using G-IKEv2 Attributes"): the attributes a
// message may carry, by the table of multicast rekey operations (a
// registration with a GSA KEK policy, GSA_REKEY) or of inband rekey
// operations (a registration without one, GSA_INBAND_REKEY). What a
// table marks "-" ("Attribute MUST NOT be present") is refused: the
// message is malformed and changes nothing.
Result<Done> check_attribute_table(const GsaKd &m, bool registration, bool inband)
{
	// the inband table applies to GSA_INBAND_REKEY and to a registration
	// that gives no Rekey SA (4.4: "if the group policy does not require
	// the use of a Rekey SA, the GCKS would not need to send a GSA KEK
	// policy to the group member since all SA updates would be performed
	// using the GSA_INBAND_REKEY exchange via the unicast IKE SA")
	const bool inband_table = inband || (registration && !m.gsa.kek);
	const std::string where = inband ? "GSA_INBAND_REKEY" : registration ? "a registration without a Rekey SA"
									     : "GSA_REKEY";
	if (inband_table) {
		// GSA_INITIAL_MESSAGE_ID "-" (2.3.4: it "MUST NOT be used if
		// inband rekey (via the GSA_INBAND_REKEY exchange) is employed")
		if (m.gsa.kek && m.gsa.kek->initial_message_id)
			return fail(WireError::BadValue, "GSA_INITIAL_MESSAGE_ID in " + where);
		// GSA_NEXT_SPI "-" (4.4.2.2.3: "MUST NOT be used if inband rekey
		// ... is employed")
		bool next_spi = m.gsa.kek && !m.gsa.kek->next_spis.empty();
		for (const GsaPolicy &p : m.gsa.teks)
			next_spi = next_spi || !p.next_spis.empty();
		if (next_spi)
			return fail(WireError::BadValue, "GSA_NEXT_SPI in " + where);
		// WRAP_KEY "-" (4.5.3.1: it "MUST NOT be used if inband rekey
		// ... is employed"), AUTH_KEY "-"; in GSA_INBAND_REKEY also
		// GM_SENDER_ID "-" (4.5.3.3) and the member key bag as a whole
		// (4.5.3: it "MUST only be sent via unicast SA at the time the GM
		// registers to the group")
		if (const auto &mb = m.kd.member_key_bag) {
			if (!mb->wrap_keys.empty())
				return fail(WireError::BadValue, "WRAP_KEY in " + where);
			if (mb->auth_key)
				return fail(WireError::BadValue, "AUTH_KEY in " + where);
			if (inband)
				return fail(WireError::BadValue, "member key bag in " + where);
		}
	}
	// GWP_SENDER_ID_BITS "-" in GSA_REKEY and GSA_INBAND_REKEY (both
	// tables, note (1): it is for the registration of a sender)
	if (!registration && m.gsa.group_wide && m.gsa.group_wide->sender_id_bits)
		return fail(WireError::BadValue, "GWP_SENDER_ID_BITS in " + where);
	// 4.5.2.1: "in the GSA_AUTH, GSA_REGISTRATION and GSA_INBAND_REKEY
	// exchanges exactly one SA_KEY attribute MUST be present" in a Rekey
	// SA's key bag
	if (inband)
		for (const GroupKeyBag &b : m.kd.group_key_bags)
			if (b.protocol == static_cast<uint8_t>(SecurityProtocol::GikeUpdate) && b.sa_keys.size() != 1)
				return fail(WireError::BadValue, "a Rekey SA key bag of other than one SA_KEY in " + where);
	return Done{};
}

} // namespace

Result<Done> GroupMember::apply(GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
				bool registration, bool *excluded, uint32_t rekey_id, bool inband)
{
	auto u = plan(g, inner, default_kwk, registration, excluded, rekey_id, inband);
	if (!u)
		return u.error();
	commit(g, std::move(u).value());
	return Done{};
}

Result<GmUpdate> GroupMember::plan(const GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
				   bool registration, bool *excluded, uint32_t rekey_id, bool inband)
{
	const uint64_t t = ctx_.now();
	auto m = decode_gsa_kd(inner, registration);
	if (!m)
		return m.error();
	auto rules = check_attribute_table(m.value(), registration, inband);
	if (!rules)
		return rules.error();
	GmUpdate u;
	u.registration = registration;
	u.rekey_id = rekey_id;
	u.deletes = m.value().deletes;
	u.delete_teks = m.value().delete_teks;
	u.kek_deletes = m.value().kek_deletes;
	u.excluded = m.value().excluded;
	u.group_wide = m.value().gsa.group_wide;
	if (!registration)
		u.store = g.keys;
	// a registration says afresh how rekeys are authenticated (its Rekey
	// SA's GCAUTH); one without a Rekey SA (GSA_INBAND_REKEY, whose
	// registration has no AUTH_KEY: RFC 9838 4.4.2.1.1, the inband table)
	// leaves none of the previous registration's
	u.signature = registration ? false : g.gcauth_signature;
	if (!registration)
		u.sig_alg = g.sig_alg;
	u.mode = registration ? registration_mode(inner) : g.mode;
	if (registration) {
		if (auto why = ctx_.deps.sas->refuse(g.cfg.name, u.mode))
			return fail(WireError::Unsupported, *why);
	}
	static const KeyPath none;
	Planner pl{m.value(), default_kwk, registration, excluded, u, ctx_.wrapper, registration ? none : g.path, {}};
	if (registration) {
		for (const GroupKeyBag &b : m.value().kd.group_key_bags)
			for (const WrappedKey &w : b.sa_keys)
				if (w.key_id != 0)
					pl.wraps.push_back(&w);
		if (m.value().kd.member_key_bag) {
			auto r = plan_member_bag(pl, *m.value().kd.member_key_bag);
			if (!r)
				return r.error();
		}
	} else {
		auto r = check_rekey_kd(pl);
		if (!r)
			return r.error();
	}
	if (m.value().gsa.kek) {
		auto r = plan_kek(pl, *m.value().gsa.kek, g.cfg.rekey_auth, t);
		if (!r)
			return r.error();
	} else if (registration) {
		// no Rekey SA: the key server rekeys by GSA_INBAND_REKEY only,
		// and no GSA_REKEY is to be authenticated
		u.signature = false;
		u.sig_alg.clear();
	}
	for (const GsaPolicy &p : m.value().gsa.teks) {
		auto tek = plan_tek(pl, p, g.cfg.name, t);
		if (!tek)
			return tek.error();
		tek.value().sa.mode = u.mode;
		u.fresh.push_back(std::move(tek).value());
	}
	if (registration && !u.new_kek && u.fresh.empty())
		return fail(WireError::Missing, "registration without SAs");
	if (registration) {
		// a registration replaces the Working Key Path, empty if the
		// key server uses no hierarchy
		if (!u.path)
			u.path = registration_path(pl);
		if (!u.path)
			u.path.emplace();
	}
	std::optional<Bytes> auth_key;
	if (m.value().kd.member_key_bag)
		auth_key = m.value().kd.member_key_bag->auth_key;
	auto a = check_auth_key(g, u, auth_key);
	if (!a)
		return a.error();
	// (section 5, note (1): with a counter-mode cipher and our
	// N(GROUP_SENDER) "At least one GM_SENDER_ID attribute MUST be
	// present"; a key server that sends none is still taken, since the
	// data plane does not build IVs from Sender-IDs)
	return u;
}

// RFC 9838 4.4.2.1.1: with Digital Signature "the GCKS MUST include the
// AUTH_KEY attribute containing the public key into the KD payload at the
// time the GM is registered"; with Implicit it "MUST NOT include the
// AUTH_KEY attribute". A GSA_REKEY may carry a new one (4.4.2.1.1 table
// note 4), taken once its message verified with the key we hold. Where the
// operator loaded trusted keys of the key server's identity (its
// certificate or raw key, as for GSA_AUTH), AUTH_KEY must be one of them:
// the key is the authenticated identity's, not just whoever holds the
// registration IKE SA.
Result<Done> GroupMember::check_auth_key(const GmGroup &g, GmUpdate &u, const std::optional<Bytes> &key)
{
	if (!u.signature) {
		if (key)
			return fail(WireError::BadValue, "AUTH_KEY with implicit authentication (GCAUTH Implicit)");
		return Done{};
	}
	if (!key) {
		if (u.registration)
			return fail(WireError::Missing, "registration without AUTH_KEY (GCAUTH Digital Signature)");
		return Done{};
	}
	if (key->empty())
		return fail(WireError::BadValue, "empty AUTH_KEY");
	if (!u.registration && *key == g.auth_key)
		return Done{};
	std::vector<Bytes> pins = ctx_.deps.credentials->trusted_keys(g.cfg.server_id);
	if (!pins.empty() && std::find(pins.begin(), pins.end(), *key) == pins.end()) {
		ctx_.log_error("group " + g.cfg.name + ": the key server's AUTH_KEY is not a trusted key of " +
			       g.cfg.server_id.str() + " (pinned): its " +
			       (u.registration ? "registration" : "rekey") + " is refused");
		return fail(WireError::IntegrityFailed, "AUTH_KEY is not a trusted key of " + g.cfg.server_id.str());
	}
	u.auth_key = *key;
	return Done{};
}

void GroupMember::commit(GmGroup &g, GmUpdate u)
{
	const uint64_t t = ctx_.now();
	g.keys = std::move(u.store);
	log_keys(g, u);
	if (u.path)
		g.path = std::move(*u.path);
	if (u.group_wide) {
		g.atd = u.group_wide->activation_time_delay.value_or(0);
		g.dtd = u.group_wide->deactivation_time_delay.value_or(0);
	}
	const uint64_t dtd_ms = uint64_t(g.dtd) * 1000;
	if (u.registration) {
		g.gcauth_signature = u.signature;
		g.sig_alg = u.sig_alg;
		g.sender_ids = std::move(u.sender_ids);
		if (u.mode != g.mode) {
			// the key server changed the SAs' mode: the TEKs it names
			// again are installed anew in the new one
			for (const GmTek &o : g.teks)
				ctx_.deps.sas->remove(g.cfg.name, o.sa.spi);
			g.teks.clear();
		}
		g.mode = u.mode;
		g.auth_key.clear();
	}
	if (u.auth_key)
		g.auth_key = std::move(*u.auth_key);
	if (u.excluded) {
		excluded_by_delete(g);
		return;
	}
	commit_kek(g, u, dtd_ms);
	commit_deletes(g, u);
	commit_teks(g, u);
	for (uint32_t spi : u.deletes) {
		for (GmTek &o : g.teks) {
			if (o.sa.spi != spi || !o.current)
				continue;
			o.current = false;
			o.remove_ms = t + dtd_ms;
		}
	}
}

// RFC 9838 2.4.1.4: an SA a Delete names "MUST be silently deleted after
// waiting DEACTIVATION_TIME_DELAY interval regardless of its expiration
// time". D(ESP, 0) retires every TEK held before this message (its own new
// ones stay); D(GIKE_UPDATE, SPI) closes that Rekey SA after the delay (the
// current one becomes the old one until then), after which the member
// takes no GSA_REKEY over it and registers again before its TEKs end.
void GroupMember::commit_deletes(GmGroup &g, const GmUpdate &u)
{
	const uint64_t t = ctx_.now(), dtd_ms = uint64_t(g.dtd) * 1000;
	if (u.delete_teks)
		for (GmTek &o : g.teks)
			if (o.current) {
				o.current = false;
				o.remove_ms = t + dtd_ms;
			}
	for (const Bytes &spi : u.kek_deletes) {
		if (g.old_kek && g.old_kek->spi == spi)
			g.old_kek_remove_ms = t + dtd_ms;
		if (g.kek && g.kek->spi == spi) {
			g.old_kek = g.kek;
			g.old_kek_remove_ms = t + dtd_ms;
			g.kek.reset();
		}
	}
}

void GroupMember::log_keys(const GmGroup &g, const GmUpdate &u)
{
	if (u.new_kek)
		ctx_.log_rekey_sa(*u.new_kek);
	if (!ctx_.deps.keylog)
		return;
	if (u.new_kek)
		ctx_.deps.keylog->member_key(g.cfg.name, "kek", to_hex(u.new_kek->spi), u.new_kek->keymat, u.rekey_id);
	// the Working Key Path's keys this message brought (kind "wrap", the
	// Key ID in hex)
	if (u.path)
		for (const HeldKey &k : *u.path) {
			bool had = std::any_of(g.path.begin(), g.path.end(),
					       [&](const HeldKey &o) { return o.id == k.id && o.key == k.key; });
			if (had && !u.registration)
				continue;
			Bytes id;
			wire::put_u32(id, k.id);
			ctx_.deps.keylog->member_key(g.cfg.name, "wrap", to_hex(id), k.key, u.rekey_id);
		}
}

void GroupMember::commit_kek(GmGroup &g, GmUpdate &u, uint64_t dtd_ms)
{
	if (!u.new_kek) {
		if (u.registration) {
			g.kek.reset();
			g.old_kek.reset();
		}
		return;
	}
	if (u.registration || !g.kek) {
		g.old_kek.reset();
	} else {
		g.old_kek = g.kek;
		g.old_kek_remove_ms = ctx_.now() + dtd_ms;
	}
	// RFC 9838 2.4.1.4: a new Rekey SA's first expected message ID is its
	// GSA_INITIAL_MESSAGE_ID, "if the GSA_INITIAL_MESSAGE_ID attribute is
	// not received for the Rekey SA, the GM MUST assume zero"; a Rekey SA
	// we hold already (a registration naming it again) keeps what it has
	// accepted: 2.3.3, the attribute "MUST be checked by a GM against any
	// previously received Message ID", a lower one "should be considered
	// stale and MUST be ignored"
	u.new_kek->next_message_id = u.initial_id;
	for (const std::optional<RekeySa> *held : {&g.kek, &g.old_kek})
		if (*held && (*held)->spi == u.new_kek->spi)
			u.new_kek->next_message_id = std::max(u.new_kek->next_message_id, (*held)->next_message_id);
	g.kek = std::move(u.new_kek);
}

void GroupMember::commit_teks(GmGroup &g, GmUpdate &u)
{
	const uint64_t t = ctx_.now();
	if (u.registration) {
		for (auto it = g.teks.begin(); it != g.teks.end();) {
			bool kept = std::any_of(u.fresh.begin(), u.fresh.end(),
						[&](const GmTek &f) { return f.sa.spi == it->sa.spi; });
			if (!kept) {
				ctx_.deps.sas->remove(g.cfg.name, it->sa.spi);
				it = g.teks.erase(it);
			} else {
				++it;
			}
		}
	}
	// a rekey's new SAs receive at once and send after the activation
	// delay, so that every member can receive them by then
	const bool delayed = !u.registration && g.atd > 0 && !g.teks.empty();
	for (GmTek &f : u.fresh) {
		auto have = std::find_if(g.teks.begin(), g.teks.end(), [&](const GmTek &o) { return o.sa.spi == f.sa.spi; });
		if (have != g.teks.end()) {
			have->expires_ms = f.expires_ms;
			continue;
		}
		if (!g.cfg.sender) {
			// not a declared group sender (no N(GROUP_SENDER), so no
			// Sender-ID): receive only, never send
			f.sa.outbound = false;
		} else if (delayed) {
			f.sa.outbound = false;
			f.activate_ms = t + uint64_t(g.atd) * 1000;
		}
		if (!ctx_.deps.sas->install(f.sa))
			continue;
		if (ctx_.deps.keylog) {
			SecretBytes keymat;
			keymat.reserve(f.sa.encryption_key.size() + f.sa.integrity_key.size()); // no copy left behind
			keymat.insert(keymat.end(), f.sa.encryption_key.begin(), f.sa.encryption_key.end());
			keymat.insert(keymat.end(), f.sa.integrity_key.begin(), f.sa.integrity_key.end());
			Bytes spi;
			wire::put_u32(spi, f.sa.spi);
			ctx_.deps.keylog->member_key(g.cfg.name, "tek", to_hex(spi), keymat, u.rekey_id);
		}
		g.teks.push_back(std::move(f));
	}
}

} // namespace groupsec::gdoi::detail
