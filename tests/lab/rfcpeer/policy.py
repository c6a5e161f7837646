# SPDX-License-Identifier: GPL-2.0-or-later
"""Group policy rules both roles apply (RFC 9838 4.4, 4.5, 3.2, 3.4) and
the key path algorithm of a member (3.3)."""
from . import consts as C
from . import crypto
from .wire import WireError, parse_wrapped


class PolicyError(Exception):
    """A policy or key download the RFC does not allow; .notify is the
    error to answer with, where there is one."""

    def __init__(self, msg, notify=C.N_NO_PROPOSAL_CHOSEN):
        super().__init__(msg)
        self.notify = notify


# A diagnosis run (never the tests) sets RECORD to a list: then a rule
# after which going on makes sense is recorded there instead of refusing,
# so that one run lists every rule a peer breaks, not only the first.
RECORD = None


def violate(msg, notify=C.N_NO_PROPOSAL_CHOSEN):
    if RECORD is not None:
        if msg not in RECORD:
            RECORD.append(msg)
        return
    raise PolicyError(msg, notify)


AEAD = {C.ENCR_AES_GCM_16}
INTEG_KEY = {C.AUTH_NONE: 0, C.AUTH_HMAC_SHA2_256_128: 32}


def encr_key_octets(t):
    """Keying material of an ENCR transform: key (Key Length) and, for
    AES-GCM, 4 octets of salt (RFC 4106 8.1, RFC 5282 7.1)."""
    kl = t.key_length()
    if t.id not in (C.ENCR_AES_GCM_16, C.ENCR_AES_CBC) or kl not in (128, 192, 256):
        raise PolicyError(f"ENCR {t.id} with Key Length {kl} not supported")
    return kl // 8 + (4 if t.id in AEAD else 0)


def one(policy, ttype, name, mandatory=True):
    ts = policy.get(ttype)
    if len(ts) > 1:
        violate(f"{name}: {len(ts)} transforms (4.4.2.1: 'at most one instance')")
    if mandatory and not ts:
        raise PolicyError(f"{name} transform missing (4.4.2.1: 'Exactly one instance of each mandatory "
                          "transform type')")
    return ts[0] if ts else None


def check_kek(p, registration):
    """4.4.2.1 table: GIKE_UPDATE: ENCR, INTEG*, GCAUTH**, KWA. Returns
    (ENCR, INTEG id, GCAUTH or None, KWA id, keymat octets)."""
    encr = one(p, C.T_ENCR, "GIKE_UPDATE ENCR")
    integ = one(p, C.T_INTEG, "GIKE_UPDATE INTEG", mandatory=False)
    if encr.id in AEAD:
        if integ is not None and integ.id != C.AUTH_NONE:
            violate("INTEG with an AEAD ENCR (4.4.2.1: 'either MUST NOT be specified or MUST "
                              "contain value NONE')")
    elif integ is None or integ.id == C.AUTH_NONE:
        raise PolicyError("no INTEG with a non-AEAD ENCR (4.4.2.1)")
    gcauth = one(p, C.T_GCAUTH, "GCAUTH", mandatory=registration)
    if gcauth is not None and not registration:
        violate("GCAUTH in a rekey (4.4.2.1.1: 'MUST NOT appear in the rekey messages')")
    kwa = one(p, C.T_KWA, "KWA")
    if kwa.id not in crypto.KWA_KEY_SIZE:
        raise PolicyError(f"KWA {kwa.id} not supported")
    if encr.id != C.ENCR_AES_GCM_16:
        raise PolicyError("only AES-GCM-16 Rekey SAs are supported here")
    for t in p.transforms:
        if t.type not in (C.T_ENCR, C.T_INTEG, C.T_GCAUTH, C.T_KWA):
            violate(f"transform type {t.type} not valid for GIKE_UPDATE (4.4.2.1)")
    d = p.dst
    import ipaddress
    if d.start != d.end or not ipaddress.ip_address(d.start).is_multicast or d.ip_proto not in (0, 17) \
            or d.start_port != d.end_port:
        violate(f"Rekey SA destination selector {d.start}-{d.end} proto {d.ip_proto} ports "
                          f"{d.start_port}-{d.end_port} (4.4.1: 'the destination traffic selectors MUST define a "
                          "single multicast IP address, an IP protocol (assumed to be UDP) and a single port')")
    # 3.5: GSK_e | GSK_a | GSK_w = KEYMAT
    size = encr_key_octets(encr) + INTEG_KEY.get(integ.id if integ else 0, 0) + crypto.KWA_KEY_SIZE[kwa.id]
    return encr, integ.id if integ else C.AUTH_NONE, gcauth, kwa.id, size


def check_tek(p):
    """4.4.2.1 table: ESP: ENCR, SN mandatory, INTEG optional."""
    if p.protocol != C.PROTO_ESP:
        raise PolicyError(f"Data-Security protocol {p.protocol} not supported")
    encr = one(p, C.T_ENCR, "ESP ENCR")
    sn = one(p, C.T_SN, "ESP SN")
    integ = one(p, C.T_INTEG, "ESP INTEG", mandatory=False)
    if sn.id not in (C.SN_32BIT, C.SN_32BIT_UNSPECIFIED):
        violate(f"SN transform {sn.id}: 4.4.2.1.3 'Partially Transmitted 64-bit Sequential "
                          "Numbers' transform ID MUST NOT be used for multicast Data-Security SAs")
    for t in p.transforms:
        if t.type not in (C.T_ENCR, C.T_INTEG, C.T_SN):
            violate(f"transform type {t.type} not valid for ESP (4.4.2.1)")
    if encr.id in AEAD and integ is not None and integ.id != C.AUTH_NONE:
        violate("INTEG with AES-GCM")
    return encr, sn.id, encr_key_octets(encr) + INTEG_KEY.get(integ.id if integ else 0, 0)


def attrs_of(attrs, t):
    return [a for a in attrs if a.type == t]


def unwrap_keys(kwa, channel_gsk_w, sa_keys, wrap_keys, wkp):
    """3.3: 'The GM tries to decrypt at least one of the SA_KEY attributes
    using either the GSK_w or the keys from the WRAP_KEY attributes that are
    present in the same message or were receives in previous messages.'

    sa_keys, wrap_keys: WrappedKey lists; wkp: the Working Key Path, a
    list [(key ID, key)], first the key nearest the SA key. Returns
    (keying material, the new Working Key Path) or raises PolicyError."""
    key_size = crypto.KWA_KEY_SIZE[kwa]
    by_id = {}
    for w in wrap_keys:
        if w.key_id == 0:
            violate("WRAP_KEY with Key ID 0 (4.5.3.1: 'the Key ID field MUST NOT be zero')")
        by_id.setdefault(w.key_id, []).append(w)
    wkp_ids = [k for k, _ in wkp]

    def path_from(kwk_id, seen):
        """A way to the key kwk_id: ([(id, key)] of new keys, nearest
        first; where it ends: 'gsk_w' or an index in the WKP), or None."""
        if kwk_id == 0:
            return [], channel_gsk_w, "gsk_w"
        if kwk_id in wkp_ids:
            i = wkp_ids.index(kwk_id)
            return [], wkp[i][1], i
        for w in by_id.get(kwk_id, []):
            if w.kwk_id in seen:
                continue
            below = path_from(w.kwk_id, seen | {kwk_id})
            if below is None:
                continue
            path, kek, end = below
            try:
                key = crypto.kw_unwrap(kek, w.encrypted)
            except crypto.CryptoError:
                continue
            if len(key) != key_size:
                raise PolicyError(f"WRAP_KEY {w.key_id:#x} unwraps to {len(key)} octets (4.5.3.1: 'MUST be "
                                  f"equal to the key size for this key wrap algorithm', {key_size})")
            return [(w.key_id, key)] + path, key, end
        return None

    for s in sa_keys:
        if s.key_id != 0:
            violate("SA_KEY with a non-zero Key ID (4.5.2.1: 'the Key ID field MUST always be zero')")
        found = path_from(s.kwk_id, frozenset())
        if found is None:
            continue
        path, kek, end = found
        try:
            keymat = crypto.kw_unwrap(kek, s.encrypted)
        except crypto.CryptoError:
            continue
        # 3.3: how the Working Key Path follows the new Key Path
        if not path:
            new = wkp
        elif end == "gsk_w":
            new = path
        else:
            new = path + wkp[end:]
        return keymat, new
    raise PolicyError("no SA_KEY could be decrypted: no Key Path (3.3: 'the GM is excluded from the group')",
                      C.N_AUTHORIZATION_FAILED)


def wrapped_list(attrs, t, what):
    out = []
    for a in attrs_of(attrs, t):
        try:
            out.append(parse_wrapped(a.value))
        except WireError as e:
            raise PolicyError(f"{what}: {e}")
    return out
