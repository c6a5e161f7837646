# SPDX-License-Identifier: GPL-2.0-or-later
"""pytest wiring for the lab: a failing test names the folder with its daemons' logs."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import lab as labmod  # noqa: E402


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# Set by `make check`: there the lab must run, so what makes pytest run by
# hand skip the lab fails the run instead.
STRICT = os.environ.get("GROUPSEC_LAB_STRICT") == "1"


def _cannot_run(reason):
    if STRICT:
        pytest.exit(f"the lab cannot run: {reason} (GROUPSEC_LAB_STRICT=1: under make check "
                    "the lab must run, not be skipped)", returncode=1)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def root_and_suites():
    if os.geteuid() != 0:
        _cannot_run("the lab needs root (network and mount namespaces)")
    try:
        labmod.suites()
    except labmod.LabError as e:
        _cannot_run(str(e))


@pytest.fixture
def lab_logs(request):
    """Register a lab; if the test fails, its report points at the logs."""
    labs = []
    yield labs.append
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for lab in labs:
            print(f"\nlab logs of {lab.name}: {lab.dir}")
            for r in lab.routers.values():
                print(f"  {r.name}: {r.dir}/{{zebra,bgpd,charon}}.log")
