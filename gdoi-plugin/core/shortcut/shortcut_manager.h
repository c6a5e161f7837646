// SPDX-License-Identifier: GPL-2.0-or-later
// The connectivity manager of shortcut SAs (seed 001), beside the key
// server on the gateway. It keeps a context per member that reaches the
// group through the gateway (inside prefixes, outside address, the members
// it talks to, the shortcuts it takes part in and their SAs' SPIs), and
// notices two such "outside" members talking through the gateway, by
// either trigger of the seed:
//  - relayed(): traffic the gateway relayed between them (its SA or policy
//    counters, or the packets it forwards), once a pair reaches
//    relay_threshold_packets;
//  - new_session(): a new session from one of them to a destination that
//    is the other (the gateway's acquire or first packet of a flow).
// It then draws fresh SA secrets and SPIs (RandomSource) and sends each of
// the two an OFFER with its inbound and outbound keys and the other's
// outside address. The two-phase order: a member installs its inbound SA
// and ACKs; only then does the manager send GO to the *other* member,
// which installs its outbound SA; the shortcut is up when both ACKed
// their GO. So no packet is sent on the shortcut that its receiver cannot
// decrypt. An outside address change is sent to the peers (PEER_MOVED); a
// member coming back inside or leaving ends its shortcuts (TEARDOWN to
// both: the remaining one goes back to its SA with the gateway).
//
// The secrets are wiped once the offers are encoded: the manager keeps
// their SPIs only. Everything is driven by calls; time by tick() and the
// injected clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "replay_guard.h"
#include "shortcut_wire.h"

namespace groupsec::gdoi::shortcut {

struct ManagerSettings {
	uint64_t relay_threshold_packets = 10;
	// an offer not taken by both (GO acknowledged) within this is aborted
	uint64_t setup_timeout_ms = 10000;
	// offers for one pair after a refusal (a SPI in use, say), then a hold
	unsigned max_attempts = 3;
	uint64_t holddown_ms = 60000;
	uint32_t lifetime_s = 3600;
	Suite suite;
};

// One packet the gateway relays, as its feed sees it (an IP packet as it
// comes in decrypted): its inside source and destination, and whether it
// opens a new session — a TCP SYN without ACK (IPv4: in the first
// fragment; IPv6: TCP right after the fixed header, extension headers are
// not followed). Anything else that is not IPv4 or IPv6 with a whole fixed
// header: nothing.
struct RelayedPacket {
	Bytes source;
	Bytes destination;
	bool new_session = false;
};
std::optional<RelayedPacket> classify_relayed(ByteView packet);

// How the manager's messages reach a member: one N(SHORTCUT) in an
// INFORMATIONAL request on the member's IKE SA with the key server.
class ManagerChannel {
public:
	virtual ~ManagerChannel() = default;
	// false if the member has no IKE SA to send on
	virtual bool send(const std::string &member, ByteView message) = 0;
};

enum class ShortcutState { Offered, Up };
const char *shortcut_state_name(ShortcutState s);

struct ShortcutInfo {
	uint32_t id = 0;
	std::string a, b;
	Prefix inside_a, inside_b; // the inside prefixes it joins
	ShortcutState state = ShortcutState::Offered;
	uint32_t spi_ab = 0; // a sends, b receives
	uint32_t spi_ba = 0;
	bool inbound_a = false, inbound_b = false; // ACK of OFFER
	bool outbound_a = false, outbound_b = false; // ACK of GO
	uint64_t created_ms = 0;
	uint64_t up_ms = 0;
	unsigned attempt = 1;
	uint64_t moves = 0;
};

// Shortcut up and down, for the control socket's events.
class ManagerEvents {
public:
	virtual ~ManagerEvents() = default;
	virtual void shortcut_up(const ShortcutInfo &s) { (void)s; }
	virtual void shortcut_down(const ShortcutInfo &s, const std::string &reason)
	{
		(void)s;
		(void)reason;
	}
};

struct ManagerCounters {
	uint64_t detected_relayed = 0; // setups started by relayed traffic
	uint64_t detected_session = 0; // by a new session
	uint64_t offers_sent = 0;
	uint64_t up = 0;
	uint64_t aborted = 0; // refused or timed out
	uint64_t moves_sent = 0;
	uint64_t teardowns_sent = 0;
	uint64_t refused_unknown_member = 0; // a request naming a member not known or not outside
	uint64_t rejected_forged = 0; // not a party of the shortcut, or a manager's type
	uint64_t rejected_replay = 0;
	uint64_t rejected_malformed = 0;
	uint64_t acks_unexpected = 0; // for a shortcut gone, or out of order
	uint64_t send_failures = 0;
};

struct MemberContext {
	std::string id;
	std::vector<Prefix> inside;
	Address outside;
	bool is_outside = false;
	std::set<std::string> correspondents;
	std::set<uint32_t> shortcuts;
};

class ShortcutManager {
public:
	ShortcutManager(ManagerSettings settings, const crypto::Clock &clock, crypto::RandomSource &random,
			ManagerChannel &channel, ManagerEvents *events = nullptr);
	ShortcutManager(const ShortcutManager &) = delete;
	ShortcutManager &operator=(const ShortcutManager &) = delete;

	// A member registered through the gateway's tunnel (or re-registered:
	// a new IKE SA, whose first message sets the member's epoch).
	Result<Done> member_outside(const std::string &id, std::vector<Prefix> inside, const Address &outside);
	// Its IKE SA moved to another outside address: its peers are told.
	Result<Done> member_moved(const std::string &id, const Address &outside);
	// It came back inside: its shortcuts end on both sides.
	Result<Done> member_inside(const std::string &id);
	// It left (IKE SA gone, evicted): likewise, and its context goes.
	Result<Done> member_gone(const std::string &id);

	// The two triggers: source and destination inside addresses.
	void relayed(ByteView source, ByteView destination, uint64_t packets);
	void new_session(ByteView source, ByteView destination);
	// A shortcut asked for by name (operator); refused for a member the
	// manager does not know or that is not outside.
	Result<uint32_t> request(const std::string &a, const std::string &b);
	// Ends a shortcut by ID (operator).
	Result<Done> remove(uint32_t id);

	// A message from the member `from` (the peer of the IKE SA it came on).
	// An error: rejected, counted, nothing changed.
	Result<Done> receive(const std::string &from, ByteView message);
	// Aborts setups past their deadline.
	void tick();

	const ManagerCounters &counters() const { return counters_; }
	std::vector<ShortcutInfo> shortcuts() const;
	const MemberContext *member(const std::string &id) const;

private:
	struct Member {
		MemberContext ctx;
		uint64_t sequence = 0; // last sent to it
		ReplayGuard guard;
	};
	struct Pair {
		uint64_t relayed = 0;
		unsigned attempts = 0;
		uint64_t hold_until = 0;
	};

	Member *find(const std::string &id);
	Member *owner(ByteView inside);
	void trigger(ByteView source, ByteView destination, uint64_t packets, bool session);
	Result<uint32_t> start(const std::string &a, const Prefix &pa, const std::string &b, const Prefix &pb,
			       unsigned attempt);
	std::optional<uint32_t> between(const std::string &a, const std::string &b) const;
	uint32_t new_spi(const std::set<uint32_t> &taken);
	bool send(Member &to, uint32_t id, decltype(ShortcutMessage::body) body);
	void end(uint32_t id, TeardownReason to_a, TeardownReason to_b, const std::string &why);
	void abort(uint32_t id, const std::string &why, bool retry);
	void on_ack(Member &from, uint32_t id, const Ack &a);
	static std::pair<std::string, std::string> key(const std::string &a, const std::string &b);

	ManagerSettings settings_;
	const crypto::Clock &clock_;
	crypto::RandomSource &random_;
	ManagerChannel &channel_;
	ManagerEvents *events_;
	uint32_t epoch_;
	uint32_t next_id_ = 1;
	std::map<std::string, Member> members_;
	std::map<uint32_t, ShortcutInfo> shortcuts_;
	std::map<std::pair<std::string, std::string>, Pair> pairs_;
	ManagerCounters counters_;
};

} // namespace groupsec::gdoi::shortcut
