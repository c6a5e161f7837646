// SPDX-License-Identifier: GPL-2.0-or-later
// The member's sealed routes: keys from `routing-keys`, sealing the
// membership route once per epoch, opening others' routes and handing
// (prefixes -> gateway, group) out, and the drop counters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "gsa_routes.h"
#include "gsa_sr.h"
#include "gsa_core.h"

namespace {

const char *kKey1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char *kKey2 = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

uint64_t clock_now(void *ctx)
{
	return *static_cast<uint64_t *>(ctx);
}

struct Call {
	bool add;
	std::string group, gateway;
	std::vector<std::string> prefixes;
};

void record(void *arg, int add, const char *group, const char *gateway, const char *const *prefixes, size_t n)
{
	Call c{add != 0, group, gateway, {}};
	for (size_t i = 0; i < n; i++)
		c.prefixes.push_back(prefixes[i]);
	static_cast<std::vector<Call> *>(arg)->push_back(c);
}

// one router: its keyring, its groups, its sealed routes
struct Router {
	uint64_t now = 1000000;
	gsa_keyring_t *kr = gsa_keyring_create(60, clock_now, &now);
	gsa_groups *groups = gsa_groups_new();
	gsa_routes *routes = gsa_routes_new(GSA_SEAL_ATTR_DEFAULT_CODE);
	std::vector<Call> calls;
	~Router()
	{
		gsa_routes_free(routes);
		gsa_groups_free(groups);
		gsa_keyring_destroy(kr);
	}
	void key(const char *name, const char *num, const char *epoch, const char *key, int want_changed = -1)
	{
		char err[GSA_SEAL_ERR_MAX] = "";
		int changed = -1;
		ASSERT_EQ(gsa_routes_feed_key(routes, kr, name, num, epoch, key, &changed, err, sizeof(err)), GSA_SEAL_OK)
			<< err;
		if (want_changed >= 0) {
			EXPECT_EQ(changed, want_changed);
		}
	}
	void join(const char *name, uint32_t id, const char *ep, const char *prefix)
	{
		char err[256];
		ASSERT_EQ(gsa_groups_set(groups, name, id, ep, false, err, sizeof(err)), 0) << err;
		ASSERT_EQ(gsa_groups_prefix(groups, name, prefix, true, err, sizeof(err)), 0) << err;
	}
	std::vector<uint8_t> seal(const char *ep, int want = GSA_SEAL_OK)
	{
		const uint8_t *a = nullptr;
		size_t n = 0;
		char err[GSA_SEAL_ERR_MAX] = "";
		EXPECT_EQ(gsa_routes_seal(routes, kr, groups, ep, &a, &n, err, sizeof(err)), want) << err;
		return want == GSA_SEAL_OK ? std::vector<uint8_t>(a, a + n) : std::vector<uint8_t>();
	}
	void receive(const char *route, const std::vector<uint8_t> &attrs)
	{
		gsa_routes_received(routes, kr, route, attrs.data(), attrs.size(), record, &calls);
	}
	std::string render(const char *group, bool json)
	{
		char *t = gsa_routes_render(routes, kr, group, json);
		std::string s = t ? t : "";
		gsa_core_free(t);
		return s;
	}
};

TEST(GsaRoutes, AMemberOpensWhatAnotherSealedAndHandsItOut)
{
	Router m2, m1;
	m2.key("A", "1001", "1a2b3c4d", kKey1);
	m1.key("A", "1001", "1a2b3c4d", kKey1);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	auto attr = m2.seal("192.0.2.12");
	ASSERT_GT(attr.size(), 3u);
	EXPECT_EQ(attr[0], 0xC0);
	EXPECT_EQ(attr[1], 255);

	m1.receive("192.0.2.12/32", attr);
	ASSERT_EQ(m1.calls.size(), 1u);
	EXPECT_TRUE(m1.calls[0].add);
	EXPECT_EQ(m1.calls[0].group, "A");
	EXPECT_EQ(m1.calls[0].gateway, "192.0.2.12");
	EXPECT_EQ(m1.calls[0].prefixes, std::vector<std::string>{"10.2.0.0/24"});
	EXPECT_EQ(gsa_routes_opened(m1.routes), 1u);

	// the same attribute again (a refresh): nothing handed out again
	m1.receive("192.0.2.12/32", attr);
	EXPECT_EQ(m1.calls.size(), 1u);

	std::string text = m1.render(nullptr, false);
	EXPECT_NE(text.find("10.2.0.0/24"), std::string::npos) << text;
	EXPECT_NE(text.find("1a2b3c4d"), std::string::npos) << text;
	std::string json = m1.render("A", true);
	EXPECT_NE(json.find("{\"prefix\":\"10.2.0.0/24\",\"gateway\":\"192.0.2.12\",\"group\":\"A\",\"groupId\":1001,"
			    "\"epoch\":\"1a2b3c4d\",\"previousEpoch\":false,\"originator\":\"192.0.2.12\""),
		  std::string::npos)
		<< json;
	EXPECT_EQ(m1.render("B", true).find("10.2.0.0/24"), std::string::npos);

	// withdrawn: removed
	gsa_routes_withdrawn(m1.routes, "192.0.2.12/32", record, &m1.calls);
	ASSERT_EQ(m1.calls.size(), 2u);
	EXPECT_FALSE(m1.calls[1].add);
	EXPECT_EQ(m1.calls[1].gateway, "192.0.2.12");
	EXPECT_EQ(gsa_routes_opened(m1.routes), 0u);
}

TEST(GsaRoutes, SealingIsReusedUntilTheEpochOrThePrefixesChange)
{
	Router m;
	m.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	m.seal("192.0.2.12", GSA_SEAL_ERR_NOT_FOUND); // no key yet
	m.key("A", "1001", "00000001", kKey1, 1);
	auto a1 = m.seal("192.0.2.12");
	EXPECT_EQ(m.seal("192.0.2.12"), a1); // same nonce: no re-advertisement
	m.key("A", "1001", "00000001", kKey1, 0); // polled again: no change
	EXPECT_EQ(m.seal("192.0.2.12"), a1);
	m.key("A", "1001", "00000002", kKey2, 1);
	auto a2 = m.seal("192.0.2.12");
	EXPECT_NE(a2, a1);
	char err[256];
	ASSERT_EQ(gsa_groups_prefix(m.groups, "A", "10.9.0.0/24", true, err, sizeof(err)), 0);
	EXPECT_NE(m.seal("192.0.2.12"), a2);
}

// the entry of group in an attribute (flags, code, 1-octet length, list)
std::vector<uint8_t> entry_of(const std::vector<uint8_t> &attr, uint32_t group)
{
	size_t at = 5; // flags, code, length, version, count
	for (unsigned i = 0; i < attr[4] && at + 2 <= attr.size(); i++) {
		size_t len = size_t(attr[at]) << 8 | attr[at + 1];
		const uint8_t *e = attr.data() + at + 2;
		uint32_t g = uint32_t(e[2]) << 24 | uint32_t(e[3]) << 16 | uint32_t(e[4]) << 8 | e[5];
		if (g == group)
			return std::vector<uint8_t>(e, e + len);
		at += 2 + len;
	}
	return {};
}

TEST(GsaRoutes, AnEndpointOfTwoGroupsCarriesAnEntryPerGroup)
{
	Router m3, m4, m1, m5;
	m3.join("A", 1001, "192.0.2.13", "10.3.0.0/24");
	m3.join("B", 1002, "192.0.2.13", "10.3.0.0/24");
	char err[256];
	ASSERT_EQ(gsa_groups_prefix(m3.groups, "B", "10.33.0.0/24", true, err, sizeof(err)), 0) << err;
	m3.key("B", "1002", "000000b1", kKey2);
	m4.key("B", "1002", "000000b1", kKey2);
	m1.key("A", "1001", "000000a1", kKey1);
	m5.key("A", "1001", "000000a1", kKey1);
	m5.key("B", "1002", "000000b1", kKey2);

	// only B's key yet: one entry
	auto only_b = m3.seal("192.0.2.13");
	ASSERT_GT(only_b.size(), 5u);
	EXPECT_EQ(only_b[3], GSA_SEAL_LIST_VERSION);
	EXPECT_EQ(only_b[4], 1);
	m4.receive("192.0.2.13/32", only_b);
	ASSERT_EQ(m4.calls.size(), 1u);
	EXPECT_EQ(m4.calls[0].group, "B");

	// A's key as well: an entry for each; B's is kept as it was
	m3.key("A", "1001", "000000a1", kKey1);
	auto both = m3.seal("192.0.2.13");
	EXPECT_EQ(both[4], 2);
	EXPECT_EQ(entry_of(both, 1002), entry_of(only_b, 1002));
	EXPECT_FALSE(entry_of(both, 1001).empty());

	// m4 (B) still has B's prefixes and nothing of A, and counts nothing
	m4.receive("192.0.2.13/32", both);
	EXPECT_EQ(m4.calls.size(), 1u); // B's entry did not change
	// m1 (A) opens A's prefixes only
	m1.receive("192.0.2.13/32", both);
	ASSERT_EQ(m1.calls.size(), 1u);
	EXPECT_EQ(m1.calls[0].group, "A");
	EXPECT_EQ(m1.calls[0].prefixes, std::vector<std::string>{"10.3.0.0/24"});
	// m5 (A and B) opens both, each handed out in its group
	m5.receive("192.0.2.13/32", both);
	ASSERT_EQ(m5.calls.size(), 2u);
	EXPECT_EQ(m5.calls[0].group, "A");
	EXPECT_EQ(m5.calls[1].group, "B");
	EXPECT_EQ(m5.calls[1].prefixes, (std::vector<std::string>{"10.3.0.0/24", "10.33.0.0/24"}));
	for (Router *r : {&m4, &m1, &m5})
		for (const char *n : {"unknown-group", "bad-tag", "malformed", "truncated"})
			EXPECT_EQ(gsa_routes_dropped(r->routes, n), 0u) << n;
	std::string json = m4.render(nullptr, true);
	EXPECT_NE(json.find("\"entries\":{\"192.0.2.13/32\":[{\"group\":null,\"groupId\":1001,\"epoch\":\"000000a1\","
			    "\"status\":\"unknown-group\"},{\"group\":\"B\",\"groupId\":1002,\"epoch\":\"000000b1\","
			    "\"status\":\"ok\"}]}"),
		  std::string::npos)
		<< json;
	EXPECT_NE(json.find("\"notOpened\":{}"), std::string::npos) << json;

	// A rekeys: A's entry is sealed again, B's stays
	m3.key("A", "1001", "000000a2", kKey2);
	auto rekeyed = m3.seal("192.0.2.13");
	EXPECT_NE(entry_of(rekeyed, 1001), entry_of(both, 1001));
	EXPECT_EQ(entry_of(rekeyed, 1002), entry_of(both, 1002));
	std::string sealed = m3.render(nullptr, true);
	EXPECT_NE(sealed.find("\"sealed\":{\"192.0.2.13\":[{\"group\":\"A\",\"groupId\":1001,\"epoch\":\"000000a2\","
			      "\"prefixes\":1},{\"group\":\"B\",\"groupId\":1002,\"epoch\":\"000000b1\",\"prefixes\":2}]}"),
		  std::string::npos)
		<< sealed;
	EXPECT_NE(m3.render(nullptr, false).find("192.0.2.13  A epoch 000000a2, B epoch 000000b1"), std::string::npos)
		<< m3.render(nullptr, false);
}

TEST(GsaRoutes, AnEntryThatFailsIsCountedWhileTheOthersOpen)
{
	Router m3, m5, evil;
	m3.join("A", 1001, "192.0.2.13", "10.3.0.0/24");
	m3.join("B", 1002, "192.0.2.13", "10.3.0.0/24");
	evil.join("B", 1002, "192.0.2.13", "10.66.0.0/24");
	for (Router *r : {&m3, &m5}) {
		r->key("A", "1001", "000000a1", kKey1);
		r->key("B", "1002", "000000b1", kKey2);
	}
	evil.key("B", "1002", "000000b1", kKey1); // B's epoch under another key
	auto good = m3.seal("192.0.2.13");
	auto forged = entry_of(evil.seal("192.0.2.13"), 1002);
	// B's entry replaced by the forged one (same length: same prefix count)
	auto bad = good;
	auto real_b = entry_of(good, 1002);
	ASSERT_EQ(real_b.size(), forged.size());
	auto at = std::search(bad.begin(), bad.end(), real_b.begin(), real_b.end());
	std::copy(forged.begin(), forged.end(), at);

	m5.receive("192.0.2.13/32", bad);
	ASSERT_EQ(m5.calls.size(), 1u);
	EXPECT_EQ(m5.calls[0].group, "A");
	EXPECT_EQ(gsa_routes_dropped(m5.routes, "bad-tag"), 1u);
	EXPECT_EQ(gsa_routes_dropped(m5.routes, "unknown-group"), 0u);
	std::string text = m5.render(nullptr, false);
	EXPECT_NE(text.find("192.0.2.13/32  group B: bad-tag"), std::string::npos) << text;
	// seen again in a scan: not counted again
	m5.receive("192.0.2.13/32", bad);
	gsa_routes_reopen(m5.routes, m5.kr, record, &m5.calls);
	EXPECT_EQ(gsa_routes_dropped(m5.routes, "bad-tag"), 1u);
	// the real one: B opens as well
	m5.receive("192.0.2.13/32", good);
	ASSERT_EQ(m5.calls.size(), 2u);
	EXPECT_EQ(m5.calls[1].group, "B");
	EXPECT_TRUE(m5.calls[1].add);
	// a bare entry (version 1) is refused whole, and what was open removed
	std::vector<uint8_t> bare = {0xc0, 0xff, static_cast<uint8_t>(real_b.size())};
	bare.insert(bare.end(), real_b.begin(), real_b.end());
	m5.receive("192.0.2.13/32", bare);
	EXPECT_EQ(gsa_routes_dropped(m5.routes, "version"), 1u);
	EXPECT_EQ(m5.calls.size(), 4u);
	EXPECT_EQ(gsa_routes_opened(m5.routes), 0u);
}

TEST(GsaRoutes, TheCodePointAndGraceAreTheConfiguredOnes)
{
	Router m2, m1;
	for (Router *r : {&m2, &m1})
		r->key("A", "1001", "00000001", kKey1);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	auto a255 = m2.seal("192.0.2.12");
	gsa_routes_set_code(m2.routes, 254);
	EXPECT_EQ(gsa_routes_code(m2.routes), 254);
	auto a254 = m2.seal("192.0.2.12");
	EXPECT_EQ(a254[1], 254);
	// m1 still looks for 255: 254 is an attribute like any other
	m1.receive("192.0.2.12/32", a254);
	EXPECT_TRUE(m1.calls.empty());
	EXPECT_EQ(gsa_routes_opened(m1.routes), 0u);
	m1.receive("192.0.2.12/32", a255);
	EXPECT_EQ(gsa_routes_opened(m1.routes), 1u);
	gsa_routes_set_code(m1.routes, 254);
	m1.receive("192.0.2.12/32", a255); // no attribute 254: withdrawn
	EXPECT_EQ(gsa_routes_opened(m1.routes), 0u);
	m1.receive("192.0.2.12/32", a254);
	EXPECT_EQ(gsa_routes_opened(m1.routes), 1u);

	gsa_keyring_set_grace(m1.kr, 0);
	EXPECT_EQ(gsa_keyring_grace(m1.kr), 0u);
	std::string json = m1.render(nullptr, true);
	EXPECT_EQ(json.find("{\"sealedAttribute\":{\"type\":254,\"grace\":0},"), 0u) << json;
	EXPECT_EQ(m1.render(nullptr, false).find("Sealed attribute: type 254, grace 0 s\n"), 0u);
	// grace 0: the previous epoch closes with the change
	m1.key("A", "1001", "00000002", kKey2);
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	EXPECT_EQ(gsa_routes_opened(m1.routes), 0u);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "epoch-expired"), 1u);
}

TEST(GsaRoutes, FailuresAreCountedByNameAndRemoveWhatWasOpened)
{
	Router m2, m1, evil;
	m2.key("A", "1001", "00000001", kKey1);
	m1.key("A", "1001", "00000001", kKey1);
	evil.key("A", "1001", "00000001", kKey2); // another key, same epoch
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	evil.join("A", 1001, "192.0.2.12", "10.66.0.0/24");
	auto good = m2.seal("192.0.2.12");

	// a wrong tag
	m1.receive("192.0.2.12/32", evil.seal("192.0.2.12"));
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "bad-tag"), 1u);
	EXPECT_TRUE(m1.calls.empty());
	EXPECT_NE(m1.render(nullptr, false).find("192.0.2.12/32  bad-tag"), std::string::npos);

	// a truncated blob (the attribute's length cut with it)
	std::vector<uint8_t> cut(good.begin(), good.begin() + 20);
	cut[2] = 17;
	m1.receive("192.0.2.12/32", cut);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "truncated"), 1u);

	// a blob moved to another member's route
	m1.receive("192.0.2.99/32", good);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, GSA_ROUTES_ORIGINATOR_MISMATCH), 1u);
	EXPECT_TRUE(m1.calls.empty());

	// the good one opens; a bad one in its place removes it
	m1.receive("192.0.2.12/32", good);
	ASSERT_EQ(m1.calls.size(), 1u);
	m1.receive("192.0.2.12/32", evil.seal("192.0.2.12"));
	ASSERT_EQ(m1.calls.size(), 2u);
	EXPECT_FALSE(m1.calls[1].add);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "bad-tag"), 2u);
	std::string json = m1.render(nullptr, true);
	EXPECT_NE(json.find("\"bad-tag\":2"), std::string::npos) << json;
	EXPECT_NE(json.find("\"truncated\":1"), std::string::npos) << json;
}

TEST(GsaRoutes, KeysArrivingLaterOpenWhatCameBeforeAndAnExpiredEpochRemovesIt)
{
	Router m2, m1;
	m2.key("A", "1001", "00000001", kKey1);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	auto old_attr = m2.seal("192.0.2.12");
	m1.receive("192.0.2.12/32", old_attr);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "unknown-group"), 1u);
	m1.key("A", "1001", "00000001", kKey1);
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	ASSERT_EQ(m1.calls.size(), 1u);
	EXPECT_TRUE(m1.calls[0].add);

	// m1 rekeys first: the old epoch is accepted for the grace period
	m1.key("A", "1001", "00000002", kKey2);
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	EXPECT_EQ(m1.calls.size(), 1u);
	EXPECT_NE(m1.render(nullptr, false).find("(previous epoch)"), std::string::npos);
	m1.now += 61 * 1000;
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	ASSERT_EQ(m1.calls.size(), 2u);
	EXPECT_FALSE(m1.calls[1].add);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "epoch-expired"), 1u);
	// reopening again does not count it again
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "epoch-expired"), 1u);

	// m2 seals again under the new epoch: opened again
	m2.key("A", "1001", "00000002", kKey2);
	m1.receive("192.0.2.12/32", m2.seal("192.0.2.12"));
	ASSERT_EQ(m1.calls.size(), 3u);
	EXPECT_TRUE(m1.calls[2].add);
}

TEST(GsaRoutes, ReopeningOpensAgainOnlyWhatAKeyOrANameChanged)
{
	Router m2, m1;
	m2.key("A", "1001", "00000001", kKey1);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	m1.key("A", "1001", "00000001", kKey1);
	m1.receive("192.0.2.12/32", m2.seal("192.0.2.12"));
	ASSERT_EQ(m1.calls.size(), 1u);
	EXPECT_EQ(m1.calls[0].group, "A");
	// nothing changed: nothing handed out again
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	EXPECT_EQ(m1.calls.size(), 1u);
	// the key server renamed the group (same number, same key): the route
	// is handed out again under its new name
	m1.key("B", "1001", "00000001", kKey1, 0);
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	ASSERT_EQ(m1.calls.size(), 3u);
	EXPECT_FALSE(m1.calls[1].add);
	EXPECT_EQ(m1.calls[1].group, "A");
	EXPECT_TRUE(m1.calls[2].add);
	EXPECT_EQ(m1.calls[2].group, "B");
	gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
	EXPECT_EQ(m1.calls.size(), 3u);
}

TEST(GsaRoutes, TheSameFailingAttributeSeenAgainIsNotCountedAgain)
{
	Router m2, m1, evil;
	m2.key("A", "1001", "00000001", kKey1);
	m1.key("A", "1001", "00000001", kKey1);
	evil.key("A", "1001", "00000001", kKey2);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	evil.join("A", 1001, "192.0.2.13", "10.66.0.0/24");
	auto good = m2.seal("192.0.2.12");
	auto bad = evil.seal("192.0.2.13");
	std::vector<uint8_t> cut(good.begin(), good.begin() + 20);
	cut[2] = 17;
	// every scan hands the module the same attributes again
	for (int scan = 0; scan < 3; scan++) {
		gsa_routes_scan_begin(m1.routes);
		m1.receive("192.0.2.12/32", good);
		m1.receive("192.0.2.13/32", bad);
		m1.receive("192.0.2.14/32", cut);
		gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
		gsa_routes_scan_end(m1.routes, record, &m1.calls);
	}
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "bad-tag"), 1u);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "truncated"), 1u);
	ASSERT_EQ(m1.calls.size(), 1u); // the good one, handed out once
	// past the grace period the good one stops opening: counted once,
	// however many scans see it again
	m1.key("A", "1001", "00000002", kKey2);
	m1.now += 61 * 1000;
	for (int scan = 0; scan < 3; scan++) {
		gsa_routes_scan_begin(m1.routes);
		m1.receive("192.0.2.12/32", good);
		m1.receive("192.0.2.13/32", bad);
		m1.receive("192.0.2.14/32", cut);
		gsa_routes_reopen(m1.routes, m1.kr, record, &m1.calls);
		gsa_routes_scan_end(m1.routes, record, &m1.calls);
	}
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "epoch-expired"), 2u); // the good one and the bad one's old epoch
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "bad-tag"), 1u);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "truncated"), 1u);
	ASSERT_EQ(m1.calls.size(), 2u);
	EXPECT_FALSE(m1.calls[1].add);
	// a route withdrawn and announced again with the same attribute is new
	gsa_routes_withdrawn(m1.routes, "192.0.2.13/32", record, &m1.calls);
	m1.receive("192.0.2.13/32", bad);
	EXPECT_EQ(gsa_routes_dropped(m1.routes, "epoch-expired"), 3u);
}

TEST(GsaRoutes, AScanWithdrawsTheRoutesItDidNotSee)
{
	Router m2, m3, m1;
	for (Router *r : {&m2, &m3, &m1})
		r->key("A", "1001", "00000001", kKey1);
	m2.join("A", 1001, "192.0.2.12", "10.2.0.0/24");
	m3.join("A", 1001, "192.0.2.13", "10.3.0.0/24");
	auto a2 = m2.seal("192.0.2.12"), a3 = m3.seal("192.0.2.13");
	gsa_routes_scan_begin(m1.routes);
	m1.receive("192.0.2.12/32", a2);
	m1.receive("192.0.2.13/32", a3);
	gsa_routes_scan_end(m1.routes, record, &m1.calls);
	EXPECT_EQ(m1.calls.size(), 2u);
	EXPECT_EQ(gsa_routes_opened(m1.routes), 2u);
	gsa_routes_scan_begin(m1.routes);
	m1.receive("192.0.2.13/32", a3);
	gsa_routes_scan_end(m1.routes, record, &m1.calls);
	ASSERT_EQ(m1.calls.size(), 3u);
	EXPECT_FALSE(m1.calls[2].add);
	EXPECT_EQ(m1.calls[2].gateway, "192.0.2.12");
	EXPECT_EQ(gsa_routes_opened(m1.routes), 1u);
	// a route that comes back without the attribute is withdrawn too
	m1.receive("192.0.2.13/32", {});
	EXPECT_EQ(gsa_routes_opened(m1.routes), 0u);
	std::vector<Call> replayed;
	gsa_routes_replay(m1.routes, record, &replayed);
	EXPECT_TRUE(replayed.empty());
}

TEST(GsaRoutes, TheDocumentedExampleOpens)
{
	// docs/bgp-gsa.md "Example": attribute c0 ff 7a, the list of two entries
	const char *hex = "c0ff7a0202003e"
			  "01010000012c1a2b3c4d01c000020b111111111111111111111111"
			  "81a094bdb3002daf78752400710511b75b1f814c1c52fa1247d76c9f0fb5ae8dfe6184"
			  "0036"
			  "01010000012d0a0b0c0d01c000020b222222222222222222222222"
			  "9d85bc616a972d27d28acd026fcbce2851e408c89a2c3db4ad6a11";
	std::vector<uint8_t> attr;
	for (size_t i = 0; hex[i] && hex[i + 1]; i += 2)
		attr.push_back(static_cast<uint8_t>(std::stoi(std::string(hex + i, 2), nullptr, 16)));
	ASSERT_EQ(attr.size(), 125u);
	Router m;
	m.key("X", "300", "1a2b3c4d", kKey1);
	m.receive("192.0.2.11/32", attr);
	ASSERT_EQ(m.calls.size(), 1u) << m.render(nullptr, false);
	EXPECT_EQ(m.calls[0].group, "X");
	EXPECT_EQ(m.calls[0].gateway, "192.0.2.11");
	EXPECT_EQ(m.calls[0].prefixes, (std::vector<std::string>{"10.1.0.0/16", "2001:db8:1::/48"}));
	// the key of 301 (20 21 .. 3f) opens the second entry
	m.key("Y", "301", "0a0b0c0d", "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
	gsa_routes_reopen(m.routes, m.kr, record, &m.calls);
	ASSERT_EQ(m.calls.size(), 2u) << m.render(nullptr, false);
	EXPECT_EQ(m.calls[1].group, "Y");
	EXPECT_EQ(m.calls[1].prefixes, std::vector<std::string>{"10.1.0.0/16"});
}

TEST(GsaRoutes, BadKeyFeedIsRefusedAndChangesNothing)
{
	Router m;
	char err[GSA_SEAL_ERR_MAX] = "";
	int changed = 0;
	EXPECT_EQ(gsa_routes_feed_key(m.routes, m.kr, "A", "x1", "00000001", kKey1, &changed, err, sizeof(err)),
		  GSA_SEAL_ERR_INVALID);
	EXPECT_EQ(gsa_routes_feed_key(m.routes, m.kr, "A", "1001", "0001", kKey1, &changed, err, sizeof(err)),
		  GSA_SEAL_ERR_INVALID);
	EXPECT_EQ(gsa_routes_feed_key(m.routes, m.kr, "A", "1001", "00000001", "abcd", &changed, err, sizeof(err)),
		  GSA_SEAL_ERR_INVALID);
	EXPECT_NE(std::string(err).find("64 hex"), std::string::npos) << err;
	// no TEK yet: skipped
	EXPECT_EQ(gsa_routes_feed_key(m.routes, m.kr, "A", "1001", nullptr, nullptr, &changed, err, sizeof(err)),
		  GSA_SEAL_OK);
	uint32_t e;
	EXPECT_EQ(gsa_keyring_epoch(m.kr, 1001, &e), GSA_SEAL_ERR_UNKNOWN_GROUP);
	EXPECT_EQ(m.render(nullptr, true).find("\"A\""), std::string::npos);
}

} // namespace
