// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the trust list decoders (lib/groupsec/trust): the first
// byte picks one, the rest is its input:
//   0  the TrustList content (DER): what decodes encodes back to the same bytes
//   1  a signed list (CMS SignedData), verified against the fixed signer
//   2  a stored collection (the store's file): round-trips like 0
//   3  an enveloped list (CMS EnvelopedData), opened with the fixed recipient
//   4  a certificate (PEM or DER), then the use and condition texts
// Whatever the input, nothing crashes and nothing leaks.
#include <cstdlib>
#include <string>

#include "groupsec/trust/collection.h"
#include "groupsec/trust/store.h"
#include "trust_fuzz_keys.h"

using namespace groupsec;
using namespace groupsec::trust;

namespace {

Certificate cert_of(const char *pem)
{
	std::string s(pem);
	auto c = Certificate::parse(ByteView(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
	if (!c)
		abort();
	return c.value();
}

PrivateKey key_of(const char *pem)
{
	std::string s(pem);
	auto k = PrivateKey::parse(ByteView(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
	if (!k)
		abort();
	return k.value();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	static const Certificate signer = cert_of(trust_fuzz::kSignerCert);
	static const Certificate recipient = cert_of(trust_fuzz::kRecipientCert);
	static const PrivateKey recipient_key = key_of(trust_fuzz::kRecipientKey);
	ByteView in(data + 1, size - 1);
	switch (data[0] % 5) {
	case 0: {
		auto l = decode_trust_list(in);
		if (l) {
			auto again = encode_trust_list(l.value());
			if (!again || again.value() != in.to_bytes())
				abort();
		} else if (l.error().message.empty()) {
			abort();
		}
		break;
	}
	case 1: {
		auto v = verify_trust_list(in, {signer});
		if (v && (v.value().signers.size() != 1 || v.value().signers[0].der() != signer.der()))
			abort();
		break;
	}
	case 2: {
		auto c = decode_stored(in);
		if (c) {
			auto again = encode_stored(c.value());
			if (!again || again.value() != in.to_bytes())
				abort();
		}
		break;
	}
	case 3: {
		if (!is_enveloped(in))
			break;
		auto opened = open_envelope(in, recipient, recipient_key);
		if (opened)
			(void)verify_trust_list(opened.value(), {signer});
		break;
	}
	case 4: {
		auto c = Certificate::parse(in);
		if (c) {
			(void)describe(c.value());
			if (c.value().der() != Certificate::from_der(c.value().der()).value().der())
				abort();
		}
		std::string text(reinterpret_cast<const char *>(in.data()), in.size());
		auto u = parse_uses(text);
		if (u && parse_uses(uses_text(u.value())).value() != u.value())
			abort();
		auto cond = parse_condition(text);
		if (cond && cond.value().text() != text)
			abort();
		(void)parse_state(text);
		break;
	}
	}
	return 0;
}
