// SPDX-License-Identifier: GPL-2.0-or-later
#include "gdoi_config.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string_view>

#include "gikev2.h"
#include "gikev2_payloads.h"
#include "groupsec/base/text.h"
#include "groupsec/config/settings.h"
#include "groupsec/ident/identity.h"
#include "groupsec/net/address.h"

namespace groupsec::gdoi {

namespace {

using config::SettingsReader;
using text::decimal;
using text::has_control;
using text::is_digit;
using text::quote;
using text::split_list;
using text::trim;

// Shortest TEK and KEK lifetime: a rekey must have time to reach members.
constexpr uint32_t kMinLifetime = 60;

Error bad(std::string message)
{
	return make_error(WireError::BadValue, std::move(message));
}

Result<Identity> identity_setting(std::string_view text)
{
	auto id = ident::parse_identity(text);
	if (!id.ok())
		return bad(quote(text) + " is not an identity (" + id.error().message + ")");
	return std::move(id).value();
}

} // namespace

Result<TrafficSelector> parse_traffic_selector(const std::string &text)
{
	auto ts = net::parse_traffic_selector(text);
	if (!ts.ok())
		return bad(quote(text) + " is not a traffic selector (" + ts.error().message + ")");
	return ts;
}

Result<uint32_t> parse_duration(const std::string &text)
{
	return config::parse_duration(text);
}

bool operator==(const EspProposal &a, const EspProposal &b)
{
	return a.encryption == b.encryption && a.key_bits == b.key_bits && a.integrity == b.integrity;
}

Result<EspProposal> parse_esp_proposal(const std::string &text)
{
	auto fail = [&](const std::string &why) {
		return bad(quote(text) + " is not an ESP proposal (" + why +
			   "; supported: aes128gcm16, aes192gcm16, aes256gcm16, aes128-sha256, aes192-sha256, aes256-sha256)");
	};
	std::string_view s = trim(text);
	if (s.find(',') != std::string_view::npos)
		return fail("one proposal only");
	std::vector<std::string_view> tokens;
	size_t start = 0;
	for (;;) {
		size_t dash = s.find('-', start);
		tokens.push_back(s.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
		if (dash == std::string_view::npos)
			break;
		start = dash + 1;
	}
	std::string_view enc = tokens[0];
	if (enc.substr(0, 3) != "aes")
		return fail("encryption must be AES");
	enc.remove_prefix(3);
	EspProposal p;
	p.key_bits = 128;
	for (uint16_t bits : {uint16_t{128}, uint16_t{192}, uint16_t{256}}) {
		std::string b = std::to_string(bits);
		if (enc.substr(0, b.size()) == b) {
			p.key_bits = bits;
			enc.remove_prefix(b.size());
			break;
		}
	}
	if (enc.empty()) {
		p.encryption = static_cast<uint16_t>(EncryptionId::AesCbc);
		if (tokens.size() < 2)
			return fail("AES-CBC needs an integrity algorithm");
		if (tokens[1] != "sha256" && tokens[1] != "sha2_256")
			return fail("integrity " + quote(tokens[1]) + " is not sha256");
		p.integrity = static_cast<uint16_t>(IntegrityId::HmacSha256_128);
		if (tokens.size() > 2)
			return fail("unsupported " + quote(tokens[2]));
		return p;
	}
	if (enc == "gcm16" || enc == "gcm128") {
		p.encryption = static_cast<uint16_t>(EncryptionId::AesGcm16);
		p.integrity = static_cast<uint16_t>(IntegrityId::None);
		if (tokens.size() > 1)
			return fail(tokens[1].substr(0, 3) == "sha" ? "AES-GCM takes no integrity algorithm"
								     : "unsupported " + quote(tokens[1]));
		return p;
	}
	if (enc.substr(0, 3) == "gcm")
		return fail("AES-GCM with a 16-octet ICV only");
	return fail("unknown encryption algorithm " + quote(tokens[0]));
}

Result<Identity> parse_identity(const std::string &s)
{
	return identity_setting(s);
}

Result<Identity> parse_group_id(const std::string &text)
{
	auto id = ident::parse_group_id(text);
	if (!id.ok())
		return id.error();
	return std::move(id).value();
}

// A tunnel endpoint's gateway port carries no meaning, so it is not compared.
bool operator==(const TunnelEndpoint &a, const TunnelEndpoint &b)
{
	return a.gateway.ip == b.gateway.ip && a.prefixes == b.prefixes;
}

namespace {

// --- settings layout ---

enum class Scope { Both, Server, Member };

struct GroupKey {
	const char *name;
	Scope scope;
};

const GroupKey kGroupKeys[] = {
	{"role", Scope::Both},
	{"group_id", Scope::Both},
	{"local_id", Scope::Both},
	{"auth", Scope::Both},
	{"rekey_auth", Scope::Both},
	{"multicast", Scope::Both},
	{"key_wrap", Scope::Both},
	{"rekey_proposal", Scope::Server},
	{"listen", Scope::Server},
	{"members", Scope::Server},
	{"tek_lifetime", Scope::Server},
	{"kek_lifetime", Scope::Server},
	{"activation_delay", Scope::Server},
	{"deactivation_delay", Scope::Server},
	{"rekey", Scope::Server},
	{"id_bits", Scope::Server},
	{"sender_id_bits", Scope::Server},
	{"key_hierarchy", Scope::Server},
	{"sa_mode", Scope::Server},
	{"election", Scope::Server},
	{"shortcut_protected", Scope::Server},
	{"local_addrs", Scope::Member},
	{"servers", Scope::Member},
	{"server_id", Scope::Member},
	{"reregister_margin", Scope::Member},
	{"sender_ids", Scope::Member},
	{"hosts", Scope::Member},
	{"liveness", Scope::Member},
	{"ike_lifetime", Scope::Member},
	{"sender", Scope::Member},
	{"peers", Scope::Member},
	{"shortcut_inside", Scope::Member},
};

const char *const kTekKeys[] = {"local_ts", "remote_ts", "esp_proposal", "single_sender"};
const char *const kEndpointKeys[] = {"gateway", "prefixes"};
constexpr std::string_view kEndpoints = "endpoints";
const char *const kShortcutKeys[] = {"member", "inside"};
constexpr std::string_view kShortcuts = "shortcuts";

bool valid_name(std::string_view s)
{
	return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
	});
}

bool is_tek_section(std::string_view s)
{
	return s.size() > 4 && s.substr(0, 4) == "tek-";
}

const GroupKey *find_group_key(std::string_view s)
{
	for (const auto &k : kGroupKeys) {
		if (s == k.name)
			return &k;
	}
	return nullptr;
}

template <size_t N> bool one_of(std::string_view s, const char *const (&names)[N])
{
	return std::any_of(std::begin(names), std::end(names), [&](const char *n) { return s == n; });
}

struct Setting {
	std::vector<std::string> path; // below the group
	std::string key; // the path joined by "."
	const std::string *value;
};

struct Group {
	std::string name;
	std::vector<Setting> settings;
	std::map<std::string, const std::string *> values; // by key
	std::vector<std::string> teks; // section names in order of appearance
	std::vector<std::string> endpoints;
	std::vector<std::string> shortcuts; // shortcut member sections in order
};

using Problem = std::optional<std::string>;

// Checks where a setting sits, and which role it belongs to.
Problem check_layout(const Group &g, const Setting &s, Scope &scope)
{
	std::string where = "groups." + g.name + (s.key.empty() ? "" : "." + s.key);
	const auto &p = s.path;
	if (p.empty())
		return where + ": must be a section";
	if (p.size() == 1) {
		if (const GroupKey *k = find_group_key(p[0])) {
			scope = k->scope;
			return std::nullopt;
		}
		if (p[0] == kEndpoints || p[0] == kShortcuts || is_tek_section(p[0]))
			return where + ": must be a section";
		return where + ": unknown setting";
	}
	if (is_tek_section(p[0])) {
		if (p.size() == 2 && one_of(p[1], kTekKeys)) {
			scope = Scope::Server;
			return std::nullopt;
		}
		return where + ": unknown setting";
	}
	if (p[0] == kShortcuts) {
		if (p.size() == 2)
			return where + ": must be a section";
		if (p.size() == 3 && one_of(p[2], kShortcutKeys)) {
			scope = Scope::Server;
			return std::nullopt;
		}
		return where + ": unknown setting";
	}
	if (p[0] == kEndpoints) {
		if (p.size() == 2)
			return where + ": must be a section";
		if (p.size() == 3 && one_of(p[2], kEndpointKeys)) {
			scope = Scope::Member;
			return std::nullopt;
		}
		return where + ": unknown setting";
	}
	return where + ": unknown setting";
}

// Reads the values of one group; every method returns false and leaves a
// message in problem() on the first bad value.
class Reader : public SettingsReader {
public:
	explicit Reader(const Group &g) : SettingsReader("groups." + g.name, g.values) {}

	bool identity(const std::string &key, Identity &out) { return value(key, identity_setting, out); }

	bool group_id(const std::string &key, Identity &out)
	{
		return value(key, [](std::string_view v) { return parse_group_id(std::string(v)); }, out);
	}

	bool identity_list(const std::string &key, std::vector<Identity> &out)
	{
		return list(key, identity_setting, out);
	}

	// A unicast address, port 848.
	bool address(const std::string &key, Address &out)
	{
		if (!unicast(key, out.ip))
			return false;
		out.port = kGikev2Port;
		return true;
	}

	bool address_list(const std::string &key, std::vector<Address> &out)
	{
		std::vector<Bytes> ips;
		if (!unicast_list(key, ips))
			return false;
		for (auto &ip : ips)
			out.push_back(Address{std::move(ip), kGikev2Port});
		return true;
	}

	bool multicast(const std::string &key, std::optional<Address> &out)
	{
		std::optional<Bytes> ip;
		if (!SettingsReader::multicast(key, ip))
			return false;
		if (ip)
			out = Address{std::move(*ip), kGikev2Port};
		return true;
	}

	bool auth(const std::string &key, AuthKind &out)
	{
		return choice<AuthKind>(key, {{"psk", AuthKind::Psk}, {"pubkey", AuthKind::PublicKey}}, out);
	}

	bool rekey_auth(const std::string &key, RekeyAuth &out)
	{
		return choice<RekeyAuth>(key, {{"signature", RekeyAuth::Signature}, {"implicit", RekeyAuth::Implicit}},
					 out);
	}

	bool delay(const std::string &key, uint16_t &out) { return short_duration(key, out); }

	bool yes_no(const std::string &key, bool &out)
	{
		return choice<bool>(key, {{"yes", true}, {"no", false}}, out);
	}

	// RFC 9838 Key Wrap Algorithm transform IDs by the RFC's names
	bool key_wrap(const std::string &key, uint16_t &out)
	{
		return choice<uint16_t>(key,
					{{"kw_5649_128", static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_128)},
					 {"kw_5649_192", static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_192)},
					 {"kw_5649_256", static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256)}},
					out);
	}

	// Shortcut inside prefixes: "10.1.0.0/24", no host bits, one family.
	bool prefix_list(const std::string &key, std::vector<shortcut::Prefix> &out)
	{
		if (!list(key, [](std::string_view v) { return shortcut::parse_prefix(std::string(v)); }, out))
			return false;
		for (const auto &p : out)
			if (p.address.size() != out.front().address.size())
				return fail(key, quote(*find(key)) + " mixes IPv4 and IPv6");
		return true;
	}

	bool traffic_selector_list(const std::string &key, std::vector<TrafficSelector> &out)
	{
		return list(key, [](std::string_view v) { return parse_traffic_selector(std::string(v)); }, out);
	}

	bool proposal(const std::string &key, TekPolicyConfig &tek)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto p = parse_esp_proposal(*v);
		if (!p.ok())
			return fail(key, p.error().message);
		tek.encryption = p.value().encryption;
		tek.key_bits = p.value().key_bits;
		tek.integrity = p.value().integrity;
		return true;
	}

	// The Rekey SA's transforms, in the syntax of an ESP proposal.
	bool rekey_proposal(const std::string &key, GcksGroupConfig &c)
	{
		const std::string *v = find(key);
		if (!v)
			return true;
		auto p = parse_esp_proposal(*v);
		if (!p.ok())
			return fail(key, p.error().message);
		c.rekey_encryption = p.value().encryption;
		c.rekey_key_bits = p.value().key_bits;
		c.rekey_integrity = p.value().integrity;
		return true;
	}
};

Problem read_server(const Group &g, GcksGroupConfig &c)
{
	Reader r(g);
	c.name = g.name;
	if (!r.group_id("group_id", c.group_id) || !r.identity("local_id", c.local_id) ||
	    !r.address_list("listen", c.listen) || !r.auth("auth", c.member_auth) ||
	    !r.identity_list("members", c.authorized) || !r.rekey_auth("rekey_auth", c.rekey_auth) ||
	    !r.choice<SaMode>("sa_mode",
			      {{"tunnel", SaMode::Tunnel}, {"gateway", SaMode::Gateway}, {"transport", SaMode::Transport}},
			      c.sa_mode))
		return r.problem();
	if (g.teks.empty())
		return "groups." + g.name + ": a key server group needs at least one tek-* section";
	for (const auto &name : g.teks) {
		TekPolicyConfig tek;
		if (!r.traffic_selector(name + ".local_ts", tek.source) ||
		    !r.traffic_selector(name + ".remote_ts", tek.destination) ||
		    !r.proposal(name + ".esp_proposal", tek) || !r.yes_no(name + ".single_sender", tek.single_sender))
			return r.problem();
		if (tek.source.ts_type != tek.destination.ts_type)
			return r.where(name + ".remote_ts") + ": " + quote(*r.find(name + ".remote_ts")) +
			       " is not of the address family of local_ts";
		c.teks.push_back(tek);
	}
	if (!r.rekey_proposal("rekey_proposal", c) || !r.key_wrap("key_wrap", c.rekey_key_wrap))
		return r.problem();
	if (!r.duration("tek_lifetime", c.tek_lifetime_s) || !r.duration("kek_lifetime", c.kek_lifetime_s) ||
	    !r.delay("activation_delay", c.activation_delay_s) || !r.delay("deactivation_delay", c.deactivation_delay_s))
		return r.problem();
	if (c.tek_lifetime_s < kMinLifetime)
		return r.where("tek_lifetime") + ": " + quote(r.text("tek_lifetime", "")) + " is shorter than 60s";
	if (c.kek_lifetime_s < kMinLifetime)
		return r.where("kek_lifetime") + ": " + quote(r.text("kek_lifetime", "")) + " is shorter than 60s";
	if (c.activation_delay_s >= c.tek_lifetime_s)
		return r.where("activation_delay") + ": " + quote(r.text("activation_delay", "")) +
		       " is not shorter than tek_lifetime (" + r.text("tek_lifetime", "1h") + ")";
	if (c.deactivation_delay_s >= c.tek_lifetime_s)
		return r.where("deactivation_delay") + ": " + quote(r.text("deactivation_delay", "")) +
		       " is not shorter than tek_lifetime (" + r.text("tek_lifetime", "1h") + ")";

	if (const std::string *v = r.find("rekey")) {
		std::string_view t = trim(*v);
		if (t == "unicast")
			c.rekey = RekeyTransport::Unicast;
		else if (t == "multicast")
			c.rekey = RekeyTransport::Multicast;
		else if (t == "inband")
			c.rekey = RekeyTransport::Inband;
		else
			return r.where("rekey") + ": " + quote(*v) + " is not unicast, multicast or inband";
	}
	if (!r.multicast("multicast", c.multicast))
		return r.problem();
	if (c.rekey == RekeyTransport::Multicast) {
		if (!c.multicast)
			return r.where("multicast") + ": missing (rekey = multicast)";
		bool family = std::any_of(c.listen.begin(), c.listen.end(),
					  [&](const Address &a) { return a.ip.size() == c.multicast->ip.size(); });
		if (!family)
			return r.where("multicast") + ": " + quote(*r.find("multicast")) + " is " +
			       net::family_name(c.multicast->ip) + " but no listen address is";
	} else if (c.multicast) {
		return r.where("multicast") + ": only used with rekey = multicast";
	}

	if (const std::string *v = r.find("key_hierarchy")) {
		std::string_view t = trim(*v);
		if (t == "tree")
			c.hierarchy = KeyHierarchy::Tree;
		else if (t == "flat")
			c.hierarchy = KeyHierarchy::Flat;
		else
			return r.where("key_hierarchy") + ": " + quote(*v) + " is not tree or flat";
	}
	if (!r.number("sender_id_bits", 1, 32, c.sender_id_bits))
		return r.problem();
	if (!r.number("id_bits", 1, 32, c.id_bits))
		return r.problem();
	if (c.id_bits < 32 && c.authorized.size() > (uint64_t{1} << c.id_bits))
		return r.where("id_bits") + ": " + std::to_string(c.id_bits) + " bits give " +
		       std::to_string(uint64_t{1} << c.id_bits) + " member IDs, fewer than the " +
		       std::to_string(c.authorized.size()) + " members";
	return std::nullopt;
}

Problem read_member(const Group &g, GmGroupConfig &c, std::vector<TunnelEndpoint> &endpoints, bool &elected)
{
	Reader r(g);
	c.name = g.name;
	// `servers = election`: the election names the server and its identity
	const std::string *servers = r.find("servers");
	elected = servers && trim(*servers) == "election";
	if (elected && r.find("server_id"))
		return r.where("server_id") + ": the elected key server's identity comes from the election "
					      "(servers = election)";
	if (!r.group_id("group_id", c.group_id) || !r.identity("local_id", c.local_id) ||
	    !r.address("local_addrs", c.local) || (!elected && !r.address_list("servers", c.servers)) ||
	    (!elected && !r.identity("server_id", c.server_id)) || !r.auth("auth", c.auth) ||
	    !r.rekey_auth("rekey_auth", c.rekey_auth) ||
	    !r.multicast("multicast", c.multicast) || !r.duration("reregister_margin", c.reregister_margin_s) ||
	    !r.number("sender_ids", 0, 16, c.sender_ids) || !r.yes_no("sender", c.sender) ||
	    !r.key_wrap("key_wrap", c.key_wrap) || !r.duration("liveness", c.liveness_s) ||
	    !r.duration("ike_lifetime", c.ike_lifetime_s))
		return r.problem();
	if (c.sender_ids && !c.sender)
		return r.where("sender_ids") + ": Sender-IDs are only for a group sender (sender = no)";
	if (r.find("peers")) {
		if (!r.identity_list("peers", c.peers))
			return r.problem();
		auto n = make_member_list_notify(c.peers);
		if (!n)
			return r.where("peers") + ": " + n.error().message;
		if (std::find(c.peers.begin(), c.peers.end(), c.local_id) != c.peers.end())
			return r.where("peers") + ": names this member itself (local_id)";
	}
	auto family = [&](const Address &a) { return a.ip.size() == c.local.ip.size(); };
	for (size_t i = 0; i < c.servers.size(); i++) {
		if (!family(c.servers[i]))
			return r.where("servers") + ": " + quote(split_list(*r.find("servers"))[i]) +
			       " is not of the address family of local_addrs";
	}
	if (c.multicast && !family(*c.multicast))
		return r.where("multicast") + ": " + quote(*r.find("multicast")) +
		       " is not of the address family of local_addrs";
	if (r.find("hosts")) {
		if (!r.address_list("hosts", c.hosts))
			return r.problem();
		for (size_t i = 0; i < c.hosts.size(); i++) {
			c.hosts[i].port = 0;
			if (!family(c.hosts[i]))
				return r.where("hosts") + ": " + quote(split_list(*r.find("hosts"))[i]) +
				       " is not of the address family of local_addrs";
		}
	}

	for (const auto &name : g.endpoints) {
		std::string base = std::string(kEndpoints) + "." + name;
		TunnelEndpoint e;
		if (!r.address(base + ".gateway", e.gateway) || !r.traffic_selector_list(base + ".prefixes", e.prefixes))
			return r.problem();
		if (!family(e.gateway))
			return r.where(base + ".gateway") + ": " + quote(*r.find(base + ".gateway")) +
			       " is not of the address family of local_addrs";
		for (const auto &other : endpoints) {
			if (other.gateway.ip == e.gateway.ip)
				return r.where(base + ".gateway") + ": " + quote(*r.find(base + ".gateway")) +
				       " is the gateway of another endpoint";
		}
		endpoints.push_back(std::move(e));
	}
	return std::nullopt;
}

// A key server group's shortcut members (shortcuts.<name>.member and
// .inside), each at most once.
Problem read_shortcut_members(const Group &g, const GcksGroupConfig &c,
			      std::vector<shortcut::ShortcutPeerConfig> &out)
{
	Reader r(g);
	for (const auto &name : g.shortcuts) {
		std::string base = std::string(kShortcuts) + "." + name;
		shortcut::ShortcutPeerConfig m;
		if (!r.identity(base + ".member", m.id) || !r.prefix_list(base + ".inside", m.inside))
			return r.problem();
		if (std::find(c.authorized.begin(), c.authorized.end(), m.id) == c.authorized.end())
			return r.where(base + ".member") + ": " + quote(*r.find(base + ".member")) +
			       " is not one of the group's members";
		for (const auto &other : out)
			if (other.id == m.id)
				return r.where(base + ".member") + ": " + quote(*r.find(base + ".member")) +
				       " has shortcut prefixes already";
		out.push_back(std::move(m));
	}
	return std::nullopt;
}

// Splits the flat settings into groups, checking names, order and
// duplicates.
Problem collect(const std::vector<std::pair<std::string, std::string>> &settings, std::vector<Group> &groups)
{
	std::map<std::string, size_t> index;
	std::set<std::string> keys;
	for (const auto &[key, value] : settings) {
		std::vector<std::string> path;
		size_t start = 0;
		for (;;) {
			size_t dot = key.find('.', start);
			path.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
			if (dot == std::string::npos)
				break;
			start = dot + 1;
		}
		if (!std::all_of(path.begin(), path.end(), [](const std::string &p) { return valid_name(p); }))
			return "groups." + quote(key) + ": names in a key path hold letters, digits, '-' and '_' only";
		const std::string &name = path[0];
		if (!keys.insert(key).second)
			return "groups." + key + ": set twice";
		if (has_control(value))
			return "groups." + key + ": " + quote(value) + " contains a control character";
		auto it = index.find(name);
		if (it == index.end()) {
			it = index.emplace(name, groups.size()).first;
			groups.push_back(Group{name, {}, {}, {}, {}, {}});
		} else if (it->second + 1 != groups.size()) {
			return "groups." + name + ": group defined twice";
		}
		Group &g = groups[it->second];
		Setting s;
		s.path.assign(path.begin() + 1, path.end());
		s.key = key.size() > name.size() ? key.substr(name.size() + 1) : std::string();
		s.value = &value;
		g.settings.push_back(std::move(s));
	}
	return std::nullopt;
}

Problem check_group(Group &g, bool &server)
{
	std::vector<Scope> scopes;
	for (const auto &s : g.settings) {
		Scope scope = Scope::Both;
		if (auto p = check_layout(g, s, scope))
			return p;
		scopes.push_back(scope);
	}
	const std::string *role = nullptr;
	for (const auto &s : g.settings) {
		if (s.key == "role")
			role = s.value;
	}
	std::string where = "groups." + g.name;
	if (!role)
		return where + ".role: missing (server or member)";
	std::string_view r = trim(*role);
	if (r != "server" && r != "member")
		return where + ".role: " + quote(*role) + " is not server or member";
	server = r == "server";
	for (size_t i = 0; i < g.settings.size(); i++) {
		const Setting &s = g.settings[i];
		if (server && scopes[i] == Scope::Member)
			return where + "." + s.key + ": a member setting in a key server group";
		if (!server && scopes[i] == Scope::Server)
			return where + "." + s.key + ": a key server setting in a member group";
		g.values[s.key] = s.value;
		auto add_section = [](std::vector<std::string> &list, const std::string &name) {
			if (std::find(list.begin(), list.end(), name) == list.end())
				list.push_back(name);
		};
		if (s.path.size() > 1 && is_tek_section(s.path[0]))
			add_section(g.teks, s.path[0]);
		else if (s.path.size() > 1 && s.path[0] == kEndpoints)
			add_section(g.endpoints, s.path[1]);
		else if (s.path.size() > 1 && s.path[0] == kShortcuts)
			add_section(g.shortcuts, s.path[1]);
	}
	return std::nullopt;
}

// Two groups of one role with the same IDg could not tell their messages
// apart.
template <typename Config>
Problem unique_group_ids(const std::vector<Config> &configs, const std::map<std::string, const Group *> &groups)
{
	for (size_t i = 0; i < configs.size(); i++) {
		for (size_t j = 0; j < i; j++) {
			if (configs[i].group_id.type == configs[j].group_id.type &&
			    configs[i].group_id.data == configs[j].group_id.data)
				return "groups." + configs[i].name + ".group_id: " +
				       quote(*groups.at(configs[i].name)->values.at("group_id")) +
				       " is already the group ID of groups." + configs[j].name;
		}
	}
	return std::nullopt;
}

} // namespace

Result<GdoiConfig> parse_config(const std::vector<std::pair<std::string, std::string>> &settings)
{
	std::vector<Group> groups;
	if (auto p = collect(settings, groups))
		return bad(*p);
	GdoiConfig config;
	std::map<std::string, const Group *> by_name;
	for (auto &g : groups) {
		by_name[g.name] = &g;
		bool server = false;
		if (auto p = check_group(g, server))
			return bad(*p);
		if (server) {
			GcksGroupConfig c;
			if (auto p = read_server(g, c))
				return bad(*p);
			std::vector<shortcut::ShortcutPeerConfig> shortcut_members;
			if (auto p = read_shortcut_members(g, c, shortcut_members))
				return bad(*p);
			if (!shortcut_members.empty())
				config.shortcut_members[g.name] = std::move(shortcut_members);
			Reader pr(g);
			if (pr.find("shortcut_protected")) {
				std::vector<shortcut::Prefix> prefixes;
				if (!pr.prefix_list("shortcut_protected", prefixes))
					return bad(pr.problem());
				config.shortcut_protected[g.name] = std::move(prefixes);
			}
			bool elected = false;
			Reader r(g);
			if (!r.yes_no("election", elected))
				return bad(r.problem());
			if (elected)
				config.elected.insert(g.name);
			config.servers.push_back(std::move(c));
		} else {
			GmGroupConfig c;
			std::vector<TunnelEndpoint> endpoints;
			bool elected = false;
			if (auto p = read_member(g, c, endpoints, elected))
				return bad(*p);
			Reader r(g);
			if (r.find("shortcut_inside")) {
				std::vector<shortcut::Prefix> inside;
				if (!r.prefix_list("shortcut_inside", inside))
					return bad(r.problem());
				if (inside.front().address.size() != c.local.ip.size())
					return bad(r.where("shortcut_inside") + ": " + quote(*r.find("shortcut_inside")) +
						   " is not of the address family of local_addrs");
				config.shortcut_inside[g.name] = std::move(inside);
			}
			if (elected)
				config.elected.insert(g.name);
			config.members.push_back(std::move(c));
			if (!endpoints.empty())
				config.endpoints[g.name] = std::move(endpoints);
		}
	}
	if (auto p = unique_group_ids(config.servers, by_name))
		return bad(*p);
	if (auto p = unique_group_ids(config.members, by_name))
		return bad(*p);
	return config;
}

} // namespace groupsec::gdoi
