#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Writes the seed corpus of fuzz_election_msg: every election message type
# of group 1 signed with the harness's group key (32 octets of 0x42), a
# sequence of them in the harness's length-prefixed form, and an Ed25519 and
# an IPv6 variant. Usage: election_msg_seeds.py OUTDIR
import hashlib
import hmac
import os
import struct
import sys

KEY = b"\x42" * 32


def message(mtype, seq, identity, auth=3, priority=0, address=b"", sig=None, payload=b""):
    body = struct.pack(">BBBBQI", 1, mtype, auth, len(identity), seq, 1) + identity
    if mtype in (2, 4, 5):
        family = 4 if len(address) == 4 else 6
        body += struct.pack(">HBB", 2 + len(address), priority, family) + address
    else:
        body += struct.pack(">H", len(payload)) + payload
    if sig is None:
        sig = hmac.new(KEY, body, hashlib.sha256).digest()
    return body + struct.pack(">H", len(sig)) + sig


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ks2 = bytes([10, 0, 0, 2])
    seeds = {
        "leader-r-u-there": message(1, 1, b"gm1"),
        "leader-ack": message(2, 2, b"ks2", priority=1, address=ks2),
        "election-call": message(3, 3, b"gm1"),
        "candidacy": message(4, 4, b"ks1", address=bytes([10, 0, 0, 1])),
        "victory": message(5, 5, b"ks2", address=ks2),
        "victory-ipv6": message(5, 6, b"ks2", address=bytes.fromhex("20010db8" + "00" * 11 + "02")),
        "candidacy-ed25519": message(4, 7, b"ks1", auth=1, address=ks2, sig=b"\x00" * 64),
    }
    # MERGE (9): a REPLICA-shaped payload for the server ks3 (recipient,
    # version, server key, standby key, nonce, sealed state and tag)
    merge = (bytes([3]) + b"ks3" + struct.pack(">Q", 4) + b"\x11" * 32 + b"\x22" * 32 + b"\x33" * 12
             + b"\x44" * 20)
    seeds["merge"] = message(9, 8, b"ks1", payload=merge)
    # an election as the node hears it: call, two candidacies, a victory,
    # then a replayed call
    run = [message(3, 10, b"ks1"), message(4, 11, b"ks1", address=bytes([10, 0, 0, 1])),
           message(4, 20, b"ks2", address=ks2), b"", b"", b"", b"",
           message(5, 21, b"ks2", address=ks2), message(3, 10, b"ks1")]
    seeds["election-sequence"] = b"".join(bytes([len(m)]) + m for m in run)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
