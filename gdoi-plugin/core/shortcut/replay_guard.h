// SPDX-License-Identifier: GPL-2.0-or-later
// Replay protection of shortcut messages. Each sender draws a 32-bit epoch
// when it starts and numbers its messages to one receiver from 1; the
// receiver takes the epoch of the first message after its channel to the
// sender came up (reset()), and from then on only that epoch with a
// sequence number above the last one it took.
#pragma once

#include <cstdint>

namespace groupsec::gdoi::shortcut {

class ReplayGuard {
public:
	enum class Verdict { Fresh, Replayed, WrongEpoch };

	// A new channel (IKE SA) to the sender: its next message sets the epoch.
	void reset() { have_epoch_ = false; }
	Verdict check(uint32_t epoch, uint64_t sequence) const
	{
		if (!have_epoch_)
			return Verdict::Fresh;
		if (epoch != epoch_)
			return Verdict::WrongEpoch;
		return sequence > last_ ? Verdict::Fresh : Verdict::Replayed;
	}
	// Records a message check() found fresh.
	void accept(uint32_t epoch, uint64_t sequence)
	{
		have_epoch_ = true;
		epoch_ = epoch;
		last_ = sequence;
	}
	uint64_t last() const { return last_; }

private:
	bool have_epoch_ = false;
	uint32_t epoch_ = 0;
	uint64_t last_ = 0;
};

} // namespace groupsec::gdoi::shortcut
