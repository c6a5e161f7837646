// SPDX-License-Identifier: GPL-2.0-or-later
#include "gdoi_dataplane.h"

#include <algorithm>

namespace groupsec::gdoi {

std::optional<TrafficSelector> intersect(const TrafficSelector &a, const TrafficSelector &b)
{
	if (a.ts_type != b.ts_type || a.start_address.size() != b.start_address.size() ||
	    a.end_address.size() != a.start_address.size() ||
	    b.end_address.size() != b.start_address.size()) {
		return std::nullopt;
	}
	TrafficSelector r;
	r.ts_type = a.ts_type;
	if (a.ip_protocol && b.ip_protocol && a.ip_protocol != b.ip_protocol) {
		return std::nullopt;
	}
	r.ip_protocol = a.ip_protocol ? a.ip_protocol : b.ip_protocol;
	r.start_port = std::max(a.start_port, b.start_port);
	r.end_port = std::min(a.end_port, b.end_port);
	if (r.start_port > r.end_port) {
		return std::nullopt;
	}
	// big-endian addresses of one length compare as byte strings
	r.start_address = std::max(a.start_address, b.start_address);
	r.end_address = std::min(a.end_address, b.end_address);
	if (r.start_address > r.end_address) {
		return std::nullopt;
	}
	return r;
}

namespace {

Address any_like(const Address &a)
{
	Address r;
	r.ip.assign(a.ip.size(), 0);
	return r;
}

bool keeps_addresses(SaMode m)
{
	return m != SaMode::Gateway;
}

// The selector of one address, any protocol and port.
TrafficSelector host_selector(const Address &a)
{
	return net::range_selector(a.ip, a.ip);
}

// The one address a selector covers, nullopt if it covers more.
std::optional<Address> single_address(const TrafficSelector &ts)
{
	if (ts.start_address != ts.end_address || (ts.start_address.size() != 4 && ts.start_address.size() != 16))
		return std::nullopt;
	return Address{ts.start_address, 0};
}

std::string selector_text(const TrafficSelector &ts)
{
	std::string r = Address{ts.start_address, 0}.ip_string();
	if (ts.end_address != ts.start_address)
		r += "-" + Address{ts.end_address, 0}.ip_string();
	return r;
}

// Why an endpoint does not fit SAs that keep addresses, nullopt if it does.
std::optional<std::string> host_endpoint_problem(const TunnelEndpoint &e, SaMode mode)
{
	for (const auto &p : e.prefixes) {
		if (!single_address(p))
			return std::string(mode == SaMode::Transport ? "transport mode"
								     : "tunnel mode with address preservation") +
			       " needs single addresses, but endpoint " + e.gateway.ip_string() + " has prefix " +
			       selector_text(p) +
			       ": XFRM and libipsec SAs carry fixed outer addresses, one SA per pair of addresses";
	}
	return std::nullopt;
}

} // namespace

GroupDataplane::GroupDataplane(KernelOps &kernel, uint32_t reqid_base)
	: kernel_(kernel), reqid_next_(reqid_base)
{
}

GroupDataplane::~GroupDataplane()
{
	clear();
}

GroupDataplane::Group &GroupDataplane::group(const std::string &name)
{
	return groups_[name];
}

std::vector<Address> GroupDataplane::own_hosts(const Group &g) const
{
	if (!g.hosts.empty())
		return g.hosts;
	Address l = *g.local;
	l.port = 0;
	return {l};
}

uint32_t GroupDataplane::reqid_for(Group &g, const Address &source, const Address &destination)
{
	auto key = std::make_pair(source, destination);
	auto it = g.reqid_out.find(key);
	if (it != g.reqid_out.end()) {
		return it->second;
	}
	return g.reqid_out[key] = reqid_next_++;
}

void GroupDataplane::set_local(const std::string &name, const Address &local)
{
	Group &g = group(name);
	if (g.local && *g.local == local) {
		return;
	}
	clear(name);
	g.local = local;
}

void GroupDataplane::set_hosts(const std::string &name, const std::vector<Address> &hosts)
{
	Group &g = group(name);
	std::vector<Address> h;
	for (Address a : hosts) {
		a.port = 0;
		h.push_back(a);
	}
	if (g.hosts == h) {
		return;
	}
	clear(name);
	g.hosts = std::move(h);
}

std::optional<std::string> GroupDataplane::refuse(const std::string &name, SaMode mode) const
{
	if (auto why = kernel_.unsupported(mode))
		return why;
	if (!keeps_addresses(mode))
		return std::nullopt;
	auto it = groups_.find(name);
	if (it == groups_.end())
		return std::nullopt;
	for (const auto &e : it->second.endpoints) {
		if (auto why = host_endpoint_problem(e, mode))
			return why;
	}
	return std::nullopt;
}

Result<Done> GroupDataplane::add_endpoint(const std::string &name, const TunnelEndpoint &e)
{
	Group &g = group(name);
	if (e.prefixes.empty()) {
		return make_error(WireError::Missing, "endpoint " + e.gateway.ip_string() + " has no prefix");
	}
	if (e.gateway.ip.size() != 4 && e.gateway.ip.size() != 16) {
		return make_error(WireError::BadValue, "endpoint gateway is not an address");
	}
	if (g.local && g.local->ip.size() != e.gateway.ip.size()) {
		return make_error(WireError::BadValue, "endpoint " + e.gateway.ip_string() +
							       " is not of the family of the local address " +
							       g.local->ip_string());
	}
	if (g.local && g.local->ip == e.gateway.ip) {
		return make_error(WireError::BadValue, "endpoint " + e.gateway.ip_string() +
							       " is this member's own address");
	}
	for (const auto &p : e.prefixes) {
		if (p.start_address.size() != p.end_address.size() ||
		    (p.start_address.size() != 4 && p.start_address.size() != 16) ||
		    p.start_address > p.end_address) {
			return make_error(WireError::BadValue, "endpoint " + e.gateway.ip_string() +
								       " has a malformed prefix");
		}
	}
	if (g.mode && keeps_addresses(*g.mode)) {
		if (auto why = host_endpoint_problem(e, *g.mode))
			return make_error(WireError::Unsupported, *why);
	}
	Address gw = e.gateway;
	gw.port = 0;
	TunnelEndpoint stored{gw, e.prefixes};
	auto it = std::find_if(g.endpoints.begin(), g.endpoints.end(),
			       [&](const TunnelEndpoint &x) { return x.gateway == gw; });
	if (it != g.endpoints.end()) {
		unplumb(g, gw);
		*it = stored;
	} else {
		g.endpoints.push_back(stored);
	}
	if (g.current) {
		plumb(g, stored);
	}
	return Done{};
}

Result<Done> GroupDataplane::remove_endpoint(const std::string &name, const Address &gateway)
{
	Group &g = group(name);
	Address gw = gateway;
	gw.port = 0;
	auto it = std::find_if(g.endpoints.begin(), g.endpoints.end(),
			       [&](const TunnelEndpoint &x) { return x.gateway == gw; });
	if (it == g.endpoints.end()) {
		return make_error(WireError::Missing, "group " + name + " has no endpoint " + gw.ip_string());
	}
	unplumb(g, gw);
	g.endpoints.erase(it);
	return Done{};
}

std::vector<TunnelEndpoint> GroupDataplane::endpoints(const std::string &name) const
{
	auto it = groups_.find(name);
	return it == groups_.end() ? std::vector<TunnelEndpoint>{} : it->second.endpoints;
}

std::optional<SaTraffic> GroupDataplane::traffic(const std::string &name, uint32_t spi) const
{
	auto git = groups_.find(name);
	if (git == groups_.end())
		return std::nullopt;
	const Group &g = git->second;
	auto in = g.inbound.find(spi);
	if (in == g.inbound.end())
		return std::nullopt;
	SaTraffic t;
	auto add = [&](const KernelSa &sa, SaUsage &sum) {
		auto u = kernel_.query_sa(sa);
		if (!u)
			return false;
		sum.bytes += u->bytes;
		sum.packets += u->packets;
		return true;
	};
	for (const KernelSa &sa : in->second) {
		if (!add(sa, t.in))
			return std::nullopt;
	}
	for (const auto &[gateway, sas] : g.outbound) {
		(void)gateway;
		for (const KernelSa &sa : sas) {
			if (sa.spi == spi && !add(sa, t.out))
				return std::nullopt;
		}
	}
	return t;
}

// The outbound SAs towards one endpoint under the current TEK: to its
// gateway, or, keeping addresses, one from each own host to each of the
// endpoint's addresses that the TEK lets the host send to.
std::vector<KernelSa> GroupDataplane::outbound_sas(Group &g, const TunnelEndpoint &e)
{
	const TekSa &tek = *g.current;
	std::vector<std::pair<Address, Address>> pairs;
	if (!keeps_addresses(tek.mode)) {
		Address l = *g.local;
		l.port = 0;
		pairs.emplace_back(l, e.gateway);
	} else {
		for (const Address &h : own_hosts(g)) {
			for (const auto &p : e.prefixes) {
				auto r = single_address(p);
				if (r && intersect(tek.source, host_selector(h)) &&
				    intersect(tek.destination, host_selector(*r)))
					pairs.emplace_back(h, *r);
			}
		}
	}
	std::vector<KernelSa> sas;
	for (const auto &[src, dst] : pairs) {
		KernelSa out;
		out.source = src;
		out.destination = dst;
		out.spi = tek.spi;
		out.reqid = reqid_for(g, src, dst);
		out.inbound = false;
		out.encryption = tek.encryption;
		out.encryption_key = tek.encryption_key;
		out.integrity = tek.integrity;
		out.integrity_key = tek.integrity_key;
		out.lifetime_s = tek.lifetime_s;
		out.replay_window = 0;
		out.transport = tek.mode == SaMode::Transport;
		sas.push_back(out);
	}
	return sas;
}

// The policies for one endpoint, in the order they go into the kernel:
// per prefix, the outbound one, then inbound and forward.
std::vector<KernelPolicy> GroupDataplane::plan_policies(Group const &g, const TunnelEndpoint &e) const
{
	const TekSa &tek = *g.current;
	if (keeps_addresses(tek.mode))
		return plan_host_policies(g, e);
	Address local = *g.local;
	local.port = 0;
	const auto reqid = g.reqid_out.at({local, e.gateway});
	std::vector<KernelPolicy> plan;
	for (const auto &prefix : e.prefixes) {
		auto remote_dst = intersect(tek.destination, prefix);
		auto remote_src = intersect(tek.source, prefix);
		if (remote_dst) {
			KernelPolicy p;
			p.source = tek.source;
			p.destination = *remote_dst;
			p.direction = PolicyDirection::Out;
			p.tunnel_source = local;
			p.tunnel_destination = e.gateway;
			p.spi = tek.spi;
			p.reqid = reqid;
			plan.push_back(p);
		}
		if (remote_src) {
			for (auto dir : {PolicyDirection::In, PolicyDirection::Fwd}) {
				KernelPolicy p;
				p.source = *remote_src;
				p.destination = tek.destination;
				p.direction = dir;
				p.tunnel_source = any_like(local);
				p.tunnel_destination = local;
				p.spi = tek.spi;
				p.reqid = g.reqid_in;
				plan.push_back(p);
			}
		}
	}
	return plan;
}

// Keeping addresses, per own host and endpoint address: the outbound
// policy between the two (outer addresses the same), and the inbound one
// back. Decrypted packets are for the member itself: no forward policy.
std::vector<KernelPolicy> GroupDataplane::plan_host_policies(const Group &g, const TunnelEndpoint &e) const
{
	const TekSa &tek = *g.current;
	const bool transport = tek.mode == SaMode::Transport;
	std::vector<KernelPolicy> plan;
	for (const Address &h : own_hosts(g)) {
		for (const auto &prefix : e.prefixes) {
			auto r = single_address(prefix);
			if (!r)
				continue;
			auto out_src = intersect(tek.source, host_selector(h));
			auto out_dst = intersect(tek.destination, host_selector(*r));
			if (out_src && out_dst) {
				KernelPolicy p;
				p.source = *out_src;
				p.destination = *out_dst;
				p.direction = PolicyDirection::Out;
				p.tunnel_source = h;
				p.tunnel_destination = *r;
				p.spi = tek.spi;
				p.reqid = g.reqid_out.at({h, *r});
				p.transport = transport;
				plan.push_back(p);
			}
			auto in_src = intersect(tek.source, host_selector(*r));
			auto in_dst = intersect(tek.destination, host_selector(h));
			if (in_src && in_dst) {
				KernelPolicy p;
				p.source = *in_src;
				p.destination = *in_dst;
				p.direction = PolicyDirection::In;
				p.tunnel_source = any_like(h);
				p.tunnel_destination = h;
				p.spi = tek.spi;
				p.reqid = g.reqid_in;
				p.transport = transport;
				plan.push_back(p);
			}
		}
	}
	return plan;
}

// Adds the policies in order; on a refusal removes those added, newest first.
bool GroupDataplane::add_policies(const std::vector<KernelPolicy> &plan)
{
	for (size_t i = 0; i < plan.size(); i++) {
		if (!kernel_.add_policy(plan[i])) {
			while (i-- > 0) {
				kernel_.del_policy(plan[i]);
			}
			return false;
		}
	}
	return true;
}

// Outbound SAs and the policies for one endpoint under the current TEK.
bool GroupDataplane::plumb(Group &g, const TunnelEndpoint &e)
{
	std::vector<KernelSa> out = outbound_sas(g, e);
	auto old = g.outbound.find(e.gateway);
	if (old != g.outbound.end()) {
		for (const KernelSa &sa : old->second)
			kernel_.del_sa(sa);
		g.outbound.erase(old);
	}
	if (g.current->outbound) {
		std::vector<KernelSa> added;
		for (const KernelSa &sa : out) {
			if (!kernel_.add_sa(sa)) {
				for (const KernelSa &a : added)
					kernel_.del_sa(a);
				return false;
			}
			added.push_back(sa);
		}
		g.outbound[e.gateway] = std::move(added);
	}

	if (g.policies.count(e.gateway)) {
		// policies name the reqid, not the SPI: they stay across rekeys
		// while the selectors do not change
		return true;
	}
	std::vector<KernelPolicy> plan = plan_policies(g, e);
	if (!add_policies(plan)) {
		return false;
	}
	g.policies[e.gateway] = std::move(plan);
	return true;
}

void GroupDataplane::unplumb(Group &g, const Address &gateway)
{
	auto pol = g.policies.find(gateway);
	if (pol != g.policies.end()) {
		for (auto it = pol->second.rbegin(); it != pol->second.rend(); ++it) {
			kernel_.del_policy(*it);
		}
		g.policies.erase(pol);
	}
	auto sa = g.outbound.find(gateway);
	if (sa != g.outbound.end()) {
		for (const KernelSa &o : sa->second)
			kernel_.del_sa(o);
		g.outbound.erase(sa);
	}
}

bool GroupDataplane::install(const TekSa &tek)
{
	Group &g = group(tek.group);
	if (!g.local) {
		return false;
	}
	if (g.inbound.count(tek.spi)) {
		return false; // the same SPI twice
	}
	if (refuse(tek.group, tek.mode)) {
		return false;
	}
	if (g.mode && *g.mode != tek.mode) {
		// a registration with another mode: the old SAs' policies go
		clear(tek.group);
	}
	if (!g.reqid_in) {
		g.reqid_in = reqid_next_++;
	}
	std::vector<Address> dsts;
	if (keeps_addresses(tek.mode)) {
		dsts = own_hosts(g);
	} else {
		Address l = *g.local;
		l.port = 0;
		dsts.push_back(l);
	}
	std::vector<KernelSa> added;
	for (const Address &d : dsts) {
		KernelSa in;
		in.source = any_like(d);
		in.destination = d;
		in.spi = tek.spi;
		in.reqid = g.reqid_in;
		in.inbound = true;
		in.encryption = tek.encryption;
		in.encryption_key = tek.encryption_key;
		in.integrity = tek.integrity;
		in.integrity_key = tek.integrity_key;
		in.lifetime_s = tek.lifetime_s;
		in.replay_window = 0;
		in.transport = tek.mode == SaMode::Transport;
		if (!kernel_.add_sa(in)) {
			for (const KernelSa &a : added)
				kernel_.del_sa(a);
			return false;
		}
		added.push_back(in);
	}
	g.inbound[tek.spi] = std::move(added);
	g.mode = tek.mode;
	if (!tek.outbound && g.current) {
		// receive-only while another TEK sends
		g.waiting[tek.spi] = tek;
		return true;
	}
	return send_with(g, tek);
}

bool GroupDataplane::activate(const std::string &name, uint32_t spi)
{
	auto git = groups_.find(name);
	if (git == groups_.end()) {
		return false;
	}
	Group &g = git->second;
	auto w = g.waiting.find(spi);
	if (w == g.waiting.end()) {
		return g.current && g.current->spi == spi;
	}
	TekSa tek = w->second;
	g.waiting.erase(w);
	tek.outbound = true;
	return send_with(g, tek);
}

// Moves the outbound SAs of every endpoint to tek.
bool GroupDataplane::send_with(Group &g, const TekSa &tek)
{
	bool selectors_changed = g.current && (!(g.current->source == tek.source) ||
					       !(g.current->destination == tek.destination));
	if (selectors_changed) {
		for (const auto &e : g.endpoints) {
			unplumb(g, e.gateway);
		}
	}
	g.current = tek;
	g.current->outbound = true;
	for (const auto &e : g.endpoints) {
		if (!plumb(g, e)) {
			// all or nothing: take this TEK out again
			remove(tek.group, tek.spi);
			return false;
		}
	}
	return true;
}

void GroupDataplane::remove(const std::string &name, uint32_t spi)
{
	auto git = groups_.find(name);
	if (git == groups_.end()) {
		return;
	}
	Group &g = git->second;
	auto in = g.inbound.find(spi);
	if (in != g.inbound.end()) {
		for (const KernelSa &sa : in->second)
			kernel_.del_sa(sa);
		g.inbound.erase(in);
	}
	g.waiting.erase(spi);
	if (g.current && g.current->spi == spi) {
		for (const auto &e : g.endpoints) {
			unplumb(g, e.gateway);
		}
		g.current.reset();
	}
}

void GroupDataplane::clear(const std::string &name)
{
	auto git = groups_.find(name);
	if (git == groups_.end()) {
		return;
	}
	Group &g = git->second;
	for (const auto &e : g.endpoints) {
		unplumb(g, e.gateway);
	}
	for (const auto &[spi, sas] : g.inbound) {
		for (const KernelSa &sa : sas)
			kernel_.del_sa(sa);
	}
	g.inbound.clear();
	g.waiting.clear();
	g.current.reset();
	g.mode.reset();
}

void GroupDataplane::clear()
{
	for (auto &[name, g] : groups_) {
		clear(name);
	}
}

} // namespace groupsec::gdoi
