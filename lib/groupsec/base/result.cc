// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/base/result.h"

namespace groupsec {

const char *wire_error_name(WireError e)
{
	switch (e) {
	case WireError::Truncated:
		return "TRUNCATED";
	case WireError::BadLength:
		return "BAD_LENGTH";
	case WireError::TrailingBytes:
		return "TRAILING_BYTES";
	case WireError::BadVersion:
		return "BAD_VERSION";
	case WireError::UnsupportedCritical:
		return "UNSUPPORTED_CRITICAL";
	case WireError::BadValue:
		return "BAD_VALUE";
	case WireError::Duplicate:
		return "DUPLICATE";
	case WireError::Missing:
		return "MISSING";
	case WireError::Unsupported:
		return "UNSUPPORTED";
	case WireError::BadKey:
		return "BAD_KEY";
	case WireError::IntegrityFailed:
		return "INTEGRITY_FAILED";
	case WireError::CryptoFailure:
		return "CRYPTO_FAILURE";
	case WireError::NoMemory:
		return "NO_MEMORY";
	}
	return "UNKNOWN";
}

} // namespace groupsec
