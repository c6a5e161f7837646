// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/trust/store.h"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "groupsec/trust/der.h"

namespace groupsec::trust {

namespace {

constexpr const char *kSuffix = ".gstl";
constexpr uint64_t kStoredVersion = 1;
constexpr size_t kMaxConditionArgument = 255;

Error io_error(const std::string &what, const std::string &path, int err)
{
	return make_error(WireError::Unsupported, what + " " + path + ": " + std::strerror(err));
}

// an fd closed on every path
class Fd {
public:
	explicit Fd(int fd) : fd_(fd) {}
	~Fd()
	{
		if (fd_ >= 0)
			::close(fd_);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	int get() const { return fd_; }
	int release()
	{
		int f = fd_;
		fd_ = -1;
		return f;
	}

private:
	int fd_;
};

bool plain_name(const std::string &name)
{
	return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos;
}

} // namespace

const char *state_name(State s)
{
	switch (s) {
	case State::Enabled:
		return "enabled";
	case State::Disabled:
		return "disabled";
	case State::Conditional:
		return "conditional";
	}
	return "?";
}

Result<State> parse_state(std::string_view s)
{
	if (s == "enabled")
		return State::Enabled;
	if (s == "disabled")
		return State::Disabled;
	if (s == "conditional")
		return State::Conditional;
	return make_error(WireError::BadValue,
			  "unknown state \"" + std::string(s) + "\" (enabled, disabled, conditional)");
}

Result<Condition> parse_condition(std::string_view text)
{
	size_t colon = text.find(':');
	if (colon == std::string_view::npos)
		return make_error(WireError::BadValue,
				  "condition must be registered:GROUP or connected:IDENTITY");
	Condition c{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
	if (c.kind != "registered" && c.kind != "connected")
		return make_error(WireError::BadValue, "unknown condition \"" + c.kind +
							       "\" (registered:GROUP, connected:IDENTITY)");
	if (c.argument.empty() || c.argument.size() > kMaxConditionArgument)
		return make_error(WireError::BadLength, "condition: the " + c.kind +
								 " argument must be 1 to 255 characters");
	for (unsigned char ch : c.argument)
		if (ch < 0x20 || ch == 0x7f)
			return make_error(WireError::BadValue, "condition: control character");
	return c;
}

std::string stored_file_name(const std::string &name)
{
	return name + kSuffix;
}

// --- the directory

Result<bool> DirectoryFs::prepare()
{
	struct stat st;
	if (::stat(dir_.c_str(), &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return make_error(WireError::BadValue, "store " + dir_ + ": not a directory");
		return true;
	}
	if (errno != ENOENT)
		return io_error("cannot use store", dir_, errno);
	if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
		return io_error("cannot create store", dir_, errno);
	return true;
}

Result<std::vector<std::string>> DirectoryFs::list()
{
	DIR *d = ::opendir(dir_.c_str());
	if (!d)
		return io_error("cannot read store", dir_, errno);
	std::vector<std::string> names;
	while (struct dirent *e = ::readdir(d)) {
		std::string n = e->d_name;
		if (plain_name(n))
			names.push_back(n);
	}
	::closedir(d);
	return names;
}

Result<Bytes> DirectoryFs::read(const std::string &name)
{
	if (!plain_name(name))
		return make_error(WireError::BadValue, "bad file name " + name);
	std::string path = dir_ + "/" + name;
	Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	if (fd.get() < 0)
		return io_error("cannot open", path, errno);
	struct stat st;
	if (::fstat(fd.get(), &st) != 0)
		return io_error("cannot stat", path, errno);
	if (!S_ISREG(st.st_mode))
		return make_error(WireError::BadValue, path + ": not a regular file");
	if (static_cast<uint64_t>(st.st_size) > 2 * kMaxFileSize + 65536)
		return make_error(WireError::BadLength, path + ": too large");
	Bytes out(static_cast<size_t>(st.st_size));
	size_t got = 0;
	while (got < out.size()) {
		ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_error("cannot read", path, errno);
		if (n == 0)
			break;
		got += static_cast<size_t>(n);
	}
	out.resize(got);
	return out;
}

Result<bool> DirectoryFs::write_atomic(const std::string &name, ByteView data)
{
	if (!plain_name(name))
		return make_error(WireError::BadValue, "bad file name " + name);
	std::string path = dir_ + "/" + name;
	std::string tmp = dir_ + "/." + name + ".tmp";
	{
		Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
		if (fd.get() < 0)
			return io_error("cannot create", tmp, errno);
		size_t done = 0;
		while (done < data.size()) {
			ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int err = errno;
				::unlink(tmp.c_str());
				return io_error("cannot write", tmp, err);
			}
			done += static_cast<size_t>(n);
		}
		if (::fsync(fd.get()) != 0) {
			int err = errno;
			::unlink(tmp.c_str());
			return io_error("cannot sync", tmp, err);
		}
		if (::close(fd.release()) != 0) {
			int err = errno;
			::unlink(tmp.c_str());
			return io_error("cannot close", tmp, err);
		}
	}
	if (::rename(tmp.c_str(), path.c_str()) != 0) {
		int err = errno;
		::unlink(tmp.c_str());
		return io_error("cannot rename to", path, err);
	}
	Fd dfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (dfd.get() >= 0)
		::fsync(dfd.get());
	return true;
}

Result<bool> DirectoryFs::remove(const std::string &name)
{
	if (!plain_name(name))
		return make_error(WireError::BadValue, "bad file name " + name);
	std::string path = dir_ + "/" + name;
	if (::unlink(path.c_str()) != 0)
		return io_error("cannot remove", path, errno);
	Fd dfd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (dfd.get() >= 0)
		::fsync(dfd.get());
	return true;
}

// --- the stored form

Result<Bytes> encode_stored(const StoredCollection &c)
{
	if ((c.state == State::Conditional) != !c.condition.empty())
		return make_error(WireError::BadValue, "a condition goes with the conditional state only");
	if (c.state == State::Conditional) {
		auto cond = parse_condition(c.condition);
		if (!cond)
			return cond.error();
	}
	Bytes content = der::integer(kStoredVersion);
	der::append(content, der::integer(static_cast<uint64_t>(c.state), der::kEnumerated));
	if (!c.condition.empty())
		der::append(content, der::text(c.condition, der::context(0, false)));
	der::append(content, der::time(c.imported));
	if (c.signers.empty() || c.signers.size() > kMaxSigners)
		return make_error(WireError::BadValue, "a stored collection has 1 to 16 signers");
	Bytes signers;
	for (const auto &s : c.signers)
		der::append(signers, s.der());
	der::append(content, der::tlv(der::kSequence, signers));
	der::append(content, der::tlv(der::kOctetString, c.signed_der));
	return der::tlv(der::kSequence, content);
}

Result<StoredCollection> decode_stored(ByteView data)
{
	der::Reader top(data, "stored collection");
	auto seq = top.sequence("StoredCollection");
	if (!seq)
		return seq.error();
	auto end = top.finish();
	if (!end)
		return end.error();
	der::Reader &r = seq.value();
	auto version = r.integer("version", UINT64_MAX);
	if (!version)
		return version.error();
	if (version.value() != kStoredVersion)
		return make_error(WireError::BadVersion, "stored collection: version " +
								 std::to_string(version.value()) + " (this reads 1)");
	StoredCollection c;
	auto state = r.integer("state", 2, der::kEnumerated);
	if (!state)
		return state.error();
	c.state = static_cast<State>(state.value());
	if (r.peek_tag() == der::context(0, false)) {
		auto cond = r.text("condition", 2 * kMaxConditionArgument, der::context(0, false));
		if (!cond)
			return cond.error();
		c.condition = cond.value();
		auto parsed = parse_condition(c.condition);
		if (!parsed)
			return parsed.error();
	}
	if ((c.state == State::Conditional) != !c.condition.empty())
		return make_error(WireError::BadValue,
				  "stored collection: a condition goes with the conditional state only");
	auto imported = r.time("imported");
	if (!imported)
		return imported.error();
	c.imported = imported.value();
	auto signers = r.sequence("signers");
	if (!signers)
		return signers.error();
	while (!signers.value().at_end()) {
		if (c.signers.size() == kMaxSigners)
			return make_error(WireError::BadLength, "stored collection: more than 16 signers");
		auto signer = signers.value().expect(der::kSequence, "signer");
		if (!signer)
			return signer.error();
		auto cert = Certificate::from_der(signer.value().whole);
		if (!cert)
			return make_error(cert.error().code, "stored collection: signer: " + cert.error().message);
		for (const auto &have : c.signers)
			if (have.der() == cert.value().der())
				return make_error(WireError::Duplicate, "stored collection: a signer twice");
		c.signers.push_back(cert.value());
	}
	if (c.signers.empty())
		return make_error(WireError::Missing, "stored collection: no signer");
	auto signed_der = r.octets("signedList");
	if (!signed_der)
		return signed_der.error();
	auto done = r.finish();
	if (!done)
		return done.error();
	auto verified = verify_trust_list(signed_der.value(), c.signers);
	if (!verified)
		return verified.error();
	c.list = std::move(verified.value().list);
	c.signed_der = signed_der.value().to_bytes();
	return c;
}

// --- the store

std::vector<std::string> TrustStore::load()
{
	std::vector<std::string> problems;
	collections_.clear();
	auto names = fs_.list();
	if (!names) {
		problems.push_back(names.error().message);
		return problems;
	}
	for (const auto &file : names.value()) {
		size_t sl = std::strlen(kSuffix);
		if (file.size() <= sl || file.compare(file.size() - sl, sl, kSuffix) != 0)
			continue;
		auto data = fs_.read(file);
		if (!data) {
			problems.push_back(data.error().message);
			continue;
		}
		auto c = decode_stored(data.value());
		if (!c) {
			problems.push_back(file + ": " + c.error().message);
			continue;
		}
		if (stored_file_name(c.value().list.name) != file) {
			problems.push_back(file + ": holds the list " + c.value().list.name);
			continue;
		}
		collections_[c.value().list.name] = std::move(c.value());
	}
	return problems;
}

Result<bool> TrustStore::write(const StoredCollection &c)
{
	auto data = encode_stored(c);
	if (!data)
		return data.error();
	return fs_.write_atomic(stored_file_name(c.list.name), data.value());
}

Result<std::string> TrustStore::import(ByteView signed_der, const std::vector<Certificate> &signers,
				       const ImportOptions &opts)
{
	if (is_enveloped(signed_der))
		return make_error(WireError::Unsupported,
				  "the list is enveloped: open it with a recipient's key first");
	auto verified = verify_trust_list(signed_der, signers);
	if (!verified)
		return verified.error();
	const TrustList &list = verified.value().list;
	auto current = check_list_current(list, clock_.now());
	if (!current)
		return current.error();
	StoredCollection c;
	auto old = collections_.find(list.name);
	if (old != collections_.end()) {
		if (!opts.replace)
			return make_error(WireError::Duplicate,
					  "a collection named " + list.name + " is already stored (replace it to update)");
		if (list.serial <= old->second.list.serial)
			return make_error(WireError::BadValue,
					  "serial " + std::to_string(list.serial) + " of " + list.name +
						  " is not newer than the stored " +
						  std::to_string(old->second.list.serial) + " (an older or replayed list)");
		c.state = old->second.state;
		c.condition = old->second.condition;
	}
	if (opts.state) {
		c.state = *opts.state;
		c.condition = *opts.state == State::Conditional ? opts.condition : "";
	}
	if (c.state == State::Conditional) {
		auto cond = parse_condition(c.condition);
		if (!cond)
			return cond.error();
	} else if (opts.state && !opts.condition.empty()) {
		return make_error(WireError::BadValue, "a condition goes with the conditional state only");
	}
	c.list = list;
	c.signers = verified.value().signers;
	c.signed_der = verified.value().signed_der;
	c.imported = clock_.now();
	auto w = write(c);
	if (!w)
		return w.error();
	collections_[list.name] = std::move(c);
	return list.name;
}

Result<Bytes> TrustStore::export_signed(const std::string &name) const
{
	const StoredCollection *c = find(name);
	if (!c)
		return make_error(WireError::Missing, "no collection named " + name);
	return c->signed_der;
}

const StoredCollection *TrustStore::find(const std::string &name) const
{
	auto it = collections_.find(name);
	return it == collections_.end() ? nullptr : &it->second;
}

Result<bool> TrustStore::set_state(const std::string &name, State state, const std::string &condition)
{
	auto it = collections_.find(name);
	if (it == collections_.end())
		return make_error(WireError::Missing, "no collection named " + name);
	if (state == State::Conditional) {
		auto cond = parse_condition(condition);
		if (!cond)
			return cond.error();
	} else if (!condition.empty()) {
		return make_error(WireError::BadValue, "a condition goes with the conditional state only");
	}
	StoredCollection c = it->second;
	c.state = state;
	c.condition = state == State::Conditional ? condition : "";
	auto w = write(c);
	if (!w)
		return w;
	it->second = std::move(c);
	return true;
}

Result<bool> TrustStore::remove(const std::string &name)
{
	auto it = collections_.find(name);
	if (it == collections_.end())
		return make_error(WireError::Missing, "no collection named " + name);
	auto r = fs_.remove(stored_file_name(name));
	if (!r)
		return r;
	collections_.erase(it);
	return true;
}

bool TrustStore::active(const StoredCollection &c, const ConditionSource &conditions) const
{
	if (!check_list_current(c.list, clock_.now()))
		return false;
	switch (c.state) {
	case State::Enabled:
		return true;
	case State::Disabled:
		return false;
	case State::Conditional: {
		auto cond = parse_condition(c.condition);
		return cond && conditions.holds(cond.value());
	}
	}
	return false;
}

std::vector<TrustedCert> TrustStore::trusted(std::string_view group, uint32_t use,
					     const ConditionSource &conditions) const
{
	std::vector<TrustedCert> out;
	int64_t now = clock_.now();
	bool any = group.empty() || use == 0;
	for (const auto &[name, c] : collections_) {
		if (!active(c, conditions))
			continue;
		for (const auto &e : c.list.entries) {
			bool ok;
			if (any)
				ok = now >= e.policy.not_before && now <= e.policy.not_after &&
				     now >= e.certificate.not_before() && now <= e.certificate.not_after() &&
				     (group.empty() || e.policy.covers_group(group)) &&
				     (use == 0 || (e.policy.uses & use) == use);
			else
				ok = check_entry(c.list, e, group, use, now).ok();
			if (ok)
				out.push_back(TrustedCert{e.certificate, name, e.policy});
		}
	}
	return out;
}

Result<TrustedCert> TrustStore::check(const Certificate &cert, std::string_view group, uint32_t use,
				      const ConditionSource &conditions) const
{
	std::optional<Error> policy_failure;
	std::vector<std::string> inactive;
	for (const auto &[name, c] : collections_) {
		for (const auto &e : c.list.entries) {
			if (e.certificate.der() != cert.der())
				continue;
			if (!active(c, conditions)) {
				std::string reason = !check_list_current(c.list, clock_.now()) ? "not current"
						     : c.state == State::Disabled		 ? "disabled"
						     : "conditional on " + c.condition + ", which does not hold";
				inactive.push_back(name + " (" + reason + ")");
				continue;
			}
			auto ok = check_entry(c.list, e, group, use, clock_.now());
			if (ok)
				return TrustedCert{e.certificate, name, e.policy};
			if (!policy_failure)
				policy_failure = ok.error();
		}
	}
	std::string list;
	for (const auto &i : inactive)
		list += (list.empty() ? "" : ", ") + i;
	if (policy_failure) {
		if (!list.empty())
			policy_failure->message += "; it is also in inactive collections: " + list;
		return *policy_failure;
	}
	if (inactive.empty())
		return make_error(WireError::Missing, cert.subject() + " (" + cert.fingerprint_text() +
							      ") is in no stored collection");
	return make_error(WireError::Missing, cert.subject() + " is only in inactive collections: " + list);
}

} // namespace groupsec::trust
