// SPDX-License-Identifier: GPL-2.0-or-later
// SecretBytes of lib/groupsec/base, under the name the G-IKEv2 core uses.
#pragma once

#include "gikev2_result.h"
#include "groupsec/base/secret_bytes.h"

namespace groupsec::gdoi {

using groupsec::SecretBytes;

} // namespace groupsec::gdoi
