// SPDX-License-Identifier: GPL-2.0-or-later
// A member's sealed routes (bgpd-plugin/core/gsa_routes.h): the texts of a
// `routing-keys` group (group-number, epoch, key) and the unknown
// transitive attributes of received routes, as a script.
//
// Input: three lines (number, epoch, key) fed as one group "A" of the key
// feed, then records of [op (1)] [route (1)] [length (1)] [that many
// octets]: op % 4 = 0 the route (192.0.2.N/32) arrives with those octets as
// its attributes, 1 it is withdrawn, 2 every kept route is opened again,
// 3 a scan that sees only that route. After every step: at most one route
// per distinct route opened, every add has a gateway and prefixes, every
// remove a gateway, and the rendering (text and JSON) is made.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../../bgpd-plugin/core/gsa_core.h"
#include "../../bgpd-plugin/core/gsa_routes.h"
#include "../../bgpd-plugin/core/gsa_seal.h"

namespace {

uint64_t fixed_clock(void *)
{
	return 1000;
}

void check(void *arg, int add, const char *group, const char *gateway, const char *const *prefixes, size_t n)
{
	long *opened = static_cast<long *>(arg);
	if (!group || !gateway || !*gateway)
		abort();
	if (add && (!prefixes || n == 0))
		abort();
	*opened += add ? 1 : -1;
	if (*opened < 0)
		abort();
}

std::string line(const uint8_t *&p, const uint8_t *end)
{
	const uint8_t *nl = static_cast<const uint8_t *>(memchr(p, '\n', end - p));
	const uint8_t *stop = nl ? nl : end;
	std::string s(reinterpret_cast<const char *>(p), stop - p);
	p = nl ? nl + 1 : end;
	return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	gsa_keyring_t *kr = gsa_keyring_create(60, fixed_clock, nullptr);
	gsa_routes *r = gsa_routes_new(GSA_SEAL_ATTR_DEFAULT_CODE);
	if (!kr || !r)
		abort();
	std::string number = line(p, end), epoch = line(p, end), key = line(p, end);
	char err[GSA_SEAL_ERR_MAX];
	int changed = 0;
	gsa_routes_feed_key(r, kr, "A", number.c_str(), epoch.c_str(), key.c_str(), &changed, err, sizeof(err));
	long opened = 0;
	while (end - p >= 3) {
		uint8_t op = p[0];
		std::string route = "192.0.2." + std::to_string(p[1]) + "/32";
		size_t len = p[2];
		p += 3;
		if (len > static_cast<size_t>(end - p))
			len = end - p;
		switch (op % 4) {
		case 0:
			gsa_routes_received(r, kr, route.c_str(), p, len, check, &opened);
			break;
		case 1:
			gsa_routes_withdrawn(r, route.c_str(), check, &opened);
			break;
		case 2:
			gsa_routes_reopen(r, kr, check, &opened);
			break;
		default:
			gsa_routes_scan_begin(r);
			gsa_routes_received(r, kr, route.c_str(), p, len, check, &opened);
			gsa_routes_scan_end(r, check, &opened);
			break;
		}
		p += len;
		if (static_cast<size_t>(opened) != gsa_routes_opened(r))
			abort();
	}
	for (int json = 0; json < 2; json++)
		gsa_core_free(gsa_routes_render(r, kr, nullptr, json));
	gsa_routes_free(r);
	gsa_keyring_destroy(kr);
	return 0;
}
