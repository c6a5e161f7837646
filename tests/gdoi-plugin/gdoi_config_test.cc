// SPDX-License-Identifier: GPL-2.0-or-later
// The `groups` configuration: full key server and member groups, every
// error the parser reports, and the value syntaxes (durations, traffic
// selectors, ESP proposals, group IDs and identities).
#include <set>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <string>
#include <utility>
#include <vector>

#include "gdoi_config.h"
#include "gikev2.h"

namespace groupsec::gdoi {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

Bytes ip(const std::string &s)
{
	uint8_t buf[16];
	if (s.find(':') != std::string::npos) {
		EXPECT_EQ(inet_pton(AF_INET6, s.c_str(), buf), 1) << s;
		return Bytes(buf, buf + 16);
	}
	EXPECT_EQ(inet_pton(AF_INET, s.c_str(), buf), 1) << s;
	return Bytes(buf, buf + 4);
}

Bytes str(const std::string &s)
{
	return Bytes(s.begin(), s.end());
}

TrafficSelector ts(const std::string &start, const std::string &end, uint8_t proto = 0, uint16_t from = 0,
		   uint16_t to = 0xffff)
{
	TrafficSelector t;
	t.start_address = ip(start);
	t.end_address = ip(end);
	t.ts_type = static_cast<uint8_t>(t.start_address.size() == 4 ? TsType::Ipv4AddrRange : TsType::Ipv6AddrRange);
	t.ip_protocol = proto;
	t.start_port = from;
	t.end_port = to;
	return t;
}

void expect_id(const Identity &id, IdType type, const Bytes &data)
{
	EXPECT_EQ(id.type, static_cast<uint8_t>(type));
	EXPECT_EQ(id.data, data);
}

void expect_address(const Address &a, const std::string &text)
{
	EXPECT_EQ(a.ip, ip(text)) << text;
	EXPECT_EQ(a.port, 848) << text;
}

// The error message of a config that must not parse.
std::string error_of(const Settings &s)
{
	auto r = parse_config(s);
	if (r.ok())
		return "(parsed)";
	EXPECT_EQ(r.error().code, WireError::BadValue);
	return r.error().message;
}

const Settings kServer = {
	{"blue.role", "server"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "ks.example.net"},
	{"blue.listen", "192.0.2.1, 2001:db8::1"},
	{"blue.auth", "pubkey"},
	{"blue.members", "gm1.example.net, gm2@example.net,198.51.100.7"},
	{"blue.tek_lifetime", "30m"},
	{"blue.kek_lifetime", "2d"},
	{"blue.activation_delay", "30s"},
	{"blue.deactivation_delay", "1m"},
	{"blue.rekey", "multicast"},
	{"blue.multicast", "239.1.1.1"},
	{"blue.id_bits", "8"},
	{"blue.rekey_auth", "implicit"},
	{"blue.tek-1.local_ts", "10.0.0.0/8"},
	{"blue.tek-1.remote_ts", "10.0.0.0/8"},
	{"blue.tek-2.local_ts", "2001:db8:100::/48[udp/5000-5010]"},
	{"blue.tek-2.remote_ts", "2001:db8:200::/48"},
	{"blue.tek-2.esp_proposal", "aes128-sha256"},
};

const Settings kMember = {
	{"red.role", "member"},
	{"red.group_id", "@#67727031"},
	{"red.local_id", "gm1.example.net"},
	{"red.local_addrs", "198.51.100.7"},
	{"red.servers", "192.0.2.1, 192.0.2.2"},
	{"red.server_id", "ks.example.net"},
	{"red.auth", "pubkey"},
	{"red.multicast", "239.1.1.1"},
	{"red.reregister_margin", "2m"},
	{"red.rekey_auth", "implicit"},
	{"red.endpoints.gw2.gateway", "198.51.100.8"},
	{"red.endpoints.gw2.prefixes", "10.2.0.0/16, 10.20.0.0/16"},
	{"red.endpoints.gw3.gateway", "198.51.100.9"},
	{"red.endpoints.gw3.prefixes", "10.3.0.0/16"},
};

// The smallest valid groups of each role.
const Settings kMinimalServer = {
	{"blue.role", "server"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "ks.example.net"},
	{"blue.listen", "192.0.2.1"},
	{"blue.members", "gm1.example.net"},
	{"blue.tek-1.local_ts", "10.0.0.0/8"},
	{"blue.tek-1.remote_ts", "10.0.0.0/8"},
};

const Settings kMinimalMember = {
	{"blue.role", "member"},
	{"blue.group_id", "1234"},
	{"blue.local_id", "gm1.example.net"},
	{"blue.local_addrs", "198.51.100.7"},
	{"blue.servers", "192.0.2.1"},
	{"blue.server_id", "ks.example.net"},
};

Settings with(Settings s, const std::string &key, const std::string &value)
{
	for (auto &kv : s) {
		if (kv.first == key) {
			kv.second = value;
			return s;
		}
	}
	s.emplace_back(key, value);
	return s;
}

Settings without(Settings s, const std::string &key)
{
	Settings out;
	for (auto &kv : s) {
		if (kv.first != key)
			out.push_back(kv);
	}
	return out;
}

TEST(GdoiConfig, FullServerGroup)
{
	auto r = parse_config(kServer);
	ASSERT_TRUE(r.ok()) << r.error().message;
	const GdoiConfig &c = r.value();
	ASSERT_EQ(c.servers.size(), 1u);
	EXPECT_TRUE(c.members.empty());
	EXPECT_TRUE(c.endpoints.empty());
	const GcksGroupConfig &s = c.servers[0];
	EXPECT_EQ(s.name, "blue");
	expect_id(s.group_id, IdType::KeyId, Bytes{0x00, 0x00, 0x04, 0xd2});
	expect_id(s.local_id, IdType::Fqdn, str("ks.example.net"));
	ASSERT_EQ(s.listen.size(), 2u);
	expect_address(s.listen[0], "192.0.2.1");
	expect_address(s.listen[1], "2001:db8::1");
	EXPECT_EQ(s.member_auth, AuthKind::PublicKey);
	ASSERT_EQ(s.authorized.size(), 3u);
	expect_id(s.authorized[0], IdType::Fqdn, str("gm1.example.net"));
	expect_id(s.authorized[1], IdType::Rfc822Addr, str("gm2@example.net"));
	expect_id(s.authorized[2], IdType::Ipv4Addr, ip("198.51.100.7"));
	EXPECT_EQ(s.tek_lifetime_s, 1800u);
	EXPECT_EQ(s.kek_lifetime_s, 172800u);
	EXPECT_EQ(s.activation_delay_s, 30);
	EXPECT_EQ(s.deactivation_delay_s, 60);
	EXPECT_EQ(s.rekey, RekeyTransport::Multicast);
	ASSERT_TRUE(s.multicast.has_value());
	expect_address(*s.multicast, "239.1.1.1");
	EXPECT_EQ(s.id_bits, 8);
	EXPECT_EQ(s.rekey_auth, RekeyAuth::Implicit);

	ASSERT_EQ(s.teks.size(), 2u);
	EXPECT_EQ(s.teks[0].source, ts("10.0.0.0", "10.255.255.255"));
	EXPECT_EQ(s.teks[0].destination, ts("10.0.0.0", "10.255.255.255"));
	EXPECT_EQ(s.teks[0].encryption, 20);
	EXPECT_EQ(s.teks[0].key_bits, 256);
	EXPECT_EQ(s.teks[0].integrity, 0);
	EXPECT_EQ(s.teks[1].source, ts("2001:db8:100::", "2001:db8:100:ffff:ffff:ffff:ffff:ffff", 17, 5000, 5010));
	EXPECT_EQ(s.teks[1].destination, ts("2001:db8:200::", "2001:db8:200:ffff:ffff:ffff:ffff:ffff"));
	EXPECT_EQ(s.teks[1].encryption, 12);
	EXPECT_EQ(s.teks[1].key_bits, 128);
	EXPECT_EQ(s.teks[1].integrity, 12);
}

TEST(GdoiConfig, ServerDefaults)
{
	auto r = parse_config(kMinimalServer);
	ASSERT_TRUE(r.ok()) << r.error().message;
	const GcksGroupConfig &s = r.value().servers.at(0);
	EXPECT_EQ(s.member_auth, AuthKind::Psk);
	EXPECT_EQ(s.tek_lifetime_s, 3600u);
	EXPECT_EQ(s.kek_lifetime_s, 86400u);
	EXPECT_EQ(s.activation_delay_s, 0);
	EXPECT_EQ(s.deactivation_delay_s, 0);
	EXPECT_EQ(s.rekey, RekeyTransport::Unicast);
	EXPECT_FALSE(s.multicast.has_value());
	EXPECT_EQ(s.id_bits, 16);
	EXPECT_EQ(s.hierarchy, KeyHierarchy::Tree) << "coalition-proof evictions unless told otherwise";
	EXPECT_EQ(s.rekey_auth, RekeyAuth::Signature) << "signed rekeys unless told otherwise";
	ASSERT_EQ(s.teks.size(), 1u);
	EXPECT_EQ(s.teks[0].encryption, 20);
	EXPECT_EQ(s.teks[0].key_bits, 256);
	EXPECT_EQ(s.teks[0].integrity, 0);
}

TEST(GdoiConfig, FullMemberGroup)
{
	auto r = parse_config(kMember);
	ASSERT_TRUE(r.ok()) << r.error().message;
	const GdoiConfig &c = r.value();
	EXPECT_TRUE(c.servers.empty());
	ASSERT_EQ(c.members.size(), 1u);
	const GmGroupConfig &m = c.members[0];
	EXPECT_EQ(m.name, "red");
	expect_id(m.group_id, IdType::KeyId, str("grp1"));
	expect_id(m.local_id, IdType::Fqdn, str("gm1.example.net"));
	expect_id(m.server_id, IdType::Fqdn, str("ks.example.net"));
	expect_address(m.local, "198.51.100.7");
	ASSERT_EQ(m.servers.size(), 2u);
	expect_address(m.servers[0], "192.0.2.1");
	expect_address(m.servers[1], "192.0.2.2");
	EXPECT_EQ(m.auth, AuthKind::PublicKey);
	ASSERT_TRUE(m.multicast.has_value());
	expect_address(*m.multicast, "239.1.1.1");
	EXPECT_EQ(m.reregister_margin_s, 120u);
	EXPECT_EQ(m.rekey_auth, RekeyAuth::Implicit);

	ASSERT_EQ(c.endpoints.size(), 1u);
	const auto &e = c.endpoints.at("red");
	ASSERT_EQ(e.size(), 2u);
	expect_address(e[0].gateway, "198.51.100.8");
	ASSERT_EQ(e[0].prefixes.size(), 2u);
	EXPECT_EQ(e[0].prefixes[0], ts("10.2.0.0", "10.2.255.255"));
	EXPECT_EQ(e[0].prefixes[1], ts("10.20.0.0", "10.20.255.255"));
	expect_address(e[1].gateway, "198.51.100.9");
	ASSERT_EQ(e[1].prefixes.size(), 1u);
	EXPECT_EQ(e[1].prefixes[0], ts("10.3.0.0", "10.3.255.255"));
}

TEST(GdoiConfig, MemberDefaults)
{
	auto r = parse_config(kMinimalMember);
	ASSERT_TRUE(r.ok()) << r.error().message;
	const GmGroupConfig &m = r.value().members.at(0);
	EXPECT_EQ(m.auth, AuthKind::Psk);
	EXPECT_FALSE(m.multicast.has_value());
	EXPECT_EQ(m.reregister_margin_s, 60u);
	EXPECT_EQ(m.sender_ids, 0u);
	EXPECT_EQ(m.rekey_auth, RekeyAuth::Signature) << "only signed rekeys unless told otherwise";
	EXPECT_TRUE(r.value().endpoints.empty());
	auto four = parse_config(with(kMinimalMember, "blue.sender_ids", "4"));
	ASSERT_TRUE(four.ok()) << four.error().message;
	EXPECT_EQ(four.value().members.at(0).sender_ids, 4u);
	EXPECT_EQ(m.liveness_s, 0u) << "no liveness checks: the key server closes the IKE SA";
	EXPECT_EQ(m.ike_lifetime_s, 86400u);
	auto live = parse_config(with(with(kMinimalMember, "blue.liveness", "2s"), "blue.ike_lifetime", "4h"));
	ASSERT_TRUE(live.ok()) << live.error().message;
	EXPECT_EQ(live.value().members.at(0).liveness_s, 2u);
	EXPECT_EQ(live.value().members.at(0).ike_lifetime_s, 14400u);
	EXPECT_FALSE(parse_config(with(kMinimalMember, "blue.liveness", "soon")).ok());
}

TEST(GdoiConfig, PeersPutTheMemberInMemberListMode)
{
	auto r = parse_config(kMinimalMember);
	ASSERT_TRUE(r.ok()) << r.error().message;
	EXPECT_TRUE(r.value().members.at(0).peers.empty()) << "auto-discovery unless peers are named";
	auto named = parse_config(with(kMinimalMember, "blue.peers", "gm2.example.net, 192.0.2.13"));
	ASSERT_TRUE(named.ok()) << named.error().message;
	const auto &peers = named.value().members.at(0).peers;
	ASSERT_EQ(peers.size(), 2u);
	EXPECT_EQ(peers[0].str(), "gm2.example.net");
	EXPECT_EQ(peers[1].str(), "192.0.2.13");
	// a key server setting only
	EXPECT_FALSE(parse_config(with(kMinimalServer, "blue.peers", "gm2.example.net")).ok());
	std::string many;
	for (int i = 0; i < 65; i++)
		many += (i ? ", gm" : "gm") + std::to_string(i) + ".example.net";
	auto big = parse_config(with(kMinimalMember, "blue.peers", many));
	ASSERT_FALSE(big.ok());
	EXPECT_NE(big.error().message.find("more than 64"), std::string::npos) << big.error().message;
}

TEST(GdoiConfig, SeveralGroupsKeepTheirOrder)
{
	Settings s = kMember;
	s.insert(s.end(), kServer.begin(), kServer.end());
	for (const auto &kv : kMinimalServer)
		s.emplace_back("green" + kv.first.substr(4), kv.second);
	s = with(s, "green.group_id", "5678");
	auto r = parse_config(s);
	ASSERT_TRUE(r.ok()) << r.error().message;
	ASSERT_EQ(r.value().servers.size(), 2u);
	EXPECT_EQ(r.value().servers[0].name, "blue");
	EXPECT_EQ(r.value().servers[1].name, "green");
	ASSERT_EQ(r.value().members.size(), 1u);
	EXPECT_EQ(r.value().members[0].name, "red");
	// one IDg may be served and joined by the same node
	s = with(s, "red.group_id", "1234");
	EXPECT_TRUE(parse_config(s).ok());
}

TEST(GdoiConfig, EmptySettingsGiveNoGroups)
{
	auto r = parse_config({});
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(r.value().servers.empty());
	EXPECT_TRUE(r.value().members.empty());
}

TEST(GdoiConfig, ValuesAreTrimmed)
{
	auto r = parse_config(with(with(kMinimalServer, "blue.role", " server "), "blue.listen", " 192.0.2.1 "));
	ASSERT_TRUE(r.ok()) << r.error().message;
	expect_address(r.value().servers[0].listen.at(0), "192.0.2.1");
}

struct ErrorCase {
	const char *what;
	Settings settings;
	std::string message;
};

void expect_errors(const std::vector<ErrorCase> &cases)
{
	for (const auto &c : cases)
		EXPECT_EQ(error_of(c.settings), c.message) << c.what;
}

TEST(GdoiConfig, LayoutErrors)
{
	expect_errors({
		{"misspelled key", with(kMinimalServer, "blue.lisen", "192.0.2.1"), "groups.blue.lisen: unknown setting"},
		{"unknown TEK key", with(kMinimalServer, "blue.tek-1.proposal", "aes256gcm16"),
		 "groups.blue.tek-1.proposal: unknown setting"},
		{"unknown section", with(kMinimalServer, "blue.tek.local_ts", "10.0.0.0/8"),
		 "groups.blue.tek.local_ts: unknown setting"},
		{"too deep", with(kMinimalServer, "blue.tek-1.local_ts.x", "1"),
		 "groups.blue.tek-1.local_ts.x: unknown setting"},
		{"unknown endpoint key", with(kMinimalMember, "blue.endpoints.gw.gw", "192.0.2.9"),
		 "groups.blue.endpoints.gw.gw: unknown setting"},
		{"group as a key", with(kMinimalServer, "blue", "1"), "groups.blue: must be a section"},
		{"TEK as a key", with(kMinimalServer, "blue.tek-2", "1"), "groups.blue.tek-2: must be a section"},
		{"endpoints as a key", with(kMinimalMember, "blue.endpoints", "1"),
		 "groups.blue.endpoints: must be a section"},
		{"endpoint as a key", with(kMinimalMember, "blue.endpoints.gw", "1"),
		 "groups.blue.endpoints.gw: must be a section"},
		{"empty path element", with(kMinimalServer, "blue..role", "server"),
		 "groups.\"blue..role\": names in a key path hold letters, digits, '-' and '_' only"},
		{"bad group name", {{"bl ue.role", "server"}},
		 "groups.\"bl ue.role\": names in a key path hold letters, digits, '-' and '_' only"},
	});
	Settings twice = kMinimalServer;
	twice.emplace_back("blue.listen", "192.0.2.2");
	EXPECT_EQ(error_of(twice), "groups.blue.listen: set twice");

	Settings dup = kMinimalServer;
	for (const auto &kv : kMinimalMember)
		dup.emplace_back("red" + kv.first.substr(4), kv.second);
	dup.emplace_back("blue.auth", "psk");
	EXPECT_EQ(error_of(dup), "groups.blue: group defined twice");

	Settings ctl = with(kMinimalServer, "blue.local_id", std::string("ks\x01", 3));
	EXPECT_EQ(error_of(ctl), "groups.blue.local_id: \"ks\\x01\" contains a control character");
	Settings nul = with(kMinimalServer, "blue.listen", std::string("192.0.2.1\0x", 11));
	EXPECT_EQ(error_of(nul), "groups.blue.listen: \"192.0.2.1\\x00x\" contains a control character");
}

TEST(GdoiConfig, RoleErrors)
{
	expect_errors({
		{"no role", without(kMinimalServer, "blue.role"), "groups.blue.role: missing (server or member)"},
		{"bad role", with(kMinimalServer, "blue.role", "sever"),
		 "groups.blue.role: \"sever\" is not server or member"},
		{"server key in member", with(kMinimalMember, "blue.members", "gm1.example.net"),
		 "groups.blue.members: a key server setting in a member group"},
		{"TEK in member", with(kMinimalMember, "blue.tek-1.local_ts", "10.0.0.0/8"),
		 "groups.blue.tek-1.local_ts: a key server setting in a member group"},
		{"rekey in member", with(kMinimalMember, "blue.rekey", "unicast"),
		 "groups.blue.rekey: a key server setting in a member group"},
		{"member key in server", with(kMinimalServer, "blue.servers", "192.0.2.1"),
		 "groups.blue.servers: a member setting in a key server group"},
		{"endpoint in server", with(kMinimalServer, "blue.endpoints.gw.gateway", "192.0.2.9"),
		 "groups.blue.endpoints.gw.gateway: a member setting in a key server group"},
	});
}

TEST(GdoiConfig, ServerErrors)
{
	const Settings &s = kMinimalServer;
	expect_errors({
		{"TS", with(s, "blue.tek-1.local_ts", "10.0.0.0/33"),
		 "groups.blue.tek-1.local_ts: \"10.0.0.0/33\" is not a traffic selector (prefix length above 32)"},
		{"no group_id", without(s, "blue.group_id"), "groups.blue.group_id: missing"},
		{"bad group_id", with(s, "blue.group_id", "4294967296"),
		 "groups.blue.group_id: \"4294967296\" is not a group ID (numbers go up to 4294967295)"},
		{"no local_id", without(s, "blue.local_id"), "groups.blue.local_id: missing"},
		{"bad local_id", with(s, "blue.local_id", "@#abc"),
		 "groups.blue.local_id: \"@#abc\" is not an identity (key ID \"@#\" needs an even number of hex digits)"},
		{"no listen", without(s, "blue.listen"), "groups.blue.listen: missing"},
		{"bad listen", with(s, "blue.listen", "192.0.2.1, 192.0.2.300"),
		 "groups.blue.listen: \"192.0.2.300\" is not an IP address"},
		{"multicast listen", with(s, "blue.listen", "224.0.0.5"),
		 "groups.blue.listen: \"224.0.0.5\" is not a unicast address"},
		{"wildcard listen", with(s, "blue.listen", "::"), "groups.blue.listen: \"::\" is not a unicast address"},
		{"listen twice", with(s, "blue.listen", "192.0.2.1,192.0.2.1"),
		 "groups.blue.listen: \"192.0.2.1\" is listed twice"},
		{"empty listen element", with(s, "blue.listen", "192.0.2.1,,192.0.2.2"),
		 "groups.blue.listen: \"192.0.2.1,,192.0.2.2\" has an empty list element"},
		{"empty listen", with(s, "blue.listen", ""), "groups.blue.listen: empty list"},
		{"bad auth", with(s, "blue.auth", "cert"), "groups.blue.auth: \"cert\" is not psk or pubkey"},
		{"bad rekey_auth", with(s, "blue.rekey_auth", "none"),
		 "groups.blue.rekey_auth: \"none\" is not signature or implicit"},
		{"no members", without(s, "blue.members"), "groups.blue.members: missing"},
		{"empty members", with(s, "blue.members", " "), "groups.blue.members: empty list"},
		{"member twice", with(s, "blue.members", "gm1.example.net, @gm1.example.net"),
		 "groups.blue.members: \"@gm1.example.net\" is listed twice"},
		{"no TEK", without(without(s, "blue.tek-1.local_ts"), "blue.tek-1.remote_ts"),
		 "groups.blue: a key server group needs at least one tek-* section"},
		{"no local_ts", without(s, "blue.tek-1.local_ts"), "groups.blue.tek-1.local_ts: missing"},
		{"no remote_ts", without(s, "blue.tek-1.remote_ts"), "groups.blue.tek-1.remote_ts: missing"},
		{"TS families", with(s, "blue.tek-1.remote_ts", "2001:db8::/32"),
		 "groups.blue.tek-1.remote_ts: \"2001:db8::/32\" is not of the address family of local_ts"},
		{"bad proposal", with(s, "blue.tek-1.esp_proposal", "aes256gcm12"),
		 "groups.blue.tek-1.esp_proposal: \"aes256gcm12\" is not an ESP proposal (AES-GCM with a 16-octet ICV only; "
		 "supported: aes128gcm16, aes192gcm16, aes256gcm16, aes128-sha256, aes192-sha256, aes256-sha256)"},
		{"bad tek_lifetime", with(s, "blue.tek_lifetime", "1w"),
		 "groups.blue.tek_lifetime: \"1w\" is not a duration (unit \"w\" is not s, m, h or d)"},
		{"zero tek_lifetime", with(s, "blue.tek_lifetime", "0s"), "groups.blue.tek_lifetime: \"0s\" is shorter than 60s"},
		{"short tek_lifetime", with(s, "blue.tek_lifetime", "59"), "groups.blue.tek_lifetime: \"59\" is shorter than 60s"},
		{"short kek_lifetime", with(s, "blue.kek_lifetime", "59s"), "groups.blue.kek_lifetime: \"59s\" is shorter than 60s"},
		{"big delay", with(s, "blue.activation_delay", "65536"),
		 "groups.blue.activation_delay: \"65536\" is above 65535 seconds"},
		{"big delay in h", with(s, "blue.deactivation_delay", "19h"),
		 "groups.blue.deactivation_delay: \"19h\" is above 65535 seconds"},
		{"delay not below TEK lifetime", with(with(s, "blue.tek_lifetime", "10m"), "blue.activation_delay", "600"),
		 "groups.blue.activation_delay: \"600\" is not shorter than tek_lifetime (10m)"},
		{"delay not below default TEK lifetime", with(s, "blue.deactivation_delay", "1h"),
		 "groups.blue.deactivation_delay: \"1h\" is not shorter than tek_lifetime (1h)"},
		{"bad rekey", with(s, "blue.rekey", "broadcast"),
		 "groups.blue.rekey: \"broadcast\" is not unicast, multicast or inband"},
		{"multicast missing", with(s, "blue.rekey", "multicast"),
		 "groups.blue.multicast: missing (rekey = multicast)"},
		{"multicast not multicast", with(with(s, "blue.rekey", "multicast"), "blue.multicast", "192.0.2.7"),
		 "groups.blue.multicast: \"192.0.2.7\" is not a multicast address"},
		{"multicast family", with(with(s, "blue.rekey", "multicast"), "blue.multicast", "ff0e::1:2"),
		 "groups.blue.multicast: \"ff0e::1:2\" is IPv6 but no listen address is"},
		{"multicast with unicast rekey", with(s, "blue.multicast", "239.1.1.1"),
		 "groups.blue.multicast: only used with rekey = multicast"},
		{"id_bits 0", with(s, "blue.id_bits", "0"), "groups.blue.id_bits: \"0\" is not a number from 1 to 32"},
		{"id_bits 33", with(s, "blue.id_bits", "33"), "groups.blue.id_bits: \"33\" is not a number from 1 to 32"},
		{"id_bits text", with(s, "blue.id_bits", "x"), "groups.blue.id_bits: \"x\" is not a number from 1 to 32"},
		{"id_bits too few", with(with(s, "blue.id_bits", "1"), "blue.members", "a.example, b.example, c.example"),
		 "groups.blue.id_bits: 1 bits give 2 member IDs, fewer than the 3 members"},
	});
	// exactly as many members as IDs is fine
	EXPECT_TRUE(parse_config(with(with(s, "blue.id_bits", "1"), "blue.members", "a.example, b.example")).ok());
	EXPECT_TRUE(parse_config(with(s, "blue.id_bits", "32")).ok());
	auto flat = parse_config(with(s, "blue.key_hierarchy", "flat"));
	ASSERT_TRUE(flat.ok()) << flat.error().message;
	EXPECT_EQ(flat.value().servers.at(0).hierarchy, KeyHierarchy::Flat);
	auto tree = parse_config(with(s, "blue.key_hierarchy", " tree "));
	ASSERT_TRUE(tree.ok()) << tree.error().message;
	EXPECT_EQ(tree.value().servers.at(0).hierarchy, KeyHierarchy::Tree);
	auto bad = parse_config(with(s, "blue.key_hierarchy", "lkh"));
	ASSERT_FALSE(bad.ok());
	EXPECT_EQ(bad.error().message, "groups.blue.key_hierarchy: \"lkh\" is not tree or flat");
	auto shortest = parse_config(with(with(s, "blue.tek_lifetime", "1m"), "blue.kek_lifetime", "60"));
	ASSERT_TRUE(shortest.ok()) << shortest.error().message;
	EXPECT_EQ(shortest.value().servers[0].tek_lifetime_s, 60u);
	EXPECT_EQ(shortest.value().servers[0].kek_lifetime_s, 60u);
}

TEST(GdoiConfig, MemberErrors)
{
	const Settings &m = kMinimalMember;
	expect_errors({
		{"no group_id", without(m, "blue.group_id"), "groups.blue.group_id: missing"},
		{"no local_id", without(m, "blue.local_id"), "groups.blue.local_id: missing"},
		{"no local_addrs", without(m, "blue.local_addrs"), "groups.blue.local_addrs: missing"},
		{"two local_addrs", with(m, "blue.local_addrs", "198.51.100.7, 198.51.100.8"),
		 "groups.blue.local_addrs: \"198.51.100.7, 198.51.100.8\" is more than one address"},
		{"bad local_addrs", with(m, "blue.local_addrs", "gm1.example.net"),
		 "groups.blue.local_addrs: \"gm1.example.net\" is not an IP address"},
		{"no servers", without(m, "blue.servers"), "groups.blue.servers: missing"},
		{"server family", with(m, "blue.servers", "192.0.2.1, 2001:db8::1"),
		 "groups.blue.servers: \"2001:db8::1\" is not of the address family of local_addrs"},
		{"no server_id", without(m, "blue.server_id"), "groups.blue.server_id: missing"},
		{"bad server_id", with(m, "blue.server_id", "CN=ks, XX=1"),
		 "groups.blue.server_id: \"CN=ks, XX=1\" is not an identity (distinguished name: unknown attribute \"XX\")"},
		{"bad auth", with(m, "blue.auth", "eap"), "groups.blue.auth: \"eap\" is not psk or pubkey"},
		{"bad rekey_auth", with(m, "blue.rekey_auth", "unsigned"),
		 "groups.blue.rekey_auth: \"unsigned\" is not signature or implicit"},
		{"multicast not multicast", with(m, "blue.multicast", "198.51.100.1"),
		 "groups.blue.multicast: \"198.51.100.1\" is not a multicast address"},
		{"multicast family", with(m, "blue.multicast", "ff15::1"),
		 "groups.blue.multicast: \"ff15::1\" is not of the address family of local_addrs"},
		{"too many sender_ids", with(m, "blue.sender_ids", "17"),
		 "groups.blue.sender_ids: \"17\" is not a number from 0 to 16"},
		{"peer twice", with(m, "blue.peers", "gm2.example.net, gm2.example.net"),
		 "groups.blue.peers: \"gm2.example.net\" is listed twice"},
		{"empty peers", with(m, "blue.peers", ""), "groups.blue.peers: empty list"},
		{"bad margin", with(m, "blue.reregister_margin", "-1"),
		 "groups.blue.reregister_margin: \"-1\" is not a duration (a number of seconds, optionally with s, m, h or d)"},
		{"endpoint without gateway", with(m, "blue.endpoints.gw.prefixes", "10.2.0.0/16"),
		 "groups.blue.endpoints.gw.gateway: missing"},
		{"endpoint without prefixes", with(m, "blue.endpoints.gw.gateway", "198.51.100.8"),
		 "groups.blue.endpoints.gw.prefixes: missing"},
		{"endpoint bad prefix", with(with(m, "blue.endpoints.gw.gateway", "198.51.100.8"), "blue.endpoints.gw.prefixes",
					      "10.2.0.0/16, 10.3.0.0/"),
		 "groups.blue.endpoints.gw.prefixes: \"10.3.0.0/\" is not a traffic selector (prefix length is not a number)"},
		{"endpoint prefix twice", with(with(m, "blue.endpoints.gw.gateway", "198.51.100.8"), "blue.endpoints.gw.prefixes",
					       "10.2.0.0/16, 10.2.0.0/16"),
		 "groups.blue.endpoints.gw.prefixes: \"10.2.0.0/16\" is listed twice"},
		{"endpoint gateway family", with(with(m, "blue.endpoints.gw.gateway", "2001:db8::8"), "blue.endpoints.gw.prefixes",
						 "10.2.0.0/16"),
		 "groups.blue.endpoints.gw.gateway: \"2001:db8::8\" is not of the address family of local_addrs"},
	});
	Settings two = m;
	two.emplace_back("blue.endpoints.a.gateway", "198.51.100.8");
	two.emplace_back("blue.endpoints.a.prefixes", "10.2.0.0/16");
	two.emplace_back("blue.endpoints.b.gateway", "198.51.100.8");
	two.emplace_back("blue.endpoints.b.prefixes", "10.3.0.0/16");
	EXPECT_EQ(error_of(two), "groups.blue.endpoints.b.gateway: \"198.51.100.8\" is the gateway of another endpoint");
}

TEST(GdoiConfig, GroupIdsAreUniquePerRole)
{
	Settings s = kMinimalServer;
	for (const auto &kv : kMinimalServer)
		s.emplace_back("green" + kv.first.substr(4), kv.second);
	s = with(s, "green.group_id", "@#000004d2");
	EXPECT_EQ(error_of(s), "groups.green.group_id: \"@#000004d2\" is already the group ID of groups.blue");

	Settings m = kMinimalMember;
	for (const auto &kv : kMinimalMember)
		m.emplace_back("green" + kv.first.substr(4), kv.second);
	EXPECT_EQ(error_of(m), "groups.green.group_id: \"1234\" is already the group ID of groups.blue");
}

TEST(GdoiConfig, AnErrorInALaterGroupRejectsEverything)
{
	Settings s = kServer;
	s.emplace_back("zz.role", "member");
	auto r = parse_config(s);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message, "groups.zz.group_id: missing");
}

TEST(GdoiConfig, ErrorMessagesEscapeTheValue)
{
	EXPECT_EQ(error_of(with(kMinimalServer, "blue.auth", "\"psk\"")),
		  "groups.blue.auth: \"\\\"psk\\\"\" is not psk or pubkey");
}

// --- durations ---

TEST(GdoiConfigDuration, Units)
{
	const std::pair<const char *, uint32_t> ok[] = {
		{"0", 0}, {"90", 90}, {"90s", 90}, {"5m", 300}, {"1h", 3600}, {"2d", 172800}, {" 10 m ", 600},
		{"4294967295", 4294967295u}, {"4294967295s", 4294967295u}, {"49710d", 4294944000u}, {"007", 7},
	};
	for (const auto &[text, seconds] : ok) {
		auto d = parse_duration(text);
		ASSERT_TRUE(d.ok()) << text << ": " << d.error().message;
		EXPECT_EQ(d.value(), seconds) << text;
	}
}

TEST(GdoiConfigDuration, Rejected)
{
	const std::pair<const char *, const char *> bad[] = {
		{"", "\"\" is not a duration (a number of seconds, optionally with s, m, h or d)"},
		{"h", "\"h\" is not a duration (a number of seconds, optionally with s, m, h or d)"},
		{"-5", "\"-5\" is not a duration (a number of seconds, optionally with s, m, h or d)"},
		{"1.5h", "\"1.5h\" is not a duration (unit \".5h\" is not s, m, h or d)"},
		{"1hh", "\"1hh\" is not a duration (unit \"hh\" is not s, m, h or d)"},
		{"10 ms", "\"10 ms\" is not a duration (unit \"ms\" is not s, m, h or d)"},
		{"4294967296", "\"4294967296\" is not a duration (above 4294967295 seconds)"},
		{"49711d", "\"49711d\" is not a duration (above 4294967295 seconds)"},
		{"71582789m", "\"71582789m\" is not a duration (above 4294967295 seconds)"},
		{"99999999999999999999999", "\"99999999999999999999999\" is not a duration (above 4294967295 seconds)"},
	};
	for (const auto &[text, message] : bad) {
		auto d = parse_duration(text);
		ASSERT_FALSE(d.ok()) << text;
		EXPECT_EQ(d.error().message, message);
	}
}

// --- traffic selectors ---

TEST(GdoiConfigTs, Forms)
{
	const std::pair<const char *, TrafficSelector> ok[] = {
		{"10.0.0.0/8", ts("10.0.0.0", "10.255.255.255")},
		{"10.1.2.3", ts("10.1.2.3", "10.1.2.3")},
		{"10.1.2.3/32", ts("10.1.2.3", "10.1.2.3")},
		{"10.1.2.3/8", ts("10.0.0.0", "10.255.255.255")}, // host bits cleared, as swanctl
		{"10.1.2.3/20", ts("10.1.0.0", "10.1.15.255")},
		{"0.0.0.0/0", ts("0.0.0.0", "255.255.255.255")},
		{"2001:db8::/32", ts("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")},
		{"2001:db8::1", ts("2001:db8::1", "2001:db8::1")},
		{"2001:db8::/61", ts("2001:db8::", "2001:db8:0:7:ffff:ffff:ffff:ffff")},
		{"::/0", ts("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")},
		{"10.0.0.1-10.0.0.9", ts("10.0.0.1", "10.0.0.9")},
		{"10.0.0.1 - 10.0.0.1", ts("10.0.0.1", "10.0.0.1")},
		{"2001:db8::1-2001:db8::ff", ts("2001:db8::1", "2001:db8::ff")},
		{"10.0.0.0/8[tcp/80]", ts("10.0.0.0", "10.255.255.255", 6, 80, 80)},
		{"10.0.0.0/8[udp/1024-65535]", ts("10.0.0.0", "10.255.255.255", 17, 1024, 65535)},
		{"10.0.0.0/8[udp]", ts("10.0.0.0", "10.255.255.255", 17)},
		{"10.0.0.0/8[17/any]", ts("10.0.0.0", "10.255.255.255", 17)},
		{"10.0.0.0/8[/53]", ts("10.0.0.0", "10.255.255.255", 0, 53, 53)},
		{"10.0.0.0/8[any/opaque]", ts("10.0.0.0", "10.255.255.255", 0, 0xffff, 0)},
		{"10.0.0.0/8[icmp/8]", ts("10.0.0.0", "10.255.255.255", 1, 0x0800, 0x0800)},
		{"2001:db8::/32[ipv6-icmp/128]", ts("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 58, 0x8000, 0x8000)},
		{"10.0.0.0/8[sctp/0-255]", ts("10.0.0.0", "10.255.255.255", 132, 0, 255)},
		{"10.0.0.0/8[gre]", ts("10.0.0.0", "10.255.255.255", 47)},
	};
	for (const auto &[text, expected] : ok) {
		auto t = parse_traffic_selector(text);
		ASSERT_TRUE(t.ok()) << text << ": " << t.error().message;
		EXPECT_EQ(t.value(), expected) << text;
	}
}

TEST(GdoiConfigTs, Rejected)
{
	const std::pair<const char *, const char *> bad[] = {
		{"10.0.0.0/33", "prefix length above 32"},
		{"2001:db8::/129", "prefix length above 128"},
		{"10.0.0.0/", "prefix length is not a number"},
		{"10.0.0.0/-1", "prefix length is not a number"},
		{"10.0.0.0/8x", "prefix length is not a number"},
		{"10.0.0.256", "not an IP address or subnet"},
		{"10.0.0", "not an IP address or subnet"},
		{"net.example", "not an IP address or subnet"},
		{"", "empty"},
		{"dynamic", "\"dynamic\" has no meaning in a group policy"},
		{"10.0.0.9-10.0.0.1", "range ends below its start"},
		{"10.0.0.1-2001:db8::1", "range bounds of different address families"},
		{"10.0.0.1-", "range bounds must be IP addresses"},
		{"10.0.0.0/8[tcp", "\"[\" without a closing \"]\" at the end"},
		{"10.0.0.0/8[tcp]x", "\"[\" without a closing \"]\" at the end"},
		{"10.0.0.0/8[tcpx/80]", "unknown protocol \"tcpx\""},
		{"10.0.0.0/8[256]", "unknown protocol \"256\""},
		{"10.0.0.0/8[tcp/65536]", "port \"65536\" is not a number or range from 0 to 65535"},
		{"10.0.0.0/8[tcp/http]", "port \"http\" is not a number or range from 0 to 65535"},
		{"10.0.0.0/8[tcp/90-80]", "port range \"90-80\" ends below its start"},
		{"10.0.0.0/8[tcp/80-]", "port \"80-\" is not a number or range from 0 to 65535"},
	};
	for (const auto &[text, why] : bad) {
		auto t = parse_traffic_selector(text);
		ASSERT_FALSE(t.ok()) << text;
		EXPECT_EQ(t.error().message, "\"" + std::string(text) + "\" is not a traffic selector (" + why + ")");
	}
}

// --- ESP proposals ---

TEST(GdoiConfigProposal, Supported)
{
	const std::pair<const char *, EspProposal> ok[] = {
		{"aes256gcm16", {20, 256, 0}},  {"aes128gcm16", {20, 128, 0}},   {"aes192gcm16", {20, 192, 0}},
		{"aes256gcm128", {20, 256, 0}}, {"aes256-sha256", {12, 256, 12}}, {"aes128-sha256", {12, 128, 12}},
		{"aes192-sha256", {12, 192, 12}}, {"aes-sha256", {12, 128, 12}},  {"aes256-sha2_256", {12, 256, 12}},
		{" aes256gcm16 ", {20, 256, 0}},
	};
	for (const auto &[text, expected] : ok) {
		auto p = parse_esp_proposal(text);
		ASSERT_TRUE(p.ok()) << text << ": " << p.error().message;
		EXPECT_TRUE(p.value() == expected) << text;
	}
}

TEST(GdoiConfigProposal, Rejected)
{
	const std::pair<const char *, const char *> bad[] = {
		{"", "encryption must be AES"},
		{"3des-sha256", "encryption must be AES"},
		{"aes256", "AES-CBC needs an integrity algorithm"},
		{"aes256-sha1", "integrity \"sha1\" is not sha256"},
		{"aes256-sha256-modp2048", "unsupported \"modp2048\""},
		{"aes256gcm16-sha256", "AES-GCM takes no integrity algorithm"},
		{"aes256gcm16-esn", "unsupported \"esn\""},
		{"aes256gcm12", "AES-GCM with a 16-octet ICV only"},
		{"aes128gcm8", "AES-GCM with a 16-octet ICV only"},
		{"aes512gcm16", "unknown encryption algorithm \"aes512gcm16\""},
		{"aes256ctr-sha256", "unknown encryption algorithm \"aes256ctr\""},
		{"aes128gcm16,aes256gcm16", "one proposal only"},
	};
	for (const auto &[text, why] : bad) {
		auto p = parse_esp_proposal(text);
		ASSERT_FALSE(p.ok()) << text;
		EXPECT_EQ(p.error().message, "\"" + std::string(text) + "\" is not an ESP proposal (" + why +
						     "; supported: aes128gcm16, aes192gcm16, aes256gcm16, aes128-sha256, "
						     "aes192-sha256, aes256-sha256)");
	}
}

// --- group IDs and identities ---

TEST(GdoiConfigGroupId, Numbers)
{
	const std::pair<const char *, Bytes> ok[] = {
		{"0", {0, 0, 0, 0}},
		{"1234", {0x00, 0x00, 0x04, 0xd2}},
		{"4294967295", {0xff, 0xff, 0xff, 0xff}},
		{"0001", {0, 0, 0, 1}},
	};
	for (const auto &[text, data] : ok) {
		auto id = parse_group_id(text);
		ASSERT_TRUE(id.ok()) << text << ": " << id.error().message;
		expect_id(id.value(), IdType::KeyId, data);
	}
	auto big = parse_group_id("4294967296");
	ASSERT_FALSE(big.ok());
	EXPECT_EQ(big.error().message, "\"4294967296\" is not a group ID (numbers go up to 4294967295)");
}

TEST(GdoiConfigGroupId, Identities)
{
	struct Case {
		const char *text;
		IdType type;
		Bytes data;
	};
	const Case ok[] = {
		{"@#67727031", IdType::KeyId, str("grp1")},
		{"keyid:#67727031", IdType::KeyId, str("grp1")},
		{"keyid:grp1", IdType::KeyId, str("grp1")},
		{"blue.example.net", IdType::Fqdn, str("blue.example.net")},
		{"@blue.example.net", IdType::Fqdn, str("blue.example.net")},
		{"fqdn:192.0.2.1", IdType::Fqdn, str("192.0.2.1")},
		{"blue", IdType::Fqdn, str("blue")},
		{"1234x", IdType::Fqdn, str("1234x")},
		{"grp@example.net", IdType::Rfc822Addr, str("grp@example.net")},
		{"@@grp.example.net", IdType::Rfc822Addr, str("grp.example.net")},
		{"email:grp", IdType::Rfc822Addr, str("grp")},
		{"192.0.2.1", IdType::Ipv4Addr, ip("192.0.2.1")},
		{"2001:db8::1", IdType::Ipv6Addr, ip("2001:db8::1")},
		{"ipv4:192.0.2.1", IdType::Ipv4Addr, ip("192.0.2.1")},
		// one RDN, PrintableString: SEQUENCE { SET { SEQUENCE { 2.5.4.3, "a" } } }
		{"CN=a", IdType::DerAsn1Dn, {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x01, 0x61}},
		// UTF8String when the value is not printable
		{"CN=\xc3\xa9", IdType::DerAsn1Dn,
		 {0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, 0xc3, 0xa9}},
		// emailAddress is an IA5String
		{"E=a@b", IdType::DerAsn1Dn,
		 {0x30, 0x14, 0x31, 0x12, 0x30, 0x10, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01, 0x16,
		  0x03, 'a', '@', 'b'}},
	};
	for (const auto &c : ok) {
		auto id = parse_group_id(c.text);
		ASSERT_TRUE(id.ok()) << c.text << ": " << id.error().message;
		expect_id(id.value(), c.type, c.data);
	}
	const std::pair<const char *, const char *> bad[] = {
		{"", "empty"},
		{"@", "empty"},
		{"@#", "key ID \"@#\" needs an even number of hex digits"},
		{"@#abc", "key ID \"@#\" needs an even number of hex digits"},
		{"@#zz", "key ID \"@#\" needs an even number of hex digits"},
		{"ipv4:2001:db8::1", "not an IPv4 address"},
		{"ipv6:10.0.0.1", "not an IPv6 address"},
		{"fqdn:", "empty"},
		{"CN=a,, O=b", "distinguished name: empty attribute"},
		{"CN=a, O", "distinguished name: attribute \"O\" without a value"},
		{"CN=a, foo=b", "distinguished name: unknown attribute \"foo\""},
	};
	for (const auto &[text, why] : bad) {
		auto id = parse_group_id(text);
		ASSERT_FALSE(id.ok()) << text;
		EXPECT_EQ(id.error().message, "\"" + std::string(text) + "\" is not a group ID (" + why + ")");
	}
}

std::string dn_text(const Bytes &der)
{
	const unsigned char *p = der.data();
	X509_NAME *name = d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size()));
	if (!name)
		return "(not DER)";
	char *text = X509_NAME_oneline(name, nullptr, 0);
	std::string out = text ? text : "(no text)";
	OPENSSL_free(text);
	X509_NAME_free(name);
	return out;
}

TEST(GdoiConfigGroupId, DistinguishedNamesAreDer)
{
	auto comma = parse_config(with(kMinimalServer, "blue.local_id", "C=CH, O=Example Corp, OU=Net, CN=ks.example.net"));
	ASSERT_TRUE(comma.ok()) << comma.error().message;
	const Identity &id = comma.value().servers[0].local_id;
	EXPECT_EQ(id.type, static_cast<uint8_t>(IdType::DerAsn1Dn));
	EXPECT_EQ(dn_text(id.data), "/C=CH/O=Example Corp/OU=Net/CN=ks.example.net");

	// the OpenSSL notation and odd spacing give the same DN
	auto slash = parse_group_id("/C=CH/O=Example Corp/OU=Net/cn = ks.example.net ");
	ASSERT_TRUE(slash.ok()) << slash.error().message;
	EXPECT_EQ(slash.value().data, id.data);

	auto many = parse_group_id("DC=net, DC=example, UID=gm1, emailAddress=gm1@example.net, serialNumber=42");
	ASSERT_TRUE(many.ok()) << many.error().message;
	EXPECT_EQ(dn_text(many.value().data), "/DC=net/DC=example/UID=gm1/emailAddress=gm1@example.net/serialNumber=42");

	// a long value needs a two-octet DER length
	std::string long_cn(300, 'x');
	auto big = parse_group_id("CN=" + long_cn);
	ASSERT_TRUE(big.ok());
	EXPECT_EQ(dn_text(big.value().data), "/CN=" + long_cn);
	EXPECT_EQ(big.value().data.size(), 4u + 4 + 4 + 5 + 4 + 300);
	EXPECT_EQ(big.value().data[1], 0x82);
}

TEST(GdoiConfigEndpoints, EqualityIgnoresThePort)
{
	TunnelEndpoint a{Address{ip("198.51.100.8"), 848}, {ts("10.2.0.0", "10.2.255.255")}};
	TunnelEndpoint b{Address{ip("198.51.100.8"), 0}, {ts("10.2.0.0", "10.2.255.255")}};
	EXPECT_TRUE(a == b);
	b.prefixes.push_back(ts("10.3.0.0", "10.3.255.255"));
	EXPECT_FALSE(a == b);
	TunnelEndpoint c{Address{ip("198.51.100.9"), 848}, {ts("10.2.0.0", "10.2.255.255")}};
	EXPECT_FALSE(a == c);
}

// The group SAs' mode (key server) and the member's own host addresses.
TEST(GdoiConfig, SaModeAndHosts)
{
	auto d = parse_config(kMinimalServer);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().servers.at(0).sa_mode, SaMode::Tunnel) << "RFC 9838: tunnel mode with address preservation";
	for (auto [word, mode] : std::vector<std::pair<std::string, SaMode>>{
		     {"tunnel", SaMode::Tunnel}, {"gateway", SaMode::Gateway}, {"transport", SaMode::Transport}}) {
		auto r = parse_config(with(kMinimalServer, "blue.sa_mode", " " + word));
		ASSERT_TRUE(r.ok()) << r.error().message;
		EXPECT_EQ(r.value().servers.at(0).sa_mode, mode) << word;
		EXPECT_STREQ(sa_mode_name(mode), word.c_str());
	}

	auto none = parse_config(kMinimalMember);
	ASSERT_TRUE(none.ok()) << none.error().message;
	EXPECT_TRUE(none.value().members.at(0).hosts.empty()) << "default: the local address";
	auto two = parse_config(with(kMinimalMember, "blue.hosts", "10.1.0.1, 10.1.0.2"));
	ASSERT_TRUE(two.ok()) << two.error().message;
	const auto &h = two.value().members.at(0).hosts;
	ASSERT_EQ(h.size(), 2u);
	EXPECT_EQ(h[0].ip, ip("10.1.0.1"));
	EXPECT_EQ(h[1].ip, ip("10.1.0.2"));

	expect_errors({
		{"bad sa_mode", with(kMinimalServer, "blue.sa_mode", "beet"),
		 "groups.blue.sa_mode: \"beet\" is not tunnel, gateway or transport"},
		{"sa_mode on a member", with(kMinimalMember, "blue.sa_mode", "tunnel"),
		 "groups.blue.sa_mode: a key server setting in a member group"},
		{"hosts on a key server", with(kMinimalServer, "blue.hosts", "10.1.0.1"),
		 "groups.blue.hosts: a member setting in a key server group"},
		{"hosts family", with(kMinimalMember, "blue.hosts", "10.1.0.1, 2001:db8::1"),
		 "groups.blue.hosts: \"2001:db8::1\" is not of the address family of local_addrs"},
		{"hosts repeat", with(kMinimalMember, "blue.hosts", "10.1.0.1, 10.1.0.1"),
		 "groups.blue.hosts: \"10.1.0.1\" is listed twice"},
		{"hosts multicast", with(kMinimalMember, "blue.hosts", "239.1.1.1"),
		 "groups.blue.hosts: \"239.1.1.1\" is not a unicast address"},
	});
}

// Shortcut SAs: a key server group's shortcut members with their inside
// prefixes, a member group's own inside prefixes.
TEST(GdoiConfig, ShortcutMembersAndInsidePrefixes)
{
	Settings s = kMinimalServer;
	s = with(s, "blue.members", "gm1.example.net, gm2.example.net");
	s = with(s, "blue.shortcuts.a.member", "gm1.example.net");
	s = with(s, "blue.shortcuts.a.inside", "10.1.0.0/24, 10.11.0.0/16");
	s = with(s, "blue.shortcuts.b.member", "gm2.example.net");
	s = with(s, "blue.shortcuts.b.inside", "10.2.0.0/24");
	auto r = parse_config(s);
	ASSERT_TRUE(r.ok()) << r.error().message;
	const auto &m = r.value().shortcut_members.at("blue");
	ASSERT_EQ(m.size(), 2u);
	EXPECT_EQ(m[0].id.str(), "gm1.example.net");
	ASSERT_EQ(m[0].inside.size(), 2u);
	EXPECT_EQ(m[0].inside[1].str(), "10.11.0.0/16");
	EXPECT_EQ(m[1].inside[0].str(), "10.2.0.0/24");

	auto g = parse_config(with(kMinimalMember, "blue.shortcut_inside", "10.1.0.0/24"));
	ASSERT_TRUE(g.ok()) << g.error().message;
	EXPECT_EQ(g.value().shortcut_inside.at("blue").at(0).str(), "10.1.0.0/24");
	EXPECT_TRUE(parse_config(kMinimalMember).value().shortcut_inside.empty());
	EXPECT_TRUE(parse_config(kMinimalServer).value().shortcut_members.empty());

	// the gateway's protected prefixes: a member arriving there is inside
	auto p = parse_config(with(s, "blue.shortcut_protected", "10.0.0.0/8, 172.16.0.0/12"));
	ASSERT_TRUE(p.ok()) << p.error().message;
	ASSERT_EQ(p.value().shortcut_protected.at("blue").size(), 2u);
	EXPECT_EQ(p.value().shortcut_protected.at("blue")[1].str(), "172.16.0.0/12");
	EXPECT_TRUE(r.value().shortcut_protected.empty());
	EXPECT_NE(error_of(with(s, "blue.shortcut_protected", "10.0.0.1/8")).find("groups.blue.shortcut_protected: "),
		  std::string::npos)
		<< "host bits";
	EXPECT_NE(error_of(with(kMinimalMember, "blue.shortcut_protected", "10.0.0.0/8")), "(parsed)")
		<< "a key server's setting";
}

TEST(GdoiConfig, ShortcutErrors)
{
	Settings s = with(kMinimalServer, "blue.members", "gm1.example.net, gm2.example.net");
	EXPECT_EQ(error_of(with(with(s, "blue.shortcuts.a.member", "gm9.example.net"), "blue.shortcuts.a.inside",
				"10.1.0.0/24")),
		  "groups.blue.shortcuts.a.member: \"gm9.example.net\" is not one of the group's members");
	EXPECT_EQ(error_of(with(s, "blue.shortcuts.a.member", "gm1.example.net")),
		  "groups.blue.shortcuts.a.inside: missing");
	EXPECT_NE(error_of(with(with(s, "blue.shortcuts.a.member", "gm1.example.net"), "blue.shortcuts.a.inside",
				"10.1.0.1/24"))
			  .find("groups.blue.shortcuts.a.inside: "),
		  std::string::npos)
		<< "host bits";
	EXPECT_EQ(error_of(with(with(s, "blue.shortcuts.a.member", "gm1.example.net"), "blue.shortcuts.a.inside",
				"10.1.0.0/24, 2001:db8::/64")),
		  "groups.blue.shortcuts.a.inside: \"10.1.0.0/24, 2001:db8::/64\" mixes IPv4 and IPv6");
	Settings twice = with(with(s, "blue.shortcuts.a.member", "gm1.example.net"), "blue.shortcuts.a.inside",
			      "10.1.0.0/24");
	twice = with(with(twice, "blue.shortcuts.b.member", "gm1.example.net"), "blue.shortcuts.b.inside",
		     "10.3.0.0/24");
	EXPECT_EQ(error_of(twice), "groups.blue.shortcuts.b.member: \"gm1.example.net\" has shortcut prefixes already");
	EXPECT_EQ(error_of(with(s, "blue.shortcuts.a.peer", "x")), "groups.blue.shortcuts.a.peer: unknown setting");
	EXPECT_EQ(error_of(with(s, "blue.shortcuts.a", "x")), "groups.blue.shortcuts.a: must be a section");
	EXPECT_EQ(error_of(with(kMinimalMember, "blue.shortcuts.a.member", "gm1.example.net")),
		  "groups.blue.shortcuts.a.member: a key server setting in a member group");
	EXPECT_EQ(error_of(with(kMinimalServer, "blue.shortcut_inside", "10.1.0.0/24")),
		  "groups.blue.shortcut_inside: a member setting in a key server group");
	EXPECT_EQ(error_of(with(kMinimalMember, "blue.shortcut_inside", "2001:db8::/64")),
		  "groups.blue.shortcut_inside: \"2001:db8::/64\" is not of the address family of local_addrs");
}
TEST(GdoiConfig, GroupsMayWaitForTheElection)
{
	auto plain = parse_config(kMinimalServer);
	ASSERT_TRUE(plain.ok()) << plain.error().message;
	EXPECT_TRUE(plain.value().elected.empty());

	auto server = parse_config(with(kMinimalServer, "blue.election", "yes"));
	ASSERT_TRUE(server.ok()) << server.error().message;
	EXPECT_EQ(server.value().elected, std::set<std::string>{"blue"});
	EXPECT_NE(error_of(with(kMinimalServer, "blue.election", "maybe")).find("groups.blue.election"),
		  std::string::npos);

	Settings member;
	for (const auto &kv : kMinimalMember)
		if (kv.first != "blue.server_id")
			member.push_back(kv);
	auto m = parse_config(with(member, "blue.servers", "election"));
	ASSERT_TRUE(m.ok()) << m.error().message;
	EXPECT_EQ(m.value().elected, std::set<std::string>{"blue"});
	EXPECT_TRUE(m.value().members.at(0).servers.empty()) << "the election names the server";
	// the identity comes from the election too
	EXPECT_NE(error_of(with(kMinimalMember, "blue.servers", "election")).find("groups.blue.server_id"),
		  std::string::npos);
	// a member setting in a key server group and the reverse
	EXPECT_NE(error_of(with(kMinimalMember, "blue.election", "yes")).find("key server setting"),
		  std::string::npos);
}


} // namespace
} // namespace groupsec::gdoi
