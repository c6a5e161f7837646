// SPDX-License-Identifier: GPL-2.0-or-later
// An in-memory group for the election tests: N ElectionFsm nodes on a
// virtual clock, a network that delays every datagram by a random 1 to 5 ms
// (so datagrams overtake each other), loses a chosen share of them, can be
// partitioned, and lets a test drop or inject single datagrams.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "election_auth.h"
#include "election_fsm.h"
#include "election_msg.h"

namespace groupsec::election::sim {

class VirtualClock : public crypto::Clock {
public:
	uint64_t now_ms() const override { return now; }
	uint64_t now = 1000;
};

class SeededRandom : public crypto::RandomSource {
public:
	explicit SeededRandom(uint64_t seed) : rng_(seed) {}
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(rng_());
	}

private:
	std::mt19937_64 rng_;
};

// Every octet it gives is the same: 0 makes every coin toss tails.
class FixedRandom : public crypto::RandomSource {
public:
	explicit FixedRandom(uint8_t v) : v_(v) {}
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = v_;
	}

private:
	uint8_t v_;
};

struct NodeSpec {
	std::string identity;
	Bytes address;
	bool candidate = false;
	uint8_t priority = 0;
	// the node believes it is a candidate although no peer authorizes it
	bool claims_candidate = false;
};

// The Ed25519 key of a node, derived from its identity.
inline Bytes test_private_key(const std::string &identity)
{
	Bytes k(32, 0x5a);
	for (size_t i = 0; i < identity.size() && i < 32; i++)
		k[i] ^= static_cast<uint8_t>(identity[i]);
	return k;
}

class Network {
public:
	struct Node;

	class NodeTransport : public Transport {
	public:
		NodeTransport(Network &net, size_t index) : net_(net), index_(index) {}
		void send(ByteView datagram) override { net_.broadcast(index_, datagram.to_bytes()); }

	private:
		Network &net_;
		size_t index_;
	};

	class Recorder : public ElectionListener {
	public:
		void leader_changed(const LeaderInfo &l) override { leaders.push_back(l.identity); }
		void election_incomplete() override { incomplete++; }
		void merge(const std::string &from, ByteView state) override
		{
			merges.emplace_back(from, state.to_bytes());
		}
		std::vector<std::string> leaders;
		std::vector<std::pair<std::string, Bytes>> merges; // states of servers that stepped down
		int incomplete = 0;
	};

	struct Node {
		NodeSpec spec;
		std::unique_ptr<NodeTransport> transport;
		std::unique_ptr<crypto::RandomSource> random;
		std::unique_ptr<Recorder> recorder;
		std::shared_ptr<ElectionFsm> fsm;
		std::shared_ptr<const Signer> signer;
		bool alive = true;
		int side = 0; // partition side
	};

	struct Sent {
		size_t from;
		uint64_t at;
		Bytes datagram;
		MessageType type;
	};

	// seed: loss, delays and (unless a node has its own) coin tosses
	explicit Network(uint64_t seed) : rng_(seed), seed_(seed) {}

	// Builds the nodes; every node knows every other's Ed25519 key and
	// which are candidates. random_for: a node's randomness (nullptr: seeded).
	void build(const std::vector<NodeSpec> &specs, ElectionConfig base = ElectionConfig(),
		   std::function<std::unique_ptr<crypto::RandomSource>(size_t)> random_for = nullptr,
		   AuthMethod method = AuthMethod::Ed25519)
	{
		PeerTable peers;
		std::vector<std::shared_ptr<const Signer>> signers;
		Bytes psk(32, 0x42);
		if (method == AuthMethod::GroupPsk)
			peers.set_group_verifier(std::shared_ptr<const Verifier>(group_psk_verifier(psk).value()));
		for (const auto &s : specs) {
			Bytes pub;
			if (method == AuthMethod::GroupPsk) {
				signers.emplace_back(group_psk_signer(psk).value());
				peers.add(s.identity, nullptr, s.candidate);
				continue;
			}
			auto signer = method == AuthMethod::Ed25519 ? ed25519_signer(test_private_key(s.identity), &pub)
								    : ecdsa_p256_signer(test_private_key(s.identity), &pub);
			auto verifier = method == AuthMethod::Ed25519 ? ed25519_verifier(pub) : ecdsa_p256_verifier(pub);
			signers.emplace_back(std::move(signer).value());
			peers.add(s.identity, std::shared_ptr<const Verifier>(std::move(verifier).value()), s.candidate);
		}
		for (size_t i = 0; i < specs.size(); i++) {
			auto n = std::make_unique<Node>();
			n->spec = specs[i];
			n->transport = std::make_unique<NodeTransport>(*this, i);
			n->random = random_for ? random_for(i) : nullptr;
			if (!n->random)
				n->random = std::make_unique<SeededRandom>(seed_ * 1000003 + i);
			n->recorder = std::make_unique<Recorder>();
			n->signer = signers[i];
			ElectionConfig c = base;
			c.identity = specs[i].identity;
			c.address = specs[i].address;
			c.candidate = specs[i].candidate || specs[i].claims_candidate;
			c.priority = specs[i].priority;
			n->fsm = std::make_shared<ElectionFsm>(c, peers, n->signer, clock, *n->random, *n->transport,
							       n->recorder.get());
			nodes.push_back(std::move(n));
		}
	}

	ElectionFsm &fsm(size_t i) { return *nodes[i]->fsm; }
	size_t index_of(const std::string &identity) const
	{
		for (size_t i = 0; i < nodes.size(); i++)
			if (nodes[i]->spec.identity == identity)
				return i;
		return nodes.size();
	}

	void start_all(uint64_t spread_ms = 0)
	{
		std::vector<std::pair<uint64_t, size_t>> order;
		for (size_t i = 0; i < nodes.size(); i++)
			order.emplace_back(spread_ms ? rng_() % (spread_ms + 1) : 0, i);
		if (!spread_ms) {
			for (auto &n : nodes)
				n->fsm->start();
			return;
		}
		for (auto &o : order)
			starts_.emplace(clock.now + o.first, o.second);
	}

	// The node stops: it sends and receives nothing more.
	void kill(size_t i) { nodes[i]->alive = false; }

	// Hands a datagram to one node as if it came from the network.
	void inject(size_t to, const Bytes &datagram, size_t from_index)
	{
		inject_from(to, datagram, nodes[from_index]->spec.address);
	}
	void inject_from(size_t to, const Bytes &datagram, const Bytes &source)
	{
		deliveries_.push(Delivery{clock.now + 1, order_++, to, datagram, source});
	}
	// ... to every node but the one of from_index
	void inject_all(const Bytes &datagram, size_t from_index)
	{
		for (size_t i = 0; i < nodes.size(); i++)
			if (i != from_index)
				inject(i, datagram, from_index);
	}

	// A message as node `from` would sign it, with any sequence number.
	Bytes craft(size_t from, MessageType type, uint64_t sequence, const Signer *signer = nullptr,
		    Bytes body = {})
	{
		const NodeSpec &s = nodes[from]->spec;
		Message m;
		m.type = type;
		m.sequence = sequence;
		m.group = nodes[from]->fsm->config().group;
		m.identity = s.identity;
		if (has_candidate_payload(type)) {
			m.priority = s.priority;
			m.address = s.address;
		}
		m.body = std::move(body);
		const Signer &sig = signer ? *signer : *nodes[from]->signer;
		m.auth = sig.method();
		m.signature = sig.sign(encode_signed_part(m).value()).value();
		return encode(m).value();
	}

	// Runs until the clock reaches until_ms.
	void run_until(uint64_t until_ms)
	{
		for (;;) {
			uint64_t next = kNever;
			if (!deliveries_.empty())
				next = deliveries_.top().at;
			if (!starts_.empty())
				next = std::min(next, starts_.begin()->first);
			for (auto &n : nodes)
				if (n->alive)
					next = std::min(next, n->fsm->next_deadline_ms());
			if (next == kNever || next > until_ms) {
				clock.now = until_ms;
				return;
			}
			clock.now = std::max(clock.now, next);
			if (!starts_.empty() && starts_.begin()->first <= clock.now) {
				size_t i = starts_.begin()->second;
				starts_.erase(starts_.begin());
				nodes[i]->fsm->start();
				continue;
			}
			if (!deliveries_.empty() && deliveries_.top().at <= clock.now) {
				Delivery d = deliveries_.top();
				deliveries_.pop();
				if (nodes[d.to]->alive)
					nodes[d.to]->fsm->receive(d.datagram, d.source);
				continue;
			}
			for (auto &n : nodes)
				if (n->alive && n->fsm->next_deadline_ms() <= clock.now)
					n->fsm->on_timer();
		}
	}

	void run_for(uint64_t ms) { run_until(clock.now + ms); }

	// The identity every live node follows, "" unless they all agree, the
	// server is alive and in Leader state and every other is its Client.
	std::string agreed_leader() const
	{
		std::string leader;
		for (const auto &n : nodes) {
			if (!n->alive)
				continue;
			State s = n->fsm->state();
			if (s != State::Client && s != State::Leader)
				return "";
			const std::string &l = n->fsm->leader().identity;
			if (leader.empty())
				leader = l;
			if (l != leader || (s == State::Leader) != (l == n->spec.identity))
				return "";
		}
		size_t li = index_of(leader);
		if (li == nodes.size() || !nodes[li]->alive)
			return ""; // they still follow a dead server
		return leader;
	}

	// Runs until every live node agrees on one server (checked every 10 ms);
	// the time it took, or kNever if it did not happen before limit_ms.
	uint64_t run_until_agreed(uint64_t limit_ms)
	{
		uint64_t start = clock.now;
		while (clock.now - start < limit_ms) {
			run_for(10);
			if (!agreed_leader().empty())
				return clock.now - start;
		}
		return kNever;
	}

	uint64_t total_rounds() const
	{
		uint64_t r = 0;
		for (const auto &n : nodes)
			if (n->alive)
				r = std::max(r, n->fsm->counters().rounds);
		return r;
	}

	VirtualClock clock;
	std::vector<std::unique_ptr<Node>> nodes;
	double loss = 0;                 // share of datagrams lost, per receiver
	std::vector<Sent> sent;          // every datagram sent, in order
	// a test's filter: true drops the datagram from -> to
	std::function<bool(size_t from, size_t to, MessageType type)> drop;
	bool partitioned = false;        // nodes of different sides cannot talk

private:
	struct Delivery {
		uint64_t at;
		uint64_t order;
		size_t to;
		Bytes datagram;
		Bytes source;
		bool operator>(const Delivery &o) const { return at != o.at ? at > o.at : order > o.order; }
	};

	void broadcast(size_t from, Bytes datagram)
	{
		if (!nodes[from]->alive)
			return;
		auto d = decode(datagram);
		MessageType type = d ? d.value().message.type : MessageType::LeaderRUThere;
		sent.push_back(Sent{from, clock.now, datagram, type});
		std::uniform_real_distribution<double> u(0, 1);
		for (size_t to = 0; to < nodes.size(); to++) {
			if (to == from)
				continue;
			if (partitioned && nodes[to]->side != nodes[from]->side)
				continue;
			if (drop && drop(from, to, type))
				continue;
			if (loss > 0 && u(rng_) < loss)
				continue;
			uint64_t delay = 1 + rng_() % 5;
			deliveries_.push(Delivery{clock.now + delay, order_++, to, datagram, nodes[from]->spec.address});
		}
	}

	std::mt19937_64 rng_;
	uint64_t seed_;
	uint64_t order_ = 0;
	std::priority_queue<Delivery, std::vector<Delivery>, std::greater<Delivery>> deliveries_;
	std::multimap<uint64_t, size_t> starts_;
};

inline Bytes ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return Bytes{a, b, c, d};
}

// 3 candidates ks1..ks3 (10.0.0.1..3) and 3 members gm1..gm3 (10.0.0.11..13).
inline std::vector<NodeSpec> three_and_three()
{
	return {
		{"ks1", ip4(10, 0, 0, 1), true, 0},   {"ks2", ip4(10, 0, 0, 2), true, 0},
		{"ks3", ip4(10, 0, 0, 3), true, 0},   {"gm1", ip4(10, 0, 0, 11), false, 0},
		{"gm2", ip4(10, 0, 0, 12), false, 0}, {"gm3", ip4(10, 0, 0, 13), false, 0},
	};
}

} // namespace groupsec::election::sim
