// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the shortcut messages (docs/shortcuts.md): the codec, then the
// member's and the manager's handling of what decodes.
//  - Whatever decodes must encode, and the encoding decode to the same
//    message.
//  - An input starting 0xff is a sequence of messages, each a 2-octet
//    length and that many octets; any other input is one message. Each is
//    given to a member (as from its manager) whose kernel records its SAs
//    and policies, and to a manager with a shortcut being set up (as from
//    one of its members). A rejected message must change nothing; the
//    member's kernel must never delete what it does not hold.
//  - Each message is also read as a packet the gateway relays
//    (classify_relayed()): both addresses of one family, and the manager's
//    triggers fed with them.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "../../gdoi-plugin/core/shortcut/shortcut_manager.h"
#include "../../gdoi-plugin/core/shortcut/shortcut_member.h"
#include "../../gdoi-plugin/core/shortcut/shortcut_wire.h"

using namespace groupsec;
using namespace groupsec::gdoi;
using namespace groupsec::gdoi::shortcut;

namespace {

struct CountingRandom : crypto::RandomSource {
	uint8_t next = 1;
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = next++;
	}
};

struct FixedClock : crypto::Clock {
	uint64_t now_ms() const override { return 5000; }
};

// Keeps SAs and policies; a delete of something not there is a bug.
struct Kernel : KernelOps {
	std::vector<KernelSa> sas;
	std::vector<KernelPolicy> policies;
	bool add_sa(const KernelSa &sa) override
	{
		for (const auto &x : sas)
			if (x.inbound == sa.inbound && x.spi == sa.spi && x.destination.ip == sa.destination.ip)
				return false;
		sas.push_back(sa);
		return true;
	}
	void del_sa(const KernelSa &sa) override
	{
		auto it = std::find_if(sas.begin(), sas.end(), [&](const KernelSa &x) {
			return x.inbound == sa.inbound && x.spi == sa.spi && x.destination.ip == sa.destination.ip;
		});
		if (it == sas.end())
			abort();
		sas.erase(it);
	}
	bool add_policy(const KernelPolicy &p) override
	{
		for (const auto &x : policies)
			if (x.direction == p.direction && x.source == p.source && x.destination == p.destination)
				return false;
		policies.push_back(p);
		return true;
	}
	void del_policy(const KernelPolicy &p) override
	{
		auto it = std::find_if(policies.begin(), policies.end(), [&](const KernelPolicy &x) {
			return x.direction == p.direction && x.source == p.source && x.destination == p.destination;
		});
		if (it == policies.end())
			abort();
		policies.erase(it);
	}
};

struct Sink : MemberChannel, ManagerChannel {
	size_t sent = 0;
	bool send(ByteView m) override
	{
		if (!decode_shortcut_message(m).ok())
			abort(); // what a core sends must decode
		sent++;
		return true;
	}
	bool send(const std::string &, ByteView m) override { return send(m); }
};

void round_trip(ByteView in)
{
	auto d = decode_shortcut_message(in);
	if (!d.ok())
		return;
	auto e = encode_shortcut_message(d.value());
	if (!e.ok())
		abort();
	auto again = decode_shortcut_message(e.value());
	if (!again.ok() || !(again.value() == d.value()))
		abort();
	if (e.value().size() != in.size())
		abort();
}

Address addr(const char *s)
{
	return *Address::parse(s, 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	std::vector<ByteView> messages;
	if (size && data[0] == 0xff) {
		size_t pos = 1;
		while (pos + 2 <= size && messages.size() < 64) {
			size_t n = static_cast<size_t>(data[pos] << 8 | data[pos + 1]);
			pos += 2;
			n = std::min(n, size - pos);
			messages.emplace_back(data + pos, n);
			pos += n;
		}
	} else {
		messages.emplace_back(data, size);
	}

	CountingRandom random;
	FixedClock clock;
	Kernel kernel;
	Sink sink;
	MemberSettings ms;
	ms.manager = "gw";
	ms.inside = {parse_prefix("10.1.0.0/16").value()};
	ms.local_outside = addr("192.0.2.10");
	ShortcutMember member(ms, kernel, sink, random);
	member.manager_connected();

	ShortcutManager manager(ManagerSettings{}, clock, random, sink);
	manager.member_outside("gm-a", {parse_prefix("10.1.0.0/16").value()}, addr("192.0.2.10"));
	manager.member_outside("gm-b", {parse_prefix("10.2.0.0/16").value()}, addr("198.51.100.20"));
	manager.request("gm-a", "gm-b");

	for (ByteView m : messages) {
		round_trip(m);
		size_t sas = kernel.sas.size(), policies = kernel.policies.size(), sent = sink.sent;
		if (!member.receive("gw", m).ok() &&
		    (kernel.sas.size() != sas || kernel.policies.size() != policies || sink.sent != sent))
			abort();
		auto before = manager.shortcuts().size();
		sent = sink.sent;
		if (!manager.receive("gm-a", m).ok() &&
		    (manager.shortcuts().size() != before || sink.sent != sent))
			abort();
		if (auto p = classify_relayed(m)) {
			if (p->source.size() != p->destination.size() ||
			    (p->source.size() != 4 && p->source.size() != 16))
				abort();
			if (p->new_session)
				manager.new_session(p->source, p->destination);
			manager.relayed(p->source, p->destination, 1);
		}
		manager.tick();
	}
	member.teardown_all();
	if (!kernel.sas.empty() || !kernel.policies.empty())
		abort();
	return 0;
}
