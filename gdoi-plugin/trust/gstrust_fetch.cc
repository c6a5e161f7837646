// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust fetch ADDR [--port P] [--gikev2] [--dh 19|31] [--timeout S]:
// one IKE_SA_INIT request (ike_probe.h), retried once with a responder's
// cookie or the DH group it asks for, then abandoned. Prints the chosen
// proposal, vendor IDs, CERTREQ authorities, NAT detection and whether
// the answer came from another address or port than the one asked.
#include "gstrust_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "groupsec/base/hex.h"
#include "groupsec/base/text.h"
#include "groupsec/json.h"
#include "ike/ike_probe.h"

namespace groupsec::trust::gstrust {

namespace {

using namespace groupsec::gdoi;

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;

struct Endpoint {
	sockaddr_storage sa{};
	socklen_t len = 0;
	Bytes ip;
	uint16_t port = 0;
};

bool endpoint_of(const sockaddr_storage &ss, Endpoint &e)
{
	e.sa = ss;
	if (ss.ss_family == AF_INET) {
		auto *s = reinterpret_cast<const sockaddr_in *>(&ss);
		const auto *p = reinterpret_cast<const uint8_t *>(&s->sin_addr);
		e.ip.assign(p, p + 4);
		e.port = ntohs(s->sin_port);
		e.len = sizeof(sockaddr_in);
		return true;
	}
	if (ss.ss_family == AF_INET6) {
		auto *s = reinterpret_cast<const sockaddr_in6 *>(&ss);
		const auto *p = reinterpret_cast<const uint8_t *>(&s->sin6_addr);
		e.ip.assign(p, p + 16);
		e.port = ntohs(s->sin6_port);
		e.len = sizeof(sockaddr_in6);
		return true;
	}
	return false;
}

bool parse_endpoint(const std::string &ip, uint16_t port, Endpoint &e)
{
	sockaddr_storage ss{};
	auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
	auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
	if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
	} else {
		return false;
	}
	return endpoint_of(ss, e);
}

std::string ip_text(const Endpoint &e)
{
	char buf[INET6_ADDRSTRLEN] = "";
	inet_ntop(e.ip.size() == 4 ? AF_INET : AF_INET6, e.ip.data(), buf, sizeof buf);
	return buf;
}

class Socket {
public:
	~Socket()
	{
		if (fd_ >= 0)
			close(fd_);
	}
	int fd_ = -1;
};

// Sends req and waits for its answer, sending again every second until
// timeout_ms; the answer's source in from.
bool exchange(int fd, const Endpoint &to, const Bytes &req, int timeout_ms, Bytes &answer, Endpoint &from,
	      uint64_t spi_i)
{
	using namespace std::chrono;
	const auto end = steady_clock::now() + milliseconds(timeout_ms);
	auto next_send = steady_clock::now();
	for (;;) {
		auto now = steady_clock::now();
		if (now >= end)
			return false;
		if (now >= next_send) {
			if (sendto(fd, req.data(), req.size(), 0, reinterpret_cast<const sockaddr *>(&to.sa), to.len) < 0)
				return false;
			next_send = now + seconds(1);
		}
		auto wait = duration_cast<milliseconds>(std::min(end, next_send) - now).count();
		pollfd p{fd, POLLIN, 0};
		if (poll(&p, 1, static_cast<int>(wait) + 1) <= 0)
			continue;
		uint8_t buf[65536];
		sockaddr_storage ss{};
		socklen_t sl = sizeof ss;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&ss), &sl);
		if (n < 28 || !endpoint_of(ss, from))
			continue;
		// another exchange's datagram: not ours (initiator SPI first, network order)
		uint64_t spi = 0;
		for (int i = 0; i < 8; i++)
			spi = spi << 8 | buf[i];
		if (spi != spi_i)
			continue;
		answer.assign(buf, buf + n);
		return true;
	}
}

void add_info(JsonWriter &j, const ike::ProbeAnswer &a, const Endpoint &to, const Endpoint &from, bool moved)
{
	j.key("responder_spi").value(to_hex(Bytes{
		static_cast<uint8_t>(a.spi_r >> 56), static_cast<uint8_t>(a.spi_r >> 48), static_cast<uint8_t>(a.spi_r >> 40),
		static_cast<uint8_t>(a.spi_r >> 32), static_cast<uint8_t>(a.spi_r >> 24), static_cast<uint8_t>(a.spi_r >> 16),
		static_cast<uint8_t>(a.spi_r >> 8), static_cast<uint8_t>(a.spi_r)}));
	j.key("proposal").begin_array();
	for (const auto &t : a.proposal)
		j.value(ike::probe_transform_name(t));
	j.end_array();
	j.key("vendor_ids").begin_array();
	for (const auto &v : a.vendor_ids)
		j.value(to_hex(v));
	j.end_array();
	j.key("certreq").begin_array();
	for (const auto &c : a.certreq_authorities)
		j.value(to_hex(c));
	j.end_array();
	j.key("fragmentation").value(a.fragmentation);
	j.key("signature_hashes").begin_array();
	for (uint16_t h : a.signature_hashes)
		j.value(static_cast<unsigned>(h));
	j.end_array();
	j.key("nat_detection").value(a.nat_detection);
	j.key("nat_local").value(a.nat_local);
	j.key("nat_remote").value(a.nat_remote);
	j.key("answered_from").value(ip_text(from) + "[" + std::to_string(from.port) + "]");
	j.key("source_changed").value(moved);
	(void)to;
}

std::string text_of(const ike::ProbeAnswer &a, const Endpoint &from, bool moved, const std::string &cert_note)
{
	std::string s;
	s += "proposal:       ";
	for (size_t i = 0; i < a.proposal.size(); i++)
		s += (i ? "/" : "") + ike::probe_transform_name(a.proposal[i]);
	s += "\nvendor IDs:     ";
	if (a.vendor_ids.empty())
		s += "none";
	for (size_t i = 0; i < a.vendor_ids.size(); i++)
		s += (i ? ", " : "") + to_hex(a.vendor_ids[i]);
	s += "\nCA requested:   ";
	if (a.certreq_authorities.empty())
		s += "none";
	for (size_t i = 0; i < a.certreq_authorities.size(); i++)
		s += (i ? ", " : "") + to_hex(a.certreq_authorities[i]);
	s += "\nfragmentation:  " + std::string(a.fragmentation ? "yes" : "no");
	s += "\nNAT:            ";
	if (!a.nat_detection)
		s += "not detected (no NAT detection payloads)";
	else if (!a.nat_local && !a.nat_remote)
		s += "none";
	else
		s += std::string(a.nat_local ? "in front of us" : "") + (a.nat_local && a.nat_remote ? ", " : "") +
		     (a.nat_remote ? "in front of the peer (or the peer forces UDP encapsulation)" : "");
	s += "\nanswered from:  " + ip_text(from) + "[" + std::to_string(from.port) + "]" +
	     (moved ? " (not where we sent)" : "") + "\n";
	s += "certificate:    " + cert_note + "\n";
	return s;
}

} // namespace

int fetch(const std::vector<std::string> &args, bool json, std::string &out, std::string &err)
{
	auto usage = [&](const std::string &m) {
		err += "gstrust: fetch: " + m + "\n(gstrust --help for the usage)\n";
		return kExitUsage;
	};
	std::string addr;
	unsigned port = 500, dh = ike::kDhCurve25519, timeout_s = 5;
	bool gikev2 = false, gikev2_set = false;
	for (size_t i = 0; i < args.size(); i++) {
		const std::string &a = args[i];
		auto number = [&](unsigned lo, unsigned hi, unsigned &v) {
			if (i + 1 >= args.size())
				return false;
			auto n = text::decimal(args[++i], hi);
			if (!n || *n < lo)
				return false;
			v = static_cast<unsigned>(*n);
			return true;
		};
		if (a == "--port") {
			if (!number(1, 65535, port))
				return usage("--port needs a port number");
		} else if (a == "--dh") {
			if (!number(1, 65535, dh) || !ike::dh_group_supported(static_cast<uint16_t>(dh)))
				return usage("--dh is 19 (ECP-256) or 31 (Curve25519)");
		} else if (a == "--timeout") {
			if (!number(1, 600, timeout_s))
				return usage("--timeout needs seconds from 1 to 600");
		} else if (a == "--gikev2") {
			gikev2 = gikev2_set = true;
		} else if (a == "--ikev2") {
			gikev2 = false;
			gikev2_set = true;
		} else if (addr.empty() && !a.empty() && a[0] != '-') {
			addr = a;
		} else {
			return usage("unknown argument " + a);
		}
	}
	if (addr.empty())
		return usage("fetch ADDR [--port P] [--gikev2|--ikev2] [--dh 19|31] [--timeout S]");
	if (!gikev2_set)
		gikev2 = port == gdoi::kGikev2Port;
	Endpoint to;
	if (!parse_endpoint(addr, static_cast<uint16_t>(port), to))
		return usage(addr + " is not an IPv4 or IPv6 address");

	auto fail = [&](const std::string &m) {
		err += "gstrust: fetch: " + m + "\n";
		return kExitFailed;
	};
	Socket s;
	s.fd_ = socket(to.sa.ss_family, SOCK_DGRAM, 0);
	if (s.fd_ < 0)
		return fail(std::string("socket: ") + strerror(errno));
	// connect() picks the local address the route gives (the one the NAT
	// detection hash names); recvfrom() still sees where the answer came from
	Endpoint local;
	{
		int probe = socket(to.sa.ss_family, SOCK_DGRAM, 0);
		sockaddr_storage ss{};
		socklen_t sl = sizeof ss;
		bool ok = probe >= 0 && connect(probe, reinterpret_cast<const sockaddr *>(&to.sa), to.len) == 0 &&
			  getsockname(probe, reinterpret_cast<sockaddr *>(&ss), &sl) == 0;
		if (probe >= 0)
			close(probe);
		if (!ok || !endpoint_of(ss, local))
			return fail("no route to " + addr);
		reinterpret_cast<sockaddr_in *>(&ss)->sin_port = 0; // same offset in sockaddr_in6
		if (bind(s.fd_, reinterpret_cast<const sockaddr *>(&ss), sl) != 0)
			return fail(std::string("bind: ") + strerror(errno));
		sl = sizeof ss;
		if (getsockname(s.fd_, reinterpret_cast<sockaddr *>(&ss), &sl) != 0 || !endpoint_of(ss, local))
			return fail(std::string("getsockname: ") + strerror(errno));
	}

	ike::ProbeOptions opts;
	opts.gikev2 = gikev2;
	opts.dh_group = static_cast<uint16_t>(dh);
	opts.local_ip = local.ip;
	opts.local_port = local.port;
	opts.remote_ip = to.ip;
	opts.remote_port = to.port;
	crypto::OpenSslRandom random;
	std::optional<ike::ProbeAnswer> answer;
	Endpoint from;
	for (int attempt = 0; attempt < 3; attempt++) {
		auto req = ike::probe_request(opts, random);
		if (!req)
			return fail(req.error().message);
		Bytes data;
		if (!exchange(s.fd_, to, req.value().datagram, static_cast<int>(timeout_s * 1000), data, from,
			      req.value().spi_i))
			return fail("no answer from " + addr + " port " + std::to_string(port) + " in " +
				    std::to_string(timeout_s) + " s");
		auto a = ike::probe_answer(data, req.value(), opts);
		if (!a)
			return fail("the answer is not a valid IKE_SA_INIT response: " + a.error().message);
		if (a.value().invalid_ke_group && ike::dh_group_supported(a.value().invalid_ke_group) &&
		    a.value().invalid_ke_group != opts.dh_group) {
			opts.dh_group = a.value().invalid_ke_group;
			opts.cookie.clear();
			continue;
		}
		if (!a.value().cookie.empty()) {
			opts.cookie = a.value().cookie;
			continue;
		}
		if (a.value().invalid_ke_group)
			return fail("the peer asks for DH group " + std::to_string(a.value().invalid_ke_group) +
				    ", which this tool does not speak");
		if (a.value().error)
			return fail("the peer refused: " + std::string(notify_name(a.value().error)) + " (" +
				    std::to_string(a.value().error) + ")");
		answer = std::move(a).value();
		break;
	}
	if (!answer)
		return fail("the peer kept asking for another cookie or DH group");
	const bool moved = !(from.ip == to.ip) || from.port != to.port;
	// The responder answers IKE_SA_INIT only: its certificate would come in
	// the next exchange, after it has authenticated us (trust-lists.md).
	const std::string cert_note = "not sent before authentication (IKE_SA_INIT only, then abandoned)";
	if (json) {
		JsonWriter j;
		j.begin_object();
		j.key("peer").value(addr + "[" + std::to_string(port) + "]");
		j.key("protocol").value(gikev2 ? "G-IKEv2" : "IKEv2");
		add_info(j, *answer, to, from, moved);
		j.key("certificate").null();
		j.end_object();
		out += j.str() + "\n";
	} else {
		out += "peer:           " + addr + "[" + std::to_string(port) + "] (" + (gikev2 ? "G-IKEv2" : "IKEv2") +
		       ")\n";
		out += text_of(*answer, from, moved, cert_note);
	}
	return kExitOk;
}

} // namespace groupsec::trust::gstrust
