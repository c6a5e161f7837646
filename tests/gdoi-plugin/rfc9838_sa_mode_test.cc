// SPDX-License-Identifier: GPL-2.0-or-later
// The data-security SAs' mode (RFC 9838 2.3.4): the key server's
// registration response carries N(USE_TRANSPORT_MODE) for transport mode,
// nothing for the RFC's tunnel mode with address preservation, and our
// private-use status notify for gateway tunnels; the member installs its
// TEKs in that mode, and refuses a registration whose mode its data plane
// cannot make.
#include <gtest/gtest.h>

#include <algorithm>

#include "gdoi_protocol_util.h"
#include "gikev2.h"
#include "gikev2_sk.h"

namespace groupsec::gdoi::test {
namespace {

class Log_ : public Log {
public:
	void error(const std::string &m) override { errors.push_back(m); }
	void warning(const std::string &m) override { warnings.push_back(m); }
	std::vector<std::string> errors, warnings;
};

class RefusingSink : public RecordingSink {
public:
	std::optional<std::string> refuse(const std::string &group, SaMode mode) const override
	{
		if (group == "blue" && mode == SaMode::Transport)
			return std::string("no transport mode here");
		return std::nullopt;
	}
};

class SaModeTest : public GroupTest {
protected:
	void start(SaMode mode)
	{
		GcksGroupConfig sc = server_config();
		sc.sa_mode = mode;
		gcks = &net.add({gcks_addr}, &creds);
		ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
		Node &m = net.add({gm_addrs[0]}, &creds);
		ASSERT_TRUE(m.engine.add_member_group(member_config(0)).ok());
		gms.push_back(&m);
		net.tick();
	}

	// The notify types of the key server's GSA_AUTH response.
	std::vector<uint16_t> auth_response_notifies()
	{
		std::vector<uint16_t> types;
		const auto &ike = gcks->keylog.ike_sas;
		EXPECT_EQ(ike.size(), 1u);
		if (ike.empty())
			return types;
		int responses = 0;
		for (const Datagram &d : net.sent_with_exchange(kAuth)) {
			if (!(d.from == gcks_addr))
				continue;
			responses++;
			auto opened = open_message(d.data, ike[0].responder);
			EXPECT_TRUE(opened.ok());
			if (!opened)
				continue;
			for (const Payload &p : opened.value().inner) {
				if (p.type != static_cast<uint8_t>(PayloadType::Notify))
					continue;
				auto n = decode_notify(p.body);
				EXPECT_TRUE(n.ok());
				if (n)
					types.push_back(n.value().type);
			}
		}
		EXPECT_EQ(responses, 1);
		return types;
	}

	bool has(const std::vector<uint16_t> &types, NotifyType t)
	{
		return std::count(types.begin(), types.end(), static_cast<uint16_t>(t)) > 0;
	}
};

} // namespace

TEST_F(SaModeTest, TunnelModeWithAddressPreservationIsTheDefaultAndSendsNoNotify)
{
	EXPECT_EQ(server_config().sa_mode, SaMode::Tunnel);
	start(server_config().sa_mode);
	Node &m = *gms[0];
	ASSERT_EQ(m.group("blue")->state, "registered");
	ASSERT_EQ(m.sink.ever.size(), 1u);
	EXPECT_EQ(m.sink.ever[0].mode, SaMode::Tunnel);
	auto types = auth_response_notifies();
	EXPECT_FALSE(has(types, NotifyType::UseTransportMode));
	EXPECT_FALSE(has(types, NotifyType::GatewayTunnels));
}

TEST_F(SaModeTest, TransportModeTravelsAsUseTransportModeAndHoldsForRekeys)
{
	start(SaMode::Transport);
	Node &m = *gms[0];
	ASSERT_EQ(m.group("blue")->state, "registered");
	EXPECT_TRUE(has(auth_response_notifies(), NotifyType::UseTransportMode));
	ASSERT_EQ(m.sink.ever.size(), 1u);
	EXPECT_EQ(m.sink.ever[0].mode, SaMode::Transport);
	// GSA_REKEY says nothing of the mode: the registration's holds
	ASSERT_TRUE(gcks->engine.rekey("blue").ok());
	net.run();
	ASSERT_EQ(m.sink.ever.size(), 2u);
	EXPECT_NE(m.sink.ever[1].spi, m.sink.ever[0].spi);
	EXPECT_EQ(m.sink.ever[1].mode, SaMode::Transport);
}

TEST_F(SaModeTest, GatewayTunnelsTravelAsAPrivateUseStatusNotify)
{
	start(SaMode::Gateway);
	Node &m = *gms[0];
	ASSERT_EQ(m.group("blue")->state, "registered");
	auto types = auth_response_notifies();
	EXPECT_TRUE(has(types, NotifyType::GatewayTunnels));
	EXPECT_FALSE(has(types, NotifyType::UseTransportMode));
	// RFC 7296 3.10.1: 40960-65535 are "Private Use - Status" types, which
	// a peer that does not know them ignores
	EXPECT_GE(static_cast<uint16_t>(NotifyType::GatewayTunnels), 40960);
	ASSERT_EQ(m.sink.ever.size(), 1u);
	EXPECT_EQ(m.sink.ever[0].mode, SaMode::Gateway);
}

TEST_F(SaModeTest, ARegistrationInAnotherModeInstallsTheSameTekAnew)
{
	start(SaMode::Tunnel);
	Node &m = *gms[0];
	ASSERT_EQ(m.sink.ever.size(), 1u);
	const uint32_t spi = m.sink.ever[0].spi;
	// the operator changes the mode; the group keeps its keys
	GcksGroupConfig sc = server_config();
	sc.sa_mode = SaMode::Transport;
	ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
	ASSERT_EQ(current_spi(*gcks), spi);
	ASSERT_TRUE(m.engine.reregister("blue").ok());
	net.tick();
	ASSERT_EQ(m.sink.ever.size(), 2u) << "the TEK is installed again";
	EXPECT_EQ(m.sink.ever[1].spi, spi);
	EXPECT_EQ(m.sink.ever[1].mode, SaMode::Transport);
	ASSERT_EQ(m.sink.removed.size(), 1u);
	EXPECT_EQ(m.sink.removed[0], spi);
	ASSERT_TRUE(m.sink.has(spi));
	EXPECT_EQ(m.sink.installed.begin()->second.mode, SaMode::Transport);
}

TEST_F(SaModeTest, AMemberRefusesAModeItsDataPlaneCannotMake)
{
	GcksGroupConfig sc = server_config();
	sc.sa_mode = SaMode::Transport;
	gcks = &net.add({gcks_addr}, &creds);
	ASSERT_TRUE(gcks->engine.add_server_group(sc).ok());
	NetTransport transport(&net);
	FakeRandom random(7);
	RefusingSink sink;
	Log_ log;
	Engine member(EngineDeps{&transport, &net.clock, &random, &creds, &sink, nullptr, nullptr, &log});
	ASSERT_TRUE(member.add_member_group(member_config(0)).ok());
	for (int i = 0; i < 3; i++) {
		member.tick();
		while (!net.queue.empty()) {
			Datagram d = net.queue.front();
			net.queue.pop_front();
			if (d.to == gm_addrs[0])
				member.receive(d.to, d.from, d.data);
			else
				net.deliver(d);
		}
	}
	EXPECT_TRUE(sink.ever.empty()) << "nothing installed";
	for (const GroupState &g : member.groups())
		EXPECT_NE(g.state, "registered");
	ASSERT_FALSE(log.errors.empty());
	EXPECT_NE(log.errors[0].find("group blue: registration with 192.0.2.1[848] refused: no transport mode here"),
		  std::string::npos)
		<< log.errors[0];
}

} // namespace groupsec::gdoi::test
