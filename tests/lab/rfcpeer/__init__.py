# SPDX-License-Identifier: GPL-2.0-or-later
"""rfcpeer: a G-IKEv2 key server and member written from RFC 9838 (its last
draft, draft-ietf-ipsecme-g-ikev2-23) and RFC 7296 alone, for tests.

It shares no code with the gdoi plugin. Section numbers in comments are the
draft's. Modules: consts (code points), crypto (prf+, RFC 5649 key wrap,
AES-GCM for SK and ESP, DH, signatures), wire (IKE header and payloads),
ikesa (IKE SA keys, SK, AUTH), lkh (the key server's key tree), ks and gm
(the two roles), esp (RFC 4106 ESP), __main__ (the CLI the lab starts).
"""
