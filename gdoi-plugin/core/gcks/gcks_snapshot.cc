// SPDX-License-Identifier: GPL-2.0-or-later
// The key server group's snapshot (gcks_snapshot.h): its codec, taking one
// from a running group, and starting a group from one.
#include "gcks_snapshot.h"

#include <algorithm>

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"
#include "key_server.h"

namespace groupsec::gdoi::detail {

namespace {

Error bad(const std::string &what)
{
	return make_error(WireError::BadValue, "key server snapshot: " + what);
}

void put_identity(Bytes &out, const Identity &id)
{
	wire::put_u8(out, id.type);
	wire::put_u16(out, static_cast<uint16_t>(id.data.size()));
	wire::put_bytes(out, id.data);
}

void put_address(Bytes &out, const Address &a)
{
	wire::put_u8(out, static_cast<uint8_t>(a.ip.size()));
	wire::put_bytes(out, a.ip);
	wire::put_u16(out, a.port);
}

void put_secret(Bytes &out, const SecretBytes &s)
{
	wire::put_u16(out, static_cast<uint16_t>(s.size()));
	out.insert(out.end(), s.begin(), s.end());
}

bool get_identity(wire::Reader &r, Identity &id)
{
	uint16_t len;
	return r.u8(id.type) && r.u16(len) && len > 0 && r.bytes(len, id.data);
}

bool get_address(wire::Reader &r, Address &a)
{
	uint8_t len;
	return r.u8(len) && (len == 0 || len == 4 || len == 16) && r.bytes(len, a.ip) && r.u16(a.port);
}

bool get_secret(wire::Reader &r, SecretBytes &s)
{
	uint16_t len;
	ByteView v;
	if (!r.u16(len) || !r.view(len, v))
		return false;
	s.assign(v.begin(), v.end());
	return true;
}

// A count of items, each at least min octets: more than the input holds is
// malformed (and allocates nothing).
bool get_count(wire::Reader &r, uint32_t &n, size_t min)
{
	return r.u32(n) && uint64_t(n) * min <= r.remaining();
}

uint64_t age(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

uint64_t remaining(uint64_t now, uint64_t until)
{
	if (until == UINT64_MAX)
		return kSnapshotForever;
	return until > now ? until - now : 0;
}

uint64_t since(uint64_t now, uint64_t age_ms)
{
	return now > age_ms ? now - age_ms : 0;
}

uint64_t until(uint64_t now, uint64_t remain_ms)
{
	if (remain_ms == kSnapshotForever || remain_ms > UINT64_MAX - now)
		return UINT64_MAX;
	return now + remain_ms;
}

} // namespace

Result<Bytes> encode_snapshot(const GcksSnapshot &s)
{
	return wire::guarded([&]() -> Result<Bytes> {
		if (s.group_id.data.empty() || s.group_id.data.size() > 0xffff)
			return bad("group ID of " + std::to_string(s.group_id.data.size()) + " octets");
		Bytes out;
		wire::put_u32(out, kSnapshotMagic);
		wire::put_u8(out, kSnapshotVersion);
		put_identity(out, s.group_id);
		wire::put_u8(out, s.hierarchy);
		wire::put_u8(out, s.transport);
		wire::put_u8(out, static_cast<uint8_t>(s.kek.spi.size()));
		wire::put_bytes(out, s.kek.spi);
		wire::put_u16(out, s.kek.suite.encryption);
		wire::put_u16(out, s.kek.suite.key_bits);
		wire::put_u16(out, s.kek.suite.integrity);
		wire::put_u16(out, s.kek.suite.kwa);
		put_secret(out, s.kek.keymat);
		wire::put_u32(out, s.kek.lifetime_s);
		wire::put_u64(out, s.kek.age_ms);
		wire::put_u64(out, s.kek.remain_ms);
		wire::put_u64(out, s.kek.next_message_id);
		wire::put_u32(out, s.last_message_id);
		wire::put_u32(out, static_cast<uint32_t>(s.teks.size()));
		for (const SnapshotTek &t : s.teks) {
			wire::put_u32(out, t.spi);
			wire::put_u16(out, t.policy);
			put_secret(out, t.keymat);
			wire::put_u64(out, t.age_ms);
			wire::put_u64(out, t.remain_ms);
			wire::put_u8(out, t.current ? 1 : 0);
			wire::put_u64(out, t.remove_in_ms);
		}
		wire::put_u64(out, s.next_sender_id);
		wire::put_u8(out, s.tree_known_depth);
		wire::put_u32(out, static_cast<uint32_t>(s.evicted.size()));
		for (const Identity &id : s.evicted)
			put_identity(out, id);
		wire::put_u32(out, static_cast<uint32_t>(s.members.size()));
		for (const SnapshotMember &m : s.members) {
			put_identity(out, m.id);
			put_address(out, m.address);
			put_address(out, m.local);
			wire::put_u32(out, m.leaf);
			wire::put_u64(out, m.age_ms);
			wire::put_u32(out, static_cast<uint32_t>(m.sender_ids.size()));
			for (uint32_t id : m.sender_ids)
				wire::put_u32(out, id);
			wire::put_u32(out, static_cast<uint32_t>(m.peers.size()));
			for (const Identity &p : m.peers)
				put_identity(out, p);
		}
		wire::put_u8(out, static_cast<uint8_t>(s.tree.depth));
		wire::put_u64(out, s.tree.epoch);
		wire::put_u32(out, static_cast<uint32_t>(s.tree.levels.size()));
		for (const auto &lv : s.tree.levels) {
			wire::put_u32(out, static_cast<uint32_t>(lv.size()));
			for (const auto &n : lv) {
				out.insert(out.end(), n.key.begin(), n.key.end());
				wire::put_u32(out, n.members);
			}
		}
		return out;
	});
}

Result<GcksSnapshot> decode_snapshot(ByteView in)
{
	return wire::guarded([&]() -> Result<GcksSnapshot> {
		wire::Reader r(in);
		GcksSnapshot s;
		uint32_t magic;
		uint8_t version, spi_len, current;
		if (!r.u32(magic) || !r.u8(version))
			return wire::truncated("key server snapshot header");
		if (magic != kSnapshotMagic)
			return bad("not a key server snapshot");
		if (version != kSnapshotVersion)
			return make_error(WireError::BadVersion, "key server snapshot: version " +
									 std::to_string(version) + ", expected " +
									 std::to_string(kSnapshotVersion));
		if (!get_identity(r, s.group_id) || !r.u8(s.hierarchy) || !r.u8(s.transport))
			return wire::truncated("key server snapshot group");
		if (s.hierarchy > static_cast<uint8_t>(KeyHierarchy::Flat) ||
		    s.transport > static_cast<uint8_t>(RekeyTransport::Inband))
			return bad("unknown key hierarchy or rekey transport");
		if (!r.u8(spi_len) || !r.bytes(spi_len, s.kek.spi) || !r.u16(s.kek.suite.encryption) ||
		    !r.u16(s.kek.suite.key_bits) || !r.u16(s.kek.suite.integrity) || !r.u16(s.kek.suite.kwa) ||
		    !get_secret(r, s.kek.keymat) || !r.u32(s.kek.lifetime_s) || !r.u64(s.kek.age_ms) ||
		    !r.u64(s.kek.remain_ms) || !r.u64(s.kek.next_message_id) || !r.u32(s.last_message_id))
			return wire::truncated("key server snapshot Rekey SA");
		if (s.kek.next_message_id > (uint64_t(1) << 32))
			return bad("Rekey SA message ID beyond 2^32");
		uint32_t n;
		if (!get_count(r, n, 31))
			return wire::truncated("key server snapshot TEKs");
		for (uint32_t i = 0; i < n; i++) {
			SnapshotTek t;
			if (!r.u32(t.spi) || !r.u16(t.policy) || !get_secret(r, t.keymat) || !r.u64(t.age_ms) ||
			    !r.u64(t.remain_ms) || !r.u8(current) || !r.u64(t.remove_in_ms))
				return wire::truncated("key server snapshot TEK");
			if (current > 1)
				return bad("TEK flag " + std::to_string(current));
			t.current = current == 1;
			s.teks.push_back(std::move(t));
		}
		if (!r.u64(s.next_sender_id) || !r.u8(s.tree_known_depth))
			return wire::truncated("key server snapshot counters");
		if (!get_count(r, n, 4))
			return wire::truncated("key server snapshot evicted identities");
		for (uint32_t i = 0; i < n; i++) {
			Identity id;
			if (!get_identity(r, id))
				return wire::truncated("key server snapshot evicted identity");
			s.evicted.push_back(std::move(id));
		}
		if (!get_count(r, n, 26))
			return wire::truncated("key server snapshot members");
		for (uint32_t i = 0; i < n; i++) {
			SnapshotMember m;
			uint32_t k;
			if (!get_identity(r, m.id) || !get_address(r, m.address) || !get_address(r, m.local) ||
			    !r.u32(m.leaf) || !r.u64(m.age_ms) || !get_count(r, k, 4))
				return wire::truncated("key server snapshot member");
			m.sender_ids.resize(k);
			for (uint32_t &id : m.sender_ids)
				r.u32(id);
			if (!get_count(r, k, 4))
				return wire::truncated("key server snapshot member list");
			for (uint32_t j = 0; j < k; j++) {
				Identity p;
				if (!get_identity(r, p))
					return wire::truncated("key server snapshot member list");
				m.peers.push_back(std::move(p));
			}
			s.members.push_back(std::move(m));
		}
		uint8_t depth;
		if (!r.u8(depth) || !r.u64(s.tree.epoch) || !get_count(r, n, 4))
			return wire::truncated("key server snapshot key tree");
		s.tree.depth = depth;
		for (uint32_t l = 0; l < n; l++) {
			uint32_t k;
			if (!get_count(r, k, flatkey::kKeyBytes + 4))
				return wire::truncated("key server snapshot key tree level");
			std::vector<keytree::KeyTreeServer::NodeState> lv(k);
			for (auto &node : lv) {
				ByteView key;
				r.view(node.key.size(), key);
				std::copy(key.begin(), key.end(), node.key.begin());
				r.u32(node.members);
			}
			s.tree.levels.push_back(std::move(lv));
		}
		if (!r.done())
			return make_error(WireError::TrailingBytes, "key server snapshot: " +
									    std::to_string(r.remaining()) +
									    " octets after the key tree");
		return s;
	});
}

Result<Bytes> KeyServer::snapshot(const GcksGroup &g) const
{
	if (g.cfg.hierarchy != KeyHierarchy::Tree)
		return make_error(WireError::Unsupported, "group " + g.cfg.name +
								  ": only a key tree group is replicated "
								  "(key_hierarchy = tree)");
	// times as ages and remaining lifetimes from the start of the current
	// second: the same state gives the same octets within a second (the
	// standbys get a new version only when something changed, or once a
	// second while it does), at a precision of a second
	const uint64_t now = ctx_.now() - ctx_.now() % 1000;
	GcksSnapshot s;
	s.group_id = g.cfg.group_id;
	s.hierarchy = static_cast<uint8_t>(g.cfg.hierarchy);
	s.transport = static_cast<uint8_t>(g.cfg.rekey);
	s.kek.spi = g.kek.spi;
	s.kek.suite = g.kek.suite;
	s.kek.keymat = g.kek.keymat;
	s.kek.lifetime_s = g.kek.lifetime_s;
	s.kek.age_ms = age(now, g.kek.created_ms);
	s.kek.remain_ms = remaining(now, g.kek.expires_ms);
	s.kek.next_message_id = g.kek.next_message_id;
	s.last_message_id = g.last_message_id;
	for (const GcksTek &t : g.teks) {
		SnapshotTek x;
		x.spi = t.spi;
		x.policy = static_cast<uint16_t>(t.policy);
		x.keymat = t.keymat;
		x.age_ms = age(now, t.created_ms);
		x.remain_ms = remaining(now, t.expires_ms);
		x.current = t.current;
		x.remove_in_ms = t.remove_ms ? std::max<uint64_t>(1, remaining(now, t.remove_ms)) : 0;
		s.teks.push_back(std::move(x));
	}
	s.next_sender_id = g.next_sender_id;
	s.tree_known_depth = g.tree_known_depth;
	s.evicted.assign(g.evicted.begin(), g.evicted.end());
	for (const auto &[id, m] : g.members) {
		SnapshotMember x;
		x.id = id;
		x.address = m.address;
		x.local = m.local;
		x.leaf = m.leaf;
		x.age_ms = age(now, m.registered_ms);
		x.sender_ids = m.sender_ids;
		x.peers = m.peers;
		s.members.push_back(std::move(x));
	}
	s.tree = g.tree.export_state();
	return encode_snapshot(s);
}

Result<Done> KeyServer::add_group_from(const GcksGroupConfig &c, ByteView in)
{
	if (groups.count(c.name))
		return make_error(WireError::BadValue, "group " + c.name + " runs already: a snapshot starts a new one");
	auto d = decode_snapshot(in);
	if (!d)
		return d.error();
	const GcksSnapshot &s = d.value();
	// the snapshot must be of this group as configured here
	if (!(s.group_id == c.group_id))
		return bad("of group " + s.group_id.str() + ", not " + c.group_id.str());
	if (s.hierarchy != static_cast<uint8_t>(KeyHierarchy::Tree) || c.hierarchy != KeyHierarchy::Tree)
		return make_error(WireError::Unsupported, "key server snapshot: only a key tree group is replicated");
	if (s.transport != static_cast<uint8_t>(c.rekey))
		return bad("rekey transport differs from the configuration's");
	if (!(s.kek.suite == rekey_suite(c)) || s.kek.keymat.size() != rekey_keymat_bytes(s.kek.suite) ||
	    s.kek.spi.size() != kGikeUpdateSpiSize)
		return bad("Rekey SA suite, keys or SPI differ from the configuration's");
	if (s.teks.empty())
		return bad("no TEK");
	for (size_t i = 0; i < s.teks.size(); i++) {
		const SnapshotTek &t = s.teks[i];
		if (t.policy >= c.teks.size() || t.keymat.size() != tek_keymat_bytes(c.teks[t.policy]) || t.spi < 256)
			return bad("TEK " + std::to_string(t.spi) + " does not fit the configured TEK policies");
		for (size_t j = 0; j < i; j++)
			if (s.teks[j].spi == t.spi)
				return bad("TEK SPI " + std::to_string(t.spi) + " twice");
	}
	for (size_t i = 0; i < s.members.size(); i++) {
		const SnapshotMember &m = s.members[i];
		if (m.address.ip.empty() || m.local.ip.empty())
			return bad("member " + m.id.str() + " without an address");
		for (size_t j = 0; j < i; j++)
			if (s.members[j].id == m.id || s.members[j].leaf == m.leaf)
				return bad("member " + m.id.str() + " or its leaf twice");
	}
	// the key tree is checked on a scratch tree first
	keytree::KeyTreeServer scratch(*ctx_.deps.random);
	std::string why = scratch.import_state(s.tree);
	if (!why.empty())
		return bad(why);
	for (const SnapshotMember &m : s.members)
		if (!scratch.occupied(m.leaf))
			return bad("member " + m.id.str() + " on leaf " + std::to_string(m.leaf) + ", which is free");
	if (scratch.members() != s.members.size())
		return bad("key tree of " + std::to_string(scratch.members()) + " members, member table of " +
			   std::to_string(s.members.size()));
	// everything checked: a fresh group (signing key, AUTH_KEY, stored
	// evictions as a new group gets them), its keys replaced
	auto r = add_group(c);
	if (!r)
		return r;
	GcksGroup &g = *groups[c.name];
	const uint64_t now = ctx_.now();
	g.tree.import_state(s.tree);
	RekeySa kek = make_rekey_sa(s.kek.spi, s.kek.keymat, s.kek.suite, s.kek.lifetime_s, now);
	kek.created_ms = since(now, s.kek.age_ms);
	kek.expires_ms = until(now, s.kek.remain_ms);
	kek.next_message_id = s.kek.next_message_id;
	g.kek = std::move(kek);
	ctx_.log_rekey_sa(g.kek);
	g.last_message_id = s.last_message_id;
	g.teks.clear();
	for (const SnapshotTek &t : s.teks) {
		GcksTek x;
		x.spi = t.spi;
		x.policy = t.policy;
		x.keymat = t.keymat;
		x.created_ms = since(now, t.age_ms);
		x.expires_ms = until(now, t.remain_ms);
		x.current = t.current;
		x.remove_ms = t.remove_in_ms ? until(now, t.remove_in_ms) : 0;
		g.teks.push_back(std::move(x));
	}
	g.next_sender_id = s.next_sender_id;
	g.tree_known_depth = s.tree_known_depth;
	g.evicted.insert(s.evicted.begin(), s.evicted.end());
	for (const SnapshotMember &m : s.members) {
		GcksMember x;
		x.id = m.id;
		x.address = m.address;
		x.local = m.local;
		x.leaf = m.leaf;
		x.registered_ms = since(now, m.age_ms);
		x.sender_ids = m.sender_ids;
		x.peers = m.peers;
		g.members[m.id] = std::move(x);
	}
	return Done{};
}

} // namespace groupsec::gdoi::detail
