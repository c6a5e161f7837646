# SPDX-License-Identifier: GPL-2.0-or-later
"""NETCONF on the routers: Debian's netconfd (yuma123) with groupsec's YANG
modules and the instrumentation library of groupsec-gdoi
(libgroupsec-gdoi.so), behind a private sshd whose `netconf` subsystem is
netconf-subsystem, on the key server (ks) and both members (gm1, gm2).
A client on another router (ops) connects over SSH with python3-ncclient,
as a separate process, with keys made for this run.

The scenario of test_vty_gdoi.py (a key server group and two members),
configured here over NETCONF only, ends in the same bgpd configuration
(`show running-config`) as when typed in vtysh, and the members register
and get the group SA. A change in vtysh shows in get-config, and a change
over NETCONF in vtysh. get returns charon's state of each group. Every
invalid document (of tests/yang/invalid, and values only bgpd or charon
refuse) gets an rpc-error naming the offending node, with get-config,
bgpd's configuration and charon's groups unchanged. yangcli reads the
modules from the server. Restarts of netconfd, charon and bgpd lose
nothing.
"""
import json
import re
import xml.etree.ElementTree as ET

import lab as labmod
import pytest
from lab import TOP, wait_until

YANG = TOP / "yang"
DOCS = TOP / "tests" / "yang"
NS = "urn:groupsec:params:xml:ns:yang:"
GS = "{%sgroupsec-gdoi}" % NS
GROUP = "blue"
GID = labmod.GDOI_GROUP_ID
TEK = labmod.GDOI_TEK_TS[4]

# the node each invalid document of tests/yang/invalid is about, as
# netconfd names it: the last step of the rpc-error's error-path, or its
# error-info's bad-element (an unknown node); with the error-message where
# a `must` on the enclosing container is what fails
INVALID = {
    "activation-delay-long": ("activation-delay", "activation-delay is not shorter than tek-lifetime"),
    "delay-default-lifetime": ("activation-delay", "activation-delay is not shorter than tek-lifetime"),
    "delay-over-65535": ("deactivation-delay", None),
    "auth-unknown": ("auth", None),
    "bgp-relative-socket": ("control-socket", None),
    "election-no-transport": ("election", None),
    "endpoint-no-prefixes": ("prefixes", None),
    "endpoint-same-gateway": ("endpoint", None),
    "esp-proposal-unknown": ("esp-proposal", None),
    "group-name": ("name", None),
    "id-bits-33": ("id-bits", None),
    "key-hierarchy-unknown": ("key-hierarchy", None),
    "key-wrap-unknown": ("key-wrap", None),
    "member-no-servers": ("servers", None),
    "members-dn-with-commas": ("members", None),
    "member-setting-in-server": ("servers", None),
    "multicast-unicast-address": ("multicast", None),
    "multicast-without-rekey": ("server", "multicast is only used with rekey = multicast"),
    "no-role": ("group", "a group needs a role: server or member"),
    "rekey-multicast-missing": ("server", "multicast is required with rekey = multicast"),
    "rekey-proposal-gcm12": ("rekey-proposal", None),
    "sender-ids-17": ("sender-ids", None),
    "sender-ids-without-sender": ("member", "Sender-IDs are only for a group sender (sender = false)"),
    "state-in-config": ("state", None),
    "tek-lifetime-short": ("tek-lifetime", None),
    "traffic-selector-dynamic": ("local-ts", None),
    "trust-unknown-group": ("while-registered", None),
    "unknown-setting": ("lisen", None),
}
# netconfd 2.13 refuses a value that matches no member of a union type
# (here inet:ip-address) with an unknown-element error without a path:
# refused, and nothing changes, but no node is named
UNNAMED = {"listen-not-address"}


def ks_group(ks, gms, server_extra="", group_extra="", tek_extra=""):
    """The key server group of test_vty_gdoi.ks_commands, in YANG."""
    members = "".join(f"<members>{gm.name}.example.net</members>" for gm in gms)
    return f"""<gdoi xmlns="{NS}groupsec-gdoi">
  <group>
    <name>{GROUP}</name>
    <group-id>{GID}</group-id>
    <local-id>ks.example.net</local-id>
    <auth>psk</auth>{group_extra}
    <server>
      <listen>{ks.addr}</listen>
      {members}
      <tek>
        <name>1</name>
        <local-ts>{TEK}</local-ts>
        <remote-ts>{TEK}</remote-ts>
        <esp-proposal>aes256gcm16</esp-proposal>{tek_extra}
      </tek>
      <tek-lifetime>3600</tek-lifetime>
      <kek-lifetime>86400</kek-lifetime>{server_extra}
    </server>
  </group>
</gdoi>
"""


def gm_group(gm, ks):
    """A member group of test_vty_gdoi.gm_commands, in YANG."""
    return f"""<gdoi xmlns="{NS}groupsec-gdoi">
  <group>
    <name>{GROUP}</name>
    <group-id>{GID}</group-id>
    <local-id>{gm.name}.example.net</local-id>
    <auth>psk</auth>
    <member>
      <local-addrs>{gm.addr}</local-addrs>
      <servers>{ks.addr}</servers>
      <server-id>ks.example.net</server-id>
      <liveness>2</liveness>
    </member>
  </group>
</gdoi>
"""


# test_vty_gdoi's commands: the vtysh form of the same configuration
def ks_commands(ks, gms):
    return [f"crypto gdoi group {GROUP}", f"identity number {GID}", "server local", "local identity ks.example.net",
            f"local address {ks.addr}", *[f"member identity {gm.name}.example.net" for gm in gms],
            "authentication psk", "rekey lifetime seconds 86400", "sa lifetime seconds 3600",
            "sa ipsec 1 profile aes256gcm16", f"sa ipsec 1 match address {TEK} {TEK}"]


def gm_commands(gm, ks):
    return [f"crypto gdoi group {GROUP}", f"identity number {GID}", f"server address {ks.addr}",
            "server identity ks.example.net", f"local identity {gm.name}.example.net", f"local address {gm.addr}",
            "authentication psk", "liveness seconds 2"]


@pytest.fixture(scope="module")
def nlab():
    lab = labmod.gdoi_lab("gsnetc", members=2)
    lab.add_router("ops", "192.0.2.9", "10.9.0.1/24")
    with lab:
        ks, gms = lab["ks"], [lab["gm1"], lab["gm2"]]
        pki = labmod.make_pki(lab, ["ks"])
        labmod.install_creds(ks, pki, cert="ks.crt", key="ks.key")
        labmod.gdoi_charon(ks, "groups {\n}\n", labmod.gdoi_secrets(ks, [g.name for g in gms]))
        for gm in gms:
            labmod.install_creds(gm, pki, cert="ks.crt")
            labmod.gdoi_charon(gm, "groups {\n}\n", labmod.gdoi_secrets(gm, ["ks"]))
        lab.nc = {}
        for r in [ks] + gms:
            r.start_charon()
            r.swanctl("--load-creds", "--noprompt", "--file", r.dir / "swanctl.conf")
            labmod.frr_configs(r, [])
            r.start_frr()
            wait_until(f"{r.name}: bgpd connected to charon",
                       lambda: r.vtysh_json("show bgp gsa json")["controlSocket"]["state"] == "connected",
                       timeout=40)
            lab.nc[r.name] = labmod.Netconf(r).start()
        yield lab


def client(lab, router, *args):
    """Run the NETCONF client on ops against router's agent; its JSON result."""
    p = lab["ops"].run(lab.nc[router].client_argv(*args), check=False, timeout=120)
    assert p.returncode == 0, f"netconf_client {args[0]} failed ({p.returncode}): {p.stderr[-2000:]}"
    return json.loads(p.stdout)


def config_file(lab, name, body):
    body = re.sub(r"<!--.*?-->\n?", "", body, flags=re.S)
    out = lab.dir / f"edit-{name}.xml"
    out.write_text(f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">\n{body}</config>\n')
    return out


def edit(lab, router, name, body, replace=False):
    return client(lab, router, "replace" if replace else "edit", config_file(lab, name, body))


def running(lab, router="ks"):
    r = client(lab, router, "get-config")
    assert r["ok"], r
    return r["data"]


def local(tag):
    return tag.rsplit("}", 1)[-1]


def leaves(elements, path=""):
    """Every leaf below the elements as (path of local names, text), sorted."""
    out = []
    for e in elements:
        p = f"{path}/{local(e.tag)}"
        if len(e):
            out += leaves(list(e), p)
        else:
            out.append((p, (e.text or "").strip()))
    return sorted(out)


def group(data, name=GROUP):
    for g in ET.fromstring(data.encode()).iter(GS + "group"):
        if g.findtext(GS + "name") == name:
            return g
    return None


def config_leaves(g):
    """The configuration leaves of a group element (its state left out)."""
    return leaves([c for c in g if local(c.tag) != "state"])


def vtysh_conf(router, commands, check=True):
    argv = [router.lab.frr / "bin" / "vtysh", "-c", "configure terminal"]
    for c in commands:
        argv += ["-c", c]
    return router.run(argv, check=check)


def gdoi_block(router, name=GROUP):
    """The lines of `crypto gdoi group NAME` in bgpd's running configuration."""
    lines, inside = [], False
    for line in router.vtysh("show running-config").splitlines():
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


def charon_groups(router):
    """charon's groups without what moves with traffic."""
    return [{k: v for k, v in g.items() if k not in ("counters", "kekMessageId")}
            for g in labmod.gdoictl(router, "groups").get("groups", [])]


def ks_members(ks):
    return labmod.gdoi_members(ks, GROUP)


def everyone_back(lab):
    labmod.gdoi_wait_registered(lab["ks"], [lab["gm1"], lab["gm2"]], GROUP)


def test_capabilities_name_groupsec_modules(nlab):
    caps = client(nlab, "ks", "capabilities")["capabilities"]
    for path in sorted(YANG.glob("groupsec-*.yang")):
        m = path.stem
        revision = re.search(r"^\s*revision (\S+) \{", path.read_text(), re.M).group(1)
        want = f"{NS}{m}?module={m}&revision={revision}"
        assert want in caps, f"{want} not among the capabilities: {caps}"


def test_groups_configured_over_netconf_register(nlab):
    ks, gms = nlab["ks"], [nlab["gm1"], nlab["gm2"]]
    assert charon_groups(ks) == [] and gdoi_block(ks) == [], "the routers start without groups"
    body = ks_group(ks, gms)
    r = edit(nlab, "ks", "ks", body)
    assert r["ok"], r
    # bgpd holds it as if typed in vtysh, and charon serves it as bgpd's
    assert gdoi_block(ks) == ks_commands(ks, gms), gdoi_block(ks)
    g = wait_until("charon serves the group",
                   lambda: next((g for g in charon_groups(ks) if g["name"] == GROUP and g["state"] == "serving"),
                                None), timeout=30)
    assert g["role"] == "server" and g["groupId"] == "@#000004d2", g
    j = ks.vtysh_json("show crypto gdoi json")
    assert j["groups"][0]["configuredBy"] == "bgpd", j
    for gm in gms:
        r = edit(nlab, gm.name, gm.name, gm_group(gm, ks))
        assert r["ok"], r
        assert gdoi_block(gm) == gm_commands(gm, ks), gdoi_block(gm)
    everyone_back(nlab)
    # read back leaf for leaf
    got = group(running(nlab))
    assert got is not None
    want = group(f"<data>{body}</data>")
    assert config_leaves(got) == config_leaves(want)


def test_get_returns_charons_state(nlab):
    r = client(nlab, "ks", "get", f"/gdoi/group[name='{GROUP}']/state")
    assert r["ok"], r
    g = group(r["data"])
    assert g is not None, r["data"]
    state = g.find(GS + "state")
    assert state is not None, r["data"]
    assert state.findtext(GS + "role") == "server" and state.findtext(GS + "state") == "serving", r["data"]
    assert state.findtext(GS + "member-count") == "2", r["data"]
    members = sorted(m.findtext(GS + "id") for m in state.findall(GS + "member"))
    assert members == ["gm1.example.net", "gm2.example.net"], r["data"]
    r = client(nlab, "gm1", "get", f"/gdoi/group[name='{GROUP}']/state")
    state = group(r["data"]).find(GS + "state")
    assert state.findtext(GS + "role") == "member" and state.findtext(GS + "state") == "registered", r["data"]
    assert any(sa.findtext(GS + "current") == "true" for sa in state.findall(GS + "sa")), r["data"]


def test_a_vtysh_change_shows_in_get_config_and_back(nlab):
    ks = nlab["ks"]
    p = vtysh_conf(ks, [f"crypto gdoi group {GROUP}", "member identity gm9.example.net"])
    assert "%" not in p.stdout, p.stdout

    def listed():
        g = group(running(nlab))
        return "gm9.example.net" in [m.text for m in g.iter(GS + "members")]
    wait_until("get-config lists the member added in vtysh", listed, timeout=15)
    # and removed over NETCONF: gone from bgpd and from charon's group
    body = f"""<gdoi xmlns="{NS}groupsec-gdoi" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">
  <group><name>{GROUP}</name><server><members nc:operation="delete">gm9.example.net</members></server></group>
</gdoi>
"""
    r = edit(nlab, "ks", "delete-gm9", body)
    assert r["ok"], r
    assert gdoi_block(ks) == ks_commands(ks, [nlab["gm1"], nlab["gm2"]]), gdoi_block(ks)
    assert not listed()
    # edited in place: charon kept the group and its members
    assert ks_members(ks) == ["gm1.example.net", "gm2.example.net"]


# documents that YANG allows and bgpd's crypto gdoi or charon refuses:
# (name, group body changes, the node named, a text of the message)
def refused_here(ks, gms):
    return [
        ("listen-multicast", ks_group(ks, gms).replace(f"<listen>{ks.addr}</listen>", "<listen>224.0.0.5</listen>"),
         "listen", "groups.blue.listen"),
        ("traffic-selector-33", ks_group(ks, gms).replace(f"<local-ts>{TEK}</local-ts>",
                                                          "<local-ts>10.0.0.0/33</local-ts>"),
         "local-ts", "groups.blue.tek-1.local_ts"),
        ("local-id-bad", ks_group(ks, gms).replace("<local-id>ks.example.net</local-id>", "<local-id>@#zz</local-id>"),
         "local-id", "groups.blue.local_id"),
        ("key-hierarchy", ks_group(ks, gms, server_extra="<key-hierarchy>flat</key-hierarchy>"),
         "key-hierarchy", "not configured through bgpd"),
        ("id-bits", ks_group(ks, gms, server_extra="<id-bits>8</id-bits>"), "id-bits", "not configured through bgpd"),
        ("activation-delay", ks_group(ks, gms, server_extra="<activation-delay>30</activation-delay>"),
         "activation-delay", "not configured through bgpd"),
        ("single-sender", ks_group(ks, gms, tek_extra="<single-sender>true</single-sender>"),
         "single-sender", "not configured through bgpd"),
        ("tek-named", ks_group(ks, gms).replace("<name>1</name>", "<name>voice</name>"), "name",
         "bgpd numbers TEKs"),
        ("group-id-identity", ks_group(ks, gms).replace(f"<group-id>{GID}</group-id>",
                                                        "<group-id>@#67727031</group-id>"),
         "group-id", "bgpd takes a group number"),
        ("local-id-with-spaces", ks_group(ks, gms).replace("<local-id>ks.example.net</local-id>",
                                                           "<local-id>C=CH, O=Example, CN=ks</local-id>"),
         "local-id", "one word, without spaces"),
        ("plugin-port", f'<gdoi xmlns="{NS}groupsec-gdoi"><plugin><port>848</port></plugin></gdoi>\n',
         "plugin", "not configured through bgpd"),
        ("second-group-same-id", ks_group(ks, gms).replace(
            "</gdoi>", ks_group(ks, gms).replace(f"<name>{GROUP}</name>", "<name>green</name>")
            .split(">", 1)[1].replace("</gdoi>", "") + "</gdoi>"),
         "group-id", "is already the group ID"),
    ]


def named(error, node):
    """Whether an rpc-error names node: the last step of its error-path
    (or the entry's key), or its bad-element."""
    path = error.get("path") or ""
    last = re.sub(r"\[.*?\]", "", path.rstrip("/").rsplit("/", 1)[-1]).split(":")[-1]
    bad = re.search(r"<bad-element[^>]*>([^<]*)</bad-element>", error.get("info") or "")
    return last == node or (bad is not None and bad.group(1).split(":")[-1] == node) or f"'{node}'" in path


def state_of(lab):
    ks = lab["ks"]
    return running(lab), ks.vtysh("show running-config"), charon_groups(ks)


def test_invalid_documents_change_nothing(nlab):
    ks, gms = nlab["ks"], [nlab["gm1"], nlab["gm2"]]
    docs = [(p.stem, p.read_text(), INVALID.get(p.stem, (None, None))[0], INVALID.get(p.stem, (None, None))[1], True)
            for p in sorted((DOCS / "invalid").glob("*.xml"))]
    assert {d[0] for d in docs} == set(INVALID) | UNNAMED
    docs += [(n, body, node, text, False) for n, body, node, text in refused_here(ks, gms)]
    assert len(docs) >= 20
    before = state_of(nlab)
    assert group(before[0]) is not None
    for name, body, node, text, exact in docs:
        r = edit(nlab, "ks", f"invalid-{name}", body, replace=True)
        assert r["ok"] is False and r["errors"], f"{name}: accepted: {r}"
        assert all(e["severity"] == "error" for e in r["errors"]), r
        if node:
            assert any(named(e, node) for e in r["errors"]), f"{name}: no rpc-error names {node}: {r['errors']}"
        if text:
            match = (lambda m: m == text) if exact else (lambda m: text in (m or ""))
            assert any(match(e["message"]) for e in r["errors"]), f"{name}: {r['errors']}"
        assert state_of(nlab) == before, f"{name} changed something"


def test_yangcli_reads_the_modules_from_the_server(nlab):
    nc = nlab.nc["ks"]
    ops = nlab["ops"]
    base = ["yangcli", f"--server={nlab['ks'].addr}", "--user=root", f"--ncport={nc.port}",
            f"--private-key={nc.client_key}", f"--public-key={nc.client_key}.pub", "--batch-mode",
            "--display-mode=plain"]
    out = ops.run(base + ["--run-command=xget /modules-state"], timeout=90).stdout
    for path in sorted(YANG.glob("groupsec-*.yang")):
        assert f"module {path.stem} " in out, f"{path.stem} not in yangcli's xget /modules-state: {out[-3000:]}"
    out = ops.run(base + ["--run-command=sget-config /gdoi source=running"], timeout=90).stdout
    assert GROUP in out and "gm1.example.net" in out, out[-3000:]


def test_a_restart_of_netconfd_loses_nothing(nlab):
    before = running(nlab)
    assert group(before) is not None
    nlab.nc["ks"].stop_netconfd()
    nlab.nc["ks"].start_netconfd()
    assert config_leaves(group(running(nlab))) == config_leaves(group(before))


def test_a_restart_of_charon_restores_the_configuration(nlab):
    ks = nlab["ks"]
    before, block = running(nlab), gdoi_block(ks)
    p = ks.procs["charon"]
    p.terminate()
    p.wait(timeout=15)
    ks.start_charon()
    ks.swanctl("--load-creds", "--noprompt", "--file", ks.dir / "swanctl.conf")
    wait_until("charon serves the group again",
               lambda: any(g["name"] == GROUP and g["state"] == "serving" for g in charon_groups(ks)), timeout=60)
    everyone_back(nlab)
    assert gdoi_block(ks) == block
    assert config_leaves(group(running(nlab))) == config_leaves(group(before))


def test_a_restart_of_bgpd_restores_the_configuration(nlab):
    ks = nlab["ks"]
    before, block = running(nlab), gdoi_block(ks)
    # the agent saved bgpd's configuration file with the NETCONF change
    assert f"crypto gdoi group {GROUP}" in (ks.dir / "bgpd.conf").read_text()
    p = ks.procs["bgpd"]
    p.terminate()
    p.wait(timeout=15)
    ks.spawn("bgpd", [ks.lab.frr / "lib" / "frr" / "bgpd", "-f", ks.dir / "bgpd.conf",
                      "--log", f"file:{ks.dir}/bgpd.log", "--log-level", "debugging", "-M", "gsa"])
    wait_until("bgpd answers vtysh", lambda: ks._answers("bgpd"), timeout=30)
    wait_until("bgpd loaded its groups into charon",
               lambda: (lambda j: j["configured"] and all(c["loaded"] for c in j["configured"]))(
                   ks.vtysh_json("show crypto gdoi json")), timeout=40)
    assert gdoi_block(ks) == block
    assert config_leaves(group(running(nlab))) == config_leaves(group(before))
    everyone_back(nlab)


def member_snapshot(lab, gm):
    """What gm's configuration is, as each side shows it: bgpd's block,
    `show crypto gdoi json` (without what moves with traffic), the group in
    get-config, and its state in get."""
    j = gm.vtysh_json("show crypto gdoi json")
    shown = [{k: v for k, v in g.items() if k not in ("counters", "kekMessageId")} for g in j["groups"]]
    r = client(lab, gm.name, "get", f"/gdoi/group[name='{GROUP}']/state")
    state = group(r["data"]).find(GS + "state")
    return (gdoi_block(gm), shown, j["configured"], config_leaves(group(running(lab, gm.name))),
            state.findtext(GS + "role"), state.findtext(GS + "state"), state.findtext(GS + "sa-count"))


def test_a_member_configured_in_vtysh_is_the_same_as_over_netconf(nlab):
    ks, gm = nlab["ks"], nlab["gm2"]
    everyone_back(nlab)
    over_netconf = member_snapshot(nlab, gm)
    assert over_netconf[0] == gm_commands(gm, ks)
    # the group goes in vtysh: get-config follows
    p = vtysh_conf(gm, [f"no crypto gdoi group {GROUP}"])
    assert "%" not in p.stdout, p.stdout
    wait_until("get-config has no group", lambda: group(running(nlab, gm.name)) is None, timeout=15)
    # and comes back from vtysh: the same everywhere
    p = vtysh_conf(gm, gm_commands(gm, ks))
    assert "%" not in p.stdout, p.stdout
    everyone_back(nlab)
    wait_until("get-config has the group again", lambda: group(running(nlab, gm.name)) is not None, timeout=15)
    assert member_snapshot(nlab, gm) == over_netconf
