// SPDX-License-Identifier: GPL-2.0-or-later
#include "kernel_plan.h"

#include <cstdio>

#include <openssl/crypto.h>

namespace groupsec::gdoi::shortcut {

namespace {

void wipe(Bytes &b)
{
	if (!b.empty())
		OPENSSL_cleanse(b.data(), b.size());
}

std::string hex32(uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof(buf), "0x%08x", v);
	return buf;
}

const char *direction(PolicyDirection d)
{
	switch (d) {
	case PolicyDirection::In:
		return "in";
	case PolicyDirection::Out:
		return "out";
	case PolicyDirection::Fwd:
		return "fwd";
	}
	return "?";
}

// Undoes one action that was done.
void undo(KernelOps &kernel, const KernelAction &a)
{
	switch (a.kind) {
	case KernelAction::Kind::AddSa:
		kernel.del_sa(a.sa);
		break;
	case KernelAction::Kind::DelSa:
		kernel.add_sa(a.sa);
		break;
	case KernelAction::Kind::AddPolicy:
		kernel.del_policy(a.policy);
		break;
	case KernelAction::Kind::DelPolicy:
		kernel.add_policy(a.policy);
		break;
	}
}

} // namespace

std::string describe(const KernelAction &a)
{
	switch (a.kind) {
	case KernelAction::Kind::AddSa:
	case KernelAction::Kind::DelSa:
		return std::string(a.kind == KernelAction::Kind::AddSa ? "add-sa " : "del-sa ") +
		       (a.sa.inbound ? "in " : "out ") + a.sa.source.ip_string() + "->" +
		       a.sa.destination.ip_string() + " spi " + hex32(a.sa.spi);
	case KernelAction::Kind::AddPolicy:
	case KernelAction::Kind::DelPolicy:
		return std::string(a.kind == KernelAction::Kind::AddPolicy ? "add-policy " : "del-policy ") +
		       direction(a.policy.direction) + " " + net::range_text(a.policy.source) + "->" +
		       net::range_text(a.policy.destination) + " spi " + hex32(a.policy.spi);
	}
	return "?";
}

KernelPlan::~KernelPlan()
{
	for (auto &a : actions_) {
		wipe(a.sa.encryption_key);
		wipe(a.sa.integrity_key);
	}
}

void KernelPlan::add_sa(const KernelSa &sa)
{
	actions_.push_back(KernelAction{KernelAction::Kind::AddSa, sa, {}});
}

void KernelPlan::del_sa(const KernelSa &sa)
{
	actions_.push_back(KernelAction{KernelAction::Kind::DelSa, sa, {}});
}

void KernelPlan::add_policy(const KernelPolicy &p)
{
	actions_.push_back(KernelAction{KernelAction::Kind::AddPolicy, {}, p});
}

void KernelPlan::del_policy(const KernelPolicy &p)
{
	actions_.push_back(KernelAction{KernelAction::Kind::DelPolicy, {}, p});
}

void KernelPlan::append(const KernelPlan &other)
{
	actions_.insert(actions_.end(), other.actions_.begin(), other.actions_.end());
}

bool apply_plan(KernelOps &kernel, const KernelPlan &plan)
{
	const auto &actions = plan.actions();
	for (size_t i = 0; i < actions.size(); i++) {
		const KernelAction &a = actions[i];
		bool ok = true;
		switch (a.kind) {
		case KernelAction::Kind::AddSa:
			ok = kernel.add_sa(a.sa);
			break;
		case KernelAction::Kind::DelSa:
			kernel.del_sa(a.sa);
			break;
		case KernelAction::Kind::AddPolicy:
			ok = kernel.add_policy(a.policy);
			break;
		case KernelAction::Kind::DelPolicy:
			kernel.del_policy(a.policy);
			break;
		}
		if (!ok) {
			for (size_t j = i; j-- > 0;)
				undo(kernel, actions[j]);
			return false;
		}
	}
	return true;
}

} // namespace groupsec::gdoi::shortcut
