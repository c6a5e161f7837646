// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust: the command-line tool of the shared trust lists. It exits 0 on
// success, 1 if the command failed (a list that does not verify, an
// unknown collection, a certificate not trusted), 2 on a usage error and 3
// if a file or the store could not be read or written.
#include "gstrust.h"
#ifndef GSTRUST_NO_MAIN
#include "gstrust_fetch.h"
#endif

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <string_view>
#include <unistd.h>

#include <openssl/crypto.h>

#include "groupsec/base/text.h"
#include "groupsec/json.h"
#include "groupsec/trust/collection.h"
#include "groupsec/trust/der.h"
#include "groupsec/trust/store.h"

namespace groupsec::trust::gstrust {

namespace {

// The build sets it to the gdoi plugin's state folder in the strongSwan prefix.
#ifndef GSTRUST_DEFAULT_DIR
#define GSTRUST_DEFAULT_DIR "/var/lib/gdoi/trust"
#endif
constexpr int64_t kDay = 86400;
constexpr uint64_t kMaxDays = 36500;

const char kUsage[] =
	"usage: gstrust [--dir DIR] [--json] COMMAND [ARGUMENT...]\n"
	"\n"
	"certificates:\n"
	"  cert FILE                        subject, issuer, validity and SHA-256 fingerprint\n"
	"collections (files):\n"
	"  create --name NAME --signer CERT --key KEY [--signer CERT --key KEY]...\n"
	"         [--serial N] [--days N] [--sign-entries] [--recipient CERT]... --out FILE\n"
	"         ENTRY...                  sign a collection; ENTRY is\n"
	"                                   --cert FILE [--groups G,...|*] [--uses U,...|any] [--days N]\n"
	"  verify FILE --signer CERT... [--recipient-cert CERT --recipient-key KEY]\n"
	"                                   check a collection and show it, without importing it\n"
	"the store:\n"
	"  import FILE --signer CERT... [--recipient-cert CERT --recipient-key KEY]\n"
	"         [--replace] [--disabled | --condition KIND:ARG]\n"
	"                                   verify, then store (all or nothing)\n"
	"  export NAME --out FILE [--recipient CERT]...\n"
	"                                   the signed collection as imported (enveloped for recipients)\n"
	"  list                             the stored collections and their state\n"
	"  show NAME                        a collection's certificates and policies\n"
	"  enable NAME | disable NAME       trust its certificates, or stop\n"
	"  condition NAME KIND:ARG          trust them only while registered:GROUP or connected:IDENTITY holds\n"
	"  remove NAME                      forget a collection\n"
	"  trusted [--group G] [--use U]    the certificates trusted now\n"
	"  check CERT --group G --use U     whether a certificate is trusted for a group and use, or why not\n"
	"peers (the program only, not gdoictl trust):\n"
	"  fetch ADDR [--port P] [--gikev2|--ikev2] [--dh 19|31] [--timeout S]\n"
	"                                   one IKE_SA_INIT, then abandoned: the proposal the peer chose,\n"
	"                                   its vendor IDs, the CAs it asks for, NAT on the path\n"
	"                                   (port 848: G-IKEv2 key server, else IKEv2)\n"
	"\n"
	"uses: key-server, member, election, ike (or any); group \"*\" stands for every group.\n"
	"The store is --dir DIR, else $GSTRUST_DIR, else " GSTRUST_DEFAULT_DIR ".\n"
	"Exit status: 0 done, 1 failed, 2 usage error, 3 a file or the store could not be used.\n";

// "CN=a, ..." of each, joined by "; ", with fingerprints if asked
std::string subjects(const std::vector<Certificate> &certs, bool fingerprints = false)
{
	std::string s;
	for (const auto &c : certs) {
		if (!s.empty())
			s += "; ";
		s += c.subject();
		if (fingerprints)
			s += " (" + c.fingerprint_text() + ")";
	}
	return s;
}

class Run {
public:
	Run(const WallClock &clock, const ConditionSource &conditions, std::string &out, std::string &err)
	        : clock_(clock), out_(out), err_(err), conditions_(conditions)
	{
	}

	int main(const std::vector<std::string> &args, const char *env_dir);

private:
	// argument handling
	bool next(std::string &v)
	{
		if (pos_ >= args_.size())
			return false;
		v = args_[pos_++];
		return true;
	}
	std::optional<std::string> value_of(const std::string &opt)
	{
		std::string v;
		if (!next(v)) {
			usage_error(opt + " needs a value");
			return std::nullopt;
		}
		return v;
	}
	int usage_error(const std::string &msg)
	{
		err_ += "gstrust: " + (command_.empty() ? std::string() : command_ + ": ") + msg + "\n";
		err_ += "(gstrust --help for the usage)\n";
		return kExitUsage;
	}
	int fail(int status, const std::string &msg)
	{
		err_ += "gstrust: " + command_ + ": " + msg + "\n";
		return status;
	}

	std::optional<Bytes> read_file(const std::string &path, int &status);
	bool write_file(const std::string &path, ByteView data, int &status);
	std::optional<Certificate> load_cert(const std::string &path, int &status);
	std::optional<PrivateKey> load_key(const std::string &path, int &status);
	bool open_store(int &status);

	int cmd_cert();
	int cmd_create();
	int cmd_verify_or_import(bool import);
	int cmd_export();
	int cmd_list();
	int cmd_show();
	int cmd_state(State state);
	int cmd_remove();
	int cmd_trusted();
	int cmd_check();

	void cert_json(JsonWriter &j, const Certificate &c);
	void list_json(JsonWriter &j, const TrustList &l, bool with_entries);
	std::string list_text(const TrustList &l);

	const WallClock &clock_;
	std::string &out_;
	std::string &err_;
	std::vector<std::string> args_;
	size_t pos_ = 0;
	std::string command_;
	std::string dir_;
	bool json_ = false;
	std::unique_ptr<DirectoryFs> fs_;
	std::unique_ptr<TrustStore> store_;
	const ConditionSource &conditions_;
};

std::optional<Bytes> Run::read_file(const std::string &path, int &status)
{
	FILE *f = std::fopen(path.c_str(), "rb");
	if (!f) {
		status = fail(kExitFiles, "cannot open " + path + ": " + std::strerror(errno));
		return std::nullopt;
	}
	Bytes data;
	uint8_t buf[65536];
	size_t n;
	while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
		data.insert(data.end(), buf, buf + n);
		if (data.size() > kMaxFileSize) {
			std::fclose(f);
			status = fail(kExitFailed, path + ": larger than 8 MiB");
			return std::nullopt;
		}
	}
	bool error = std::ferror(f);
	std::fclose(f);
	if (error) {
		status = fail(kExitFiles, "cannot read " + path);
		return std::nullopt;
	}
	return data;
}

bool Run::write_file(const std::string &path, ByteView data, int &status)
{
	std::string tmp = path + ".tmp";
	int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		status = fail(kExitFiles, "cannot create " + tmp + ": " + std::strerror(errno));
		return false;
	}
	size_t done = 0;
	while (done < data.size()) {
		ssize_t n = ::write(fd, data.data() + done, data.size() - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			status = fail(kExitFiles, "cannot write " + tmp + ": " + std::strerror(errno));
			::close(fd);
			::unlink(tmp.c_str());
			return false;
		}
		done += static_cast<size_t>(n);
	}
	if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
		status = fail(kExitFiles, "cannot write " + path + ": " + std::strerror(errno));
		::unlink(tmp.c_str());
		return false;
	}
	return true;
}

std::optional<Certificate> Run::load_cert(const std::string &path, int &status)
{
	auto data = read_file(path, status);
	if (!data)
		return std::nullopt;
	auto c = Certificate::parse(data.value());
	if (!c) {
		status = fail(kExitFailed, path + ": " + c.error().message);
		return std::nullopt;
	}
	return c.value();
}

std::optional<PrivateKey> Run::load_key(const std::string &path, int &status)
{
	auto data = read_file(path, status);
	if (!data)
		return std::nullopt;
	auto k = PrivateKey::parse(data.value());
	OPENSSL_cleanse(data->data(), data->size());
	if (!k) {
		status = fail(kExitFailed, path + ": " + k.error().message);
		return std::nullopt;
	}
	return k.value();
}

bool Run::open_store(int &status)
{
	fs_ = std::make_unique<DirectoryFs>(dir_);
	auto ok = fs_->prepare();
	if (!ok) {
		status = fail(kExitFiles, ok.error().message);
		return false;
	}
	store_ = std::make_unique<TrustStore>(*fs_, clock_);
	for (const auto &p : store_->load())
		err_ += "gstrust: warning: left out " + p + "\n";
	return true;
}

void Run::cert_json(JsonWriter &j, const Certificate &c)
{
	j.key("subject").value(c.subject());
	j.key("issuer").value(c.issuer());
	j.key("not-before").value(der::time_text(c.not_before()) + " UTC");
	j.key("not-after").value(der::time_text(c.not_after()) + " UTC");
	j.key("sha256").value(c.fingerprint_text());
}

void Run::list_json(JsonWriter &j, const TrustList &l, bool with_entries)
{
	j.key("name").value(l.name);
	j.key("serial").value(l.serial);
	j.key("issued").value(der::time_text(l.issued) + " UTC");
	j.key("not-before").value(der::time_text(l.not_before) + " UTC");
	j.key("not-after").value(der::time_text(l.not_after) + " UTC");
	j.key("certificates").value(static_cast<uint64_t>(l.entries.size()));
	if (!with_entries)
		return;
	j.key("entries").begin_array();
	for (const auto &e : l.entries) {
		j.begin_object();
		cert_json(j, e.certificate);
		j.key("policy").begin_object();
		j.key("not-before").value(der::time_text(e.policy.not_before) + " UTC");
		j.key("not-after").value(der::time_text(e.policy.not_after) + " UTC");
		j.key("uses").value(uses_text(e.policy.uses));
		j.key("groups").begin_array();
		for (const auto &g : e.policy.groups)
			j.value(g);
		j.end_array();
		j.end_object();
		j.key("signed").value(!e.signature.empty());
		j.end_object();
	}
	j.end_array();
}

std::string Run::list_text(const TrustList &l)
{
	std::string s;
	s += "serial " + std::to_string(l.serial) + ", issued " + der::time_text(l.issued) + " UTC, valid " +
	     der::time_text(l.not_before) + " to " + der::time_text(l.not_after) + " UTC, " +
	     std::to_string(l.entries.size()) + " certificate(s)\n";
	for (const auto &e : l.entries) {
		s += "  " + e.certificate.subject() + "\n";
		s += "    sha256:  " + e.certificate.fingerprint_text() + "\n";
		s += "    issuer:  " + e.certificate.issuer() + "\n";
		s += "    groups:  ";
		for (size_t i = 0; i < e.policy.groups.size(); i++)
			s += (i ? ", " : "") + e.policy.groups[i];
		s += "\n    uses:    " + uses_text(e.policy.uses) + "\n";
		s += "    policy:  " + der::time_text(e.policy.not_before) + " to " +
		     der::time_text(e.policy.not_after) + " UTC" + (e.signature.empty() ? "" : ", signed on its own") +
		     "\n";
	}
	return s;
}

int Run::cmd_cert()
{
	std::string path;
	if (!next(path) || pos_ != args_.size())
		return usage_error("cert FILE");
	int status = kExitOk;
	auto c = load_cert(path, status);
	if (!c)
		return status;
	if (json_) {
		JsonWriter j;
		j.begin_object();
		cert_json(j, *c);
		j.end_object();
		out_ += j.str() + "\n";
	} else {
		out_ += describe(*c);
	}
	return kExitOk;
}

int Run::cmd_create()
{
	int status = kExitOk;
	TrustList l;
	std::vector<Signer> signers;
	std::vector<Certificate> recipients;
	std::string out_path;
	uint64_t days = 365;
	bool sign_entries = false;
	int64_t now = clock_.now();
	l.serial = static_cast<uint64_t>(now > 0 ? now : 0);
	std::string a;
	while (next(a)) {
		if (a == "--name") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			l.name = *v;
		} else if (a == "--signer") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto c = load_cert(*v, status);
			if (!c)
				return status;
			std::string k;
			if (!next(k) || k != "--key")
				return usage_error("--signer CERT goes with --key KEY");
			auto kv = value_of(k);
			if (!kv)
				return kExitUsage;
			auto key = load_key(*kv, status);
			if (!key)
				return status;
			signers.push_back(Signer{*c, *key});
		} else if (a == "--serial" || a == "--days") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto n = text::decimal(*v, a == "--days" ? kMaxDays : static_cast<uint64_t>(INT64_MAX));
			if (!n || (a == "--days" && *n == 0))
				return usage_error(a + ": not a valid number: " + *v);
			if (a == "--days" && !l.entries.empty())
				l.entries.back().policy.not_after = now + static_cast<int64_t>(*n) * kDay;
			else if (a == "--days")
				days = *n;
			else
				l.serial = *n;
		} else if (a == "--sign-entries") {
			sign_entries = true;
		} else if (a == "--recipient") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto c = load_cert(*v, status);
			if (!c)
				return status;
			recipients.push_back(*c);
		} else if (a == "--out") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			out_path = *v;
		} else if (a == "--cert") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto c = load_cert(*v, status);
			if (!c)
				return status;
			Entry e;
			e.certificate = *c;
			e.policy.not_before = now;
			e.policy.not_after = now + 365 * kDay;
			e.policy.uses = kAllUses;
			e.policy.groups = {kAnyGroup};
			l.entries.push_back(e);
		} else if (a == "--groups" || a == "--uses") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			if (l.entries.empty())
				return usage_error(a + " follows the --cert it applies to");
			Policy &p = l.entries.back().policy;
			if (a == "--uses") {
				auto u = parse_uses(*v);
				if (!u)
					return usage_error(u.error().message);
				p.uses = u.value();
			} else {
				p.groups.clear();
				for (auto g : text::split_list(*v))
					p.groups.emplace_back(g);
			}
		} else {
			return usage_error("unknown argument " + a);
		}
	}
	if (l.name.empty() || signers.empty() || out_path.empty())
		return usage_error("create needs --name, --signer with --key, and --out");
	l.issued = now;
	l.not_before = now;
	l.not_after = now + static_cast<int64_t>(days) * kDay;
	auto s = sign_trust_list(l, signers, sign_entries ? EntrySignatures::Sign : EntrySignatures::None);
	if (!s)
		return fail(kExitFailed, s.error().message);
	Bytes data = s.value();
	if (!recipients.empty()) {
		auto env = envelop(data, recipients);
		if (!env)
			return fail(kExitFailed, env.error().message);
		data = env.value();
	}
	if (!write_file(out_path, data, status))
		return status;
	if (json_) {
		JsonWriter j;
		j.begin_object();
		list_json(j, l, false);
		j.key("enveloped").value(!recipients.empty());
		j.key("file").value(out_path);
		j.end_object();
		out_ += j.str() + "\n";
	} else {
		out_ += "created " + l.name + " (" + out_path + ")" +
			(recipients.empty() ? "" : ", enveloped for " + std::to_string(recipients.size()) +
							   " recipient(s)") +
			"\n";
	}
	return kExitOk;
}

int Run::cmd_verify_or_import(bool import)
{
	int status = kExitOk;
	std::string path;
	if (!next(path) || path.rfind("--", 0) == 0)
		return usage_error(command_ + " FILE --signer CERT...");
	std::vector<Certificate> signers;
	std::optional<Certificate> rcert;
	std::optional<PrivateKey> rkey;
	ImportOptions opts;
	std::string a;
	while (next(a)) {
		if (a == "--signer" || a == "--recipient-cert") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto c = load_cert(*v, status);
			if (!c)
				return status;
			if (a == "--signer")
				signers.push_back(*c);
			else
				rcert = *c;
		} else if (a == "--recipient-key") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			rkey = load_key(*v, status);
			if (!rkey)
				return status;
		} else if (import && a == "--replace") {
			opts.replace = true;
		} else if (import && a == "--disabled" && !opts.state) {
			opts.state = State::Disabled;
		} else if (import && a == "--condition" && !opts.state) {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			opts.state = State::Conditional;
			opts.condition = *v;
			auto c = parse_condition(*v);
			if (!c)
				return usage_error(c.error().message);
		} else {
			return usage_error("unknown or repeated argument " + a);
		}
	}
	if (signers.empty())
		return usage_error("name the trusted signer(s) with --signer CERT");
	if (rcert.has_value() != rkey.has_value())
		return usage_error("--recipient-cert and --recipient-key go together");
	auto data = read_file(path, status);
	if (!data)
		return status;
	Bytes signed_der = data.value();
	if (is_enveloped(signed_der)) {
		if (!rcert)
			return fail(kExitFailed, path + " is enveloped: give --recipient-cert and --recipient-key");
		auto opened = open_envelope(signed_der, *rcert, *rkey);
		if (!opened)
			return fail(kExitFailed, path + ": " + opened.error().message);
		signed_der = opened.value();
	}
	if (!import) {
		auto v = verify_trust_list(signed_der, signers);
		if (!v)
			return fail(kExitFailed, path + ": " + v.error().message);
		auto cur = check_list_current(v.value().list, clock_.now());
		if (json_) {
			JsonWriter j;
			j.begin_object();
			list_json(j, v.value().list, true);
			j.key("signers").begin_array();
			for (const auto &c : v.value().signers)
				j.value(c.subject());
			j.end_array();
			j.key("current").value(cur.ok());
			j.end_object();
			out_ += j.str() + "\n";
		} else {
			out_ += v.value().list.name + ": signed by " + subjects(v.value().signers) + ", " +
				(cur ? std::string("current") : cur.error().message) + "\n" + list_text(v.value().list);
		}
		return kExitOk;
	}
	if (!open_store(status))
		return status;
	auto name = store_->import(signed_der, signers, opts);
	if (!name)
		return fail(name.error().code == WireError::Unsupported ? kExitFiles : kExitFailed,
			    path + ": " + name.error().message);
	const StoredCollection *c = store_->find(name.value());
	if (json_) {
		JsonWriter j;
		j.begin_object();
		list_json(j, c->list, false);
		j.key("state").value(state_name(c->state));
		j.end_object();
		out_ += j.str() + "\n";
	} else {
		out_ += "imported " + name.value() + " (" + std::to_string(c->list.entries.size()) +
			" certificate(s), signed by " + subjects(c->signers) + "), " + state_name(c->state) +
			(c->condition.empty() ? "" : " on " + c->condition) + "\n";
	}
	return kExitOk;
}

int Run::cmd_export()
{
	int status = kExitOk;
	std::string name, out_path, a;
	std::vector<Certificate> recipients;
	if (!next(name))
		return usage_error("export NAME --out FILE");
	while (next(a)) {
		if (a == "--out") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			out_path = *v;
		} else if (a == "--recipient") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			auto c = load_cert(*v, status);
			if (!c)
				return status;
			recipients.push_back(*c);
		} else {
			return usage_error("unknown argument " + a);
		}
	}
	if (out_path.empty())
		return usage_error("export NAME --out FILE");
	if (!open_store(status))
		return status;
	auto data = store_->export_signed(name);
	if (!data)
		return fail(kExitFailed, data.error().message);
	Bytes bytes = data.value();
	if (!recipients.empty()) {
		auto env = envelop(bytes, recipients);
		if (!env)
			return fail(kExitFailed, env.error().message);
		bytes = env.value();
	}
	if (!write_file(out_path, bytes, status))
		return status;
	if (!json_)
		out_ += "exported " + name + " to " + out_path + "\n";
	else
		out_ += "{\"name\":" + [&] {
			std::string q;
			JsonWriter::quote(q, name);
			return q;
		}() + ",\"file\":" + [&] {
			std::string q;
			JsonWriter::quote(q, out_path);
			return q;
		}() + "}\n";
	return kExitOk;
}

int Run::cmd_list()
{
	int status = kExitOk;
	if (pos_ != args_.size())
		return usage_error("list takes no argument");
	if (!open_store(status))
		return status;
	JsonWriter j;
	j.begin_object().key("collections").begin_array();
	for (const auto &[name, c] : store_->collections()) {
		auto cur = check_list_current(c.list, clock_.now());
		if (json_) {
			j.begin_object();
			list_json(j, c.list, false);
			j.key("state").value(state_name(c.state));
			j.key("condition").value(c.condition);
			j.key("current").value(cur.ok());
			j.key("signers").begin_array();
			for (const auto &s : c.signers) {
				j.begin_object();
				j.key("subject").value(s.subject());
				j.key("sha256").value(s.fingerprint_text());
				j.end_object();
			}
			j.end_array();
			j.key("imported").value(der::time_text(c.imported) + " UTC");
			j.end_object();
		} else {
			out_ += name + ": " + state_name(c.state) + (c.condition.empty() ? "" : " on " + c.condition) +
				", " + std::to_string(c.list.entries.size()) + " certificate(s), serial " +
				std::to_string(c.list.serial) + ", signed by " + subjects(c.signers) +
				(cur ? "" : ", " + cur.error().message) + "\n";
		}
	}
	j.end_array().end_object();
	if (json_)
		out_ += j.str() + "\n";
	return kExitOk;
}

int Run::cmd_show()
{
	int status = kExitOk;
	std::string name;
	if (!next(name) || pos_ != args_.size())
		return usage_error("show NAME");
	if (!open_store(status))
		return status;
	const StoredCollection *c = store_->find(name);
	if (!c)
		return fail(kExitFailed, "no collection named " + name);
	if (json_) {
		JsonWriter j;
		j.begin_object();
		list_json(j, c->list, true);
		j.key("state").value(state_name(c->state));
		j.key("condition").value(c->condition);
		j.key("signers").begin_array();
		for (const auto &s : c->signers) {
			j.begin_object();
			cert_json(j, s);
			j.end_object();
		}
		j.end_array();
		j.key("imported").value(der::time_text(c->imported) + " UTC");
		j.end_object();
		out_ += j.str() + "\n";
	} else {
		out_ += name + ": " + state_name(c->state) + (c->condition.empty() ? "" : " on " + c->condition) +
			", signed by " + subjects(c->signers, true) + ", imported " +
			der::time_text(c->imported) + " UTC\n" + list_text(c->list);
	}
	return kExitOk;
}

int Run::cmd_state(State state)
{
	int status = kExitOk;
	std::string name, condition;
	if (!next(name))
		return usage_error(command_ + " NAME" + (state == State::Conditional ? " KIND:ARG" : ""));
	if (state == State::Conditional && !next(condition))
		return usage_error("condition NAME KIND:ARG");
	if (pos_ != args_.size())
		return usage_error("too many arguments");
	if (state == State::Conditional) {
		auto c = parse_condition(condition);
		if (!c)
			return usage_error(c.error().message);
	}
	if (!open_store(status))
		return status;
	auto r = store_->set_state(name, state, condition);
	if (!r)
		return fail(r.error().code == WireError::Unsupported ? kExitFiles : kExitFailed, r.error().message);
	if (!json_)
		out_ += name + ": " + state_name(state) + (condition.empty() ? "" : " on " + condition) + "\n";
	else
		out_ += std::string("{\"state\":\"") + state_name(state) + "\"}\n";
	return kExitOk;
}

int Run::cmd_remove()
{
	int status = kExitOk;
	std::string name;
	if (!next(name) || pos_ != args_.size())
		return usage_error("remove NAME");
	if (!open_store(status))
		return status;
	auto r = store_->remove(name);
	if (!r)
		return fail(r.error().code == WireError::Unsupported ? kExitFiles : kExitFailed, r.error().message);
	if (!json_)
		out_ += "removed " + name + "\n";
	else
		out_ += "{}\n";
	return kExitOk;
}

int Run::cmd_trusted()
{
	int status = kExitOk;
	std::string group, a;
	uint32_t use = 0;
	while (next(a)) {
		auto v = value_of(a);
		if (!v)
			return kExitUsage;
		if (a == "--group") {
			group = *v;
		} else if (a == "--use") {
			auto u = parse_uses(*v);
			if (!u)
				return usage_error(u.error().message);
			use = u.value();
		} else {
			return usage_error("unknown argument " + a);
		}
	}
	if (!open_store(status))
		return status;
	JsonWriter j;
	j.begin_object().key("certificates").begin_array();
	for (const auto &t : store_->trusted(group, use, conditions_)) {
		if (json_) {
			j.begin_object();
			cert_json(j, t.certificate);
			j.key("collection").value(t.collection);
			j.key("uses").value(uses_text(t.policy.uses));
			j.key("groups").begin_array();
			for (const auto &g : t.policy.groups)
				j.value(g);
			j.end_array();
			j.end_object();
		} else {
			out_ += t.certificate.subject() + "  " + t.certificate.fingerprint_text() + "  (" +
				t.collection + ")\n";
		}
	}
	j.end_array().end_object();
	if (json_)
		out_ += j.str() + "\n";
	return kExitOk;
}

int Run::cmd_check()
{
	int status = kExitOk;
	std::string path, group, a;
	std::optional<uint32_t> use;
	if (!next(path))
		return usage_error("check CERT --group G --use U");
	while (next(a)) {
		auto v = value_of(a);
		if (!v)
			return kExitUsage;
		if (a == "--group") {
			group = *v;
		} else if (a == "--use") {
			auto u = parse_uses(*v);
			if (!u)
				return usage_error(u.error().message);
			use = u.value();
		} else {
			return usage_error("unknown argument " + a);
		}
	}
	if (group.empty() || !use)
		return usage_error("check CERT --group G --use U");
	auto c = load_cert(path, status);
	if (!c)
		return status;
	if (!open_store(status))
		return status;
	auto t = store_->check(*c, group, *use, conditions_);
	if (json_) {
		JsonWriter j;
		j.begin_object();
		j.key("trusted").value(t.ok());
		if (t)
			j.key("collection").value(t.value().collection);
		else
			j.key("reason").value(t.error().message);
		j.end_object();
		out_ += j.str() + "\n";
	}
	if (!t)
		return fail(kExitFailed, t.error().message);
	if (!json_)
		out_ += c->subject() + ": trusted for " + group + " (" + uses_text(*use) + ") by " +
			t.value().collection + "\n";
	return kExitOk;
}

int Run::main(const std::vector<std::string> &args, const char *env_dir)
{
	args_ = args;
	dir_ = env_dir && *env_dir ? env_dir : GSTRUST_DEFAULT_DIR;
	std::string a;
	while (next(a)) {
		if (a == "--help" || a == "-h") {
			out_ += kUsage;
			return kExitOk;
		} else if (a == "--json") {
			json_ = true;
		} else if (a == "--dir" || a == "-d") {
			auto v = value_of(a);
			if (!v)
				return kExitUsage;
			dir_ = *v;
		} else if (a.rfind("-", 0) == 0) {
			return usage_error("unknown option " + a);
		} else {
			command_ = a;
			break;
		}
	}
	if (command_.empty()) {
		err_ += kUsage;
		return kExitUsage;
	}
	if (command_ == "cert")
		return cmd_cert();
	if (command_ == "create")
		return cmd_create();
	if (command_ == "verify")
		return cmd_verify_or_import(false);
	if (command_ == "import")
		return cmd_verify_or_import(true);
	if (command_ == "export")
		return cmd_export();
	if (command_ == "list")
		return cmd_list();
	if (command_ == "show")
		return cmd_show();
	if (command_ == "enable")
		return cmd_state(State::Enabled);
	if (command_ == "disable")
		return cmd_state(State::Disabled);
	if (command_ == "condition")
		return cmd_state(State::Conditional);
	if (command_ == "remove")
		return cmd_remove();
	if (command_ == "trusted")
		return cmd_trusted();
	if (command_ == "check")
		return cmd_check();
	return usage_error("unknown command " + command_);
}

} // namespace

int run(const std::vector<std::string> &args, const char *env_dir, const WallClock &clock, std::string &out,
	std::string &err)
{
	NoConditions none;
	return run(args, env_dir, clock, none, out, err);
}

int run(const std::vector<std::string> &args, const char *env_dir, const WallClock &clock,
	const ConditionSource &conditions, std::string &out, std::string &err)
{
	Run r(clock, conditions, out, err);
	return r.main(args, env_dir);
}

} // namespace groupsec::trust::gstrust

#ifndef GSTRUST_NO_MAIN
int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	std::string out, err;
	groupsec::trust::SystemWallClock clock;
	// fetch talks to the network: the program has it, the control
	// socket's trust command (run() above) does not
	size_t i = 0;
	bool json = false;
	while (i < args.size() && (args[i] == "--json" || (args[i] == "--dir" && i + 1 < args.size()))) {
		json = json || args[i] == "--json";
		i += args[i] == "--dir" ? 2 : 1;
	}
	int status;
	if (i < args.size() && args[i] == "fetch")
		status = groupsec::trust::gstrust::fetch(std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end()),
							 json, out, err);
	else
		status = groupsec::trust::gstrust::run(args, getenv("GSTRUST_DIR"), clock, out, err);
	fwrite(out.data(), 1, out.size(), stdout);
	fwrite(err.data(), 1, err.size(), stderr);
	return status;
}
#endif
