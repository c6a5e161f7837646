// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/ident/dn.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "groupsec/base/text.h"

namespace groupsec::ident {

namespace {

using text::quote;
using text::trim;

Error bad(std::string message)
{
	return make_error(WireError::BadValue, std::move(message));
}

void der_append(Bytes &out, uint8_t tag, const Bytes &content)
{
	out.push_back(tag);
	size_t n = content.size();
	if (n < 0x80) {
		out.push_back(static_cast<uint8_t>(n));
	} else {
		uint8_t len[sizeof(size_t)];
		size_t k = 0;
		for (size_t v = n; v; v >>= 8)
			len[k++] = static_cast<uint8_t>(v & 0xff);
		out.push_back(static_cast<uint8_t>(0x80 | k));
		while (k)
			out.push_back(len[--k]);
	}
	out.insert(out.end(), content.begin(), content.end());
}

constexpr uint8_t kDerUtf8String = 0x0c;
constexpr uint8_t kDerPrintableString = 0x13;
constexpr uint8_t kDerIa5String = 0x16;
constexpr uint8_t kDerSequence = 0x30;
constexpr uint8_t kDerSet = 0x31;
constexpr uint8_t kDerOid = 0x06;

// Relative distinguished name attributes by the names strongSwan uses.
struct RdnAttribute {
	const char *name;
	Bytes oid; // encoded OID content
	bool ia5 = false; // IA5String, else PrintableString or UTF8String
};

const std::vector<RdnAttribute> &rdn_attributes()
{
	static const std::vector<RdnAttribute> table = [] {
		auto x520 = [](uint8_t n) { return Bytes{0x55, 0x04, n}; };
		Bytes email{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01};
		Bytes pilot{0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01};
		Bytes dc = pilot, uid = pilot;
		dc.push_back(25);
		uid.push_back(1);
		return std::vector<RdnAttribute>{
			{"CN", x520(3)}, {"SN", x520(4)}, {"serialNumber", x520(5)}, {"C", x520(6)},
			{"L", x520(7)}, {"ST", x520(8)}, {"STREET", x520(9)}, {"O", x520(10)},
			{"OU", x520(11)}, {"T", x520(12)}, {"D", x520(13)}, {"postalCode", x520(17)},
			{"N", x520(41)}, {"G", x520(42)}, {"I", x520(43)}, {"dnQualifier", x520(46)},
			{"pseudonym", x520(65)}, {"DC", dc}, {"UID", uid}, {"E", email, true},
			{"Email", email, true}, {"emailAddress", email, true},
		};
	}();
	return table;
}

bool printable_string(std::string_view s)
{
	static const char extra[] = " '()+,-./:=?";
	return std::all_of(s.begin(), s.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || text::is_digit(c) ||
		       (c != '\0' && strchr(extra, c) != nullptr);
	});
}

} // namespace

Result<Bytes> encode_dn(std::string_view s)
{
	char sep = ',';
	s = trim(s);
	if (!s.empty() && s.front() == '/') {
		sep = '/';
		s.remove_prefix(1);
	}
	Bytes rdns;
	size_t start = 0;
	for (;;) {
		size_t end = s.find(sep, start);
		std::string_view part =
			trim(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
		if (part.empty())
			return bad("empty attribute");
		size_t eq = part.find('=');
		if (eq == std::string_view::npos)
			return bad("attribute " + quote(part) + " without a value");
		std::string_view name = trim(part.substr(0, eq));
		std::string_view value = trim(part.substr(eq + 1));
		const RdnAttribute *attr = nullptr;
		for (const auto &a : rdn_attributes()) {
			if (text::equal_nocase(a.name, name))
				attr = &a;
		}
		if (!attr)
			return bad("unknown attribute " + quote(name));
		uint8_t type = attr->ia5 ? kDerIa5String : printable_string(value) ? kDerPrintableString : kDerUtf8String;
		Bytes atv;
		der_append(atv, kDerOid, attr->oid);
		der_append(atv, type, Bytes(value.begin(), value.end()));
		Bytes seq;
		der_append(seq, kDerSequence, atv);
		der_append(rdns, kDerSet, seq);
		if (end == std::string_view::npos)
			break;
		start = end + 1;
	}
	Bytes dn;
	der_append(dn, kDerSequence, rdns);
	return dn;
}

std::optional<std::string> dn_text(ByteView der)
{
	const unsigned char *p = der.data();
	std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(
		d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())), X509_NAME_free);
	if (!name || p != der.data() + der.size())
		return std::nullopt;
	std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
	if (!bio)
		return std::nullopt;
	unsigned long flags = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT;
	if (X509_NAME_print_ex(bio.get(), name.get(), 0, flags) < 0)
		return std::nullopt;
	char *data = nullptr;
	long len = BIO_get_mem_data(bio.get(), &data);
	if (len <= 0 || !data)
		return std::nullopt;
	return std::string(data, static_cast<size_t>(len));
}

} // namespace groupsec::ident
