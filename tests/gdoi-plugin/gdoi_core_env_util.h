// SPDX-License-Identifier: GPL-2.0-or-later
// The glue's side of the C interface (gdoi_core.h) for the tests: an
// environment that counts datagrams and SAs and takes every policy, and
// gdoi_core_load() with its settings as pairs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "gdoi_core.h"

namespace groupsec::gdoi::test {

using Settings = std::vector<std::pair<std::string, std::string>>;

// gdoi_core_load() with kv; err is what it says.
inline int load(gdoi_core_t *core, const Settings &kv, std::string &err)
{
	std::vector<const char *> keys, values;
	for (const auto &[k, v] : kv) {
		keys.push_back(k.c_str());
		values.push_back(v.c_str());
	}
	char buf[1024] = "";
	int n = gdoi_core_load(core, keys.data(), values.data(), keys.size(), buf, sizeof(buf));
	err = buf;
	return n;
}

// Member gm1.example.net of group blue (1234) at 192.0.2.11, its key server
// ks.example.net at 192.0.2.1; gm2 is a tunnel endpoint for 10.2.0.0/24.
inline const Settings kBlueMember = {
	{"blue.role", "member"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "gm1.example.net"},
	{"blue.local_addrs", "192.0.2.11"},
	{"blue.servers", "192.0.2.1"},
	{"blue.server_id", "ks.example.net"},
	{"blue.endpoints.gm2.gateway", "192.0.2.12"},
	{"blue.endpoints.gm2.prefixes", "10.2.0.0/24"},
};

// Counts the datagrams sent and the SAs installed; policies are taken and
// dropped. Structs that add hooks derive from it, set them in their env()
// and find themselves from the context with of().
struct RecordingEnv {
	int sent = 0;
	int sas = 0;

	static RecordingEnv *of(void *ctx) { return static_cast<RecordingEnv *>(ctx); }
	static bool send(void *ctx, const gdoi_addr_t *, const gdoi_addr_t *, const uint8_t *, size_t)
	{
		of(ctx)->sent++;
		return true;
	}
	static bool add_sa(void *ctx, const gdoi_kernel_sa_t *)
	{
		of(ctx)->sas++;
		return true;
	}
	static void del_sa(void *ctx, const gdoi_kernel_sa_t *) { of(ctx)->sas--; }
	static bool add_policy(void *, const gdoi_kernel_policy_t *) { return true; }
	static void del_policy(void *, const gdoi_kernel_policy_t *) {}

	std::vector<unsigned> woken; // control clients the core woke

	gdoi_core_env_t env()
	{
		gdoi_core_env_t e{};
		e.ctx = this;
		e.send = send;
		e.add_sa = add_sa;
		e.del_sa = del_sa;
		e.add_policy = add_policy;
		e.del_policy = del_policy;
		return e;
	}
};

} // namespace groupsec::gdoi::test
