// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/der.h"

#include <cstdio>

#include "groupsec/base/text.h"

namespace groupsec::trust::der {

namespace {

bool valid_utf8(ByteView s)
{
	size_t i = 0;
	while (i < s.size()) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false; // control characters
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= s.size())
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return false;
		i += n + 1;
	}
	return true;
}

unsigned two(const uint8_t *p)
{
	return static_cast<unsigned>((p[0] - '0') * 10 + (p[1] - '0'));
}

} // namespace

Error Reader::fail(WireError code, const std::string &msg) const
{
	return make_error(code, what_ + ": " + msg);
}

Result<Tlv> Reader::any()
{
	size_t left = data_.size() - pos_;
	if (left < 2)
		return fail(WireError::Truncated, "truncated");
	const uint8_t *p = data_.data() + pos_;
	uint8_t tag = p[0];
	if ((tag & 0x1f) == 0x1f)
		return fail(WireError::BadValue, "multi-octet tags are not used");
	size_t hdr = 2;
	size_t len = p[1];
	if (len & 0x80) {
		size_t n = len & 0x7f;
		if (n == 0)
			return fail(WireError::BadLength, "indefinite length (not DER)");
		if (n > 4)
			return fail(WireError::BadLength, "length too large");
		if (left < 2 + n)
			return fail(WireError::Truncated, "truncated");
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | p[2 + i];
		if (p[2] == 0 || len < 0x80)
			return fail(WireError::BadLength, "length not minimally encoded (not DER)");
		hdr += n;
	}
	if (len > left - hdr)
		return fail(WireError::Truncated, "truncated: an element runs past the end");
	Tlv t;
	t.tag = tag;
	t.content = ByteView(p + hdr, len);
	t.whole = ByteView(p, hdr + len);
	pos_ += hdr + len;
	return t;
}

Result<Tlv> Reader::expect(uint8_t tag, const char *field)
{
	if (at_end())
		return fail(WireError::Missing, std::string(field) + " missing");
	if (peek_tag() != tag) {
		char buf[64];
		std::snprintf(buf, sizeof(buf), " has tag 0x%02x, not 0x%02x", peek_tag(), tag);
		return fail(WireError::BadValue, std::string(field) + buf);
	}
	return any();
}

Result<Reader> Reader::sequence(const char *field, uint8_t tag)
{
	auto t = expect(tag, field);
	if (!t)
		return t.error();
	return Reader(t.value().content, what_ + "." + field);
}

Result<uint64_t> Reader::integer(const char *field, uint64_t max, uint8_t tag)
{
	auto t = expect(tag, field);
	if (!t)
		return t.error();
	ByteView c = t.value().content;
	if (c.empty())
		return fail(WireError::BadLength, std::string(field) + ": empty integer");
	if (c[0] & 0x80)
		return fail(WireError::BadValue, std::string(field) + ": negative");
	if (c.size() > 1 && c[0] == 0 && !(c[1] & 0x80))
		return fail(WireError::BadValue, std::string(field) + ": not minimally encoded (not DER)");
	if (c.size() > 9 || (c.size() == 9 && c[0] != 0))
		return fail(WireError::BadValue, std::string(field) + ": too large");
	uint64_t v = 0;
	for (uint8_t b : c)
		v = (v << 8) | b;
	if (v > max)
		return fail(WireError::BadValue, std::string(field) + ": " + std::to_string(v) +
							 " above " + std::to_string(max));
	return v;
}

Result<std::string> Reader::text(const char *field, size_t max, uint8_t tag)
{
	auto t = expect(tag, field);
	if (!t)
		return t.error();
	ByteView c = t.value().content;
	if (c.empty() || c.size() > max)
		return fail(WireError::BadLength,
			    std::string(field) + ": must be 1 to " + std::to_string(max) + " octets");
	if (!valid_utf8(c))
		return fail(WireError::BadValue,
			    std::string(field) + ": not UTF-8 text without control characters");
	return std::string(c.begin(), c.end());
}

Result<int64_t> Reader::time(const char *field)
{
	auto t = expect(kGeneralizedTime, field);
	if (!t)
		return t.error();
	ByteView c = t.value().content;
	bool good = c.size() == 15 && c[14] == 'Z';
	for (size_t i = 0; good && i < 14; i++)
		good = c[i] >= '0' && c[i] <= '9';
	if (!good)
		return fail(WireError::BadValue, std::string(field) + ": not YYYYMMDDHHMMSSZ");
	int year = static_cast<int>(two(c.data()) * 100 + two(c.data() + 2));
	unsigned mon = two(c.data() + 4), day = two(c.data() + 6);
	unsigned h = two(c.data() + 8), m = two(c.data() + 10), s = two(c.data() + 12);
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
	    (mon == 2 && day == 29 && !leap) || h > 23 || m > 59 || s > 59)
		return fail(WireError::BadValue, std::string(field) + ": not a valid date and time");
	return unix_time(year, mon, day, h, m, s);
}

Result<ByteView> Reader::octets(const char *field, uint8_t tag)
{
	auto t = expect(tag, field);
	if (!t)
		return t.error();
	return t.value().content;
}

Result<uint32_t> Reader::bits(const char *field)
{
	auto t = expect(kBitString, field);
	if (!t)
		return t.error();
	ByteView c = t.value().content;
	if (c.empty() || c[0] > 7 || (c.size() == 1 && c[0] != 0))
		return fail(WireError::BadValue, std::string(field) + ": malformed bit string");
	if (c.size() > 5)
		return fail(WireError::BadValue, std::string(field) + ": more than 32 bits");
	if (c.size() > 1) {
		uint8_t last = c[c.size() - 1];
		if (last & ((1u << c[0]) - 1))
			return fail(WireError::BadValue, std::string(field) + ": padding bits set (not DER)");
		if (last == 0)
			return fail(WireError::BadValue,
				    std::string(field) + ": trailing zero bits (not DER)");
		if ((last & (1u << c[0])) == 0)
			return fail(WireError::BadValue,
				    std::string(field) + ": trailing zero bits (not DER)");
	}
	uint32_t mask = 0;
	for (size_t i = 1; i < c.size(); i++)
		for (unsigned b = 0; b < 8; b++)
			if (c[i] & (0x80 >> b))
				mask |= 1u << ((i - 1) * 8 + b);
	return mask;
}

Result<bool> Reader::finish()
{
	if (!at_end())
		return fail(WireError::TrailingBytes, "unexpected element after the last field");
	return true;
}

void append(Bytes &out, ByteView part)
{
	out.insert(out.end(), part.begin(), part.end());
}

Bytes tlv(uint8_t tag, ByteView content)
{
	Bytes out;
	out.push_back(tag);
	size_t len = content.size();
	if (len < 0x80) {
		out.push_back(static_cast<uint8_t>(len));
	} else {
		uint8_t n = 0;
		for (size_t l = len; l; l >>= 8)
			n++;
		out.push_back(static_cast<uint8_t>(0x80 | n));
		for (int i = n - 1; i >= 0; i--)
			out.push_back(static_cast<uint8_t>(len >> (8 * i)));
	}
	append(out, content);
	return out;
}

Bytes integer(uint64_t v, uint8_t tag)
{
	Bytes c;
	for (int i = 7; i >= 0; i--) {
		uint8_t b = static_cast<uint8_t>(v >> (8 * i));
		if (c.empty() && b == 0 && i > 0)
			continue;
		if (c.empty() && (b & 0x80))
			c.push_back(0);
		c.push_back(b);
	}
	return tlv(tag, c);
}

Bytes text(std::string_view s, uint8_t tag)
{
	return tlv(tag, ByteView(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
}

Bytes time(int64_t t)
{
	std::string s = time_text(t); // YYYY-MM-DD HH:MM:SS
	std::string g;
	for (char ch : s)
		if (ch >= '0' && ch <= '9')
			g.push_back(ch);
	g.push_back('Z');
	return text(g, kGeneralizedTime);
}

Bytes bits(uint32_t mask)
{
	Bytes c{0};
	int top = -1;
	for (int b = 31; b >= 0; b--)
		if (mask & (1u << b)) {
			top = b;
			break;
		}
	if (top >= 0) {
		size_t n = static_cast<size_t>(top / 8 + 1);
		c.resize(1 + n, 0);
		for (int b = 0; b <= top; b++)
			if (mask & (1u << b))
				c[1 + b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
		c[0] = static_cast<uint8_t>(7 - top % 8);
	}
	return tlv(kBitString, c);
}

Bytes constructed(uint8_t tag, std::initializer_list<ByteView> parts)
{
	Bytes content;
	for (ByteView p : parts)
		append(content, p);
	return tlv(tag, content);
}

int64_t unix_time(int y, unsigned m, unsigned d, unsigned hh, unsigned mm, unsigned ss)
{
	// days from civil (proleptic Gregorian)
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = static_cast<unsigned>(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + static_cast<int64_t>(doe) - 719468;
	return days * 86400 + hh * 3600 + mm * 60 + ss;
}

std::string time_text(int64_t t)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	// civil from days
	days += 719468;
	const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	const unsigned doe = static_cast<unsigned>(days - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = static_cast<int64_t>(yoe) + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	const unsigned d = doy - (153 * mp + 2) / 5 + 1;
	const unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	char buf[48];
	std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u %02u:%02u:%02u", static_cast<long long>(y), m,
		      d, static_cast<unsigned>(secs / 3600), static_cast<unsigned>(secs / 60 % 60),
		      static_cast<unsigned>(secs % 60));
	return buf;
}

} // namespace groupsec::trust::der
