// SPDX-License-Identifier: GPL-2.0-or-later
// A ControlTarget in memory for the control socket tests: two groups (a key
// server group "blue" and a member group "red"), an endpoint table, and a
// log of every call that reaches it.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control.h"
#include "gikev2.h"
#include "groupsec/vici/vici_wire.h"

namespace groupsec::gdoi::test {

inline Bytes text_bytes(const std::string &s)
{
	return Bytes(s.begin(), s.end());
}

inline Address address(std::initializer_list<uint8_t> ip, uint16_t port)
{
	Address a;
	a.ip = Bytes(ip);
	a.port = port;
	return a;
}

inline Identity identity(IdType type, Bytes data)
{
	Identity id;
	id.type = static_cast<uint8_t>(type);
	id.data = std::move(data);
	return id;
}

class FakeTarget : public ControlTarget {
public:
	FakeTarget()
	{
		GroupState blue;
		blue.name = "blue";
		blue.group_id = identity(IdType::KeyId, {0x00, 0x00, 0x01, 0x2c});
		blue.server = true;
		blue.state = "serving";
		blue.kek_message_id = 7;
		blue.exposure.hierarchy = KeyHierarchy::Flat;
		blue.exposure.tek_exposed = true;
		blue.exposure.exposed_keks = 9;
		MemberState m1;
		m1.id = identity(IdType::Fqdn, text_bytes("gm1.example.net"));
		m1.address = address({192, 0, 2, 11}, 848);
		m1.flat_id = 1;
		m1.registered_ms = 880000;
		m1.sender_ids = {5, 6};
		MemberState m2;
		m2.id = identity(IdType::Rfc822Addr, text_bytes("gm2@example.net"));
		m2.address = address({192, 0, 2, 12}, 848);
		m2.flat_id = 2;
		m2.registered_ms = 995500;
		blue.members = {m1, m2};
		SaState cur;
		cur.spi = 0x1a2b3c4d;
		cur.encryption = 20;
		cur.key_bits = 256;
		cur.lifetime_s = 3600;
		cur.expires_ms = 1000000 + 3412000;
		SaState old;
		old.spi = 0x0000beef;
		old.encryption = 12;
		old.key_bits = 128;
		old.lifetime_s = 3600;
		old.expires_ms = 1000000 + 12500;
		old.current = false;
		blue.sas = {cur, old};
		blue.counters.received = 12;
		blue.counters.sent = 10;
		blue.counters.dropped_auth = 1;
		blue.counters.registrations = 2;
		blue.counters.rekeys = 3;
		blue.counters.ike_deletes_sent = 2;
		blue.counters.liveness = 40;
		blue.evicted = {identity(IdType::Fqdn, text_bytes("gm3.example.net"))};

		GroupState red;
		red.name = "red";
		red.group_id = identity(IdType::Ipv4Addr, {198, 51, 100, 1});
		red.server = false;
		red.state = "registered";
		red.server_address = address({192, 0, 2, 1}, 848);
		red.kek_message_id = 4;
		red.rekey_auth = RekeyAuth::Implicit;
		red.sender_ids = {5, 6};
		red.sas = {cur};
		red.counters.received = 5;
		red.counters.ike_deletes_received = 1;
		red.counters.ike_rekeys = 1;
		red.counters.liveness = 9;
		red.counters.liveness_failed = 1;
		groups_ = {blue, red};
	}

	std::vector<GroupState> groups() const override
	{
		calls.push_back("groups");
		return groups_;
	}
	uint64_t now_ms() const override { return 1000000; }
	std::vector<GroupRoutingKey> routing_keys() const override
	{
		calls.push_back("routing-keys");
		return routing_keys_;
	}
	std::vector<GroupRoutingKey> routing_keys_; // none unless a test sets them

	Result<Done> rekey(const std::string &group) override
	{
		calls.push_back("rekey " + group);
		return server_group(group);
	}
	Result<Done> reregister(const std::string &group) override
	{
		calls.push_back("reregister " + group);
		auto g = find(group);
		if (!g)
			return not_found(group);
		if (g->server)
			return make_error(WireError::BadValue, "group '" + group + "' is a key server group");
		return Done{};
	}
	Result<Done> exclude(const std::string &group, const std::string &member) override
	{
		calls.push_back("exclude " + group + (member.empty() ? "" : " " + member));
		return server_group(group);
	}
	Result<Done> evict(const std::string &group, const std::string &member) override
	{
		calls.push_back("evict " + group + " " + member);
		auto r = server_group(group);
		if (!r.ok())
			return r;
		auto g = find(group);
		for (auto it = g->members.begin(); it != g->members.end(); ++it) {
			if (std::string(it->id.data.begin(), it->id.data.end()) == member) {
				g->evicted.push_back(it->id);
				g->members.erase(it);
				return Done{};
			}
		}
		return make_error(WireError::Missing, "'" + member + "' is not a member of group '" + group + "'");
	}
	Result<Done> readmit(const std::string &group, const std::string &member) override
	{
		calls.push_back("readmit " + group + " " + member);
		auto r = server_group(group);
		if (!r.ok())
			return r;
		auto g = find(group);
		for (auto it = g->evicted.begin(); it != g->evicted.end(); ++it) {
			if (std::string(it->data.begin(), it->data.end()) == member) {
				g->evicted.erase(it);
				return Done{};
			}
		}
		return make_error(WireError::Missing, "'" + member + "' is not evicted from group '" + group + "'");
	}
	Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &e) override
	{
		calls.push_back("add-endpoint " + group + " " + ip_text(e.gateway.ip) + prefixes(e));
		if (!find(group))
			return not_found(group);
		auto &list = endpoints_[group];
		for (TunnelEndpoint &old : list) {
			if (old.gateway.ip == e.gateway.ip) {
				old = e;
				return Done{};
			}
		}
		list.push_back(e);
		return Done{};
	}
	Result<Done> remove_endpoint(const std::string &group, const Address &gateway) override
	{
		calls.push_back("remove-endpoint " + group + " " + ip_text(gateway.ip));
		if (!find(group))
			return not_found(group);
		auto &list = endpoints_[group];
		auto it = std::find_if(list.begin(), list.end(),
		                       [&](const TunnelEndpoint &e) { return e.gateway.ip == gateway.ip; });
		if (it == list.end())
			return make_error(WireError::Missing,
			                  "group '" + group + "' has no endpoint " + ip_text(gateway.ip));
		list.erase(it);
		return Done{};
	}
	Result<std::vector<TunnelEndpoint>> endpoints(const std::string &group) const override
	{
		calls.push_back("endpoints " + group);
		auto g = std::find_if(groups_.begin(), groups_.end(), [&](const GroupState &s) { return s.name == group; });
		if (g == groups_.end())
			return not_found(group);
		auto it = endpoints_.find(group);
		return it == endpoints_.end() ? std::vector<TunnelEndpoint>() : it->second;
	}

	// the calls that act on something (not groups(), which only reads)
	std::vector<std::string> actions() const
	{
		std::vector<std::string> out;
		for (const std::string &c : calls) {
			if (c != "groups")
				out.push_back(c);
		}
		return out;
	}

	std::optional<SaTraffic> sa_traffic(const std::string &group, uint32_t spi) const override
	{
		auto it = traffic_.find({group, spi});
		if (it == traffic_.end())
			return std::nullopt;
		return it->second;
	}

	mutable std::vector<std::string> calls;
	std::vector<GroupState> groups_;
	std::map<std::string, std::vector<TunnelEndpoint>> endpoints_;
	std::map<std::pair<std::string, uint32_t>, SaTraffic> traffic_;

private:
	static std::string prefixes(const TunnelEndpoint &e)
	{
		std::string out;
		for (const TrafficSelector &p : e.prefixes)
			out += " " + prefix_text(p);
		return out;
	}
	static Error not_found(const std::string &group)
	{
		return make_error(WireError::Missing, "group '" + group + "' not found");
	}
	GroupState *find(const std::string &group)
	{
		for (GroupState &g : groups_) {
			if (g.name == group)
				return &g;
		}
		return nullptr;
	}
	Result<Done> server_group(const std::string &group)
	{
		auto g = find(group);
		if (!g)
			return not_found(group);
		if (!g->server)
			return make_error(WireError::BadValue, "group '" + group + "' is a member group");
		return Done{};
	}
};

// A CMD_REQUEST packet with its length header.
inline Bytes request(const std::string &command, const vici::Section &message = {})
{
	vici::Packet p;
	p.op = vici::Operation::CmdRequest;
	p.name = command;
	p.message = message;
	return vici::encode_packet(p).value();
}

// Every packet in a byte stream; the test fails on anything else.
inline std::vector<vici::Packet> packets(const Bytes &stream)
{
	std::vector<vici::Packet> out;
	vici::StreamReader r;
	r.push(stream);
	for (;;) {
		auto n = r.next();
		if (!n.ok()) {
			ADD_FAILURE() << n.error().message;
			break;
		}
		if (!n.value())
			break;
		auto p = vici::decode_packet(*n.value());
		if (p.ok())
			out.push_back(p.value());
		else
			ADD_FAILURE() << p.error().message;
	}
	EXPECT_TRUE(r.idle()) << r.buffered() << " octets of a partial packet";
	return out;
}

} // namespace groupsec::gdoi::test
