# SPDX-License-Identifier: GPL-2.0-or-later
"""gstrust fetch against real peers (docs/trust-lists.md "Fetch"): one
IKE_SA_INIT to charon on port 500 and to the groupsec key server on port
848, then abandoned. The tool shows the proposal each peer chose, the CA
charon asks for (CERTREQ: the lab CA's key hash), NAT detection (none in
front of us; charon on kernel-libipsec fakes its own to force UDP
encapsulation; the key server without NAT traversal port sends none); the responder's half-open IKE SA is there after the fetch
and gone once it timed out, on both. Neither responder sends its
certificate before it has authenticated the initiator, so the fetch shows
none.
"""
import hashlib
import json
import subprocess

import lab as labmod
import pytest
from lab import wait_until


def ks_conn(ks):
    """A plain IKEv2 responder configuration on the key server (any peer,
    certificates)."""
    return f"""\
connections {{
	from-any {{
		version = 2
		local_addrs = {ks.addr}
		remote_addrs = %any
		proposals = aes256gcm16-prfsha256-x25519
		local {{
			auth = pubkey
			certs = ks.crt
			id = ks.example.net
		}}
		remote {{
			auth = pubkey
		}}
	}}
}}
"""


@pytest.fixture(scope="module")
def flab():
    lab = labmod.gdoi_lab("gstfetch", members=1)
    with lab:
        ks, gm = lab["ks"], lab["gm1"]
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, labmod.gdoi_server_conf(ks, [gm]), labmod.gdoi_secrets(ks, [gm.name]) + ks_conn(ks))
        labmod.start_gdoi_charon(ks)
        ks.swanctl("--load-conns", "--file", ks.dir / "swanctl.conf")
        lab.pki = pki
        yield lab


def fetch(lab, *args, check=True):
    gm = lab["gm1"]
    return gm.run([lab.ss / "sbin" / "gstrust", *map(str, args)], check=check)


def fetched(lab, port):
    return json.loads(fetch(lab, "--json", "fetch", lab["ks"].addr, "--port", port).stdout)


def ca_key_hash(pki):
    """SHA-1 of the lab CA's SubjectPublicKeyInfo (the CERTREQ authority)."""
    pem = subprocess.run(["openssl", "x509", "-in", pki / "ca.crt", "-noout", "-pubkey"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, check=True,
                         capture_output=True).stdout
    return hashlib.sha1(der).hexdigest()


def charon_sas(ks):
    """charon's IKE SAs on the key server (half-open ones too)."""
    return [line for line in ks.swanctl("--list-sas").splitlines() if line and not line.startswith((" ", "\t"))]


def ks_half_open(ks):
    return labmod.gdoictl(ks, "version")["ikeSas"]["halfOpen"]


def test_fetch_from_charon_leaves_no_ike_sa(flab):
    ks = flab["ks"]
    assert not charon_sas(ks)
    r = fetched(flab, 500)
    assert r["protocol"] == "IKEv2" and r["peer"] == f"{ks.addr}[500]"
    # the one proposal from-any allows
    assert r["proposal"] == ["ENCR_AES_GCM_16-256", "PRF_HMAC_SHA2_256", "CURVE_25519"]
    assert r["certreq"] == [ca_key_hash(flab.pki)]
    # no NAT in front of us; charon on kernel-libipsec fakes its source
    # hash (RFC 7296 2.23 allows it) to have ESP in UDP, which libipsec
    # needs: the peer "is behind a NAT", though it answered from where we sent
    assert r["nat_detection"] and not r["nat_local"]
    assert r["nat_remote"] == (ks.dataplane != "xfrm")
    assert r["answered_from"] == f"{ks.addr}[500]" and not r["source_changed"]
    assert r["fragmentation"] and r["signature_hashes"]
    assert r["certificate"] is None
    # abandoned: charon holds the half-open SA until it times out
    assert charon_sas(ks), "no half-open IKE SA on charon after the fetch"
    wait_until("charon's half-open IKE SA timed out", lambda: not charon_sas(ks), timeout=90)


def test_fetch_from_the_key_server_leaves_no_ike_sa(flab):
    ks = flab["ks"]
    assert ks_half_open(ks) == 0
    r = fetched(flab, 848)
    assert r["protocol"] == "G-IKEv2" and r["answered_from"] == f"{ks.addr}[848]"
    assert r["proposal"][:3] == ["ENCR_AES_GCM_16-256", "PRF_HMAC_SHA2_256", "CURVE_25519"]
    assert r["proposal"][3].startswith("KWA_")
    # no NAT traversal port configured: the key server sends no NAT detection
    assert not r["nat_detection"] and not r["nat_local"] and not r["nat_remote"]
    assert r["certreq"] == [] and r["certificate"] is None
    assert ks_half_open(ks) == 1
    wait_until("the key server's half-open IKE SA timed out", lambda: ks_half_open(ks) == 0, timeout=90)
    # the key server's charon saw nothing of it
    assert not charon_sas(ks)


def test_fetch_text_and_bad_input(flab):
    ks = flab["ks"]
    out = fetch(flab, "fetch", ks.addr, "--port", "848").stdout
    assert "proposal:       ENCR_AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519/KWA_" in out
    assert "NAT:            not detected (no NAT detection payloads)" in out
    assert "peer:           192.0.2.1[848] (G-IKEv2)" in out
    for args, msg in ((["not-an-address"], "is not an IPv4 or IPv6 address"),
                      ([ks.addr, "--dh", "14"], "--dh is 19"),
                      ([ks.addr, "--port", "0"], "--port needs")):
        p = fetch(flab, "fetch", *args, check=False)
        assert p.returncode == 2 and msg in p.stderr, p.stderr
    # nobody on that port: a clear error, after the timeout
    p = fetch(flab, "fetch", ks.addr, "--port", "4444", "--timeout", "2", check=False)
    assert p.returncode == 1 and "no answer from" in p.stderr
