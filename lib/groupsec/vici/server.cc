// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/vici/server.h"

#include <algorithm>
#include <utility>

namespace groupsec::vici {

namespace {

Packet bare(Operation op)
{
	Packet p;
	p.op = op;
	return p;
}

Packet response(Section message)
{
	Packet p;
	p.op = Operation::CmdResponse;
	p.message = std::move(message);
	return p;
}

} // namespace

Section failure_message(const std::string &message)
{
	Section s;
	s.add_value("success", "no");
	s.add_value("errmsg", message);
	return s;
}

Server::Server() : Server(Limits()) {}

Server::Server(Limits limits) : limits_(limits) {}

void Server::add_command(const std::string &name, Command command)
{
	commands_[name] = std::move(command);
}

void Server::add_event(const std::string &name)
{
	events_.insert(name);
}

void Server::remove_event(const std::string &name)
{
	events_.erase(name);
	for (auto &[id, c] : clients_)
		c->events.erase(name);
}

ClientId Server::connect()
{
	ClientId id = next_id_++;
	clients_.emplace(id, std::make_unique<Client>(limits_.max_packet));
	return id;
}

void Server::disconnect(ClientId client)
{
	clients_.erase(client);
}

bool Server::queue(ClientId id, Client &c, const Bytes &framed)
{
	if (c.closing)
		return false;
	if (c.queued() > 0 && c.queued() + framed.size() > limits_.max_queued) {
		// the client does not read: it goes, rather than holding the
		// server's memory or silently missing what follows
		c.closing = true;
		c.out.clear();
		c.sent = 0;
		overflows_++;
		if (wake_)
			wake_(id);
		return false;
	}
	bool was_empty = c.queued() == 0;
	if (c.sent > 0 && c.sent == c.out.size()) {
		c.out.clear();
		c.sent = 0;
	}
	c.out.insert(c.out.end(), framed.begin(), framed.end());
	if (was_empty && wake_)
		wake_(id);
	return true;
}

Result<std::optional<Packet>> Server::handle(ClientId id, Client &c, ByteView payload)
{
	using Reply = std::optional<Packet>;
	if (payload.empty())
		return make_error(WireError::Truncated, "control socket: empty packet");
	uint8_t op = payload[0];
	switch (op) {
	case static_cast<uint8_t>(Operation::CmdRequest): {
		// the command name first: an unknown command gets CMD_UNKNOWN
		// whatever its message holds
		if (payload.size() < 2 || payload.size() < 2u + payload[1])
			return Reply(response(failure_message("malformed request: the command name is truncated")));
		std::string name(payload.begin() + 2, payload.begin() + 2 + payload[1]);
		auto it = commands_.find(name);
		if (it == commands_.end())
			return Reply(bare(Operation::CmdUnknown));
		auto p = decode_packet(payload, limits_.max_packet);
		if (!p.ok())
			return Reply(response(failure_message(name + ": malformed request: " + p.error().message)));
		Section reply = it->second(id, p.value().message);
		// a response that cannot go out becomes an error that can
		auto encoded = encode_message(reply);
		if (!encoded.ok())
			return Reply(response(
				failure_message(name + ": the response cannot be encoded: " + encoded.error().message)));
		if (encoded.value().size() + 1 > limits_.max_packet)
			return Reply(response(failure_message(
				name + ": the response of " + std::to_string(encoded.value().size()) +
				" octets exceeds the packet limit of " + std::to_string(limits_.max_packet))));
		return Reply(response(std::move(reply)));
	}
	case static_cast<uint8_t>(Operation::EventRegister):
	case static_cast<uint8_t>(Operation::EventUnregister): {
		auto p = decode_packet(payload, limits_.max_packet);
		if (!p.ok() || !events_.count(p.value().name))
			return Reply(bare(Operation::EventUnknown));
		if (op == static_cast<uint8_t>(Operation::EventRegister))
			c.events.insert(p.value().name);
		else
			c.events.erase(p.value().name);
		return Reply(bare(Operation::EventConfirm));
	}
	case static_cast<uint8_t>(Operation::CmdResponse):
	case static_cast<uint8_t>(Operation::CmdUnknown):
	case static_cast<uint8_t>(Operation::EventConfirm):
	case static_cast<uint8_t>(Operation::EventUnknown):
	case static_cast<uint8_t>(Operation::Event):
		return make_error(WireError::BadValue, std::string("control socket: a client may not send ") +
		                                               operation_name(static_cast<Operation>(op)));
	default:
		return make_error(WireError::BadValue, "control socket: unknown operation type " + std::to_string(op));
	}
}

Result<size_t> Server::feed(ClientId id, ByteView in)
{
	auto it = clients_.find(id);
	if (it == clients_.end())
		return make_error(WireError::Missing, "control socket: no such client");
	Client &c = *it->second;
	if (c.error)
		return *c.error;
	c.reader.push(in);
	size_t packets = 0;
	while (!c.closing) {
		auto next = c.reader.next();
		if (!next.ok()) {
			c.error = next.error();
			return *c.error;
		}
		if (!next.value())
			break;
		packets++;
		// a command may emit events (an eviction): they go out before
		// its response, to this client too
		auto reply = handle(id, c, *next.value());
		if (!reply.ok()) {
			c.error = reply.error();
			return *c.error;
		}
		if (!reply.value())
			continue;
		auto bytes = encode_packet(*reply.value(), limits_.max_packet);
		if (!bytes.ok()) {
			c.error = bytes.error();
			return *c.error;
		}
		queue(id, c, bytes.value());
	}
	return packets;
}

ByteView Server::output(ClientId client) const
{
	auto it = clients_.find(client);
	if (it == clients_.end())
		return ByteView();
	const Client &c = *it->second;
	return ByteView(c.out.data() + c.sent, c.queued());
}

void Server::consume(ClientId client, size_t n)
{
	auto it = clients_.find(client);
	if (it == clients_.end())
		return;
	Client &c = *it->second;
	c.sent += std::min(n, c.queued());
	if (c.sent == c.out.size()) {
		c.out.clear();
		c.sent = 0;
	}
}

bool Server::closing(ClientId client) const
{
	auto it = clients_.find(client);
	return it != clients_.end() && (it->second->closing || it->second->error);
}

bool Server::idle(ClientId client) const
{
	auto it = clients_.find(client);
	return it == clients_.end() || it->second->reader.idle();
}

size_t Server::emit(const std::string &event, const Section &message)
{
	if (!subscribed(event))
		return 0;
	Packet p;
	p.op = Operation::Event;
	p.name = event;
	p.message = message;
	auto bytes = encode_packet(p, limits_.max_packet);
	if (!bytes.ok())
		return 0;
	size_t queued = 0;
	for (auto &[id, c] : clients_)
		if (c->events.count(event) && !c->error && queue(id, *c, bytes.value()))
			queued++;
	return queued;
}

bool Server::subscribed(const std::string &event) const
{
	for (const auto &[id, c] : clients_)
		if (c->events.count(event) && !c->closing)
			return true;
	return false;
}

bool Server::subscribed(ClientId client, const std::string &event) const
{
	auto it = clients_.find(client);
	return it != clients_.end() && it->second->events.count(event);
}

} // namespace groupsec::vici
