// SPDX-License-Identifier: GPL-2.0-or-later
// The member side of shortcut SAs (seed 001): takes the connectivity
// manager's messages from the member's IKE SA to the key server and turns
// them into kernel plans, applied all or nothing through KernelOps:
//  - OFFER: the inbound SA and its inbound and forward policies, then ACK;
//  - GO (the peer has acknowledged its inbound SA): the outbound SA and
//    policy, then ACK; so no packet is sent that the peer cannot decrypt;
//  - PEER_MOVED: the SAs and policies follow the peer's new outside address;
//  - TEARDOWN: outbound policy and SA first (traffic falls back to the SA
//    with the gateway), then the inbound ones.
// Messages from anyone but the manager, replayed ones and malformed ones
// are rejected, counted and not answered; an offer the member cannot take
// is answered with an ACK that says why, and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernel_plan.h"
#include "replay_guard.h"
#include "shortcut_wire.h"

namespace groupsec::gdoi::shortcut {

struct MemberSettings {
	// The manager's (key server's) identity, as the glue names the peer of
	// the IKE SA a message came on.
	std::string manager;
	// This member's inside prefixes: an offer's local side must be in one.
	std::vector<Prefix> inside;
	// The address its IKE SA to the gateway leaves from.
	Address local_outside;
	// Reqids of the shortcut SAs, one per shortcut, from reqid_base up.
	uint32_t reqid_base = 0x5c000000;
	uint32_t replay_window = 64;
};

// How the member's messages reach the manager: one N(SHORTCUT) in an
// INFORMATIONAL request on the IKE SA to the key server.
class MemberChannel {
public:
	virtual ~MemberChannel() = default;
	virtual bool send(ByteView message) = 0;
};

struct MemberCounters {
	uint64_t offers = 0; // offers taken (inbound installed)
	uint64_t outbound = 0; // GOs taken (outbound installed)
	uint64_t moves = 0; // peer moves followed
	uint64_t teardowns = 0;
	uint64_t refused = 0; // answered with an ACK other than ok
	uint64_t kernel_failures = 0;
	uint64_t rejected_forged = 0; // not from the manager, or a member's type
	uint64_t rejected_replay = 0;
	uint64_t rejected_malformed = 0;
	uint64_t send_failures = 0;
};

struct MemberShortcut {
	uint32_t id = 0;
	Address peer_outside;
	Prefix local_inside;
	Prefix peer_inside;
	uint32_t spi_in = 0;
	uint32_t spi_out = 0;
	bool outbound = false; // GO taken
};

class ShortcutMember {
public:
	ShortcutMember(MemberSettings settings, KernelOps &kernel, MemberChannel &channel,
		       crypto::RandomSource &random);
	~ShortcutMember();
	ShortcutMember(const ShortcutMember &) = delete;
	ShortcutMember &operator=(const ShortcutMember &) = delete;

	// A new IKE SA to the manager: the manager's next message sets its epoch.
	void manager_connected();
	// A message from the peer `from` of an IKE SA. An error: rejected
	// (counted, unanswered, nothing changed).
	Result<Done> receive(const std::string &from, ByteView message);
	// A message that came on an IKE SA other than the one to the manager
	// (the key server of another group, `from`): rejected and counted
	// whatever it says; always an error.
	Result<Done> reject_foreign(const std::string &from);
	// The member's own outside address changed (MOBIKE, a new lease): its
	// SAs follow, all or nothing; false if the kernel refused.
	bool local_address_changed(const Address &local);
	// Removes every shortcut (the member came inside or leaves); the
	// manager is told by the gateway, not by the member.
	void teardown_all();

	std::vector<MemberShortcut> shortcuts() const;
	const MemberCounters &counters() const { return counters_; }

	// The plans, pure: what OFFER, GO, PEER_MOVED, TEARDOWN and an own
	// address change do for one shortcut.
	struct Entry {
		Offer offer;
		uint32_t reqid = 0;
		bool outbound = false;
	};
	KernelPlan plan_inbound(const Entry &e) const;
	KernelPlan plan_outbound(const Entry &e) const;
	KernelPlan plan_teardown(const Entry &e) const;
	KernelPlan plan_peer_moved(const Entry &e, const Address &peer) const;
	KernelPlan plan_local_moved(const Entry &e, const Address &local) const;

private:
	KernelSa sa_in(const Entry &e, const Address &local) const;
	KernelSa sa_out(const Entry &e, const Address &local) const;
	KernelPolicy policy(const Entry &e, const Address &local, PolicyDirection d) const;
	AckStatus on_offer(uint32_t id, const Offer &o);
	AckStatus on_go(uint32_t id);
	AckStatus on_peer_moved(uint32_t id, const Address &peer);
	AckStatus on_teardown(uint32_t id);
	bool mine(const Prefix &p) const;
	void ack(uint32_t id, MsgType acked, AckStatus status);

	MemberSettings settings_;
	KernelOps &kernel_;
	MemberChannel &channel_;
	uint32_t epoch_;
	uint64_t sequence_ = 0;
	uint32_t reqid_next_;
	ReplayGuard guard_;
	std::map<uint32_t, Entry> entries_;
	MemberCounters counters_;
};

} // namespace groupsec::gdoi::shortcut
