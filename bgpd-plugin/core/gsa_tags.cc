// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_tags.h"

namespace groupsec::bgp {

void SignatureTags::release(const std::string &signature)
{
	if (signature.empty())
		return;
	auto it = by_signature_.find(signature);
	if (it == by_signature_.end())
		return;
	if (--it->second.holders == 0) {
		free_.insert(it->second.tag);
		by_signature_.erase(it);
	}
}

uint32_t SignatureTags::assign(const std::string &address, const std::string &signature)
{
	auto held = signature_of_.find(address);
	if (held != signature_of_.end() && held->second == signature)
		return signature.empty() ? 0 : by_signature_.at(signature).tag;
	// take the new tag before letting go of the old: a peer whose
	// signature changes always changes tag
	uint32_t tag = 0;
	if (!signature.empty()) {
		auto it = by_signature_.find(signature);
		if (it != by_signature_.end()) {
			it->second.holders++;
			tag = it->second.tag;
		} else {
			if (!free_.empty()) {
				tag = *free_.begin();
				free_.erase(free_.begin());
			} else {
				tag = next_++;
			}
			by_signature_.emplace(signature, Slot{tag, 1});
		}
	}
	if (held != signature_of_.end()) {
		std::string old = std::move(held->second);
		held->second = signature;
		release(old);
	} else {
		signature_of_.emplace(address, signature);
	}
	return tag;
}

void SignatureTags::forget(const std::string &address)
{
	auto held = signature_of_.find(address);
	if (held == signature_of_.end())
		return;
	std::string old = std::move(held->second);
	signature_of_.erase(held);
	release(old);
}

void SignatureTags::retain(const std::set<std::string> &addresses)
{
	for (auto it = signature_of_.begin(); it != signature_of_.end();) {
		if (addresses.count(it->first)) {
			++it;
			continue;
		}
		std::string old = std::move(it->second);
		it = signature_of_.erase(it);
		release(old);
	}
}

std::optional<uint32_t> SignatureTags::tag_of(const std::string &address) const
{
	auto held = signature_of_.find(address);
	if (held == signature_of_.end())
		return std::nullopt;
	if (held->second.empty())
		return 0;
	return by_signature_.at(held->second).tag;
}

} // namespace groupsec::bgp
