// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust fetch: what a peer's IKE_SA_INIT answer reveals (trust-lists.md
// "Fetch"), the command-line part with its socket. Only the program has it,
// not the control socket's trust command.
#pragma once

#include <string>
#include <vector>

namespace groupsec::trust::gstrust {

// args: the arguments after "fetch"; json: --json was given.
int fetch(const std::vector<std::string> &args, bool json, std::string &out, std::string &err);

} // namespace groupsec::trust::gstrust
