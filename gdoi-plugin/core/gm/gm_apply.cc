// SPDX-License-Identifier: GPL-2.0-or-later
// GSA and KD as a member applies them: the Working Key Path (flat key
// store, key tree path), the Rekey SA, the TEKs; worked out first, then
// committed.
#include "group_member.h"

#include <algorithm>

#include "../gikev2_wire.h"
#include <map>

#include <openssl/crypto.h>

#include "../engine_util.h"
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

uint16_t transform_key_bits(const Transform &t)
{
	return ike::key_length(t);
}

} // namespace

// --- GSA and KD ---

Result<Done> GroupMember::apply(GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
				    bool registration, bool *excluded, uint32_t rekey_id)
{
	const uint64_t t = ctx_.now();
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
		if (auto n = tree_node_from_id(kwk_id)) {
			if (tree) {
				const keytree::MemberKeys &k = tree->keys();
				if (n->level <= k.depth && n->pos == k.leaf >> n->level)
					out.emplace_back(k.path[n->level].begin(), k.path[n->level].end());
			}
			return out;
		}
		auto id = flat_key_from_id(kwk_id);
		if (!id)
			return out;
		if (auto s = store.current(*id))
			out.emplace_back(s->key.begin(), s->key.end());
		return out;
	};
	std::vector<uint32_t> sender_ids;
	if (kd->member_key_bag) {
		for (const Bytes &sid : kd->member_key_bag->sender_ids) {
			if (sid.size() != kSenderIdBits / 8)
				return fail(WireError::BadLength, "GM_SENDER_ID of the wrong size");
			sender_ids.push_back(uint32_t(sid[0]) << 8 | sid[1]);
		}
		// key tree path keys at registration, by level
		std::map<uint8_t, std::pair<uint32_t, keytree::Key>> tree_keys;
		std::optional<std::pair<uint64_t, uint8_t>> tree_state;
		for (const WrappedKey &w : kd->member_key_bag->wrap_keys) {
			if (auto n = tree_node_from_id(w.key_id)) {
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
			auto id = flat_key_from_id(w.key_id);
			if (!id)
				return fail(WireError::BadValue, "WRAP_KEY with an unknown Key ID");
			std::optional<flatkey::KeySlot> slot;
			for (const SecretBytes &kwk : kwk_for(w.kwk_id)) {
				auto plain = ike::key_unwrap(kwk, w.encrypted_key);
				if (plain && (slot = flat_wrap_slot(plain.value())))
					break;
			}
			if (!slot)
				return fail(WireError::IntegrityFailed, "WRAP_KEY does not unwrap");
			store.add(*id, *slot);
		}
		for (const Attribute &a : kd->member_key_bag->other_attributes) {
			if (!a.tv && a.type == kKeyTreeStateAttribute) {
				if (!registration || a.value.size() != kKeyTreeStateBytes || tree_state)
					return fail(WireError::BadValue, "key tree state attribute");
				wire::Reader r(a.value);
				uint64_t epoch = 0;
				uint8_t depth = 0;
				r.u64(epoch);
				r.u8(depth);
				tree_state = std::make_pair(epoch, depth);
				continue;
			}
			if (!a.tv && a.type == kKeyTreeMessageAttribute) {
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
			if (a.tv || a.type != kFlatKeyMessageAttribute)
				continue;
			flatkey::DecodeResult m = flatkey::decode(a.value.data(), a.value.size());
			if (!m.ok())
				return fail(WireError::BadValue,
					    std::string("flat key table message: ") + flatkey::to_string(m.error));
			// a message that does not start from our TEK (an
			// announcement older than our registration) changes
			// nothing; one we cannot read leaves us without the
			// new TEK, which the Rekey SA's keys need
			store.receive(m.message, ctx_.wrapper);
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
				if (plain && plain.value().size() == kKekKeymatBytes) {
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
		new_kek = make_rekey_sa(p.spi, *keymat, p.key_lifetime.value_or(86400), t);
		ctx_.log_rekey_sa(*new_kek);
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
	if (ctx_.deps.keylog) {
		if (new_kek)
			ctx_.deps.keylog->member_key(g.cfg.name, "kek", hex_text(new_kek->spi), new_kek->keymat,
						rekey_id);
		if (tree_changed) {
			const keytree::MemberKeys &k = g.tree->keys();
			for (size_t l = 0; l < k.path.size(); l++)
				ctx_.deps.keylog->member_key(g.cfg.name, "tree",
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
				ctx_.deps.sas->remove(g.cfg.name, it->sa.spi);
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
		if (!ctx_.deps.sas->install(f.sa))
			continue;
		if (ctx_.deps.keylog) {
			SecretBytes keymat;
			keymat.reserve(f.sa.encryption_key.size() + f.sa.integrity_key.size()); // no copy left behind
			keymat.insert(keymat.end(), f.sa.encryption_key.begin(), f.sa.encryption_key.end());
			keymat.insert(keymat.end(), f.sa.integrity_key.begin(), f.sa.integrity_key.end());
			Bytes spi;
			wire::put_u32(spi, f.sa.spi);
			ctx_.deps.keylog->member_key(g.cfg.name, "tek", hex_text(spi), keymat, rekey_id);
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

} // namespace groupsec::gdoi::detail
