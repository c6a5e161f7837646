// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/crypto.h"

#include <algorithm>
#include <cstring>

#include "groupsec/crypto/prf.h"

namespace groupsec::flatkey {

Key advance_revision(const Key &k)
{
	return crypto::hkdf_sha256(ByteView(k.data(), k.size()), "groupsec flatkey revision");
}

Key advance_revision(const Key &k, uint32_t steps)
{
	Key out = k;
	for (uint32_t i = 0; i < steps; i++)
		out = advance_revision(out);
	return out;
}

Key combine_keys(const std::vector<const Key *> &parts)
{
	if (parts.size() == 1)
		return *parts[0];
	SecretBytes ikm(parts.size() * kKeyBytes);
	auto at = ikm.begin();
	for (const Key *p : parts)
		at = std::copy(p->begin(), p->end(), at);
	return crypto::hkdf_sha256(ikm, "groupsec flatkey conjunction");
}

Key derive_replacement(const Key &combined)
{
	return crypto::hkdf_sha256(ByteView(combined.data(), combined.size()), "groupsec flatkey replacement");
}

Key xor_keys(const Key &a, const Key &b)
{
	Key out;
	for (size_t i = 0; i < out.size(); i++)
		out[i] = a[i] ^ b[i];
	return out;
}

std::vector<uint8_t> KeyWrapper::wrap(const Key &kek, const uint8_t *plain, size_t len)
{
	auto w = wrap_.wrap(ByteView(kek.data(), kek.size()), ByteView(plain, len));
	return w ? std::move(w).value() : std::vector<uint8_t>();
}

std::optional<std::vector<uint8_t>> KeyWrapper::unwrap(const Key &kek, const uint8_t *in, size_t len)
{
	auto p = wrap_.unwrap(ByteView(kek.data(), kek.size()), ByteView(in, len));
	if (!p)
		return std::nullopt;
	return std::vector<uint8_t>(p.value().begin(), p.value().end());
}

std::optional<Key> KeyWrapper::unwrap_key(const Key &kek, const std::vector<uint8_t> &in)
{
	auto p = wrap_.unwrap(ByteView(kek.data(), kek.size()), in);
	if (!p || p.value().size() != kKeyBytes)
		return std::nullopt;
	Key k;
	std::memcpy(k.data(), p.value().data(), k.size());
	return k;
}

} // namespace groupsec::flatkey
