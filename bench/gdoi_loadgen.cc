// SPDX-License-Identifier: GPL-2.0-or-later
// Registration load on a key server, and the same closed-loop load on
// charon's load-tester as the reference.
//
//   gdoi_loadgen gdoi --server ADDR --local ADDR --gms K [--port-base P]
//       [--group-id N] [--server-id ID] [--id-format FMT] [--psk SECRET]
//       [--warmup S] [--min-warmup S] [--duration S]
//       [--hold S] [--server-cert PEM] [--address-per-member]
//   gdoi_loadgen load-tester --socket PATH --clients K [--warmup S] [--duration S]
//
// gdoi: K group members, each a G-IKEv2 Engine (gdoi_engine.h) of its own
// with its own identity (FMT with the member's index, "gm%u.bench") and
// its own UDP socket (ADDR, port P + index). A member registers (IKE_SA_INIT
// and GSA_AUTH with a PSK); once its TEK is installed (a sink that counts)
// the registration is complete, and the member starts over with a fresh
// Engine, so every registration is a new IKE SA. The key server sees K
// concurrent registrations at all times.
//
// load-tester: K clients of charon's load-tester control socket, each
// asking for one IKE_SA with its CHILD_SA ("1 0") and, when charon reports
// it established ('+') or failed ('-'), for the next one: K concurrent IKE
// and CHILD_SA set-ups at all times, the same closed loop.
//
// Both count completions in a window of --duration seconds after --warmup
// seconds and print one JSON object on stdout. With --min-warmup, the gdoi
// window opens earlier: as soon as every member has registered once (its
// first registration makes the key server add it to the flat key table)
// and --min-warmup seconds have passed, so that it measures registrations
// of members the key server knows; "first_pass_ms" and "registered_once"
// say when and how far that got.
//
// gdoi with --hold S: every member registers once (K joins) and stays: it
// keeps its Engine, answers the key server and applies GSA_REKEYs (signed
// ones verified with the certificate --server-cert names) until S seconds
// have passed or SIGTERM or SIGINT arrives. Whenever it changes, a status
// line goes to stdout: {"status": true, "registered": N, "rekeyed": N,
// "teks": {"SPI": N, ...}} (members registered, members that applied a
// GSA_REKEY, members per newest TEK SPI installed, in hex); the result
// line at the end has the same three fields.
//
// gdoi with --address-per-member: member i sends from ADDR + i (the
// addresses must be configured on the host) instead of every member from
// ADDR, so that the key server sees one address per member.
#include "gdoi_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace groupsec::gdoi;

namespace {

uint64_t now_ms()
{
	using namespace std::chrono;
	return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

struct Options {
	std::string mode;
	std::string server, local, socket_path;
	unsigned k = 1;
	unsigned port_base = 20000;
	std::string group_id = "1234";
	std::string server_id = "ks.bench";
	std::string id_format = "gm%u.bench";
	std::string psk = "groupsec-bench-psk";
	double warmup_s = 2;
	double min_warmup_s = -1; // gdoi: open the window this long after start once every member registered
	double duration_s = 5;
	double hold_s = -1; // gdoi: register once and stay this long
	std::string server_cert; // PEM: verifies signed GSA_REKEYs
	bool address_per_member = false; // gdoi: member i sends from --local + i
};

[[noreturn]] void usage(const char *why)
{
	fprintf(stderr, "gdoi_loadgen: %s\n", why);
	fprintf(stderr, "usage: gdoi_loadgen gdoi --server ADDR --local ADDR --gms K [--port-base P]\n"
			"           [--group-id N] [--server-id ID] [--id-format FMT] [--psk SECRET]\n"
			"           [--warmup S] [--min-warmup S] [--duration S] [--hold S] [--server-cert PEM]\n"
			"           [--address-per-member]\n"
			"       gdoi_loadgen load-tester --socket PATH --clients K [--warmup S] [--duration S]\n");
	exit(2);
}

Options parse_options(int argc, char **argv)
{
	if (argc < 2)
		usage("no mode");
	Options o;
	o.mode = argv[1];
	if (o.mode != "gdoi" && o.mode != "load-tester")
		usage(("unknown mode " + o.mode).c_str());
	for (int i = 2; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--address-per-member") {
			o.address_per_member = true;
			continue;
		}
		if (i + 1 >= argc)
			usage((a + " needs a value").c_str());
		std::string v = argv[++i];
		char *end = nullptr;
		auto number = [&](double lo, double hi) {
			errno = 0;
			double d = strtod(v.c_str(), &end);
			if (errno || !end || *end || d < lo || d > hi)
				usage((a + ": " + v + " is not a number from " + std::to_string(lo) + " to " +
				       std::to_string(hi))
					      .c_str());
			return d;
		};
		if (a == "--server")
			o.server = v;
		else if (a == "--local")
			o.local = v;
		else if (a == "--socket")
			o.socket_path = v;
		else if (a == "--gms" || a == "--clients")
			o.k = static_cast<unsigned>(number(1, 60000));
		else if (a == "--port-base")
			o.port_base = static_cast<unsigned>(number(1024, 65535));
		else if (a == "--group-id")
			o.group_id = v;
		else if (a == "--server-id")
			o.server_id = v;
		else if (a == "--id-format")
			o.id_format = v;
		else if (a == "--psk")
			o.psk = v;
		else if (a == "--warmup")
			o.warmup_s = number(0, 3600);
		else if (a == "--min-warmup")
			o.min_warmup_s = number(0, 3600);
		else if (a == "--duration")
			o.duration_s = number(0.1, 3600);
		else if (a == "--hold")
			o.hold_s = number(0.1, 3600);
		else if (a == "--server-cert")
			o.server_cert = v;
		else
			usage(("unknown option " + a).c_str());
	}
	if (o.mode == "gdoi" && (o.server.empty() || o.local.empty()))
		usage("gdoi needs --server and --local");
	if (o.mode == "gdoi" && o.port_base + o.k > 65536)
		usage("--port-base + --gms is above 65535");
	if (o.mode == "load-tester" && o.socket_path.empty())
		usage("load-tester needs --socket");
	if (o.mode != "gdoi" && (o.hold_s >= 0 || !o.server_cert.empty() || o.address_per_member))
		usage("--hold, --server-cert and --address-per-member are gdoi options");
	return o;
}

void raise_fd_limit(unsigned need)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < need + 64) {
		r.rlim_cur = std::min<rlim_t>(r.rlim_max, need + 64);
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

// Completions over time: the measurement window and a per-second series.
class Tally {
public:
	// The window opens warmup_s after start, or earlier through open().
	Tally(uint64_t start, double warmup_s, double duration_s)
		: start_(start), from_(start + static_cast<uint64_t>(warmup_s * 1000)),
		  duration_ms_(static_cast<uint64_t>(duration_s * 1000)), to_(from_ + duration_ms_)
	{
	}
	// Opens the window at t unless it is open already.
	void open(uint64_t t)
	{
		if (t < from_) {
			from_ = t;
			to_ = from_ + duration_ms_;
		}
	}
	bool opened(uint64_t t) const { return t >= from_; }
	void done(uint64_t t, uint64_t latency_ms)
	{
		total_++;
		size_t sec = static_cast<size_t>((t - start_) / 1000);
		if (per_second_.size() <= sec)
			per_second_.resize(sec + 1, 0);
		per_second_[sec]++;
		if (t >= from_ && t < to_) {
			window_++;
			latency_sum_ += latency_ms;
			if (latency_ms > latency_max_)
				latency_max_ = latency_ms;
		}
	}
	void failed(uint64_t t)
	{
		if (t >= from_ && t < to_)
			failed_++;
		failed_total_++;
	}
	bool over(uint64_t t) const { return t >= to_; }
	// Ends the window at t if it is still open (a run stopped early).
	void end(uint64_t t)
	{
		if (t < to_)
			to_ = std::max(t, from_);
	}
	uint64_t window() const { return window_; }
	uint64_t total() const { return total_; }
	double seconds() const { return (to_ - from_) / 1000.0; }
	void print(const Options &o, const std::string &extra) const
	{
		printf("{\"mode\": \"%s\", \"k\": %u, \"warmup_s\": %.3f, \"duration_s\": %.3f, "
		       "\"completed\": %llu, \"rate\": %.1f, \"failed\": %llu, \"failed_total\": %llu, "
		       "\"completed_total\": %llu, \"mean_latency_ms\": %.1f, \"max_latency_ms\": %llu, "
		       "\"per_second\": [",
		       o.mode.c_str(), o.k, (from_ - start_) / 1000.0, seconds(), (unsigned long long)window_, window_ / seconds(),
		       (unsigned long long)failed_, (unsigned long long)failed_total_, (unsigned long long)total_,
		       window_ ? double(latency_sum_) / double(window_) : 0.0, (unsigned long long)latency_max_);
		for (size_t i = 0; i < per_second_.size(); i++)
			printf("%s%llu", i ? ", " : "", (unsigned long long)per_second_[i]);
		struct rusage ru {};
		getrusage(RUSAGE_SELF, &ru);
		double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
		printf("], \"cpu_s\": %.2f%s}\n", cpu, extra.c_str());
		fflush(stdout);
	}

private:
	uint64_t start_, from_, duration_ms_, to_;
	std::vector<uint64_t> per_second_;
	uint64_t window_ = 0, total_ = 0, failed_ = 0, failed_total_ = 0;
	uint64_t latency_sum_ = 0, latency_max_ = 0;
};

// --- gdoi: K group members ---

class SteadyClock : public Clock {
public:
	uint64_t now_ms() const override { return ::now_ms(); }
};

class OsRandom : public Random {
public:
	void fill(uint8_t *out, size_t len) override
	{
		if (RAND_bytes(out, static_cast<int>(len)) != 1)
			abort();
	}
};

// The public key of a PEM certificate; exits if there is none.
EVP_PKEY *load_public_key(const std::string &path)
{
	FILE *f = fopen(path.c_str(), "r");
	if (!f) {
		fprintf(stderr, "gdoi_loadgen: %s: %s\n", path.c_str(), strerror(errno));
		exit(1);
	}
	X509 *x = PEM_read_X509(f, nullptr, nullptr, nullptr);
	fclose(f);
	EVP_PKEY *key = x ? X509_get_pubkey(x) : nullptr;
	X509_free(x);
	if (!key) {
		fprintf(stderr, "gdoi_loadgen: %s: no PEM certificate with a public key\n", path.c_str());
		exit(1);
	}
	return key;
}

// One PSK for every pair: the key server's side decides who is a member.
// Signatures of the key server (GSA_REKEY) verify with server_key, when
// given; every other signature fails.
class PskCredentials : public Credentials {
public:
	PskCredentials(const std::string &psk, const Identity &server, EVP_PKEY *server_key)
		: psk_(psk.begin(), psk.end()), server_(server), server_key_(server_key)
	{
	}
	std::optional<Bytes> shared_key(const Identity &, const Identity &) override { return psk_; }
	std::optional<Bytes> sign(const Identity &, ByteView) override { return std::nullopt; }
	// RFC 7427 AUTH data: AlgorithmIdentifier length, AlgorithmIdentifier
	// (its signature OID names the digest), signature.
	bool verify(const Identity &signer, ByteView octets, ByteView auth, const std::string &, PeerRole) override
	{
		return server_key_ && signer == server_ && verify_key(server_key_, octets, auth);
	}
	// The key server's AUTH_KEY (RFC 9838), pinned to server_key.
	bool verify_with(ByteView spki, ByteView octets, ByteView auth) override
	{
		const uint8_t *p = spki.data();
		EVP_PKEY *key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
		const bool ok = key && verify_key(key, octets, auth);
		EVP_PKEY_free(key);
		return ok;
	}
	std::vector<Bytes> trusted_keys(const Identity &peer) override
	{
		if (!server_key_ || !(peer == server_))
			return {};
		int n = i2d_PUBKEY(server_key_, nullptr);
		if (n <= 0)
			return {};
		Bytes der(static_cast<size_t>(n));
		uint8_t *p = der.data();
		i2d_PUBKEY(server_key_, &p);
		return {der};
	}

private:
	static bool verify_key(EVP_PKEY *key, ByteView octets, ByteView auth)
	{
		if (auth.empty() || size_t(auth[0]) + 1 >= auth.size())
			return false;
		const size_t alg_len = auth[0];
		const uint8_t *p = auth.data() + 1;
		X509_ALGOR *alg = d2i_X509_ALGOR(nullptr, &p, static_cast<long>(alg_len));
		if (!alg)
			return false;
		const bool whole = p == auth.data() + 1 + alg_len;
		const ASN1_OBJECT *oid = nullptr;
		X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
		int md_nid = NID_undef, pkey_nid = NID_undef;
		const bool known = OBJ_find_sigid_algs(OBJ_obj2nid(oid), &md_nid, &pkey_nid) == 1;
		X509_ALGOR_free(alg);
		const EVP_MD *md = known ? EVP_get_digestbynid(md_nid) : nullptr;
		if (!whole || !md)
			return false;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1 &&
				EVP_DigestVerify(ctx, auth.data() + 1 + alg_len, auth.size() - 1 - alg_len,
						 octets.data(), octets.size()) == 1;
		EVP_MD_CTX_free(ctx);
		return ok;
	}

	Bytes psk_;
	Identity server_;
	EVP_PKEY *server_key_;
};

volatile sig_atomic_t stop_requested = 0;

void request_stop(int)
{
	stop_requested = 1;
}

struct Member : public Transport, public SaSink {
	unsigned index = 0;
	int fd = -1;
	Address local;
	GmGroupConfig cfg;
	std::unique_ptr<Engine> engine;
	uint64_t started_ms = 0;
	uint64_t deadline_ms = 0;
	uint64_t installs = 0;
	uint32_t newest_spi = 0; // of the TEK installed last
	uint64_t send_errors = 0;
	sockaddr_in server{};

	bool send(const Address &, const Address &remote, ByteView d) override
	{
		sockaddr_in to{};
		to.sin_family = AF_INET;
		memcpy(&to.sin_addr, remote.ip.data(), 4);
		to.sin_port = htons(remote.port);
		if (sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof(to)) < 0) {
			send_errors++;
			return false;
		}
		return true;
	}
	bool install(const TekSa &sa) override
	{
		installs++;
		newest_spi = sa.spi;
		return true;
	}
	void remove(const std::string &, uint32_t) override {}
};

int run_gdoi(const Options &o)
{
	auto server = Address::parse(o.server, 848);
	auto local = Address::parse(o.local, 0);
	if (!server || server->ip.size() != 4 || !local || local->ip.size() != 4)
		usage("--server and --local must be IPv4 addresses");
	auto server_id = Identity::parse(o.server_id);
	auto group_id = Identity::parse(o.group_id);
	if (!server_id || !group_id)
		usage("bad --server-id or --group-id");
	if (o.group_id.find_first_not_of("0123456789") == std::string::npos) {
		// a decimal group ID travels as a 4-octet KEY_ID (docs/gdoi-config.md)
		char hex[16];
		snprintf(hex, sizeof(hex), "@#%08lx", strtoul(o.group_id.c_str(), nullptr, 10) & 0xffffffffUL);
		group_id = Identity::parse(hex);
	}
	raise_fd_limit(o.k);
	const bool hold = o.hold_s >= 0;
	if (hold) {
		struct sigaction sa {};
		sa.sa_handler = request_stop;
		sigaction(SIGTERM, &sa, nullptr);
		sigaction(SIGINT, &sa, nullptr);
	}
	EVP_PKEY *server_key = o.server_cert.empty() ? nullptr : load_public_key(o.server_cert);
	SteadyClock clock;
	OsRandom random;
	PskCredentials creds(o.psk, *server_id, server_key);
	int ep = epoll_create1(0);
	std::vector<std::unique_ptr<Member>> gms;
	for (unsigned i = 0; i < o.k; i++) {
		auto m = std::make_unique<Member>();
		m->index = i;
		m->local = *local;
		if (o.address_per_member) {
			uint32_t a = static_cast<uint32_t>(local->ip[0]) << 24 | static_cast<uint32_t>(local->ip[1]) << 16 |
			             static_cast<uint32_t>(local->ip[2]) << 8 | local->ip[3];
			if (a + i < a)
				usage("--local + --gms runs past 255.255.255.255");
			a += i;
			for (int b = 0; b < 4; b++)
				m->local.ip[b] = static_cast<uint8_t>(a >> (24 - 8 * b));
		}
		m->local.port = static_cast<uint16_t>(o.port_base + i);
		m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		sockaddr_in sin{};
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, m->local.ip.data(), 4);
		sin.sin_port = htons(m->local.port);
		if (m->fd < 0 || bind(m->fd, reinterpret_cast<sockaddr *>(&sin), sizeof(sin)) < 0) {
			fprintf(stderr, "gdoi_loadgen: socket %s: %s\n", m->local.str().c_str(), strerror(errno));
			return 1;
		}
		char id[256];
		snprintf(id, sizeof(id), o.id_format.c_str(), i);
		auto local_id = Identity::parse(id);
		if (!local_id)
			usage("bad --id-format");
		m->cfg.name = "bench";
		m->cfg.group_id = *group_id;
		m->cfg.local_id = *local_id;
		m->cfg.server_id = *server_id;
		m->cfg.local = m->local;
		m->cfg.servers = {*server};
		m->cfg.auth = AuthKind::Psk;
		// with --server-cert the key server signs its rekeys and the
		// members check them; the registration benchmark's key server
		// has no signing key (it sends no rekey): rekey_auth = implicit
		// there and here
		m->cfg.rekey_auth = o.server_cert.empty() ? RekeyAuth::Implicit : RekeyAuth::Signature;
		m->cfg.dh_group = 19;
		m->cfg.ike_encryption = 20;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &ev);
		gms.push_back(std::move(m));
	}
	EngineDeps deps;
	deps.clock = &clock;
	deps.random = &random;
	deps.credentials = &creds;
	uint64_t sent_done = 0, registrations_done = 0;
	auto start = [&](Member &m) {
		if (m.engine) {
			for (const GroupState &g : m.engine->groups())
				sent_done += g.counters.sent;
		}
		deps.transport = &m;
		deps.sas = &m;
		m.engine = std::make_unique<Engine>(deps);
		m.installs = 0;
		auto r = m.engine->add_member_group(m.cfg);
		if (!r) {
			fprintf(stderr, "gdoi_loadgen: %s\n", r.error().message.c_str());
			exit(1);
		}
		m.started_ms = now_ms();
		m.engine->tick(); // IKE_SA_INIT
		m.deadline_ms = m.engine->next_timeout_ms();
	};
	const uint64_t t0 = now_ms();
	// with --hold, every registration is a join and the run lasts hold_s
	Tally tally(t0, hold ? 0 : o.warmup_s, hold ? o.hold_s : o.duration_s);
	uint64_t first_pass_ms = 0;
	std::vector<bool> first(o.k, false);
	unsigned firsts = 0;
	auto check = [&](Member &m) {
		const uint64_t t = now_ms();
		if (hold && first[m.index]) {
			// registered: installs now come from GSA_REKEYs
			m.deadline_ms = m.engine->next_timeout_ms();
			return;
		}
		if (m.installs) {
			tally.done(t, t - m.started_ms);
			registrations_done++;
			if (!first[m.index]) {
				first[m.index] = true;
				if (++firsts == o.k) {
					first_pass_ms = t - t0;
					if (o.min_warmup_s >= 0)
						tally.open(std::max(t, t0 + static_cast<uint64_t>(o.min_warmup_s * 1000)));
				}
			}
			if (hold) {
				m.deadline_ms = m.engine->next_timeout_ms();
				return;
			}
			start(m);
			return;
		}
		auto gs = m.engine->groups();
		if (!gs.empty() && gs[0].state == "idle") {
			tally.failed(t);
			start(m);
			return;
		}
		m.deadline_ms = m.engine->next_timeout_ms();
	};
	// --hold: what the members hold, as JSON fields
	auto holding = [&]() {
		unsigned rekeyed = 0;
		std::map<uint32_t, unsigned> teks;
		for (auto &m : gms) {
			if (!first[m->index])
				continue;
			teks[m->newest_spi]++;
			for (const GroupState &g : m->engine->groups())
				rekeyed += g.counters.rekeys ? 1 : 0;
		}
		std::string s = "\"registered\": " + std::to_string(firsts) + ", \"rekeyed\": " +
				std::to_string(rekeyed) + ", \"teks\": {";
		for (auto it = teks.begin(); it != teks.end(); ++it) {
			char spi[16];
			snprintf(spi, sizeof(spi), "%08x", it->first);
			s += std::string(it == teks.begin() ? "" : ", ") + "\"" + spi + "\": " + std::to_string(it->second);
		}
		return s + "}";
	};
	std::string status;
	uint64_t next_status = 0;
	for (auto &m : gms)
		start(*m);
	std::vector<epoll_event> evs(256);
	uint8_t buf[65536];
	uint64_t next_sweep = now_ms() + 10;
	bool announced = false;
	while (!tally.over(now_ms()) && !stop_requested) {
		int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 10);
		uint64_t t = now_ms();
		if (!announced && tally.opened(t)) {
			// lets a caller sample the key server over the window
			announced = true;
			fprintf(stderr, "window open\n");
			fflush(stderr);
		}
		for (int i = 0; i < n; i++) {
			Member &m = *gms[evs[i].data.u32];
			for (;;) {
				sockaddr_in from{};
				socklen_t fl = sizeof(from);
				ssize_t len = recvfrom(m.fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr *>(&from), &fl);
				if (len < 0)
					break;
				Address remote;
				remote.ip.assign(reinterpret_cast<uint8_t *>(&from.sin_addr),
						 reinterpret_cast<uint8_t *>(&from.sin_addr) + 4);
				remote.port = ntohs(from.sin_port);
				m.engine->receive(m.local, remote, ByteView(buf, static_cast<size_t>(len)));
				check(m);
			}
		}
		if (t >= next_sweep) {
			next_sweep = t + 10;
			for (auto &m : gms) {
				if (t < m->deadline_ms)
					continue;
				m->engine->tick(); // retransmissions
				check(*m);
			}
		}
		if (hold && t >= next_status) {
			next_status = t + 100;
			std::string now_holding = holding();
			if (now_holding != status) {
				status = now_holding;
				printf("{\"status\": true, %s}\n", status.c_str());
				fflush(stdout);
			}
		}
	}
	tally.end(now_ms());
	fprintf(stderr, "window closed\n");
	fflush(stderr);
	uint64_t send_errors = 0;
	for (auto &m : gms) {
		send_errors += m->send_errors;
		close(m->fd);
	}
	close(ep);
	char extra[256];
	snprintf(extra, sizeof(extra),
		 ", \"datagrams_per_registration\": %.3f, \"first_pass_ms\": %llu, \"registered_once\": %u, "
		 "\"send_errors\": %llu",
		 registrations_done ? double(sent_done) / double(registrations_done) : 0.0,
		 (unsigned long long)first_pass_ms, firsts, (unsigned long long)send_errors);
	tally.print(o, hold ? extra + (", " + holding()) : std::string(extra));
	EVP_PKEY_free(server_key);
	return 0;
}

// --- load-tester: K control socket clients ---

struct Client {
	int fd = -1;
	uint64_t started_ms = 0;
	uint64_t retry_ms = 0; // connect again then (backlog full)
	bool outcome = false; // '+' or '-' seen for the current request
};

int run_load_tester(const Options &o)
{
	raise_fd_limit(o.k);
	sockaddr_un sun{};
	sun.sun_family = AF_UNIX;
	if (o.socket_path.size() >= sizeof(sun.sun_path))
		usage("--socket path too long");
	strcpy(sun.sun_path, o.socket_path.c_str());
	int ep = epoll_create1(0);
	std::vector<Client> cs(o.k);
	uint64_t retransmits = 0, connect_retries = 0;
	auto open_client = [&](unsigned i) {
		Client &c = cs[i];
		c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c.fd < 0) {
			perror("gdoi_loadgen: socket");
			exit(1);
		}
		if (connect(c.fd, reinterpret_cast<sockaddr *>(&sun), sizeof(sun)) < 0) {
			if (errno != EAGAIN && errno != EINPROGRESS) {
				fprintf(stderr, "gdoi_loadgen: connect %s: %s\n", o.socket_path.c_str(), strerror(errno));
				exit(1);
			}
			if (errno == EAGAIN) {
				close(c.fd);
				c.fd = -1;
				c.retry_ms = now_ms() + 1;
				connect_retries++;
				return;
			}
		}
		static const char req[] = "1 0\n";
		if (write(c.fd, req, sizeof(req) - 1) != sizeof(req) - 1) {
			close(c.fd);
			c.fd = -1;
			c.retry_ms = now_ms() + 1;
			connect_retries++;
			return;
		}
		c.started_ms = now_ms();
		c.outcome = false;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
	};
	const uint64_t t0 = now_ms();
	Tally tally(t0, o.warmup_s, o.duration_s);
	for (unsigned i = 0; i < o.k; i++)
		open_client(i);
	std::vector<epoll_event> evs(256);
	char buf[4096];
	while (!tally.over(now_ms())) {
		int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 5);
		uint64_t t = now_ms();
		for (int i = 0; i < n; i++) {
			unsigned idx = evs[i].data.u32;
			Client &c = cs[idx];
			for (;;) {
				ssize_t len = read(c.fd, buf, sizeof(buf));
				if (len < 0 && errno == EAGAIN)
					break;
				if (len <= 0) {
					// charon answered everything and closed: next request
					epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
					close(c.fd);
					c.fd = -1;
					if (!c.outcome)
						tally.failed(t);
					open_client(idx);
					break;
				}
				for (ssize_t j = 0; j < len; j++) {
					if (buf[j] == '+' && !c.outcome) {
						c.outcome = true;
						tally.done(t, t - c.started_ms);
					} else if ((buf[j] == '-' || buf[j] == '!') && !c.outcome) {
						c.outcome = true;
						tally.failed(t);
					} else if (buf[j] == '*') {
						retransmits++;
					}
				}
			}
		}
		for (unsigned i = 0; i < o.k; i++)
			if (cs[i].fd < 0 && t >= cs[i].retry_ms)
				open_client(i);
	}
	for (Client &c : cs)
		if (c.fd >= 0)
			close(c.fd);
	close(ep);
	char extra[160];
	snprintf(extra, sizeof(extra), ", \"retransmits\": %llu, \"connect_retries\": %llu",
		 (unsigned long long)retransmits, (unsigned long long)connect_retries);
	tally.print(o, extra);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	Options o = parse_options(argc, argv);
	return o.mode == "gdoi" ? run_gdoi(o) : run_load_tester(o);
}
