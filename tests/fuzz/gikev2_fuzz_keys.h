// SPDX-License-Identifier: GPL-2.0-or-later
// The fixed SK keys of fuzz_gikev2_sk, shared with its seed generator.
#pragma once

#include "../../gdoi-plugin/core/gikev2_sk.h"

namespace groupsec::gdoi::fuzz {

inline SkKeys gcm_keys()
{
	SkKeys k;
	k.cipher = SkCipher::AesGcm16;
	k.encryption_key = Bytes(32, 0x4b);
	k.salt = Bytes{0x01, 0x02, 0x03, 0x04};
	return k;
}

inline SkKeys cbc_keys()
{
	SkKeys k;
	k.cipher = SkCipher::AesCbcHmacSha256;
	k.encryption_key = Bytes(16, 0x4c);
	k.integrity_key = Bytes(32, 0x49);
	return k;
}

} // namespace groupsec::gdoi::fuzz
