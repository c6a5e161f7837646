// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the bgpd module's core: plain structs in, malloc()ed
// text out, no exception crosses it.
#include "gsa_core.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "groupsec/version.h"
#include "groupsec/vici/gdoi_names.h"
#include "gsa_status.h"

using groupsec::bgp::ControlStatus;
using groupsec::bgp::EventStatus;
using groupsec::bgp::InstanceStatus;
using groupsec::bgp::ModuleStatus;
using groupsec::bgp::PeerStatus;

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static std::optional<std::string> maybe(const char *s)
{
	if (!s)
		return std::nullopt;
	return std::string(s);
}

static ControlStatus control_status(const gsa_control_view &v)
{
	ControlStatus c;
	c.path = or_empty(v.path);
	c.configured = v.configured;
	c.state = or_empty(v.state);
	c.state_secs = v.state_secs;
	c.connects = v.connects;
	c.reconnects = v.reconnects;
	c.failed_attempts = v.failed_attempts;
	c.retry_secs = v.retry_secs;
	c.last_error = maybe(v.last_error);
	c.daemon = maybe(v.daemon);
	c.events_total = v.events_total;
	c.last_event = maybe(v.last_event);
	c.last_event_secs = v.last_event_secs;
	for (size_t i = 0; i < v.n_events; i++)
		c.events.push_back(EventStatus{or_empty(v.events[i].name),
					       or_empty(v.events[i].subscription),
					       v.events[i].count});
	return c;
}

extern "C" char *gsa_core_render_status(const struct gsa_instance_view *inst,
					size_t n,
					const struct gsa_control_view *control,
					bool json)
{
	try {
		ModuleStatus st;
		st.version = groupsec::version();
		if (control)
			st.control = control_status(*control);
		for (size_t i = 0; i < n; i++) {
			InstanceStatus is;
			is.name = or_empty(inst[i].name);
			is.local_as = inst[i].local_as;
			is.router_id = or_empty(inst[i].router_id);
			for (size_t j = 0; j < inst[i].n_peers; j++) {
				const gsa_peer_view &pv = inst[i].peers[j];
				PeerStatus ps;
				ps.host = or_empty(pv.host);
				ps.remote_as = pv.remote_as;
				ps.state = or_empty(pv.state);
				ps.rr_client = pv.rr_client;
				ps.uptime_secs = pv.uptime_secs;
				is.peers.push_back(std::move(ps));
			}
			st.instances.push_back(std::move(is));
		}
		std::string s = json ? st.to_json() : st.to_text();
		return strdup(s.c_str());
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" const char *const *gsa_core_control_events(size_t *n)
{
	namespace event = groupsec::gdoi::event;
	*n = sizeof(event::kAll) / sizeof(event::kAll[0]);
	return event::kAll;
}

extern "C" void gsa_core_free(char *text)
{
	free(text);
}

extern "C" const char *gsa_core_version(void)
{
	return groupsec::version();
}
