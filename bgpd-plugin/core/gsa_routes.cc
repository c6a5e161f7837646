// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec bgpd module: a member's sealed routes (gsa_routes.h).
#include "gsa_routes.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "gsa_groups.h"

// gsa_sr.cc: the groups core behind the C handle
const groupsec::bgp::Groups &gsa_groups_core_of(const struct gsa_groups *g);

namespace {

struct Opened {
	std::string group; // name
	uint32_t group_id = 0;
	uint32_t epoch = 0;
	bool previous = false;
	std::string gateway;
	std::string originator;
	std::vector<std::string> prefixes;
	bool operator==(const Opened &o) const
	{
		return group == o.group && gateway == o.gateway && prefixes == o.prefixes;
	}
};

struct Received {
	std::vector<uint8_t> value; // the attribute's value (the blob)
	std::string status;         // "ok" or why it is not opened
	bool opened = false;
	bool seen = true;           // seen in the current scan
	Opened o;
};

struct Sealed {
	uint32_t group = 0;
	uint32_t epoch = 0;
	std::vector<std::string> prefixes;
	std::vector<uint8_t> attr;
};

std::string addr_text(const gsa_addr &a)
{
	char buf[INET6_ADDRSTRLEN] = "";
	inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.addr, buf, sizeof(buf));
	return buf;
}

bool parse_addr(const std::string &text, gsa_addr &a)
{
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text.c_str(), a.addr) == 1) {
		a.family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, text.c_str(), a.addr) == 1) {
		a.family = 6;
		return true;
	}
	return false;
}

bool parse_prefix(const std::string &text, gsa_prefix &p)
{
	auto slash = text.find('/');
	gsa_addr a;
	if (slash == std::string::npos || !parse_addr(text.substr(0, slash), a))
		return false;
	char *end = nullptr;
	unsigned long len = strtoul(text.c_str() + slash + 1, &end, 10);
	if (!end || *end || len > (a.family == 4 ? 32u : 128u))
		return false;
	p.family = a.family;
	p.len = static_cast<uint8_t>(len);
	memcpy(p.addr, a.addr, sizeof(p.addr));
	return true;
}

std::string prefix_text(const gsa_prefix &p)
{
	gsa_addr a;
	a.family = p.family;
	memcpy(a.addr, p.addr, sizeof(a.addr));
	return addr_text(a) + "/" + std::to_string(p.len);
}

bool hex_bytes(const char *hex, std::vector<uint8_t> &out)
{
	size_t n = hex ? strlen(hex) : 0;
	if (!n || n % 2)
		return false;
	out.clear();
	for (size_t i = 0; i < n; i += 2) {
		auto nib = [](char c) -> int {
			if (c >= '0' && c <= '9')
				return c - '0';
			if (c >= 'a' && c <= 'f')
				return c - 'a' + 10;
			if (c >= 'A' && c <= 'F')
				return c - 'A' + 10;
			return -1;
		};
		int hi = nib(hex[i]), lo = nib(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out.push_back(static_cast<uint8_t>(hi << 4 | lo));
	}
	return true;
}

std::string epoch_text(uint32_t e)
{
	char buf[9];
	snprintf(buf, sizeof(buf), "%08x", e);
	return buf;
}

std::string json_str(const std::string &s)
{
	std::string out = "\"";
	for (char c : s) {
		if (c == '"' || c == '\\')
			out += '\\';
		if (static_cast<unsigned char>(c) < 0x20)
			continue;
		out += c;
	}
	return out + "\"";
}

void set_err(char *err, size_t len, const std::string &text)
{
	if (err && len)
		snprintf(err, len, "%s", text.c_str());
}

// the failure names a route can be counted under, in the order shown
const char *const kDropNames[] = {"truncated",     "version", "malformed", "unknown-group",
				  "unknown-epoch", "epoch-expired", "bad-tag", GSA_ROUTES_ORIGINATOR_MISMATCH,
				  "internal"};

} // namespace

struct gsa_routes {
	uint8_t code;
	std::map<uint32_t, std::string> names; // group number -> name
	std::map<std::string, Sealed> sealed;  // endpoint -> what we sealed
	std::map<std::string, Received> received; // route -> what came
	std::map<std::string, uint64_t> dropped;

	void hand(const Opened &o, bool add, gsa_endpoint_fn fn, void *arg) const
	{
		if (!fn)
			return;
		std::vector<const char *> p;
		for (const auto &s : o.prefixes)
			p.push_back(s.c_str());
		fn(arg, add, o.group.c_str(), o.gateway.c_str(), add ? p.data() : nullptr, add ? p.size() : 0);
	}

	// open rx for route; count a failure when count is set
	void open(const std::string &route, Received &rx, const gsa_keyring_t *kr, bool count, gsa_endpoint_fn fn,
		  void *arg)
	{
		gsa_opened out;
		char err[GSA_SEAL_ERR_MAX];
		int ret = gsa_open(kr, rx.value.data(), rx.value.size(), &out, err, sizeof(err));
		std::string status = gsa_seal_status_name(ret);
		Opened o;
		if (ret == GSA_SEAL_OK) {
			o.group_id = out.group;
			o.epoch = out.epoch;
			o.previous = out.previous_epoch != 0;
			o.originator = addr_text(out.originator);
			o.gateway = addr_text(out.gateway);
			for (size_t i = 0; i < out.count; i++)
				o.prefixes.push_back(prefix_text(out.prefixes[i]));
			auto nm = names.find(out.group);
			o.group = nm != names.end() ? nm->second : std::to_string(out.group);
			gsa_opened_free(&out);
			// the blob's originator is the member whose endpoint the route is
			if (route.substr(0, route.find('/')) != o.originator)
				status = GSA_ROUTES_ORIGINATOR_MISMATCH;
		}
		bool ok = status == "ok";
		if (!ok && (count || status != rx.status))
			dropped[status]++;
		rx.status = status;
		if (rx.opened && (!ok || !(rx.o == o)))
			hand(rx.o, false, fn, arg);
		bool was = rx.opened && ok && rx.o == o;
		rx.opened = ok;
		if (ok) {
			rx.o = o;
			if (!was)
				hand(o, true, fn, arg);
		}
	}
};

const groupsec::bgp::Groups &gsa_groups_core_of(const struct gsa_groups *g);

extern "C" {

struct gsa_routes *gsa_routes_new(uint8_t code)
{
	auto *r = new (std::nothrow) gsa_routes();
	if (r)
		r->code = code;
	return r;
}

void gsa_routes_free(struct gsa_routes *r)
{
	delete r;
}

uint8_t gsa_routes_code(const struct gsa_routes *r)
{
	return r->code;
}

int gsa_routes_feed_key(struct gsa_routes *r, gsa_keyring_t *kr, const char *name, const char *number,
			const char *epoch_hex, const char *key_hex, int *changed, char *err, size_t errlen)
{
	if (changed)
		*changed = 0;
	if (!name || !number) {
		set_err(err, errlen, "a routing key without group name or number");
		return GSA_SEAL_ERR_INVALID;
	}
	char *end = nullptr;
	unsigned long long num = strtoull(number, &end, 10);
	if (!*number || !end || *end || num > 0xffffffffULL) {
		set_err(err, errlen, std::string("group-number '") + number + "' is not a 32-bit number");
		return GSA_SEAL_ERR_INVALID;
	}
	if (!epoch_hex || !key_hex)
		return GSA_SEAL_OK; // no current TEK yet
	std::vector<uint8_t> e, k;
	if (!hex_bytes(epoch_hex, e) || e.size() != 4) {
		set_err(err, errlen, std::string("epoch '") + epoch_hex + "' is not 8 hex digits");
		return GSA_SEAL_ERR_INVALID;
	}
	if (!hex_bytes(key_hex, k) || k.size() != GSA_SEAL_KEY_BYTES) {
		set_err(err, errlen, "the key is not 64 hex digits");
		return GSA_SEAL_ERR_INVALID;
	}
	uint32_t epoch = uint32_t(e[0]) << 24 | uint32_t(e[1]) << 16 | uint32_t(e[2]) << 8 | e[3];
	int ret = gsa_keyring_update(kr, static_cast<uint32_t>(num), epoch, k.data(), k.size(), changed, err,
				     errlen);
	std::fill(k.begin(), k.end(), 0);
	if (ret == GSA_SEAL_OK) {
		try {
			r->names[static_cast<uint32_t>(num)] = name;
		} catch (const std::bad_alloc &) {
			return GSA_SEAL_ERR_INTERNAL;
		}
	}
	return ret;
}

int gsa_routes_seal(struct gsa_routes *r, gsa_keyring_t *kr, const struct gsa_groups *g, const char *endpoint,
		    const uint8_t **attr, size_t *attr_len, char *err, size_t errlen)
{
	try {
		const auto &core = gsa_groups_core_of(g);
		std::vector<const groupsec::bgp::LocalGroup *> cands;
		for (const auto &lg : core.local_groups())
			if (lg.endpoint == endpoint && !lg.prefixes.empty())
				cands.push_back(&lg);
		std::sort(cands.begin(), cands.end(), [](auto *a, auto *b) { return a->id < b->id; });
		for (const auto *lg : cands) {
			uint32_t epoch;
			if (gsa_keyring_epoch(kr, lg->id, &epoch) != GSA_SEAL_OK)
				continue;
			auto &s = r->sealed[endpoint];
			if (s.attr.empty() || s.group != lg->id || s.epoch != epoch || s.prefixes != lg->prefixes) {
				gsa_addr ep;
				if (!parse_addr(endpoint, ep)) {
					set_err(err, errlen, std::string("endpoint '") + endpoint + "' is no address");
					return GSA_SEAL_ERR_INVALID;
				}
				std::vector<gsa_prefix> pfx(lg->prefixes.size());
				for (size_t i = 0; i < pfx.size(); i++)
					if (!parse_prefix(lg->prefixes[i], pfx[i])) {
						set_err(err, errlen, "prefix '" + lg->prefixes[i] + "' is no prefix");
						return GSA_SEAL_ERR_INVALID;
					}
				uint8_t *value = nullptr, *whole = nullptr;
				size_t vlen = 0, wlen = 0;
				uint32_t used = 0;
				int ret = gsa_seal(kr, lg->id, &ep, &ep, pfx.data(), pfx.size(), &value, &vlen, &used,
						   err, errlen);
				if (ret != GSA_SEAL_OK)
					return ret;
				ret = gsa_seal_attr_encode(r->code, value, vlen, &whole, &wlen);
				free(value);
				if (ret != GSA_SEAL_OK) {
					set_err(err, errlen, "cannot encode the attribute");
					return ret;
				}
				s.attr.assign(whole, whole + wlen);
				free(whole);
				s.group = lg->id;
				s.epoch = used;
				s.prefixes = lg->prefixes;
			}
			*attr = s.attr.data();
			*attr_len = s.attr.size();
			return GSA_SEAL_OK;
		}
		r->sealed.erase(endpoint);
		set_err(err, errlen, std::string("no group of ") + endpoint + " has a routing key and prefixes");
		return GSA_SEAL_ERR_NOT_FOUND;
	} catch (const std::bad_alloc &) {
		return GSA_SEAL_ERR_INTERNAL;
	}
}

void gsa_routes_received(struct gsa_routes *r, const gsa_keyring_t *kr, const char *route, const uint8_t *attrs,
			 size_t len, gsa_endpoint_fn fn, void *arg)
{
	const uint8_t *value = nullptr;
	size_t vlen = 0;
	int ret = attrs && len ? gsa_seal_attr_find(attrs, len, r->code, &value, &vlen, nullptr, 0)
			       : GSA_SEAL_ERR_NOT_FOUND;
	if (ret == GSA_SEAL_ERR_NOT_FOUND) {
		gsa_routes_withdrawn(r, route, fn, arg);
		return;
	}
	try {
		auto [it, fresh] = r->received.try_emplace(route);
		Received &rx = it->second;
		rx.seen = true;
		if (ret != GSA_SEAL_OK) {
			// counted when it arrives or changes, not on every scan
			std::string status = gsa_seal_status_name(ret);
			if (fresh || !rx.value.empty() || rx.status != status)
				r->dropped[status]++;
			rx.value.clear();
			rx.status = status;
			if (rx.opened)
				r->hand(rx.o, false, fn, arg);
			rx.opened = false;
			return;
		}
		std::vector<uint8_t> v(value, value + vlen);
		if (!fresh && !rx.status.empty() && v == rx.value)
			return; // the same blob again: gsa_routes_reopen() follows the keys
		rx.value = std::move(v);
		r->open(route, rx, kr, true, fn, arg);
	} catch (const std::bad_alloc &) {
		r->dropped["internal"]++;
	}
}

void gsa_routes_scan_begin(struct gsa_routes *r)
{
	for (auto &[route, rx] : r->received)
		rx.seen = false;
}

void gsa_routes_scan_end(struct gsa_routes *r, gsa_endpoint_fn fn, void *arg)
{
	for (auto it = r->received.begin(); it != r->received.end();) {
		if (it->second.seen) {
			++it;
			continue;
		}
		if (it->second.opened)
			r->hand(it->second.o, false, fn, arg);
		it = r->received.erase(it);
	}
}

void gsa_routes_withdrawn(struct gsa_routes *r, const char *route, gsa_endpoint_fn fn, void *arg)
{
	auto it = r->received.find(route);
	if (it == r->received.end())
		return;
	if (it->second.opened)
		r->hand(it->second.o, false, fn, arg);
	r->received.erase(it);
}

void gsa_routes_reopen(struct gsa_routes *r, const gsa_keyring_t *kr, gsa_endpoint_fn fn, void *arg)
{
	for (auto &[route, rx] : r->received)
		if (!rx.value.empty())
			r->open(route, rx, kr, false, fn, arg);
}

void gsa_routes_replay(const struct gsa_routes *r, gsa_endpoint_fn fn, void *arg)
{
	for (const auto &[route, rx] : r->received)
		if (rx.opened)
			r->hand(rx.o, true, fn, arg);
}

uint64_t gsa_routes_dropped(const struct gsa_routes *r, const char *status)
{
	auto it = r->dropped.find(status);
	return it == r->dropped.end() ? 0 : it->second;
}

size_t gsa_routes_opened(const struct gsa_routes *r)
{
	size_t n = 0;
	for (const auto &[route, rx] : r->received)
		n += rx.opened;
	return n;
}

char *gsa_routes_render(const struct gsa_routes *r, const gsa_keyring_t *kr, const char *group, int json)
{
	try {
		std::string out;
		auto want = [&](const std::string &name) { return !group || name == group; };
		if (json) {
			out = "{\"routes\":[";
			bool first = true;
			for (const auto &[route, rx] : r->received) {
				if (!rx.opened || !want(rx.o.group))
					continue;
				for (const auto &p : rx.o.prefixes) {
					out += first ? "" : ",";
					first = false;
					out += "{\"prefix\":" + json_str(p) + ",\"gateway\":" + json_str(rx.o.gateway) +
					       ",\"group\":" + json_str(rx.o.group) +
					       ",\"groupId\":" + std::to_string(rx.o.group_id) + ",\"epoch\":" +
					       json_str(epoch_text(rx.o.epoch)) + ",\"previousEpoch\":" +
					       (rx.o.previous ? "true" : "false") + ",\"originator\":" +
					       json_str(rx.o.originator) + ",\"route\":" + json_str(route) + "}";
				}
			}
			out += "],\"notOpened\":{";
			first = true;
			for (const auto &[route, rx] : r->received) {
				if (rx.opened)
					continue;
				out += (first ? "" : ",") + json_str(route) + ":" + json_str(rx.status);
				first = false;
			}
			out += "},\"dropped\":{";
			first = true;
			for (const char *n : kDropNames) {
				out += (first ? "" : ",") + json_str(n) + ":" + std::to_string(gsa_routes_dropped(r, n));
				first = false;
			}
			out += "},\"keys\":{";
			first = true;
			for (const auto &[id, name] : r->names) {
				uint32_t e = 0;
				if (!want(name) || gsa_keyring_epoch(kr, id, &e) != GSA_SEAL_OK)
					continue;
				out += (first ? "" : ",") + json_str(name) + ":{\"groupId\":" + std::to_string(id) +
				       ",\"epoch\":" + json_str(epoch_text(e)) + "}";
				first = false;
			}
			out += "}}";
		} else {
			char line[512];
			out = "Routing keys:\n";
			for (const auto &[id, name] : r->names) {
				uint32_t e = 0;
				if (want(name) && gsa_keyring_epoch(kr, id, &e) == GSA_SEAL_OK) {
					snprintf(line, sizeof(line), "  %-12s %-10u epoch %s\n", name.c_str(), id,
						 epoch_text(e).c_str());
					out += line;
				}
			}
			out += "Opened routes:\n";
			snprintf(line, sizeof(line), "  %-24s %-18s %-12s %-9s %s\n", "Prefix", "Gateway", "Group",
				 "Epoch", "Originator");
			out += line;
			for (const auto &[route, rx] : r->received) {
				if (!rx.opened || !want(rx.o.group))
					continue;
				for (const auto &p : rx.o.prefixes) {
					snprintf(line, sizeof(line), "  %-24s %-18s %-12s %-9s %s%s\n", p.c_str(),
						 rx.o.gateway.c_str(), rx.o.group.c_str(),
						 epoch_text(rx.o.epoch).c_str(), rx.o.originator.c_str(),
						 rx.o.previous ? " (previous epoch)" : "");
					out += line;
				}
			}
			bool any = false;
			for (const auto &[route, rx] : r->received)
				if (!rx.opened) {
					if (!any)
						out += "Not opened:\n";
					any = true;
					out += "  " + route + "  " + rx.status + "\n";
				}
			out += "Dropped:";
			for (const char *n : kDropNames)
				out += std::string(" ") + n + " " + std::to_string(gsa_routes_dropped(r, n));
		}
		char *text = static_cast<char *>(malloc(out.size() + 1));
		if (text)
			memcpy(text, out.c_str(), out.size() + 1);
		return text;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

} // extern "C"
