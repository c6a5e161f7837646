# SPDX-License-Identifier: GPL-2.0-or-later
"""The key server is elected among three candidates, and replaced when it dies.

Three candidates (ks1..ks3, 192.0.2.1..3) each configure the gdoi key
server group blue dormant (`election = yes`); three members (gm1..gm3)
configure blue with `servers = election`. All seven charons (with a rogue,
below) run the election of group 1234 on UDP 849, once over a unicast peer
list and once over a multicast group (IPv4),
each message signed with the node's ECDSA key through the credential
manager (auth = pubkey). The candidates have the same priority; who stands
in an election is partly chance (a candidate that hears a call stands on
a coin toss, seed 003), and the highest address among those standing
wins. The elected candidate's gdoi group serves, the others stand by, and
the members register to it. Its charon is killed with SIGKILL: another
candidate is elected, serves, and every member registers to it; the time
from the kill to the last member registered is printed.

The rogue (192.0.2.99, the highest address, priority 255) has a valid key
and calls itself a candidate, but nobody lists it as one: it never wins; a
VICTORY_ANNOUNCEMENT signed with its key and sent from its address is
counted as unauthorized and changes nobody's server. A test sender replays a
captured ACK of the leader and sends it again with a broken signature: the
member drops both and counts them (replayed, forged).
"""
import json
import socket
import subprocess
import time

import lab as labmod
import pytest
from lab import wait_until

GROUP = "blue"
ELECTION = "ks"
CANDIDATES = {"ks1": "192.0.2.1", "ks2": "192.0.2.2", "ks3": "192.0.2.3"}
MEMBERS = {"gm1": "192.0.2.11", "gm2": "192.0.2.12", "gm3": "192.0.2.13"}
ROGUE = ("rogue", "192.0.2.99")
MCAST = "239.192.0.49"
ALL = {**CANDIDATES, **MEMBERS, ROGUE[0]: ROGUE[1]}


def fqdn(name):
    return f"{name}.example.net"


def election_conf(name, candidate, priority, transport, gdoi_group=True):
    where = f"multicast = {MCAST}" if transport == "multicast" else f"peers = {', '.join(ALL.values())}"
    return f"""\
		election {{
			groups {{
				{ELECTION} {{
					group = 1234
					identity = {fqdn(name)}
					address = {ALL[name]}
					candidate = {"yes" if candidate else "no"}
					priority = {priority}
					auth = pubkey
					{where}
					candidates = {", ".join(fqdn(n) for n in CANDIDATES)}
					members = {", ".join(fqdn(n) for n in list(MEMBERS) + [ROGUE[0]])}
					{"gdoi_group = " + GROUP if gdoi_group else ""}
					{"rogue_hold = 0" if gdoi_group else ""}
				}}
			}}
		}}
"""


def server_conf(ks, members):
    conf = labmod.gdoi_server_conf(ks, members)
    conf = conf.replace("local_id = ks.example.net", f"local_id = {fqdn(ks.name)}")
    conf = conf.replace("\t\tauth = psk", "\t\tauth = pubkey\n\t\telection = yes")
    return conf


def member_conf(gm, peers):
    conf = labmod.gdoi_member_conf(gm, gm, peers)
    lines = [line for line in conf.splitlines() if "servers =" not in line and "server_id =" not in line]
    conf = "\n".join(lines) + "\n"
    return conf.replace("\t\tauth = psk", "\t\tauth = pubkey\n\t\tservers = election")


@pytest.fixture(scope="module", params=["peers", "multicast"])
def elab(request):
    transport = request.param
    lab = labmod.Lab("gselect" if transport == "peers" else "gselmc")
    lab.transport = transport
    for i, (name, addr) in enumerate(ALL.items()):
        lab.add_router(name, addr, f"10.{i + 1}.0.1/24")
    with lab:
        if transport == "multicast":
            for r in lab.routers.values():
                # multicast leaves through the backbone interface
                r.run(["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"])
        names = list(ALL)
        pki = labmod.make_pki(lab, names)
        routers = [lab[n] for n in names]
        gms = [lab[n] for n in MEMBERS]
        for r in routers:
            labmod.install_creds(r, pki, cert=f"{r.name}.crt", key=f"{r.name}.key",
                                 certs=[f"{n}.crt" for n in names if n != r.name])
            if r.name in CANDIDATES:
                conf = server_conf(r, gms)
                election = election_conf(r.name, True, 100, transport)
            elif r.name in MEMBERS:
                conf = member_conf(r, [p for p in gms if p is not r])
                election = election_conf(r.name, False, 0, transport)
            else:
                conf = "groups {\n}\n"
                election = election_conf(r.name, True, 255, transport, gdoi_group=False)
            labmod.gdoi_charon(r, conf, "", extra=election)
        for r in routers:
            r.start_charon()
        # nobody can sign before its key is loaded: loading every node's
        # credentials at once starts the election everywhere together (a
        # node that comes later finds the server in office and follows it)
        load_creds(routers)
        yield lab


def load_creds(routers):
    """Load the routers' credentials at once, then their gdoi groups again
    (an elected key server group needs its signing key)."""
    procs = [(r, r.popen([r.lab.ss / "sbin" / "swanctl", "--load-creds", "--noprompt", "--file",
                          r.dir / "swanctl.conf"],
                         env={"STRONGSWAN_CONF": r.dir / "strongswan.conf"}, merge=True)) for r in routers]
    for r, p in procs:
        out, _ = p.communicate(timeout=30)
        if p.returncode != 0:
            raise labmod.LabError(f"{r.name}: swanctl --load-creds failed: {out}")
    for r in routers:
        r.swanctl("--reload-settings")


def elections(router):
    out = labmod.gdoictl(router, "elections", check=False)
    if not isinstance(out, dict):
        return {}
    return {e["name"]: e for e in out.get("elections", [])}


def election(router):
    return elections(router).get(ELECTION, {})


def leader_of(router):
    e = election(router)
    return e.get("leader") if e.get("state") in ("client", "leader") else None


def group_state(router):
    out = labmod.gdoictl(router, "groups", check=False)
    if not isinstance(out, dict):
        return None
    return next((g for g in out.get("groups", []) if g.get("name") == GROUP), None)


def registered_to(gm, address):
    g = group_state(gm)
    return g is not None and g.get("state") == "registered" and str(g.get("server", "")).startswith(address)


def serving(ks):
    g = group_state(ks)
    return g is not None and g.get("state") == "serving"


def show(lab):
    for r in lab.routers.values():
        if r.procs.get("charon") and r.procs["charon"].poll() is None:
            print(r.name, election(r), group_state(r))
        lines = [l for l in (r.dir / "charon.log").read_text().splitlines() if "election" in l or "gdoi" in l]
        print("\n".join(lines[-15:]))


def live(lab, names):
    return [lab[n] for n in names if lab[n].procs["charon"].poll() is None]


ELECTED = {}


def common_leader(routers):
    """The identity every router follows, if they all follow the same one."""
    leaders = {leader_of(r) for r in routers}
    return leaders.pop() if len(leaders) == 1 else None


def name_of(identity):
    return identity.split(".")[0] if identity else None


def test_one_candidate_is_elected_and_members_register_to_it(elab):
    honest = live(elab, list(CANDIDATES) + list(MEMBERS))
    try:
        leader = name_of(wait_until("every node follows the same key server",
                                    lambda: common_leader(honest), timeout=60))
        assert leader in CANDIDATES, f"{leader} is no authorized candidate"
        ks = elab[leader]
        wait_until(f"{leader} serves group blue", lambda: serving(ks), timeout=20)
        for gm in live(elab, MEMBERS):
            wait_until(f"{gm.name} registered to {leader}", lambda: registered_to(gm, CANDIDATES[leader]),
                       timeout=30)
    except labmod.LabError:
        show(elab)
        raise
    ELECTED[elab.transport] = leader
    print(f"{elab.transport}: elected {leader}")
    e = election(ks)
    assert e["state"] == "leader" and e["leaderSelf"] is True
    assert e["lastResult"] in ("elected", "found")
    # the other candidates stand by: their group does not serve
    for name in CANDIDATES:
        if name != leader:
            assert not serving(elab[name]), f"{name} serves although not elected"
            assert election(elab[name])["state"] == "client"


# RFC 7427 AUTH data: the AlgorithmIdentifier ecdsa-with-SHA256, its length first
ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


def signed_victory(lab, name, sequence):
    """A VICTORY_ANNOUNCEMENT of name (priority 255, its address), signed
    with its own key as charon signs (auth method 4, docs/election.md)."""
    ident = fqdn(name).encode()
    payload = bytes([255, 4]) + socket.inet_aton(ALL[name])
    part = (bytes([1, 5, 4, len(ident)]) + sequence.to_bytes(8, "big") + (1234).to_bytes(4, "big") + ident
            + len(payload).to_bytes(2, "big") + payload)
    data = lab.dir / "victory.bin"
    data.write_bytes(part)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", lab.dir / "pki" / f"{name}.key", data],
                         capture_output=True, check=True, timeout=30).stdout
    auth = bytes([len(ECDSA_SHA256)]) + ECDSA_SHA256 + sig
    return part + len(auth).to_bytes(2, "big") + auth


def send_from(router, dst, datagrams):
    """Datagrams to dst:849 from a Python sender in router."""
    sender = f"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for hexdata in sys.argv[1:]:
    s.sendto(bytes.fromhex(hexdata), ("{dst}", 849))
"""
    router.run(["/usr/bin/python3", "-c", sender, *[d.hex() for d in datagrams]])


def test_an_unauthorized_candidate_never_wins(elab):
    rogue = elab[ROGUE[0]]
    gm1 = elab["gm1"]
    leader = ELECTED[elab.transport]
    # the rogue, with a valid key, the highest address and priority 255,
    # announces its victory to gm1: refused, counted
    before = election(gm1)["counters"]["unauthorized"]
    victory = signed_victory(elab, ROGUE[0], int(time.time()) << 21)
    send_from(rogue, MEMBERS["gm1"], [victory])
    wait_until("gm1 counts the rogue's victory as unauthorized",
               lambda: election(gm1)["counters"]["unauthorized"] > before, timeout=10)
    for r in elab.routers.values():
        if r is rogue:
            continue
        e = election(r)
        assert e.get("leader") == fqdn(leader), f"{r.name} follows {e.get('leader')}, not {leader}"


def test_forged_and_replayed_messages_are_dropped_and_counted(elab):
    gm1 = elab["gm1"]
    rogue = elab[ROGUE[0]]
    capture = labmod._sniff_udp(gm1, "all", 849, 3)  # every datagram to 849
    got = capture(window=True)
    # an ACK of the leader (type 2, its identity at offset 16): verified by
    # every node, unlike queries (the rogue, which believes it won, answers
    # queries too: its ACKs are refused as unauthorized, never replays)
    leader = fqdn(ELECTED[elab.transport]).encode()
    acks = [data for _dst, data in got
            if len(data) > 20 and data[1] == 2 and data[16:16 + data[3]] == leader]
    assert acks, f"no LEADER_R_U_THERE_ACK reached gm1 in 3 s ({len(got)} datagrams)"
    ack = acks[-1]
    before = election(gm1)["counters"]
    forged = bytearray(ack)
    forged[-1] ^= 0x01  # the signature's last octet
    send_from(rogue, MEMBERS["gm1"], [ack, bytes(forged)])
    wait_until("gm1 counts the replay and the forgery",
               lambda: (election(gm1)["counters"]["replayed"] > before["replayed"]
                        and election(gm1)["counters"]["forged"] > before["forged"]), timeout=10)
    after = election(gm1)["counters"]
    print(f"gm1 dropped: replayed {before['replayed']} -> {after['replayed']}, "
          f"forged {before['forged']} -> {after['forged']}")
    # and it still follows the elected server
    assert leader_of(gm1) == fqdn(ELECTED[elab.transport])


def test_sigkill_of_the_leader_elects_a_new_one_and_members_move_to_it(elab):
    old = ELECTED.get(elab.transport)
    assert old, "no server was elected"
    gms = [elab[n] for n in MEMBERS]
    for gm in gms:
        wait_until(f"{gm.name} registered to {old}", lambda: registered_to(gm, CANDIDATES[old]), timeout=30)
    # gm1's control socket clients hear the change as it happens
    gm1 = elab["gm1"]
    monitor = gm1.popen([elab.ss / "sbin" / "gdoictl", "--socket", gm1.dir / "run" / "strongswan" / "gdoi.vici",
                         "--json", "monitor"])
    line = monitor.stderr.readline()
    assert "subscribed to 11 events" in line, line
    p = elab[old].procs["charon"]
    p.kill()
    killed = time.monotonic()
    p.wait(timeout=10)
    honest = live(elab, list(CANDIDATES) + list(MEMBERS))
    try:
        new = name_of(wait_until("every live node follows a new key server",
                                 lambda: (lambda l: l if l and l != fqdn(old) else None)(common_leader(honest)),
                                 timeout=30, interval=0.1))
        elected = time.monotonic() - killed
        assert new in CANDIDATES and new != old
        wait_until(f"{new} serves group blue", lambda: serving(elab[new]), timeout=20, interval=0.1)
        for gm in gms:
            wait_until(f"{gm.name} registered to {new}", lambda: registered_to(gm, CANDIDATES[new]),
                       timeout=30, interval=0.1)
    except labmod.LabError:
        show(elab)
        raise
    moved = time.monotonic() - killed
    print(f"{elab.transport}: SIGKILL of {old} -> {new} followed by every live node: {elected:.2f} s; "
          f"-> every member registered to {new}: {moved:.2f} s")
    monitor.terminate()
    out, _ = monitor.communicate(timeout=10)
    events = [json.loads(l) for l in out.splitlines() if l.strip()]
    changes = [e for e in events if e.get("event") == "leader-changed"]
    assert changes and changes[-1]["leader"] == fqdn(new) and changes[-1]["group"] == ELECTION, changes
    assert changes[-1]["leaderAddress"] == CANDIDATES[new]
    e = election(elab[new])
    assert e["state"] == "leader" and e["leaderSelf"] is True
    text = labmod.gdoictl(elab[new], "elections", as_json=False).stdout
    assert f"{fqdn(new)} (self)" in text and "leader" in text, text
    for name in CANDIDATES:
        if name not in (old, new):
            assert not serving(elab[name])
    assert election(elab["gm1"])["leaderAddress"] == CANDIDATES[new]
