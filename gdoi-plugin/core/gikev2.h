// G-IKEv2 (RFC 9838) code points the key server and group members speak.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace groupsec::gdoi {

// RFC 9838 allows G-IKEv2 on UDP port 848 (the GDOI port); using it keeps
// the plugin loadable into a stock charon, which owns 500 and 4500.
constexpr uint16_t kGikev2Port = 848;

enum class ExchangeType : uint8_t {
	IkeSaInit = 34,      // RFC 7296
	GsaAuth = 39,        // RFC 9838
	GsaRegistration = 40,
	GsaRekey = 41,
	GsaInbandRekey = 42,
};

enum class PayloadType : uint8_t {
	None = 0,
	Notify = 41, // RFC 7296
	Delete = 42,
	Encrypted = 46,
	GroupId = 50, // IDg, RFC 9838
	GroupSa = 51, // GSA
	KeyDownload = 52, // KD
};

// The exchange type for a wire value, if G-IKEv2 uses it.
std::optional<ExchangeType> exchange_type(uint8_t v);
// "GSA_AUTH" and so on; "UNKNOWN" for values G-IKEv2 does not use.
std::string_view exchange_name(uint8_t v);
// "IDg", "GSA", "KD" and the IKEv2 payloads G-IKEv2 carries.
std::string_view payload_name(uint8_t v);

} // namespace groupsec::gdoi
