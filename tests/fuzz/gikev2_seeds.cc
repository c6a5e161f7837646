// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the seed corpora of fuzz_gikev2_message and fuzz_gikev2_sk.
// Build and run from the source tree (see docs/gikev2-wire.md):
//   g++ -std=c++17 -Igdoi-plugin/core tests/fuzz/gikev2_seeds.cc gdoi-plugin/core/gikev2*.cc -lcrypto -o /tmp/gikev2_seeds
//   /tmp/gikev2_seeds tests/fuzz/corpus
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>

#include "../../gdoi-plugin/core/gikev2.h"
#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_payloads.h"
#include "../../gdoi-plugin/core/gikev2_sk.h"
#include "gikev2_fuzz_keys.h"

using namespace groupsec::gdoi;

namespace {

uint8_t pt(PayloadType t) { return static_cast<uint8_t>(t); }

template <typename R> Bytes must(R r)
{
	if (!r.ok()) {
		fprintf(stderr, "seed: %s\n", r.error().message.c_str());
		exit(1);
	}
	return r.value();
}

void write(const std::string &dir, const std::string &name, const Bytes &b)
{
	mkdir(dir.c_str(), 0755);
	std::ofstream out(dir + "/" + name, std::ios::binary);
	out.write(reinterpret_cast<const char *>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes with_prefix(std::initializer_list<uint8_t> prefix, const Bytes &b)
{
	Bytes out(prefix);
	out.insert(out.end(), b.begin(), b.end());
	return out;
}

GsaPayload gsa()
{
	GsaPolicy kek;
	kek.protocol = static_cast<uint8_t>(SecurityProtocol::GikeUpdate);
	kek.spi = Bytes(16, 0x21);
	kek.source = TrafficSelector{7, 17, 848, 848, {192, 0, 2, 1}, {192, 0, 2, 1}};
	kek.destination = TrafficSelector{7, 17, 848, 848, {239, 0, 0, 1}, {239, 0, 0, 1}};
	kek.transforms = {Transform{1, 20, {make_tv_attribute(14, 256)}}, Transform{13, 3, {}},
			  Transform{14, 2, {make_tlv_attribute(18, Bytes{0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70})}}};
	kek.key_lifetime = 3600;
	kek.initial_message_id = 1;
	kek.next_spis = {Bytes(16, 0x22)};
	GsaPolicy tek;
	tek.spi = {0x11, 0x22, 0x33, 0x44};
	tek.source = TrafficSelector{8, 0, 0, 0xffff, Bytes(16, 0), Bytes(16, 0xff)};
	tek.destination = TrafficSelector{8, 17, 5000, 5000, Bytes(16, 0xff), Bytes(16, 0xff)};
	tek.transforms = {Transform{1, 12, {make_tv_attribute(14, 128)}}, Transform{3, 12, {}}, Transform{5, 2, {}}};
	tek.key_lifetime = 600;
	return GsaPayload{kek, {tek}, GroupWidePolicy{10, 30, 8, {}}};
}

KeyDownloadPayload kd()
{
	KeyDownloadPayload k;
	k.group_key_bags = {GroupKeyBag{3, {0x11, 0x22, 0x33, 0x44}, {WrappedKey{0, 0, Bytes(40, 0xa5)}}, {}},
			    GroupKeyBag{6, Bytes(16, 0x21), {WrappedKey{0, 0, Bytes(40, 0x5a)}}, {}}};
	k.member_key_bag = MemberKeyBag{{WrappedKey{7, 0, Bytes(24, 0x77)}}, Bytes(12, 0x30), {{0x00, 0x05}}, {}};
	return k;
}

// An eviction's KD in GSA_REKEY: the new Rekey SA's SA_KEY under a new
// root (Key ID 9), the new keys as intermediate keys (Key ID != 0) in the
// same group key bag, no member key bag.
KeyDownloadPayload eviction_kd()
{
	KeyDownloadPayload k;
	GroupKeyBag b{6, Bytes(16, 0x23), {WrappedKey{0, 9, Bytes(76, 0x5b)}}, {}};
	for (const WrappedKey &w : {WrappedKey{9, 0x0a0b0c0d, Bytes(40, 0x91)}, WrappedKey{9, 0xfffffffe, Bytes(40, 0x92)},
				    WrappedKey{0x0a0b0c0d, 3, Bytes(40, 0x93)}})
		b.sa_keys.push_back(w);
	k.group_key_bags = {b};
	return k;
}

std::vector<Payload> registration_payloads()
{
	return {
		Payload{pt(PayloadType::GroupId), false, must(encode_identification({11, {'g', 'r', 'p', '1'}}))},
		Payload{pt(PayloadType::GroupSa), false, must(encode_gsa(gsa()))},
		Payload{pt(PayloadType::KeyDownload), false, must(encode_key_download(kd()))},
		Payload{pt(PayloadType::Notify), false, must(encode_notify(make_group_sender_notify(2)))},
		Payload{pt(PayloadType::Delete), false, must(encode_delete({3, 4, {{1, 2, 3, 4}}}))},
		Payload{pt(PayloadType::Nonce), false, must(encode_nonce({Bytes(32, 0x4e)}))},
		Payload{pt(PayloadType::Authentication), false, must(encode_auth({14, Bytes(40, 0x41)}))},
		Payload{200, false, {0xde, 0xad}},
	};
}

IkeHeader header(ExchangeType t)
{
	IkeHeader h;
	h.initiator_spi = 0x0102030405060708ull;
	h.responder_spi = 0x1112131415161718ull;
	h.exchange_type = static_cast<uint8_t>(t);
	h.flags = kFlagResponse;
	h.message_id = 1;
	return h;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	std::string root = argv[1];
	std::string msg = root + "/fuzz_gikev2_message";
	std::string sk = root + "/fuzz_gikev2_sk";

	Message clear;
	clear.header = header(ExchangeType::GsaAuth);
	clear.payloads = registration_payloads();
	write(msg, "gsa_auth_response_clear", must(encode_message(clear)));
	Message req;
	req.header = header(ExchangeType::GsaAuth);
	req.header.flags = kFlagInitiator;
	req.payloads = {registration_payloads()[0], registration_payloads()[3]};
	write(msg, "gsa_auth_request", must(encode_message(req)));
	Message rekey;
	rekey.header = header(ExchangeType::GsaRekey);
	rekey.encrypted = EncryptedPayload{pt(PayloadType::GroupSa), false, Bytes(64, 0xee)};
	write(msg, "gsa_rekey_sk_opaque", must(encode_message(rekey)));
	// bare bodies: octet 0 picks the decoder (index into 50,51,52,41,42,40,39)
	write(msg, "body_idg", with_prefix({0}, registration_payloads()[0].body));
	write(msg, "body_gsa", with_prefix({1}, registration_payloads()[1].body));
	write(msg, "body_kd", with_prefix({2}, registration_payloads()[2].body));
	write(msg, "body_kd_eviction", with_prefix({2}, must(encode_key_download(eviction_kd()))));
	write(msg, "body_notify", with_prefix({3}, registration_payloads()[3].body));
	write(msg, "body_notify_member_list",
	      with_prefix({3}, must(encode_notify(make_member_list_notify(
					   {groupsec::ident::make_identity(IdType::Fqdn, {'g', 'm', '2'}),
					    groupsec::ident::make_identity(IdType::Ipv4Addr, {192, 0, 2, 12})})
							  .value()))));
	write(msg, "body_delete", with_prefix({4}, registration_payloads()[4].body));

	std::vector<Payload> inner = {registration_payloads()[1], registration_payloads()[2],
				      registration_payloads()[4]};
	Bytes gcm_iv(8, 0x01), cbc_iv(16, 0x02);
	write(sk, "open_gcm", with_prefix({0}, must(seal_message(header(ExchangeType::GsaRekey), {}, inner,
								    fuzz::gcm_keys(), gcm_iv))));
	write(sk, "open_cbc", with_prefix({1}, must(seal_message(header(ExchangeType::GsaRekey), {}, inner,
								    fuzz::cbc_keys(), cbc_iv))));
	write(sk, "open_gcm_empty", with_prefix({0}, must(seal_message(header(ExchangeType::GsaInbandRekey), {}, {},
									  fuzz::gcm_keys(), gcm_iv))));
	const std::vector<Payload> eviction = {registration_payloads()[1],
					       Payload{pt(PayloadType::KeyDownload), false,
						       must(encode_key_download(eviction_kd()))}};
	write(sk, "open_gcm_eviction", with_prefix({0}, must(seal_message(header(ExchangeType::GsaRekey), {}, eviction,
									     fuzz::gcm_keys(), gcm_iv))));
	// octet 1: type of the first payload of the chain that follows
	Bytes chain;
	Result<uint8_t> first = encode_payload_chain(inner, chain);
	if (!first.ok())
		return 1;
	write(sk, "seal_gcm_chain", with_prefix({2, first.value()}, chain));
	write(sk, "seal_cbc_chain", with_prefix({3, first.value()}, chain));
	printf("seeds written under %s\n", root.c_str());
	return 0;
}
