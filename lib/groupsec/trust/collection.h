// SPDX-License-Identifier: GPL-2.0-or-later
// Trust lists: collections of accepted certificates, each with its policy
// (validity period, groups, uses), signed as a CMS SignedData (RFC 5652)
// by the person who checked them, each entry optionally signed on its own,
// the whole optionally enveloped to named recipients (CMS EnvelopedData).
// The format is trust-lists.md, ASN.1 module GroupsecTrustList.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"
#include "groupsec/trust/certificate.h"

namespace groupsec::trust {

// The uses a certificate may be accepted for: the named bits of Uses.
enum Use : uint32_t {
	kUseKeyServer = 1u << 0, // a G-IKEv2 key server, to its members
	kUseMember = 1u << 1,    // a G-IKEv2 group member, to its key server
	kUseElection = 1u << 2,  // a key server candidate in an election
	kUseIke = 1u << 3,       // a peer of a plain IKEv2 connection
};
constexpr uint32_t kAllUses = 0xf;

// "key-server,member,election,ike" (or "any") to a mask; an unknown name fails.
Result<uint32_t> parse_uses(std::string_view list);
// the mask as "key-server,member", "none" for 0
std::string uses_text(uint32_t uses);

// Limits of the format.
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxGroupLength = 255;
constexpr size_t kMaxGroups = 64;
constexpr size_t kMaxEntries = 4096;
constexpr size_t kMaxFileSize = 8u << 20;
// the last second GeneralizedTime can hold: 9999-12-31 23:59:59 UTC
constexpr int64_t kMaxTime = 253402300799;
// the group name that stands for every group
constexpr const char *kAnyGroup = "*";

struct Policy {
	int64_t not_before = 0;
	int64_t not_after = 0;
	uint32_t uses = 0;
	std::vector<std::string> groups; // kAnyGroup for any

	bool covers_group(std::string_view group) const;
};

struct Entry {
	Certificate certificate;
	Policy policy;
	// a detached CMS SignedData over the DER of EntryTBS; empty: none
	Bytes signature;
};

struct TrustList {
	std::string name; // also the name it is stored under
	uint64_t serial = 0;
	int64_t issued = 0;
	int64_t not_before = 0; // the list's own validity
	int64_t not_after = 0;
	std::vector<Entry> entries;
};

// Collection names are file names: 1..64 of [A-Za-z0-9._-], no leading dot.
bool valid_name(std::string_view name);

// The DER of TrustList (the signed content), checked first.
Result<Bytes> encode_trust_list(const TrustList &list);
// Strict DER decoding and the same checks; no signature is looked at.
Result<TrustList> decode_trust_list(ByteView der);
// The DER of EntryTBS ::= SEQUENCE { certificate, policy }: what an entry signature covers.
Bytes entry_tbs(const Entry &e);

// Someone who signs: a certificate and its private key.
struct Signer {
	Certificate certificate;
	PrivateKey key;
};

// What signing a list does with the entries' own signatures.
enum class EntrySignatures {
	None, // entries unsigned
	Sign, // every entry signed on its own by the same signers
	Keep, // the signatures the entries carry (signed earlier, e.g. when accepted)
};

// Signs the list with every signer (at least one); returns the DER
// ContentInfo (SignedData, eContentType id-ct-groupsecTrustList).
Result<Bytes> sign_trust_list(TrustList list, const std::vector<Signer> &signers,
			      EntrySignatures entries);
// The detached signature of one entry (its Entry::signature).
Result<Bytes> sign_entry(const Entry &e, const std::vector<Signer> &signers);

// Envelops a signed list for the recipients (CMS EnvelopedData, AES-256-CBC,
// one RecipientInfo per certificate: RSA key transport or ECDH key agreement).
Result<Bytes> envelop(ByteView signed_der, const std::vector<Certificate> &recipients);
// Whether data is a CMS ContentInfo of EnvelopedData (without checking more).
bool is_enveloped(ByteView data);
// The signed list inside an envelope, for a recipient holding cert and key.
Result<Bytes> open_envelope(ByteView enveloped, const Certificate &certificate,
			    const PrivateKey &key);

// the most signers a list may have
constexpr size_t kMaxSigners = 16;

struct VerifiedList {
	TrustList list;
	std::vector<Certificate> signers; // the trusted signers that signed it, each once
	Bytes signed_der;                 // the ContentInfo as verified
};

// Verifies a signed list (DER ContentInfo) against the trusted signers
// alone (no chain, no CA: the signers were checked by a person), then every
// entry signature present against the same signers; decodes the content.
Result<VerifiedList> verify_trust_list(ByteView signed_der,
				       const std::vector<Certificate> &trusted_signers);

// Whether the list itself is within its validity at now.
Result<bool> check_list_current(const TrustList &list, int64_t now);

// Whether the entry accepts its certificate for group and use at now:
// within the list's validity, the policy's and the certificate's own, for
// that use and group. The error says which check failed.
Result<bool> check_entry(const TrustList &list, const Entry &e, std::string_view group, uint32_t use,
			 int64_t now);

} // namespace groupsec::trust
