// SPDX-License-Identifier: GPL-2.0-or-later
// gdoictl: the command-line client of the gdoi plugin's control socket.
// It sends one VICI command, prints the answer for a person or, with
// --json, as JSON, and exits 0 on success, 1 if the command failed, 2 on a
// usage error and 3 if the socket could not be used.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "groupsec/vici/gdoi_names.h"
#include "groupsec/json.h"
#include "groupsec/vici/client.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::gdoi::gdoictl {

namespace {

using groupsec::vici::EntryKind;
using groupsec::vici::Section;

// The build sets it to the plugin's socket in the strongSwan prefix.
#ifndef GDOICTL_DEFAULT_SOCKET
#define GDOICTL_DEFAULT_SOCKET "/var/run/gdoi.vici"
#endif
constexpr const char *kDefaultSocket = GDOICTL_DEFAULT_SOCKET;
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSocket = 3;
constexpr int kTimeoutSeconds = 30;

const char kUsage[] =
        "usage: gdoictl [--socket PATH] [--json] COMMAND [ARGUMENT...]\n"
        "\n"
        "commands:\n"
        "  groups                               the groups, their role and state\n"
        "  members GROUP                        the registered members of a key server group\n"
        "  sas GROUP                            the group's data-security SAs\n"
        "  counters GROUP                       the group's message counters\n"
        "  rekey GROUP                          send a rekey to the group's members now\n"
        "  evict GROUP IDENTITY                 remove a member and rekey the rest; it stays out\n"
        "  readmit GROUP IDENTITY               let an evicted identity register again\n"
        "  exclude GROUP [IDENTITY]             Delete(GIKE_UPDATE, SPI 0): the member (or every\n"
        "                                       member) drops the group and registers again\n"
        "  reregister GROUP                     register with the key server again now\n"
        "  endpoints GROUP                      the group's tunnel endpoints\n"
        "  routing-keys [GROUP]                 the routing keys of sealed routes (epoch and key)\n"
        "  shortcuts [GROUP]                    shortcut SAs between outside members, and counters\n"
        "  request-shortcut GROUP A B           ask the manager for a shortcut between members A and B\n"
        "  remove-shortcut GROUP ID             end a shortcut\n"
        "  add-endpoint GROUP GATEWAY PREFIX... add or replace a tunnel endpoint\n"
        "  remove-endpoint GROUP GATEWAY        remove a tunnel endpoint\n"
        "  elections [GROUP]                    the key server elections (election plugin): state,\n"
        "                                       leader, last result, rounds, dropped messages\n"
        "  trust COMMAND [ARGUMENT...]          the store of trust lists (gstrust's list, show, trusted,\n"
        "                                       enable, disable, condition, remove; reload), in the\n"
        "                                       daemon: its conditions, its trusted set reloaded\n"
        "  version                              the plugin's version\n"
        "  monitor [GROUP] [--count N]          print events as they happen (of one group), one a line;\n"
        "                                       with --count, exit after N\n"
        "\n"
        "options:\n"
        "  -s, --socket PATH  the control socket (default $GDOICTL_SOCKET, else " GDOICTL_DEFAULT_SOCKET ")\n"
        "  -j, --json         print JSON\n"
        "  -h, --help         print this text\n";

// --- talking to the socket ---

class Fd {
public:
	explicit Fd(int fd) : fd_(fd) {}
	~Fd()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }

private:
	int fd_;
};

// A blocking connection to the control socket, speaking through the
// sans-IO VICI client.
class Connection {
public:
	explicit Connection(const std::string &path) : path_(path) {}

	// err gets the reason of a failure
	bool open(std::string &err, bool timeout = true)
	{
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		if (path_.empty() || path_.size() >= sizeof(addr.sun_path)) {
			err = "socket path '" + path_ + "' is empty or too long";
			return false;
		}
		memcpy(addr.sun_path, path_.data(), path_.size());
		fd_ = std::make_unique<Fd>(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (fd_->get() < 0) {
			err = std::string("socket: ") + strerror(errno);
			return false;
		}
		set_timeout(timeout);
		if (connect(fd_->get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
			err = "cannot connect to " + path_ + ": " + strerror(errno);
			return false;
		}
		return true;
	}

	// Without a timeout, reads wait for as long as it takes (monitor).
	void set_timeout(bool on)
	{
		timeval tv{on ? kTimeoutSeconds : 0, 0};
		setsockopt(fd_->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd_->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}

	vici::Client &client() { return client_; }

	// Writes everything the client queued.
	bool flush(std::string &err)
	{
		while (client_.wants_write()) {
			ByteView out = client_.output();
			ssize_t n = send(fd_->get(), out.data(), out.size(), MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = "cannot send to " + path_ + ": " + strerror(errno);
				return false;
			}
			client_.consume_output(static_cast<size_t>(n));
		}
		return true;
	}

	// The next thing received, reading as needed.
	std::optional<vici::Received> next(std::string &err)
	{
		for (;;) {
			if (auto m = client_.next())
				return m;
			uint8_t buf[16384];
			ssize_t n = recv(fd_->get(), buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = "cannot read from " + path_ + ": " +
				      (errno == EAGAIN || errno == EWOULDBLOCK
				               ? std::string("no answer within ") + std::to_string(kTimeoutSeconds) + " s"
				               : std::string(strerror(errno)));
				return std::nullopt;
			}
			if (n == 0) {
				err = path_ + " closed the connection";
				return std::nullopt;
			}
			auto fed = client_.feed(ByteView(buf, static_cast<size_t>(n)));
			if (!fed.ok()) {
				err = "bad answer from " + path_ + ": " + fed.error().message;
				return std::nullopt;
			}
		}
	}

private:
	std::string path_;
	std::unique_ptr<Fd> fd_;
	vici::Client client_;
};

// Sends one request and returns the response message; err gets the reason
// of a failure.
std::optional<Section> call(const std::string &path, const std::string &command, const Section &request,
                            std::string &err)
{
	Connection c(path);
	if (!c.open(err))
		return std::nullopt;
	auto id = c.client().request(command, request);
	if (!id.ok()) {
		err = "cannot encode the request: " + id.error().message;
		return std::nullopt;
	}
	if (!c.flush(err))
		return std::nullopt;
	for (;;) {
		auto m = c.next(err);
		if (!m) {
			if (err == path + " closed the connection")
				err = path + " closed the connection without answering";
			return std::nullopt;
		}
		switch (m->kind) {
		case vici::Received::Kind::Response:
			return std::move(m->message);
		case vici::Received::Kind::UnknownCommand:
			err = path + " does not know the command '" + command + "'";
			return std::nullopt;
		default:
			continue; // not registered for any event, but harmless
		}
	}
}

// --- human output ---

std::string get(const Section &s, const char *key, const char *absent = "-")
{
	const std::string *v = s.value(key);
	return v ? *v : absent;
}

// Columns separated by two spaces, each as wide as its widest cell.
class Table {
public:
	explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
	void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
	std::string str() const
	{
		std::vector<size_t> width;
		for (const auto &row : rows_) {
			width.resize(std::max(width.size(), row.size()));
			for (size_t i = 0; i < row.size(); i++)
				width[i] = std::max(width[i], row[i].size());
		}
		std::string out;
		for (const auto &row : rows_) {
			std::string line;
			for (size_t i = 0; i < row.size(); i++) {
				line += row[i];
				if (i + 1 < row.size())
					line += std::string(width[i] - row[i].size() + 2, ' ');
			}
			out += line + "\n";
		}
		return out;
	}

private:
	std::vector<std::vector<std::string>> rows_;
};

// The sub-sections of a response section, in order.
std::vector<const Section *> children(const Section *s)
{
	std::vector<const Section *> out;
	if (s) {
		for (const vici::Entry &e : s->entries()) {
			if (e.kind == EntryKind::Section)
				out.push_back(&e.section);
		}
	}
	return out;
}

// A key server group's key hierarchy and what evicted members could pool.
std::string eviction_text(const Section &g)
{
	const Section *e = g.section("eviction");
	if (!e)
		return "-";
	std::string h = get(*e, "key-hierarchy");
	std::string x = get(*e, "coalition-exposure");
	return x == "none" ? h : h + " (exposed: " + x + ")";
}

std::string human_groups(const Section &r)
{
	auto groups = children(r.section("groups"));
	if (groups.empty())
		return "no groups\n";
	Table t({"NAME", "ROLE", "STATE", "GROUP-ID", "MEMBERS", "EVICTED", "SAS", "REKEY-AUTH", "SERVER", "EVICTION"});
	for (const Section *g : groups)
		t.add({get(*g, "name"), get(*g, "role"), get(*g, "state"), get(*g, "group-id"), get(*g, "members"),
		       get(*g, "evicted"), get(*g, "sas"), get(*g, "rekey-auth"), get(*g, "server"), eviction_text(*g)});
	return t.str();
}

std::string human_elections(const Section &r)
{
	auto elections = children(r.section("elections"));
	if (elections.empty())
		return "no elections\n";
	Table t({"NAME", "GROUP", "STATE", "LEADER", "ADDRESS", "LAST-RESULT", "ROUNDS", "FORGED", "REPLAYED",
	         "ROGUE", "UNAUTHORIZED", "REPLICA"});
	for (const Section *e : elections) {
		const Section *c = e->section("counters");
		auto counter = [&](const char *k) { return c ? get(*c, k) : std::string(); };
		// the state version held, and on the server how many standbys hold it
		const Section *rs = e->section("replica");
		std::string replica = rs && get(*rs, "version") != "0" ? "v" + get(*rs, "version") : "-";
		if (rs && get(*e, "leader-self") == "yes" && get(*rs, "standbys") != "0")
			replica += " " + get(*rs, "standbys-current") + "/" + get(*rs, "standbys");
		std::string leader = get(*e, "leader");
		if (get(*e, "leader-self") == "yes")
			leader += " (self)";
		t.add({get(*e, "name"), get(*e, "group-number"), get(*e, "state"), leader.empty() ? "-" : leader,
		       get(*e, "leader-address").empty() ? "-" : get(*e, "leader-address"), get(*e, "last-result"),
		       get(*e, "rounds"), counter("forged"), counter("replayed"), counter("rogue"),
		       counter("unauthorized"), replica});
	}
	return t.str();
}

std::string human_routing_keys(const Section &r)
{
	auto groups = children(r.section("groups"));
	if (groups.empty())
		return "no groups\n";
	Table t({"NAME", "ROLE", "GROUP-ID", "EPOCH", "KEY"});
	for (const Section *g : groups)
		t.add({get(*g, "name"), get(*g, "role"), get(*g, "group-id"), get(*g, "epoch"), get(*g, "key")});
	return t.str();
}

std::string human_members(const Section &r)
{
	auto members = children(r.section("members"));
	std::string out;
	if (members.empty()) {
		out = "group " + get(r, "group") + ": no members\n";
	} else {
		Table t({"IDENTITY", "ADDRESS", "FLAT-ID", "REGISTERED", "PEERS"});
		for (const Section *m : members) {
			// member-list mode: the members it named; else auto-discovery
			std::string peers = "auto";
			if (const auto *l = m->list("peers")) {
				peers.clear();
				for (const std::string &p : *l)
					peers += (peers.empty() ? "" : ", ") + p;
			}
			t.add({get(*m, "id"), get(*m, "address"), get(*m, "flat-id"), get(*m, "registered") + "s ago",
			       peers});
		}
		out = t.str();
	}
	const auto *evicted = r.list("evicted");
	if (evicted && !evicted->empty()) {
		out += "evicted (refused until readmitted):";
		for (size_t i = 0; i < evicted->size(); i++)
			out += (i ? ", " : " ") + (*evicted)[i];
		out += "\n";
	}
	return out;
}

std::string human_sas(const Section &r)
{
	auto sas = children(r.section("sas"));
	if (sas.empty())
		return "group " + get(r, "group") + ": no SAs\n";
	// a member's kernel counts what each SA carried
	bool counted = std::all_of(sas.begin(), sas.end(), [](const Section *s) { return s->value("packets-in"); });
	std::vector<std::string> head = {"SPI", "ALGORITHM", "LIFETIME", "EXPIRES", "STATE"};
	if (counted)
		head.insert(head.end(), {"IN (PACKETS/BYTES)", "OUT (PACKETS/BYTES)"});
	Table t(head);
	for (const Section *s : sas) {
		std::vector<std::string> row = {get(*s, "spi"), get(*s, "encr-alg") + "/" + get(*s, "encr-keysize"),
		                                get(*s, "lifetime") + "s", "in " + get(*s, "expires") + "s",
		                                get(*s, "current") == "yes" ? "current" : "previous"};
		if (counted)
			row.insert(row.end(), {get(*s, "packets-in") + "/" + get(*s, "bytes-in"),
			                       get(*s, "packets-out") + "/" + get(*s, "bytes-out")});
		t.add(row);
	}
	return t.str();
}

std::string human_endpoints(const Section &r)
{
	auto endpoints = children(r.section("endpoints"));
	if (endpoints.empty())
		return "group " + get(r, "group") + ": no tunnel endpoints\n";
	Table t({"GATEWAY", "PREFIXES"});
	for (const Section *e : endpoints) {
		std::string prefixes;
		if (const auto *items = e->list("prefixes")) {
			for (const std::string &p : *items)
				prefixes += (prefixes.empty() ? "" : ", ") + p;
		}
		t.add({get(*e, "gateway"), prefixes});
	}
	return t.str();
}

// The one group of a list-groups answer.
// gdoictl shortcuts: per group, its shortcuts (manager: both members and
// the state; member: the peer), then the counters.
std::string human_shortcuts(const Section &r)
{
	auto groups = children(r.section("groups"));
	if (groups.empty())
		return "no group has shortcuts configured\n";
	std::string out;
	for (const Section *g : groups) {
		const bool manager = get(*g, "role") == "manager";
		out += "group " + get(*g, "group") + " (" + get(*g, "role") + ")\n";
		auto list = children(g->section("shortcuts"));
		if (list.empty())
			out += "  no shortcuts\n";
		for (const Section *x : list) {
			if (manager)
				out += "  " + get(*x, "id") + ": " + get(*x, "a") + " " + get(*x, "inside-a") + " <-> " +
				       get(*x, "b") + " " + get(*x, "inside-b") + " " + get(*x, "state") + " spi " +
				       get(*x, "spi-ab") + "/" + get(*x, "spi-ba") + "\n";
			else
				out += "  " + get(*x, "id") + ": " + get(*x, "local-inside") + " <-> " + get(*x, "peer-inside") +
				       " via " + get(*x, "peer") + " spi in " + get(*x, "spi-in") + " out " + get(*x, "spi-out") +
				       (get(*x, "outbound") == "yes" ? "" : " (inbound only)") + "\n";
		}
		if (const Section *c = g->section("counters")) {
			std::string line;
			for (const vici::Entry &e : c->entries())
				if (e.kind == EntryKind::Value)
					line += " " + e.name + "=" + e.value;
			out += "  counters:" + line + "\n";
		}
	}
	return out;
}

const Section *only_group(const Section &r)
{
	auto groups = children(r.section("groups"));
	return groups.size() == 1 ? groups[0] : nullptr;
}

std::string human_counters(const Section &r)
{
	const Section *g = only_group(r);
	const Section *c = g ? g->section("counters") : nullptr;
	if (!c)
		return "";
	std::string out = "group " + get(*g, "name") + "\n";
	for (const vici::Entry &e : c->entries()) {
		if (e.kind == EntryKind::Value)
			out += "  " + e.name + std::string(e.name.size() < 22 ? 22 - e.name.size() : 1, ' ') + e.value + "\n";
	}
	return out;
}

// --- JSON output ---

const std::set<std::string> kNumbers = {
        "kek-message-id", "members",    "sas",           "received",     "sent",
        "dropped-malformed", "dropped-auth", "dropped-replay", "dropped-unauthorized", "cookies-sent",
        "registrations",  "rekeys",     "flat-id",       "registered",   "encr-keysize",
        "lifetime",       "expires",    "evicted",       "exposed-keks", "tree-epoch",
        "tree-depth",     "invalid-spi",   "ike-deletes-sent", "ike-deletes-received", "ike-rekeys",
        "liveness",       "liveness-failed", "responder", "initiator", "half-open", "unsupported-critical", "group-number",
        "shortcut-sent",  "shortcut-received", "shortcut-unsent",
        "packets-in",     "bytes-in",   "packets-out",   "bytes-out",
        // events
        "port",           "member-id",  "message-id",
        // shortcuts
        "id", "age", "up", "attempt", "moves", "outbound", "detected-relayed", "detected-session",
        "offers-sent", "aborted", "moves-sent", "teardowns-sent", "refused-unknown-member",
        "rejected-forged", "rejected-replay", "rejected-malformed", "acks-unexpected", "send-failures",
        "offers", "teardowns", "refused", "kernel-failures",
        // elections
        "attempts",       "rounds",     "collisions",    "leader-changes", "malformed",
        "forged",         "replayed",   "rogue",         "unauthorized",   "ignored",
        // state replication
        "version",        "bytes",      "standbys",      "standbys-current",
};
const std::set<std::string> kBooleans = {"current",    "again",     "outbound",   "new-kek",   "inbound-a",
                                         "inbound-b",  "outbound-a", "outbound-b", "leader-self"};
// sections of named entries, shown as arrays
const std::set<std::string> kArrays = {"groups", "members", "sas", "endpoints", "shortcuts", "elections"};

// "kek-message-id" -> "kekMessageId", as FRR names JSON keys.
std::string camel(const std::string &k)
{
	std::string out;
	bool up = false;
	for (char c : k) {
		if (c == '-') {
			up = true;
		} else {
			out += up ? static_cast<char>(toupper(static_cast<unsigned char>(c))) : c;
			up = false;
		}
	}
	return out;
}

bool all_digits(const std::string &s)
{
	return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void json_section(JsonWriter &w, const Section &s);

void json_entry(JsonWriter &w, const vici::Entry &e)
{
	if (e.name == "success")
		return;
	w.key(camel(e.name));
	switch (e.kind) {
	case EntryKind::Value:
		if (kNumbers.count(e.name) && all_digits(e.value))
			w.value(static_cast<uint64_t>(std::stoull(e.value)));
		else if (kBooleans.count(e.name) && (e.value == "yes" || e.value == "no"))
			w.value(e.value == "yes");
		else
			w.value(e.value);
		break;
	case EntryKind::List:
		w.begin_array();
		for (const std::string &item : e.items)
			w.value(item);
		w.end_array();
		break;
	case EntryKind::Section:
		if (kArrays.count(e.name)) {
			w.begin_array();
			for (const Section *c : children(&e.section))
				json_section(w, *c);
			w.end_array();
		} else {
			json_section(w, e.section);
		}
		break;
	}
}

void json_section(JsonWriter &w, const Section &s)
{
	w.begin_object();
	for (const vici::Entry &e : s.entries())
		json_entry(w, e);
	w.end_object();
}

std::string json_of(const Section &s)
{
	JsonWriter w;
	json_section(w, s);
	return w.str() + "\n";
}

// --- the commands ---

struct Invocation {
	const std::vector<std::string> &args; // after the command name
	bool json;
};

struct Subcommand {
	const char *name;
	const char *usage; // the arguments
	size_t min_args;
	size_t max_args; // SIZE_MAX: no limit
	const char *vici_command;
	std::function<Section(const std::vector<std::string> &)> request;
	std::function<std::string(const Invocation &, const Section &)> print;
};

Section group_request(const std::vector<std::string> &a)
{
	Section s;
	s.add_value("group", a.at(0));
	return s;
}

// An action's answer: a sentence, or its arguments as JSON.
std::string action(const Invocation &inv, const char *what, const std::vector<const char *> &keys,
                   const std::string &sentence)
{
	if (!inv.json)
		return sentence + "\n";
	JsonWriter w;
	w.begin_object();
	w.key("action").value(what);
	for (size_t i = 0; i < keys.size() && i < inv.args.size(); i++)
		w.key(keys[i]).value(inv.args[i]);
	if (inv.args.size() > keys.size()) {
		w.key("prefixes").begin_array();
		for (size_t i = keys.size(); i < inv.args.size(); i++)
			w.value(inv.args[i]);
		w.end_array();
	}
	w.key("success").value(true);
	w.end_object();
	return w.str() + "\n";
}

// gdoictl counters GROUP: the counters section of the group.
std::string print_counters(const Invocation &inv, const Section &r)
{
	const Section *g = only_group(r);
	if (!inv.json)
		return human_counters(r);
	JsonWriter w;
	w.begin_object().key("group").value(g ? get(*g, "name") : inv.args.at(0));
	w.key("counters");
	if (const Section *c = g ? g->section("counters") : nullptr)
		json_section(w, *c);
	else
		w.begin_object().end_object();
	w.end_object();
	return w.str() + "\n";
}

// GROUP IDENTITY
Section member_request(const std::vector<std::string> &a)
{
	Section s = group_request(a);
	s.add_value("member", a.at(1));
	return s;
}

// GROUP GATEWAY
Section gateway_request(const std::vector<std::string> &a)
{
	Section s = group_request(a);
	s.add_value("gateway", a.at(1));
	return s;
}

// GROUP GATEWAY PREFIX...
Section add_endpoint_request(const std::vector<std::string> &a)
{
	Section s = gateway_request(a);
	s.add_list("prefixes", std::vector<std::string>(a.begin() + 2, a.end()));
	return s;
}

std::string print_add_endpoint(const Invocation &inv, const Section &)
{
	std::string prefixes;
	for (size_t i = 2; i < inv.args.size(); i++)
		prefixes += (i > 2 ? ", " : "") + inv.args[i];
	return action(inv, "add-endpoint", {"group", "gateway"},
	              "endpoint " + inv.args[1] + " of group " + inv.args[0] + ": " + prefixes);
}

const std::vector<Subcommand> &subcommands()
{
	static const std::vector<Subcommand> table = {
	        {"groups", "", 0, 0, command::kListGroups, [](const auto &) { return Section(); },
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_groups(r); }},
	        {"members", "GROUP", 1, 1, command::kListMembers, group_request,
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_members(r); }},
	        {"sas", "GROUP", 1, 1, command::kListSas, group_request,
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_sas(r); }},
	        {"counters", "GROUP", 1, 1, command::kListGroups, group_request,
	         print_counters},
	        {"rekey", "GROUP", 1, 1, command::kRekey, group_request,
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "rekey", {"group"}, "rekey of group " + inv.args[0] + " started");
	         }},
	        {"evict", "GROUP IDENTITY", 2, 2, command::kEvict,
	         member_request,
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "evict", {"group", "member"},
		                       inv.args[1] + " evicted from group " + inv.args[0]);
	         }},
	        {"readmit", "GROUP IDENTITY", 2, 2, command::kReadmit,
	         member_request,
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "readmit", {"group", "member"},
		                       inv.args[1] + " readmitted to group " + inv.args[0] +
		                               ": it may register again");
	         }},
	        {"exclude", "GROUP [IDENTITY]", 1, 2, command::kExclude,
	         [](const std::vector<std::string> &a) { return a.size() == 2 ? member_request(a) : group_request(a); },
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "exclude", {"group", "member"},
		                       (inv.args.size() == 2 ? inv.args[1] : std::string("every member")) +
		                               " excluded from group " + inv.args[0] + ": it registers again");
	         }},
	        {"reregister", "GROUP", 1, 1, command::kReregister, group_request,
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "reregister", {"group"},
		                       "re-registration of group " + inv.args[0] + " started");
	         }},
	        {"endpoints", "GROUP", 1, 1, command::kListEndpoints, group_request,
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_endpoints(r); }},
	        {"routing-keys", "[GROUP]", 0, 1, command::kRoutingKeys,
	         [](const std::vector<std::string> &a) { return a.empty() ? Section() : group_request(a); },
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_routing_keys(r); }},
	        {"shortcuts", "[GROUP]", 0, 1, command::kListShortcuts,
	         [](const std::vector<std::string> &a) { return a.empty() ? Section() : group_request(a); },
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_shortcuts(r); }},
	        {"request-shortcut", "GROUP A B", 3, 3, command::kRequestShortcut,
	         [](const std::vector<std::string> &a) {
		         Section s = group_request(a);
		         s.add_value("a", a.at(1));
		         s.add_value("b", a.at(2));
		         return s;
	         },
	         [](const Invocation &inv, const Section &r) {
		         if (!inv.json)
			         return "shortcut " + get(r, "id") + " of group " + inv.args[0] + " offered to " + inv.args[1] +
			                " and " + inv.args[2] + "\n";
		         return json_of(r);
	         }},
	        {"remove-shortcut", "GROUP ID", 2, 2, command::kRemoveShortcut,
	         [](const std::vector<std::string> &a) {
		         Section s = group_request(a);
		         s.add_value("id", a.at(1));
		         return s;
	         },
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "remove-shortcut", {"group", "id"},
		                       "shortcut " + inv.args[1] + " of group " + inv.args[0] + " removed");
	         }},
	        {"add-endpoint", "GROUP GATEWAY PREFIX...", 3, SIZE_MAX, command::kAddEndpoint,
	         add_endpoint_request, print_add_endpoint},
	        {"remove-endpoint", "GROUP GATEWAY", 2, 2, command::kRemoveEndpoint,
	         gateway_request,
	         [](const Invocation &inv, const Section &) {
		         return action(inv, "remove-endpoint", {"group", "gateway"},
		                       "endpoint " + inv.args[1] + " removed from group " + inv.args[0]);
	         }},
	        {"elections", "[GROUP]", 0, 1, election::kListElections,
	         [](const std::vector<std::string> &a) { return a.empty() ? Section() : group_request(a); },
	         [](const Invocation &inv, const Section &r) { return inv.json ? json_of(r) : human_elections(r); }},
	        {"trust", "COMMAND [ARGUMENT...]", 1, SIZE_MAX, trust::kTrust,
	         [](const std::vector<std::string> &a) {
		         Section s;
		         s.add_list("args", a);
		         return s;
	         },
	         // gstrust's own output, as it printed it (its JSON with --json)
	         [](const Invocation &, const Section &r) {
		         const std::string *o = r.value("output");
		         return o ? *o : std::string();
	         }},
	        {"version", "", 0, 0, command::kVersion, [](const auto &) { return Section(); },
	         [](const Invocation &inv, const Section &r) {
		         return inv.json ? json_of(r) : get(r, "daemon") + " " + get(r, "version") + "\n";
	         }},
	};
	return table;
}

// One event as monitor prints it: "member-evicted group=blue member=gm1
// members=2", or with --json {"event":"member-evicted","group":"blue",...}.
std::string event_line(const std::string &name, const Section &message, bool json)
{
	if (json) {
		JsonWriter w;
		w.begin_object().key("event").value(name);
		for (const vici::Entry &e : message.entries())
			json_entry(w, e);
		w.end_object();
		return w.str() + "\n";
	}
	std::string line = name;
	for (const vici::Entry &e : message.entries()) {
		line += " " + e.name + "=";
		if (e.kind == EntryKind::Value) {
			line += e.value;
		} else if (e.kind == EntryKind::List) {
			for (size_t i = 0; i < e.items.size(); i++)
				line += (i ? "," : "") + e.items[i];
		} else {
			line += "{...}";
		}
	}
	return line + "\n";
}

// gdoictl monitor: subscribes to every event, prints them as they come
// (those of one group if given) until the connection ends, a write fails
// or count events were printed.
int monitor(const std::string &path, const std::string &group, bool json, uint64_t count,
            const std::function<bool(const std::string &)> &print, std::string &err)
{
	std::string problem;
	Connection c(path);
	if (!c.open(problem, true)) {
		err += "gdoictl: " + problem + "\n";
		return kExitSocket;
	}
	// the election plugin's, if it is loaded (else EVENT_UNKNOWN)
	std::vector<const char *> events(std::begin(event::kAll), std::end(event::kAll));
	events.push_back(election::kLeaderChanged);
	for (const char *e : events)
		c.client().subscribe(e);
	if (!c.flush(problem)) {
		err += "gdoictl: " + problem + "\n";
		return kExitSocket;
	}
	size_t answers = 0, confirmed = 0;
	uint64_t printed = 0;
	bool ready = false;
	for (;;) {
		auto m = c.next(problem);
		if (!m) {
			err += "gdoictl: monitor: " + problem + "\n";
			return kExitSocket;
		}
		if (m->kind == vici::Received::Kind::Confirmed || m->kind == vici::Received::Kind::UnknownEvent) {
			answers++;
			confirmed += m->kind == vici::Received::Kind::Confirmed;
		} else if (m->kind == vici::Received::Kind::Event) {
			const std::string *g = m->message.value("group");
			if (!group.empty() && (!g || *g != group))
				continue;
			if (!print(event_line(m->name, m->message, json)))
				return kExitOk;
			if (count && ++printed >= count)
				return kExitOk;
		}
		if (!ready && answers == events.size()) {
			if (!confirmed) {
				err += "gdoictl: monitor: " + path + " has no events\n";
				return kExitFailed;
			}
			// from here on every event is seen: scripts wait for this
			err += "gdoictl: monitor: subscribed to " + std::to_string(confirmed) + " events\n";
			if (!print(""))
				return kExitOk;
			ready = true;
			c.set_timeout(false);
		}
	}
}

// The command line once its options are read.
struct CommandLine {
	uint64_t count = 0;
	std::string path;
	bool json = false;
	std::vector<std::string> words;
};

// Reads the options; an exit status if gdoictl ends here (help or a
// usage error).
std::optional<int> parse_command_line(const std::vector<std::string> &args, CommandLine &cl, std::string &out,
                                      std::string &err)
{
	bool options = true;
	for (size_t i = 0; i < args.size(); i++) {
		const std::string &a = args[i];
		if (options && a == "--") {
			options = false;
		} else if (options && (a == "-h" || a == "--help")) {
			out += kUsage;
			return kExitOk;
		} else if (options && (a == "-j" || a == "--json")) {
			cl.json = true;
		} else if (options && (a == "-s" || a == "--socket")) {
			if (i + 1 == args.size()) {
				err += "gdoictl: " + a + " needs a path\n" + kUsage;
				return kExitUsage;
			}
			cl.path = args[++i];
		} else if (options && (a == "-c" || a == "--count")) {
			if (i + 1 == args.size() || !all_digits(args[i + 1]) || std::stoull(args[i + 1]) == 0) {
				err += "gdoictl: " + a + " needs a number above 0\n" + kUsage;
				return kExitUsage;
			}
			cl.count = std::stoull(args[++i]);
		} else if (options && a.rfind("--socket=", 0) == 0) {
			cl.path = a.substr(9);
		} else if (options && a.size() > 1 && a[0] == '-') {
			err += "gdoictl: unknown option " + a + "\n" + kUsage;
			return kExitUsage;
		} else {
			cl.words.push_back(a);
			// what follows trust is gstrust's (its own --group, --use)
			if (cl.words.size() == 1 && a == "trust")
				options = false;
		}
	}
	if (cl.words.empty()) {
		err += std::string("gdoictl: no command given\n") + kUsage;
		return kExitUsage;
	}
	return std::nullopt;
}

// Runs one request/response subcommand (all but monitor).
int run_subcommand(const CommandLine &cl, std::string &out, std::string &err)
{
	const Subcommand *sub = nullptr;
	for (const Subcommand &s : subcommands()) {
		if (cl.words[0] == s.name)
			sub = &s;
	}
	if (!sub) {
		err += "gdoictl: unknown command '" + cl.words[0] + "'\n" + kUsage;
		return kExitUsage;
	}
	std::vector<std::string> cmd_args(cl.words.begin() + 1, cl.words.end());
	if (cmd_args.size() < sub->min_args || cmd_args.size() > sub->max_args) {
		err += std::string("gdoictl: usage: gdoictl ") + sub->name + (*sub->usage ? " " : "") + sub->usage + "\n";
		return kExitUsage;
	}

	if (cl.json && std::string(sub->vici_command) == trust::kTrust)
		cmd_args.insert(cmd_args.begin(), "--json");
	std::string problem;
	auto response = call(cl.path, sub->vici_command, sub->request(cmd_args), problem);
	if (!response) {
		err += "gdoictl: " + problem + "\n";
		return kExitSocket;
	}
	const std::string *success = response->value("success");
	if (!success || *success != "yes") {
		const std::string *msg = response->value("errmsg");
		std::string text = msg ? *msg : "failed without a message";
		// the server names its command before an argument problem
		std::string own = std::string(sub->vici_command) + ": ";
		if (text.compare(0, own.size(), own) == 0)
			text.erase(0, own.size());
		err += std::string("gdoictl: ") + sub->name + ": " + text + "\n";
		return kExitFailed;
	}
	out += sub->print(Invocation{cmd_args, cl.json}, *response);
	return kExitOk;
}

} // namespace

// Runs gdoictl: args are the command line without the program name,
// env_socket the value of GDOICTL_SOCKET (nullptr if unset). What gdoictl
// prints goes to out and err; the return value is the exit status.
int run(const std::vector<std::string> &args, const char *env_socket, std::string &out, std::string &err,
        const std::function<bool(const std::string &)> &stream)
{
	CommandLine cl;
	cl.path = env_socket && *env_socket ? env_socket : kDefaultSocket;
	if (auto done = parse_command_line(args, cl, out, err))
		return *done;
	if (cl.words[0] == "monitor") {
		if (cl.words.size() > 2) {
			err += "gdoictl: usage: gdoictl monitor [GROUP] [--count N]\n";
			return kExitUsage;
		}
		// without a stream the lines go to out (tests, with --count)
		auto print = [&](const std::string &line) { return stream ? stream(line) : (out += line, true); };
		return monitor(cl.path, cl.words.size() == 2 ? cl.words[1] : "", cl.json, cl.count, print, err);
	}
	if (cl.count) {
		err += "gdoictl: --count is for monitor only\n";
		return kExitUsage;
	}
	return run_subcommand(cl, out, err);
}

int run(const std::vector<std::string> &args, const char *env_socket, std::string &out, std::string &err)
{
	return run(args, env_socket, out, err, {});
}

} // namespace groupsec::gdoi::gdoictl

#ifndef GDOICTL_NO_MAIN
int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	std::string out, err;
	// monitor prints each event as it comes, and its readiness note to
	// stderr before the first
	auto stream = [&err](const std::string &line) {
		fputs(err.c_str(), stderr);
		fflush(stderr);
		err.clear();
		if (!line.empty() && fputs(line.c_str(), stdout) < 0)
			return false;
		return fflush(stdout) == 0;
	};
	int status = groupsec::gdoi::gdoictl::run(args, getenv("GDOICTL_SOCKET"), out, err, stream);
	fputs(out.c_str(), stdout);
	fputs(err.c_str(), stderr);
	return status;
}
#endif
