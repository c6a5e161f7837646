# SPDX-License-Identifier: GPL-2.0-or-later
"""The group member: IKE_SA_INIT and GSA_AUTH (RFC 9838 2.3.1), GSA_REKEY
(2.4.1), GSA_INBAND_REKEY (2.4.2), Deletes (2.4.3), ESP on the group SAs."""
import random
import struct

from . import consts as C
from . import crypto, esp, ikesa
from .node import Node
from .policy import PolicyError, violate, attrs_of, check_kek, check_tek, unwrap_keys, wrapped_list
from .wire import (GsaPolicy, GwPolicy, GroupKeyBag, MemberKeyBag, Notify, Payload, Proposal, Transform,
                   WireError, encode_auth, encode_id, encode_ke, encode_sa, parse_auth, parse_delete, parse_gsa,
                   parse_header, parse_id, parse_kd, parse_ke, parse_notify, parse_sa)


class Member(Node):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.addr = cfg["local_addr"]
        self.ike = None
        self.pending = None
        self.leaving = None  # the Message ID of our GSA_REGISTRATION refusing a policy
        self.group = None  # the group's state from the last registration and rekeys
        self.excluded = False
        self.seq = 0
        self.ping_id = random.randrange(1, 0xFFFF)
        self.st = self.status
        if cfg.get("diagnose"):  # a diagnosis run: list every rule broken (policy.RECORD); never in tests
            from . import policy
            policy.RECORD = self.status.setdefault("violations", [])
        self.st.update(registered=False, registrations=0, rekeys=0, inband_rekeys=0, dropped=[],
                       excluded=False, kek_spi=None, tek_spis=[], esp_rx={}, esp_undecryptable={},
                       icmp_replies=0, icmp_echo_answered=0, wkp=[], notify_errors=[], deletes=[])

    # --- sockets and registration

    def start(self):
        self.sock = self.udp(self.addr, self.port, self.on_ike)
        self.esp_sock = self.udp(self.addr, self.esp_port, self.on_esp)
        self.register()

    def register(self, group=None):
        self.leaving = None
        self.ike = ikesa.IkeSA(True, crypto.random_bytes(8))
        self.dh = crypto.DH(group or self.cfg.get("dh", C.DH_CURVE25519))
        self.ni = crypto.random_bytes(32)
        self.cookie = None
        self.send_init()

    def send_init(self):
        prop = Proposal(1, C.PROTO_IKE, b"", [
            Transform(C.T_ENCR, C.ENCR_AES_GCM_16, [tv_keylen(256)]),
            Transform(C.T_PRF, C.PRF_HMAC_SHA2_256),
            Transform(C.T_DH, self.dh.group),
            Transform(C.T_KWA, C.KW_5649_256),  # 2.3.1: the key wrap algorithm negotiated in IKE_SA_INIT
        ])
        pls = ([Payload(C.NOTIFY, Notify(6390, self.cookie).encode())] if self.cookie else []) + [
            Payload(C.SA, encode_sa([prop])), Payload(C.KE, encode_ke(self.dh.group, self.dh.public)),
            Payload(C.NONCE, self.ni)]
        self.init_req = ikesa.unprotected(self.ike.spi_i, bytes(8), C.IKE_SA_INIT, C.F_INITIATOR, 0, pls)
        self.request(C.IKE_SA_INIT, 0, self.init_req)

    def request(self, exchange, mid, data):
        self.pending = {"exchange": exchange, "mid": mid, "data": data, "tries": 0, "ike": self.ike}
        self._transmit(self.pending)

    def _transmit(self, p):
        if self.pending is not p:
            return
        if p["tries"] >= 5:
            self.log("no answer: registering again later")
            self.pending = None
            self.after(5, self.register)
            return
        p["tries"] += 1
        self.sock.sendto(p["data"], (self.cfg["server"], self.port))
        self.after(2 ** p["tries"], lambda: self._transmit(p))

    def on_ike(self, data, peer):
        if len(data) >= 4 and data[:4] == bytes(4):
            data = data[4:]  # the non-ESP marker (RFC 3948), should it be there
        hdr = parse_header(data)
        if hdr.exchange == C.GSA_REKEY:
            return self.on_rekey(hdr, data)
        if self.ike is None or hdr.spi_i != self.ike.spi_i:
            return self.drop("message for an IKE SA not ours", exchange=hdr.exchange)
        if hdr.flags & C.F_RESPONSE:
            p = self.pending
            if p is None or p["mid"] != hdr.message_id or p["exchange"] != hdr.exchange and \
                    hdr.exchange != C.INFORMATIONAL:
                return
            if hdr.exchange == C.INFORMATIONAL and hdr.next_payload == C.NOTIFY:
                return self.on_invalid_spi(hdr, data)
            self.pending = None
            {C.IKE_SA_INIT: self.on_init_resp, C.GSA_AUTH: self.on_auth_resp,
             C.GSA_REGISTRATION: self.on_auth_resp}[hdr.exchange](hdr, data)
        else:
            self.on_request(hdr, data)

    def on_invalid_spi(self, hdr, data):
        from .wire import parse_chain
        pls = parse_chain(hdr.next_payload, data[28:])
        if any(p.type == C.NOTIFY and parse_notify(p.body).type == C.N_INVALID_IKE_SPI for p in pls):
            self.log("INVALID_IKE_SPI: registering afresh (RFC 7296 2.21.4)")
            self.pending = None
            self.register()

    def on_init_resp(self, hdr, data):
        from .wire import parse_chain
        pls = parse_chain(hdr.next_payload, data[28:])
        for p in pls:
            if p.type == C.NOTIFY:
                n = parse_notify(p.body)
                if n.type == C.N_INVALID_KE_PAYLOAD:
                    return self.register(struct.unpack(">H", n.data[:2])[0])
                if n.type == 6390:  # COOKIE (RFC 7296 2.6)
                    self.cookie = n.data
                    return self.send_init()
                if n.type < 16384:
                    self.st["notify_errors"].append(n.type)
                    self.error("IKE_SA_INIT refused", notify=n.type)
                    return self.after(10, self.register)
        get = {p.type: p for p in pls}
        props = parse_sa(get[C.SA].body)
        if len(props) != 1:
            return self.fail("IKE_SA_INIT response: not exactly one proposal (RFC 7296 3.3.6)")
        pr = props[0]
        types = {t.type: t for t in pr.transforms}
        if C.T_KWA not in types:
            return self.fail("IKE_SA_INIT response without a Key Wrap Algorithm (RFC 9838 2.3.1: 'the key wrap "
                             "algorithm MUST be negotiated in the IKE_SA_INIT exchange')")
        if types[C.T_KWA].id != C.KW_5649_256 or types[C.T_ENCR].id != C.ENCR_AES_GCM_16 or \
                types[C.T_ENCR].key_length() != 256 or types[C.T_PRF].id != C.PRF_HMAC_SHA2_256 or \
                types[C.T_DH].id != self.dh.group:
            return self.fail("IKE_SA_INIT response chose what was not offered")
        group, ke = parse_ke(get[C.KE].body)
        self.ike.spi_r = hdr.spi_r
        self.nr = get[C.NONCE].body
        self.init_resp = data
        self.ike.derive(self.ni, self.nr, self.dh.shared(ke), C.KW_5649_256)
        self.send_auth()

    def send_auth(self):
        idi = encode_id(C.ID_FQDN, self.cfg["local_id"].encode())
        idr = encode_id(C.ID_FQDN, self.cfg["server_id"].encode())
        octets = self.ike.auth_octets(self.init_req, self.nr, idi, True)
        auth = ikesa.psk_auth(self.cfg["psk"].encode(), octets)
        pls = [Payload(C.IDI, idi), Payload(C.IDR, idr), Payload(C.AUTH, encode_auth(C.AUTH_PSK, auth)),
               Payload(C.IDG, self.idg())]
        if self.cfg.get("sender_ids", 0):
            # 2.3.3: 'An GM intending to emit data traffic MUST send a GROUP_SENDER Notify'
            pls.append(Payload(C.NOTIFY, Notify(C.N_GROUP_SENDER, struct.pack(">I", self.cfg["sender_ids"])).encode()))
        self.ike.next_mid = 2
        self.request(C.GSA_AUTH, 1, self.ike.protect(C.GSA_AUTH, False, 1, pls))

    def idg(self):
        return encode_id(C.ID_KEY_ID, struct.pack(">I", self.cfg["group_id"]))

    def on_auth_resp(self, hdr, data):
        _, pls = self.ike.unprotect(data)
        get = {}
        for p in pls:
            get.setdefault(p.type, []).append(p)
        errs = [parse_notify(p.body).type for p in get.get(C.NOTIFY, []) if parse_notify(p.body).type < 16384]
        if self.leaving == hdr.message_id:
            # 2.3.2: 'HDR, SK{IDg, N} -->  <-- HDR, SK{}': the key server took note; try again later
            self.leaving = None
            self.log("the key server acknowledged our refusal of its policy")
            return self.after(30, self.register)
        if hdr.exchange == C.GSA_AUTH:
            if C.AUTH not in get:
                self.st["notify_errors"] += errs
                return self.fail(f"GSA_AUTH refused: notify {errs}", retry=10)
            idr = get[C.IDR][0].body
            if parse_id(idr) != (C.ID_FQDN, self.cfg["server_id"].encode()):
                return self.fail(f"IDr {parse_id(idr)} is not the key server's identity")
            method, adata = parse_auth(get[C.AUTH][0].body)
            want = ikesa.psk_auth(self.cfg["psk"].encode(), self.ike.auth_octets(self.init_resp, self.ni, idr, False))
            if method != C.AUTH_PSK or adata != want:
                return self.fail("the key server's AUTH does not verify (RFC 7296 2.15)")
        if errs:
            self.st["notify_errors"] += errs
            return self.fail(f"registration refused: notify {errs}", retry=10)
        try:
            self.apply_registration(get, self.ike.gsk_w)
        except (PolicyError, WireError, crypto.CryptoError) as e:
            # 2.3.3: an unacceptable policy: 'the member SHOULD inform the GCKS ... NO_PROPOSAL_CHOSEN'
            self.fail(f"registration not accepted: {e}")
            mid = self.ike.next_mid
            self.ike.next_mid += 1
            self.leaving = mid
            self.request(C.GSA_REGISTRATION, mid, self.ike.protect(
                C.GSA_REGISTRATION, False, mid, [Payload(C.IDG, self.idg()),
                                                 Payload(C.NOTIFY, Notify(C.N_NO_PROPOSAL_CHOSEN).encode())]))
            return

    def fail(self, why, retry=None):
        self.error(why)
        if retry:
            self.after(retry, self.register)

    def drop(self, why, **kw):
        self.st["dropped"].append({"why": why, **kw})
        self.log("dropped: " + why, **kw)

    # --- policy and keys

    def parse_group_payloads(self, get, registration, rekey):
        if len(get.get(C.GSA, [])) != 1 and (registration or get.get(C.KD)):
            raise PolicyError("not exactly one GSA payload")
        policies = parse_gsa(get[C.GSA][0].body) if get.get(C.GSA) else []
        bags = parse_kd(get[C.KD][0].body) if get.get(C.KD) else []
        keks = [p for p in policies if isinstance(p, GsaPolicy) and p.protocol == C.GIKE_UPDATE]
        teks = [p for p in policies if isinstance(p, GsaPolicy) and p.protocol != C.GIKE_UPDATE]
        gws = [p for p in policies if isinstance(p, GwPolicy)]
        if len(keks) > 1 or len(gws) > 1:
            violate("4.4.1: 'zero or one GSA KEK policy ... and zero or one GW policy'")
        if policies and not keks and not teks:
            raise PolicyError("4.4.1: 'either one GSA KEK or GSA TEK policy MUST be present'")
        mbags = [b for b in bags if isinstance(b, MemberKeyBag)]
        gbags = {(b.protocol, b.spi): b for b in bags if isinstance(b, GroupKeyBag)}
        if not registration:
            for b in mbags:
                if attrs_of(b.attrs, C.GM_SENDER_ID):
                    violate("GM_SENDER_ID in a rekey (4.5.3.3: 'MUST NOT appear in the rekey "
                                      "operations (in the GSA_REKEY or GSA_INBAND_REKEY exchanges)')")
        if len(mbags) > 1:
            violate("more than one member key bag")
        return keks, teks, gws, mbags, gbags

    def apply_registration(self, get, channel_gsk_w):
        keks, teks, gws, mbags, gbags = self.parse_group_payloads(get, True, False)
        mattrs = mbags[0].attrs if mbags else []
        g = {"kek": None, "old_keks": [], "teks": {}, "auth_key": None, "wkp": [], "dtd": 0, "atd": 0,
             "sender_ids": [], "sid_bits": 0}
        if gws:
            for a in gws[0].attrs:
                if a.type == C.GWP_DTD:
                    g["dtd"] = a.int()
                elif a.type == C.GWP_ATD:
                    g["atd"] = a.int()
                elif a.type == C.GWP_SENDER_ID_BITS:
                    g["sid_bits"] = a.int()
        if keks:
            k = keks[0]
            encr, integ, gcauth, kwa, size = check_kek(k, registration=True)
            bag = gbags.get((C.GIKE_UPDATE, k.spi))
            if bag is None:
                raise PolicyError("no key bag for the Rekey SA")
            sa_keys = wrapped_list(bag.attrs, C.SA_KEY, "SA_KEY")
            if len(sa_keys) != 1:
                raise PolicyError("4.5.2.1: in GSA_AUTH/GSA_REGISTRATION 'exactly one SA_KEY attribute MUST be "
                                  f"present' for the Rekey SA, got {len(sa_keys)}")
            keymat, wkp = unwrap_keys(self.ike_kwa(), channel_gsk_w, sa_keys,
                                      wrapped_list(mattrs, C.WRAP_KEY, "WRAP_KEY"), [])
            if len(keymat) != size:
                raise PolicyError(f"Rekey SA keying material of {len(keymat)} octets, not {size} (4.5.2.1)")
            g["wkp"] = wkp
            g["kek"] = self.kek_state(k, encr, integ, kwa, keymat, gcauth)
            if gcauth is not None and gcauth.id == C.GCAUTH_SIGNATURE:
                ak = attrs_of(mattrs, C.AUTH_KEY)
                if len(ak) != 1:
                    violate(f"{len(ak)} AUTH_KEY attributes with Digital Signature (4.4.2.1.1: 'the GCKS "
                                      "MUST include the AUTH_KEY attribute containing the public key')")
                g["auth_key"] = ak[0].value if ak else None
                sa = gcauth.attr(C.TA_SIG_ALG_ID)
                if sa is None:
                    raise PolicyError("Digital Signature without the Signature Algorithm Identifier (4.4.2.1.1)")
                g["kek"]["algid"] = sa.value
            elif gcauth is not None and gcauth.id == C.GCAUTH_IMPLICIT:
                if attrs_of(mattrs, C.AUTH_KEY):
                    violate("AUTH_KEY with Implicit (4.4.2.1.1: 'the GCKS MUST NOT include the AUTH_KEY')")
                if not self.cfg.get("accept_implicit"):
                    raise PolicyError("implicit GSA_REKEY authentication not accepted by this member")
            ids = attrs_of(mattrs, C.GM_SENDER_ID)
            g["sender_ids"] = [a.int() for a in ids]
            mid = [a for a in k.attrs if a.type == C.GSA_INITIAL_MESSAGE_ID]
            old = self.group["kek"] if self.group and self.group.get("kek") else None
            g["kek"]["expected"] = mid[0].int() if mid else 0
            if old and old["spi"] == k.spi and old["expected"] > g["kek"]["expected"]:
                g["kek"]["expected"] = old["expected"]  # 2.3.3: a lower value 'MUST be ignored'
        for t in teks:
            g["teks"][t.spi.hex()] = self.tek_state(t, gbags, channel_gsk_w, self.ike_kwa(), g)
        if self.cfg.get("sender_ids", 0) and any(t["counter"] for t in g["teks"].values()) and not g["sender_ids"]:
            self.error("no GM_SENDER_ID for a sender with a counter-mode TEK (4.5.3.3: 'One or more of this "
                       "attributes MUST be sent by the GCKS if the GM informed the GCKS that it would be a sender')")
        if keks:
            # 4.4.2.2.1: 'A single attribute of this type MUST be included into any GSA policy substructure
            # if multicast rekey is employed by the GCKS.'
            for p in keks + teks:
                if len(attrs_of(p.attrs, C.GSA_KEY_LIFETIME)) != 1:
                    violate(f"policy {p.spi.hex()} without one GSA_KEY_LIFETIME (4.4.2.2.1)")
        # 2.3.3: 'it MUST replace any information related to this group'
        self.group = g
        if g["kek"]:
            self.join(g["kek"])
        self.excluded = False
        self.st.update(registered=True, excluded=False, registrations=self.st["registrations"] + 1)
        self.show()
        self.log("registered", kek=g["kek"]["spi"].hex() if g["kek"] else None, teks=list(g["teks"]))

    def ike_kwa(self):
        return C.KW_5649_256

    def join(self, kek):
        """Listen where the Rekey SA's destination selector says GSA_REKEYs
        go (4.4.1: 'a single multicast IP address ... and a single port')."""
        addr = kek["dst"].start
        self.joined = getattr(self, "joined", set())
        import ipaddress
        if ipaddress.ip_address(addr).is_multicast and addr not in self.joined:
            self.joined.add(addr)
            self.udp(self.addr, kek["dst"].start_port or self.port, self.on_ike, multicast=addr)
            self.log("joined the Rekey SA's multicast group", group=addr)

    def kek_state(self, k, encr, integ, kwa, keymat, gcauth):
        elen = encr.key_length() // 8 + 4
        return {"spi": k.spi, "gsk_e": keymat[:elen], "gsk_w": keymat[elen:], "kwa": kwa, "expected": 0,
                "gcauth": gcauth.id if gcauth is not None else None, "algid": None,
                "dst": k.dst}

    def tek_state(self, t, gbags, gsk_w, kwa, g):
        encr, sn, size = check_tek(t)
        bag = gbags.get((t.protocol, t.spi))
        if bag is None:
            raise PolicyError(f"no key bag for TEK {t.spi.hex()}")
        sa_keys = wrapped_list(bag.attrs, C.SA_KEY, "SA_KEY")
        if len(sa_keys) != 1 or sa_keys[0].key_id or sa_keys[0].kwk_id:
            raise PolicyError("4.5.2.1: for a Data-Security SA 'exactly one SA_KEY attribute MUST be present with "
                              "both Key ID and KWK ID fields set to zero'")
        keymat = crypto.kw_unwrap(gsk_w, sa_keys[0].encrypted)
        if len(keymat) != size:
            raise PolicyError(f"TEK keying material of {len(keymat)} octets, not {size}")
        if encr.id != C.ENCR_AES_GCM_16:
            raise PolicyError("this member decrypts AES-GCM TEKs only")
        return {"keymat": keymat, "counter": True, "sn": sn, "expires": None}

    def show(self):
        g = self.group
        self.st["kek_spi"] = g["kek"]["spi"].hex() if g and g["kek"] else None
        self.st["tek_spis"] = sorted(g["teks"]) if g else []
        self.st["wkp"] = [k for k, _ in g["wkp"]] if g else []
        self.st["auth_key"] = bool(g and g["auth_key"])
        self.st["sender_ids"] = g["sender_ids"] if g else []

    # --- GSA_REKEY (2.4.1)

    def on_rekey(self, hdr, data):
        g = self.group
        spi = hdr.spi_i + hdr.spi_r
        keks = ([g["kek"]] if g and g["kek"] else []) + (g["old_keks"] if g else [])
        kek = next((k for k in keks if k["spi"] == spi), None)
        if kek is None:
            return self.drop("GSA_REKEY on an unknown Rekey SA", spi=spi.hex())
        try:
            _, pls, inner, first = ikesa.open_sk(kek["gsk_e"], data)
        except (WireError, crypto.CryptoError) as e:
            return self.drop(f"GSA_REKEY does not open: {e}")
        # 2.4.1.4: 'rejecting a GSA_REKEY message which has a Message ID smaller than ... expecting'
        if hdr.message_id < kek["expected"]:
            return self.drop("GSA_REKEY replayed", mid=hdr.message_id, expected=kek["expected"])
        auths = [p for p in pls if p.type == C.AUTH]
        if kek["gcauth"] == C.GCAUTH_SIGNATURE:
            if len(auths) != 1:
                return self.drop("GSA_REKEY without AUTH (2.4.1: 'The AUTH payload MUST be included')")
            if not g["auth_key"]:
                return self.drop("signed GSA_REKEY but no AUTH_KEY to verify it with (2.4.1: 'the GM validates "
                                 "authenticity of the message using the key retrieved in a previous G-IKEv2 exchange')")
            try:
                zeroed, algid, sig = ikesa.zero_signature(inner, first)
                if algid != kek["algid"]:
                    return self.drop("AUTH AlgorithmIdentifier differs from the Signature Algorithm Identifier "
                                     "(4.4.2.1.1: 'MUST match')")
                ok = crypto.verify(g["auth_key"], algid, sig, ikesa.rekey_signed_octets(hdr, first, zeroed))
            except (WireError, crypto.CryptoError) as e:
                return self.drop(f"GSA_REKEY AUTH: {e}")
            if not ok:
                return self.drop("GSA_REKEY signature does not verify (2.4.1.1)")
        elif auths:
            return self.drop("AUTH with implicit authentication (2.4.1: 'MUST NOT be included')")
        get = {}
        for p in pls:
            if p.type not in (C.GSA, C.KD, C.DELETE, C.NOTIFY, C.AUTH):
                if p.critical:
                    return self.drop(f"unknown critical payload {p.type} in GSA_REKEY")
                continue
            get.setdefault(p.type, []).append(p)
        try:
            self.apply_update(get, kek, rekey=True)
        except (PolicyError, WireError, crypto.CryptoError) as e:
            if isinstance(e, PolicyError) and e.notify == C.N_AUTHORIZATION_FAILED:
                self.excluded = True
                self.st["excluded"] = "key path"
                self.log("excluded: no Key Path to the new Rekey SA key (3.3)")
                kek["expected"] = hdr.message_id + 1
                return
            return self.drop(f"GSA_REKEY not applied: {e}")
        kek["expected"] = hdr.message_id + 1
        self.st["rekeys"] += 1
        self.st["last_rekey_mid"] = hdr.message_id
        self.show()

    def apply_update(self, get, kek, rekey):
        """GSA, KD and D of a GSA_REKEY (kek: the Rekey SA it came over) or
        of a GSA_INBAND_REKEY (kek None: keys under the IKE SA's GSK_w).
        Checks everything before changing anything."""
        g = self.group
        keks, teks, gws, mbags, gbags = self.parse_group_payloads(get, False, rekey)
        mattrs = mbags[0].attrs if mbags else []
        gsk_w = kek["gsk_w"] if kek else self.ike.gsk_w
        kwa = kek["kwa"] if kek else self.ike_kwa()
        deletes = [parse_delete(p.body) for p in get.get(C.DELETE, [])]
        if not rekey and (attrs_of(mattrs, C.WRAP_KEY)):
            violate("WRAP_KEY in GSA_INBAND_REKEY (4.5.3.1: 'MUST NOT be used if inband rekey ... is "
                              "employed')")
        new_kek, new_wkp = None, g["wkp"]
        if keks:
            k = keks[0]
            encr, integ, _, nkwa, size = check_kek(k, registration=False)
            bag = gbags.get((C.GIKE_UPDATE, k.spi))
            if bag is None:
                raise PolicyError("no key bag for the new Rekey SA")
            keymat, new_wkp = unwrap_keys(kwa, gsk_w, wrapped_list(bag.attrs, C.SA_KEY, "SA_KEY"),
                                          wrapped_list(mattrs, C.WRAP_KEY, "WRAP_KEY"), g["wkp"])
            if len(keymat) != size:
                raise PolicyError(f"Rekey SA keying material of {len(keymat)} octets, not {size}")
            new_kek = self.kek_state(k, encr, integ, nkwa, keymat, None)
            new_kek["gcauth"], new_kek["algid"] = g["kek"]["gcauth"], g["kek"]["algid"]
            mid = [a for a in k.attrs if a.type == C.GSA_INITIAL_MESSAGE_ID]
            new_kek["expected"] = mid[0].int() if mid else 0  # 2.4.1.4: 'MUST assume zero'
        new_teks = {t.spi.hex(): self.tek_state(t, gbags, gsk_w, kwa, g) for t in teks}
        auth_key = attrs_of(mattrs, C.AUTH_KEY)
        # everything checked: apply
        if keks:
            g["old_keks"] = [g["kek"]] if g["kek"] else []
            dtd = g["dtd"]
            old = g["kek"]
            self.after(dtd, lambda: old in g["old_keks"] and g["old_keks"].remove(old))
            g["kek"], g["wkp"] = new_kek, new_wkp
            self.join(new_kek)
        if auth_key:
            g["auth_key"] = auth_key[0].value  # 2.4.1: 'the GCKS will send a new AUTH_KEY ... in a GSA_REKEY'
        g["teks"].update(new_teks)
        for d in deletes:
            self.apply_delete(d)

    def apply_delete(self, d):
        """2.4.3 Deletion of SAs; 4.6: 'zero protocol indicates deletion of whole Group SA'."""
        g = self.group
        self.st["deletes"].append({"protocol": d.protocol, "spis": [s.hex() for s in d.spis]})
        zero = [s for s in d.spis if not any(s)]
        if d.protocol in (C.PROTO_ESP, C.PROTO_AH):
            gone = list(g["teks"]) if zero or not d.spis else [s.hex() for s in d.spis]
            for spi in gone:
                self.after(g["dtd"], lambda spi=spi: (g["teks"].pop(spi, None), self.show()))
        elif d.protocol == C.GIKE_UPDATE and (zero or not d.spis):
            # 2.4.3: 'it means that the group member is excluded from the group ... MUST re-register if it
            # wants to continue ... RECOMMENDED that a GM waits some randomly chosen time'
            self.excluded = True
            self.st["excluded"] = "delete"
            self.group = {"kek": None, "old_keks": [], "teks": {}, "auth_key": None, "wkp": [], "dtd": 0,
                          "atd": 0, "sender_ids": [], "sid_bits": 0}
            self.st["registered"] = False
            delay = random.uniform(1, 3)
            self.log("excluded by Delete(GIKE_UPDATE, 0): registering again", delay=delay)
            self.after(delay, self.register)
        elif d.protocol == C.GIKE_UPDATE:
            g["old_keks"] = [k for k in g["old_keks"] if k["spi"] not in d.spis]
        elif d.protocol == 0:
            self.group = {"kek": None, "old_keks": [], "teks": {}, "auth_key": None, "wkp": [], "dtd": 0,
                          "atd": 0, "sender_ids": [], "sid_bits": 0}
            self.st["registered"] = False
        self.show()

    # --- requests from the key server on the IKE SA (2.4.2, RFC 7296 1.4)

    def on_request(self, hdr, data):
        if not self.ike.keys:
            return
        if hdr.message_id < self.ike.peer_mid and self.ike.last_response and \
                self.ike.last_response[0] == hdr.message_id:
            return self.sock.sendto(self.ike.last_response[1], (self.cfg["server"], self.port))
        try:
            _, pls = self.ike.unprotect(data)
        except (WireError, crypto.CryptoError) as e:
            return self.drop(f"request does not open: {e}")
        delete_ike = False
        if hdr.exchange == C.GSA_INBAND_REKEY:
            get = {}
            for p in pls:
                get.setdefault(p.type, []).append(p)
            try:
                self.apply_update(get, None, rekey=False)
                self.st["inband_rekeys"] += 1
                self.show()
            except (PolicyError, WireError, crypto.CryptoError) as e:
                self.drop(f"GSA_INBAND_REKEY not applied: {e}")
        elif hdr.exchange == C.INFORMATIONAL:
            for p in pls:
                if p.type == C.DELETE and parse_delete(p.body).protocol == C.PROTO_IKE:
                    delete_ike = True
        else:
            return self.drop("request of an unknown exchange", exchange=hdr.exchange)
        resp = self.ike.protect(hdr.exchange, True, hdr.message_id, [])
        self.ike.last_response = (hdr.message_id, resp)
        self.ike.peer_mid = hdr.message_id + 1
        self.sock.sendto(resp, (self.cfg["server"], self.port))
        if delete_ike:
            self.log("the key server deleted the IKE SA")
            self.ike = None

    # --- ESP (RFC 4303, RFC 4106, RFC 3948)

    def on_esp(self, data, peer):
        if len(data) == 1 or data[:4] == bytes(4):
            return  # NAT keepalive or IKE
        spi = data[:4].hex()
        teks = self.group["teks"] if self.group else {}
        if spi not in teks:
            self.st["esp_undecryptable"][spi] = self.st["esp_undecryptable"].get(spi, 0) + 1
            return
        try:
            _, nh, inner = esp.open_(teks[spi]["keymat"], data)
            src, dst, proto, itype, ident, seq = esp.parse_ipv4(inner)
        except esp.EspError as e:
            self.st["esp_undecryptable"][spi] = self.st["esp_undecryptable"].get(spi, 0) + 1
            return self.drop(f"ESP: {e}")
        self.st["esp_rx"][spi] = self.st["esp_rx"].get(spi, 0) + 1
        self.st["last_inner"] = [src, dst, proto, itype]
        if proto == 1 and itype == 0 and ident == self.ping_id:
            self.st["icmp_replies"] += 1
        elif proto == 1 and itype == 8 and dst == self.cfg.get("lan_addr") and self.can_send():
            reply = bytearray(inner)
            reply[12:16], reply[16:20] = inner[16:20], inner[12:16]
            ihl = (inner[0] & 15) * 4
            reply[ihl] = 0
            reply[ihl + 2:ihl + 4] = b"\0\0"
            reply[ihl + 2:ihl + 4] = struct.pack(">H", esp._csum(bytes(reply[ihl:])))
            self.send_esp(bytes(reply), peer[0])
            self.st["icmp_echo_answered"] += 1

    def can_send(self):
        """2.3.3/2.4.1.4: a sender of a counter-mode SA uses its Sender-ID;
        without one it 'MUST NOT install the Data-Security SAs' outbound."""
        g = self.group
        return bool(self.cfg.get("sender_ids", 0)) and g and g["teks"] and g["sender_ids"]

    def send_esp(self, inner, gateway):
        if not self.can_send():
            self.st["esp_not_sent"] = self.st.get("esp_not_sent", 0) + 1
            return
        g = self.group
        spi = sorted(g["teks"])[-1]
        self.seq += 1
        # 4.4.3.1: the Sender-ID bits are 'the most significant bits of the IV'
        bits = g["sid_bits"] or 8
        iv = ((g["sender_ids"][0] << (64 - bits)) | self.seq).to_bytes(8, "big")
        pkt = esp.seal(g["teks"][spi]["keymat"], bytes.fromhex(spi), self.seq, inner, iv=iv)
        self.esp_sock.sendto(pkt, (gateway, self.esp_port))

    def command(self, cmd):
        c = cmd["cmd"]
        if c == "ping":
            for i in range(cmd.get("count", 3)):
                self.after(i * 0.2, lambda i=i: self.send_esp(
                    esp.icmp_echo(self.cfg["lan_addr"], cmd["dst"], self.ping_id, i + 1), cmd["gateway"]))
        elif c == "register":
            self.register()
        elif c == "reregister":
            # 2.3.2: on the IKE SA it has, a GM 'will use the GSA_REGISTRATION exchange'
            if self.ike is None or not self.ike.keys:
                return self.register()
            mid = self.ike.next_mid
            self.ike.next_mid += 1
            self.request(C.GSA_REGISTRATION, mid, self.ike.protect(C.GSA_REGISTRATION, False, mid,
                                                                   [Payload(C.IDG, self.idg())]))
        else:
            self.error("unknown command", cmd=c)


def tv_keylen(bits):
    from .wire import tv
    return tv(C.TA_KEY_LENGTH, bits)
