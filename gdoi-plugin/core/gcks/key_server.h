// SPDX-License-Identifier: GPL-2.0-or-later
// The key server (GCKS) role of the engine: its groups, the exchanges it
// answers (IKE_SA_INIT, GSA_AUTH, GSA_REGISTRATION), the rekeys it sends
// (GSA_REKEY, GSA_INBAND_REKEY) and evictions. Internal to the core.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../engine_context.h"
#include "../group_keys.h"
#include "../ike/ike_sas.h"
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/keytree/key_tree.h"

namespace groupsec::gdoi::detail {

struct GcksMember {
	Identity id;
	Address address, local;
	flatkey::MemberId flat_id; // KeyHierarchy::Flat
	uint32_t flat_number = 0; // KeyHierarchy::Flat
	uint32_t leaf = 0; // KeyHierarchy::Tree
	uint64_t registered_ms = 0;
	// the flat table keys this member holds (their current values are in
	// GcksGroup::keys)
	std::vector<flatkey::KeyId> key_ids;
	uint64_t ike_spi = 0; // responder SPI of its IKE SA, 0 if none
	std::vector<uint32_t> sender_ids; // GM_SENDER_IDs given to it
	// member-list mode: the members it named at its last registration
	// (N(MEMBER_LIST)); empty: auto-discovery
	std::vector<Identity> peers;
	// RekeyTransport::Inband: a rekey found its IKE SA busy with another
	// exchange; the group's current policy and keys go once it is free
	bool inband_due = false;
};

struct GcksTek {
	uint32_t spi = 0;
	size_t policy = 0; // index into config teks
	SecretBytes keymat;
	uint64_t created_ms = 0;
	uint64_t expires_ms = 0;
	bool current = true;
	uint64_t remove_ms = 0; // retiring: dropped from state then
};

// What a membership change adds to a rekey: the key hierarchy's message
// and the key the new Rekey SA is wrapped under, and who is leaving (they
// get no copy).
struct MembershipChange {
	const flatkey::KeyMessage *flat = nullptr;
	// the flat key table after the change (the group's is replaced by it
	// only once the rekey went out), and its new TEK
	const flatkey::FlatKeyServer *flat_table = nullptr;
	std::optional<flatkey::KeyRef> flat_tek;
	// key tree: the new root, and every new key a remaining member needs,
	// each wrapped under a key of a child node (RFC 9838 WRAP_KEYs for a
	// member key bag of the GSA_REKEY, as Appendix A sends them)
	std::optional<keytree::Key> tree_root;
	std::vector<WrappedKey> tree_wraps;
	std::set<Identity> leaving;
};

struct GcksGroup {
	GcksGroup(const GcksGroupConfig &c, Random *r, const gdoi::Clock *clk);
	GcksGroupConfig cfg;
	Random &rnd;
	const gdoi::Clock &clk;
	// KeyHierarchy::Tree
	keytree::KeyTreeServer tree;
	// KeyHierarchy::Flat (held by pointer so that an eviction can keep a
	// copy to go back to)
	std::unique_ptr<flatkey::FlatKeyServer> flat;
	flatkey::IdAllocator ids;
	std::map<Identity, GcksMember> members;
	// every key of the flat table, kept current by applying each table
	// message once; a (re-)registration hands out the member's keys from
	// it
	flatkey::KeyStore keys;
	std::set<Identity> evicted;
	// RFC 9838 2.5.1: "Sender-IDs are allocated sequentially, with zero as
	// the first allocated value"; never given twice
	uint64_t next_sender_id = 0;
	// join announcements (revision notices) since the last table message
	// the members received, folded (flatkey::fold_notices()): one message
	// per 4096 joins, each naming the newest revision of every key
	// announced; they travel in front of the next table message
	std::vector<flatkey::KeyMessage> announcements;
	// KeyHierarchy::Tree: every member holds the key tree's keys up to at
	// least this depth (the depth at the last eviction; a member that
	// registered since holds its whole path): an eviction sends the keys
	// the tree grew by above it
	uint8_t tree_known_depth = 0;
	RekeySa kek;
	std::vector<GcksTek> teks;
	uint32_t last_message_id = 0; // of the last GSA_REKEY sent (state)
	// AlgorithmIdentifier of our GSA_REKEY signatures (RekeyAuth::
	// Signature), found by a signature when the group was loaded
	std::optional<Bytes> sig_alg;
	// the length of our last GSA_REKEY signature (after the ASN.1 Length
	// and AlgorithmIdentifier): the placeholder of the next one (a guess
	// only, so a failed rekey may leave it changed)
	size_t sig_bytes = 0;
	// RFC 9838 AUTH_KEY (RekeyAuth::Signature): the public key of our
	// GSA_REKEY signatures that members were given (DER
	// SubjectPublicKeyInfo). When local_id's key changes, the next rekey
	// announces the new one, signed with this one (rotate_auth_key()).
	Bytes auth_key;
	Counters counters;
};

// A rekey worked out but not done yet: the messages to send and the
// group's keys after them. Commit cannot fail.
struct RekeyPlan {
	std::vector<Bytes> datagrams; // GSA_REKEY messages, in order
	RekeySa kek; // the Rekey SA after the rekey (with its message ID)
	std::vector<GcksTek> teks; // the TEKs after the rekey
	uint32_t last_message_id = 0;
	bool new_kek = false;
	// local_id's public key when it is not GcksGroup::auth_key: the first
	// message carries it as AUTH_KEY, signed with the old key; the later
	// ones are signed with the new key
	std::optional<Bytes> new_auth_key;
	bool auth_key_announced = false;
};

// The keying material of a TEK of policy p, and the Rekey SA suite of c.
size_t tek_keymat_bytes(const TekPolicyConfig &p);
RekeySuite rekey_suite(const GcksGroupConfig &c);

class KeyServer {
public:
	KeyServer(EngineContext &ctx, IkeSas &ike) : ctx_(ctx), ike_(ike) {}
	KeyServer(const KeyServer &) = delete;
	KeyServer &operator=(const KeyServer &) = delete;

	std::map<std::string, std::unique_ptr<GcksGroup>> groups;

	GcksGroup *find(const std::string &name);
	// Engine::add_server_group(), Engine::evict(), Engine::readmit()
	Result<Done> add_group(const GcksGroupConfig &c);
	Result<Done> evict(GcksGroup &g, const std::vector<Identity> &members);
	Result<Done> readmit(GcksGroup &g, const Identity &member);
	Result<Done> merge_evicted(GcksGroup &g, const std::vector<Identity> &evicted, size_t *added);
	// Engine::exclude(): RFC 9838 "Deletion of SAs", Delete(GIKE_UPDATE,
	// SPI 0) to members (every member if empty, with Delete(ESP, SPI 0)
	// first): they drop the group's SAs and register again.
	Result<Done> exclude(GcksGroup &g, const std::vector<Identity> &members);
	// new_kek: replace the Rekey SA first (its keys wrapped under the
	// membership change's new group key when given, else under the
	// current Rekey SA's GSK_w); new_teks: then replace the TEKs in a
	// message under the (new) Rekey SA. change: the membership change
	// behind the rekey, if any. All or nothing: on error g is as before.
	Result<Done> rekey(GcksGroup &g, bool new_kek, bool new_teks, const MembershipChange *change = nullptr);

	// Replication to a standby key server (gcks_snapshot.cc, docs/
	// election.md): the group's state as a versioned snapshot; a group
	// started from one (c's group must not run here), all or nothing.
	Result<Bytes> snapshot(const GcksGroup &g) const;
	Result<Done> add_group_from(const GcksGroupConfig &c, ByteView snapshot);

	// A datagram for the key server: a request from a member, or the
	// answer to our GSA_INBAND_REKEY.
	void receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void tick(GcksGroup &g, uint64_t now_ms);
	uint64_t next(const GcksGroup &g) const;
	GroupState state(const GcksGroup &g) const;

	// For the IKE SA table: a registered member uses responder SA spi.
	bool uses_ike_sa(uint64_t spi) const;
	// A group that uses GSA_INBAND_REKEY has a member on responder SA spi.
	bool wants_ike_sa(uint64_t spi) const;
	// Responder SA spi goes: no member uses it any more.
	void forget_ike_sa(uint64_t spi);
	// The counters of a group bound to local, nullptr if none.
	Counters *counters_at(const Address &local);

private:
	// --- exchanges (gcks_exchange.cc)
	void ike_sa_init(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void request(IkeSa &sa, const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void gsa_auth(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	void gsa_registration(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	// RFC 7296 1.4, 1.5: a liveness check or a Delete of the IKE SA.
	void informational(IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	// Its IKE SA sa moved (sa.remote is new): the members registered over
	// it are at sa.remote now, and the shortcut sink is told.
	void members_moved(const IkeSa &sa);
	void response(IkeSa &sa, ByteView datagram, const IkeHeader &h);
	// A request on an IKE SA we do not know: an unprotected INFORMATIONAL
	// response with N(INVALID_IKE_SPI), rate-limited (RFC 7296 2.21.4).
	void invalid_spi(const Address &local, const Address &remote, const IkeHeader &h, Counters *c);
	GcksGroup *find(const Identity &group_id, const Address &local);
	// The member's AUTH in GSA_AUTH checks out.
	bool member_auth_ok(GcksGroup &g, IkeSa &sa, const Identity &peer, ByteView idi_body, const AuthPayload &auth);
	// Our IDr and AUTH for GSA_AUTH, nullopt if we cannot sign.
	std::optional<std::vector<Payload>> auth_reply(GcksGroup &g, IkeSa &sa, const Identity &peer);
	// peer may register: authorized, not evicted.
	bool authorized(const GcksGroup &g, const Identity &peer) const;
	// GSA_AUTH for an unknown group: INVALID_GROUP_ID once the member
	// is authenticated, else AUTHENTICATION_FAILED.
	void unknown_group(IkeSa &sa, const IkeHeader &h, const Identity &peer, ByteView idi_body,
			   const AuthPayload &auth, Counters *c);
	// Answers a GSA_AUTH that registers nobody with a notify and drops sa.
	void refuse(IkeSa &sa, const IkeHeader &h, std::vector<Payload> reply, NotifyType why);
	// GSA + KD of a registration over sa for member sa.peer.
	// senders: the count of Sender-IDs the member asked for with
	// N(GROUP_SENDER), nullopt if it sent none (not a sender); peers: the
	// members it named with N(MEMBER_LIST), empty if none.
	Result<std::vector<Payload>> register_member(GcksGroup &g, IkeSa &sa, const Address &local,
						     const Address &remote, std::optional<uint32_t> senders,
						     std::vector<Identity> peers);
	Result<GcksMember *> join(GcksGroup &g, const Identity &peer);
	void replace_ike_sa(GcksMember &m, uint64_t spi);

	// --- rekeys and evictions (gcks_rekey.cc)
	Result<Done> plan_kek_message(GcksGroup &g, RekeyPlan &p, const MembershipChange *change);
	Result<Done> plan_tek_message(GcksGroup &g, RekeyPlan &p);
	Result<uint32_t> take_message_id(const GcksGroup &g, RekeyPlan &p, RekeySa &kek);
	Result<std::pair<SecretBytes, uint32_t>> kek_wrapping_key(GcksGroup &g, const RekeySa &current,
								  const MembershipChange *change);
	void commit_rekey(GcksGroup &g, RekeyPlan &p, const MembershipChange *change);
	// RekeyTransport::Inband: the current policy and keys to every member
	// (but leaving ones) by GSA_INBAND_REKEY over its IKE SA.
	void send_inband(GcksGroup &g, const MembershipChange *change);
	// ... to one member; false if its IKE SA is gone (it is busy: sent
	// when the exchange under way ends).
	bool send_inband_to(GcksGroup &g, GcksMember &m);
	// RekeyTransport::Inband: new TEKs (the current ones retire) to every
	// member but the leaving ones; there is no Rekey SA.
	Result<Done> rekey_inband(GcksGroup &g, bool new_teks, const MembershipChange *change);
	// RekeyTransport::Inband eviction: no key hierarchy; the evicted
	// members' IKE SAs are closed, the others get new TEKs.
	Result<Done> evict_inband(GcksGroup &g, const std::vector<Identity> &members);
	// The TEKs of p retire and new ones of every policy join them.
	void fresh_teks(GcksGroup &g, RekeyPlan &p, std::vector<GcksTek> &fresh, std::vector<uint32_t> &old_spis);
	Result<Bytes> rekey_message(GcksGroup &g, RekeyPlan &p, const RekeySa &protecting, uint32_t id,
				    std::vector<Payload> inner);
	// with: the public key whose private key signs (an AUTH_KEY members
	// hold), nullptr for local_id's current key.
	Result<Done> sign_rekey(GcksGroup &g, const IkeHeader &h, std::vector<Payload> &inner, const Bytes *with);
	// A rekey of p announces local_id's new public key (AUTH_KEY) if it
	// changed since members were given g.auth_key.
	void rotate_auth_key(GcksGroup &g, RekeyPlan &p);
	// A GSA_REKEY of Delete payloads only (RFC 9838 "Deletion of SAs"),
	// over the current Rekey SA, to members (everyone if empty).
	Result<Done> send_deletes(GcksGroup &g, const std::vector<DeletePayload> &deletes,
				  const std::vector<Identity> &members);
	// Sends datagram to the group (but not to leaving members): false if
	// there was someone to send to and nothing could be sent.
	bool deliver(GcksGroup &g, ByteView datagram, const std::set<Identity> *leaving);
	Result<Done> remove_members(GcksGroup &g, const std::vector<Identity> &members);
	Result<Done> evict_tree(GcksGroup &g, const std::vector<Identity> &members);
	Result<Done> evict_flat(GcksGroup &g, const std::vector<Identity> &members);
	// Removes members whose eviction went out (cannot fail).
	void drop_members(GcksGroup &g, const std::vector<Identity> &members);
	// Replaces a group's configuration by c (same group ID and key
	// hierarchy): members no longer authorized are removed by a rekey, a
	// new TEK policy goes out in one.
	Result<Done> reconfigure(GcksGroup &g, const GcksGroupConfig &c, std::optional<Bytes> sig_alg);

	// --- keys and policy (gcks_payloads.cc)
	std::optional<Bytes> sig_alg(GcksGroup &g);
	// The AlgorithmIdentifier of a signature by c.local_id; an error if
	// there is no key to make one.
	Result<Bytes> signature_algorithm(const GcksGroupConfig &c);
	// Stores a group's evicted identities (EvictionStore), if there is a
	// store; an error if that failed.
	Result<Done> store_evicted(const GcksGroup &g, const std::set<Identity> &evicted);
	// A new TEK of TEK policy policy, its SPI not among teks.
	GcksTek make_tek(const GcksGroup &g, const std::vector<GcksTek> &teks, size_t policy);
	Result<std::vector<Attribute>> flat_attributes(GcksGroup &g, const flatkey::KeyMessage &m);
	// The member key bag attributes of a membership change.
	Result<std::vector<Attribute>> change_attributes(GcksGroup &g, const MembershipChange &c);
	Result<std::vector<WrappedKey>> tree_leave_wraps(const GcksGroup &g,
							 const keytree::KeyTreeServer::LeavePlan &plan);
	Result<std::vector<Payload>> member_payloads(GcksGroup &g, const GcksMember &m, ByteView kwk, bool registration,
						     const MembershipChange *change);
	Result<Done> registration_keys(GcksGroup &g, const GcksMember &m, ByteView kwk, MemberKeyBag &mb,
				       std::optional<keytree::Key> &root);
	// The GSA policy of Rekey SA kek, the GSA of the current TEKs of teks.
	GsaPolicy kek_policy(GcksGroup &g, const RekeySa &kek, bool registration);
	// sender_bits: with GWP_SENDER_ID_BITS (a registration of a sender
	// given Sender-IDs; never in a rekey).
	GsaPayload tek_gsa(const GcksGroup &g, const std::vector<GcksTek> &teks, bool sender_bits = false);
	void new_kek(GcksGroup &g);
	void init_keys(GcksGroup &g);

	EngineContext &ctx_;
	IkeSas &ike_;
};

} // namespace groupsec::gdoi::detail
