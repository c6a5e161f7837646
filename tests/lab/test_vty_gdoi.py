# SPDX-License-Identifier: GPL-2.0-or-later
"""`crypto gdoi group` in vtysh: charon's groups configured from bgpd's CLI.

A key server (ks) and two members (gm1, gm2) run charon with no group in
their settings file and bgpd with the GSA module; the groups are configured
only with vtysh. bgpd hands them to charon's gdoi plugin over the control
socket (check-config, then load-config); the members register and get the
group SA. charon on the key server is restarted: bgpd loads the groups into
it again when it connects, and the members come back. bgpd on the key server
is restarted with the running configuration as its configuration file: the
same. Twenty malformed commands are each refused with a clear error, and
`show running-config` and `gdoictl groups --json` are the same before and
after each.
"""
import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"
GID = labmod.GDOI_GROUP_ID
TEK = labmod.GDOI_TEK_TS[4]


def ks_commands(ks, gms):
    return [
        f"crypto gdoi group {GROUP}",
        f"identity number {GID}",
        "server local",
        "local identity ks.example.net",
        f"local address {ks.addr}",
        *[f"member identity {gm.name}.example.net" for gm in gms],
        "authentication psk",
        "rekey lifetime seconds 86400",
        "sa lifetime seconds 3600",
        "sa ipsec 1 profile aes256gcm16",
        f"sa ipsec 1 match address {TEK} {TEK}",
    ]


def gm_commands(gm, ks):
    return [
        f"crypto gdoi group {GROUP}",
        f"identity number {GID}",
        f"server address {ks.addr}",
        "server identity ks.example.net",
        f"local identity {gm.name}.example.net",
        f"local address {gm.addr}",
        "authentication psk",
        "liveness seconds 2",
    ]


def vtysh_conf(router, commands, check=True):
    """vtysh -c 'configure terminal' -c ... : the completed process."""
    argv = [router.lab.frr / "bin" / "vtysh", "-c", "configure terminal"]
    for c in commands:
        argv += ["-c", c]
    return router.run(argv, check=check)


def errors(p):
    """What vtysh said of the commands (not of its own missing vtysh.conf)."""
    return [line for line in (p.stdout + p.stderr).splitlines()
            if line.strip() and "vtysh.conf" not in line]


def running_config(router):
    return router.vtysh("show running-config")


def gdoi_block(router, name=GROUP):
    """The lines of `crypto gdoi group NAME` in the running configuration."""
    lines, inside = [], False
    for line in running_config(router).splitlines():
        if line.startswith("crypto gdoi group"):
            inside = line == f"crypto gdoi group {name}"
            if inside:
                lines.append(line)
            continue
        elif not line.startswith(" "):
            inside = False
        if inside:
            lines.append(line.strip())
    return lines


def groups(router):
    return labmod.gdoictl(router, "groups").get("groups", [])


def group(router):
    return next((g for g in groups(router) if g["name"] == GROUP), None)


def ks_members(ks):
    return labmod.gdoi_members(ks, GROUP)


def everyone_back(lab):
    labmod.gdoi_wait_registered(lab["ks"], [lab["gm1"], lab["gm2"]], GROUP)


def loaded(router):
    """bgpd says charon took its configuration."""
    j = router.vtysh_json("show crypto gdoi json")
    return j if all(c["loaded"] for c in j["configured"]) and j["configured"] else None


@pytest.fixture(scope="module")
def vlab():
    lab = labmod.gdoi_lab("gsvtycfg", members=2)
    with lab:
        ks = lab["ks"]
        gms = [lab["gm1"], lab["gm2"]]
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        # no group in any settings file
        labmod.gdoi_charon(ks, "groups {\n}\n", labmod.gdoi_secrets(ks, [g.name for g in gms]))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, "groups {\n}\n", labmod.gdoi_secrets(gm, ["ks"]))
        for r in [ks] + gms:
            r.start_charon()
            r.swanctl("--load-creds", "--noprompt", "--file", r.dir / "swanctl.conf")
            labmod.frr_configs(r, [])
            r.start_frr()
            wait_until(f"{r.name}: bgpd connected to charon",
                       lambda: r.vtysh_json("show bgp gsa json")["controlSocket"]["state"] == "connected",
                       timeout=40)
        yield lab


def test_groups_configured_from_vtysh_register(vlab):
    ks, gms = vlab["ks"], [vlab["gm1"], vlab["gm2"]]
    assert groups(ks) == [], "charon starts without groups"
    # an incomplete group is held by bgpd and not sent
    vtysh_conf(ks, ks_commands(ks, gms)[:4])
    j = ks.vtysh_json("show crypto gdoi json")
    assert j["groups"] == [], j
    assert j["configured"] == [{"name": GROUP, "complete": False, "loaded": False,
                                "missing": "local address, member identity, sa ipsec"}], j
    p = vtysh_conf(ks, ks_commands(ks, gms))
    assert not errors(p), errors(p)
    g = wait_until("charon serves the group", lambda: (lambda g: g if g and g["state"] == "serving" else None)(group(ks)),
                   timeout=10)
    assert g["role"] == "server" and g["groupId"] == "@#000004d2", g
    for gm in gms:
        p = vtysh_conf(gm, gm_commands(gm, ks))
        assert not errors(p), errors(p)
        assert group(gm)["role"] == "member"
    everyone_back(vlab)
    # show crypto gdoi: charon's view, through bgpd
    j = ks.vtysh_json(f"show crypto gdoi group {GROUP} ks members json")
    assert [g["name"] for g in j["groups"]] == [GROUP]
    assert j["groups"][0]["configuredBy"] == "bgpd" and j["groups"][0]["state"] == "serving"
    assert sorted(m["id"] for m in j["groups"][0]["members"]) == ["gm1.example.net", "gm2.example.net"]
    j = gms[0].vtysh_json("show crypto gdoi gm json")
    assert j["groups"][0]["sas"] and j["groups"][0]["sas"][0]["encrAlg"] == "AES_GCM_16", j
    text = ks.vtysh(f"show crypto gdoi group {GROUP} ks members")
    assert "Group Name               : blue" in text and "gm2.example.net" in text, text
    # written back
    assert gdoi_block(ks) == ks_commands(ks, gms), gdoi_block(ks)
    assert gdoi_block(gms[0]) == gm_commands(gms[0], ks), gdoi_block(gms[0])


def test_a_charon_restart_gets_the_configuration_again(vlab):
    ks = vlab["ks"]
    before = gdoi_block(ks)
    p = ks.procs["charon"]
    p.terminate()
    p.wait(timeout=15)
    wait_until("bgpd saw charon go",
               lambda: ks.vtysh_json("show bgp gsa json")["controlSocket"]["state"] == "connecting", timeout=15)
    ks.start_charon()
    ks.swanctl("--load-creds", "--noprompt", "--file", ks.dir / "swanctl.conf")
    # bgpd connects again and loads the group; it starts once the signing
    # key is there (bgpd loads again while a group did not start)
    wait_until("charon serves the group again",
               lambda: (lambda g: g if g and g["state"] == "serving" else None)(group(ks)), timeout=60)
    everyone_back(vlab)
    assert gdoi_block(ks) == before
    wait_until("bgpd says the group is loaded", lambda: loaded(ks), timeout=10)


def test_a_bgpd_restart_loads_its_configuration_file(vlab):
    ks = vlab["ks"]
    before = gdoi_block(ks)
    ks.write_config("bgpd.conf", ks.vtysh("show running-config", daemon="bgpd"))
    p = ks.procs["bgpd"]
    p.terminate()
    p.wait(timeout=15)
    assert group(ks)["state"] == "serving", "charon keeps bgpd's groups"
    ks.spawn("bgpd", [ks.lab.frr / "lib" / "frr" / "bgpd", "-f", ks.dir / "bgpd.conf",
                      "--log", f"file:{ks.dir}/bgpd.log", "--log-level", "debugging", "-M", "gsa"])
    wait_until("bgpd answers vtysh", lambda: ks._answers("bgpd"), timeout=30)
    wait_until("bgpd loaded its groups into charon", lambda: loaded(ks), timeout=40)
    assert gdoi_block(ks) == before
    everyone_back(vlab)


# (command, what the error says): parse errors of vtysh, refusals of the
# module, and values charon refuses (its parser's message, naming the setting)
MALFORMED = [
    ("identity number abc", "Unknown command"),
    ("identity number 4294967296", "Unknown command"),
    ("local address 300.1.1.1", "Unknown command"),
    ("server address ks.example.net", "Unknown command"),
    ("sa ipsec 0 profile aes256gcm16", "Unknown command"),
    ("rekey transport carrier-pigeon", "Unknown command"),
    ("rekey lifetime", "Command incomplete"),
    ("member identity gm1.example.net", "member identity gm1.example.net is already configured"),
    ("no member identity gm9.example.net", "member identity gm9.example.net is not configured"),
    ("member identity /O=a,CN=b", "cannot hold a comma"),
    ("server address 192.0.2.99", "is a key server group (server local): remove that first"),
    ("no sa ipsec 9", "sa ipsec 9 is not configured"),
    ("rekey lifetime seconds 30", 'groups.blue.kek_lifetime: "30" is shorter than 60s'),
    ("sa lifetime seconds 10", 'groups.blue.tek_lifetime: "10" is shorter than 60s'),
    ("identity number 4321", "is already the group ID"),  # green's, below
    ("local identity @#zz", "groups.blue.local_id"),
    ("sa ipsec 1 match address 10.0.0.0/33 10.0.0.0/8", "groups.blue.tek-1.local_ts"),
    ("sa ipsec 1 profile aes256-md5", "groups.blue.tek-1.esp_proposal"),
    ("rekey algorithm 3des-sha1", "groups.blue.rekey_proposal"),
    ("rekey transport multicast 192.0.2.5", "groups.blue.multicast"),
    ("local address 224.0.0.5", "groups.blue.listen"),
]


def test_twenty_malformed_commands_change_nothing(vlab):
    ks = vlab["ks"]
    # a second group whose ID the malformed `identity number` takes
    other = [c.replace(f"group {GROUP}", "group green").replace(f"number {GID}", "number 4321")
             for c in ks_commands(ks, [vlab["gm1"]])]
    p = vtysh_conf(ks, other)
    assert not errors(p), errors(p)
    wait_until("charon serves green", lambda: any(g["name"] == "green" for g in groups(ks)), timeout=10)
    assert len(MALFORMED) >= 20, len(MALFORMED)
    for command, error in MALFORMED:
        config_before, groups_before = running_config(ks), labmod.gdoictl(ks, "groups")
        p = vtysh_conf(ks, [f"crypto gdoi group {GROUP}", command], check=False)
        out = "\n".join(errors(p))
        assert error in out, (command, out)
        assert running_config(ks) == config_before, command
        after = labmod.gdoictl(ks, "groups")
        # the counters move with the members' traffic; the configuration does not
        strip = lambda gs: [{k: v for k, v in g.items() if k not in ("counters", "kekMessageId")}
                            for g in gs["groups"]]
        assert strip(after) == strip(groups_before), command
    # the group still runs as configured
    assert gdoi_block(ks) == ks_commands(ks, [vlab["gm1"], vlab["gm2"]])
    assert gdoi_block(ks, "green") == other
    everyone_back(vlab)
