// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers of the RFC 9838 rule tests (AUTH_KEY, Deletes, GSA_INBAND_REKEY):
// a key server and members on the in-memory network, and GSA_REKEY
// messages built from the codecs as the RFC describes them (2.4.1.1), not
// by the engine, so that a member can be fed what a conforming key server
// would send.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_message.h"
#include "gikev2_sk.h"
#include "groupsec/crypto/random.h"
#include "ike/ike_crypto.h"

namespace groupsec::gdoi::test {

inline Payload make_payload(PayloadType t, Bytes body)
{
	return Payload{static_cast<uint8_t>(t), false, std::move(body)};
}

} // namespace groupsec::gdoi::test

namespace groupsec::gdoi::test {

inline Bytes be32_bytes(uint32_t v)
{
	return Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
		     static_cast<uint8_t>(v)};
}

inline std::string hex_of(ByteView b)
{
	std::string s;
	char x[3];
	for (size_t i = 0; i < b.size(); i++) {
		snprintf(x, sizeof(x), "%02x", b[i]);
		s += x;
	}
	return s;
}

inline uint32_t message_id_of(const Datagram &d)
{
	return uint32_t(d.data[20]) << 24 | uint32_t(d.data[21]) << 16 | uint32_t(d.data[22]) << 8 | d.data[23];
}

// A Rekey SA as a member's key log has it.
struct RfcRekeySa {
	Bytes spi;
	SkKeys keys;
	Bytes gsk_w;
};

class RfcRules : public GroupConfigTest {
protected:
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c = GroupConfigTest::server_config();
		c.deactivation_delay_s = 5;
		return c;
	}

	Node &add_member(int i, GmGroupConfig c)
	{
		Node &m = net.add({gm_addrs[i]}, &creds);
		EXPECT_TRUE(m.engine.add_member_group(c).ok());
		gms.push_back(&m);
		return m;
	}

	void start(int n, const GcksGroupConfig &c, RekeyAuth member_auth = RekeyAuth::Signature)
	{
		gcks = &net.add({gcks_addr}, &creds);
		auto added = gcks->engine.add_server_group(c);
		ASSERT_TRUE(added.ok()) << added.error().message;
		for (int i = 0; i < n; i++) {
			GmGroupConfig m = member_config(i);
			m.rekey_auth = member_auth;
			add_member(i, m);
		}
		net.tick();
		for (Node *m : gms)
			ASSERT_EQ(m->group("blue")->state, "registered");
	}
	void start(int n) { start(n, server_config()); }

	uint32_t current_tek(Node &n, const std::string &group = "blue")
	{
		uint32_t spi = 0;
		for (const SaState &s : n.group(group)->sas)
			if (s.current)
				spi = s.spi;
		return spi;
	}

	// The member's current Rekey SA: the last one its key log shows.
	RfcRekeySa rekey_sa(Node &gm)
	{
		RfcRekeySa sa;
		for (const auto &k : gm.keylog.of_kind("kek")) {
			if (k.value.size() != 68)
				continue;
			sa.spi.clear();
			for (size_t i = 0; i + 1 < k.id.size(); i += 2)
				sa.spi.push_back(static_cast<uint8_t>(std::stoi(k.id.substr(i, 2), nullptr, 16)));
			sa.keys.cipher = SkCipher::AesGcm16;
			sa.keys.encryption_key.assign(k.value.begin(), k.value.begin() + 32);
			sa.keys.salt.assign(k.value.begin() + 32, k.value.begin() + 36);
			sa.gsk_w.assign(k.value.begin() + 36, k.value.end());
		}
		EXPECT_EQ(sa.spi.size(), 16u) << "no Rekey SA in the member's key log";
		return sa;
	}

	// GSA and KD of one new ESP TEK (AES-GCM-16-256), keys under gsk_w.
	static std::vector<Payload> tek_payloads(const Bytes &gsk_w, uint32_t spi)
	{
		GsaPolicy p;
		p.protocol = static_cast<uint8_t>(SecurityProtocol::Esp);
		p.spi = be32_bytes(spi);
		p.source = range4("10.0.0.0", "10.255.255.255");
		p.destination = p.source;
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::Encryption),
						 static_cast<uint16_t>(EncryptionId::AesGcm16),
						 {make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength),
								    256)}});
		p.transforms.push_back(Transform{static_cast<uint8_t>(TransformType::SequenceNumbers),
						 static_cast<uint16_t>(SequenceNumbersId::Sequential32),
						 {}});
		p.key_lifetime = 3600;
		GsaPayload gsa;
		gsa.teks.push_back(p);
		Bytes keymat(36, static_cast<uint8_t>(spi));
		KeyDownloadPayload kd;
		kd.group_key_bags.push_back(GroupKeyBag{static_cast<uint8_t>(SecurityProtocol::Esp),
							be32_bytes(spi),
							{WrappedKey{0, 0, ike::key_wrap(gsk_w, keymat).value()}},
							{}});
		return {make_payload(PayloadType::GroupSa, encode_gsa(gsa).value()),
			make_payload(PayloadType::KeyDownload, encode_key_download(kd).value())};
	}

	static Payload delete_of(SecurityProtocol proto, std::vector<Bytes> spis)
	{
		DeletePayload d;
		d.protocol = static_cast<uint8_t>(proto);
		d.spi_size = static_cast<uint8_t>(spis.empty() ? 0 : spis[0].size());
		d.spis = std::move(spis);
		return make_payload(PayloadType::Delete, encode_delete(d).value());
	}

	// A GSA_REKEY over sa, signed as RFC 9838 2.4.1.1 says by signer's key
	// (nullopt: not signed, implicit authentication).
	Bytes rekey_message(const RfcRekeySa &sa, uint32_t message_id, std::vector<Payload> inner,
			    std::optional<Identity> signer)
	{
		IkeHeader h;
		for (size_t i = 0; i < 8; i++) {
			h.initiator_spi = h.initiator_spi << 8 | sa.spi[i];
			h.responder_spi = h.responder_spi << 8 | sa.spi[8 + i];
		}
		h.exchange_type = kRekey;
		h.flags = kFlagInitiator;
		h.message_id = message_id;
		if (signer) {
			const Bytes alg = ecdsa_sha256_alg();
			Bytes prefix{static_cast<uint8_t>(alg.size())};
			prefix.insert(prefix.end(), alg.begin(), alg.end());
			size_t sig_len = 72;
			Bytes auth_data;
			for (int attempt = 0; attempt < 64 && auth_data.empty(); attempt++) {
				AuthPayload zeroed{ike::kAuthDigitalSignature, prefix};
				zeroed.data.resize(prefix.size() + sig_len, 0);
				std::vector<Payload> with_auth = inner;
				with_auth.push_back(make_payload(PayloadType::Authentication, encode_auth(zeroed).value()));
				Bytes p;
				uint8_t first = encode_payload_chain(with_auth, p).value();
				Bytes a = sa.spi;
				a.push_back(static_cast<uint8_t>(PayloadType::Encrypted));
				a.push_back(0x20);
				a.push_back(kRekey);
				a.push_back(kFlagInitiator);
				Bytes mid = be32_bytes(message_id), len = be32_bytes(static_cast<uint32_t>(28 + 4 + p.size()));
				a.insert(a.end(), mid.begin(), mid.end());
				a.insert(a.end(), len.begin(), len.end());
				a.push_back(first);
				a.push_back(0);
				a.push_back(static_cast<uint8_t>((4 + p.size()) >> 8));
				a.push_back(static_cast<uint8_t>(4 + p.size()));
				a.insert(a.end(), p.begin(), p.end());
				auto sig = creds.sign(*signer, a);
				if (!sig || sig->size() <= prefix.size()) {
					ADD_FAILURE() << "no signature";
					return {};
				}
				if (sig->size() - prefix.size() == sig_len)
					auth_data = *sig;
				else
					sig_len = sig->size() - prefix.size();
			}
			inner.push_back(make_payload(PayloadType::Authentication,
						     encode_auth(AuthPayload{ike::kAuthDigitalSignature, auth_data}).value()));
		}
		Bytes iv(sk_iv_size(SkCipher::AesGcm16));
		crypto::OpenSslRandom().fill(iv.data(), iv.size());
		return seal_message(h, {}, inner, sa.keys, iv).value();
	}

	void deliver(Node &gm, const Bytes &datagram)
	{
		gm.engine.receive(gm.addresses[0], gcks_addr, datagram);
		net.run();
	}

	// The inner payloads of a GSA_REKEY the member holds the keys of.
	std::vector<Payload> open_rekey(Node &gm, const Datagram &d)
	{
		for (const auto &[spi, keys] : gm.keylog.rekey_sas) {
			if (!std::equal(spi.begin(), spi.end(), d.data.begin()))
				continue;
			auto o = open_message(d.data, keys);
			if (o)
				return o.value().inner;
		}
		ADD_FAILURE() << "GSA_REKEY does not open";
		return {};
	}

	// The inner payloads of a GSA_INBAND_REKEY request to gm.
	std::vector<Payload> open_inband(Node &gm, const Datagram &d)
	{
		for (const auto &k : gm.keylog.ike_sas) {
			auto o = open_message(d.data, k.responder);
			if (o)
				return o.value().inner;
		}
		ADD_FAILURE() << "GSA_INBAND_REKEY does not open";
		return {};
	}

	static std::optional<KeyDownloadPayload> kd_of(const std::vector<Payload> &inner)
	{
		for (const Payload &p : inner)
			if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload))
				return decode_key_download(p.body).value();
		return std::nullopt;
	}

	Node *gcks = nullptr;
	std::vector<Node *> gms;
};

} // namespace groupsec::gdoi::test
