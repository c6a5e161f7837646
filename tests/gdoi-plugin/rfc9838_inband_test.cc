// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 9838 inband rekeying as its section 5 table of "Attributes in
// G-IKEv2 exchanges with inband rekey operations" says, in both roles: a
// key server with rekey = inband keeps no Rekey SA (no GSA KEK policy, no
// GSA_INITIAL_MESSAGE_ID, no WRAP_KEY, no AUTH_KEY at registration), rekeys
// and evicts over each member's IKE SA only; a member takes registrations
// with and without a Rekey SA, refuses what the tables forbid, and
// registers again when the IKE SA of a group without a Rekey SA goes.
// And the Sender-ID width (GWP_SENDER_ID_BITS, 2.5.1, 4.4.3.1.3) in both
// roles.
#include "rfc9838_test_util.h"

#include <algorithm>
#include <functional>

#include "gdoi_config.h"

namespace groupsec::gdoi::test {
namespace {

class Inband : public RfcRules {
protected:
	GcksGroupConfig inband_config()
	{
		GcksGroupConfig c = server_config();
		c.rekey = RekeyTransport::Inband;
		return c;
	}

	// The inner payloads of the first GSA_AUTH response to member i.
	std::vector<Payload> auth_response(int i)
	{
		for (const Datagram &d : net.sent_with_exchange(kAuth))
			if (d.to == gm_addrs[i] && !gms[i]->keylog.ike_sas.empty()) {
				auto o = open_message(d.data, gms[i]->keylog.ike_sas.front().responder);
				if (o)
					return o.value().inner;
			}
		ADD_FAILURE() << "no GSA_AUTH response to gm" << i + 1;
		return {};
	}

	// Rewrites what the key server sends member i in messages of exchange
	// type exchange (opened with the IKE SA's responder keys, changed by
	// edit, sealed again), the first `times` of them.
	void rewrite(int i, uint8_t exchange, std::function<void(std::vector<Payload> &)> edit, int times = 1)
	{
		auto left = std::make_shared<int>(times);
		net.drop = [this, i, exchange, edit, left](const Datagram &d) {
			if (*left == 0 || !(d.to == gm_addrs[i]) || d.data.size() < 28 || d.data[18] != exchange ||
			    gms[i]->keylog.ike_sas.empty())
				return false;
			const SkKeys &k = gms[i]->keylog.ike_sas.back().responder;
			auto o = open_message(d.data, k);
			if (!o)
				return false;
			std::vector<Payload> inner = o.value().inner;
			edit(inner);
			Bytes iv(sk_iv_size(k.cipher));
			crypto::OpenSslRandom().fill(iv.data(), iv.size());
			Datagram x = d;
			x.data = seal_message(o.value().message.header, {}, inner, k, iv).value();
			(*left)--;
			net.deliver(x);
			return true;
		};
	}

	static void edit_gsa(std::vector<Payload> &inner, std::function<void(GsaPayload &)> f)
	{
		for (Payload &p : inner)
			if (p.type == static_cast<uint8_t>(PayloadType::GroupSa)) {
				GsaPayload g = decode_gsa(p.body).value();
				f(g);
				p.body = encode_gsa(g).value();
			}
	}
	static void edit_kd(std::vector<Payload> &inner, std::function<void(KeyDownloadPayload &)> f)
	{
		for (Payload &p : inner)
			if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload)) {
				KeyDownloadPayload k = decode_key_download(p.body).value();
				f(k);
				p.body = encode_key_download(k).value();
			}
	}
	static std::optional<GsaPayload> gsa_of(const std::vector<Payload> &inner)
	{
		for (const Payload &p : inner)
			if (p.type == static_cast<uint8_t>(PayloadType::GroupSa))
				return decode_gsa(p.body).value();
		return std::nullopt;
	}
	// Another round of a test: no node, nothing in flight or logged.
	void reset()
	{
		net.drop = nullptr;
		net.nodes.clear();
		net.queue.clear();
		net.log.clear();
		gms.clear();
		gcks = nullptr;
	}
	size_t sent_to(uint8_t exchange, const Address &to)
	{
		size_t n = 0;
		for (const Datagram &d : net.sent_with_exchange(exchange))
			n += d.to == to ? 1 : 0;
		return n;
	}
};

// Section 5, the inband table, GSA_AUTH column: GSA_INITIAL_MESSAGE_ID
// "-", GSA_NEXT_SPI "-", WRAP_KEY "-", AUTH_KEY "-"; 4.4: without a Rekey
// SA "the GCKS would not need to send a GSA KEK policy". GWP_SENDER_ID_BITS
// and GM_SENDER_ID stay ("S", "S[M]") for a sender of a counter-mode TEK.
TEST_F(Inband, RegistrationCarriesNoRekeySaNorItsKeys)
{
	start(1, inband_config());
	const auto inner = auth_response(0);
	const auto gsa = gsa_of(inner);
	ASSERT_TRUE(gsa);
	EXPECT_FALSE(gsa->kek) << "no GSA KEK policy (so no GSA_INITIAL_MESSAGE_ID)";
	for (const GsaPolicy &p : gsa->teks)
		EXPECT_TRUE(p.next_spis.empty()) << "no GSA_NEXT_SPI";
	ASSERT_TRUE(gsa->group_wide && gsa->group_wide->sender_id_bits);
	const auto kd = kd_of(inner);
	ASSERT_TRUE(kd);
	for (const GroupKeyBag &b : kd->group_key_bags)
		EXPECT_NE(b.protocol, static_cast<uint8_t>(SecurityProtocol::GikeUpdate)) << "no Rekey SA keys";
	ASSERT_TRUE(kd->member_key_bag);
	EXPECT_TRUE(kd->member_key_bag->wrap_keys.empty()) << "no WRAP_KEY";
	EXPECT_FALSE(kd->member_key_bag->auth_key) << "no AUTH_KEY";
	EXPECT_TRUE(kd->member_key_bag->other_attributes.empty());
	EXPECT_EQ(kd->member_key_bag->sender_ids.size(), 1u);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_EQ(current_tek(*gms[0]), current_tek(*gcks));
}

// A signature group needs a private key to sign GSA_REKEY with; an inband
// group sends none, so it starts without one.
TEST_F(Inband, AGroupWithoutRekeySaNeedsNoSigningKey)
{
	GcksGroupConfig c = inband_config();
	c.local_id = id("@no-key.example.net");
	Node &n = net.add({gcks_addr}, &creds);
	EXPECT_TRUE(n.engine.add_server_group(c).ok());
	c.rekey = RekeyTransport::Unicast;
	c.name = "red";
	EXPECT_FALSE(n.engine.add_server_group(c).ok());
}

// 2.4.2: rekeys go by GSA_INBAND_REKEY over each member's IKE SA, never by
// GSA_REKEY; the key server keeps the IKE SAs (2.3.3: "The GKCS MAY choose
// to keep the IKE SA open for inband rekey") and the members never close
// them.
TEST_F(Inband, RekeysGoOnlyOverTheIkeSasWhichStayOpen)
{
	start(2, inband_config());
	net.log.clear();
	net.advance(30 * 60 * 1000, 10000);
	for (int round = 0; round < 2; round++) {
		ASSERT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		for (Node *gm : gms) {
			EXPECT_EQ(current_tek(*gm), current_tek(*gcks));
			EXPECT_EQ(gm->group("blue")->counters.rekeys, round + 1u);
		}
	}
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 0u) << "no GSA_REKEY";
	EXPECT_EQ(net.sent_with_exchange(static_cast<uint8_t>(ExchangeType::Informational)).size(), 0u)
		<< "no IKE SA is deleted";
	EXPECT_EQ(net.sent_with_exchange(kInit).size(), 0u) << "nobody registers again";
	for (int i = 0; i < 2; i++)
		EXPECT_EQ(sent_to(kInband, gm_addrs[i]), 2u);
	// no GSA_INBAND_REKEY carries what the inband table forbids
	for (const Datagram &d : net.sent_with_exchange(kInband)) {
		if (!(d.from == gcks_addr))
			continue;
		const auto inner = open_inband(*gms[d.to == gm_addrs[0] ? 0 : 1], d);
		const auto gsa = gsa_of(inner);
		ASSERT_TRUE(gsa);
		EXPECT_FALSE(gsa->kek);
		EXPECT_FALSE(gsa->group_wide && gsa->group_wide->sender_id_bits) << "no GWP_SENDER_ID_BITS";
		const auto kd = kd_of(inner);
		ASSERT_TRUE(kd);
		EXPECT_FALSE(kd->member_key_bag) << "no member key bag";
	}
}

// Eviction without a key tree: the evicted member's IKE SA is closed (a
// Delete), it gets no further GSA_INBAND_REKEY and so not the new TEK; it
// registers again (2.3.3: a GM whose IKE SA closed "MUST consider itself
// excluded from the group") and is refused.
TEST_F(Inband, EvictionClosesTheIkeSaAndSendsNothingMore)
{
	start(2, inband_config());
	const uint32_t old_tek = current_tek(*gcks);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	const uint32_t new_tek = current_tek(*gcks);
	ASSERT_NE(new_tek, old_tek);
	EXPECT_EQ(current_tek(*gms[0]), new_tek);
	EXPECT_EQ(sent_to(kInband, gm_addrs[1]), 0u) << "nothing more to the evicted member";
	EXPECT_EQ(sent_to(static_cast<uint8_t>(ExchangeType::Informational), gm_addrs[1]), 1u)
		<< "its IKE SA is deleted";
	EXPECT_EQ(gms[1]->group("blue")->state, "idle") << "it considers itself excluded";
	EXPECT_TRUE(gms[1]->group("blue")->sas.empty());
	net.advance(60000);
	EXPECT_GE(sent_to(kInit, gcks_addr), 1u) << "it tried to register again";
	EXPECT_NE(gms[1]->group("blue")->state, "registered");
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(sent_to(kInband, gm_addrs[1]), 0u);
	EXPECT_EQ(current_tek(*gms[0]), current_tek(*gcks));
	ASSERT_EQ(gcks->group("blue")->members.size(), 1u);
}

// A member whose IKE SA the key server closed registers again: after a
// readmission it is back with the current TEK.
TEST_F(Inband, AMemberWhoseIkeSaWentRegistersAgain)
{
	start(2, inband_config());
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[1]).ok());
	net.run();
	ASSERT_TRUE(gcks->engine.readmit("blue", gm_ids[1]).ok());
	net.advance(45000);
	EXPECT_EQ(gms[1]->group("blue")->state, "registered");
	EXPECT_EQ(current_tek(*gms[1]), current_tek(*gcks));
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(current_tek(*gms[1]), current_tek(*gcks));
}

// The key server removes a member whose IKE SA it lost (a member that
// stopped answering GSA_INBAND_REKEY): there is no other way to reach it.
TEST_F(Inband, AMemberThatStopsAnsweringLeavesTheGroup)
{
	start(2, inband_config());
	net.drop = [this](const Datagram &d) { return d.from == gm_addrs[1]; };
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.advance(120000);
	net.drop = nullptr;
	ASSERT_EQ(gcks->group("blue")->members.size(), 1u);
	EXPECT_EQ(gcks->group("blue")->members[0].id, gm_ids[0]);
	bool left = false;
	for (const std::string &e : gcks->events.log)
		left = left || e.rfind("member-left blue " + gm_ids[1].str() + " ike-sa-lost", 0) == 0;
	EXPECT_TRUE(left);
}

// IKE's window is one request: two groups on one IKE SA rekeyed at once
// both reach the member (the second when the first is answered).
TEST_F(Inband, RekeysOfTwoGroupsOnOneBusyIkeSaBothArrive)
{
	GcksGroupConfig blue = inband_config(), red = inband_config();
	red.name = "red";
	red.group_id = id("@#726564");
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(blue).ok());
	ASSERT_TRUE(gcks->engine.add_server_group(red).ok());
	GmGroupConfig mb = member_config(0), mr = member_config(0);
	mr.name = "red";
	mr.group_id = red.group_id;
	Node &m = add_member(0, mb);
	net.tick();
	ASSERT_TRUE(m.engine.add_member_group(mr).ok());
	net.tick();
	ASSERT_EQ(m.group("red")->state, "registered");
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	ASSERT_TRUE(gcks->engine.rekey("red").ok());
	net.run();
	EXPECT_EQ(current_tek(m, "blue"), current_tek(*gcks, "blue"));
	EXPECT_EQ(current_tek(m, "red"), current_tek(*gcks, "red"));
	EXPECT_EQ(m.group("blue")->counters.rekeys, 1u);
	EXPECT_EQ(m.group("red")->counters.rekeys, 1u);
}

// The member refuses a registration without a Rekey SA that carries what
// the inband table forbids ("-": "Attribute MUST NOT be present").
TEST_F(Inband, MemberRefusesWhatTheInbandTableForbidsAtRegistration)
{
	const std::vector<std::pair<std::string, std::function<void(std::vector<Payload> &)>>> cases = {
		{"WRAP_KEY",
		 [](std::vector<Payload> &in) {
			 edit_kd(in, [](KeyDownloadPayload &k) {
				 k.member_key_bag->wrap_keys.push_back(WrappedKey{7, 0, Bytes(40, 1)});
			 });
		 }},
		{"AUTH_KEY",
		 [](std::vector<Payload> &in) {
			 edit_kd(in, [](KeyDownloadPayload &k) { k.member_key_bag->auth_key = Bytes(91, 2); });
		 }},
		{"GSA_NEXT_SPI",
		 [](std::vector<Payload> &in) {
			 edit_gsa(in, [](GsaPayload &g) { g.teks[0].next_spis.push_back(be32_bytes(0x1234)); });
		 }},
	};
	for (const auto &[what, edit] : cases) {
		SCOPED_TRACE(what);
		reset();
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(inband_config()).ok());
		Node &m = add_member(0, member_config(0));
		rewrite(0, kAuth, edit);
		net.tick();
		EXPECT_NE(m.group("blue")->state, "registered");
		EXPECT_EQ(m.group("blue")->counters.dropped_malformed, 1u);
		EXPECT_TRUE(m.group("blue")->sas.empty());
	}
}

// ... and a GSA_INBAND_REKEY that carries what the inband table forbids:
// GSA_INITIAL_MESSAGE_ID, GSA_NEXT_SPI, GWP_SENDER_ID_BITS, GM_SENDER_ID,
// WRAP_KEY, AUTH_KEY ("-"). It is answered (HDR, SK{}) and changes nothing.
TEST_F(Inband, MemberRefusesWhatTheInbandTableForbidsInARekey)
{
	const std::vector<std::pair<std::string, std::function<void(std::vector<Payload> &)>>> cases = {
		{"GSA_NEXT_SPI",
		 [](std::vector<Payload> &in) {
			 edit_gsa(in, [](GsaPayload &g) { g.teks[0].next_spis.push_back(be32_bytes(0x1234)); });
		 }},
		{"GWP_SENDER_ID_BITS",
		 [](std::vector<Payload> &in) { edit_gsa(in, [](GsaPayload &g) { g.group_wide->sender_id_bits = 16; }); }},
		{"GM_SENDER_ID",
		 [](std::vector<Payload> &in) {
			 edit_kd(in, [](KeyDownloadPayload &k) { k.member_key_bag.emplace().sender_ids = {Bytes{0, 9}}; });
		 }},
		{"WRAP_KEY",
		 [](std::vector<Payload> &in) {
			 edit_kd(in, [](KeyDownloadPayload &k) {
				 k.member_key_bag.emplace().wrap_keys = {WrappedKey{7, 0, Bytes(40, 1)}};
			 });
		 }},
		{"AUTH_KEY",
		 [](std::vector<Payload> &in) {
			 edit_kd(in, [](KeyDownloadPayload &k) { k.member_key_bag.emplace().auth_key = Bytes(91, 2); });
		 }},
	};
	for (const auto &[what, edit] : cases) {
		SCOPED_TRACE(what);
		reset();
		start(1, inband_config());
		const uint32_t before = current_tek(*gms[0]);
		rewrite(0, kInband, edit);
		ASSERT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		EXPECT_EQ(current_tek(*gms[0]), before) << "nothing changed";
		EXPECT_EQ(gms[0]->group("blue")->counters.dropped_malformed, 1u);
		EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 0u);
	}
}

// GWP_SENDER_ID_BITS is in neither table's rekey column (GSA_REKEY "-"):
// a GSA_REKEY carrying it is refused.
TEST_F(Inband, MemberRefusesSenderIdBitsInGsaRekey)
{
	start(1);
	Node &gm = *gms[0];
	const RfcRekeySa sa = rekey_sa(gm);
	const uint32_t before = current_tek(gm);
	auto inner = tek_payloads(sa.gsk_w, 0x51d0b175);
	edit_gsa(inner, [](GsaPayload &g) {
		GroupWidePolicy w;
		w.sender_id_bits = 16;
		g.group_wide = w;
	});
	deliver(gm, rekey_message(sa, 0, inner, gcks_id));
	EXPECT_EQ(gm.group("blue")->counters.dropped_malformed, 1u);
	EXPECT_EQ(current_tek(gm), before);
	// the same without it is taken
	deliver(gm, rekey_message(sa, 1, tek_payloads(sa.gsk_w, 0x51d0b175), gcks_id));
	EXPECT_EQ(current_tek(gm), 0x51d0b175u);
}

// --- Sender-ID width ---

// The key server's sender_id_bits: GWP_SENDER_ID_BITS says it, each
// GM_SENDER_ID is that wide (in whole octets), the IDs count from 0 (2.5.1:
// "Sender-IDs are allocated sequentially, with zero as the first allocated
// value") and stop at 2^bits; the member shows what it was given.
TEST_F(Inband, SenderIdWidthIsASettingHonouredByTheMember)
{
	for (uint16_t bits : {1, 8, 12, 16, 24, 32}) {
		SCOPED_TRACE(bits);
		reset();
		GcksGroupConfig c = server_config();
		c.sender_id_bits = bits;
		start(2, c);
		const auto inner = auth_response(0);
		const auto gsa = gsa_of(inner);
		ASSERT_TRUE(gsa && gsa->group_wide && gsa->group_wide->sender_id_bits);
		EXPECT_EQ(*gsa->group_wide->sender_id_bits, bits);
		const auto kd = kd_of(inner);
		ASSERT_TRUE(kd && kd->member_key_bag && kd->member_key_bag->sender_ids.size() == 1u);
		EXPECT_EQ(kd->member_key_bag->sender_ids[0].size(), (bits + 7u) / 8u);
		EXPECT_EQ(gms[0]->group("blue")->sender_ids, std::vector<uint32_t>{0});
		EXPECT_EQ(gms[1]->group("blue")->sender_ids, std::vector<uint32_t>{1});
		if (bits == 1) {
			// 2^1 IDs given: a third sender is refused
			Node &third = add_member(2, member_config(2));
			net.tick();
			EXPECT_NE(third.group("blue")->state, "registered");
		}
	}
	GcksGroupConfig c = server_config();
	for (uint16_t bad : {0, 33}) {
		c.sender_id_bits = bad;
		EXPECT_TRUE(validate(c)) << bad;
	}
}

// Whatever width 1..32 a conforming key server declares, the member reads
// GM_SENDER_ID with it (any octet length holding a value that fits) and
// refuses a value that does not fit (2.5.2: "MUST treat this as a fatal
// error and re-register").
TEST_F(Inband, MemberReadsEveryWidthAKeyServerDeclares)
{
	for (uint16_t bits : {1, 7, 20, 31, 32}) {
		for (bool fits : {true, false}) {
			SCOPED_TRACE(std::to_string(bits) + (fits ? " fits" : " too big"));
			reset();
			gcks = &net.add({gcks_addr}, &creds);
			ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
			Node &m = add_member(0, member_config(0));
			const uint64_t value = fits ? (uint64_t{1} << bits) - 1 : uint64_t{1} << bits;
			rewrite(0, kAuth, [bits, value](std::vector<Payload> &in) {
				edit_gsa(in, [bits](GsaPayload &g) { g.group_wide->sender_id_bits = bits; });
				edit_kd(in, [value](KeyDownloadPayload &k) {
					Bytes v;
					for (int s = 32; s >= 0; s -= 8)
						v.push_back(static_cast<uint8_t>(value >> s));
					k.member_key_bag->sender_ids = {v};
				});
			});
			net.tick();
			if (fits) {
				EXPECT_EQ(m.group("blue")->state, "registered");
				EXPECT_EQ(m.group("blue")->sender_ids, std::vector<uint32_t>{static_cast<uint32_t>(value)});
			} else {
				EXPECT_NE(m.group("blue")->state, "registered");
				EXPECT_EQ(m.group("blue")->counters.dropped_malformed, 1u);
			}
		}
	}
}

// --- the settings ---

TEST(InbandSettings, RekeyInbandAndSenderIdBits)
{
	using Settings = std::vector<std::pair<std::string, std::string>>;
	Settings s = {
		{"blue.role", "server"},
		{"blue.group_id", "1234"},
		{"blue.local_id", "ks.example.net"},
		{"blue.listen", "192.0.2.1"},
		{"blue.members", "gm1.example.net"},
		{"blue.tek-1.local_ts", "10.0.0.0/8"},
		{"blue.tek-1.remote_ts", "10.0.0.0/8"},
	};
	auto d = parse_config(s);
	ASSERT_TRUE(d.ok()) << d.error().message;
	EXPECT_EQ(d.value().servers.at(0).sender_id_bits, 16);
	Settings in = s;
	in.emplace_back("blue.rekey", "inband");
	in.emplace_back("blue.sender_id_bits", "12");
	auto i = parse_config(in);
	ASSERT_TRUE(i.ok()) << i.error().message;
	EXPECT_EQ(i.value().servers.at(0).rekey, RekeyTransport::Inband);
	EXPECT_EQ(i.value().servers.at(0).sender_id_bits, 12);
	for (const char *bad : {"0", "33", "x"}) {
		Settings b = s;
		b.emplace_back("blue.sender_id_bits", bad);
		auto r = parse_config(b);
		EXPECT_FALSE(r.ok()) << bad;
		if (!r.ok())
			EXPECT_NE(r.error().message.find("sender_id_bits"), std::string::npos) << r.error().message;
	}
	Settings m = in;
	m.emplace_back("blue.multicast", "239.192.0.1");
	EXPECT_FALSE(parse_config(m).ok()) << "multicast is for rekey = multicast only";
	Settings w = s;
	w.emplace_back("blue.rekey", "sideways");
	auto r = parse_config(w);
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("inband"), std::string::npos) << r.error().message;
}

} // namespace
} // namespace groupsec::gdoi::test
