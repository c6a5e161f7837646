# SPDX-License-Identifier: GPL-2.0-or-later
"""A diagnosis run, not a test: groupsec's key server with rfcpeer members
that record every RFC 9838 rule groupsec breaks instead of refusing at the
first (rfcpeer's "diagnose" setting, policy.RECORD), through registration,
ESP, a rekey and an eviction. Prints what each member recorded.

    /usr/bin/python3 tests/lab/rfcpeer_diagnose.py     (root, under the lab lock)
"""
import json
import sys
import time

import lab as labmod
from test_gdoi import GROUP, current_spi, ping
from test_rfcpeer import setup_b


def main():
    lab = labmod.gdoi_lab("gsrfkd", members=3)
    with lab:
        setup_b(lab, diagnose=True)
        gm1 = lab["gm1"]
        time.sleep(15)  # a diagnosis, not a test: give every exchange its time
        ping(gm1, lab["gm2"], count=2, check=False)
        r = ping(gm1, lab["gm2"], count=3, check=False)
        print("gm1 -> gm2 (rfcpeer answering through the group SA):", r.stdout.splitlines()[-2:])
        lab.peers["gm2"].cmd(cmd="ping", dst=gm1.lan_addr, gateway=gm1.addr, count=3)
        time.sleep(2)
        labmod.gdoictl(lab["ks"], "rekey", GROUP)
        time.sleep(5)
        labmod.gdoictl(lab["ks"], "evict", GROUP, "gm3.example.net")
        time.sleep(5)
        ping(gm1, lab["gm3"], count=2, check=False)
        print("gm1 current SPI", current_spi(gm1))
        for name, peer in lab.peers.items():
            st = peer.status()
            print(f"== {name}")
            print(json.dumps({k: st.get(k) for k in ("registered", "registrations", "rekeys", "kek_spi", "tek_spis",
                                                      "sender_ids", "auth_key", "wkp", "esp_rx", "esp_undecryptable",
                                                      "excluded", "icmp_echo_answered", "icmp_replies",
                                                      "esp_not_sent", "violations", "errors")}, indent=1))
            print(json.dumps(st.get("dropped", [])[-8:], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
