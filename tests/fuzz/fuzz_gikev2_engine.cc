// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the G-IKEv2 engine. One engine holds a key server group "blue"
// (192.0.2.1), a member group "self" registered to it over a loopback, and
// a member group "red" whose key server (192.0.2.9) is played by this
// harness. The first octet picks what the rest is:
//   0: datagrams, each [destination (1)][length (2)][octets], sent to
//      blue's address, self's, red's or the multicast address, with the
//      clock moved and the engine ticked in between;
//   1: [exchange (1)][first payload (1)][payload chain]: the harness runs
//      IKE_SA_INIT with blue as a member and sends the chain inside SK as
//      GSA_AUTH or GSA_REGISTRATION (bit 7 of the exchange octet: put a
//      valid IDi and AUTH first);
//   2: the same chain as the answer to red's GSA_AUTH, after the harness
//      answered red's IKE_SA_INIT (bit 7: put a valid IDr and AUTH first).
// A first octet of 0xf0 or more is a session (blue then rekeys in-band):
// the harness runs IKE_SA_INIT with blue as member gm1 and then exchanges
// on that one IKE SA, each built and sealed with the SA's keys from
// [step (1)][first payload (1)][length (2)][payload chain]:
//   step & 3 = 0: a GSA_AUTH request, 1: a GSA_REGISTRATION request, with
//      the next Message ID (bit 6: the previous one again, a replay);
//      bit 7 puts what a valid request holds first (IDi, AUTH and IDg;
//      IDg);
//   2: blue rekeys; the harness answers each GSA_INBAND_REKEY request blue
//      sends it with the chain (bit 7: an empty, valid acknowledgement);
//   3: (step >> 2) x 5 s pass, the engine ticks, and the harness
//      acknowledges blue's requests (retransmissions included).
// The seeds hold GSA_AUTH, GSA_REGISTRATION, rekeys and time passing.
// Nothing may crash, and the engine's state must stay readable.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <random>

#include "../../gdoi-plugin/core/gdoi_engine.h"
#include "../../gdoi-plugin/core/gikev2_message.h"
#include "../../gdoi-plugin/core/gikev2_sk.h"
#include "../../gdoi-plugin/core/ike/ike_crypto.h"
#include "../../gdoi-plugin/core/ike/ike_sa_payload.h"

using namespace groupsec::gdoi;

namespace {

struct Clk : Clock {
	uint64_t now_ms() const override { return t; }
	uint64_t t = 1000000;
};

struct Rnd : Random {
	std::mt19937_64 r{42};
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(r());
	}
};

struct Creds : Credentials {
	std::optional<Bytes> shared_key(const Identity &, const Identity &) override
	{
		return Bytes{'f', 'u', 'z', 'z'};
	}
	std::optional<Bytes> sign(const Identity &, ByteView) override { return std::nullopt; }
	bool verify(const Identity &, ByteView, ByteView, const std::string &, PeerRole) override { return false; }
};

struct Sink : SaSink {
	bool install(const TekSa &) override { return true; }
	void remove(const std::string &, uint32_t) override {}
};

struct Datagram {
	Address from, to;
	Bytes data;
};

struct Queue : Transport {
	std::deque<Datagram> q;
	bool send(const Address &l, const Address &r, ByteView d) override
	{
		q.push_back({l, r, d.to_bytes()});
		return true;
	}
};

Address addr(const char *ip)
{
	return *Address::parse(ip, 848);
}

Identity ident(const char *s)
{
	return *Identity::parse(s);
}

struct Harness {
	Clk clock;
	Rnd rnd;
	Creds creds;
	Sink sink;
	Queue net;
	Engine engine{EngineDeps{&net, &clock, &rnd, &creds, &sink}};
	Address blue = addr("192.0.2.1"), fake_ks = addr("192.0.2.9"), self = addr("198.51.100.2"),
		red = addr("198.51.100.1"), peer = addr("198.51.100.7"), mcast = addr("239.192.0.1");
	std::vector<Datagram> to_fake_ks;
	std::vector<Datagram> to_peer; // what blue sends the harness as member

	explicit Harness(bool with_self, bool inband = false)
	{
		GcksGroupConfig g;
		g.name = "blue";
		g.group_id = ident("@#01");
		g.local_id = ident("@ks.example.net");
		g.listen = {blue};
		g.authorized = {ident("gm1.example.net"), ident("self.example.net")};
		g.rekey = RekeyTransport::Multicast;
		g.multicast = mcast;
		TekPolicyConfig t;
		t.source.start_address = t.destination.start_address = Bytes(4, 0);
		t.source.end_address = t.destination.end_address = Bytes(4, 0xff);
		g.teks = {t};
		// the harness has no private key: unsigned rekeys, said so on
		// both sides
		g.rekey_auth = RekeyAuth::Implicit;
		if (inband)
			g.rekey = RekeyTransport::Inband;
		engine.add_server_group(g);
		GmGroupConfig m;
		m.name = "self";
		m.group_id = g.group_id;
		m.local_id = ident("self.example.net");
		m.server_id = g.local_id;
		m.local = self;
		m.servers = {blue};
		m.multicast = mcast;
		m.rekey_auth = RekeyAuth::Implicit;
		if (with_self)
			engine.add_member_group(m);
		m.name = "red";
		m.group_id = ident("@#02");
		m.local_id = ident("red.example.net");
		m.server_id = ident("@fake.example.net");
		m.local = red;
		m.servers = {fake_ks};
		m.multicast.reset();
		engine.add_member_group(m);
		engine.tick();
		pump();
	}

	// Loops datagrams between the engine's own groups; keeps what goes to
	// the harness's key server.
	void pump()
	{
		for (int guard = 0; !net.q.empty() && guard < 1000; guard++) {
			Datagram d = std::move(net.q.front());
			net.q.pop_front();
			if (d.to == fake_ks)
				to_fake_ks.push_back(d);
			else if (d.to == peer)
				to_peer.push_back(d);
			else if (d.to == blue || d.to == self || d.to == mcast)
				engine.receive(d.to, d.from, d.data);
		}
		net.q.clear();
	}

	void check()
	{
		for (const GroupState &g : engine.groups())
			if (g.name.empty() || (g.server && g.sas.empty()))
				abort();
		(void)engine.next_timeout_ms();
	}
};

Payload pl(PayloadType t, Bytes body)
{
	return Payload{static_cast<uint8_t>(t), false, std::move(body)};
}

ike::Proposal proposal()
{
	ike::Proposal p;
	p.transforms.push_back(Transform{1, 20, {make_tv_attribute(14, 256)}});
	p.transforms.push_back(Transform{2, ike::kPrfHmacSha256, {}});
	p.transforms.push_back(Transform{4, ike::kDhEcp256, {}});
	p.transforms.push_back(Transform{13, 3, {}});
	return p;
}

std::unique_ptr<ike::DhKey> fixed_dh()
{
	return std::move(ike::DhKey::from_private(ike::kDhEcp256, Bytes(32, 0x5a))).value();
}

// Mode 1: a member talking to blue.
void as_member(Harness &h, const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	auto chain = decode_payload_chain(data[1], ByteView(data + 2, size - 2));
	if (!chain)
		return;
	auto dh = fixed_dh();
	Bytes ni(32, 0x11);
	Message m;
	m.header.initiator_spi = 0x0102030405060708;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagInitiator;
	m.payloads.push_back(pl(PayloadType::SecurityAssociation, ike::encode_sa({proposal()}).value()));
	m.payloads.push_back(pl(PayloadType::KeyExchange, ike::encode_ke({ike::kDhEcp256, dh->public_value()}).value()));
	m.payloads.push_back(pl(PayloadType::Nonce, encode_nonce({ni}).value()));
	Bytes req = encode_message(m).value();
	h.engine.receive(h.blue, h.peer, req);
	if (h.net.q.empty())
		return;
	Bytes resp = h.net.q.back().data;
	h.net.q.clear();
	auto r = decode_message(resp);
	if (!r || r.value().payloads.size() < 3)
		return;
	auto ke = ike::decode_ke(r.value().payloads[1].body);
	auto nr = decode_nonce(r.value().payloads[2].body);
	if (!ke || !nr)
		return;
	auto shared = dh->shared_secret(ke.value().data);
	if (!shared)
		return;
	auto keys = ike::derive_ike_keys(SkCipher::AesGcm16, 32, ni, nr.value().nonce, shared.value(),
					 m.header.initiator_spi, r.value().header.responder_spi);
	std::vector<Payload> inner;
	if (data[0] & 0x80) {
		Bytes idi = encode_identification({static_cast<uint8_t>(IdType::Fqdn), Bytes{'g', 'm', '1', '.', 'e', 'x', 'a',
									       'm', 'p', 'l', 'e', '.', 'n', 'e', 't'}})
				    .value();
		Bytes octets = ike::signed_octets(req, nr.value().nonce, keys.sk_pi, idi);
		inner.push_back(pl(PayloadType::IdInitiator, idi));
		inner.push_back(pl(PayloadType::Authentication,
				   encode_auth({ike::kAuthSharedKey, ike::psk_auth(Bytes{'f', 'u', 'z', 'z'}, octets)})
					   .value()));
	}
	inner.insert(inner.end(), chain.value().begin(), chain.value().end());
	IkeHeader hd;
	hd.initiator_spi = m.header.initiator_spi;
	hd.responder_spi = r.value().header.responder_spi;
	hd.exchange_type = (data[0] & 1) ? static_cast<uint8_t>(ExchangeType::GsaRegistration)
					 : static_cast<uint8_t>(ExchangeType::GsaAuth);
	hd.flags = kFlagInitiator;
	hd.message_id = 1;
	auto sealed = seal_message(hd, {}, inner, keys.initiator, Bytes(8, 1));
	if (!sealed)
		return;
	h.engine.receive(h.blue, h.peer, sealed.value());
	h.engine.receive(h.blue, h.peer, sealed.value()); // a retransmission
	h.pump();
}

// Mode 2: the key server of group red.
void as_server(Harness &h, const uint8_t *data, size_t size)
{
	if (size < 2 || h.to_fake_ks.empty())
		return;
	auto chain = decode_payload_chain(data[1], ByteView(data + 2, size - 2));
	if (!chain)
		return;
	Bytes req = h.to_fake_ks.back().data;
	auto m = decode_message(req);
	if (!m || m.value().payloads.size() < 3)
		return;
	auto ke = ike::decode_ke(m.value().payloads[1].body);
	auto ni = decode_nonce(m.value().payloads[2].body);
	if (!ke || !ni)
		return;
	auto dh = fixed_dh();
	auto shared = dh->shared_secret(ke.value().data);
	if (!shared)
		return;
	Bytes nr(32, 0x22);
	Message r;
	r.header.initiator_spi = m.value().header.initiator_spi;
	r.header.responder_spi = 0x1112131415161718;
	r.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	r.header.flags = kFlagResponse;
	r.payloads.push_back(pl(PayloadType::SecurityAssociation, ike::encode_sa({proposal()}).value()));
	r.payloads.push_back(pl(PayloadType::KeyExchange, ike::encode_ke({ike::kDhEcp256, dh->public_value()}).value()));
	r.payloads.push_back(pl(PayloadType::Nonce, encode_nonce({nr}).value()));
	Bytes resp = encode_message(r).value();
	h.engine.receive(h.red, h.fake_ks, resp);
	h.to_fake_ks.clear();
	h.pump();
	if (h.to_fake_ks.empty())
		return;
	auto keys = ike::derive_ike_keys(SkCipher::AesGcm16, 32, ni.value().nonce, nr, shared.value(),
					 r.header.initiator_spi, r.header.responder_spi);
	std::vector<Payload> inner;
	if (data[0] & 0x80) {
		Bytes idr = encode_identification({static_cast<uint8_t>(IdType::Fqdn),
						   Bytes{'f', 'a', 'k', 'e', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
							 'n', 'e', 't'}})
				    .value();
		Bytes octets = ike::signed_octets(resp, ni.value().nonce, keys.sk_pr, idr);
		inner.push_back(pl(PayloadType::IdResponder, idr));
		inner.push_back(pl(PayloadType::Authentication,
				   encode_auth({ike::kAuthSharedKey, ike::psk_auth(Bytes{'f', 'u', 'z', 'z'}, octets)})
					   .value()));
	}
	inner.insert(inner.end(), chain.value().begin(), chain.value().end());
	IkeHeader hd;
	hd.initiator_spi = r.header.initiator_spi;
	hd.responder_spi = r.header.responder_spi;
	hd.exchange_type = static_cast<uint8_t>(ExchangeType::GsaAuth);
	hd.flags = kFlagResponse;
	hd.message_id = 1;
	auto sealed = seal_message(hd, {}, inner, keys.responder, Bytes(8, 2));
	if (!sealed)
		return;
	h.engine.receive(h.red, h.fake_ks, sealed.value());
	h.pump();
	h.engine.rekey("blue");
	h.pump();
}

// The harness as member gm1 of blue: the IKE SA it set up.
struct MemberSa {
	uint64_t ispi = 0x0102030405060708, rspi = 0;
	ike::IkeKeys keys;
	uint32_t next_id = 1;
	uint64_t iv = 0;
	Bytes init_request, nr;
};

// IKE_SA_INIT with blue; false if blue did not answer.
bool member_init(Harness &h, MemberSa &sa)
{
	auto dh = fixed_dh();
	Bytes ni(32, 0x11);
	Message m;
	m.header.initiator_spi = sa.ispi;
	m.header.exchange_type = static_cast<uint8_t>(ExchangeType::IkeSaInit);
	m.header.flags = kFlagInitiator;
	m.payloads.push_back(pl(PayloadType::SecurityAssociation, ike::encode_sa({proposal()}).value()));
	m.payloads.push_back(pl(PayloadType::KeyExchange, ike::encode_ke({ike::kDhEcp256, dh->public_value()}).value()));
	m.payloads.push_back(pl(PayloadType::Nonce, encode_nonce({ni}).value()));
	sa.init_request = encode_message(m).value();
	h.engine.receive(h.blue, h.peer, sa.init_request);
	if (h.net.q.empty())
		return false;
	Bytes resp = h.net.q.back().data;
	h.net.q.clear();
	auto r = decode_message(resp);
	if (!r || r.value().payloads.size() < 3)
		return false;
	auto ke = ike::decode_ke(r.value().payloads[1].body);
	auto nr = decode_nonce(r.value().payloads[2].body);
	if (!ke || !nr)
		return false;
	auto shared = dh->shared_secret(ke.value().data);
	if (!shared)
		return false;
	sa.rspi = r.value().header.responder_spi;
	sa.nr = nr.value().nonce;
	sa.keys = ike::derive_ike_keys(SkCipher::AesGcm16, 32, ni, sa.nr, shared.value(), sa.ispi, sa.rspi);
	return true;
}

Bytes iv(MemberSa &sa)
{
	Bytes v(8);
	uint64_t n = ++sa.iv;
	for (int i = 7; i >= 0; i--, n >>= 8)
		v[i] = static_cast<uint8_t>(n);
	return v;
}

// IDg of blue
Payload group_id_payload()
{
	const Identity g = ident("@#01");
	return pl(PayloadType::GroupId, encode_identification({g.type, g.data}).value());
}

// Sends a GSA_AUTH or GSA_REGISTRATION request on the member's IKE SA.
void session_request(Harness &h, MemberSa &sa, uint8_t step, const std::vector<Payload> &chain)
{
	bool auth = (step & 3) == 0;
	std::vector<Payload> inner;
	if (step & 0x80) {
		if (auth) {
			Bytes idi = encode_identification({static_cast<uint8_t>(IdType::Fqdn),
							   Bytes{'g', 'm', '1', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
								 '.', 'n', 'e', 't'}})
					    .value();
			Bytes octets = ike::signed_octets(sa.init_request, sa.nr, sa.keys.sk_pi, idi);
			inner.push_back(pl(PayloadType::IdInitiator, idi));
			inner.push_back(pl(PayloadType::Authentication,
					   encode_auth({ike::kAuthSharedKey, ike::psk_auth(Bytes{'f', 'u', 'z', 'z'}, octets)})
						   .value()));
		}
		inner.push_back(group_id_payload());
	}
	inner.insert(inner.end(), chain.begin(), chain.end());
	IkeHeader hd;
	hd.initiator_spi = sa.ispi;
	hd.responder_spi = sa.rspi;
	hd.exchange_type = auth ? static_cast<uint8_t>(ExchangeType::GsaAuth)
				: static_cast<uint8_t>(ExchangeType::GsaRegistration);
	hd.flags = kFlagInitiator;
	if ((step & 0x40) && sa.next_id > 1)
		hd.message_id = sa.next_id - 1;
	else
		hd.message_id = sa.next_id++;
	auto sealed = seal_message(hd, {}, inner, sa.keys.initiator, iv(sa));
	if (sealed)
		h.engine.receive(h.blue, h.peer, sealed.value());
	h.pump();
}

// Answers the requests blue sent the member (GSA_INBAND_REKEY) with chain,
// or with an empty acknowledgement if ack; responses to the member's own
// requests are opened and dropped.
void session_answer(Harness &h, MemberSa &sa, bool ack, const std::vector<Payload> &chain)
{
	std::vector<Datagram> got;
	got.swap(h.to_peer);
	for (const Datagram &d : got) {
		auto opened = open_message(d.data, sa.keys.responder);
		if (!opened)
			continue;
		const IkeHeader &rh = opened.value().message.header;
		if (rh.flags & kFlagResponse)
			continue;
		IkeHeader hd;
		hd.initiator_spi = sa.ispi;
		hd.responder_spi = sa.rspi;
		hd.exchange_type = rh.exchange_type;
		hd.flags = kFlagInitiator | kFlagResponse;
		hd.message_id = rh.message_id;
		auto sealed = seal_message(hd, {}, ack ? std::vector<Payload>{} : chain, sa.keys.initiator, iv(sa));
		if (sealed)
			h.engine.receive(h.blue, h.peer, sealed.value());
	}
	h.pump();
}

// Mode 3: exchanges on one IKE SA.
void session(Harness &h, const uint8_t *data, size_t size)
{
	MemberSa sa;
	if (!member_init(h, sa))
		return;
	size_t pos = 0;
	while (pos + 4 <= size) {
		uint8_t step = data[pos];
		uint8_t first = data[pos + 1];
		size_t len = size_t(data[pos + 2]) << 8 | data[pos + 3];
		pos += 4;
		len = std::min(len, size - pos);
		auto chain = decode_payload_chain(first, ByteView(data + pos, len));
		pos += len;
		std::vector<Payload> payloads = chain ? std::move(chain.value()) : std::vector<Payload>{};
		switch (step & 3) {
		case 0:
		case 1:
			session_request(h, sa, step, payloads);
			break;
		case 2:
			h.engine.rekey("blue");
			h.pump();
			session_answer(h, sa, step & 0x80, payloads);
			break;
		case 3:
			h.clock.t += uint64_t(step >> 2) * 5000;
			h.engine.tick();
			h.pump();
			session_answer(h, sa, true, payloads);
			break;
		}
		h.check();
	}
}

// Mode 0: raw datagrams.
void datagrams(Harness &h, const uint8_t *data, size_t size)
{
	size_t pos = 0;
	const Address *dst[] = {&h.blue, &h.self, &h.red, &h.mcast};
	while (pos + 3 <= size) {
		uint8_t sel = data[pos];
		size_t len = size_t(data[pos + 1]) << 8 | data[pos + 2];
		pos += 3;
		len = std::min(len, size - pos);
		h.engine.receive(*dst[sel & 3], h.peer, ByteView(data + pos, len));
		pos += len;
		if (sel & 4) {
			h.clock.t += uint64_t(sel >> 3) * 5000;
			h.engine.tick();
		}
		if (sel == 0xff)
			h.engine.rekey("blue");
		h.pump();
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] >= 0xf0) {
		// without the loopback member: its registration would double
		// the cost of every session
		Harness h(false, true);
		session(h, data + 1, size - 1);
		h.check();
		return 0;
	}
	Harness h(data[0] % 3 == 0);
	switch (data[0] % 3) {
	case 0:
		datagrams(h, data + 1, size - 1);
		break;
	case 1:
		as_member(h, data + 1, size - 1);
		break;
	case 2:
		as_server(h, data + 1, size - 1);
		break;
	}
	h.check();
	return 0;
}
