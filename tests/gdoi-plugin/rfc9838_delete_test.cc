// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 9838 2.6 "Deletion of SAs" in both roles (Delete of TEK SPIs, of all
// TEKs by SPI 0, of a Rekey SA, Delete(GIKE_UPDATE, SPI 0) excluding a
// member, delete-only GSA_REKEY, Deletes in GSA_INBAND_REKEY), and what a
// GSA_INBAND_REKEY carries (2.5: no IDg, no GSA_INITIAL_MESSAGE_ID, no
// WRAP_KEY) with a member of several groups on one IKE SA telling them
// apart by their SPIs.
#include "rfc9838_test_util.h"

#include <algorithm>

namespace groupsec::gdoi::test {
namespace {

class Deletes : public RfcRules {};

// "HDR, SK{D, [N,] [AUTH]}": a GSA_REKEY with only a Delete of the current
// TEK is taken; the TEK goes after the deactivation delay (2.4.1.4: "MUST
// be silently deleted after waiting DEACTIVATION_TIME_DELAY").
TEST_F(Deletes, ADeleteOnlyRekeyRetiresTheNamedTek)
{
	start(1);
	Node &gm = *gms[0];
	const uint32_t tek = current_tek(gm);
	ASSERT_NE(tek, 0u);
	const RfcRekeySa sa = rekey_sa(gm);
	deliver(gm, rekey_message(sa, 0, {delete_of(SecurityProtocol::Esp, {be32_bytes(tek)})}, gcks_id));
	EXPECT_EQ(gm.group("blue")->counters.dropped_malformed, 0u);
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 1u);
	EXPECT_EQ(current_tek(gm), 0u) << "no current TEK left";
	EXPECT_TRUE(gm.sink.has(tek)) << "kept during the deactivation delay";
	net.advance(6000);
	EXPECT_FALSE(gm.sink.has(tek));
}

// 2.6: "The GCKS can signal deletion of all the Data-Security SAs by
// sending a Delete payload with an SPI value equal to zero"; the TEKs the
// same message brings stay.
TEST_F(Deletes, SpiZeroRetiresEveryTekButTheMessagesOwn)
{
	start(1);
	Node &gm = *gms[0];
	const uint32_t tek = current_tek(gm);
	const RfcRekeySa sa = rekey_sa(gm);
	std::vector<Payload> inner = tek_payloads(sa.gsk_w, 0x0b000001);
	inner.push_back(delete_of(SecurityProtocol::Esp, {Bytes(4, 0)}));
	deliver(gm, rekey_message(sa, 0, inner, gcks_id));
	EXPECT_EQ(current_tek(gm), 0x0b000001u);
	net.advance(6000);
	EXPECT_FALSE(gm.sink.has(tek));
	EXPECT_TRUE(gm.sink.has(0x0b000001));
}

// Delete(GIKE_UPDATE, SPI): the Rekey SA goes after the deactivation delay;
// nothing arrives over it after that.
TEST_F(Deletes, ADeleteOfTheRekeySaClosesIt)
{
	start(1);
	Node &gm = *gms[0];
	const RfcRekeySa sa = rekey_sa(gm);
	deliver(gm, rekey_message(sa, 0, {delete_of(SecurityProtocol::GikeUpdate, {sa.spi})}, gcks_id));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 1u);
	net.advance(6000);
	deliver(gm, rekey_message(sa, 1, tek_payloads(sa.gsk_w, 0x0b000002), gcks_id));
	EXPECT_FALSE(gm.sink.ever_had(0x0b000002));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 1u);
}

// Delete(GIKE_UPDATE, SPI 0) in a GSA_REKEY: "the group member is excluded
// from the group" and "MUST re-register if it wants to continue": it drops
// the group's SAs at once and registers again after a random few seconds.
TEST_F(Deletes, SpiZeroOfGikeUpdateExcludesTheMember)
{
	start(1);
	Node &gm = *gms[0];
	const uint32_t tek = current_tek(gm);
	const RfcRekeySa sa = rekey_sa(gm);
	deliver(gm, rekey_message(sa, 0, {delete_of(SecurityProtocol::GikeUpdate, {Bytes(16, 0)})}, gcks_id));
	EXPECT_EQ(gm.group("blue")->state, "idle");
	EXPECT_FALSE(gm.sink.has(tek));
	EXPECT_TRUE(gm.group("blue")->sas.empty());
	const uint64_t regs = gm.group("blue")->counters.registrations;
	net.advance(11000);
	EXPECT_EQ(gm.group("blue")->state, "registered");
	EXPECT_EQ(gm.group("blue")->counters.registrations, regs + 1);
}

// A Delete that is not signed in a signature group changes nothing.
TEST_F(Deletes, AnUnsignedDeleteIsRefused)
{
	start(1);
	Node &gm = *gms[0];
	const RfcRekeySa sa = rekey_sa(gm);
	deliver(gm, rekey_message(sa, 0, {delete_of(SecurityProtocol::GikeUpdate, {Bytes(16, 0)})}, std::nullopt));
	EXPECT_EQ(gm.group("blue")->state, "registered");
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u);
}

// The key server's side: Engine::exclude() sends Delete(GIKE_UPDATE, 0) to
// the named member only (unicast GSA_REKEY); it drops the group and comes
// back; the others keep theirs.
TEST_F(Deletes, TheKeyServerExcludesAMemberByDelete)
{
	start(2);
	const uint32_t tek = current_tek(*gcks);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.exclude("blue", {gm_ids[1]}).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 1u);
	EXPECT_TRUE(rekeys[0].to == gm_addrs[1]);
	bool excluded = false;
	for (const Payload &p : open_rekey(*gms[1], rekeys[0]))
		if (p.type == static_cast<uint8_t>(PayloadType::Delete)) {
			DeletePayload d = decode_delete(p.body).value();
			excluded = d.protocol == static_cast<uint8_t>(SecurityProtocol::GikeUpdate) &&
				   d.spis == std::vector<Bytes>{Bytes(16, 0)};
		}
	EXPECT_TRUE(excluded);
	EXPECT_EQ(gms[1]->group("blue")->state, "idle");
	EXPECT_FALSE(gms[1]->sink.has(tek));
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
	EXPECT_TRUE(gms[0]->sink.has(tek));
	net.advance(11000);
	EXPECT_EQ(gms[1]->group("blue")->state, "registered");
	EXPECT_TRUE(gms[1]->sink.has(current_tek(*gcks)));
	// the next rekey reaches both (one message ID was used by the Delete)
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	for (Node *gm : gms)
		EXPECT_EQ(current_tek(*gm), current_tek(*gcks));
	EXPECT_FALSE(gcks->engine.exclude("blue", {id("nobody.example.net")}).ok());
}

// The whole group: Delete(ESP, 0) then Delete(GIKE_UPDATE, 0) (2.6: "the
// GCKS sends a Delete payload with an SPI of zero and Protocol ID of AH or
// ESP, followed by another Delete payload with a SPI of zero and Protocol
// ID of GIKE_UPDATE").
TEST_F(Deletes, TheKeyServerCanStartTheWholeGroupOver)
{
	start(2);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.exclude("blue", {}).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 2u) << "unicast to each member";
	std::vector<uint8_t> protocols;
	for (const Payload &p : open_rekey(*gms[0], rekeys[0]))
		if (p.type == static_cast<uint8_t>(PayloadType::Delete))
			protocols.push_back(decode_delete(p.body).value().protocol);
	EXPECT_EQ(protocols, (std::vector<uint8_t>{static_cast<uint8_t>(SecurityProtocol::Esp),
						   static_cast<uint8_t>(SecurityProtocol::GikeUpdate)}));
	for (Node *gm : gms)
		EXPECT_EQ(gm->group("blue")->state, "idle");
	net.advance(11000);
	for (Node *gm : gms)
		EXPECT_EQ(gm->group("blue")->state, "registered");
}

// With GSA_INBAND_REKEY the exclusion goes over the IKE SA: "HDR, SK{D,
// [N]}", answered "HDR, SK{}".
TEST_F(Deletes, InbandExclusionGoesOverTheIkeSa)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband;
	start(2, c);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.exclude("blue", {gm_ids[0]}).ok());
	net.run();
	EXPECT_EQ(net.sent_with_exchange(kRekey).size(), 0u);
	EXPECT_EQ(net.sent_with_exchange(kInband).size(), 2u) << "request and answer";
	EXPECT_EQ(gms[0]->group("blue")->state, "idle");
	EXPECT_EQ(gms[1]->group("blue")->state, "registered");
	net.advance(11000);
	EXPECT_EQ(gms[0]->group("blue")->state, "registered");
}

// What GSA_INBAND_REKEY carries (2.5 "HDR, SK{GSA, KD, [N]}"; the inband
// table of 4.4.2.1.1): no IDg, no GSA_INITIAL_MESSAGE_ID, no member key bag
// keys; the TEKs it replaces in a Delete.
TEST_F(Deletes, InbandRekeyCarriesNoIdgNorInitialMessageId)
{
	GcksGroupConfig c = server_config();
	c.rekey = RekeyTransport::Inband;
	start(1, c);
	// a few rekeys so that the Rekey SA's next message ID is not 0
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	const uint32_t old_tek = current_tek(*gcks);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	std::vector<Datagram> requests;
	for (const Datagram &d : net.sent_with_exchange(kInband))
		if (d.to == gm_addrs[0])
			requests.push_back(d);
	ASSERT_EQ(requests.size(), 1u);
	bool gsa = false, deletes_old = false;
	for (const Payload &p : open_inband(*gms[0], requests[0])) {
		EXPECT_NE(p.type, static_cast<uint8_t>(PayloadType::GroupId)) << "no IDg";
		if (p.type == static_cast<uint8_t>(PayloadType::GroupSa)) {
			GsaPayload g = decode_gsa(p.body).value();
			EXPECT_FALSE(g.kek) << "no Rekey SA, so no GSA_INITIAL_MESSAGE_ID";
			gsa = true;
		}
		if (p.type == static_cast<uint8_t>(PayloadType::KeyDownload)) {
			KeyDownloadPayload kd = decode_key_download(p.body).value();
			EXPECT_FALSE(kd.member_key_bag && (kd.member_key_bag->auth_key ||
							   !kd.member_key_bag->wrap_keys.empty()));
		}
		if (p.type == static_cast<uint8_t>(PayloadType::Delete)) {
			const auto spis = decode_delete(p.body).value().spis;
			deletes_old = std::find(spis.begin(), spis.end(), be32_bytes(old_tek)) != spis.end();
		}
	}
	EXPECT_TRUE(gsa);
	EXPECT_TRUE(deletes_old);
	EXPECT_EQ(current_tek(*gms[0]), current_tek(*gcks));
}

// A member with two groups on one IKE SA tells their GSA_INBAND_REKEYs
// apart by the SPIs they name (no IDg), each rekey reaching its group only.
TEST_F(Deletes, TwoGroupsOnOneIkeSaAreToldApartBySpi)
{
	GcksGroupConfig blue = server_config(), red = server_config();
	blue.rekey = red.rekey = RekeyTransport::Inband;
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
	ASSERT_EQ(m.group("blue")->state, "registered");
	ASSERT_EQ(m.group("red")->state, "registered");
	ASSERT_EQ(net.sent_with_exchange(kInit).size(), 2u) << "one IKE SA (request and answer)";
	for (const std::string g : {"red", "blue", "red"}) {
		const uint64_t blue_rekeys = m.group("blue")->counters.rekeys;
		const uint64_t red_rekeys = m.group("red")->counters.rekeys;
		ASSERT_TRUE(gcks->engine.rekey(g).ok());
		net.run();
		EXPECT_EQ(m.group("blue")->counters.rekeys, blue_rekeys + (g == "blue"));
		EXPECT_EQ(m.group("red")->counters.rekeys, red_rekeys + (g == "red"));
		EXPECT_EQ(current_tek(m, "red"), current_tek(*gcks, "red"));
		EXPECT_EQ(current_tek(m, "blue"), current_tek(*gcks, "blue"));
		EXPECT_EQ(m.group("blue")->counters.dropped_malformed + m.group("red")->counters.dropped_malformed, 0u);
	}
}

} // namespace
} // namespace groupsec::gdoi::test
