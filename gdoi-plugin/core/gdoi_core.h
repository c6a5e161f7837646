// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * groupsec gdoi plugin: the C interface of the plugin's C++ core.
 *
 * The core holds the G-IKEv2 engine (key server and member roles), the
 * member's data plane (which SAs and policies to install) and the control
 * socket's protocol. The charon glue gives it datagrams, timer ticks and
 * control socket bytes, and implements the callbacks of gdoi_core_env_t
 * with charon's socket, credential manager and kernel interface.
 *
 * The core is not thread-safe: the glue serializes every call.
 */
#ifndef GDOI_CORE_H_
#define GDOI_CORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gdoi_core_t gdoi_core_t;

/**
 * An IPv4 or IPv6 address and UDP port.
 */
typedef struct {
	/** 4 or 16 */
	uint8_t len;
	uint8_t ip[16];
	uint16_t port;
} gdoi_addr_t;

/**
 * An IKE identity: ID type (RFC 7296 3.5) and data.
 */
typedef struct {
	uint8_t type;
	const uint8_t *data;
	size_t len;
} gdoi_id_t;

/**
 * A traffic selector: address range, IP protocol (0: any), port range.
 */
typedef struct {
	gdoi_addr_t from;
	gdoi_addr_t to;
	uint8_t protocol;
	uint16_t from_port;
	uint16_t to_port;
} gdoi_ts_t;

/**
 * An SA to install or delete. Algorithms are IKEv2 transform IDs. An
 * all-zero source means any (the inbound group SA).
 */
typedef struct {
	gdoi_addr_t src;
	gdoi_addr_t dst;
	uint32_t spi;
	uint32_t reqid;
	bool inbound;
	uint16_t encryption;
	const uint8_t *enc_key;
	size_t enc_key_len;
	uint16_t integrity;
	const uint8_t *int_key;
	size_t int_key_len;
	uint32_t lifetime;
	uint32_t replay_window;
	/** transport mode, else tunnel mode */
	bool transport;
} gdoi_kernel_sa_t;

typedef enum {
	GDOI_POLICY_IN,
	GDOI_POLICY_OUT,
	GDOI_POLICY_FWD,
} gdoi_policy_dir_t;

/**
 * A policy to install or delete: tunnel mode (tunnel_src, tunnel_dst the
 * outer addresses), or transport mode.
 */
typedef struct {
	gdoi_ts_t src;
	gdoi_ts_t dst;
	gdoi_policy_dir_t dir;
	gdoi_addr_t tunnel_src;
	gdoi_addr_t tunnel_dst;
	uint32_t spi;
	uint32_t reqid;
	/** transport mode, else tunnel mode */
	bool transport;
} gdoi_kernel_policy_t;

typedef enum {
	GDOI_LOG_ERROR = 0,
	GDOI_LOG_WARNING = 1,
	GDOI_LOG_INFO = 2,
	GDOI_LOG_DEBUG = 3,
} gdoi_log_level_t;

/**
 * Whose AUTH payload a verification checks: a member checks its key
 * server's, a key server its member's.
 */
typedef enum {
	GDOI_PEER_KEY_SERVER = 0,
	GDOI_PEER_MEMBER = 1,
} gdoi_peer_role_t;

/**
 * What the glue does for the core. Every callback gets ctx first.
 */
typedef struct {
	void *ctx;
	/** send a datagram from local to remote; FALSE if it was not sent */
	bool (*send)(void *ctx, const gdoi_addr_t *local, const gdoi_addr_t *remote,
				 const uint8_t *data, size_t len);
	/** the PSK of two identities into key (*len bytes at most); FALSE if none */
	bool (*shared_key)(void *ctx, const gdoi_id_t *local, const gdoi_id_t *remote,
					   uint8_t *key, size_t *len);
	/** RFC 7427 AUTH data over data with signer's private key, malloc()ed */
	bool (*sign)(void *ctx, const gdoi_id_t *signer, const uint8_t *data,
				 size_t len, uint8_t **auth, size_t *auth_len);
	/** verify RFC 7427 AUTH data of signer over data with a key trusted
	 *  for signer as the peer of group in role */
	bool (*verify)(void *ctx, const gdoi_id_t *signer, const char *group,
				   gdoi_peer_role_t role, const uint8_t *data, size_t len,
				   const uint8_t *auth, size_t auth_len);
	bool (*add_sa)(void *ctx, const gdoi_kernel_sa_t *sa);
	void (*del_sa)(void *ctx, const gdoi_kernel_sa_t *sa);
	bool (*add_policy)(void *ctx, const gdoi_kernel_policy_t *policy);
	void (*del_policy)(void *ctx, const gdoi_kernel_policy_t *policy);
	void (*log)(void *ctx, gdoi_log_level_t level, const char *msg);
	/** optional: a line of Wireshark's ikev2_decryption_table with the keys
	 *  of a new IKE SA or Rekey SA; NULL to keep keys to the core */
	void (*save_keys)(void *ctx, const char *line);
	/** optional: a line of the member key material log, one JSON object
	 *  {"group", "kind", "id", "key" (hex), "epoch"} per key a member takes
	 *  into use (Rekey SA and TEK keying material); NULL to keep them */
	void (*save_member_key)(void *ctx, const char *line);
	/** optional (NULL: evictions last until the core is destroyed): the
	 *  identities evicted from key server group `group`, as save_evicted()
	 *  stored them, each handed to add(list, id); TRUE and no add() if
	 *  none are stored; FALSE with a message in err if they cannot be
	 *  read, and the group does not start */
	bool (*load_evicted)(void *ctx, const char *group,
						 void (*add)(void *list, const gdoi_id_t *id), void *list,
						 char *err, size_t err_len);
	/** store the identities evicted from a group, replacing those stored
	 *  before; FALSE with a message in err if that failed, and the
	 *  eviction or re-admission is refused */
	bool (*save_evicted)(void *ctx, const char *group, const gdoi_id_t *ids,
						 size_t count, char *err, size_t err_len);
	/** optional: control client id (gdoi_core_client_open()) has output
	 *  waiting, or must be closed: ask gdoi_core_client_output() when its
	 *  socket is writable. Called with the core busy: it may only schedule
	 *  that, not call into the core */
	void (*control_wake)(void *ctx, unsigned id);
	/** optional (NULL: it can): why the kernel's data plane cannot make
	 *  transport-mode SAs, a static string, or NULL if it can */
	const char *(*no_transport)(void *ctx);
	/** RFC 9838 AUTH_KEY: the DER SubjectPublicKeyInfo of signer's private
	 *  key into *spki (malloc()ed); FALSE if none */
	bool (*public_key)(void *ctx, const gdoi_id_t *signer, uint8_t **spki,
					   size_t *spki_len);
	/** RFC 7427 AUTH data over data with the private key of public key
	 *  spki, malloc()ed; FALSE if that private key is not loaded */
	bool (*sign_with)(void *ctx, const uint8_t *spki, size_t spki_len,
					  const uint8_t *data, size_t len, uint8_t **auth,
					  size_t *auth_len);
	/** verify RFC 7427 AUTH data over data with public key spki */
	bool (*verify_with)(void *ctx, const uint8_t *spki, size_t spki_len,
						const uint8_t *data, size_t len, const uint8_t *auth,
						size_t auth_len);
	/** the trusted public keys of peer (DER SubjectPublicKeyInfo), each
	 *  handed to add(list, spki, len) */
	void (*trusted_keys)(void *ctx, const gdoi_id_t *peer,
						 void (*add)(void *list, const uint8_t *spki, size_t len),
						 void *list);
	/** optional (NULL: not counted): the bytes and packets an SA installed
	 *  with add_sa has carried; FALSE if the kernel does not say */
	bool (*query_sa)(void *ctx, const gdoi_kernel_sa_t *sa, uint64_t *bytes,
					 uint64_t *packets);
} gdoi_core_env_t;

/**
 * Create the core.
 *
 * @param env			callbacks, copied
 * @param reqid_base	first reqid of the group SAs
 * @return				core instance, NULL if out of memory
 */
gdoi_core_t *gdoi_core_create(const gdoi_core_env_t *env, uint32_t reqid_base);

/**
 * How the core uses the network (docs/gdoi-config.md, plugin settings).
 */
typedef struct {
	/** UDP port G-IKEv2 starts on: key servers listen on it, members send
	 *  IKE_SA_INIT to it (and from it); 848 or 500 */
	uint16_t port;
	/** NAT traversal port (4500) both sides move to when a NAT is detected
	 *  (RFC 7296 2.23); 0: no NAT traversal */
	uint16_t port_nat_t;
	/** offer and accept IKE fragmentation (RFC 7383) */
	bool fragmentation;
	/** largest IP datagram of a fragment; 0: 576 (IPv4) / 1280 (IPv6) */
	size_t fragment_size;
} gdoi_transport_t;

/**
 * Set how the core uses the network; before the groups are loaded.
 *
 * @return				FALSE with a message in err if a value is refused
 */
bool gdoi_core_set_transport(gdoi_core_t *core, const gdoi_transport_t *t,
							 char *err, size_t err_len);

/**
 * UDP port the core's key server and members use
 * (gdoi_transport_t.port, 848 unless set).
 */
uint16_t gdoi_core_port(gdoi_core_t *core);

/**
 * One line describing the core, for the daemon log; valid until destroy.
 */
const char *gdoi_core_describe(gdoi_core_t *core);

/**
 * Whether member group `group` is registered with its key server now.
 */
bool gdoi_core_registered(gdoi_core_t *core, const char *group);

/**
 * Load the groups: n settings of the "groups" section as key paths
 * ("blue.role") and values. Replaces the groups loaded before: groups no
 * longer configured go, key server groups keep their members, keys and
 * evicted identities (unless their group ID, id_bits or rekey_auth
 * changed), member groups whose settings did not change are left alone.
 * A configuration that does not parse or validate changes nothing: -1,
 * and err holds the message. A group that cannot start (no signing key,
 * unreadable evicted identities) is logged and left out, or, if it was
 * running, keeps running as it was; the others are loaded.
 *
 * @return				number of groups running, -1 on error
 */
int gdoi_core_load(gdoi_core_t *core, const char *const *keys,
				   const char *const *values, size_t n, char *err, size_t err_len);

/**
 * The host's addresses changed (charon's roam event). Each member IKE SA
 * whose local address is_local() no longer finds moves to the address
 * source() gives towards its key server and tells it (RFC 4555
 * UPDATE_SA_ADDRESSES); its shortcuts follow (docs/shortcuts.md).
 * Returns the IKE SAs moved.
 */
size_t gdoi_core_roam(gdoi_core_t *core, bool (*is_local)(void *ctx, const gdoi_addr_t *addr),
					  bool (*source)(void *ctx, const gdoi_addr_t *dst, gdoi_addr_t *src), void *ctx);

/**
 * Counts the configurations applied, from the file (gdoi_core_load()) or
 * from a control client (load-config, unload-config): the glue compares
 * it after control input to join the multicast groups of new groups.
 */
unsigned gdoi_core_config_generation(gdoi_core_t *core);

/**
 * The configured key server groups whose members authenticate with PSKs:
 * cb gets each group's name, the key server's identity and the identities
 * of its members (valid during the call).
 */
void gdoi_core_psk_groups(gdoi_core_t *core,
						  void (*cb)(void *data, const char *group,
									 const gdoi_id_t *local,
									 const gdoi_id_t *members, size_t count),
						  void *data);

/**
 * Local addresses the core needs datagrams on (key server listen
 * addresses, member addresses); at most max are written.
 */
size_t gdoi_core_local_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max);

/**
 * Multicast groups to join for rekeys; at most max are written.
 */
size_t gdoi_core_multicast_addrs(gdoi_core_t *core, gdoi_addr_t *out, size_t max);

/**
 * A datagram arrived on local from remote.
 */
void gdoi_core_receive(gdoi_core_t *core, const gdoi_addr_t *local,
					   const gdoi_addr_t *remote, const uint8_t *data, size_t len);

/**
 * Run timers; returns milliseconds until the next call is due.
 */
uint32_t gdoi_core_tick(gdoi_core_t *core);

typedef struct gdoi_control_conn_t gdoi_control_conn_t;

/**
 * A new connection on the control socket.
 */
gdoi_control_conn_t *gdoi_core_control_open(gdoi_core_t *core);

/**
 * Bytes read from a control connection. The reply bytes, if any, are
 * malloc()ed into *out.
 *
 * @return				FALSE if the connection must be closed
 */
bool gdoi_core_control_input(gdoi_control_conn_t *conn, const uint8_t *data,
							 size_t len, uint8_t **out, size_t *out_len);

/**
 * A control connection ended.
 */
void gdoi_core_control_close(gdoi_control_conn_t *conn);

/**
 * A client connected to the control socket; id is the glue's, unique among
 * the open clients.
 *
 * @return				FALSE if it cannot be served (close it)
 */
bool gdoi_core_client_open(gdoi_core_t *core, unsigned id);

/**
 * Bytes read from control client id. Replies and events are queued in the
 * core, up to a bound; control_wake() says when there is something.
 *
 * @return				FALSE if the client broke the protocol: stop reading,
 *						write what is queued, then close
 */
bool gdoi_core_client_input(gdoi_core_t *core, unsigned id,
							const uint8_t *data, size_t len);

/**
 * Copies up to len of the bytes queued for control client id into buf,
 * without taking them: gdoi_core_client_written() says how many went out.
 *
 * @return				bytes copied (0: none queued), -1 if the client must
 *						be closed now (its queue overflowed, or it broke the
 *						protocol and everything was written)
 */
long gdoi_core_client_output(gdoi_core_t *core, unsigned id, uint8_t *buf,
							 size_t len);

/**
 * n of the bytes gdoi_core_client_output() copied were written.
 */
void gdoi_core_client_written(gdoi_core_t *core, unsigned id, size_t n);

/**
 * Control client id is gone; nothing more is queued for it.
 */
void gdoi_core_client_close(gdoi_core_t *core, unsigned id);

/**
 * Shortcut SAs (docs/shortcuts.md): one packet the gateway relays, len
 * octets from its IP header on (as much as was read of it), for the
 * connectivity managers' triggers: relayed traffic of its inside source
 * and destination, and a new session if it is a TCP SYN. Traffic that is
 * not between two outside members is ignored.
 */
void gdoi_core_shortcut_packet(gdoi_core_t *core, const uint8_t *pkt,
							   size_t len);

/**
 * The elected key server of a group configured to wait for an election
 * (docs/election.md): a key server group serves only while self; a member
 * group registers (again) to address, expecting identity. identity NULL or
 * "": no server any more (a member group stops).
 *
 * @return				FALSE with the reason in err if the group does not
 *						wait for an election (nothing changed) or could not
 *						start (a key server group without its signing key:
 *						it stays elected, and the next gdoi_core_load()
 *						starts it)
 */
bool gdoi_core_set_elected(gdoi_core_t *core, const char *group,
						   const char *identity, const char *address,
						   bool self, char *err, size_t err_len);

/**
 * The state of an elected key server group serving here, as a versioned
 * snapshot for the standby candidates (docs/election.md, "State
 * replication"); malloc()ed into *out.
 *
 * @return				FALSE with the reason in err (the group does not
 *						serve here, or its key hierarchy is not replicated)
 */
bool gdoi_core_snapshot(gdoi_core_t *core, const char *group, uint8_t **out,
						size_t *len, char *err, size_t err_len);

/**
 * The latest snapshot of an elected key server group replicated from the
 * server in office: when this node is elected, the group starts from it
 * (the same keys, members and counters) instead of afresh.
 *
 * @return				FALSE with the reason in err if the group does not
 *						wait for an election or the snapshot does not
 *						decode (nothing changed)
 */
bool gdoi_core_set_replica(gdoi_core_t *core, const char *group,
						   const uint8_t *data, size_t len, char *err,
						   size_t err_len);

/**
 * The last snapshot of a key server that stepped down for this one (two
 * servers after a partition, docs/election.md): the elected group serving
 * here keeps its state and takes that server's evicted identities too,
 * evicting those registered here in one rekey.
 *
 * @return				FALSE with the reason in err if the group does not
 *						serve here by election, the snapshot does not
 *						decode or the eviction failed (nothing changed)
 */
bool gdoi_core_merge_replica(gdoi_core_t *core, const char *group,
							 const uint8_t *data, size_t len, char *err,
							 size_t err_len);

/**
 * A command another plugin serves on the control socket (docs/control-
 * socket.md, "Commands of other plugins"): the request's VICI message in,
 * the response's VICI message out, malloc()ed. Called with the core's lock
 * held: it must not call back into the core.
 *
 * @return				FALSE if it has no response (the client gets
 *						success = no)
 */
typedef bool (*gdoi_core_command_cb_t)(void *ctx, const uint8_t *request,
									   size_t len, uint8_t **response,
									   size_t *response_len);

/**
 * Serve a command of another plugin. A name the core serves itself, or one
 * already added, is refused.
 */
bool gdoi_core_control_add_command(gdoi_core_t *core, const char *name,
								   gdoi_core_command_cb_t cb, void *ctx);

/**
 * Serve an event of another plugin; refused for the core's own events.
 */
bool gdoi_core_control_add_event(gdoi_core_t *core, const char *name);

/**
 * Stop serving a command or event added by gdoi_core_control_add_command()
 * or _add_event().
 */
void gdoi_core_control_remove(gdoi_core_t *core, const char *name);

/**
 * Queue an event added with gdoi_core_control_add_event() on every
 * subscribed client; message is an encoded VICI message.
 *
 * @return				FALSE if the event is not one added or the message
 *						does not decode
 */
bool gdoi_core_control_emit(gdoi_core_t *core, const char *name,
							const uint8_t *message, size_t len);

/**
 * Destroy a core created by gdoi_core_create(), deleting what it installed.
 */
void gdoi_core_destroy(gdoi_core_t *core);

#ifdef __cplusplus
}
#endif

#endif /* GDOI_CORE_H_ */
