# SPDX-License-Identifier: GPL-2.0-or-later
"""A scenario that fails on purpose, run by test_teardown.py in a child
pytest: its lab must still be torn down completely."""
import lab as labmod


def test_fails_with_daemons_running():
    lab = labmod.smoke_lab("gsfail")
    with lab:
        labmod.configure_smoke(lab)
        assert lab["sr"].procs["bgpd"].poll() is None
        assert False, "failing on purpose with the lab up"
