#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks the layering of the source tree (docs/architecture.md).

- No file of one plugin (a top-level folder *-plugin) includes a file of
  another plugin: plugins meet in lib/ and on the control socket.
- No file of lib/groupsec/ includes a file of a plugin.
- No core (any */core/ folder, and lib/groupsec/) includes a header of
  strongSwan (library.h, daemon.h, utils/..., plugins/..., ...) or of FRR
  (zebra.h, lib/..., bgpd/..., vty.h, ...).

An include is followed the way the build finds it: a path naming a
plugin's folder, a path relative to the including file, or a bare or
partial name that is a file of the tree reached through -I (the including
file's own area first, then lib/, then the other plugins). Prints one line
per violation and exits 1 if there is any, 0 otherwise.

usage: check-layering.py [TOP_SRCDIR]
"""
import os
import re
import sys

SOURCE = re.compile(r'\.(c|h|cc|hh|cpp)$')
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
STRONGSWAN = re.compile(
    r'^(library\.h|daemon\.h|plugins?/|plugin\.h|plugin_feature\.h|bus/|utils/|credentials/|networking/'
    r'|processing/|threading/|collections/|sa/|encoding/|config/|kernel/|crypto/|asn1/|selectors/'
    r'|settings/|ipsec/|resolver/|database/|fetcher/)')
FRR = re.compile(
    r'^(zebra\.h|lib/|bgpd/|zebra/|command\.h|vty\.h|libfrr\.h|module\.h|memory\.h|log\.h|hook\.h'
    r'|event\.h|frrevent\.h|thread\.h|prefix\.h|stream\.h|northbound\.h|lib_errors\.h|json\.h|if\.h|vrf\.h)')


def area_of(path):
    """The plugin folder a path is in, "lib" for lib/, None elsewhere."""
    first = path.split('/', 1)[0]
    if first == 'lib':
        return 'lib'
    if first.endswith('-plugin'):
        return first
    return None


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    top = os.path.abspath(top)
    plugins = sorted(d for d in os.listdir(top) if d.endswith('-plugin') and os.path.isdir(os.path.join(top, d)))
    areas = plugins + (['lib/groupsec'] if os.path.isdir(os.path.join(top, 'lib/groupsec')) else [])
    if not areas:
        print(f'check-layering: no plugin or lib/groupsec in {top}', file=sys.stderr)
        return 2
    sources = []
    for a in areas:
        for root, _, files in os.walk(os.path.join(top, a)):
            for f in files:
                if SOURCE.search(f):
                    sources.append(os.path.relpath(os.path.join(root, f), top))
    sources.sort()

    def target_area(name, path, own):
        if area_of(name) not in (None, 'lib') and '/' in name:
            return area_of(name)
        rel = os.path.normpath(os.path.join(os.path.dirname(path), name))
        if os.path.exists(os.path.join(top, rel)) or name.startswith('../') or '/../' in name:
            return area_of(rel)
        found = [area_of(s) for s in sources if s == name or s.endswith('/' + name)]
        if own in found:
            return own
        if 'lib' in found:
            return 'lib'
        return found[0] if found else None

    violations = []
    for path in sources:
        own = area_of(path)
        core = path.startswith('lib/groupsec/') or '/core/' in path
        with open(os.path.join(top, path), encoding='utf-8', errors='replace') as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                name = m.group(2)
                to = target_area(name, path, own) if m.group(1) == '"' else None
                if to not in (None, own, 'lib'):
                    violations.append(f'{path}:{n}: includes "{name}" of {to} ({own} may use lib/ only)')
                elif core and to is None:
                    if STRONGSWAN.search(name):
                        violations.append(f'{path}:{n}: core includes the strongSwan header "{name}"')
                    elif FRR.search(name):
                        violations.append(f'{path}:{n}: core includes the FRR header "{name}"')
    for v in violations:
        print(v)
    if violations:
        print(f'check-layering: {len(violations)} violation(s)', file=sys.stderr)
        return 1
    print(f'check-layering: {len(sources)} files, no violation')
    return 0


if __name__ == '__main__':
    sys.exit(main())
