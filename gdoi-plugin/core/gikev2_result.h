// SPDX-License-Identifier: GPL-2.0-or-later
// The byte buffers and error type of lib/groupsec/base, under the names the
// G-IKEv2 core uses.
#pragma once

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::gdoi {

using groupsec::ByteView;
using groupsec::Bytes;
using groupsec::Error;
using groupsec::make_error;
using groupsec::Result;
using groupsec::wire_error_name;
using groupsec::WireError;

} // namespace groupsec::gdoi
