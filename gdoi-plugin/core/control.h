// The control socket of the gdoi plugin: VICI commands (docs/control-socket.md)
// that show the G-IKEv2 engine's groups, members, SAs and counters, start
// rekeys, evictions and re-registrations, and manage the tunnel endpoints
// of each group. ControlServer owns no socket: the glue reads bytes from a
// client connection, feeds them to that connection's ControlConnection and
// writes back what it returns. The commands reach the engine through the
// ControlTarget the glue implements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gdoi_endpoints.h"
#include "gdoi_engine.h"
#include "gikev2_result.h"
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

	// Adds the endpoint or replaces the prefixes of the group's endpoint at
	// that gateway (GroupDataplane::add_endpoint()).
	virtual Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &endpoint) = 0;
	virtual Result<Done> remove_endpoint(const std::string &group, const Address &gateway) = 0;
	// The group's endpoints; an error if the group does not exist.
	virtual Result<std::vector<TunnelEndpoint>> endpoints(const std::string &group) const = 0;
};

// The VICI commands; docs/control-socket.md has their messages.
namespace command {
constexpr const char *kVersion = "version";
constexpr const char *kListGroups = "list-groups";
constexpr const char *kListMembers = "list-members";
constexpr const char *kListSas = "list-sas";
constexpr const char *kRekey = "rekey";
constexpr const char *kEvict = "evict";
constexpr const char *kReadmit = "readmit";
constexpr const char *kReregister = "reregister";
constexpr const char *kAddEndpoint = "add-endpoint";
constexpr const char *kRemoveEndpoint = "remove-endpoint";
constexpr const char *kListEndpoints = "list-endpoints";
} // namespace command

// Answers VICI packets with the ControlTarget. It keeps no state between
// packets; several connections may share one server, and calls into the
// target happen on the thread that feeds a connection.
class ControlServer {
public:
	explicit ControlServer(ControlTarget &target, size_t max_packet = vici::kMaxPacket);
	ControlServer(const ControlServer &) = delete;
	ControlServer &operator=(const ControlServer &) = delete;

	// The reply to one packet (a payload without its length header), or
	// nullopt if it gets none. CMD_REQUEST gets CMD_RESPONSE, or
	// CMD_UNKNOWN for a command this server does not have; a request
	// whose arguments or message are wrong gets a CMD_RESPONSE with
	// success=no and errmsg, and the target is not called.
	// EVENT_REGISTER and EVENT_UNREGISTER get EVENT_UNKNOWN: the socket
	// has no event source. An error for a packet a client may not send
	// (unknown operation, a server's operation, an empty packet): the
	// connection should then be closed.
	Result<std::optional<vici::Packet>> handle(ByteView payload);

	// The response message of one command request (as handle() answers a
	// CMD_REQUEST); nullopt for an unknown command.
	std::optional<vici::Section> dispatch(const std::string &command, const vici::Section &request);

	size_t max_packet() const { return max_packet_; }

private:
	ControlTarget &target_;
	size_t max_packet_;
};

// One client connection of a ControlServer: bytes in, bytes out.
class ControlConnection {
public:
	explicit ControlConnection(ControlServer &server) : server_(server), reader_(server.max_packet()) {}

	// Takes bytes read from the client and appends to out the framed
	// replies of every packet they complete, in order. An error when the
	// client broke the protocol (a length over the limit, a packet it may
	// not send): write out what was appended, then close the connection.
	// Once failed, a connection takes nothing more and returns the same
	// error.
	Result<Done> feed(ByteView in, Bytes &out);

	// No partial packet is buffered: end of stream here is a clean close.
	bool idle() const { return reader_.idle(); }
	size_t packets() const { return packets_; }

private:
	ControlServer &server_;
	vici::StreamReader reader_;
	std::optional<Error> failed_;
	size_t packets_ = 0;
};

} // namespace groupsec::gdoi
