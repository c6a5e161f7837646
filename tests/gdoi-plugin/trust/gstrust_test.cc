// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust: each command against files and a store in a temporary folder,
// its output, its exit status and that a failing command changes nothing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gstrust.h"
#include "gdoi_trust_command.h"
#include "groupsec/vici/vici_wire.h"
#include "groupsec/trust/store.h"
#include "trust_test_util.h"

namespace groupsec::trust::gstrust {
namespace {

using namespace groupsec::trust::testing;

class FixedClock : public WallClock {
public:
	int64_t now() const override { return t; }
	int64_t t = kJan2026;
};

class GstrustTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		char tmpl[] = "/tmp/gstrust-tool-XXXXXX";
		ASSERT_NE(mkdtemp(tmpl), nullptr);
		dir_ = tmpl;
		for (const char *n : {"A", "B", "C", "D"}) {
			Signer s = make_identity(n);
			write(std::string(n) + ".crt", pem(s.certificate));
			write(std::string(n) + ".key", key_pem(s.key));
		}
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }

	static std::string pem(const Certificate &c)
	{
		BIO *b = BIO_new(BIO_s_mem());
		PEM_write_bio_X509(b, c.x509());
		char *p;
		long n = BIO_get_mem_data(b, &p);
		std::string s(p, static_cast<size_t>(n));
		BIO_free(b);
		return s;
	}
	static std::string key_pem(const PrivateKey &k)
	{
		BIO *b = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(b, k.pkey(), nullptr, nullptr, 0, nullptr, nullptr);
		char *p;
		long n = BIO_get_mem_data(b, &p);
		std::string s(p, static_cast<size_t>(n));
		BIO_free(b);
		return s;
	}
	void write(const std::string &name, const std::string &data)
	{
		std::ofstream(dir_ + "/" + name, std::ios::binary) << data;
	}
	std::string read(const std::string &name)
	{
		std::ifstream f(dir_ + "/" + name, std::ios::binary);
		return std::string(std::istreambuf_iterator<char>(f), {});
	}
	std::string f(const std::string &name) { return dir_ + "/" + name; }

	int gst(std::vector<std::string> args)
	{
		out_.clear();
		err_.clear();
		std::string store = dir_ + "/store";
		return run(args, store.c_str(), clock_, out_, err_);
	}

	// A vouches for B (member, any group) and C (key server of g1)
	void create_friends(std::vector<std::string> extra = {})
	{
		std::vector<std::string> args = {"create", "--name", "friends", "--signer", f("A.crt"),
						 "--key", f("A.key"), "--out", f("friends.cms")};
		args.insert(args.end(), extra.begin(), extra.end());
		for (const char *a : {"--cert", "B.crt", "--uses", "member", "--cert", "C.crt", "--groups",
				      "g1", "--uses", "key-server", "--days", "30"})
			args.push_back(std::string(a).find(".crt") != std::string::npos ? f(a) : a);
		ASSERT_EQ(gst(args), kExitOk) << err_;
	}

	std::string dir_;
	FixedClock clock_;
	std::string out_, err_;
};

TEST_F(GstrustTest, CertShowsTheFingerprint)
{
	ASSERT_EQ(gst({"cert", f("A.crt")}), kExitOk) << err_;
	Certificate a = Certificate::parse(ByteView(reinterpret_cast<const uint8_t *>(read("A.crt").data()),
						    read("A.crt").size()))
				.value();
	EXPECT_NE(out_.find("subject:     O=groupsec test, CN=A"), std::string::npos) << out_;
	EXPECT_NE(out_.find("sha256:      " + a.fingerprint_text()), std::string::npos) << out_;
	ASSERT_EQ(gst({"--json", "cert", f("A.crt")}), kExitOk);
	EXPECT_NE(out_.find("\"sha256\":\"" + a.fingerprint_text() + "\""), std::string::npos) << out_;
	EXPECT_EQ(gst({"cert", f("missing.crt")}), kExitFiles);
	EXPECT_NE(err_.find("gstrust: cert: cannot open"), std::string::npos) << err_;
	write("junk.crt", "junk");
	EXPECT_EQ(gst({"cert", f("junk.crt")}), kExitFailed);
	EXPECT_EQ(gst({"cert"}), kExitUsage);
}

TEST_F(GstrustTest, CreateVerifyImportDisableEnable)
{
	create_friends({"--sign-entries"});
	ASSERT_EQ(gst({"verify", f("friends.cms"), "--signer", f("A.crt")}), kExitOk) << err_;
	EXPECT_NE(out_.find("friends: signed by O=groupsec test, CN=A, current"), std::string::npos) << out_;
	EXPECT_NE(out_.find("signed on its own"), std::string::npos);
	EXPECT_EQ(gst({"verify", f("friends.cms"), "--signer", f("D.crt")}), kExitFailed);
	EXPECT_NE(err_.find("unknown signer"), std::string::npos) << err_;

	ASSERT_EQ(gst({"import", f("friends.cms"), "--signer", f("A.crt")}), kExitOk) << err_;
	EXPECT_EQ(out_, "imported friends (2 certificate(s), signed by O=groupsec test, CN=A), enabled\n");
	ASSERT_EQ(gst({"check", f("C.crt"), "--group", "g1", "--use", "key-server"}), kExitOk) << err_;
	EXPECT_EQ(gst({"check", f("C.crt"), "--group", "g2", "--use", "key-server"}), kExitFailed);
	EXPECT_NE(err_.find("excludes the group g2"), std::string::npos) << err_;
	ASSERT_EQ(gst({"--json", "trusted", "--group", "g1", "--use", "member"}), kExitOk);
	EXPECT_NE(out_.find("\"subject\":\"O=groupsec test, CN=B\""), std::string::npos) << out_;
	EXPECT_EQ(out_.find("CN=C"), std::string::npos) << out_;

	ASSERT_EQ(gst({"disable", "friends"}), kExitOk);
	EXPECT_EQ(gst({"check", f("C.crt"), "--group", "g1", "--use", "key-server"}), kExitFailed);
	EXPECT_NE(err_.find("(disabled)"), std::string::npos) << err_;
	ASSERT_EQ(gst({"--json", "list"}), kExitOk);
	EXPECT_NE(out_.find("\"state\":\"disabled\""), std::string::npos) << out_;
	ASSERT_EQ(gst({"enable", "friends"}), kExitOk);
	EXPECT_EQ(gst({"check", f("C.crt"), "--group", "g1", "--use", "key-server"}), kExitOk);
	ASSERT_EQ(gst({"condition", "friends", "registered:g1"}), kExitOk);
	// no daemon: no condition holds
	EXPECT_EQ(gst({"check", f("C.crt"), "--group", "g1", "--use", "key-server"}), kExitFailed);
	EXPECT_EQ(gst({"condition", "friends", "sometimes"}), kExitUsage);
	EXPECT_EQ(gst({"enable", "nobody"}), kExitFailed);
	EXPECT_NE(err_.find("gstrust: enable: no collection named nobody"), std::string::npos) << err_;

	// time passes beyond C's policy
	ASSERT_EQ(gst({"enable", "friends"}), kExitOk);
	clock_.t += 31 * 86400;
	EXPECT_EQ(gst({"check", f("C.crt"), "--group", "g1", "--use", "key-server"}), kExitFailed);
	EXPECT_NE(err_.find("expired"), std::string::npos) << err_;
}

TEST_F(GstrustTest, FailedImportChangesNothing)
{
	create_friends();
	std::string data = read("friends.cms");
	write("truncated.cms", data.substr(0, data.size() - 10));
	std::string flipped = data;
	flipped[flipped.size() / 2] ^= 0x04;
	write("flipped.cms", flipped);
	EXPECT_EQ(gst({"import", f("truncated.cms"), "--signer", f("A.crt")}), kExitFailed);
	EXPECT_NE(err_.find("truncated"), std::string::npos) << err_;
	EXPECT_EQ(gst({"import", f("flipped.cms"), "--signer", f("A.crt")}), kExitFailed);
	EXPECT_EQ(gst({"import", f("friends.cms"), "--signer", f("B.crt")}), kExitFailed);
	clock_.t += 400 * 86400;
	EXPECT_EQ(gst({"import", f("friends.cms"), "--signer", f("A.crt")}), kExitFailed);
	EXPECT_NE(err_.find("expired"), std::string::npos) << err_;
	clock_.t = kJan2026;
	EXPECT_EQ(gst({"import", f("friends.cms")}), kExitUsage);
	ASSERT_EQ(gst({"list"}), kExitOk);
	EXPECT_EQ(out_, "");
	EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/store"));
}

TEST_F(GstrustTest, EnvelopedExportAndImport)
{
	create_friends();
	ASSERT_EQ(gst({"import", f("friends.cms"), "--signer", f("A.crt"), "--condition", "connected:CN=A"}),
		  kExitOk)
		<< err_;
	EXPECT_NE(out_.find("conditional on connected:CN=A"), std::string::npos) << out_;
	ASSERT_EQ(gst({"export", "friends", "--out", f("for-d.cms"), "--recipient", f("D.crt")}), kExitOk) << err_;
	EXPECT_EQ(gst({"verify", f("for-d.cms"), "--signer", f("A.crt")}), kExitFailed);
	EXPECT_NE(err_.find("is enveloped"), std::string::npos) << err_;
	EXPECT_EQ(gst({"verify", f("for-d.cms"), "--signer", f("A.crt"), "--recipient-cert", f("B.crt"),
		       "--recipient-key", f("B.key")}),
		  kExitFailed);
	EXPECT_NE(err_.find("not a recipient"), std::string::npos) << err_;
	ASSERT_EQ(gst({"verify", f("for-d.cms"), "--signer", f("A.crt"), "--recipient-cert", f("D.crt"),
		       "--recipient-key", f("D.key")}),
		  kExitOk)
		<< err_;
	// the plain export is the file as signed
	ASSERT_EQ(gst({"export", "friends", "--out", f("again.cms")}), kExitOk);
	EXPECT_EQ(read("again.cms"), read("friends.cms"));
	ASSERT_EQ(gst({"remove", "friends"}), kExitOk);
	EXPECT_EQ(gst({"show", "friends"}), kExitFailed);
	EXPECT_EQ(gst({"remove", "friends"}), kExitFailed);
}

TEST_F(GstrustTest, UsageErrors)
{
	EXPECT_EQ(gst({}), kExitUsage);
	EXPECT_EQ(gst({"--help"}), kExitOk);
	EXPECT_NE(out_.find("usage: gstrust"), std::string::npos);
	EXPECT_EQ(gst({"frobnicate"}), kExitUsage);
	EXPECT_NE(err_.find("gstrust: frobnicate: unknown command"), std::string::npos) << err_;
	EXPECT_EQ(gst({"create", "--name", "x"}), kExitUsage);
	EXPECT_EQ(gst({"create", "--name", "x", "--signer", f("A.crt"), "--key", f("A.key"), "--out", f("x"),
		       "--uses", "member"}),
		  kExitUsage);
	EXPECT_EQ(gst({"create", "--name", "x", "--signer", f("A.crt"), "--key", f("A.key"), "--out", f("x"),
		       "--cert", f("B.crt"), "--uses", "root"}),
		  kExitUsage);
	// a key that is not the signer's
	EXPECT_EQ(gst({"create", "--name", "x", "--signer", f("A.crt"), "--key", f("B.key"), "--out", f("x"),
		       "--cert", f("B.crt")}),
		  kExitFailed);
	EXPECT_NE(err_.find("does not belong"), std::string::npos) << err_;
	EXPECT_EQ(gst({"create", "--name", "../x", "--signer", f("A.crt"), "--key", f("A.key"), "--out",
		       f("x"), "--cert", f("B.crt")}),
		  kExitFailed);
	EXPECT_EQ(gst({"check", f("B.crt"), "--group", "g1"}), kExitUsage);
	EXPECT_EQ(gst({"--dir"}), kExitUsage);
}


// --- the control socket's command trust: gstrust in the daemon

struct Conditions {
	std::vector<std::string> asked;
	bool up = false;
};

int holds_cb(void *ctx, const char *kind, const char *argument)
{
	auto *c = static_cast<Conditions *>(ctx);
	c->asked.push_back(std::string(kind) + ":" + argument);
	return c->up;
}

// the command's response to args, decoded; changed says if the store changed
vici::Section command(const std::string &store, const std::vector<std::string> &args, Conditions &c,
		      bool &changed)
{
	vici::Section req;
	req.add_list("args", args);
	Bytes enc = vici::encode_message(req).value();
	uint8_t *resp = nullptr;
	size_t len = 0;
	EXPECT_TRUE(gdoi_trust_command(store.c_str(), enc.data(), enc.size(), holds_cb, &c, &resp, &len, &changed));
	auto r = vici::decode_message(ByteView(resp, len));
	std::free(resp);
	EXPECT_TRUE(r.ok());
	return r.value();
}

std::string value(const vici::Section &s, const std::string &name)
{
	const std::string *v = s.value(name);
	return v ? *v : "<none>";
}

TEST_F(GstrustTest, TheDaemonsTrustCommand)
{
	create_friends();
	ASSERT_EQ(gst({"import", f("friends.cms"), "--signer", f("A.crt")}), kExitOk) << err_;
	const std::string store = dir_ + "/store";
	Conditions c;
	bool changed = true;

	// the same JSON as gstrust's, on the daemon's store
	vici::Section r = command(store, {"--json", "list"}, c, changed);
	EXPECT_EQ(value(r, "success"), "yes");
	EXPECT_FALSE(changed);
	std::string out, err;
	SystemWallClock now;
	ASSERT_EQ(run({"--dir", store, "--json", "list"}, nullptr, now, out, err), kExitOk);
	EXPECT_EQ(value(r, "output"), out);

	// a change, with the daemon's view of the conditions
	r = command(store, {"condition", "friends", "connected:A"}, c, changed);
	EXPECT_EQ(value(r, "success"), "yes") << value(r, "errmsg");
	EXPECT_TRUE(changed);
	ASSERT_EQ(gst({"--json", "list"}), kExitOk);
	EXPECT_NE(out_.find("\"condition\":\"connected:A\""), std::string::npos) << out_;
	r = command(store, {"trusted"}, c, changed);
	EXPECT_EQ(value(r, "success"), "yes");
	EXPECT_FALSE(changed);
	EXPECT_EQ(c.asked, std::vector<std::string>{"connected:A"});
	r = command(store, {"reload"}, c, changed);
	EXPECT_EQ(value(r, "success"), "yes");
	EXPECT_NE(value(r, "output").find("friends: conditional on connected:A"), std::string::npos)
		<< value(r, "output");
	EXPECT_TRUE(changed);

	// refused, and nothing changes: files of the client's, another store,
	// a bad condition, an unknown list, an empty or garbled request
	ASSERT_EQ(gst({"--json", "list"}), kExitOk);
	const std::string before = out_;
	for (const auto &args : std::vector<std::vector<std::string>>{
		     {"import", f("friends.cms"), "--signer", f("A.crt")},
		     {"export", "friends", "--out", f("x.cms")},
		     {"--dir", dir_, "list"},
		     {"list", "--dir=" + dir_},
		     {"condition", "friends", "sunny:today"},
		     {"enable", "nobody"},
		     {"reload", "now"},
		     {}}) {
		r = command(store, args, c, changed);
		EXPECT_EQ(value(r, "success"), "no") << (args.empty() ? "" : args[0]);
		EXPECT_FALSE(changed);
		EXPECT_NE(value(r, "errmsg"), "<none>");
	}
	r = command(store, {"enable", "nobody"}, c, changed);
	EXPECT_EQ(value(r, "errmsg"), "enable: no collection named nobody");
	EXPECT_EQ(value(r, "status"), std::to_string(kExitFailed));
	r = command(store, {"import", "x"}, c, changed);
	EXPECT_NE(value(r, "errmsg").find("unknown command 'import'"), std::string::npos) << value(r, "errmsg");
	ASSERT_EQ(gst({"--json", "list"}), kExitOk);
	EXPECT_EQ(out_, before);
	EXPECT_FALSE(std::filesystem::exists(f("x.cms")));

	// arguments other than the list args
	vici::Section odd;
	odd.add_value("args", "list");
	vici::Section extra;
	extra.add_list("args", {"list"});
	extra.add_value("force", "yes");
	for (const vici::Section &req : {odd, extra}) {
		Bytes enc = vici::encode_message(req).value();
		uint8_t *out = nullptr;
		size_t n = 0;
		ASSERT_TRUE(gdoi_trust_command(store.c_str(), enc.data(), enc.size(), holds_cb, &c, &out, &n, &changed));
		r = vici::decode_message(ByteView(out, n)).value();
		std::free(out);
		EXPECT_EQ(value(r, "success"), "no");
		EXPECT_NE(value(r, "errmsg").find("argument"), std::string::npos) << value(r, "errmsg");
	}

	const uint8_t junk[] = {1, 2, 3};
	uint8_t *resp = nullptr;
	size_t len = 0;
	ASSERT_TRUE(gdoi_trust_command(store.c_str(), junk, sizeof(junk), holds_cb, &c, &resp, &len, &changed));
	r = vici::decode_message(ByteView(resp, len)).value();
	std::free(resp);
	EXPECT_EQ(value(r, "success"), "no");
}

} // namespace
} // namespace groupsec::trust::gstrust
