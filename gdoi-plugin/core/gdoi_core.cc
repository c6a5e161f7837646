// SPDX-License-Identifier: GPL-2.0-or-later
// The C boundary of the gdoi plugin's core; no exception crosses it.
#include "gdoi_core.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>

#include <openssl/crypto.h>

#include "control.h"
#include "gdoi_config.h"
#include "gdoi_dataplane.h"
#include "gdoi_engine.h"
#include "gcks/gcks_snapshot.h"
#include "gikev2.h"
#include "groupsec/base/hex.h"
#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/random.h"
#include "groupsec/json.h"
#include "groupsec/version.h"

using namespace groupsec::gdoi;

namespace {

Address to_address(const gdoi_addr_t &a)
{
	Address r;
	r.ip.assign(a.ip, a.ip + (a.len == 16 ? 16 : 4));
	r.port = a.port;
	return r;
}

gdoi_addr_t from_address(const Address &a)
{
	gdoi_addr_t r{};
	r.len = a.ip.size() == 16 ? 16 : 4;
	memcpy(r.ip, a.ip.data(), std::min<size_t>(a.ip.size(), r.len));
	r.port = a.port;
	return r;
}

gdoi_ts_t from_ts(const TrafficSelector &ts)
{
	gdoi_ts_t r{};
	Address from{ts.start_address, 0}, to{ts.end_address, 0};
	r.from = from_address(from);
	r.to = from_address(to);
	r.protocol = ts.ip_protocol;
	r.from_port = ts.start_port;
	r.to_port = ts.end_port;
	return r;
}

gdoi_id_t from_identity(const Identity &id)
{
	return gdoi_id_t{id.type, id.data.data(), id.data.size()};
}

// The glue's callbacks as the engine's and data plane's interfaces.
class Callbacks : public Transport, public Credentials, public KernelOps, public Log, public EvictionStore {
public:
	explicit Callbacks(const gdoi_core_env_t &env) : env_(env) {}
	const gdoi_core_env_t &env() const { return env_; }

	// whether the glue keeps evicted identities
	bool stores_evictions() const { return env_.load_evicted && env_.save_evicted; }

	bool send(const Address &local, const Address &remote, ByteView datagram) override
	{
		gdoi_addr_t l = from_address(local), r = from_address(remote);
		return env_.send(env_.ctx, &l, &r, datagram.data(), datagram.size());
	}

	std::optional<Bytes> shared_key(const Identity &local, const Identity &remote) override
	{
		gdoi_id_t l = from_identity(local), r = from_identity(remote);
		uint8_t key[512];
		size_t len = sizeof(key);
		if (!env_.shared_key || !env_.shared_key(env_.ctx, &l, &r, key, &len)) {
			return std::nullopt;
		}
		Bytes k(key, key + std::min(len, sizeof(key)));
		OPENSSL_cleanse(key, sizeof(key));
		return k;
	}

	std::optional<Bytes> sign(const Identity &signer, ByteView octets) override
	{
		gdoi_id_t s = from_identity(signer);
		uint8_t *auth = nullptr;
		size_t len = 0;
		if (!env_.sign || !env_.sign(env_.ctx, &s, octets.data(), octets.size(), &auth, &len)) {
			return std::nullopt;
		}
		Bytes r(auth, auth + len);
		free(auth);
		return r;
	}

	bool verify(const Identity &signer, ByteView octets, ByteView auth_data, const std::string &group,
		    PeerRole role) override
	{
		gdoi_id_t s = from_identity(signer);
		gdoi_peer_role_t r = role == PeerRole::KeyServer ? GDOI_PEER_KEY_SERVER : GDOI_PEER_MEMBER;
		return env_.verify && env_.verify(env_.ctx, &s, group.c_str(), r, octets.data(), octets.size(),
						  auth_data.data(), auth_data.size());
	}

	std::optional<Bytes> public_key(const Identity &signer) override
	{
		gdoi_id_t s = from_identity(signer);
		uint8_t *spki = nullptr;
		size_t len = 0;
		if (!env_.public_key || !env_.public_key(env_.ctx, &s, &spki, &len))
			return std::nullopt;
		Bytes r(spki, spki + len);
		free(spki);
		return r;
	}

	std::optional<Bytes> sign_with(ByteView spki, ByteView octets) override
	{
		uint8_t *auth = nullptr;
		size_t len = 0;
		if (!env_.sign_with ||
		    !env_.sign_with(env_.ctx, spki.data(), spki.size(), octets.data(), octets.size(), &auth, &len))
			return std::nullopt;
		Bytes r(auth, auth + len);
		free(auth);
		return r;
	}

	bool verify_with(ByteView spki, ByteView octets, ByteView auth_data) override
	{
		return env_.verify_with && env_.verify_with(env_.ctx, spki.data(), spki.size(), octets.data(),
							    octets.size(), auth_data.data(), auth_data.size());
	}

	std::vector<Bytes> trusted_keys(const Identity &peer) override
	{
		std::vector<Bytes> out;
		if (!env_.trusted_keys)
			return out;
		gdoi_id_t p = from_identity(peer);
		env_.trusted_keys(
			env_.ctx, &p,
			[](void *list, const uint8_t *spki, size_t len) {
				static_cast<std::vector<Bytes> *>(list)->emplace_back(spki, spki + len);
			},
			&out);
		return out;
	}

	bool add_sa(const KernelSa &sa) override
	{
		gdoi_kernel_sa_t k = to_c(sa);
		return env_.add_sa(env_.ctx, &k);
	}

	void del_sa(const KernelSa &sa) override
	{
		gdoi_kernel_sa_t k = to_c(sa);
		env_.del_sa(env_.ctx, &k);
	}

	bool add_policy(const KernelPolicy &p) override
	{
		gdoi_kernel_policy_t k = to_c(p);
		return env_.add_policy(env_.ctx, &k);
	}

	void del_policy(const KernelPolicy &p) override
	{
		gdoi_kernel_policy_t k = to_c(p);
		env_.del_policy(env_.ctx, &k);
	}

	std::optional<SaUsage> query_sa(const KernelSa &sa) const override
	{
		if (!env_.query_sa)
			return std::nullopt;
		gdoi_kernel_sa_t k = to_c(sa);
		SaUsage u;
		if (!env_.query_sa(env_.ctx, &k, &u.bytes, &u.packets))
			return std::nullopt;
		return u;
	}

	std::optional<std::string> unsupported(SaMode mode) const override
	{
		if (mode != SaMode::Transport || !env_.no_transport) {
			return std::nullopt;
		}
		const char *why = env_.no_transport(env_.ctx);
		if (!why) {
			return std::nullopt;
		}
		return std::string(why);
	}

	void log(gdoi_log_level_t level, const std::string &msg)
	{
		if (env_.log) {
			env_.log(env_.ctx, level, msg.c_str());
		}
	}

	void error(const std::string &msg) override { log(GDOI_LOG_ERROR, msg); }
	void warning(const std::string &msg) override { log(GDOI_LOG_WARNING, msg); }

	Result<std::vector<Identity>> load(const std::string &group) override
	{
		std::vector<Identity> ids;
		char err[512] = "";
		auto add = [](void *list, const gdoi_id_t *id) {
			auto *out = static_cast<std::vector<Identity> *>(list);
			Identity i;
			i.type = id->type;
			i.data.assign(id->data, id->data + id->len);
			out->push_back(std::move(i));
		};
		if (!env_.load_evicted(env_.ctx, group.c_str(), add, &ids, err, sizeof(err))) {
			return make_error(WireError::BadValue, err[0] ? err : "cannot be read");
		}
		return ids;
	}

	Result<Done> store(const std::string &group, const std::vector<Identity> &evicted) override
	{
		std::vector<gdoi_id_t> ids;
		for (const Identity &id : evicted) {
			ids.push_back(from_identity(id));
		}
		char err[512] = "";
		if (!env_.save_evicted(env_.ctx, group.c_str(), ids.data(), ids.size(), err, sizeof(err))) {
			return make_error(WireError::BadValue, err[0] ? err : "cannot be written");
		}
		return Done{};
	}

private:
	static gdoi_kernel_sa_t to_c(const KernelSa &sa)
	{
		gdoi_kernel_sa_t k{};
		k.src = from_address(sa.source);
		k.dst = from_address(sa.destination);
		k.spi = sa.spi;
		k.reqid = sa.reqid;
		k.inbound = sa.inbound;
		k.encryption = sa.encryption;
		k.enc_key = sa.encryption_key.data();
		k.enc_key_len = sa.encryption_key.size();
		k.integrity = sa.integrity;
		k.int_key = sa.integrity_key.data();
		k.int_key_len = sa.integrity_key.size();
		k.lifetime = sa.lifetime_s;
		k.replay_window = sa.replay_window;
		k.transport = sa.transport;
		return k;
	}

	static gdoi_kernel_policy_t to_c(const KernelPolicy &p)
	{
		gdoi_kernel_policy_t k{};
		k.src = from_ts(p.source);
		k.dst = from_ts(p.destination);
		k.dir = p.direction == PolicyDirection::In    ? GDOI_POLICY_IN
			: p.direction == PolicyDirection::Out ? GDOI_POLICY_OUT
							      : GDOI_POLICY_FWD;
		k.tunnel_src = from_address(p.tunnel_source);
		k.tunnel_dst = from_address(p.tunnel_destination);
		k.spi = p.spi;
		k.reqid = p.reqid;
		k.transport = p.transport;
		return k;
	}

	gdoi_core_env_t env_;
};

// The key logs the glue asked for: lines of Wireshark's IKEv2 decryption
// table (the format strongSwan's save-keys plugin writes:
// SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ") to save_keys, and the
// member key material log (one JSON object a line) to save_member_key.
class GlueKeyLog : public KeyLog {
public:
	explicit GlueKeyLog(const gdoi_core_env_t &env) : env_(env) {}

	void ike_sa(uint64_t spi_i, uint64_t spi_r, const SkKeys &initiator, const SkKeys &responder) override
	{
		emit(spi_i, spi_r, initiator, responder);
	}

	void rekey_sa(ByteView spi, const SkKeys &keys) override
	{
		if (spi.size() != 16 || !env_.save_keys) {
			return;
		}
		uint64_t i = 0, r = 0;
		for (size_t n = 0; n < 8; n++) {
			i = i << 8 | spi[n];
			r = r << 8 | spi[8 + n];
		}
		// one key set for the messages of either direction
		emit(i, r, keys, keys);
	}

	void member_key(const std::string &group, const std::string &kind, const std::string &id, ByteView value,
			uint64_t epoch) override
	{
		if (env_.save_member_key) {
			std::string line = member_line(group, kind, id, value, epoch);
			env_.save_member_key(env_.ctx, line.c_str());
			OPENSSL_cleanse(line.data(), line.size());
		}
	}

	// {"group":"blue","kind":"tek","id":"1a2b3c4d","key":"<hex>","epoch":0}
	static std::string member_line(const std::string &group, const std::string &kind, const std::string &id,
				       ByteView value, uint64_t epoch)
	{
		groupsec::JsonWriter w;
		w.begin_object();
		w.key("group").value(group);
		w.key("kind").value(kind);
		w.key("id").value(id);
		std::string key = hex(value);
		w.key("key").value(key);
		OPENSSL_cleanse(key.data(), key.size());
		w.key("epoch").value(epoch);
		w.end_object();
		return w.str();
	}

	static std::string line(uint64_t spi_i, uint64_t spi_r, const SkKeys &a, const SkKeys &b)
	{
		char spis[40];
		snprintf(spis, sizeof(spis), "%016llx,%016llx", static_cast<unsigned long long>(spi_i),
			 static_cast<unsigned long long>(spi_r));
		unsigned bits = static_cast<unsigned>(a.encryption_key.size() * 8);
		std::string l = spis;
		if (a.cipher == SkCipher::AesGcm16) {
			l += "," + hex(a.encryption_key) + hex(a.salt) + "," + hex(b.encryption_key) + hex(b.salt) +
			     ",\"AES-GCM-" + std::to_string(bits) + " with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"";
		} else {
			l += "," + hex(a.encryption_key) + "," + hex(b.encryption_key) + ",\"AES-CBC-" +
			     std::to_string(bits) + " [RFC3602]\"," + hex(a.integrity_key) + "," + hex(b.integrity_key) +
			     ",\"HMAC_SHA2_256_128 [RFC4868]\"";
		}
		return l;
	}

private:
	static std::string hex(ByteView b) { return groupsec::to_hex(b); }

	void emit(uint64_t spi_i, uint64_t spi_r, const SkKeys &a, const SkKeys &b)
	{
		if (env_.save_keys) {
			env_.save_keys(env_.ctx, line(spi_i, spi_r, a, b).c_str());
		}
	}

	gdoi_core_env_t env_;
};

// The member's data plane, reporting what it installs and removes on the
// control socket's event streams.
class EventingSaSink : public SaSink {
public:
	EventingSaSink(SaSink &inner, ControlServer &events) : inner_(inner), events_(events) {}

	bool install(const TekSa &sa) override
	{
		if (!inner_.install(sa)) {
			return false;
		}
		shown_[{sa.group, sa.spi}] = {sa.encryption, sa.lifetime_s};
		events_.sa_installed(sa.group, sa.spi, sa.outbound, sa.encryption, sa.lifetime_s);
		return true;
	}

	std::optional<std::string> refuse(const std::string &group, SaMode mode) const override
	{
		return inner_.refuse(group, mode);
	}

	void remove(const std::string &group, uint32_t spi) override
	{
		inner_.remove(group, spi);
		shown_.erase({group, spi});
		events_.sa_removed(group, spi);
	}

	bool activate(const std::string &group, uint32_t spi) override
	{
		if (!inner_.activate(group, spi)) {
			return false;
		}
		auto it = shown_.find({group, spi});
		if (it != shown_.end()) {
			events_.sa_installed(group, spi, true, it->second.first, it->second.second);
		}
		return true;
	}

private:
	SaSink &inner_;
	ControlServer &events_;
	// (encryption, lifetime) of each installed SA, to report its activation
	std::map<std::pair<std::string, uint32_t>, std::pair<uint16_t, uint32_t>> shown_;
};

} // namespace

struct gdoi_core_t;

namespace {

// The control socket's view of the engine and the member data plane.
class EngineControl : public ControlTarget {
public:
	explicit EngineControl(gdoi_core_t &core) : core_(core) {}

	std::vector<GroupState> groups() const override;
	uint64_t now_ms() const override;
	Result<Done> rekey(const std::string &group) override;
	Result<Done> reregister(const std::string &group) override;
	Result<Done> evict(const std::string &group, const std::string &member) override;
	Result<Done> exclude(const std::string &group, const std::string &member) override;
	Result<Done> readmit(const std::string &group, const std::string &member) override;
	Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &endpoint) override;
	Result<Done> remove_endpoint(const std::string &group, const Address &gateway) override;
	Result<std::vector<TunnelEndpoint>> endpoints(const std::string &group) const override;
	std::optional<SaTraffic> sa_traffic(const std::string &group, uint32_t spi) const override;
	std::vector<GroupRoutingKey> routing_keys() const override;
	IkeSaCounts ike_sa_counts() const override;
	Result<Done> check_config(const std::string &source, const ConfigSettings &settings) override;
	Result<std::string> load_config(const std::string &source, const ConfigSettings &settings) override;
	Result<Done> unload_config(const std::string &source) override;
	std::vector<groupsec::gdoi::shortcut::ShortcutGroupView> shortcuts() const override;
	Result<uint32_t> request_shortcut(const std::string &group, const std::string &a,
					  const std::string &b) override;
	Result<Done> remove_shortcut(const std::string &group, uint32_t id) override;

private:
	Result<Done> member_group(const std::string &group) const;

	gdoi_core_t &core_;
};

} // namespace

struct gdoi_control_conn_t {
	explicit gdoi_control_conn_t(ControlServer &server) : connection(server) {}
	ControlConnection connection;
};

struct gdoi_core_t {
	gdoi_core_t(const gdoi_core_env_t &env, uint32_t reqid_base)
		: callbacks(env), keylog(env), dataplane(callbacks, reqid_base),
		  shortcuts(callbacks, clock, random), control(*this), server(control), sas(dataplane, server)
	{
		EngineDeps deps;
		if (env.save_keys || env.save_member_key) {
			deps.keylog = &keylog;
		}
		deps.transport = &callbacks;
		deps.clock = &clock;
		deps.random = &random;
		deps.credentials = &callbacks;
		deps.sas = &sas;
		deps.events = &server;
		deps.shortcuts = &shortcuts;
		deps.log = &callbacks;
		if (callbacks.stores_evictions()) {
			deps.evictions = &callbacks;
		}
		engine = std::make_unique<Engine>(deps);
		shortcuts.set_engine(*engine);
		shortcuts.set_events([this](const std::string &group, const groupsec::gdoi::shortcut::ShortcutInfo &s,
					    bool up, const std::string &reason) {
			server.shortcut_changed(group, s, up, reason);
			callbacks.log(GDOI_LOG_INFO, "group " + group + ": shortcut " + std::to_string(s.id) + " " +
							     s.a + " <-> " + s.b + (up ? " up" : " down (" + reason + ")"));
		});
		if (env.control_wake) {
			server.server().on_wake([this](groupsec::vici::ClientId client) {
				for (const auto &[id, c] : clients) {
					if (c == client) {
						callbacks.env().control_wake(callbacks.env().ctx, id);
					}
				}
			});
		}
	}
	~gdoi_core_t()
	{
		// its last removals still go through sas
		engine.reset();
		shortcuts.set_engine_gone();
	}

	std::string description;
	uint16_t port = kGikev2Port; // gdoi_core_set_transport()
	Callbacks callbacks;
	GlueKeyLog keylog;
	groupsec::crypto::MonotonicClock clock;
	// aborts if OpenSSL has no randomness: no keys, so stop rather than go on
	groupsec::crypto::OpenSslRandom random;
	GroupDataplane dataplane;
	// shortcut SAs: the managers of key server groups, the member sides
	groupsec::gdoi::shortcut::ShortcutService shortcuts;
	std::unique_ptr<Engine> engine;
	GdoiConfig config;
	// the settings the configuration was made of: the file's, and each
	// source's that a control client loaded (load-config)
	ControlTarget::ConfigSettings file_settings;
	std::map<std::string, ControlTarget::ConfigSettings> sources;
	// counts the configurations applied, for the glue (multicast joins)
	unsigned generation = 0;
	EngineControl control;
	ControlServer server;
	EventingSaSink sas;
	// the glue's ids of the control socket's clients
	std::map<unsigned, groupsec::vici::ClientId> clients;
	// commands and events other plugins serve on the control socket
	std::set<std::string> extensions;
	// the elected key server of each group in config.elected, once known
	struct Elected {
		std::string identity; // "" if none
		Address address;
		bool self = false;
	};
	std::map<std::string, Elected> elected;
	// the latest state of each elected key server group replicated from
	// the server in office (gdoi_core_set_replica()): where this node
	// continues the group if it is elected
	std::map<std::string, SecretBytes> replicas;
};

namespace {

std::vector<GroupState> EngineControl::groups() const
{
	return core_.engine->groups();
}

std::vector<GroupRoutingKey> EngineControl::routing_keys() const
{
	return core_.engine->routing_keys();
}

ControlTarget::IkeSaCounts EngineControl::ike_sa_counts() const
{
	return IkeSaCounts{core_.engine->responder_ike_sas(), core_.engine->initiator_ike_sas(), core_.engine->half_open()};
}

uint64_t EngineControl::now_ms() const
{
	return core_.clock.now_ms();
}

Result<Done> EngineControl::rekey(const std::string &group)
{
	return core_.engine->rekey(group);
}

Result<Done> EngineControl::reregister(const std::string &group)
{
	return core_.engine->reregister(group);
}

Result<Done> EngineControl::evict(const std::string &group, const std::string &member)
{
	auto id = Identity::parse(member);
	if (!id) {
		return make_error(WireError::BadValue, "'" + member + "' is not an identity");
	}
	auto r = core_.engine->evict(group, *id);
	if (r) {
		// every eviction says what the evicted members together could
		// still read
		for (const GroupState &g : core_.engine->groups()) {
			if (g.name != group || !g.server)
				continue;
			const ExposureState &x = g.exposure;
			std::string line = "group " + group + ": evicted " + member + "; ";
			if (x.hierarchy == KeyHierarchy::Tree)
				line += "key tree epoch " + std::to_string(x.epoch) +
					", no coalition of evicted members can read new keys";
			else if (x.tek_exposed || x.exposed_keks)
				line += "flat key table: members evicted at different times together hold " +
					std::string(x.tek_exposed ? "the current table TEK" :
								    std::to_string(x.exposed_keks) + " current KEKs");
			else
				line += "flat key table: evicted members together hold no current key";
			if (x.hierarchy == KeyHierarchy::Flat && (x.tek_exposed || x.exposed_keks))
				line = "warning: " + line;
			core_.callbacks.log(GDOI_LOG_INFO, line);
		}
	}
	return r;
}

Result<Done> EngineControl::exclude(const std::string &group, const std::string &member)
{
	std::vector<Identity> ids;
	if (!member.empty()) {
		auto id = Identity::parse(member);
		if (!id)
			return make_error(WireError::BadValue, "'" + member + "' is not an identity");
		ids.push_back(*id);
	}
	auto r = core_.engine->exclude(group, ids);
	if (r)
		core_.callbacks.log(GDOI_LOG_INFO, "group " + group + ": excluded " +
							   (member.empty() ? std::string("every member") : member) +
							   " by Delete (GIKE_UPDATE, SPI 0)");
	return r;
}

Result<Done> EngineControl::readmit(const std::string &group, const std::string &member)
{
	auto id = Identity::parse(member);
	if (!id) {
		return make_error(WireError::BadValue, "'" + member + "' is not an identity");
	}
	return core_.engine->readmit(group, *id);
}

Result<Done> EngineControl::member_group(const std::string &group) const
{
	for (const auto &g : core_.config.members) {
		if (g.name == group) {
			return Done{};
		}
	}
	return make_error(WireError::Missing, "group '" + group + "' is not a member group here");
}

Result<Done> EngineControl::add_endpoint(const std::string &group, const TunnelEndpoint &endpoint)
{
	auto r = member_group(group);
	if (!r) {
		return r;
	}
	bool known = false;
	for (const auto &e : core_.dataplane.endpoints(group)) {
		known = known || e.gateway.ip == endpoint.gateway.ip;
	}
	r = core_.dataplane.add_endpoint(group, endpoint);
	if (r) {
		core_.server.endpoint_changed(group, endpoint.gateway.ip, known ? "replaced" : "added",
					      endpoint.prefixes);
	}
	return r;
}

Result<Done> EngineControl::remove_endpoint(const std::string &group, const Address &gateway)
{
	auto r = member_group(group);
	if (!r) {
		return r;
	}
	r = core_.dataplane.remove_endpoint(group, gateway);
	if (r) {
		core_.server.endpoint_changed(group, gateway.ip, "removed", {});
	}
	return r;
}

std::optional<SaTraffic> EngineControl::sa_traffic(const std::string &group, uint32_t spi) const
{
	return core_.dataplane.traffic(group, spi);
}

Result<std::vector<TunnelEndpoint>> EngineControl::endpoints(const std::string &group) const
{
	auto r = member_group(group);
	if (!r) {
		return r.error();
	}
	return core_.dataplane.endpoints(group);
}

std::vector<groupsec::gdoi::shortcut::ShortcutGroupView> EngineControl::shortcuts() const
{
	return core_.shortcuts.view();
}

Result<uint32_t> EngineControl::request_shortcut(const std::string &group, const std::string &a, const std::string &b)
{
	return core_.shortcuts.request(group, a, b);
}

Result<Done> EngineControl::remove_shortcut(const std::string &group, uint32_t id)
{
	return core_.shortcuts.remove(group, id);
}

} // namespace

extern "C" gdoi_core_t *gdoi_core_create(const gdoi_core_env_t *env, uint32_t reqid_base)
{
	try {
		auto core = std::make_unique<gdoi_core_t>(*env, reqid_base);
		core->description = std::string("G-IKEv2 (RFC 9838) core ") + groupsec::version() +
				    ", UDP port " + std::to_string(kGikev2Port);
		return core.release();
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" uint16_t gdoi_core_port(gdoi_core_t *core)
{
	return core->port;
}

extern "C" const char *gdoi_core_describe(gdoi_core_t *core)
{
	return core->description.c_str();
}

namespace {

void copy_error(const std::string &msg, char *err, size_t err_len)
{
	if (err && err_len) {
		snprintf(err, err_len, "%s", msg.c_str());
	}
}

// Whether a member group's settings are the same: then a reload leaves it
// registered as it is.
bool same_member_group(const GmGroupConfig &a, const GmGroupConfig &b)
{
	return a.name == b.name && a.group_id == b.group_id && a.local_id == b.local_id &&
	       a.server_id == b.server_id && a.local == b.local && a.servers == b.servers && a.auth == b.auth &&
	       a.rekey_auth == b.rekey_auth && a.multicast == b.multicast &&
	       a.reregister_margin_s == b.reregister_margin_s && a.sender_ids == b.sender_ids &&
	       a.sender == b.sender && a.key_wrap == b.key_wrap && a.dh_group == b.dh_group && a.ike_encryption == b.ike_encryption &&
	       a.hosts == b.hosts && a.liveness_s == b.liveness_s && a.ike_lifetime_s == b.ike_lifetime_s;
}

std::vector<TunnelEndpoint> endpoints_of(const GdoiConfig &c, const std::string &group)
{
	auto it = c.endpoints.find(group);
	return it == c.endpoints.end() ? std::vector<TunnelEndpoint>() : it->second;
}

// Checks a parsed configuration as far as it can be without applying it:
// a problem here changes nothing.
std::optional<std::string> check(const GdoiConfig &next)
{
	for (const auto &g : next.servers) {
		if (auto e = validate(g)) {
			return "group " + g.name + ": " + *e;
		}
	}
	for (const auto &g : next.members) {
		GmGroupConfig c = g;
		if (next.elected.count(g.name)) {
			// checked as if it had elected itself: the rest must be right
			c.servers = {c.local};
			c.server_id = c.local_id;
		}
		if (auto e = validate(c)) {
			return "group " + g.name + ": " + *e;
		}
	}
	// endpoints are checked against a scratch data plane first
	struct NullKernel : KernelOps {
		bool add_sa(const KernelSa &) override { return true; }
		void del_sa(const KernelSa &) override {}
		bool add_policy(const KernelPolicy &) override { return true; }
		void del_policy(const KernelPolicy &) override {}
	} null_kernel;
	GroupDataplane scratch(null_kernel, 1);
	for (const auto &g : next.members) {
		scratch.set_local(g.name, g.local);
		scratch.set_hosts(g.name, g.hosts);
	}
	for (const auto &[name, eps] : next.endpoints) {
		for (const auto &e : eps) {
			auto r = scratch.add_endpoint(name, e);
			if (!r) {
				return "group " + name + ": " + r.error().message;
			}
		}
	}
	return std::nullopt;
}

// The configuration's addresses (written without a port) on the core's
// G-IKEv2 port.
void use_port(GdoiConfig &c, uint16_t port)
{
	for (auto &g : c.servers) {
		for (Address &a : g.listen)
			a.port = port;
		if (g.multicast)
			g.multicast->port = port;
	}
	for (auto &g : c.members) {
		g.local.port = port;
		for (Address &a : g.servers)
			a.port = port;
		if (g.multicast)
			g.multicast->port = port;
	}
}

// A member group as it registers: a group waiting for an election takes
// the elected server's address and identity; nullopt while none is known.
std::optional<GmGroupConfig> registering(gdoi_core_t *core, const GmGroupConfig &g)
{
	if (!core->config.elected.count(g.name))
		return g;
	auto it = core->elected.find(g.name);
	if (it == core->elected.end() || it->second.identity.empty())
		return std::nullopt;
	auto id = parse_identity(it->second.identity);
	if (!id)
		return std::nullopt;
	GmGroupConfig c = g;
	c.servers = {it->second.address};
	c.servers.front().port = core->port;
	c.server_id = id.value();
	return c;
}

// A key server group serves unless it waits for an election this node
// has not won.
bool serving(gdoi_core_t *core, const GcksGroupConfig &g)
{
	if (!core->config.elected.count(g.name))
		return true;
	auto it = core->elected.find(g.name);
	return it != core->elected.end() && it->second.self;
}

// Starts a member group with its endpoints (after remove_group()).
Result<Done> start_member(gdoi_core_t *core, const GmGroupConfig &g)
{
	core->dataplane.set_local(g.name, g.local);
	core->dataplane.set_hosts(g.name, g.hosts);
	for (const auto &e : endpoints_of(core->config, g.name)) {
		core->dataplane.add_endpoint(g.name, e);
	}
	return core->engine->add_member_group(g);
}

// Applies a checked configuration (see gdoi_core_load()); the groups that
// could not start are logged and their messages returned.
std::vector<std::string> apply(gdoi_core_t *core, const GdoiConfig &next)
{
	std::set<std::string> running;
	for (const GroupState &g : core->engine->groups()) {
		running.insert(g.name);
	}
	auto server_in = [](const GdoiConfig &c, const std::string &name) {
		return std::any_of(c.servers.begin(), c.servers.end(), [&](const auto &g) { return g.name == name; });
	};
	// groups no longer configured in their role go first (a name may
	// change its role)
	for (const auto &g : core->config.servers) {
		if (!server_in(next, g.name)) {
			core->engine->remove_group(g.name);
			running.erase(g.name);
		}
	}
	std::set<std::string> unchanged;
	for (const auto &g : core->config.members) {
		auto n = std::find_if(next.members.begin(), next.members.end(),
				      [&](const GmGroupConfig &m) { return m.name == g.name; });
		if (n != next.members.end() && running.count(g.name) && same_member_group(g, *n) &&
		    endpoints_of(core->config, g.name) == endpoints_of(next, g.name)) {
			// a new member list alone: the group registers again
			// with it and keeps its SAs (else it starts afresh)
			if (g.peers == n->peers || core->engine->set_member_list(g.name, n->peers)) {
				unchanged.insert(g.name);
				continue;
			}
		}
		core->engine->remove_group(g.name);
		core->dataplane.clear(g.name);
		running.erase(g.name);
	}
	core->config = next;
	std::vector<std::string> failures;
	auto failed = [&](const std::string &name, const std::string &message) {
		std::string m = message + (running.count(name) ? "; group " + name + " keeps running as it was"
							       : "; group " + name + " not started");
		core->callbacks.log(GDOI_LOG_ERROR, m);
		failures.push_back(m);
	};
	for (const auto &g : next.servers) {
		if (!serving(core, g)) {
			// waits for this node to be elected
			if (running.count(g.name)) {
				core->engine->remove_group(g.name);
			}
			continue;
		}
		auto r = core->engine->add_server_group(g);
		if (!r) {
			failed(g.name, r.error().message);
		}
	}
	for (const auto &g : next.members) {
		if (unchanged.count(g.name)) {
			continue;
		}
		auto c = registering(core, g);
		if (!c) {
			continue; // waits for the election
		}
		auto r = start_member(core, *c);
		if (!r) {
			failed(g.name, r.error().message);
		}
	}
	// shortcut SAs follow the groups
	std::vector<std::string> names;
	for (const auto &g : next.servers) {
		names.push_back(g.name);
		auto m = next.shortcut_members.find(g.name);
		auto p = next.shortcut_protected.find(g.name);
		core->shortcuts.configure_manager(g.name,
						  m == next.shortcut_members.end()
							  ? std::vector<groupsec::gdoi::shortcut::ShortcutPeerConfig>{}
							  : m->second,
						  groupsec::gdoi::shortcut::ManagerSettings{},
						  p == next.shortcut_protected.end()
							  ? std::vector<groupsec::gdoi::shortcut::Prefix>{}
							  : p->second);
	}
	for (const auto &g : next.members) {
		names.push_back(g.name);
		auto in = next.shortcut_inside.find(g.name);
		core->shortcuts.configure_member(g.name, g.server_id,
						 in == next.shortcut_inside.end()
							 ? std::vector<groupsec::gdoi::shortcut::Prefix>{}
							 : in->second,
						 g.local);
	}
	core->shortcuts.retain(names);
	return failures;
}

using ConfigSettings = ControlTarget::ConfigSettings;

// The group names of some settings, in order.
std::vector<std::string> group_names(const ConfigSettings &settings)
{
	std::vector<std::string> names;
	for (const auto &[key, value] : settings) {
		std::string name = key.substr(0, key.find('.'));
		if (std::find(names.begin(), names.end(), name) == names.end())
			names.push_back(name);
	}
	return names;
}

// The configuration of the file's groups and every source's, each parsed
// alone first (its own errors), then together: a group name of two
// sources, two groups of one role with one group ID, and everything
// check() finds are errors. loading names the source that changes.
Result<GdoiConfig> compose(const gdoi_core_t *core, const ConfigSettings &file,
			   const std::map<std::string, ConfigSettings> &sources, const std::string &loading)
{
	std::map<std::string, std::string> owner; // group name -> source
	ConfigSettings all;
	auto add = [&](const std::string &source, const ConfigSettings &settings) -> std::optional<std::string> {
		auto parsed = parse_config(settings);
		if (!parsed)
			return parsed.error().message;
		for (const std::string &name : group_names(settings)) {
			auto [it, fresh] = owner.emplace(name, source);
			if (!fresh)
				return "groups." + name + ": a group of " +
				       (it->second == "file" ? std::string("the settings file")
							     : "source '" + it->second + "'");
		}
		all.insert(all.end(), settings.begin(), settings.end());
		return std::nullopt;
	};
	// the source being loaded comes last: a clash names the other one
	std::vector<std::pair<std::string, const ConfigSettings *>> order;
	order.emplace_back("file", &file);
	for (const auto &[source, settings] : sources)
		order.emplace_back(source, &settings);
	std::stable_partition(order.begin(), order.end(), [&](const auto &o) { return o.first != loading; });
	for (const auto &[source, settings] : order)
		if (auto e = add(source, *settings))
			return make_error(WireError::BadValue, *e);
	auto parsed = parse_config(all);
	if (!parsed)
		return parsed.error();
	use_port(parsed.value(), core->port);
	if (auto e = check(parsed.value()))
		return make_error(WireError::BadValue, *e);
	return std::move(parsed.value());
}

// Applies a composed configuration: the message of the groups that could
// not start, "" if none.
std::string apply_all(gdoi_core_t *core, const GdoiConfig &next)
{
	std::string failures;
	for (const std::string &f : apply(core, next))
		failures += (failures.empty() ? "" : "; ") + f;
	core->generation++;
	core->server.check_routing_keys();
	return failures;
}

Result<Done> EngineControl::check_config(const std::string &source, const ConfigSettings &settings)
{
	auto sources = core_.sources;
	sources[source] = settings;
	auto next = compose(&core_, core_.file_settings, sources, source);
	if (!next)
		return next.error();
	return Done{};
}

Result<std::string> EngineControl::load_config(const std::string &source, const ConfigSettings &settings)
{
	auto sources = core_.sources;
	if (settings.empty())
		sources.erase(source);
	else
		sources[source] = settings;
	auto next = compose(&core_, core_.file_settings, sources, source);
	if (!next)
		return next.error();
	core_.sources.swap(sources);
	std::string failures = apply_all(&core_, next.value());
	core_.callbacks.log(GDOI_LOG_INFO, "loaded " + std::to_string(group_names(settings).size()) +
						   " group(s) of source " + source +
						   (failures.empty() ? "" : ", not all started: " + failures));
	return failures;
}

Result<Done> EngineControl::unload_config(const std::string &source)
{
	if (!core_.sources.count(source))
		return Done{}; // it has no groups
	auto r = load_config(source, {});
	if (!r)
		return r.error();
	return Done{};
}

} // namespace

extern "C" bool gdoi_core_set_transport(gdoi_core_t *core, const gdoi_transport_t *t, char *err, size_t err_len)
{
	try {
		if (t->port == 0 || t->port == t->port_nat_t) {
			copy_error("port " + std::to_string(t->port) + " cannot be G-IKEv2's port" +
					   (t->port ? " (it is the NAT traversal port)" : ""),
				   err, err_len);
			return false;
		}
		TransportConfig tc;
		tc.fragmentation = t->fragmentation;
		tc.fragment_size = t->fragment_size;
		tc.nat_t_port = t->port_nat_t;
		auto r = core->engine->set_transport(tc);
		if (!r) {
			copy_error(r.error().message, err, err_len);
			return false;
		}
		core->port = t->port;
		core->description = std::string("G-IKEv2 (RFC 9838) core ") + groupsec::version() + ", UDP port " +
				    std::to_string(t->port) +
				    (t->port_nat_t ? ", NAT traversal on " + std::to_string(t->port_nat_t) : "") +
				    (t->fragmentation ? ", IKE fragmentation" : "");
		return true;
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return false;
	}
}

extern "C" bool gdoi_core_registered(gdoi_core_t *core, const char *group)
{
	if (!core || !group)
		return false;
	try {
		for (const GroupState &g : core->engine->groups())
			if (g.name == group)
				return !g.server && g.state == "registered";
	} catch (const std::bad_alloc &) {
	}
	return false;
}

extern "C" int gdoi_core_load(gdoi_core_t *core, const char *const *keys,
			      const char *const *values, size_t n, char *err, size_t err_len)
{
	try {
		ConfigSettings settings;
		for (size_t i = 0; i < n; i++) {
			settings.emplace_back(keys[i], values[i]);
		}
		auto next = compose(core, settings, core->sources, "file");
		if (!next) {
			copy_error(next.error().message, err, err_len);
			return -1;
		}
		core->file_settings = std::move(settings);
		copy_error(apply_all(core, next.value()), err, err_len);
		return static_cast<int>(core->engine->groups().size());
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return -1;
	}
}

extern "C" unsigned gdoi_core_config_generation(gdoi_core_t *core)
{
	return core->generation;
}

extern "C" void gdoi_core_psk_groups(gdoi_core_t *core,
				     void (*cb)(void *data, const char *group, const gdoi_id_t *local,
						const gdoi_id_t *members, size_t count),
				     void *data)
{
	try {
		for (const auto &g : core->config.servers) {
			if (g.member_auth != AuthKind::Psk) {
				continue;
			}
			std::vector<gdoi_id_t> members;
			for (const Identity &id : g.authorized) {
				members.push_back(from_identity(id));
			}
			gdoi_id_t local = from_identity(g.local_id);
			cb(data, g.name.c_str(), &local, members.data(), members.size());
		}
	} catch (const std::bad_alloc &) {
		core->callbacks.log(GDOI_LOG_ERROR, "out of memory");
	}
}

extern "C" size_t gdoi_core_local_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max)
{
	std::vector<Address> addrs;
	for (const auto &g : core->config.servers) {
		addrs.insert(addrs.end(), g.listen.begin(), g.listen.end());
	}
	for (const auto &g : core->config.members) {
		addrs.push_back(g.local);
	}
	size_t n = 0;
	for (size_t i = 0; i < addrs.size(); i++) {
		bool seen = false;
		for (size_t j = 0; j < i; j++) {
			seen = seen || addrs[j] == addrs[i];
		}
		if (!seen && n < max) {
			out[n++] = from_address(addrs[i]);
		}
	}
	return n;
}

extern "C" size_t gdoi_core_multicast_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max)
{
	size_t n = 0;
	for (const auto &g : core->config.members) {
		if (g.multicast && n < max) {
			out[n++] = from_address(*g.multicast);
		}
	}
	return n;
}

extern "C" void gdoi_core_receive(gdoi_core_t *core, const gdoi_addr_t *local,
				  const gdoi_addr_t *remote, const uint8_t *data, size_t len)
{
	try {
		core->engine->receive(to_address(*local), to_address(*remote), ByteView(data, len));
		core->server.check_routing_keys();
	} catch (const std::bad_alloc &) {
		core->callbacks.log(GDOI_LOG_ERROR, "out of memory, datagram dropped");
	}
}

extern "C" uint32_t gdoi_core_tick(gdoi_core_t *core)
{
	try {
		core->engine->tick();
		core->shortcuts.tick();
		core->server.check_routing_keys();
	} catch (const std::bad_alloc &) {
		core->callbacks.log(GDOI_LOG_ERROR, "out of memory in timers");
	}
	uint64_t now = core->clock.now_ms(), next = core->engine->next_timeout_ms();
	uint64_t wait = next > now ? next - now : 0;
	return static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(wait, 10), 1000));
}

extern "C" size_t gdoi_core_roam(gdoi_core_t *core, bool (*is_local)(void *ctx, const gdoi_addr_t *addr),
				  bool (*source)(void *ctx, const gdoi_addr_t *dst, gdoi_addr_t *src), void *ctx)
{
	if (!core->engine || !is_local || !source)
		return 0;
	try {
		return core->engine->roam(
			[&](const Address &a) {
				gdoi_addr_t g = from_address(a);
				return is_local(ctx, &g);
			},
			[&](const Address &dst) -> std::optional<Address> {
				gdoi_addr_t d = from_address(dst), s{};
				if (!source(ctx, &d, &s) || (s.len != 4 && s.len != 16))
					return std::nullopt;
				return to_address(s);
			});
	} catch (const std::bad_alloc &) {
		core->callbacks.log(GDOI_LOG_ERROR, "out of memory, addresses not followed");
		return 0;
	}
}

extern "C" void gdoi_core_shortcut_packet(gdoi_core_t *core, const uint8_t *pkt, size_t len)
{
	try {
		core->shortcuts.packet(ByteView(pkt, len));
	} catch (const std::bad_alloc &) {
		core->callbacks.log(GDOI_LOG_ERROR, "out of memory, relayed traffic not counted");
	}
}

extern "C" bool gdoi_core_set_elected(gdoi_core_t *core, const char *group, const char *identity,
				      const char *address, bool self, char *err, size_t err_len)
{
	try {
		std::string name = group ? group : "";
		if (!core->config.elected.count(name)) {
			copy_error("group '" + name + "' does not wait for an election", err, err_len);
			return false;
		}
		gdoi_core_t::Elected next;
		if (identity && *identity) {
			auto id = parse_identity(identity);
			auto a = address ? Address::parse(address, core->port) : std::nullopt;
			if (!id || !a) {
				copy_error(std::string("elected server '") + identity + "' at '" + (address ? address : "") +
						   "': " + (!id ? id.error().message : "not an address"),
					   err, err_len);
				return false;
			}
			next.identity = identity;
			next.address = *a;
			next.self = self;
		}
		bool running = false;
		for (const GroupState &g : core->engine->groups()) {
			running = running || g.name == name;
		}
		for (const auto &g : core->config.servers) {
			if (g.name != name) {
				continue;
			}
			core->elected[name] = next;
			if (next.self && !running) {
				auto replica = core->replicas.find(name);
				Result<Done> r = Done{};
				bool continued = false;
				if (replica != core->replicas.end()) {
					r = core->engine->add_server_group_from(g, replica->second);
					continued = r.ok();
					if (!r)
						core->callbacks.log(GDOI_LOG_ERROR,
								    "group " + name + ": the replicated state is refused (" +
									    r.error().message + "); starting with new keys");
				}
				if (!continued)
					r = core->engine->add_server_group(g);
				else
					core->callbacks.log(GDOI_LOG_INFO, "group " + name +
										   ": continues from the replicated state");
				if (!r) {
					// elected all the same: the next reload (its key
					// loaded) starts the group
					copy_error(r.error().message, err, err_len);
					return false;
				}
				core->callbacks.log(GDOI_LOG_INFO, "group " + name + ": elected, serving as key server");
			} else if (!next.self && running) {
				core->engine->remove_group(name);
				core->callbacks.log(GDOI_LOG_INFO, "group " + name + ": no longer the elected key server");
			}
			core->server.check_routing_keys();
			return true;
		}
		for (const auto &g : core->config.members) {
			if (g.name != name) {
				continue;
			}
			auto before = core->elected.find(name);
			if (running && before != core->elected.end() && before->second.identity == next.identity &&
			    before->second.address == next.address) {
				return true; // registered to it already
			}
			core->elected[name] = next;
			auto c = registering(core, g);
			if (running && c) {
				// another server took over: the group registers to
				// it, keeping its SAs (the server continues with the
				// same keys when it holds the replicated state)
				auto r = core->engine->set_member_server(name, c->servers, c->server_id);
				if (r) {
					core->callbacks.log(GDOI_LOG_INFO, "group " + name +
										   ": registering to the elected key server " +
										   next.identity + " at " +
										   next.address.ip_string() + ", keeping its SAs");
					core->server.check_routing_keys();
					return true;
				}
			}
			if (running) {
				core->engine->remove_group(name);
				core->dataplane.clear(name);
			}
			if (c) {
				auto r = start_member(core, *c);
				if (!r) {
					copy_error(r.error().message, err, err_len);
					return false;
				}
				core->callbacks.log(GDOI_LOG_INFO, "group " + name + ": registering to the elected key server " +
									   next.identity + " at " + next.address.ip_string());
			}
			core->server.check_routing_keys();
			return true;
		}
		copy_error("group '" + name + "' is not configured", err, err_len);
		return false;
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return false;
	}
}

extern "C" bool gdoi_core_snapshot(gdoi_core_t *core, const char *group, uint8_t **out, size_t *len, char *err,
				   size_t err_len)
{
	try {
		std::string name = group ? group : "";
		if (!core->config.elected.count(name)) {
			copy_error("group '" + name + "' does not wait for an election", err, err_len);
			return false;
		}
		auto r = core->engine->server_snapshot(name);
		if (!r) {
			copy_error(r.error().message, err, err_len);
			return false;
		}
		const Bytes &b = r.value();
		*out = static_cast<uint8_t *>(malloc(b.size()));
		if (!*out) {
			copy_error("out of memory", err, err_len);
			return false;
		}
		std::copy(b.begin(), b.end(), *out);
		*len = b.size();
		return true;
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return false;
	}
}

extern "C" bool gdoi_core_set_replica(gdoi_core_t *core, const char *group, const uint8_t *data, size_t len,
				      char *err, size_t err_len)
{
	try {
		std::string name = group ? group : "";
		bool server = std::any_of(core->config.servers.begin(), core->config.servers.end(),
					  [&](const auto &g) { return g.name == name; });
		if (!server || !core->config.elected.count(name)) {
			copy_error("group '" + name + "' is no key server group that waits for an election", err,
				   err_len);
			return false;
		}
		auto d = groupsec::gdoi::detail::decode_snapshot(ByteView(data, len));
		if (!d) {
			copy_error(d.error().message, err, err_len);
			return false;
		}
		core->replicas[name] = SecretBytes(data, data + len);
		return true;
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return false;
	}
}

extern "C" bool gdoi_core_merge_replica(gdoi_core_t *core, const char *group, const uint8_t *data, size_t len,
					char *err, size_t err_len)
{
	try {
		std::string name = group ? group : "";
		if (!core->config.elected.count(name)) {
			copy_error("group '" + name + "' does not wait for an election", err, err_len);
			return false;
		}
		auto d = groupsec::gdoi::detail::decode_snapshot(ByteView(data, len));
		if (!d) {
			copy_error(d.error().message, err, err_len);
			return false;
		}
		size_t added = 0;
		auto r = core->engine->merge_evicted(name, d.value().evicted, &added);
		if (!r) {
			copy_error(r.error().message, err, err_len);
			return false;
		}
		core->callbacks.log(GDOI_LOG_INFO, "group " + name + ": merged the evicted identities of the server "
								     "that stepped down: " + std::to_string(d.value().evicted.size()) +
							    ", " + std::to_string(added) + " new here");
		return true;
	} catch (const std::bad_alloc &) {
		copy_error("out of memory", err, err_len);
		return false;
	}
}

extern "C" bool gdoi_core_control_add_command(gdoi_core_t *core, const char *name,
					      gdoi_core_command_cb_t cb, void *ctx)
{
	try {
		groupsec::vici::Server &server = core->server.server();
		if (!name || !*name || !cb || server.has_command(name))
			return false;
		std::string cmd = name;
		server.add_command(cmd, [cb, ctx, cmd](groupsec::vici::ClientId, const groupsec::vici::Section &req) {
			auto in = groupsec::vici::encode_message(req);
			uint8_t *out = nullptr;
			size_t out_len = 0;
			if (!in)
				return groupsec::vici::failure_message(cmd + ": " + in.error().message);
			if (!cb(ctx, in.value().data(), in.value().size(), &out, &out_len))
				return groupsec::vici::failure_message(cmd + ": no response");
			auto reply = groupsec::vici::decode_message(ByteView(out, out_len));
			free(out);
			if (!reply)
				return groupsec::vici::failure_message(cmd + ": " + reply.error().message);
			return std::move(reply).value();
		});
		core->extensions.insert(cmd);
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" bool gdoi_core_control_add_event(gdoi_core_t *core, const char *name)
{
	try {
		groupsec::vici::Server &server = core->server.server();
		if (!name || !*name || server.has_event(name))
			return false;
		server.add_event(name);
		core->extensions.insert(name);
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" void gdoi_core_control_remove(gdoi_core_t *core, const char *name)
{
	if (!name || !core->extensions.erase(name))
		return;
	core->server.server().remove_command(name);
	core->server.server().remove_event(name);
}

extern "C" bool gdoi_core_control_emit(gdoi_core_t *core, const char *name, const uint8_t *message,
				       size_t len)
{
	try {
		if (!name || !core->extensions.count(name) || !core->server.server().has_event(name))
			return false;
		auto m = groupsec::vici::decode_message(ByteView(message, len));
		if (!m)
			return false;
		core->server.server().emit(name, m.value());
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" gdoi_control_conn_t *gdoi_core_control_open(gdoi_core_t *core)
{
	try {
		return new gdoi_control_conn_t(core->server);
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" bool gdoi_core_control_input(gdoi_control_conn_t *conn, const uint8_t *data,
					size_t len, uint8_t **out, size_t *out_len)
{
	*out = nullptr;
	*out_len = 0;
	try {
		Bytes reply;
		auto r = conn->connection.feed(ByteView(data, len), reply);
		if (!reply.empty()) {
			*out = static_cast<uint8_t *>(malloc(reply.size()));
			if (!*out) {
				return false;
			}
			memcpy(*out, reply.data(), reply.size());
			*out_len = reply.size();
		}
		return r.ok();
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" void gdoi_core_control_close(gdoi_control_conn_t *conn)
{
	delete conn;
}

extern "C" bool gdoi_core_client_open(gdoi_core_t *core, unsigned id)
{
	try {
		if (core->clients.count(id)) {
			return false;
		}
		core->clients[id] = core->server.server().connect();
		return true;
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" bool gdoi_core_client_input(gdoi_core_t *core, unsigned id, const uint8_t *data, size_t len)
{
	auto it = core->clients.find(id);
	if (it == core->clients.end()) {
		return false;
	}
	try {
		auto r = core->server.server().feed(it->second, ByteView(data, len));
		if (!r.ok()) {
			core->callbacks.log(GDOI_LOG_INFO, "control client " + std::to_string(id) + ": " +
							   r.error().message);
		}
		return r.ok();
	} catch (const std::bad_alloc &) {
		return false;
	}
}

extern "C" long gdoi_core_client_output(gdoi_core_t *core, unsigned id, uint8_t *buf, size_t len)
{
	auto it = core->clients.find(id);
	if (it == core->clients.end()) {
		return -1;
	}
	groupsec::vici::Server &server = core->server.server();
	ByteView pending = server.output(it->second);
	if (pending.empty()) {
		return server.closing(it->second) ? -1 : 0;
	}
	size_t n = std::min(len, pending.size());
	if (n) {
		memcpy(buf, pending.data(), n);
	}
	return static_cast<long>(n);
}

extern "C" void gdoi_core_client_written(gdoi_core_t *core, unsigned id, size_t n)
{
	auto it = core->clients.find(id);
	if (it != core->clients.end()) {
		core->server.server().consume(it->second, n);
	}
}

extern "C" void gdoi_core_client_close(gdoi_core_t *core, unsigned id)
{
	auto it = core->clients.find(id);
	if (it != core->clients.end()) {
		core->server.server().disconnect(it->second);
		core->clients.erase(it);
	}
}

extern "C" void gdoi_core_destroy(gdoi_core_t *core)
{
	std::unique_ptr<gdoi_core_t> owned(core);
	if (owned) {
		owned->engine.reset();
		owned->dataplane.clear();
	}
}
