// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec: a small streaming JSON writer for the cores' `show ... json`
// output. The cores carry no suite headers, so they cannot use FRR's json-c
// wrappers or strongSwan's vici builders; this writer produces compact,
// correctly escaped JSON that both suites print verbatim.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace groupsec {

class JsonWriter {
public:
	JsonWriter &begin_object();
	JsonWriter &end_object();
	JsonWriter &begin_array();
	JsonWriter &end_array();

	// Inside an object: the key of the next value.
	JsonWriter &key(std::string_view k);

	JsonWriter &value(std::string_view s);
	JsonWriter &value(const char *s) { return value(std::string_view(s)); }
	JsonWriter &value(int64_t v);
	JsonWriter &value(uint64_t v);
	JsonWriter &value(int v) { return value(static_cast<int64_t>(v)); }
	JsonWriter &value(unsigned v) { return value(static_cast<uint64_t>(v)); }
	JsonWriter &value(bool b);
	JsonWriter &null();

	// The document so far; complete once every object and array is closed.
	const std::string &str() const { return out_; }
	bool complete() const { return depth_.empty() && !out_.empty(); }

	// Appends s to out as a quoted, escaped JSON string.
	static void quote(std::string &out, std::string_view s);

private:
	void separate();

	std::string out_;
	// per open container: has it got an element yet?
	std::vector<bool> depth_;
	bool after_key_ = false;
};

} // namespace groupsec
