// SPDX-License-Identifier: GPL-2.0-or-later
// The state behind Engine: the IKE SAs both roles share (ike/), the key
// server (gcks/) and the member (gm/), and what joins them: the counters
// of both roles' groups and the IKE SA table's questions to its users.
// Internal to the core.
#pragma once

#include <string>

#include "engine_context.h"
#include "gcks/key_server.h"
#include "gdoi_engine.h"
#include "gm/group_member.h"
#include "ike/ike_sas.h"

namespace groupsec::gdoi {

struct Engine::Impl final : detail::CounterDirectory, detail::IkeSaUsers {
	explicit Impl(EngineDeps d) : ctx(d), ike(ctx, *this), gcks(ctx, ike), gm(ctx, ike) { ctx.counters = this; }

	detail::EngineContext ctx;
	detail::IkeSas ike;
	detail::KeyServer gcks;
	detail::GroupMember gm;

	// A datagram to the role it is for.
	void receive(const Address &local, const Address &remote, ByteView datagram);
	void tick();
	uint64_t next_timeout_ms() const;

	// CounterDirectory
	Counters *counters_for(const std::string &group) override;
	Counters *attribute(const Address &local, bool server_first) override;
	// IkeSaUsers
	void request_failed(detail::IkeSa &sa) override { gm.exchange_failed(sa); }
	void peer_lost(detail::IkeSa &sa) override { gm.start_over(sa); }
	void responder_removed(uint64_t spi) override { gcks.forget_ike_sa(spi); }
	bool responder_used(uint64_t spi) const override { return gcks.uses_ike_sa(spi); }
	bool initiator_used(uint64_t spi) const override { return gm.uses_ike_sa(spi); }
	bool responder_wanted(uint64_t spi) const override { return gcks.wants_ike_sa(spi); }
};

} // namespace groupsec::gdoi
