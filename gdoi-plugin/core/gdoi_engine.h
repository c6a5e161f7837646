// SPDX-License-Identifier: GPL-2.0-or-later
// The G-IKEv2 engine: key server (GCKS) and group member (GM) state
// machines of RFC 9838 over UDP, with no socket, clock, randomness or
// credential of its own. The charon glue feeds it datagrams and timer
// ticks and implements the small interfaces below; tests wire several
// engines together in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gikev2_payloads.h"
#include "gikev2_result.h"
#include "gikev2_sk.h"
#include "groupsec/crypto/clock.h"
#include "groupsec/crypto/random.h"
#include "groupsec/ident/identity.h"

namespace groupsec::gdoi {

// An IPv4 or IPv6 address with a UDP port.
struct Address {
	Bytes ip; // 4 or 16 octets
	uint16_t port = 0;

	// "192.0.2.1", "2001:db8::1"; nullopt if not an address.
	static std::optional<Address> parse(const std::string &ip, uint16_t port);
	std::string ip_string() const; // without the port
	std::string str() const; // "192.0.2.1[848]", "2001:db8::1[848]"
};
bool operator==(const Address &a, const Address &b);
bool operator<(const Address &a, const Address &b);

// An IKE identity (ID payload type and data), e.g. FQDN "gm1.example.net":
// lib's, with its one parser and printer (swanctl notation).
using Identity = ident::Identity;

// How a peer authenticates (AUTH payload method).
enum class AuthKind {
	Psk, // shared key from Credentials::shared_key()
	PublicKey, // RFC 7427 digital signature, see Credentials::sign()
};

// The value of an operation that has no other result.
struct Done {};

// --- what the glue implements ---

class Transport {
public:
	virtual ~Transport() = default;
	// Sends one datagram from the local address to the remote one; false
	// if it could not be handed to the network.
	virtual bool send(const Address &local, const Address &remote, ByteView datagram) = 0;
};

// lib's clock (monotonic milliseconds) and randomness, the ones every core
// takes.
using Clock = crypto::Clock;
using Random = crypto::RandomSource;

// Whose AUTH payload a verification checks.
enum class PeerRole { KeyServer = 0, Member = 1 };

class Credentials {
public:
	virtual ~Credentials() = default;
	// The PSK shared by two identities, nullopt if none.
	virtual std::optional<Bytes> shared_key(const Identity &local, const Identity &remote) = 0;
	// Signs octets with the private key of identity signer: returns the AUTH
	// payload data of RFC 7427 (AlgorithmIdentifier length, AlgorithmIdentifier,
	// signature), nullopt if there is no key.
	virtual std::optional<Bytes> sign(const Identity &signer, ByteView octets) = 0;
	// Verifies RFC 7427 AUTH data over octets with a trusted public key
	// (certificate) of identity signer, as the peer of group in role (a
	// member checks its key server's AUTH, a key server its member's): a
	// key may be trusted for some groups and roles only (trust-lists.md).
	virtual bool verify(const Identity &signer, ByteView octets, ByteView auth_data, const std::string &group,
			    PeerRole role) = 0;
	// RFC 9838 AUTH_KEY. The public key (DER SubjectPublicKeyInfo) of the
	// private key sign() would use for identity signer, nullopt if none.
	virtual std::optional<Bytes> public_key(const Identity &signer)
	{
		(void)signer;
		return std::nullopt;
	}
	// Signs octets as sign() does, with the private key of public key spki
	// (the key a key server announced before rotating to a new one),
	// nullopt if that private key is not held.
	virtual std::optional<Bytes> sign_with(ByteView spki, ByteView octets)
	{
		(void)spki;
		(void)octets;
		return std::nullopt;
	}
	// Verifies RFC 7427 AUTH data over octets with public key spki.
	virtual bool verify_with(ByteView spki, ByteView octets, ByteView auth_data)
	{
		(void)spki;
		(void)octets;
		(void)auth_data;
		return false;
	}
	// The trusted public keys of identity peer (certificates or raw keys
	// the operator loaded for it), empty if none: a member pins the
	// AUTH_KEY of its key server to them.
	virtual std::vector<Bytes> trusted_keys(const Identity &peer)
	{
		(void)peer;
		return {};
	}
};

// How a group's data-security SAs carry traffic (RFC 9838 2.3.4, "Multicast
// Extensions to the Security Architecture [RFC5374] defines two modes of
// operation for multicast Data-Security SAs: transport mode and tunnel mode
// with address preservation").
enum class SaMode {
	// tunnel mode with address preservation: the outer header copies the
	// inner one's addresses; the RFC's mode when the key server sends no
	// USE_TRANSPORT_MODE
	Tunnel,
	// tunnel mode to the gateway behind which the destination lies (the
	// S/R design, docs/gdoi.md); a private-use status notify says so
	Gateway,
	// transport mode: N(USE_TRANSPORT_MODE) in the registration response
	Transport,
};
const char *sa_mode_name(SaMode m); // "tunnel", "gateway", "transport"

// A data-security SA (TEK) as a member installs it.
struct TekSa {
	std::string group;
	uint32_t spi = 0; // host order
	uint16_t encryption = 0; // IKEv2 transform ID: 20 ENCR_AES_GCM_16, 12 ENCR_AES_CBC
	SecretBytes encryption_key; // with the 4-octet salt appended for AES-GCM
	uint16_t integrity = 0; // 0, or 12 AUTH_HMAC_SHA2_256_128
	SecretBytes integrity_key;
	TrafficSelector source; // from the GSA TEK policy
	TrafficSelector destination;
	uint32_t lifetime_s = 0;
	bool outbound = true; // false: receive only until activate()
	SaMode mode = SaMode::Tunnel; // as the key server's registration response said
};

class SaSink {
public:
	virtual ~SaSink() = default;
	// Installs the group's inbound SA and, towards every tunnel endpoint of
	// the group, the outbound SA and policies. false if that failed.
	virtual bool install(const TekSa &sa) = 0;
	// Removes everything install() made for this SPI.
	virtual void remove(const std::string &group, uint32_t spi) = 0;
	// A TEK installed receive-only (outbound false) starts sending: the
	// outbound SAs move to it (GAP activation time delay over).
	virtual bool activate(const std::string &group, uint32_t spi)
	{
		(void)group;
		(void)spi;
		return true;
	}
	// Why SAs of this mode cannot be installed for the group (the data
	// plane cannot make them, or the group's endpoints do not fit it),
	// nullopt if they can. The member refuses such a registration.
	virtual std::optional<std::string> refuse(const std::string &group, SaMode mode) const
	{
		(void)group;
		(void)mode;
		return std::nullopt;
	}
};

// Where the keys of IKE SAs and Rekey SAs go when the operator asks for
// them to decrypt captures (Wireshark's IKEv2 decryption table). Off by
// default: whoever reads these keys reads the group's key traffic.
class KeyLog {
public:
	virtual ~KeyLog() = default;
	// An IKE SA was keyed: SK_ei/SK_ai protect what the initiator sends.
	virtual void ike_sa(uint64_t spi_i, uint64_t spi_r, const SkKeys &initiator,
			    const SkKeys &responder) = 0;
	// A Rekey SA (GSA KEK) was made or received: spi is SPIi | SPIr of its
	// GSA_REKEY messages, keys protect them.
	virtual void rekey_sa(ByteView spi, const SkKeys &keys) = 0;
	// GM: a key this member learned for a group (the member key material
	// log). kind "kek": id the Rekey SA SPI (SPIi | SPIr) in hex, value its
	// keymat GSK_e | salt | GSK_w; "tek": id the ESP SPI in hex (8 digits),
	// value its keymat (encryption key | salt for AES-GCM, encryption key |
	// HMAC key for AES-CBC); for both, epoch is the message ID of the
	// GSA_REKEY that carried the key, 0 for a registration or
	// GSA_INBAND_REKEY; "wrap": id the Key ID (8 hex digits) of a key of
	// the Working Key Path (RFC 9838 3.3), value the key, epoch as for
	// the others.
	virtual void member_key(const std::string &group, const std::string &kind, const std::string &id,
				ByteView value, uint64_t epoch)
	{
		(void)group, (void)kind, (void)id, (void)value, (void)epoch;
	}
};

// Tests only: makes a named step of an operation fail ("key-table",
// "encode", "sign", "send") to prove that a failure changes nothing.
class FaultInjector {
public:
	virtual ~FaultInjector() = default;
	virtual bool fail(const char *step) = 0;
};

// Where the engine reports what an operator has to know: a group that
// does not start, a policy it runs under only because it was told to, a
// registration refused by policy.
class Log {
public:
	virtual ~Log() = default;
	virtual void error(const std::string &message) = 0;
	virtual void warning(const std::string &message) = 0;
};

// Where a key server keeps the identities it evicted from its groups, so
// that they stay out across configuration reloads and restarts until an
// operator re-admits them (the glue: a file per group).
class EvictionStore {
public:
	virtual ~EvictionStore() = default;
	// The identities evicted from a group, read when the group is loaded;
	// an error keeps the group from starting.
	virtual Result<std::vector<Identity>> load(const std::string &group) = 0;
	// The group's evicted identities are now these. An error means that
	// nothing was stored: the eviction or re-admission is refused.
	virtual Result<Done> store(const std::string &group, const std::vector<Identity> &evicted) = 0;
};

// --- configuration ---

// The smallest TransportConfig::fragment_size.
constexpr size_t kMinFragmentSize = 256;

// How the engine uses the network, for all its groups.
struct TransportConfig {
	// IKE fragmentation (RFC 7383) of the unicast exchanges: offered
	// (member) and accepted (key server) with N(IKEV2_FRAGMENTATION_
	// SUPPORTED) in IKE_SA_INIT; where both sides did, an SK message
	// larger than fragment_size travels as fragments.
	bool fragmentation = false;
	// The largest IP datagram a fragment makes (IP and UDP headers and a
	// non-ESP marker included); 0: RFC 7383 2.5.1's 576 octets for IPv4
	// and 1280 for IPv6. At least 256 octets.
	size_t fragment_size = 0;
	// NAT traversal (RFC 7296 2.23): the port both sides move to once
	// NAT_DETECTION_* show a NAT between them (4500), where datagrams
	// carry the 4-octet non-ESP marker; 0: off (no NAT_DETECTION
	// notifies are sent, a member stays on the port it started on).
	uint16_t nat_t_port = 0;
};

// How GSA_REKEY messages are authenticated (RFC 9838 GCAUTH).
enum class RekeyAuth {
	// signed by the key server (RFC 7427): members accept no other
	Signature,
	// implicit, by the Rekey SA keys alone: every member holds them and
	// can forge rekeys; only when configured so, on both sides
	Implicit,
};
const char *rekey_auth_name(RekeyAuth a); // "signature", "implicit"

struct TekPolicyConfig {
	TrafficSelector source; // e.g. 10.0.0.0-10.255.255.255
	TrafficSelector destination;
	uint16_t encryption = 20; // ENCR_AES_GCM_16 or ENCR_AES_CBC
	uint16_t key_bits = 256; // 128, 192 or 256
	uint16_t integrity = 0; // 0 for AES-GCM, 12 for AES-CBC
	// One member sends on this TEK: the GSA says "32-bit Sequential
	// Numbers"; otherwise (the default) "32-bit Unspecified Numbers", which
	// RFC 9838 4.4.2.1.3 says "MUST be used by the GCKS in case of
	// multi-sender multicast Data-Security SAs"
	bool single_sender = false;
};

// How the key server's rekeys reach members. Unicast and Multicast: a
// Rekey SA and GSA_REKEY messages (RFC 9838 2.4), to each member or to the
// multicast address; the key server closes a member's IKE SA after its
// registration. Inband: no Rekey SA at all; each member keeps its IKE SA
// and gets every rekey by GSA_INBAND_REKEY over it (2.4.2); registrations
// carry no GSA KEK policy, no GSA_INITIAL_MESSAGE_ID, no WRAP_KEY and no
// AUTH_KEY, as RFC 9838's table of attributes with inband rekey operations
// (section 5) says.
enum class RekeyTransport { Unicast, Multicast, Inband };

// The key hierarchy behind evictions (docs/key-tree.md,
// docs/flat-key-table.md).
enum class KeyHierarchy {
	// Binary key tree with derived path keys: no coalition of evicted
	// members, evicted at any times, can compute a key sent after the last
	// of them left. The default.
	Tree,
	// Flat key table: members removed by one eviction cannot pool their
	// way to the new keys, but members evicted at different times can
	// (the exposure is reported and logged). Explicit choice only.
	Flat,
};

// A group this engine serves as key server.
struct GcksGroupConfig {
	std::string name; // local name, e.g. "blue"
	Identity group_id; // IDg, e.g. KEY_ID or number
	Identity local_id; // the GCKS identity (IDr, signer of GSA_REKEY)
	std::vector<Address> listen; // addresses this group is served on
	AuthKind member_auth = AuthKind::Psk;
	std::vector<Identity> authorized; // members allowed to register
	// GSA_REKEY signed with local_id's private key (the group does not
	// start without one), or implicit
	RekeyAuth rekey_auth = RekeyAuth::Signature;
	std::vector<TekPolicyConfig> teks; // at least one
	// The Rekey SA (GIKE_UPDATE policy): ENCR_AES_GCM_16 (integrity 0) or
	// ENCR_AES_CBC with AUTH_HMAC_SHA2_256_128 (12), a 128, 192 or 256-bit
	// key, and the key wrap algorithm of its GSK_w (RFC 9838 KWA:
	// 1 KW_5649_128, 2 KW_5649_192, 3 KW_5649_256)
	uint16_t rekey_encryption = 20;
	uint16_t rekey_key_bits = 256;
	uint16_t rekey_integrity = 0;
	uint16_t rekey_key_wrap = 3;
	uint32_t tek_lifetime_s = 3600;
	uint32_t kek_lifetime_s = 86400;
	uint16_t activation_delay_s = 0; // GAP ATD
	uint16_t deactivation_delay_s = 0; // GAP DTD
	RekeyTransport rekey = RekeyTransport::Unicast;
	std::optional<Address> multicast; // rekey destination when Multicast
	KeyHierarchy hierarchy = KeyHierarchy::Tree;
	uint16_t id_bits = 16; // flat key table: member IDs of id_bits binary symbols
	// GWP_SENDER_ID_BITS: the width of the Sender-IDs given to group
	// senders, 1..32 (RFC 9838 4.4.3.1.3; RFC 6054 section 3 on choosing it)
	uint16_t sender_id_bits = 16;
	// the data-security SAs' mode, told to members at registration
	SaMode sa_mode = SaMode::Tunnel;
};

// A group this engine is a member of.
struct GmGroupConfig {
	std::string name;
	Identity group_id;
	Identity local_id; // IDi
	Identity server_id; // expected IDr of the GCKS
	Address local; // local address and port
	std::vector<Address> servers; // GCKS addresses, tried in order
	AuthKind auth = AuthKind::Psk;
	// Signature: a registration whose GCAUTH is implicit is refused;
	// Implicit: it is accepted too
	RekeyAuth rekey_auth = RekeyAuth::Signature;
	std::optional<Address> multicast; // multicast group to join for rekeys
	uint32_t reregister_margin_s = 60; // re-register this long before expiry
	// A group sender (RFC 9838 2.3.1: "A GM that intends to act as Group
	// Sender MUST include a Notify payload status type of GROUP_SENDER"):
	// asks with N(GROUP_SENDER) for sender_ids Sender-IDs (0 to 16; with 0
	// the key server gives one) and installs outbound SAs. Not a sender:
	// no N(GROUP_SENDER), inbound SAs only.
	bool sender = true;
	uint16_t sender_ids = 0;
	// Member-list mode: the other members this one names at registration
	// (N(MEMBER_LIST) in GSA_AUTH and GSA_REGISTRATION); the S/R reflects
	// its routes only to them. Empty: auto-discovery, no N(MEMBER_LIST).
	std::vector<Identity> peers;
	// The key wrap algorithm offered in IKE_SA_INIT (RFC 9838 KWA: 1
	// KW_5649_128, 2 KW_5649_192, 3 KW_5649_256)
	uint16_t key_wrap = 3;
	uint16_t dh_group = 19; // IKE_SA_INIT: 19 (ECP-256) or 31 (Curve25519)
	// IKE SA protection: 20 ENCR_AES_GCM_16-256, or 12 ENCR_AES_CBC-256
	// with AUTH_HMAC_SHA2_256_128
	uint16_t ike_encryption = 20;
	// the member's own addresses whose traffic keeps its addresses on the
	// wire (tunnel mode with address preservation, transport mode); empty:
	// local's address
	std::vector<Address> hosts;
	// Liveness check of the IKE SA kept with the key server: an empty
	// INFORMATIONAL after this long without word from it (0: none, and
	// the key server closes the IKE SA after registration unless it uses
	// GSA_INBAND_REKEY). A check answered by N(INVALID_IKE_SPI), or not
	// answered when its first retransmission times out, makes the member
	// register afresh, keeping its group SAs meanwhile.
	uint32_t liveness_s = 0;
	// An IKE SA kept this long is replaced by a new one (the member
	// registers again over a fresh IKE_SA_INIT and GSA_AUTH, then deletes
	// the old one); 0: no limit.
	uint32_t ike_lifetime_s = 86400;
};

// A clear message for the first problem found, nullopt if the config is
// usable. The engine rejects what these reject and then changes nothing.
std::optional<std::string> validate(const GcksGroupConfig &c);
std::optional<std::string> validate(const GmGroupConfig &c);

// --- state shown on the control socket ---

struct Counters {
	uint64_t received = 0;
	uint64_t sent = 0;
	uint64_t dropped_malformed = 0; // did not parse or was truncated
	uint64_t dropped_auth = 0; // ICV or signature did not verify
	uint64_t dropped_replay = 0; // message ID not above the last one
	uint64_t dropped_unauthorized = 0; // identity not allowed for the group
	uint64_t cookies_sent = 0;
	uint64_t registrations = 0; // GSA_AUTH/GSA_REGISTRATION completed
	uint64_t rekeys = 0; // GSA_REKEY sent (GCKS) or applied (GM)
	// GCKS: requests on an IKE SA it does not know (e.g. from before a
	// restart) answered with N(INVALID_IKE_SPI); GM: such notices that
	// matched its outstanding request and made it register afresh
	uint64_t invalid_spi = 0;
	// the member<->key server IKE SA (RFC 7296 1.4.1, 2.4, 2.8.3):
	// Deletes of an IKE SA sent and received
	uint64_t ike_deletes_sent = 0;
	uint64_t ike_deletes_received = 0;
	// GM: IKE SAs replaced at the end of their lifetime (re-authentication)
	uint64_t ike_rekeys = 0;
	// GM: liveness checks sent (empty INFORMATIONAL); GCKS: answered
	uint64_t liveness = 0;
	// GM: liveness checks answered by N(INVALID_IKE_SPI) or not at all
	uint64_t liveness_failed = 0;
	// requests answered with N(UNSUPPORTED_CRITICAL_PAYLOAD) (RFC 7296 2.5)
	uint64_t unsupported_critical = 0;
	// shortcut SA messages (N(SHORTCUT)) sent and received, and those
	// that could not be sent (no IKE SA, queue full)
	uint64_t shortcut_sent = 0;
	uint64_t shortcut_received = 0;
	uint64_t shortcut_send_failures = 0;
};

struct MemberState {
	Identity id;
	Address address;
	uint32_t flat_id = 0; // member ID in the flat key table, or leaf in the key tree
	uint64_t registered_ms = 0;
	std::vector<uint32_t> sender_ids; // given to the member (GM_SENDER_ID)
	// member-list mode: the members it named at registration; empty: auto
	std::vector<Identity> peers;
};

struct SaState {
	uint32_t spi = 0;
	uint16_t encryption = 0;
	uint16_t key_bits = 0;
	uint32_t lifetime_s = 0;
	uint64_t expires_ms = 0;
	bool current = true; // false: previous SA kept until deactivation
};

// What members evicted so far could compute together (GCKS only).
struct ExposureState {
	KeyHierarchy hierarchy = KeyHierarchy::Tree;
	// Flat table: the evicted members together know or can rebuild the
	// current table TEK (and so every key sent under it).
	bool tek_exposed = false;
	// Flat table: KEKs of the current table the evicted members know.
	uint32_t exposed_keks = 0;
	uint64_t epoch = 0; // key tree: evictions applied so far
	uint32_t depth = 0; // key tree: current depth
};

struct GroupState {
	std::string name;
	Identity group_id;
	bool server = false; // GCKS role, else GM role
	std::string state; // GM: "idle", "registering", "registered"; GCKS: "serving"
	Address server_address; // GM: the GCKS it registered with
	// last GSA_REKEY message ID sent/accepted (IDs count per Rekey SA
	// from 0, RFC 9838 2.4.1.3)
	uint32_t kek_message_id = 0;
	RekeyAuth rekey_auth = RekeyAuth::Signature; // as configured
	std::vector<MemberState> members; // GCKS only
	std::vector<Identity> evicted; // GCKS: refused until re-admitted
	std::vector<uint32_t> sender_ids; // GM: the Sender-IDs the key server gave us
	std::vector<Identity> peers; // GM: the member list it registers with (empty: auto)
	std::vector<SaState> sas;
	Counters counters;
	ExposureState exposure; // GCKS only
};

// The routing key of a group (docs/bgp-gsa.md "Keys and epochs"): what
// the bgpd module seals the group's routes with. The key server and every
// member derive it alike from the keying material of the group's current
// TEK (routing_keys.h); its epoch is that TEK's SPI. A member evicted
// never receives the TEK that replaces it, so it has no key of the epoch
// after its eviction.
struct RoutingKey {
	uint32_t epoch = 0;
	SecretBytes key; // 32 octets
};
struct GroupRoutingKey {
	std::string name;
	Identity group_id;
	bool server = false;
	std::optional<RoutingKey> key; // none without a current TEK
};

// What changed in the groups, for the control socket's event streams
// (docs/control-socket.md). Called on the engine's thread once the change
// took effect; an implementation must not call back into the engine. Every
// method does nothing unless overridden.
class EngineEvents {
public:
	virtual ~EngineEvents() = default;
	// GCKS: a member completed GSA_AUTH or GSA_REGISTRATION; again if it
	// was registered already. members: how many the group has now.
	virtual void member_registered(const std::string &group, const MemberState &member, bool again,
				       size_t members)
	{
		(void)group, (void)member, (void)again, (void)members;
	}
	// GCKS: a member is gone without being evicted: reason "left" (it
	// asked to leave) or "unauthorized" (a reload took its authorization).
	virtual void member_left(const std::string &group, const Identity &member, const char *reason,
				 size_t members)
	{
		(void)group, (void)member, (void)reason, (void)members;
	}
	// GCKS: the operator evicted the member and the rekey went out.
	virtual void member_evicted(const std::string &group, const Identity &member, size_t members)
	{
		(void)group, (void)member, (void)members;
	}
	// GCKS: a GSA_REKEY went out (server); GM: one was applied. message_id
	// is the last GSA_REKEY message ID; new_kek: a new Rekey SA came with it.
	virtual void rekey(const std::string &group, bool server, uint32_t message_id, bool new_kek)
	{
		(void)group, (void)server, (void)message_id, (void)new_kek;
	}
};

// Shortcut SAs (docs/shortcuts.md): the connectivity manager's and the
// members' messages travel as the data of one N(SHORTCUT) (40961) in an
// INFORMATIONAL request on the member's IKE SA with its key server. The
// engine carries them (a queue per IKE SA, one request outstanding,
// retransmission); what they mean is the sink's business. Called on the
// engine's thread; an implementation may call Engine::send_shortcut() but
// nothing else of the engine.
class ShortcutSink {
public:
	virtual ~ShortcutSink() = default;
	// A message arrived on an authenticated IKE SA, after the request was
	// answered. Key server (server true): from member `peer` of `group`;
	// member: from its key server `peer` of `group`.
	virtual void shortcut_message(const std::string &group, bool server, const Identity &peer,
				      ByteView message) = 0;
	// The IKE SA that carries the messages with peer is new (up true) or
	// gone. Key server: a member registered over an IKE SA (address: where
	// the SA's requests come from), or its IKE SA went; member: it
	// registered with its key server over an IKE SA, or that SA went.
	virtual void shortcut_channel(const std::string &group, bool server, const Identity &peer,
				      const Address &address, bool up)
	{
		(void)group, (void)server, (void)peer, (void)address, (void)up;
	}
	// The IKE SA that carries the messages with peer moved to another
	// address. Key server: member `peer` now sends from address (its
	// N(UPDATE_SA_ADDRESSES), or a NAT rebinding); member: this side now
	// sends from address (Engine::roam()).
	virtual void shortcut_moved(const std::string &group, bool server, const Identity &peer,
				    const Address &address)
	{
		(void)group, (void)server, (void)peer, (void)address;
	}
};

// Messages waiting for an IKE SA's request window, at most.
constexpr size_t kMaxQueuedShortcutMessages = 64;

// --- the engine ---

// Tests may define this to look at the engine's internal state.
struct EngineProbe;

struct EngineDeps {
	Transport *transport = nullptr;
	Clock *clock = nullptr;
	Random *random = nullptr;
	Credentials *credentials = nullptr;
	SaSink *sas = nullptr; // needed for GM groups
	KeyLog *keylog = nullptr; // optional
	FaultInjector *faults = nullptr; // tests only
	Log *log = nullptr; // optional
	// optional: without it, evictions last as long as the engine
	EvictionStore *evictions = nullptr;
	EngineEvents *events = nullptr; // optional
	ShortcutSink *shortcuts = nullptr; // optional: N(SHORTCUT) ignored without
};

class Engine {
public:
	explicit Engine(EngineDeps deps);
	~Engine();
	Engine(const Engine &) = delete;
	Engine &operator=(const Engine &) = delete;

	// Add or replace a group; an error (and no change) if validate() fails
	// or the name is taken by a group of the other role. A key server
	// group also needs its evicted identities (EvictionStore::load()) and,
	// with RekeyAuth::Signature, a signature by local_id. Replacing a
	// group keeps its members and evicted identities when its group ID,
	// id_bits and rekey_auth stay.
	Result<Done> add_server_group(const GcksGroupConfig &c);
	Result<Done> add_member_group(const GmGroupConfig &c); // registers on the next tick()
	Result<Done> remove_group(const std::string &name);
	// Replication to a standby key server (docs/election.md): a key
	// server group's state as a versioned snapshot (key tree groups), and
	// a group not running here started from one with the same keys,
	// members and counters, all or nothing.
	Result<Bytes> server_snapshot(const std::string &group) const;
	Result<Done> add_server_group_from(const GcksGroupConfig &c, ByteView snapshot);
	// GM: another key server (an elected one took over): the group
	// registers to it at once, keeping its SAs. An error (and nothing
	// changes) while it is registering: the caller starts it anew.
	Result<Done> set_member_server(const std::string &group, const std::vector<Address> &servers,
				       const Identity &server_id);

	// A datagram arrived on local from remote. Never throws; bad input is
	// counted and dropped.
	void receive(const Address &local, const Address &remote, ByteView datagram);

	// Timers: retransmissions, registration and re-registration, lifetime
	// rekeys, expiry. Call at least every next_timeout_ms().
	void tick();
	uint64_t next_timeout_ms() const; // absolute, on the Clock

	// Operator actions on a GCKS group.
	Result<Done> rekey(const std::string &group);
	// Eviction is all or nothing: either the rekey went out and the
	// members are gone, or nothing changed and the error says why. The
	// evicted identities are stored first (EvictionStore::store()) and
	// refused until readmit(); a failure to store changes nothing.
	Result<Done> evict(const std::string &group, const Identity &member);
	// Several members in one rekey.
	Result<Done> evict(const std::string &group, const std::vector<Identity> &members);
	Result<Done> readmit(const std::string &group, const Identity &member);
	// The evicted identities of another server's state (the server that
	// stepped down after a partition, docs/election.md) join the group's:
	// registered members among them are evicted (one rekey), the others
	// are refused from now on; all or nothing, as evict(). added: how
	// many identities were not evicted here before.
	Result<Done> merge_evicted(const std::string &group, const std::vector<Identity> &evicted, size_t *added);
	// GCKS: RFC 9838 exclusion by Delete. The members (every member if
	// empty) get Delete(GIKE_UPDATE, SPI 0), the whole group Delete(ESP,
	// SPI 0) first: they drop the group's SAs and register again after a
	// short random delay. Not an eviction: they may come back, and they
	// held the current keys (use evict() to keep one out).
	Result<Done> exclude(const std::string &group, const std::vector<Identity> &members);
	// GM: register again now.
	Result<Done> reregister(const std::string &group);
	// GM: a new member list (GmGroupConfig::peers; empty: auto-discovery)
	// for a registered group, which registers again at once to tell its
	// key server; the group's SAs stay. An error (a bad list, a group
	// still registering) changes nothing.
	Result<Done> set_member_list(const std::string &group, const std::vector<Identity> &peers);

	// Shortcut SAs: one message in N(SHORTCUT) of an INFORMATIONAL
	// request, queued behind the requests outstanding on the IKE SA. Key
	// server: to a registered member of group over its IKE SA; an error if
	// the member has none (its key server closed it: members that take
	// shortcuts keep it with liveness checks or inband rekeys) or too many
	// messages wait. Member: to the key server of group over the IKE SA it
	// registered on.
	Result<Done> send_shortcut(const std::string &group, const Identity &member, ByteView message);
	Result<Done> send_shortcut(const std::string &group, ByteView message);

	// GM: the host's addresses changed. Each authenticated IKE SA with a
	// key server whose local address is gone (is_local false) moves to
	// the address source gives towards the key server (nullopt: stays),
	// port unchanged, with its groups; the key server is told by an
	// INFORMATIONAL request with N(UPDATE_SA_ADDRESSES) sent from there
	// (RFC 4555 3.5). Returns the IKE SAs moved.
	size_t roam(const std::function<bool(const Address &)> &is_local,
		    const std::function<std::optional<Address>(const Address &)> &source);

	std::vector<GroupState> groups() const;
	// Every group's routing key (routing_keys.cc); cheap: no member list.
	std::vector<GroupRoutingKey> routing_keys() const;

	// Half-open IKE SAs (IKE_SA_INIT answered, GSA_AUTH not yet) at or
	// above which an IKE_SA_INIT request must return a cookie (RFC 7296
	// 2.6). 0: always ask for a cookie.
	void set_cookie_threshold(size_t half_open);
	// IKE fragmentation and NAT traversal (TransportConfig); an error
	// and no change if a value is out of range. Applies to IKE SAs made
	// from then on.
	Result<Done> set_transport(const TransportConfig &t);
	size_t half_open() const;
	// IKE SAs this engine holds as responder (key server side).
	size_t responder_ike_sas() const;
	// IKE SAs this engine holds as initiator (member side).
	size_t initiator_ike_sas() const;

private:
	friend struct EngineProbe;
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

} // namespace groupsec::gdoi
