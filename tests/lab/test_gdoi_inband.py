# SPDX-License-Identifier: GPL-2.0-or-later
"""Inband rekeying (RFC 9838 2.4.2, GSA_INBAND_REKEY) without a Rekey SA.

A key server (ks) with `rekey = inband` and three members (gm1..gm3). As
the RFC's table of attributes with inband rekey operations says, the
registration carries no Rekey SA (so no GSA_INITIAL_MESSAGE_ID, WRAP_KEY or
AUTH_KEY): every rekey goes over each member's IKE SA, which both sides
keep open. Evicting gm3 closes its IKE SA and moves gm1 and gm2 to a new
TEK over theirs, without losing a ping; gm3 is locked out. The key
server's `sender_id_bits = 12` reaches the members as GWP_SENDER_ID_BITS.
"""
import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, current_spi, group_state, ping, registered


@pytest.fixture(scope="module")
def ilab():
    lab = labmod.gdoi_lab("gsinband")
    # the reference member of test 1, in no blue group
    lab.add_router("rm", "192.0.2.20", "10.20.0.1/24")
    with lab:
        labmod.configure_gdoi(lab, server_extra="\t\trekey = inband\n\t\tsender_id_bits = 12",
                              extra_members=("rm",))
        yield lab


# the reference group: GSA_REKEY (the default), its own group ID and TEK
# selectors; its member rm authenticates with the lab's shared group PSK
REFERENCE = "ref"


def as_reference(conf):
    return conf.replace("\tblue {", f"\t{REFERENCE} {{").replace(
        f"group_id = {labmod.GDOI_GROUP_ID}", f"group_id = {labmod.GDOI_GROUP_ID + 1}").replace(
        labmod.GDOI_TEK_TS[4], "198.51.100.0/24")


def join_reference_group(lab):
    """Serve the reference group at the key server and start rm as its member."""
    ks, rm = lab["ks"], lab["rm"]
    current = (ks.dir / "gdoi.conf").read_text()
    ref = as_reference(labmod.gdoi_server_conf(ks, [rm]))
    ks.write_config("gdoi.conf", current[:current.rindex("}")] + ref[ref.index("{") + 1:])
    ks.swanctl("--reload-settings")
    wait_until("the reference group serving",
               lambda: any(g.get("name") == REFERENCE and g.get("state") == "serving"
                           for g in labmod.gdoictl(ks, "groups").get("groups", [])), timeout=15)
    labmod.install_creds(rm, lab.dir / "pki", cert="ks.crt")
    labmod.gdoi_charon(rm, as_reference(labmod.gdoi_member_conf(rm, ks, [])),
                       labmod.gdoi_secrets(rm, ["ks"], shared={"ks"}))
    rm.start_charon()
    rm.swanctl("--load-creds", "--noprompt", "--file", rm.dir / "swanctl.conf")
    labmod.gdoictl(rm, "reregister", REFERENCE, check=False, as_json=False)


def gms(lab):
    return [lab["gm1"], lab["gm2"], lab["gm3"]]


def test_members_register_without_a_rekey_sa_and_keep_their_ike_sa(ilab):
    ks = ilab["ks"]
    for gm in gms(ilab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    spis = {current_spi(gm) for gm in gms(ilab)}
    assert len(spis) == 1 and None not in spis, spis
    members = labmod.gdoictl(ks, "members", GROUP)["members"]
    assert len(members) == 3, members
    # Sender-IDs of 12 bits, from 0, none given twice
    ids = sorted(int(i) for gm in gms(ilab) for i in group_state(gm).get("senderIds", []))
    assert len(ids) == 3 and len(set(ids)) == 3 and all(0 <= i < 4096 for i in ids), ids
    # The key server closes a GSA_REKEY group's IKE SAs 30 s after
    # registration (test_gdoi.py); an inband group keeps them. The moment
    # that would have happened is observed, not waited out: a reference
    # member (rm) joins a GSA_REKEY group on the same key server after every
    # blue registration, and once the key server has closed rm's IKE SA,
    # blue's 30 s have passed for every member too.
    regs = {gm.name: counters(gm)["registrations"] for gm in gms(ilab)}
    rm = ilab["rm"]
    join_reference_group(ilab)
    wait_until("rm registered in the reference group",
               lambda: labmod.gdoi_counters(rm, REFERENCE)["registrations"] >= 1, timeout=30)
    wait_until("the key server closes rm's IKE SA 30 s after its registration",
               lambda: labmod.gdoi_counters(rm, REFERENCE)["ikeDeletesReceived"] >= 1, timeout=60)
    for gm in gms(ilab):
        c = counters(gm)
        assert c["ikeDeletesReceived"] == 0 and c["ikeDeletesSent"] == 0, (gm.name, c)
        assert c["registrations"] == regs[gm.name], (gm.name, c)
        assert registered(gm), gm.name
    assert counters(ks)["ikeDeletesSent"] == 0, counters(ks)


def test_a_rekey_reaches_every_member_over_its_ike_sa(ilab):
    ks = ilab["ks"]
    for gm in gms(ilab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    old = current_spi(ilab["gm1"])
    rekeys = {gm.name: counters(gm)["rekeys"] for gm in gms(ilab)}
    labmod.gdoictl(ks, "rekey", GROUP)
    for gm in gms(ilab):
        wait_until(f"{gm.name} takes the GSA_INBAND_REKEY", lambda: counters(gm)["rekeys"] > rekeys[gm.name],
                   timeout=15)
    new = {current_spi(gm) for gm in gms(ilab)}
    assert len(new) == 1 and old not in new, (old, new)
    g = gms(ilab)
    wait_until("gm1 reaches gm2", lambda: ping(g[0], g[1], count=1, check=False).returncode == 0, timeout=20)
    ping(g[0], g[1])
    ping(g[2], g[0])


def test_evicting_gm3_closes_its_ike_sa_and_locks_it_out(ilab):
    ks, gm1, gm2, gm3 = ilab["ks"], ilab["gm1"], ilab["gm2"], ilab["gm3"]
    for gm in gms(ilab):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=30)
    deletes = counters(gm3)["ikeDeletesReceived"]
    rekeys3 = counters(gm3)["rekeys"]
    refused = counters(ks)["droppedUnauthorized"]
    old, new = labmod.gdoi_evict_without_loss(ks, GROUP, gm3, gm1, gm2)
    wait_until("gm3's IKE SA deleted by the key server",
               lambda: counters(gm3)["ikeDeletesReceived"] > deletes, timeout=15)
    assert counters(gm3)["rekeys"] == rekeys3, "gm3 got no GSA_INBAND_REKEY"
    assert current_spi(gm3) != new
    # gm3 considers itself excluded, tries to register again and is refused
    wait_until("gm3 refused", lambda: counters(ks)["droppedUnauthorized"] > refused, timeout=30)
    assert not registered(gm3)
    labmod.gdoi_locked_out(GROUP, gm3, (gm1, gm2), old)
    ping(gm1, gm2)
