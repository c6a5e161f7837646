#include "gsa_status.h"

#include <cstdio>

#include "groupsec/json.h"

namespace groupsec::bgp {

size_t InstanceStatus::established_count() const
{
	size_t n = 0;
	for (const auto &p : peers)
		n += p.established();
	return n;
}

std::string format_uptime(uint64_t secs)
{
	char buf[32];
	uint64_t d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60,
		 s = secs % 60;
	if (d >= 7)
		snprintf(buf, sizeof(buf), "%02lluw%01llud%02lluh",
			 (unsigned long long)(d / 7), (unsigned long long)(d % 7),
			 (unsigned long long)h);
	else if (d)
		snprintf(buf, sizeof(buf), "%01llud%02lluh%02llum",
			 (unsigned long long)d, (unsigned long long)h,
			 (unsigned long long)m);
	else
		snprintf(buf, sizeof(buf), "%02llu:%02llu:%02llu",
			 (unsigned long long)h, (unsigned long long)m,
			 (unsigned long long)s);
	return buf;
}

std::string ModuleStatus::to_text() const
{
	std::string out = "groupsec GSA module " + version + "\n";
	if (instances.empty()) {
		out += "No BGP instance is configured\n";
		return out;
	}
	char line[256];
	for (const auto &inst : instances) {
		snprintf(line, sizeof(line),
			 "\nBGP instance %s, local AS %u, router-id %s\n"
			 "Neighbors: %zu, established: %zu\n",
			 inst.name.c_str(), inst.local_as, inst.router_id.c_str(),
			 inst.peers.size(), inst.established_count());
		out += line;
		if (inst.peers.empty())
			continue;
		snprintf(line, sizeof(line), "  %-39s %10s %-12s %-9s %s\n",
			 "Neighbor", "AS", "State", "Up/Down", "RR-client");
		out += line;
		for (const auto &p : inst.peers) {
			snprintf(line, sizeof(line),
				 "  %-39s %10u %-12s %-9s %s\n", p.host.c_str(),
				 p.remote_as, p.state.c_str(),
				 format_uptime(p.uptime_secs).c_str(),
				 p.rr_client ? "yes" : "no");
			out += line;
		}
	}
	return out;
}

std::string ModuleStatus::to_json() const
{
	JsonWriter w;
	w.begin_object().key("module").value("gsa").key("version").value(version);
	w.key("instances").begin_object();
	for (const auto &inst : instances) {
		w.key(inst.name).begin_object();
		w.key("localAs").value(inst.local_as);
		w.key("routerId").value(inst.router_id);
		w.key("peerCount").value(uint64_t{inst.peers.size()});
		w.key("establishedCount").value(uint64_t{inst.established_count()});
		w.key("peers").begin_object();
		for (const auto &p : inst.peers) {
			w.key(p.host).begin_object();
			w.key("remoteAs").value(p.remote_as);
			w.key("state").value(p.state);
			w.key("routeReflectorClient").value(p.rr_client);
			w.key("uptimeSecs").value(p.uptime_secs);
			w.end_object();
		}
		w.end_object().end_object();
	}
	w.end_object().end_object();
	return w.str();
}

} // namespace groupsec::bgp
