// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the election plugin's core; no exception crosses it.
#include "election_core.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "election_auth.h"
#include "election_fsm.h"
#include "election_msg.h"
#include "groupsec/crypto/random.h"
#include "groupsec/net/address.h"
#include "groupsec/version.h"
#include "groupsec/vici/server.h"
#include "groupsec/vici/vici_wire.h"

using groupsec::Bytes;
using groupsec::ByteView;
using namespace groupsec::election;

namespace {

template <size_t N> void copy_text(char (&dst)[N], const std::string &src)
{
	size_t n = src.size() < N - 1 ? src.size() : N - 1;
	std::memcpy(dst, src.data(), n);
	dst[n] = '\0';
}

class CallbackClock : public groupsec::crypto::Clock {
public:
	explicit CallbackClock(const election_callbacks_t &cb) : cb_(cb) {}
	uint64_t now_ms() const override { return cb_.now_ms ? cb_.now_ms(cb_.ctx) : 0; }

private:
	const election_callbacks_t &cb_;
};

// The glue's randomness if it gives one, OpenSSL's otherwise.
class CallbackRandom : public groupsec::crypto::RandomSource {
public:
	explicit CallbackRandom(const election_callbacks_t &cb) : cb_(cb) {}
	void fill(uint8_t *out, size_t len) override
	{
		if (cb_.random)
			cb_.random(cb_.ctx, out, len);
		else
			fallback_.fill(out, len);
	}

private:
	const election_callbacks_t &cb_;
	groupsec::crypto::OpenSslRandom fallback_;
};

// ELECTION_AUTH_PUBKEY: the glue signs and verifies (charon's credential
// manager); the callbacks are read when used, so they may be set later.
class CallbackSigner : public Signer {
public:
	CallbackSigner(const election_callbacks_t &cb, uint32_t group, std::string identity)
		: cb_(cb), group_(group), identity_(std::move(identity))
	{
	}
	AuthMethod method() const override { return AuthMethod::PublicKey; }
	groupsec::Result<Bytes> sign(ByteView data) const override
	{
		Bytes sig(kMaxPublicKeySignature);
		size_t len = sig.size();
		if (!cb_.sign || !cb_.sign(cb_.ctx, group_, identity_.c_str(), data.data(), data.size(), sig.data(),
					   &len) ||
		    !signature_size_ok(AuthMethod::PublicKey, len))
			return groupsec::make_error(groupsec::WireError::Unsupported,
						    "no signature by " + identity_);
		sig.resize(len);
		return sig;
	}

private:
	const election_callbacks_t &cb_;
	uint32_t group_;
	std::string identity_;
};

class CallbackVerifier : public Verifier {
public:
	CallbackVerifier(const election_callbacks_t &cb, uint32_t group, std::string identity)
		: cb_(cb), group_(group), identity_(std::move(identity))
	{
	}
	AuthMethod method() const override { return AuthMethod::PublicKey; }
	bool verify(ByteView data, ByteView signature) const override
	{
		return cb_.verify && cb_.verify(cb_.ctx, group_, identity_.c_str(), data.data(), data.size(),
						signature.data(), signature.size());
	}

private:
	const election_callbacks_t &cb_;
	uint32_t group_;
	std::string identity_;
};

// One group: configured, its peers added, then started (the state machine
// takes its peer table when it is built).
struct Group : public Transport, public ElectionListener {
	Group(const election_callbacks_t &cb, uint32_t id) : cb(cb), id(id) {}

	void send(ByteView datagram) override
	{
		if (cb.send)
			cb.send(cb.ctx, id, datagram.data(), datagram.size());
	}
	void leader_changed(const LeaderInfo &l) override
	{
		if (cb.leader_changed)
			cb.leader_changed(cb.ctx, id, l.identity.c_str(), groupsec::net::ip_text(l.address).c_str(),
					  l.self);
	}
	void election_incomplete() override
	{
		if (cb.incomplete)
			cb.incomplete(cb.ctx, id);
	}
	void merge(const std::string &from, ByteView state) override
	{
		if (cb.merge)
			cb.merge(cb.ctx, id, from.c_str(), state.data(), state.size());
	}

	const election_callbacks_t &cb;
	uint32_t id;
	std::string name;
	ElectionConfig config;
	PeerTable peers;
	std::shared_ptr<const Signer> signer;
	std::shared_ptr<ElectionFsm> fsm;
};

} // namespace

struct election_core_t {
	std::string description;
	std::string error;
	election_callbacks_t callbacks{};
	CallbackClock clock{callbacks};
	CallbackRandom random{callbacks};
	std::vector<std::unique_ptr<Group>> groups;

	Group *find(uint32_t id)
	{
		for (auto &g : groups)
			if (g->id == id)
				return g.get();
		return nullptr;
	}
	const char *fail(std::string why)
	{
		error = std::move(why);
		return error.c_str();
	}
};

namespace groupsec::election {

bool core_add(election_core_t *core, std::shared_ptr<ElectionFsm> fsm)
{
	try {
		auto g = std::make_unique<Group>(core->callbacks, fsm->config().group);
		g->config = fsm->config();
		g->fsm = std::move(fsm);
		core->groups.push_back(std::move(g));
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

void fill_snapshot(const ElectionFsm &fsm, election_snapshot_t *out)
{
	ElectionSnapshot s = fsm.snapshot();
	std::memset(out, 0, sizeof(*out));
	out->group = s.group;
	copy_text(out->state, state_name(s.state));
	copy_text(out->phase, phase_name(s.phase));
	copy_text(out->leader, s.leader.identity);
	copy_text(out->leader_address, net::ip_text(s.leader.address));
	out->leader_self = s.leader.self;
	copy_text(out->last_result, outcome_name(s.last_outcome));
	out->attempts = s.attempts;
	out->rounds = s.counters.rounds;
	out->collisions = s.counters.collisions;
	out->leader_changes = s.counters.leader_changes;
	out->received = s.counters.received;
	out->sent = s.counters.sent;
	out->malformed = s.counters.malformed;
	out->forged = s.counters.forged;
	out->replayed = s.counters.replayed;
	out->rogue = s.counters.rogue;
	out->unauthorized = s.counters.unauthorized;
	out->ignored = s.counters.ignored;
	out->replica_version = s.replica_version;
	out->replica_bytes = s.replica_bytes;
	copy_text(out->replica_from, s.replica_from);
	out->standbys = s.standbys;
	out->standbys_current = s.standbys_current;
	out->replicas_sent = s.counters.replicas_sent;
	out->replicas_received = s.counters.replicas_received;
}

} // namespace groupsec::election

extern "C" election_core_t *election_core_create(void)
{
	try {
		auto core = std::make_unique<election_core_t>();
		core->description = std::string("key server election core ") +
				    groupsec::version() + ", UDP port " +
				    std::to_string(groupsec::election::kElectionPort);
		return core.release();
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" uint16_t election_core_port(election_core_t *core)
{
	return groupsec::election::kElectionPort;
}

extern "C" const char *election_core_describe(election_core_t *core)
{
	return core->description.c_str();
}

extern "C" void election_core_destroy(election_core_t *core)
{
	std::unique_ptr<election_core_t> owned(core);
}

extern "C" void election_core_set_callbacks(election_core_t *core, const election_callbacks_t *cb)
{
	core->callbacks = *cb;
}

extern "C" const char *election_core_add_group(election_core_t *core, const election_group_conf_t *conf)
{
	try {
		if (core->find(conf->group))
			return core->fail("group " + std::to_string(conf->group) + " has an election already");
		if (!conf->identity || !*conf->identity || std::strlen(conf->identity) > kMaxIdentity)
			return core->fail("the identity must have 1 to 255 octets");
		auto ip = conf->address ? groupsec::net::parse_ip(conf->address) : std::nullopt;
		if (!ip)
			return core->fail(std::string("not an IPv4 or IPv6 address: '") +
					  (conf->address ? conf->address : "") + "'");
		ByteView key(conf->key, conf->key ? conf->key_len : 0);
		if (conf->auth == ELECTION_AUTH_PUBKEY && !key.empty())
			return core->fail("pubkey: the private key stays with the credential manager");
		groupsec::Result<std::unique_ptr<Signer>> signer =
			conf->auth == ELECTION_AUTH_PUBKEY
				? groupsec::Result<std::unique_ptr<Signer>>(std::unique_ptr<Signer>(
					  new CallbackSigner(core->callbacks, conf->group, conf->identity)))
			: conf->auth == ELECTION_AUTH_ED25519	  ? ed25519_signer(key)
			: conf->auth == ELECTION_AUTH_ECDSA_P256 ? ecdsa_p256_signer(key)
			: conf->auth == ELECTION_AUTH_GROUP_PSK	  ? group_psk_signer(key)
								  : groupsec::make_error(groupsec::WireError::Unsupported,
											 "unknown authentication method " +
												 std::to_string(conf->auth));
		if (!signer)
			return core->fail(signer.error().message);
		if (conf->name && std::strlen(conf->name) >= sizeof(election_snapshot_t{}.name))
			return core->fail(std::string("group name '") + conf->name + "' is too long");
		auto g = std::make_unique<Group>(core->callbacks, conf->group);
		g->name = conf->name ? conf->name : "";
		ElectionConfig &c = g->config;
		c.group = conf->group;
		c.identity = conf->identity;
		c.address = *ip;
		c.candidate = conf->candidate;
		c.priority = conf->priority;
		if (conf->retransmits)
			c.retransmits = conf->retransmits;
		if (conf->max_attempts)
			c.max_attempts = conf->max_attempts;
		if (conf->rogue_stack)
			c.rogue_stack = conf->rogue_stack;
		if (conf->first_sequence)
			c.first_sequence = conf->first_sequence;
		ElectionTimers &t = c.timers;
		uint64_t *fields[] = {&t.query_ms, &t.keepalive_ms, &t.listen_ms, &t.probation_ms,
				      &t.call_jitter_ms, &t.incomplete_retry_ms, &t.rogue_hold_ms};
		uint32_t values[] = {conf->query_ms, conf->keepalive_ms, conf->listen_ms, conf->probation_ms,
				     conf->call_jitter_ms, conf->incomplete_retry_ms, conf->rogue_hold_ms};
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
			if (values[i])
				*fields[i] = values[i];
		if (conf->no_replication)
			t.replica_ms = 0;
		c.await_service = conf->await_service;
		g->signer = std::move(signer).value();
		if (conf->auth == ELECTION_AUTH_GROUP_PSK)
			g->peers.set_group_verifier(
				std::shared_ptr<const Verifier>(group_psk_verifier(key).value()));
		core->groups.push_back(std::move(g));
		return nullptr;
	} catch (const std::bad_alloc &) {
		return core->fail("out of memory");
	}
}

extern "C" const char *election_core_add_peer(election_core_t *core, uint32_t group, const char *identity,
					      const uint8_t *public_key, size_t len, bool candidate)
{
	try {
		Group *g = core->find(group);
		if (!g)
			return core->fail("no election for group " + std::to_string(group));
		if (g->fsm)
			return core->fail("the election of group " + std::to_string(group) + " runs already");
		if (!identity || !*identity || std::strlen(identity) > kMaxIdentity)
			return core->fail("the identity must have 1 to 255 octets");
		std::shared_ptr<const Verifier> verifier;
		AuthMethod m = g->signer->method();
		if (m == AuthMethod::GroupPsk) {
			if (public_key && len)
				return core->fail("group key mode: peers have no keys of their own");
		} else if (m == AuthMethod::PublicKey) {
			if (public_key && len)
				return core->fail("pubkey: peers' keys stay with the credential manager");
			verifier = std::make_shared<CallbackVerifier>(core->callbacks, group, identity);
		} else {
			ByteView key(public_key, public_key ? len : 0);
			auto v = m == AuthMethod::Ed25519 ? ed25519_verifier(key) : ecdsa_p256_verifier(key);
			if (!v)
				return core->fail(std::string(identity) + ": " + v.error().message);
			verifier = std::move(v).value();
		}
		g->peers.add(identity, std::move(verifier), candidate);
		return nullptr;
	} catch (const std::bad_alloc &) {
		return core->fail("out of memory");
	}
}

extern "C" bool election_core_start(election_core_t *core, uint32_t group)
{
	try {
		Group *g = core->find(group);
		if (!g || g->fsm)
			return false;
		g->fsm = std::make_shared<ElectionFsm>(g->config, g->peers, g->signer, core->clock, core->random,
							*g, g);
		g->fsm->start();
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" void election_core_receive(election_core_t *core, const uint8_t *data, size_t len, const char *source)
{
	// the group ID at octets 12 to 15 picks the group; the state machine
	// checks everything else
	if (!data || len < 16)
		return;
	uint32_t id = static_cast<uint32_t>(data[12]) << 24 | static_cast<uint32_t>(data[13]) << 16 |
		      static_cast<uint32_t>(data[14]) << 8 | data[15];
	Group *g = core->find(id);
	if (!g || !g->fsm)
		return;
	try {
		Bytes from;
		if (source) {
			auto ip = groupsec::net::parse_ip(source);
			if (ip)
				from = *ip;
		}
		g->fsm->receive(ByteView(data, len), from);
	} catch (const std::bad_alloc &) {
	}
}

extern "C" uint64_t election_core_next_deadline(election_core_t *core)
{
	uint64_t next = kNever;
	for (auto &g : core->groups)
		if (g->fsm && g->fsm->next_deadline_ms() < next)
			next = g->fsm->next_deadline_ms();
	return next;
}

extern "C" void election_core_on_timer(election_core_t *core)
{
	try {
		for (auto &g : core->groups)
			if (g->fsm)
				g->fsm->on_timer();
	} catch (const std::bad_alloc &) {
	}
}

extern "C" bool election_core_service_ready(election_core_t *core, uint32_t group)
{
	try {
		Group *g = core->find(group);
		if (!g || !g->fsm)
			return false;
		g->fsm->service_ready();
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" bool election_core_set_replica(election_core_t *core, uint32_t group, const uint8_t *data, size_t len)
{
	try {
		Group *g = core->find(group);
		return g && g->fsm && data && g->fsm->set_replica(ByteView(data, len));
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" bool election_core_replica(election_core_t *core, uint32_t group, uint8_t **out, size_t *len,
				      uint64_t *version)
{
	Group *g = core->find(group);
	if (!g || !g->fsm || g->fsm->replica().empty())
		return false;
	const auto &r = g->fsm->replica();
	*out = static_cast<uint8_t *>(std::malloc(r.size()));
	if (!*out)
		return false;
	std::memcpy(*out, r.data(), r.size());
	*len = r.size();
	*version = g->fsm->replica_version();
	return true;
}

extern "C" size_t election_core_count(election_core_t *core)
{
	return core->groups.size();
}

extern "C" bool election_core_snapshot(election_core_t *core, size_t index, election_snapshot_t *out)
{
	if (index >= core->groups.size())
		return false;
	try {
		Group &g = *core->groups[index];
		if (g.fsm) {
			fill_snapshot(*g.fsm, out);
		} else {
			std::memset(out, 0, sizeof(*out));
			out->group = g.id;
			copy_text(out->state, state_name(State::Ready));
			copy_text(out->phase, phase_name(Phase::None));
			copy_text(out->last_result, outcome_name(Outcome::None));
		}
		copy_text(out->name, g.name);
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

namespace {

using groupsec::vici::Section;

void snapshot_section(Section &e, const election_snapshot_t &s)
{
	auto n = [](uint64_t v) { return std::to_string(v); };
	e.add_value("name", s.name);
	e.add_value("group-number", n(s.group));
	e.add_value("state", s.state);
	e.add_value("phase", s.phase);
	e.add_value("leader", s.leader);
	e.add_value("leader-address", s.leader_address);
	e.add_value("leader-self", s.leader_self ? "yes" : "no");
	e.add_value("last-result", s.last_result);
	e.add_value("attempts", n(s.attempts));
	e.add_value("rounds", n(s.rounds));
	e.add_value("collisions", n(s.collisions));
	e.add_value("leader-changes", n(s.leader_changes));
	Section &c = e.add_section("counters");
	c.add_value("received", n(s.received));
	c.add_value("sent", n(s.sent));
	c.add_value("malformed", n(s.malformed));
	c.add_value("forged", n(s.forged));
	c.add_value("replayed", n(s.replayed));
	c.add_value("rogue", n(s.rogue));
	c.add_value("unauthorized", n(s.unauthorized));
	c.add_value("ignored", n(s.ignored));
	Section &r = e.add_section("replica");
	r.add_value("version", n(s.replica_version));
	r.add_value("bytes", n(s.replica_bytes));
	r.add_value("from", s.replica_from);
	r.add_value("standbys", n(s.standbys));
	r.add_value("standbys-current", n(s.standbys_current));
	r.add_value("sent", n(s.replicas_sent));
	r.add_value("received", n(s.replicas_received));
}

bool give(const Section &m, uint8_t **out, size_t *out_len)
{
	auto b = groupsec::vici::encode_message(m);
	if (!b)
		return false;
	*out = static_cast<uint8_t *>(std::malloc(b.value().size() ? b.value().size() : 1));
	if (!*out)
		return false;
	std::memcpy(*out, b.value().data(), b.value().size());
	*out_len = b.value().size();
	return true;
}

} // namespace

extern "C" bool election_core_list_message(election_core_t *core, const uint8_t *request, size_t len,
					   uint8_t **out, size_t *out_len)
{
	try {
		auto req = groupsec::vici::decode_message(ByteView(request, len));
		Section reply;
		if (!req)
			return give(groupsec::vici::failure_message("list-elections: " + req.error().message), out,
				    out_len);
		std::string want;
		for (const auto &e : req.value().entries()) {
			if (e.name != "group")
				return give(groupsec::vici::failure_message("list-elections: unknown argument '" +
									    e.name + "'"),
					    out, out_len);
			const std::string *v = req.value().value("group");
			if (!v)
				return give(groupsec::vici::failure_message(
						    "list-elections: argument 'group' must be a value, not a list"),
					    out, out_len);
			want = *v;
		}
		bool found = want.empty();
		Section list;
		for (size_t i = 0; i < core->groups.size(); i++) {
			election_snapshot_t s;
			if (!election_core_snapshot(core, i, &s))
				return false;
			if (!want.empty() && want != s.name)
				continue;
			found = true;
			snapshot_section(list.add_section(*s.name ? s.name : "#" + std::to_string(i)), s);
		}
		if (!found)
			return give(groupsec::vici::failure_message("list-elections: no election '" + want + "'"), out,
				    out_len);
		reply.add_value("success", "yes");
		reply.add_section("elections") = std::move(list);
		return give(reply, out, out_len);
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" bool election_core_event_message(election_core_t *core, uint32_t group, uint8_t **out,
					    size_t *out_len)
{
	try {
		for (size_t i = 0; i < core->groups.size(); i++) {
			if (core->groups[i]->id != group)
				continue;
			election_snapshot_t s;
			if (!election_core_snapshot(core, i, &s))
				return false;
			Section m;
			m.add_value("group", s.name); // as every event names its group
			snapshot_section(m, s);
			return give(m, out, out_len);
		}
		return false;
	} catch (const std::bad_alloc &) {
		return false;
	}
}
