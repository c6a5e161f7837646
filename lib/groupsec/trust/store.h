// SPDX-License-Identifier: GPL-2.0-or-later
// The store of trust lists: several collections at once, each enabled,
// disabled or conditional (active only while a named condition holds),
// kept in a directory across restarts, one file a collection written
// atomically. Import verifies first and changes nothing on any failure.
// The trusted set is the certificates of the active collections within
// their policy, per group and use, at the injected clock's time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/trust/certificate.h"
#include "groupsec/trust/collection.h"

namespace groupsec::trust {

enum class State { Enabled = 0, Disabled = 1, Conditional = 2 };
const char *state_name(State s); // "enabled", "disabled", "conditional"
Result<State> parse_state(std::string_view s);

// What a conditional collection depends on, as text "KIND:ARGUMENT":
//   registered:GROUP    registered as a member to GROUP's key server
//   connected:IDENTITY  an IKE SA with IDENTITY is established
struct Condition {
	std::string kind;
	std::string argument;
	std::string text() const { return kind + ":" + argument; }
};
Result<Condition> parse_condition(std::string_view text);

// Says whether a condition holds now (the daemon's view of its SAs).
class ConditionSource {
public:
	virtual ~ConditionSource() = default;
	virtual bool holds(const Condition &c) const = 0;
};

// No condition holds: what a tool without a daemon sees.
class NoConditions : public ConditionSource {
public:
	bool holds(const Condition &) const override { return false; }
};

// The files of the store, by name (no path separators).
class TrustFs {
public:
	virtual ~TrustFs() = default;
	virtual Result<std::vector<std::string>> list() = 0;
	virtual Result<Bytes> read(const std::string &name) = 0;
	// the new content or the old, never a mix, also across a crash
	virtual Result<bool> write_atomic(const std::string &name, ByteView data) = 0;
	virtual Result<bool> remove(const std::string &name) = 0;
};

// A directory (created 0700 when missing): temporary file, fsync, rename,
// fsync of the directory.
class DirectoryFs : public TrustFs {
public:
	explicit DirectoryFs(std::string dir) : dir_(std::move(dir)) {}
	Result<bool> prepare();
	Result<std::vector<std::string>> list() override;
	Result<Bytes> read(const std::string &name) override;
	Result<bool> write_atomic(const std::string &name, ByteView data) override;
	Result<bool> remove(const std::string &name) override;

private:
	std::string dir_;
};

// One collection as stored.
struct StoredCollection {
	TrustList list;
	std::vector<Certificate> signers; // the trusted signers it was verified against
	Bytes signed_der;   // the signed list as imported (decrypted)
	State state = State::Enabled;
	std::string condition; // "KIND:ARGUMENT" when conditional, else ""
	int64_t imported = 0;
};

// The file of a collection (StoredCollection in trust-lists.md); decoding
// verifies the signed list against the stored signers again.
Result<Bytes> encode_stored(const StoredCollection &c);
Result<StoredCollection> decode_stored(ByteView data);

struct ImportOptions {
	std::optional<State> state; // a new collection: enabled unless given
	std::string condition;      // with State::Conditional
	bool replace = false;       // replace a stored list of the same name by a newer serial
};

// A certificate the store trusts, and by which collection and policy.
struct TrustedCert {
	Certificate certificate;
	std::string collection;
	Policy policy;
};

class TrustStore {
public:
	TrustStore(TrustFs &fs, const WallClock &clock) : fs_(fs), clock_(clock) {}

	// Reads every stored collection; one that cannot be read or verified
	// is left out and its problem returned.
	std::vector<std::string> load();

	// Verifies the signed list against the trusted signers, checks it is
	// current, then stores it: all or nothing. Returns its name.
	Result<std::string> import(ByteView signed_der, const std::vector<Certificate> &trusted_signers,
				   const ImportOptions &opts);
	// the signed list as imported, to pass on
	Result<Bytes> export_signed(const std::string &name) const;
	const std::map<std::string, StoredCollection> &collections() const { return collections_; }
	const StoredCollection *find(const std::string &name) const;
	Result<bool> set_state(const std::string &name, State state, const std::string &condition = "");
	Result<bool> remove(const std::string &name);

	// enabled, or conditional with its condition holding; and current
	bool active(const StoredCollection &c, const ConditionSource &conditions) const;
	// The trusted set: with a group (non-empty) and use (non-zero) those
	// accepted for them, else every certificate within its validity.
	std::vector<TrustedCert> trusted(std::string_view group, uint32_t use,
					 const ConditionSource &conditions) const;
	// Whether cert is trusted for group and use now; the error says why not.
	Result<TrustedCert> check(const Certificate &cert, std::string_view group, uint32_t use,
				  const ConditionSource &conditions) const;

private:
	Result<bool> write(const StoredCollection &c);

	TrustFs &fs_;
	const WallClock &clock_;
	std::map<std::string, StoredCollection> collections_;
};

// the file name of a collection
std::string stored_file_name(const std::string &name);

} // namespace groupsec::trust
