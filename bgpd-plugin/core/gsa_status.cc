// SPDX-License-Identifier: GPL-2.0-or-later
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

std::string ControlStatus::to_text() const
{
	std::string out = "Control socket " + path + (configured ? "" : " (default)") + ": " + state;
	char line[256];
	if (state == "connecting" && retry_secs) {
		snprintf(line, sizeof(line), ", next attempt in %us", retry_secs);
		out += line;
	}
	snprintf(line, sizeof(line),
		 " for %s\n  Connects: %llu, reconnects: %llu, failed attempts: %llu\n",
		 format_uptime(state_secs).c_str(), (unsigned long long)connects,
		 (unsigned long long)reconnects, (unsigned long long)failed_attempts);
	out += line;
	if (daemon)
		out += "  Daemon: " + *daemon + "\n";
	if (last_error)
		out += "  Last error: " + *last_error + "\n";
	snprintf(line, sizeof(line), "  Events received: %llu", (unsigned long long)events_total);
	out += line;
	if (last_event) {
		snprintf(line, sizeof(line), ", last %s %s ago", last_event->c_str(),
			 format_uptime(last_event_secs).c_str());
		out += line;
	}
	out += "\n";
	if (events.empty())
		return out;
	snprintf(line, sizeof(line), "    %-20s %-12s %s\n", "Event", "Subscription", "Count");
	out += line;
	for (const auto &e : events) {
		snprintf(line, sizeof(line), "    %-20s %-12s %llu\n", e.name.c_str(),
			 e.subscription.c_str(), (unsigned long long)e.count);
		out += line;
	}
	return out;
}

std::string ModuleStatus::to_text() const
{
	std::string out = "groupsec GSA module " + version + "\n";
	if (control)
		out += control->to_text();
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
	w.end_object();
	if (control) {
		const ControlStatus &c = *control;
		w.key("controlSocket").begin_object();
		w.key("path").value(c.path);
		w.key("configured").value(c.configured);
		w.key("state").value(c.state);
		w.key("stateSecs").value(c.state_secs);
		w.key("connects").value(c.connects);
		w.key("reconnects").value(c.reconnects);
		w.key("failedAttempts").value(c.failed_attempts);
		w.key("retrySecs").value(c.retry_secs);
		w.key("lastError");
		c.last_error ? w.value(*c.last_error) : w.null();
		w.key("daemon");
		c.daemon ? w.value(*c.daemon) : w.null();
		w.key("eventsReceived").value(c.events_total);
		w.key("lastEvent");
		c.last_event ? w.value(*c.last_event) : w.null();
		if (c.last_event)
			w.key("lastEventSecs").value(c.last_event_secs);
		w.key("events").begin_object();
		for (const auto &e : c.events) {
			w.key(e.name).begin_object();
			w.key("subscription").value(e.subscription);
			w.key("count").value(e.count);
			w.end_object();
		}
		w.end_object().end_object();
	}
	w.end_object();
	return w.str();
}

} // namespace groupsec::bgp
