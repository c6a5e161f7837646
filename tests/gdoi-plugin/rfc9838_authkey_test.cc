// SPDX-License-Identifier: GPL-2.0-or-later
// RFC 9838 AUTH_KEY (4.4.2.1.1, member key bag attribute 2): the key server
// sends the public key of its GSA_REKEY signatures at registration, members
// verify rekeys with it (pinned to the key server's trusted keys where
// loaded), a new one travels in a GSA_REKEY signed with the old one, and
// implicit authentication carries none.
#include "rfc9838_test_util.h"

namespace groupsec::gdoi::test {
namespace {

class AuthKey : public RfcRules {};

// The KD of a registration carries AUTH_KEY = the key server's public key
// (4.4.2.1.1: "the GCKS MUST include the AUTH_KEY attribute containing the
// public key into the KD payload at the time the GM is registered").
TEST_F(AuthKey, RegistrationCarriesTheKeyServersPublicKey)
{
	start(1);
	const Bytes want = creds.public_key(gcks_id).value();
	// the GSA_AUTH response, opened with the IKE SA keys the member logged
	bool seen = false;
	for (const Datagram &d : net.sent_with_exchange(kAuth)) {
		if (!(d.to == gm_addrs[0]))
			continue;
		for (const auto &k : gms[0]->keylog.ike_sas) {
			auto o = open_message(d.data, k.responder);
			if (!o)
				continue;
			auto kd = kd_of(o.value().inner);
			ASSERT_TRUE(kd && kd->member_key_bag);
			ASSERT_TRUE(kd->member_key_bag->auth_key);
			EXPECT_EQ(*kd->member_key_bag->auth_key, want);
			seen = true;
		}
	}
	EXPECT_TRUE(seen);
}

// The member verifies with the AUTH_KEY it was given, not with whatever key
// its credentials hold for the key server's identity now: a rekey signed by
// a newly loaded key that was never announced is refused (fail closed), and
// so is one signed by a key that is not the key server's.
TEST_F(AuthKey, MembersVerifyWithTheAnnouncedKeyOnly)
{
	start(1);
	Node &gm = *gms[0];
	const RfcRekeySa sa = rekey_sa(gm);
	// the key server's identity gets a new key (the old one is gone): a
	// message signed by it is not from the key the member holds
	creds.rotate_key(gcks_id, false);
	deliver(gm, rekey_message(sa, 0, tek_payloads(sa.gsk_w, 0x0a000001), gcks_id));
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u);
	EXPECT_FALSE(gm.sink.ever_had(0x0a000001));
	// the key server, which lost its old key, says so and signs with the
	// new one: members refuse that too, until they register again
	const uint64_t before = gm.group("blue")->counters.rekeys;
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(gm.group("blue")->counters.rekeys, before);
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 2u);
	ASSERT_TRUE(gm.engine.reregister("blue").ok());
	net.run();
	ASSERT_EQ(gm.group("blue")->state, "registered");
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(gm.group("blue")->counters.rekeys, before + 1);
	EXPECT_EQ(current_tek(gm), current_tek(*gcks));
}

// A signing-key rotation the RFC's way (2.4: "the GCKS will send a new
// AUTH_KEY to the group members in a GSA_REKEY message"): the first rekey
// after the key changed carries the new AUTH_KEY and is signed with the
// old key; members take it and verify the next rekeys with the new key.
TEST_F(AuthKey, ASigningKeyRotationTravelsInAGsaRekey)
{
	start(2);
	const Bytes old_key = creds.public_key(gcks_id).value();
	creds.rotate_key(gcks_id, true); // the old key stays loaded
	const Bytes new_key = creds.public_key(gcks_id).value();
	ASSERT_NE(old_key, new_key);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_FALSE(rekeys.empty());
	auto kd = kd_of(open_rekey(*gms[0], rekeys[0]));
	ASSERT_TRUE(kd && kd->member_key_bag && kd->member_key_bag->auth_key);
	EXPECT_EQ(*kd->member_key_bag->auth_key, new_key);
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->counters.dropped_auth, 0u);
		EXPECT_EQ(gm->group("blue")->counters.rekeys, 1u);
	}
	// and again: a third key, announced by a message signed with the
	// second (the first is no longer loaded)
	creds.rotate_key(gcks_id, true);
	net.log.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	for (Node *gm : gms) {
		EXPECT_EQ(gm->group("blue")->counters.dropped_auth, 0u);
		EXPECT_EQ(gm->group("blue")->counters.rekeys, 2u);
		EXPECT_EQ(current_tek(*gm), current_tek(*gcks));
	}
	// and a rekey with no change of key carries no AUTH_KEY
	net.log.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	rekeys = net.sent_with_exchange(kRekey);
	ASSERT_FALSE(rekeys.empty());
	kd = kd_of(open_rekey(*gms[0], rekeys[0]));
	ASSERT_TRUE(kd);
	EXPECT_FALSE(kd->member_key_bag && kd->member_key_bag->auth_key);
	EXPECT_EQ(gms[0]->group("blue")->counters.rekeys, 3u);
}

// Where the member has trusted keys of the key server's identity loaded,
// AUTH_KEY must be one of them: a registration whose AUTH_KEY is not is
// refused (fail closed, logged).
TEST_F(AuthKey, APinnedKeyThatDoesNotMatchFailsClosed)
{
	FakeCredentials other;
	other.add_key(gcks_id);
	creds.pin(gcks_id, {other.public_key(gcks_id).value()});
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	Node &gm = add_member(0, member_config(0));
	net.tick();
	EXPECT_NE(gm.group("blue")->state, "registered");
	EXPECT_TRUE(gm.sink.ever.empty());
	// the right pin lets it in
	creds.pin(gcks_id);
	net.advance(31000);
	EXPECT_EQ(gm.group("blue")->state, "registered");
}

// A pinned member refuses a rotation to a key its pin does not name.
TEST_F(AuthKey, APinnedMemberRefusesARotationToAnUnpinnedKey)
{
	creds.pin(gcks_id);
	start(1);
	Node &gm = *gms[0];
	creds.rotate_key(gcks_id, true);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 0u);
	EXPECT_EQ(gm.group("blue")->counters.dropped_auth, 1u);
	EXPECT_NE(current_tek(gm), current_tek(*gcks));
}

// Implicit authentication: no AUTH_KEY at registration, and a GSA_REKEY
// with one is refused (4.4.2.1.1: with Implicit "the GCKS MUST NOT include
// the AUTH_KEY attribute into the KD payload").
TEST_F(AuthKey, ImplicitAuthenticationCarriesNoAuthKey)
{
	GcksGroupConfig c = server_config();
	c.rekey_auth = RekeyAuth::Implicit;
	start(1, c, RekeyAuth::Implicit);
	Node &gm = *gms[0];
	for (const Datagram &d : net.sent_with_exchange(kAuth))
		for (const auto &k : gm.keylog.ike_sas)
			if (auto o = open_message(d.data, k.responder)) {
				auto kd = kd_of(o.value().inner);
				ASSERT_TRUE(kd);
				EXPECT_FALSE(kd->member_key_bag && kd->member_key_bag->auth_key);
			}
	const RfcRekeySa sa = rekey_sa(gm);
	std::vector<Payload> inner = tek_payloads(sa.gsk_w, 0x0a000002);
	KeyDownloadPayload kd = decode_key_download(inner[1].body).value();
	kd.member_key_bag.emplace();
	kd.member_key_bag->auth_key = creds.public_key(gcks_id).value();
	inner[1].body = encode_key_download(kd).value();
	deliver(gm, rekey_message(sa, 0, inner, std::nullopt));
	EXPECT_FALSE(gm.sink.ever_had(0x0a000002));
	EXPECT_EQ(gm.group("blue")->counters.rekeys, 0u);
	EXPECT_EQ(gm.group("blue")->counters.dropped_malformed, 1u);
	// the same without it is taken
	deliver(gm, rekey_message(sa, 0, tek_payloads(sa.gsk_w, 0x0a000003), std::nullopt));
	EXPECT_TRUE(gm.sink.has(0x0a000003));
}

} // namespace
} // namespace groupsec::gdoi::test
