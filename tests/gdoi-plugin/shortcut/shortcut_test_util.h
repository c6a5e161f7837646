// SPDX-License-Identifier: GPL-2.0-or-later
// What the shortcut tests share: a seeded random source, a hand-moved
// clock, and a kernel that keeps its SAs and policies, refuses duplicates
// like XFRM, can be told to fail, and writes every call to a log (its own
// and, optionally, one shared by several kernels to see their order).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "shortcut/kernel_plan.h"
#include "shortcut/shortcut_manager.h"
#include "shortcut/shortcut_member.h"
#include "shortcut/shortcut_wire.h"

namespace shortcut_test {

using namespace groupsec;
using namespace groupsec::gdoi;
using namespace groupsec::gdoi::shortcut;

class SeededRandom : public crypto::RandomSource {
public:
	explicit SeededRandom(uint64_t seed) : gen_(seed) {}
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(gen_());
	}

private:
	std::mt19937_64 gen_;
};

class HandClock : public crypto::Clock {
public:
	uint64_t now_ms() const override { return now; }
	uint64_t now = 1000;
};

inline Address ip(const std::string &s, uint16_t port = 0)
{
	auto a = Address::parse(s, port);
	EXPECT_TRUE(a.has_value()) << s;
	return a.value_or(Address{});
}

inline Prefix prefix(const std::string &s)
{
	auto p = parse_prefix(s);
	EXPECT_TRUE(p.ok()) << s;
	return p.ok() ? p.value() : Prefix{};
}

inline std::string hex32(uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof(buf), "0x%08x", v);
	return buf;
}

inline bool in_range(const net::TrafficSelector &ts, const Bytes &a)
{
	return a.size() == ts.start_address.size() && !(a < ts.start_address) && !(ts.end_address < a);
}

inline const char *dir_name(PolicyDirection d)
{
	return d == PolicyDirection::In ? "in" : d == PolicyDirection::Out ? "out" : "fwd";
}

struct SimKernel : KernelOps {
	std::string name;
	std::vector<std::string> *shared_log = nullptr;
	std::vector<std::string> log;
	std::vector<KernelSa> sas;
	std::vector<KernelPolicy> policies;
	int adds_before_failure = -1; // adds that succeed before one fails; -1: none fails
	int bad_deletes = 0; // deletes of something not there

	explicit SimKernel(std::string n = "k", std::vector<std::string> *shared = nullptr)
		: name(std::move(n)), shared_log(shared)
	{
	}

	void note(const std::string &s)
	{
		log.push_back(s);
		if (shared_log)
			shared_log->push_back(name + " " + s);
	}
	bool fail_now()
	{
		if (adds_before_failure == 0) {
			adds_before_failure = -1; // once
			return true;
		}
		if (adds_before_failure > 0)
			adds_before_failure--;
		return false;
	}
	static bool same_sa(const KernelSa &a, const KernelSa &b)
	{
		return a.inbound == b.inbound && a.spi == b.spi && a.destination.ip == b.destination.ip;
	}
	static bool same_policy(const KernelPolicy &a, const KernelPolicy &b)
	{
		return a.direction == b.direction && a.source == b.source && a.destination == b.destination;
	}
	bool add_sa(const KernelSa &sa) override
	{
		std::string what = std::string("add-sa ") + (sa.inbound ? "in " : "out ") + hex32(sa.spi);
		if (fail_now() || std::any_of(sas.begin(), sas.end(), [&](auto &x) { return same_sa(x, sa); })) {
			note(what + " FAILED");
			return false;
		}
		note(what);
		sas.push_back(sa);
		return true;
	}
	void del_sa(const KernelSa &sa) override
	{
		note(std::string("del-sa ") + (sa.inbound ? "in " : "out ") + hex32(sa.spi));
		auto it = std::find_if(sas.begin(), sas.end(), [&](auto &x) {
			return same_sa(x, sa) && x.source.ip == sa.source.ip;
		});
		if (it == sas.end()) {
			bad_deletes++;
			return;
		}
		sas.erase(it);
	}
	bool add_policy(const KernelPolicy &p) override
	{
		std::string what = std::string("add-policy ") + dir_name(p.direction) + " " + hex32(p.spi);
		if (fail_now() ||
		    std::any_of(policies.begin(), policies.end(), [&](auto &x) { return same_policy(x, p); })) {
			note(what + " FAILED");
			return false;
		}
		note(what);
		policies.push_back(p);
		return true;
	}
	void del_policy(const KernelPolicy &p) override
	{
		note(std::string("del-policy ") + dir_name(p.direction) + " " + hex32(p.spi));
		auto it = std::find_if(policies.begin(), policies.end(), [&](auto &x) {
			return same_policy(x, p) && x.spi == p.spi && x.tunnel_source.ip == p.tunnel_source.ip &&
			       x.tunnel_destination.ip == p.tunnel_destination.ip;
		});
		if (it == policies.end()) {
			bad_deletes++;
			return;
		}
		policies.erase(it);
	}

	// the data plane's lookups
	const KernelPolicy *policy_for(PolicyDirection d, const Bytes &src, const Bytes &dst) const
	{
		for (const auto &p : policies)
			if (p.direction == d && in_range(p.source, src) && in_range(p.destination, dst))
				return &p;
		return nullptr;
	}
	const KernelSa *sa_for(bool inbound, const Bytes &dst, uint32_t spi) const
	{
		for (const auto &sa : sas)
			if (sa.inbound == inbound && sa.destination.ip == dst && sa.spi == spi)
				return &sa;
		return nullptr;
	}
	bool empty() const { return sas.empty() && policies.empty(); }
};

// Channels that keep what was sent.
struct CapturingMemberChannel : MemberChannel {
	std::vector<Bytes> sent;
	bool up = true;
	bool send(ByteView m) override
	{
		if (!up)
			return false;
		sent.push_back(m.to_bytes());
		return true;
	}
};

struct CapturingManagerChannel : ManagerChannel {
	std::vector<std::pair<std::string, Bytes>> sent;
	std::vector<std::string> down; // members without an IKE SA
	bool send(const std::string &member, ByteView m) override
	{
		if (std::find(down.begin(), down.end(), member) != down.end())
			return false;
		sent.emplace_back(member, m.to_bytes());
		return true;
	}
};

inline ShortcutMessage decoded(ByteView b)
{
	auto m = decode_shortcut_message(b);
	EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
	return m.ok() ? m.value() : ShortcutMessage{};
}

} // namespace shortcut_test
