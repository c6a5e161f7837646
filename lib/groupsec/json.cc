// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/json.h"

#include <cstdio>

namespace groupsec {

void JsonWriter::separate()
{
	if (after_key_) {
		after_key_ = false;
		return;
	}
	if (!depth_.empty()) {
		if (depth_.back())
			out_ += ',';
		depth_.back() = true;
	}
}

JsonWriter &JsonWriter::begin_object()
{
	separate();
	out_ += '{';
	depth_.push_back(false);
	return *this;
}

JsonWriter &JsonWriter::end_object()
{
	out_ += '}';
	depth_.pop_back();
	return *this;
}

JsonWriter &JsonWriter::begin_array()
{
	separate();
	out_ += '[';
	depth_.push_back(false);
	return *this;
}

JsonWriter &JsonWriter::end_array()
{
	out_ += ']';
	depth_.pop_back();
	return *this;
}

JsonWriter &JsonWriter::key(std::string_view k)
{
	separate();
	quote(out_, k);
	out_ += ':';
	after_key_ = true;
	return *this;
}

JsonWriter &JsonWriter::value(std::string_view s)
{
	separate();
	quote(out_, s);
	return *this;
}

JsonWriter &JsonWriter::value(int64_t v)
{
	separate();
	out_ += std::to_string(v);
	return *this;
}

JsonWriter &JsonWriter::value(uint64_t v)
{
	separate();
	out_ += std::to_string(v);
	return *this;
}

JsonWriter &JsonWriter::value(bool b)
{
	separate();
	out_ += b ? "true" : "false";
	return *this;
}

JsonWriter &JsonWriter::null()
{
	separate();
	out_ += "null";
	return *this;
}

void JsonWriter::quote(std::string &out, std::string_view s)
{
	out += '"';
	for (unsigned char c : s) {
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\r':
			out += "\\r";
			break;
		case '\t':
			out += "\\t";
			break;
		default:
			if (c < 0x20) {
				char buf[8];
				snprintf(buf, sizeof(buf), "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	out += '"';
}

} // namespace groupsec
