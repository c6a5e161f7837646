# SPDX-License-Identifier: GPL-2.0-or-later
"""python3 -m rfcpeer CONFIG.json: run a key server ("role": "ks") or a
member ("role": "gm") until killed; status in DIR/status.json, commands
as DIR/ctl/cmd-*.json (see docs/lab.md)."""
import json
import sys


def main(argv):
    if len(argv) != 2:
        print("usage: python3 -m rfcpeer CONFIG.json", file=sys.stderr)
        return 2
    cfg = json.loads(open(argv[1]).read())
    if cfg["role"] == "ks":
        from .ks import KeyServer as Role
    elif cfg["role"] == "gm":
        from .gm import Member as Role
    else:
        print(f"role {cfg['role']!r}: ks or gm", file=sys.stderr)
        return 2
    Role(cfg).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
