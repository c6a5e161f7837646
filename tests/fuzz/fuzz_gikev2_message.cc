// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the G-IKEv2 header, the payload chain and every payload decoder
// (the member list of N(MEMBER_LIST) too).
// Whatever decodes must encode again, and the encoding must decode to the
// same struct.
#include <cstdint>
#include <cstdlib>

#include "../../gdoi-plugin/core/gikev2.h"
#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_payloads.h"

using namespace groupsec::gdoi;

namespace {

template <typename Decode, typename Encode> void body_round_trip(ByteView body, Decode decode, Encode encode)
{
	auto d = decode(body);
	if (!d.ok())
		return;
	auto e = encode(d.value());
	if (!e.ok())
		abort();
	auto again = decode(e.value());
	if (!again.ok() || !(again.value() == d.value()))
		abort();
}

void every_body_decoder(uint8_t type, ByteView body)
{
	switch (static_cast<PayloadType>(type)) {
	case PayloadType::GroupId:
	case PayloadType::IdInitiator:
	case PayloadType::IdResponder:
		body_round_trip(body, decode_identification, encode_identification);
		break;
	case PayloadType::GroupSa:
		body_round_trip(body, decode_gsa, encode_gsa);
		break;
	case PayloadType::KeyDownload:
		body_round_trip(body, decode_key_download, encode_key_download);
		break;
	case PayloadType::Notify: {
		body_round_trip(body, decode_notify, encode_notify);
		// the private-use member list (GSA_AUTH, GSA_REGISTRATION)
		auto n = decode_notify(body);
		if (n && n.value().type == static_cast<uint16_t>(NotifyType::MemberList)) {
			auto ids = member_list_identities(n.value());
			if (ids) {
				auto again = make_member_list_notify(ids.value());
				if (!again || !(again.value() == n.value()))
					abort();
			}
		}
		break;
	}
	case PayloadType::Delete:
		body_round_trip(body, decode_delete, encode_delete);
		break;
	case PayloadType::Nonce:
		body_round_trip(body, decode_nonce, encode_nonce);
		break;
	case PayloadType::Authentication:
		body_round_trip(body, decode_auth, encode_auth);
		break;
	default:
		break;
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteView in(data, size);
	auto m = decode_message(in);
	if (m.ok()) {
		for (const Payload &p : m.value().payloads)
			every_body_decoder(p.type, p.body);
		auto e = encode_message(m.value());
		if (!e.ok())
			abort();
		auto again = decode_message(e.value());
		if (!again.ok() || !(again.value() == m.value()))
			abort();
	}
	// the input as a bare payload body too, typed by its first octet
	if (size > 0) {
		static const uint8_t types[] = {50, 51, 52, 41, 42, 40, 39};
		every_body_decoder(types[data[0] % sizeof(types)], in.sub(1, size - 1));
	}
	return 0;
}
