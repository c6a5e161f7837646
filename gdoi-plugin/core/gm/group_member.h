// SPDX-License-Identifier: GPL-2.0-or-later
// The group member (GM) role of the engine: its groups, registration
// (IKE_SA_INIT, GSA_AUTH, GSA_REGISTRATION), the GSA and KD it applies,
// GSA_REKEY and GSA_INBAND_REKEY, re-registration. Internal to the core.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../engine_context.h"
#include "../group_keys.h"
#include "../ike/ike_sas.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/keytree/key_tree.h"

namespace groupsec::gdoi::detail {

constexpr uint64_t kRetryRegistrationMs = 30000;

// Where a member group is in its registration.
enum class GmState {
	Idle, // no group SAs, not registering
	Registering, // an exchange with the key server is under way
	Registered, // holds the group's SAs
};
// "idle", "registering", "registered": as GroupState::state shows it.
const char *gm_state_name(GmState s);

struct GmTek {
	TekSa sa;
	uint16_t key_bits = 0;
	uint64_t expires_ms = 0;
	bool current = true;
	uint64_t remove_ms = 0;
	uint64_t activate_ms = 0; // receive-only until then (GAP ATD), 0: sending
};

struct GmGroup {
	GmGroupConfig cfg;
	GmState state = GmState::Idle;
	size_t server_index = 0;
	Address server_address;
	uint64_t ike_spi = 0; // initiator SPI of the IKE SA in use
	uint64_t next_register_ms = 0;
	std::optional<RekeySa> kek, old_kek;
	uint64_t old_kek_remove_ms = 0;
	bool gcauth_signature = false;
	Bytes sig_alg;
	// RFC 9838 AUTH_KEY: the key server's public key (DER
	// SubjectPublicKeyInfo) that GSA_REKEY signatures verify with
	Bytes auth_key;
	uint32_t last_message_id = 0; // of the last GSA_REKEY accepted (state)
	flatkey::KeyStore keys;
	// the Working Key Path (RFC 9838 3.3): the keys of the key server's
	// hierarchy this member holds, by Key ID
	KeyPath path;
	std::vector<GmTek> teks;
	uint16_t atd = 0, dtd = 0;
	std::vector<uint32_t> sender_ids;
	SaMode mode = SaMode::Tunnel; // of the TEKs, from the registration
	Counters counters;
};

// What a GSA and KD would change in a member group, worked out without
// changing it (GroupMember::plan()); GroupMember::commit() applies it.
struct GmUpdate {
	bool registration = false;
	uint32_t rekey_id = 0; // the GSA_REKEY's message ID (key log), 0 otherwise
	flatkey::KeyStore store; // the flat key store after the message
	std::optional<KeyPath> path; // the Working Key Path after it, if it changes
	std::vector<uint32_t> sender_ids;
	std::optional<RekeySa> new_kek;
	uint32_t initial_id = 0; // of new_kek
	bool signature = false;
	Bytes sig_alg;
	std::vector<GmTek> fresh; // the TEKs of the GSA
	std::vector<uint32_t> deletes; // ESP SPIs to retire
	std::optional<GroupWidePolicy> group_wide;
	SaMode mode = SaMode::Tunnel; // of the TEKs
	std::optional<Bytes> auth_key; // AUTH_KEY taken (checked)
	// RFC 9838 Deletes: D(ESP, 0) every TEK; D(GIKE_UPDATE, SPIs) those
	// Rekey SAs; D(GIKE_UPDATE, 0) the member is excluded
	bool delete_teks = false;
	std::vector<Bytes> kek_deletes;
	bool excluded = false;
};

class GroupMember {
public:
	GroupMember(EngineContext &ctx, IkeSas &ike) : ctx_(ctx), ike_(ike) {}
	GroupMember(const GroupMember &) = delete;
	GroupMember &operator=(const GroupMember &) = delete;

	std::map<std::string, std::unique_ptr<GmGroup>> groups;

	GmGroup *find(const std::string &name);
	// Engine::add_member_group(), remove_group(), reregister()
	Result<Done> add_group(const GmGroupConfig &c);
	void remove_group(const std::string &name);
	Result<Done> reregister(GmGroup &g);

	// A datagram for the member: GSA_REKEY, or a message on our IKE SA.
	void rekey(const Address &local, ByteView datagram, const IkeHeader &h);
	void receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void tick(GmGroup &g, uint64_t now_ms);
	uint64_t next(const GmGroup &g) const;
	GroupState state(const GmGroup &g) const;

	// For the IKE SA table (IkeSaUsers).
	bool uses_ike_sa(uint64_t spi) const;
	void exchange_failed(IkeSa &sa);
	// The key server lost our IKE SA (N(INVALID_IKE_SPI) for our request,
	// or no answer to a retransmission on an authenticated IKE SA): the
	// IKE SA goes, every group on it registers afresh with IKE_SA_INIT
	// and keeps its group SAs until the new registration replaces them.
	void start_over(IkeSa &sa);
	// The counters of a group bound to local, nullptr if none.
	Counters *counters_at(const Address &local);

private:
	// --- registration (group_member.cc, gm_response.cc)
	void start(GmGroup &g);
	void send_init(IkeSa &sa, const std::string &group);
	void send_auth(IkeSa &sa, GmGroup &g);
	void response(IkeSa &sa, ByteView datagram, const IkeHeader &h);
	void init_response(IkeSa &sa, GmGroup &g, ByteView datagram, const IkeHeader &h);
	// A notify in the IKE_SA_INIT response was acted on (cookie, other
	// DH group, error): true, and nothing more is to be done.
	bool init_notify(IkeSa &sa, GmGroup &g, const NotifyPayload &n, const IkeHeader &h);
	// The IKE_SA_INIT response's SA, KE and Nonce key sa: false if unusable.
	bool key_ike_sa(IkeSa &sa, GmGroup &g, const std::vector<Payload> &ps, ByteView datagram, const IkeHeader &h);
	// The key server's IDr and AUTH in a GSA_AUTH response check out.
	bool server_auth_ok(IkeSa &sa, GmGroup &g, const std::vector<Payload> &inner);
	void registered(GmGroup &g, IkeSa &sa, const std::vector<Payload> &inner);
	void failed(GmGroup &g, bool next_server);
	// An unprotected INFORMATIONAL response: acted on only if it carries
	// N(INVALID_IKE_SPI) for the request we have outstanding.
	void invalid_spi(IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c);
	void exclude(GmGroup &g);
	// RFC 9838 2.6 Delete(GIKE_UPDATE, SPI 0): the group's SAs go, and
	// the member registers again after a random delay of a few seconds.
	// why: what the log says the key server did.
	void excluded_by_delete(GmGroup &g, const std::string &why = "Delete of GIKE_UPDATE SPI 0");
	void schedule(GmGroup &g);
	// --- the IKE SA kept with the key server
	// Liveness check and lifetime of g's IKE SA.
	void check_ike_sa(GmGroup &g, uint64_t now_ms);
	// Its lifetime is over: every group on sa registers over a new IKE SA,
	// then sa is deleted.
	void replace_ike_sa(IkeSa &sa);
	// The key server deleted sa: it goes, the groups keep their SAs.
	void peer_deleted(IkeSa &sa);
	// A protected INFORMATIONAL request of the key server on sa.
	void informational(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	// The key server's protected answer to our INFORMATIONAL request.
	void informational_response(IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c);

	// --- GSA and KD (gm_apply.cc)
	// Applies GSA and KD; nothing changes on error.
	// excluded: the new Rekey SA's keys were there but none could be
	// unwrapped (the member was removed from the group).
	// rekey_id: the GSA_REKEY's message ID (key log), 0 otherwise.
	// inband: a GSA_INBAND_REKEY (RFC 9838's inband table applies).
	Result<Done> apply(GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk, bool registration,
			   bool *excluded, uint32_t rekey_id = 0, bool inband = false);
	Result<GmUpdate> plan(const GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
			      bool registration, bool *excluded, uint32_t rekey_id, bool inband);
	void commit(GmGroup &g, GmUpdate u);
	void commit_kek(GmGroup &g, GmUpdate &u, uint64_t dtd_ms);
	void commit_teks(GmGroup &g, GmUpdate &u);
	void commit_deletes(GmGroup &g, const GmUpdate &u);
	// AUTH_KEY of a registration or GSA_REKEY: allowed, and pinned to the
	// key server's trusted keys where the operator loaded any.
	Result<Done> check_auth_key(const GmGroup &g, GmUpdate &u, const std::optional<Bytes> &key);
	// The group of a GSA_INBAND_REKEY on IKE SA spi (RFC 9838 sends no
	// IDg in it): the one group on it, or the one whose SAs its SPIs name.
	GmGroup *inband_group(uint64_t spi, const std::vector<Payload> &inner);
	void log_keys(const GmGroup &g, const GmUpdate &u);

	// --- GSA_REKEY and GSA_INBAND_REKEY (gm_rekey.cc)
	void inband(IkeSa &sa, ByteView datagram, const IkeHeader &h);
	// A GSA_REKEY's signature checks out (RFC 9838 2.4.1.1); pops AUTH
	// from inner. false, counted in c, if not.
	bool rekey_auth_ok(GmGroup &g, const IkeHeader &h, bool sk_critical, std::vector<Payload> &inner, Counters &c);
	// The Rekey SA (current or old) of SPI spi and its group, nullptr if none.
	const RekeySa *by_rekey_sa(const Bytes &spi, GmGroup **group);

	EngineContext &ctx_;
	IkeSas &ike_;
};

} // namespace groupsec::gdoi::detail
