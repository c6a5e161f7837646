# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared trust lists in charon: policies per group and use, conditions,
enveloped lists, bad input (docs/trust-lists.md).

A (router gm2, a plain IKEv2 peer) vouches for B (gm1), C (ks) and D (a
certificate without a router), each self-signed; no CA anywhere. C, the
key server of group blue, imports A's list naming B as a member of blue.
B gets A's list enveloped for B alone, naming C as key server of blue and
as IKEv2 peer of B's connection to-ks: C cannot open it. B first holds a
list of A's naming C for group red only: its registration to blue fails.
With the enveloped list B registers, each side authenticated by the other's
certificate from A's lists. B then makes that list conditional on its IKE
SA with A (connected:gm2.example.net), through gdoictl trust (and, before,
on its registration: registered:blue): without that SA the next
registration fails; with it B registers, and its plain IKEv2 SA with C
comes up; when the SA with A goes down the list lapses, and B closes the
IKE SA with C, whose peer is no longer trusted.
"""
import json

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, registered
from test_gdoi_trust import gstrust, member_log, restart_charon, self_signed, trust_dir

FOR_C = "for-c"         # A's list that C (ks) imports
FOR_B = "for-b"         # A's list for B (gm1), enveloped for B
RED_ONLY = "red-only"   # A's list naming C as key server of group red only
A_ID = "gm2.example.net"


def plain_conn(name, local, remote, local_id, remote_id, cert):
    """A plain IKEv2 connection authenticated by certificates, one CHILD_SA
    between the two routers' LANs."""
    return f"""\
	{name} {{
		version = 2
		local_addrs = {local.addr}
		remote_addrs = {remote.addr}
		proposals = aes128gcm16-prfsha256-x25519
		local {{
			auth = pubkey
			certs = {cert}
			id = {local_id}
		}}
		remote {{
			auth = pubkey
			id = {remote_id}
		}}
		children {{
			{name} {{
				local_ts = {local.lan_prefix}
				remote_ts = {remote.lan_prefix}
				esp_proposals = aes128gcm16
			}}
		}}
	}}
"""


def ike_sas(router, conn):
    out = router.swanctl("--list-sas", "--ike", conn)
    return [line for line in out.splitlines() if line.startswith(f"{conn}:") and "ESTABLISHED" in line]


def listed(router):
    return json.loads(gstrust(router.lab, "--dir", trust_dir(router), "--json", "list").stdout)["collections"]


@pytest.fixture(scope="module")
def plab():
    lab = labmod.gdoi_lab("gstpol", members=2)
    with lab:
        ks, b, a = lab["ks"], lab["gm1"], lab["gm2"]
        pki = lab.dir / "pki-trust"
        pki.mkdir(exist_ok=True)
        for name in ("ks", "gm1", "gm2", "D"):
            self_signed(pki, name)
        signer = ["--signer", pki / "gm2.crt", "--key", pki / "gm2.key", "--sign-entries"]
        gstrust(lab, "create", "--name", FOR_C, *signer,
                "--cert", pki / "gm1.crt", "--groups", f"{GROUP},from-gm1", "--uses", "member,ike",
                "--cert", pki / "D.crt", "--groups", GROUP, "--uses", "member",
                "--out", pki / f"{FOR_C}.cms")
        gstrust(lab, "create", "--name", FOR_B, *signer,
                "--cert", pki / "ks.crt", "--groups", f"{GROUP},to-ks", "--uses", "key-server,ike",
                "--cert", pki / "D.crt", "--groups", GROUP, "--uses", "member",
                "--recipient", pki / "gm1.crt", "--out", pki / f"{FOR_B}.cms")
        gstrust(lab, "create", "--name", RED_ONLY, *signer,
                "--cert", pki / "ks.crt", "--groups", "red", "--uses", "key-server",
                "--out", pki / f"{RED_ONLY}.cms")
        # each holds its own certificate and key; B and A also each other's
        # (the certificates they checked in person), nobody a CA
        labmod.install_creds(ks, pki, ca=False, cert="ks.crt", key="ks.key")
        labmod.install_creds(b, pki, ca=False, cert="gm1.crt", key="gm1.key", certs=["gm2.crt"])
        labmod.install_creds(a, pki, ca=False, cert="gm2.crt", key="gm2.key", certs=["gm1.crt"])
        gstrust(lab, "--dir", trust_dir(ks), "import", pki / f"{FOR_C}.cms", "--signer", pki / "gm2.crt")
        gstrust(lab, "--dir", trust_dir(b), "import", pki / f"{RED_ONLY}.cms", "--signer", pki / "gm2.crt")

        server = labmod.gdoi_server_conf(ks, [b]).replace("\t\tauth = psk", "\t\tauth = pubkey")
        member = labmod.gdoi_member_conf(b, ks, []).replace("\t\tauth = psk", "\t\tauth = pubkey")
        conns = {
            ks: plain_conn("from-gm1", ks, b, "ks.example.net", "gm1.example.net", "ks.crt"),
            b: plain_conn("to-a", b, a, "gm1.example.net", A_ID, "gm1.crt")
            + plain_conn("to-ks", b, ks, "gm1.example.net", "ks.example.net", "gm1.crt"),
            a: plain_conn("from-gm1", a, b, A_ID, "gm1.example.net", "gm2.crt"),
        }
        for r, conf in ((ks, server), (b, member), (a, "groups {\n}\n")):
            labmod.gdoi_charon(r, conf, f"connections {{\n{conns[r]}}}\n",
                               plugin_extra=f"trust_dir = {trust_dir(r)}")
        labmod.start_gdoi_charon(ks)
        labmod.start_gdoi_charon(b)
        a.start_charon()
        for r in (ks, b, a):
            r.swanctl("--load-all", "--noprompt", "--file", r.dir / "swanctl.conf")
        lab.pki = pki
        yield lab


def test_bad_input_is_refused_and_changes_nothing(plab):
    b, pki = plab["gm1"], plab.pki
    before = listed(b)
    good = (pki / f"{RED_ONLY}.cms").read_bytes()
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x01
    (pki / "flipped.cms").write_bytes(bytes(flipped))
    (pki / "truncated.cms").write_bytes(good[:-7])
    cases = [
        ("flipped", ["import", pki / "flipped.cms", "--signer", pki / "gm2.crt", "--replace"]),
        ("truncated", ["import", pki / "truncated.cms", "--signer", pki / "gm2.crt", "--replace"]),
        ("unknown signer", ["import", pki / f"{RED_ONLY}.cms", "--signer", pki / "D.crt", "--replace"]),
        ("replayed", ["import", pki / f"{RED_ONLY}.cms", "--signer", pki / "gm2.crt", "--replace"]),
    ]
    for what, args in cases:
        p = gstrust(plab, "--dir", trust_dir(b), *args, check=False)
        assert p.returncode == 1, (what, p.returncode, p.stderr)
        assert p.stderr.startswith("gstrust: import: "), (what, p.stderr)
        assert listed(b) == before, what


def test_the_enveloped_list_opens_for_its_recipient_only(plab):
    ks, pki = plab["ks"], plab.pki
    p = gstrust(plab, "--dir", trust_dir(ks), "import", pki / f"{FOR_B}.cms", "--signer", pki / "gm2.crt",
                "--recipient-cert", pki / "ks.crt", "--recipient-key", pki / "ks.key", check=False)
    assert p.returncode == 1 and "not a recipient" in p.stderr, p.stderr
    assert [c["name"] for c in listed(ks)] == [FOR_C]


def test_a_list_for_another_group_is_not_enough(plab):
    b = plab["gm1"]
    refusal = "'O=groupsec lab, CN=ks.example.net' is not trusted for blue (key-server)"
    wait_until("B refuses C for blue", lambda: refusal in member_log(b), timeout=30)
    assert "excludes the group blue" in member_log(b)
    assert not registered(b)


def test_b_registers_with_c_vouched_for_by_a(plab):
    ks, b, pki = plab["ks"], plab["gm1"], plab.pki
    gstrust(plab, "--dir", trust_dir(b), "import", pki / f"{FOR_B}.cms", "--signer", pki / "gm2.crt",
            "--recipient-cert", pki / "gm1.crt", "--recipient-key", pki / "gm1.key")
    b.swanctl("--reload-settings")

    def registers():
        if registered(b):
            return True
        labmod.gdoictl(b, "reregister", GROUP, check=False, as_json=False)
        return False
    wait_until("B registered with C", registers, timeout=60, interval=2)
    members = labmod.gdoictl(ks, "members", GROUP)
    assert [m["id"] for m in members["members"]] == ["gm1.example.net"], members

    # registered:GROUP as the daemon sees it (B's group blue is registered);
    # gstrust, without a daemon, counts no condition as holding
    labmod.gdoictl(b, "trust", "condition", FOR_B, f"registered:{GROUP}", as_json=False)
    daemon = labmod.gdoictl(b, "trust", "trusted", "--group", GROUP, "--use", "key-server")
    assert [c["subject"] for c in daemon["certificates"]] == ["O=groupsec lab, CN=ks.example.net"], daemon
    offline = json.loads(gstrust(plab, "--dir", trust_dir(b), "--json", "trusted", "--group", GROUP,
                                 "--use", "key-server").stdout)
    assert offline["certificates"] == [], offline
    labmod.gdoictl(b, "trust", "enable", FOR_B, as_json=False)


def test_a_list_conditional_on_the_sa_with_a(plab):
    ks, b, a = plab["ks"], plab["gm1"], plab["gm2"]
    # through the daemon's control socket: the store changes, and the
    # daemon reads it again
    labmod.gdoictl(b, "trust", "condition", FOR_B, f"connected:{A_ID}", as_json=False)
    daemon = labmod.gdoictl(b, "trust", "list")
    assert {c["name"]: (c["state"], c["condition"]) for c in daemon["collections"]} == {
        FOR_B: ("conditional", f"connected:{A_ID}"), RED_ONLY: ("enabled", "")}
    assert daemon == json.loads(gstrust(plab, "--dir", trust_dir(b), "--json", "list").stdout)
    # bad input through the socket changes nothing
    p = labmod.gdoictl(b, "trust", "condition", FOR_B, "sunny:today", check=False, as_json=False)
    assert p.returncode == 1 and "unknown condition" in p.stderr, p.stderr
    p = labmod.gdoictl(b, "trust", "enable", "no-such-list", check=False, as_json=False)
    assert p.returncode == 1 and "no collection named no-such-list" in p.stderr, p.stderr
    p = labmod.gdoictl(b, "trust", "import", "/etc/passwd", check=False, as_json=False)
    assert p.returncode == 1 and "unknown command 'import'" in p.stderr, p.stderr
    assert labmod.gdoictl(b, "trust", "list") == daemon

    def trusted_c():
        t = labmod.gdoictl(b, "trust", "trusted", "--group", GROUP, "--use", "key-server")
        return [c["subject"] for c in t["certificates"]]
    # without the SA with A: the next registration (a new IKE SA, after a
    # restart) fails
    restart_charon(b)
    b.swanctl("--load-all", "--noprompt", "--file", b.dir / "swanctl.conf")
    lapsed = f"conditional on connected:{A_ID}, which does not hold"
    wait_until("B refuses C while not connected to A", lambda: lapsed in member_log(b), timeout=30)
    assert not registered(b)
    assert trusted_c() == []

    # with it: B registers, and its plain IKEv2 SA with C comes up
    b.swanctl("--initiate", "--child", "to-a")
    wait_until("B's SA with A", lambda: ike_sas(b, "to-a"), timeout=20)
    assert trusted_c() == ["O=groupsec lab, CN=ks.example.net"]

    def registers():
        if registered(b):
            return True
        labmod.gdoictl(b, "reregister", GROUP, check=False, as_json=False)
        return False
    wait_until("B registered with C", registers, timeout=60, interval=2)
    b.swanctl("--initiate", "--child", "to-ks")
    wait_until("B's SA with C", lambda: ike_sas(b, "to-ks"), timeout=20)
    assert ike_sas(ks, "from-gm1")

    # the SA with A goes: the list lapses, B closes its IKE SA with C
    b.swanctl("--terminate", "--ike", "to-a")
    wait_until("B closed the SA with C", lambda: not ike_sas(b, "to-ks"), timeout=30)
    assert "its peer is no longer trusted by the trust lists" in member_log(b)
    assert lapsed in member_log(b)
    assert trusted_c() == []
    # and a new one is refused
    b.swanctl("--initiate", "--child", "to-ks", check=False)
    assert not ike_sas(b, "to-ks")
