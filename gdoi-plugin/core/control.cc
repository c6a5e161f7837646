// SPDX-License-Identifier: GPL-2.0-or-later
#include "control.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <variant>

#include "gikev2.h"
#include "groupsec/base/hex.h"
#include "groupsec/ident/identity.h"
#include "groupsec/net/address.h"
#include "groupsec/version.h"
#include "routing_keys.h"

namespace groupsec::gdoi {

using groupsec::vici::EntryKind;
using groupsec::vici::Operation;
using groupsec::vici::Packet;
using groupsec::vici::Section;

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

// An identity in swanctl notation, so that the operator can hand what
// list-members shows back to evict, where Identity::parse() reads it.
using ident::identity_text;

// "192.0.2.1[848]", as Address::str() writes it.
std::string address_text(const Address &a)
{
	return ip_text(a.ip) + "[" + num(a.port) + "]";
}

std::string encryption_text(uint16_t id)
{
	switch (static_cast<EncryptionId>(id)) {
	case EncryptionId::AesCbc:
		return "AES_CBC";
	case EncryptionId::AesGcm8:
		return "AES_GCM_8";
	case EncryptionId::AesGcm12:
		return "AES_GCM_12";
	case EncryptionId::AesGcm16:
		return "AES_GCM_16";
	}
	return "ENCR_" + num(id);
}

std::string spi_text(uint32_t spi)
{
	char buf[9];
	snprintf(buf, sizeof(buf), "%08x", spi);
	return buf;
}

uint64_t seconds_between(uint64_t from_ms, uint64_t to_ms)
{
	return to_ms > from_ms ? (to_ms - from_ms) / 1000 : 0;
}

const char *yes_no(bool b) { return b ? "yes" : "no"; }

// A section name for one of several entries: the natural name when it is
// a usable VICI name not taken yet, else "#index".
std::string entry_name(const std::string &natural, size_t index, std::set<std::string> &used)
{
	bool usable = !natural.empty() && natural.size() <= vici::kMaxNameLength &&
	              std::all_of(natural.begin(), natural.end(), [](char c) {
		              return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e;
	              });
	if (usable && used.insert(natural).second)
		return natural;
	std::string name = "#" + num(index);
	for (size_t k = 1; !used.insert(name).second; k++)
		name = "#" + num(index) + "-" + num(k);
	return name;
}

Section success()
{
	Section s;
	s.add_value("success", "yes");
	return s;
}

Section failure(const std::string &message)
{
	return vici::failure_message(message);
}

// The arguments of one request, checked against what its command takes.
class Args {
public:
	Args(const std::string &command, const Section &request) : command_(command), request_(request) {}

	// Every entry of the request is one of these names; else an error.
	std::optional<std::string> only(std::initializer_list<const char *> names) const
	{
		for (const vici::Entry &e : request_.entries()) {
			bool known = std::any_of(names.begin(), names.end(), [&](const char *n) { return e.name == n; });
			if (!known)
				return command_ + ": unknown argument '" + e.name + "'";
		}
		return std::nullopt;
	}

	// A non-empty text value; an error if it is absent and required, or is
	// a list or a section, or is empty.
	Result<std::optional<std::string>> text(const char *name, bool required = true) const
	{
		const vici::Entry *e = request_.find(name);
		if (!e) {
			if (required)
				return make_error(WireError::Missing, command_ + ": missing argument '" + name + "'");
			return std::optional<std::string>();
		}
		if (e->kind != EntryKind::Value)
			return make_error(WireError::BadValue, command_ + ": argument '" + name + "' must be a value, not a " +
			                                               (e->kind == EntryKind::List ? "list" : "section"));
		if (e->value.empty())
			return make_error(WireError::BadValue, command_ + ": argument '" + name + "' is empty");
		return std::optional<std::string>(e->value);
	}

	Result<std::vector<std::string>> items(const char *name) const
	{
		const vici::Entry *e = request_.find(name);
		if (!e)
			return make_error(WireError::Missing, command_ + ": missing argument '" + name + "'");
		if (e->kind != EntryKind::List)
			return make_error(WireError::BadValue, command_ + ": argument '" + name + "' must be a list");
		return e->items;
	}

private:
	const std::string &command_;
	const Section &request_;
};

void add_counters(Section &s, const Counters &c)
{
	s.add_value("received", num(c.received));
	s.add_value("sent", num(c.sent));
	s.add_value("dropped-malformed", num(c.dropped_malformed));
	s.add_value("dropped-auth", num(c.dropped_auth));
	s.add_value("dropped-replay", num(c.dropped_replay));
	s.add_value("dropped-unauthorized", num(c.dropped_unauthorized));
	s.add_value("cookies-sent", num(c.cookies_sent));
	s.add_value("registrations", num(c.registrations));
	s.add_value("rekeys", num(c.rekeys));
	s.add_value("invalid-spi", num(c.invalid_spi));
	s.add_value("ike-deletes-sent", num(c.ike_deletes_sent));
	s.add_value("ike-deletes-received", num(c.ike_deletes_received));
	s.add_value("ike-rekeys", num(c.ike_rekeys));
	s.add_value("liveness", num(c.liveness));
	s.add_value("liveness-failed", num(c.liveness_failed));
	s.add_value("unsupported-critical", num(c.unsupported_critical));
	s.add_value("shortcut-sent", num(c.shortcut_sent));
	s.add_value("shortcut-received", num(c.shortcut_received));
	s.add_value("shortcut-unsent", num(c.shortcut_send_failures));
}

std::vector<std::string> sender_id_texts(const std::vector<uint32_t> &ids)
{
	std::vector<std::string> out;
	for (uint32_t id : ids)
		out.push_back(num(id));
	return out;
}

void add_group(Section &s, const GroupState &g)
{
	s.add_value("name", g.name);
	s.add_value("role", g.server ? "server" : "member");
	s.add_value("state", g.state);
	s.add_value("group-id", identity_text(g.group_id));
	if (!g.server && !g.server_address.ip.empty())
		s.add_value("server", address_text(g.server_address));
	s.add_value("kek-message-id", num(g.kek_message_id));
	s.add_value("rekey-auth", rekey_auth_name(g.rekey_auth));
	if (g.server) {
		s.add_value("members", num(g.members.size()));
		s.add_value("evicted", num(g.evicted.size()));
		const ExposureState &x = g.exposure;
		Section &e = s.add_section("eviction");
		e.add_value("key-hierarchy", x.hierarchy == KeyHierarchy::Tree ? "tree" : "flat");
		// what every member evicted so far, pooling what it held, could
		// read of what the group sends now
		e.add_value("coalition-exposure",
			    x.hierarchy == KeyHierarchy::Tree ? "none" : x.tek_exposed ? "tek" : x.exposed_keks ? "keks" : "none");
		if (x.hierarchy == KeyHierarchy::Tree) {
			e.add_value("tree-epoch", num(x.epoch));
			e.add_value("tree-depth", num(x.depth));
		} else {
			e.add_value("exposed-keks", num(x.exposed_keks));
		}
	}
	s.add_value("sas", num(g.sas.size()));
	if (!g.sender_ids.empty())
		s.add_list("sender-ids", sender_id_texts(g.sender_ids));
	if (!g.server) {
		// how the member registers: auto-discovery or the members it names
		s.add_value("discovery", g.peers.empty() ? "auto" : "member-list");
		if (!g.peers.empty()) {
			std::vector<std::string> ids;
			for (const Identity &id : g.peers)
				ids.push_back(identity_text(id));
			s.add_list("peers", std::move(ids));
		}
	}
	add_counters(s.add_section("counters"), g.counters);
}

using Handler = Section (*)(ControlTarget &, const std::string &, const Section &);

#define ARG_CHECK(expr)                                                                                                \
	do {                                                                                                           \
		if (auto problem_ = (expr))                                                                            \
			return failure(*problem_);                                                                     \
	} while (0)

Result<GroupState> find_group(ControlTarget &t, const std::string &name)
{
	for (GroupState &g : t.groups()) {
		if (g.name == name)
			return std::move(g);
	}
	return make_error(WireError::Missing, "group '" + name + "' not found");
}

Section cmd_version(ControlTarget &t, const std::string &cmd, const Section &req)
{
	ARG_CHECK(Args(cmd, req).only({}));
	Section s = success();
	s.add_value("daemon", "gdoi");
	s.add_value("version", groupsec::version());
	const ControlTarget::IkeSaCounts n = t.ike_sa_counts();
	Section &ike = s.add_section("ike-sas");
	ike.add_value("responder", num(n.responder));
	ike.add_value("initiator", num(n.initiator));
	ike.add_value("half-open", num(n.half_open));
	return s;
}

Section cmd_list_groups(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group"}));
	auto group = args.text("group", false);
	if (!group.ok())
		return failure(group.error().message);
	std::vector<GroupState> groups;
	if (group.value()) {
		auto g = find_group(t, *group.value());
		if (!g.ok())
			return failure(g.error().message);
		groups.push_back(std::move(g.value()));
	} else {
		groups = t.groups();
	}
	Section s = success();
	Section &list = s.add_section("groups");
	std::set<std::string> used;
	for (size_t i = 0; i < groups.size(); i++)
		add_group(list.add_section(entry_name(groups[i].name, i, used)), groups[i]);
	return s;
}

// The group named by the request's one argument "group".
Result<GroupState> group_argument(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	if (auto p = args.only({"group"}))
		return make_error(WireError::BadValue, *p);
	auto name = args.text("group");
	if (!name.ok())
		return name.error();
	return find_group(t, *name.value());
}

// How a member finds its peers: "discovery" auto or member-list, and in
// member-list mode the list "peers" of the identities it named.
void add_member_list(Section &s, const MemberState &m)
{
	s.add_value("discovery", m.peers.empty() ? "auto" : "member-list");
	if (m.peers.empty())
		return;
	std::vector<std::string> ids;
	for (const Identity &id : m.peers)
		ids.push_back(identity_text(id));
	s.add_list("peers", std::move(ids));
}

Section cmd_list_members(ControlTarget &t, const std::string &cmd, const Section &req)
{
	auto g = group_argument(t, cmd, req);
	if (!g.ok())
		return failure(g.error().message);
	const GroupState &group = g.value();
	if (!group.server)
		return failure("group '" + group.name + "' is a member group: its key server lists the members");
	uint64_t now = t.now_ms();
	Section s = success();
	s.add_value("group", group.name);
	Section &list = s.add_section("members");
	std::set<std::string> used;
	for (size_t i = 0; i < group.members.size(); i++) {
		const MemberState &m = group.members[i];
		std::string id = identity_text(m.id);
		Section &e = list.add_section(entry_name(id, i, used));
		e.add_value("id", id);
		e.add_value("address", address_text(m.address));
		e.add_value("flat-id", num(m.flat_id));
		e.add_value("registered", num(seconds_between(m.registered_ms, now)));
		if (!m.sender_ids.empty())
			e.add_list("sender-ids", sender_id_texts(m.sender_ids));
		add_member_list(e, m);
	}
	std::vector<std::string> evicted;
	for (const Identity &id : group.evicted)
		evicted.push_back(identity_text(id));
	s.add_list("evicted", std::move(evicted));
	return s;
}

Section cmd_list_sas(ControlTarget &t, const std::string &cmd, const Section &req)
{
	auto g = group_argument(t, cmd, req);
	if (!g.ok())
		return failure(g.error().message);
	const GroupState &group = g.value();
	uint64_t now = t.now_ms();
	Section s = success();
	s.add_value("group", group.name);
	Section &list = s.add_section("sas");
	std::set<std::string> used;
	for (size_t i = 0; i < group.sas.size(); i++) {
		const SaState &sa = group.sas[i];
		Section &e = list.add_section(entry_name(spi_text(sa.spi), i, used));
		e.add_value("spi", spi_text(sa.spi));
		e.add_value("protocol", "esp");
		e.add_value("encr-alg", encryption_text(sa.encryption));
		e.add_value("encr-keysize", num(sa.key_bits));
		e.add_value("lifetime", num(sa.lifetime_s));
		e.add_value("expires", num(seconds_between(now, sa.expires_ms)));
		e.add_value("current", yes_no(sa.current));
		if (auto tr = t.sa_traffic(group.name, sa.spi)) {
			e.add_value("packets-in", num(tr->in.packets));
			e.add_value("bytes-in", num(tr->in.bytes));
			e.add_value("packets-out", num(tr->out.packets));
			e.add_value("bytes-out", num(tr->out.bytes));
		}
	}
	return s;
}

Section done_or_failure(const Result<Done> &r)
{
	return r.ok() ? success() : failure(r.error().message);
}

// rekey and reregister: { group }
Section cmd_group_action(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	if (cmd == command::kReregister)
		return done_or_failure(t.reregister(*group.value()));
	return done_or_failure(t.rekey(*group.value()));
}

// evict and readmit: { group, member }
Section cmd_member_action(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "member"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto member = args.text("member");
	if (!member.ok())
		return failure(member.error().message);
	if (cmd == command::kReadmit)
		return done_or_failure(t.readmit(*group.value(), *member.value()));
	return done_or_failure(t.evict(*group.value(), *member.value()));
}

// exclude: { group, [member] }
Section cmd_exclude(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "member"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto member = args.text("member", false);
	if (!member.ok())
		return failure(member.error().message);
	return done_or_failure(t.exclude(*group.value(), member.value().value_or("")));
}

Result<Bytes> gateway_argument(const Args &args, const std::string &cmd)
{
	auto gw = args.text("gateway");
	if (!gw.ok())
		return gw.error();
	auto ip = parse_ip(*gw.value());
	if (!ip)
		return make_error(WireError::BadValue,
		                  cmd + ": gateway '" + *gw.value() + "' is not an IPv4 or IPv6 address");
	return *ip;
}

Section cmd_add_endpoint(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "gateway", "prefixes"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto gateway = gateway_argument(args, cmd);
	if (!gateway.ok())
		return failure(gateway.error().message);
	auto items = args.items("prefixes");
	if (!items.ok())
		return failure(items.error().message);
	if (items.value().empty())
		return failure(cmd + ": argument 'prefixes' is empty: an endpoint protects at least one prefix");
	TunnelEndpoint e;
	e.gateway.ip = gateway.value();
	e.gateway.port = 0;
	for (const std::string &item : items.value()) {
		auto p = parse_prefix(item);
		if (!p.ok())
			return failure(cmd + ": " + p.error().message);
		for (const TrafficSelector &seen : e.prefixes) {
			if (seen == p.value())
				return failure(cmd + ": prefix " + prefix_text(p.value()) + " given twice");
		}
		e.prefixes.push_back(std::move(p.value()));
	}
	return done_or_failure(t.add_endpoint(*group.value(), e));
}

Section cmd_remove_endpoint(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "gateway"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto gateway = gateway_argument(args, cmd);
	if (!gateway.ok())
		return failure(gateway.error().message);
	Address gw;
	gw.ip = gateway.value();
	return done_or_failure(t.remove_endpoint(*group.value(), gw));
}

Section cmd_list_endpoints(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto endpoints = t.endpoints(*group.value());
	if (!endpoints.ok())
		return failure(endpoints.error().message);
	Section s = success();
	s.add_value("group", *group.value());
	Section &list = s.add_section("endpoints");
	std::set<std::string> used;
	for (size_t i = 0; i < endpoints.value().size(); i++) {
		const TunnelEndpoint &e = endpoints.value()[i];
		std::string gw = ip_text(e.gateway.ip);
		Section &entry = list.add_section(entry_name(gw, i, used));
		entry.add_value("gateway", gw);
		std::vector<std::string> prefixes;
		for (const TrafficSelector &p : e.prefixes)
			prefixes.push_back(prefix_text(p));
		entry.add_list("prefixes", std::move(prefixes));
	}
	return s;
}

// routing-keys: { [group] }; the keys go only to clients of the local
// socket, which only root can open (docs/control-socket.md)
Section cmd_routing_keys(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group"}));
	auto group = args.text("group", false);
	if (!group.ok())
		return failure(group.error().message);
	std::vector<GroupRoutingKey> keys = t.routing_keys();
	if (group.value()) {
		auto it = std::find_if(keys.begin(), keys.end(),
		                       [&](const GroupRoutingKey &k) { return k.name == *group.value(); });
		if (it == keys.end())
			return failure("group '" + *group.value() + "' not found");
		std::vector<GroupRoutingKey> one;
		one.push_back(std::move(*it));
		keys.swap(one);
	}
	Section s = success();
	Section &list = s.add_section("groups");
	std::set<std::string> used;
	for (size_t i = 0; i < keys.size(); i++) {
		const GroupRoutingKey &k = keys[i];
		Section &e = list.add_section(entry_name(k.name, i, used));
		e.add_value("name", k.name);
		e.add_value("role", k.server ? "server" : "member");
		e.add_value("group-id", identity_text(k.group_id));
		if (k.group_id.type == static_cast<uint8_t>(IdType::KeyId) && k.group_id.data.size() == 4) {
			const Bytes &d = k.group_id.data;
			e.add_value("group-number", num(static_cast<uint32_t>(d[0]) << 24 | static_cast<uint32_t>(d[1]) << 16 |
			                                static_cast<uint32_t>(d[2]) << 8 | d[3]));
		}
		if (k.key) {
			e.add_value("epoch", spi_text(k.key->epoch));
			e.add_value("key", to_hex(k.key->key));
		}
	}
	return s;
}

// A configuration source's name: what a client calls itself ("bgpd");
// "file" is the settings file's.
std::optional<std::string> source_problem(const std::string &cmd, const std::string &source)
{
	if (source.size() > 32 || !std::all_of(source.begin(), source.end(), [](char c) {
		    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		           c == '_';
	    }))
		return cmd + ": source '" + source + "' is not a name (up to 32 letters, digits, '-' and '_')";
	if (source == "file")
		return cmd + ": source 'file' is the settings file's";
	return std::nullopt;
}

// The settings below `groups` from the request's section tree, as key
// paths in the order given ("blue.tek-1.local_ts"); values only, no lists.
std::optional<std::string> flatten(const std::string &cmd, const Section &s, const std::string &prefix,
                                   ControlTarget::ConfigSettings &out)
{
	for (const vici::Entry &e : s.entries()) {
		std::string key = prefix.empty() ? e.name : prefix + "." + e.name;
		switch (e.kind) {
		case EntryKind::Value:
			out.emplace_back(key, e.value);
			break;
		case EntryKind::List:
			return cmd + ": groups." + key + " is a list: give the value as text (comma-separated)";
		case EntryKind::Section:
			if (auto p = flatten(cmd, e.section, key, out))
				return p;
			break;
		}
	}
	return std::nullopt;
}

// check-config, load-config: { source, groups { ... } }; unload-config: { source }
Section cmd_config(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	bool unload = cmd == command::kUnloadConfig;
	if (unload)
		ARG_CHECK(args.only({"source"}));
	else
		ARG_CHECK(args.only({"source", "groups"}));
	auto source = args.text("source");
	if (!source.ok())
		return failure(source.error().message);
	ARG_CHECK(source_problem(cmd, *source.value()));
	if (unload)
		return done_or_failure(t.unload_config(*source.value()));
	// no `groups`: the source has none
	const vici::Entry *groups = req.find("groups");
	if (groups && groups->kind != EntryKind::Section)
		return failure(cmd + ": argument 'groups' must be a section");
	ControlTarget::ConfigSettings settings;
	if (groups)
		ARG_CHECK(flatten(cmd, groups->section, "", settings));
	if (cmd == command::kCheckConfig)
		return done_or_failure(t.check_config(*source.value(), settings));
	auto loaded = t.load_config(*source.value(), settings);
	if (!loaded)
		return failure(loaded.error().message);
	Section s = success();
	if (!loaded.value().empty())
		s.add_value("not-started", loaded.value());
	return s;
}

// --- shortcut SAs (docs/shortcuts.md) ---

void add_shortcut(Section &e, const shortcut::ShortcutInfo &x, uint64_t now)
{
	e.add_value("id", num(x.id));
	e.add_value("a", x.a);
	e.add_value("b", x.b);
	e.add_value("inside-a", x.inside_a.str());
	e.add_value("inside-b", x.inside_b.str());
	e.add_value("state", shortcut::shortcut_state_name(x.state));
	e.add_value("spi-ab", spi_text(x.spi_ab));
	e.add_value("spi-ba", spi_text(x.spi_ba));
	e.add_value("inbound-a", yes_no(x.inbound_a));
	e.add_value("inbound-b", yes_no(x.inbound_b));
	e.add_value("outbound-a", yes_no(x.outbound_a));
	e.add_value("outbound-b", yes_no(x.outbound_b));
	e.add_value("age", num(seconds_between(x.created_ms, now)));
	if (x.state == shortcut::ShortcutState::Up)
		e.add_value("up", num(seconds_between(x.up_ms, now)));
	e.add_value("attempt", num(x.attempt));
	e.add_value("moves", num(x.moves));
}

void add_manager_counters(Section &c, const shortcut::ManagerCounters &m)
{
	c.add_value("detected-relayed", num(m.detected_relayed));
	c.add_value("detected-session", num(m.detected_session));
	c.add_value("offers-sent", num(m.offers_sent));
	c.add_value("up", num(m.up));
	c.add_value("aborted", num(m.aborted));
	c.add_value("moves-sent", num(m.moves_sent));
	c.add_value("teardowns-sent", num(m.teardowns_sent));
	c.add_value("refused-unknown-member", num(m.refused_unknown_member));
	c.add_value("rejected-forged", num(m.rejected_forged));
	c.add_value("rejected-replay", num(m.rejected_replay));
	c.add_value("rejected-malformed", num(m.rejected_malformed));
	c.add_value("acks-unexpected", num(m.acks_unexpected));
	c.add_value("send-failures", num(m.send_failures));
}

void add_member_counters(Section &c, const shortcut::MemberCounters &m)
{
	c.add_value("offers", num(m.offers));
	c.add_value("outbound", num(m.outbound));
	c.add_value("moves", num(m.moves));
	c.add_value("teardowns", num(m.teardowns));
	c.add_value("refused", num(m.refused));
	c.add_value("kernel-failures", num(m.kernel_failures));
	c.add_value("rejected-forged", num(m.rejected_forged));
	c.add_value("rejected-replay", num(m.rejected_replay));
	c.add_value("rejected-malformed", num(m.rejected_malformed));
	c.add_value("send-failures", num(m.send_failures));
}

// list-shortcuts: { [group] }
Section cmd_list_shortcuts(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group"}));
	auto group = args.text("group", false);
	if (!group.ok())
		return failure(group.error().message);
	auto views = t.shortcuts();
	if (group.value()) {
		auto it = std::find_if(views.begin(), views.end(),
		                       [&](const shortcut::ShortcutGroupView &v) { return v.group == *group.value(); });
		if (it == views.end())
			return failure("group '" + *group.value() + "' has no shortcuts configured");
		std::vector<shortcut::ShortcutGroupView> one;
		one.push_back(std::move(*it));
		views.swap(one);
	}
	const uint64_t now = t.now_ms();
	Section s = success();
	Section &list = s.add_section("groups");
	std::set<std::string> used;
	for (size_t i = 0; i < views.size(); i++) {
		const shortcut::ShortcutGroupView &v = views[i];
		Section &g = list.add_section(entry_name(v.group, i, used));
		g.add_value("group", v.group);
		g.add_value("role", v.manager ? "manager" : "member");
		Section &sc = g.add_section("shortcuts");
		if (v.manager) {
			for (const auto &x : v.shortcuts)
				add_shortcut(sc.add_section(num(x.id)), x, now);
			Section &ms = g.add_section("members");
			std::set<std::string> mused;
			for (size_t j = 0; j < v.members.size(); j++) {
				const shortcut::MemberContext &c = v.members[j];
				Section &e = ms.add_section(entry_name(c.id, j, mused));
				e.add_value("id", c.id);
				e.add_value("outside", ip_text(c.outside.ip));
				e.add_value("state", c.is_outside ? "outside" : "inside");
				std::vector<std::string> inside, peers, ids;
				for (const auto &p : c.inside)
					inside.push_back(p.str());
				for (const auto &p : c.correspondents)
					peers.push_back(p);
				for (uint32_t id : c.shortcuts)
					ids.push_back(num(id));
				e.add_list("inside", std::move(inside));
				e.add_list("correspondents", std::move(peers));
				e.add_list("shortcuts", std::move(ids));
			}
			add_manager_counters(g.add_section("counters"), v.manager_counters);
		} else {
			for (const auto &x : v.member_shortcuts) {
				Section &e = sc.add_section(num(x.id));
				e.add_value("id", num(x.id));
				e.add_value("peer", ip_text(x.peer_outside.ip));
				e.add_value("local-inside", x.local_inside.str());
				e.add_value("peer-inside", x.peer_inside.str());
				e.add_value("spi-in", spi_text(x.spi_in));
				e.add_value("spi-out", spi_text(x.spi_out));
				e.add_value("outbound", yes_no(x.outbound));
			}
			add_member_counters(g.add_section("counters"), v.member_counters);
		}
	}
	return s;
}

// request-shortcut: { group, a, b }
Section cmd_request_shortcut(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "a", "b"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto a = args.text("a");
	if (!a.ok())
		return failure(a.error().message);
	auto b = args.text("b");
	if (!b.ok())
		return failure(b.error().message);
	auto r = t.request_shortcut(*group.value(), *a.value(), *b.value());
	if (!r.ok())
		return failure(r.error().message);
	Section s = success();
	s.add_value("id", num(r.value()));
	return s;
}

// remove-shortcut: { group, id }
Section cmd_remove_shortcut(ControlTarget &t, const std::string &cmd, const Section &req)
{
	Args args(cmd, req);
	ARG_CHECK(args.only({"group", "id"}));
	auto group = args.text("group");
	if (!group.ok())
		return failure(group.error().message);
	auto id = args.text("id");
	if (!id.ok())
		return failure(id.error().message);
	const std::string &text = *id.value();
	uint64_t v = 0;
	bool digits = !text.empty() && text.size() <= 10;
	for (char c : text) {
		digits = digits && c >= '0' && c <= '9';
		if (digits)
			v = v * 10 + static_cast<uint64_t>(c - '0');
	}
	if (!digits || v == 0 || v > 0xffffffffu)
		return failure(cmd + ": id '" + text + "' is not a shortcut ID (1 to 4294967295)");
	return done_or_failure(t.remove_shortcut(*group.value(), static_cast<uint32_t>(v)));
}

#undef ARG_CHECK

const std::map<std::string, Handler> &handlers()
{
	static const std::map<std::string, Handler> table = {
	        {command::kVersion, cmd_version},
	        {command::kListGroups, cmd_list_groups},
	        {command::kListMembers, cmd_list_members},
	        {command::kListSas, cmd_list_sas},
	        {command::kRekey, cmd_group_action},
	        {command::kEvict, cmd_member_action},
	        {command::kReadmit, cmd_member_action},
	        {command::kExclude, cmd_exclude},
	        {command::kReregister, cmd_group_action},
	        {command::kAddEndpoint, cmd_add_endpoint},
	        {command::kRemoveEndpoint, cmd_remove_endpoint},
	        {command::kListEndpoints, cmd_list_endpoints},
	        {command::kRoutingKeys, cmd_routing_keys},
	        {command::kCheckConfig, cmd_config},
	        {command::kLoadConfig, cmd_config},
	        {command::kUnloadConfig, cmd_config},
	        {command::kListShortcuts, cmd_list_shortcuts},
	        {command::kRequestShortcut, cmd_request_shortcut},
	        {command::kRemoveShortcut, cmd_remove_shortcut},
	};
	return table;
}

} // namespace

std::string ip_text(const Bytes &ip)
{
	return net::ip_text(ip);
}

std::optional<Bytes> parse_ip(const std::string &s)
{
	return net::parse_ip(s);
}

Result<TrafficSelector> parse_prefix(const std::string &s)
{
	auto r = net::parse_range(s, net::PrefixForm::Strict);
	const auto *e = std::get_if<net::PrefixError>(&r);
	if (!e)
		return std::get<TrafficSelector>(std::move(r));
	const bool range = s.find('-') != std::string::npos && s.find('/') == std::string::npos;
	const std::string what = (range ? "range '" : "prefix '") + s + "'";
	std::string message;
	switch (e->problem) {
	case net::PrefixProblem::NotAnAddress:
		message = what + ": '" + e->part + "' is not an IPv4 or IPv6 address";
		break;
	case net::PrefixProblem::MixedFamilies:
		message = what + " mixes IPv4 and IPv6";
		break;
	case net::PrefixProblem::Backwards:
		message = what + " ends before it starts";
		break;
	case net::PrefixProblem::NoLength:
		message = what + " has no /length";
		break;
	case net::PrefixProblem::BadLength:
	case net::PrefixProblem::LengthTooLarge:
		message = what + ": length '" + e->part + "' is not a number from 0 to " + num(e->max_length);
		break;
	case net::PrefixProblem::HostBits:
		message = what + " has host bits set (the network is " + e->network + ")";
		break;
	}
	return make_error(WireError::BadValue, message);
}

std::string prefix_text(const TrafficSelector &ts)
{
	return net::range_text(ts);
}

ControlServer::ControlServer(ControlTarget &target, size_t max_packet, size_t max_queued)
        : target_(target), server_(vici::Server::Limits{max_packet, max_queued})
{
	for (const auto &[name, handler] : handlers()) {
		Handler h = handler;
		std::string cmd = name;
		server_.add_command(name, [this, h, cmd](vici::ClientId, const Section &req) {
			Section reply = h(target_, cmd, req);
			// a command may have rekeyed: its events come before its reply
			check_routing_keys();
			return reply;
		});
	}
	for (const char *e : event::kAll)
		server_.add_event(e);
}

std::optional<Section> ControlServer::dispatch(const std::string &cmd, const Section &request)
{
	auto it = handlers().find(cmd);
	if (it == handlers().end())
		return std::nullopt;
	Section reply = it->second(target_, cmd, request);
	// a response that cannot go out becomes an error that can
	auto encoded = vici::encode_message(reply);
	if (!encoded.ok())
		return failure(cmd + ": the response cannot be encoded: " + encoded.error().message);
	if (encoded.value().size() + 1 > max_packet())
		return failure(cmd + ": the response of " + num(encoded.value().size()) +
		               " octets exceeds the packet limit of " + num(max_packet()));
	return reply;
}

// --- events (docs/control-socket.md lists their fields) ---

void ControlServer::member_registered(const std::string &group, const MemberState &m, bool again,
                                      size_t members)
{
	if (!server_.subscribed(event::kMemberRegistered))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("member", identity_text(m.id));
	s.add_value("address", ip_text(m.address.ip));
	s.add_value("port", num(m.address.port));
	s.add_value("member-id", num(m.flat_id));
	s.add_value("again", yes_no(again));
	s.add_value("members", num(members));
	if (!m.sender_ids.empty()) {
		std::vector<std::string> ids;
		for (uint32_t id : m.sender_ids)
			ids.push_back(num(id));
		s.add_list("sender-ids", std::move(ids));
	}
	add_member_list(s, m);
	server_.emit(event::kMemberRegistered, s);
}

void ControlServer::member_left(const std::string &group, const Identity &member, const char *reason,
                                size_t members)
{
	if (!server_.subscribed(event::kMemberLeft))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("member", identity_text(member));
	s.add_value("reason", reason);
	s.add_value("members", num(members));
	server_.emit(event::kMemberLeft, s);
}

void ControlServer::member_evicted(const std::string &group, const Identity &member, size_t members)
{
	if (!server_.subscribed(event::kMemberEvicted))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("member", identity_text(member));
	s.add_value("members", num(members));
	server_.emit(event::kMemberEvicted, s);
}

void ControlServer::rekey(const std::string &group, bool server, uint32_t message_id, bool new_kek)
{
	if (!server_.subscribed(event::kRekey))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("role", server ? "server" : "member");
	s.add_value("message-id", num(message_id));
	if (server)
		s.add_value("new-kek", yes_no(new_kek));
	server_.emit(event::kRekey, s);
}

void ControlServer::sa_installed(const std::string &group, uint32_t spi, bool outbound, uint16_t encryption,
                                 uint32_t lifetime_s)
{
	if (!server_.subscribed(event::kSaInstalled))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("spi", spi_text(spi));
	s.add_value("outbound", yes_no(outbound));
	s.add_value("encr-alg", encryption_text(encryption));
	s.add_value("lifetime", num(lifetime_s));
	server_.emit(event::kSaInstalled, s);
}

void ControlServer::sa_removed(const std::string &group, uint32_t spi)
{
	if (!server_.subscribed(event::kSaRemoved))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("spi", spi_text(spi));
	server_.emit(event::kSaRemoved, s);
}

void ControlServer::endpoint_changed(const std::string &group, const Bytes &gateway, const char *change,
                                     const std::vector<TrafficSelector> &prefixes)
{
	if (!server_.subscribed(event::kEndpointChanged))
		return;
	Section s;
	s.add_value("group", group);
	s.add_value("gateway", ip_text(gateway));
	s.add_value("change", change);
	std::vector<std::string> texts;
	for (const TrafficSelector &ts : prefixes)
		texts.push_back(prefix_text(ts));
	s.add_list("prefixes", std::move(texts));
	server_.emit(event::kEndpointChanged, s);
}

void ControlServer::check_routing_keys()
{
	if (!server_.subscribed(event::kRoutingKey)) {
		// a new subscriber hears of every group's epoch on the next check
		epochs_.clear();
		tracking_ = false;
		return;
	}
	std::map<std::string, uint32_t> now;
	std::map<std::string, bool> roles;
	for (const GroupRoutingKey &k : target_.routing_keys()) {
		now[k.name] = k.key ? k.key->epoch : 0;
		roles[k.name] = k.server;
	}
	auto announce = [&](const std::string &group, const char *role, uint32_t epoch, uint32_t previous) {
		Section s;
		s.add_value("group", group);
		if (role)
			s.add_value("role", role);
		if (epoch)
			s.add_value("epoch", spi_text(epoch));
		if (previous)
			s.add_value("previous-epoch", spi_text(previous));
		server_.emit(event::kRoutingKey, s);
	};
	for (const auto &[group, epoch] : now) {
		auto was = epochs_.find(group);
		bool seen = tracking_ && was != epochs_.end();
		if (seen && was->second == epoch)
			continue;
		if (!seen && epoch == 0 && tracking_)
			continue; // a new group without a key yet: nothing to say
		announce(group, roles[group] ? "server" : "member", epoch, seen ? was->second : 0);
	}
	for (const auto &[group, epoch] : epochs_)
		if (!now.count(group) && epoch)
			announce(group, nullptr, 0, epoch); // the group is gone
	epochs_.swap(now);
	tracking_ = true;
}

// --- one connection ---

ControlConnection::ControlConnection(ControlServer &server) : server_(server), id_(server.server().connect()) {}

ControlConnection::~ControlConnection()
{
	server_.server().disconnect(id_);
}

void ControlConnection::take(Bytes &out)
{
	ByteView pending = server_.server().output(id_);
	out.insert(out.end(), pending.begin(), pending.end());
	server_.server().consume(id_, pending.size());
}

bool ControlConnection::closing() const
{
	return server_.server().closing(id_);
}

Result<Done> ControlConnection::feed(ByteView in, Bytes &out)
{
	auto r = server_.server().feed(id_, in);
	take(out);
	if (!r.ok())
		return r.error();
	packets_ += r.value();
	return Done{};
}

} // namespace groupsec::gdoi

namespace groupsec::gdoi {

void ControlServer::shortcut_changed(const std::string &group, const shortcut::ShortcutInfo &x, bool up,
                                     const std::string &reason)
{
	const char *name = up ? event::kShortcutUp : event::kShortcutDown;
	if (!server_.subscribed(name))
		return;
	Section s;
	s.add_value("group", group);
	add_shortcut(s, x, target_.now_ms());
	if (!up)
		s.add_value("reason", reason);
	server_.emit(name, s);
}

} // namespace groupsec::gdoi
