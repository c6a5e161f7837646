#include "gikev2.h"

namespace groupsec::gdoi {

std::optional<ExchangeType> exchange_type(uint8_t v)
{
	switch (static_cast<ExchangeType>(v)) {
	case ExchangeType::IkeSaInit:
	case ExchangeType::GsaAuth:
	case ExchangeType::GsaRegistration:
	case ExchangeType::GsaRekey:
	case ExchangeType::GsaInbandRekey:
		return static_cast<ExchangeType>(v);
	}
	return std::nullopt;
}

std::string_view exchange_name(uint8_t v)
{
	auto t = exchange_type(v);
	if (!t)
		return "UNKNOWN";
	switch (*t) {
	case ExchangeType::IkeSaInit:
		return "IKE_SA_INIT";
	case ExchangeType::GsaAuth:
		return "GSA_AUTH";
	case ExchangeType::GsaRegistration:
		return "GSA_REGISTRATION";
	case ExchangeType::GsaRekey:
		return "GSA_REKEY";
	case ExchangeType::GsaInbandRekey:
		return "GSA_INBAND_REKEY";
	}
	return "UNKNOWN";
}

std::string_view payload_name(uint8_t v)
{
	switch (static_cast<PayloadType>(v)) {
	case PayloadType::None:
		return "NONE";
	case PayloadType::Notify:
		return "N";
	case PayloadType::Delete:
		return "D";
	case PayloadType::Encrypted:
		return "SK";
	case PayloadType::GroupId:
		return "IDg";
	case PayloadType::GroupSa:
		return "GSA";
	case PayloadType::KeyDownload:
		return "KD";
	}
	return "UNKNOWN";
}

} // namespace groupsec::gdoi
