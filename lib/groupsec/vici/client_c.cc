// SPDX-License-Identifier: GPL-2.0-or-later
// The C interface of the sans-IO VICI client: a thin adapter from
// client_c.h onto vici::Client, which does all the protocol work. It keeps
// the reply callbacks of outstanding requests by id; no exception leaves.
#include "groupsec/vici/client_c.h"

#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "groupsec/vici/client.h"

using groupsec::ByteView;
using groupsec::vici::Client;
using groupsec::vici::Entry;
using groupsec::vici::EntryKind;
using groupsec::vici::Received;
using groupsec::vici::Section;

struct gs_vici_msg {
	const Section *section;
};

namespace {

struct Reply {
	gs_vici_reply_fn fn;
	void *arg;
	std::string command;
};

void format_section(const Section &s, std::string &out)
{
	bool first = true;
	for (const Entry &e : s.entries()) {
		if (!first)
			out += ' ';
		first = false;
		out += e.name;
		switch (e.kind) {
		case EntryKind::Value:
			out += '=';
			out += e.value;
			break;
		case EntryKind::List:
			out += "=[";
			for (size_t i = 0; i < e.items.size(); i++) {
				if (i)
					out += ", ";
				out += e.items[i];
			}
			out += ']';
			break;
		case EntryKind::Section:
			out += "={";
			if (!e.section.empty()) {
				out += ' ';
				format_section(e.section, out);
				out += ' ';
			}
			out += '}';
			break;
		}
	}
}

void copy_out(const std::string &s, char *buf, size_t size)
{
	if (!buf || !size)
		return;
	size_t n = s.size() < size - 1 ? s.size() : size - 1;
	memcpy(buf, s.data(), n);
	buf[n] = '\0';
}

} // namespace

struct gs_vici_client {
	gs_vici_client(const gs_vici_client_ops *o, void *a) : ops(o), arg(a) {}

	// Answer every outstanding request with NULL: the link is gone.
	void fail_outstanding()
	{
		std::map<uint64_t, Reply> gone;
		gone.swap(replies);
		for (auto &r : gone)
			if (r.second.fn)
				r.second.fn(r.second.arg, r.second.command.c_str(), nullptr);
	}

	void deliver(const Received &m)
	{
		gs_vici_msg msg{&m.message};
		switch (m.kind) {
		case Received::Kind::Event:
			if (ops->event)
				ops->event(arg, m.name.c_str(), &msg);
			break;
		case Received::Kind::Confirmed:
		case Received::Kind::UnknownEvent:
			// an unsubscribe is never sent from here: every
			// confirmation answers a subscription
			if (ops->subscribed)
				ops->subscribed(arg, m.name.c_str(),
						m.kind == Received::Kind::Confirmed);
			break;
		case Received::Kind::Response:
		case Received::Kind::UnknownCommand: {
			auto it = replies.find(m.id);
			if (it == replies.end())
				break;
			Reply r = std::move(it->second);
			replies.erase(it);
			if (r.fn)
				r.fn(r.arg, r.command.c_str(),
				     m.kind == Received::Kind::Response ? &msg : nullptr);
			break;
		}
		}
	}

	const gs_vici_client_ops *ops;
	void *arg;
	Client client;
	std::map<uint64_t, Reply> replies;
	// the subscriptions, in the order they were asked for
	std::vector<std::string> wanted;
	bool connected = false;
};

extern "C" const char *gs_vici_msg_get(const struct gs_vici_msg *msg, const char *path)
{
	if (!msg || !msg->section || !path)
		return nullptr;
	try {
		const Section *s = msg->section;
		std::string p(path);
		size_t start = 0, dot;
		while ((dot = p.find('.', start)) != std::string::npos) {
			s = s->section(p.substr(start, dot - start));
			if (!s)
				return nullptr;
			start = dot + 1;
		}
		const std::string *v = s->value(p.substr(start));
		return v ? v->c_str() : nullptr;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" size_t gs_vici_msg_sections(const struct gs_vici_msg *msg, const char *path,
				      gs_vici_section_fn fn, void *arg)
{
	if (!msg || !msg->section || !path)
		return 0;
	try {
		const Section *s = msg->section;
		std::string p(path);
		size_t start = 0;
		while (s && start < p.size()) {
			size_t dot = p.find('.', start);
			if (dot == std::string::npos)
				dot = p.size();
			s = s->section(p.substr(start, dot - start));
			start = dot + 1;
		}
		if (!s)
			return 0;
		size_t n = 0;
		for (const Entry &e : s->entries()) {
			if (e.kind != EntryKind::Section)
				continue;
			n++;
			gs_vici_msg sub{&e.section};
			if (fn)
				fn(arg, e.name.c_str(), &sub);
		}
		return n;
	} catch (const std::bad_alloc &) {
		return 0;
	}
}

extern "C" long gs_vici_msg_list(const struct gs_vici_msg *msg, const char *path,
				gs_vici_item_fn fn, void *arg)
{
	if (!msg || !msg->section || !path)
		return -1;
	try {
		const Section *s = msg->section;
		std::string p(path);
		size_t start = 0, dot;
		while ((dot = p.find('.', start)) != std::string::npos) {
			s = s->section(p.substr(start, dot - start));
			if (!s)
				return -1;
			start = dot + 1;
		}
		const std::vector<std::string> *items = s->list(p.substr(start));
		if (!items)
			return -1;
		for (const std::string &item : *items)
			if (fn)
				fn(arg, item.c_str());
		return long(items->size());
	} catch (const std::bad_alloc &) {
		return -1;
	}
}

extern "C" const char *gs_vici_msg_format(const struct gs_vici_msg *msg, char *buf, size_t size)
{
	try {
		std::string out;
		if (msg && msg->section)
			format_section(*msg->section, out);
		copy_out(out, buf, size);
	} catch (const std::bad_alloc &) {
		copy_out("(out of memory)", buf, size);
	}
	return buf;
}

extern "C" struct gs_vici_client *gs_vici_client_new(const struct gs_vici_client_ops *ops, void *arg)
{
	return new (std::nothrow) gs_vici_client(ops, arg);
}

extern "C" void gs_vici_client_free(struct gs_vici_client *c)
{
	delete c;
}

extern "C" int gs_vici_client_subscribe(struct gs_vici_client *c, const char *name)
{
	try {
		// queued now, and again on every new connection, even where
		// a server did not know it: the next one may
		if (!c->client.subscribe(name).ok())
			return -1;
		c->wanted.push_back(name);
		return 0;
	} catch (const std::bad_alloc &) {
		return -1;
	}
}

extern "C" void gs_vici_client_connected(struct gs_vici_client *c)
{
	c->fail_outstanding();
	try {
		c->client.reset(false);
		for (const auto &e : c->wanted)
			c->client.subscribe(e);
	} catch (const std::bad_alloc &) {
		// the subscriptions are not sent: the glue sees no
		// confirmation, and the server nothing to answer
	}
	c->connected = true;
}

extern "C" void gs_vici_client_disconnected(struct gs_vici_client *c)
{
	c->connected = false;
	c->fail_outstanding();
}

extern "C" int gs_vici_client_request(struct gs_vici_client *c, const char *command,
				      const char *const *args, gs_vici_reply_fn fn, void *arg)
{
	if (!c->connected || !command)
		return -1;
	try {
		Section msg;
		// "name[]" keys in a row make the list "name", one item each
		std::string list_name;
		std::vector<std::string> items;
		for (const char *const *a = args; a && a[0]; a += 2) {
			if (!a[1])
				return -1;
			std::string key = a[0];
			bool item = key.size() > 2 && key.compare(key.size() - 2, 2, "[]") == 0;
			if (item)
				key.resize(key.size() - 2);
			if (!list_name.empty() && (!item || key != list_name)) {
				msg.add_list(list_name, std::move(items));
				items.clear();
				list_name.clear();
			}
			if (item) {
				list_name = key;
				items.push_back(a[1]);
			} else if (key.find('.') != std::string::npos) {
				// "groups.blue.role": the value role in section
				// blue of section groups
				Section *at = &msg;
				size_t start = 0, dot;
				while ((dot = key.find('.', start)) != std::string::npos) {
					std::string name = key.substr(start, dot - start);
					Section *sub = at->section(name);
					at = sub ? sub : &at->add_section(name);
					start = dot + 1;
				}
				at->add_value(key.substr(start), a[1]);
			} else {
				msg.add_value(key, a[1]);
			}
		}
		if (!list_name.empty())
			msg.add_list(list_name, std::move(items));
		auto id = c->client.request(command, msg);
		if (!id.ok())
			return -1;
		c->replies[id.value()] = Reply{fn, arg, command};
		return 0;
	} catch (const std::bad_alloc &) {
		return -1;
	}
}

extern "C" int gs_vici_client_feed(struct gs_vici_client *c, const uint8_t *data, size_t len,
				   char *err, size_t errsize)
{
	try {
		auto r = c->client.feed(ByteView(data, len));
		// what arrived before an error is still delivered
		while (auto m = c->client.next())
			c->deliver(*m);
		if (!r.ok()) {
			copy_out(r.error().message, err, errsize);
			return -1;
		}
		return 0;
	} catch (const std::bad_alloc &) {
		copy_out("out of memory", err, errsize);
		return -1;
	}
}

extern "C" size_t gs_vici_client_pending(struct gs_vici_client *c, const uint8_t **data)
{
	ByteView out = c->client.output();
	*data = out.data();
	return out.size();
}

extern "C" void gs_vici_client_written(struct gs_vici_client *c, size_t n)
{
	c->client.consume_output(n);
}
