// Byte buffers and the error value every G-IKEv2 codec returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace groupsec::gdoi {

using Bytes = std::vector<uint8_t>;

// A read-only window on bytes owned by someone else.
class ByteView {
public:
	constexpr ByteView() = default;
	constexpr ByteView(const uint8_t *data, size_t size) : data_(data), size_(size) {}
	ByteView(const Bytes &b) : data_(b.data()), size_(b.size()) {}

	constexpr const uint8_t *data() const { return data_; }
	constexpr size_t size() const { return size_; }
	constexpr bool empty() const { return size_ == 0; }
	constexpr uint8_t operator[](size_t i) const { return data_[i]; }
	const uint8_t *begin() const { return data_; }
	const uint8_t *end() const { return data_ + size_; }
	// the bytes [pos, pos + n); the caller checks the bounds
	constexpr ByteView sub(size_t pos, size_t n) const { return ByteView(data_ + pos, n); }
	Bytes to_bytes() const { return Bytes(begin(), end()); }

private:
	const uint8_t *data_ = nullptr;
	size_t size_ = 0;
};

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

} // namespace groupsec::gdoi
