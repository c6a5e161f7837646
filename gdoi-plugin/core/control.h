// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket of the gdoi plugin: VICI commands (docs/control-socket.md)
// that show the G-IKEv2 engine's groups, members, SAs and counters, start
// rekeys, evictions and re-registrations, and manage the tunnel endpoints
// of each group, and the event streams a client subscribes to (members
// registered, left, evicted; rekeys; SAs installed and removed; endpoints
// changed). ControlServer owns no socket: the glue drives its vici::Server
// with the bytes of each client connection and writes back what it queues.
// The commands reach the engine through the ControlTarget the glue
// implements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gdoi_dataplane.h"
#include "gdoi_endpoints.h"
#include "gdoi_engine.h"
#include "gikev2_result.h"
#include "shortcut/shortcut_service.h"
#include "groupsec/vici/gdoi_names.h"
#include "groupsec/vici/server.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::gdoi {

// A prefix or address range of a tunnel endpoint as the operator writes it:
// "10.1.0.0/16", "2001:db8::/32" (no host bits set), or a range
// "10.1.0.1-10.1.0.9" of one family; an error naming the problem otherwise.
// The selector covers every protocol and port.
Result<TrafficSelector> parse_prefix(const std::string &s);
// "10.1.0.0/16" when the selector's range is a prefix, else
// "10.1.0.1-10.1.0.9"; "[17/53]"-style protocol and ports are not shown.
std::string prefix_text(const TrafficSelector &ts);

// "192.0.2.1" from 4 or 16 octets, "" for any other size.
std::string ip_text(const Bytes &ip);
// The octets of an IPv4 or IPv6 address, nullopt if s is none.
std::optional<Bytes> parse_ip(const std::string &s);

// What the control socket acts on; the glue implements it over the Engine
// and its table of tunnel endpoints (GroupDataplane). Each method is
// called only with arguments the server has checked: a non-empty group
// name, a non-empty member identity, endpoints whose gateway is an IPv4 or
// IPv6 address (port 0) with at least one prefix, no prefix twice. A
// method that fails returns an Error whose message the client shows as it
// stands ("group 'blue' not found"); it must then have changed nothing.
class ControlTarget {
public:
	virtual ~ControlTarget() = default;

	// Engine::groups().
	virtual std::vector<GroupState> groups() const = 0;
	// The engine's Clock, to show SA expiry and registration ages.
	virtual uint64_t now_ms() const = 0;

	// Engine::rekey(), Engine::reregister().
	virtual Result<Done> rekey(const std::string &group) = 0;
	virtual Result<Done> reregister(const std::string &group) = 0;
	// Engine::evict(); member is the identity as the operator wrote it, in
	// swanctl notation, for the target to parse with Identity::parse().
	virtual Result<Done> evict(const std::string &group, const std::string &member) = 0;
	// Engine::readmit(): an evicted identity may register again.
	virtual Result<Done> readmit(const std::string &group, const std::string &member) = 0;
	// Engine::exclude() of member, or of the whole group if member is
	// empty: RFC 9838 Delete(GIKE_UPDATE, SPI 0).
	virtual Result<Done> exclude(const std::string &group, const std::string &member) = 0;

	// Adds the endpoint or replaces the prefixes of the group's endpoint at
	// that gateway (GroupDataplane::add_endpoint()).
	virtual Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &endpoint) = 0;
	virtual Result<Done> remove_endpoint(const std::string &group, const Address &gateway) = 0;
	// The group's endpoints; an error if the group does not exist.
	virtual Result<std::vector<TunnelEndpoint>> endpoints(const std::string &group) const = 0;
	// GroupDataplane::traffic(): what a member's group SA has carried;
	// nullopt where nothing counts it (a key server, a kernel that does
	// not say).
	virtual std::optional<SaTraffic> sa_traffic(const std::string &group, uint32_t spi) const
	{
		(void)group;
		(void)spi;
		return std::nullopt;
	}

	// The engine's IKE SAs: as responder (key server side), as initiator
	// (member side), and the responder ones not authenticated yet
	// (half-open: they time out). A target without IKE SAs has none.
	struct IkeSaCounts {
		uint64_t responder = 0, initiator = 0, half_open = 0;
	};
	virtual IkeSaCounts ike_sa_counts() const { return {}; }

	// Engine::routing_keys(): every group's routing key of sealed routes.
	// A target without them has none.
	virtual std::vector<GroupRoutingKey> routing_keys() const { return {}; }

	// The groups of a configuration source other than the file (a client
	// such as bgpd, by its name), as the settings below `groups` in the
	// order given ("blue.role" = "server", ...). check_config() validates
	// them as the file's groups are validated, together with the file's
	// groups and those of the other sources, and changes nothing;
	// load_config() does the same and then makes them the source's groups
	// (replacing those it had), all or nothing; unload_config() removes
	// the source's groups. A target without sources refuses them.
	using ConfigSettings = std::vector<std::pair<std::string, std::string>>;
	virtual Result<Done> check_config(const std::string &source, const ConfigSettings &settings)
	{
		(void)source;
		(void)settings;
		return make_error(WireError::BadValue, "no configuration sources here");
	}
	// load_config()'s value: why groups could not start (no signing key,
	// ...), "" if every group runs; they are tried again on every load.
	virtual Result<std::string> load_config(const std::string &source, const ConfigSettings &settings)
	{
		auto r = check_config(source, settings);
		if (!r)
			return r.error();
		return std::string();
	}
	virtual Result<Done> unload_config(const std::string &source)
	{
		(void)source;
		return make_error(WireError::BadValue, "no configuration sources here");
	}
	// Shortcut SAs (docs/shortcuts.md): each group's side of them; a
	// shortcut asked for by the operator between two members of a key
	// server group (identities as the operator wrote them), and ended by
	// ID. A target without shortcuts has none and refuses the rest.
	virtual std::vector<shortcut::ShortcutGroupView> shortcuts() const { return {}; }
	virtual Result<uint32_t> request_shortcut(const std::string &group, const std::string &a,
	                                          const std::string &b)
	{
		(void)a, (void)b;
		return make_error(WireError::Missing, "group '" + group + "' has no shortcut members");
	}
	virtual Result<Done> remove_shortcut(const std::string &group, uint32_t id)
	{
		(void)id;
		return make_error(WireError::Missing, "group '" + group + "' has no shortcut members");
	}
};

// Answers VICI packets with the ControlTarget and streams the engine's
// events (EngineEvents, plus the data plane's SA and endpoint changes) to
// the clients that subscribed, on a generic vici::Server the glue drives
// (connect, feed, output, consume, closing, disconnect, on_wake). Not
// thread-safe: the glue serializes the calls into it and into the engine,
// whose events arrive on the same thread.
class ControlServer : public EngineEvents {
public:
	explicit ControlServer(ControlTarget &target, size_t max_packet = vici::kMaxPacket,
	                       size_t max_queued = 4 * vici::kMaxPacket);
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	// The response message of one command request (as a client's
	// CMD_REQUEST gets it); nullopt for an unknown command.
	std::optional<vici::Section> dispatch(const std::string &command, const vici::Section &request);

	size_t max_packet() const { return server_.limits().max_packet; }
	vici::Server &server() { return server_; }

	// EngineEvents: member-registered, member-left, member-evicted, rekey.
	void member_registered(const std::string &group, const MemberState &member, bool again,
	                       size_t members) override;
	void member_left(const std::string &group, const Identity &member, const char *reason,
	                 size_t members) override;
	void member_evicted(const std::string &group, const Identity &member, size_t members) override;
	void rekey(const std::string &group, bool server, uint32_t message_id, bool new_kek) override;
	// The member's data plane: sa-installed (outbound false: receive only
	// until activated, when it is reported again with outbound true),
	// sa-removed.
	void sa_installed(const std::string &group, uint32_t spi, bool outbound, uint16_t encryption,
	                  uint32_t lifetime_s);
	void sa_removed(const std::string &group, uint32_t spi);
	// endpoint-changed; change is "added", "replaced" or "removed", and
	// prefixes are empty for "removed".
	void endpoint_changed(const std::string &group, const Bytes &gateway, const char *change,
	                      const std::vector<TrafficSelector> &prefixes);
	// routing-key: compares every group's routing epoch with the one seen
	// last and emits the event for each that changed (a group new, gone,
	// or without a current TEK too). The glue calls it after each engine
	// call that may have changed the TEKs (a datagram, a tick, a reload);
	// the server calls it after every command. Nothing is read while no
	// client subscribed to routing-key.
	void check_routing_keys();
	// shortcut-up (reason empty) and shortcut-down of a key server
	// group's connectivity manager.
	void shortcut_changed(const std::string &group, const shortcut::ShortcutInfo &s, bool up,
	                      const std::string &reason);

private:
	ControlTarget &target_;
	vici::Server server_;
	// group name -> routing epoch (0: none) last seen, while subscribed
	std::map<std::string, uint32_t> epochs_;
	bool tracking_ = false;
};

// One client connection of a ControlServer, for tests and tools that move
// the bytes themselves: bytes in, bytes out.
class ControlConnection {
public:
	explicit ControlConnection(ControlServer &server);
	~ControlConnection();
	ControlConnection(const ControlConnection &) = delete;
	ControlConnection &operator=(const ControlConnection &) = delete;

	// Takes bytes read from the client and appends to out what the
	// server queued for it since the last call: the framed replies of
	// every packet they complete, in order, and the events it subscribed
	// to. An error when the client broke the protocol (a length over the
	// limit, a packet it may not send): write out what was appended, then
	// close the connection. Once failed, a connection takes nothing more
	// and returns the same error.
	Result<Done> feed(ByteView in, Bytes &out);
	// Appends what was queued for the client (events) without feeding.
	void take(Bytes &out);
	// The server gave up on the client (its queue overflowed, or it
	// broke the protocol).
	bool closing() const;
	// No partial packet is buffered: end of stream here is a clean close.
	bool idle() const { return server_.server().idle(id_); }

	size_t packets() const { return packets_; }
	vici::ClientId id() const { return id_; }

private:
	ControlServer &server_;
	vici::ClientId id_;
	size_t packets_ = 0;
};

} // namespace groupsec::gdoi
