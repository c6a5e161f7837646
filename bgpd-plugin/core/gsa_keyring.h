// SPDX-License-Identifier: GPL-2.0-or-later
// The routing keys of sealed routes (docs/bgp-gsa.md "Keys and epochs"):
// per group the key of the current epoch, which seals, and the key of the
// previous epoch, which still opens for a grace period after the change
// (on an injected clock); and the routes sealed under each epoch, so that
// after a change the keyring says which to seal again.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/secret_bytes.h"
#include "groupsec/crypto/clock.h"
#include "gsa_seal_codec.h"

namespace groupsec::bgp {

class Keyring {
public:
	// Retired epochs remembered per group (not their keys), to tell an old
	// epoch (EpochExpired) from one never seen (UnknownEpoch).
	static constexpr size_t kRetiredKept = 16;

	Keyring(const crypto::Clock &clock, uint64_t grace_ms) : clock_(clock), grace_ms_(grace_ms) {}

	// Applies to the current previous epochs too.
	void set_grace_ms(uint64_t grace_ms)
	{
		if (grace_ms != grace_ms_)
			changes_++;
		grace_ms_ = grace_ms;
	}
	uint64_t grace_ms() const { return grace_ms_; }

	// The group's key of epoch (32 octets). true: the epoch changed (the
	// current one became the previous one, its grace period started);
	// false: the same epoch and key again, nothing changed. Invalid for
	// epoch 0, a key of another size, or the current epoch with another
	// key (nothing changes then).
	SealResult<bool> update(uint32_t group, uint32_t epoch, ByteView key);
	// The group is gone: its keys and noted routes too.
	void remove(uint32_t group);

	std::optional<uint32_t> epoch(uint32_t group) const;
	struct Previous {
		uint32_t epoch = 0;
		uint64_t grace_left_ms = 0; // 0: expired
	};
	std::optional<Previous> previous(uint32_t group) const;
	std::vector<uint32_t> groups() const;

	// The key that seals for group now, with its epoch; UnknownGroup if none.
	struct SealingKey {
		uint32_t epoch = 0;
		const SecretBytes *key = nullptr;
	};
	SealResult<SealingKey> sealing_key(uint32_t group) const;
	// The key that opens group's epoch: the current one, or the previous
	// one within its grace period (previous = true). UnknownGroup,
	// EpochExpired (the previous epoch past its grace, or an older one),
	// UnknownEpoch (never seen: newer than ours, or forged).
	struct OpeningKey {
		const SecretBytes *key = nullptr;
		bool previous = false;
	};
	SealResult<OpeningKey> opening_key(uint32_t group, uint32_t epoch) const;

	// Seals and opens with the keys of the ring.
	SealResult<Bytes> seal(uint32_t group, ByteView originator, const SealedRoutes &routes,
			       crypto::RandomSource &random, uint32_t *epoch = nullptr) const;
	struct Opened {
		uint32_t group = 0;
		uint32_t epoch = 0;
		bool previous = false;
		Bytes originator;
		SealedRoutes routes;
	};
	// One entry (a blob).
	SealResult<Opened> open(ByteView blob) const;
	SealResult<Opened> open(const SealedHeader &h) const;
	// The attribute's value, a list of entries: an error if the list does
	// not parse (nothing opened then), else one result per entry, in the
	// list's order (UnknownGroup for a group without a key).
	struct Entry {
		uint32_t group = 0;
		uint32_t epoch = 0;
		SealResult<Opened> opened = SealError{};
	};
	SealResult<std::vector<Entry>> open_list(ByteView value) const;

	// Re-sealing: a route (the caller's id) sealed for group under epoch.
	void note_sealed(uint64_t route, uint32_t group, uint32_t epoch);
	void forget(uint64_t route);
	// The group's routes sealed under another epoch than its current one,
	// in id order.
	std::vector<uint64_t> stale(uint32_t group) const;

	// What opens now, as a number that changes whenever the answer of
	// opening_key() may have changed: a key added, replaced or removed,
	// the grace period set, or a previous epoch's grace period ended. The
	// same number: every blob opens (or fails) as it did.
	uint64_t opening_version() const;

private:
	struct Epoch {
		uint32_t id = 0;
		SecretBytes key;
	};
	struct Group {
		Epoch current;
		std::optional<Epoch> previous;
		uint64_t changed_ms = 0;
		std::deque<uint32_t> retired;
	};
	struct Noted {
		uint32_t group = 0;
		uint32_t epoch = 0;
	};

	const crypto::Clock &clock_;
	uint64_t grace_ms_;
	std::map<uint32_t, Group> groups_;
	std::map<uint64_t, Noted> noted_;
	uint64_t changes_ = 0; // keys or grace changed
};

} // namespace groupsec::bgp
