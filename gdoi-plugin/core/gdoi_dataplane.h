// SPDX-License-Identifier: GPL-2.0-or-later
// The member's data plane: turns a group's TEK and its tunnel endpoints
// into kernel SAs and policies.
//
// A group SA has one SPI and one set of keys for every member. A member
// installs
//  - one inbound SA (any source, its own address, the group SPI) with the
//    anti-replay check off, because every member sends with its own
//    sequence numbers under the same SPI, and inbound/forward policies
//    from each endpoint's prefixes to the TEK's local side;
//  - per remote gateway an outbound SA (own address to gateway, the group
//    SPI) and outbound policies from the TEK's local side to the prefixes
//    behind that gateway, in tunnel mode.
// Only the parts of an endpoint's prefixes inside the TEK's selectors are
// protected. Endpoints added or removed while a TEK is installed take
// effect at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gdoi_endpoints.h"
#include "gdoi_engine.h"

namespace groupsec::gdoi {

struct KernelSa {
	Address source; // all-zero address: any (inbound group SA)
	Address destination;
	uint32_t spi = 0;
	uint32_t reqid = 0;
	bool inbound = false;
	uint16_t encryption = 0; // IKEv2 transform ID
	Bytes encryption_key; // salt appended for AES-GCM
	uint16_t integrity = 0;
	Bytes integrity_key;
	uint32_t lifetime_s = 0;
	uint32_t replay_window = 0; // 0: no anti-replay check
};

enum class PolicyDirection { In, Out, Fwd };

struct KernelPolicy {
	TrafficSelector source;
	TrafficSelector destination;
	PolicyDirection direction = PolicyDirection::Out;
	Address tunnel_source; // all-zero: any (inbound group SA)
	Address tunnel_destination;
	uint32_t spi = 0;
	uint32_t reqid = 0;
};

// What the glue does with charon->kernel.
class KernelOps {
public:
	virtual ~KernelOps() = default;
	virtual bool add_sa(const KernelSa &sa) = 0;
	virtual void del_sa(const KernelSa &sa) = 0;
	virtual bool add_policy(const KernelPolicy &p) = 0;
	virtual void del_policy(const KernelPolicy &p) = 0;
};

// The intersection of two selectors of the same family (protocol and
// ports included), nullopt if they do not overlap.
std::optional<TrafficSelector> intersect(const TrafficSelector &a, const TrafficSelector &b);

class GroupDataplane : public SaSink {
public:
	// Reqids are taken from reqid_base upwards: one for a group's inbound
	// SAs, one per remote gateway for its outbound SA.
	GroupDataplane(KernelOps &kernel, uint32_t reqid_base);
	~GroupDataplane() override;

	// The member's own tunnel address in a group.
	void set_local(const std::string &group, const Address &local);

	// Adds or replaces the endpoint with this gateway. Errors: no prefix,
	// an address family other than the member's, or the member's own
	// address as gateway.
	Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &e);
	Result<Done> remove_endpoint(const std::string &group, const Address &gateway);
	std::vector<TunnelEndpoint> endpoints(const std::string &group) const;

	// A new TEK: its inbound SA joins the ones installed (older SPIs keep
	// receiving until remove()), and the outbound SAs move to it, or, for
	// a receive-only TEK, stay where they are until activate().
	bool install(const TekSa &sa) override;
	void remove(const std::string &group, uint32_t spi) override;
	bool activate(const std::string &group, uint32_t spi) override;

	// Removes everything of a group, or of all groups.
	void clear(const std::string &group);
	void clear();

private:
	struct Group {
		std::optional<Address> local;
		std::vector<TunnelEndpoint> endpoints;
		uint32_t reqid_in = 0;
		std::map<Address, uint32_t> reqid_out; // by gateway
		std::map<uint32_t, KernelSa> inbound; // by SPI
		std::map<uint32_t, TekSa> waiting; // installed receive-only, by SPI
		std::optional<TekSa> current; // the TEK outbound traffic uses
		std::map<Address, KernelSa> outbound; // by gateway
		std::map<Address, std::vector<KernelPolicy>> policies; // by gateway
	};

	Group &group(const std::string &name);
	uint32_t reqid_for(Group &g, const Address &gateway);
	KernelSa outbound_sa(Group &g, const TunnelEndpoint &e);
	std::vector<KernelPolicy> plan_policies(const Group &g, const TunnelEndpoint &e,
						const KernelSa &out) const;
	bool add_policies(const std::vector<KernelPolicy> &plan);
	bool plumb(Group &g, const TunnelEndpoint &e);
	bool send_with(Group &g, const TekSa &tek);
	void unplumb(Group &g, const Address &gateway);

	KernelOps &kernel_;
	uint32_t reqid_next_;
	std::map<std::string, Group> groups_;
};

} // namespace groupsec::gdoi
