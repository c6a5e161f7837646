// SPDX-License-Identifier: GPL-2.0-or-later
// gstrust: the command-line tool of the shared trust lists
// (trust-lists.md): shows certificates, creates and signs collections,
// and manages the store (import, export, list, show, enable, disable,
// condition, remove, the trusted set).
#pragma once

#include <string>
#include <vector>

#include "groupsec/trust/certificate.h"
#include "groupsec/trust/store.h"

namespace groupsec::trust::gstrust {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFiles = 3;

// Runs one command: args without the program name; env_dir is
// $GSTRUST_DIR (or null). What it prints goes to out and err.
int run(const std::vector<std::string> &args, const char *env_dir, const WallClock &clock,
	std::string &out, std::string &err);
// The same, judging conditional collections by conditions (the daemon's
// view; run() above: none holds).
int run(const std::vector<std::string> &args, const char *env_dir, const WallClock &clock,
	const ConditionSource &conditions, std::string &out, std::string &err);

} // namespace groupsec::trust::gstrust
