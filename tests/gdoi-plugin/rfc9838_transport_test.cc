// SPDX-License-Identifier: GPL-2.0-or-later
// The unicast transport of G-IKEv2: IKE fragmentation (RFC 7383: the SKF
// codec, reassembly and its limits, negotiation in IKE_SA_INIT, a
// registration whose GSA_AUTH response is larger than the path takes) and
// NAT traversal (RFC 7296 2.23: NAT_DETECTION_*, the move to the NAT
// traversal port with the non-ESP marker, rekeys through the NAT).
#include <algorithm>
#include <memory>

#include <gtest/gtest.h>

#include "gdoi_core_env_util.h"
#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_sk.h"
#include "ike/ike_fragments.h"

namespace groupsec::gdoi::test {
namespace {

// --- the SKF codec ---

SkKeys gcm_keys()
{
	SkKeys k;
	k.cipher = SkCipher::AesGcm16;
	k.encryption_key = Bytes(32, 0x11);
	k.salt = Bytes(4, 0x22);
	return k;
}

SkKeys cbc_keys()
{
	SkKeys k;
	k.cipher = SkCipher::AesCbcHmacSha256;
	k.encryption_key = Bytes(32, 0x33);
	k.integrity_key = Bytes(32, 0x44);
	return k;
}

IkeHeader header(uint32_t id = 1)
{
	IkeHeader h;
	h.initiator_spi = 0x0102030405060708;
	h.responder_spi = 0x1112131415161718;
	h.exchange_type = static_cast<uint8_t>(ExchangeType::GsaAuth);
	h.flags = kFlagResponse;
	h.message_id = id;
	return h;
}

std::vector<Payload> big_inner(size_t n)
{
	std::vector<Payload> inner;
	inner.push_back(Payload{static_cast<uint8_t>(PayloadType::IdResponder), false, Bytes{2, 0, 0, 0, 'k', 's'}});
	Bytes kd(n);
	for (size_t i = 0; i < n; i++)
		kd[i] = static_cast<uint8_t>(i * 7);
	inner.push_back(Payload{static_cast<uint8_t>(PayloadType::KeyDownload), false, kd});
	return inner;
}

// IVs counting from start + 1 (far from the ones an engine uses when the
// keys are an IKE SA's).
std::function<Bytes()> counter_iv(const SkKeys &k, uint64_t start = 0)
{
	auto n = std::make_shared<uint64_t>(start);
	return [k = k.cipher, n]() {
		Bytes iv(sk_iv_size(k), 0);
		uint64_t v = ++*n;
		for (size_t i = 0; i < 8; i++)
			iv[iv.size() - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
		return iv;
	};
}

detail::FragmentLimits limits()
{
	return detail::FragmentLimits{};
}

std::vector<Payload> reassemble(const std::vector<Bytes> &frags, const SkKeys &k)
{
	detail::Reassembly r;
	for (size_t i = 0; i < frags.size(); i++) {
		auto f = open_fragment(frags[i], k);
		EXPECT_TRUE(f.ok()) << f.error().message;
		if (!f)
			return {};
		auto step = r.add(f.value(), true, 0, limits());
		EXPECT_EQ(step, i + 1 == frags.size() ? detail::Reassembly::Step::Complete
						      : detail::Reassembly::Step::Stored);
	}
	auto inner = r.take();
	EXPECT_TRUE(inner.ok());
	return inner ? inner.value() : std::vector<Payload>{};
}

TEST(IkeFragments, SealedFragmentsFitAndReassembleToTheMessage)
{
	for (const SkKeys &k : {gcm_keys(), cbc_keys()}) {
		const auto inner = big_inner(1500);
		auto frags = seal_fragments(header(), inner, k, 548, counter_iv(k));
		ASSERT_TRUE(frags.ok()) << frags.error().message;
		ASSERT_GE(frags.value().size(), 3u);
		for (size_t i = 0; i < frags.value().size(); i++) {
			const Bytes &d = frags.value()[i];
			EXPECT_LE(d.size(), 548u);
			EXPECT_TRUE(is_fragment_message(d));
			auto h = decode_ike_header(d);
			ASSERT_TRUE(h.ok());
			EXPECT_EQ(h.value().message_id, 1u);
			EXPECT_EQ(h.value().length, d.size());
			// RFC 7383 2.5: the first inner type in fragment 1 only
			EXPECT_EQ(d[28], i == 0 ? static_cast<uint8_t>(PayloadType::IdResponder) : 0);
			EXPECT_EQ(d[32] << 8 | d[33], static_cast<int>(i + 1));
			EXPECT_EQ(d[34] << 8 | d[35], static_cast<int>(frags.value().size()));
		}
		// any order
		std::vector<Bytes> shuffled = frags.value();
		std::reverse(shuffled.begin(), shuffled.end());
		EXPECT_EQ(reassemble(shuffled, k), inner);
	}
}

TEST(IkeFragments, EveryFragmentIsAuthenticatedWithItsNumbers)
{
	const SkKeys k = gcm_keys();
	auto frags = seal_fragments(header(), big_inner(600), k, 300, counter_iv(k)).value();
	ASSERT_GE(frags.size(), 2u);
	// a flipped bit anywhere, Fragment Number and Total Fragments included
	for (size_t at : {size_t(20), size_t(33), size_t(35), size_t(40), frags[1].size() - 1}) {
		Bytes d = frags[1];
		d[at] ^= 1;
		auto f = open_fragment(d, k);
		ASSERT_FALSE(f.ok()) << "flip at " << at;
		if (at != 33 && at != 35)
			EXPECT_EQ(f.error().code, WireError::IntegrityFailed) << at;
	}
	EXPECT_FALSE(open_fragment(frags[0], cbc_keys()).ok()) << "other keys";
	// truncated at every length: an error, never a crash
	for (size_t n = 0; n < frags[0].size(); n++)
		EXPECT_FALSE(open_fragment(ByteView(frags[0].data(), n), k).ok()) << n;
}

TEST(IkeFragments, FragmentNumbersOutOfRangeAreRefused)
{
	const SkKeys k = gcm_keys();
	IkeHeader h = header();
	// hand-built: fragment 3 of 2, fragment 0, Total 0
	for (auto [num, total] : {std::pair<uint16_t, uint16_t>{3, 2}, {0, 2}, {1, 0}}) {
		auto one = seal_fragments(h, big_inner(10), k, 1000, counter_iv(k)).value();
		ASSERT_EQ(one.size(), 1u);
		Bytes d = one[0];
		d[32] = static_cast<uint8_t>(num >> 8);
		d[33] = static_cast<uint8_t>(num);
		d[34] = static_cast<uint8_t>(total >> 8);
		d[35] = static_cast<uint8_t>(total);
		auto f = open_fragment(d, k);
		ASSERT_FALSE(f.ok());
		EXPECT_EQ(f.error().code, WireError::BadValue) << num << "/" << total;
	}
	EXPECT_FALSE(seal_fragments(h, big_inner(10), k, 50, counter_iv(k)).ok()) << "no room for content";
}

// --- reassembly limits ---

Fragment fragment(uint32_t id, uint16_t number, uint16_t total, size_t size)
{
	Fragment f;
	f.header = header(id);
	f.number = number;
	f.total = total;
	f.first_inner = number == 1 ? static_cast<uint8_t>(PayloadType::Notify) : 0;
	f.content = Bytes(size, 0);
	return f;
}

TEST(IkeReassembly, LimitsOnFragmentsOctetsAndTime)
{
	using Step = detail::Reassembly::Step;
	detail::FragmentLimits lim;
	lim.max_fragments = 4;
	lim.max_bytes = 1000;
	lim.timeout_ms = 5000;
	lim.max_total_bytes = 1500;
	size_t pool = 0;
	{
		detail::Reassembly r(&pool);
		EXPECT_EQ(r.add(fragment(1, 1, 5, 10), false, 0, lim), Step::Refused) << "more than max_fragments";
		EXPECT_FALSE(r.active());
		EXPECT_EQ(r.add(fragment(1, 1, 3, 600), false, 0, lim), Step::Stored);
		EXPECT_EQ(pool, 600u);
		EXPECT_EQ(r.add(fragment(1, 1, 3, 600), false, 0, lim), Step::Ignored) << "a duplicate";
		EXPECT_EQ(r.add(fragment(1, 2, 3, 600), false, 0, lim), Step::Refused) << "over max_bytes";
		EXPECT_EQ(pool, 0u);
		EXPECT_FALSE(r.active());

		// an incomplete message goes after the timeout
		EXPECT_EQ(r.add(fragment(2, 1, 2, 100), false, 1000, lim), Step::Stored);
		EXPECT_EQ(r.deadline(lim), std::optional<uint64_t>(6000));
		EXPECT_FALSE(r.expire(5999, lim));
		EXPECT_TRUE(r.expire(6000, lim));
		EXPECT_EQ(pool, 0u);

		// RFC 7383 2.6: fewer Total Fragments than stored are older; more
		// start the message anew
		EXPECT_EQ(r.add(fragment(3, 1, 2, 100), false, 0, lim), Step::Stored);
		EXPECT_EQ(r.add(fragment(3, 2, 1, 100), false, 0, lim), Step::Ignored);
		EXPECT_EQ(r.add(fragment(3, 2, 3, 100), false, 0, lim), Step::Stored);
		EXPECT_EQ(pool, 100u) << "the fragments of the older sending are gone";
		EXPECT_EQ(r.add(fragment(3, 1, 3, 100), false, 0, lim), Step::Stored);
		EXPECT_EQ(r.add(fragment(3, 3, 3, 100), false, 0, lim), Step::Complete);

		// the engine-wide pool
		detail::Reassembly other(&pool);
		EXPECT_EQ(other.add(fragment(9, 1, 2, 900), false, 0, lim), Step::Stored);
		EXPECT_EQ(pool, 1200u);
		detail::Reassembly third(&pool);
		EXPECT_EQ(third.add(fragment(9, 1, 2, 400), false, 0, lim), Step::Refused) << "over max_total_bytes";
	}
	EXPECT_EQ(pool, 0u) << "an IKE SA that goes gives its octets back";
}

TEST(IkeReassembly, AnotherMessageReplacesTheIncompleteOne)
{
	using Step = detail::Reassembly::Step;
	detail::Reassembly r;
	EXPECT_EQ(r.add(fragment(1, 1, 2, 10), false, 0, limits()), Step::Stored);
	EXPECT_EQ(r.add(fragment(2, 2, 2, 10), false, 0, limits()), Step::Stored);
	EXPECT_EQ(r.bytes(), 10u);
	EXPECT_EQ(r.add(fragment(2, 2, 2, 10), true, 0, limits()), Step::Stored) << "a response is another message";
	EXPECT_EQ(r.bytes(), 10u);
}

// --- the engine ---

class Transport : public GroupTest {
protected:
	// A group whose GSA_AUTH response is larger than 576 octets: several
	// TEK policies.
	GcksGroupConfig big_config()
	{
		GcksGroupConfig c = server_config();
		for (int i = 1; i < 8; i++) {
			TekPolicyConfig t = c.teks[0];
			t.source = range4("10." + std::to_string(i) + ".0.0", "10." + std::to_string(i) + ".255.255");
			t.destination = t.source;
			c.teks.push_back(t);
		}
		return c;
	}

	void start(const GcksGroupConfig &sc, const TransportConfig &server_t, const TransportConfig &member_t,
		   std::vector<Address> server_addrs, std::vector<Address> member_addrs, Address member_local)
	{
		gcks = &net.add(server_addrs, &creds);
		ASSERT_TRUE(gcks->engine.set_transport(server_t).ok());
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
		Node &m = net.add(member_addrs, &creds);
		ASSERT_TRUE(m.engine.set_transport(member_t).ok());
		GmGroupConfig mc = member_config(0);
		mc.local = member_local;
		ASSERT_TRUE(m.engine.add_member_group(mc).ok());
		gms.push_back(&m);
		net.tick();
	}

	size_t fragments_sent() const
	{
		size_t n = 0;
		for (const Datagram &d : net.log)
			n += is_fragment_message(d.data) ? 1 : 0;
		return n;
	}
};

// A path that drops what IP would fragment: UDP payloads above 548
// octets (576-octet IPv4 datagrams).
bool over_576(const Datagram &d)
{
	return d.data.size() > 576 - 28;
}

TEST_F(Transport, FragmentedRegistrationPassesAPathThatDropsIpFragments)
{
	TransportConfig t;
	t.fragmentation = true;
	net.drop = over_576;
	start(big_config(), t, t, {gcks_addr}, {gm_addrs[0]}, gm_addrs[0]);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gms[0]->sink.installed.size(), 8u);
	EXPECT_GE(fragments_sent(), 2u) << "the GSA_AUTH response went in fragments";
	for (const Datagram &d : net.log)
		EXPECT_LE(d.data.size(), 548u);
	// the IKE_SA_INIT pair carried N(IKEV2_FRAGMENTATION_SUPPORTED) (16430 = 0x402e)
	for (const Datagram &d : net.sent_with_exchange(kInit)) {
		auto m = decode_message(d.data);
		ASSERT_TRUE(m.ok());
		bool said = false;
		for (const Payload &p : m.value().payloads)
			if (p.type == static_cast<uint8_t>(PayloadType::Notify)) {
				auto n = decode_notify(p.body);
				said = said || (n && n.value().type == 16430 && n.value().data.empty());
			}
		EXPECT_TRUE(said);
	}
}

TEST_F(Transport, WithoutFragmentationThePathDropsTheRegistration)
{
	// the companion of the test above: the same path, the same group,
	// no IKE fragmentation on the member: nothing gets through
	TransportConfig on, off;
	on.fragmentation = true;
	net.drop = over_576;
	start(big_config(), on, off, {gcks_addr}, {gm_addrs[0]}, gm_addrs[0]);
	net.advance(40000);
	EXPECT_NE(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(fragments_sent(), 0u) << "the key server does not fragment for a member that did not offer it";
	EXPECT_TRUE(gms[0]->sink.installed.empty());
}

TEST_F(Transport, SmallMessagesAreNotFragmented)
{
	TransportConfig t;
	t.fragmentation = true;
	start(server_config(), t, t, {gcks_addr}, {gm_addrs[0]}, gm_addrs[0]);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	t.fragment_size = 1500;
	ASSERT_TRUE(gcks->engine.set_transport(t).ok());
	ASSERT_TRUE(gms[0]->engine.set_transport(t).ok());
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.run();
	size_t before = fragments_sent();
	ASSERT_TRUE(gms[0]->engine.reregister("blue").ok());
	net.run();
	EXPECT_EQ(fragments_sent(), before) << "a GSA_REGISTRATION exchange under 1500 octets goes whole";
	EXPECT_EQ(gms[0]->group("blue")->counters.registrations, 3u);
}

TEST_F(Transport, LostFragmentIsRecoveredByRetransmission)
{
	TransportConfig t;
	t.fragmentation = true;
	int dropped = 0;
	net.drop = [&](const Datagram &d) {
		// the second fragment of the first GSA_AUTH response, once
		if (is_fragment_message(d.data) && d.data[33] == 2 && (d.data[19] & kFlagResponse) && !dropped) {
			dropped++;
			return true;
		}
		return false;
	};
	start(big_config(), t, t, {gcks_addr}, {gm_addrs[0]}, gm_addrs[0]);
	EXPECT_NE(gms[0]->group("blue")->state, "registered");
	net.advance(3000);
	EXPECT_EQ(dropped, 1);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(gcks->group("blue")->counters.registrations, 1u) << "answered from the cache";
}

TEST_F(Transport, AMessageOfTooManyFragmentsIsDroppedAndCounted)
{
	TransportConfig t;
	t.fragmentation = true;
	start(server_config(), t, t, {gcks_addr}, {gm_addrs[0]}, gm_addrs[0]);
	ASSERT_EQ(gms[0]->group("blue")->state, "registered");
	ASSERT_FALSE(gcks->keylog.ike_sas.empty());
	const auto keys = gcks->keylog.ike_sas.back();
	// the member's next request, GSA_REGISTRATION (ID 2), in 77 fragments:
	// properly protected, but more than the 64 a message may have
	IkeHeader h;
	h.initiator_spi = keys.spi_i;
	h.responder_spi = keys.spi_r;
	h.exchange_type = kRegistration;
	h.flags = kFlagInitiator;
	h.message_id = 2;
	Bytes idg{11, 0, 0, 0};
	idg.resize(3000, 'g');
	auto frags = seal_fragments(h, {Payload{static_cast<uint8_t>(PayloadType::GroupId), false, idg}},
				    keys.initiator, 100, counter_iv(keys.initiator, 1u << 30));
	ASSERT_TRUE(frags.ok()) << frags.error().message;
	ASSERT_GT(frags.value().size(), 64u);
	const Counters before = gcks->group("blue")->counters;
	for (const Bytes &f : frags.value())
		gcks->engine.receive(gcks_addr, gm_addrs[0], f);
	const Counters after = gcks->group("blue")->counters;
	EXPECT_GT(after.dropped_malformed, before.dropped_malformed);
	EXPECT_EQ(after.sent, before.sent) << "no answer";
	EXPECT_EQ(after.registrations, before.registrations);
	EXPECT_TRUE(net.queue.empty());
	// the same request in few fragments is answered (the IKE SA is fine)
	idg.resize(300);
	auto few = seal_fragments(h, {Payload{static_cast<uint8_t>(PayloadType::GroupId), false, idg}},
				  keys.initiator, 100, counter_iv(keys.initiator, 1u << 31));
	ASSERT_TRUE(few.ok());
	ASSERT_LE(few.value().size(), 64u);
	for (const Bytes &f : few.value())
		gcks->engine.receive(gcks_addr, gm_addrs[0], f);
	EXPECT_GT(gcks->group("blue")->counters.sent, after.sent) << "INVALID_GROUP_ID for the unknown group";
	net.queue.clear();
}

TEST_F(Transport, FragmentSizeOutOfRangeIsRefused)
{
	Node &n = net.add({gcks_addr}, &creds);
	TransportConfig t;
	t.fragment_size = 100;
	EXPECT_FALSE(n.engine.set_transport(t).ok());
	t.fragment_size = 70000;
	EXPECT_FALSE(n.engine.set_transport(t).ok());
}

// --- NAT traversal ---

// A NAT in front of the member: 10.0.0.2 is seen as 203.0.113.1, each
// source port p mapped to 30000 + p % 10000.
class Nat : public Transport {
protected:
	Address priv = addr("10.0.0.2"), pub = addr("203.0.113.1");

	void install_nat()
	{
		net.drop = [this](const Datagram &d) {
			if (d.from.ip == priv.ip) {
				Datagram out = d;
				out.from = Address{pub.ip, static_cast<uint16_t>(30000 + d.from.port % 10000)};
				net.push(out);
				return true;
			}
			if (d.to.ip == pub.ip) {
				Datagram in = d;
				in.to = Address{priv.ip, static_cast<uint16_t>(d.to.port - 30000)};
				net.push(in);
				return true;
			}
			return false;
		};
	}

	TransportConfig nat_t()
	{
		TransportConfig t;
		t.nat_t_port = 4500;
		return t;
	}

	std::vector<Address> both(const Address &a) { return {a, Address{a.ip, 4500}}; }
};

TEST_F(Nat, MemberBehindANatMovesTo4500AndGetsRekeysThroughIt)
{
	install_nat();
	start(server_config(), nat_t(), nat_t(), both(gcks_addr), both(priv), priv);
	const GroupState *g = gms[0]->group("blue");
	ASSERT_EQ(g->state, "registered");
	// IKE_SA_INIT on 848, GSA_AUTH on 4500 with the non-ESP marker
	size_t marked = 0;
	for (const Datagram &d : net.log) {
		if (d.to.port == 4500 || d.from.port == 4500) {
			ASSERT_GE(d.data.size(), 4u + 28u);
			EXPECT_EQ(Bytes(d.data.begin(), d.data.begin() + 4), Bytes(4, 0)) << "non-ESP marker";
			EXPECT_NE(d.data[4 + 18], kInit);
			marked++;
		} else {
			EXPECT_EQ(d.data[18], kInit) << "only IKE_SA_INIT stays on 848";
		}
	}
	EXPECT_GE(marked, 2u);
	const GroupState *s = gcks->group("blue");
	ASSERT_EQ(s->members.size(), 1u);
	EXPECT_EQ(s->members[0].address, (Address{pub.ip, 34500})) << "the NAT's mapping of the member's 4500";

	// a rekey goes to that mapping, through the NAT, and is applied
	const uint32_t before = current_spi(*gms[0]);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 1u);
	EXPECT_NE(current_spi(*gms[0]), before);
	EXPECT_EQ(current_spi(*gms[0]), current_spi(*gcks));
}

TEST_F(Nat, WithoutANatEverythingStaysOn848)
{
	start(server_config(), nat_t(), nat_t(), both(gcks_addr), both(gm_addrs[0]), gm_addrs[0]);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	for (const Datagram &d : net.log) {
		EXPECT_EQ(d.to.port, 848);
		EXPECT_EQ(d.from.port, 848);
	}
	// the detection ran: both IKE_SA_INIT messages carry the two hashes
	for (const Datagram &d : net.sent_with_exchange(kInit)) {
		auto m = decode_message(d.data);
		ASSERT_TRUE(m.ok());
		int nat_d = 0;
		for (const Payload &p : m.value().payloads)
			if (p.type == static_cast<uint8_t>(PayloadType::Notify)) {
				auto n = decode_notify(p.body);
				if (n && (n.value().type == 16388 || n.value().type == 16389) && n.value().data.size() == 20)
					nat_d++;
			}
		EXPECT_EQ(nat_d, 2);
	}
}

TEST_F(Nat, WithoutNatTraversalTheMemberStaysOnItsPort)
{
	// both off, as before: no NAT_DETECTION notifies, the member's IKE
	// traffic crosses the NAT on 848
	install_nat();
	start(server_config(), TransportConfig{}, TransportConfig{}, both(gcks_addr), both(priv), priv);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	for (const Datagram &d : net.log)
		EXPECT_NE(d.to.port, 4500);
	EXPECT_EQ(gcks->group("blue")->members[0].address, (Address{pub.ip, 30848}));
}

TEST_F(Nat, TheNatTraversalPortTakesOnlyMarkedIkeAndKeepalives)
{
	start(server_config(), nat_t(), nat_t(), both(gcks_addr), both(gm_addrs[0]), gm_addrs[0]);
	const Address to4500{gcks_addr.ip, 4500};
	const uint64_t received = gcks->group("blue")->counters.received;
	const uint64_t malformed = gcks->group("blue")->counters.dropped_malformed;
	// a NAT keepalive: nothing happens, nothing is counted
	gcks->engine.receive(to4500, gm_addrs[0], Bytes{0xff});
	EXPECT_EQ(gcks->group("blue")->counters.received, received);
	// an IKE_SA_INIT without the marker (as if ESP): dropped, counted
	Bytes init = net.sent_with_exchange(kInit).front().data;
	gcks->engine.receive(to4500, gm_addrs[0], init);
	EXPECT_EQ(gcks->group("blue")->counters.dropped_malformed, malformed + 1);
	EXPECT_EQ(gcks->engine.half_open(), 0u);
	// with it: answered, on 4500, marked
	Bytes marked(4, 0);
	marked.insert(marked.end(), init.begin(), init.end());
	marked[4 + 7] ^= 1; // a new SPIi, a new IKE SA
	net.log.clear();
	gcks->engine.receive(to4500, gm_addrs[0], marked);
	EXPECT_EQ(gcks->engine.half_open(), 1u);
	ASSERT_FALSE(net.queue.empty());
	EXPECT_EQ(net.queue.back().from, to4500);
	EXPECT_EQ(Bytes(net.queue.back().data.begin(), net.queue.back().data.begin() + 4), Bytes(4, 0));
	net.queue.clear();
}

// --- the C interface ---

TEST(GdoiCoreTransport, ThePortsAndFragmentationReachTheGroups)
{
	RecordingEnv rec;
	gdoi_core_env_t env = rec.env();
	gdoi_core_t *core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	char err[256] = "";
	gdoi_transport_t t = {500, 4500, true, 1400};
	ASSERT_TRUE(gdoi_core_set_transport(core, &t, err, sizeof(err))) << err;
	EXPECT_EQ(gdoi_core_port(core), 500);
	const std::string d = gdoi_core_describe(core);
	EXPECT_NE(d.find("UDP port 500, NAT traversal on 4500, IKE fragmentation"), std::string::npos) << d;
	std::string e;
	ASSERT_EQ(load(core, kBlueMember, e), 1) << e;
	gdoi_addr_t addrs[4];
	ASSERT_EQ(gdoi_core_local_addrs(core, addrs, 4), 1u);
	EXPECT_EQ(addrs[0].port, 500) << "the groups' addresses are on the configured port";

	// refused, nothing changes
	gdoi_transport_t same = {4500, 4500, true, 0};
	EXPECT_FALSE(gdoi_core_set_transport(core, &same, err, sizeof(err)));
	EXPECT_NE(std::string(err).find("NAT traversal port"), std::string::npos) << err;
	gdoi_transport_t tiny = {848, 0, true, 100};
	EXPECT_FALSE(gdoi_core_set_transport(core, &tiny, err, sizeof(err)));
	EXPECT_NE(std::string(err).find("fragment size 100"), std::string::npos) << err;
	EXPECT_EQ(gdoi_core_port(core), 500);
	gdoi_core_destroy(core);
}

} // namespace
} // namespace groupsec::gdoi::test
