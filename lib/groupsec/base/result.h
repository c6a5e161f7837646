// SPDX-License-Identifier: GPL-2.0-or-later
// The error value and the Result<T> every codec and core returns: one
// error type for the whole project.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace groupsec {

enum class WireError {
	Truncated,          // input ends inside a field or structure
	BadLength,          // a length field disagrees with the bytes present
	TrailingBytes,      // bytes left over after the last structure
	BadVersion,         // IKE major version other than 2
	UnsupportedCritical, // unknown payload with the critical bit set
	BadValue,           // a field holds a value the protocol forbids
	Duplicate,          // a single-valued item appears twice
	Missing,            // a mandatory item is absent
	Unsupported,        // well-formed but not implemented here
	BadKey,             // key or IV of the wrong size for the cipher
	IntegrityFailed,    // ICV or AEAD tag does not verify
	CryptoFailure,      // the crypto library reported an error
	NoMemory,
};

// "TRUNCATED" and so on.
const char *wire_error_name(WireError e);

struct Error {
	WireError code;
	std::string message;
};

// A value or an Error; never both, never neither.
template <typename T> class Result {
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error error) : v_(std::move(error)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }
	// only when ok()
	const T &value() const & { return std::get<0>(v_); }
	T &value() & { return std::get<0>(v_); }
	T &&value() && { return std::get<0>(std::move(v_)); }
	// only when !ok()
	const Error &error() const { return std::get<1>(v_); }

private:
	std::variant<T, Error> v_;
};

inline Error make_error(WireError code, std::string message)
{
	return Error{code, std::move(message)};
}

// The error's message.
inline const char *to_string(const Error &e)
{
	return e.message.c_str();
}

} // namespace groupsec
