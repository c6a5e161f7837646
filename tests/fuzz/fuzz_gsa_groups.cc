// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the bgpd module's groups core: what the key server's
// control socket says (group IDs, member identities and addresses, events)
// and what routes carry (extended communities), read as a script. Lines
// are commands: "G name id" (list-groups entry), "M group identity
// address" (list-members entry), "R group identity address", "N group
// identity address named..." (registered in member-list mode), "L group
// identity", "E group identity" (events), "C name id endpoint" and
// "P name prefix" (member configuration), "D origin target..." followed
// by the rest of the input taken as 8-octet extended communities. Nothing
// crashes; a decision to reflect names peers that are members of a group
// of the route together with its originator; targets with one update-group
// tag are decided alike; the JSON is complete.
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "../../bgpd-plugin/core/gsa_groups.h"

using namespace groupsec::bgp;

static std::vector<std::string> words(const std::string &line)
{
	std::istringstream in(line);
	std::vector<std::string> w;
	for (std::string s; in >> s;)
		w.push_back(s);
	return w;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const std::string all(reinterpret_cast<const char *>(data), size);
	Groups g;
	g.set_local_as(65000);
	std::vector<std::pair<std::string, std::string>> groups;
	std::vector<RegisteredMember> members;
	std::string members_of;
	size_t pos = 0;
	while (pos < all.size()) {
		size_t nl = all.find('\n', pos);
		std::string line = all.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
		pos = nl == std::string::npos ? all.size() : nl + 1;
		auto w = words(line);
		if (w.empty())
			continue;
		const std::string &op = w[0];
		if (op == "G" && w.size() == 3) {
			groups.emplace_back(w[1], w[2]);
			g.key_server_groups(groups);
		} else if (op == "M" && w.size() == 4) {
			if (members_of != w[1])
				members.clear();
			members_of = w[1];
			members.push_back(RegisteredMember{w[2], w[3]});
			g.key_server_members(w[1], members);
		} else if (op == "R" && w.size() == 4) {
			g.member_registered(w[1], w[2], w[3]);
		} else if (op == "N" && w.size() >= 4) {
			// registered in member-list mode, naming the rest
			g.member_registered(w[1], w[2], w[3],
					    std::set<std::string>(w.begin() + 4, w.end()));
		} else if ((op == "L" || op == "E") && w.size() == 3) {
			g.member_gone(w[1], w[2], op == "E");
		} else if (op == "C" && w.size() == 4) {
			g.set_group(w[1], uint32_t(strtoul(w[2].c_str(), nullptr, 10)), w[3],
				    Discovery::Auto);
		} else if (op == "P" && w.size() == 3) {
			g.add_prefix(w[1], w[2]);
		} else if (op == "D" && w.size() >= 2) {
			std::vector<ExtCommunity> ecs;
			for (size_t i = pos; i + 8 <= all.size(); i += 8) {
				ExtCommunity ec;
				for (size_t j = 0; j < 8; j++)
					ec[j] = uint8_t(all[i + j]);
				ecs.push_back(ec);
			}
			std::string origin = w[1] == "-" ? "" : w[1];
			std::vector<std::string> targets(w.begin() + 2, w.end());
			Verdict v = g.decide(ecs, origin, targets);
			if (v == Verdict::Reflect) {
				// every target shares a group of the route with the origin
				for (const auto &t : targets) {
					bool ok = false;
					for (const auto &ec : ecs) {
						auto n = group_of_route_target(ec.data(), g.tag_as());
						ok = ok || (n && g.is_member(*n, t) &&
							    (origin.empty() || g.is_member(*n, origin)));
					}
					if (!ok)
						abort();
				}
			}
			// peers with one update-group tag are decided alike
			// (they may share an update-group on that ground)
			for (const auto &x : targets)
				for (const auto &y : targets)
					if (g.peer_tag(x) == g.peer_tag(y) &&
					    (g.decide(ecs, origin, {x}) == Verdict::Reflect) !=
						    (g.decide(ecs, origin, {y}) == Verdict::Reflect))
						abort();
			break;
		}
	}
	g.membership_routes();
	g.config_lines();
	g.render_text({{"192.0.2.11", "Established", true, 1u}});
	std::string json = g.render_json({{"192.0.2.11", "Established", false, std::nullopt}});
	if (json.empty() || json.front() != '{' || json.back() != '}')
		abort();
	return 0;
}
