// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/certificate.h"

#include <ctime>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "groupsec/crypto/prf.h"
#include "groupsec/ident/dn.h"
#include "groupsec/trust/der.h"

namespace groupsec::trust {

int64_t SystemWallClock::now() const
{
	return static_cast<int64_t>(std::time(nullptr));
}

void X509Free::operator()(X509 *x) const
{
	X509_free(x);
}
void PkeyFree::operator()(EVP_PKEY *k) const
{
	EVP_PKEY_free(k);
}

namespace {

bool is_pem(ByteView data)
{
	static const char marker[] = "-----BEGIN ";
	std::string_view s(reinterpret_cast<const char *>(data.data()), data.size());
	return s.find(marker) != std::string_view::npos;
}

Result<int64_t> asn1_time(const ASN1_TIME *t, const char *what)
{
	struct tm tm {};
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return make_error(WireError::BadValue, std::string("certificate: bad ") + what);
	return der::unix_time(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
			      static_cast<unsigned>(tm.tm_mday), static_cast<unsigned>(tm.tm_hour),
			      static_cast<unsigned>(tm.tm_min), static_cast<unsigned>(tm.tm_sec));
}

std::string name_text(const X509_NAME *n)
{
	if (!n)
		return "";
	unsigned char *buf = nullptr;
	int len = i2d_X509_NAME(n, &buf);
	if (len <= 0)
		return "";
	Bytes der(buf, buf + len);
	OPENSSL_free(buf);
	auto t = ident::dn_text(der);
	return t ? *t : std::string("(unprintable name)");
}

} // namespace

Result<Certificate> Certificate::from_der(ByteView der)
{
	if (der.empty())
		return make_error(WireError::Truncated, "certificate: empty");
	const unsigned char *p = der.data();
	X509 *x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
	ERR_clear_error();
	if (!x)
		return make_error(WireError::BadValue, "certificate: not a DER X.509 certificate");
	Certificate c;
	c.x_.reset(x, X509Free());
	if (static_cast<size_t>(p - der.data()) != der.size())
		return make_error(WireError::TrailingBytes, "certificate: bytes after the certificate");
	// keep OpenSSL's own encoding: it equals the input for DER
	unsigned char *buf = nullptr;
	int len = i2d_X509(x, &buf);
	if (len <= 0)
		return make_error(WireError::CryptoFailure, "certificate: cannot encode");
	c.der_.assign(buf, buf + len);
	OPENSSL_free(buf);
	if (c.der_ != der.to_bytes())
		return make_error(WireError::BadValue, "certificate: not in DER");
	auto nb = asn1_time(X509_get0_notBefore(x), "notBefore");
	auto na = asn1_time(X509_get0_notAfter(x), "notAfter");
	if (!nb)
		return nb.error();
	if (!na)
		return na.error();
	c.not_before_ = nb.value();
	c.not_after_ = na.value();
	return c;
}

Result<Certificate> Certificate::parse(ByteView data)
{
	if (!is_pem(data))
		return from_der(data);
	BIO *bio = BIO_new_mem_buf(data.data(), static_cast<int>(data.size()));
	if (!bio)
		return make_error(WireError::NoMemory, "certificate: out of memory");
	X509 *x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
	BIO_free(bio);
	ERR_clear_error();
	if (!x)
		return make_error(WireError::BadValue, "certificate: no PEM CERTIFICATE block");
	unsigned char *buf = nullptr;
	int len = i2d_X509(x, &buf);
	X509_free(x);
	if (len <= 0)
		return make_error(WireError::CryptoFailure, "certificate: cannot encode");
	Bytes der(buf, buf + len);
	OPENSSL_free(buf);
	return from_der(der);
}

std::string Certificate::subject() const
{
	return name_text(X509_get_subject_name(x_.get()));
}

std::string Certificate::issuer() const
{
	return name_text(X509_get_issuer_name(x_.get()));
}

Bytes Certificate::fingerprint() const
{
	return crypto::sha256(der_);
}

std::string Certificate::fingerprint_text() const
{
	return colon_hex(fingerprint());
}

std::string colon_hex(ByteView b)
{
	static const char digits[] = "0123456789ABCDEF";
	std::string s;
	for (size_t i = 0; i < b.size(); i++) {
		if (i)
			s.push_back(':');
		s.push_back(digits[b[i] >> 4]);
		s.push_back(digits[b[i] & 15]);
	}
	return s;
}

std::string describe(const Certificate &c)
{
	std::string s;
	s += "subject:     " + c.subject() + "\n";
	s += "issuer:      " + c.issuer() + "\n";
	s += "not before:  " + der::time_text(c.not_before()) + " UTC\n";
	s += "not after:   " + der::time_text(c.not_after()) + " UTC\n";
	s += "sha256:      " + c.fingerprint_text() + "\n";
	return s;
}

Result<PrivateKey> PrivateKey::parse(ByteView data)
{
	EVP_PKEY *k = nullptr;
	if (is_pem(data)) {
		BIO *bio = BIO_new_mem_buf(data.data(), static_cast<int>(data.size()));
		if (!bio)
			return make_error(WireError::NoMemory, "private key: out of memory");
		k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
		BIO_free(bio);
	} else {
		const unsigned char *p = data.data();
		k = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size()));
	}
	ERR_clear_error();
	if (!k)
		return make_error(WireError::BadValue,
				  "private key: not an unencrypted PEM or DER private key");
	PrivateKey pk;
	pk.k_.reset(k, PkeyFree());
	return pk;
}

} // namespace groupsec::trust
