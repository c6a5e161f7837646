// SPDX-License-Identifier: GPL-2.0-or-later
// Writes the seed corpus of fuzz_shortcut_msg: one message of each type,
// and sequences (0xff, then 2-octet length and message, ...) that take a
// member through an offer, GO, a peer move and a teardown, and a manager
// through a member's ACKs. Build from the source tree, after a build in
// build/obj:
//   g++ -std=c++17 -Igdoi-plugin/core -Ilib tests/fuzz/shortcut_seeds.cc \
//       gdoi-plugin/core/shortcut/shortcut_wire.cc -o /tmp/shortcut_seeds \
//       build/obj/gdoi-plugin/core/.libs/libgdoicore.a build/obj/lib/.libs/libgroupsec.a \
//       build/obj/lib/groupsec/*/.libs/*.a -lcrypto
//   /tmp/shortcut_seeds tests/fuzz/corpus
#include <cstdio>
#include <string>
#include <vector>

#include "shortcut/shortcut_wire.h"

using namespace groupsec;
using namespace groupsec::gdoi;
using namespace groupsec::gdoi::shortcut;

namespace {

std::string dir;

void write(const std::string &name, const Bytes &b)
{
	std::string path = dir + "/fuzz_shortcut_msg/" + name;
	FILE *f = std::fopen(path.c_str(), "wb");
	if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
		std::perror(path.c_str());
		std::exit(1);
	}
	std::fclose(f);
}

Bytes encode(uint32_t epoch, uint64_t seq, uint32_t id, decltype(ShortcutMessage::body) body)
{
	ShortcutMessage m;
	m.epoch = epoch;
	m.sequence = seq;
	m.shortcut_id = id;
	m.body = std::move(body);
	auto e = encode_shortcut_message(m);
	if (!e.ok()) {
		std::fprintf(stderr, "%s\n", e.error().message.c_str());
		std::exit(1);
	}
	return Bytes(e.value());
}

Bytes sequence(const std::vector<Bytes> &messages)
{
	Bytes out{0xff};
	for (const auto &m : messages) {
		out.push_back(static_cast<uint8_t>(m.size() >> 8));
		out.push_back(static_cast<uint8_t>(m.size()));
		out.insert(out.end(), m.begin(), m.end());
	}
	return out;
}

Offer offer(bool v6, bool cbc)
{
	Offer o;
	o.suite = cbc ? Suite{12, 256, 12} : Suite{20, 256, 0};
	o.lifetime_s = 3600;
	o.spi_in = 0x1000a001;
	o.spi_out = 0x1000b002;
	o.peer_outside = *Address::parse(v6 ? "2001:db8::20" : "198.51.100.20", v6 ? 0 : 4500);
	o.local_inside = parse_prefix("10.1.0.5/32").value();
	o.peer_inside = parse_prefix("10.2.0.9/32").value();
	if (v6) {
		o.local_inside = parse_prefix("fd00:1::/64").value();
		o.peer_inside = parse_prefix("fd00:2::/64").value();
	}
	o.key_in = SecretBytes(o.suite.keymat_size(), 0x11);
	o.key_out = SecretBytes(o.suite.keymat_size(), 0x22);
	return o;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	const uint32_t e = 0x01020304;
	Bytes o = encode(e, 1, 1, offer(false, false));
	write("offer_gcm_v4", o);
	write("offer_cbc_v6", encode(e, 1, 1, offer(true, true)));
	write("go", encode(e, 2, 1, Go{}));
	write("peer_moved", encode(e, 3, 1, PeerMoved{*Address::parse("203.0.113.9", 0)}));
	write("teardown", encode(e, 4, 1, Teardown{TeardownReason::PeerInside}));
	write("ack_offer", encode(e, 1, 1, Ack{MsgType::Offer, AckStatus::Ok}));
	write("ack_refused", encode(e, 1, 1, Ack{MsgType::Offer, AckStatus::Duplicate}));
	write("seq_member_life",
	      sequence({o, encode(e, 2, 1, Go{}), encode(e, 3, 1, PeerMoved{*Address::parse("203.0.113.9", 0)}),
			encode(e, 4, 1, Teardown{TeardownReason::Operator})}));
	write("seq_replay", sequence({o, o, encode(e, 1, 2, Go{})}));
	write("seq_acks", sequence({encode(e, 1, 1, Ack{MsgType::Offer, AckStatus::Ok}),
				    encode(e, 2, 1, Ack{MsgType::Go, AckStatus::Ok}),
				    encode(e, 3, 1, Ack{MsgType::Offer, AckStatus::KernelFailed})}));
	// packets the gateway relays: a TCP SYN from 10.1.0.5 to 10.2.0.9
	// (a new session between the two members), and one over IPv6
	Bytes tcp_syn(20, 0);
	tcp_syn[12] = 0x50;
	tcp_syn[13] = 0x02;
	Bytes v4{0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 5, 10, 2, 0, 9};
	v4.insert(v4.end(), tcp_syn.begin(), tcp_syn.end());
	write("relayed_syn_v4", v4);
	Bytes v6{0x60, 0, 0, 0, 0, 20, 6, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
		 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	v6.insert(v6.end(), tcp_syn.begin(), tcp_syn.end());
	write("relayed_syn_v6", v6);
	return 0;
}
