#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A NETCONF client for the lab, run inside a router's namespace as a
separate process: connects with python3-ncclient over SSH (public key,
host key checked against the one given), does one operation and prints
its result as JSON on stdout.

  capabilities          the server's capabilities
  edit FILE             edit-config of the candidate with the <config> content in
                        FILE, then commit (discard-changes if either fails)
  replace FILE          the same with default-operation replace: FILE becomes the
                        whole configuration
  get-config [XPATH]    get-config of running (optionally an XPath filter)
  get [XPATH]           get (configuration and state)

An rpc-error is not a failure of this script: it prints
{"ok": false, "errors": [{"tag", "type", "severity", "path", "message", "info"}]}.
"""
import argparse
import json
import sys

from ncclient import manager
from ncclient.operations.rpc import RPCError


def errors(e):
    out = []
    for err in getattr(e, "errors", None) or [e]:
        out.append({k: getattr(err, k, None) for k in ("tag", "type", "severity", "path", "message", "info")})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=830)
    ap.add_argument("--user", default="root")
    ap.add_argument("--key", required=True)
    ap.add_argument("--hostkey", required=True, help="the server's host key, base64")
    ap.add_argument("op", choices=("capabilities", "edit", "replace", "get-config", "get"))
    ap.add_argument("arg", nargs="?")
    a = ap.parse_args()

    with manager.connect(host=a.host, port=a.port, username=a.user, key_filename=a.key,
                         hostkey_b64=a.hostkey, allow_agent=False, look_for_keys=False,
                         timeout=30, manager_params={"timeout": 30}) as m:
        try:
            if a.op == "capabilities":
                result = {"ok": True, "capabilities": sorted(m.server_capabilities)}
            elif a.op in ("edit", "replace"):
                with open(a.arg) as f:
                    config = f.read()
                try:
                    m.edit_config(target="candidate", config=config,
                                  default_operation="replace" if a.op == "replace" else None)
                    reply = m.commit()
                except RPCError:
                    m.discard_changes()
                    raise
                result = {"ok": reply.ok, "reply": reply.xml}
            else:
                filt = ("xpath", a.arg) if a.arg else None
                call = m.get_config if a.op == "get-config" else m.get
                reply = call(source="running", filter=filt) if a.op == "get-config" else call(filter=filt)
                result = {"ok": reply.ok, "data": reply.data_xml}
        except RPCError as e:
            result = {"ok": False, "errors": errors(e)}
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
