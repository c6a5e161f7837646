# SPDX-License-Identifier: GPL-2.0-or-later
"""IKE SA keys (RFC 7296 2.14), the Encrypted payload with AES-GCM
(RFC 7296 3.14, RFC 5282), AUTH with a PSK (RFC 7296 2.15), GSK_w
(RFC 9838 3.1.1) and the GSA_REKEY signature input (RFC 9838 2.4.1.1)."""
import struct

from . import consts as C
from . import crypto
from .wire import HDR_LEN, Header, Payload, WireError, encode_chain, parse_chain, parse_header

ICV = 16
IV = 8


def seal(keymat, hdr, payloads, iv=None):
    """The message hdr, SK{payloads}: AES-GCM-16 (RFC 5282), AAD = the IKE
    header and the Encrypted payload's generic header."""
    first, inner = encode_chain(payloads)
    iv = iv if iv is not None else crypto.random_bytes(IV)
    plain = inner + b"\x00"  # no padding, Pad Length 0 (RFC 5282 3)
    sk_len = 4 + IV + len(plain) + ICV
    hdr.next_payload = C.SK
    h = hdr.encode(HDR_LEN + sk_len)
    sk_hdr = struct.pack(">BBH", first if payloads else C.NO_NEXT, 0, sk_len)
    return h + sk_hdr + iv + crypto.gcm_seal(keymat, iv, plain, h + sk_hdr)


def open_sk(keymat, data):
    """(header, inner payloads, inner plaintext without padding) of a
    protected message; raises WireError or crypto.CryptoError."""
    hdr = parse_header(data)
    chain = parse_chain(hdr.next_payload, data[HDR_LEN:])
    if not chain or chain[-1].type != C.SK:
        raise WireError("no Encrypted payload")
    sk = chain[-1]
    if len(chain) != 1:
        raise WireError("payloads before the Encrypted payload")
    if len(sk.body) < IV + ICV + 1:
        raise WireError("Encrypted payload too short")
    aad = data[:HDR_LEN + 4]
    plain = crypto.gcm_open(keymat, sk.body[:IV], sk.body[IV:], aad)
    pad = plain[-1]
    if pad + 1 > len(plain):
        raise WireError("Pad Length beyond the plaintext")
    inner = plain[:-1 - pad]
    return hdr, parse_chain(sk.next_type, inner), inner, sk.next_type


def rekey_signed_octets(hdr, first_inner, inner):
    """RFC 9838 2.4.1.1: DataToAuthenticate = A | P, A = AdjustedIKEHDR |
    AdjustedEncPldHdr with AdjustedLen = |A| + |P| and AdjustedPldLen =
    |P| + 4; P = the inner payloads in clear, the AUTH payload in it with
    its Authentication Data zeroed."""
    adj_len = HDR_LEN + 4 + len(inner)
    h = Header(hdr.spi_i, hdr.spi_r, C.SK, hdr.exchange, hdr.flags, hdr.message_id, version=hdr.version)
    return h.encode(adj_len) + struct.pack(">BBH", first_inner, 0, 4 + len(inner)) + inner


def zero_signature(inner, first):
    """inner with the signature octets of its AUTH payload (RFC 7427:
    ASN.1 Length (1) | AlgorithmIdentifier | signature) zeroed; also
    returns (algid, signature)."""
    off, nxt = 0, first
    while nxt != C.NO_NEXT:
        n, _, length = struct.unpack(">BBH", inner[off:off + 4])
        if nxt == C.AUTH:
            body = inner[off + 4:off + length]
            if len(body) < 5 or body[0] != C.AUTH_DIGITAL_SIGNATURE:
                raise WireError("AUTH: not Digital Signature (method 14)")
            alen = body[4]
            if 5 + alen > len(body):
                raise WireError("AUTH: AlgorithmIdentifier beyond the payload")
            algid, sig = body[5:5 + alen], body[5 + alen:]
            start = off + 4 + 5 + alen
            return inner[:start] + bytes(len(sig)) + inner[off + length:], algid, sig
        off += length
        nxt = n
    raise WireError("no AUTH payload")


class IkeSA:
    """One IKE SA with PRF_HMAC_SHA2_256 and ENCR_AES_GCM_16 (256-bit key)."""

    def __init__(self, initiator, spi_i, spi_r=bytes(8)):
        self.initiator = initiator
        self.spi_i, self.spi_r = spi_i, spi_r
        self.next_mid = 0  # our next request's Message ID
        self.peer_mid = 0  # the next request we expect
        self.keys = None
        self.last_response = None  # (request message id, octets)

    def derive(self, ni, nr, shared, kwa=C.KW_5649_256):
        """RFC 7296 2.14: SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai |
        SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr |
        SPIi | SPIr). RFC 5282: for AES-GCM SK_a is empty and SK_e is the
        key and the 4-octet salt. RFC 9838 3.1.1: GSK_w = prf+(SK_d, "Key
        Wrap for G-IKEv2")."""
        seed = crypto.prf(ni + nr, shared)
        km = crypto.prf_plus(seed, ni + nr + self.spi_i + self.spi_r, 32 + 36 + 36 + 32 + 32)
        self.sk_d, self.sk_ei, self.sk_er = km[:32], km[32:68], km[68:104]
        self.sk_pi, self.sk_pr = km[104:136], km[136:168]
        self.gsk_w = crypto.prf_plus(self.sk_d, b"Key Wrap for G-IKEv2", crypto.KWA_KEY_SIZE[kwa])
        self.keys = True

    def protect(self, exchange, response, message_id, payloads):
        flags = (C.F_INITIATOR if self.initiator else 0) | (C.F_RESPONSE if response else 0)
        hdr = Header(self.spi_i, self.spi_r, 0, exchange, flags, message_id)
        return seal(self.sk_ei if self.initiator else self.sk_er, hdr, payloads)

    def unprotect(self, data):
        return open_sk(self.sk_er if self.initiator else self.sk_ei, data)[:2]

    def auth_octets(self, own_init_message, peer_nonce, id_body, initiator_side):
        """RFC 7296 2.15: RealMessage | Nonce of the peer | prf(SK_p, ID body)."""
        sk_p = self.sk_pi if initiator_side else self.sk_pr
        return own_init_message + peer_nonce + crypto.prf(sk_p, id_body)


def psk_auth(psk, octets):
    """RFC 7296 2.15: prf(prf(Shared Secret, "Key Pad for IKEv2"), octets)."""
    return crypto.prf(crypto.prf(psk, b"Key Pad for IKEv2"), octets)


def unprotected(spi_i, spi_r, exchange, flags, message_id, payloads):
    first, body = encode_chain(payloads)
    return Header(spi_i, spi_r, first, exchange, flags, message_id).encode(HDR_LEN + len(body)) + body


__all__ = ["IkeSA", "seal", "open_sk", "psk_auth", "unprotected", "rekey_signed_octets", "zero_signature",
           "Payload", "WireError"]
