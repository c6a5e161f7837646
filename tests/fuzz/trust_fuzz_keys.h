// SPDX-License-Identifier: GPL-2.0-or-later
// The fixed identities of fuzz_trust_collection and its seeds: a list
// signer and an envelope recipient (EC P-256, self-signed, valid for a
// century). Test keys only.
#pragma once

namespace trust_fuzz {

constexpr const char kSignerCert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBqjCCAU+gAwIBAgIUBepgzMy2ae3sXYn0nhMc01Z2rrMwCgYIKoZIzj0EAwIw\n"
	"KTEWMBQGA1UECgwNZ3JvdXBzZWMgZnV6ejEPMA0GA1UEAwwGc2lnbmVyMCAXDTI2\n"
	"MTIwNzAxMTYwOFoYDzIxMjYxMTEzMDExNjA4WjApMRYwFAYDVQQKDA1ncm91cHNl\n"
	"YyBmdXp6MQ8wDQYDVQQDDAZzaWduZXIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
	"AARretBvrL+lIe5SQoPCNANv0HpzGQZURJ+OmnKCmXGPmnVfQbC087uj2EZcuTym\n"
	"iK0+JwqeECi+ViT25s/ZG2Afo1MwUTAdBgNVHQ4EFgQU58MJSYDucqA3EIDQ/5Fw\n"
	"MTjI/KYwHwYDVR0jBBgwFoAU58MJSYDucqA3EIDQ/5FwMTjI/KYwDwYDVR0TAQH/\n"
	"BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA+HQ11P4lEvkr4ctEskUa70k+mE2C\n"
	"DlTw0nCtYTdXAP0CIQCDMgvPdj4eAONpGghFAo7PNohYAx4cGDfZnqzMnrAXrw==\n"
	"-----END CERTIFICATE-----\n";

constexpr const char kSignerKey[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguWn4SJ3ORXq2QhPN\n"
	"FW4+O1Z1wKp+uK2dp6wa/wuESq2hRANCAARretBvrL+lIe5SQoPCNANv0HpzGQZU\n"
	"RJ+OmnKCmXGPmnVfQbC087uj2EZcuTymiK0+JwqeECi+ViT25s/ZG2Af\n"
	"-----END PRIVATE KEY-----\n";

constexpr const char kRecipientCert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBsDCCAVWgAwIBAgIUS2mXVrdWrieqmO2fDIrkYbpRxKYwCgYIKoZIzj0EAwIw\n"
	"LDEWMBQGA1UECgwNZ3JvdXBzZWMgZnV6ejESMBAGA1UEAwwJcmVjaXBpZW50MCAX\n"
	"DTI2MTIwNzAxMTYwOFoYDzIxMjYxMTEzMDExNjA4WjAsMRYwFAYDVQQKDA1ncm91\n"
	"cHNlYyBmdXp6MRIwEAYDVQQDDAlyZWNpcGllbnQwWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAATy97OlTP+sRtpXSXObqnaHhs2PUd+/G3GdNV5759/1y3vko25she0o\n"
	"P5N74xzK+io3urE468ycwkCLGr3zLMm+o1MwUTAdBgNVHQ4EFgQUbdtBTg6KKavi\n"
	"1cOD3J9j6V9rI88wHwYDVR0jBBgwFoAUbdtBTg6KKavi1cOD3J9j6V9rI88wDwYD\n"
	"VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAon8yyC783+JYUIIyJ+wh\n"
	"2Tx92DvL7guzTWPUwMPkw80CIQCOBfEUnAbl4JcNQzrxqusM4KoaAVc5huwZ65+P\n"
	"l+sYMw==\n"
	"-----END CERTIFICATE-----\n";

constexpr const char kRecipientKey[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc8EDNGCIumFGY43E\n"
	"9HYet3GM9xmqug66lYN8peBuM7yhRANCAATy97OlTP+sRtpXSXObqnaHhs2PUd+/\n"
	"G3GdNV5759/1y3vko25she0oP5N74xzK+io3urE468ycwkCLGr3zLMm+\n"
	"-----END PRIVATE KEY-----\n";

} // namespace trust_fuzz
