// SPDX-License-Identifier: GPL-2.0-or-later
#include "gikev2.h"

namespace groupsec::gdoi {

std::optional<ExchangeType> exchange_type(uint8_t v)
{
	switch (static_cast<ExchangeType>(v)) {
	case ExchangeType::IkeSaInit:
	case ExchangeType::Informational:
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
	case ExchangeType::Informational:
		return "INFORMATIONAL";
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
	case PayloadType::SecurityAssociation:
		return "SA";
	case PayloadType::KeyExchange:
		return "KE";
	case PayloadType::IdInitiator:
		return "IDi";
	case PayloadType::IdResponder:
		return "IDr";
	case PayloadType::Certificate:
		return "CERT";
	case PayloadType::CertificateRequest:
		return "CERTREQ";
	case PayloadType::Authentication:
		return "AUTH";
	case PayloadType::Nonce:
		return "Ni, Nr";
	case PayloadType::VendorId:
		return "V";
	case PayloadType::TsInitiator:
		return "TSi";
	case PayloadType::TsResponder:
		return "TSr";
	case PayloadType::Configuration:
		return "CP";
	case PayloadType::Eap:
		return "EAP";
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
	case PayloadType::EncryptedFragment:
		return "SKF";
	}
	return "UNKNOWN";
}

bool payload_type_known(uint8_t v)
{
	// SKF is a message of its own (RFC 7383), opened by open_fragment(),
	// never a payload of a chain
	return v != 0 && v != static_cast<uint8_t>(PayloadType::EncryptedFragment) && payload_name(v) != "UNKNOWN";
}

std::string_view notify_name(uint16_t v)
{
	switch (static_cast<NotifyType>(v)) {
	case NotifyType::UnsupportedCriticalPayload:
		return "UNSUPPORTED_CRITICAL_PAYLOAD";
	case NotifyType::InvalidIkeSpi:
		return "INVALID_IKE_SPI";
	case NotifyType::InvalidSyntax:
		return "INVALID_SYNTAX";
	case NotifyType::AuthenticationFailed:
		return "AUTHENTICATION_FAILED";
	case NotifyType::InvalidGroupId:
		return "INVALID_GROUP_ID";
	case NotifyType::AuthorizationFailed:
		return "AUTHORIZATION_FAILED";
	case NotifyType::RegistrationFailed:
		return "REGISTRATION_FAILED";
	case NotifyType::GroupSender:
		return "GROUP_SENDER";
	case NotifyType::UseTransportMode:
		return "USE_TRANSPORT_MODE";
	case NotifyType::GatewayTunnels:
		return "GATEWAY_TUNNELS (private use)";
	case NotifyType::Shortcut:
		return "SHORTCUT (private use)";
	case NotifyType::MemberList:
		return "MEMBER_LIST (private use)";
	case NotifyType::NatDetectionSourceIp:
		return "NAT_DETECTION_SOURCE_IP";
	case NotifyType::NatDetectionDestinationIp:
		return "NAT_DETECTION_DESTINATION_IP";
	case NotifyType::FragmentationSupported:
		return "IKEV2_FRAGMENTATION_SUPPORTED";
	case NotifyType::UpdateSaAddresses:
		return "UPDATE_SA_ADDRESSES";
	}
	return "UNKNOWN";
}

} // namespace groupsec::gdoi
