// SPDX-License-Identifier: GPL-2.0-or-later
// A strict DER reader and writer for the few ASN.1 types the trust lists
// use (trust-lists.md): SEQUENCE, INTEGER, ENUMERATED, UTF8String,
// GeneralizedTime, OCTET STRING, BIT STRING and IMPLICIT context tags.
// The reader accepts DER only: definite, minimal lengths, minimal
// integers, times as YYYYMMDDHHMMSSZ, bit strings without set padding.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::trust::der {

constexpr uint8_t kInteger = 0x02;
constexpr uint8_t kBitString = 0x03;
constexpr uint8_t kOctetString = 0x04;
constexpr uint8_t kEnumerated = 0x0a;
constexpr uint8_t kUtf8String = 0x0c;
constexpr uint8_t kSequence = 0x30;
constexpr uint8_t kGeneralizedTime = 0x18;
// [n] IMPLICIT, primitive or constructed
constexpr uint8_t context(unsigned n, bool constructed)
{
	return static_cast<uint8_t>(0x80 | (constructed ? 0x20 : 0) | n);
}

// One element: its identifier octet, its contents, and the whole TLV.
struct Tlv {
	uint8_t tag = 0;
	ByteView content;
	ByteView whole;
};

// Reads the elements of a SEQUENCE's contents (or of a whole file) one
// after the other. `what` names the structure in error messages.
class Reader {
public:
	Reader(ByteView data, std::string what) : data_(data), what_(std::move(what)) {}

	bool at_end() const { return pos_ == data_.size(); }
	// the identifier octet of the next element, 0 at the end
	uint8_t peek_tag() const { return at_end() ? 0 : data_[pos_]; }

	Result<Tlv> any();
	Result<Tlv> expect(uint8_t tag, const char *field);
	// the contents of a SEQUENCE (or another constructed tag), as a reader
	Result<Reader> sequence(const char *field, uint8_t tag = kSequence);
	// a non-negative INTEGER (or ENUMERATED) up to max
	Result<uint64_t> integer(const char *field, uint64_t max, uint8_t tag = kInteger);
	// UTF-8 text without control characters, 1..max octets
	Result<std::string> text(const char *field, size_t max, uint8_t tag = kUtf8String);
	// GeneralizedTime, as seconds since 1970 (UTC)
	Result<int64_t> time(const char *field);
	Result<ByteView> octets(const char *field, uint8_t tag = kOctetString);
	// a BIT STRING of at most 32 named bits: bit 0 is the mask's bit 0
	Result<uint32_t> bits(const char *field);
	// fails unless every element has been read
	Result<bool> finish();

	const std::string &what() const { return what_; }

private:
	Error fail(WireError code, const std::string &msg) const;

	ByteView data_;
	size_t pos_ = 0;
	std::string what_;
};

// Writers: each returns one whole TLV.
Bytes tlv(uint8_t tag, ByteView content);
Bytes integer(uint64_t v, uint8_t tag = kInteger);
Bytes text(std::string_view s, uint8_t tag = kUtf8String);
Bytes time(int64_t unix_seconds);
Bytes bits(uint32_t mask);
// the concatenation of parts inside one tag
Bytes constructed(uint8_t tag, std::initializer_list<ByteView> parts);
void append(Bytes &out, ByteView part);

// Calendar helpers shared with the certificate code: seconds since 1970
// of a UTC date and time (no range check), and back to "YYYY-MM-DD HH:MM:SS".
int64_t unix_time(int year, unsigned month, unsigned day, unsigned hour, unsigned minute,
		  unsigned second);
std::string time_text(int64_t unix_seconds);

} // namespace groupsec::trust::der
