# SPDX-License-Identifier: GPL-2.0-or-later
"""Member-list discovery: a member names, at registration, the members it
wants to reach, and the S/R reflects only between it and them.

The S/R (ks) serves group A (ID 1001) to gm1, gm2 and gm3. gm1's gdoi
plugin names gm2 in its member group (`peers = gm2.example.net`): its
GSA_AUTH carries N(MEMBER_LIST), the key server keeps the list and shows it
in `list-members`, and the S/R's bgpd reflects gm1's membership route to gm2
only, and to gm1 only gm2's. gm2 and gm3 use auto-discovery and still see
each other. When gm1 names gm3 as well (a new `peers` and
`swanctl --reload-settings`), gm1 registers again and the S/R announces
gm1's route to gm3 without anyone touching BGP. Every wait is for a
condition.
"""
import lab as labmod
import pytest
from lab import wait_until
import test_bgp_gsa as gsa

GROUP, GROUP_ID = "A", 1001
MEMBERS = ("gm1", "gm2", "gm3")
NAMED = {"gm1": ["gm2"]}  # member-list mode; the others auto-discovery


def endpoint(gm):
    return f"{gm.addr}/32"


def server_conf(ks):
    return gsa.server_conf(ks, {GROUP: GROUP_ID}, {m: [GROUP] for m in MEMBERS})


def member_conf(gm, ks, named=None):
    peers = f"\n\t\tpeers = {', '.join(f'{p}.example.net' for p in named)}" if named else ""
    return f"""\
groups {{
	{GROUP} {{
		role = member
		group_id = {GROUP_ID}
		local_id = {gm.name}.example.net
		local_addrs = {gm.addr}
		servers = {ks.addr}
		server_id = ks.example.net
		auth = psk{peers}
	}}
}}
"""


def sr_bgp_conf(ks, members):
    lines = [f"hostname {ks.name}", "router bgp 65000", f" bgp router-id {ks.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast"]
    for m in members:
        lines += [f" neighbor {m.addr} remote-as 65000", f" neighbor {m.addr} timers connect 2"]
    lines.append(" address-family ipv4 unicast")
    for m in members:
        lines += [f"  neighbor {m.addr} activate", f"  neighbor {m.addr} route-reflector-client",
                  f"  neighbor {m.addr} route-map GSA-REFLECT out"]
    lines += [" exit-address-family", ""]
    ks.write_config("zebra.conf", f"hostname {ks.name}\n")
    ks.write_config("bgpd.conf", "\n".join(lines))


def member_bgp_conf(gm, ks):
    mode = " discovery member-list" if gm.name in NAMED else ""
    lines = [f"hostname {gm.name}", "router bgp 65000", f" bgp router-id {gm.addr}",
             " no bgp ebgp-requires-policy", " no bgp default ipv4-unicast",
             f" neighbor {ks.addr} remote-as 65000", f" neighbor {ks.addr} timers connect 2",
             f" gsa group {GROUP} id {GROUP_ID} endpoint {gm.addr}{mode}",
             f" gsa group {GROUP} prefix {gm.lan_prefix}",
             " address-family ipv4 unicast", f"  neighbor {ks.addr} activate", " exit-address-family", ""]
    gm.write_config("zebra.conf", f"hostname {gm.name}\n")
    gm.write_config("bgpd.conf", "\n".join(lines))


def start_charon(r):
    r.start_charon()
    r.swanctl("--load-creds", "--noprompt", "--file", r.dir / "swanctl.conf")
    if r.name == "ks":
        r.swanctl("--reload-settings")
        wait_until("ks: group A serving", lambda: any(
            g["name"] == GROUP and g.get("state") == "serving" for g in labmod.gdoictl(r, "groups")["groups"]),
            timeout=20)
    else:
        labmod.gdoictl(r, "reregister", GROUP, check=False, as_json=False)


def key_server_members(ks):
    """{identity: the member's entry} of `gdoictl members A`."""
    return {m["id"]: m for m in labmod.gdoictl(ks, "members", GROUP).get("members", [])}


def bgp_prefixes(router):
    return set(router.vtysh_json("show bgp ipv4 unicast json").get("routes", {}).keys())


def membership_routes(gm):
    return {p for p in bgp_prefixes(gm) if p.startswith("192.0.2.")}


def opened_routes(gm):
    """{prefix: (gateway, group)} of `show bgp gsa routes json`."""
    return {r["prefix"]: (r["gateway"], r["group"]) for r in gm.vtysh_json("show bgp gsa routes json")["routes"]}


def expected_tables(lab, named):
    """{member: the membership routes it holds}: its own and those of every
    member it may exchange routes with (each in member-list mode named the
    other)."""
    def pair(a, b):
        return (a not in named or b in named[a]) and (b not in named or a in named[b])
    return {m: {endpoint(lab[o]) for o in MEMBERS if o == m or pair(m, o)} for m in MEMBERS}


def converge(lab, want, what, timeout=60):
    def tables():
        got = {m: membership_routes(lab[m]) for m in MEMBERS}
        return got if got == want else None
    try:
        return wait_until(what, tables, timeout=timeout)
    except labmod.LabError as e:
        got = {m: sorted(membership_routes(lab[m])) for m in MEMBERS}
        raise labmod.LabError(f"{e}\nwant {want}\ngot {got}\n{lab['ks'].vtysh('show bgp gsa groups')}") from None


@pytest.fixture(scope="module")
def sr():
    lab = labmod.Lab("gsml")
    ks = lab.add_router("ks", "192.0.2.1", "10.0.0.1/24")
    gms = [lab.add_router(f"gm{i}", f"192.0.2.{10 + i}", f"10.{i}.0.1/24") for i in range(1, 4)]
    with lab:
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, server_conf(ks), labmod.gdoi_secrets(ks, list(MEMBERS)))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, member_conf(gm, ks, NAMED.get(gm.name)), labmod.gdoi_secrets(gm, ["ks"]))
        sr_bgp_conf(ks, gms)
        ks.start_frr()
        start_charon(ks)
        for gm in gms:
            start_charon(gm)
        wait_until("every member registered",
                   lambda: set(key_server_members(ks)) == {f"{m}.example.net" for m in MEMBERS}, timeout=60)
        for gm in gms:
            member_bgp_conf(gm, ks)
            gm.start_frr()
        yield lab


def test_the_key_server_keeps_the_list_gm1_named_at_registration(sr):
    members = key_server_members(sr["ks"])
    gm1 = members["gm1.example.net"]
    assert gm1["discovery"] == "member-list" and gm1["peers"] == ["gm2.example.net"], gm1
    for m in ("gm2.example.net", "gm3.example.net"):
        assert members[m]["discovery"] == "auto" and "peers" not in members[m], members[m]
    text = labmod.gdoictl(sr["ks"], "members", GROUP, as_json=False).stdout
    assert "PEERS" in text and "gm2.example.net" in text, text


def test_gm1s_route_goes_only_to_the_member_it_named(sr):
    want = expected_tables(sr, NAMED)
    assert want["gm1"] == {"192.0.2.11/32", "192.0.2.12/32"}
    assert want["gm2"] == {"192.0.2.11/32", "192.0.2.12/32", "192.0.2.13/32"}
    assert want["gm3"] == {"192.0.2.12/32", "192.0.2.13/32"}
    converge(sr, want, "gm1 and gm2 see each other, gm3 sees only gm2")
    view = sr["ks"].vtysh_json("show bgp gsa groups json")
    a = view["serverGroups"][GROUP]
    assert a["members"]["gm1.example.net"]["discovery"] == "member-list", a
    assert a["members"]["gm1.example.net"]["memberList"] == ["gm2.example.net"], a
    assert a["members"]["gm3.example.net"]["memberList"] is None, a
    assert a["counters"]["deniedNotNamed"] > 0 and a["counters"]["reflected"] > 0, a
    text = sr["ks"].vtysh("show bgp gsa groups")
    assert "member list: gm2.example.net" in text and "not named " in text, text
    # the member shows its configured mode, and how its gdoi plugin registers
    local = sr["gm1"].vtysh_json("show bgp gsa groups json")["localGroups"][GROUP]
    assert local["discovery"] == "member-list", local
    wait_until("gm1 shows its gdoi group's member list", lambda: sr["gm1"].vtysh_json(
        "show bgp gsa groups json")["localRegistration"].get(GROUP) == {
            "discovery": "member-list", "memberList": ["gm2.example.net"], "matchesConfig": True}, timeout=30)
    wait_until("gm2 shows auto-discovery", lambda: sr["gm2"].vtysh_json(
        "show bgp gsa groups json")["localRegistration"].get(GROUP) == {
            "discovery": "auto", "memberList": None, "matchesConfig": True}, timeout=30)


def test_gm2_opens_gm1s_prefixes_and_gm3_does_not(sr):
    gm1, gm2, gm3 = (sr[m] for m in MEMBERS)
    wait_until("gm2 opened gm1's and gm3's prefixes", lambda: opened_routes(gm2) == {
        gm1.lan_prefix: (gm1.addr, GROUP), gm3.lan_prefix: (gm3.addr, GROUP)}, timeout=60)
    wait_until("gm1 opened gm2's prefixes only",
               lambda: opened_routes(gm1) == {gm2.lan_prefix: (gm2.addr, GROUP)}, timeout=30)
    wait_until("gm3 opened gm2's prefixes only",
               lambda: opened_routes(gm3) == {gm2.lan_prefix: (gm2.addr, GROUP)}, timeout=30)
    # gm3 never had gm1's route: nothing of it to open or refuse
    assert endpoint(gm1) not in gm3.vtysh_json("show bgp gsa routes json")["notOpened"]


def test_a_new_member_list_takes_effect_without_touching_bgp(sr):
    ks, gm1, gm3 = sr["ks"], sr["gm1"], sr["gm3"]
    named = {"gm1": ["gm2", "gm3"]}
    gm1.write_config("gdoi.conf", member_conf(gm1, ks, named["gm1"]))
    gm1.swanctl("--reload-settings")
    wait_until("the key server has gm1's new list", lambda: key_server_members(ks).get(
        "gm1.example.net", {}).get("peers") == ["gm2.example.net", "gm3.example.net"], timeout=30)
    converge(sr, expected_tables(sr, named), "every member sees every other")
    wait_until("gm3 opened gm1's prefixes", lambda: opened_routes(gm3).get(gm1.lan_prefix) == (gm1.addr, GROUP),
               timeout=30)
    wait_until("gm1 opened gm3's prefixes", lambda: opened_routes(gm1).get(gm3.lan_prefix) == (gm3.addr, GROUP),
               timeout=30)
    wait_until("gm1's bgpd shows the new list", lambda: gm1.vtysh_json("show bgp gsa groups json")[
        "localRegistration"].get(GROUP, {}).get("memberList") == ["gm2.example.net", "gm3.example.net"],
        timeout=30)
