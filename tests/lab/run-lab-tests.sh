#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the lab scenarios (pytest) from make check, which sets
# GROUPSEC_LAB_STRICT=1: without root or the suites the lab then fails
# rather than skips (see conftest.py).
exec /usr/bin/python3 -m pytest -v -p no:cacheprovider "$(dirname "$0")" -o junit_family=xunit2
