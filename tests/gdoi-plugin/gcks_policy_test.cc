// SPDX-License-Identifier: GPL-2.0-or-later
// Key server policy: signed rekeys by default, evictions that last until
// an operator re-admits the member, and join announcements that do not
// pile up between evictions.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>

#include "gdoi_protocol_util.h"
#include "gikev2.h"

namespace groupsec::gdoi::test {
namespace {

// What the engine reports to the operator.
class FakeLog : public Log {
public:
	void error(const std::string &m) override { errors.push_back(m); }
	void warning(const std::string &m) override { warnings.push_back(m); }
	bool said(const std::vector<std::string> &lines, const std::string &part) const
	{
		for (const std::string &l : lines)
			if (l.find(part) != std::string::npos)
				return true;
		return false;
	}
	std::vector<std::string> errors, warnings;
};

// The glue's state files, in memory; it outlives the engines of a test,
// as the files outlive charon.
class FakeEvictions : public EvictionStore {
public:
	Result<std::vector<Identity>> load(const std::string &group) override
	{
		loads++;
		if (unreadable)
			return make_error(WireError::BadValue, "line 2: not an identity");
		return stored[group];
	}
	Result<Done> store(const std::string &group, const std::vector<Identity> &evicted) override
	{
		if (full)
			return make_error(WireError::NoMemory, "no space left on device");
		stored[group] = evicted;
		stores++;
		return Done{};
	}
	std::map<std::string, std::vector<Identity>> stored;
	bool unreadable = false, full = false;
	int loads = 0, stores = 0;
};

// One engine on the in-memory network, with a log and (if given) the
// store of evicted identities.
struct Station {
	Station(Net *net, FakeCredentials *creds, uint64_t seed, EvictionStore *store)
		: transport(net), random(seed),
		  engine(EngineDeps{&transport, &net->clock, &random, creds, &sink, nullptr, nullptr, &log, store})
	{
	}
	GroupState group(const std::string &name = "blue") const
	{
		for (const GroupState &g : engine.groups())
			if (g.name == name)
				return g;
		ADD_FAILURE() << "no group " << name;
		return GroupState();
	}
	bool has(uint32_t spi) const { return sink.has(spi); }

	NetTransport transport;
	FakeRandom random;
	RecordingSink sink;
	FakeLog log;
	Engine engine;
};

class Policy : public GroupConfigTest {
protected:
	// The key server and gm1..gm3 at 198.18.0.1..3.
	void SetUp() override
	{
		set_server();
		for (int i = 0; i < 3; i++)
			add_identity(i);
	}

	// Member i (gm<i+1>) at 198.18.<i / 250>.<i % 250 + 1>.
	void add_identity(int i)
	{
		add_gm(i + 1, addr("198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)));
	}

	// Every member authorized.
	GcksGroupConfig server_config()
	{
		GcksGroupConfig c = GroupConfigTest::server_config();
		c.authorized = gm_ids;
		return c;
	}

	GmGroupConfig member_config(size_t i)
	{
		GmGroupConfig c = GroupConfigTest::member_config(i);
		if (multicast)
			c.multicast = multicast;
		return c;
	}

	Station &station(std::vector<Address> addrs, EvictionStore *store = nullptr)
	{
		stations.push_back(std::make_unique<Station>(&net, &creds, 1000 + stations.size(), store));
		Station &s = *stations.back();
		for (const Address &a : addrs)
			at[a].push_back(&s);
		return s;
	}

	Station &add_member(size_t i, const GmGroupConfig &c)
	{
		std::vector<Address> a{gm_addrs[i]};
		if (multicast)
			a.push_back(*multicast);
		Station &m = station(a);
		auto r = m.engine.add_member_group(c);
		EXPECT_TRUE(r.ok()) << r.error().message;
		gms.push_back(&m);
		return m;
	}

	// A key server (again, after a restart: a new engine on the same
	// address and store).
	Result<Done> start_server(const GcksGroupConfig &c)
	{
		if (gcks) {
			auto &list = at[gcks_addr];
			list.erase(std::remove(list.begin(), list.end(), gcks), list.end());
		}
		gcks = &station({gcks_addr}, &evictions);
		return gcks->engine.add_server_group(c);
	}

	// A key server and the members 0..n-1, registered.
	void start(size_t n, const GcksGroupConfig &c)
	{
		auto r = start_server(c);
		ASSERT_TRUE(r.ok()) << r.error().message;
		for (size_t i = 0; i < n; i++)
			add_member(i, member_config(i));
		tick();
	}

	// Delivers until nothing is in flight, through a table of addresses
	// (the test with thousands of members delivers tens of thousands of
	// datagrams).
	void run()
	{
		while (!net.queue.empty()) {
			Datagram d = std::move(net.queue.front());
			net.queue.pop_front();
			auto it = at.find(d.to);
			if (it == at.end())
				continue;
			for (Station *s : it->second)
				s->engine.receive(d.to, d.from, d.data);
		}
	}

	void tick()
	{
		for (auto &s : stations)
			s->engine.tick();
		run();
	}

	void advance(uint64_t ms)
	{
		uint64_t end = net.clock.t + ms;
		while (net.clock.t < end) {
			net.clock.t = std::min(end, net.clock.t + 1000);
			tick();
		}
	}

	uint32_t current_spi(const Station &n)
	{
		uint32_t spi = 0;
		for (const SaState &s : n.group().sas)
			if (s.current)
				spi = s.spi;
		return spi;
	}

	FakeEvictions evictions;
	std::optional<Address> multicast;
	std::vector<std::unique_ptr<Station>> stations;
	std::map<Address, std::vector<Station *>> at;
	Station *gcks = nullptr;
	std::vector<Station *> gms;
};

// --- signed rekeys ---

TEST_F(Policy, AKeyServerThatCannotSignDoesNotStartTheGroup)
{
	creds.remove_key(gcks_id);
	auto r = start_server(server_config());
	ASSERT_FALSE(r.ok()) << "no private key: the group must not start";
	EXPECT_NE(r.error().message.find("no private key of gcks.example.net"), std::string::npos)
		<< r.error().message;
	EXPECT_NE(r.error().message.find("rekey_auth = implicit"), std::string::npos) << r.error().message;
	EXPECT_TRUE(gcks->engine.groups().empty());
	// once the key is there, the group starts (a reload)
	creds.add_key(gcks_id);
	EXPECT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	EXPECT_EQ(gcks->group().rekey_auth, RekeyAuth::Signature);
	EXPECT_TRUE(gcks->log.warnings.empty());
}

TEST_F(Policy, AMemberRefusesAKeyServerThatDoesNotSign)
{
	// the key server is told not to sign, and says so; a member with the
	// default policy refuses the registration, one told so takes it
	creds.remove_key(gcks_id);
	GcksGroupConfig c = server_config();
	c.rekey_auth = RekeyAuth::Implicit;
	ASSERT_TRUE(start_server(c).ok());
	EXPECT_TRUE(gcks->log.said(gcks->log.warnings, "not signed (rekey_auth = implicit)"));
	EXPECT_EQ(gcks->group().rekey_auth, RekeyAuth::Implicit);
	Station &strict = add_member(0, member_config(0));
	GmGroupConfig lax = member_config(1);
	lax.rekey_auth = RekeyAuth::Implicit;
	Station &told = add_member(1, lax);
	EXPECT_TRUE(told.log.said(told.log.warnings, "rekey_auth = implicit"));
	EXPECT_TRUE(strict.log.warnings.empty());
	tick();
	EXPECT_NE(strict.group().state, "registered");
	EXPECT_TRUE(strict.sink.ever.empty()) << "no keys from a key server whose rekeys anyone could forge";
	EXPECT_TRUE(strict.log.said(strict.log.errors, "registration with 192.0.2.1[848] refused: the key server does "
						       "not sign its GSA_REKEY messages"));
	EXPECT_EQ(told.group().state, "registered");
	EXPECT_EQ(told.group().rekey_auth, RekeyAuth::Implicit);
	// the one that took it follows unsigned rekeys (the refusing member's
	// N(NO_PROPOSAL_CHOSEN) removed it from the group with rekeys before)
	const uint64_t before = told.group().counters.rekeys;
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	run();
	EXPECT_TRUE(told.has(current_spi(*gcks)));
	EXPECT_EQ(told.group().counters.rekeys, before + 1);
	EXPECT_EQ(creds.sign_calls, 0);
}

TEST_F(Policy, AMemberThatTakesImplicitStillChecksASigningKeyServer)
{
	start(0, server_config());
	GmGroupConfig lax = member_config(0);
	lax.rekey_auth = RekeyAuth::Implicit;
	Station &m = add_member(0, lax);
	tick();
	ASSERT_EQ(m.group().state, "registered");
	creds.forge(gcks_id);
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	run();
	EXPECT_EQ(m.group().counters.dropped_auth, 1u) << "a bad signature is not taken for implicit";
	EXPECT_FALSE(m.has(current_spi(*gcks)));
}

// --- evictions ---

// Rekeys by multicast: the evicted member sees the eviction's rekey, finds
// itself excluded and comes back to register every 30 s.
GcksGroupConfig multicast_config(GcksGroupConfig c, const Address &group)
{
	c.rekey = RekeyTransport::Multicast;
	c.multicast = group;
	return c;
}

TEST_F(Policy, AConfigurationReloadKeepsTheEvictedOut)
{
	multicast = addr("239.192.0.1");
	const GcksGroupConfig c = multicast_config(server_config(), *multicast);
	start(3, c);
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	run();
	ASSERT_EQ(gms[2]->group().state, "idle") << "excluded by the rekey";
	// the same configuration again, as a reload gives it
	ASSERT_TRUE(gcks->engine.add_server_group(c).ok());
	advance(31000);
	GroupState s = gcks->group();
	EXPECT_EQ(s.members.size(), 2u);
	EXPECT_EQ(s.evicted, std::vector<Identity>{gm_ids[2]});
	EXPECT_EQ(s.counters.dropped_unauthorized, 1u) << "gm3 came back and was refused";
	EXPECT_EQ(gms[2]->group().state, "idle");
	EXPECT_EQ(gms[2]->group().counters.registrations, 1u);
}

TEST_F(Policy, EvictionsAreStoredAndOutliveARestartUntilReadmitted)
{
	multicast = addr("239.192.0.1");
	const GcksGroupConfig c = multicast_config(server_config(), *multicast);
	start(3, c);
	EXPECT_EQ(evictions.loads, 1) << "the group read its evicted members when it started";
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	run();
	EXPECT_EQ(evictions.stored["blue"], std::vector<Identity>{gm_ids[2]});
	// the key server restarts: a new engine, the same store; the members
	// register again once their IKE SAs turn out to be gone
	ASSERT_TRUE(start_server(c).ok());
	EXPECT_EQ(evictions.loads, 2);
	EXPECT_EQ(gcks->group().evicted, std::vector<Identity>{gm_ids[2]});
	for (int i = 0; i < 2; i++)
		ASSERT_TRUE(gms[i]->engine.reregister("blue").ok());
	advance(100000);
	GroupState s = gcks->group();
	EXPECT_EQ(s.members.size(), 2u);
	EXPECT_EQ(s.counters.registrations, 2u) << "gm1 and gm2";
	EXPECT_GE(s.counters.dropped_unauthorized, 1u) << "gm3 is refused and counted";
	EXPECT_EQ(gms[2]->group().counters.registrations, 1u) << "only its first registration, before";
	EXPECT_EQ(gms[2]->group().state, "idle");
	// the operator lets it back in
	ASSERT_TRUE(gcks->engine.readmit("blue", gm_ids[2]).ok());
	EXPECT_TRUE(evictions.stored["blue"].empty());
	EXPECT_TRUE(gcks->group().evicted.empty());
	advance(31000);
	EXPECT_EQ(gms[2]->group().state, "registered");
	EXPECT_TRUE(gms[2]->has(current_spi(*gcks)));
	EXPECT_EQ(gcks->group().members.size(), 3u);
}

TEST_F(Policy, ReadmitNeedsAnEvictedIdentityOfAKeyServerGroup)
{
	start(2, server_config());
	auto r = gcks->engine.readmit("blue", gm_ids[0]);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message, "gm1.example.net is not evicted from blue");
	EXPECT_FALSE(gcks->engine.readmit("green", gm_ids[0]).ok());
	EXPECT_FALSE(gms[0]->engine.readmit("blue", gm_ids[1]).ok()) << "a member group evicts nobody";
	EXPECT_EQ(evictions.stores, 0);
}

TEST_F(Policy, AnEvictionThatCannotBeStoredChangesNothing)
{
	start(3, server_config());
	uint32_t spi = current_spi(*gcks);
	size_t sent = net.queue.size();
	evictions.full = true;
	auto r = gcks->engine.evict("blue", gm_ids[2]);
	ASSERT_FALSE(r.ok());
	EXPECT_NE(r.error().message.find("cannot be stored, nothing changed: no space left on device"),
		  std::string::npos)
		<< r.error().message;
	EXPECT_EQ(net.queue.size(), sent) << "no rekey went out";
	GroupState s = gcks->group();
	EXPECT_EQ(s.members.size(), 3u);
	EXPECT_TRUE(s.evicted.empty());
	EXPECT_EQ(current_spi(*gcks), spi);
	// nor can a re-admission: it stays evicted
	evictions.full = false;
	ASSERT_TRUE(gcks->engine.evict("blue", gm_ids[2]).ok());
	run();
	evictions.full = true;
	EXPECT_FALSE(gcks->engine.readmit("blue", gm_ids[2]).ok());
	EXPECT_EQ(gcks->group().evicted, std::vector<Identity>{gm_ids[2]});
	EXPECT_EQ(evictions.stored["blue"], std::vector<Identity>{gm_ids[2]});
}

TEST_F(Policy, AGroupWhoseEvictionsCannotBeReadDoesNotStart)
{
	evictions.unreadable = true;
	auto r = start_server(server_config());
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message, "group blue: evicted members: line 2: not an identity");
	EXPECT_TRUE(gcks->engine.groups().empty());
	// a running group keeps the list it has when it is loaded again
	evictions.unreadable = false;
	ASSERT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	evictions.unreadable = true;
	EXPECT_TRUE(gcks->engine.add_server_group(server_config()).ok());
	EXPECT_EQ(evictions.loads, 2);
}

// --- join announcements ---

TEST_F(Policy, FiveThousandJoinsThenAnEvictionReachEveryMember)
{
	// every join moves the flat table's TEK and the joiner's KEKs one
	// revision on; the eviction's GSA_REKEY tells the members where they
	// are now, however many joins there were
	const size_t n = 5000;
	for (size_t i = gm_ids.size(); i < n; i++)
		add_identity(static_cast<int>(i));
	multicast = addr("239.192.0.1");
	GcksGroupConfig c = server_config();
	c.hierarchy = KeyHierarchy::Flat; // the key tree sends nothing for joins
	c.rekey = RekeyTransport::Multicast;
	c.multicast = multicast;
	ASSERT_TRUE(start_server(c).ok());
	gcks->engine.set_cookie_threshold(n + 1);
	for (size_t i = 0; i < n; i++) {
		Station &m = add_member(i, member_config(i));
		m.engine.tick();
		run();
		ASSERT_EQ(m.group().state, "registered") << "member " << i;
	}
	// Members that have kept their keys since they joined step each
	// key over every later join. Most members register again (as they
	// do before their keys expire) and hold the newest revisions; these
	// ones do not, and follow from where they joined.
	const std::set<size_t> stale = {0, 1, 2, 999, 2500, 4094, 4095, 4096, 4097, 4998};
	for (size_t i = 0; i < n; i++) {
		if (stale.count(i))
			continue;
		ASSERT_TRUE(gms[i]->engine.reregister("blue").ok());
		run();
	}
	const size_t evicted = 1234;
	auto r = gcks->engine.evict("blue", gm_ids[evicted]);
	ASSERT_TRUE(r.ok()) << r.error().message;
	run();
	uint32_t spi = current_spi(*gcks);
	size_t applied = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == evicted) {
			EXPECT_FALSE(gms[i]->sink.ever_had(spi));
			continue;
		}
		EXPECT_TRUE(gms[i]->has(spi)) << "member " << i;
		applied += gms[i]->has(spi);
	}
	EXPECT_EQ(applied, n - 1);
}

} // namespace
} // namespace groupsec::gdoi::test
