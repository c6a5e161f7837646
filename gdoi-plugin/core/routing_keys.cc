// SPDX-License-Identifier: GPL-2.0-or-later
#include "routing_keys.h"

#include <algorithm>
#include <string>

#include "engine_impl.h"
#include "groupsec/crypto/prf.h"

namespace groupsec::gdoi {

SecretBytes derive_routing_key(ByteView tek_keymat, uint32_t epoch, const Identity &group_id)
{
	std::string info(kRoutingKeyLabel);
	info.push_back('\0');
	for (int shift = 24; shift >= 0; shift -= 8)
		info.push_back(static_cast<char>(epoch >> shift));
	info.push_back(static_cast<char>(group_id.type));
	info.append(group_id.data.begin(), group_id.data.end());
	crypto::Key256 k = crypto::hkdf_sha256(tek_keymat, info);
	SecretBytes out(k.begin(), k.end());
	OPENSSL_cleanse(k.data(), k.size());
	return out;
}

std::optional<uint32_t> routing_epoch(const std::vector<uint32_t> &current_spis)
{
	if (current_spis.empty())
		return std::nullopt;
	return *std::min_element(current_spis.begin(), current_spis.end());
}

std::vector<GroupRoutingKey> Engine::routing_keys() const
{
	std::vector<GroupRoutingKey> out;
	for (const auto &[name, g] : impl_->gcks.groups) {
		GroupRoutingKey r{name, g->cfg.group_id, true, std::nullopt};
		std::vector<uint32_t> spis;
		for (const detail::GcksTek &t : g->teks)
			if (t.current)
				spis.push_back(t.spi);
		if (auto epoch = routing_epoch(spis)) {
			for (const detail::GcksTek &t : g->teks)
				if (t.current && t.spi == *epoch)
					r.key = RoutingKey{*epoch, derive_routing_key(t.keymat, *epoch, g->cfg.group_id)};
		}
		out.push_back(std::move(r));
	}
	for (const auto &[name, g] : impl_->gm.groups) {
		GroupRoutingKey r{name, g->cfg.group_id, false, std::nullopt};
		std::vector<uint32_t> spis;
		for (const detail::GmTek &t : g->teks)
			if (t.current)
				spis.push_back(t.sa.spi);
		if (auto epoch = routing_epoch(spis)) {
			for (const detail::GmTek &t : g->teks) {
				if (!t.current || t.sa.spi != *epoch)
					continue;
				// KEYMAT as the key server drew it: encryption key (with
				// its salt), then integrity key
				SecretBytes keymat;
				keymat.reserve(t.sa.encryption_key.size() + t.sa.integrity_key.size());
				keymat.insert(keymat.end(), t.sa.encryption_key.begin(), t.sa.encryption_key.end());
				keymat.insert(keymat.end(), t.sa.integrity_key.begin(), t.sa.integrity_key.end());
				r.key = RoutingKey{*epoch, derive_routing_key(keymat, *epoch, g->cfg.group_id)};
			}
		}
		out.push_back(std::move(r));
	}
	return out;
}

} // namespace groupsec::gdoi
