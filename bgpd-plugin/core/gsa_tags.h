// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec bgpd module: update-group tags.
//
// Peers that the reflection decision cannot tell apart (equal membership
// signatures, Groups::signature()) get equal output from the module and may
// share a BGP update-group; peers whose signatures differ must not. The
// S/R's glue keeps them apart by giving each peer a small integer tag that
// bgpd's update-group key includes (docs/bgp-gsa.md, "Update-groups").
//
// SignatureTags maps each signature to a tag: the empty signature (no
// group) is 0, every other one a number from 1 up, the same while any peer
// holds the signature, freed when the last one lets go and then reused
// (lowest free first). Pure bookkeeping: no FRR type, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace groupsec::bgp {

class SignatureTags {
public:
	// The peer at address now has this signature: its tag (0 for "").
	uint32_t assign(const std::string &address, const std::string &signature);
	// The peer at address is gone: its signature loses a holder.
	void forget(const std::string &address);
	// Forget every peer not in addresses.
	void retain(const std::set<std::string> &addresses);
	// The tag last assigned to the peer at address (nullopt: never, or
	// forgotten).
	std::optional<uint32_t> tag_of(const std::string &address) const;
	// how many non-empty signatures hold a tag
	size_t live() const { return by_signature_.size(); }
	size_t peers() const { return signature_of_.size(); }

private:
	struct Slot {
		uint32_t tag;
		size_t holders;
	};
	void release(const std::string &signature);

	std::map<std::string, Slot> by_signature_;     // non-empty signatures only
	std::map<std::string, std::string> signature_of_; // address -> signature
	std::set<uint32_t> free_;                      // released tags, reused lowest first
	uint32_t next_ = 1;
};

} // namespace groupsec::bgp
