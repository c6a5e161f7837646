// SPDX-License-Identifier: GPL-2.0-or-later
// Shortcut SAs in the plugin (docs/shortcuts.md): joins the cores to the
// G-IKEv2 engine. On a key server group with shortcut members configured
// it runs the connectivity manager (ShortcutManager): a member that
// registers over an IKE SA it keeps becomes an outside member with its
// configured inside prefixes and the outside address of that IKE SA, and
// leaves when the IKE SA goes; the manager's messages travel on the
// member's IKE SA (Engine::send_shortcut()). On a member group with inside
// prefixes configured it runs the member side (ShortcutMember), whose
// kernel plans go to the glue's KernelOps (charon->kernel). The engine
// reports messages and IKE SAs through ShortcutSink.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../gdoi_engine.h"
#include "shortcut_manager.h"
#include "shortcut_member.h"

namespace groupsec::gdoi::shortcut {

// A member a key server group may make shortcuts for, and its inside
// prefixes (the addresses behind it).
struct ShortcutPeerConfig {
	Identity id;
	std::vector<Prefix> inside;
};

// One group's side of the shortcuts, for the control socket.
struct ShortcutGroupView {
	std::string group;
	bool manager = false; // key server group: the connectivity manager
	// manager
	std::vector<ShortcutInfo> shortcuts;
	std::vector<MemberContext> members;
	ManagerCounters manager_counters;
	// member
	std::vector<MemberShortcut> member_shortcuts;
	MemberCounters member_counters;
};

class ShortcutService : public ShortcutSink {
public:
	ShortcutService(KernelOps &kernel, const crypto::Clock &clock, crypto::RandomSource &random);
	~ShortcutService() override;
	ShortcutService(const ShortcutService &) = delete;
	ShortcutService &operator=(const ShortcutService &) = delete;

	// The engine the messages go out on; before any group is configured.
	void set_engine(Engine &engine) { engine_ = &engine; }
	// The engine is gone: nothing more is sent.
	void set_engine_gone() { engine_ = nullptr; }
	// Shortcut-up and shortcut-down of the managers: group, shortcut,
	// reason ("" when up).
	using EventHook = std::function<void(const std::string &, const ShortcutInfo &, bool, const std::string &)>;
	void set_events(EventHook hook) { hook_ = std::move(hook); }

	// A key server group's shortcut members (none: no manager; a manager
	// whose members changed starts afresh, ending its shortcuts) and the
	// gateway's protected prefixes: a member whose IKE SA moves to an
	// address inside them came inside.
	void configure_manager(const std::string &group, const std::vector<ShortcutPeerConfig> &members,
			       const ManagerSettings &settings = ManagerSettings{},
			       const std::vector<Prefix> &protected_prefixes = {});
	// A member group's inside prefixes (none: no shortcuts) and the
	// address its IKE SA leaves from. A member whose settings changed
	// removes its shortcuts first.
	void configure_member(const std::string &group, const Identity &server, const std::vector<Prefix> &inside,
			      const Address &local);
	// Groups no longer configured go (their shortcuts removed).
	void retain(const std::vector<std::string> &groups);

	// The triggers of every manager: inside source and destination.
	void relayed(ByteView source, ByteView destination, uint64_t packets);
	void new_session(ByteView source, ByteView destination);
	// One packet the gateway relayed (classify_relayed()): relayed traffic
	// of its pair, and a new session if it opens one.
	void packet(ByteView ip_packet);
	// Operator: a shortcut between two members of a key server group,
	// named as swanctl writes identities; ends one by ID.
	Result<uint32_t> request(const std::string &group, const std::string &a, const std::string &b);
	Result<Done> remove(const std::string &group, uint32_t id);

	// Setup timeouts and renewals.
	void tick();

	std::vector<ShortcutGroupView> view() const;

	// ShortcutSink. A member group's messages go to its ShortcutMember; a
	// message on the IKE SA of a member group without shortcuts (another
	// group's key server, which is no manager of ours) is rejected as
	// forged by every member side (MemberCounters::rejected_forged).
	void shortcut_message(const std::string &group, bool server, const Identity &peer, ByteView message) override;
	void shortcut_channel(const std::string &group, bool server, const Identity &peer, const Address &address,
			      bool up) override;
	// Key server: a member's IKE SA moved: member_moved(), or
	// member_inside() when the new address is in the protected prefixes.
	// Member: local_address_changed().
	void shortcut_moved(const std::string &group, bool server, const Identity &peer,
			    const Address &address) override;

private:
	struct Manager;
	struct Member;

	KernelOps &kernel_;
	const crypto::Clock &clock_;
	crypto::RandomSource &random_;
	Engine *engine_ = nullptr;
	EventHook hook_;
	std::map<std::string, std::unique_ptr<Manager>> managers_;
	std::map<std::string, std::unique_ptr<Member>> members_;
};

} // namespace groupsec::gdoi::shortcut
