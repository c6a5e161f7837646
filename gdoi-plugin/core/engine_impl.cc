// SPDX-License-Identifier: GPL-2.0-or-later
// What joins the roles: where a datagram goes, the timers of all of them,
// the counters of both roles' groups.
#include "engine_impl.h"

#include <algorithm>

namespace groupsec::gdoi {

void Engine::Impl::receive(const Address &local, const Address &remote, ByteView datagram)
{
	if (ctx.nat_t(local)) {
		// RFC 3948 2.2/2.3: on the NAT traversal port a lone 0xFF is a
		// NAT keepalive, and IKE follows a non-ESP marker of four zero
		// octets (anything else would be ESP, which we do not take here)
		if (datagram.size() == 1 && datagram[0] == 0xff)
			return;
		if (datagram.size() < 4 || datagram[0] || datagram[1] || datagram[2] || datagram[3]) {
			if (Counters *c = attribute(local, true)) {
				c->received++;
				c->dropped_malformed++;
			}
			return;
		}
		datagram = datagram.sub(4, datagram.size() - 4);
	}
	auto h = decode_ike_header(datagram);
	if (!h || h.value().length != datagram.size()) {
		if (Counters *c = attribute(local, true)) {
			c->received++;
			c->dropped_malformed++;
		}
		return;
	}
	const IkeHeader &hd = h.value();
	if (hd.exchange_type == static_cast<uint8_t>(ExchangeType::GsaRekey))
		gm.rekey(local, datagram, hd);
	else if (hd.flags & kFlagInitiator)
		// a request of the original initiator, or its answer to ours
		gcks.receive(local, remote, datagram, hd);
	else
		gm.receive(local, remote, datagram, hd);
}

void Engine::Impl::tick()
{
	const uint64_t now = ctx.now();
	ike.tick(now);
	for (auto &[n, g] : gcks.groups)
		gcks.tick(*g, now);
	for (auto &[n, g] : gm.groups)
		gm.tick(*g, now);
}

uint64_t Engine::Impl::next_timeout_ms() const
{
	const uint64_t now = ctx.now();
	uint64_t next = ike.next_timeout(now + 60000);
	for (auto &[n, g] : gcks.groups)
		next = std::min(next, gcks.next(*g));
	for (auto &[n, g] : gm.groups)
		next = std::min(next, gm.next(*g));
	return std::max(next, now);
}

Counters *Engine::Impl::counters_for(const std::string &group)
{
	if (detail::GcksGroup *g = gcks.find(group))
		return &g->counters;
	if (detail::GmGroup *g = gm.find(group))
		return &g->counters;
	return nullptr;
}

Counters *Engine::Impl::attribute(const Address &local, bool server_first)
{
	Counters *c = server_first ? gcks.counters_at(local) : gm.counters_at(local);
	if (!c)
		c = server_first ? gm.counters_at(local) : gcks.counters_at(local);
	if (!c && !gcks.groups.empty())
		c = &gcks.groups.begin()->second->counters;
	if (!c && !gm.groups.empty())
		c = &gm.groups.begin()->second->counters;
	return c;
}

} // namespace groupsec::gdoi
