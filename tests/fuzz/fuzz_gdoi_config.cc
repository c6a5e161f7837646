// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the `groups` configuration parser. The input is lines of
// "key=value" (a line without "=" is a key with an empty value). A config
// that parses must hold what the parser promises; the value parsers are
// also fed each value on its own.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "../../gdoi-plugin/core/gdoi_config.h"

using namespace groupsec::gdoi;

namespace {

void check_selector(const TrafficSelector &ts)
{
	size_t n = ts.ts_type == static_cast<uint8_t>(TsType::Ipv4AddrRange) ? 4 : 16;
	if (ts.start_address.size() != n || ts.end_address.size() != n || ts.start_address > ts.end_address)
		abort();
}

void check_address(const Address &a)
{
	if ((a.ip.size() != 4 && a.ip.size() != 16) || a.port != 848)
		abort();
}

void check(const GdoiConfig &c)
{
	for (const auto &s : c.servers) {
		if (s.name.empty() || s.group_id.data.empty() || s.local_id.data.empty() || s.listen.empty() ||
		    s.authorized.empty() || s.teks.empty() || s.tek_lifetime_s < 60 || s.kek_lifetime_s < 60 ||
		    s.id_bits < 1 || s.id_bits > 32 || s.activation_delay_s >= s.tek_lifetime_s ||
		    s.deactivation_delay_s >= s.tek_lifetime_s)
			abort();
		if ((s.rekey == RekeyTransport::Multicast) != s.multicast.has_value())
			abort();
		for (const auto &a : s.listen)
			check_address(a);
		for (const auto &t : s.teks) {
			check_selector(t.source);
			check_selector(t.destination);
			if (t.source.ts_type != t.destination.ts_type)
				abort();
			bool gcm = t.encryption == 20 && t.integrity == 0;
			bool cbc = t.encryption == 12 && t.integrity == 12;
			if (!(gcm || cbc) || (t.key_bits != 128 && t.key_bits != 192 && t.key_bits != 256))
				abort();
		}
	}
	for (const auto &m : c.members) {
		if (m.name.empty() || m.group_id.data.empty() || m.local_id.data.empty() || m.server_id.data.empty() ||
		    m.servers.empty())
			abort();
		check_address(m.local);
		for (const auto &a : m.servers) {
			check_address(a);
			if (a.ip.size() != m.local.ip.size())
				abort();
		}
	}
	for (const auto &[name, endpoints] : c.endpoints) {
		bool member = false;
		for (const auto &m : c.members)
			member = member || m.name == name;
		if (!member || endpoints.empty())
			abort();
		for (const auto &e : endpoints) {
			check_address(e.gateway);
			if (e.prefixes.empty())
				abort();
			for (const auto &p : e.prefixes)
				check_selector(p);
		}
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::vector<std::pair<std::string, std::string>> settings;
	std::string text(reinterpret_cast<const char *>(data), size);
	size_t start = 0;
	while (start < text.size()) {
		size_t end = text.find('\n', start);
		if (end == std::string::npos)
			end = text.size();
		std::string line = text.substr(start, end - start);
		size_t eq = line.find('=');
		if (eq == std::string::npos)
			settings.emplace_back(line, "");
		else
			settings.emplace_back(line.substr(0, eq), line.substr(eq + 1));
		start = end + 1;
	}

	auto r = parse_config(settings);
	if (r.ok())
		check(r.value());
	else if (r.error().message.rfind("groups.", 0) != 0)
		abort();

	for (const auto &kv : settings) {
		auto ts = parse_traffic_selector(kv.second);
		if (ts.ok())
			check_selector(ts.value());
		auto d = parse_duration(kv.second);
		(void)d;
		auto p = parse_esp_proposal(kv.second);
		if (p.ok() && p.value().encryption != 20 && p.value().encryption != 12)
			abort();
		auto g = parse_group_id(kv.second);
		if (g.ok() && g.value().data.empty())
			abort();
	}
	return 0;
}
