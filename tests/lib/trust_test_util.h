// SPDX-License-Identifier: GPL-2.0-or-later
// Self-signed certificates and keys for the trust list tests: made on the
// spot with OpenSSL (EC P-256), with a chosen validity.
#pragma once

#include <cstdint>
#include <string>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "groupsec/trust/certificate.h"
#include "groupsec/trust/collection.h"

namespace groupsec::trust::testing {

// 2026-01-01 00:00:00 UTC and a year
constexpr int64_t kJan2026 = 1767225600;
constexpr int64_t kYear = 365 * 86400;

// A P-256 (or RSA-2048) key and a self-signed certificate for CN=cn, valid [nb, na].
inline Signer make_identity(const std::string &cn, int64_t nb = kJan2026 - kYear,
			    int64_t na = kJan2026 + 5 * kYear, bool rsa = false)
{
	EVP_PKEY *pkey = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::hash<std::string>()(cn) & 0x7fffffff));
	ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(nb));
	ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(na));
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   reinterpret_cast<const unsigned char *>("groupsec test"), -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   reinterpret_cast<const unsigned char *>(cn.c_str()), -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, pkey);
	X509_sign(x, pkey, EVP_sha256());
	unsigned char *buf = nullptr;
	int len = i2d_X509(x, &buf);
	Bytes der(buf, buf + len);
	OPENSSL_free(buf);
	X509_free(x);
	unsigned char *kbuf = nullptr;
	int klen = i2d_PrivateKey(pkey, &kbuf);
	Bytes kder(kbuf, kbuf + klen);
	OPENSSL_free(kbuf);
	EVP_PKEY_free(pkey);
	return Signer{Certificate::from_der(der).value(), PrivateKey::parse(kder).value()};
}

inline Entry make_entry(const Certificate &c, std::vector<std::string> groups, uint32_t uses,
			int64_t nb = kJan2026 - kYear, int64_t na = kJan2026 + kYear)
{
	Entry e;
	e.certificate = c;
	e.policy.not_before = nb;
	e.policy.not_after = na;
	e.policy.uses = uses;
	e.policy.groups = std::move(groups);
	return e;
}

inline TrustList make_list(const std::string &name, uint64_t serial, std::vector<Entry> entries)
{
	TrustList l;
	l.name = name;
	l.serial = serial;
	l.issued = kJan2026 - 86400;
	l.not_before = kJan2026 - kYear;
	l.not_after = kJan2026 + 2 * kYear;
	l.entries = std::move(entries);
	return l;
}

} // namespace groupsec::trust::testing
