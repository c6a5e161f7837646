# SPDX-License-Identifier: GPL-2.0-or-later
"""The RFC-text peer on its own (no groupsec code): its primitives against
published vectors, its LKH tree against RFC 9838 Appendix A's example, its
codecs round trip, and its key server and member together over loopback."""
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from lab import wait_until
from rfcpeer import consts as C
from rfcpeer import crypto, esp, ikesa, lkh, policy, wire

HERE = Path(__file__).resolve().parent


def test_rfc5649_vectors():
    # RFC 5649 section 6
    kek = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
    k20 = bytes.fromhex("c37b7e6492584340bed12207808941155068f738")
    w20 = bytes.fromhex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
    k7 = bytes.fromhex("466f7250617369")
    w7 = bytes.fromhex("afbeb0f07dfbf5419200f2ccb50bb24f")
    assert crypto.kw_wrap(kek, k20) == w20
    assert crypto.kw_wrap(kek, k7) == w7
    assert crypto.kw_unwrap(kek, w20) == k20
    assert crypto.kw_unwrap(kek, w7) == k7
    bad = bytearray(w20)
    bad[-1] ^= 1
    with pytest.raises(crypto.CryptoError):
        crypto.kw_unwrap(kek, bytes(bad))


def test_prf_and_prf_plus():
    # RFC 4231 test case 2 (HMAC-SHA-256)
    assert crypto.prf(b"Jefe", b"what do ya want for nothing?").hex() == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    # RFC 7296 2.13: T1 = prf (K, S | 0x01), T2 = prf (K, T1 | S | 0x02), ...
    k, s = b"Jefe", b"what do ya want for nothing?"
    t1 = crypto.prf(k, s + b"\x01")
    t2 = crypto.prf(k, t1 + s + b"\x02")
    t3 = crypto.prf(k, t2 + s + b"\x03")
    assert crypto.prf_plus(k, s, 80) == (t1 + t2 + t3)[:80]


def test_aes_gcm_vector():
    # McGrew/Viega GCM test case 3; RFC 4106/5282 keying material = key | salt, nonce = salt | IV
    keymat = bytes.fromhex("feffe9928665731c6d6a8f9467308308cafebabe")
    p = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255")
    out = crypto.gcm_seal(keymat, bytes.fromhex("facedbaddecaf888"), p, b"")
    assert out.hex() == ("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                         "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
                         "4d5c2af327cd64a62cf35abd2ba6fab4")


def test_esp_round_trip():
    keymat = os.urandom(36)
    pkt = esp.icmp_echo("10.2.0.1", "10.1.0.1", 7, 1)
    sealed = esp.seal(keymat, bytes.fromhex("01020304"), 5, pkt)
    assert sealed[:8] == bytes.fromhex("0102030400000005")
    seq, nh, inner = esp.open_(keymat, sealed)
    assert (seq, nh, inner) == (5, 4, pkt)
    assert esp.parse_ipv4(inner)[:4] == ("10.2.0.1", "10.1.0.1", 1, 8)


def test_gsa_and_kd_round_trip():
    pol = wire.GsaPolicy(C.GIKE_UPDATE, bytes(range(16)), wire.TS("192.0.2.1", "192.0.2.1", 17, 848, 848),
                         wire.TS("239.192.0.1", "239.192.0.1", 17, 848, 848),
                         [wire.Transform(C.T_ENCR, C.ENCR_AES_GCM_16, [wire.tv(C.TA_KEY_LENGTH, 256)]),
                          wire.Transform(C.T_KWA, C.KW_5649_256)],
                         [wire.tlv(C.GSA_KEY_LIFETIME, struct.pack(">I", 60))])
    gw = wire.GwPolicy([wire.tv(C.GWP_DTD, 3)])
    got = wire.parse_gsa(wire.encode_gsa([pol, gw]))
    assert got[0] == pol and got[1] == gw
    assert policy.check_kek(got[0], registration=False)[4] == 36 + 32
    bags = [wire.GroupKeyBag(C.PROTO_ESP, b"\1\2\3\4", [wire.tlv(C.SA_KEY, bytes(40))]),
            wire.MemberKeyBag([wire.tlv(C.WRAP_KEY, bytes(48))])]
    assert wire.parse_kd(wire.encode_kd(bags)) == bags
    with pytest.raises(wire.WireError):
        wire.parse_gsa(wire.encode_gsa([pol])[:-1])


def test_signed_rekey_octets():
    """2.4.1.1: A | P with the adjusted lengths and the signature zeroed; a
    member recomputes the same octets from what it received."""
    key = ec.generate_private_key(ec.SECP256R1())
    hdr = wire.Header(bytes(8), bytes(range(8)), C.SK, C.GSA_REKEY, C.F_INITIATOR, 3)
    algid = crypto.ECDSA_SHA256_ALGID
    body = [wire.Payload(C.DELETE, wire.Delete(C.PROTO_ESP, [bytes(4)]).encode())]
    for n in range(40):
        zero = wire.Payload(C.AUTH, wire.encode_auth(14, bytes([len(algid)]) + algid + bytes(72)))
        first, inner = wire.encode_chain(body + [zero])
        sig = crypto.sign(key, ikesa.rekey_signed_octets(hdr, first, inner))
        if len(sig) == 72:
            break
    assert len(sig) == 72
    first, inner = wire.encode_chain(body + [wire.Payload(C.AUTH, wire.encode_auth(
        14, bytes([len(algid)]) + algid + sig))])
    zeroed, got_alg, got_sig = ikesa.zero_signature(inner, first)
    assert (got_alg, got_sig) == (algid, sig)
    signed = ikesa.rekey_signed_octets(hdr, first, zeroed)
    assert struct.unpack(">I", signed[24:28])[0] == 28 + 4 + len(inner)
    assert struct.unpack(">H", signed[30:32])[0] == 4 + len(inner)
    assert crypto.verify(crypto.spki_der(key), algid, sig, signed)
    assert not crypto.verify(crypto.spki_der(key), algid, sig, signed[:-1] + b"\1")


def test_lkh_follows_appendix_a():
    """Appendix A: eight members A..H join in order (Key IDs 1..14 as in the
    figure); F is excluded: keys 2 and 5 become 15 and 16, the KD is
    'KD(GP(SA3)(1{K_sa3},15{K_sa3}),MP(6{15},16{15},11{16})', and the
    Working Key Paths end as the RFC lists them."""
    gsk = {m: os.urandom(32) for m in "ABCDEFGH"}
    t = lkh.Tree(3, 32)
    wkp = {}
    k_sa1 = os.urandom(68)
    for m in "ABCDEFGH":
        t.join(m)
        wraps, top = t.registration_wraps(m, gsk[m], crypto.kw_wrap)
        sa_key = wire.WrappedKey(0, top[0], crypto.kw_wrap(top[1], k_sa1))
        keymat, wkp[m] = policy.unwrap_keys(C.KW_5649_256, gsk[m], [sa_key], wraps, [])
        assert keymat == k_sa1
    assert [i for i, _ in wkp["A"]] == [1, 3, 7] and [i for i, _ in wkp["F"]] == [2, 5, 12]
    wraps, tops = t.evict("F", crypto.kw_wrap)
    assert [(w.key_id, w.kwk_id) for w in wraps] == [(15, 16), (15, 6), (16, 11)]
    assert [i for i, _ in tops] == [1, 15]
    k_sa3, gsk_w_sa1 = os.urandom(68), os.urandom(32)
    sa_keys = [wire.WrappedKey(0, kid, crypto.kw_wrap(key, k_sa3)) for kid, key in tops]
    want = {"A": [1, 3, 7], "D": [1, 4, 10], "E": [15, 16, 11], "G": [15, 6, 13], "H": [15, 6, 14]}
    for m in "ABCDEGH":
        keymat, new = policy.unwrap_keys(C.KW_5649_256, gsk_w_sa1, sa_keys, wraps, wkp[m])
        assert keymat == k_sa3
        if m in want:
            assert [i for i, _ in new] == want[m], m
    with pytest.raises(policy.PolicyError):
        policy.unwrap_keys(C.KW_5649_256, gsk_w_sa1, sa_keys, wraps, wkp["F"])


def _start(tmp, name, cfg):
    d = tmp / name
    d.mkdir()
    cfg = {**cfg, "dir": str(d)}
    (d / "cfg.json").write_text(json.dumps(cfg))
    p = subprocess.Popen([sys.executable, "-m", "rfcpeer", str(d / "cfg.json")], cwd=HERE,
                         stdout=open(d / "out.log", "w"), stderr=subprocess.STDOUT)
    return p, d


def _status(d):
    try:
        return json.loads((d / "status.json").read_text())
    except (OSError, ValueError):
        return {}


def _cmd(d, **cmd):
    f = d / "ctl" / f"cmd-{time.monotonic_ns()}.json"
    f.with_suffix(".tmp").write_text(json.dumps(cmd))
    os.replace(f.with_suffix(".tmp"), f)


def test_python_key_server_and_members_over_loopback(tmp_path):
    """The two roles of the peer together (127.0.0.x, high ports):
    registration, a signed rekey, an eviction through the tree (the
    evicted member has no Key Path), exclusion by Delete(GIKE_UPDATE, 0)
    and registration again."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ks.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    port = 20000 + os.getpid() % 20000
    common = {"port": port, "esp_port": port + 1, "group_id": 1234}
    procs = []
    try:
        ks, ksd = _start(tmp_path, "ks", {**common, "role": "ks", "listen": "127.0.0.1", "local_id": "ks.test",
                                         "sign_key": str(tmp_path / "ks.key"), "multicast": "239.192.0.1",
                                         "rekey_unicast": True, "dtd": 1,
                                         "psks": {"a.test": "pa", "b.test": "pb", "c.test": "pc"}})
        procs.append(ks)
        wait_until("ks ready", lambda: _status(ksd).get("ready"), timeout=10, interval=0.05)
        gms = {}
        for i, m in enumerate("abc"):
            p, d = _start(tmp_path, m, {**common, "role": "gm", "local_addr": f"127.0.0.{2 + i}",
                                        "local_id": f"{m}.test", "server": "127.0.0.1", "server_id": "ks.test",
                                        "psk": f"p{m}"})
            procs.append(p)
            gms[m] = d
        for m, d in gms.items():
            wait_until(f"{m} registered", lambda: _status(d).get("registered"), timeout=10, interval=0.05)
            st = _status(d)
            assert st["auth_key"] and len(st["wkp"]) == 3 and not st["errors"], st
        _cmd(ksd, cmd="rekey")
        for m, d in gms.items():
            wait_until(f"{m} applies the rekey", lambda: _status(d).get("rekeys") == 1, timeout=10, interval=0.05)
        tek = _status(ksd)["tek_spi"]
        assert all(_status(d)["tek_spis"][-1:] == [tek] or tek in _status(d)["tek_spis"] for d in gms.values())
        _cmd(ksd, cmd="evict", member="c.test")
        for m in "ab":
            wait_until(f"{m} follows the eviction", lambda: _status(gms[m]).get("rekeys") == 3, timeout=10,
                       interval=0.05)
            assert _status(gms[m])["kek_spi"] == _status(ksd)["kek_spi"]
        wait_until("c has no Key Path", lambda: _status(gms["c"]).get("excluded") == "key path", timeout=10,
                   interval=0.05)
        new_tek = _status(ksd)["tek_spi"]
        assert new_tek not in _status(gms["c"])["tek_spis"]
        regs = {m: _status(d)["registrations"] for m, d in gms.items()}
        _cmd(ksd, cmd="exclude")
        for m in "ab":
            wait_until(f"{m} registers again after Delete(GIKE_UPDATE, 0)",
                       lambda: _status(gms[m]).get("registrations") == regs[m] + 1, timeout=15, interval=0.05)
        assert {"protocol": C.GIKE_UPDATE, "spis": ["00" * 16]} in _status(gms["a"])["deletes"]
        assert "c.test" not in _status(ksd)["registered"]
        assert not _status(ksd)["errors"], _status(ksd)["errors"]
    finally:
        for p in procs:
            p.kill()
            p.wait()
