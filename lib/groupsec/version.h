// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec: the version every plugin reports.
#pragma once

namespace groupsec {

// The groupsec release these plugins belong to, e.g. "0.1.0".
const char *version();

} // namespace groupsec
