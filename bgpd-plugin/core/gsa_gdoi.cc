// SPDX-License-Identifier: GPL-2.0-or-later
// The `crypto gdoi` configuration of the bgpd module: groups as the CLI
// says them, their gdoi settings (docs/gdoi-config.md) and their
// running-config text. See gsa_gdoi.h.
#include "gsa_gdoi.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

enum class Role { None, Server, Member };

struct Tek {
	std::string profile;
	std::string local_ts, remote_ts;
};

struct Group {
	std::string name;
	std::string number;
	Role role = Role::None;
	std::vector<std::string> server_addresses;
	std::string server_identity;
	std::string local_identity;
	std::vector<std::string> local_addresses;
	std::vector<std::string> members;
	std::string auth;
	std::string rekey_lifetime, rekey_auth, rekey_transport, rekey_address, rekey_algorithm;
	std::string rekey_transport_address; // rekey transport multicast ADDR
	std::string sa_lifetime;
	std::string liveness;
	std::map<uint32_t, Tek> sas;
};

using Settings = std::vector<std::pair<std::string, std::string>>;

bool group_name_ok(const std::string &name)
{
	return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		       c == '_';
	});
}

std::string join(const std::vector<std::string> &v)
{
	std::string out;
	for (const std::string &s : v)
		out += (out.empty() ? "" : ", ") + s;
	return out;
}

// What the group lacks to be sent, in CLI words.
std::vector<std::string> missing(const Group &g)
{
	std::vector<std::string> m;
	if (g.number.empty())
		m.push_back("identity number");
	if (g.role == Role::None) {
		m.push_back("server local or server address");
		return m;
	}
	if (g.local_identity.empty())
		m.push_back("local identity");
	if (g.local_addresses.empty())
		m.push_back("local address");
	if (g.role == Role::Server) {
		if (g.members.empty())
			m.push_back("member identity");
		if (g.sas.empty())
			m.push_back("sa ipsec");
		for (const auto &[i, t] : g.sas)
			if (t.local_ts.empty())
				m.push_back("sa ipsec " + std::to_string(i) + " match address");
	} else if (g.server_identity.empty()) {
		m.push_back("server identity");
	}
	return m;
}

void settings_of(const Group &g, Settings &out)
{
	const std::string p = "groups." + g.name + ".";
	auto add = [&](const std::string &key, const std::string &value) {
		if (!value.empty())
			out.emplace_back(p + key, value);
	};
	bool server = g.role == Role::Server;
	add("role", server ? "server" : "member");
	add("group_id", g.number);
	add("local_id", g.local_identity);
	add(server ? "listen" : "local_addrs", join(g.local_addresses));
	if (!server) {
		add("servers", join(g.server_addresses));
		add("server_id", g.server_identity);
	}
	add("members", join(g.members));
	add("auth", g.auth);
	add("kek_lifetime", g.rekey_lifetime);
	add("rekey_auth", g.rekey_auth);
	add("rekey", g.rekey_transport);
	add("multicast", g.rekey_transport == "multicast" ? g.rekey_transport_address : g.rekey_address);
	add("rekey_proposal", g.rekey_algorithm);
	add("tek_lifetime", g.sa_lifetime);
	add("liveness", g.liveness);
	for (const auto &[i, t] : g.sas) {
		std::string tek = "tek-" + std::to_string(i) + ".";
		add(tek + "local_ts", t.local_ts);
		add(tek + "remote_ts", t.remote_ts);
		add(tek + "esp_proposal", t.profile);
	}
}

char *dup(const std::string &s)
{
	char *p = static_cast<char *>(malloc(s.size() + 1));
	if (p)
		memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

int fail(char *err, size_t errsize, const std::string &message)
{
	if (errsize)
		snprintf(err, errsize, "%s", message.c_str());
	return -1;
}

// A list entry of the CLI: no repeats; a comma would split it in two.
int list_edit(std::vector<std::string> &list, bool no, const char *value, const char *what, char *err,
              size_t errsize)
{
	std::string v = value ? value : "";
	auto it = std::find(list.begin(), list.end(), v);
	if (no) {
		if (it == list.end())
			return fail(err, errsize, std::string(what) + " " + v + " is not configured");
		list.erase(it);
		return 0;
	}
	if (v.empty() || v.find(',') != std::string::npos)
		return fail(err, errsize,
		            std::string(what) + " '" + v +
		                    "' cannot hold a comma (write distinguished names in the slash form)");
	if (it != list.end())
		return fail(err, errsize, std::string(what) + " " + v + " is already configured");
	list.push_back(v);
	return 0;
}

} // namespace

struct gsa_gdoi {
	std::vector<Group> groups;
	std::vector<const char *> names; // for gsa_gdoi_groups()

	Group *find(const std::string &name)
	{
		for (Group &g : groups)
			if (g.name == name)
				return &g;
		return nullptr;
	}
	Settings settings() const
	{
		Settings s;
		for (const Group &g : groups)
			if (missing(g).empty())
				settings_of(g, s);
		return s;
	}
};

extern "C" struct gsa_gdoi *gsa_gdoi_new(void)
{
	return new (std::nothrow) gsa_gdoi();
}

extern "C" struct gsa_gdoi *gsa_gdoi_copy(const struct gsa_gdoi *cfg)
{
	try {
		auto *c = new gsa_gdoi();
		c->groups = cfg->groups;
		return c;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" void gsa_gdoi_free(struct gsa_gdoi *cfg)
{
	delete cfg;
}

extern "C" int gsa_gdoi_add_group(struct gsa_gdoi *cfg, const char *name, char *err, size_t errsize)
{
	if (!group_name_ok(name))
		return fail(err, errsize,
		            std::string("'") + name +
		                    "' is not a group name (up to 64 letters, digits, '-' and '_')");
	if (cfg->find(name))
		return 0;
	try {
		Group g;
		g.name = name;
		cfg->groups.push_back(std::move(g));
	} catch (const std::bad_alloc &) {
		return fail(err, errsize, "out of memory");
	}
	return 0;
}

extern "C" int gsa_gdoi_remove_group(struct gsa_gdoi *cfg, const char *name, char *err, size_t errsize)
{
	auto it = std::find_if(cfg->groups.begin(), cfg->groups.end(), [&](const Group &g) { return g.name == name; });
	if (it == cfg->groups.end())
		return fail(err, errsize, std::string("no crypto gdoi group ") + name);
	cfg->groups.erase(it);
	return 0;
}

extern "C" bool gsa_gdoi_has_group(const struct gsa_gdoi *cfg, const char *name)
{
	return const_cast<gsa_gdoi *>(cfg)->find(name) != nullptr;
}

extern "C" int gsa_gdoi_edit(struct gsa_gdoi *cfg, const char *group, enum gsa_gdoi_field field, bool no,
                             uint32_t index, const char *value, const char *value2, char *err, size_t errsize)
{
	try {
		Group *g = cfg->find(group);
		if (!g)
			return fail(err, errsize, std::string("no crypto gdoi group ") + group);
		std::string v = value ? value : "";
		auto scalar = [&](std::string &slot) {
			slot = no ? std::string() : v;
			return 0;
		};
		auto role = [&](Role want) {
			Role other = want == Role::Server ? Role::Member : Role::Server;
			if (g->role == other)
				return fail(err, errsize,
				            std::string("group ") + group + " is a " +
				                    (other == Role::Server ? "key server group (server local)"
				                                           : "member group (server address)") +
				                    ": remove that first");
			return 0;
		};
		switch (field) {
		case GSA_GDOI_NUMBER:
			return scalar(g->number);
		case GSA_GDOI_SERVER_LOCAL:
			if (no) {
				if (g->role == Role::Server)
					g->role = Role::None;
				return 0;
			}
			if (role(Role::Server))
				return -1;
			g->role = Role::Server;
			return 0;
		case GSA_GDOI_SERVER_ADDRESS:
			if (!no && role(Role::Member))
				return -1;
			if (list_edit(g->server_addresses, no, value, "server address", err, errsize))
				return -1;
			g->role = g->server_addresses.empty() ? Role::None : Role::Member;
			return 0;
		case GSA_GDOI_SERVER_IDENTITY:
			return scalar(g->server_identity);
		case GSA_GDOI_LOCAL_IDENTITY:
			return scalar(g->local_identity);
		case GSA_GDOI_LOCAL_ADDRESS:
			return list_edit(g->local_addresses, no, value, "local address", err, errsize);
		case GSA_GDOI_MEMBER:
			return list_edit(g->members, no, value, "member identity", err, errsize);
		case GSA_GDOI_AUTH:
			return scalar(g->auth);
		case GSA_GDOI_REKEY_LIFETIME:
			return scalar(g->rekey_lifetime);
		case GSA_GDOI_REKEY_AUTH:
			return scalar(g->rekey_auth);
		case GSA_GDOI_REKEY_TRANSPORT:
			g->rekey_transport_address = no || !value2 ? std::string() : std::string(value2);
			return scalar(g->rekey_transport);
		case GSA_GDOI_REKEY_ADDRESS:
			return scalar(g->rekey_address);
		case GSA_GDOI_REKEY_ALGORITHM:
			return scalar(g->rekey_algorithm);
		case GSA_GDOI_SA_LIFETIME:
			return scalar(g->sa_lifetime);
		case GSA_GDOI_LIVENESS:
			return scalar(g->liveness);
		case GSA_GDOI_SA_PROFILE:
		case GSA_GDOI_SA_MATCH:
		case GSA_GDOI_SA: {
			auto it = g->sas.find(index);
			if (no && it == g->sas.end())
				return fail(err, errsize, "sa ipsec " + std::to_string(index) + " is not configured");
			if (field == GSA_GDOI_SA) {
				g->sas.erase(it);
				return 0;
			}
			Tek &t = g->sas[index];
			if (field == GSA_GDOI_SA_PROFILE) {
				t.profile = no ? std::string() : v;
			} else if (no) {
				t.local_ts.clear();
				t.remote_ts.clear();
			} else {
				t.local_ts = v;
				t.remote_ts = value2 ? value2 : v;
			}
			if (t.profile.empty() && t.local_ts.empty())
				g->sas.erase(index);
			return 0;
		}
		}
		return fail(err, errsize, "unknown setting");
	} catch (const std::bad_alloc &) {
		return fail(err, errsize, "out of memory");
	}
}

extern "C" char **gsa_gdoi_request_args(const struct gsa_gdoi *cfg, const char *source)
{
	try {
		Settings s = cfg->settings();
		std::vector<std::string> flat = {"source", source};
		for (const auto &[k, v] : s) {
			flat.push_back(k);
			flat.push_back(v);
		}
		char **args = static_cast<char **>(calloc(flat.size() + 1, sizeof(char *)));
		if (!args)
			return nullptr;
		for (size_t i = 0; i < flat.size(); i++) {
			if (!(args[i] = dup(flat[i]))) {
				gsa_gdoi_args_free(args);
				return nullptr;
			}
		}
		return args;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" void gsa_gdoi_args_free(char **args)
{
	if (!args)
		return;
	for (char **a = args; *a; a++)
		free(*a);
	free(args);
}

extern "C" bool gsa_gdoi_same_settings(const struct gsa_gdoi *a, const struct gsa_gdoi *b)
{
	try {
		return a->settings() == b->settings();
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" char *gsa_gdoi_missing(const struct gsa_gdoi *cfg, const char *group)
{
	Group *g = const_cast<gsa_gdoi *>(cfg)->find(group);
	if (!g)
		return nullptr;
	try {
		return dup(join(missing(*g)));
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" const char *const *gsa_gdoi_groups(const struct gsa_gdoi *cfg, size_t *n)
{
	auto *c = const_cast<gsa_gdoi *>(cfg);
	c->names.clear();
	for (const Group &g : c->groups)
		c->names.push_back(g.name.c_str());
	*n = c->names.size();
	return c->names.data();
}

extern "C" char *gsa_gdoi_config_text(const struct gsa_gdoi *cfg)
{
	try {
		std::string out;
		for (const Group &g : cfg->groups) {
			auto line = [&](const std::string &text, const std::string &value) {
				if (!value.empty())
					out += " " + text + value + "\n";
			};
			out += "crypto gdoi group " + g.name + "\n";
			line("identity number ", g.number);
			if (g.role == Role::Server)
				out += " server local\n";
			for (const std::string &a : g.server_addresses)
				line("server address ", a);
			line("server identity ", g.server_identity);
			line("local identity ", g.local_identity);
			for (const std::string &a : g.local_addresses)
				line("local address ", a);
			for (const std::string &m : g.members)
				line("member identity ", m);
			line("authentication ", g.auth);
			line("rekey lifetime seconds ", g.rekey_lifetime);
			line("rekey authentication ", g.rekey_auth);
			line("rekey transport ", g.rekey_transport +
							   (g.rekey_transport_address.empty() ? ""
											      : " " + g.rekey_transport_address));
			line("rekey address ", g.rekey_address);
			line("rekey algorithm ", g.rekey_algorithm);
			line("sa lifetime seconds ", g.sa_lifetime);
			line("liveness seconds ", g.liveness);
			for (const auto &[i, t] : g.sas) {
				std::string sa = "sa ipsec " + std::to_string(i) + " ";
				line(sa + "profile ", t.profile);
				if (!t.local_ts.empty())
					line(sa + "match address ", t.local_ts + " " + t.remote_ts);
			}
			out += "exit\n!\n";
		}
		return dup(out);
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}
