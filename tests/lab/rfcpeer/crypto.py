# SPDX-License-Identifier: GPL-2.0-or-later
"""The primitives, from their RFCs: prf and prf+ (RFC 7296 2.13), AES key
wrap with padding (RFC 5649), AES-GCM for SK (RFC 5282) and ESP (RFC 4106),
Diffie-Hellman groups 19 (RFC 5903) and 31 (RFC 8031), ECDSA signatures
(RFC 7427). python3-cryptography 38 APIs only."""
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidSignature, InvalidTag

from . import consts as C


class CryptoError(Exception):
    pass


def prf(key, data):
    """PRF_HMAC_SHA2_256 (RFC 4868)."""
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key, seed, length):
    """RFC 7296 2.13: prf+ (K,S) = T1 | T2 | ..., T1 = prf (K, S | 0x01),
    Tn = prf (K, Tn-1 | S | n)."""
    out, t, n = b"", b"", 1
    while len(out) < length:
        if n > 255:
            raise CryptoError("prf+ asked for more than 255 blocks")
        t = prf(key, t + seed + bytes([n]))
        out += t
        n += 1
    return out[:length]


# --- RFC 5649: AES Key Wrap with Padding, written from the RFC's 4.1/4.2

_AIV = bytes.fromhex("A65959A6")


def _aes_ecb(key, block, decrypt=False):
    c = Cipher(algorithms.AES(key), modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(block) + op.finalize()


def kw_wrap(kek, plain):
    """RFC 5649 4.1: AIV = A65959A6 | MLI (32 bits); pad to a multiple of 8."""
    if not plain:
        raise CryptoError("nothing to wrap")
    mli = len(plain)
    p = plain + bytes((8 - mli % 8) % 8)
    aiv = _AIV + struct.pack(">I", mli)
    if len(p) == 8:
        return _aes_ecb(kek, aiv + p)
    r = [p[i:i + 8] for i in range(0, len(p), 8)]
    a, n = aiv, len(r)
    for j in range(6):
        for i in range(n):
            b = _aes_ecb(kek, a + r[i])
            t = n * j + i + 1
            a = (int.from_bytes(b[:8], "big") ^ t).to_bytes(8, "big")
            r[i] = b[8:]
    return a + b"".join(r)


def kw_unwrap(kek, wrapped):
    """RFC 5649 4.2, with its integrity checks; raises CryptoError."""
    if len(wrapped) < 16 or len(wrapped) % 8:
        raise CryptoError(f"wrapped key of {len(wrapped)} octets")
    n = len(wrapped) // 8 - 1
    if n == 1:
        b = _aes_ecb(kek, wrapped, decrypt=True)
        a, p = b[:8], b[8:]
    else:
        a = wrapped[:8]
        r = [wrapped[8 + 8 * i:16 + 8 * i] for i in range(n)]
        for j in range(5, -1, -1):
            for i in range(n - 1, -1, -1):
                t = n * j + i + 1
                a_t = (int.from_bytes(a, "big") ^ t).to_bytes(8, "big")
                b = _aes_ecb(kek, a_t + r[i], decrypt=True)
                a, r[i] = b[:8], b[8:]
        p = b"".join(r)
    if a[:4] != _AIV:
        raise CryptoError("key wrap integrity check failed")
    mli = struct.unpack(">I", a[4:])[0]
    if not 8 * (n - 1) < mli <= 8 * n or any(p[mli:]):
        raise CryptoError("key wrap length indicator or padding wrong")
    return p[:mli]


KWA_KEY_SIZE = {C.KW_5649_128: 16, C.KW_5649_192: 24, C.KW_5649_256: 32}


# --- AES-GCM with a 16-octet ICV: SK (RFC 5282) and ESP (RFC 4106) use
# key | 4-octet salt as keying material, nonce = salt | 8-octet IV

def gcm_seal(keymat, iv, plain, aad):
    key, salt = keymat[:-4], keymat[-4:]
    return AESGCM(key).encrypt(salt + iv, plain, aad)


def gcm_open(keymat, iv, sealed, aad):
    key, salt = keymat[:-4], keymat[-4:]
    try:
        return AESGCM(key).decrypt(salt + iv, sealed, aad)
    except InvalidTag:
        raise CryptoError("ICV check failed") from None


def random_bytes(n):
    return os.urandom(n)


# --- Diffie-Hellman

class DH:
    """One side of a key exchange in group 19 or 31."""

    def __init__(self, group):
        self.group = group
        if group == C.DH_CURVE25519:
            self._priv = x25519.X25519PrivateKey.generate()
            self.public = self._priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                               serialization.PublicFormat.Raw)
        elif group == C.DH_ECP256:
            self._priv = ec.generate_private_key(ec.SECP256R1())
            pt = self._priv.public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
            self.public = pt[1:]  # RFC 5903 7: x | y, without the 04 octet
        else:
            raise CryptoError(f"DH group {group} not supported")

    def shared(self, peer):
        if self.group == C.DH_CURVE25519:
            if len(peer) != 32:
                raise CryptoError("Curve25519 KE data is 32 octets")
            s = self._priv.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
            if not any(s):
                raise CryptoError("all-zero Curve25519 result (RFC 8031 2.3)")
            return s
        if len(peer) != 64:
            raise CryptoError("ECP-256 KE data is 64 octets")
        try:
            pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + peer)
        except ValueError:
            raise CryptoError("ECP-256 point not on the curve") from None
        return self._priv.exchange(ec.ECDH(), pub)  # the x coordinate (RFC 5903 7)


# --- signatures: ECDSA P-256 with SHA-256 (RFC 7427 A.4.3 AlgorithmIdentifier)

ECDSA_SHA256_ALGID = bytes.fromhex("300a06082a8648ce3d040302")


def load_private_key(pem):
    return serialization.load_pem_private_key(pem, password=None)


def spki_der(private_key):
    """RFC 9838 4.5.3.2: AUTH_KEY is a DER SubjectPublicKeyInfo."""
    return private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(private_key, data):
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise CryptoError("only ECDSA keys sign here")
    return private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify(spki, algid, signature, data):
    """True when signature (DER ECDSA-Sig-Value) over data verifies with the
    public key in spki under the algorithm algid names."""
    if algid != ECDSA_SHA256_ALGID:
        raise CryptoError(f"signature algorithm {algid.hex()} not supported")
    try:
        pub = serialization.load_der_public_key(spki)
    except ValueError:
        raise CryptoError("AUTH_KEY is no SubjectPublicKeyInfo") from None
    if not isinstance(pub, ec.EllipticCurvePublicKey):
        raise CryptoError("AUTH_KEY does not match the ECDSA signature algorithm")
    try:
        pub.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False
