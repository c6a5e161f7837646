// SPDX-License-Identifier: GPL-2.0-or-later
// A VICI server without I/O: a registry of client connections, commands
// dispatched to handlers, and event streams clients subscribe to. The glue
// owns the sockets: it connects a client, feeds it the bytes it reads,
// writes what output() holds when the socket is writable, and disconnects
// the client when feed() fails, when closing() says so, or when the peer
// goes away. Events are queued on every subscribed client at once, so
// emitting never waits for a socket.
//
// Each client's queued output is bounded. A client that does not read and
// whose queue would grow past the bound loses its queue and is marked
// closing: the glue drops the connection. A client that reconnects and asks
// for the state again (list-members) sees everything it missed; a client
// that silently lost events would not know that it did.
//
// Not thread-safe: the glue serializes every call, including emit().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::vici {

using ClientId = uint64_t;

// The response message of a failed command, by VICI's convention:
// success=no, errmsg=message.
Section failure_message(const std::string &message);

class Server {
public:
	struct Limits {
		// largest packet accepted or sent, without the length header
		size_t max_packet = kMaxPacket;
		// most octets queued for one client before it is disconnected;
		// a single message is always queued when the queue is empty
		size_t max_queued = 4 * kMaxPacket;
	};
	// A command: the request's message in, the response's message out.
	using Command = std::function<Section(ClientId client, const Section &request)>;
	// The glue's hook: the client's queue went from empty to not empty,
	// or the client is closing. It may be called from within feed() and
	// emit() and must not call back into the server (queue a write).
	using Wake = std::function<void(ClientId client)>;

	Server();
	explicit Server(Limits limits);
	Server(const Server &) = delete;
	Server &operator=(const Server &) = delete;

	// Registration; a second registration of a name replaces the first.
	void add_command(const std::string &name, Command command);
	void add_event(const std::string &name);
	// A command or event no longer served (its name is then unknown).
	void remove_command(const std::string &name) { commands_.erase(name); }
	void remove_event(const std::string &name);
	bool has_command(const std::string &name) const { return commands_.count(name) != 0; }
	bool has_event(const std::string &name) const { return events_.count(name) != 0; }
	void on_wake(Wake wake) { wake_ = std::move(wake); }

	ClientId connect();
	void disconnect(ClientId client);
	bool connected(ClientId client) const { return clients_.count(client) != 0; }
	size_t clients() const { return clients_.size(); }

	// Bytes read from the client. Every packet they complete is answered
	// in order: CMD_REQUEST with CMD_RESPONSE (the command's message, or
	// failure_message() if the request's message does not decode or the
	// response does not fit a packet) or CMD_UNKNOWN; EVENT_REGISTER and
	// EVENT_UNREGISTER with EVENT_CONFIRM, or EVENT_UNKNOWN for an event
	// the server does not have. The number of packets handled; an error
	// when the client broke the protocol (a packet over the limit, an
	// empty packet, an operation only a server sends, an unknown one):
	// write what output() holds, then disconnect. Once failed, a client
	// takes nothing more.
	Result<size_t> feed(ClientId client, ByteView in);

	// The client's queued output (empty for an unknown client), and how
	// many of its octets were written.
	ByteView output(ClientId client) const;
	void consume(ClientId client, size_t n);
	// Its queue overflowed (or it broke the protocol): disconnect it.
	bool closing(ClientId client) const;
	// No partial packet is buffered: end of stream here is a clean close.
	bool idle(ClientId client) const;

	// Queues one EVENT packet on every client subscribed to the event.
	// The clients queued to; clients whose queue overflowed are marked
	// closing and counted in overflows().
	size_t emit(const std::string &event, const Section &message);
	// Whether anyone listens, to skip building a message nobody gets.
	bool subscribed(const std::string &event) const;
	bool subscribed(ClientId client, const std::string &event) const;
	uint64_t overflows() const { return overflows_; }
	const Limits &limits() const { return limits_; }

private:
	struct Client {
		StreamReader reader;
		Bytes out;
		size_t sent = 0;
		std::set<std::string> events;
		bool closing = false;
		bool failed = false;
		std::optional<Error> error;
		explicit Client(size_t max) : reader(max) {}
		size_t queued() const { return out.size() - sent; }
	};
	Result<std::optional<Packet>> handle(ClientId id, Client &c, ByteView payload);
	// Appends a framed packet to the client's queue, or marks it closing.
	bool queue(ClientId id, Client &c, const Bytes &framed);

	Limits limits_;
	std::map<std::string, Command> commands_;
	std::set<std::string> events_;
	std::map<ClientId, std::unique_ptr<Client>> clients_;
	ClientId next_id_ = 1;
	uint64_t overflows_ = 0;
	Wake wake_;
};

} // namespace groupsec::vici
