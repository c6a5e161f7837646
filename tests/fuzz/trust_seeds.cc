// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the seed corpus of fuzz_trust_collection. Build and run from the
// source tree (after building lib/groupsec/trust, see docs/trust-lists.md):
//   g++ -std=c++17 -Ilib -Itests/fuzz tests/fuzz/trust_seeds.cc \
//     build/obj/lib/groupsec/trust/.libs/libgstrust.a build/obj/lib/groupsec/ident/.libs/libgsident.a \
//     build/obj/lib/groupsec/net/.libs/libgsnet.a build/obj/lib/groupsec/crypto/.libs/libgscrypto.a \
//     build/obj/lib/groupsec/base/.libs/libgsbase.a -lcrypto -o /tmp/trust_seeds
//   /tmp/trust_seeds tests/fuzz/corpus/fuzz_trust_collection
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "groupsec/trust/collection.h"
#include "groupsec/trust/store.h"
#include "trust_fuzz_keys.h"

using namespace groupsec;
using namespace groupsec::trust;

namespace {

template <typename R> auto must(R r)
{
	if (!r.ok()) {
		fprintf(stderr, "seed: %s\n", r.error().message.c_str());
		exit(1);
	}
	return r.value();
}

ByteView text_view(const char *s)
{
	return ByteView(reinterpret_cast<const uint8_t *>(s), std::string(s).size());
}

void write(const std::string &dir, const std::string &name, uint8_t mode, ByteView data)
{
	std::ofstream f(dir + "/" + name, std::ios::binary);
	f.put(static_cast<char>(mode));
	f.write(reinterpret_cast<const char *>(data.data()), static_cast<std::streamsize>(data.size()));
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: trust_seeds DIR\n");
		return 2;
	}
	std::string dir = argv[1];
	Signer signer{must(Certificate::parse(text_view(trust_fuzz::kSignerCert))),
		      must(PrivateKey::parse(text_view(trust_fuzz::kSignerKey)))};
	Certificate recipient = must(Certificate::parse(text_view(trust_fuzz::kRecipientCert)));
	TrustList l;
	l.name = "community";
	l.serial = 3;
	l.issued = 1767225600;
	l.not_before = 1767225600;
	l.not_after = 1767225600 + 10 * 365 * 86400;
	Entry e;
	e.certificate = recipient;
	e.policy = Policy{1767225600, 1767225600 + 365 * 86400, kUseKeyServer | kUseMember,
			  {"group-1", "*"}};
	l.entries.push_back(e);
	Entry s = e;
	s.certificate = signer.certificate;
	s.policy.uses = kUseIke;
	s.policy.groups = {"CN=group 2"};
	l.entries.push_back(s);

	Bytes content = must(encode_trust_list(l));
	write(dir, "content", 0, content);
	Bytes signed_plain = must(sign_trust_list(l, {signer}, EntrySignatures::None));
	write(dir, "signed", 1, signed_plain);
	Bytes signed_entries = must(sign_trust_list(l, {signer}, EntrySignatures::Sign));
	write(dir, "signed_entries", 1, signed_entries);
	StoredCollection c;
	c.list = l;
	c.signers = {signer.certificate};
	c.signed_der = signed_entries;
	c.state = State::Conditional;
	c.condition = "registered:group-1";
	c.imported = 1767225600;
	write(dir, "stored", 2, must(encode_stored(c)));
	write(dir, "enveloped", 3, must(envelop(signed_plain, {recipient})));
	write(dir, "certificate_der", 4, recipient.der());
	write(dir, "certificate_pem", 4, text_view(trust_fuzz::kSignerCert));
	write(dir, "uses", 4, text_view("key-server,member,ike"));
	write(dir, "condition", 4, text_view("connected:C=CH, O=groupsec, CN=a"));
	return 0;
}
