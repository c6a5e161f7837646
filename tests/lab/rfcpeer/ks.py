# SPDX-License-Identifier: GPL-2.0-or-later
"""The key server (GCKS): IKE_SA_INIT and GSA_AUTH/GSA_REGISTRATION
responder (RFC 9838 2.3), GSA_REKEY sender (2.4.1) with an LKH tree
(Appendix A), GSA_INBAND_REKEY initiator (2.4.2), Deletes (2.4.3)."""
import json
import struct
import time

from . import consts as C
from . import crypto, ikesa
from .lkh import Tree
from .node import Node
from .wire import (TS, Delete, GroupKeyBag, GsaPolicy, GwPolicy, Header, MemberKeyBag, Notify, Payload, Proposal,
                   Transform, WireError, WrappedKey, encode_auth, encode_chain, encode_gsa, encode_id, encode_kd, encode_ke,
                   encode_sa, parse_auth, parse_chain, parse_header, parse_id, parse_ke, parse_notify, parse_sa,
                   tlv, tv)
from .ikesa import HDR_LEN


def kl(bits):
    return tv(C.TA_KEY_LENGTH, bits)


class KeyServer(Node):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.addr = cfg["listen"]
        self.sign_key = crypto.load_private_key(open(cfg["sign_key"], "rb").read())
        self.inband = cfg.get("inband", False)
        self.sas = {}  # SPIr -> {"ike", "peer", "member", ...}
        self.half = {}  # (SPIi, peer) -> (SPIr, response)
        self.members = {}  # id -> {"addr", "spi_r", "sender_ids"}
        self.evicted_file = self.dir / "evicted.json"  # evictions outlive a restart
        self.evicted = set(json.loads(self.evicted_file.read_text())) if self.evicted_file.exists() else set()
        self.next_sid = 1
        self.st = self.status
        self.st.update(registered=[], refused=[], rekeys_sent=0, invalid_spi_sent=0, exclusions=0)
        self.new_group()

    def new_group(self):
        """A fresh Rekey SA, TEK and key tree (at start and after excluding everyone)."""
        self.tree = Tree(self.cfg.get("lkh_depth", 3), crypto.KWA_KEY_SIZE[C.KW_5649_256])
        self.kek = None if self.inband else self.make_kek()
        self.tek = self.make_tek()
        self.members = {}

    def make_kek(self):
        # 3.5: GSK_e | GSK_a | GSK_w = KEYMAT (AES-GCM-16-256: key and salt; no GSK_a; KW_5649_256)
        keymat = crypto.random_bytes(36 + 32)
        return {"spi": crypto.random_bytes(16), "keymat": keymat, "gsk_e": keymat[:36], "gsk_w": keymat[36:],
                "next_mid": 0, "born": time.time()}

    def make_tek(self):
        return {"spi": crypto.random_bytes(4), "keymat": crypto.random_bytes(36), "born": time.time()}

    def start(self):
        self.sock = self.udp(self.addr, self.port, self.on_ike)
        self.show()

    def show(self):
        self.st["kek_spi"] = self.kek["spi"].hex() if self.kek else None
        self.st["tek_spi"] = self.tek["spi"].hex()
        self.st["registered"] = sorted(self.members)
        self.st["kek_next_mid"] = self.kek["next_mid"] if self.kek else None
        self.st["tree_leaves"] = {m: n for m, n in self.tree.leaf_of.items()}

    # --- policies (4.4)

    def kek_policy(self, registration):
        k = self.kek
        trs = [Transform(C.T_ENCR, C.ENCR_AES_GCM_16, [kl(256)]), Transform(C.T_KWA, C.KW_5649_256)]
        if registration:  # 4.4.2.1 (**): GCAUTH only at registration
            trs.append(Transform(C.T_GCAUTH, C.GCAUTH_SIGNATURE, [tlv(C.TA_SIG_ALG_ID, crypto.ECDSA_SHA256_ALGID)]))
        attrs = [tlv(C.GSA_KEY_LIFETIME, struct.pack(">I", self.left(k, self.cfg.get("kek_lifetime", 7200))))]
        if registration and k["next_mid"]:
            # 4.4.2.2.2: 'included ... if the initial Message ID of the Rekey SA is non-zero'
            attrs.append(tlv(C.GSA_INITIAL_MESSAGE_ID, struct.pack(">I", k["next_mid"])))
        # 4.4.1: 'destination traffic selectors MUST define a single multicast IP address, an IP protocol
        # (assumed to be UDP) and a single port'
        return GsaPolicy(C.GIKE_UPDATE, k["spi"], TS(self.addr, self.addr, 17, self.port, self.port),
                         TS(self.cfg["multicast"], self.cfg["multicast"], 17, self.port, self.port), trs, attrs)

    def tek_policy(self, tek):
        ts = TS.prefix(self.cfg.get("tek_ts", "10.0.0.0/8"))
        # 4.4.2.1.3: '32-bit Unspecified Numbers' 'MUST be used by the GCKS in case of multi-sender'
        trs = [Transform(C.T_ENCR, C.ENCR_AES_GCM_16, [kl(256)]), Transform(C.T_SN, C.SN_32BIT_UNSPECIFIED)]
        attrs = [] if self.inband else [
            tlv(C.GSA_KEY_LIFETIME, struct.pack(">I", self.left(tek, self.cfg.get("tek_lifetime", 3600))))]
        return GsaPolicy(C.PROTO_ESP, tek["spi"], ts, ts, trs, attrs)

    def gw_policy(self):
        return GwPolicy([tv(C.GWP_ATD, 0), tv(C.GWP_DTD, self.cfg.get("dtd", 3)), tv(C.GWP_SENDER_ID_BITS, 8)])

    @staticmethod
    def left(sa, lifetime):
        return max(1, int(lifetime - (time.time() - sa["born"])))

    def tek_bag(self, tek, gsk_w):
        return GroupKeyBag(C.PROTO_ESP, tek["spi"],
                           [tlv(C.SA_KEY, WrappedKey(0, 0, crypto.kw_wrap(gsk_w, tek["keymat"])).encode())])

    # --- the unicast exchanges

    def on_ike(self, data, peer):
        hdr = parse_header(data)
        if hdr.flags & C.F_RESPONSE:
            s = self.sas.get(hdr.spi_r)
            if s and s.get("pending") and s["pending"][0] == hdr.message_id:
                s["pending"] = None
                self.log("inband response", member=s.get("member"), exchange=hdr.exchange)
                self.st.setdefault("inband_acks", 0)
                self.st["inband_acks"] += 1
            return
        if hdr.exchange == C.IKE_SA_INIT:
            return self.on_init(hdr, data, peer)
        s = self.sas.get(hdr.spi_r)
        if s is None or s["ike"].spi_i != hdr.spi_i:
            # RFC 7296 2.21.4: an INVALID_IKE_SPI notice, unprotected, as a response
            self.st["invalid_spi_sent"] += 1
            resp = ikesa.unprotected(hdr.spi_i, hdr.spi_r, C.INFORMATIONAL, C.F_RESPONSE, hdr.message_id,
                                     [Payload(C.NOTIFY, Notify(C.N_INVALID_IKE_SPI).encode())])
            return self.sock.sendto(resp, peer)
        ike = s["ike"]
        if s.get("last") and s["last"][0] == hdr.message_id:
            return self.sock.sendto(s["last"][1], peer)  # a retransmission (RFC 7296 2.1)
        if hdr.message_id != ike.peer_mid:
            return
        try:
            _, pls = ike.unprotect(data)
        except (WireError, crypto.CryptoError) as e:
            return self.error("request does not open", detail=str(e))
        for p in pls:
            if p.critical and p.type not in (C.IDI, C.IDR, C.AUTH, C.IDG, C.NOTIFY, C.SA, C.DELETE, C.CERT,
                                             C.CERTREQ):
                return self.answer(s, hdr, peer, [Payload(C.NOTIFY, Notify(
                    C.N_UNSUPPORTED_CRITICAL_PAYLOAD, bytes([p.type])).encode())])
        if hdr.exchange == C.GSA_AUTH:
            out = self.on_auth(s, pls, peer)
        elif hdr.exchange == C.GSA_REGISTRATION:
            out = self.on_registration(s, pls, peer)
        elif hdr.exchange == C.INFORMATIONAL:
            out = []
        else:
            return
        self.answer(s, hdr, peer, out)

    def answer(self, s, hdr, peer, pls):
        ike = s["ike"]
        resp = ike.protect(hdr.exchange, True, hdr.message_id, pls)
        s["last"] = (hdr.message_id, resp)
        ike.peer_mid = hdr.message_id + 1
        self.sock.sendto(resp, peer)

    def on_init(self, hdr, data, peer):
        cached = self.half.get((hdr.spi_i, peer))
        if cached:
            return self.sock.sendto(cached[1], peer)
        pls = {p.type: p for p in parse_chain(hdr.next_payload, data[HDR_LEN:])}
        if C.SA not in pls or C.KE not in pls or C.NONCE not in pls:
            return self.error("IKE_SA_INIT without SA, KE or Nonce")
        group, ke = parse_ke(pls[C.KE].body)

        def refuse(n, d=b""):
            self.sock.sendto(ikesa.unprotected(hdr.spi_i, bytes(8), C.IKE_SA_INIT, C.F_RESPONSE, 0,
                                               [Payload(C.NOTIFY, Notify(n, d).encode())]), peer)
        chosen = None
        for pr in parse_sa(pls[C.SA].body):
            if pr.protocol != C.PROTO_IKE:
                continue
            e = [t for t in pr.get(C.T_ENCR) if t.id == C.ENCR_AES_GCM_16 and t.key_length() == 256]
            f = [t for t in pr.get(C.T_PRF) if t.id == C.PRF_HMAC_SHA2_256]
            d = [t for t in pr.get(C.T_DH) if t.id in (C.DH_CURVE25519, C.DH_ECP256)]
            # 2.3.1/4.5.4: 'the key wrap algorithm MUST be negotiated in the IKE_SA_INIT exchange'
            w = [t for t in pr.get(C.T_KWA) if t.id == C.KW_5649_256]
            if e and f and d and w:
                chosen = (pr, e[0], f[0], d, w[0])
                break
        if chosen is None:
            return refuse(C.N_NO_PROPOSAL_CHOSEN)
        pr, e, f, d, w = chosen
        if group not in [t.id for t in d]:
            return refuse(C.N_INVALID_KE_PAYLOAD, struct.pack(">H", d[0].id))
        dh = crypto.DH(group)
        nr = crypto.random_bytes(32)
        ike = ikesa.IkeSA(False, hdr.spi_i, crypto.random_bytes(8))
        ike.derive(pls[C.NONCE].body, nr, dh.shared(ke), C.KW_5649_256)
        ike.peer_mid = 1
        resp = ikesa.unprotected(hdr.spi_i, ike.spi_r, C.IKE_SA_INIT, C.F_RESPONSE, 0, [
            Payload(C.SA, encode_sa([Proposal(pr.num, C.PROTO_IKE, b"", [e, f, Transform(C.T_DH, group), w])])),
            Payload(C.KE, encode_ke(group, dh.public)), Payload(C.NONCE, nr)])
        self.half[(hdr.spi_i, peer)] = (ike.spi_r, resp)
        self.sas[ike.spi_r] = {"ike": ike, "peer": peer, "init_req": data, "init_resp": resp,
                               "ni": pls[C.NONCE].body, "nr": nr, "member": None, "last": None}
        self.sock.sendto(resp, peer)

    def on_auth(self, s, pls, peer):
        get = {}
        for p in pls:
            get.setdefault(p.type, []).append(p)
        ike = s["ike"]
        if not all(t in get for t in (C.IDI, C.AUTH, C.IDG)):
            return [Payload(C.NOTIFY, Notify(C.N_INVALID_SYNTAX).encode())]
        idi = get[C.IDI][0].body
        itype, ident = parse_id(idi)
        member = ident.decode(errors="replace")
        psk = self.cfg["psks"].get(member)
        method, adata = parse_auth(get[C.AUTH][0].body)
        ok = psk is not None and method == C.AUTH_PSK and adata == ikesa.psk_auth(
            psk.encode(), ike.auth_octets(s["init_req"], s["nr"], idi, True))
        if not ok:
            self.st["refused"].append({"member": member, "why": "authentication"})
            return [Payload(C.NOTIFY, Notify(C.N_AUTHENTICATION_FAILED).encode())]
        s["member"] = member
        idr = encode_id(C.ID_FQDN, self.cfg["local_id"].encode())
        auth = ikesa.psk_auth(psk.encode(), ike.auth_octets(s["init_resp"], s["ni"], idr, False))
        head = [Payload(C.IDR, idr), Payload(C.AUTH, encode_auth(C.AUTH_PSK, auth))]
        return head + self.register(s, get, peer)

    def on_registration(self, s, pls, peer):
        get = {}
        for p in pls:
            get.setdefault(p.type, []).append(p)
        if s["member"] is None or C.IDG not in get:
            return [Payload(C.NOTIFY, Notify(C.N_INVALID_SYNTAX).encode())]
        notes = [parse_notify(p.body).type for p in get.get(C.NOTIFY, [])]
        if C.N_NO_PROPOSAL_CHOSEN in notes or C.N_REGISTRATION_FAILED in notes:
            # 2.3.2: 'The GCKS in this case MUST remove the GM from the group IDg.'
            self.members.pop(s["member"], None)
            self.log("member left", member=s["member"], notify=notes)
            self.show()
            return []
        return self.register(s, get, peer)

    def register(self, s, get, peer):
        member = s["member"]
        if parse_id(get[C.IDG][0].body) != (C.ID_KEY_ID, struct.pack(">I", self.cfg["group_id"])):
            return [Payload(C.NOTIFY, Notify(C.N_INVALID_GROUP_ID).encode())]
        if member not in self.cfg["psks"] or member in self.evicted:
            self.st["refused"].append({"member": member, "why": "authorization"})
            return [Payload(C.NOTIFY, Notify(C.N_AUTHORIZATION_FAILED).encode())]
        wanted = None
        for p in get.get(C.NOTIFY, []):
            n = parse_notify(p.body)
            if n.type == C.N_GROUP_SENDER:
                wanted = struct.unpack(">I", n.data[:4])[0] if len(n.data) >= 4 else 1
        ike = s["ike"]
        policies = [self.tek_policy(self.tek), self.gw_policy()]
        bags = [self.tek_bag(self.tek, ike.gsk_w)]
        mattrs = []
        if self.kek:
            if self.cfg.get("lkh", True):
                leaf = self.tree.join(member)
                if leaf is None:
                    return [Payload(C.NOTIFY, Notify(C.N_REGISTRATION_FAILED).encode())]
                wraps, top = self.tree.registration_wraps(member, ike.gsk_w, crypto.kw_wrap)
            else:  # 3.2 'A simple key management method': SA keys under GSK_w only
                wraps, top = [], (0, ike.gsk_w)
            policies.insert(0, self.kek_policy(True))
            bags.insert(0, GroupKeyBag(C.GIKE_UPDATE, self.kek["spi"], [tlv(C.SA_KEY, WrappedKey(
                0, top[0], crypto.kw_wrap(top[1], self.kek["keymat"])).encode())]))
            mattrs += [tlv(C.WRAP_KEY, w.encode()) for w in wraps]
            # 4.4.2.1.1: 'the GCKS MUST include the AUTH_KEY attribute containing the public key'
            mattrs.append(tlv(C.AUTH_KEY, crypto.spki_der(self.sign_key)))
        if wanted is not None:
            n = max(1, min(wanted, 4))
            ids = list(range(self.next_sid, self.next_sid + n))
            self.next_sid += n
            mattrs += [tlv(C.GM_SENDER_ID, struct.pack(">I", i)) for i in ids]
        if mattrs:
            bags.append(MemberKeyBag(mattrs))
        self.members[member] = {"addr": peer[0], "spi_r": ike.spi_r}
        self.log("registered", member=member)
        self.show()
        return [Payload(C.GSA, encode_gsa(policies)), Payload(C.KD, encode_kd(bags))]

    # --- GSA_REKEY (2.4.1)

    def send_rekey(self, payloads, kek=None, also=()):
        """hdr(SPI = the Rekey SA's), SK{payloads, AUTH} under the Rekey SA's
        GSK_e, signed as 2.4.1.1 says; sent to the Rekey SA's multicast
        address (and to each member when rekey_unicast is set)."""
        k = kek or self.kek
        mid = k["next_mid"]
        k["next_mid"] += 1
        hdr = Header(k["spi"][:8], k["spi"][8:], C.SK, C.GSA_REKEY, C.F_INITIATOR, mid)
        sig_len = 72
        for _ in range(64):
            # 2.4.1.1: 'The AUTH payload must have correct values in the Payload Header ... The Authentication
            # Data field is zeroed, but the ASN.1 Length and the AlgorithmIdentifier fields must be properly
            # filled in'
            algid = crypto.ECDSA_SHA256_ALGID
            zero_auth = encode_auth(C.AUTH_DIGITAL_SIGNATURE, bytes([len(algid)]) + algid + bytes(sig_len))
            first, inner = encode_chain(payloads + [Payload(C.AUTH, zero_auth)])
            sig = crypto.sign(self.sign_key, ikesa.rekey_signed_octets(hdr, first, inner))
            if len(sig) == sig_len:
                break
            sig_len = len(sig)
        auth = encode_auth(C.AUTH_DIGITAL_SIGNATURE, bytes([len(algid)]) + algid + sig)
        msg = ikesa.seal(k["gsk_e"], hdr, payloads + [Payload(C.AUTH, auth)], iv=struct.pack(">Q", mid))
        dests = [self.cfg["multicast"]]
        if self.cfg.get("rekey_unicast"):
            # unicast copies stand for the multicast group: everyone who was a member hears it
            dests += [m["addr"] for m in self.members.values()] + list(also)
        for d in dests:
            for _ in range(self.cfg.get("rekey_copies", 1)):  # 2.4.1.3: copies 'MUST be bitwise identical'
                try:
                    self.sock.sendto(msg, (d, self.port))
                except OSError as e:
                    self.error("GSA_REKEY not sent", dest=d, detail=str(e))
        self.st["rekeys_sent"] += 1
        self.log("GSA_REKEY sent", spi=k["spi"].hex(), mid=mid, dests=dests)
        return msg

    def rekey_tek(self):
        old = self.tek
        self.tek = self.make_tek()
        if self.inband:
            return self.inband_rekey(old)
        self.send_rekey([Payload(C.GSA, encode_gsa([self.tek_policy(self.tek)])),
                         Payload(C.KD, encode_kd([self.tek_bag(self.tek, self.kek["gsk_w"])])),
                         Payload(C.DELETE, Delete(C.PROTO_ESP, [old["spi"]]).encode())])
        self.show()

    def evict(self, member):
        """Appendix A: first a GSA_REKEY over the current Rekey SA with the
        new Rekey SA and its key under the new tree keys only the others
        can reach; then (4.3.1: 'A second G-IKEv2 rekey message can deliver
        the new GSA TEK policies') the new TEK over the new Rekey SA.
        The WRAP_KEYs travel in a member key bag as Appendix A shows
        ('MP(6{15},16{15},11{16})'), although 4.5.3 says a member key bag
        'MUST NOT be sent in GSA_REKEY messages': the RFC has no other place
        for them."""
        self.evicted.add(member)
        self.evicted_file.write_text(json.dumps(sorted(self.evicted)))
        gone = self.members.pop(member, None)
        also = [gone["addr"]] if gone else []
        for spi_r, s in list(self.sas.items()):
            if s["member"] == member:
                del self.sas[spi_r]
        wraps, tops = self.tree.evict(member, crypto.kw_wrap)
        old = self.kek
        new = self.make_kek()
        sa_keys = [tlv(C.SA_KEY, WrappedKey(0, kid, crypto.kw_wrap(key, new["keymat"])).encode()) for kid, key in tops]
        self.kek = new
        pol = self.kek_policy(False)
        bags = [GroupKeyBag(C.GIKE_UPDATE, new["spi"], sa_keys)]
        if wraps:
            bags.append(MemberKeyBag([tlv(C.WRAP_KEY, w.encode()) for w in wraps]))
        self.send_rekey([Payload(C.GSA, encode_gsa([pol])), Payload(C.KD, encode_kd(bags))], kek=old, also=also)
        oldtek = self.tek
        self.tek = self.make_tek()
        self.send_rekey([Payload(C.GSA, encode_gsa([self.tek_policy(self.tek)])),
                         Payload(C.KD, encode_kd([self.tek_bag(self.tek, new["gsk_w"])])),
                         Payload(C.DELETE, Delete(C.PROTO_ESP, [oldtek["spi"]]).encode())], also=also)
        self.log("evicted", member=member)
        self.show()

    def exclude_all(self):
        """2.4.3: 'a Delete payload with an SPI of zero and Protocol ID of AH or
        ESP, followed by another Delete payload with a SPI of zero and
        Protocol ID of GIKE_UPDATE'; then a clean state."""
        self.send_rekey([Payload(C.DELETE, Delete(C.PROTO_ESP, [bytes(4)]).encode()),
                         Payload(C.DELETE, Delete(C.GIKE_UPDATE, [bytes(16)]).encode())])
        self.st["exclusions"] += 1
        self.new_group()
        self.show()

    def inband_rekey(self, old):
        for member, m in self.members.items():
            s = self.sas.get(m["spi_r"])
            if s is None:
                continue
            ike = s["ike"]
            mid = ike.next_mid
            ike.next_mid += 1
            s["pending"] = (mid,)
            msg = ike.protect(C.GSA_INBAND_REKEY, False, mid, [
                Payload(C.GSA, encode_gsa([self.tek_policy(self.tek)])),
                Payload(C.KD, encode_kd([self.tek_bag(self.tek, ike.gsk_w)])),
                Payload(C.DELETE, Delete(C.PROTO_ESP, [old["spi"]]).encode())])
            self.sock.sendto(msg, s["peer"])
        self.st["rekeys_sent"] += 1
        self.show()

    def command(self, cmd):
        c = cmd["cmd"]
        if c == "rekey":
            self.rekey_tek()
        elif c == "evict" and self.cfg.get("lkh", True):
            self.evict(cmd["member"])
        elif c == "exclude":
            self.exclude_all()
        else:
            self.error("unknown command", cmd=c)
