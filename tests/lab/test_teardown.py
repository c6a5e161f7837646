# SPDX-License-Identifier: GPL-2.0-or-later
"""A lab leaves no namespace, daemon or mount behind: after a test that
fails, after SIGINT or SIGTERM, and (through cleanup at the next start)
after SIGKILL. A lab with a QEMU guest leaves no QEMU process and no tap
either."""
import os
import signal
import subprocess
from pathlib import Path

import lab as labmod
import pytest
from lab import wait_until

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"


def processes_of(lab_dir):
    """pids whose command line or environment names the lab's folder."""
    needle = str(lab_dir).encode()
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if needle in (p / "cmdline").read_bytes() or needle in (p / "environ").read_bytes():
                found.append(int(p.name))
        except OSError:
            pass
    return found


def namespaces_of(name):
    return [n for n in labmod.lab_namespaces() if n.startswith(name + "-")]


def mounts_left(lab_dir):
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(lab_dir) in line]


def assert_nothing_left(name):
    lab_dir = labmod.TOP / "build" / "lab" / name
    assert namespaces_of(name) == []
    assert processes_of(lab_dir) == []
    assert mounts_left(lab_dir) == []


def test_a_failing_test_leaves_nothing_behind():
    p = subprocess.run([PY, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(HERE / "_failing_scenario.py")],
                       capture_output=True, text=True, timeout=180, cwd=HERE)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "failing on purpose with the lab up" in p.stdout
    assert_nothing_left("gsfail")
    # its logs stay for the report
    assert (labmod.TOP / "build" / "lab" / "gsfail" / "sr" / "bgpd.log").stat().st_size > 0


# holds its lab up until a signal, or until the test closes its stdin
CHILD = """
import signal
import sys
# an operator's Ctrl-C, even if this test runs where SIGINT is ignored
# (a background job of a shell inherits SIG_IGN)
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {here!r})
import lab as labmod
lab = labmod.smoke_lab({name!r})
with lab:
    labmod.configure_smoke(lab)
    print("up", flush=True)
    sys.stdin.read()
"""


def start_child(name):
    child = subprocess.Popen([PY, "-c", CHILD.format(here=str(HERE), name=name)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = child.stdout.readline()
    assert line.strip() == "up", line + child.stdout.read()
    assert len(namespaces_of(name)) == 4
    assert processes_of(labmod.TOP / "build" / "lab" / name)
    return child


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_lab_leaves_nothing_behind(sig):
    name = "gsint" if sig == signal.SIGINT else "gsterm"
    child = start_child(name)
    child.send_signal(sig)
    assert child.wait(timeout=60) != 0
    assert_nothing_left(name)


def test_a_killed_lab_is_cleaned_up_by_the_next_start():
    child = start_child("gskill")
    child.kill()
    child.wait()
    assert namespaces_of("gskill")  # SIGKILL leaves it behind ...
    labmod.cleanup(namespaces_of("gskill"))
    wait_until("no process of the killed lab", lambda: not processes_of(labmod.TOP / "build" / "lab" / "gskill"),
               timeout=10)
    assert_nothing_left("gskill")  # ... and cleanup() removes all of it


# a lab with a QEMU guest router (guest.py): QEMU runs in the backbone
# namespace, its tap is a port of the bridge there
GUEST_CHILD = """
import signal
import sys
# an operator's Ctrl-C, even if this test runs where SIGINT is ignored
# (a background job of a shell inherits SIG_IGN)
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {here!r})
import lab as labmod
lab = labmod.Lab({name!r}, dataplane="xfrm")
lab.add_router("gm1", "192.0.2.11", "10.1.0.1/24")
with lab:
    assert lab["gm1"].run(["cat", "/proc/sys/kernel/osrelease"]).stdout.startswith("6.1.")
    print("up", flush=True)
    sys.stdin.read()
"""


def qemu_processes(name):
    return [p for p in processes_of(labmod.TOP / "build" / "lab" / name)
            if b"qemu-system" in Path(f"/proc/{p}/cmdline").read_bytes()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_a_guest_lab_leaves_no_qemu_tap_or_namespace(sig):
    name = "gsgint" if sig == signal.SIGINT else "gsgkill"
    child = subprocess.Popen([PY, "-c", GUEST_CHILD.format(here=str(HERE), name=name)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = child.stdout.readline()
    assert line.strip() == "up", line + child.stdout.read()
    assert len(qemu_processes(name)) == 1
    bb = f"{name}-bb"
    assert "t1" in labmod.run(["ip", "-n", bb, "-br", "link"]).stdout
    child.send_signal(sig)
    child.wait(timeout=60)
    if sig == signal.SIGKILL:
        assert qemu_processes(name)  # SIGKILL leaves the guest running ...
        labmod.cleanup(namespaces_of(name))
        wait_until("no process of the killed lab", lambda: not processes_of(labmod.TOP / "build" / "lab" / name),
                   timeout=10)
    assert qemu_processes(name) == []  # ... cleanup() ends it with the namespace
    assert bb not in labmod.lab_namespaces()
    assert_nothing_left(name)
