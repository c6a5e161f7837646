// SPDX-License-Identifier: GPL-2.0-or-later
#include "gsa_keyring.h"

#include <gtest/gtest.h>

#include "gsa_seal_test_util.h"

using namespace groupsec;
using namespace groupsec::bgp;
using namespace groupsec::bgp::test;

namespace {

constexpr uint64_t kGrace = 60000;

SealedRoutes routes_of(const char *gw, const char *p)
{
	SealedRoutes r;
	r.gateway = ip(gw);
	r.prefixes = {prefix(p)};
	return r;
}

} // namespace

TEST(Keyring, UpdateSaysWhenTheEpochChanged)
{
	ManualClock clock;
	Keyring ring(clock, kGrace);
	EXPECT_FALSE(ring.epoch(300));
	auto first = ring.update(300, 0x1111, key_of(0));
	ASSERT_TRUE(first.ok());
	EXPECT_TRUE(first.value());
	EXPECT_EQ(*ring.epoch(300), 0x1111u);
	EXPECT_FALSE(ring.previous(300));
	// the same again: nothing changed (the feed is polled)
	auto again = ring.update(300, 0x1111, key_of(0));
	ASSERT_TRUE(again.ok());
	EXPECT_FALSE(again.value());
	// the same epoch with another key: refused, nothing changed
	auto clash = ring.update(300, 0x1111, key_of(1));
	ASSERT_FALSE(clash.ok());
	EXPECT_EQ(clash.error().code, SealStatus::Invalid);
	EXPECT_EQ(*ring.sealing_key(300).value().key, SecretBytes(key_of(0)));
	EXPECT_EQ(ring.update(300, 0, key_of(0)).error().code, SealStatus::Invalid);
	EXPECT_EQ(ring.update(300, 5, Bytes(16)).error().code, SealStatus::Invalid);
	EXPECT_EQ(*ring.epoch(300), 0x1111u);

	auto next = ring.update(300, 0x2222, key_of(2));
	ASSERT_TRUE(next.ok());
	EXPECT_TRUE(next.value());
	EXPECT_EQ(*ring.epoch(300), 0x2222u);
	ASSERT_TRUE(ring.previous(300));
	EXPECT_EQ(ring.previous(300)->epoch, 0x1111u);
	EXPECT_EQ(ring.previous(300)->grace_left_ms, kGrace);
}

TEST(Keyring, ThePreviousEpochOpensForItsGracePeriodOnly)
{
	ManualClock clock;
	FixedRandom rnd(0x42);
	Keyring sender(clock, kGrace), receiver(clock, kGrace);
	ASSERT_TRUE(sender.update(300, 1, key_of(0)).ok());
	ASSERT_TRUE(receiver.update(300, 1, key_of(0)).ok());
	uint32_t epoch = 0;
	auto old_blob = sender.seal(300, ip("192.0.2.11"), routes_of("192.0.2.11", "10.1.0.0/16"), rnd, &epoch);
	ASSERT_TRUE(old_blob.ok());
	EXPECT_EQ(epoch, 1u);

	auto o = receiver.open(old_blob.value());
	ASSERT_TRUE(o.ok()) << o.error().message;
	EXPECT_FALSE(o.value().previous);
	EXPECT_EQ(o.value().group, 300u);
	EXPECT_EQ(o.value().originator, ip("192.0.2.11"));
	EXPECT_EQ(seal_prefix_text(o.value().routes.prefixes[0]), "10.1.0.0/16");

	// the receiver's epoch changes first: the old blob still opens
	ASSERT_TRUE(receiver.update(300, 2, key_of(9)).ok());
	clock.now += kGrace - 1;
	o = receiver.open(old_blob.value());
	ASSERT_TRUE(o.ok()) << o.error().message;
	EXPECT_TRUE(o.value().previous);
	EXPECT_EQ(receiver.previous(300)->grace_left_ms, 1u);
	clock.now += 1;
	o = receiver.open(old_blob.value());
	ASSERT_FALSE(o.ok());
	EXPECT_EQ(o.error().code, SealStatus::EpochExpired);
	EXPECT_EQ(o.error().message, "group 300: epoch 1 ended more than 60 s ago (grace period over)");
	EXPECT_EQ(receiver.previous(300)->grace_left_ms, 0u);

	// a longer grace period applies to the current previous epoch
	receiver.set_grace_ms(2 * kGrace);
	EXPECT_TRUE(receiver.open(old_blob.value()).ok());

	// two changes later the epoch is old, not unknown
	ASSERT_TRUE(receiver.update(300, 3, key_of(3)).ok());
	o = receiver.open(old_blob.value());
	ASSERT_FALSE(o.ok());
	EXPECT_EQ(o.error().code, SealStatus::EpochExpired);
	EXPECT_EQ(o.error().message, "group 300: epoch 1 is older than the previous one");
}

TEST(Keyring, AnUnknownGroupOrEpochIsRefused)
{
	ManualClock clock;
	FixedRandom rnd(0x42);
	Keyring sender(clock, kGrace), receiver(clock, kGrace);
	ASSERT_TRUE(sender.update(300, 1, key_of(0)).ok());
	ASSERT_TRUE(sender.update(301, 1, key_of(5)).ok());
	ASSERT_TRUE(receiver.update(300, 1, key_of(0)).ok());
	EXPECT_EQ(receiver.seal(302, ip("192.0.2.11"), routes_of("192.0.2.11", "10.1.0.0/16"), rnd).error().code,
		  SealStatus::UnknownGroup);

	auto other = sender.seal(301, ip("192.0.2.11"), routes_of("192.0.2.11", "10.1.0.0/16"), rnd);
	auto o = receiver.open(other.value());
	ASSERT_FALSE(o.ok());
	EXPECT_EQ(o.error().code, SealStatus::UnknownGroup);
	EXPECT_EQ(o.error().message, "group 301: no routing key");

	// the sender moved on (an eviction rekey): the receiver, left at epoch
	// 1, has no key for the new epoch and opens nothing sealed under it
	ASSERT_TRUE(sender.update(300, 2, key_of(7)).ok());
	auto after = sender.seal(300, ip("192.0.2.11"), routes_of("192.0.2.11", "10.1.0.0/16"), rnd);
	o = receiver.open(after.value());
	ASSERT_FALSE(o.ok());
	EXPECT_EQ(o.error().code, SealStatus::UnknownEpoch);
	EXPECT_EQ(o.error().message, "group 300: epoch 2 is unknown (current 1)");

	// a forged header naming the receiver's epoch, sealed with another key
	Keyring forger(clock, kGrace);
	ASSERT_TRUE(forger.update(300, 1, key_of(8)).ok());
	auto forged = forger.seal(300, ip("192.0.2.66"), routes_of("192.0.2.66", "10.1.0.0/16"), rnd);
	EXPECT_EQ(receiver.open(forged.value()).error().code, SealStatus::BadTag);
	// and garbage
	EXPECT_EQ(receiver.open(hex("0101")).error().code, SealStatus::Truncated);
}

TEST(Keyring, SaysWhichRoutesToSealAgain)
{
	ManualClock clock;
	Keyring ring(clock, kGrace);
	ASSERT_TRUE(ring.update(300, 1, key_of(0)).ok());
	ASSERT_TRUE(ring.update(400, 9, key_of(1)).ok());
	ring.note_sealed(11, 300, 1);
	ring.note_sealed(12, 300, 1);
	ring.note_sealed(21, 400, 9);
	EXPECT_TRUE(ring.stale(300).empty());
	EXPECT_TRUE(ring.stale(400).empty());

	ASSERT_TRUE(ring.update(300, 2, key_of(2)).value());
	EXPECT_EQ(ring.stale(300), (std::vector<uint64_t>{11, 12}));
	EXPECT_TRUE(ring.stale(400).empty());
	ring.note_sealed(11, 300, 2); // sealed again
	EXPECT_EQ(ring.stale(300), (std::vector<uint64_t>{12}));
	ring.forget(12); // withdrawn
	EXPECT_TRUE(ring.stale(300).empty());

	// a group gone forgets its routes and keys
	ring.remove(400);
	EXPECT_FALSE(ring.epoch(400));
	EXPECT_TRUE(ring.stale(400).empty());
	ASSERT_TRUE(ring.update(400, 9, key_of(1)).value());
	EXPECT_TRUE(ring.stale(400).empty());
	EXPECT_EQ(ring.groups(), (std::vector<uint32_t>{300, 400}));
}

TEST(Keyring, GoingBackToAnEarlierEpochIsAChange)
{
	ManualClock clock;
	Keyring ring(clock, kGrace);
	ASSERT_TRUE(ring.update(300, 1, key_of(0)).ok());
	ASSERT_TRUE(ring.update(300, 2, key_of(1)).ok());
	ASSERT_TRUE(ring.update(300, 3, key_of(2)).ok());
	// epoch 1 retired; fed again, it is current again, not "old"
	auto back = ring.update(300, 1, key_of(0));
	ASSERT_TRUE(back.ok());
	EXPECT_TRUE(back.value());
	EXPECT_TRUE(ring.opening_key(300, 1).ok());
	EXPECT_TRUE(ring.opening_key(300, 3).value().previous);
	EXPECT_EQ(ring.opening_key(300, 2).error().code, SealStatus::EpochExpired);
}

TEST(Keyring, OpensEveryEntryOfAListItHasTheKeyFor)
{
	ManualClock clock;
	FixedRandom rnd(0x42);
	Keyring sender(clock, kGrace), member_a(clock, kGrace);
	ASSERT_TRUE(sender.update(300, 1, key_of(0)).ok());
	ASSERT_TRUE(sender.update(301, 9, key_of(5)).ok());
	ASSERT_TRUE(member_a.update(300, 1, key_of(0)).ok());
	Bytes a = sender.seal(300, ip("192.0.2.11"), routes_of("192.0.2.11", "10.1.0.0/16"), rnd).value();
	Bytes b = sender.seal(301, ip("192.0.2.11"), routes_of("192.0.2.11", "10.9.0.0/16"), rnd).value();
	Bytes list = encode_sealed_list({a, b}).value();

	auto o = member_a.open_list(list);
	ASSERT_TRUE(o.ok()) << o.error().message;
	ASSERT_EQ(o.value().size(), 2u);
	ASSERT_TRUE(o.value()[0].opened.ok());
	EXPECT_EQ(o.value()[0].group, 300u);
	EXPECT_EQ(o.value()[0].opened.value().routes.prefixes[0], prefix("10.1.0.0/16"));
	EXPECT_EQ(o.value()[1].group, 301u);
	EXPECT_EQ(o.value()[1].epoch, 9u);
	EXPECT_EQ(o.value()[1].opened.error().code, SealStatus::UnknownGroup);
	// a bare entry is not a list
	EXPECT_EQ(member_a.open_list(a).error().code, SealStatus::Version);
	// the entry is opened as one, too
	EXPECT_TRUE(member_a.open(a).ok());
}

TEST(Keyring, TheOpeningVersionChangesExactlyWhenWhatOpensMayHave)
{
	ManualClock clock;
	Keyring ring(clock, kGrace);
	uint64_t v = ring.opening_version();
	auto changed = [&]() {
		uint64_t now = ring.opening_version();
		bool c = now != v;
		v = now;
		return c;
	};
	ASSERT_TRUE(ring.update(300, 0x1111, key_of(0)).ok());
	EXPECT_TRUE(changed()); // a group's first key
	ASSERT_TRUE(ring.update(300, 0x1111, key_of(0)).ok());
	EXPECT_FALSE(changed()); // the same again
	EXPECT_FALSE(ring.update(300, 0x1111, key_of(1)).ok());
	EXPECT_FALSE(changed()); // refused
	clock.now += 10 * kGrace;
	EXPECT_FALSE(changed()); // time alone, with no previous epoch
	ASSERT_TRUE(ring.update(300, 0x2222, key_of(2)).ok());
	EXPECT_TRUE(changed()); // a new epoch
	clock.now += kGrace - 1;
	EXPECT_FALSE(changed()); // the previous epoch still opens
	clock.now += 1;
	EXPECT_TRUE(changed()); // its grace period is over
	EXPECT_FALSE(ring.opening_key(300, 0x1111).ok());
	clock.now += kGrace;
	EXPECT_FALSE(changed());
	ring.set_grace_ms(kGrace);
	EXPECT_FALSE(changed()); // the same grace period
	ring.set_grace_ms(100 * kGrace);
	EXPECT_TRUE(changed()); // the previous epoch opens again
	EXPECT_TRUE(ring.opening_key(300, 0x1111).ok());
	ring.remove(301);
	EXPECT_FALSE(changed()); // no such group
	ring.remove(300);
	EXPECT_TRUE(changed());
}
