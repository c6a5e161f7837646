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

// one entry of a received attribute: its group, epoch and what came of it
struct EntryState {
	uint32_t group = 0;
	uint32_t epoch = 0;
	std::string status; // "ok" or why it did not open
};

struct Received {
	std::vector<uint8_t> raw;   // what was looked at last (the value, or the attributes)
	std::vector<uint8_t> value; // the attribute's value, when it was found
	std::string status;         // "ok" (an entry opened) or why none did
	std::vector<EntryState> entries;
	std::vector<Opened> opened; // one per entry that opened
	bool seen = true;           // seen in the current scan
	// the keyring's opening version and the names' version of the last
	// opening: the same again, opening again would give the same
	uint64_t opened_keys = 0;
	uint64_t opened_names = 0;
	bool any() const { return !opened.empty(); }
};

// one group's entry of a membership route
struct SealedEntry {
	uint32_t epoch = 0;
	std::vector<std::string> prefixes;
	std::vector<uint8_t> blob;
};

struct Sealed {
	std::map<uint32_t, SealedEntry> entries; // group ID -> its entry
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
	uint64_t names_version = 1; // changes when a group's name does

	void hand(const Opened &o, bool add, gsa_endpoint_fn fn, void *arg) const
	{
		if (!fn)
			return;
		std::vector<const char *> p;
		for (const auto &s : o.prefixes)
			p.push_back(s.c_str());
		fn(arg, add, o.group.c_str(), o.gateway.c_str(), add ? p.data() : nullptr, add ? p.size() : 0);
	}

	// hands out what changed from was to now: removes first, then adds
	void hand_change(const std::vector<Opened> &was, const std::vector<Opened> &now, gsa_endpoint_fn fn,
			 void *arg) const
	{
		for (const Opened &o : was)
			if (std::find(now.begin(), now.end(), o) == now.end())
				hand(o, false, fn, arg);
		for (const Opened &o : now)
			if (std::find(was.begin(), was.end(), o) == was.end())
				hand(o, true, fn, arg);
	}

	std::string name_of(uint32_t group) const
	{
		auto nm = names.find(group);
		return nm != names.end() ? nm->second : std::to_string(group);
	}

	// A failure of the whole attribute (it does not parse): counted when
	// count is set or the status is new; what was opened is removed.
	void refuse(Received &rx, const std::string &status, bool count, gsa_endpoint_fn fn, void *arg)
	{
		if (count || status != rx.status)
			dropped[status]++;
		rx.status = status;
		rx.entries.clear();
		hand_change(rx.opened, {}, fn, arg);
		rx.opened.clear();
	}

	// Opens every entry of rx.value. Each entry of a group with a key that
	// does not open is counted under its status; a route none of whose
	// entries has a key is counted once as unknown-group. With count unset
	// (opening again, the same value) only a status that changed counts.
	void open(const std::string &route, Received &rx, const gsa_keyring_t *kr, bool count, gsa_endpoint_fn fn,
		  void *arg)
	{
		gsa_opened_entry *es = nullptr;
		size_t n = 0;
		char err[GSA_SEAL_ERR_MAX];
		rx.opened_keys = gsa_keyring_opening_version(kr);
		rx.opened_names = names_version;
		int ret = gsa_open_list(kr, rx.value.data(), rx.value.size(), &es, &n, err, sizeof(err));
		if (ret != GSA_SEAL_OK) {
			refuse(rx, gsa_seal_status_name(ret), count, fn, arg);
			return;
		}
		std::vector<EntryState> states;
		std::vector<Opened> now;
		try {
			for (size_t i = 0; i < n; i++) {
				EntryState st{es[i].group, es[i].epoch, gsa_seal_status_name(es[i].status)};
				if (es[i].status == GSA_SEAL_OK) {
					const gsa_opened &out = es[i].opened;
					Opened o;
					o.group_id = out.group;
					o.epoch = out.epoch;
					o.previous = out.previous_epoch != 0;
					o.originator = addr_text(out.originator);
					o.gateway = addr_text(out.gateway);
					for (size_t j = 0; j < out.count; j++)
						o.prefixes.push_back(prefix_text(out.prefixes[j]));
					o.group = name_of(out.group);
					// the blob's originator is the member whose endpoint the route is
					if (route.substr(0, route.find('/')) != o.originator)
						st.status = GSA_ROUTES_ORIGINATOR_MISMATCH;
					else
						now.push_back(std::move(o));
				}
				states.push_back(std::move(st));
			}
		} catch (const std::bad_alloc &) {
			gsa_opened_entries_free(es, n);
			refuse(rx, "internal", count, fn, arg);
			return;
		}
		gsa_opened_entries_free(es, n);
		std::string status = now.empty() ? "unknown-group" : "ok";
		bool keyed_failure = false;
		for (const EntryState &st : states) {
			if (st.status == "ok" || st.status == "unknown-group")
				continue;
			if (!keyed_failure && now.empty())
				status = st.status;
			keyed_failure = true;
			std::string was;
			for (const EntryState &old : rx.entries)
				if (old.group == st.group)
					was = old.status;
			if (count || was != st.status)
				dropped[st.status]++;
		}
		if (now.empty() && !keyed_failure && (count || rx.status != status))
			dropped[status]++;
		rx.status = status;
		rx.entries = std::move(states);
		hand_change(rx.opened, now, fn, arg);
		rx.opened = std::move(now);
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
			std::string &known = r->names[static_cast<uint32_t>(num)];
			if (known != name) {
				known = name;
				r->names_version++;
			}
		} catch (const std::bad_alloc &) {
			return GSA_SEAL_ERR_INTERNAL;
		}
	}
	return ret;
}

void gsa_routes_set_code(struct gsa_routes *r, uint8_t code)
{
	if (r->code == code)
		return;
	r->code = code;
	// every attribute is encoded again with the new code point
	r->sealed.clear();
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
		auto found = r->sealed.find(endpoint);
		const Sealed *was = found != r->sealed.end() ? &found->second : nullptr;
		std::map<uint32_t, SealedEntry> next;
		bool changed = false;
		gsa_addr ep;
		if (!parse_addr(endpoint, ep)) {
			set_err(err, errlen, std::string("endpoint '") + endpoint + "' is no address");
			return GSA_SEAL_ERR_INVALID;
		}
		for (const auto *lg : cands) {
			uint32_t epoch;
			if (next.count(lg->id) || gsa_keyring_epoch(kr, lg->id, &epoch) != GSA_SEAL_OK)
				continue;
			if (was) {
				auto it = was->entries.find(lg->id);
				if (it != was->entries.end() && it->second.epoch == epoch &&
				    it->second.prefixes == lg->prefixes) {
					next[lg->id] = it->second;
					continue;
				}
			}
			std::vector<gsa_prefix> pfx(lg->prefixes.size());
			for (size_t i = 0; i < pfx.size(); i++)
				if (!parse_prefix(lg->prefixes[i], pfx[i])) {
					set_err(err, errlen, "prefix '" + lg->prefixes[i] + "' is no prefix");
					return GSA_SEAL_ERR_INVALID;
				}
			uint8_t *value = nullptr;
			size_t vlen = 0;
			uint32_t used = 0;
			int ret = gsa_seal(kr, lg->id, &ep, &ep, pfx.data(), pfx.size(), &value, &vlen, &used, err,
					   errlen);
			if (ret != GSA_SEAL_OK)
				return ret;
			SealedEntry &e = next[lg->id];
			e.blob.assign(value, value + vlen);
			free(value);
			e.epoch = used;
			e.prefixes = lg->prefixes;
			changed = true;
		}
		if (next.empty()) {
			r->sealed.erase(endpoint);
			set_err(err, errlen, std::string("no group of ") + endpoint + " has a routing key and prefixes");
			return GSA_SEAL_ERR_NOT_FOUND;
		}
		if (changed || !was || was->attr.empty() || was->entries.size() != next.size()) {
			std::vector<const uint8_t *> blobs;
			std::vector<size_t> lens;
			for (const auto &[id, e] : next) {
				blobs.push_back(e.blob.data());
				lens.push_back(e.blob.size());
			}
			uint8_t *value = nullptr, *whole = nullptr;
			size_t vlen = 0, wlen = 0;
			int ret = gsa_seal_list(blobs.data(), lens.data(), blobs.size(), &value, &vlen, err, errlen);
			if (ret != GSA_SEAL_OK)
				return ret;
			ret = gsa_seal_attr_encode(r->code, value, vlen, &whole, &wlen);
			free(value);
			if (ret != GSA_SEAL_OK) {
				set_err(err, errlen, "cannot encode the attribute");
				return ret;
			}
			Sealed &s = r->sealed[endpoint];
			s.attr.assign(whole, whole + wlen);
			free(whole);
			s.entries = std::move(next);
		}
		const Sealed &s = r->sealed[endpoint];
		*attr = s.attr.data();
		*attr_len = s.attr.size();
		return GSA_SEAL_OK;
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
		// what is looked at: the value, or the attributes it is not found in
		std::vector<uint8_t> raw = ret == GSA_SEAL_OK ? std::vector<uint8_t>(value, value + vlen)
							      : std::vector<uint8_t>(attrs, attrs + len);
		if (!fresh && raw == rx.raw)
			return; // the same again: gsa_routes_reopen() follows the keys
		rx.raw = raw;
		if (ret != GSA_SEAL_OK) {
			rx.value.clear();
			r->refuse(rx, gsa_seal_status_name(ret), true, fn, arg);
			return;
		}
		rx.value = std::move(raw);
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
		r->hand_change(it->second.opened, {}, fn, arg);
		it = r->received.erase(it);
	}
}

void gsa_routes_withdrawn(struct gsa_routes *r, const char *route, gsa_endpoint_fn fn, void *arg)
{
	auto it = r->received.find(route);
	if (it == r->received.end())
		return;
	r->hand_change(it->second.opened, {}, fn, arg);
	r->received.erase(it);
}

void gsa_routes_reopen(struct gsa_routes *r, const gsa_keyring_t *kr, gsa_endpoint_fn fn, void *arg)
{
	uint64_t keys = gsa_keyring_opening_version(kr);
	for (auto &[route, rx] : r->received)
		if (!rx.value.empty() && (rx.opened_keys != keys || rx.opened_names != r->names_version))
			r->open(route, rx, kr, false, fn, arg);
}

void gsa_routes_replay(const struct gsa_routes *r, gsa_endpoint_fn fn, void *arg)
{
	for (const auto &[route, rx] : r->received)
		for (const Opened &o : rx.opened)
			r->hand(o, true, fn, arg);
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
		n += rx.opened.size();
	return n;
}

char *gsa_routes_render(const struct gsa_routes *r, const gsa_keyring_t *kr, const char *group, int json)
{
	try {
		std::string out;
		auto want = [&](const std::string &name) { return !group || name == group; };
		uint32_t grace = gsa_keyring_grace(kr);
		// a failed entry worth showing: of a group we have a key for
		auto shown_failure = [](const EntryState &st) {
			return st.status != "ok" && st.status != "unknown-group";
		};
		if (json) {
			out = "{\"sealedAttribute\":{\"type\":" + std::to_string(r->code) +
			      ",\"grace\":" + std::to_string(grace) + "},\"routes\":[";
			bool first = true;
			for (const auto &[route, rx] : r->received) {
				for (const Opened &o : rx.opened) {
					if (!want(o.group))
						continue;
					for (const auto &p : o.prefixes) {
						out += first ? "" : ",";
						first = false;
						out += "{\"prefix\":" + json_str(p) + ",\"gateway\":" + json_str(o.gateway) +
						       ",\"group\":" + json_str(o.group) +
						       ",\"groupId\":" + std::to_string(o.group_id) + ",\"epoch\":" +
						       json_str(epoch_text(o.epoch)) + ",\"previousEpoch\":" +
						       (o.previous ? "true" : "false") + ",\"originator\":" +
						       json_str(o.originator) + ",\"route\":" + json_str(route) + "}";
					}
				}
			}
			out += "],\"notOpened\":{";
			first = true;
			for (const auto &[route, rx] : r->received) {
				if (rx.any())
					continue;
				out += (first ? "" : ",") + json_str(route) + ":" + json_str(rx.status);
				first = false;
			}
			out += "},\"entries\":{";
			first = true;
			for (const auto &[route, rx] : r->received) {
				std::string list;
				for (const EntryState &st : rx.entries) {
					auto nm = r->names.find(st.group);
					if (group && (nm == r->names.end() || nm->second != group))
						continue;
					list += std::string(list.empty() ? "" : ",") + "{\"group\":" +
						(nm != r->names.end() ? json_str(nm->second) : std::string("null")) +
						",\"groupId\":" + std::to_string(st.group) +
						",\"epoch\":" + json_str(epoch_text(st.epoch)) +
						",\"status\":" + json_str(st.status) + "}";
				}
				if (rx.entries.empty() || (group && list.empty()))
					continue;
				out += (first ? "" : ",") + json_str(route) + ":[" + list + "]";
				first = false;
			}
			out += "},\"sealed\":{";
			first = true;
			for (const auto &[endpoint, sd] : r->sealed) {
				std::string list;
				for (const auto &[id, e] : sd.entries) {
					std::string name = r->name_of(id);
					if (!want(name))
						continue;
					list += std::string(list.empty() ? "" : ",") + "{\"group\":" + json_str(name) +
						",\"groupId\":" + std::to_string(id) +
						",\"epoch\":" + json_str(epoch_text(e.epoch)) +
						",\"prefixes\":" + std::to_string(e.prefixes.size()) + "}";
				}
				if (list.empty())
					continue;
				out += (first ? "" : ",") + json_str(endpoint) + ":[" + list + "]";
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
				uint32_t e = 0, pe = 0, left = 0;
				if (!want(name) || gsa_keyring_epoch(kr, id, &e) != GSA_SEAL_OK)
					continue;
				std::string prev = "null";
				if (gsa_keyring_previous(kr, id, &pe, &left) == GSA_SEAL_OK)
					prev = "{\"epoch\":" + json_str(epoch_text(pe)) +
					       ",\"graceLeft\":" + std::to_string(left) + "}";
				out += (first ? "" : ",") + json_str(name) + ":{\"groupId\":" + std::to_string(id) +
				       ",\"epoch\":" + json_str(epoch_text(e)) + ",\"previous\":" + prev + "}";
				first = false;
			}
			out += "}}";
		} else {
			char line[512];
			snprintf(line, sizeof(line), "Sealed attribute: type %u, grace %u s\n", r->code, grace);
			out = line;
			out += "Routing keys:\n";
			for (const auto &[id, name] : r->names) {
				uint32_t e = 0, pe = 0, left = 0;
				if (want(name) && gsa_keyring_epoch(kr, id, &e) == GSA_SEAL_OK) {
					snprintf(line, sizeof(line), "  %-12s %-10u epoch %s", name.c_str(), id,
						 epoch_text(e).c_str());
					out += line;
					if (gsa_keyring_previous(kr, id, &pe, &left) == GSA_SEAL_OK && left) {
						snprintf(line, sizeof(line), " (previous %s, %u s of grace left)",
							 epoch_text(pe).c_str(), left);
						out += line;
					}
					out += "\n";
				}
			}
			std::string sealed;
			for (const auto &[endpoint, sd] : r->sealed) {
				std::string list;
				for (const auto &[id, e] : sd.entries) {
					std::string name = r->name_of(id);
					if (want(name))
						list += (list.empty() ? "" : ", ") + name + " epoch " + epoch_text(e.epoch);
				}
				if (!list.empty())
					sealed += "  " + endpoint + "  " + list + "\n";
			}
			if (!sealed.empty())
				out += "Sealed (own membership routes):\n" + sealed;
			out += "Opened routes:\n";
			snprintf(line, sizeof(line), "  %-24s %-18s %-12s %-9s %s\n", "Prefix", "Gateway", "Group",
				 "Epoch", "Originator");
			out += line;
			for (const auto &[route, rx] : r->received) {
				for (const Opened &o : rx.opened) {
					if (!want(o.group))
						continue;
					for (const auto &p : o.prefixes) {
						snprintf(line, sizeof(line), "  %-24s %-18s %-12s %-9s %s%s\n", p.c_str(),
							 o.gateway.c_str(), o.group.c_str(), epoch_text(o.epoch).c_str(),
							 o.originator.c_str(), o.previous ? " (previous epoch)" : "");
						out += line;
					}
				}
			}
			std::string failed;
			for (const auto &[route, rx] : r->received) {
				if (!rx.any()) {
					failed += "  " + route + "  " + rx.status + "\n";
					continue;
				}
				for (const EntryState &st : rx.entries)
					if (shown_failure(st) && want(r->name_of(st.group)))
						failed += "  " + route + "  group " + r->name_of(st.group) + ": " +
							  st.status + "\n";
			}
			if (!failed.empty())
				out += "Not opened:\n" + failed;
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
