// SPDX-License-Identifier: GPL-2.0-or-later
#include "election_fsm.h"

#include <algorithm>
#include <utility>

namespace groupsec::election {

const char *state_name(State s)
{
	switch (s) {
	case State::Ready:
		return "ready";
	case State::Discovery:
		return "discovery";
	case State::Election:
		return "election";
	case State::Client:
		return "client";
	case State::Leader:
		return "leader";
	case State::Incomplete:
		return "election-incomplete";
	}
	return "unknown";
}

const char *phase_name(Phase p)
{
	switch (p) {
	case Phase::None:
		return "none";
	case Phase::Querying:
		return "querying";
	case Phase::CallPending:
		return "call-pending";
	case Phase::Listen:
		return "listen";
	case Phase::Probation:
		return "probation";
	case Phase::Confirming:
		return "confirming";
	}
	return "unknown";
}

const char *outcome_name(Outcome o)
{
	switch (o) {
	case Outcome::None:
		return "none";
	case Outcome::Elected:
		return "elected";
	case Outcome::Collision:
		return "collision";
	case Outcome::NoVictor:
		return "no-victor";
	case Outcome::Incomplete:
		return "incomplete";
	case Outcome::Found:
		return "found";
	case Outcome::SteppedDown:
		return "stepped-down";
	}
	return "unknown";
}

void PeerTable::add(const std::string &identity, std::shared_ptr<const Verifier> verifier, bool candidate)
{
	peers_[identity] = Peer{std::move(verifier), candidate};
}

void PeerTable::set_group_verifier(std::shared_ptr<const Verifier> verifier)
{
	group_ = std::move(verifier);
}

const Verifier *PeerTable::verifier(const std::string &identity) const
{
	auto it = peers_.find(identity);
	if (it != peers_.end() && it->second.verifier)
		return it->second.verifier.get();
	return group_.get();
}

bool PeerTable::candidate(const std::string &identity) const
{
	auto it = peers_.find(identity);
	return it != peers_.end() && it->second.candidate;
}

ElectionFsm::ElectionFsm(ElectionConfig config, PeerTable peers, std::shared_ptr<const Signer> signer,
			 const crypto::Clock &clock, crypto::RandomSource &random, Transport &transport,
			 ElectionListener *listener)
	: config_(std::move(config)), peers_(std::move(peers)), signer_(std::move(signer)), clock_(clock),
	  random_(random), transport_(transport), listener_(listener), sequence_(config_.first_sequence)
{
}

void ElectionFsm::start()
{
	if (state_ != State::Ready)
		return;
	attempts_ = 0;
	enter_discovery(true);
}

void ElectionFsm::stop()
{
	state_ = State::Ready;
	phase_ = Phase::None;
	deadline_ = kNever;
	candidates_.clear();
	victors_.clear();
}

void ElectionFsm::service_failed()
{
	// while confirming, no server was handed over that could have failed
	if (state_ == State::Client && phase_ != Phase::Confirming)
		enter_discovery(true);
}

void ElectionFsm::service_ready()
{
	if (!leader_.self || in_service_)
		return;
	in_service_ = true;
	if (state_ == State::Leader)
		announce();
}

ElectionFsm::Candidate ElectionFsm::self_candidate() const
{
	return Candidate{config_.identity, config_.priority, config_.address};
}

bool ElectionFsm::ranks_above(const Candidate &a, const Candidate &b)
{
	if (a.priority != b.priority)
		return a.priority > b.priority;
	if (a.address.size() != b.address.size())
		return a.address.size() > b.address.size(); // IPv6 above IPv4
	if (a.address != b.address)
		return a.address > b.address; // lexicographic on network order: numeric
	return a.identity > b.identity;
}

void ElectionFsm::send(MessageType type, Bytes body)
{
	Message m;
	m.type = type;
	m.auth = signer_->method();
	m.sequence = sequence_;
	m.group = config_.group;
	m.identity = config_.identity;
	if (has_candidate_payload(type)) {
		m.priority = config_.priority;
		m.address = config_.address;
	}
	m.body = std::move(body);
	auto part = encode_signed_part(m);
	if (!part)
		return;
	auto sig = signer_->sign(part.value());
	if (!sig)
		return;
	m.signature = std::move(sig).value();
	auto datagram = encode(m);
	if (!datagram)
		return;
	sequence_++; // paragraph 0075: after each packet sent
	counters_.sent++;
	transport_.send(datagram.value());
}

// ---- Discovery (FIG. 2, 204)

void ElectionFsm::enter_discovery(bool query_now)
{
	state_ = State::Discovery;
	phase_ = Phase::Querying;
	queries_left_ = config_.retransmits;
	if (query_now) {
		query();
	} else {
		// the query that just went unanswered (a client's keepalive) was
		// the first one: retransmit now
		deadline_ = clock_.now_ms();
	}
}

void ElectionFsm::query()
{
	send(MessageType::LeaderRUThere);
	deadline_ = clock_.now_ms() + config_.timers.query_ms;
}

void ElectionFsm::schedule_call()
{
	if (attempts_ >= config_.max_attempts) {
		enter_incomplete();
		return;
	}
	phase_ = Phase::CallPending;
	// candidates draw from the first half of the jitter, members from the
	// second: when all notice together a candidate calls first, and a
	// calling candidate always stands, so the election has a candidate
	uint64_t half = config_.timers.call_jitter_ms / 2;
	uint64_t jitter = config_.candidate ? 0 : half;
	if (half) {
		uint8_t r[2];
		random_.fill(r, sizeof(r));
		jitter += (static_cast<uint64_t>(r[0]) << 8 | r[1]) % (half + 1);
	}
	deadline_ = clock_.now_ms() + jitter;
}

// ---- Election (FIG. 3)

void ElectionFsm::call_election()
{
	if (attempts_ >= config_.max_attempts) {
		enter_incomplete();
		return;
	}
	send(MessageType::ElectionCall);
	join_election(true);
}

void ElectionFsm::join_election(bool caller)
{
	bool was_leader = state_ == State::Leader;
	state_ = State::Election;
	phase_ = Phase::Listen;
	deadline_ = clock_.now_ms() + config_.timers.listen_ms;
	candidates_.clear();
	victors_.clear();
	attempts_++;
	counters_.rounds++;
	uint64_t now = clock_.now_ms();
	for (const auto &e : early_)
		if (now - e.second <= config_.timers.listen_ms / 2)
			add_candidate(e.first);
	early_.clear();
	if (!config_.candidate)
		return;
	// paragraph 0051: a candidate that calls always stands; so does the
	// server in office, so that a needless election keeps it. Others toss
	// a coin (block 304).
	bool stand = caller || was_leader;
	if (!stand) {
		uint8_t coin = 0;
		random_.fill(&coin, 1);
		stand = coin & 1;
	}
	if (stand) {
		send(MessageType::Candidacy);
		candidates_.push_back(self_candidate());
	}
}

void ElectionFsm::add_candidate(const Candidate &c)
{
	for (const auto &have : candidates_)
		if (have.identity == c.identity)
			return;
	candidates_.push_back(c);
}

void ElectionFsm::end_listen()
{
	// block 308: the vote, the same at every node that heard the same
	// candidates
	phase_ = Phase::Probation;
	deadline_ = clock_.now_ms() + config_.timers.probation_ms;
	if (candidates_.empty())
		return;
	const Candidate *best = &candidates_.front();
	for (const auto &c : candidates_)
		if (ranks_above(c, *best))
			best = &c;
	if (best->identity == config_.identity) {
		send(MessageType::Victory);
		victors_[config_.identity] = self_candidate();
	}
}

void ElectionFsm::end_probation()
{
	candidates_.clear();
	if (victors_.empty()) {
		// FIG. 2: no key server elected -> Discovery; the winner may be
		// there and only its announcement lost
		outcome_ = Outcome::NoVictor;
		enter_discovery(true);
		return;
	}
	if (victors_.size() > 1) {
		// block 314: a collision calls a new election at once
		collision();
		return;
	}
	Candidate winner = victors_.begin()->second;
	victors_.clear();
	outcome_ = Outcome::Elected;
	if (winner.identity == config_.identity)
		become_leader();
	else
		become_client(winner, false);
}

void ElectionFsm::collision()
{
	outcome_ = Outcome::Collision;
	counters_.collisions++;
	victors_.clear();
	call_election();
}

// Two servers in office meet (a partition healed, paragraph 0050): this
// node's server (itself, if it serves) and `other`, which answered a query
// or announced a victory. No new election: the one that ranks first in the
// vote's order (priority, address, identity) keeps the office, the other
// steps down. Every node that hears both decides the same, whoever it
// heard first, so the result does not depend on chance or timing: the
// server that stays keeps its state, the one that steps down becomes its
// standby, and the followers of the one that steps down move when they
// hear the other's ACK (it answers every query, theirs too).
void ElectionFsm::two_servers(const Candidate &other)
{
	counters_.collisions++;
	const bool serving = state_ == State::Leader;
	const Candidate mine = serving                      ? self_candidate()
			       : phase_ == Phase::Confirming ? pending_
							     : Candidate{leader_.identity, leader_.priority, leader_.address};
	if (!ranks_above(other, mine))
		return; // ours stays; the other's followers move to it
	outcome_ = serving ? Outcome::SteppedDown : Outcome::Found;
	if (serving && replica_from_ == config_.identity && !replica_.empty() && config_.timers.replica_ms) {
		// this server's last state goes to the winner, which merges
		// the evicted identities (docs/election.md)
		merge_ = replica_;
		merge_version_ = replica_version_;
		merge_to_ = other.identity;
		merge_server_key_.clear();
	}
	// a server in office: no confirming round, it is followed at once
	become_client(other, true);
}

// ---- Client and Leader (FIG. 2, 208)

void ElectionFsm::set_leader(LeaderInfo leader)
{
	if (leader.identity == leader_.identity && leader.address == leader_.address)
		return;
	leader_ = std::move(leader);
	counters_.leader_changes++;
	if (listener_)
		listener_->leader_changed(leader_);
}

void ElectionFsm::become_client(const Candidate &leader, bool confirmed)
{
	state_ = State::Client;
	attempts_ = 0;
	if (!confirmed) {
		// A server named by a vote or a VICTORY may not serve yet: its
		// probation can end after this node's (it heard the call later),
		// and its service is switched on after that. A member that
		// registered now would wait for its registration's retransmission.
		// Ask the server at once; it is handed over when it answers (its
		// ACK, or the one it announces itself with once it serves). No
		// answer within query_ms: Discovery, as for a silent keepalive.
		phase_ = Phase::Confirming;
		pending_ = leader;
		send(MessageType::LeaderRUThere);
		awaiting_ack_ = true;
		deadline_ = clock_.now_ms() + config_.timers.query_ms;
		return;
	}
	phase_ = Phase::None;
	pending_ = Candidate{};
	awaiting_ack_ = false;
	deadline_ = clock_.now_ms() + config_.timers.keepalive_ms;
	bool changed = leader.identity != leader_.identity;
	if (leader.identity != merge_to_) {
		merge_.clear();
		merge_to_.clear();
	}
	set_leader(LeaderInfo{leader.identity, leader.address, leader.priority, false});
	if (config_.candidate && config_.timers.replica_ms) {
		// a standby: a fresh key for each server it follows
		if (changed || !replica_key_)
			new_replica_key();
		send_standby_key();
		replica_deadline_ = clock_.now_ms() + config_.timers.standby_key_ms;
	}
}

void ElectionFsm::become_leader()
{
	// re-elected in office (a needless election): its service stays as it is
	bool again = leader_.self && leader_.identity == config_.identity;
	state_ = State::Leader;
	phase_ = Phase::None;
	attempts_ = 0;
	deadline_ = kNever;
	pending_ = Candidate{};
	set_leader(LeaderInfo{config_.identity, config_.address, config_.priority, true});
	if (!again)
		in_service_ = !config_.await_service;
	if (in_service_)
		announce();
	// the standbys announce their keys to the new server; the versions
	// go on from the state this node held
	standbys_.clear();
	replica_deadline_ = kNever;
	if (config_.timers.replica_ms)
		new_replica_key();
}

// The server in office tells the group it serves: an ACK nobody asked
// for, which hands it over at the nodes that confirm it (Client,
// Confirming) and at those still discovering.
void ElectionFsm::announce()
{
	send(MessageType::LeaderRUThereAck);
}

// ---- state replication

void ElectionFsm::new_replica_key()
{
	SecretBytes secret(kReplicaKeyBytes);
	for (int i = 0; i < 16; i++) {
		random_.fill(secret.data(), secret.size());
		replica_key_ = ReplicaKey::from_private(secret);
		if (replica_key_)
			break;
	}
}

void ElectionFsm::send_standby_key()
{
	if (replica_key_)
		send(MessageType::StandbyKey, replica_key_->public_key());
}

bool ElectionFsm::set_replica(ByteView state)
{
	if (state_ != State::Leader || state.size() > kMaxReplica || state.empty())
		return false;
	if (replica_from_ == config_.identity && replica_.size() == state.size() &&
	    std::equal(replica_.begin(), replica_.end(), state.begin()))
		return true;
	replica_.assign(state.begin(), state.end());
	replica_version_++;
	replica_from_ = config_.identity;
	send_replicas();
	if (!standbys_.empty())
		replica_deadline_ = std::min(replica_deadline_, clock_.now_ms() + config_.timers.replica_ms);
	return true;
}

void ElectionFsm::send_replicas()
{
	for (const auto &[id, standby] : standbys_)
		if (standby.acked < replica_version_)
			send_replica(id);
}

void ElectionFsm::send_replica(const std::string &standby)
{
	auto it = standbys_.find(standby);
	if (it == standbys_.end() || !replica_key_ || replica_.empty() || replica_from_ != config_.identity)
		return;
	ReplicaPayload p;
	p.recipient = standby;
	p.version = replica_version_;
	p.server_key = replica_key_->public_key();
	p.standby_key = it->second.key;
	p.nonce.resize(kReplicaNonceBytes);
	random_.fill(p.nonce.data(), p.nonce.size());
	auto key = replica_key(*replica_key_, it->second.key, config_.group, config_.identity, standby, p.server_key,
			       p.standby_key);
	if (!key || !seal_replica(*key, config_.group, p, replica_))
		return;
	auto body = encode_replica(p);
	if (!body)
		return;
	counters_.replicas_sent++;
	send(MessageType::Replica, std::move(body).value());
}

void ElectionFsm::replica_timer()
{
	const uint64_t now = clock_.now_ms();
	replica_deadline_ = kNever;
	if (state_ == State::Leader && config_.timers.replica_ms) {
		// the unacknowledged ones again
		bool waiting = false;
		for (const auto &[id, standby] : standbys_)
			waiting = waiting || standby.acked < replica_version_;
		if (waiting) {
			send_replicas();
			replica_deadline_ = now + config_.timers.replica_ms;
		}
	} else if (state_ == State::Client && config_.candidate && config_.timers.replica_ms) {
		if (replica_from_ != leader_.identity) {
			// until the server's first REPLICA shows it has the key
			send_standby_key();
			replica_deadline_ = now + config_.timers.standby_key_ms;
		}
		if (!merge_.empty() && !merge_server_key_.empty()) {
			send_merge(); // until acknowledged
			replica_deadline_ = std::min(replica_deadline_, now + config_.timers.replica_ms);
		}
	}
}

void ElectionFsm::send_merge()
{
	if (merge_.empty() || merge_to_ != leader_.identity || !replica_key_ || merge_server_key_.empty())
		return;
	ReplicaPayload p;
	p.recipient = merge_to_;
	p.version = merge_version_;
	p.server_key = merge_server_key_;
	p.standby_key = replica_key_->public_key();
	p.nonce.resize(kReplicaNonceBytes);
	random_.fill(p.nonce.data(), p.nonce.size());
	// the key of this standby and that server's REPLICAs; the recipient
	// in the additional data tells the directions apart
	auto key = replica_key(*replica_key_, merge_server_key_, config_.group, merge_to_, config_.identity,
			       p.server_key, p.standby_key);
	if (!key || !seal_replica(*key, config_.group, p, merge_))
		return;
	auto body = encode_replica(p);
	if (!body)
		return;
	send(MessageType::Merge, std::move(body).value());
}

void ElectionFsm::handle_merge(const Message &m)
{
	// only the server in office, from a standby whose key it holds, sealed
	// for its current key
	auto p = decode_replica(m.body);
	auto it = standbys_.find(m.identity);
	if (state_ != State::Leader || !p || !replica_key_ || it == standbys_.end() ||
	    p.value().recipient != config_.identity || p.value().server_key != replica_key_->public_key() ||
	    p.value().standby_key != it->second.key) {
		counters_.ignored++;
		return;
	}
	auto key = replica_key(*replica_key_, it->second.key, config_.group, config_.identity, m.identity,
			       p.value().server_key, p.value().standby_key);
	auto state = key ? open_replica(*key, config_.group, p.value())
			 : Result<SecretBytes>(make_error(WireError::CryptoFailure, "no key"));
	if (!state) {
		counters_.forged++;
		return;
	}
	counters_.merges_received++;
	if (listener_)
		listener_->merge(m.identity, state.value());
	send(MessageType::ReplicaAck, encode_replica_ack(p.value().version));
}

void ElectionFsm::handle_replication(const Message &m)
{
	switch (m.type) {
	case MessageType::StandbyKey: {
		auto key = decode_standby_key(m.body);
		if (state_ != State::Leader || !key) {
			counters_.ignored++;
			return;
		}
		Standby &s = standbys_[m.identity];
		if (s.key != key.value()) {
			s.key = std::move(key).value();
			s.acked = 0;
		}
		if (s.acked < replica_version_) {
			send_replica(m.identity);
			replica_deadline_ = std::min(replica_deadline_, clock_.now_ms() + config_.timers.replica_ms);
		}
		return;
	}
	case MessageType::ReplicaAck: {
		auto v = decode_replica_ack(m.body);
		if (state_ == State::Client && m.identity == leader_.identity) {
			// the server merged the state this node sent when it
			// stepped down
			if (v && !merge_.empty() && v.value() == merge_version_) {
				merge_.clear();
				merge_to_.clear();
			} else {
				counters_.ignored++;
			}
			return;
		}
		auto it = standbys_.find(m.identity);
		if (state_ != State::Leader || !v || it == standbys_.end()) {
			counters_.ignored++;
			return;
		}
		it->second.acked = std::max(it->second.acked, std::min(v.value(), replica_version_));
		return;
	}
	case MessageType::Replica: {
		// only from the server this node follows, only for this node
		auto p = decode_replica(m.body);
		if (state_ != State::Client || m.identity != leader_.identity || !p || !replica_key_ ||
		    p.value().recipient != config_.identity || p.value().standby_key != replica_key_->public_key()) {
			counters_.ignored++;
			return;
		}
		auto key = replica_key(*replica_key_, p.value().server_key, config_.group, m.identity, config_.identity,
				       p.value().server_key, p.value().standby_key);
		auto state = key ? open_replica(*key, config_.group, p.value()) : Result<SecretBytes>(make_error(WireError::CryptoFailure, "no key"));
		if (!state) {
			counters_.forged++;
			return;
		}
		counters_.replicas_received++;
		if (replica_from_ != m.identity || p.value().version > replica_version_) {
			replica_ = std::move(state).value();
			replica_version_ = p.value().version;
			replica_from_ = m.identity;
		}
		send(MessageType::ReplicaAck, encode_replica_ack(p.value().version));
		if (!merge_.empty() && merge_to_ == m.identity) {
			// the server's key: the state this node held when it
			// stepped down goes to it now
			merge_server_key_ = p.value().server_key;
			send_merge();
			replica_deadline_ = std::min(replica_deadline_, clock_.now_ms() + config_.timers.replica_ms);
		}
		return;
	}
	case MessageType::Merge:
		handle_merge(m);
		return;
	default:
		return;
	}
}

void ElectionFsm::enter_incomplete()
{
	state_ = State::Incomplete;
	phase_ = Phase::None;
	outcome_ = Outcome::Incomplete;
	deadline_ = clock_.now_ms() + config_.timers.incomplete_retry_ms;
	set_leader(LeaderInfo{});
	if (listener_)
		listener_->election_incomplete();
}

// ---- timers

void ElectionFsm::on_timer()
{
	if (replica_deadline_ <= clock_.now_ms())
		replica_timer();
	// each handler moves the deadline forward; the bound guards against a
	// zero timer looping
	for (int i = 0; i < 16 && deadline_ != kNever && deadline_ <= clock_.now_ms(); i++) {
		switch (state_) {
		case State::Ready:
		case State::Leader:
			deadline_ = kNever;
			break;
		case State::Discovery:
			if (phase_ == Phase::CallPending) {
				call_election();
			} else if (queries_left_ > 0) {
				queries_left_--;
				query(); // paragraph 0079: retransmit
			} else {
				schedule_call(); // the key server is unreachable
			}
			break;
		case State::Election:
			if (phase_ == Phase::Listen)
				end_listen();
			else
				end_probation();
			break;
		case State::Client:
			if (!awaiting_ack_) {
				// paragraph 0080: the member checks the server's liveness
				send(MessageType::LeaderRUThere);
				awaiting_ack_ = true;
				deadline_ = clock_.now_ms() + config_.timers.query_ms;
			} else {
				// FIG. 2: the server stopped answering -> Discovery,
				// the unanswered keepalive being its first query
				enter_discovery(false);
			}
			break;
		case State::Incomplete:
			attempts_ = 0;
			enter_discovery(true);
			break;
		}
	}
}

// ---- receiving

bool ElectionFsm::rogue_check(const std::string &caller)
{
	uint64_t now = clock_.now_ms();
	if (config_.timers.rogue_hold_ms) {
		while (!rogue_.empty() && now - rogue_.back().second >= config_.timers.rogue_hold_ms)
			rogue_.pop_back();
	}
	// FIG. 4: a caller already in the stack is ignored (block 406), while
	// this node has a server that answers: a rogue calls elections although
	// the group has its server. A node without one (discovering, after a
	// failed election) takes every call, so that after a server dies the
	// first member to notice can call again.
	bool served = state_ == State::Client || state_ == State::Leader;
	for (const auto &e : rogue_)
		if (e.first == caller)
			return !served;
	if (config_.rogue_stack == 0)
		return true;
	rogue_.emplace_front(caller, now); // block 404
	while (rogue_.size() > config_.rogue_stack)
		rogue_.pop_back();
	return true;
}

void ElectionFsm::receive(ByteView datagram, ByteView source)
{
	counters_.received++;
	if (state_ == State::Ready)
		return;
	auto decoded = decode(datagram);
	if (!decoded) {
		counters_.malformed++;
		return;
	}
	const Message &m = decoded.value().message;
	if (m.group != config_.group) {
		counters_.other_group++;
		return;
	}
	if (m.identity == config_.identity)
		return; // our own, looped back
	// paragraph 0078: only the key server verifies LEADER_R_U_THERE
	if (m.type == MessageType::LeaderRUThere && !(state_ == State::Leader && in_service_)) {
		counters_.ignored++;
		return;
	}
	const Verifier *v = peers_.verifier(m.identity);
	if (!v || v->method() != m.auth || !v->verify(decoded.value().signed_part, m.signature)) {
		counters_.forged++;
		return;
	}
	// paragraph 0076: the first message from a sender is accepted, then
	// only numbers not seen before within a 64-message window
	if (!fresh(m.identity, m.sequence)) {
		counters_.replayed++;
		return;
	}
	if (has_replica_payload(m.type) && !peers_.candidate(m.identity)) {
		counters_.unauthorized++;
		return;
	}
	if (has_candidate_payload(m.type)) {
		if (!peers_.candidate(m.identity)) {
			counters_.unauthorized++;
			return;
		}
		if (config_.check_source_address && !source.empty() && Bytes(source.begin(), source.end()) != m.address) {
			counters_.forged++;
			return;
		}
	}
	mark(m.identity, m.sequence);
	handle(m);
}

bool ElectionFsm::fresh(const std::string &sender, uint64_t sequence) const
{
	auto it = windows_.find(sender);
	if (it == windows_.end())
		return true;
	const ReplayWindow &w = it->second;
	if (sequence > w.highest)
		return true;
	uint64_t back = w.highest - sequence;
	return back < 64 && !(w.seen >> back & 1);
}

void ElectionFsm::mark(const std::string &sender, uint64_t sequence)
{
	auto it = windows_.find(sender);
	if (it == windows_.end()) {
		windows_[sender] = ReplayWindow{sequence, 1};
		return;
	}
	ReplayWindow &w = it->second;
	if (sequence > w.highest) {
		uint64_t shift = sequence - w.highest;
		w.seen = shift >= 64 ? 0 : w.seen << shift;
		w.seen |= 1;
		w.highest = sequence;
	} else {
		w.seen |= uint64_t(1) << (w.highest - sequence);
	}
}

void ElectionFsm::handle(const Message &m)
{
	Candidate sender{m.identity, m.priority, m.address};
	switch (m.type) {
	case MessageType::LeaderRUThere:
		send(MessageType::LeaderRUThereAck); // only the Leader gets here
		return;
	case MessageType::LeaderRUThereAck:
		switch (state_) {
		case State::Discovery:
		case State::Incomplete:
			outcome_ = Outcome::Found;
			become_client(sender, true);
			return;
		case State::Client:
			if (phase_ == Phase::Confirming && m.identity == pending_.identity) {
				become_client(sender, true); // the elected server serves
			} else if (phase_ != Phase::Confirming && m.identity == leader_.identity) {
				awaiting_ack_ = false;
				deadline_ = clock_.now_ms() + config_.timers.keepalive_ms;
			} else {
				two_servers(sender); // two servers answer (paragraph 0050)
			}
			return;
		case State::Leader:
			two_servers(sender); // another server in office
			return;
		default:
			counters_.ignored++;
			return;
		}
	case MessageType::ElectionCall:
		if (state_ == State::Election && phase_ == Phase::Listen) {
			counters_.ignored++; // block 306: no new calls in the listen round
			return;
		}
		if (!rogue_check(m.identity)) {
			counters_.rogue++;
			return;
		}
		join_election(false);
		return;
	case MessageType::Candidacy:
		if (state_ == State::Election && phase_ == Phase::Listen) {
			add_candidate(sender);
		} else {
			// ahead of the call it answers, or late: kept a while
			early_.emplace_back(sender, clock_.now_ms());
			while (early_.size() > 16 ||
			       clock_.now_ms() - early_.front().second > config_.timers.listen_ms)
				early_.pop_front();
		}
		return;
	case MessageType::Victory:
		switch (state_) {
		case State::Election:
			victors_[sender.identity] = sender;
			return;
		case State::Discovery:
		case State::Incomplete:
			outcome_ = Outcome::Elected;
			become_client(sender, false);
			return;
		case State::Client:
			if (m.identity != (phase_ == Phase::Confirming ? pending_.identity : leader_.identity)) {
				// an election this node missed elected another server
				outcome_ = Outcome::Elected;
				become_client(sender, false);
			}
			return;
		case State::Leader:
			// an election this node missed elected another server
			two_servers(sender);
			return;
		case State::Ready:
			return;
		}
		return;
	case MessageType::StandbyKey:
	case MessageType::Replica:
	case MessageType::ReplicaAck:
	case MessageType::Merge:
		handle_replication(m);
		return;
	}
}

ElectionSnapshot ElectionFsm::snapshot() const
{
	ElectionSnapshot s;
	s.group = config_.group;
	s.state = state_;
	s.phase = phase_;
	s.leader = leader_;
	s.last_outcome = outcome_;
	s.attempts = attempts_;
	s.next_sequence = sequence_;
	for (const auto &e : rogue_)
		s.rogue_stack.push_back(e.first);
	s.counters = counters_;
	s.replica_version = replica_version_;
	s.replica_bytes = replica_.size();
	s.replica_from = replica_from_;
	s.standbys = standbys_.size();
	for (const auto &[id, standby] : standbys_)
		s.standbys_current += standby.acked >= replica_version_ && replica_version_ > 0;
	return s;
}

} // namespace groupsec::election
