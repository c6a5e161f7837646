// SPDX-License-Identifier: GPL-2.0-or-later
// The G-IKEv2 engine's facade: each call goes to the role it is for, the
// key server (gcks/) or the member (gm/), through Engine::Impl. No
// exception leaves it.
#include "gdoi_engine.h"

#include "engine_impl.h"
#include "gikev2_wire.h"

namespace groupsec::gdoi {

namespace {

Error no_server_group(const std::string &group)
{
	return make_error(WireError::Missing, "no key server group " + group);
}

} // namespace

Engine::Engine(EngineDeps deps) : impl_(std::make_unique<Impl>(deps)) {}
Engine::~Engine() = default;

Result<Done> Engine::add_server_group(const GcksGroupConfig &c)
{
	if (auto e = validate(c))
		return make_error(WireError::BadValue, *e);
	if (impl_->gm.find(c.name))
		return make_error(WireError::Duplicate, "group " + c.name + " is a member group here");
	return wire::guarded([&] { return impl_->gcks.add_group(c); });
}

Result<Bytes> Engine::server_snapshot(const std::string &group) const
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.snapshot(*g); });
}

Result<Done> Engine::add_server_group_from(const GcksGroupConfig &c, ByteView snapshot)
{
	if (auto e = validate(c))
		return make_error(WireError::BadValue, *e);
	if (impl_->gm.find(c.name))
		return make_error(WireError::Duplicate, "group " + c.name + " is a member group here");
	return wire::guarded([&] { return impl_->gcks.add_group_from(c, snapshot); });
}

Result<Done> Engine::set_member_server(const std::string &group, const std::vector<Address> &servers,
				       const Identity &server_id)
{
	detail::GmGroup *g = impl_->gm.find(group);
	if (!g)
		return make_error(WireError::Missing, "no member group " + group);
	if (servers.empty())
		return make_error(WireError::Missing, "group " + group + ": no key server address");
	if (g->state == detail::GmState::Registering)
		return make_error(WireError::BadValue, "group " + group + " is registering");
	const std::vector<Address> before = g->cfg.servers;
	const Identity before_id = g->cfg.server_id;
	const size_t index = g->server_index;
	g->cfg.servers = servers;
	g->cfg.server_id = server_id;
	g->server_index = 0;
	auto r = impl_->gm.reregister(*g);
	if (!r) {
		g->cfg.servers = before;
		g->cfg.server_id = before_id;
		g->server_index = index;
	}
	return r;
}

Result<Done> Engine::add_member_group(const GmGroupConfig &c)
{
	if (auto e = validate(c))
		return make_error(WireError::BadValue, *e);
	if (impl_->gcks.find(c.name))
		return make_error(WireError::Duplicate, "group " + c.name + " is a key server group here");
	if (!impl_->ctx.deps.sas)
		return make_error(WireError::Missing, "a member group needs an SA sink");
	return wire::guarded([&] { return impl_->gm.add_group(c); });
}

Result<Done> Engine::remove_group(const std::string &name)
{
	if (impl_->gcks.groups.erase(name))
		return Done{};
	if (!impl_->gm.find(name))
		return make_error(WireError::Missing, "no group " + name);
	impl_->gm.remove_group(name);
	return Done{};
}

void Engine::receive(const Address &local, const Address &remote, ByteView datagram)
{
	try {
		impl_->receive(local, remote, datagram);
		// an answer freed an IKE SA's window: its next queued request
		impl_->ike.flush_queued();
	} catch (const std::exception &) {
		// allocation failure: the datagram is lost, the state is whole
	}
}

void Engine::tick()
{
	try {
		impl_->tick();
		impl_->ike.flush_queued();
	} catch (const std::exception &) {
	}
}

namespace {

std::vector<Payload> shortcut_payloads(ByteView message)
{
	NotifyPayload n;
	n.type = static_cast<uint16_t>(NotifyType::Shortcut);
	n.data = message.to_bytes();
	auto body = encode_notify(n);
	if (!body)
		return {};
	return {Payload{static_cast<uint8_t>(PayloadType::Notify), false, std::move(body).value()}};
}

} // namespace

Result<Done> Engine::send_shortcut(const std::string &group, const Identity &member, ByteView message)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return make_error(WireError::Missing, "no key server group " + group);
	auto m = g->members.find(member);
	if (m == g->members.end())
		return make_error(WireError::Missing, member.str() + " is not a member of " + group);
	detail::IkeSa *sa = m->second.ike_spi ? impl_->ike.responder(m->second.ike_spi) : nullptr;
	auto inner = shortcut_payloads(message);
	if (!sa || inner.empty() || !impl_->ike.queue_informational(*sa, std::move(inner), group)) {
		g->counters.shortcut_send_failures++;
		return make_error(WireError::Missing, member.str() + " has no IKE SA to send on");
	}
	g->counters.shortcut_sent++;
	return Done{};
}

Result<Done> Engine::send_shortcut(const std::string &group, ByteView message)
{
	detail::GmGroup *g = impl_->gm.find(group);
	if (!g)
		return make_error(WireError::Missing, "no member group " + group);
	detail::IkeSa *sa = g->ike_spi ? impl_->ike.initiator(g->ike_spi) : nullptr;
	auto inner = shortcut_payloads(message);
	if (!sa || !sa->authenticated || inner.empty() ||
	    !impl_->ike.queue_informational(*sa, std::move(inner), group)) {
		g->counters.shortcut_send_failures++;
		return make_error(WireError::Missing, "no IKE SA with the key server of " + group);
	}
	g->counters.shortcut_sent++;
	return Done{};
}

size_t Engine::roam(const std::function<bool(const Address &)> &is_local,
		    const std::function<std::optional<Address>(const Address &)> &source)
{
	size_t moved = 0;
	try {
		for (detail::IkeSa *sa : impl_->ike.initiators()) {
			if (!sa->authenticated || sa->closing || is_local(sa->local))
				continue;
			auto to = source(sa->remote);
			if (!to || to->ip.size() != sa->local.ip.size() || to->ip == sa->local.ip)
				continue;
			const Bytes old = sa->local.ip;
			sa->local.ip = to->ip;
			std::string first;
			for (auto &[n, g] : impl_->gm.groups) {
				if (g->ike_spi != sa->spi_i)
					continue;
				// the group's later registrations start from here
				if (g->cfg.local.ip == old)
					g->cfg.local.ip = to->ip;
				if (first.empty())
					first = n;
			}
			// RFC 4555 3.5: the new address reaches the key server as
			// the source of an authenticated request carrying
			// N(UPDATE_SA_ADDRESSES); a request already outstanding is
			// retransmitted from here too and answered to where it came
			// from (RFC 7296 2.11)
			NotifyPayload n;
			n.type = static_cast<uint16_t>(NotifyType::UpdateSaAddresses);
			auto body = encode_notify(n);
			if (body)
				(void)impl_->ike.queue_informational(
					*sa, {Payload{static_cast<uint8_t>(PayloadType::Notify), false, std::move(body).value()}},
					first);
			moved++;
			if (!impl_->ctx.deps.shortcuts)
				continue;
			for (auto &[name, g] : impl_->gm.groups)
				if (g->ike_spi == sa->spi_i && g->state == detail::GmState::Registered)
					impl_->ctx.deps.shortcuts->shortcut_moved(name, false, g->cfg.server_id, sa->local);
		}
	} catch (const std::exception &) {
	}
	return moved;
}

uint64_t Engine::next_timeout_ms() const
{
	return impl_->next_timeout_ms();
}

Result<Done> Engine::rekey(const std::string &group)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.rekey(*g, false, true); });
}

Result<Done> Engine::evict(const std::string &group, const Identity &member)
{
	return evict(group, std::vector<Identity>{member});
}

Result<Done> Engine::evict(const std::string &group, const std::vector<Identity> &members)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.evict(*g, members); });
}

Result<Done> Engine::readmit(const std::string &group, const Identity &member)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.readmit(*g, member); });
}

Result<Done> Engine::merge_evicted(const std::string &group, const std::vector<Identity> &evicted, size_t *added)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.merge_evicted(*g, evicted, added); });
}

Result<Done> Engine::exclude(const std::string &group, const std::vector<Identity> &members)
{
	detail::GcksGroup *g = impl_->gcks.find(group);
	if (!g)
		return no_server_group(group);
	return wire::guarded([&] { return impl_->gcks.exclude(*g, members); });
}

Result<Done> Engine::reregister(const std::string &group)
{
	detail::GmGroup *g = impl_->gm.find(group);
	if (!g)
		return make_error(WireError::Missing, "no member group " + group);
	return impl_->gm.reregister(*g);
}

Result<Done> Engine::set_member_list(const std::string &group, const std::vector<Identity> &peers)
{
	detail::GmGroup *g = impl_->gm.find(group);
	if (!g)
		return make_error(WireError::Missing, "no member group " + group);
	if (!peers.empty()) {
		auto n = make_member_list_notify(peers);
		if (!n)
			return n.error();
	}
	if (g->state != detail::GmState::Registered)
		return make_error(WireError::BadValue, "group " + group + " is not registered");
	const std::vector<Identity> before = g->cfg.peers;
	g->cfg.peers = peers;
	auto r = impl_->gm.reregister(*g);
	if (!r)
		g->cfg.peers = before;
	return r;
}

std::vector<GroupState> Engine::groups() const
{
	std::vector<GroupState> out;
	for (auto &[n, g] : impl_->gcks.groups)
		out.push_back(impl_->gcks.state(*g));
	for (auto &[n, g] : impl_->gm.groups)
		out.push_back(impl_->gm.state(*g));
	return out;
}

Result<Done> Engine::set_transport(const TransportConfig &t)
{
	if (t.fragment_size != 0 && (t.fragment_size < kMinFragmentSize || t.fragment_size > 65535))
		return make_error(WireError::BadValue, "fragment size " + std::to_string(t.fragment_size) +
							       " is not 0 or from " + std::to_string(kMinFragmentSize) +
							       " to 65535");
	impl_->ctx.transport = t;
	return Done{};
}

void Engine::set_cookie_threshold(size_t half_open)
{
	impl_->ike.set_cookie_threshold(half_open);
}

size_t Engine::responder_ike_sas() const
{
	return impl_->ike.responders();
}

size_t Engine::initiator_ike_sas() const
{
	return impl_->ike.initiators().size();
}

size_t Engine::half_open() const
{
	return impl_->ike.half_open();
}

} // namespace groupsec::gdoi
