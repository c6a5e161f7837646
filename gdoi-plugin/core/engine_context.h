// SPDX-License-Identifier: GPL-2.0-or-later
// What every part of the engine shares: the glue's interfaces (EngineDeps)
// with the few conveniences around them, and where a datagram's counts go.
// Internal to the core.
#pragma once

#include <optional>
#include <string>

#include "gdoi_engine.h"
#include "group_keys.h"
#include "groupsec/flatkey/crypto.h"

namespace groupsec::gdoi::detail {

// The counters of the groups of both roles; the engine implements it.
class CounterDirectory {
public:
	virtual ~CounterDirectory() = default;
	// The counters of the group of that name, nullptr if there is none.
	virtual Counters *counters_for(const std::string &group) = 0;
	// The group a datagram that names none is counted against: a group
	// bound to the local address (of the role tried first), the other
	// role's groups after; nullptr if there is no group.
	virtual Counters *attribute(const Address &local, bool server_first) = 0;
};

struct EngineContext {
	explicit EngineContext(EngineDeps d) : deps(d) {}
	EngineContext(const EngineContext &) = delete;
	EngineContext &operator=(const EngineContext &) = delete;

	EngineDeps deps;
	CounterDirectory *counters = nullptr; // set by the engine
	flatkey::KeyWrapper wrapper;
	TransportConfig transport; // Engine::set_transport()

	uint64_t now() const { return deps.clock->now_ms(); }
	Bytes random(size_t n)
	{
		Bytes b(n);
		if (n)
			deps.random->fill(b.data(), n);
		return b;
	}
	// The PSK of two identities, in memory that is wiped when freed.
	std::optional<SecretBytes> psk(const Identity &local, const Identity &remote)
	{
		auto key = deps.credentials->shared_key(local, remote);
		if (!key)
			return std::nullopt;
		return SecretBytes(std::move(*key)); // takes the buffer: no copy is left
	}
	// Whether datagrams from or to this local address carry the non-ESP
	// marker: it is on the NAT traversal port (RFC 7296 2.23, RFC 3948 2.2).
	bool nat_t(const Address &local) const
	{
		return transport.nat_t_port != 0 && local.port == transport.nat_t_port;
	}
	// false if the transport could not send it; counted in c if sent
	bool send(Counters *c, const Address &local, const Address &remote, ByteView datagram)
	{
		bool ok;
		if (nat_t(local)) {
			// "four octets of zero" in front of the IKE header
			Bytes marked(4, 0);
			marked.insert(marked.end(), datagram.begin(), datagram.end());
			ok = deps.transport->send(local, remote, marked);
		} else {
			ok = deps.transport->send(local, remote, datagram);
		}
		if (!ok)
			return false;
		if (c)
			c->sent++;
		return true;
	}
	void log_error(const std::string &message) const
	{
		if (deps.log)
			deps.log->error(message);
	}
	void log_warning(const std::string &message) const
	{
		if (deps.log)
			deps.log->warning(message);
	}
	void log_rekey_sa(const RekeySa &kek) const
	{
		if (deps.keylog)
			deps.keylog->rekey_sa(kek.spi, kek.keys);
	}
	// Tests: whether the named step is to fail.
	bool fault(const char *step) const { return deps.faults && deps.faults->fail(step); }
};

} // namespace groupsec::gdoi::detail
