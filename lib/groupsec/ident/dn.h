// SPDX-License-Identifier: GPL-2.0-or-later
// Distinguished names (X.501 Name, DER): the one codec of the project.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "groupsec/base/bytes.h"
#include "groupsec/base/result.h"

namespace groupsec::ident {

// "C=CH, O=Example, CN=gm1" or "/C=CH/O=Example/CN=gm1" to the DER of a
// Name, one attribute per RDN, with the string types strongSwan chooses
// (PrintableString where the value allows it, else UTF8String; IA5String
// for e-mail). Attribute names as strongSwan knows them, any case. The
// error message is the reason only.
Result<Bytes> encode_dn(std::string_view s);

// The DER of a Name as strongSwan prints it: "C=CH, O=Example, CN=gm1"
// (short names, control octets escaped); nullopt if der is not exactly
// one Name.
std::optional<std::string> dn_text(ByteView der);

} // namespace groupsec::ident
