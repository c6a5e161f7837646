// SPDX-License-Identifier: GPL-2.0-or-later
// The member's data plane: turns a group's TEK and its tunnel endpoints
// into kernel SAs and policies.
//
// A group SA has one SPI and one set of keys for every member; inbound SAs
// have the anti-replay check off, because every member sends with its own
// sequence numbers under the same SPI. What a member installs depends on
// the TEK's mode (SaMode, from the key server's registration response):
//  - gateway tunnels: one inbound SA (any source, its own address) and
//    inbound/forward policies from each endpoint's prefixes to the TEK's
//    local side; per remote gateway an outbound SA (own address to
//    gateway) and outbound policies from the TEK's local side to the
//    prefixes behind that gateway, in tunnel mode;
//  - tunnel mode with address preservation (RFC 9838's tunnel mode) and
//    transport mode: the outer addresses are the inner ones. XFRM and
//    libipsec SAs carry fixed outer addresses (nothing copies them from
//    the packet), so the data plane makes one SA per pair of single
//    addresses: per own host address (GmGroupConfig::hosts) an inbound SA
//    (any source, that address), and per pair of own host and endpoint
//    address an outbound SA from the one to the other with policies
//    between the two host selectors. An endpoint's prefixes must then be
//    single addresses; its gateway only names it.
// Only the parts of an endpoint's prefixes inside the TEK's selectors are
// protected. Endpoints added or removed while a TEK is installed take
// effect at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
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
	bool transport = false; // transport mode, else tunnel mode
};

enum class PolicyDirection { In, Out, Fwd };

// What one kernel SA has carried, as the kernel counts it.
struct SaUsage {
	uint64_t bytes = 0;
	uint64_t packets = 0;
};

// What a group SA has carried at this member: received under its SPI, and
// sent under it (all its outbound SAs, one per gateway or address pair).
struct SaTraffic {
	SaUsage in;
	SaUsage out;
};

struct KernelPolicy {
	TrafficSelector source;
	TrafficSelector destination;
	PolicyDirection direction = PolicyDirection::Out;
	Address tunnel_source; // all-zero: any (inbound group SA)
	Address tunnel_destination;
	uint32_t spi = 0;
	uint32_t reqid = 0;
	bool transport = false; // transport mode, else tunnel mode
};

// What the glue does with charon->kernel.
class KernelOps {
public:
	virtual ~KernelOps() = default;
	virtual bool add_sa(const KernelSa &sa) = 0;
	virtual void del_sa(const KernelSa &sa) = 0;
	virtual bool add_policy(const KernelPolicy &p) = 0;
	virtual void del_policy(const KernelPolicy &p) = 0;
	// What an SA added with add_sa() has carried; nullopt if the kernel
	// does not say.
	virtual std::optional<SaUsage> query_sa(const KernelSa &sa) const
	{
		(void)sa;
		return std::nullopt;
	}
	// Why the kernel's data plane cannot make SAs of this mode, nullopt if
	// it can.
	virtual std::optional<std::string> unsupported(SaMode mode) const
	{
		(void)mode;
		return std::nullopt;
	}
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
	// The member's own addresses that keep their addresses on the wire
	// (address preservation, transport mode); none: the local address.
	void set_hosts(const std::string &group, const std::vector<Address> &hosts);

	// Adds or replaces the endpoint with this gateway. Errors: no prefix,
	// an address family other than the member's, the member's own address
	// as gateway, or, while the group's SAs keep addresses, a prefix of
	// more than one address.
	Result<Done> add_endpoint(const std::string &group, const TunnelEndpoint &e);
	Result<Done> remove_endpoint(const std::string &group, const Address &gateway);
	std::vector<TunnelEndpoint> endpoints(const std::string &group) const;

	// What the group SA with this SPI has carried (its inbound SAs, and
	// its outbound SAs while it sends); nullopt if it is not installed or
	// the kernel does not count.
	std::optional<SaTraffic> traffic(const std::string &group, uint32_t spi) const;

	// A new TEK: its inbound SA joins the ones installed (older SPIs keep
	// receiving until remove()), and the outbound SAs move to it, or, for
	// a receive-only TEK, stay where they are until activate().
	bool install(const TekSa &sa) override;
	void remove(const std::string &group, uint32_t spi) override;
	bool activate(const std::string &group, uint32_t spi) override;
	std::optional<std::string> refuse(const std::string &group, SaMode mode) const override;

	// Removes everything of a group, or of all groups.
	void clear(const std::string &group);
	void clear();

private:
	struct Group {
		std::optional<Address> local;
		std::vector<Address> hosts; // empty: local
		std::vector<TunnelEndpoint> endpoints;
		uint32_t reqid_in = 0;
		std::map<std::pair<Address, Address>, uint32_t> reqid_out; // by (outer source, destination)
		std::map<uint32_t, std::vector<KernelSa>> inbound; // by SPI
		std::map<uint32_t, TekSa> waiting; // installed receive-only, by SPI
		std::optional<TekSa> current; // the TEK outbound traffic uses
		std::optional<SaMode> mode; // of the TEKs installed
		std::map<Address, std::vector<KernelSa>> outbound; // by gateway
		std::map<Address, std::vector<KernelPolicy>> policies; // by gateway
	};

	Group &group(const std::string &name);
	std::vector<Address> own_hosts(const Group &g) const;
	uint32_t reqid_for(Group &g, const Address &source, const Address &destination);
	std::vector<KernelSa> outbound_sas(Group &g, const TunnelEndpoint &e);
	std::vector<KernelPolicy> plan_policies(const Group &g, const TunnelEndpoint &e) const;
	std::vector<KernelPolicy> plan_host_policies(const Group &g, const TunnelEndpoint &e) const;
	bool add_policies(const std::vector<KernelPolicy> &plan);
	bool plumb(Group &g, const TunnelEndpoint &e);
	bool send_with(Group &g, const TekSa &tek);
	void unplumb(Group &g, const Address &gateway);

	KernelOps &kernel_;
	uint32_t reqid_next_;
	std::map<std::string, Group> groups_;
};

} // namespace groupsec::gdoi
