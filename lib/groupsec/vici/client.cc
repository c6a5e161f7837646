// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/vici/client.h"

#include <algorithm>
#include <utility>

namespace groupsec::vici {

const char *received_kind_name(Received::Kind k)
{
	switch (k) {
	case Received::Kind::Response:
		return "response";
	case Received::Kind::UnknownCommand:
		return "unknown-command";
	case Received::Kind::Confirmed:
		return "confirmed";
	case Received::Kind::UnknownEvent:
		return "unknown-event";
	case Received::Kind::Event:
		return "event";
	}
	return "unknown";
}

Client::Client(size_t max_packet) : max_packet_(max_packet), reader_(max_packet) {}

Result<uint64_t> Client::queue(Operation op, Pending what, const std::string &name, const Section &message)
{
	if (failed_)
		return *failed_;
	Packet p;
	p.op = op;
	p.name = name;
	if (operation_has_message(op))
		p.message = message;
	auto bytes = encode_packet(p, max_packet_);
	if (!bytes.ok())
		return bytes.error();
	output_.insert(output_.end(), bytes.value().begin(), bytes.value().end());
	uint64_t id = next_id_++;
	pending_.push_back(Outstanding{what, id, name});
	return id;
}

Result<uint64_t> Client::request(const std::string &command, const Section &message)
{
	return queue(Operation::CmdRequest, Pending::Command, command, message);
}

Result<uint64_t> Client::subscribe(const std::string &event)
{
	return queue(Operation::EventRegister, Pending::Register, event, Section());
}

Result<uint64_t> Client::unsubscribe(const std::string &event)
{
	return queue(Operation::EventUnregister, Pending::Unregister, event, Section());
}

ByteView Client::output() const
{
	return ByteView(output_.data() + output_sent_, output_.size() - output_sent_);
}

void Client::consume_output(size_t n)
{
	output_sent_ += std::min(n, output_.size() - output_sent_);
	if (output_sent_ == output_.size()) {
		output_.clear();
		output_sent_ = 0;
	}
}

std::optional<Error> Client::handle(ByteView payload)
{
	auto decoded = decode_packet(payload, max_packet_);
	if (!decoded.ok())
		return decoded.error();
	Packet &p = decoded.value();

	if (p.op == Operation::Event) {
		// A server only sends events a client registered for; an event
		// still arriving just after an unregistration is harmless.
		Received r;
		r.kind = Received::Kind::Event;
		r.name = std::move(p.name);
		r.message = std::move(p.message);
		received_.push_back(std::move(r));
		return std::nullopt;
	}

	bool command_answer = p.op == Operation::CmdResponse || p.op == Operation::CmdUnknown;
	bool event_answer = p.op == Operation::EventConfirm || p.op == Operation::EventUnknown;
	if (!command_answer && !event_answer)
		return make_error(WireError::BadValue,
		                  std::string("the server sent ") + operation_name(p.op) + ", which only a client sends");
	if (pending_.empty())
		return make_error(WireError::BadValue,
		                  std::string("the server sent ") + operation_name(p.op) + " but nothing was asked");
	Outstanding o = pending_.front();
	if (command_answer != (o.what == Pending::Command))
		return make_error(WireError::BadValue, std::string("the server sent ") + operation_name(p.op) +
		                                               " to the request '" + o.name + "'");
	pending_.pop_front();

	Received r;
	r.id = o.id;
	r.name = o.name;
	switch (p.op) {
	case Operation::CmdResponse:
		r.kind = Received::Kind::Response;
		r.message = std::move(p.message);
		break;
	case Operation::CmdUnknown:
		r.kind = Received::Kind::UnknownCommand;
		break;
	case Operation::EventConfirm:
		r.kind = Received::Kind::Confirmed;
		if (o.what == Pending::Register)
			subscribed_.insert(o.name);
		else
			subscribed_.erase(o.name);
		break;
	default: // EventUnknown
		r.kind = Received::Kind::UnknownEvent;
		break;
	}
	received_.push_back(std::move(r));
	return std::nullopt;
}

Result<size_t> Client::feed(ByteView in)
{
	if (failed_)
		return *failed_;
	reader_.push(in);
	size_t packets = 0;
	for (;;) {
		auto next = reader_.next();
		if (!next.ok()) {
			failed_ = next.error();
			return *failed_;
		}
		if (!next.value())
			return packets;
		if (auto err = handle(*next.value())) {
			failed_ = std::move(*err);
			return *failed_;
		}
		packets++;
	}
}

std::optional<Received> Client::next()
{
	if (received_.empty())
		return std::nullopt;
	Received r = std::move(received_.front());
	received_.pop_front();
	return r;
}

void Client::reset(bool resubscribe)
{
	std::set<std::string> events = subscribed_;
	for (const auto &o : pending_) {
		if (o.what == Pending::Register)
			events.insert(o.name);
		else if (o.what == Pending::Unregister)
			events.erase(o.name);
	}
	reader_ = StreamReader(max_packet_);
	output_.clear();
	output_sent_ = 0;
	pending_.clear();
	subscribed_.clear();
	failed_.reset();
	if (resubscribe)
		for (const auto &e : events)
			subscribe(e);
}

} // namespace groupsec::vici
