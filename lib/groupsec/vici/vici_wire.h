// SPDX-License-Identifier: GPL-2.0-or-later
// The VICI wire format of strongSwan's control interface: stream framing
// (32-bit length, then the packet), packets (operation type, optional name,
// optional message) and the message tree (sections, key/values, lists).
// The control socket of the gdoi plugin speaks it, so libvici and the vici
// client packages work against that socket. Decoding is strict: every
// length must fit, sections and lists must be balanced, names are printable
// ASCII and unique within their section, and nothing may follow the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::vici {

// Largest packet (without its length header) either side accepts; the
// limit of strongSwan's vici plugin.
constexpr size_t kMaxPacket = 512 * 1024;
constexpr size_t kLengthHeaderSize = 4;
// Deepest nesting of sections a message may have.
constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxValueLength = 0xffff;

enum class Operation : uint8_t {
	CmdRequest = 0, // named, with a message
	CmdResponse = 1, // with a message
	CmdUnknown = 2, // nothing else
	EventRegister = 3, // named
	EventUnregister = 4, // named
	EventConfirm = 5, // nothing else
	EventUnknown = 6, // nothing else
	Event = 7, // named, with a message
};

// "CMD_REQUEST" and so on; "UNKNOWN" for a value outside the enum.
const char *operation_name(Operation op);
// Whether a packet of this operation carries a name, and a message.
bool operation_has_name(Operation op);
bool operation_has_message(Operation op);

enum class ElementType : uint8_t {
	SectionStart = 1,
	SectionEnd = 2,
	KeyValue = 3,
	ListStart = 4,
	ListItem = 5,
	ListEnd = 6,
};

struct Entry;

// A section of a message (the root section is the message itself): an
// ordered sequence of key/values, lists and sub-sections. Values are raw
// octets; the control socket puts text and decimal numbers in them.
class Section {
public:
	Section();
	Section(const Section &);
	Section(Section &&) noexcept;
	Section &operator=(const Section &);
	Section &operator=(Section &&) noexcept;
	~Section();

	// Builders; they append without checking, encode_message() checks.
	Section &add_value(std::string name, std::string value);
	Section &add_list(std::string name, std::vector<std::string> items);
	// The new sub-section, valid until this section changes.
	Section &add_section(std::string name);

	// The entry of that name and kind, nullptr if there is none.
	const std::string *value(const std::string &name) const;
	const std::vector<std::string> *list(const std::string &name) const;
	const Section *section(const std::string &name) const;
	Section *section(const std::string &name);
	// The entry of that name whatever its kind, nullptr if none.
	const Entry *find(const std::string &name) const;

	const std::vector<Entry> &entries() const { return entries_; }
	bool empty() const;

private:
	std::vector<Entry> entries_;
};

enum class EntryKind { Value, List, Section };

struct Entry {
	EntryKind kind = EntryKind::Value;
	std::string name;
	std::string value; // Value
	std::vector<std::string> items; // List
	Section section; // Section
};

inline bool Section::empty() const { return entries_.empty(); }

bool operator==(const Section &a, const Section &b);
inline bool operator!=(const Section &a, const Section &b) { return !(a == b); }
bool operator==(const Entry &a, const Entry &b);

// The message encoding of a root section.
Result<Bytes> encode_message(const Section &root);
Result<Section> decode_message(ByteView in);

struct Packet {
	Operation op = Operation::CmdRequest;
	std::string name; // command or event name, when operation_has_name()
	Section message; // when operation_has_message()
};
bool operator==(const Packet &a, const Packet &b);

// One packet without its length header. Unknown operation types, names
// where the operation has none (and the reverse), bytes after a packet
// that carries no message and packets over max_size are errors.
Result<Packet> decode_packet(ByteView payload, size_t max_size = kMaxPacket);
Result<Bytes> encode_packet_payload(const Packet &p, size_t max_size = kMaxPacket);
// The packet with its 32-bit length header, ready for the stream.
Result<Bytes> encode_packet(const Packet &p, size_t max_size = kMaxPacket);

// Reassembles packets from a byte stream read in arbitrary pieces.
class StreamReader {
public:
	explicit StreamReader(size_t max_size = kMaxPacket) : max_size_(max_size) {}

	// Takes bytes read from the stream.
	void push(ByteView in);
	// The next complete packet (without its length header), nullopt if
	// more bytes are needed, an error if a length header announces more
	// than max_size octets. After an error the stream is unusable and
	// every later call returns the same error.
	Result<std::optional<Bytes>> next();
	// No partial packet is buffered: the peer may close here cleanly.
	bool idle() const { return buffer_.size() == consumed_; }
	size_t buffered() const { return buffer_.size() - consumed_; }

private:
	size_t max_size_;
	Bytes buffer_;
	size_t consumed_ = 0;
	std::optional<Error> failed_;
};

} // namespace groupsec::vici
