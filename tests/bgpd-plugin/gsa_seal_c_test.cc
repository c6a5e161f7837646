// SPDX-License-Identifier: GPL-2.0-or-later
// The C interface the FRR glue calls (gsa_seal.h).
#include "gsa_seal.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace {

uint64_t test_clock(void *ctx)
{
	return *static_cast<uint64_t *>(ctx);
}

gsa_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	gsa_addr x{};
	x.family = 4;
	x.addr[0] = a, x.addr[1] = b, x.addr[2] = c, x.addr[3] = d;
	return x;
}

gsa_prefix p4(uint8_t a, uint8_t b, uint8_t len)
{
	gsa_prefix p{};
	p.family = 4;
	p.len = len;
	p.addr[0] = a, p.addr[1] = b;
	return p;
}

gsa_prefix p6_db8(uint8_t third, uint8_t len)
{
	gsa_prefix p{};
	p.family = 6;
	p.len = len;
	p.addr[0] = 0x20, p.addr[1] = 0x01, p.addr[2] = 0x0d, p.addr[3] = 0xb8, p.addr[5] = third;
	return p;
}

struct Ring {
	explicit Ring(uint64_t *now, uint32_t grace = 60) : kr(gsa_keyring_create(grace, test_clock, now)) {}
	~Ring() { gsa_keyring_destroy(kr); }
	gsa_keyring_t *kr;
};

const uint8_t kKeyA[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
			   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const uint8_t kKeyB[32] = {9};

} // namespace

TEST(GsaSealC, SealsOpensAndWrapsInTheAttribute)
{
	uint64_t now = 5000;
	Ring sender(&now), member(&now);
	char err[GSA_SEAL_ERR_MAX] = "";
	int changed = -1;
	ASSERT_EQ(gsa_keyring_update(sender.kr, 300, 0xabcd, kKeyA, 32, &changed, err, sizeof(err)), GSA_SEAL_OK) << err;
	EXPECT_EQ(changed, 1);
	ASSERT_EQ(gsa_keyring_update(member.kr, 300, 0xabcd, kKeyA, 32, &changed, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_keyring_update(member.kr, 300, 0xabcd, kKeyA, 32, &changed, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(changed, 0);

	gsa_addr orig = v4(192, 0, 2, 11);
	gsa_prefix ps[] = {p4(10, 1, 16), p6_db8(1, 48)};
	uint8_t *blob = nullptr;
	size_t blob_len = 0;
	uint32_t epoch = 0;
	ASSERT_EQ(gsa_seal(sender.kr, 300, &orig, &orig, ps, 2, &blob, &blob_len, &epoch, err, sizeof(err)),
		  GSA_SEAL_OK)
		<< err;
	EXPECT_EQ(epoch, 0xabcdu);
	// 11 + 4 header, 12 nonce, 19 plaintext, 16 tag
	EXPECT_EQ(blob_len, 62u);

	uint32_t g = 0, e = 0;
	gsa_addr o{};
	ASSERT_EQ(gsa_seal_peek(blob, blob_len, &g, &e, &o, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(g, 300u);
	EXPECT_EQ(e, 0xabcdu);
	EXPECT_EQ(0, memcmp(&o, &orig, sizeof(o)));

	uint8_t *attr = nullptr;
	size_t attr_len = 0;
	ASSERT_EQ(gsa_seal_attr_encode(GSA_SEAL_ATTR_DEFAULT_CODE, blob, blob_len, &attr, &attr_len), GSA_SEAL_OK);
	EXPECT_EQ(attr_len, blob_len + 3);
	EXPECT_EQ(attr[0], GSA_SEAL_ATTR_FLAGS);
	EXPECT_EQ(attr[1], 255);
	attr[0] |= 0x20; // Partial, as FRR passes it on
	const uint8_t *value = nullptr;
	size_t value_len = 0;
	ASSERT_EQ(gsa_seal_attr_find(attr, attr_len, 255, &value, &value_len, err, sizeof(err)), GSA_SEAL_OK) << err;
	EXPECT_EQ(value_len, blob_len);

	gsa_opened opened;
	ASSERT_EQ(gsa_open(member.kr, value, value_len, &opened, err, sizeof(err)), GSA_SEAL_OK) << err;
	EXPECT_EQ(opened.group, 300u);
	EXPECT_EQ(opened.epoch, 0xabcdu);
	EXPECT_EQ(opened.previous_epoch, 0);
	EXPECT_EQ(0, memcmp(&opened.gateway, &orig, sizeof(orig)));
	ASSERT_EQ(opened.count, 2u);
	EXPECT_EQ(0, memcmp(&opened.prefixes[0], &ps[0], sizeof(ps[0])));
	EXPECT_EQ(0, memcmp(&opened.prefixes[1], &ps[1], sizeof(ps[1])));
	gsa_opened_free(&opened);
	EXPECT_EQ(opened.prefixes, nullptr);

	// a wrong tag: counted by its name, the text says why
	attr[attr_len - 1] ^= 1;
	EXPECT_EQ(gsa_open(member.kr, value, value_len, &opened, err, sizeof(err)), GSA_SEAL_ERR_BAD_TAG);
	EXPECT_STREQ(gsa_seal_status_name(GSA_SEAL_ERR_BAD_TAG), "bad-tag");
	EXPECT_STREQ(err, "sealed attribute of group 300 epoch 43981: the tag does not verify");
	EXPECT_EQ(opened.count, 0u);
	EXPECT_EQ(gsa_open(member.kr, value, 20, &opened, err, sizeof(err)), GSA_SEAL_ERR_TRUNCATED);
	free(attr);
	free(blob);
}

TEST(GsaSealC, EpochsGraceAndReseal)
{
	uint64_t now = 0;
	Ring sender(&now, 30), member(&now, 30);
	char err[GSA_SEAL_ERR_MAX];
	ASSERT_EQ(gsa_keyring_update(sender.kr, 7, 1, kKeyA, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_keyring_update(member.kr, 7, 1, kKeyA, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	gsa_addr gw = v4(198, 51, 100, 7);
	gsa_prefix p = p4(10, 7, 16);
	uint8_t *old_blob = nullptr;
	size_t old_len = 0;
	uint32_t epoch = 0;
	ASSERT_EQ(gsa_seal(sender.kr, 7, &gw, &gw, &p, 1, &old_blob, &old_len, &epoch, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_keyring_note_sealed(sender.kr, 1001, 7, epoch), GSA_SEAL_OK);
	EXPECT_EQ(gsa_keyring_stale(sender.kr, 7, nullptr, 0), 0u);

	int changed = 0;
	ASSERT_EQ(gsa_keyring_update(sender.kr, 7, 2, kKeyB, 32, &changed, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(changed, 1);
	uint64_t ids[4] = {0};
	ASSERT_EQ(gsa_keyring_stale(sender.kr, 7, ids, 4), 1u);
	EXPECT_EQ(ids[0], 1001u);
	uint32_t cur = 0, prev = 0, left = 0;
	ASSERT_EQ(gsa_keyring_epoch(sender.kr, 7, &cur), GSA_SEAL_OK);
	EXPECT_EQ(cur, 2u);
	ASSERT_EQ(gsa_keyring_previous(sender.kr, 7, &prev, &left), GSA_SEAL_OK);
	EXPECT_EQ(prev, 1u);
	EXPECT_EQ(left, 30u);
	EXPECT_EQ(gsa_keyring_previous(member.kr, 7, &prev, &left), GSA_SEAL_ERR_NOT_FOUND);
	EXPECT_EQ(gsa_keyring_epoch(member.kr, 8, &cur), GSA_SEAL_ERR_UNKNOWN_GROUP);

	// the member still at epoch 1 cannot open what epoch 2 sealed
	uint8_t *new_blob = nullptr;
	size_t new_len = 0;
	ASSERT_EQ(gsa_seal(sender.kr, 7, &gw, &gw, &p, 1, &new_blob, &new_len, &epoch, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(epoch, 2u);
	gsa_opened o;
	EXPECT_EQ(gsa_open(member.kr, new_blob, new_len, &o, err, sizeof(err)), GSA_SEAL_ERR_UNKNOWN_EPOCH);
	EXPECT_STREQ(gsa_seal_status_name(GSA_SEAL_ERR_UNKNOWN_EPOCH), "unknown-epoch");

	// once it has epoch 2, the old blob opens for 30 s, then not
	ASSERT_EQ(gsa_keyring_update(member.kr, 7, 2, kKeyB, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_open(member.kr, new_blob, new_len, &o, err, sizeof(err)), GSA_SEAL_OK);
	gsa_opened_free(&o);
	now += 29999;
	ASSERT_EQ(gsa_open(member.kr, old_blob, old_len, &o, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(o.previous_epoch, 1);
	gsa_opened_free(&o);
	now += 1;
	EXPECT_EQ(gsa_open(member.kr, old_blob, old_len, &o, err, sizeof(err)), GSA_SEAL_ERR_EPOCH_EXPIRED);

	gsa_keyring_forget(sender.kr, 1001);
	EXPECT_EQ(gsa_keyring_stale(sender.kr, 7, ids, 4), 0u);
	gsa_keyring_remove(member.kr, 7);
	EXPECT_EQ(gsa_open(member.kr, new_blob, new_len, &o, err, sizeof(err)), GSA_SEAL_ERR_UNKNOWN_GROUP);
	free(old_blob);
	free(new_blob);
}

TEST(GsaSealC, RefusesBadArguments)
{
	uint64_t now = 0;
	Ring r(&now);
	char err[GSA_SEAL_ERR_MAX];
	EXPECT_EQ(gsa_keyring_update(r.kr, 7, 1, kKeyA, 16, nullptr, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	EXPECT_STREQ(err, "group 7: a routing key has 32 octets, not 16");
	EXPECT_EQ(gsa_keyring_update(nullptr, 7, 1, kKeyA, 32, nullptr, nullptr, 0), GSA_SEAL_ERR_INVALID);
	gsa_addr gw = v4(198, 51, 100, 7);
	gsa_prefix p = p4(10, 7, 16);
	uint8_t *blob = nullptr;
	size_t len = 0;
	EXPECT_EQ(gsa_seal(r.kr, 7, &gw, &gw, &p, 1, &blob, &len, nullptr, err, sizeof(err)),
		  GSA_SEAL_ERR_UNKNOWN_GROUP);
	ASSERT_EQ(gsa_keyring_update(r.kr, 7, 1, kKeyA, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	gsa_prefix host_bits = p4(10, 7, 8);
	EXPECT_EQ(gsa_seal(r.kr, 7, &gw, &gw, &host_bits, 1, &blob, &len, nullptr, err, sizeof(err)),
		  GSA_SEAL_ERR_INVALID);
	EXPECT_STREQ(err, "sealed routes: prefix 10.7.0.0/8 is not an IPv4 or IPv6 prefix without host bits");
	gsa_addr bad{};
	bad.family = 5;
	EXPECT_EQ(gsa_seal(r.kr, 7, &bad, &gw, &p, 1, &blob, &len, nullptr, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	EXPECT_EQ(gsa_seal(r.kr, 7, &gw, &gw, &p, 0, &blob, &len, nullptr, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	EXPECT_EQ(blob, nullptr);
	// a short error buffer gets a cut, terminated text
	char tiny[8];
	EXPECT_EQ(gsa_keyring_update(r.kr, 7, 1, kKeyA, 3, nullptr, tiny, sizeof(tiny)), GSA_SEAL_ERR_INVALID);
	EXPECT_STREQ(tiny, "group 7");
	EXPECT_STREQ(gsa_seal_status_name(99), "unknown");
	EXPECT_STREQ(gsa_seal_status_name(GSA_SEAL_OK), "ok");
}

TEST(GsaSealC, CommunityAndGroupIds)
{
	uint8_t c[GSA_COMMUNITY_BYTES];
	ASSERT_EQ(gsa_community_encode(65000, 300, c), GSA_SEAL_OK);
	const uint8_t want[] = {0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x01, 0x2c};
	EXPECT_EQ(0, memcmp(c, want, sizeof(want)));
	uint16_t asn = 0;
	uint32_t group = 0;
	ASSERT_EQ(gsa_community_decode(c, &asn, &group), GSA_SEAL_OK);
	EXPECT_EQ(asn, 65000);
	EXPECT_EQ(group, 300u);
	c[0] = 0x01;
	EXPECT_EQ(gsa_community_decode(c, &asn, &group), GSA_SEAL_ERR_MALFORMED);
	char text[GSA_COMMUNITY_TEXT_MAX];
	ASSERT_EQ(gsa_community_text(65535, 4294967295u, text, sizeof(text)), GSA_SEAL_OK);
	EXPECT_STREQ(text, "RT:65535:4294967295");
	char err[GSA_SEAL_ERR_MAX];
	ASSERT_EQ(gsa_community_parse("RT:65001:7", &asn, &group, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(asn, 65001);
	EXPECT_EQ(group, 7u);
	EXPECT_EQ(gsa_community_parse("7", &asn, &group, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	EXPECT_STREQ(err, "group tag \"7\": expected AS:GROUP, e.g. 65000:300");
	ASSERT_EQ(gsa_group_id_parse("@#0000012c", &group, err, sizeof(err)), GSA_SEAL_OK);
	EXPECT_EQ(group, 300u);
	EXPECT_EQ(gsa_group_id_parse("blue.example.net", &group, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
}

TEST(GsaSealC, ListsOneEntryPerGroup)
{
	uint64_t now = 5000;
	Ring sender(&now), member(&now);
	char err[GSA_SEAL_ERR_MAX] = "";
	ASSERT_EQ(gsa_keyring_update(sender.kr, 300, 1, kKeyA, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_keyring_update(sender.kr, 301, 2, kKeyB, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_keyring_update(member.kr, 301, 2, kKeyB, 32, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	gsa_addr orig = v4(192, 0, 2, 11);
	gsa_prefix pa = p4(10, 1, 16), pb = p4(10, 2, 16);
	uint8_t *a = nullptr, *b = nullptr, *list = nullptr;
	size_t a_len = 0, b_len = 0, list_len = 0;
	ASSERT_EQ(gsa_seal(sender.kr, 300, &orig, &orig, &pa, 1, &a, &a_len, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	ASSERT_EQ(gsa_seal(sender.kr, 301, &orig, &orig, &pb, 1, &b, &b_len, nullptr, err, sizeof(err)), GSA_SEAL_OK);
	const uint8_t *entries[] = {b, a};
	size_t lens[] = {b_len, a_len};
	ASSERT_EQ(gsa_seal_list(entries, lens, 2, &list, &list_len, err, sizeof(err)), GSA_SEAL_OK) << err;
	EXPECT_EQ(list_len, 2 + 2 + a_len + 2 + b_len);
	EXPECT_EQ(list[0], GSA_SEAL_LIST_VERSION);
	EXPECT_EQ(list[1], 2);
	EXPECT_EQ(0, memcmp(list + 4, a, a_len)); // group 300 first

	gsa_opened_entry *es = nullptr;
	size_t n = 0;
	ASSERT_EQ(gsa_open_list(member.kr, list, list_len, &es, &n, err, sizeof(err)), GSA_SEAL_OK) << err;
	ASSERT_EQ(n, 2u);
	EXPECT_EQ(es[0].group, 300u);
	EXPECT_EQ(es[0].status, GSA_SEAL_ERR_UNKNOWN_GROUP);
	EXPECT_EQ(es[0].opened.prefixes, nullptr);
	EXPECT_EQ(es[1].group, 301u);
	EXPECT_EQ(es[1].epoch, 2u);
	ASSERT_EQ(es[1].status, GSA_SEAL_OK);
	ASSERT_EQ(es[1].opened.count, 1u);
	EXPECT_EQ(0, memcmp(&es[1].opened.prefixes[0], &pb, sizeof(pb)));
	gsa_opened_entries_free(es, n);

	// a bare entry, a cut list: refused whole, nothing to free
	EXPECT_EQ(gsa_open_list(member.kr, b, b_len, &es, &n, err, sizeof(err)), GSA_SEAL_ERR_VERSION);
	EXPECT_EQ(es, nullptr);
	EXPECT_EQ(gsa_open_list(member.kr, list, list_len - 1, &es, &n, err, sizeof(err)), GSA_SEAL_ERR_TRUNCATED);
	EXPECT_EQ(n, 0u);
	// two of one group
	const uint8_t *twice[] = {a, a};
	size_t twice_lens[] = {a_len, a_len};
	uint8_t *bad = nullptr;
	size_t bad_len = 0;
	EXPECT_EQ(gsa_seal_list(twice, twice_lens, 2, &bad, &bad_len, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	EXPECT_EQ(gsa_seal_list(nullptr, nullptr, 0, &bad, &bad_len, err, sizeof(err)), GSA_SEAL_ERR_INVALID);
	free(a);
	free(b);
	free(list);
}
