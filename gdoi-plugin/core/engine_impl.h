// The state behind Engine: IKE SAs, key server groups, member groups.
// Internal to the core; gdoi_engine.cc holds the IKE SA and dispatch
// code, gcks.cc the key server, gm.cc the group member.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gdoi_engine.h"
#include "gikev2_message.h"
#include "gikev2_sk.h"
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/flatkey/key_store.h"
#include "groupsec/keytree/key_tree.h"
#include "ike_crypto.h"

namespace groupsec::gdoi {

namespace detail {

// Sender-IDs (RFC 9838 GWP_SENDER_ID_BITS, GM_SENDER_ID): 16 bits, at
// most 16 per member.
constexpr uint16_t kSenderIdBits = 16;
constexpr uint32_t kMaxSenderIds = 16;

inline Payload make_payload(PayloadType t, Bytes body)
{
	return Payload{static_cast<uint8_t>(t), false, std::move(body)};
}

inline const Payload *find_payload(const std::vector<Payload> &ps, PayloadType t)
{
	for (const Payload &p : ps)
		if (p.type == static_cast<uint8_t>(t))
			return &p;
	return nullptr;
}

constexpr uint64_t kRetransmitBaseMs = 2000;
constexpr unsigned kMaxTransmits = 5;
constexpr uint64_t kHalfOpenTimeoutMs = 30000;
// A responder IKE SA that no registered member uses (its member left or
// was removed, its group went away) is kept this long to answer
// retransmissions, then removed.
constexpr uint64_t kUnusedIkeSaTimeoutMs = 30000;
// RFC 7296 2.6: the cookie secret is replaced this often; cookies made
// with the previous secret are accepted for one more period.
constexpr uint64_t kCookieSecretPeriodMs = 300000;
constexpr size_t kCookieSecretBytes = 32;
constexpr uint64_t kRetryRegistrationMs = 30000;
// Unprotected N(INVALID_IKE_SPI) answers (RFC 7296 2.21.4) a key server
// sends per second at most, all peers together: a forged flood of
// requests gets no more than this out of it.
constexpr unsigned kInvalidSpiPerSecond = 20;
constexpr size_t kNonceBytes = 32;
constexpr size_t kDefaultCookieThreshold = 64;
// Rekey SA keying material: GSK_e (AES-256) | salt | GSK_w (KW_5649_256).
constexpr size_t kKekKeyBytes = 32;
constexpr size_t kKekKeymatBytes = kKekKeyBytes + 4 + 32;
// Member key bag attribute (private use range) carrying an encoded flat
// key table message (lib/groupsec/flatkey/key_message.h).
constexpr uint16_t kFlatKeyMessageAttribute = 16384;
// Plaintext of a WRAP_KEY holding a flat key table key:
// version (4) | revision (4) | creator (4) | key (32).
constexpr size_t kFlatWrapPlainBytes = 12 + flatkey::kKeyBytes;

// Member key bag attribute (private use range) carrying an encoded key
// tree message (lib/groupsec/keytree/key_tree.h, docs/key-tree.md).
constexpr uint16_t kKeyTreeMessageAttribute = 16385;
// Member key bag attribute (private use range) at registration: the key
// tree's epoch (8 octets) and depth (1 octet) the WRAP_KEYs belong to.
constexpr uint16_t kKeyTreeStateAttribute = 16386;
constexpr size_t kKeyTreeStateBytes = 9;

// RFC 9838 Key IDs of key tree keys: 0x40000000 | (level + 1) << 24 | pos
// (never 0, never a flat key table Key ID). The WRAP_KEY of a tree key
// unwraps to the 32-octet key itself.
uint32_t tree_key_id(keytree::NodeName n);
// Lower-case hex of b (the engine's one hex encoder).
std::string hex_text(ByteView b);
std::optional<keytree::NodeName> tree_node_from_id(uint32_t key_id);

// RFC 9838 Key IDs of flat key table keys (never 0).
uint32_t flat_key_id(const flatkey::KeyId &id);
std::optional<flatkey::KeyId> flat_key_from_id(uint32_t key_id);
SecretBytes flat_wrap_plain(const flatkey::KeySlot &slot);
std::optional<flatkey::KeySlot> flat_wrap_slot(ByteView plain);

// The keys of a Rekey SA (GSA KEK).
struct RekeySa {
	Bytes spi; // 16 octets: IKE SPIi | SPIr of GSA_REKEY
	SecretBytes keymat;
	SkKeys keys;
	SecretBytes gsk_w;
	uint32_t lifetime_s = 0;
	uint64_t created_ms = 0;
	uint64_t expires_ms = 0;
	// GSA_REKEY message IDs count per Rekey SA (RFC 9838 2.4.1.3: "The
	// first message sent over a new Rekey SA MUST use Message ID of 0").
	// GCKS: the ID of the next message sent over this SA; member: the
	// lowest ID accepted on it (2.4.1.4), its GSA_INITIAL_MESSAGE_ID or 0
	// at first. 2^32 when the 32-bit IDs are used up.
	uint64_t next_message_id = 0;
};
// Splits keymat (kKekKeymatBytes) into GSK_e | GSK_w.
RekeySa make_rekey_sa(Bytes spi, SecretBytes keymat, uint32_t lifetime_s, uint64_t now_ms);

// RFC 9838 2.4.1.1 "GSA_REKEY Message Authentication": the octets a
// signed GSA_REKEY signs, A | P. h: the message's header (its Length and
// the SK Payload Length are adjusted here); sk_critical: the C bit of its
// SK payload; inner: its inner payloads, AUTH last, whose Authentication
// Data (after the ASN.1 Length octet and the AlgorithmIdentifier) is
// zeroed here keeping its length, so the key server (placeholder) and a
// member (signature received) get the same octets.
Result<Bytes> rekey_signed_octets(const IkeHeader &h, bool sk_critical, std::vector<Payload> inner);

struct IkeSa {
	bool initiator = false;
	uint64_t spi_i = 0, spi_r = 0;
	Address local, remote;
	uint16_t dh_group = 0;
	SkCipher cipher = SkCipher::AesGcm16;
	std::unique_ptr<ike::DhKey> dh;
	Bytes ni, nr, cookie;
	Bytes init_request, init_response; // the IKE_SA_INIT messages as sent
	ike::IkeKeys keys;
	SecretBytes gsk_w;
	bool keyed = false; // IKE_SA_INIT done
	bool authenticated = false; // GSA_AUTH done
	Identity own; // GM: IDi
	Identity peer; // GCKS: the member's IDi
	uint64_t created_ms = 0;
	// GCKS: authenticated, but no registered member's IKE SA since then
	std::optional<uint64_t> unused_since_ms;
	uint64_t iv_counter = 0;
	// the request this side has outstanding
	struct Pending {
		uint32_t id = 0;
		uint8_t exchange = 0;
		Bytes datagram;
		uint64_t next_ms = 0;
		unsigned transmits = 0;
		std::string group;
	};
	std::optional<Pending> pending;
	uint32_t next_request_id = 0;
	// the last request the peer sent and our answer
	std::optional<uint32_t> last_peer_request;
	Bytes last_response;
	std::string group; // the group the last exchange was for (counters)
};

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

class RandomAdapter : public flatkey::RandomSource {
public:
	explicit RandomAdapter(Random *r) : r_(r) {}
	void fill(uint8_t *out, size_t len) override { r_->fill(out, len); }

private:
	Random *r_;
};

class ClockAdapter : public flatkey::Clock {
public:
	explicit ClockAdapter(const gdoi::Clock *c) : c_(c) {}
	uint64_t now_ms() const override { return c_->now_ms(); }

private:
	const gdoi::Clock *c_;
};

// What a membership change adds to a rekey: the key hierarchy's message
// and the key the new Rekey SA is wrapped under, and who is leaving (they
// get no copy).
struct MembershipChange {
	const flatkey::KeyMessage *flat = nullptr;
	std::optional<flatkey::KeyRef> flat_tek;
	const keytree::TreeMessage *tree = nullptr;
	std::optional<keytree::Key> tree_root;
	std::set<Identity> leaving;
};

struct GcksGroup {
	GcksGroup(const GcksGroupConfig &c, Random *r, const gdoi::Clock *clk);
	GcksGroupConfig cfg;
	RandomAdapter rnd;
	ClockAdapter clk;
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
	uint32_t next_sender_id = 1; // Sender-IDs are never given twice
	// join announcements (revision notices) since the last table message
	// the members received, folded (flatkey::fold_notices()): one message
	// per 4096 joins, each naming the newest revision of every key
	// announced; they travel in front of the next table message
	std::vector<flatkey::KeyMessage> announcements;
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
	Counters counters;
};

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
	std::string state = "idle";
	size_t server_index = 0;
	Address server_address;
	uint64_t ike_spi = 0; // initiator SPI of the IKE SA in use
	uint64_t next_register_ms = 0;
	std::optional<RekeySa> kek, old_kek;
	uint64_t old_kek_remove_ms = 0;
	bool gcauth_signature = false;
	Bytes sig_alg;
	uint32_t last_message_id = 0; // of the last GSA_REKEY accepted (state)
	flatkey::KeyStore keys;
	std::optional<keytree::KeyTreeMember> tree;
	std::vector<GmTek> teks;
	uint16_t atd = 0, dtd = 0;
	std::vector<uint32_t> sender_ids;
	Counters counters;
};

} // namespace detail

struct Engine::Impl {
	explicit Impl(EngineDeps d) : deps(d) {}

	EngineDeps deps;
	size_t cookie_threshold = detail::kDefaultCookieThreshold;
	// cookie secrets: the one of period cookie_epoch (counted from
	// cookie_start_ms) and the one of the period before, if any
	std::optional<uint64_t> cookie_start_ms;
	uint64_t cookie_epoch = 0;
	SecretBytes cookie_secret, cookie_previous;
	flatkey::KeyWrapper wrapper;
	std::map<std::string, std::unique_ptr<detail::GcksGroup>> servers;
	std::map<std::string, std::unique_ptr<detail::GmGroup>> members;
	// IKE SAs where we answered IKE_SA_INIT, by our (responder) SPI; only
	// add_responder_sa(), responder_authenticated() and
	// remove_responder_sa() change them, which keep the two below
	std::map<uint64_t, std::unique_ptr<detail::IkeSa>> responder_sas;
	// the same SAs by the initiator's SPI and address (IKE_SA_INIT
	// retransmissions)
	std::map<std::pair<uint64_t, Address>, uint64_t> responder_by_init;
	size_t half_open_sas = 0; // responder SAs not authenticated (yet)
	// IKE SAs we started, by our (initiator) SPI
	std::map<uint64_t, std::unique_ptr<detail::IkeSa>> initiator_sas;
	// N(INVALID_IKE_SPI) answers sent in the second starting at
	// invalid_spi_window_ms (rate limit)
	uint64_t invalid_spi_window_ms = 0;
	unsigned invalid_spi_in_window = 0;

	uint64_t now() const { return deps.clock->now_ms(); }
	void log_ike_sa(const detail::IkeSa &sa) const
	{
		if (deps.keylog) {
			deps.keylog->ike_sa(sa.spi_i, sa.spi_r, sa.keys.initiator, sa.keys.responder);
		}
	}
	void log_rekey_sa(const detail::RekeySa &kek) const
	{
		if (deps.keylog) {
			deps.keylog->rekey_sa(kek.spi, kek.keys);
		}
	}
	Bytes random(size_t n);
	uint64_t random_spi();
	// The PSK of two identities, in memory that is wiped when freed.
	std::optional<SecretBytes> psk(const Identity &local, const Identity &remote);
	void log_error(const std::string &message) const
	{
		if (deps.log)
			deps.log->error(message);
	}
	void log_warning(const std::string &message) const
	{
		if (deps.log)
			deps.log->warning(message);
	}

	// --- gdoi_engine.cc: IKE SA plumbing ---
	// false if the transport could not send it
	bool send(Counters *c, const Address &local, const Address &remote, ByteView datagram);
	Counters *counters_for(const std::string &group);
	Counters *attribute(const Address &local, bool server_first);
	// Seals inner payloads in SK for sa (direction from sa.initiator).
	Result<Bytes> seal(detail::IkeSa &sa, uint8_t exchange, uint32_t id, bool response,
			   const std::vector<Payload> &inner);
	// Sends a request over sa and arms its retransmission.
	void send_request(detail::IkeSa &sa, uint8_t exchange, const std::vector<Payload> &inner,
			  const std::string &group);
	void send_response(detail::IkeSa &sa, uint32_t id, uint8_t exchange, const std::vector<Payload> &inner);
	// The inner payloads of the peer's request on sa, opened with keys
	// (its direction); the peer's requests count from first_id. A
	// retransmission of the last request is answered from the cache, a
	// replayed, out-of-order or unreadable one is counted in c; nullopt
	// then, and when nothing more is to be done.
	std::optional<std::vector<Payload>> open_request(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h,
							 const SkKeys &keys, uint32_t first_id, Counters *c);
	void retransmit(uint64_t now_ms);
	void add_responder_sa(std::unique_ptr<detail::IkeSa> sa);
	void responder_authenticated(detail::IkeSa &sa);
	void remove_responder_sa(uint64_t spi);
	// Half-open SAs time out, authenticated ones no member uses expire.
	void expire_responder_sas(uint64_t now_ms);
	// Initiator SAs that cannot be used any more (not authenticated, or
	// no member group's) and have no request outstanding.
	void expire_initiator_sas();
	// RFC 7296 2.6 cookies: <secret version> | prf(secret, Ni | IPi | SPIi).
	void rotate_cookie_secret(uint64_t now_ms);
	Bytes make_cookie(ByteView ni, const Address &remote, uint64_t spi_i) const;
	bool cookie_valid(ByteView cookie, ByteView ni, const Address &remote, uint64_t spi_i) const;

	// --- gcks.cc ---
	void gcks_receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void gcks_ike_sa_init(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void gcks_request(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h);
	void gcks_gsa_auth(detail::IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	void gcks_gsa_registration(detail::IkeSa &sa, const IkeHeader &h, const std::vector<Payload> &inner);
	void gcks_response(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h);
	// A request on an IKE SA we do not know: an unprotected INFORMATIONAL
	// response with N(INVALID_IKE_SPI), rate-limited (RFC 7296 2.21.4).
	void gcks_invalid_spi(const Address &local, const Address &remote, const IkeHeader &h, Counters *c);
	detail::GcksGroup *gcks_find(const Identity &group_id, const Address &local);
	// GSA + KD of a registration over sa for member m.
	// senders: Sender-IDs the member asked for with N(GROUP_SENDER).
	Result<std::vector<Payload>> gcks_register(detail::GcksGroup &g, detail::IkeSa &sa, const Address &local,
						   const Address &remote, uint32_t senders);
	// new_kek: replace the Rekey SA first (its keys wrapped under flat_tek
	// when given, else under the current Rekey SA's GSK_w); new_teks:
	// then replace the TEKs in a message under the (new) Rekey SA.
	// change: the membership change behind the rekey, if any. All or
	// nothing: on error g is as before.
	Result<Done> gcks_rekey(detail::GcksGroup &g, bool new_kek, bool new_teks,
				const detail::MembershipChange *change = nullptr);
	Result<Bytes> gcks_rekey_message(detail::GcksGroup &g, const detail::RekeySa &protecting, uint32_t id,
					 std::vector<Payload> inner);
	// Sends datagram to the group (but not to leaving members): false if
	// there was someone to send to and nothing could be sent.
	bool gcks_deliver(detail::GcksGroup &g, ByteView datagram, const std::set<Identity> *leaving);
	Result<Done> gcks_evict(detail::GcksGroup &g, const std::vector<Identity> &members);
	Result<Done> gcks_evict_tree(detail::GcksGroup &g, const std::vector<Identity> &members);
	Result<Done> gcks_evict_flat(detail::GcksGroup &g, const std::vector<Identity> &members);
	// Removes members whose eviction went out (cannot fail).
	void gcks_drop_members(detail::GcksGroup &g, const std::vector<Identity> &members);
	bool fault(const char *step) const { return deps.faults && deps.faults->fail(step); }
	void gcks_tick(detail::GcksGroup &g, uint64_t now_ms);
	uint64_t gcks_next(const detail::GcksGroup &g) const;
	GroupState gcks_state(const detail::GcksGroup &g) const;
	std::optional<Bytes> gcks_sig_alg(detail::GcksGroup &g);
	// The AlgorithmIdentifier of a signature by c.local_id; an error if
	// there is no key to make one.
	Result<Bytes> gcks_signature_algorithm(const GcksGroupConfig &c);
	// Stores a group's evicted identities (EvictionStore), if there is a
	// store; an error if that failed.
	Result<Done> gcks_store_evicted(const detail::GcksGroup &g, const std::set<Identity> &evicted);
	detail::GcksTek make_tek(detail::GcksGroup &g, size_t policy);
	Result<std::vector<Attribute>> flat_attributes(detail::GcksGroup &g, const flatkey::KeyMessage &m);
	// The member key bag attributes of a membership change.
	Result<std::vector<Attribute>> change_attributes(detail::GcksGroup &g, const detail::MembershipChange &c);
	Result<std::vector<Payload>> member_payloads(detail::GcksGroup &g, const detail::GcksMember &m, ByteView kwk,
						     bool registration, const detail::MembershipChange *change);
	GsaPolicy kek_policy(detail::GcksGroup &g, bool registration);
	GsaPayload tek_gsa(detail::GcksGroup &g);
	void new_kek(detail::GcksGroup &g);
	void init_keys(detail::GcksGroup &g);

	// --- gm.cc ---
	void gm_receive(const Address &local, const Address &remote, ByteView datagram, const IkeHeader &h);
	void gm_rekey(const Address &local, ByteView datagram, const IkeHeader &h);
	void gm_response(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h);
	void gm_inband(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h);
	void gm_start(detail::GmGroup &g);
	void gm_send_auth(detail::IkeSa &sa, detail::GmGroup &g);
	void gm_registered(detail::GmGroup &g, detail::IkeSa &sa, const std::vector<Payload> &inner);
	void gm_failed(detail::GmGroup &g, bool next_server);
	void gm_exchange_failed(detail::IkeSa &sa);
	// The key server lost our IKE SA (N(INVALID_IKE_SPI) for our request,
	// or no answer to a retransmission on an authenticated IKE SA): the
	// IKE SA goes, every group on it registers afresh with IKE_SA_INIT
	// and keeps its group SAs until the new registration replaces them.
	void gm_start_over(detail::IkeSa &sa);
	// An unprotected INFORMATIONAL response: acted on only if it carries
	// N(INVALID_IKE_SPI) for the request we have outstanding.
	void gm_invalid_spi(detail::IkeSa &sa, ByteView datagram, const IkeHeader &h, Counters *c);
	void gm_exclude(detail::GmGroup &g);
	// Applies GSA and KD; nothing changes on error.
	// excluded: the new Rekey SA's keys were there but none could be
	// unwrapped (the member was removed from the group).
	// rekey_id: the GSA_REKEY's message ID (key log), 0 otherwise.
	Result<Done> gm_apply(detail::GmGroup &g, const std::vector<Payload> &inner, ByteView default_kwk,
			      bool registration, bool *excluded, uint32_t rekey_id = 0);
	void gm_send_init(detail::IkeSa &sa, const std::string &group);
	void gm_schedule(detail::GmGroup &g);
	void gm_tick(detail::GmGroup &g, uint64_t now_ms);
	uint64_t gm_next(const detail::GmGroup &g) const;
	GroupState gm_state(const detail::GmGroup &g) const;
	detail::GmGroup *gm_by_name(const std::string &name);
};

} // namespace groupsec::gdoi
