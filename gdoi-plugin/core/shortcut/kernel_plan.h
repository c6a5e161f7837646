// SPDX-License-Identifier: GPL-2.0-or-later
// A plan of kernel actions (add or delete an SA or a policy) and the one
// way to apply it: in order through the glue's KernelOps, all or nothing.
// When an add fails, the actions done so far are undone in reverse order
// (an added SA or policy is deleted, a deleted one added again), so the
// kernel is as it was before the plan.
#pragma once

#include <string>
#include <vector>

#include "../gdoi_dataplane.h"

namespace groupsec::gdoi::shortcut {

struct KernelAction {
	enum class Kind { AddSa, DelSa, AddPolicy, DelPolicy };
	Kind kind = Kind::AddSa;
	KernelSa sa; // AddSa, DelSa
	KernelPolicy policy; // AddPolicy, DelPolicy
};

// "add-sa in 198.51.100.7->192.0.2.5 spi 0x1234abcd" and so on.
std::string describe(const KernelAction &a);

class KernelPlan {
public:
	KernelPlan() = default;
	KernelPlan(const KernelPlan &) = default;
	KernelPlan(KernelPlan &&) = default;
	KernelPlan &operator=(const KernelPlan &) = default;
	KernelPlan &operator=(KernelPlan &&) = default;
	// the keys the SAs carry are wiped
	~KernelPlan();

	void add_sa(const KernelSa &sa);
	void del_sa(const KernelSa &sa);
	void add_policy(const KernelPolicy &p);
	void del_policy(const KernelPolicy &p);
	void append(const KernelPlan &other);

	const std::vector<KernelAction> &actions() const { return actions_; }
	bool empty() const { return actions_.empty(); }

private:
	std::vector<KernelAction> actions_;
};

// Applies the plan; false if an add failed, and then nothing is changed.
bool apply_plan(KernelOps &kernel, const KernelPlan &plan);

} // namespace groupsec::gdoi::shortcut
