// SPDX-License-Identifier: GPL-2.0-or-later
// The `groups` configuration of the gdoi plugin: strongswan.conf-style
// settings, flattened by the charon glue into (key path, value) pairs, in
// and the engine's group configurations out. docs/gdoi-config.md describes
// the syntax.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gdoi_endpoints.h"
#include "gdoi_engine.h"
#include "gikev2_payloads.h"
#include "gikev2_result.h"
#include "shortcut/shortcut_service.h"

namespace groupsec::gdoi {

struct GdoiConfig {
	std::vector<GcksGroupConfig> servers; // in the order of the settings
	std::vector<GmGroupConfig> members;
	// Tunnel endpoints of member groups, by group name; groups without an
	// endpoints section have no entry.
	std::map<std::string, std::vector<TunnelEndpoint>> endpoints;
	// Shortcut SAs (docs/shortcuts.md): the members a key server group
	// makes shortcuts for, by group name; a member group's inside
	// prefixes, by group name. Groups without them have no entry.
	std::map<std::string, std::vector<shortcut::ShortcutPeerConfig>> shortcut_members;
	std::map<std::string, std::vector<shortcut::Prefix>> shortcut_inside;
	// key server groups: the gateway's protected prefixes (shortcut_protected)
	std::map<std::string, std::vector<shortcut::Prefix>> shortcut_protected;
	// Groups whose key server is elected (docs/election.md): a key server
	// group with `election = yes` serves only on the node elected; a
	// member group with `servers = election` registers to the elected
	// server (its servers and server_id come from the election).
	std::set<std::string> elected;
};

// Parses the settings below `groups`, e.g. {"blue.role", "server"},
// {"blue.tek-1.local_ts", "10.0.0.0/8"}. Each group's settings come
// together, in the order strongSwan enumerates them; a group whose name
// shows up again after another group's settings is defined twice. On the
// first problem the result is an error naming the key path (with the
// `groups.` prefix) and the offending value, and nothing else.
Result<GdoiConfig> parse_config(const std::vector<std::pair<std::string, std::string>> &settings);

// "10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "10.0.0.1-10.0.0.9", each
// optionally followed by "[proto/port]" as in swanctl.conf: proto is
// "any", a name (tcp, udp, icmp, ipv6-icmp, sctp, gre, esp, ah) or a
// number; port is "any", "opaque", a number or a range "1024-65535"
// (for ICMP and ICMPv6 a number below 256 is the message type).
Result<TrafficSelector> parse_traffic_selector(const std::string &s);

// Seconds from "90", "90s", "5m", "1h", "2d" (strongSwan's time values);
// an error above 2^32 - 1 seconds.
Result<uint32_t> parse_duration(const std::string &s);

// An ESP transform for a TEK.
struct EspProposal {
	uint16_t encryption = 20; // IKEv2 transform ID, EncryptionId
	uint16_t key_bits = 256;
	uint16_t integrity = 0; // IntegrityId; 0 with AES-GCM
};
bool operator==(const EspProposal &a, const EspProposal &b);

// One ESP proposal in strongSwan's notation: "aes128gcm16", "aes192gcm16",
// "aes256gcm16" (also "...gcm128") or "aes128-sha256", "aes192-sha256",
// "aes256-sha256" (AES-CBC with HMAC-SHA-256-128; "aes" is "aes128",
// "sha2_256" is "sha256").
Result<EspProposal> parse_esp_proposal(const std::string &s);

// An identity in swanctl's notation: an IPv4/IPv6 address, "@fqdn" or
// "host.name" (FQDN), "user@host" or "@@user" (RFC822), "@#hex" (KEY_ID),
// the prefixes "fqdn:", "email:", "keyid:", "ipv4:", "ipv6:", or a DN
// ("C=CH, O=Example, CN=gm1" or "/C=CH/O=Example/CN=gm1") encoded as
// strongSwan does (PrintableString where the value allows it).
// Identity::parse() is this.
Result<Identity> parse_identity(const std::string &s);

// A group ID (IDg): a decimal number from 0 to 4294967295 is an ID_KEY_ID
// of 4 octets, big-endian; anything else is an identity as swanctl writes
// it ("@#6772703031" is an ID_KEY_ID, "blue.example.net" an ID_FQDN, ...).
Result<Identity> parse_group_id(const std::string &s);

} // namespace groupsec::gdoi
