// SPDX-License-Identifier: GPL-2.0-or-later
// Reassembly of IKE fragments (RFC 7383) on one IKE SA, with limits: how
// many fragments a message may have, how many octets an IKE SA may hold,
// how long an incomplete message is kept, and how many octets all IKE SAs
// together may hold. Fragments reach it only after their ICV verified.
// Internal to the core; pure (the caller passes the time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "../gikev2_message.h"
#include "../gikev2_sk.h"

namespace groupsec::gdoi::detail {

struct FragmentLimits {
	// Total Fragments above this: the message is refused.
	size_t max_fragments = 64;
	// Content one IKE SA may hold at a time (the reassembled inner chain).
	size_t max_bytes = 65536;
	// An incomplete message is dropped this long after its first fragment.
	uint64_t timeout_ms = 10000;
	// Content all IKE SAs of the engine may hold together.
	size_t max_total_bytes = 4u << 20;
};

class Reassembly {
public:
	// What add() did with a fragment.
	enum class Step {
		Stored, // kept, the message is not complete yet
		Complete, // the message is whole: take() it
		Ignored, // a duplicate, or fewer Total Fragments than stored
		Refused, // over a limit: the message is dropped
	};

	// pool: the octets all reassemblies hold together (may be nullptr).
	explicit Reassembly(size_t *pool = nullptr) : pool_(pool) {}
	~Reassembly() { clear(); }
	Reassembly(const Reassembly &) = delete;
	Reassembly &operator=(const Reassembly &) = delete;

	void attach(size_t *pool);
	// Adds an authenticated fragment of the message (message_id, response).
	Step add(const Fragment &f, bool response, uint64_t now_ms, const FragmentLimits &limits);
	// After Complete: the inner payloads of the whole message (decoded
	// from the pieces in order, the first inner type from fragment 1);
	// the reassembly is empty again.
	Result<std::vector<Payload>> take();
	// Drops an incomplete message older than the timeout; true if it did.
	bool expire(uint64_t now_ms, const FragmentLimits &limits);
	// When expire() will drop the message, nullopt if none is held.
	std::optional<uint64_t> deadline(const FragmentLimits &limits) const;
	void clear();
	size_t bytes() const { return bytes_; }
	bool active() const { return total_ != 0; }

private:
	size_t *pool_ = nullptr;
	uint32_t message_id_ = 0;
	bool response_ = false;
	uint16_t total_ = 0; // 0: nothing held
	uint8_t first_inner_ = 0;
	uint64_t started_ms_ = 0;
	size_t bytes_ = 0;
	std::map<uint16_t, Bytes> parts_;
};

} // namespace groupsec::gdoi::detail
