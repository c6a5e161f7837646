// SPDX-License-Identifier: GPL-2.0-or-later
// Keys are wiped before their memory is freed. This program replaces the
// global operator new and delete: while a test arms the check, every block
// handed to operator delete is searched for the key octets the test names.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include <malloc.h>

#include "gdoi_protocol_util.h"
#include "ike/ike_crypto.h"

namespace {

constexpr size_t kPatternBytes = 16;
constexpr size_t kMaxPatterns = 16;
uint8_t patterns[kMaxPatterns][kPatternBytes];
std::atomic<size_t> pattern_count{0};
std::atomic<bool> armed{false};
std::atomic<int> hits{0};

void check_freed(void *p)
{
	if (!p || !armed.load(std::memory_order_relaxed))
		return;
	const uint8_t *b = static_cast<const uint8_t *>(p);
	const size_t n = malloc_usable_size(p);
	for (size_t i = 0; i < pattern_count.load(); i++)
		if (std::search(b, b + n, patterns[i], patterns[i] + kPatternBytes) != b + n)
			hits++;
}

} // namespace

void *operator new(size_t n)
{
	void *p = std::malloc(n ? n : 1);
	if (!p)
		throw std::bad_alloc();
	return p;
}
void *operator new[](size_t n)
{
	return operator new(n);
}
void operator delete(void *p) noexcept
{
	check_freed(p);
	std::free(p);
}
void operator delete[](void *p) noexcept
{
	check_freed(p);
	std::free(p);
}
void operator delete(void *p, size_t) noexcept
{
	check_freed(p);
	std::free(p);
}
void operator delete[](void *p, size_t) noexcept
{
	check_freed(p);
	std::free(p);
}

namespace groupsec::gdoi::test {
namespace {

// Watches freed memory for the first kPatternBytes octets of each key.
class FreedMemory {
public:
	explicit FreedMemory(const std::vector<ByteView> &keys)
	{
		pattern_count = 0;
		for (ByteView k : keys) {
			EXPECT_GE(k.size(), kPatternBytes);
			if (k.size() < kPatternBytes || pattern_count >= kMaxPatterns)
				continue;
			std::copy(k.begin(), k.begin() + kPatternBytes, patterns[pattern_count]);
			pattern_count++;
		}
		hits = 0;
		armed = true;
	}
	~FreedMemory() { stop(); }
	// how many freed blocks held one of the keys
	int stop()
	{
		armed = false;
		return hits.load();
	}
};

Bytes counting(size_t n, uint8_t start)
{
	Bytes b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = static_cast<uint8_t>(start + 7 * i);
	return b;
}

TEST(SecretWipe, FreedMemoryCheckSeesAPlainBuffer)
{
	const Bytes key = counting(32, 1);
	FreedMemory watch({key});
	{
		Bytes copy = key;
	}
	EXPECT_EQ(watch.stop(), 1) << "the check itself works";
}

TEST(SecretWipe, SecretBytesAreWipedWhenFreed)
{
	const Bytes key = counting(40, 1);
	FreedMemory watch({key, ByteView(key.data() + 24, 16)});
	{
		SecretBytes destroyed(key);
		SecretBytes taken{Bytes(key)}; // the Bytes' buffer, not a copy of it
		SecretBytes copied = taken;
		SecretBytes assigned_over(key);
		assigned_over = Bytes(100, 0); // a bigger buffer: the old one is freed
		SecretBytes moved_over(key);
		moved_over = SecretBytes(Bytes(8, 0));
		SecretBytes from_view{ByteView(key)};
		from_view.assign(key.begin(), key.begin() + 4);
		SecretBytes shrunk(key);
		shrunk.resize(8); // the rest stays in the buffer until it is wiped
		shrunk.shrink_to_fit();
		SecretBytes grown(key);
		grown.resize(1000);
		SecretBytes pushed(key);
		for (int i = 0; i < 100; i++)
			pushed.push_back(0);
		SecretBytes reserved(key);
		reserved.reserve(4096);
		SecretBytes cleared(key);
		cleared.clear();
		EXPECT_TRUE(cleared.empty());
		SecretBytes assigned_count(key);
		assigned_count.assign(size_t(200), uint8_t(0));
		EXPECT_EQ(copied, key);
		EXPECT_TRUE(std::equal(key.begin(), key.end(), grown.begin()));
		EXPECT_EQ(ByteView(pushed).size(), 140u);
	}
	EXPECT_EQ(watch.stop(), 0);
}

TEST(SecretWipe, WipeZeroesAndEmpties)
{
	SecretBytes s(counting(32, 9));
	s.resize(4);
	s.wipe();
	EXPECT_TRUE(s.empty());
	s.resize(32);
	EXPECT_EQ(s, Bytes(32, 0));
}

TEST(SecretWipe, IkeKeyDerivationLeavesNoCopies)
{
	const Bytes ni = counting(32, 1), nr = counting(32, 2), shared = counting(32, 3);
	for (SkCipher c : {SkCipher::AesGcm16, SkCipher::AesCbcHmacSha256}) {
		const ike::IkeKeys k = ike::derive_ike_keys(c, 32, ni, nr, shared, 0x1111, 0x2222);
		std::vector<ByteView> keys{k.sk_d, k.sk_pi, k.sk_pr, k.initiator.encryption_key,
					   k.responder.encryption_key};
		if (c == SkCipher::AesCbcHmacSha256) {
			keys.push_back(k.initiator.integrity_key);
			keys.push_back(k.responder.integrity_key);
		}
		const Bytes kwk = ike::default_kwk(k.sk_d, 32);
		keys.push_back(kwk);
		FreedMemory watch(keys);
		{
			ike::IkeKeys again = ike::derive_ike_keys(c, 32, ni, nr, shared, 0x1111, 0x2222);
			auto w = ike::default_kwk(again.sk_d, 32);
			ike::IkeKeys moved = std::move(again);
			moved = ike::derive_ike_keys(c, 32, nr, ni, shared, 0x1111, 0x2222);
		}
		EXPECT_EQ(watch.stop(), 0) << "cipher " << static_cast<int>(c);
	}
}

TEST(SecretWipe, DhPrivateKeyAndSharedSecretLeaveNoCopies)
{
	for (uint16_t group : {ike::kDhCurve25519, ike::kDhEcp256}) {
		const Bytes priv = counting(32, 0x21);
		auto peer = ike::DhKey::from_private(group, counting(32, 0x31));
		ASSERT_TRUE(peer.ok());
		Bytes shared;
		{
			auto k = ike::DhKey::from_private(group, priv);
			ASSERT_TRUE(k.ok());
			auto s = k.value()->shared_secret(peer.value()->public_value());
			ASSERT_TRUE(s.ok());
			shared = s.value();
		}
		FreedMemory watch({priv, shared});
		{
			auto k = ike::DhKey::generate(group, [&](uint8_t *o, size_t n) {
				std::copy(priv.begin(), priv.begin() + static_cast<long>(std::min(n, priv.size())), o);
			});
			ASSERT_TRUE(k.ok());
			auto s = k.value()->shared_secret(peer.value()->public_value());
			ASSERT_TRUE(s.ok());
		}
		EXPECT_EQ(watch.stop(), 0) << "group " << group;
	}
}

TEST(SecretWipe, UnwrappedKeyLeavesNoCopies)
{
	const Bytes kwk = counting(32, 0x41), plain = counting(68, 0x51);
	auto wrapped = ike::key_wrap(kwk, plain);
	ASSERT_TRUE(wrapped.ok());
	FreedMemory watch({plain, ByteView(plain.data() + 32, 36)});
	{
		auto p = ike::key_unwrap(kwk, wrapped.value());
		ASSERT_TRUE(p.ok());
		EXPECT_TRUE(ike::equal(p.value(), plain));
	}
	EXPECT_EQ(watch.stop(), 0);
}

// A key server and a member register, rekey and are torn down; nothing
// freed on the way holds a key: not the TEK, the Rekey SA keys, the IKE SA
// keys of either side nor the PSK (the credentials outlive the run).
class EngineRun {
public:
	explicit EngineRun(FakeCredentials &creds)
	{
		gcks_addr = *Address::parse("192.0.2.1", 848);
		gm_addr = *Address::parse("198.51.100.1", 848);
		gcks_id = *Identity::parse("@gcks.example.net");
		gm_id = *Identity::parse("gm1.example.net");
		gcks = &net.add({gcks_addr}, &creds);
		GcksGroupConfig c;
		c.name = "blue";
		c.group_id = *Identity::parse("@#626c7565");
		c.local_id = gcks_id;
		c.listen = {gcks_addr};
		c.authorized = {gm_id};
		TekPolicyConfig t;
		t.source.start_address = Address::parse("10.0.0.0", 0)->ip;
		t.source.end_address = Address::parse("10.255.255.255", 0)->ip;
		t.destination = t.source;
		c.teks = {t};
		EXPECT_TRUE(gcks->engine.add_server_group(c).ok());
		gm = &net.add({gm_addr}, &creds);
		GmGroupConfig m;
		m.name = "blue";
		m.group_id = c.group_id;
		m.local_id = gm_id;
		m.server_id = gcks_id;
		m.local = gm_addr;
		m.servers = {gcks_addr};
		EXPECT_TRUE(gm->engine.add_member_group(m).ok());
		net.tick();
		EXPECT_TRUE(gcks->engine.rekey("blue").ok());
		net.run();
		EXPECT_EQ(gm->sink.ever.size(), 2u);
	}
	Net net;
	Address gcks_addr, gm_addr;
	Identity gcks_id, gm_id;
	Node *gcks = nullptr, *gm = nullptr;
};

TEST(SecretWipe, EngineLeavesNoKeyInFreedMemory)
{
	const std::string psk = "a-pre-shared-key-of-some-length";
	FakeCredentials creds;
	creds.add_psk(*Identity::parse("@gcks.example.net"), *Identity::parse("gm1.example.net"), psk);
	creds.add_key(*Identity::parse("@gcks.example.net"));
	std::vector<Bytes> keys;
	{
		EngineRun first(creds);
		for (const TekSa &sa : first.gm->sink.ever)
			keys.push_back(sa.encryption_key);
		for (const auto &e : first.gm->keylog.ike_sas) {
			keys.push_back(e.initiator.encryption_key);
			keys.push_back(e.responder.encryption_key);
		}
		ASSERT_EQ(keys.size(), 4u);
	}
	keys.push_back(Bytes(psk.begin(), psk.end()));
	std::vector<ByteView> views(keys.begin(), keys.end());
	FreedMemory watch(views);
	{
		EngineRun second(creds); // the same randomness: the same keys
		EXPECT_EQ(second.gm->sink.ever.at(0).encryption_key, keys[0]);
	}
	EXPECT_EQ(watch.stop(), 0);
}

} // namespace
} // namespace groupsec::gdoi::test
