// SPDX-License-Identifier: GPL-2.0-or-later
// X.509 certificates and private keys for the trust lists, on OpenSSL:
// loading (PEM or DER), what a person checks before accepting one
// (subject, issuer, validity, SHA-256 fingerprint), and the wall clock
// the policies are judged by.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace groupsec::trust {

// Seconds since 1970 (UTC): policies and certificates are judged by it.
class WallClock {
public:
	virtual ~WallClock() = default;
	virtual int64_t now() const = 0;
};

// time(2).
class SystemWallClock : public WallClock {
public:
	int64_t now() const override;
};

struct X509Free {
	void operator()(X509 *x) const;
};
struct PkeyFree {
	void operator()(EVP_PKEY *k) const;
};

// One certificate: the OpenSSL object and its DER encoding.
class Certificate {
public:
	// One certificate in DER, or the first in PEM; nothing may follow it.
	static Result<Certificate> parse(ByteView data);
	static Result<Certificate> from_der(ByteView der);

	const Bytes &der() const { return der_; }
	X509 *x509() const { return x_.get(); }

	std::string subject() const; // swanctl notation ("C=CH, O=..., CN=...")
	std::string issuer() const;
	int64_t not_before() const { return not_before_; }
	int64_t not_after() const { return not_after_; }
	Bytes fingerprint() const; // SHA-256 of the DER
	// "ab:cd:..." upper-case pairs, as people read them out
	std::string fingerprint_text() const;

private:
	std::shared_ptr<X509> x_;
	Bytes der_;
	int64_t not_before_ = 0;
	int64_t not_after_ = 0;
};

// A private key (PEM or DER, unencrypted).
class PrivateKey {
public:
	static Result<PrivateKey> parse(ByteView data);
	EVP_PKEY *pkey() const { return k_.get(); }

private:
	std::shared_ptr<EVP_PKEY> k_;
};

// "AB:CD:..." of any bytes
std::string colon_hex(ByteView b);

// The text of a certificate for a person (subject, issuer, validity,
// fingerprint), one "key: value" a line.
std::string describe(const Certificate &c);

} // namespace groupsec::trust
