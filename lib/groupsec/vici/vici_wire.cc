// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/vici/vici_wire.h"

#include <optional>
#include <set>
#include <utility>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"

namespace groupsec::vici {

using wire::Reader;

Section::Section() = default;
Section::Section(const Section &) = default;
Section::Section(Section &&) noexcept = default;
Section &Section::operator=(const Section &) = default;
Section &Section::operator=(Section &&) noexcept = default;
Section::~Section() = default;

Section &Section::add_value(std::string name, std::string value)
{
	Entry e;
	e.kind = EntryKind::Value;
	e.name = std::move(name);
	e.value = std::move(value);
	entries_.push_back(std::move(e));
	return *this;
}

Section &Section::add_list(std::string name, std::vector<std::string> items)
{
	Entry e;
	e.kind = EntryKind::List;
	e.name = std::move(name);
	e.items = std::move(items);
	entries_.push_back(std::move(e));
	return *this;
}

Section &Section::add_section(std::string name)
{
	Entry e;
	e.kind = EntryKind::Section;
	e.name = std::move(name);
	entries_.push_back(std::move(e));
	return entries_.back().section;
}

const Entry *Section::find(const std::string &name) const
{
	for (const Entry &e : entries_) {
		if (e.name == name)
			return &e;
	}
	return nullptr;
}

const std::string *Section::value(const std::string &name) const
{
	const Entry *e = find(name);
	return e && e->kind == EntryKind::Value ? &e->value : nullptr;
}

const std::vector<std::string> *Section::list(const std::string &name) const
{
	const Entry *e = find(name);
	return e && e->kind == EntryKind::List ? &e->items : nullptr;
}

const Section *Section::section(const std::string &name) const
{
	const Entry *e = find(name);
	return e && e->kind == EntryKind::Section ? &e->section : nullptr;
}

Section *Section::section(const std::string &name)
{
	return const_cast<Section *>(static_cast<const Section *>(this)->section(name));
}

bool operator==(const Entry &a, const Entry &b)
{
	if (a.kind != b.kind || a.name != b.name)
		return false;
	switch (a.kind) {
	case EntryKind::Value:
		return a.value == b.value;
	case EntryKind::List:
		return a.items == b.items;
	case EntryKind::Section:
		return a.section == b.section;
	}
	return false;
}

bool operator==(const Section &a, const Section &b)
{
	return a.entries() == b.entries();
}

bool operator==(const Packet &a, const Packet &b)
{
	return a.op == b.op && a.name == b.name && a.message == b.message;
}

const char *operation_name(Operation op)
{
	switch (op) {
	case Operation::CmdRequest:
		return "CMD_REQUEST";
	case Operation::CmdResponse:
		return "CMD_RESPONSE";
	case Operation::CmdUnknown:
		return "CMD_UNKNOWN";
	case Operation::EventRegister:
		return "EVENT_REGISTER";
	case Operation::EventUnregister:
		return "EVENT_UNREGISTER";
	case Operation::EventConfirm:
		return "EVENT_CONFIRM";
	case Operation::EventUnknown:
		return "EVENT_UNKNOWN";
	case Operation::Event:
		return "EVENT";
	}
	return "UNKNOWN";
}

bool operation_has_name(Operation op)
{
	return op == Operation::CmdRequest || op == Operation::EventRegister || op == Operation::EventUnregister ||
	       op == Operation::Event;
}

bool operation_has_message(Operation op)
{
	return op == Operation::CmdRequest || op == Operation::CmdResponse || op == Operation::Event;
}

namespace {

constexpr uint8_t kLastOperation = static_cast<uint8_t>(Operation::Event);

std::string num(uint64_t v) { return std::to_string(v); }

Error bad_value(const std::string &what) { return make_error(WireError::BadValue, what); }

// Names are 1 to 255 octets of printable ASCII (space included).
std::optional<std::string> name_problem(const std::string &name)
{
	if (name.empty())
		return std::string("empty name");
	if (name.size() > kMaxNameLength)
		return "name of " + num(name.size()) + " octets, longer than " + num(kMaxNameLength);
	for (unsigned char c : name) {
		if (c < 0x20 || c > 0x7e)
			return "name with octet " + num(c) + ", not printable ASCII";
	}
	return std::nullopt;
}

// "'a' in 'b'" for error messages: where in the tree a problem is.
std::string quoted(const std::string &s)
{
	std::string out = "'";
	for (unsigned char c : s) {
		if (c >= 0x20 && c <= 0x7e)
			out += static_cast<char>(c);
		else
			out += '?';
	}
	return out + "'";
}

class Encoder {
public:
	explicit Encoder(size_t max_size) : max_size_(max_size) {}

	Result<bool> section(const Section &s, size_t depth, const std::string &where)
	{
		std::set<std::string> names;
		for (const Entry &e : s.entries()) {
			if (auto p = name_problem(e.name))
				return bad_value("vici message: " + where + ": " + *p);
			if (!names.insert(e.name).second)
				return make_error(WireError::Duplicate,
				                  "vici message: " + where + ": name " + quoted(e.name) + " used twice");
			switch (e.kind) {
			case EntryKind::Value:
				if (e.value.size() > kMaxValueLength)
					return make_error(WireError::BadLength, "vici message: value of " + quoted(e.name) +
					                                                " longer than " + num(kMaxValueLength));
				put_type(ElementType::KeyValue);
				put_name(e.name);
				put_value(e.value);
				break;
			case EntryKind::List:
				put_type(ElementType::ListStart);
				put_name(e.name);
				for (const std::string &item : e.items) {
					if (item.size() > kMaxValueLength)
						return make_error(WireError::BadLength, "vici message: item of list " +
						                                                quoted(e.name) + " longer than " +
						                                                num(kMaxValueLength));
					put_type(ElementType::ListItem);
					put_value(item);
				}
				put_type(ElementType::ListEnd);
				break;
			case EntryKind::Section: {
				if (depth >= kMaxDepth)
					return bad_value("vici message: sections nested deeper than " + num(kMaxDepth));
				put_type(ElementType::SectionStart);
				put_name(e.name);
				auto r = section(e.section, depth + 1, "section " + quoted(e.name));
				if (!r.ok())
					return r;
				put_type(ElementType::SectionEnd);
				break;
			}
			}
			if (out.size() > max_size_)
				return make_error(WireError::BadLength,
				                  "vici message: longer than the packet limit of " + num(max_size_));
		}
		return true;
	}

	Bytes out;

private:
	void put_type(ElementType t) { wire::put_u8(out, static_cast<uint8_t>(t)); }
	void put_name(const std::string &n)
	{
		wire::put_u8(out, static_cast<uint8_t>(n.size()));
		out.insert(out.end(), n.begin(), n.end());
	}
	void put_value(const std::string &v)
	{
		wire::put_u16(out, static_cast<uint16_t>(v.size()));
		out.insert(out.end(), v.begin(), v.end());
	}

	size_t max_size_;
};

Result<bool> encode_message_into(const Section &root, Bytes &out, size_t max_size)
{
	Encoder enc(max_size);
	enc.out = std::move(out);
	auto r = enc.section(root, 0, "root section");
	out = std::move(enc.out);
	return r;
}

class Decoder {
public:
	explicit Decoder(ByteView in) : r_(in) {}

	// Errors say where ("octet 12: ...") but not what was decoded; the
	// callers add that.
	Result<Section> run()
	{
		Section root;
		frames_.push_back(Frame{&root, {}, "the root section"});
		// the open list: its name and items, added to its section at LIST_END
		std::optional<std::pair<std::string, std::vector<std::string>>> list;
		while (!r_.done()) {
			size_t at = r_.position();
			uint8_t type;
			r_.u8(type);
			Frame &f = frames_.back();
			if (list && type != static_cast<uint8_t>(ElementType::ListItem) &&
			    type != static_cast<uint8_t>(ElementType::ListEnd))
				return fail(at, bad_value(type_name(type) + " inside list " + quoted(list->first)));
			switch (static_cast<ElementType>(type)) {
			case ElementType::SectionStart: {
				auto name = read_name(f);
				if (!name.ok())
					return fail(at, name.error());
				if (frames_.size() > kMaxDepth)
					return fail(at, bad_value("sections nested deeper than " + num(kMaxDepth)));
				Section &child = f.section->add_section(name.value());
				frames_.push_back(Frame{&child, {}, "section " + quoted(name.value())});
				break;
			}
			case ElementType::SectionEnd:
				if (frames_.size() == 1)
					return fail(at, bad_value("SECTION_END without an open section"));
				frames_.pop_back();
				break;
			case ElementType::KeyValue: {
				auto name = read_name(f);
				if (!name.ok())
					return fail(at, name.error());
				auto v = read_value("value of " + quoted(name.value()));
				if (!v.ok())
					return fail(at, v.error());
				f.section->add_value(std::move(name.value()), std::move(v.value()));
				break;
			}
			case ElementType::ListStart: {
				auto name = read_name(f);
				if (!name.ok())
					return fail(at, name.error());
				list.emplace(std::move(name.value()), std::vector<std::string>());
				break;
			}
			case ElementType::ListItem: {
				if (!list)
					return fail(at, bad_value("LIST_ITEM outside a list"));
				auto v = read_value("item of list " + quoted(list->first));
				if (!v.ok())
					return fail(at, v.error());
				list->second.push_back(std::move(v.value()));
				break;
			}
			case ElementType::ListEnd:
				if (!list)
					return fail(at, bad_value("LIST_END without an open list"));
				f.section->add_list(std::move(list->first), std::move(list->second));
				list.reset();
				break;
			default:
				return fail(at, bad_value("unknown element type " + num(type)));
			}
		}
		if (list)
			return make_error(WireError::Truncated, "ends inside list " + quoted(list->first));
		if (frames_.size() > 1)
			return make_error(WireError::Truncated, "ends inside " + frames_.back().where);
		frames_.clear();
		return root;
	}

private:
	struct Frame {
		Section *section;
		std::set<std::string> names;
		std::string where;
	};

	static std::string type_name(uint8_t t)
	{
		switch (static_cast<ElementType>(t)) {
		case ElementType::SectionStart:
			return "SECTION_START";
		case ElementType::SectionEnd:
			return "SECTION_END";
		case ElementType::KeyValue:
			return "KEY_VALUE";
		case ElementType::ListStart:
			return "LIST_START";
		case ElementType::ListItem:
			return "LIST_ITEM";
		case ElementType::ListEnd:
			return "LIST_END";
		}
		return "element type " + num(t);
	}

	static Error fail(size_t at, const Error &e)
	{
		return make_error(e.code, "octet " + num(at) + ": " + e.message);
	}

	Result<std::string> read_name(Frame &f)
	{
		uint8_t len;
		ByteView v;
		if (!r_.u8(len))
			return make_error(WireError::Truncated, "name length missing");
		if (!r_.view(len, v))
			return make_error(WireError::Truncated,
			                  "name of " + num(len) + " octets runs past the end (" + num(r_.remaining()) + " left)");
		std::string name(v.begin(), v.end());
		if (auto p = name_problem(name))
			return bad_value(*p + " in " + f.where);
		if (!f.names.insert(name).second)
			return make_error(WireError::Duplicate, "name " + quoted(name) + " used twice in " + f.where);
		return name;
	}

	Result<std::string> read_value(const std::string &what)
	{
		uint16_t len;
		ByteView v;
		if (!r_.u16(len))
			return make_error(WireError::Truncated, what + ": length missing");
		if (!r_.view(len, v))
			return make_error(WireError::Truncated, what + ": " + num(len) + " octets run past the end (" +
			                                                num(r_.remaining()) + " left)");
		return std::string(v.begin(), v.end());
	}

	Reader r_;
	std::vector<Frame> frames_;
};

} // namespace

Result<Bytes> encode_message(const Section &root)
{
	return wire::guarded([&]() -> Result<Bytes> {
		Bytes out;
		auto r = encode_message_into(root, out, kMaxPacket);
		if (!r.ok())
			return r.error();
		return out;
	});
}

Result<Section> decode_message(ByteView in)
{
	return wire::guarded([&]() -> Result<Section> {
		if (in.size() > kMaxPacket)
			return make_error(WireError::BadLength,
			                  "vici message: " + num(in.size()) + " octets, over the limit of " + num(kMaxPacket));
		auto m = Decoder(in).run();
		if (!m.ok())
			return make_error(m.error().code, "vici message: " + m.error().message);
		return m;
	});
}

Result<Packet> decode_packet(ByteView payload, size_t max_size)
{
	return wire::guarded([&]() -> Result<Packet> {
		if (payload.size() > max_size)
			return make_error(WireError::BadLength, "vici packet: " + num(payload.size()) +
			                                                " octets, over the limit of " + num(max_size));
		Reader r(payload);
		uint8_t op;
		if (!r.u8(op))
			return make_error(WireError::Truncated, "vici packet: empty");
		if (op > kLastOperation)
			return bad_value("vici packet: unknown operation type " + num(op));
		Packet p;
		p.op = static_cast<Operation>(op);
		const std::string what = std::string("vici packet ") + operation_name(p.op);
		if (operation_has_name(p.op)) {
			uint8_t len;
			ByteView name;
			if (!r.u8(len))
				return make_error(WireError::Truncated, what + ": name length missing");
			if (!r.view(len, name))
				return make_error(WireError::Truncated, what + ": name of " + num(len) +
				                                                " octets runs past the end (" +
				                                                num(r.remaining()) + " left)");
			p.name.assign(name.begin(), name.end());
			if (auto problem = name_problem(p.name))
				return bad_value(what + ": " + *problem);
		}
		if (operation_has_message(p.op)) {
			auto m = Decoder(r.rest()).run();
			if (!m.ok())
				return make_error(m.error().code, what + ": message " + m.error().message);
			p.message = std::move(m.value());
		} else if (!r.done()) {
			return make_error(WireError::TrailingBytes, what + ": " + num(r.remaining()) +
			                                                    " octets after a packet that carries no message");
		}
		return p;
	});
}

Result<Bytes> encode_packet_payload(const Packet &p, size_t max_size)
{
	return wire::guarded([&]() -> Result<Bytes> {
		uint8_t op = static_cast<uint8_t>(p.op);
		if (op > kLastOperation)
			return bad_value("vici packet: unknown operation type " + num(op));
		const std::string what = std::string("vici packet ") + operation_name(p.op);
		Bytes out;
		wire::put_u8(out, op);
		if (operation_has_name(p.op)) {
			if (auto problem = name_problem(p.name))
				return bad_value(what + ": " + *problem);
			wire::put_u8(out, static_cast<uint8_t>(p.name.size()));
			out.insert(out.end(), p.name.begin(), p.name.end());
		} else if (!p.name.empty()) {
			return bad_value(what + ": this operation carries no name");
		}
		if (operation_has_message(p.op)) {
			auto r = encode_message_into(p.message, out, max_size);
			if (!r.ok())
				return make_error(r.error().code, what + ": " + r.error().message);
		} else if (!p.message.empty()) {
			return bad_value(what + ": this operation carries no message");
		}
		if (out.size() > max_size)
			return make_error(WireError::BadLength, what + ": " + num(out.size()) +
			                                                " octets, over the limit of " + num(max_size));
		return out;
	});
}

Result<Bytes> encode_packet(const Packet &p, size_t max_size)
{
	auto payload = encode_packet_payload(p, max_size);
	if (!payload.ok())
		return payload.error();
	return wire::guarded([&]() -> Result<Bytes> {
		Bytes out;
		out.reserve(kLengthHeaderSize + payload.value().size());
		wire::put_u32(out, static_cast<uint32_t>(payload.value().size()));
		wire::put_bytes(out, payload.value());
		return out;
	});
}

void StreamReader::push(ByteView in)
{
	if (failed_)
		return;
	// drop what the packets already taken left behind before growing
	if (consumed_ > 0 && consumed_ == buffer_.size()) {
		buffer_.clear();
		consumed_ = 0;
	} else if (consumed_ > 4096 && consumed_ * 2 > buffer_.size()) {
		buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
		consumed_ = 0;
	}
	buffer_.insert(buffer_.end(), in.begin(), in.end());
}

Result<std::optional<Bytes>> StreamReader::next()
{
	if (failed_)
		return *failed_;
	if (buffered() < kLengthHeaderSize)
		return std::optional<Bytes>();
	uint32_t len;
	Reader r(ByteView(buffer_.data() + consumed_, buffered()));
	r.u32(len);
	if (len > max_size_) {
		failed_ = make_error(WireError::BadLength, "vici stream: packet length " + num(len) +
		                                                   " exceeds the limit of " + num(max_size_));
		buffer_.clear();
		consumed_ = 0;
		return *failed_;
	}
	ByteView body;
	if (!r.view(len, body))
		return std::optional<Bytes>();
	consumed_ += kLengthHeaderSize + len;
	return std::optional<Bytes>(body.to_bytes());
}

} // namespace groupsec::vici
