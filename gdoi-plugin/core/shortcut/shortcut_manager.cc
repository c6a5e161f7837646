// SPDX-License-Identifier: GPL-2.0-or-later
#include "shortcut_manager.h"

#include <algorithm>

namespace groupsec::gdoi::shortcut {

namespace {

std::optional<Error> check_member(const std::vector<Prefix> &inside, const Address &outside)
{
	if (inside.empty())
		return make_error(WireError::Missing, "a member needs at least one inside prefix");
	for (const auto &p : inside) {
		bool host_bits = false;
		for (size_t bit = p.length; bit < p.address.size() * 8; bit++)
			host_bits = host_bits || (p.address[bit / 8] & (0x80 >> (bit % 8)));
		if ((p.address.size() != 4 && p.address.size() != 16) || p.length > p.address.size() * 8 ||
		    host_bits)
			return make_error(WireError::BadValue, "inside prefix " + p.str() + " is not a prefix");
	}
	if ((outside.ip.size() != 4 && outside.ip.size() != 16) || net::is_unspecified(outside.ip) ||
	    net::is_multicast(outside.ip))
		return make_error(WireError::BadValue, "outside address " + outside.ip_string() +
							       " is not a unicast address");
	return std::nullopt;
}

// The longest of a member's prefixes holding ip.
const Prefix *best_prefix(const std::vector<Prefix> &inside, ByteView ip)
{
	const Prefix *best = nullptr;
	for (const auto &p : inside)
		if (p.contains(ip) && (!best || p.length > best->length))
			best = &p;
	return best;
}

} // namespace

std::optional<RelayedPacket> classify_relayed(ByteView packet)
{
	constexpr uint8_t kTcp = 6, kSyn = 0x02, kAck = 0x10;
	RelayedPacket r;
	size_t tcp = 0; // offset of the TCP header, 0: none
	if (packet.size() >= 20 && packet[0] >> 4 == 4) {
		const size_t ihl = (packet[0] & 0x0f) * 4u;
		if (ihl < 20)
			return std::nullopt;
		r.source.assign(packet.begin() + 12, packet.begin() + 16);
		r.destination.assign(packet.begin() + 16, packet.begin() + 20);
		const unsigned fragment_offset = (packet[6] & 0x1f) << 8 | packet[7];
		if (packet[9] == kTcp && fragment_offset == 0)
			tcp = ihl;
	} else if (packet.size() >= 40 && packet[0] >> 4 == 6) {
		r.source.assign(packet.begin() + 8, packet.begin() + 24);
		r.destination.assign(packet.begin() + 24, packet.begin() + 40);
		if (packet[6] == kTcp)
			tcp = 40;
	} else {
		return std::nullopt;
	}
	// the flags octet: 13 into the TCP header
	if (tcp && packet.size() >= tcp + 14) {
		const uint8_t flags = packet[tcp + 13];
		r.new_session = (flags & kSyn) && !(flags & kAck);
	}
	return r;
}

const char *shortcut_state_name(ShortcutState s)
{
	return s == ShortcutState::Up ? "up" : "offered";
}

ShortcutManager::ShortcutManager(ManagerSettings settings, const crypto::Clock &clock,
				 crypto::RandomSource &random, ManagerChannel &channel, ManagerEvents *events)
	: settings_(std::move(settings)), clock_(clock), random_(random), channel_(channel), events_(events)
{
	random_.fill(reinterpret_cast<uint8_t *>(&epoch_), sizeof(epoch_));
}

std::pair<std::string, std::string> ShortcutManager::key(const std::string &a, const std::string &b)
{
	return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

ShortcutManager::Member *ShortcutManager::find(const std::string &id)
{
	auto it = members_.find(id);
	return it == members_.end() ? nullptr : &it->second;
}

const MemberContext *ShortcutManager::member(const std::string &id) const
{
	auto it = members_.find(id);
	return it == members_.end() ? nullptr : &it->second.ctx;
}

ShortcutManager::Member *ShortcutManager::owner(ByteView ip)
{
	Member *best = nullptr;
	uint8_t best_len = 0;
	for (auto &[id, m] : members_) {
		const Prefix *p = best_prefix(m.ctx.inside, ip);
		if (p && (!best || p->length > best_len)) {
			best = &m;
			best_len = p->length;
		}
	}
	return best;
}

std::optional<uint32_t> ShortcutManager::between(const std::string &a, const std::string &b) const
{
	for (const auto &[id, s] : shortcuts_)
		if ((s.a == a && s.b == b) || (s.a == b && s.b == a))
			return id;
	return std::nullopt;
}

std::vector<ShortcutInfo> ShortcutManager::shortcuts() const
{
	std::vector<ShortcutInfo> out;
	for (const auto &[id, s] : shortcuts_)
		out.push_back(s);
	return out;
}

bool ShortcutManager::send(Member &to, uint32_t id, decltype(ShortcutMessage::body) body)
{
	ShortcutMessage m;
	m.epoch = epoch_;
	m.sequence = ++to.sequence;
	m.shortcut_id = id;
	m.body = std::move(body);
	auto bytes = encode_shortcut_message(m);
	if (!bytes || !channel_.send(to.ctx.id, bytes.value())) {
		counters_.send_failures++;
		return false;
	}
	return true;
}

uint32_t ShortcutManager::new_spi(const std::set<uint32_t> &taken)
{
	for (;;) {
		uint32_t spi;
		random_.fill(reinterpret_cast<uint8_t *>(&spi), sizeof(spi));
		if (spi >= 256 && !taken.count(spi))
			return spi;
	}
}

Result<Done> ShortcutManager::member_outside(const std::string &id, std::vector<Prefix> inside,
					     const Address &outside)
{
	if (id.empty())
		return make_error(WireError::Missing, "a member needs an identity");
	if (auto e = check_member(inside, outside))
		return *e;
	if (Member *m = find(id)) {
		// a new registration: whatever shortcut state it had may be gone
		std::vector<uint32_t> ids(m->ctx.shortcuts.begin(), m->ctx.shortcuts.end());
		for (uint32_t sid : ids)
			end(sid, TeardownReason::Aborted, TeardownReason::Aborted, id + " registered again");
	}
	Member &m = members_[id];
	m.ctx.id = id;
	m.ctx.inside = std::move(inside);
	m.ctx.outside = outside;
	m.ctx.is_outside = true;
	m.guard.reset();
	return Done{};
}

Result<Done> ShortcutManager::member_moved(const std::string &id, const Address &outside)
{
	Member *m = find(id);
	if (!m)
		return make_error(WireError::BadValue, "no member " + id);
	if (auto e = check_member(m->ctx.inside, outside))
		return *e;
	if (outside.ip.size() != m->ctx.outside.ip.size()) {
		// the shortcuts' SAs cannot change family: they end
		std::vector<uint32_t> ids(m->ctx.shortcuts.begin(), m->ctx.shortcuts.end());
		for (uint32_t sid : ids)
			abort(sid, id + " changed address family", false);
		m->ctx.outside = outside;
		return Done{};
	}
	if (outside == m->ctx.outside)
		return Done{};
	m->ctx.outside = outside;
	for (uint32_t sid : m->ctx.shortcuts) {
		ShortcutInfo &s = shortcuts_.at(sid);
		Member *peer = find(s.a == id ? s.b : s.a);
		if (!peer)
			continue;
		if (send(*peer, sid, PeerMoved{outside})) {
			counters_.moves_sent++;
			s.moves++;
		}
	}
	return Done{};
}

void ShortcutManager::end(uint32_t id, TeardownReason to_a, TeardownReason to_b, const std::string &why)
{
	auto it = shortcuts_.find(id);
	if (it == shortcuts_.end())
		return;
	ShortcutInfo s = it->second;
	shortcuts_.erase(it);
	for (const auto &[name, reason] : {std::make_pair(s.a, to_a), std::make_pair(s.b, to_b)}) {
		Member *m = find(name);
		if (!m)
			continue;
		m->ctx.shortcuts.erase(id);
		if (send(*m, id, Teardown{reason}))
			counters_.teardowns_sent++;
	}
	if (s.state == ShortcutState::Up && events_)
		events_->shortcut_down(s, why);
}

void ShortcutManager::abort(uint32_t id, const std::string &why, bool retry)
{
	auto it = shortcuts_.find(id);
	if (it == shortcuts_.end())
		return;
	ShortcutInfo s = it->second;
	counters_.aborted++;
	end(id, TeardownReason::Aborted, TeardownReason::Aborted, why);
	Pair &p = pairs_[key(s.a, s.b)];
	if (retry && s.attempt < settings_.max_attempts) {
		if (start(s.a, s.inside_a, s.b, s.inside_b, s.attempt + 1))
			return;
	}
	p.hold_until = clock_.now_ms() + settings_.holddown_ms;
}

Result<Done> ShortcutManager::member_inside(const std::string &id)
{
	Member *m = find(id);
	if (!m)
		return make_error(WireError::BadValue, "no member " + id);
	m->ctx.is_outside = false;
	std::vector<uint32_t> ids(m->ctx.shortcuts.begin(), m->ctx.shortcuts.end());
	for (uint32_t sid : ids) {
		const ShortcutInfo &s = shortcuts_.at(sid);
		bool a = s.a == id;
		end(sid, a ? TeardownReason::Inside : TeardownReason::PeerInside,
		    a ? TeardownReason::PeerInside : TeardownReason::Inside, id + " came inside");
	}
	return Done{};
}

Result<Done> ShortcutManager::member_gone(const std::string &id)
{
	Member *m = find(id);
	if (!m)
		return make_error(WireError::BadValue, "no member " + id);
	std::vector<uint32_t> ids(m->ctx.shortcuts.begin(), m->ctx.shortcuts.end());
	// the member goes first, so that only the peer is told
	members_.erase(id);
	for (uint32_t sid : ids)
		end(sid, TeardownReason::PeerGone, TeardownReason::PeerGone, id + " left");
	for (auto it = pairs_.begin(); it != pairs_.end();)
		it = it->first.first == id || it->first.second == id ? pairs_.erase(it) : std::next(it);
	for (auto &[other, om] : members_)
		om.ctx.correspondents.erase(id);
	return Done{};
}

Result<uint32_t> ShortcutManager::start(const std::string &a, const Prefix &pa, const std::string &b,
					const Prefix &pb, unsigned attempt)
{
	Member *ma = find(a);
	Member *mb = find(b);
	if (!ma || !mb || !ma->ctx.is_outside || !mb->ctx.is_outside)
		return make_error(WireError::BadValue, "both members must be outside");
	if (ma->ctx.outside.ip.size() != mb->ctx.outside.ip.size() || pa.address.size() != pb.address.size())
		return make_error(WireError::Unsupported, a + " and " + b + " use different address families");
	if (between(a, b))
		return make_error(WireError::Duplicate, "a shortcut between " + a + " and " + b + " exists");
	std::set<uint32_t> taken;
	for (const auto &[id, s] : shortcuts_) {
		taken.insert(s.spi_ab);
		taken.insert(s.spi_ba);
	}
	uint32_t id = next_id_++;
	if (next_id_ == 0)
		next_id_ = 1;
	ShortcutInfo s;
	s.id = id;
	s.a = a;
	s.b = b;
	s.inside_a = pa;
	s.inside_b = pb;
	s.spi_ab = new_spi(taken);
	taken.insert(s.spi_ab);
	s.spi_ba = new_spi(taken);
	s.created_ms = clock_.now_ms();
	s.attempt = attempt;
	SecretBytes key_ab(settings_.suite.keymat_size());
	SecretBytes key_ba(settings_.suite.keymat_size());
	random_.fill(key_ab.data(), key_ab.size());
	random_.fill(key_ba.data(), key_ba.size());

	Offer to_a;
	to_a.suite = settings_.suite;
	to_a.lifetime_s = settings_.lifetime_s;
	to_a.spi_in = s.spi_ba;
	to_a.spi_out = s.spi_ab;
	to_a.peer_outside = mb->ctx.outside;
	to_a.local_inside = pa;
	to_a.peer_inside = pb;
	to_a.key_in = key_ba;
	to_a.key_out = key_ab;
	Offer to_b;
	to_b.suite = settings_.suite;
	to_b.lifetime_s = settings_.lifetime_s;
	to_b.spi_in = s.spi_ab;
	to_b.spi_out = s.spi_ba;
	to_b.peer_outside = ma->ctx.outside;
	to_b.local_inside = pb;
	to_b.peer_inside = pa;
	to_b.key_in = std::move(key_ab);
	to_b.key_out = std::move(key_ba);

	shortcuts_.emplace(id, s);
	ma->ctx.shortcuts.insert(id);
	mb->ctx.shortcuts.insert(id);
	ma->ctx.correspondents.insert(b);
	mb->ctx.correspondents.insert(a);
	pairs_[key(a, b)].attempts = attempt;
	bool sent = send(*ma, id, std::move(to_a)) && send(*mb, id, std::move(to_b));
	if (!sent) {
		counters_.aborted++;
		end(id, TeardownReason::Aborted, TeardownReason::Aborted, "an offer could not be sent");
		pairs_[key(a, b)].hold_until = clock_.now_ms() + settings_.holddown_ms;
		return make_error(WireError::BadValue, "an offer could not be sent");
	}
	counters_.offers_sent += 2;
	return id;
}

void ShortcutManager::trigger(ByteView source, ByteView destination, uint64_t packets, bool session)
{
	Member *ma = owner(source);
	Member *mb = owner(destination);
	if (!ma || !mb || ma == mb || !ma->ctx.is_outside || !mb->ctx.is_outside)
		return; // not two outside members: the gateway's own business
	ma->ctx.correspondents.insert(mb->ctx.id);
	mb->ctx.correspondents.insert(ma->ctx.id);
	Pair &p = pairs_[key(ma->ctx.id, mb->ctx.id)];
	p.relayed += packets;
	if (between(ma->ctx.id, mb->ctx.id) || clock_.now_ms() < p.hold_until)
		return;
	if (!session && p.relayed < settings_.relay_threshold_packets)
		return;
	p.relayed = 0;
	const Prefix *pa = best_prefix(ma->ctx.inside, source);
	const Prefix *pb = best_prefix(mb->ctx.inside, destination);
	if (session)
		counters_.detected_session++;
	else
		counters_.detected_relayed++;
	start(ma->ctx.id, *pa, mb->ctx.id, *pb, 1);
}

void ShortcutManager::relayed(ByteView source, ByteView destination, uint64_t packets)
{
	if (packets)
		trigger(source, destination, packets, false);
}

void ShortcutManager::new_session(ByteView source, ByteView destination)
{
	trigger(source, destination, 0, true);
}

Result<uint32_t> ShortcutManager::request(const std::string &a, const std::string &b)
{
	for (const std::string *name : {&a, &b}) {
		Member *m = find(*name);
		if (!m) {
			counters_.refused_unknown_member++;
			return make_error(WireError::BadValue, "no member " + *name + ": no shortcut offered");
		}
		if (!m->ctx.is_outside) {
			counters_.refused_unknown_member++;
			return make_error(WireError::BadValue, "member " + *name + " is inside: no shortcut offered");
		}
	}
	if (a == b)
		return make_error(WireError::BadValue, "a shortcut needs two members");
	Member *ma = find(a);
	Member *mb = find(b);
	return start(a, ma->ctx.inside.front(), b, mb->ctx.inside.front(), 1);
}

Result<Done> ShortcutManager::remove(uint32_t id)
{
	if (!shortcuts_.count(id))
		return make_error(WireError::BadValue, "no shortcut " + std::to_string(id));
	end(id, TeardownReason::Operator, TeardownReason::Operator, "removed by the operator");
	return Done{};
}

void ShortcutManager::on_ack(Member &from, uint32_t id, const Ack &a)
{
	auto it = shortcuts_.find(id);
	if (it == shortcuts_.end()) {
		// a TEARDOWN's answer comes after the shortcut went
		if (a.acked != MsgType::Teardown)
			counters_.acks_unexpected++;
		return;
	}
	ShortcutInfo &s = it->second;
	bool is_a = s.a == from.ctx.id;
	if (a.status != AckStatus::Ok) {
		if (a.acked == MsgType::Teardown)
			return;
		bool retry = a.acked == MsgType::Offer &&
			     (a.status == AckStatus::Duplicate || a.status == AckStatus::KernelFailed);
		abort(id, from.ctx.id + " answered " + msg_type_name(a.acked) + " with " + ack_status_name(a.status),
		      retry);
		return;
	}
	switch (a.acked) {
	case MsgType::Offer: {
		bool &in = is_a ? s.inbound_a : s.inbound_b;
		if (in || s.state != ShortcutState::Offered) {
			counters_.acks_unexpected++;
			return;
		}
		in = true;
		// its inbound SA is there: the peer may send to it now
		Member *peer = find(is_a ? s.b : s.a);
		if (!peer || !send(*peer, id, Go{}))
			abort(id, "GO could not be sent", false);
		return;
	}
	case MsgType::Go: {
		bool &out = is_a ? s.outbound_a : s.outbound_b;
		if (out || !(is_a ? s.inbound_b : s.inbound_a)) {
			counters_.acks_unexpected++;
			return;
		}
		out = true;
		if (s.outbound_a && s.outbound_b) {
			s.state = ShortcutState::Up;
			s.up_ms = clock_.now_ms();
			counters_.up++;
			pairs_[key(s.a, s.b)].attempts = 0;
			if (events_)
				events_->shortcut_up(s);
		}
		return;
	}
	case MsgType::PeerMoved:
	case MsgType::Teardown:
	case MsgType::Ack:
		return;
	}
}

Result<Done> ShortcutManager::receive(const std::string &from, ByteView message)
{
	Member *m = find(from);
	if (!m) {
		counters_.rejected_forged++;
		return make_error(WireError::BadValue, "shortcut message from " + from + ", who is no member here");
	}
	auto decoded = decode_shortcut_message(message);
	if (!decoded) {
		counters_.rejected_malformed++;
		return decoded.error();
	}
	const ShortcutMessage &msg = decoded.value();
	if (from_manager(msg.type())) {
		counters_.rejected_forged++;
		return make_error(WireError::BadValue, std::string("shortcut message: a manager's ") +
							       msg_type_name(msg.type()) + " from member " + from);
	}
	switch (m->guard.check(msg.epoch, msg.sequence)) {
	case ReplayGuard::Verdict::Fresh:
		break;
	case ReplayGuard::Verdict::Replayed:
		counters_.rejected_replay++;
		return make_error(WireError::BadValue, "shortcut message from " + from + ": sequence " +
							       std::to_string(msg.sequence) + " replayed");
	case ReplayGuard::Verdict::WrongEpoch:
		counters_.rejected_replay++;
		return make_error(WireError::BadValue, "shortcut message from " + from + ": stale epoch");
	}
	auto it = shortcuts_.find(msg.shortcut_id);
	if (it != shortcuts_.end() && it->second.a != from && it->second.b != from) {
		m->guard.accept(msg.epoch, msg.sequence);
		counters_.rejected_forged++;
		return make_error(WireError::BadValue, "shortcut message from " + from + " about shortcut " +
							       std::to_string(msg.shortcut_id) + ", which is not its own");
	}
	m->guard.accept(msg.epoch, msg.sequence);
	on_ack(*m, msg.shortcut_id, std::get<Ack>(msg.body));
	return Done{};
}

void ShortcutManager::tick()
{
	uint64_t now = clock_.now_ms();
	std::vector<uint32_t> expired, renew;
	for (const auto &[id, s] : shortcuts_) {
		if (s.state == ShortcutState::Offered && now >= s.created_ms + settings_.setup_timeout_ms)
			expired.push_back(id);
		// renewed at nine tenths of the SAs' lifetime
		if (s.state == ShortcutState::Up && now >= s.up_ms + uint64_t(settings_.lifetime_s) * 900)
			renew.push_back(id);
	}
	for (uint32_t id : expired)
		abort(id, "not set up within " + std::to_string(settings_.setup_timeout_ms) + " ms", false);
	for (uint32_t id : renew) {
		ShortcutInfo s = shortcuts_.at(id);
		end(id, TeardownReason::Renewal, TeardownReason::Renewal, "renewal");
		start(s.a, s.inside_a, s.b, s.inside_b, 1);
	}
}

} // namespace groupsec::gdoi::shortcut
