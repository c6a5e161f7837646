// The C boundary of the bgpd module's core: plain structs in, malloc()ed
// text out, no exception crosses it.
#include "gsa_core.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "groupsec/version.h"
#include "gsa_status.h"

using groupsec::bgp::InstanceStatus;
using groupsec::bgp::ModuleStatus;
using groupsec::bgp::PeerStatus;

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

extern "C" char *gsa_core_render_status(const struct gsa_instance_view *inst,
					size_t n, bool json)
{
	try {
		ModuleStatus st;
		st.version = groupsec::version();
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

extern "C" const char *gsa_core_version(void)
{
	return groupsec::version();
}
