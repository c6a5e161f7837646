// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/store_c.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <sys/stat.h>
#include <new>
#include <set>
#include <string>

#include "groupsec/trust/holds_callback.h"
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

namespace {

void copy_reason(const std::string &reason, char *why, size_t why_len)
{
	if (!why || !why_len)
		return;
	size_t n = std::min(reason.size(), why_len - 1);
	std::memcpy(why, reason.data(), n);
	why[n] = '\0';
}

} // namespace

extern "C" int gs_trust_store_trusted(gs_trust_store *s, uint32_t uses, gs_trust_holds_t holds,
				      void *holds_ctx, void (*add)(void *, const uint8_t *, size_t), void *ctx)
{
	if (!s || !add)
		return 0;
	try {
		HoldsCallback conditions(holds, holds_ctx);
		std::set<Bytes> seen;
		int n = 0;
		// no group: every entry of an active collection within its periods
		for (uint32_t bit = 1; bit & kAllUses; bit <<= 1) {
			if (!(uses & bit))
				continue;
			for (const auto &t : s->store.trusted("", bit, conditions)) {
				if (!seen.insert(t.certificate.der()).second)
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

extern "C" int gs_trust_store_check(gs_trust_store *s, const uint8_t *der, size_t len, const char *group,
				    uint32_t use, gs_trust_holds_t holds, void *holds_ctx, char *why,
				    size_t why_len)
{
	copy_reason("", why, why_len);
	if (!s || !der || !group || !*group || !use || (use & (use - 1)) || !(use & kAllUses)) {
		copy_reason("no certificate, group or use to check", why, why_len);
		return GS_TRUST_REFUSED;
	}
	try {
		auto cert = Certificate::from_der(groupsec::ByteView(der, len));
		if (!cert) {
			copy_reason(cert.error().message, why, why_len);
			return GS_TRUST_REFUSED;
		}
		bool listed = false;
		for (const auto &[name, c] : s->store.collections())
			for (const auto &e : c.list.entries)
				listed = listed || e.certificate.der() == cert.value().der();
		if (!listed)
			return GS_TRUST_NOT_LISTED;
		HoldsCallback conditions(holds, holds_ctx);
		auto r = s->store.check(cert.value(), group, use, conditions);
		if (r)
			return GS_TRUST_TRUSTED;
		copy_reason(r.error().message, why, why_len);
		return GS_TRUST_REFUSED;
	} catch (const std::exception &e) {
		copy_reason(e.what(), why, why_len);
		return GS_TRUST_REFUSED;
	}
}

extern "C" void gs_trust_store_destroy(gs_trust_store *s)
{
	delete s;
}
