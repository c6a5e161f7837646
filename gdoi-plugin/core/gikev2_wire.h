// SPDX-License-Identifier: GPL-2.0-or-later
// The bounds-checked reader and writer of lib/groupsec/base, as the core's
// codecs name them (wire::Reader, wire::put_u16, ...).
#pragma once

#include "gikev2_result.h"
#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"
