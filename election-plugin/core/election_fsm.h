// SPDX-License-Identifier: GPL-2.0-or-later
// ElectionFsm: one node's side of the secure key server election of seed
// 003 (FIG. 2 to 4) for one group. It owns no socket and reads no system
// clock: the clock, the randomness (coin tosses, jitter), the transport and
// the signer are injected, so a test drives it step by step. The glue calls
// receive() for every datagram, on_timer() when next_deadline_ms() is
// reached, and learns the result through an ElectionListener.
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "election_auth.h"
#include "election_msg.h"
#include "election_replica.h"
#include "groupsec/base/bytes.h"
#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/random.h"

namespace groupsec::election {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// FIG. 2's states; Leader is the Client phase of the node that won.
enum class State { Ready, Discovery, Election, Client, Leader, Incomplete };
// Discovery and Election are split in phases.
enum class Phase {
	None,
	Querying,    // Discovery: LEADER_R_U_THERE sent, waiting for the ACK
	CallPending, // Discovery: nobody answered; calling after a random jitter
	Listen,      // Election: collecting ELECTION_CANDIDACY, new calls ignored
	Probation,   // Election: vote done, collecting VICTORY_ANNOUNCEMENTs
	Confirming,  // Client: a server just elected, asked whether it serves yet
};
// How the last election (or discovery) ended.
// SteppedDown: this server met another server in office that ranks above
// it and now follows it (two servers after a partition).
enum class Outcome { None, Elected, Collision, NoVictor, Incomplete, Found, SteppedDown };

const char *state_name(State s);
const char *phase_name(Phase p);
const char *outcome_name(Outcome o);

// Timers in milliseconds; the defaults give a failover within
// keepalive + (1 + retransmits) * query + listen + probation = 2.3 s.
struct ElectionTimers {
	uint64_t query_ms = 250;       // wait for LEADER_R_U_THERE_ACK, per (re)transmission
	uint64_t keepalive_ms = 500;   // a member's liveness query to the elected server
	uint64_t listen_ms = 400;      // the listen round (candidacies)
	uint64_t probation_ms = 400;   // the victory probation round
	uint64_t call_jitter_ms = 100; // random delay before calling, so that one call wins
	uint64_t incomplete_retry_ms = 5000; // Election-Incomplete: discover again after this
	uint64_t rogue_hold_ms = 30000; // a rogue-stack entry is forgotten after this (0: never)
	// state replication: the server retransmits an unacknowledged REPLICA
	// (and the glue hands it the group's state) this often; a standby
	// repeats its STANDBY_KEY this often (0: replication off)
	uint64_t replica_ms = 200;
	uint64_t standby_key_ms = 1000;
};

struct ElectionConfig {
	uint32_t group = 0;
	std::string identity;  // this node's identity, as peers know it
	Bytes address;         // this node's address (4 or 16 octets): where members register
	bool candidate = false; // authorized and willing to be the key server
	uint8_t priority = 0;  // the vote ranks priority first, then address
	unsigned retransmits = 3;  // LEADER_R_U_THERE retransmissions (paragraph 0079)
	unsigned max_attempts = 3; // failed elections before Election-Incomplete (paragraph 0053)
	size_t rogue_stack = 2;    // entries of the rogue-caller stack (paragraph 0069)
	uint64_t first_sequence = 1; // the first sequence number sent; must grow across restarts
	// drop ACK/CANDIDACY/VICTORY whose address differs from the datagram's source
	bool check_source_address = true;
	// a node elected waits for service_ready() (its glue has switched its
	// service on) before it answers LEADER_R_U_THERE and announces itself;
	// false: at once
	bool await_service = false;
	ElectionTimers timers;
};

// Who may speak and who may win. A listed identity has its own verifier
// (or none: then the group verifier); an identity not listed is verified
// with the group verifier if there is one (group pre-shared key mode),
// else refused. Only identities listed as candidates can win.
class PeerTable {
public:
	void add(const std::string &identity, std::shared_ptr<const Verifier> verifier, bool candidate);
	void set_group_verifier(std::shared_ptr<const Verifier> verifier);
	const Verifier *verifier(const std::string &identity) const;
	bool candidate(const std::string &identity) const;

private:
	struct Peer {
		std::shared_ptr<const Verifier> verifier;
		bool candidate = false;
	};
	std::map<std::string, Peer> peers_;
	std::shared_ptr<const Verifier> group_;
};

// Sends one datagram to the group (multicast, or every peer of the list).
class Transport {
public:
	virtual ~Transport() = default;
	virtual void send(ByteView datagram) = 0;
};

struct LeaderInfo {
	std::string identity; // empty: none
	Bytes address;
	uint8_t priority = 0;
	bool self = false;
};

class ElectionListener {
public:
	virtual ~ElectionListener() = default;
	// A new key server was elected or found (identity empty: none any more).
	virtual void leader_changed(const LeaderInfo &leader) {}
	// Paragraph 0053: the election failed max_attempts times.
	virtual void election_incomplete() {}
	// The server in office: the last state of a server that stepped down
	// in its favour (two servers after a partition), sent by `from`; the
	// glue merges what must not be lost (the evicted identities).
	virtual void merge(const std::string &from, ByteView state) {}
};

struct ElectionCounters {
	uint64_t received = 0;      // datagrams given to receive()
	uint64_t sent = 0;
	uint64_t malformed = 0;     // did not decode
	uint64_t forged = 0;        // unknown sender, bad signature, wrong method, spoofed address
	uint64_t replayed = 0;      // sequence number seen before or below the replay window
	uint64_t rogue = 0;         // ELECTION_CALL from a caller in the rogue stack
	uint64_t unauthorized = 0;  // ACK, CANDIDACY or VICTORY from a non-candidate
	uint64_t ignored = 0;       // valid but not for this state (calls in the listen round, ...)
	uint64_t other_group = 0;
	uint64_t rounds = 0;        // elections this node took part in
	uint64_t collisions = 0;    // two victors or two servers seen
	uint64_t leader_changes = 0;
	uint64_t replicas_sent = 0;     // REPLICA messages sent (server)
	uint64_t replicas_received = 0; // REPLICA messages that opened (standby)
	uint64_t merges_received = 0;   // MERGE messages that opened (server)
};

struct ElectionSnapshot {
	uint32_t group = 0;
	State state = State::Ready;
	Phase phase = Phase::None;
	LeaderInfo leader;
	Outcome last_outcome = Outcome::None;
	unsigned attempts = 0; // failed elections since the last success
	uint64_t next_sequence = 0;
	std::vector<std::string> rogue_stack; // newest first
	ElectionCounters counters;
	// state replication: the version held (server: the latest given; a
	// standby: the latest received) and its size; server: the standbys
	// known and those holding that version
	uint64_t replica_version = 0;
	size_t replica_bytes = 0;
	std::string replica_from;
	size_t standbys = 0;
	size_t standbys_current = 0;
};

class ElectionFsm {
public:
	ElectionFsm(ElectionConfig config, PeerTable peers, std::shared_ptr<const Signer> signer,
		    const crypto::Clock &clock, crypto::RandomSource &random, Transport &transport,
		    ElectionListener *listener = nullptr);

	// Ready -> Discovery: the node needs a key server for the group.
	void start();
	// Back to Ready; nothing more is sent.
	void stop();
	// One datagram from the group; source: the sender's address as the
	// socket saw it (empty if unknown).
	void receive(ByteView datagram, ByteView source = {});
	// Handles every timer due at clock.now_ms().
	void on_timer();
	// When on_timer() is due next (kNever: nothing pending).
	uint64_t next_deadline_ms() const { return std::min(deadline_, replica_deadline_); }
	// The key server did not serve a registration: check it (Client -> Discovery).
	void service_failed();
	// The elected node's service is on (ElectionConfig::await_service): it
	// announces itself with an ACK to the group and answers queries from
	// now on (also after a needless election that keeps it in office).
	// Nothing happens unless this node is the server in office.
	void service_ready();

	State state() const { return state_; }
	Phase phase() const { return phase_; }
	const LeaderInfo &leader() const { return leader_; }
	const ElectionCounters &counters() const { return counters_; }
	ElectionSnapshot snapshot() const;
	const ElectionConfig &config() const { return config_; }

	// State replication (docs/election.md). The server in office: the
	// group's current state; other octets than the last get the next
	// version and go to every standby candidate, encrypted for it, until
	// it acknowledges them. False (nothing changes) if not the server or
	// the state is larger than kMaxReplica.
	bool set_replica(ByteView state);
	// A standby: the latest state received from the server in office (the
	// server: the latest given), empty if none; its version and sender.
	const SecretBytes &replica() const { return replica_; }
	uint64_t replica_version() const { return replica_version_; }
	const std::string &replica_from() const { return replica_from_; }

private:
	struct Candidate {
		std::string identity;
		uint8_t priority = 0;
		Bytes address;
	};

	void send(MessageType type, Bytes body = {});
	void replica_timer();
	void new_replica_key();
	void send_standby_key();
	void send_replicas();
	void send_replica(const std::string &standby);
	void handle_replication(const Message &m);
	void send_merge();
	void handle_merge(const Message &m);
	void enter_discovery(bool query_now);
	void query();
	void schedule_call();
	void call_election();
	void join_election(bool caller);
	void end_listen();
	void end_probation();
	void become_client(const Candidate &leader, bool confirmed);
	void become_leader();
	void announce();
	void enter_incomplete();
	void collision();
	void two_servers(const Candidate &other);
	void set_leader(LeaderInfo leader);
	bool rogue_check(const std::string &caller);
	Candidate self_candidate() const;
	static bool ranks_above(const Candidate &a, const Candidate &b);
	void handle(const Message &m);

	ElectionConfig config_;
	PeerTable peers_;
	std::shared_ptr<const Signer> signer_;
	const crypto::Clock &clock_;
	crypto::RandomSource &random_;
	Transport &transport_;
	ElectionListener *listener_;

	State state_ = State::Ready;
	Phase phase_ = Phase::None;
	uint64_t deadline_ = kNever;
	unsigned queries_left_ = 0;
	bool awaiting_ack_ = false;
	unsigned attempts_ = 0;
	uint64_t sequence_;
	LeaderInfo leader_;
	// Client, Confirming: the server the election named, handed over
	// (leader_, the listener) once it answers
	Candidate pending_;
	// Leader: the service is on, queries are answered
	bool in_service_ = false;
	Outcome outcome_ = Outcome::None;
	std::vector<Candidate> candidates_;
	// candidacies heard outside a listen round, with when: a candidacy can
	// overtake the call it answers (another path, reordering); those of
	// the last listen_ms / 2 count when this node joins the election
	std::deque<std::pair<Candidate, uint64_t>> early_;
	void add_candidate(const Candidate &c);
	std::map<std::string, Candidate> victors_;
	// per sender: the highest sequence number accepted and which of the 64
	// below it were seen (bit i: highest - i), so that reordered messages
	// pass and each number passes once
	struct ReplayWindow {
		uint64_t highest = 0;
		uint64_t seen = 0;
	};
	std::map<std::string, ReplayWindow> windows_;
	bool fresh(const std::string &sender, uint64_t sequence) const;
	void mark(const std::string &sender, uint64_t sequence);
	std::deque<std::pair<std::string, uint64_t>> rogue_; // caller, when pushed; newest first
	ElectionCounters counters_;

	// state replication
	uint64_t replica_deadline_ = kNever;
	std::unique_ptr<ReplicaKey> replica_key_; // this node's ephemeral key
	struct Standby {
		Bytes key;
		uint64_t acked = 0;
	};
	std::map<std::string, Standby> standbys_; // server: by identity
	SecretBytes replica_;
	uint64_t replica_version_ = 0;
	std::string replica_from_;
	// stepped down: this node's last state as a server, for the server
	// it stepped down for, sent (MERGE) once that server's first REPLICA
	// gave its key, again every replica_ms until acknowledged
	SecretBytes merge_;
	uint64_t merge_version_ = 0;
	std::string merge_to_;
	Bytes merge_server_key_;
};

} // namespace groupsec::election
