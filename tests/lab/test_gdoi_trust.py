# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared trust lists (docs/trust-lists.md): authentication without a CA.

A (no router, a person with a key) has checked the certificates of the key
server (ks) and of the member (gm1), each self-signed, and vouches for them
in a signed list: ks as key server, gm1 as member, of every group. Both
routers import A's list with gstrust, trusting A alone; no CA is installed
anywhere and neither router holds the other's certificate. gm1 registers
with ks, each authenticating the other by the certificate from the list.
gm1 disables the list: its next registration, on a new IKE SA after a
restart, fails (no trusted key of ks.example.net); enabled again, gm1
registers again.
"""
import json

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, registered

LIST = "lab-community"


def ossl(*args):
    labmod.run(["openssl", *map(str, args)])


def self_signed(pki, name, san=True):
    """An ECDSA P-256 key (PKCS#8) and a self-signed certificate."""
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pki / f"{name}.sec1")
    ossl("pkcs8", "-topk8", "-nocrypt", "-in", pki / f"{name}.sec1", "-out", pki / f"{name}.key")
    ext = ["-addext", f"subjectAltName=DNS:{name}.example.net",
           "-addext", "keyUsage=critical,digitalSignature"] if san else []
    ossl("req", "-x509", "-new", "-key", pki / f"{name}.key", "-days", "30",
         "-subj", f"/O=groupsec lab/CN={name}.example.net", *ext, "-out", pki / f"{name}.crt")


def gstrust(lab, *args, check=True):
    return labmod.run([lab.ss / "sbin" / "gstrust", *map(str, args)], check=check)


def trust_dir(router):
    return router.dir / "trust"


def member_log(router):
    return (router.dir / "charon.log").read_text()


@pytest.fixture(scope="module")
def tlab():
    lab = labmod.gdoi_lab("gstrust", members=1)
    with lab:
        ks, gm1 = lab["ks"], lab["gm1"]
        pki = lab.dir / "pki-trust"
        pki.mkdir(exist_ok=True)
        for name in ("A", "ks", "gm1"):
            self_signed(pki, name, san=name != "A")
        # A vouches for both, for every group
        gstrust(lab, "create", "--name", LIST, "--signer", pki / "A.crt", "--key", pki / "A.key",
                "--sign-entries", "--cert", pki / "ks.crt", "--uses", "key-server",
                "--cert", pki / "gm1.crt", "--uses", "member", "--out", pki / f"{LIST}.cms")
        for r in (ks, gm1):
            # its own certificate and key only: no CA, not the peer's certificate
            labmod.install_creds(r, pki, ca=False, cert=f"{r.name}.crt", key=f"{r.name}.key")
            gstrust(lab, "--dir", trust_dir(r), "import", pki / f"{LIST}.cms", "--signer", pki / "A.crt")
        server = labmod.gdoi_server_conf(ks, [gm1]).replace("\t\tauth = psk", "\t\tauth = pubkey")
        member = labmod.gdoi_member_conf(gm1, ks, []).replace("\t\tauth = psk", "\t\tauth = pubkey")
        labmod.gdoi_charon(ks, server, "", plugin_extra=f"trust_dir = {trust_dir(ks)}")
        labmod.gdoi_charon(gm1, member, "", plugin_extra=f"trust_dir = {trust_dir(gm1)}")
        labmod.start_gdoi_charon(ks)
        labmod.start_gdoi_charon(gm1)
        lab.pki = pki
        yield lab


def test_no_ca_is_installed(tlab):
    for r in (tlab["ks"], tlab["gm1"]):
        assert not any((r.dir / "x509ca").iterdir()), f"{r.name} has a CA"
        assert [p.name for p in (r.dir / "x509").iterdir()] == [f"{r.name}.crt"]
    listed = json.loads(gstrust(tlab, "--dir", trust_dir(tlab["gm1"]), "--json", "list").stdout)
    assert [(c["name"], c["state"], c["certificates"]) for c in listed["collections"]] == [(LIST, "enabled", 2)]


def test_member_registers_with_a_key_server_vouched_for_in_the_list(tlab):
    ks, gm1 = tlab["ks"], tlab["gm1"]
    wait_until("gm1 registered", lambda: registered(gm1), timeout=30)
    assert "1 trust list(s), 2 trusted certificate(s)" in member_log(gm1)
    members = labmod.gdoictl(ks, "members", GROUP)
    assert [m["id"] for m in members["members"]] == ["gm1.example.net"], members


def restart_charon(router):
    p = router.procs["charon"]
    p.terminate()
    p.wait(timeout=10)
    labmod.start_gdoi_charon(router)


def test_disabling_the_list_makes_the_next_registration_fail(tlab):
    ks, gm1 = tlab["ks"], tlab["gm1"]
    wait_until("gm1 registered", lambda: registered(gm1), timeout=30)
    refusal = "key of 'ks.example.net' verifies the signature"
    refusals = member_log(gm1).count(refusal)
    gstrust(tlab, "--dir", trust_dir(gm1), "disable", LIST)
    gm1.swanctl("--reload-settings")
    wait_until("gm1 read the store again",
               lambda: "1 trust list(s), 0 trusted certificate(s)" in member_log(gm1), timeout=10)
    # the G-IKEv2 SA authenticated before stays; the next registration
    # authenticates the key server again, on a new IKE SA: after a restart,
    # which keeps the store (the list stays disabled)
    restart_charon(gm1)
    wait_until("gm1 refuses the key server's AUTH", lambda: member_log(gm1).count(refusal) > refusals,
               timeout=30)
    assert not registered(gm1)
    listed = json.loads(gstrust(tlab, "--dir", trust_dir(gm1), "--json", "list").stdout)
    assert [(c["name"], c["state"]) for c in listed["collections"]] == [(LIST, "disabled")]

    # enabled again: the next attempt registers
    gstrust(tlab, "--dir", trust_dir(gm1), "enable", LIST)
    gm1.swanctl("--reload-settings")

    def registers():
        if registered(gm1):
            return True
        labmod.gdoictl(gm1, "reregister", GROUP, check=False, as_json=False)
        return False
    wait_until("gm1 registered again", registers, timeout=60, interval=2)
    members = labmod.gdoictl(ks, "members", GROUP)
    assert [m["id"] for m in members["members"]] == ["gm1.example.net"], members
