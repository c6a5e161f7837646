// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust fetch's IKE_SA_INIT (ike_probe.h): the request it sends, and
// what it reads from answers, valid and not.
#include <gtest/gtest.h>

#include "gikev2_test_util.h"
#include "group_keys.h"
#include "ike/ike_probe.h"
#include "ike/ike_sa_payload.h"

namespace groupsec::gdoi::test {
namespace {

class CountingRandom : public crypto::RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(++n_ * 37);
	}

private:
	unsigned n_ = 0;
};

ike::ProbeOptions options(bool gikev2)
{
	ike::ProbeOptions o;
	o.gikev2 = gikev2;
	o.local_ip = {192, 0, 2, 11};
	o.local_port = 40000;
	o.remote_ip = {192, 0, 2, 1};
	o.remote_port = gikev2 ? 848 : 500;
	return o;
}

Payload notify(uint16_t type, Bytes data)
{
	NotifyPayload n;
	n.type = type;
	n.data = std::move(data);
	return detail::make_payload(PayloadType::Notify, encode_notify(n).value());
}

constexpr uint64_t kSpiR = 0x1122334455667788ULL;

// A responder's answer: the chosen proposal and the payloads given.
Bytes answer(const ike::ProbeRequest &req, std::vector<Payload> extra, bool with_sa = true, uint64_t spi_i = 0)
{
	Message m;
	m.header.initiator_spi = spi_i ? spi_i : req.spi_i;
	m.header.responder_spi = kSpiR;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagResponse;
	if (with_sa) {
		ike::Proposal p;
		p.number = 1;
		p.transforms = {Transform{1, ike::kEncrAesGcm16, {make_tv_attribute(14, 256)}},
				Transform{2, ike::kPrfHmacSha256, {}}, Transform{4, ike::kDhCurve25519, {}}};
		m.payloads.push_back(detail::make_payload(PayloadType::SecurityAssociation, ike::encode_sa({p}).value()));
	}
	for (Payload &p : extra)
		m.payloads.push_back(std::move(p));
	return encode_message(m).value();
}

TEST(IkeProbe, RequestOffersWhatTheCoreSpeaks)
{
	CountingRandom r;
	auto req = ike::probe_request(options(true), r);
	ASSERT_TRUE(req.ok());
	auto m = decode_message(req.value().datagram);
	ASSERT_TRUE(m.ok());
	EXPECT_EQ(m.value().header.exchange_type, static_cast<uint8_t>(ExchangeType::IkeSaInit));
	EXPECT_EQ(m.value().header.flags, kFlagInitiator);
	EXPECT_EQ(m.value().header.initiator_spi, req.value().spi_i);
	auto sa = ike::decode_sa(m.value().payloads.at(0).body);
	ASSERT_TRUE(sa.ok());
	ASSERT_EQ(sa.value().size(), 2u); // AES-GCM, AES-CBC with integrity
	bool kwa = false;
	for (const Transform &t : sa.value()[0].transforms)
		kwa = kwa || t.type == static_cast<uint8_t>(TransformType::KeyWrapAlgorithm);
	EXPECT_TRUE(kwa);
	auto tr = ike::read_init_transport(m.value().payloads);
	ASSERT_TRUE(tr.ok());
	EXPECT_EQ(tr.value().nat_sources.at(0), ike::nat_detection_hash(req.value().spi_i, 0, Bytes{192, 0, 2, 11}, 40000));
	// plain IKEv2: no key wrap algorithm
	auto plain = ike::probe_request(options(false), r);
	auto pm = decode_message(plain.value().datagram);
	for (const Transform &t : ike::decode_sa(pm.value().payloads.at(0).body).value()[0].transforms)
		EXPECT_NE(t.type, static_cast<uint8_t>(TransformType::KeyWrapAlgorithm));
	// a DH group the core does not speak
	auto o = options(false);
	o.dh_group = 14;
	EXPECT_FALSE(ike::probe_request(o, r).ok());
}

TEST(IkeProbe, AnswerRevealsProposalVendorIdsCertreqAndNat)
{
	CountingRandom r;
	auto opts = options(false);
	auto req = ike::probe_request(opts, r).value();
	Bytes ca1(20, 0xaa), ca2(20, 0xbb);
	Bytes certreq{4};
	certreq.insert(certreq.end(), ca1.begin(), ca1.end());
	certreq.insert(certreq.end(), ca2.begin(), ca2.end());
	// we are seen at our address; the peer names another (a NAT before it)
	Bytes dst = ike::nat_detection_hash(req.spi_i, kSpiR, opts.local_ip, opts.local_port);
	Bytes src = ike::nat_detection_hash(req.spi_i, kSpiR, Bytes{10, 0, 0, 1}, 500);
	auto a = ike::probe_answer(answer(req, {detail::make_payload(PayloadType::VendorId, Bytes{1, 2, 3}),
						 detail::make_payload(PayloadType::CertificateRequest, certreq),
						 notify(static_cast<uint16_t>(NotifyType::NatDetectionSourceIp), src),
						 notify(static_cast<uint16_t>(NotifyType::NatDetectionDestinationIp), dst),
						 notify(ike::kNotifySignatureHashAlgorithms, Bytes{0, 2, 0, 4})}),
				   req, opts);
	ASSERT_TRUE(a.ok()) << a.error().message;
	EXPECT_EQ(a.value().spi_r, kSpiR);
	ASSERT_EQ(a.value().proposal.size(), 3u);
	EXPECT_EQ(ike::probe_transform_name(a.value().proposal[0]), "ENCR_AES_GCM_16-256");
	EXPECT_EQ(ike::probe_transform_name(a.value().proposal[2]), "CURVE_25519");
	EXPECT_EQ(a.value().vendor_ids, std::vector<Bytes>{Bytes({1, 2, 3})});
	EXPECT_EQ(a.value().certreq_authorities, (std::vector<Bytes>{ca1, ca2}));
	EXPECT_EQ(a.value().signature_hashes, (std::vector<uint16_t>{2, 4}));
	EXPECT_TRUE(a.value().nat_detection);
	EXPECT_FALSE(a.value().nat_local);
	EXPECT_TRUE(a.value().nat_remote);
}

TEST(IkeProbe, RetriesAndErrors)
{
	CountingRandom r;
	auto opts = options(false);
	auto req = ike::probe_request(opts, r).value();
	auto cookie = ike::probe_answer(answer(req, {notify(ike::kNotifyCookie, Bytes(16, 7))}, false), req, opts);
	ASSERT_TRUE(cookie.ok());
	EXPECT_EQ(cookie.value().cookie, Bytes(16, 7));
	auto ke = ike::probe_answer(answer(req, {notify(ike::kNotifyInvalidKePayload, Bytes{0, 19})}, false), req, opts);
	ASSERT_TRUE(ke.ok());
	EXPECT_EQ(ke.value().invalid_ke_group, 19);
	auto refused = ike::probe_answer(answer(req, {notify(ike::kNotifyNoProposalChosen, {})}, false), req, opts);
	ASSERT_TRUE(refused.ok());
	EXPECT_EQ(refused.value().error, ike::kNotifyNoProposalChosen);
}

TEST(IkeProbe, RefusesWhatIsNotTheAnswer)
{
	CountingRandom r;
	auto opts = options(false);
	auto req = ike::probe_request(opts, r).value();
	// another exchange's SPI, no proposal, a CERTREQ of a broken length,
	// a NAT detection hash of a wrong size, an empty cookie
	EXPECT_FALSE(ike::probe_answer(answer(req, {}, true, req.spi_i + 1), req, opts).ok());
	EXPECT_FALSE(ike::probe_answer(answer(req, {}, false), req, opts).ok());
	EXPECT_FALSE(ike::probe_answer(answer(req, {detail::make_payload(PayloadType::CertificateRequest, Bytes(22, 4))}),
				       req, opts)
			     .ok());
	EXPECT_FALSE(ike::probe_answer(answer(req, {notify(static_cast<uint16_t>(NotifyType::NatDetectionSourceIp),
								   Bytes(19, 1))}),
				       req, opts)
			     .ok());
	EXPECT_FALSE(ike::probe_answer(answer(req, {notify(ike::kNotifyCookie, {})}, false), req, opts).ok());
	// the request itself is not an answer
	EXPECT_FALSE(ike::probe_answer(req.datagram, req, opts).ok());
	Bytes cut = answer(req, {});
	cut.pop_back();
	EXPECT_FALSE(ike::probe_answer(cut, req, opts).ok());
}

} // namespace
} // namespace groupsec::gdoi::test
