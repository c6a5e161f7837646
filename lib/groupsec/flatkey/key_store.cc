#include "groupsec/flatkey/key_store.h"

namespace groupsec {
namespace flatkey {

void KeyStore::add(const KeyId &id, const KeySlot &slot)
{
	auto &versions = keys_[id];
	for (auto &v : versions) {
		if (v.version == slot.version && v.creator == slot.creator) {
			if (slot.revision < v.revision) {
				v.revision = slot.revision;
				v.key = slot.key;
			}
			return;
		}
	}
	versions.push_back(Version{slot.version, slot.creator, slot.revision,
				   slot.key});
}

std::optional<Key> KeyStore::find(const KeyRef &ref) const
{
	auto it = keys_.find(ref.id);
	if (it == keys_.end())
		return std::nullopt;
	for (const auto &v : it->second) {
		if (v.version != ref.version || v.creator != ref.creator)
			continue;
		if (v.revision > ref.revision)
			return std::nullopt;
		// Revisions are one-way steps; a long jump is not a
		// legitimate message.
		if (ref.revision - v.revision > 4096)
			return std::nullopt;
		return advance_revision(v.key, ref.revision - v.revision);
	}
	return std::nullopt;
}

size_t KeyStore::apply(const KeyMessage &m, KeyWrapper &wrapper)
{
	size_t learned = 0;
	std::vector<bool> done(m.entries.size(), false);
	bool progress = true;
	while (progress) {
		progress = false;
		for (size_t i = 0; i < m.entries.size(); i++) {
			if (done[i])
				continue;
			const WrappedKey &e = m.entries[i];
			if (knows(e.wrapped)) {
				done[i] = true;
				continue;
			}
			if (e.is_notice()) {
				// Holders of an older revision advance.
				KeyRef older = e.wrapped;
				older.revision = 0;
				auto it = keys_.find(e.wrapped.id);
				if (it == keys_.end())
					continue;
				for (const auto &v : it->second)
					if (v.version == older.version &&
					    v.creator == older.creator &&
					    v.revision <= e.wrapped.revision) {
						done[i] = true;
						break;
					}
				continue;
			}
			std::vector<Key> parts;
			for (const auto &w : e.wrapping) {
				auto k = find(w);
				if (!k)
					break;
				parts.push_back(*k);
			}
			if (parts.size() != e.wrapping.size())
				continue;
			std::vector<const Key *> ptrs;
			for (const auto &p : parts)
				ptrs.push_back(&p);
			Key kek = combine_keys(ptrs);
			std::optional<Key> got;
			if (e.is_derived())
				got = derive_replacement(kek);
			else
				got = wrapper.unwrap_key(kek, e.ciphertext);
			done[i] = true;
			if (!got)
				continue;
			KeySlot s;
			s.key = *got;
			s.version = e.wrapped.version;
			s.revision = e.wrapped.revision;
			s.creator = e.wrapped.creator;
			add(e.wrapped.id, s);
			learned++;
			progress = true;
		}
	}
	return learned;
}

std::optional<KeySlot> KeyStore::newest(const KeyId &id) const
{
	auto it = keys_.find(id);
	if (it == keys_.end() || it->second.empty())
		return std::nullopt;
	const Version *best = nullptr;
	for (const auto &v : it->second)
		if (!best || v.version > best->version)
			best = &v;
	KeySlot s;
	s.key = best->key;
	s.version = best->version;
	s.revision = best->revision;
	s.creator = best->creator;
	return s;
}

void KeyStore::merge_from(const KeyStore &other)
{
	for (const auto &kv : other.keys_)
		for (const auto &v : kv.second)
			add(kv.first, KeySlot{v.key, v.version, v.revision,
					      v.creator});
}

size_t KeyStore::size() const
{
	size_t n = 0;
	for (const auto &kv : keys_)
		n += kv.second.size();
	return n;
}

} // namespace flatkey
} // namespace groupsec
