#!/bin/sh
# Runs the lab scenarios (pytest) from make check.
exec /usr/bin/python3 -m pytest -v -p no:cacheprovider "$(dirname "$0")" -o junit_family=xunit2
