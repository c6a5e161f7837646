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
