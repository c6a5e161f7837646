// SPDX-License-Identifier: GPL-2.0-or-later
// A VICI client without I/O: it encodes command requests and event
// (un)registrations into an output buffer the caller writes to the socket,
// takes the bytes the caller reads from the socket, and hands back the
// replies (matched to their requests, in order) and the events it
// received. It never blocks and owns no socket, so the same client serves
// gdoictl's blocking loop and the bgpd module's event loop.
//
//   vici::Client c;
//   auto id = c.subscribe("member-registered");  // and c.request("list-groups", {})
//   write(fd, c.output().data(), c.output().size()) -> c.consume_output(n)
//   read(fd, buf, ...) -> c.feed(ByteView(buf, n))
//   while (auto m = c.next()) { m->kind, m->id, m->name, m->message }
//
// VICI answers requests strictly in order: CMD_RESPONSE or CMD_UNKNOWN for a
// command, EVENT_CONFIRM or EVENT_UNKNOWN for an event (un)registration;
// EVENT packets may arrive in between at any time. An answer that does not
// fit the oldest outstanding request is a protocol error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::vici {

// What the client received.
struct Received {
	enum class Kind {
		Response, // CMD_RESPONSE to request `id` (command `name`)
		UnknownCommand, // CMD_UNKNOWN: the server has no command `name`
		Confirmed, // EVENT_CONFIRM of subscribe()/unsubscribe() `id`
		UnknownEvent, // EVENT_UNKNOWN: the server has no event `name`
		Event, // an EVENT `name` the client subscribed to (id 0)
	};
	Kind kind = Kind::Response;
	uint64_t id = 0; // the id request()/subscribe()/unsubscribe() returned
	std::string name; // the command or event
	Section message; // Response and Event only
};

const char *received_kind_name(Received::Kind k);

class Client {
public:
	explicit Client(size_t max_packet = kMaxPacket);

	// Queue a CMD_REQUEST; its id, which the Response carries. An error
	// (and nothing queued) if the message cannot be encoded, or after the
	// client failed.
	Result<uint64_t> request(const std::string &command, const Section &message = Section());
	// Queue an EVENT_REGISTER / EVENT_UNREGISTER. The subscription is
	// counted from the EVENT_CONFIRM on: subscribed() says so.
	Result<uint64_t> subscribe(const std::string &event);
	Result<uint64_t> unsubscribe(const std::string &event);

	// Bytes waiting to be written to the socket, and how many were written.
	ByteView output() const;
	void consume_output(size_t n);
	bool wants_write() const { return output_.size() > output_sent_; }

	// Bytes read from the socket. Complete packets become Received items
	// for next(). An error when the server broke the protocol (oversized
	// or undecodable packet, an answer nobody asked for): close the
	// socket; every later call returns the same error until reset().
	Result<size_t> feed(ByteView in);
	// The oldest item not yet taken, nullopt if none.
	std::optional<Received> next();

	// Requests sent or queued that have no answer yet.
	size_t outstanding() const { return pending_.size(); }
	// Events the server confirmed and that were not unsubscribed since.
	const std::set<std::string> &subscribed() const { return subscribed_; }
	// No partial packet buffered: the server may close here cleanly.
	bool idle() const { return reader_.idle(); }
	bool failed() const { return failed_.has_value(); }

	// For a new connection (the server restarted): forgets the buffers,
	// the outstanding requests and the error; items already received stay
	// for next(). With resubscribe, queues an
	// EVENT_REGISTER for every event that was subscribed or being
	// subscribed, so the new connection gets the same streams; their
	// confirmations arrive as usual. Ids keep counting up.
	void reset(bool resubscribe = true);

private:
	enum class Pending { Command, Register, Unregister };
	struct Outstanding {
		Pending what;
		uint64_t id;
		std::string name;
	};
	Result<uint64_t> queue(Operation op, Pending what, const std::string &name, const Section &message);
	std::optional<Error> handle(ByteView payload); // nullopt when fine

	size_t max_packet_;
	vici::StreamReader reader_;
	Bytes output_;
	size_t output_sent_ = 0;
	std::deque<Outstanding> pending_;
	std::deque<Received> received_;
	std::set<std::string> subscribed_;
	std::optional<Error> failed_;
	uint64_t next_id_ = 1;
};

} // namespace groupsec::vici
