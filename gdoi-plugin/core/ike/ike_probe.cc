// SPDX-License-Identifier: GPL-2.0-or-later
#include "ike_probe.h"

#include <cstring>

#include "../gikev2.h"
#include "../group_keys.h"
#include "ike_sa_payload.h"

namespace groupsec::gdoi::ike {

namespace {

constexpr uint8_t kCertReq = static_cast<uint8_t>(PayloadType::CertificateRequest);
constexpr size_t kMaxCookie = 64; // RFC 7296 2.6: 1 to 64 octets

using detail::make_payload;

Transform transform(TransformType type, uint16_t id, uint16_t key_bits = 0)
{
	Transform t{static_cast<uint8_t>(type), id, {}};
	if (key_bits)
		t.attributes.push_back(
			make_tv_attribute(static_cast<uint16_t>(TransformAttributeType::KeyLength), key_bits));
	return t;
}

} // namespace

Result<ProbeRequest> probe_request(const ProbeOptions &opts, crypto::RandomSource &random)
{
	if (!dh_group_supported(opts.dh_group))
		return make_error(WireError::BadValue, "DH group " + std::to_string(opts.dh_group) + " is not supported");
	if (opts.cookie.size() > kMaxCookie)
		return make_error(WireError::BadValue, "cookie longer than 64 octets");
	ProbeRequest req;
	do
		random.fill(reinterpret_cast<uint8_t *>(&req.spi_i), sizeof req.spi_i);
	while (req.spi_i == 0);
	auto dh = DhKey::generate(opts.dh_group, [&](uint8_t *p, size_t n) { random.fill(p, n); });
	if (!dh)
		return dh.error();
	Bytes ni(32);
	random.fill(ni.data(), ni.size());

	// one proposal per cipher: AEAD transforms and integrity do not mix
	std::vector<Proposal> proposals;
	for (uint16_t encr : {kEncrAesGcm16, kEncrAesCbc}) {
		Proposal p;
		p.number = static_cast<uint8_t>(proposals.size() + 1);
		for (uint16_t bits : {256, 128})
			p.transforms.push_back(transform(TransformType::Encryption, encr, bits));
		p.transforms.push_back(transform(TransformType::Prf, kPrfHmacSha256));
		if (encr == kEncrAesCbc)
			p.transforms.push_back(transform(TransformType::Integrity, kIntegHmacSha256_128));
		p.transforms.push_back(transform(TransformType::KeyExchange, opts.dh_group));
		if (opts.gikev2)
			for (auto kwa : {KeyWrapAlgorithm::Kw5649_256, KeyWrapAlgorithm::Kw5649_128})
				p.transforms.push_back(
					transform(TransformType::KeyWrapAlgorithm, static_cast<uint16_t>(kwa)));
		proposals.push_back(std::move(p));
	}
	Message m;
	m.header.initiator_spi = req.spi_i;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagInitiator;
	if (!opts.cookie.empty()) {
		NotifyPayload n;
		n.type = kNotifyCookie;
		n.data = opts.cookie;
		m.payloads.push_back(make_payload(PayloadType::Notify, encode_notify(n).value()));
	}
	auto sab = encode_sa(proposals);
	auto keb = encode_ke(KePayload{opts.dh_group, dh.value()->public_value()});
	auto nib = encode_nonce(NoncePayload{ni});
	if (!sab || !keb || !nib)
		return make_error(WireError::BadValue, "IKE_SA_INIT payloads do not encode");
	m.payloads.push_back(make_payload(PayloadType::SecurityAssociation, sab.value()));
	m.payloads.push_back(make_payload(PayloadType::KeyExchange, keb.value()));
	m.payloads.push_back(make_payload(PayloadType::Nonce, nib.value()));
	Bytes src = nat_detection_hash(req.spi_i, 0, opts.local_ip, opts.local_port);
	Bytes dst = nat_detection_hash(req.spi_i, 0, opts.remote_ip, opts.remote_port);
	for (Payload &p : init_transport_notifies(true, &src, &dst))
		m.payloads.push_back(std::move(p));
	m.payloads.push_back(signature_hash_notify());
	auto d = encode_message(m);
	if (!d)
		return d.error();
	req.datagram = std::move(d).value();
	return req;
}

Result<ProbeAnswer> probe_answer(ByteView datagram, const ProbeRequest &req, const ProbeOptions &opts)
{
	auto m = decode_message(datagram);
	if (!m)
		return m.error();
	const IkeHeader &h = m.value().header;
	if (h.exchange_type != static_cast<uint8_t>(ExchangeType::IkeSaInit) || !(h.flags & kFlagResponse) ||
	    (h.flags & kFlagInitiator) || h.message_id != 0 || h.initiator_spi != req.spi_i)
		return make_error(WireError::BadValue, "not the IKE_SA_INIT response to our request");
	if (m.value().encrypted)
		return make_error(WireError::BadValue, "an SK payload in IKE_SA_INIT");
	ProbeAnswer a;
	a.spi_r = h.responder_spi;
	const std::vector<Payload> &payloads = m.value().payloads;
	for (const Payload &p : payloads) {
		switch (static_cast<PayloadType>(p.type)) {
		case PayloadType::Notify: {
			auto n = decode_notify(p.body);
			if (!n)
				return n.error();
			const uint16_t t = n.value().type;
			if (t == kNotifyCookie) {
				if (n.value().data.empty() || n.value().data.size() > kMaxCookie)
					return make_error(WireError::BadValue, "N(COOKIE) of a wrong size");
				a.cookie = n.value().data;
			} else if (t == kNotifyInvalidKePayload) {
				if (n.value().data.size() != 2)
					return make_error(WireError::BadValue, "N(INVALID_KE_PAYLOAD) without a group");
				a.invalid_ke_group = static_cast<uint16_t>(n.value().data[0] << 8 | n.value().data[1]);
			} else if (t == kNotifySignatureHashAlgorithms) {
				if (n.value().data.size() % 2)
					return make_error(WireError::BadValue, "N(SIGNATURE_HASH_ALGORITHMS) of an odd size");
				for (size_t i = 0; i < n.value().data.size(); i += 2)
					a.signature_hashes.push_back(
						static_cast<uint16_t>(n.value().data[i] << 8 | n.value().data[i + 1]));
			} else if (t < 16384 && !a.error) {
				a.error = t; // RFC 7296 3.10.1: error types are below 16384
			}
			break;
		}
		case PayloadType::VendorId:
			a.vendor_ids.push_back(p.body);
			break;
		case PayloadType::CertificateRequest: {
			// RFC 7296 3.7: encoding, then concatenated 20-octet SHA-1 hashes
			if (p.body.empty() || (p.body.size() - 1) % 20)
				return make_error(WireError::BadValue, "CERTREQ whose authorities are not 20-octet hashes");
			a.certreq_encoding = p.body[0];
			for (size_t i = 1; i < p.body.size(); i += 20)
				a.certreq_authorities.emplace_back(p.body.begin() + static_cast<long>(i),
								   p.body.begin() + static_cast<long>(i + 20));
			break;
		}
		case PayloadType::SecurityAssociation: {
			auto sa = decode_sa(p.body);
			if (!sa)
				return sa.error();
			if (sa.value().size() != 1)
				return make_error(WireError::BadValue, "the answer chose more than one proposal");
			for (const Transform &t : sa.value().front().transforms)
				a.proposal.push_back(ProbeTransform{t.type, t.id, key_length(t)});
			break;
		}
		default:
			break;
		}
	}
	auto tr = read_init_transport(payloads);
	if (!tr)
		return tr.error();
	a.fragmentation = tr.value().fragmentation;
	if (!tr.value().nat_sources.empty() && !tr.value().nat_destinations.empty()) {
		a.nat_detection = true;
		Bytes us = nat_detection_hash(req.spi_i, a.spi_r, opts.local_ip, opts.local_port);
		Bytes peer = nat_detection_hash(req.spi_i, a.spi_r, opts.remote_ip, opts.remote_port);
		a.nat_local = !equal(tr.value().nat_destinations.front(), us);
		bool seen = false;
		for (const Bytes &s : tr.value().nat_sources)
			seen = seen || equal(s, peer);
		a.nat_remote = !seen;
	}
	const bool retry = !a.cookie.empty() || a.invalid_ke_group;
	if (!retry && !a.error && (a.spi_r == 0 || a.proposal.empty()))
		return make_error(WireError::BadValue, "an IKE_SA_INIT response without SPI or proposal");
	return a;
}

std::string probe_transform_name(const ProbeTransform &t)
{
	std::string n;
	switch (static_cast<TransformType>(t.type)) {
	case TransformType::Encryption:
		n = t.id == kEncrAesGcm16 ? "ENCR_AES_GCM_16" : t.id == kEncrAesCbc ? "ENCR_AES_CBC" : "ENCR_" + std::to_string(t.id);
		break;
	case TransformType::Prf:
		n = t.id == kPrfHmacSha256 ? "PRF_HMAC_SHA2_256" : "PRF_" + std::to_string(t.id);
		break;
	case TransformType::Integrity:
		n = t.id == kIntegHmacSha256_128 ? "AUTH_HMAC_SHA2_256_128" : "AUTH_" + std::to_string(t.id);
		break;
	case TransformType::KeyExchange:
		n = t.id == kDhEcp256 ? "ECP_256" : t.id == kDhCurve25519 ? "CURVE_25519" : "DH_" + std::to_string(t.id);
		break;
	case TransformType::KeyWrapAlgorithm:
		n = "KWA_" + std::to_string(t.id);
		break;
	default:
		n = "TRANSFORM_" + std::to_string(t.type) + "_" + std::to_string(t.id);
	}
	if (t.key_length)
		n += "-" + std::to_string(t.key_length);
	return n;
}

} // namespace groupsec::gdoi::ike
