// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table: what one participant knows. A member keeps its
// TEK, KEKs and individual key here and applies every rekey message it sees;
// the store unwraps whatever it can, advancing revisions with the one-way
// function where a message names a newer revision of a key it holds. The
// same store, filled with the keys of removed members, is the adversary in
// the tests.
#pragma once

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/key_message.h"

#include <map>
#include <optional>
#include <vector>

namespace groupsec::flatkey {

struct KeySlot {
	Key key{};
	uint32_t version = 0;
	uint32_t revision = 0;
	uint32_t creator = 0;
};

// Outcome of KeyStore::receive().
enum class ReceiveError {
	None = 0,
	// The store does not hold the TEK the message starts from: a message
	// was missed. Nothing changed.
	OutOfDate,
	// A key the store holds failed the key wrap integrity check (the
	// store's key is stale or the message was altered). Nothing changed.
	Integrity,
	// Nothing in the message is for this store (a removed member).
	Excluded,
};

const char *to_string(ReceiveError e);

struct ReceiveResult {
	ReceiveError error = ReceiveError::None;
	size_t learned = 0;
	bool ok() const { return error == ReceiveError::None; }
};

class KeyStore {
public:
	// Learns a key; keeps every version (and the lowest revision seen of
	// each, later revisions being computable).
	void add(const KeyId &id, const KeySlot &slot);
	// The key ref names, advancing a held revision if needed; nullopt if
	// this store cannot know it.
	std::optional<Key> find(const KeyRef &ref) const;
	// Applies a message: repeatedly unwraps and derives every entry it
	// can until nothing changes. Returns how many keys it learned. A
	// decoded compact message (versions_implied) goes through receive().
	size_t apply(const KeyMessage &m, KeyWrapper &wrapper);
	// A member's receipt of a message: a compact message from the wire is
	// applied in order, each key taken at its current version (after the
	// earlier entries), all or nothing; other messages as apply().
	ReceiveResult receive(const KeyMessage &m, KeyWrapper &wrapper);
	// The newest version of id at the newest revision announced for it.
	std::optional<KeySlot> current(const KeyId &id) const;
	// The newest version (then revision) held of id.
	std::optional<KeySlot> newest(const KeyId &id) const;
	bool knows(const KeyRef &ref) const { return find(ref).has_value(); }
	// Everything this store holds joined with other.
	void merge_from(const KeyStore &other);
	size_t size() const;

private:
	struct Version {
		uint32_t version;
		uint32_t creator;
		uint32_t revision;
		Key key;
		// newest revision announced or learned, and the key there
		uint32_t cur_revision;
		Key cur_key;
	};
	void note_revision(const KeyRef &ref);
	ReceiveResult receive_compact(const KeyMessage &m, KeyWrapper &wrapper);

	// Changes of a compact message, committed only if all of it applies.
	using Updates = std::map<KeyId, KeySlot>;
	std::optional<KeySlot> pending(const Updates &upd, const KeyId &id) const;
	void plan_revision_step(const KeyMessage &m, const KeySlot &tek, Updates &upd,
				std::optional<Key> &tekp) const;
	ReceiveError plan_compact_entry(const WrappedKey &e, KeyWrapper &wrapper, Updates &upd,
					std::optional<Key> &tekp) const;
	ReceiveError plan_carried(const WrappedKey &e, const Key &kek, KeyWrapper &wrapper,
				  Updates &upd, std::optional<Key> &tekp) const;
	void plan_leaver_keks(const LeaverNotice &leavers, const Key &tekp, Updates &upd) const;

	enum class EntryStep { Pending, Done, Learned };
	bool holds_older(const KeyRef &ref) const;
	std::optional<Key> unwrap_carried(const WrappedKey &e, const Key &kek, KeyWrapper &wrapper,
					  size_t &learned);
	EntryStep apply_entry(const WrappedKey &e, KeyWrapper &wrapper, size_t &learned);
	size_t apply_leaver_notice(const KeyMessage &m);
	std::map<KeyId, std::vector<Version>> keys_;
};

} // namespace groupsec::flatkey
