# SPDX-License-Identifier: GPL-2.0-or-later
"""groupsec against rfcpeer, a G-IKEv2 peer written from RFC 9838's text
alone (tests/lab/rfcpeer/, no code shared with the plugin), in both roles.

(a) rfcpeer's key server (ks) and three members running charon with the
    gdoi plugin (gm1..gm3): registration, pings between the members' LANs
    on the group SA (tunnel mode with address preservation, the RFC's
    default: the ESP's outer addresses are the LAN addresses), a signed
    GSA_REKEY (to the multicast address of its Rekey SA), gm3 evicted
    through rfcpeer's LKH tree (Appendix A) and locked out, every member
    excluded by Delete(GIKE_UPDATE, SPI 0) and registering again,
    rfcpeer's key server restarted, and rekeys by GSA_INBAND_REKEY.
(f) the same key server with the RFC's simple key management (3.2) and two
    plugin members, set up as in (a).
(b) groupsec's key server (ks) with one plugin member (gm1) and two rfcpeer
    members (gm2, gm3): registration, ESP from gm1 decrypted by gm2 (AES-GCM,
    RFC 4106, in UDP) and gm2 answering it, a signed GSA_REKEY verified as
    2.4.1.1 says, gm3 evicted and unable to read the new keys, and
    groupsec's key server restarted.

Where the two disagree, the assertion message names the RFC sentence the
failing side breaks (rfcpeer's own error text quotes it).
"""
import json
import os
import time
from pathlib import Path

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, ping, registered
from test_gdoi_tunnelmode import PRESERVING_CHARON, group_esp, route_lans, sniff_ip

# a dependency missing is an error at collection, not a skip
import cryptography.hazmat.primitives.asymmetric.x25519  # noqa: F401

HERE = Path(__file__).resolve().parent
MCAST = "239.192.0.1"


class Peer:
    """rfcpeer running in a router (python3 -m rfcpeer CONFIG)."""

    def __init__(self, router, role, **cfg):
        self.router = router
        self.dir = router.dir / "rfcpeer"
        self.dir.mkdir(exist_ok=True)
        self.cfg = {"role": role, "dir": str(self.dir), "group_id": labmod.GDOI_GROUP_ID, **cfg}
        (self.dir / "config.json").write_text(json.dumps(self.cfg, indent=1))
        self.start()

    def start(self):
        (self.dir / "status.json").unlink(missing_ok=True)
        self.proc = self.router.spawn("rfcpeer", ["/usr/bin/python3", "-m", "rfcpeer", self.dir / "config.json"],
                                      env={"PYTHONPATH": HERE})
        wait_until(f"{self.router.name}: rfcpeer ready", lambda: self.alive() and self.status().get("ready"),
                   timeout=15, interval=0.05)

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.router.name}: rfcpeer exited {self.proc.returncode}: "
                                 + (self.router.dir / "rfcpeer.out").read_text()[-3000:])
        return True

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def status(self):
        try:
            return json.loads((self.dir / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def cmd(self, **cmd):
        f = self.dir / "ctl" / f"cmd-{time.monotonic_ns()}.json"
        tmp = self.dir / f"cmd-{time.monotonic_ns()}.tmp"
        tmp.write_text(json.dumps(cmd))
        os.replace(tmp, f)

    def wait(self, what, fn, timeout=20):
        """wait_until fn(status); on timeout the failure shows what rfcpeer
        refused and why (its errors quote the RFC)."""
        try:
            return wait_until(f"{self.router.name} (rfcpeer): {what}", lambda: self.alive() and fn(self.status()),
                              timeout=timeout, interval=0.1)
        except labmod.LabError as e:
            st = self.status()
            raise AssertionError(f"{e}\nrfcpeer errors: {json.dumps(st.get('errors', [])[-6:], indent=1)}\n"
                                 f"dropped: {json.dumps(st.get('dropped', [])[-6:], indent=1)}") from None


def charon_tail(router, n=15):
    return "\n".join((router.dir / "charon.log").read_text().splitlines()[-n:])


def wait_plugin(router, what, fn, timeout=30):
    try:
        wait_until(f"{router.name}: {what}", fn, timeout=timeout)
    except labmod.LabError as e:
        raise AssertionError(f"{e}\n{router.name} charon.log:\n{charon_tail(router)}") from None


def member_ids(routers):
    return sorted(f"{r.name}.example.net" for r in routers)


# ---------------------------------------------------------------- (a)

def rfc_key_server_lab(lab, **peer_cfg):
    """rfcpeer's key server on ks and a plugin member on every gm router.

    rfcpeer's group SAs are tunnel mode with address preservation, the
    RFC's default (4.4.2: USE_TRANSPORT_MODE absent): the members are
    configured as configure_gdoi(sa_mode="tunnel") configures them, each
    with its LAN address as its host and its peers' LAN addresses as
    single-address endpoints, charon's own ESP marked past kernel-libipsec's
    routes, and the backbone routing every LAN to its router."""
    ks = lab["ks"]
    gms = [r for n, r in lab.routers.items() if n.startswith("gm")]
    route_lans(lab)
    for r in [ks] + gms:
        r.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
    pki = labmod.make_pki(lab, ["ks"])
    lab.peer = Peer(ks, "ks", listen=ks.addr, local_id="ks.example.net", sign_key=str(pki / "ks.key"),
                    multicast=MCAST, tek_ts=labmod.GDOI_TEK_TS[4], dtd=3,
                    psks={f"{g.name}.example.net": labmod.gdoi_psk(g.name) for g in gms}, **peer_cfg)
    for gm in gms:
        labmod.install_creds(gm, pki, cert="ks.crt")
        labmod.gdoi_charon(gm, labmod.gdoi_member_conf(gm, ks, [p for p in gms if p is not gm], host_prefixes=True,
                                                       extra=f"\t\tmulticast = {MCAST}\n\t\thosts = {gm.lan_addr}"),
                           labmod.gdoi_secrets(gm, ["ks"]), extra=PRESERVING_CHARON)
        labmod.start_gdoi_charon(gm)
    lab.pki = pki


@pytest.fixture(scope="module")
def alab():
    lab = labmod.gdoi_lab("gsrfka", members=3)
    with lab:
        rfc_key_server_lab(lab)
        yield lab


def test_a1_plugin_members_register_with_the_rfc_key_server(alab):
    gms = [alab["gm1"], alab["gm2"], alab["gm3"]]
    for gm in gms:
        wait_plugin(gm, "registered with rfcpeer's key server", lambda: registered(gm))
    alab.peer.wait("lists every member", lambda st: st.get("registered") == member_ids(gms))


def test_a2_traffic_between_plugin_members_on_the_group_sa(alab):
    gm1, gm2, gm3 = alab["gm1"], alab["gm2"], alab["gm3"]
    tek = alab.peer.status()["tek_spi"]
    for gm in (gm1, gm2, gm3):
        wait_plugin(gm, f"sends on rfcpeer's TEK {tek}", lambda: current_spi(gm) == tek, timeout=10)
    wait_until("gm1 reaches gm2", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    # the RFC's default tunnel mode keeps the addresses (2.3.4, 4.4.2: no USE_TRANSPORT_MODE): outer = inner
    capture = sniff_ip(gm2)
    ping(gm1, gm2)
    seen = capture()
    assert group_esp(seen, tek) == {(gm1.lan_addr, gm2.lan_addr), (gm2.lan_addr, gm1.lan_addr)}, seen
    assert not [c for c in seen if c[0] == "icmp"], f"ICMP in the clear: {seen}"
    ping(gm2, gm3)
    ping(gm3, gm1)


def test_a3_signed_rekey_applied_by_plugin_members(alab):
    gms = [alab["gm1"], alab["gm2"], alab["gm3"]]
    before = {gm.name: counters(gm)["rekeys"] for gm in gms}
    old = alab.peer.status()["tek_spi"]
    alab.peer.cmd(cmd="rekey")
    new = alab.peer.wait("a new TEK", lambda st: st["tek_spi"] != old and st["tek_spi"])
    for gm in gms:
        wait_plugin(gm, "applies the signed GSA_REKEY", lambda: counters(gm)["rekeys"] > before[gm.name], timeout=15)
        wait_plugin(gm, f"sends on the new TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    ping(gms[0], gms[1])


def test_a4_eviction_through_the_rfc_key_tree(alab):
    gm1, gm2, gm3 = alab["gm1"], alab["gm2"], alab["gm3"]
    old = alab.peer.status()["tek_spi"]
    alab.peer.cmd(cmd="evict", member="gm3.example.net")
    new = alab.peer.wait("a new TEK after the eviction", lambda st: st["tek_spi"] != old and st["tek_spi"])
    for gm in (gm1, gm2):
        wait_plugin(gm, f"follows the eviction to TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    labmod.gdoi_locked_out(GROUP, gm3, [gm1, gm2], old)
    assert current_spi(gm3) != new
    ping(gm1, gm2)
    labmod.gdoictl(gm3, "reregister", GROUP, check=False)
    alab.peer.wait("refuses gm3", lambda st: any(r["member"] == "gm3.example.net" and r["why"] == "authorization"
                                                  for r in st["refused"]))


def test_a5_exclusion_by_delete_gike_update_spi_0(alab):
    gm1, gm2 = alab["gm1"], alab["gm2"]
    old = alab.peer.status()["tek_spi"]
    alab.peer.cmd(cmd="exclude")
    alab.peer.wait("a clean state", lambda st: st["exclusions"] == 1)
    # 2.4.3: 'If a group member receives a Delete payload with zero SPI and protocol ID of GIKE_UPDATE, it
    # means that the group member is excluded from the group ... the group member MUST re-register'
    alab.peer.wait("gm1 and gm2 registered again", lambda st: st["registered"] == member_ids([gm1, gm2]),
                   timeout=30)
    new = alab.peer.status()["tek_spi"]
    assert new != old
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on the new TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    ping(gm1, gm2)


def test_a6_rfc_key_server_restart(alab):
    gm1, gm2 = alab["gm1"], alab["gm2"]
    alab.peer.kill()
    alab.peer.start()
    assert alab.peer.status()["registered"] == []
    for gm in (gm1, gm2):
        labmod.gdoictl(gm, "reregister", GROUP, check=False)
    # RFC 7296 2.21.4: the restarted key server answers the old IKE SA with INVALID_IKE_SPI
    alab.peer.wait("gm1 and gm2 registered again", lambda st: st["registered"] == member_ids([gm1, gm2]),
                   timeout=20)
    assert alab.peer.status()["invalid_spi_sent"] >= 2
    new = alab.peer.status()["tek_spi"]
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on the restarted key server's TEK {new}", lambda: current_spi(gm) == new,
                    timeout=15)
    ping(gm1, gm2)


def test_a7_inband_rekey_from_the_rfc_key_server(alab):
    """2.4.2: the key server keeps the IKE SA and sends the new TEK by
    GSA_INBAND_REKEY; the members answer HDR, SK{} and move to it."""
    ks, gm1, gm2 = alab["ks"], alab["gm1"], alab["gm2"]
    alab.peer.kill()
    alab.peer = Peer(ks, "ks", **{**{k: v for k, v in alab.peer.cfg.items() if k not in ("role", "dir")},
                                  "inband": True})
    for gm in (gm1, gm2):
        labmod.gdoictl(gm, "reregister", GROUP, check=False)
    alab.peer.wait("gm1 and gm2 registered (inband group)", lambda st: st["registered"] == member_ids([gm1, gm2]),
                   timeout=20)
    old = alab.peer.status()["tek_spi"]
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on TEK {old}", lambda: current_spi(gm) == old, timeout=15)
    alab.peer.cmd(cmd="rekey")
    alab.peer.wait("both members answer GSA_INBAND_REKEY", lambda st: st.get("inband_acks", 0) >= 2, timeout=15)
    new = alab.peer.status()["tek_spi"]
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on the new TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    ping(gm1, gm2)


# ------------------------------------------- (a) without the key tree

@pytest.fixture(scope="module")
def flab():
    """rfcpeer's key server with the RFC's 'simple key management method'
    (3.2: every SA key under GSK_w, no WRAP_KEYs) and two plugin members."""
    lab = labmod.gdoi_lab("gsrfkf", members=2)
    with lab:
        rfc_key_server_lab(lab, lkh=False)
        yield lab


def test_f1_registration_and_traffic(flab):
    gm1, gm2 = flab["gm1"], flab["gm2"]
    for gm in (gm1, gm2):
        wait_plugin(gm, "registered with rfcpeer's key server", lambda: registered(gm))
    flab.peer.wait("lists both members", lambda st: st.get("registered") == member_ids([gm1, gm2]))
    tek = flab.peer.status()["tek_spi"]
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on rfcpeer's TEK {tek}", lambda: current_spi(gm) == tek, timeout=10)
    wait_until("gm1 reaches gm2", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)


def test_f2_signed_rekey_by_multicast(flab):
    gm1, gm2 = flab["gm1"], flab["gm2"]
    before = {gm.name: counters(gm)["rekeys"] for gm in (gm1, gm2)}
    old = flab.peer.status()["tek_spi"]
    capture = labmod.sniff_rekeys(gm1, 8)
    flab.peer.cmd(cmd="rekey")
    new = flab.peer.wait("a new TEK", lambda st: st["tek_spi"] != old and st["tek_spi"])
    for gm in (gm1, gm2):
        wait_plugin(gm, "applies the signed GSA_REKEY", lambda: counters(gm)["rekeys"] > before[gm.name], timeout=15)
        wait_plugin(gm, f"sends on the new TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    assert {dst for dst, _ in capture()} == {MCAST}
    ping(gm1, gm2)


def test_f3_exclusion_by_delete_gike_update_spi_0(flab):
    gm1, gm2 = flab["gm1"], flab["gm2"]
    old = flab.peer.status()["tek_spi"]
    flab.peer.cmd(cmd="exclude")
    flab.peer.wait("a clean state", lambda st: st["exclusions"] == 1)
    # 2.4.3: 'it means that the group member is excluded from the group ... MUST re-register'
    flab.peer.wait("gm1 and gm2 registered again", lambda st: st["registered"] == member_ids([gm1, gm2]),
                   timeout=30)
    new = flab.peer.status()["tek_spi"]
    assert new != old
    for gm in (gm1, gm2):
        wait_plugin(gm, f"sends on the new TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    ping(gm1, gm2)


def test_f4_rfc_key_server_restart_and_first_rekey(flab):
    gm1, gm2 = flab["gm1"], flab["gm2"]
    flab.peer.kill()
    flab.peer.start()
    for gm in (gm1, gm2):
        labmod.gdoictl(gm, "reregister", GROUP, check=False)
    flab.peer.wait("gm1 and gm2 registered again", lambda st: st["registered"] == member_ids([gm1, gm2]),
                   timeout=20)
    assert flab.peer.status()["invalid_spi_sent"] >= 2
    before = {gm.name: counters(gm)["rekeys"] for gm in (gm1, gm2)}
    # 2.4.1.3: 'The first message sent over a new Rekey SA MUST use Message ID of 0.'
    assert flab.peer.status()["kek_next_mid"] == 0
    flab.peer.cmd(cmd="rekey")
    new = flab.peer.wait("a rekey sent", lambda st: st["kek_next_mid"] == 1 and st["tek_spi"])
    for gm in (gm1, gm2):
        wait_plugin(gm, "applies the restarted key server's first GSA_REKEY",
                    lambda: counters(gm)["rekeys"] > before[gm.name], timeout=15)
        wait_plugin(gm, f"sends on TEK {new}", lambda: current_spi(gm) == new, timeout=15)
    ping(gm1, gm2)


# ---------------------------------------------------------------- (b)

@pytest.fixture(scope="module")
def blab():
    lab = labmod.gdoi_lab("gsrfkb", members=3)
    with lab:
        setup_b(lab)
        yield lab


def setup_b(lab, **extra):
    """groupsec's key server, plugin member gm1, rfcpeer members gm2 (a sender) and gm3."""
    if True:
        ks, gm1, gm2, gm3 = lab["ks"], lab["gm1"], lab["gm2"], lab["gm3"]
        for r in (ks, gm1, gm2, gm3):
            r.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        # GSA_REKEY by multicast, the RFC's model (4.4.1: the Rekey SA's destination is 'a single multicast
        # IP address'); rfcpeer members join the group their Rekey SA names
        labmod.gdoi_charon(ks, labmod.gdoi_server_conf(ks, [gm1, gm2, gm3],
                                                       extra=f"\t\trekey = multicast\n\t\tmulticast = {MCAST}"),
                           labmod.gdoi_secrets(ks, ["gm1", "gm2", "gm3"]), save_keys=True)
        labmod.start_gdoi_charon(ks)
        labmod.install_creds(gm1, pki, cert="ks.crt")
        labmod.gdoi_charon(gm1, labmod.gdoi_member_conf(gm1, ks, [gm2, gm3], extra=f"\t\tmulticast = {MCAST}"),
                           labmod.gdoi_secrets(gm1, ["ks"]))
        labmod.start_gdoi_charon(gm1)
        lab.peers = {}
        for gm, sender in ((gm2, 1), (gm3, 0)):
            lab.peers[gm.name] = Peer(gm, "gm", local_addr=gm.addr, local_id=f"{gm.name}.example.net",
                                      server=ks.addr, server_id="ks.example.net", psk=labmod.gdoi_psk(gm.name),
                                      lan_addr=gm.lan_addr, sender_ids=sender, **extra)


def test_b1_rfc_members_register_with_groupsec(blab):
    wait_plugin(blab["gm1"], "registered", lambda: registered(blab["gm1"]))
    for name, peer in blab.peers.items():
        peer.wait("registered with groupsec's key server", lambda st: st.get("registered"), timeout=30)
        st = peer.status()
        assert st["auth_key"], "4.4.2.1.1: 'the GCKS MUST include the AUTH_KEY attribute'"
    ids = sorted(m["id"] for m in labmod.gdoictl(blab["ks"], "members", GROUP)["members"])
    assert ids == member_ids([blab["gm1"], blab["gm2"], blab["gm3"]]), ids


def test_b2_esp_between_a_plugin_member_and_an_rfc_member(blab):
    gm1, gm2 = blab["gm1"], blab["gm2"]
    peer = blab.peers["gm2"]
    tek = current_spi(gm1)
    peer.wait(f"holds gm1's TEK {tek}", lambda st: tek in st["tek_spis"])
    ping(gm1, gm2, count=2, check=False)
    st = peer.wait("decrypts gm1's ESP", lambda st: st["esp_rx"].get(tek, 0) > 0 and st)
    assert st["last_inner"][:3] == [gm1.lan_addr, gm2.lan_addr, 1], st["last_inner"]
    # as a sender with a Sender-ID (4.5.3.3) gm2 answers through the group SA
    peer.wait("holds a Sender-ID", lambda st: st["sender_ids"], timeout=5)
    assert ping(gm1, gm2, count=3, check=False).returncode == 0, "gm1 gets no echo reply through gm2's ESP"
    peer.cmd(cmd="ping", dst=gm1.lan_addr, gateway=gm1.addr, count=3)
    peer.wait("gets gm1's echo replies", lambda st: st["icmp_replies"] >= 1)


def test_b3_signed_rekey_verified_by_rfc_members(blab):
    ks, gm1 = blab["ks"], blab["gm1"]
    before = {n: p.status()["rekeys"] for n, p in blab.peers.items()}
    old = current_spi(gm1)
    labmod.gdoictl(ks, "rekey", GROUP)
    wait_plugin(gm1, "moves to a new TEK", lambda: current_spi(gm1) not in (None, old), timeout=15)
    new = current_spi(gm1)
    for n, p in blab.peers.items():
        # 2.4.1.1: the signature over A | P verified with the AUTH_KEY of the registration
        p.wait("applies the signed GSA_REKEY", lambda st: st["rekeys"] > before[n] and new in st["tek_spis"])


def test_b4_eviction_locks_the_rfc_member_out(blab):
    ks, gm1 = blab["ks"], blab["gm1"]
    gm2, gm3 = blab.peers["gm2"], blab.peers["gm3"]
    old = current_spi(gm1)
    labmod.gdoictl(ks, "evict", GROUP, "gm3.example.net")
    wait_plugin(gm1, "moves to a new TEK", lambda: current_spi(gm1) not in (None, old), timeout=15)
    new = current_spi(gm1)
    gm2.wait("follows the eviction", lambda st: new in st["tek_spis"])
    ping(gm1, blab["gm3"], count=2, check=False)
    st = gm3.wait("sees ESP on the new TEK it cannot read",
                  lambda st: st["esp_undecryptable"].get(new, 0) > 0 and st)
    assert new not in st["tek_spis"], st["tek_spis"]
    assert st["excluded"] == "key path" or st["kek_spi"] != gm2.status()["kek_spi"], st


def test_b5_groupsec_key_server_restart(blab):
    ks, gm1 = blab["ks"], blab["gm1"]
    gm2 = blab.peers["gm2"]
    regs = gm2.status()["registrations"]
    p = ks.procs["charon"]
    p.kill()
    p.wait(timeout=10)
    labmod.start_gdoi_charon(ks)
    gm2.cmd(cmd="reregister")
    gm2.wait("registered with the restarted key server", lambda st: st["registrations"] > regs, timeout=20)
    labmod.gdoictl(gm1, "reregister", GROUP, check=False)
    wait_plugin(gm1, "registered again", lambda: registered(gm1))
    rekeys = gm2.status()["rekeys"]
    labmod.gdoictl(ks, "rekey", GROUP)
    # 2.4.1.3: 'The first message sent over a new Rekey SA MUST use Message ID of 0'
    gm2.wait("applies the restarted key server's first GSA_REKEY", lambda st: st["rekeys"] > rekeys)
