// SPDX-License-Identifier: GPL-2.0-or-later
// lib/groupsec/trust: the DER helpers, the signed and enveloped trust list
// format, and the store of collections.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "groupsec/trust/collection.h"
#include "groupsec/trust/der.h"
#include "groupsec/trust/store.h"
#include "groupsec/trust/store_c.h"
#include "trust_test_util.h"

namespace groupsec::trust {
namespace {

using namespace testing;

bool contains(const std::string &s, const std::string &part)
{
	return s.find(part) != std::string::npos;
}

// --- DER

TEST(TrustDer, IntegerRoundTripAndMinimalForm)
{
	for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 0x7fffffffffffffffull,
			   0xffffffffffffffffull}) {
		Bytes b = der::integer(v);
		der::Reader r(b, "t");
		auto got = r.integer("v", UINT64_MAX);
		ASSERT_TRUE(got.ok()) << v;
		EXPECT_EQ(got.value(), v);
	}
	Bytes padded{0x02, 0x02, 0x00, 0x05};
	der::Reader r(padded, "t");
	auto got = r.integer("v", UINT64_MAX);
	ASSERT_FALSE(got.ok());
	EXPECT_TRUE(contains(got.error().message, "not minimally encoded"));
	Bytes negative{0x02, 0x01, 0x80};
	der::Reader r2(negative, "t");
	EXPECT_FALSE(r2.integer("v", UINT64_MAX).ok());
}

TEST(TrustDer, LengthsMustBeDefiniteAndMinimal)
{
	Bytes indefinite{0x30, 0x80, 0x00, 0x00};
	der::Reader r1(indefinite, "t");
	EXPECT_EQ(r1.any().error().code, WireError::BadLength);
	Bytes long_short{0x04, 0x81, 0x01, 0xaa};
	der::Reader r2(long_short, "t");
	EXPECT_EQ(r2.any().error().code, WireError::BadLength);
	Bytes past_end{0x04, 0x05, 0xaa};
	der::Reader r3(past_end, "t");
	EXPECT_EQ(r3.any().error().code, WireError::Truncated);
	Bytes big(300, 0xab);
	Bytes t = der::tlv(der::kOctetString, big);
	EXPECT_EQ(t[1], 0x82);
	der::Reader r4(t, "t");
	auto o = r4.octets("o");
	ASSERT_TRUE(o.ok());
	EXPECT_EQ(o.value().size(), 300u);
}

TEST(TrustDer, TimeRoundTripAndStrictForm)
{
	for (int64_t t : {int64_t(0), kJan2026, int64_t(951782400) /* 2000-02-29 */, kMaxTime}) {
		Bytes b = der::time(t);
		der::Reader r(b, "t");
		auto got = r.time("t");
		ASSERT_TRUE(got.ok()) << t;
		EXPECT_EQ(got.value(), t);
	}
	EXPECT_EQ(der::time_text(kJan2026), "2026-01-01 00:00:00");
	for (const char *bad : {"20260101000000", "20260230000000Z", "20250229000000Z", "20260101240000Z",
				"2026010100000Z", "19691231235959Z", "20260101000000+0100"}) {
		Bytes b = der::text(bad, der::kGeneralizedTime);
		der::Reader r(b, "t");
		EXPECT_FALSE(r.time("t").ok()) << bad;
	}
}

TEST(TrustDer, BitStringsAreDer)
{
	for (uint32_t m : {0u, 1u, 2u, 0xfu, 0x80u, 0x100u, 0x80000000u}) {
		Bytes b = der::bits(m);
		der::Reader r(b, "t");
		auto got = r.bits("b");
		ASSERT_TRUE(got.ok()) << m;
		EXPECT_EQ(got.value(), m);
	}
	// member only: one octet 0x40, six unused bits
	EXPECT_EQ(der::bits(kUseMember), (Bytes{0x03, 0x02, 0x06, 0x40}));
	for (Bytes bad : {Bytes{0x03, 0x02, 0x00, 0x40}, Bytes{0x03, 0x02, 0x06, 0x41},
			  Bytes{0x03, 0x02, 0x00, 0x00}, Bytes{0x03, 0x01, 0x01}, Bytes{0x03, 0x00}}) {
		der::Reader r(bad, "t");
		EXPECT_FALSE(r.bits("b").ok());
	}
}

TEST(TrustDer, TextIsUtf8WithoutControls)
{
	Bytes good = der::text("gr\xc3\xbcppe");
	der::Reader ok(good, "t");
	EXPECT_TRUE(ok.text("s", 64).ok());
	for (std::string bad : {std::string("a\nb"), std::string("\xc3"), std::string("\xc0\xaf"),
				std::string("\xed\xa0\x80"), std::string("")}) {
		Bytes b = der::text(bad);
		der::Reader r(b, "t");
		EXPECT_FALSE(r.text("s", 64).ok()) << bad;
	}
}

// --- certificates

TEST(TrustCertificate, ShowsWhatAPersonChecks)
{
	Signer a = make_identity("alice");
	EXPECT_EQ(a.certificate.subject(), "O=groupsec test, CN=alice");
	EXPECT_EQ(a.certificate.issuer(), "O=groupsec test, CN=alice");
	EXPECT_EQ(a.certificate.not_before(), kJan2026 - kYear);
	EXPECT_EQ(a.certificate.fingerprint().size(), 32u);
	EXPECT_EQ(a.certificate.fingerprint_text().size(), 32u * 3 - 1);
	std::string d = describe(a.certificate);
	EXPECT_TRUE(contains(d, "sha256:      " + a.certificate.fingerprint_text()));
	// PEM and DER give the same certificate
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, a.certificate.x509());
	char *p;
	long n = BIO_get_mem_data(b, &p);
	Bytes pem(p, p + n);
	BIO_free(b);
	auto c = Certificate::parse(pem);
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c.value().der(), a.certificate.der());
	Bytes trailing = a.certificate.der();
	trailing.push_back(0);
	EXPECT_EQ(Certificate::parse(trailing).error().code, WireError::TrailingBytes);
	EXPECT_FALSE(Certificate::parse(Bytes{0x30, 0x00}).ok());
}

// --- the collection format

class TrustListTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		a_ = make_identity("A");
		b_ = make_identity("B");
		c_ = make_identity("C");
		d_ = make_identity("D");
		mallory_ = make_identity("mallory");
		list_ = make_list("friends-of-a", 1,
				  {make_entry(b_.certificate, {"*"}, kUseMember | kUseIke),
				   make_entry(c_.certificate, {"group-1", "group-2"}, kUseKeyServer),
				   make_entry(d_.certificate, {"group-1"}, kUseMember, kJan2026 - kYear,
					      kJan2026 - 1)});
	}

	Bytes signed_list(EntrySignatures e = EntrySignatures::None)
	{
		auto s = sign_trust_list(list_, {a_}, e);
		EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
		return s.value();
	}

	Signer a_, b_, c_, d_, mallory_;
	TrustList list_;
};

TEST_F(TrustListTest, EncodeDecodeRoundTrip)
{
	auto der = encode_trust_list(list_);
	ASSERT_TRUE(der.ok());
	auto back = decode_trust_list(der.value());
	ASSERT_TRUE(back.ok()) << back.error().message;
	const TrustList &l = back.value();
	EXPECT_EQ(l.name, list_.name);
	EXPECT_EQ(l.serial, 1u);
	EXPECT_EQ(l.issued, list_.issued);
	EXPECT_EQ(l.not_after, list_.not_after);
	ASSERT_EQ(l.entries.size(), 3u);
	EXPECT_EQ(l.entries[1].certificate.der(), c_.certificate.der());
	EXPECT_EQ(l.entries[1].policy.groups, (std::vector<std::string>{"group-1", "group-2"}));
	EXPECT_EQ(l.entries[1].policy.uses, uint32_t(kUseKeyServer));
	EXPECT_EQ(l.entries[2].policy.not_after, kJan2026 - 1);
	EXPECT_EQ(encode_trust_list(l).value(), der.value());
}

TEST_F(TrustListTest, EncoderRefusesWhatTheDecoderWould)
{
	TrustList l = list_;
	l.entries.push_back(l.entries[0]);
	EXPECT_EQ(encode_trust_list(l).error().code, WireError::Duplicate);
	l = list_;
	l.entries[0].policy.groups.clear();
	EXPECT_TRUE(contains(encode_trust_list(l).error().message, "no group"));
	l = list_;
	l.entries[0].policy.uses = 0;
	EXPECT_TRUE(contains(encode_trust_list(l).error().message, "no use"));
	l = list_;
	l.name = "../etc";
	EXPECT_FALSE(encode_trust_list(l).ok());
	l = list_;
	l.not_after = l.not_before - 1;
	EXPECT_FALSE(encode_trust_list(l).ok());
}

TEST_F(TrustListTest, SignAndVerify)
{
	for (auto mode : {EntrySignatures::None, EntrySignatures::Sign}) {
		Bytes s = signed_list(mode);
		auto v = verify_trust_list(s, {mallory_.certificate, a_.certificate});
		ASSERT_TRUE(v.ok()) << v.error().message;
		ASSERT_EQ(v.value().signers.size(), 1u);
		EXPECT_EQ(v.value().signers[0].der(), a_.certificate.der());
		EXPECT_EQ(v.value().signed_der, s);
		ASSERT_EQ(v.value().list.entries.size(), 3u);
		EXPECT_EQ(v.value().list.entries[0].signature.empty(), mode == EntrySignatures::None);
	}
}

TEST_F(TrustListTest, TwoSignersBothVerify)
{
	auto s = sign_trust_list(list_, {a_, b_}, EntrySignatures::Sign);
	ASSERT_TRUE(s.ok()) << s.error().message;
	auto both = verify_trust_list(s.value(), {c_.certificate, a_.certificate, b_.certificate});
	ASSERT_TRUE(both.ok());
	EXPECT_EQ(both.value().signers.size(), 2u);
	// every signer must be trusted: with only A, B's signature has no certificate
	auto only_a = verify_trust_list(s.value(), {a_.certificate});
	ASSERT_FALSE(only_a.ok());
	EXPECT_TRUE(contains(only_a.error().message, "unknown signer"));
}

TEST_F(TrustListTest, UnknownSignerIsRejected)
{
	Bytes s = signed_list();
	auto v = verify_trust_list(s, {mallory_.certificate});
	ASSERT_FALSE(v.ok());
	EXPECT_EQ(v.error().code, WireError::IntegrityFailed);
	EXPECT_TRUE(contains(v.error().message, "unknown signer")) << v.error().message;
	EXPECT_FALSE(verify_trust_list(s, {}).ok());
}

TEST_F(TrustListTest, WrongKeyForTheSignerIsRejected)
{
	// mallory signs with his key but claims A's certificate
	Signer forged{a_.certificate, mallory_.key};
	EXPECT_EQ(sign_trust_list(list_, {forged}, EntrySignatures::None).error().code, WireError::BadKey);
	// a certificate with A's name and serial but mallory's key cannot verify
	auto s = sign_trust_list(list_, {mallory_}, EntrySignatures::None);
	ASSERT_TRUE(s.ok());
	EXPECT_FALSE(verify_trust_list(s.value(), {a_.certificate}).ok());
}

TEST_F(TrustListTest, EveryFlippedByteIsRejected)
{
	Bytes s = signed_list(EntrySignatures::Sign);
	size_t step = s.size() > 2000 ? 3 : 1;
	for (size_t i = 0; i < s.size(); i += step) {
		Bytes t = s;
		t[i] ^= 0x01;
		auto v = verify_trust_list(t, {a_.certificate});
		if (v.ok()) {
			// a flip inside an unsigned field can leave the signed content
			// intact; it must then decode to the very same list
			EXPECT_EQ(encode_trust_list(v.value().list).value(),
				  encode_trust_list(verify_trust_list(s, {a_.certificate}).value().list).value())
				<< "byte " << i;
		} else {
			EXPECT_FALSE(v.error().message.empty());
		}
	}
}

TEST_F(TrustListTest, FlippedContentByteFailsTheSignature)
{
	Bytes s = signed_list();
	Bytes content = encode_trust_list(list_).value();
	// find the list's name inside the signed content and change one letter
	std::string name = list_.name;
	auto it = std::search(s.begin(), s.end(), name.begin(), name.end());
	ASSERT_NE(it, s.end());
	*it ^= 0x20;
	auto v = verify_trust_list(s, {a_.certificate});
	ASSERT_FALSE(v.ok());
	EXPECT_TRUE(contains(v.error().message, "does not verify")) << v.error().message;
}

TEST_F(TrustListTest, EveryTruncationIsRejected)
{
	Bytes s = signed_list();
	for (size_t n = 0; n < s.size(); n++) {
		auto v = verify_trust_list(ByteView(s.data(), n), {a_.certificate});
		ASSERT_FALSE(v.ok()) << n;
	}
	auto v = verify_trust_list(ByteView(s.data(), s.size() / 2), {a_.certificate});
	EXPECT_TRUE(contains(v.error().message, "truncated")) << v.error().message;
	Bytes longer = s;
	longer.push_back(0);
	EXPECT_EQ(verify_trust_list(longer, {a_.certificate}).error().code, WireError::TrailingBytes);
}

TEST_F(TrustListTest, EntrySignatureByAnotherSignerIsRejected)
{
	// entries signed by mallory, the list by A: A's list vouches for them,
	// but an entry signature must come from a trusted signer too
	for (auto &e : list_.entries)
		e.signature = sign_entry(e, {mallory_}).value();
	auto s = sign_trust_list(list_, {a_}, EntrySignatures::Keep);
	ASSERT_TRUE(s.ok());
	auto v = verify_trust_list(s.value(), {a_.certificate});
	ASSERT_FALSE(v.ok());
	EXPECT_TRUE(contains(v.error().message, "entry")) << v.error().message;
	EXPECT_TRUE(contains(v.error().message, "unknown signer")) << v.error().message;
	// an entry signature moved to another entry does not verify either
	for (auto &e : list_.entries)
		e.signature = sign_entry(e, {a_}).value();
	std::swap(list_.entries[0].signature, list_.entries[1].signature);
	s = sign_trust_list(list_, {a_}, EntrySignatures::Keep);
	v = verify_trust_list(s.value(), {a_.certificate});
	ASSERT_FALSE(v.ok());
	EXPECT_TRUE(contains(v.error().message, "does not verify")) << v.error().message;
}

TEST_F(TrustListTest, PolicyChecks)
{
	const TrustList &l = list_;
	int64_t now = kJan2026;
	EXPECT_TRUE(check_entry(l, l.entries[0], "any-group", kUseMember, now).ok());
	EXPECT_TRUE(check_entry(l, l.entries[1], "group-2", kUseKeyServer, now).ok());
	auto g = check_entry(l, l.entries[1], "group-3", kUseKeyServer, now);
	ASSERT_FALSE(g.ok());
	EXPECT_TRUE(contains(g.error().message, "excludes the group group-3")) << g.error().message;
	auto u = check_entry(l, l.entries[1], "group-1", kUseMember, now);
	ASSERT_FALSE(u.ok());
	EXPECT_TRUE(contains(u.error().message, "excludes the use member")) << u.error().message;
	auto expired = check_entry(l, l.entries[2], "group-1", kUseMember, now);
	ASSERT_FALSE(expired.ok());
	EXPECT_TRUE(contains(expired.error().message, "expired on 2025-12-31 23:59:59")) << expired.error().message;
	auto list_expired = check_entry(l, l.entries[0], "g", kUseMember, l.not_after + 1);
	ASSERT_FALSE(list_expired.ok());
	EXPECT_TRUE(contains(list_expired.error().message, "trust list friends-of-a expired"));
	auto cert_expired = check_entry(l, l.entries[0], "g", kUseMember, kJan2026 + kYear - 1);
	EXPECT_TRUE(cert_expired.ok());
	EXPECT_TRUE(check_list_current(l, now).ok());
}

TEST_F(TrustListTest, UsesText)
{
	EXPECT_EQ(parse_uses("member,key-server").value(), uint32_t(kUseMember | kUseKeyServer));
	EXPECT_EQ(parse_uses("any").value(), kAllUses);
	EXPECT_FALSE(parse_uses("member,,ike").ok());
	EXPECT_FALSE(parse_uses("root").ok());
	EXPECT_EQ(uses_text(kUseKeyServer | kUseIke), "key-server,ike");
}

TEST_F(TrustListTest, EnvelopedOpensOnlyForItsRecipients)
{
	Bytes s = signed_list();
	auto env = envelop(s, {b_.certificate, c_.certificate});
	ASSERT_TRUE(env.ok()) << env.error().message;
	EXPECT_TRUE(is_enveloped(env.value()));
	EXPECT_FALSE(is_enveloped(s));
	for (const Signer *r : {&b_, &c_}) {
		auto opened = open_envelope(env.value(), r->certificate, r->key);
		ASSERT_TRUE(opened.ok()) << opened.error().message;
		EXPECT_EQ(opened.value(), s);
		EXPECT_TRUE(verify_trust_list(opened.value(), {a_.certificate}).ok());
	}
	auto d = open_envelope(env.value(), d_.certificate, d_.key);
	ASSERT_FALSE(d.ok());
	EXPECT_TRUE(contains(d.error().message, "not a recipient")) << d.error().message;
	// D holding C's certificate without C's key gets nowhere either
	EXPECT_EQ(open_envelope(env.value(), c_.certificate, d_.key).error().code, WireError::BadKey);
	// the signed list is not readable in the envelope
	auto it = std::search(env.value().begin(), env.value().end(), list_.name.begin(), list_.name.end());
	EXPECT_EQ(it, env.value().end());
	Bytes flipped = env.value();
	flipped[flipped.size() - 5] ^= 0x01;
	auto f = open_envelope(flipped, b_.certificate, b_.key);
	if (f.ok()) {
		EXPECT_FALSE(verify_trust_list(f.value(), {a_.certificate}).ok());
	}
}

TEST_F(TrustListTest, RsaSignerAndRecipient)
{
	Signer r = make_identity("R", kJan2026 - kYear, kJan2026 + kYear, true);
	auto s = sign_trust_list(list_, {r, a_}, EntrySignatures::Sign);
	ASSERT_TRUE(s.ok()) << s.error().message;
	EXPECT_TRUE(verify_trust_list(s.value(), {a_.certificate, r.certificate}).ok());
	EXPECT_FALSE(verify_trust_list(s.value(), {r.certificate}).ok());
	auto env = envelop(s.value(), {r.certificate, b_.certificate});
	ASSERT_TRUE(env.ok()) << env.error().message;
	auto opened = open_envelope(env.value(), r.certificate, r.key);
	ASSERT_TRUE(opened.ok()) << opened.error().message;
	EXPECT_EQ(opened.value(), s.value());
	EXPECT_TRUE(contains(open_envelope(env.value(), c_.certificate, c_.key).error().message,
			     "not a recipient"));
}

// --- the store

class FakeClock : public WallClock {
public:
	int64_t now() const override { return t; }
	int64_t t = kJan2026;
};

class FakeConditions : public ConditionSource {
public:
	bool holds(const Condition &c) const override { return up.count(c.text()) > 0; }
	std::set<std::string> up;
};

// A directory that fails writes on demand.
class FailingFs : public DirectoryFs {
public:
	using DirectoryFs::DirectoryFs;
	Result<bool> write_atomic(const std::string &name, ByteView data) override
	{
		if (fail)
			return make_error(WireError::Unsupported, "disk full");
		return DirectoryFs::write_atomic(name, data);
	}
	bool fail = false;
};

class TrustStoreTest : public TrustListTest {
protected:
	void SetUp() override
	{
		TrustListTest::SetUp();
		char tmpl[] = "/tmp/gstrust-test-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
		dir_ += "/store";
		fs_ = std::make_unique<FailingFs>(dir_);
		ASSERT_TRUE(fs_->prepare().ok());
		store_ = std::make_unique<TrustStore>(*fs_, clock_);
	}
	void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }

	std::vector<std::string> trusted_subjects(std::string_view group, uint32_t use)
	{
		std::vector<std::string> v;
		for (const auto &t : store_->trusted(group, use, conditions_))
			v.push_back(t.certificate.subject());
		return v;
	}

	std::string dir_;
	FakeClock clock_;
	FakeConditions conditions_;
	std::unique_ptr<FailingFs> fs_;
	std::unique_ptr<TrustStore> store_;
};

TEST_F(TrustStoreTest, ImportShowsTheTrustedSetPerGroupAndUse)
{
	auto name = store_->import(signed_list(EntrySignatures::Sign), {a_.certificate}, {});
	ASSERT_TRUE(name.ok()) << name.error().message;
	EXPECT_EQ(name.value(), "friends-of-a");
	EXPECT_EQ(trusted_subjects("group-1", kUseKeyServer),
		  (std::vector<std::string>{"O=groupsec test, CN=C"}));
	EXPECT_EQ(trusted_subjects("group-9", kUseMember), (std::vector<std::string>{"O=groupsec test, CN=B"}));
	// D's policy has expired: in no trusted set
	EXPECT_EQ(trusted_subjects("", 0).size(), 2u);
	auto c = store_->check(c_.certificate, "group-1", kUseKeyServer, conditions_);
	ASSERT_TRUE(c.ok());
	EXPECT_EQ(c.value().collection, "friends-of-a");
	auto excluded = store_->check(c_.certificate, "group-3", kUseKeyServer, conditions_);
	ASSERT_FALSE(excluded.ok());
	EXPECT_TRUE(contains(excluded.error().message, "excludes the group group-3"));
	auto unknown = store_->check(mallory_.certificate, "group-1", kUseKeyServer, conditions_);
	ASSERT_FALSE(unknown.ok());
	EXPECT_TRUE(contains(unknown.error().message, "in no stored collection"));
	auto export_ = store_->export_signed("friends-of-a");
	ASSERT_TRUE(export_.ok());
	EXPECT_TRUE(verify_trust_list(export_.value(), {a_.certificate}).ok());
	EXPECT_EQ(store_->export_signed("nope").error().code, WireError::Missing);
}

TEST_F(TrustStoreTest, BadInputChangesNothing)
{
	Bytes s = signed_list();
	Bytes flipped = s;
	auto it = std::search(flipped.begin(), flipped.end(), list_.name.begin(), list_.name.end());
	*it ^= 0x20;
	EXPECT_FALSE(store_->import(flipped, {a_.certificate}, {}).ok());
	EXPECT_FALSE(store_->import(s, {mallory_.certificate}, {}).ok());
	EXPECT_FALSE(store_->import(ByteView(s.data(), s.size() - 1), {a_.certificate}, {}).ok());
	EXPECT_FALSE(store_->import(envelop(s, {b_.certificate}).value(), {a_.certificate}, {}).ok());
	ImportOptions bad_cond;
	bad_cond.state = State::Conditional;
	bad_cond.condition = "whenever";
	EXPECT_FALSE(store_->import(s, {a_.certificate}, bad_cond).ok());
	// an expired list
	clock_.t = list_.not_after + 1;
	auto expired = store_->import(s, {a_.certificate}, {});
	ASSERT_FALSE(expired.ok());
	EXPECT_TRUE(contains(expired.error().message, "expired"));
	clock_.t = kJan2026;
	// a write that fails
	fs_->fail = true;
	EXPECT_FALSE(store_->import(s, {a_.certificate}, {}).ok());
	fs_->fail = false;
	EXPECT_TRUE(store_->collections().empty());
	EXPECT_TRUE(trusted_subjects("", 0).empty());
	EXPECT_TRUE(fs_->list().value().empty());
}

TEST_F(TrustStoreTest, StatesAndConditions)
{
	ASSERT_TRUE(store_->import(signed_list(), {a_.certificate}, {}).ok());
	ASSERT_TRUE(store_->set_state("friends-of-a", State::Disabled).ok());
	EXPECT_TRUE(trusted_subjects("group-1", kUseKeyServer).empty());
	auto why = store_->check(c_.certificate, "group-1", kUseKeyServer, conditions_);
	ASSERT_FALSE(why.ok());
	EXPECT_TRUE(contains(why.error().message, "inactive collections: friends-of-a (disabled)")) << why.error().message;
	ASSERT_TRUE(store_->set_state("friends-of-a", State::Enabled).ok());
	EXPECT_EQ(trusted_subjects("group-1", kUseKeyServer).size(), 1u);
	ASSERT_TRUE(store_->set_state("friends-of-a", State::Conditional, "registered:group-1").ok());
	EXPECT_TRUE(trusted_subjects("group-1", kUseKeyServer).empty());
	conditions_.up.insert("registered:group-1");
	EXPECT_EQ(trusted_subjects("group-1", kUseKeyServer).size(), 1u);
	conditions_.up.clear();
	why = store_->check(c_.certificate, "group-1", kUseKeyServer, conditions_);
	EXPECT_TRUE(contains(why.error().message, "conditional on registered:group-1")) << why.error().message;
	EXPECT_FALSE(store_->set_state("friends-of-a", State::Conditional, "bogus").ok());
	EXPECT_FALSE(store_->set_state("friends-of-a", State::Enabled, "registered:x").ok());
	EXPECT_FALSE(store_->set_state("nope", State::Enabled).ok());
	// a failed write keeps the old state
	fs_->fail = true;
	EXPECT_FALSE(store_->set_state("friends-of-a", State::Disabled).ok());
	fs_->fail = false;
	EXPECT_EQ(store_->find("friends-of-a")->state, State::Conditional);
	// time passes: the list expires
	conditions_.up.insert("registered:group-1");
	clock_.t = list_.not_after + 1;
	EXPECT_TRUE(trusted_subjects("", 0).empty());
}

TEST_F(TrustStoreTest, KeptAcrossRestarts)
{
	ASSERT_TRUE(store_->import(signed_list(), {a_.certificate}, {}).ok());
	auto second = make_list("c-only", 7, {make_entry(c_.certificate, {"group-1"}, kUseKeyServer)});
	ImportOptions cond;
	cond.state = State::Conditional;
	cond.condition = "connected:CN=A";
	ASSERT_TRUE(store_->import(sign_trust_list(second, {b_}, EntrySignatures::None).value(),
				   {b_.certificate}, cond)
			    .ok());
	ASSERT_TRUE(store_->set_state("friends-of-a", State::Disabled).ok());

	TrustStore again(*fs_, clock_);
	EXPECT_TRUE(again.load().empty());
	ASSERT_EQ(again.collections().size(), 2u);
	const StoredCollection *f = again.find("friends-of-a");
	ASSERT_NE(f, nullptr);
	EXPECT_EQ(f->state, State::Disabled);
	ASSERT_EQ(f->signers.size(), 1u);
	EXPECT_EQ(f->signers[0].der(), a_.certificate.der());
	const StoredCollection *c = again.find("c-only");
	ASSERT_NE(c, nullptr);
	EXPECT_EQ(c->state, State::Conditional);
	EXPECT_EQ(c->condition, "connected:CN=A");
	EXPECT_EQ(c->list.serial, 7u);
	EXPECT_EQ(c->imported, kJan2026);

	ASSERT_TRUE(again.remove("c-only").ok());
	EXPECT_FALSE(again.remove("c-only").ok());
	TrustStore third(*fs_, clock_);
	EXPECT_TRUE(third.load().empty());
	EXPECT_EQ(third.collections().size(), 1u);
}

TEST_F(TrustStoreTest, EverySignerIsKeptAcrossRestarts)
{
	auto s = sign_trust_list(list_, {a_, b_}, EntrySignatures::Sign);
	ASSERT_TRUE(s.ok());
	ASSERT_TRUE(store_->import(s.value(), {a_.certificate, b_.certificate, c_.certificate}, {}).ok());
	EXPECT_EQ(store_->find("friends-of-a")->signers.size(), 2u);
	TrustStore again(*fs_, clock_);
	EXPECT_TRUE(again.load().empty());
	ASSERT_NE(again.find("friends-of-a"), nullptr);
	EXPECT_EQ(again.find("friends-of-a")->signers.size(), 2u);
}

TEST_F(TrustStoreTest, AlteredFileOnDiskIsLeftOut)
{
	ASSERT_TRUE(store_->import(signed_list(), {a_.certificate}, {}).ok());
	std::string path = dir_ + "/friends-of-a.gstl";
	Bytes data = fs_->read("friends-of-a.gstl").value();
	auto it = std::search(data.begin(), data.end(), list_.name.begin(), list_.name.end());
	*it ^= 0x20;
	ASSERT_TRUE(fs_->write_atomic("friends-of-a.gstl", data).ok());
	TrustStore again(*fs_, clock_);
	auto problems = again.load();
	ASSERT_EQ(problems.size(), 1u);
	EXPECT_TRUE(contains(problems[0], "friends-of-a.gstl")) << problems[0];
	EXPECT_TRUE(again.collections().empty());
	// the stored form round-trips
	StoredCollection c = *store_->find("friends-of-a");
	auto enc = encode_stored(c);
	ASSERT_TRUE(enc.ok());
	auto dec = decode_stored(enc.value());
	ASSERT_TRUE(dec.ok()) << dec.error().message;
	EXPECT_EQ(encode_stored(dec.value()).value(), enc.value());
}

TEST_F(TrustStoreTest, ReplaceNeedsANewerSerial)
{
	ASSERT_TRUE(store_->import(signed_list(), {a_.certificate}, {}).ok());
	ASSERT_TRUE(store_->set_state("friends-of-a", State::Disabled).ok());
	auto dup = store_->import(signed_list(), {a_.certificate}, {});
	ASSERT_FALSE(dup.ok());
	EXPECT_EQ(dup.error().code, WireError::Duplicate);
	ImportOptions replace;
	replace.replace = true;
	auto same = store_->import(signed_list(), {a_.certificate}, replace);
	ASSERT_FALSE(same.ok());
	EXPECT_TRUE(contains(same.error().message, "not newer"));
	list_.serial = 2;
	list_.entries.pop_back();
	ASSERT_TRUE(store_->import(signed_list(), {a_.certificate}, replace).ok());
	EXPECT_EQ(store_->find("friends-of-a")->list.entries.size(), 2u);
	EXPECT_EQ(store_->find("friends-of-a")->state, State::Disabled);
}

// --- the C interface the charon glue reads

void collect(void *ctx, const uint8_t *der, size_t len)
{
	static_cast<std::vector<Bytes> *>(ctx)->emplace_back(der, der + len);
}

void count_problem(void *ctx, const char *)
{
	++*static_cast<int *>(ctx);
}

// conditions for the C interface: the set of "KIND:ARGUMENT" that hold
int holds_in(void *ctx, const char *kind, const char *argument)
{
	auto *up = static_cast<std::set<std::string> *>(ctx);
	return up->count(std::string(kind) + ":" + argument) > 0;
}

TEST_F(TrustStoreTest, CInterfaceServesAndChecksPerGroupAndUse)
{
	// B: member of every group; C: key server of g1 only; E: ike, every group;
	// all current by the system clock
	int64_t now = SystemWallClock().now();
	Signer e = make_identity("E", now - kYear, now + kYear);
	Signer b = make_identity("B", now - kYear, now + kYear);
	Signer c = make_identity("C", now - kYear, now + kYear);
	Signer stranger = make_identity("stranger", now - kYear, now + kYear);
	TrustList l = make_list("c-api", 1,
				{make_entry(b.certificate, {"*"}, kUseMember, now - 10, now + kYear),
				 make_entry(c.certificate, {"g1"}, kUseKeyServer, now - 10, now + kYear),
				 make_entry(e.certificate, {"*"}, kUseIke, now - 10, now + kYear)});
	l.not_before = now - 10;
	l.not_after = now + kYear;
	clock_.t = now;
	ASSERT_TRUE(store_->import(sign_trust_list(l, {a_}, EntrySignatures::None).value(), {a_.certificate}, {})
			    .ok());

	gs_trust_store *cs = gs_trust_store_open(dir_.c_str());
	ASSERT_NE(cs, nullptr);
	int problems = 0;
	EXPECT_EQ(gs_trust_store_load(cs, count_problem, &problems), 1);
	EXPECT_EQ(problems, 0);
	// served: every certificate trusted for one of the uses in some group
	std::vector<Bytes> got;
	EXPECT_EQ(gs_trust_store_trusted(cs, GS_TRUST_USE_KEY_SERVER | GS_TRUST_USE_MEMBER, nullptr, nullptr,
					 collect, &got),
		  2);
	EXPECT_EQ(std::set<Bytes>(got.begin(), got.end()),
		  (std::set<Bytes>{b.certificate.der(), c.certificate.der()}));
	got.clear();
	EXPECT_EQ(gs_trust_store_trusted(cs, GS_TRUST_USE_IKE, nullptr, nullptr, collect, &got), 1);

	// checked: for the group and use the peer is verified in
	char why[256];
	const Bytes &cd = c.certificate.der();
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1", GS_TRUST_USE_KEY_SERVER, nullptr, nullptr,
				       why, sizeof(why)),
		  GS_TRUST_TRUSTED);
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g2", GS_TRUST_USE_KEY_SERVER, nullptr, nullptr,
				       why, sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_TRUE(contains(why, "g2")) << why;
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1", GS_TRUST_USE_MEMBER, nullptr, nullptr, why,
				       sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_TRUE(contains(why, "member")) << why;
	const Bytes &sd = stranger.certificate.der();
	EXPECT_EQ(gs_trust_store_check(cs, sd.data(), sd.size(), "g1", GS_TRUST_USE_KEY_SERVER, nullptr, nullptr,
				       why, sizeof(why)),
		  GS_TRUST_NOT_LISTED);
	// a garbled certificate, no group, several uses: refused
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size() - 1, "g1", GS_TRUST_USE_KEY_SERVER, nullptr,
				       nullptr, why, sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "", GS_TRUST_USE_KEY_SERVER, nullptr, nullptr, why,
				       sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1",
				       GS_TRUST_USE_KEY_SERVER | GS_TRUST_USE_MEMBER, nullptr, nullptr, why,
				       sizeof(why)),
		  GS_TRUST_REFUSED);

	// conditional on connected:A: trusted only while the condition holds
	ASSERT_TRUE(store_->set_state("c-api", State::Conditional, "connected:A").ok());
	EXPECT_EQ(gs_trust_store_load(cs, count_problem, &problems), 1);
	std::set<std::string> up;
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1", GS_TRUST_USE_KEY_SERVER, holds_in, &up, why,
				       sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_TRUE(contains(why, "connected:A, which does not hold")) << why;
	up.insert("connected:A");
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1", GS_TRUST_USE_KEY_SERVER, holds_in, &up, why,
				       sizeof(why)),
		  GS_TRUST_TRUSTED);
	up.clear();
	got.clear();
	EXPECT_EQ(gs_trust_store_trusted(cs, kAllUses, holds_in, &up, collect, &got), 0);

	ASSERT_TRUE(store_->set_state("c-api", State::Disabled).ok());
	EXPECT_EQ(gs_trust_store_load(cs, count_problem, &problems), 1);
	got.clear();
	EXPECT_EQ(gs_trust_store_trusted(cs, kAllUses, nullptr, nullptr, collect, &got), 0);
	EXPECT_EQ(gs_trust_store_check(cs, cd.data(), cd.size(), "g1", GS_TRUST_USE_KEY_SERVER, nullptr, nullptr,
				       why, sizeof(why)),
		  GS_TRUST_REFUSED);
	EXPECT_TRUE(contains(why, "disabled")) << why;
	gs_trust_store_destroy(cs);

	// a store that is not there yet is empty, and no problem
	std::string missing = dir_ + "/not-yet";
	cs = gs_trust_store_open(missing.c_str());
	EXPECT_EQ(gs_trust_store_load(cs, count_problem, &problems), 0);
	EXPECT_EQ(problems, 0);
	gs_trust_store_destroy(cs);
}

} // namespace
} // namespace groupsec::trust
