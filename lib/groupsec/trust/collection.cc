// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/collection.h"

#include <algorithm>
#include <memory>
#include <set>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "groupsec/trust/der.h"

namespace groupsec::trust {

namespace {

// 2.25.<UUID 48a81dd3-adc4-4b1c-97fd-9dd779d5450b> (X.667): the module's arc
constexpr const char *kListOid = "2.25.96577326529546801163569055344065070347.1";
constexpr const char *kEntryOid = "2.25.96577326529546801163569055344065070347.2";
constexpr uint64_t kVersion = 1;

struct UseName {
	uint32_t bit;
	const char *name;
};
constexpr UseName kUseNames[] = {
	{kUseKeyServer, "key-server"},
	{kUseMember, "member"},
	{kUseElection, "election"},
	{kUseIke, "ike"},
};

struct BioFree {
	void operator()(BIO *b) const { BIO_free(b); }
};
struct CmsFree {
	void operator()(CMS_ContentInfo *c) const { CMS_ContentInfo_free(c); }
};
struct ObjFree {
	void operator()(ASN1_OBJECT *o) const { ASN1_OBJECT_free(o); }
};
struct StackFree {
	void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, CmsFree>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, ObjFree>;
using StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

// the newest OpenSSL error's reason, and the queue cleared
std::string ssl_reason()
{
	unsigned long e = ERR_peek_last_error();
	std::string r;
	if (e) {
		const char *s = ERR_reason_error_string(e);
		r = s ? s : "unknown reason";
	}
	ERR_clear_error();
	return r.empty() ? std::string("unknown reason") : r;
}

BioPtr mem_in(ByteView b)
{
	static const uint8_t empty = 0;
	return BioPtr(BIO_new_mem_buf(b.size() ? b.data() : &empty, static_cast<int>(b.size())));
}

Bytes bio_bytes(BIO *b)
{
	char *p = nullptr;
	long n = BIO_get_mem_data(b, &p);
	return n > 0 ? Bytes(p, p + n) : Bytes();
}

Result<Bytes> cms_der(CMS_ContentInfo *cms)
{
	unsigned char *buf = nullptr;
	int len = i2d_CMS_ContentInfo(cms, &buf);
	if (len <= 0)
		return make_error(WireError::CryptoFailure, "cannot encode the CMS structure: " + ssl_reason());
	Bytes out(buf, buf + len);
	OPENSSL_free(buf);
	return out;
}

// a whole DER ContentInfo, nothing after it
Result<CmsPtr> cms_parse(ByteView der, const char *what)
{
	if (der.empty())
		return make_error(WireError::Truncated, std::string(what) + ": empty");
	if (der.size() > kMaxFileSize)
		return make_error(WireError::BadLength, std::string(what) + ": larger than 8 MiB");
	// the outer length first, so that a truncated file says so
	der::Reader r(der, what);
	auto outer = r.any();
	if (!outer)
		return outer.error();
	if (outer.value().tag != der::kSequence)
		return make_error(WireError::BadValue, std::string(what) + ": not a CMS ContentInfo");
	if (!r.at_end())
		return make_error(WireError::TrailingBytes, std::string(what) + ": bytes after the CMS structure");
	const unsigned char *p = der.data();
	CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
	if (!cms) {
		std::string reason = ssl_reason();
		return make_error(WireError::BadValue,
				  std::string(what) + ": not a valid CMS structure (" + reason + ")");
	}
	if (static_cast<size_t>(p - der.data()) != der.size())
		return make_error(WireError::TrailingBytes, std::string(what) + ": bytes after the CMS structure");
	return cms;
}

StackPtr cert_stack(const std::vector<Certificate> &certs)
{
	StackPtr s(sk_X509_new_null());
	if (!s)
		return s;
	for (const auto &c : certs)
		if (!sk_X509_push(s.get(), c.x509()))
			return StackPtr();
	return s;
}

// Signs content with every signer; detached or not.
Result<Bytes> cms_sign(ByteView content, const char *oid, const std::vector<Signer> &signers,
		       bool detached)
{
	if (signers.empty())
		return make_error(WireError::Missing, "signing needs at least one signer");
	if (signers.size() > kMaxSigners)
		return make_error(WireError::BadLength, "more than 16 signers");
	auto in = mem_in(content);
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOSMIMECAP | (detached ? CMS_DETACHED : 0);
	CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
	if (!cms)
		return make_error(WireError::CryptoFailure, "CMS_sign: " + ssl_reason());
	ObjPtr obj(OBJ_txt2obj(oid, 1));
	if (!obj || !CMS_set1_eContentType(cms.get(), obj.get()))
		return make_error(WireError::CryptoFailure, "cannot set the content type: " + ssl_reason());
	for (const auto &s : signers) {
		if (X509_check_private_key(s.certificate.x509(), s.key.pkey()) != 1) {
			ERR_clear_error();
			return make_error(WireError::BadKey, "the private key does not belong to the signer's "
							     "certificate " + s.certificate.subject());
		}
		if (!CMS_add1_signer(cms.get(), s.certificate.x509(), s.key.pkey(), EVP_sha256(),
				     CMS_BINARY | CMS_NOSMIMECAP))
			return make_error(WireError::CryptoFailure,
					  "cannot add signer " + s.certificate.subject() + ": " + ssl_reason());
	}
	if (!CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY))
		return make_error(WireError::CryptoFailure, "CMS signing failed: " + ssl_reason());
	return cms_der(cms.get());
}

// The reason a CMS_verify failed, in words.
std::string verify_failure()
{
	unsigned long e = ERR_peek_last_error();
	int reason = ERR_GET_REASON(e);
	ERR_clear_error();
	switch (reason) {
	case CMS_R_SIGNER_CERTIFICATE_NOT_FOUND:
		return "signed by an unknown signer (not one of the trusted signers)";
	case CMS_R_NO_SIGNERS:
		return "not signed";
	case CMS_R_VERIFICATION_FAILURE:
	case CMS_R_CONTENT_VERIFY_ERROR:
		return "the signature does not verify (altered, or signed with another key)";
	default:
		break;
	}
	const char *s = ERR_reason_error_string(e);
	return std::string("the signature does not verify (") + (s ? s : "unknown reason") + ")";
}

// Verifies a signed ContentInfo of type oid against trusted signers.
// Attached: returns the content; detached: checks it against `detached`.
Result<Bytes> cms_verify(ByteView der, const char *oid, const std::vector<Certificate> &trusted,
			 const ByteView *detached, const char *what, std::vector<Certificate> *signers_out)
{
	auto cms = cms_parse(der, what);
	if (!cms)
		return cms.error();
	CMS_ContentInfo *c = cms.value().get();
	if (OBJ_obj2nid(CMS_get0_type(c)) != NID_pkcs7_signed)
		return make_error(WireError::BadValue, std::string(what) + ": not a CMS SignedData");
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(c);
	if (infos && static_cast<size_t>(sk_CMS_SignerInfo_num(infos)) > kMaxSigners)
		return make_error(WireError::BadLength, std::string(what) + ": more than 16 signers");
	ObjPtr want(OBJ_txt2obj(oid, 1));
	const ASN1_OBJECT *type = CMS_get0_eContentType(c);
	if (!want || !type || OBJ_cmp(type, want.get()) != 0)
		return make_error(WireError::BadValue,
				  std::string(what) + ": signed content is not a groupsec trust list");
	bool is_detached = CMS_is_detached(c) == 1;
	if (is_detached != (detached != nullptr))
		return make_error(WireError::BadValue, std::string(what) + (detached ? ": must be detached"
										     : ": content missing"));
	if (trusted.empty())
		return make_error(WireError::Missing, std::string(what) + ": no trusted signer given");
	StackPtr certs = cert_stack(trusted);
	if (!certs)
		return make_error(WireError::NoMemory, "out of memory");
	BioPtr out(BIO_new(BIO_s_mem()));
	BioPtr dcont = detached ? mem_in(*detached) : BioPtr();
	// the trusted signers alone, pinned: no certificate inside the
	// structure is used and none is chained to a CA
	unsigned flags = CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY;
	ERR_clear_error();
	if (CMS_verify(c, certs.get(), nullptr, dcont.get(), out.get(), flags) != 1)
		return make_error(WireError::IntegrityFailed, std::string(what) + ": " + verify_failure());
	if (signers_out) {
		// every SignerInfo verified with one of the trusted certificates
		STACK_OF(X509) *signers = CMS_get0_signers(c);
		int n = signers ? sk_X509_num(signers) : 0;
		for (int i = 0; i < n; i++) {
			X509 *s = sk_X509_value(signers, i);
			for (const auto &t : trusted)
				if (X509_cmp(s, t.x509()) == 0) {
					bool dup = false;
					for (const auto &have : *signers_out)
						dup = dup || have.der() == t.der();
					if (!dup)
						signers_out->push_back(t);
					break;
				}
		}
		sk_X509_free(signers);
		if (signers_out->empty())
			return make_error(WireError::IntegrityFailed, std::string(what) + ": no trusted signer");
	}
	return bio_bytes(out.get());
}

Bytes encode_policy(const Policy &p)
{
	Bytes groups;
	for (const auto &g : p.groups)
		der::append(groups, der::text(g));
	return der::constructed(der::kSequence,
				{der::time(p.not_before), der::time(p.not_after), der::bits(p.uses),
				 der::tlv(der::kSequence, groups)});
}

Result<Policy> decode_policy(der::Reader &r)
{
	auto s = r.sequence("policy");
	if (!s)
		return s.error();
	der::Reader &pr = s.value();
	Policy p;
	auto nb = pr.time("notBefore");
	if (!nb)
		return nb.error();
	auto na = pr.time("notAfter");
	if (!na)
		return na.error();
	auto uses = pr.bits("uses");
	if (!uses)
		return uses.error();
	auto gs = pr.sequence("groups");
	if (!gs)
		return gs.error();
	while (!gs.value().at_end()) {
		if (p.groups.size() == kMaxGroups)
			return make_error(WireError::BadLength, pr.what() + ": more than 64 groups");
		auto g = gs.value().text("group", kMaxGroupLength);
		if (!g)
			return g.error();
		p.groups.push_back(std::move(g.value()));
	}
	auto done = pr.finish();
	if (!done)
		return done.error();
	p.not_before = nb.value();
	p.not_after = na.value();
	p.uses = uses.value();
	return p;
}

Result<bool> check_policy(const Policy &p, const std::string &who)
{
	if (p.not_before > p.not_after)
		return make_error(WireError::BadValue, "policy of " + who + ": notBefore after notAfter");
	if (p.not_before < 0 || p.not_after > kMaxTime)
		return make_error(WireError::BadValue, "policy of " + who + ": time out of range");
	if (p.uses == 0)
		return make_error(WireError::BadValue, "policy of " + who + ": no use");
	if (p.uses & ~kAllUses)
		return make_error(WireError::BadValue, "policy of " + who + ": unknown use");
	if (p.groups.empty())
		return make_error(WireError::BadValue, "policy of " + who + ": no group (\"*\" for any)");
	if (p.groups.size() > kMaxGroups)
		return make_error(WireError::BadLength, "policy of " + who + ": more than 64 groups");
	std::set<std::string> seen;
	for (const auto &g : p.groups) {
		if (g.empty() || g.size() > kMaxGroupLength)
			return make_error(WireError::BadLength, "policy of " + who + ": group name length");
		for (unsigned char ch : g)
			if (ch < 0x20 || ch == 0x7f)
				return make_error(WireError::BadValue,
						  "policy of " + who + ": control character in a group name");
		if (!seen.insert(g).second)
			return make_error(WireError::Duplicate, "policy of " + who + ": group " + g + " twice");
	}
	return true;
}

Result<bool> check_list(const TrustList &l)
{
	if (!valid_name(l.name))
		return make_error(WireError::BadValue,
				  "trust list: name must be 1 to 64 of A-Z a-z 0-9 . _ - (no leading dot)");
	if (l.serial > static_cast<uint64_t>(INT64_MAX))
		return make_error(WireError::BadValue, "trust list: serial too large");
	if (l.not_before > l.not_after || l.not_before < 0 || l.not_after > kMaxTime || l.issued < 0 ||
	    l.issued > kMaxTime)
		return make_error(WireError::BadValue, "trust list: bad validity period");
	if (l.entries.size() > kMaxEntries)
		return make_error(WireError::BadLength, "trust list: more than 4096 certificates");
	std::set<Bytes> seen;
	for (const auto &e : l.entries) {
		auto ok = check_policy(e.policy, e.certificate.subject());
		if (!ok)
			return ok.error();
		if (!seen.insert(e.certificate.fingerprint()).second)
			return make_error(WireError::Duplicate,
					  "trust list: certificate " + e.certificate.subject() + " listed twice");
	}
	return true;
}

} // namespace

Result<uint32_t> parse_uses(std::string_view list)
{
	uint32_t mask = 0;
	size_t pos = 0;
	if (list == "any")
		return kAllUses;
	while (pos <= list.size()) {
		size_t comma = list.find(',', pos);
		std::string_view name = list.substr(pos, comma == std::string_view::npos ? std::string_view::npos
											: comma - pos);
		bool found = false;
		for (const auto &u : kUseNames)
			if (name == u.name) {
				mask |= u.bit;
				found = true;
			}
		if (!found)
			return make_error(WireError::BadValue,
					  "unknown use \"" + std::string(name) +
						  "\" (key-server, member, election, ike, any)");
		if (comma == std::string_view::npos)
			break;
		pos = comma + 1;
	}
	return mask;
}

std::string uses_text(uint32_t uses)
{
	std::string s;
	for (const auto &u : kUseNames)
		if (uses & u.bit) {
			if (!s.empty())
				s += ",";
			s += u.name;
		}
	return s.empty() ? "none" : s;
}

bool Policy::covers_group(std::string_view group) const
{
	for (const auto &g : groups)
		if (g == kAnyGroup || g == group)
			return true;
	return false;
}

bool valid_name(std::string_view name)
{
	if (name.empty() || name.size() > kMaxNameLength || name[0] == '.')
		return false;
	for (char c : name)
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	return true;
}

Bytes entry_tbs(const Entry &e)
{
	return der::constructed(der::kSequence, {e.certificate.der(), encode_policy(e.policy)});
}

Result<Bytes> encode_trust_list(const TrustList &l)
{
	auto ok = check_list(l);
	if (!ok)
		return ok.error();
	Bytes entries;
	for (const auto &e : l.entries) {
		Bytes entry = e.certificate.der();
		der::append(entry, encode_policy(e.policy));
		if (!e.signature.empty())
			der::append(entry, der::tlv(der::context(0, false), e.signature));
		der::append(entries, der::tlv(der::kSequence, entry));
	}
	return der::constructed(der::kSequence,
				{der::integer(kVersion), der::text(l.name), der::integer(l.serial),
				 der::time(l.issued), der::time(l.not_before), der::time(l.not_after),
				 der::tlv(der::kSequence, entries)});
}

Result<TrustList> decode_trust_list(ByteView data)
{
	if (data.size() > kMaxFileSize)
		return make_error(WireError::BadLength, "trust list: larger than 8 MiB");
	der::Reader top(data, "trust list");
	auto seq = top.sequence("TrustList");
	if (!seq)
		return seq.error();
	auto end = top.finish();
	if (!end)
		return end.error();
	der::Reader &r = seq.value();
	auto version = r.integer("version", UINT64_MAX);
	if (!version)
		return version.error();
	if (version.value() != kVersion)
		return make_error(WireError::BadVersion,
				  "trust list: version " + std::to_string(version.value()) + " (this reads 1)");
	TrustList l;
	auto name = r.text("name", kMaxNameLength);
	if (!name)
		return name.error();
	l.name = name.value();
	auto serial = r.integer("serial", static_cast<uint64_t>(INT64_MAX));
	if (!serial)
		return serial.error();
	l.serial = serial.value();
	for (auto [field, dst] : {std::pair<const char *, int64_t *>{"issued", &l.issued},
				  {"notBefore", &l.not_before},
				  {"notAfter", &l.not_after}}) {
		auto t = r.time(field);
		if (!t)
			return t.error();
		*dst = t.value();
	}
	auto entries = r.sequence("entries");
	if (!entries)
		return entries.error();
	while (!entries.value().at_end()) {
		if (l.entries.size() == kMaxEntries)
			return make_error(WireError::BadLength, "trust list: more than 4096 certificates");
		auto es = entries.value().sequence("entry");
		if (!es)
			return es.error();
		der::Reader &er = es.value();
		auto cert_tlv = er.expect(der::kSequence, "certificate");
		if (!cert_tlv)
			return cert_tlv.error();
		auto cert = Certificate::from_der(cert_tlv.value().whole);
		if (!cert)
			return make_error(cert.error().code, "trust list: entry " +
								     std::to_string(l.entries.size() + 1) + ": " +
								     cert.error().message);
		auto policy = decode_policy(er);
		if (!policy)
			return policy.error();
		Entry e{cert.value(), policy.value(), {}};
		if (!er.at_end()) {
			auto sig = er.octets("entrySignature", der::context(0, false));
			if (!sig)
				return sig.error();
			if (sig.value().empty())
				return make_error(WireError::BadLength, "trust list: empty entrySignature");
			e.signature = sig.value().to_bytes();
		}
		auto done = er.finish();
		if (!done)
			return done.error();
		l.entries.push_back(std::move(e));
	}
	auto done = r.finish();
	if (!done)
		return done.error();
	auto ok = check_list(l);
	if (!ok)
		return ok.error();
	return l;
}

Result<Bytes> sign_entry(const Entry &e, const std::vector<Signer> &signers)
{
	return cms_sign(entry_tbs(e), kEntryOid, signers, true);
}

Result<Bytes> sign_trust_list(TrustList list, const std::vector<Signer> &signers, EntrySignatures mode)
{
	if (signers.empty())
		return make_error(WireError::Missing, "signing needs at least one signer");
	auto ok = check_list(list);
	if (!ok)
		return ok.error();
	for (auto &e : list.entries) {
		if (mode == EntrySignatures::Keep)
			continue;
		e.signature.clear();
		if (mode == EntrySignatures::None)
			continue;
		auto sig = sign_entry(e, signers);
		if (!sig)
			return sig.error();
		e.signature = std::move(sig.value());
	}
	auto content = encode_trust_list(list);
	if (!content)
		return content.error();
	return cms_sign(content.value(), kListOid, signers, false);
}

bool is_enveloped(ByteView data)
{
	// ContentInfo ::= SEQUENCE { contentType OID 1.2.840.113549.1.7.3, ... }
	static const uint8_t oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
	der::Reader r(data, "file");
	auto outer = r.any();
	if (!outer || outer.value().tag != der::kSequence)
		return false;
	ByteView c = outer.value().content;
	return c.size() >= sizeof(oid) && std::equal(oid, oid + sizeof(oid), c.begin());
}

Result<Bytes> envelop(ByteView signed_der, const std::vector<Certificate> &recipients)
{
	if (recipients.empty())
		return make_error(WireError::Missing, "enveloping needs at least one recipient");
	StackPtr certs = cert_stack(recipients);
	if (!certs)
		return make_error(WireError::NoMemory, "out of memory");
	auto in = mem_in(signed_der);
	CmsPtr cms(CMS_encrypt(certs.get(), in.get(), EVP_aes_256_cbc(), CMS_BINARY));
	if (!cms)
		return make_error(WireError::CryptoFailure,
				  "cannot envelop for these recipients: " + ssl_reason());
	return cms_der(cms.get());
}

Result<Bytes> open_envelope(ByteView data, const Certificate &cert, const PrivateKey &key)
{
	auto cms = cms_parse(data, "enveloped trust list");
	if (!cms)
		return cms.error();
	if (OBJ_obj2nid(CMS_get0_type(cms.value().get())) != NID_pkcs7_enveloped)
		return make_error(WireError::BadValue, "enveloped trust list: not a CMS EnvelopedData");
	if (X509_check_private_key(cert.x509(), key.pkey()) != 1) {
		ERR_clear_error();
		return make_error(WireError::BadKey,
				  "the private key does not belong to the recipient's certificate");
	}
	// named in a RecipientInfo? (key transport or key agreement)
	bool named = false;
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms.value().get());
	for (int i = 0; ris && i < sk_CMS_RecipientInfo_num(ris) && !named; i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		int type = CMS_RecipientInfo_type(ri);
		if (type == CMS_RECIPINFO_TRANS) {
			named = CMS_RecipientInfo_ktri_cert_cmp(ri, cert.x509()) == 0;
		} else if (type == CMS_RECIPINFO_AGREE) {
			STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
			for (int k = 0; reks && k < sk_CMS_RecipientEncryptedKey_num(reks) && !named; k++)
				named = CMS_RecipientEncryptedKey_cert_cmp(
						sk_CMS_RecipientEncryptedKey_value(reks, k), cert.x509()) == 0;
		}
	}
	ERR_clear_error();
	if (!named)
		return make_error(WireError::IntegrityFailed,
				  "enveloped trust list: " + cert.subject() + " is not a recipient");
	BioPtr out(BIO_new(BIO_s_mem()));
	// with the certificate given, only the RecipientInfo naming it is tried
	if (CMS_decrypt(cms.value().get(), key.pkey(), cert.x509(), nullptr, out.get(), CMS_BINARY) != 1) {
		unsigned long e = ERR_peek_last_error();
		ERR_clear_error();
		if (ERR_GET_REASON(e) == CMS_R_NO_MATCHING_RECIPIENT)
			return make_error(WireError::IntegrityFailed,
					  "enveloped trust list: " + cert.subject() + " is not a recipient");
		return make_error(WireError::IntegrityFailed,
				  "enveloped trust list: cannot be opened (altered, or not for this key)");
	}
	return bio_bytes(out.get());
}

Result<VerifiedList> verify_trust_list(ByteView signed_der, const std::vector<Certificate> &trusted)
{
	std::vector<Certificate> signers;
	auto content = cms_verify(signed_der, kListOid, trusted, nullptr, "trust list", &signers);
	if (!content)
		return content.error();
	auto list = decode_trust_list(content.value());
	if (!list)
		return list.error();
	for (const auto &e : list.value().entries) {
		if (e.signature.empty())
			continue;
		Bytes tbs = entry_tbs(e);
		ByteView tbs_view(tbs);
		auto ok = cms_verify(e.signature, kEntryOid, trusted, &tbs_view, "entry signature", nullptr);
		if (!ok)
			return make_error(ok.error().code, "trust list: entry " + e.certificate.subject() +
								   ": " + ok.error().message);
	}
	return VerifiedList{std::move(list.value()), std::move(signers), signed_der.to_bytes()};
}

Result<bool> check_list_current(const TrustList &l, int64_t now)
{
	if (now < l.not_before)
		return make_error(WireError::BadValue, "trust list " + l.name + " is not valid before " +
							       der::time_text(l.not_before) + " UTC");
	if (now > l.not_after)
		return make_error(WireError::BadValue,
				  "trust list " + l.name + " expired on " + der::time_text(l.not_after) + " UTC");
	return true;
}

Result<bool> check_entry(const TrustList &l, const Entry &e, std::string_view group, uint32_t use,
			 int64_t now)
{
	auto cur = check_list_current(l, now);
	if (!cur)
		return cur;
	const std::string who = e.certificate.subject();
	const std::string in = " (trust list " + l.name + ")";
	if (now < e.policy.not_before)
		return make_error(WireError::BadValue, "the policy of " + who + " is not valid before " +
							       der::time_text(e.policy.not_before) + " UTC" + in);
	if (now > e.policy.not_after)
		return make_error(WireError::BadValue, "the policy of " + who + " expired on " +
							       der::time_text(e.policy.not_after) + " UTC" + in);
	if (now < e.certificate.not_before() || now > e.certificate.not_after())
		return make_error(WireError::BadValue, "the certificate of " + who + " is outside its validity" + in);
	if ((e.policy.uses & use) != use || use == 0)
		return make_error(WireError::BadValue, "the policy of " + who + " excludes the use " +
							       uses_text(use) + " (accepted for " +
							       uses_text(e.policy.uses) + ")" + in);
	if (!e.policy.covers_group(group))
		return make_error(WireError::BadValue, "the policy of " + who + " excludes the group " +
							       std::string(group) + in);
	return true;
}

} // namespace groupsec::trust
