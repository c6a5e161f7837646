// SPDX-License-Identifier: GPL-2.0-or-later
// The store's view of conditions (connected:, registered:) that a C caller
// answers through a gs_trust_holds_t callback (store_c.h).
#pragma once

#include "groupsec/trust/store.h"
#include "groupsec/trust/store_c.h"

namespace groupsec::trust {

class HoldsCallback : public ConditionSource {
public:
	HoldsCallback(gs_trust_holds_t holds, void *ctx) : holds_(holds), ctx_(ctx) {}
	bool holds(const Condition &c) const override
	{
		return holds_ && holds_(ctx_, c.kind.c_str(), c.argument.c_str()) != 0;
	}

private:
	gs_trust_holds_t holds_;
	void *ctx_;
};

} // namespace groupsec::trust
