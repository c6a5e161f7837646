// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the election message decoder and the state machine behind it.
// A message that decodes must encode back to the same octets. Then the
// input goes to a candidate's ElectionFsm (group 1, group-key mode) as it
// is, and as a sequence of datagrams (a length octet, then the octets),
// each re-signed with the group key when it decodes, so that the state
// machine's handling is reached; time moves 100 ms after each datagram.
// The seeds (tests/fuzz/corpus/fuzz_election_msg/) are every message type
// under that key; tests/fuzz/election_msg_seeds.py writes them.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "../../election-plugin/core/election_auth.h"
#include "../../election-plugin/core/election_fsm.h"
#include "../../election-plugin/core/election_msg.h"
#include "../../election-plugin/core/election_replica.h"

using namespace groupsec;
using namespace groupsec::election;

namespace {

const Bytes kGroupKey(32, 0x42);

class StepClock : public crypto::Clock {
public:
	uint64_t now_ms() const override { return now; }
	uint64_t now = 1000;
};

class CountingRandom : public crypto::RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = next++;
	}
	uint8_t next = 0;
};

class NullTransport : public Transport {
public:
	void send(ByteView datagram) override
	{
		// what the node sends must decode
		if (!decode(datagram))
			abort();
	}
};

// d's message with a valid group-key signature, or empty.
Bytes resigned(const Decoded &d, const Signer &signer)
{
	Message m = d.message;
	m.auth = AuthMethod::GroupPsk;
	auto part = encode_signed_part(m);
	if (!part)
		return {};
	m.signature = signer.sign(part.value()).value();
	auto out = encode(m);
	return out ? out.value() : Bytes();
}

void check_roundtrip(ByteView in, const Decoded &d)
{
	auto again = encode(d.message);
	if (!again || again.value() != in.to_bytes())
		abort();
	if (d.signed_part.data() != in.data() ||
	    d.signed_part.size() + 2 + d.message.signature.size() != in.size())
		abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ByteView in(data, size);
	auto whole = decode(in);
	if (whole)
		check_roundtrip(in, whole.value());
	// the state replication payloads
	auto replica = decode_replica(in);
	if (replica) {
		auto again = encode_replica(replica.value());
		if (!again || again.value() != in.to_bytes())
			abort();
	}
	auto key = decode_standby_key(in);
	if (key && key.value() != in.to_bytes())
		abort();
	auto ack = decode_replica_ack(in);
	if (ack && encode_replica_ack(ack.value()) != in.to_bytes())
		abort();

	std::shared_ptr<const Signer> signer(group_psk_signer(kGroupKey).value());
	PeerTable peers;
	peers.set_group_verifier(std::shared_ptr<const Verifier>(group_psk_verifier(kGroupKey).value()));
	peers.add("ks1", nullptr, true);
	peers.add("ks2", nullptr, true);
	ElectionConfig config;
	config.group = 1;
	config.identity = "self";
	config.address = Bytes{10, 0, 0, 5};
	config.candidate = true;
	config.check_source_address = false;
	StepClock clock;
	CountingRandom random;
	NullTransport transport;
	ElectionFsm fsm(config, peers, signer, clock, random, transport);
	fsm.start();
	uint64_t delivered = 0;
	fsm.receive(in);
	delivered++;
	size_t pos = 0;
	while (pos < size) {
		size_t len = data[pos++];
		if (len > size - pos)
			len = size - pos;
		ByteView chunk(data + pos, len);
		pos += len;
		auto d = decode(chunk);
		if (d) {
			check_roundtrip(chunk, d.value());
			Bytes good = resigned(d.value(), *signer);
			if (!good.empty()) {
				fsm.receive(good);
				delivered++;
			}
		}
		fsm.receive(chunk);
		delivered++;
		clock.now += 100;
		fsm.on_timer();
		if (fsm.next_deadline_ms() < clock.now)
			abort(); // a timer left due
	}
	if (fsm.counters().received != delivered)
		abort();
	return 0;
}
