// SPDX-License-Identifier: GPL-2.0-or-later
// The member key material log: what a member reports to KeyLog::member_key
// when it takes a Rekey SA or TEK into use (engine), and the JSON lines the
// core hands the glue for them (C interface).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gdoi_config.h"
#include "gdoi_core.h"
#include "gdoi_core_env_util.h"
#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_wire.h"
#include "group_keys.h"

namespace groupsec::gdoi::test {
namespace {

std::string to_hex(ByteView b)
{
	std::string s;
	char d[3];
	for (uint8_t c : b) {
		snprintf(d, sizeof(d), "%02x", c);
		s += d;
	}
	return s;
}

std::string spi_hex(uint32_t spi)
{
	char b[9];
	snprintf(b, sizeof(b), "%08x", spi);
	return b;
}

uint32_t message_id(const Datagram &d)
{
	return uint32_t(d.data[20]) << 24 | uint32_t(d.data[21]) << 16 | uint32_t(d.data[22]) << 8 | d.data[23];
}

class MemberKeyLog : public GroupTest {
protected:
	// The key server ks.example.net of group 1234 and gm1..gm3 at
	// 192.0.2.11..13, the key server's group running.
	void SetUp() override
	{
		set_server(addr("192.0.2.1"), id("ks.example.net"), parse_group_id("1234").value());
		for (int i = 1; i <= 3; i++)
			add_gm(i, addr("192.0.2." + std::to_string(10 + i)));
		gcks = &net.add({gcks_addr}, &creds);
		GcksGroupConfig c = server_config();
		c.deactivation_delay_s = 5;
		// gateway tunnels: the core member (kBlueMember) has an endpoint
		// of a prefix, which address preservation refuses
		c.sa_mode = SaMode::Gateway;
		ASSERT_TRUE(gcks->engine.add_server_group(c).ok());
	}

	// the Rekey SA the key server made last: SPI and GSK_e | salt
	std::pair<std::string, Bytes> server_kek() const
	{
		const auto &[spi, keys] = gcks->keylog.rekey_sas.back();
		Bytes k = keys.encryption_key;
		k.insert(k.end(), keys.salt.begin(), keys.salt.end());
		return {to_hex(spi), k};
	}

	void expect_kek(const RecordingKeyLog::MemberKey &k, uint64_t epoch)
	{
		auto [spi, key] = server_kek();
		EXPECT_EQ(k.group, "blue");
		EXPECT_EQ(k.id, spi);
		ASSERT_EQ(k.value.size(), 68u) << "GSK_e (32) | salt (4) | GSK_w (32)";
		EXPECT_EQ(Bytes(k.value.begin(), k.value.begin() + 36), key);
		EXPECT_EQ(k.epoch, epoch);
	}

	void expect_tek(Node &gm, const RecordingKeyLog::MemberKey &k, uint64_t epoch)
	{
		uint32_t spi = current_spi(*gcks);
		auto it = gm.sink.installed.find({"blue", spi});
		ASSERT_NE(it, gm.sink.installed.end());
		EXPECT_EQ(k.group, "blue");
		EXPECT_EQ(k.id, spi_hex(spi));
		EXPECT_EQ(k.value.size(), 36u) << "AES-256 key | salt";
		EXPECT_EQ(k.value, it->second.encryption_key);
		EXPECT_EQ(k.epoch, epoch);
	}

	// the member's key hierarchy entries ("wrap"): at least `at_least` of
	// them, the Key ID in hex and the 32-octet key, the newest at epoch
	// (the message ID that brought it)
	void expect_wrap_keys(Node &gm, size_t at_least, uint64_t epoch)
	{
		auto w = gm.keylog.of_kind("wrap");
		ASSERT_GE(w.size(), at_least);
		for (const auto &k : w) {
			EXPECT_EQ(k.group, "blue");
			ASSERT_EQ(k.value.size(), 32u);
			keytree::Key key{};
			std::copy(k.value.begin(), k.value.end(), key.begin());
			Bytes id;
			wire::put_u32(id, detail::tree_key_id(key));
			EXPECT_EQ(k.id, to_hex(id)) << "the key tree's Key ID of the key";
		}
		EXPECT_EQ(w.back().epoch, epoch);
	}
};

TEST_F(MemberKeyLog, MembersReportTheKeysTheyTakeIntoUse)
{
	for (int i = 0; i < 3; i++) {
		Node &m = net.add({gm_addrs[i]}, &creds);
		ASSERT_TRUE(m.engine.add_member_group(member_config(i)).ok());
		gms.push_back(&m);
	}
	net.tick();
	EXPECT_TRUE(gcks->keylog.member_keys.empty()) << "the key server reports no member keys";
	for (Node *gm : gms) {
		ASSERT_EQ(gm->group("blue")->state, "registered");
		ASSERT_EQ(gm->keylog.of_kind("kek").size(), 1u);
		ASSERT_EQ(gm->keylog.of_kind("tek").size(), 1u);
		expect_wrap_keys(*gm, 1, 0);
		expect_kek(gm->keylog.of_kind("kek")[0], 0);
		expect_tek(*gm, gm->keylog.of_kind("tek")[0], 0);
	}

	// an eviction: the new Rekey SA, then the new TEK under it
	net.log.clear();
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	net.run();
	auto rekeys = net.sent_with_exchange(kRekey);
	ASSERT_EQ(rekeys.size(), 4u) << "two messages to each of two members";
	uint32_t kek_message = message_id(rekeys[0]), tek_message = message_id(rekeys.back());
	// each the first over its Rekey SA (the registration's, the new one)
	ASSERT_EQ(kek_message, 0u);
	ASSERT_EQ(tek_message, 0u);
	ASSERT_NE(Bytes(rekeys[0].data.begin(), rekeys[0].data.begin() + 16),
		  Bytes(rekeys.back().data.begin(), rekeys.back().data.begin() + 16));
	for (int i = 0; i < 2; i++) {
		const RecordingKeyLog &log = gms[i]->keylog;
		ASSERT_EQ(log.of_kind("kek").size(), 2u);
		ASSERT_EQ(log.of_kind("tek").size(), 2u);
		expect_kek(log.of_kind("kek")[1], kek_message);
		expect_tek(*gms[i], log.of_kind("tek")[1], tek_message);
		EXPECT_NE(log.of_kind("kek")[1].value, log.of_kind("kek")[0].value);
	}
	EXPECT_EQ(gms[0]->keylog.of_kind("tek")[1].value, gms[1]->keylog.of_kind("tek")[1].value);
	const size_t evicted_keys = gms[2]->keylog.member_keys.size();
	for (int i = 0; i < 2; i++)
		expect_wrap_keys(*gms[i], 2, kek_message);

	// an operator rekey: a TEK only
	net.log.clear();
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	uint32_t id3 = message_id(net.sent_with_exchange(kRekey).at(0));
	ASSERT_EQ(id3, 1u) << "the second message over the new Rekey SA";
	for (int i = 0; i < 2; i++) {
		const RecordingKeyLog &log = gms[i]->keylog;
		EXPECT_EQ(log.of_kind("kek").size(), 2u);
		ASSERT_EQ(log.of_kind("tek").size(), 3u);
		expect_tek(*gms[i], log.of_kind("tek")[2], id3);
	}
	EXPECT_EQ(gms[2]->keylog.member_keys.size(), evicted_keys);
	EXPECT_EQ(gms[2]->keylog.of_kind("kek").size(), 1u) << "the evicted member learns nothing new";
	EXPECT_EQ(gms[2]->keylog.of_kind("tek").size(), 1u);
}

// --- the C interface: a member core registers with a key server engine

struct CoreMember : RecordingEnv {
	Net *net = nullptr;
	FakeCredentials *creds = nullptr;
	std::vector<std::string> lines;
	std::vector<Bytes> sa_keys; // encryption keys of the SAs installed

	static CoreMember *of(void *ctx) { return static_cast<CoreMember *>(RecordingEnv::of(ctx)); }

	static bool send(void *ctx, const gdoi_addr_t *local, const gdoi_addr_t *remote, const uint8_t *data,
			 size_t len)
	{
		auto *self = of(ctx);
		Address l, r;
		l.ip.assign(local->ip, local->ip + local->len);
		l.port = local->port;
		r.ip.assign(remote->ip, remote->ip + remote->len);
		r.port = remote->port;
		self->net->push(Datagram{l, r, Bytes(data, data + len)});
		return true;
	}
	static bool shared_key(void *ctx, const gdoi_id_t *local, const gdoi_id_t *remote, uint8_t *key,
			       size_t *len)
	{
		auto *self = of(ctx);
		auto k = self->creds->shared_key(Identity{local->type, Bytes(local->data, local->data + local->len)},
						 Identity{remote->type, Bytes(remote->data, remote->data + remote->len)});
		if (!k || k->size() > *len)
			return false;
		std::copy(k->begin(), k->end(), key);
		*len = k->size();
		return true;
	}
	static bool verify(void *ctx, const gdoi_id_t *signer, const char *group, gdoi_peer_role_t role,
			   const uint8_t *data, size_t len, const uint8_t *auth, size_t auth_len)
	{
		auto *self = of(ctx);
		return self->creds->verify(Identity{signer->type, Bytes(signer->data, signer->data + signer->len)},
					   ByteView(data, len), ByteView(auth, auth_len), group,
					   role == GDOI_PEER_KEY_SERVER ? PeerRole::KeyServer : PeerRole::Member);
	}
	// GSA_REKEY signatures verify with the key server's AUTH_KEY
	static bool verify_with(void *ctx, const uint8_t *spki, size_t spki_len, const uint8_t *data, size_t len,
				const uint8_t *auth, size_t auth_len)
	{
		return of(ctx)->creds->verify_with(ByteView(spki, spki_len), ByteView(data, len),
						   ByteView(auth, auth_len));
	}
	static bool add_sa(void *ctx, const gdoi_kernel_sa_t *sa)
	{
		if (sa->inbound)
			of(ctx)->sa_keys.emplace_back(sa->enc_key, sa->enc_key + sa->enc_key_len);
		return true;
	}
	static void save_member_key(void *ctx, const char *line)
	{
		of(ctx)->lines.push_back(line);
	}

	gdoi_core_env_t env()
	{
		gdoi_core_env_t e = RecordingEnv::env();
		e.send = send;
		e.shared_key = shared_key;
		e.verify = verify;
		e.verify_with = verify_with;
		e.add_sa = add_sa;
		e.save_member_key = save_member_key;
		return e;
	}
};

TEST_F(MemberKeyLog, TheCoreHandsTheGlueOneJsonLinePerKey)
{
	CoreMember m;
	m.net = &net;
	m.creds = &creds;
	gdoi_core_env_t env = m.env();
	gdoi_core_t *core = gdoi_core_create(&env, 1000);
	ASSERT_NE(core, nullptr);
	std::string err;
	ASSERT_EQ(load(core, kBlueMember, err), 1) << err;
	// datagrams to the member go into the core
	net.drop = [&](const Datagram &d) {
		if (!(d.to == gm_addrs[0]))
			return false;
		gdoi_addr_t l{}, r{};
		l.len = static_cast<uint8_t>(d.to.ip.size());
		std::copy(d.to.ip.begin(), d.to.ip.end(), l.ip);
		l.port = d.to.port;
		r.len = static_cast<uint8_t>(d.from.ip.size());
		std::copy(d.from.ip.begin(), d.from.ip.end(), r.ip);
		r.port = d.from.port;
		gdoi_core_receive(core, &l, &r, d.data.data(), d.data.size());
		return true;
	};
	gdoi_core_tick(core);
	net.run();
	auto of_kind = [&](const std::string &kind) {
		std::vector<std::string> out;
		for (const std::string &l : m.lines)
			if (l.find("\"kind\":\"" + kind + "\"") != std::string::npos)
				out.push_back(l);
		return out;
	};
	ASSERT_EQ(of_kind("kek").size(), 1u);
	ASSERT_EQ(of_kind("tek").size(), 1u);
	ASSERT_EQ(of_kind("wrap").size(), 1u) << "the first member is the whole tree: one leaf";
	EXPECT_EQ(m.lines.size(), 3u);
	auto [kek_spi, kek_key] = server_kek();
	const std::string kek = of_kind("kek")[0];
	const std::string kek_prefix =
		"{\"group\":\"blue\",\"kind\":\"kek\",\"id\":\"" + kek_spi + "\",\"key\":\"" + to_hex(kek_key);
	EXPECT_EQ(kek.rfind(kek_prefix, 0), 0u) << kek;
	EXPECT_EQ(kek.size(), kek_prefix.size() + 64 + std::string("\",\"epoch\":0}").size()) << kek;
	EXPECT_EQ(kek.substr(kek.size() - 12), "\",\"epoch\":0}");
	ASSERT_EQ(m.sa_keys.size(), 1u);
	EXPECT_EQ(of_kind("tek")[0], "{\"group\":\"blue\",\"kind\":\"tek\",\"id\":\"" + spi_hex(current_spi(*gcks)) +
					     "\",\"key\":\"" + to_hex(m.sa_keys[0]) + "\",\"epoch\":0}");
	const std::string tree = of_kind("wrap")[0];
	EXPECT_EQ(tree.rfind("{\"group\":\"blue\",\"kind\":\"wrap\",\"id\":\"", 0), 0u) << tree;

	// two rekeys over the registration's Rekey SA: message IDs 0 and 1
	for (uint32_t want = 0; want < 2; want++) {
		net.log.clear();
		ASSERT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		uint32_t id = message_id(net.sent_with_exchange(kRekey).at(0));
		ASSERT_EQ(id, want);
		ASSERT_EQ(m.lines.size(), 4u + want);
		ASSERT_EQ(m.sa_keys.size(), 2u + want);
		EXPECT_EQ(m.lines[3 + want], "{\"group\":\"blue\",\"kind\":\"tek\",\"id\":\"" +
						     spi_hex(current_spi(*gcks)) + "\",\"key\":\"" +
						     to_hex(m.sa_keys[1 + want]) + "\",\"epoch\":" + std::to_string(id) + "}");
	}
	net.drop = nullptr;
	gdoi_core_destroy(core);
}

} // namespace
} // namespace groupsec::gdoi::test
