# SPDX-License-Identifier: GPL-2.0-or-later
"""G-IKEv2 groups: a key server (ks) and three members (gm1..gm3).

The members register with the key server over UDP 848 (IKE_SA_INIT,
GSA_AUTH with a PSK), receive one group SA and install it through
charon->kernel (kernel-libipsec here); their LANs then reach each other
through that SA. Evicting gm3 makes the key server send a signed GSA_REKEY
that gm1 and gm2 apply without losing a ping sent at 10 per second, after
which gm3 can no longer exchange traffic with them. A restarted member
registers again. Forged GSA_REKEY datagrams are dropped and counted.
"""
import os
import subprocess

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"


@pytest.fixture(scope="module")
def glab():
    lab = labmod.gdoi_lab()
    with lab:
        labmod.configure_gdoi(lab)
        yield lab


def group_state(router):
    out = labmod.gdoictl(router, "groups", check=False)
    if not isinstance(out, dict):
        return None
    for g in out.get("groups", []):
        if g.get("name") == GROUP:
            return g
    return None


def current_spi(router):
    return labmod.gdoi_current_spi(router, GROUP)


def counters(router):
    return labmod.gdoi_counters(router, GROUP)


def registered(router):
    g = group_state(router)
    return g is not None and g.get("state") == "registered"


def ping(src, dst, count=3, interval="0.2", check=True):
    return labmod.lan_ping(src, dst, count=count, interval=interval, check=check)


def old_sa_removed(router, spi):
    return labmod.gdoi_old_sa_removed(router, GROUP, spi)


def gms(lab):
    return [lab["gm1"], lab["gm2"], lab["gm3"]]


def test_members_register_and_share_one_group_sa(glab):
    for gm in gms(glab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    spis = {gm.name: current_spi(gm) for gm in gms(glab)}
    assert len(set(spis.values())) == 1 and None not in spis.values(), spis
    ks = group_state(glab["ks"])
    assert ks["role"] == "server"
    members = labmod.gdoictl(glab["ks"], "members", GROUP)["members"]
    assert len(members) == 3, members


def test_the_key_server_closes_each_members_ike_sa_after_registration(glab):
    """RFC 9838 2.3.3: "By convention, the GCKS closes the IKE SA" it no
    longer needs: without GSA_INBAND_REKEY and without liveness checks
    (the lab's default), an INFORMATIONAL Delete 30 s after registration,
    answered by each member, which stays registered."""
    ks = glab["ks"]
    for gm in gms(glab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    for gm in gms(glab):
        wait_until(f"{gm.name}: its IKE SA deleted by the key server",
                   lambda: counters(gm)["ikeDeletesReceived"] >= 1, timeout=60)
    wait_until("the key server's Deletes answered", lambda: counters(ks)["ikeDeletesSent"] >= 3, timeout=10)
    assert counters(ks)["ikeDeletesReceived"] == 0, counters(ks)
    for gm in gms(glab):
        c = counters(gm)
        assert c["ikeDeletesSent"] == 0 and c["livenessFailed"] == 0, (gm.name, c)
        assert registered(gm), gm.name


def test_lans_reach_each_other_through_the_group_sa(glab):
    for gm in gms(glab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    g = gms(glab)
    for a, b in ((g[0], g[1]), (g[0], g[2]), (g[1], g[2]), (g[2], g[0])):
        wait_until(f"{a.name} reaches {b.name}", lambda: ping(a, b, count=1, check=False).returncode == 0,
                   timeout=20)
        ping(a, b)
    # no kernel ESP state: the packets went through libipsec
    assert g[0].run(["ip", "xfrm", "state"]).stdout.strip() == ""


def test_bulk_transfer_through_the_group_sa(glab):
    size = 2 * 1024 * 1024
    received, _ = labmod.lan_bulk_transfer(glab["gm1"], glab["gm2"], size)
    assert received == size


def test_evicting_gm3_rekeys_without_loss_and_locks_gm3_out(glab):
    ks, gm1, gm2, gm3 = glab["ks"], glab["gm1"], glab["gm2"], glab["gm3"]
    for gm in gms(glab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    old, new = labmod.gdoi_evict_without_loss(ks, GROUP, gm3, gm1, gm2)
    assert current_spi(gm3) == old, "gm3 got no new keys"
    # once gm1 and gm2 report the old SA gone (deactivated after the delay
    # the key server's policy set), gm3 reaches nobody and nobody reaches gm3
    labmod.gdoi_locked_out(GROUP, gm3, (gm1, gm2), old)
    ping(gm1, gm2)


def test_a_restarted_member_registers_again(glab):
    gm1, gm2 = glab["gm1"], glab["gm2"]
    wait_until("gm2 registered", lambda: registered(gm2), timeout=30)
    p = gm2.procs["charon"]
    p.terminate()
    p.wait(timeout=10)
    labmod.start_gdoi_charon(gm2)
    wait_until("gm2 registered again", lambda: registered(gm2), timeout=30)
    assert current_spi(gm2) == current_spi(gm1)
    wait_until("gm1 reaches gm2 again", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    ping(gm2, gm1)


INJECT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 848))
s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[2], 848))
"""


def rekey_sa_key(ks, datagram):
    """AES-GCM key and salt of the Rekey SA of a GSA_REKEY, from the key server's key table."""
    spi_i, spi_r = datagram[0:8].hex(), datagram[8:16].hex()
    for line in (ks.dir / "ikev2_decryption_table").read_text().splitlines():
        f = line.split(",")
        if f[0] == spi_i and f[1] == spi_r:
            assert "AES-GCM-256" in f[4], line
            return bytes.fromhex(f[2])
    raise AssertionError(f"no key for Rekey SA {spi_i}{spi_r}")


def resign(datagram, keymat, id_step=10):
    """A new GSA_REKEY made of a captured one: message ID moved ahead, the
    last octet of its AUTH signature changed, sealed again under the Rekey
    SA key (SK: IV 8 octets, ICV 16). Only the signature is wrong."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key, salt = keymat[:32], keymat[32:36]
    header = bytearray(datagram[:32])
    iv, body = datagram[32:40], datagram[40:]
    plain = bytearray(AESGCM(key).decrypt(salt + iv, body, bytes(header)))
    # find AUTH (39) in the inner payload chain
    kind, pos, auth_end = header[28], 0, None
    while kind and pos + 4 <= len(plain):
        length = int.from_bytes(plain[pos + 2:pos + 4], "big")
        if kind == 39:
            auth_end = pos + length
        kind, pos = plain[pos], pos + length
    assert auth_end, "the rekey carries no AUTH payload"
    plain[auth_end - 1] ^= 0x01
    msg_id = int.from_bytes(header[20:24], "big") + id_step
    header[20:24] = msg_id.to_bytes(4, "big")
    iv = (int.from_bytes(iv, "big") + id_step).to_bytes(8, "big")
    return bytes(header) + iv + AESGCM(key).encrypt(salt + iv, bytes(plain), bytes(header))


def test_forged_rekeys_are_dropped_and_counted(glab):
    ks, gm1, gm2 = glab["ks"], glab["gm1"], glab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    capture = labmod.sniff_rekeys(gm1, 15, first=True)
    before = counters(gm1)
    labmod.gdoictl(ks, "rekey", GROUP)
    (_, rekey), = capture()
    wait_until("gm1 applies the rekey", lambda: counters(gm1)["rekeys"] > before["rekeys"], timeout=10)
    spi = current_spi(gm1)

    def inject(datagram):
        ks.run(["/usr/bin/python3", "-c", INJECT, ks.addr, gm1.addr, datagram.hex()])

    def dropped(kind, n):
        return counters(gm1)[kind] >= n

    after = counters(gm1)
    inject(rekey)  # replayed
    wait_until("the replay is counted", lambda: dropped("droppedReplay", after["droppedReplay"] + 1), timeout=10)
    inject(rekey[:len(rekey) // 2])  # truncated
    wait_until("the truncated one is counted", lambda: dropped("droppedMalformed", after["droppedMalformed"] + 1),
               timeout=10)
    tampered = bytearray(rekey)
    tampered[-20] ^= 0x01  # a bit of the ciphertext or ICV
    inject(bytes(tampered))
    wait_until("the tampered one is counted", lambda: dropped("droppedAuth", after["droppedAuth"] + 1), timeout=10)
    # a member that knows the Rekey SA keys (all do) forges a rekey: a
    # valid ICV around a signature the key server did not make
    inject(resign(rekey, rekey_sa_key(ks, rekey)))
    wait_until("the bad signature is counted", lambda: dropped("droppedAuth", after["droppedAuth"] + 2), timeout=10)
    final = counters(gm1)
    assert final["droppedReplay"] == after["droppedReplay"] + 1, (after, final)
    assert final["droppedMalformed"] == after["droppedMalformed"] + 1, (after, final)
    assert final["rekeys"] == after["rekeys"], "nothing was applied"
    assert current_spi(gm1) == spi
    gm1.check_alive()
    ping(gm1, gm2)


def tshark(pcap, home, *args):
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    out = subprocess.run(["tshark", "-r", str(pcap), "-d", "udp.port==848,isakmp", *args], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def exchange_types(pcap, home):
    """The IKE exchange types in a capture being written (tshark may find
    its last packet cut short: what precedes it counts)."""
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    p = subprocess.run(["tshark", "-r", str(pcap), "-d", "udp.port==848,isakmp", "-T", "fields",
                        "-e", "isakmp.exchangetype"], env=env, capture_output=True, text=True, timeout=60)
    return {line.split("\t")[0] for line in p.stdout.splitlines() if line.strip()}


def test_a_capture_decodes_in_tshark_as_g_ikev2(glab, tmp_path):
    ks, gm2 = glab["ks"], glab["gm2"]
    wait_until("gm2 registered", lambda: registered(gm2), timeout=30)
    pcap = tmp_path / "gikev2.pcap"
    # G-IKEv2 on UDP 848, and the IP fragments of its larger datagrams
    cap = subprocess.Popen(["ip", "netns", "exec", glab.bb, "tshark", "-q", "-i", "br0",
                            "-f", "udp port 848 or (ip[6:2] & 0x1fff != 0)", "-w", str(pcap)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until("tshark capturing", lambda: pcap.exists() and pcap.stat().st_size > 0, timeout=20)
        # a registration from scratch: IKE_SA_INIT and GSA_AUTH
        p = gm2.procs["charon"]
        p.terminate()
        p.wait(timeout=10)
        labmod.start_gdoi_charon(gm2)
        wait_until("gm2 registered again", lambda: registered(gm2), timeout=30)
        rekeys = counters(gm2)["rekeys"]
        labmod.gdoictl(ks, "rekey", GROUP)
        wait_until("gm2 applies the rekey", lambda: counters(gm2)["rekeys"] > rekeys, timeout=10)
        wait_until("the capture holds IKE_SA_INIT, GSA_AUTH and GSA_REKEY",
                   lambda: {"34", "39", "41"} <= exchange_types(pcap, tmp_path / "probe"), timeout=20)
    finally:
        cap.terminate()
        cap.wait(timeout=10)
    # Wireshark's IKEv2 decryption table, as the key server wrote it
    home = tmp_path / "home"
    (home / ".config" / "wireshark").mkdir(parents=True)
    (home / ".config" / "wireshark" / "ikev2_decryption_table").write_text(
        (ks.dir / "ikev2_decryption_table").read_text())
    fields = tshark(pcap, home, "-T", "fields", "-e", "isakmp.exchangetype")
    exchanges = {line.split("\t")[0] for line in fields.splitlines() if line.strip()}
    # IKE_SA_INIT, GSA_AUTH and GSA_REKEY (Wireshark 4.0 names only the first)
    assert {"34", "39", "41"} <= exchanges, exchanges
    detail = tshark(pcap, home, "-V")
    for payload in ("Group Identification (50)", "Group Security Association (51)", "Key Download (52)"):
        assert f"Payload: {payload}" in detail, payload
    # every SK payload decrypted with a correct ICV
    assert detail.count("Integrity Checksum Data:") == detail.count("[correct]") > 0
    summary = tshark(pcap, home)
    for text in (detail, summary):
        assert "Malformed" not in text and "malformed" not in text


def test_tunnel_endpoints_follow_the_control_socket(glab):
    gm1, gm2 = glab["gm1"], glab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    wait_until("gm1 reaches gm2", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    eps = labmod.gdoictl(gm1, "endpoints", GROUP)["endpoints"]
    assert gm2.addr in str(eps), eps
    labmod.gdoictl(gm1, "remove-endpoint", GROUP, gm2.addr)
    assert gm2.addr not in str(labmod.gdoictl(gm1, "endpoints", GROUP)["endpoints"])
    assert ping(gm1, gm2, count=2, check=False).returncode != 0, "no tunnel to gm2 any more"
    # a bad request is refused and changes nothing
    bad = labmod.gdoictl(gm1, "add-endpoint", GROUP, gm1.addr, "10.9.0.0/24", check=False)
    assert bad.returncode != 0 and "own address" in (bad.stdout + bad.stderr), bad
    labmod.gdoictl(gm1, "add-endpoint", GROUP, gm2.addr, "10.2.0.0/24")
    wait_until("gm1 reaches gm2 again", lambda: ping(gm1, gm2, count=1, check=False).returncode == 0, timeout=20)
    ping(gm1, gm2)
