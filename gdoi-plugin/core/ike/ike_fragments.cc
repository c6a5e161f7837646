// SPDX-License-Identifier: GPL-2.0-or-later
// Reassembly of IKE fragments (RFC 7383 2.6) with limits.
#include "ike_fragments.h"

#include <openssl/crypto.h>

namespace groupsec::gdoi::detail {

void Reassembly::attach(size_t *pool)
{
	clear();
	pool_ = pool;
}

void Reassembly::clear()
{
	for (auto &[n, b] : parts_)
		OPENSSL_cleanse(b.data(), b.size());
	parts_.clear();
	if (pool_)
		*pool_ -= bytes_;
	bytes_ = 0;
	total_ = 0;
	first_inner_ = 0;
}

Reassembly::Step Reassembly::add(const Fragment &f, bool response, uint64_t now_ms, const FragmentLimits &limits)
{
	expire(now_ms, limits);
	if (f.total > limits.max_fragments) {
		clear();
		return Step::Refused;
	}
	// a fragment of another message replaces what is held: one message
	// per IKE SA is reassembled at a time
	if (active() && (f.header.message_id != message_id_ || response != response_))
		clear();
	if (active() && f.total != total_) {
		// RFC 7383 2.6: a message sent again in smaller fragments has
		// more of them; fewer than stored belong to the older sending
		if (f.total < total_)
			return Step::Ignored;
		clear();
	}
	if (!active()) {
		message_id_ = f.header.message_id;
		response_ = response;
		total_ = f.total;
		started_ms_ = now_ms;
	}
	if (parts_.count(f.number))
		return Step::Ignored;
	const size_t n = f.content.size();
	if (bytes_ + n > limits.max_bytes || (pool_ && *pool_ + n > limits.max_total_bytes)) {
		clear();
		return Step::Refused;
	}
	if (f.number == 1)
		first_inner_ = f.first_inner;
	parts_.emplace(f.number, f.content);
	bytes_ += n;
	if (pool_)
		*pool_ += n;
	return parts_.size() == total_ ? Step::Complete : Step::Stored;
}

Result<std::vector<Payload>> Reassembly::take()
{
	if (!active() || parts_.size() != total_) {
		clear();
		return make_error(WireError::Missing, "IKE fragments missing");
	}
	Bytes chain;
	chain.reserve(bytes_);
	for (auto &[n, b] : parts_)
		chain.insert(chain.end(), b.begin(), b.end());
	const uint8_t first = first_inner_;
	clear();
	auto inner = decode_payload_chain(first, chain);
	OPENSSL_cleanse(chain.data(), chain.size());
	return inner;
}

bool Reassembly::expire(uint64_t now_ms, const FragmentLimits &limits)
{
	if (!active() || now_ms < started_ms_ + limits.timeout_ms)
		return false;
	clear();
	return true;
}

std::optional<uint64_t> Reassembly::deadline(const FragmentLimits &limits) const
{
	if (!active())
		return std::nullopt;
	return started_ms_ + limits.timeout_ms;
}

} // namespace groupsec::gdoi::detail
