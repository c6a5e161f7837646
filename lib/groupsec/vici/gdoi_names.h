// SPDX-License-Identifier: GPL-2.0-or-later
// The names of the gdoi plugin's control socket commands and events
// (docs/control-socket.md), shared by the plugin and its clients (gdoictl,
// the bgpd module) without the engine: plugins meet here, not in each
// other's files.
#pragma once

namespace groupsec::gdoi {

namespace command {
constexpr const char *kVersion = "version";
constexpr const char *kListGroups = "list-groups";
constexpr const char *kListMembers = "list-members";
constexpr const char *kListSas = "list-sas";
constexpr const char *kRekey = "rekey";
constexpr const char *kEvict = "evict";
constexpr const char *kReadmit = "readmit";
constexpr const char *kExclude = "exclude";
constexpr const char *kReregister = "reregister";
constexpr const char *kAddEndpoint = "add-endpoint";
constexpr const char *kRemoveEndpoint = "remove-endpoint";
constexpr const char *kListEndpoints = "list-endpoints";
// root-only socket: the routing keys of sealed routes (docs/bgp-gsa.md)
constexpr const char *kRoutingKeys = "routing-keys";
// groups configured by a client (a "source" such as bgpd) next to the file's
constexpr const char *kCheckConfig = "check-config";
constexpr const char *kLoadConfig = "load-config";
constexpr const char *kUnloadConfig = "unload-config";
// shortcut SAs (docs/shortcuts.md)
constexpr const char *kListShortcuts = "list-shortcuts";
constexpr const char *kRequestShortcut = "request-shortcut";
constexpr const char *kRemoveShortcut = "remove-shortcut";
} // namespace command

namespace event {
constexpr const char *kMemberRegistered = "member-registered";
constexpr const char *kMemberLeft = "member-left";
constexpr const char *kMemberEvicted = "member-evicted";
constexpr const char *kRekey = "rekey";
constexpr const char *kSaInstalled = "sa-installed";
constexpr const char *kSaRemoved = "sa-removed";
constexpr const char *kEndpointChanged = "endpoint-changed";
constexpr const char *kRoutingKey = "routing-key";
constexpr const char *kShortcutUp = "shortcut-up";
constexpr const char *kShortcutDown = "shortcut-down";
// every event, in the order docs/control-socket.md lists them
constexpr const char *kAll[] = {kMemberRegistered, kMemberLeft, kMemberEvicted, kRekey,
                                kSaInstalled,      kSaRemoved,  kEndpointChanged, kRoutingKey,
                                kShortcutUp,       kShortcutDown};
} // namespace event

// The shared trust lists (docs/trust-lists.md): gstrust's commands on the
// daemon's store, served by the gdoi plugin's glue.
namespace trust {
constexpr const char *kTrust = "trust";
} // namespace trust

// Served on the same socket by the election plugin, while it is loaded
// (docs/election.md): not among the gdoi core's own commands and events.
namespace election {
constexpr const char *kListElections = "list-elections";
constexpr const char *kLeaderChanged = "leader-changed";
} // namespace election

} // namespace groupsec::gdoi
