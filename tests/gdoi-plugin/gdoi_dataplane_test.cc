// SPDX-License-Identifier: GPL-2.0-or-later
// The member's data plane: which SAs and policies a group TEK and its
// tunnel endpoints turn into, on install, rekey, removal and endpoint
// changes, with a kernel that records every call.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "control.h"
#include "gdoi_dataplane.h"

using namespace groupsec::gdoi;

namespace {

Address addr(const std::string &s)
{
	auto a = Address::parse(s, 0);
	EXPECT_TRUE(a.has_value()) << s;
	return a.value_or(Address{});
}

// A selector as the tests compare it: prefix_text() with "[17/53]" for a
// protocol and port.
std::string to_string(const TrafficSelector &ts)
{
	std::string s = prefix_text(ts);
	if (s == "?")
		return s;
	if (ts.ip_protocol || ts.start_port != 0 || ts.end_port != 0xffff) {
		s += "[" + std::to_string(ts.ip_protocol);
		if (ts.start_port != 0 || ts.end_port != 0xffff) {
			s += "/" + std::to_string(ts.start_port);
			if (ts.end_port != ts.start_port)
				s += "-" + std::to_string(ts.end_port);
		}
		s += "]";
	}
	return s;
}

TrafficSelector prefix(const std::string &first, const std::string &last)
{
	TrafficSelector ts;
	ts.start_address = addr(first).ip;
	ts.end_address = addr(last).ip;
	if (ts.start_address.size() == 16) {
		ts.ts_type = static_cast<uint8_t>(TsType::Ipv6AddrRange);
	}
	return ts;
}

struct FakeKernel : KernelOps {
	std::vector<KernelSa> sas;
	std::vector<KernelPolicy> policies;
	std::vector<std::string> log;
	int fail_policy_after = -1; // add_policy fails once this many succeeded
	// what query_sa() says, by "in|out DESTINATION SPI" (nothing: 0);
	// counts false: the kernel does not say
	std::map<std::string, SaUsage> usage;
	bool counts = true;

	static std::string key(const KernelSa &sa)
	{
		return std::string(sa.inbound ? "in " : "out ") + sa.destination.ip_string() + " " +
		       std::to_string(sa.spi);
	}
	std::optional<SaUsage> query_sa(const KernelSa &sa) const override
	{
		bool installed = std::any_of(sas.begin(), sas.end(), [&](const KernelSa &x) { return key(x) == key(sa); });
		EXPECT_TRUE(installed) << "querying an SA that is not installed: " << key(sa);
		if (!counts)
			return std::nullopt;
		auto it = usage.find(key(sa));
		return it == usage.end() ? SaUsage{} : it->second;
	}

	bool add_sa(const KernelSa &sa) override
	{
		log.push_back("add_sa " + std::string(sa.inbound ? "in " : "out ") +
			      sa.destination.ip_string() + " " + std::to_string(sa.spi));
		sas.push_back(sa);
		return true;
	}
	void del_sa(const KernelSa &sa) override
	{
		log.push_back("del_sa " + std::string(sa.inbound ? "in " : "out ") +
			      sa.destination.ip_string() + " " + std::to_string(sa.spi));
		auto it = std::find_if(sas.begin(), sas.end(), [&](const KernelSa &x) {
			return x.spi == sa.spi && x.destination == sa.destination &&
			       x.inbound == sa.inbound;
		});
		ASSERT_NE(it, sas.end()) << "deleting an SA that was not added";
		sas.erase(it);
	}
	bool add_policy(const KernelPolicy &p) override
	{
		if (fail_policy_after == 0) {
			return false;
		}
		if (fail_policy_after > 0) {
			fail_policy_after--;
		}
		log.push_back("add_policy " + describe(p));
		policies.push_back(p);
		return true;
	}
	void del_policy(const KernelPolicy &p) override
	{
		log.push_back("del_policy " + describe(p));
		auto it = std::find_if(policies.begin(), policies.end(), [&](const KernelPolicy &x) {
			return describe(x) == describe(p);
		});
		ASSERT_NE(it, policies.end()) << "deleting a policy that was not added";
		policies.erase(it);
	}
	static std::string describe(const KernelPolicy &p)
	{
		const char *dir = p.direction == PolicyDirection::In    ? "in"
				  : p.direction == PolicyDirection::Out ? "out"
									: "fwd";
		return to_string(p.source) + " -> " + to_string(p.destination) + " " + dir + " " +
		       p.tunnel_source.ip_string() + "=>" + p.tunnel_destination.ip_string() +
		       " reqid " + std::to_string(p.reqid);
	}
	std::vector<std::string> policy_texts() const
	{
		std::vector<std::string> r;
		for (const auto &p : policies) {
			r.push_back(describe(p));
		}
		std::sort(r.begin(), r.end());
		return r;
	}
	size_t count(const std::string &prefix) const
	{
		return std::count_if(log.begin(), log.end(),
				     [&](const std::string &l) { return l.rfind(prefix, 0) == 0; });
	}
};

TekSa tek(uint32_t spi)
{
	TekSa t;
	t.group = "blue";
	t.spi = spi;
	t.encryption = 20;
	t.encryption_key = Bytes(36, static_cast<uint8_t>(spi));
	t.source = prefix("10.0.0.0", "10.255.255.255");
	t.destination = prefix("10.0.0.0", "10.255.255.255");
	t.lifetime_s = 3600;
	t.mode = SaMode::Gateway; // the tests below without a mode of their own
	return t;
}

TunnelEndpoint endpoint(const std::string &gw, const std::string &first, const std::string &last)
{
	return TunnelEndpoint{addr(gw), {prefix(first, last)}};
}

class Dataplane : public ::testing::Test {
protected:
	FakeKernel kernel;
	GroupDataplane dp{kernel, 100};

	void SetUp() override
	{
		dp.set_local("blue", addr("192.0.2.11"));
		ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.12", "10.2.0.0", "10.2.255.255")));
		ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.13", "10.3.0.0", "10.3.255.255")));
		EXPECT_TRUE(kernel.log.empty()) << "endpoints alone install nothing";
	}
};

} // namespace

TEST(TrafficSelectorMath, IntersectAndPrint)
{
	auto a = prefix("10.0.0.0", "10.255.255.255");
	auto b = prefix("10.2.0.0", "10.2.255.255");
	auto c = prefix("192.168.0.0", "192.168.0.255");
	ASSERT_TRUE(intersect(a, b).has_value());
	EXPECT_EQ(to_string(*intersect(a, b)), "10.2.0.0/16");
	EXPECT_FALSE(intersect(a, c).has_value());
	EXPECT_FALSE(intersect(a, prefix("2001:db8::", "2001:db8::ffff")).has_value());
	EXPECT_EQ(to_string(prefix("10.0.0.1", "10.0.0.9")), "10.0.0.1-10.0.0.9");
	EXPECT_EQ(to_string(prefix("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")),
		  "2001:db8::/32");
	auto udp = b;
	udp.ip_protocol = 17;
	udp.start_port = udp.end_port = 53;
	EXPECT_EQ(to_string(udp), "10.2.0.0/16[17/53]");
	auto tcp = b;
	tcp.ip_protocol = 6;
	EXPECT_FALSE(intersect(udp, tcp).has_value()) << "different protocols";
	EXPECT_EQ(to_string(*intersect(udp, a)), "10.2.0.0/16[17/53]");
}

TEST_F(Dataplane, InstallMakesOneInboundSaAndPerGatewayOutboundSasAndPolicies)
{
	ASSERT_TRUE(dp.install(tek(0x1001)));
	ASSERT_EQ(kernel.sas.size(), 3u);
	const auto &in = kernel.sas[0];
	EXPECT_TRUE(in.inbound);
	EXPECT_EQ(in.source.ip, Bytes(4, 0)) << "any sender";
	EXPECT_EQ(in.destination.ip_string(), "192.0.2.11");
	EXPECT_EQ(in.replay_window, 0u) << "several senders share the SPI";
	for (size_t i = 1; i < 3; i++) {
		EXPECT_FALSE(kernel.sas[i].inbound);
		EXPECT_EQ(kernel.sas[i].spi, 0x1001u) << "the same SPI towards every gateway";
		EXPECT_EQ(kernel.sas[i].source.ip_string(), "192.0.2.11");
		EXPECT_EQ(kernel.sas[i].encryption_key, in.encryption_key);
	}
	EXPECT_EQ(kernel.sas[1].destination.ip_string(), "192.0.2.12");
	EXPECT_EQ(kernel.sas[2].destination.ip_string(), "192.0.2.13");
	EXPECT_NE(kernel.sas[1].reqid, kernel.sas[2].reqid) << "outbound SAs need their own reqid";
	std::vector<std::string> want = {
		"10.0.0.0/8 -> 10.2.0.0/16 out 192.0.2.11=>192.0.2.12 reqid " + std::to_string(kernel.sas[1].reqid),
		"10.0.0.0/8 -> 10.3.0.0/16 out 192.0.2.11=>192.0.2.13 reqid " + std::to_string(kernel.sas[2].reqid),
		"10.2.0.0/16 -> 10.0.0.0/8 fwd 0.0.0.0=>192.0.2.11 reqid " + std::to_string(in.reqid),
		"10.2.0.0/16 -> 10.0.0.0/8 in 0.0.0.0=>192.0.2.11 reqid " + std::to_string(in.reqid),
		"10.3.0.0/16 -> 10.0.0.0/8 fwd 0.0.0.0=>192.0.2.11 reqid " + std::to_string(in.reqid),
		"10.3.0.0/16 -> 10.0.0.0/8 in 0.0.0.0=>192.0.2.11 reqid " + std::to_string(in.reqid),
	};
	std::sort(want.begin(), want.end());
	EXPECT_EQ(kernel.policy_texts(), want);
	EXPECT_FALSE(dp.install(tek(0x1001))) << "the same SPI twice";
}

TEST_F(Dataplane, RekeyKeepsOldInboundMovesOutboundAndKeepsPolicies)
{
	ASSERT_TRUE(dp.install(tek(0x1001)));
	auto policies = kernel.policy_texts();
	kernel.log.clear();
	ASSERT_TRUE(dp.install(tek(0x2002)));
	EXPECT_EQ(kernel.count("add_policy"), 0u);
	EXPECT_EQ(kernel.count("del_policy"), 0u);
	EXPECT_EQ(kernel.policy_texts(), policies);
	EXPECT_EQ(kernel.count("add_sa in"), 1u);
	EXPECT_EQ(kernel.count("del_sa out"), 2u);
	EXPECT_EQ(kernel.count("add_sa out"), 2u);
	int inbound = 0;
	for (const auto &sa : kernel.sas) {
		if (sa.inbound) {
			inbound++;
		} else {
			EXPECT_EQ(sa.spi, 0x2002u) << "outbound uses the new TEK";
		}
	}
	EXPECT_EQ(inbound, 2) << "the old TEK still receives";

	kernel.log.clear();
	dp.remove("blue", 0x1001);
	EXPECT_EQ(kernel.log, std::vector<std::string>{"del_sa in 192.0.2.11 4097"});

	dp.remove("blue", 0x2002);
	EXPECT_TRUE(kernel.sas.empty());
	EXPECT_TRUE(kernel.policies.empty());
}

TEST_F(Dataplane, AReceiveOnlyTekSendsAfterActivation)
{
	ASSERT_TRUE(dp.install(tek(0x1001)));
	auto policies = kernel.policy_texts();
	kernel.log.clear();
	TekSa next = tek(0x2002);
	next.outbound = false;
	ASSERT_TRUE(dp.install(next));
	EXPECT_EQ(kernel.log, std::vector<std::string>{"add_sa in 192.0.2.11 8194"}) << "inbound only";
	for (const auto &sa : kernel.sas) {
		if (!sa.inbound) {
			EXPECT_EQ(sa.spi, 0x1001u) << "the old TEK still sends";
		}
	}
	ASSERT_TRUE(dp.activate("blue", 0x2002));
	EXPECT_EQ(kernel.count("del_sa out"), 2u);
	EXPECT_EQ(kernel.count("add_sa out"), 2u);
	for (const auto &sa : kernel.sas) {
		if (!sa.inbound) {
			EXPECT_EQ(sa.spi, 0x2002u);
		}
	}
	EXPECT_EQ(kernel.policy_texts(), policies);
	EXPECT_TRUE(dp.activate("blue", 0x2002)) << "already sending";
	EXPECT_FALSE(dp.activate("blue", 0x9999));
	// a receive-only TEK removed before activation leaves the sender alone
	TekSa third = tek(0x3003);
	third.outbound = false;
	ASSERT_TRUE(dp.install(third));
	dp.remove("blue", 0x3003);
	EXPECT_FALSE(dp.activate("blue", 0x3003));
	for (const auto &sa : kernel.sas) {
		EXPECT_NE(sa.spi, 0x3003u);
	}
}

TEST_F(Dataplane, EndpointsFollowAtRunTime)
{
	ASSERT_TRUE(dp.install(tek(0x1001)));
	kernel.log.clear();
	ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.14", "10.4.0.0", "10.4.255.255")));
	EXPECT_EQ(kernel.count("add_sa out 192.0.2.14"), 1u);
	EXPECT_EQ(kernel.count("add_policy"), 3u);
	ASSERT_TRUE(dp.remove_endpoint("blue", addr("192.0.2.12")));
	EXPECT_EQ(kernel.count("del_sa out 192.0.2.12"), 1u);
	EXPECT_EQ(kernel.count("del_policy"), 3u);
	EXPECT_EQ(dp.endpoints("blue").size(), 2u);
	EXPECT_FALSE(dp.remove_endpoint("blue", addr("192.0.2.99")));
	// replacing an endpoint's prefixes re-plumbs it
	kernel.log.clear();
	ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.13", "10.33.0.0", "10.33.0.255")));
	EXPECT_EQ(kernel.count("del_policy 10.0.0.0/8 -> 10.3.0.0/16"), 1u);
	EXPECT_EQ(kernel.count("add_policy 10.0.0.0/8 -> 10.33.0.0/24"), 1u);
}

TEST_F(Dataplane, BadEndpointsAreRefusedAndChangeNothing)
{
	ASSERT_TRUE(dp.install(tek(0x1001)));
	auto sas = kernel.sas.size();
	auto policies = kernel.policy_texts();
	auto r = dp.add_endpoint("blue", endpoint("192.0.2.11", "10.1.0.0", "10.1.255.255"));
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("own address"), std::string::npos) << r.error().message;
	r = dp.add_endpoint("blue", TunnelEndpoint{addr("192.0.2.20"), {}});
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("no prefix"), std::string::npos);
	r = dp.add_endpoint("blue", endpoint("2001:db8::20", "2001:db8:1::", "2001:db8:1::ffff"));
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("family"), std::string::npos);
	EXPECT_EQ(kernel.sas.size(), sas);
	EXPECT_EQ(kernel.policy_texts(), policies);
	EXPECT_EQ(dp.endpoints("blue").size(), 2u);
}

TEST_F(Dataplane, PrefixesOutsideTheTekSelectorsGetNoPolicy)
{
	ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.15", "172.16.0.0", "172.16.255.255")));
	ASSERT_TRUE(dp.install(tek(0x1001)));
	for (const auto &p : kernel.policies) {
		EXPECT_EQ(to_string(p.source).find("172.16"), std::string::npos);
		EXPECT_EQ(to_string(p.destination).find("172.16"), std::string::npos);
	}
	EXPECT_EQ(kernel.policies.size(), 6u);
}

TEST_F(Dataplane, AFailedPolicyTakesTheWholeTekOut)
{
	kernel.fail_policy_after = 2; // the third policy of the first gateway fails
	EXPECT_FALSE(dp.install(tek(0x1001)));
	EXPECT_TRUE(kernel.sas.empty());
	EXPECT_TRUE(kernel.policies.empty());
	EXPECT_EQ(kernel.count("add_policy"), 2u);
	EXPECT_EQ(kernel.count("del_policy"), 2u);
	// a later TEK installs normally
	kernel.fail_policy_after = -1;
	EXPECT_TRUE(dp.install(tek(0x2002)));
	EXPECT_EQ(kernel.sas.size(), 3u);
}

TEST_F(Dataplane, NoLocalAddressNoInstallAndClearRemovesAll)
{
	GroupDataplane other(kernel, 500);
	EXPECT_FALSE(other.install(tek(0x3003))) << "a member without a local address";
	EXPECT_TRUE(kernel.sas.empty());
	ASSERT_TRUE(dp.install(tek(0x1001)));
	dp.clear();
	EXPECT_TRUE(kernel.sas.empty());
	EXPECT_TRUE(kernel.policies.empty());
}

// --- the modes that keep addresses (RFC 9838 2.3.4) ---

namespace {

struct TransportlessKernel : FakeKernel {
	std::optional<std::string> unsupported(SaMode mode) const override
	{
		if (mode == SaMode::Transport)
			return std::string("tunnel mode only");
		return std::nullopt;
	}
};

std::string sa_text(const KernelSa &sa)
{
	return std::string(sa.inbound ? "in " : "out ") + sa.source.ip_string() + "=>" + sa.destination.ip_string() +
	       (sa.transport ? " transport" : " tunnel");
}

std::vector<std::string> sa_texts(const FakeKernel &k)
{
	std::vector<std::string> r;
	for (const auto &sa : k.sas)
		r.push_back(sa_text(sa));
	std::sort(r.begin(), r.end());
	return r;
}

TekSa tek_in(uint32_t spi, SaMode mode)
{
	TekSa t = tek(spi);
	t.mode = mode;
	return t;
}

class HostModes : public ::testing::Test {
protected:
	FakeKernel kernel;
	GroupDataplane dp{kernel, 100};

	void SetUp() override
	{
		dp.set_local("blue", addr("192.0.2.11"));
		dp.set_hosts("blue", {addr("10.1.0.1")});
		ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.12", "10.2.0.1", "10.2.0.1")));
		ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.13", "10.3.0.1", "10.3.0.1")));
	}

	uint32_t reqid_to(const std::string &dst) const
	{
		for (const auto &sa : kernel.sas)
			if (!sa.inbound && sa.destination.ip_string() == dst)
				return sa.reqid;
		ADD_FAILURE() << "no outbound SA to " << dst;
		return 0;
	}
};

} // namespace

TEST_F(HostModes, AddressPreservationMakesOuterAddressesTheInnerOnes)
{
	ASSERT_FALSE(dp.refuse("blue", SaMode::Tunnel).has_value());
	ASSERT_TRUE(dp.install(tek_in(0x1001, SaMode::Tunnel)));
	// outer source and destination = inner ones: one SA per pair of hosts
	EXPECT_EQ(sa_texts(kernel), (std::vector<std::string>{"in 0.0.0.0=>10.1.0.1 tunnel",
								"out 10.1.0.1=>10.2.0.1 tunnel",
								"out 10.1.0.1=>10.3.0.1 tunnel"}));
	for (const auto &sa : kernel.sas) {
		EXPECT_EQ(sa.spi, 0x1001u);
		EXPECT_EQ(sa.replay_window, 0u);
	}
	uint32_t in = kernel.sas[0].reqid;
	uint32_t r2 = reqid_to("10.2.0.1"), r3 = reqid_to("10.3.0.1");
	EXPECT_NE(r2, r3) << "each outbound SA is found by a reqid of its own";
	EXPECT_EQ(kernel.policy_texts(),
		  (std::vector<std::string>{
			  "10.1.0.1/32 -> 10.2.0.1/32 out 10.1.0.1=>10.2.0.1 reqid " + std::to_string(r2),
			  "10.1.0.1/32 -> 10.3.0.1/32 out 10.1.0.1=>10.3.0.1 reqid " + std::to_string(r3),
			  "10.2.0.1/32 -> 10.1.0.1/32 in 0.0.0.0=>10.1.0.1 reqid " + std::to_string(in),
			  "10.3.0.1/32 -> 10.1.0.1/32 in 0.0.0.0=>10.1.0.1 reqid " + std::to_string(in)}))
		<< "no forward policy: the traffic is the member's own";
	for (const auto &p : kernel.policies)
		EXPECT_FALSE(p.transport);

	// a rekey moves the outbound SAs, keeps their reqids and the policies
	size_t policies_added = kernel.count("add_policy");
	ASSERT_TRUE(dp.install(tek_in(0x2002, SaMode::Tunnel)));
	EXPECT_EQ(kernel.count("add_policy"), policies_added);
	EXPECT_EQ(reqid_to("10.2.0.1"), r2);
	EXPECT_EQ(sa_texts(kernel), (std::vector<std::string>{"in 0.0.0.0=>10.1.0.1 tunnel",
								"in 0.0.0.0=>10.1.0.1 tunnel",
								"out 10.1.0.1=>10.2.0.1 tunnel",
								"out 10.1.0.1=>10.3.0.1 tunnel"}));
	dp.remove("blue", 0x1001);
	dp.remove("blue", 0x2002);
	EXPECT_TRUE(kernel.sas.empty());
	EXPECT_TRUE(kernel.policies.empty());
}

TEST_F(HostModes, TransportModeSasAndPoliciesSayTransport)
{
	ASSERT_TRUE(dp.install(tek_in(0x1001, SaMode::Transport)));
	EXPECT_EQ(sa_texts(kernel), (std::vector<std::string>{"in 0.0.0.0=>10.1.0.1 transport",
								"out 10.1.0.1=>10.2.0.1 transport",
								"out 10.1.0.1=>10.3.0.1 transport"}));
	ASSERT_EQ(kernel.policies.size(), 4u);
	for (const auto &p : kernel.policies)
		EXPECT_TRUE(p.transport);
}

TEST_F(HostModes, SeveralOwnHostsAndTheLocalAddressAsDefault)
{
	dp.set_hosts("blue", {addr("10.1.0.1"), addr("10.1.0.2")});
	ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.12", "10.2.0.1", "10.2.0.1")));
	ASSERT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.13", "10.3.0.1", "10.3.0.1")));
	ASSERT_TRUE(dp.install(tek_in(0x1001, SaMode::Tunnel)));
	EXPECT_EQ(sa_texts(kernel), (std::vector<std::string>{
					    "in 0.0.0.0=>10.1.0.1 tunnel", "in 0.0.0.0=>10.1.0.2 tunnel",
					    "out 10.1.0.1=>10.2.0.1 tunnel", "out 10.1.0.1=>10.3.0.1 tunnel",
					    "out 10.1.0.2=>10.2.0.1 tunnel", "out 10.1.0.2=>10.3.0.1 tunnel"}));
	dp.clear("blue");
	EXPECT_TRUE(kernel.sas.empty());

	// no hosts: the local address; hosts outside the TEK get nothing
	FakeKernel k2;
	GroupDataplane d2{k2, 100};
	d2.set_local("blue", addr("192.0.2.11"));
	ASSERT_TRUE(d2.add_endpoint("blue", endpoint("192.0.2.12", "192.0.2.12", "192.0.2.12")));
	TekSa t = tek_in(0x1001, SaMode::Transport);
	t.source = t.destination = prefix("192.0.2.0", "192.0.2.255");
	ASSERT_TRUE(d2.install(t));
	EXPECT_EQ(sa_texts(k2), (std::vector<std::string>{"in 0.0.0.0=>192.0.2.11 transport",
							    "out 192.0.2.11=>192.0.2.12 transport"}));
}

TEST_F(HostModes, PrefixesOfMoreThanOneAddressAreRefusedWithAReason)
{
	FakeKernel k2;
	GroupDataplane d2{k2, 100};
	d2.set_local("blue", addr("192.0.2.11"));
	ASSERT_TRUE(d2.add_endpoint("blue", endpoint("192.0.2.12", "10.2.0.0", "10.2.255.255")));
	auto why = d2.refuse("blue", SaMode::Tunnel);
	ASSERT_TRUE(why.has_value());
	EXPECT_NE(why->find("address preservation needs single addresses"), std::string::npos) << *why;
	EXPECT_NE(why->find("10.2.0.0-10.2.255.255"), std::string::npos) << *why;
	EXPECT_TRUE(d2.refuse("blue", SaMode::Transport).has_value());
	EXPECT_FALSE(d2.refuse("blue", SaMode::Gateway).has_value()) << "gateway tunnels take prefixes";
	EXPECT_FALSE(d2.install(tek_in(0x1001, SaMode::Tunnel)));
	EXPECT_TRUE(k2.log.empty()) << "nothing installed";

	// once the group keeps addresses, a prefix endpoint is refused
	ASSERT_TRUE(dp.install(tek_in(0x1001, SaMode::Tunnel)));
	size_t calls = kernel.log.size();
	auto r = dp.add_endpoint("blue", endpoint("192.0.2.14", "10.4.0.0", "10.4.0.255"));
	ASSERT_FALSE(r);
	EXPECT_NE(r.error().message.find("single addresses"), std::string::npos) << r.error().message;
	EXPECT_EQ(kernel.log.size(), calls);
	EXPECT_TRUE(dp.add_endpoint("blue", endpoint("192.0.2.14", "10.4.0.1", "10.4.0.1")));
	EXPECT_EQ(reqid_to("10.4.0.1") != 0, true);
}

TEST(HostModesKernel, ADataPlaneWithoutTransportModeRefusesIt)
{
	TransportlessKernel k;
	GroupDataplane d{k, 100};
	d.set_local("blue", addr("192.0.2.11"));
	auto why = d.refuse("blue", SaMode::Transport);
	ASSERT_TRUE(why.has_value());
	EXPECT_EQ(*why, "tunnel mode only");
	EXPECT_FALSE(d.refuse("blue", SaMode::Tunnel).has_value());
	EXPECT_FALSE(d.install(tek_in(0x1001, SaMode::Transport)));
	EXPECT_TRUE(k.log.empty());
}

TEST_F(HostModes, ARegistrationInAnotherModeReplacesTheSasOfTheOldOne)
{
	ASSERT_TRUE(dp.install(tek_in(0x1001, SaMode::Tunnel)));
	dp.remove("blue", 0x1001);
	FakeKernel &k = kernel;
	ASSERT_TRUE(dp.install(tek_in(0x2002, SaMode::Transport)));
	EXPECT_EQ(sa_texts(k), (std::vector<std::string>{"in 0.0.0.0=>10.1.0.1 transport",
							   "out 10.1.0.1=>10.2.0.1 transport",
							   "out 10.1.0.1=>10.3.0.1 transport"}));
	for (const auto &p : k.policies)
		EXPECT_TRUE(p.transport) << FakeKernel::describe(p);
}

TEST(HostModesIpv6, AddressPreservationOverIpv6)
{
	FakeKernel k;
	GroupDataplane d{k, 100};
	d.set_local("blue", addr("2001:db8::11"));
	d.set_hosts("blue", {addr("2001:db8:1001::1")});
	ASSERT_TRUE(d.add_endpoint("blue", endpoint("2001:db8::12", "2001:db8:1002::1", "2001:db8:1002::1")));
	TekSa t = tek_in(0x1001, SaMode::Tunnel);
	t.source = t.destination = prefix("2001:db8:1000::", "2001:db8:1fff:ffff:ffff:ffff:ffff:ffff");
	ASSERT_TRUE(d.install(t));
	EXPECT_EQ(sa_texts(k), (std::vector<std::string>{"in ::=>2001:db8:1001::1 tunnel",
							   "out 2001:db8:1001::1=>2001:db8:1002::1 tunnel"}));
	ASSERT_EQ(k.policies.size(), 2u);
	EXPECT_EQ(to_string(k.policies[0].source), "2001:db8:1001::1/128");
	EXPECT_EQ(to_string(k.policies[0].destination), "2001:db8:1002::1/128");
}

TEST_F(Dataplane, TrafficSumsWhatTheGroupSaReceivedAndSentToEveryGateway)
{
	EXPECT_FALSE(dp.traffic("blue", 0x1001)) << "not installed yet";
	ASSERT_TRUE(dp.install(tek(0x1001)));
	kernel.usage["in 192.0.2.11 4097"] = {1000, 10};
	kernel.usage["out 192.0.2.12 4097"] = {300, 3};
	kernel.usage["out 192.0.2.13 4097"] = {200, 2};
	auto t = dp.traffic("blue", 0x1001);
	ASSERT_TRUE(t);
	EXPECT_EQ(t->in.packets, 10u);
	EXPECT_EQ(t->in.bytes, 1000u);
	EXPECT_EQ(t->out.packets, 5u) << "both gateways' outbound SAs";
	EXPECT_EQ(t->out.bytes, 500u);

	// a rekey: the new SA sends; the old one only receives until removed
	ASSERT_TRUE(dp.install(tek(0x2002)));
	kernel.usage["out 192.0.2.12 8194"] = {100, 1};
	auto old = dp.traffic("blue", 0x1001);
	ASSERT_TRUE(old);
	EXPECT_EQ(old->in.packets, 10u);
	EXPECT_EQ(old->out.packets, 0u) << "its outbound SAs are gone";
	auto now = dp.traffic("blue", 0x2002);
	ASSERT_TRUE(now);
	EXPECT_EQ(now->in.packets, 0u);
	EXPECT_EQ(now->out.packets, 1u);
	EXPECT_EQ(now->out.bytes, 100u);
	dp.remove("blue", 0x1001);
	EXPECT_FALSE(dp.traffic("blue", 0x1001)) << "removed";
	EXPECT_FALSE(dp.traffic("red", 0x2002)) << "no such group";
	kernel.counts = false;
	EXPECT_FALSE(dp.traffic("blue", 0x2002)) << "a kernel that does not count";
}
