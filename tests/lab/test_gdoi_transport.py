# SPDX-License-Identifier: GPL-2.0-or-later
"""The unicast transport of G-IKEv2 with real charons: IKE fragmentation
(RFC 7383) across a backbone that drops IP fragments, and NAT traversal
(RFC 7296 2.23) for a member behind a NAT.

Fragmentation: the key server's group has 16 TEK policies, so its GSA_AUTH
response is larger than the 1500-octet MTU. nftables on the backbone
bridge drops every IP fragment sent from the key server's address (the
key server's link). gm1 (IKE fragmentation on, the default) registers and
installs all 16 SAs; gm2 (`fragmentation = no`) does not, while the drop
counter shows its GSA_AUTH responses dying as IP fragments: the first
result cannot come by accident.

NAT: gm1 is behind a NAT (nftables SNAT in its namespace: source ports 848
and 14500 become 30848 and 34500). Every charon runs with NAT traversal on
port 14500 (charon's own socket keeps 4500 for the group SAs' ESP in UDP).
gm1 detects the NAT in IKE_SA_INIT, moves to 14500, registers; the key
server knows it at the NAT's mapping; a rekey reaches it through the NAT;
traffic flows between gm1's and gm2's LANs on the group SA.
"""
import json

import lab as labmod
import pytest
from lab import wait_until
from test_gdoi import GROUP, counters, registered

TEKS = 16
NAT_T = 14500


def extra_teks(n):
    """TEK policies 2..n for the key server's group (UDP ports of their own)."""
    return "".join(f"""\
		tek-{i} {{
			local_ts = 10.0.0.0/8[udp/{20000 + i}]
			remote_ts = 10.0.0.0/8[udp/{20000 + i}]
		}}
""" for i in range(2, n + 1))


def sas(router):
    out = labmod.gdoictl(router, "sas", GROUP, check=False)
    return out.get("sas", []) if isinstance(out, dict) else []


nft = labmod.nft


def frag_drops(lab):
    """Packets the backbone dropped as IP fragments from the key server."""
    out = json.loads(nft(lab.bb, "-j", "list", "table", "bridge", "fragdrop").stdout)
    n = 0
    for item in out.get("nftables", []):
        for e in item.get("rule", {}).get("expr", []):
            if "counter" in e:
                n += e["counter"]["packets"]
    return n


@pytest.fixture(scope="module")
def flab():
    lab = labmod.gdoi_lab("gsfrag", members=2)
    with lab:
        ks = lab["ks"]
        # the key server's link drops IP fragments: non-first fragments
        # (offset set) and first ones (More Fragments set)
        nft(lab.bb, "add", "table", "bridge", "fragdrop")
        nft(lab.bb, "add", "chain", "bridge", "fragdrop", "frags",
            "{ type filter hook forward priority 0; policy accept; }")
        nft(lab.bb, "add", "rule", "bridge", "fragdrop", "frags",
            "ip", "saddr", ks.addr, "ip", "frag-off", "&", "0x1fff", "!=", "0", "counter", "drop")
        nft(lab.bb, "add", "rule", "bridge", "fragdrop", "frags",
            "ip", "saddr", ks.addr, "ip", "frag-off", "&", "0x2000", "!=", "0", "counter", "drop")
        labmod.configure_gdoi(lab, server_extra=extra_teks(TEKS), plugin_extra={"gm2": "fragmentation = no"})
        yield lab


def test_registration_in_ike_fragments_passes_a_backbone_that_drops_ip_fragments(flab):
    ks, gm1, gm2 = flab["ks"], flab["gm1"], flab["gm2"]
    wait_until("gm1 registered", lambda: registered(gm1), timeout=40)
    wait_until("gm1 holds every TEK", lambda: len(sas(gm1)) == TEKS, timeout=10)
    # the companion: gm2, without IKE fragmentation, has sent GSA_AUTH
    # twice (a retransmission) and each answer died as IP fragments
    wait_until("the backbone dropped the fragments of two GSA_AUTH responses to gm2",
               lambda: frag_drops(flab) >= 4, timeout=40)
    assert not registered(gm2), labmod.gdoictl(gm2, "groups", check=False)
    assert sas(gm2) == []
    # (the key server registered gm2 too: it cannot know that its answer
    # never arrived)
    members = labmod.gdoictl(ks, "members", GROUP)["members"]
    ids = [m["id"] for m in (members.values() if isinstance(members, dict) else members)]
    assert "gm1.example.net" in ids, members
    print(f"{frag_drops(flab)} IP fragments dropped; gm1 registered with {TEKS} TEKs in IKE fragments")


@pytest.fixture(scope="module")
def nlab():
    lab = labmod.gdoi_lab("gsnat", members=2)
    with lab:
        gm1 = lab["gm1"]
        # a NAT in front of gm1: its G-IKEv2 source ports are rewritten
        # (conntrack maps the answers back)
        nft(gm1.ns, "add", "table", "ip", "nat")
        nft(gm1.ns, "add", "chain", "ip", "nat", "post", "{ type nat hook postrouting priority 100; }")
        for port in (848, NAT_T):
            nft(gm1.ns, "add", "rule", "ip", "nat", "post", "udp", "sport", str(port),
                "snat", "to", f"{gm1.addr}:{30000 + port % 10000}")
        labmod.configure_gdoi(lab, plugin_extra={r: f"port_nat_t = {NAT_T}" for r in ("ks", "gm1", "gm2")})
        yield lab


def member_address(ks, member):
    members = labmod.gdoictl(ks, "members", GROUP)["members"]
    for m in (members.values() if isinstance(members, dict) else members):
        if m["id"] == member:
            return m["address"]
    return None


def test_member_behind_a_nat_registers_on_the_nat_traversal_port_and_gets_rekeys(nlab):
    ks, gm1, gm2 = nlab["ks"], nlab["gm1"], nlab["gm2"]
    for gm in (gm1, gm2):
        wait_until(f"{gm.name} registered", lambda: registered(gm), timeout=40)
    # the key server knows gm1 at the NAT's mapping of its NAT traversal
    # port, gm2 (no NAT) at its own address on 848
    assert member_address(ks, "gm1.example.net") == f"{gm1.addr}[{30000 + NAT_T % 10000}]"
    assert member_address(ks, "gm2.example.net") == f"{gm2.addr}[848]"
    labmod.lan_ping(gm1, gm2, count=5)
    labmod.lan_ping(gm2, gm1, count=5)

    before = counters(gm1)["rekeys"]
    labmod.gdoictl(ks, "rekey", GROUP, as_json=False)
    wait_until("gm1 took the rekey through the NAT", lambda: counters(gm1)["rekeys"] > before, timeout=20)
    wait_until("gm1 and gm2 send on the same SA",
               lambda: labmod.gdoi_current_spi(gm1, GROUP) == labmod.gdoi_current_spi(gm2, GROUP), timeout=20)
    labmod.lan_ping(gm1, gm2, count=5)
