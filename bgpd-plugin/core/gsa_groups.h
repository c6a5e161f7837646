// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec bgpd module: the groups a router takes part in over BGP.
//
// Two roles share this core:
//  - member: the groups the router joins (group ID, its tunnel endpoint,
//    its private prefixes, the discovery mode), and the membership routes
//    it originates from them (endpoint /32 or /128 tagged with each group's
//    route target);
//  - S/R (key server + route reflector): the groups of the local key server
//    and their registered members as the control socket reports them, and
//    the reflection decision: a route tagged with group G goes to a peer
//    only when both the peer and the route's originator are registered
//    members of G.
// No FRR type, no clock, no I/O: the glue feeds it and asks it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "groupsec/base/bytes.h"
#include "gsa_tags.h"

namespace groupsec::bgp {

// ---------------------------------------------------------------- the tag

// The group's route target: a transitive two-octet-AS-specific Route
// Target extended community (type 0x00, sub-type 0x02, RFC 4360 3.1) whose
// global administrator is the VPN's AS (the BGP instance's; AS_TRANS 23456
// for a four-octet AS) and whose local administrator is the 32-bit group
// ID: FRR shows RT:65000:1234 for group 1234 in AS 65000. The layout is the
// sealed-route core's (gsa_seal.h, gsa_community_encode()).
constexpr uint16_t kAsTrans = 23456;
uint16_t tag_asn(uint32_t local_as);
using ExtCommunity = std::array<uint8_t, 8>;
ExtCommunity group_route_target(uint16_t asn, uint32_t group_id);
// The group ID if ec is a route target of the AS.
std::optional<uint32_t> group_of_route_target(const uint8_t *ec, uint16_t asn);

// A key server group ID as list-groups shows it (a decimal number, a
// four-octet KEY_ID "@#000004d2", an IPv4 address) as the 32-bit number the
// route target carries; nullopt for other identities.
std::optional<uint32_t> group_number(std::string_view group_id);

// "192.0.2.11" from "192.0.2.11[848]", normalized ("2001:db8::1");
// nullopt if it is no address.
std::optional<std::string> normalize_address(std::string_view text);

// ---------------------------------------------------------------- member

enum class Discovery { MemberList, Auto };
const char *discovery_name(Discovery d);

struct LocalGroup {
	std::string name;
	uint32_t id = 0;
	std::string endpoint;              // normalized tunnel endpoint address
	Discovery discovery = Discovery::Auto;
	std::vector<std::string> prefixes; // private prefixes, in order given
};

// A membership route the router originates: its endpoint and the groups
// (route targets) that name it.
struct MembershipRoute {
	std::string endpoint;  // "192.0.2.11"
	unsigned prefix_len;   // 32 or 128
	std::vector<uint32_t> groups;
};

// ---------------------------------------------------------------- S/R

struct RegisteredMember {
	std::string identity;
	std::string address; // normalized
	// member-list mode: the identities the member named at registration
	// (as the key server shows them); nullopt: auto-discovery
	std::optional<std::set<std::string>> peers;
};

// May routes go between these two registered members of one group? Each
// in member-list mode must have named the other: a member in member-list
// mode sees and is seen only by the members it named (that also name it,
// when they are in member-list mode too); auto-discovery members name
// everyone.
bool members_pair(const RegisteredMember &a, const RegisteredMember &b);

struct ReflectCounters {
	uint64_t reflected = 0;       // decisions that let a route go to a peer
	uint64_t denied_peer = 0;     // the peer is no registered member
	uint64_t denied_origin = 0;   // the originator is no registered member
	uint64_t denied_shared = 0;   // peers of one update-group disagree
	uint64_t denied_named = 0;    // member-list mode: the pair did not name each other
};

struct ServerGroup {
	std::string name;
	std::string group_id;          // as the key server shows it
	std::optional<uint32_t> number;
	std::map<std::string, RegisteredMember> members; // by identity
	// address -> identity of every entry of members (Groups::reindex()):
	// a decision looks members up by address, once per route and peer
	std::multimap<std::string, std::string> by_address;
	// the identities some member in member-list mode named (reindex())
	std::set<std::string> named;
	uint64_t registered_events = 0, left_events = 0, evicted_events = 0;
	ReflectCounters counters;
	bool members_known = false;    // list-members answered on this connection
};

// A reflection decision and why.
enum class Verdict {
	NotGroupRoute, // carries no group's route target: not ours to decide
	Reflect,
	DeniedPeer,
	DeniedOrigin,
	DeniedShared,
	DeniedNotNamed, // members both, but one's member list leaves out the other
	UnknownGroup,  // tagged with a group the key server does not serve
};
const char *verdict_name(Verdict v);

// A BGP neighbor, for the show command.
struct NeighborView {
	std::string address;
	std::string state;
	bool filtered = false; // its outbound policy is the module's route map
	// the update-group tag bgpd holds for it: nullopt when the operator's
	// `maximum-prefix-out` holds the field (the peer is split by that)
	std::optional<uint32_t> applied_tag;
};

class Groups {
public:
	// The AS whose route targets tag the groups (the instance's AS).
	void set_local_as(uint32_t local_as) { asn_ = tag_asn(local_as); }
	uint16_t tag_as() const { return asn_; }

	// ---- member configuration. Each returns an error text, empty if done.
	std::string set_group(std::string_view name, uint32_t id, std::string_view endpoint,
			      Discovery discovery);
	std::string add_prefix(std::string_view name, std::string_view prefix);
	std::string remove_prefix(std::string_view name, std::string_view prefix);
	std::string remove_group(std::string_view name);
	const std::vector<LocalGroup> &local_groups() const { return local_; }
	// How the local gdoi plugin's member groups register, as its
	// list-groups shows them: by group number, the member list (nullopt:
	// auto-discovery). The gdoi setting rules; show compares it with the
	// configured discovery.
	void registration_modes(
		const std::vector<std::pair<uint32_t, std::optional<std::set<std::string>>>> &modes);
	// the routes to originate, one per distinct endpoint, sorted
	std::vector<MembershipRoute> membership_routes() const;
	// running-config lines (one space indent, under `router bgp`)
	std::string config_lines() const;

	// ---- S/R: peers bound to an identity (`gsa peer ADDR identity ID`)
	std::string bind_peer(std::string_view address, std::string_view identity);
	std::string unbind_peer(std::string_view address);

	// ---- S/R: the key server, as the control socket tells it.
	// A new connection: every group's member list is unknown until listed.
	void key_server_reset();
	// list-groups answered: the key server groups (role server) by name and ID.
	// Returns the addresses whose decisions may have changed.
	std::set<std::string> key_server_groups(
		const std::vector<std::pair<std::string, std::string>> &groups);
	// list-members of a group answered.
	std::set<std::string> key_server_members(std::string_view group,
						 const std::vector<RegisteredMember> &members);
	// member-registered / member-left / member-evicted.
	// peers: the identities named at registration (member-list mode),
	// nullopt for auto-discovery; a re-registration replaces them.
	std::set<std::string> member_registered(std::string_view group, std::string_view identity,
						std::string_view address,
						std::optional<std::set<std::string>> peers = std::nullopt);
	std::set<std::string> member_gone(std::string_view group, std::string_view identity,
					  bool evicted);
	const std::map<std::string, ServerGroup> &server_groups() const { return server_; }

	// Is the peer at address a registered member of the group with this
	// number (its address registered, and under its bound identity if any)?
	bool is_member(uint32_t group, std::string_view address) const;

	// May a route tagged with these extended communities (8 octets each),
	// received from origin (an address; empty: originated by this router),
	// go to every peer in targets (one update-group, all share the answer)?
	// Counts the decision on the groups concerned.
	Verdict decide(const std::vector<ExtCommunity> &ecs, std::string_view origin,
		       const std::vector<std::string> &targets);
	uint64_t unknown_group_denials() const { return unknown_denied_; }

	// ---- update-groups (docs/bgp-gsa.md, "Update-groups")
	// The membership signature of the peer at address: what decides the
	// module's output to it. "" for a peer in no group; the names of the
	// key server groups (with a route target) it is a registered member of,
	// sorted; a signature of its own ("=" and its address) when it is in
	// member-list mode there, or named by a member in member-list mode:
	// its routes are then decided pair by pair. Peers with equal
	// signatures get equal decisions and may share an update-group.
	std::string signature(std::string_view address) const;
	// The peer's update-group tag for its signature now (SignatureTags):
	// 0 for none, equal tags for equal signatures. An address that is no
	// IP address gets a tag of its own.
	uint32_t peer_tag(std::string_view address);
	// the tag last given to the peer at address (nullopt: none yet)
	std::optional<uint32_t> last_tag(std::string_view address) const;
	// the neighbors now: forget the tags of the others
	void retain_tags(const std::set<std::string> &addresses);
	const SignatureTags &tags() const { return tags_; }

	// `show bgp gsa groups [json]`
	std::string render_text(const std::vector<NeighborView> &neighbors) const;
	std::string render_json(const std::vector<NeighborView> &neighbors) const;

private:
	ServerGroup *server_by_number(uint32_t n);
	const ServerGroup *server_by_number(uint32_t n) const;
	std::set<std::string> addresses_of(const ServerGroup &g) const;
	bool member_at(const ServerGroup &g, std::string_view address) const;
	static void reindex(ServerGroup &g);
	// the registered members of g the neighbor at address counts as
	std::vector<const RegisteredMember *> members_at(const ServerGroup &g,
							 std::string_view address) const;
	LocalGroup *local(std::string_view name);

	std::vector<LocalGroup> local_;
	std::map<uint32_t, std::optional<std::set<std::string>>> registration_;
	std::map<std::string, std::string> bound_; // address -> identity
	std::map<std::string, ServerGroup> server_;
	SignatureTags tags_;
	uint64_t unknown_denied_ = 0;
	uint16_t asn_ = kAsTrans;
};

} // namespace groupsec::bgp
