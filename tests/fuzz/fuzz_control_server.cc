// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the control socket's request path: the input is a client's byte
// stream into one ControlConnection, and, framed as a CMD_REQUEST of the
// command its first octet picks, the message of a request. Every reply
// must be a well-formed packet, and a failed connection must stay failed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "../../gdoi-plugin/core/control.h"

using namespace groupsec::gdoi;
using namespace groupsec::vici;

namespace {

// A target with one group of each role that accepts every action.
class Target : public ControlTarget {
public:
	Target()
	{
		GroupState s;
		s.name = "blue";
		s.server = true;
		s.state = "serving";
		s.group_id.type = 11;
		s.group_id.data = {1, 2};
		MemberState m;
		m.id.type = 2;
		m.id.data = {'g', 'm'};
		m.address.ip = {192, 0, 2, 1};
		s.members = {m, m};
		SaState sa;
		sa.spi = 1;
		s.sas = {sa};
		GroupState g = s;
		g.name = "red";
		g.server = false;
		g.members.clear();
		groups_ = {s, g};
	}
	std::vector<GroupState> groups() const override { return groups_; }
	uint64_t now_ms() const override { return 5000; }
	Result<Done> rekey(const std::string &) override { return Done{}; }
	Result<Done> reregister(const std::string &) override { return Done{}; }
	Result<Done> evict(const std::string &, const std::string &) override { return Done{}; }
	Result<Done> exclude(const std::string &, const std::string &) override { return Done{}; }
	Result<Done> readmit(const std::string &, const std::string &) override { return Done{}; }
	Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &e) override
	{
		// the server checks these before the target
		if (group.empty() || e.prefixes.empty() || (e.gateway.ip.size() != 4 && e.gateway.ip.size() != 16))
			abort();
		for (const TrafficSelector &p : e.prefixes) {
			if (p.start_address.size() != p.end_address.size() || p.start_address > p.end_address)
				abort();
		}
		endpoints_.push_back(e);
		return Done{};
	}
	Result<Done> remove_endpoint(const std::string &, const Address &) override { return Done{}; }
	Result<std::vector<TunnelEndpoint>> endpoints(const std::string &) const override { return endpoints_; }
	// the server hands on a source's name and the settings as key paths
	// of non-empty names, each a value
	Result<Done> check_config(const std::string &source, const ConfigSettings &settings) override
	{
		if (source.empty() || source == "file")
			abort();
		for (const auto &[key, value] : settings) {
			(void)value;
			if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
				abort();
		}
		return Done{};
	}
	Result<Done> unload_config(const std::string &source) override
	{
		if (source.empty())
			abort();
		return Done{};
	}

private:
	std::vector<GroupState> groups_;
	std::vector<TunnelEndpoint> endpoints_;
};

void check_replies(const Bytes &out)
{
	StreamReader r;
	r.push(out);
	for (;;) {
		auto n = r.next();
		if (!n.ok())
			abort();
		if (!n.value())
			break;
		auto p = decode_packet(*n.value());
		if (!p.ok())
			abort();
		if (p.value().op == Operation::CmdResponse && !p.value().message.value("success"))
			abort();
	}
	if (!r.idle())
		abort();
}

const char *const kCommands[] = {
        "version", "list-groups", "list-members", "list-sas", "rekey", "evict", "exclude",
        "reregister", "add-endpoint", "remove-endpoint", "list-endpoints", "unknown",
        "check-config", "load-config", "unload-config",
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Target target;
	ControlServer server(target, 64 * 1024);

	// the raw stream
	{
		ControlConnection c(server);
		Bytes out;
		auto r = c.feed(ByteView(data, size), out);
		check_replies(out);
		if (!r.ok()) {
			Bytes more;
			if (c.feed(ByteView(data, size), more).ok() || !more.empty())
				abort();
		}
	}

	// a request of a known command with the input as its message
	if (size > 0) {
		std::string name = kCommands[data[0] % (sizeof(kCommands) / sizeof(kCommands[0]))];
		Bytes framed = {0, 0, 0, 0, 0, static_cast<uint8_t>(name.size())};
		framed.insert(framed.end(), name.begin(), name.end());
		framed.insert(framed.end(), data + 1, data + size);
		uint32_t len = static_cast<uint32_t>(framed.size() - 4);
		framed[0] = static_cast<uint8_t>(len >> 24);
		framed[1] = static_cast<uint8_t>(len >> 16);
		framed[2] = static_cast<uint8_t>(len >> 8);
		framed[3] = static_cast<uint8_t>(len);
		ControlConnection c(server);
		Bytes out;
		auto r = c.feed(framed, out);
		if (len <= server.max_packet() && (!r.ok() || out.empty()))
			abort(); // a request always gets an answer
		check_replies(out);
	}
	return 0;
}
