// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec flat key table: member IDs. An ID is W symbols, symbol s taking
// one of V_s values (V may differ per symbol); each (symbol, value) pair
// names one KEK of the flat table. Optional extra symbol tables, whose
// symbols are derived from the primary ID by hashing, add KEKs that a batch
// leave can fall back on against colluding members.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace groupsec::flatkey {

// The primary symbols of a member, symbol 0 first (the least significant
// digit when an ID is read as a number).
using MemberId = std::vector<uint8_t>;

// A family of extra symbols: `symbols` symbols of `values` values each,
// derived from the primary ID. A batch leave of about k members covers the
// remaining members cheaply with single KEKs of the family whose V is near
// k/2 (docs/flat-key-table.md).
struct SymbolFamily {
	uint16_t values = 2;   // 2..256
	uint16_t symbols = 1;  // 1..4080, split into tables of at most 255
};

class IdLayout {
public:
	// primary: V per symbol of the primary table (2..256, 1..255
	// symbols); extra: further tables derived from the primary ID.
	static std::optional<IdLayout> create(
		std::vector<uint16_t> primary,
		std::vector<std::vector<uint16_t>> extra, std::string *error);
	// The primary table and one or more extra tables per family (a
	// family of more than 255 symbols takes several tables of equal size).
	static std::optional<IdLayout> with_families(
		std::vector<uint16_t> primary,
		const std::vector<SymbolFamily> &families, std::string *error);
	// Families for batches of about 16, 64, 256 and 1024 members:
	// {8, 64}, {32, 64}, {128, 80}, {256, 320} (528 extra KEKs per
	// member).
	static std::vector<SymbolFamily> default_families();
	// W binary symbols, no extra table.
	static IdLayout binary(unsigned w);
	// W symbols of V values each, no extra table.
	static IdLayout uniform(unsigned w, unsigned v);

	size_t tables() const { return radix_.size(); }
	const std::vector<uint16_t> &radix(size_t table) const
	{
		return radix_[table];
	}
	size_t width() const { return radix_[0].size(); }
	// Symbols over all tables: the number of KEKs each member holds.
	size_t member_keks() const { return total_symbols_; }
	// KEK slots over all tables: sum of V.
	size_t kek_slots() const { return slot_base_.back(); }
	// Dense index of the KEK (table, symbol, value).
	size_t slot(size_t table, size_t symbol, unsigned value) const
	{
		return slot_base_[symbol_base_[table] + symbol] + value;
	}
	size_t symbol_index(size_t table, size_t symbol) const
	{
		return symbol_base_[table] + symbol;
	}
	// log2 of the number of primary IDs.
	double capacity_bits() const;

	bool valid(const MemberId &id) const;
	// Symbols of id in every table, table 0 first (member_keks() values).
	std::vector<uint8_t> all_symbols(const MemberId &id) const;

	// Assigned IDs: index in mixed radix; nullopt if out of range.
	std::optional<MemberId> from_index(uint64_t index) const;
	// IDs derived from a network address (bytes, e.g. IPv4/IPv6 address
	// and port). If the ID space holds every address of that length the
	// mapping is direct and collision-free; otherwise the address is
	// hashed (SHA-256) with the attempt counter, and a caller that meets
	// a collision retries with the next attempt.
	MemberId from_address(const std::vector<uint8_t> &address,
			      uint32_t attempt = 0) const;
	bool direct_for(size_t address_len) const;

private:
	IdLayout() = default;
	std::vector<std::vector<uint16_t>> radix_;
	std::vector<size_t> symbol_base_; // per table
	std::vector<size_t> slot_base_;   // per symbol over all tables, +end
	size_t total_symbols_ = 0;
};

// Hands out collision-free IDs.
class IdAllocator {
public:
	explicit IdAllocator(const IdLayout &layout) : layout_(layout) {}
	// From an address; on a hash collision the next attempt is tried.
	// nullopt if the address is already registered (direct mapping) or
	// no free ID was found in 64 attempts.
	std::optional<MemberId> assign(const std::vector<uint8_t> &address);
	// The next index not yet handed out or claimed.
	std::optional<MemberId> assign_next();
	// Marks an ID as used; false if it already was.
	bool claim(const MemberId &id);
	void release(const MemberId &id);
	bool used(const MemberId &id) const;

private:
	IdLayout layout_;
	std::unordered_set<std::string> used_;
	uint64_t next_ = 0;
};

} // namespace groupsec::flatkey
