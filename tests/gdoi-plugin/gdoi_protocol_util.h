// SPDX-License-Identifier: GPL-2.0-or-later
// An in-memory network of G-IKEv2 engines for the protocol tests: a shared
// fake clock, deterministic randomness, credentials with PSKs and real
// ECDSA P-256 keys, and SA sinks that record what members install; the
// base fixtures with a key server, its members and their configurations.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gdoi_engine.h"
#include "gikev2.h"

namespace groupsec::gdoi::test {

class FakeClock : public Clock {
public:
	uint64_t now_ms() const override { return t; }
	uint64_t t = 1000000;
};

class FakeRandom : public Random {
public:
	explicit FakeRandom(uint64_t seed) : rng_(seed) {}
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(rng_());
	}

private:
	std::mt19937_64 rng_;
};

struct PkeyFree {
	void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey new_ec_key()
{
	return Pkey(EVP_EC_gen("P-256"));
}

// ecdsa-with-SHA256 AlgorithmIdentifier (RFC 7427 A.3).
inline Bytes ecdsa_sha256_alg()
{
	return {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
}

class FakeCredentials : public Credentials {
public:
	void add_psk(const Identity &a, const Identity &b, const std::string &key)
	{
		psk_[{a, b}] = Bytes(key.begin(), key.end());
		psk_[{b, a}] = Bytes(key.begin(), key.end());
	}
	// identity gets a private key; everyone trusts its public key
	void add_key(const Identity &id)
	{
		keys_[id] = new_ec_key();
	}
	void remove_key(const Identity &id) { keys_.erase(id); }
	// signatures of id are made with a key nobody trusts
	void forge(const Identity &id) { forged_.insert(id); }
	void unforge(const Identity &id) { forged_.erase(id); }

	std::optional<Bytes> shared_key(const Identity &local, const Identity &remote) override
	{
		auto it = psk_.find({local, remote});
		if (it == psk_.end())
			return std::nullopt;
		return it->second;
	}
	std::optional<Bytes> sign(const Identity &signer, ByteView octets) override
	{
		auto it = keys_.find(signer);
		if (it == keys_.end())
			return std::nullopt;
		sign_calls++;
		EVP_PKEY *key = it->second.get();
		Pkey rogue;
		if (forged_.count(signer)) {
			rogue = new_ec_key();
			key = rogue.get();
		}
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		size_t len = 0;
		Bytes sig;
		if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
		    EVP_DigestSign(ctx, nullptr, &len, octets.data(), octets.size()) == 1) {
			sig.resize(len);
			if (EVP_DigestSign(ctx, sig.data(), &len, octets.data(), octets.size()) == 1)
				sig.resize(len);
			else
				sig.clear();
		}
		EVP_MD_CTX_free(ctx);
		if (sig.empty())
			return std::nullopt;
		Bytes alg = ecdsa_sha256_alg();
		Bytes out{static_cast<uint8_t>(alg.size())};
		out.insert(out.end(), alg.begin(), alg.end());
		out.insert(out.end(), sig.begin(), sig.end());
		return out;
	}
	bool verify(const Identity &signer, ByteView octets, ByteView auth, const std::string &group,
		    PeerRole role) override
	{
		verify_calls++;
		verified_as.emplace_back(group, role);
		auto it = keys_.find(signer);
		return it != keys_.end() && verify_key(it->second.get(), octets, auth);
	}
	// RFC 9838 AUTH_KEY: keys by their DER SubjectPublicKeyInfo
	std::optional<Bytes> public_key(const Identity &signer) override
	{
		auto it = keys_.find(signer);
		if (it == keys_.end())
			return std::nullopt;
		return spki(it->second.get());
	}
	std::optional<Bytes> sign_with(ByteView key, ByteView octets) override
	{
		for (auto &[id, k] : keys_)
			if (spki(k.get()) == key.to_bytes())
				return sign(id, octets);
		for (auto &[id, k] : retired_)
			if (spki(k.get()) == key.to_bytes()) {
				Pkey keep = std::move(keys_[id]);
				keys_[id] = std::move(k);
				auto r = sign(id, octets);
				k = std::move(keys_[id]);
				keys_[id] = std::move(keep);
				return r;
			}
		return std::nullopt;
	}
	bool verify_with(ByteView key, ByteView octets, ByteView auth) override
	{
		verify_calls++;
		Bytes der = key.to_bytes();
		const uint8_t *p = der.data();
		Pkey k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
		return k && verify_key(k.get(), octets, auth);
	}
	std::vector<Bytes> trusted_keys(const Identity &peer) override
	{
		auto it = pinned_.find(peer);
		return it == pinned_.end() ? std::vector<Bytes>{} : it->second;
	}
	// identity gets a new key; the old one stays loaded (retire = false)
	// or goes (retire = true)
	void rotate_key(const Identity &id, bool keep_old = true)
	{
		if (keep_old)
			retired_[id] = std::move(keys_[id]);
		keys_[id] = new_ec_key();
	}
	// identity's trusted keys (trusted_keys()) are these; its loaded key
	// if none are given
	void pin(const Identity &id, std::vector<Bytes> keys = {})
	{
		if (keys.empty() && keys_.count(id))
			keys.push_back(spki(keys_[id].get()));
		pinned_[id] = std::move(keys);
	}
	static Bytes spki(EVP_PKEY *k)
	{
		int n = i2d_PUBKEY(k, nullptr);
		Bytes out(n > 0 ? size_t(n) : 0);
		uint8_t *p = out.data();
		if (n > 0)
			i2d_PUBKEY(k, &p);
		return out;
	}
	int sign_calls = 0;
	int verify_calls = 0;
	// the group and role of each verify() call
	std::vector<std::pair<std::string, PeerRole>> verified_as;

private:
	static bool verify_key(EVP_PKEY *key, ByteView octets, ByteView auth)
	{
		Bytes alg = ecdsa_sha256_alg();
		if (auth.size() <= alg.size() + 1 || auth[0] != alg.size() ||
		    !std::equal(alg.begin(), alg.end(), auth.begin() + 1))
			return false;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
			  EVP_DigestVerify(ctx, auth.data() + 1 + alg.size(), auth.size() - 1 - alg.size(),
					   octets.data(), octets.size()) == 1;
		EVP_MD_CTX_free(ctx);
		return ok;
	}
	std::map<std::pair<Identity, Identity>, Bytes> psk_;
	std::map<Identity, Pkey> keys_;
	std::map<Identity, Pkey> retired_;
	std::set<Identity> forged_;
	std::map<Identity, std::vector<Bytes>> pinned_;
};

class RecordingSink : public SaSink {
public:
	bool install(const TekSa &sa) override
	{
		installed[{sa.group, sa.spi}] = sa;
		ever.push_back(sa);
		return true;
	}
	void remove(const std::string &group, uint32_t spi) override
	{
		installed.erase({group, spi});
		removed.push_back(spi);
	}
	bool activate(const std::string &group, uint32_t spi) override
	{
		auto it = installed.find({group, spi});
		if (it == installed.end())
			return false;
		it->second.outbound = true;
		activated.push_back(spi);
		return true;
	}
	bool has(uint32_t spi) const
	{
		for (auto &[k, v] : installed)
			if (k.second == spi)
				return true;
		return false;
	}
	bool ever_had(uint32_t spi) const
	{
		for (const TekSa &s : ever)
			if (s.spi == spi)
				return true;
		return false;
	}
	std::map<std::pair<std::string, uint32_t>, TekSa> installed;
	std::vector<TekSa> ever;
	std::vector<uint32_t> removed;
	std::vector<uint32_t> activated;
};

// What an engine reports to its key log: IKE SA keys, Rekey SAs, and the
// keys a member learned, in order.
class RecordingKeyLog : public KeyLog {
public:
	struct IkeSaKeys {
		uint64_t spi_i = 0, spi_r = 0;
		SkKeys initiator, responder;
	};
	struct MemberKey {
		std::string group, kind, id;
		SecretBytes value;
		uint64_t epoch = 0;
	};
	void ike_sa(uint64_t spi_i, uint64_t spi_r, const SkKeys &initiator, const SkKeys &responder) override
	{
		ike_sas.push_back(IkeSaKeys{spi_i, spi_r, initiator, responder});
	}
	void rekey_sa(ByteView spi, const SkKeys &keys) override { rekey_sas.emplace_back(spi.to_bytes(), keys); }
	void member_key(const std::string &group, const std::string &kind, const std::string &id, ByteView value,
			uint64_t epoch) override
	{
		member_keys.push_back(MemberKey{group, kind, id, value.to_bytes(), epoch});
	}
	std::vector<MemberKey> of_kind(const std::string &kind) const
	{
		std::vector<MemberKey> out;
		for (const MemberKey &k : member_keys)
			if (k.kind == kind)
				out.push_back(k);
		return out;
	}
	std::vector<IkeSaKeys> ike_sas;
	std::vector<std::pair<Bytes, SkKeys>> rekey_sas;
	std::vector<MemberKey> member_keys;
};

struct Datagram {
	Address from, to;
	Bytes data;
};

// Makes the named step fail (FaultInjector), or none.
class FaultSwitch : public FaultInjector {
public:
	bool fail(const char *s) override { return !step.empty() && step == s; }
	std::string step;
};

class Net;

class NetTransport : public Transport {
public:
	explicit NetTransport(Net *n) : net_(n) {}
	bool send(const Address &local, const Address &remote, ByteView datagram) override;

private:
	Net *net_;
};

// What the engine reported on its event interface, one line each:
// "member-registered blue gm1.example.net again=no members=1".
struct RecordingEvents : EngineEvents {
	void member_registered(const std::string &group, const MemberState &m, bool again, size_t members) override
	{
		log.push_back("member-registered " + group + " " + m.id.str() + " again=" + (again ? "yes" : "no") +
			      " members=" + std::to_string(members));
	}
	void member_left(const std::string &group, const Identity &member, const char *reason,
			 size_t members) override
	{
		log.push_back("member-left " + group + " " + member.str() + " " + reason +
			      " members=" + std::to_string(members));
	}
	void member_evicted(const std::string &group, const Identity &member, size_t members) override
	{
		log.push_back("member-evicted " + group + " " + member.str() + " members=" + std::to_string(members));
	}
	void rekey(const std::string &group, bool server, uint32_t message_id, bool new_kek) override
	{
		log.push_back("rekey " + group + (server ? " server" : " member") + " id=" + std::to_string(message_id) +
			      (server ? (new_kek ? " new-kek" : " same-kek") : ""));
	}
	std::vector<std::string> log;
};

// Shortcut SA messages and channel changes the engine reported:
// "message blue server=yes gm1.example.net 0102", "channel blue
// server=no @gcks.example.net up".
struct RecordingShortcuts : ShortcutSink {
	void shortcut_message(const std::string &group, bool server, const Identity &peer, ByteView message) override
	{
		std::string hex;
		static const char *digits = "0123456789abcdef";
		for (uint8_t b : message) {
			hex += digits[b >> 4];
			hex += digits[b & 15];
		}
		log.push_back("message " + group + " server=" + (server ? "yes " : "no ") + peer.str() + " " + hex);
		if (on_message)
			on_message(group, server, peer, message);
		if (next)
			next->shortcut_message(group, server, peer, message);
	}
	void shortcut_channel(const std::string &group, bool server, const Identity &peer, const Address &address,
			      bool up) override
	{
		log.push_back("channel " + group + " server=" + (server ? "yes " : "no ") + peer.str() +
			      (up ? " up" : " down"));
		if (next)
			next->shortcut_channel(group, server, peer, address, up);
	}
	void shortcut_moved(const std::string &group, bool server, const Identity &peer, const Address &address) override
	{
		log.push_back("moved " + group + " server=" + (server ? "yes " : "no ") + peer.str() + " " + address.str());
		if (next)
			next->shortcut_moved(group, server, peer, address);
	}
	std::vector<std::string> log;
	ShortcutSink *next = nullptr; // gets every call too
	std::function<void(const std::string &, bool, const Identity &, ByteView)> on_message;
};

// One engine and what it listens on.
struct Node {
	Node(Net *net, FakeClock *clock, FakeCredentials *creds, uint64_t seed)
		: transport(net), random(seed),
		  engine(EngineDeps{&transport, clock, &random, creds, &sink, &keylog, &faults, nullptr, nullptr,
				    &events, &shortcuts})
	{
	}
	NetTransport transport;
	FakeRandom random;
	RecordingSink sink;
	RecordingKeyLog keylog;
	FaultSwitch faults;
	RecordingEvents events;
	RecordingShortcuts shortcuts;
	Engine engine;
	std::vector<Address> addresses;

	// A snapshot of the group's state; it stays valid for the test.
	const GroupState *group(const std::string &name)
	{
		snapshots.push_back(engine.groups());
		for (const GroupState &g : snapshots.back())
			if (g.name == name)
				return &g;
		return nullptr;
	}
	std::deque<std::vector<GroupState>> snapshots;
};

class Net {
public:
	Node &add(std::vector<Address> addrs, FakeCredentials *creds)
	{
		nodes.push_back(std::make_unique<Node>(this, &clock, creds, 1000 + nodes.size()));
		nodes.back()->addresses = std::move(addrs);
		return *nodes.back();
	}
	void push(Datagram d) { queue.push_back(std::move(d)); }
	// Delivers until nothing is in flight.
	void run()
	{
		for (int guard = 0; !queue.empty() && guard < 100000; guard++) {
			Datagram d = std::move(queue.front());
			queue.pop_front();
			log.push_back(d);
			if (drop && drop(d))
				continue;
			deliver(d);
		}
	}
	void deliver(const Datagram &d)
	{
		for (auto &n : nodes)
			for (const Address &a : n->addresses)
				if (a == d.to)
					n->engine.receive(d.to, d.from, d.data);
	}
	// Ticks every engine at the current time, then delivers.
	void tick()
	{
		for (auto &n : nodes)
			n->engine.tick();
		run();
	}
	// Moves the clock in steps of at most step_ms, ticking each time.
	void advance(uint64_t ms, uint64_t step_ms = 1000)
	{
		uint64_t end = clock.t + ms;
		while (clock.t < end) {
			clock.t = std::min(end, clock.t + step_ms);
			tick();
		}
	}
	std::vector<Datagram> sent_with_exchange(uint8_t exchange) const
	{
		std::vector<Datagram> out;
		for (const Datagram &d : log)
			if (d.data.size() >= 28 && d.data[18] == exchange)
				out.push_back(d);
		return out;
	}

	FakeClock clock;
	std::vector<std::unique_ptr<Node>> nodes;
	std::deque<Datagram> queue;
	std::vector<Datagram> log;
	std::function<bool(const Datagram &)> drop;
};

inline bool NetTransport::send(const Address &local, const Address &remote, ByteView datagram)
{
	net_->push(Datagram{local, remote, datagram.to_bytes()});
	return true;
}

inline Address addr(const std::string &ip, uint16_t port = 848)
{
	return *Address::parse(ip, port);
}

inline Identity id(const std::string &s)
{
	return *Identity::parse(s);
}

inline TrafficSelector range4(const std::string &a, const std::string &b)
{
	TrafficSelector t;
	t.start_address = addr(a).ip;
	t.end_address = addr(b).ip;
	return t;
}

inline constexpr uint8_t kInit = static_cast<uint8_t>(ExchangeType::IkeSaInit);
inline constexpr uint8_t kAuth = static_cast<uint8_t>(ExchangeType::GsaAuth);
inline constexpr uint8_t kRegistration = static_cast<uint8_t>(ExchangeType::GsaRegistration);
inline constexpr uint8_t kRekey = static_cast<uint8_t>(ExchangeType::GsaRekey);
inline constexpr uint8_t kInband = static_cast<uint8_t>(ExchangeType::GsaInbandRekey);

// The identities and configurations of group blue: a key server with a
// signing key and members gm1, gm2, ... with a PSK each. By default the
// key server is @gcks.example.net at 192.0.2.1 and gm1..gm4 are at
// 198.51.100.1..4; fixtures that want others override SetUp().
class GroupConfigTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		set_server();
		for (int n = 1; n <= 4; n++)
			add_gm(n, addr("198.51.100." + std::to_string(n)));
	}

	void set_server(const Address &a = addr("192.0.2.1"), const Identity &ks = id("@gcks.example.net"),
			const Identity &group = id("@#626c7565"))
	{
		gcks_addr = a;
		gcks_id = ks;
		group_id = group;
		creds.add_key(gcks_id);
	}

	// Member gm<n>.example.net at address a, with PSK "psk-of-gm<n>".
	void add_gm(int n, const Address &a)
	{
		gm_ids.push_back(id("gm" + std::to_string(n) + ".example.net"));
		gm_addrs.push_back(a);
		creds.add_psk(gcks_id, gm_ids.back(), "psk-of-gm" + std::to_string(n));
	}

	// The key server of group blue: gm1..gm3 authorized, one TEK policy
	// for 10.0.0.0/8.
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c;
		c.name = "blue";
		c.group_id = group_id;
		c.local_id = gcks_id;
		c.listen = {gcks_addr};
		c.authorized = {gm_ids[0], gm_ids[1], gm_ids[2]};
		TekPolicyConfig t;
		t.source = range4("10.0.0.0", "10.255.255.255");
		t.destination = t.source;
		c.teks = {t};
		return c;
	}

	// Member i (gm<i+1>) of group blue.
	GmGroupConfig member_config(size_t i)
	{
		GmGroupConfig c;
		c.name = "blue";
		c.group_id = group_id;
		c.local_id = gm_ids[i];
		c.server_id = gcks_id;
		c.local = gm_addrs[i];
		c.servers = {gcks_addr};
		return c;
	}

	Net net;
	FakeCredentials creds;
	Address gcks_addr;
	Identity gcks_id, group_id;
	std::vector<Identity> gm_ids;
	std::vector<Address> gm_addrs;
};

// The same with engines on the in-memory network (Node).
class GroupTest : public GroupConfigTest {
protected:
	// The SPI of the group's current TEK at node n.
	uint32_t current_spi(Node &n, const std::string &group = "blue")
	{
		uint32_t spi = 0;
		for (const SaState &s : n.group(group)->sas)
			if (s.current)
				spi = s.spi;
		return spi;
	}

	Node *gcks = nullptr;
	std::vector<Node *> gms;
};

} // namespace groupsec::gdoi::test
