// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/store_c.h"

#include <cerrno>
#include <memory>
#include <sys/stat.h>
#include <new>
#include <set>
#include <string>

#include "groupsec/trust/store.h"

using groupsec::Bytes;
using namespace groupsec::trust;

struct gs_trust_store {
	explicit gs_trust_store(const char *d) : dir(d ? d : ""), fs(dir), store(fs, clock) {}
	std::string dir;
	SystemWallClock clock;
	DirectoryFs fs;
	TrustStore store;
};

extern "C" gs_trust_store *gs_trust_store_open(const char *dir)
{
	return new (std::nothrow) gs_trust_store(dir);
}

extern "C" int gs_trust_store_load(gs_trust_store *s, void (*problem)(void *, const char *), void *ctx)
{
	if (!s)
		return 0;
	try {
		struct stat st;
		if (::stat(s->dir.c_str(), &st) != 0 && errno == ENOENT) {
			s->store.load(); // empties it
			return 0;
		}
		for (const auto &p : s->store.load())
			if (problem)
				problem(ctx, p.c_str());
		return static_cast<int>(s->store.collections().size());
	} catch (const std::exception &e) {
		if (problem)
			problem(ctx, e.what());
		return 0;
	}
}

extern "C" int gs_trust_store_trusted_any_group(gs_trust_store *s, uint32_t uses,
						void (*add)(void *, const uint8_t *, size_t), void *ctx)
{
	if (!s || !add)
		return 0;
	try {
		NoConditions none;
		std::set<Bytes> seen;
		int n = 0;
		for (uint32_t bit = 1; bit & kAllUses; bit <<= 1) {
			if (!(uses & bit))
				continue;
			for (const auto &t : s->store.trusted(kAnyGroup, bit, none)) {
				bool any = false;
				for (const auto &g : t.policy.groups)
					any = any || g == kAnyGroup;
				if (!any || !seen.insert(t.certificate.der()).second)
					continue;
				add(ctx, t.certificate.der().data(), t.certificate.der().size());
				n++;
			}
		}
		return n;
	} catch (const std::exception &) {
		return 0;
	}
}

extern "C" void gs_trust_store_destroy(gs_trust_store *s)
{
	delete s;
}
