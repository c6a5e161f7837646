// SPDX-License-Identifier: GPL-2.0-or-later
#include "shortcut_member.h"

#include <utility>

#include <openssl/crypto.h>

namespace groupsec::gdoi::shortcut {

namespace {

// The keying material of one SA split as KernelSa carries it: AES-GCM's
// salt stays appended to the key; CBC's integrity key follows the key.
void set_keys(KernelSa &sa, const Suite &suite, const SecretBytes &keymat)
{
	sa.encryption = suite.encryption;
	sa.integrity = suite.integrity;
	size_t enc = suite.key_bits / 8 + (suite.encryption == 20 ? 4 : 0);
	sa.encryption_key.assign(keymat.begin(), keymat.begin() + static_cast<long>(enc));
	sa.integrity_key.assign(keymat.begin() + static_cast<long>(enc), keymat.end());
}

bool within(const Prefix &inner, const Prefix &outer)
{
	return inner.address.size() == outer.address.size() && outer.length <= inner.length &&
	       outer.contains(inner.address);
}

} // namespace

ShortcutMember::ShortcutMember(MemberSettings settings, KernelOps &kernel, MemberChannel &channel,
			       crypto::RandomSource &random)
	: settings_(std::move(settings)), kernel_(kernel), channel_(channel), reqid_next_(settings_.reqid_base)
{
	random.fill(reinterpret_cast<uint8_t *>(&epoch_), sizeof(epoch_));
}

ShortcutMember::~ShortcutMember() = default;

void ShortcutMember::manager_connected()
{
	guard_.reset();
}

KernelSa ShortcutMember::sa_in(const Entry &e, const Address &local) const
{
	KernelSa sa;
	sa.source = e.offer.peer_outside;
	sa.destination = local;
	sa.spi = e.offer.spi_in;
	sa.reqid = e.reqid;
	sa.inbound = true;
	set_keys(sa, e.offer.suite, e.offer.key_in);
	sa.lifetime_s = e.offer.lifetime_s;
	sa.replay_window = settings_.replay_window;
	return sa;
}

KernelSa ShortcutMember::sa_out(const Entry &e, const Address &local) const
{
	KernelSa sa;
	sa.source = local;
	sa.destination = e.offer.peer_outside;
	sa.spi = e.offer.spi_out;
	sa.reqid = e.reqid;
	sa.inbound = false;
	set_keys(sa, e.offer.suite, e.offer.key_out);
	sa.lifetime_s = e.offer.lifetime_s;
	sa.replay_window = settings_.replay_window;
	return sa;
}

KernelPolicy ShortcutMember::policy(const Entry &e, const Address &local, PolicyDirection d) const
{
	KernelPolicy p;
	p.direction = d;
	p.reqid = e.reqid;
	if (d == PolicyDirection::Out) {
		p.source = e.offer.local_inside.selector();
		p.destination = e.offer.peer_inside.selector();
		p.tunnel_source = local;
		p.tunnel_destination = e.offer.peer_outside;
		p.spi = e.offer.spi_out;
	} else {
		p.source = e.offer.peer_inside.selector();
		p.destination = e.offer.local_inside.selector();
		p.tunnel_source = e.offer.peer_outside;
		p.tunnel_destination = local;
		p.spi = e.offer.spi_in;
	}
	return p;
}

KernelPlan ShortcutMember::plan_inbound(const Entry &e) const
{
	const Address &local = settings_.local_outside;
	KernelPlan plan;
	plan.add_sa(sa_in(e, local));
	plan.add_policy(policy(e, local, PolicyDirection::In));
	plan.add_policy(policy(e, local, PolicyDirection::Fwd));
	return plan;
}

KernelPlan ShortcutMember::plan_outbound(const Entry &e) const
{
	const Address &local = settings_.local_outside;
	KernelPlan plan;
	plan.add_sa(sa_out(e, local));
	plan.add_policy(policy(e, local, PolicyDirection::Out));
	return plan;
}

KernelPlan ShortcutMember::plan_teardown(const Entry &e) const
{
	const Address &local = settings_.local_outside;
	KernelPlan plan;
	if (e.outbound) {
		plan.del_policy(policy(e, local, PolicyDirection::Out));
		plan.del_sa(sa_out(e, local));
	}
	plan.del_policy(policy(e, local, PolicyDirection::In));
	plan.del_policy(policy(e, local, PolicyDirection::Fwd));
	plan.del_sa(sa_in(e, local));
	return plan;
}

KernelPlan ShortcutMember::plan_peer_moved(const Entry &e, const Address &peer) const
{
	const Address &local = settings_.local_outside;
	Entry moved = e;
	moved.offer.peer_outside = peer;
	KernelPlan plan;
	if (e.outbound) {
		// the new outbound SA has another destination, so it can be there
		// before the policy moves to it: no packet goes without an SA
		plan.add_sa(sa_out(moved, local));
		plan.del_policy(policy(e, local, PolicyDirection::Out));
		plan.add_policy(policy(moved, local, PolicyDirection::Out));
		plan.del_sa(sa_out(e, local));
	}
	// the inbound SA keeps its destination and SPI: it is replaced
	plan.del_policy(policy(e, local, PolicyDirection::In));
	plan.del_policy(policy(e, local, PolicyDirection::Fwd));
	plan.del_sa(sa_in(e, local));
	plan.add_sa(sa_in(moved, local));
	plan.add_policy(policy(moved, local, PolicyDirection::In));
	plan.add_policy(policy(moved, local, PolicyDirection::Fwd));
	return plan;
}

KernelPlan ShortcutMember::plan_local_moved(const Entry &e, const Address &local) const
{
	const Address &old = settings_.local_outside;
	KernelPlan plan;
	// the new inbound SA has another destination: added before the old goes
	plan.add_sa(sa_in(e, local));
	plan.del_policy(policy(e, old, PolicyDirection::In));
	plan.del_policy(policy(e, old, PolicyDirection::Fwd));
	plan.add_policy(policy(e, local, PolicyDirection::In));
	plan.add_policy(policy(e, local, PolicyDirection::Fwd));
	plan.del_sa(sa_in(e, old));
	if (e.outbound) {
		plan.del_policy(policy(e, old, PolicyDirection::Out));
		plan.del_sa(sa_out(e, old));
		plan.add_sa(sa_out(e, local));
		plan.add_policy(policy(e, local, PolicyDirection::Out));
	}
	return plan;
}

bool ShortcutMember::mine(const Prefix &p) const
{
	for (const auto &own : settings_.inside)
		if (within(p, own))
			return true;
	return false;
}

void ShortcutMember::ack(uint32_t id, MsgType acked, AckStatus status)
{
	if (status != AckStatus::Ok)
		counters_.refused++;
	ShortcutMessage m;
	m.epoch = epoch_;
	m.sequence = ++sequence_;
	m.shortcut_id = id;
	m.body = Ack{acked, status};
	auto bytes = encode_shortcut_message(m);
	if (!bytes || !channel_.send(bytes.value()))
		counters_.send_failures++;
}

AckStatus ShortcutMember::on_offer(uint32_t id, const Offer &o)
{
	if (entries_.count(id))
		return AckStatus::Duplicate;
	for (const auto &[other, e] : entries_)
		if (e.offer.spi_in == o.spi_in || e.offer.spi_out == o.spi_out)
			return AckStatus::Duplicate;
	if (!mine(o.local_inside))
		return AckStatus::NotMine;
	if (o.peer_outside.ip.size() != settings_.local_outside.ip.size())
		return AckStatus::Unsupported;
	Entry e{o, reqid_next_, false};
	if (!apply_plan(kernel_, plan_inbound(e))) {
		counters_.kernel_failures++;
		return AckStatus::KernelFailed;
	}
	reqid_next_++;
	entries_.emplace(id, std::move(e));
	counters_.offers++;
	return AckStatus::Ok;
}

AckStatus ShortcutMember::on_go(uint32_t id)
{
	auto it = entries_.find(id);
	if (it == entries_.end())
		return AckStatus::UnknownShortcut;
	if (it->second.outbound)
		return AckStatus::Ok;
	if (!apply_plan(kernel_, plan_outbound(it->second))) {
		counters_.kernel_failures++;
		return AckStatus::KernelFailed;
	}
	it->second.outbound = true;
	counters_.outbound++;
	return AckStatus::Ok;
}

AckStatus ShortcutMember::on_peer_moved(uint32_t id, const Address &peer)
{
	auto it = entries_.find(id);
	if (it == entries_.end())
		return AckStatus::UnknownShortcut;
	if (peer.ip.size() != settings_.local_outside.ip.size())
		return AckStatus::Unsupported;
	if (it->second.offer.peer_outside == peer)
		return AckStatus::Ok;
	if (!apply_plan(kernel_, plan_peer_moved(it->second, peer))) {
		counters_.kernel_failures++;
		return AckStatus::KernelFailed;
	}
	it->second.offer.peer_outside = peer;
	counters_.moves++;
	return AckStatus::Ok;
}

AckStatus ShortcutMember::on_teardown(uint32_t id)
{
	auto it = entries_.find(id);
	if (it == entries_.end())
		return AckStatus::UnknownShortcut;
	apply_plan(kernel_, plan_teardown(it->second)); // deletes cannot fail
	entries_.erase(it);
	counters_.teardowns++;
	return AckStatus::Ok;
}

Result<Done> ShortcutMember::reject_foreign(const std::string &from)
{
	counters_.rejected_forged++;
	return make_error(WireError::BadValue, "shortcut message on the IKE SA with " + from +
						       ", not on the one with the manager " + settings_.manager +
						       ": rejected");
}

Result<Done> ShortcutMember::receive(const std::string &from, ByteView message)
{
	if (from != settings_.manager) {
		counters_.rejected_forged++;
		return make_error(WireError::BadValue, "shortcut message from " + from + ", not from the manager " +
							       settings_.manager + ": rejected");
	}
	auto decoded = decode_shortcut_message(message);
	if (!decoded) {
		counters_.rejected_malformed++;
		return decoded.error();
	}
	const ShortcutMessage &m = decoded.value();
	if (!from_manager(m.type())) {
		counters_.rejected_forged++;
		return make_error(WireError::BadValue, std::string("shortcut message: a member's ") +
							       msg_type_name(m.type()) + " from the manager: rejected");
	}
	switch (guard_.check(m.epoch, m.sequence)) {
	case ReplayGuard::Verdict::Fresh:
		break;
	case ReplayGuard::Verdict::Replayed:
		counters_.rejected_replay++;
		return make_error(WireError::BadValue, "shortcut message: sequence " + std::to_string(m.sequence) +
							       " replayed (last " + std::to_string(guard_.last()) + ")");
	case ReplayGuard::Verdict::WrongEpoch:
		counters_.rejected_replay++;
		return make_error(WireError::BadValue, "shortcut message: epoch " + std::to_string(m.epoch) +
							       " is not the manager's current one");
	}
	guard_.accept(m.epoch, m.sequence);
	AckStatus status = AckStatus::Ok;
	switch (m.type()) {
	case MsgType::Offer:
		status = on_offer(m.shortcut_id, std::get<Offer>(m.body));
		break;
	case MsgType::Go:
		status = on_go(m.shortcut_id);
		break;
	case MsgType::PeerMoved:
		status = on_peer_moved(m.shortcut_id, std::get<PeerMoved>(m.body).peer_outside);
		break;
	case MsgType::Teardown:
		status = on_teardown(m.shortcut_id);
		break;
	case MsgType::Ack:
		break; // not reached: checked above
	}
	ack(m.shortcut_id, m.type(), status);
	return Done{};
}

bool ShortcutMember::local_address_changed(const Address &local)
{
	if (local == settings_.local_outside)
		return true;
	KernelPlan plan;
	for (const auto &[id, e] : entries_)
		plan.append(plan_local_moved(e, local));
	if (!apply_plan(kernel_, plan)) {
		counters_.kernel_failures++;
		return false;
	}
	settings_.local_outside = local;
	return true;
}

void ShortcutMember::teardown_all()
{
	for (const auto &[id, e] : entries_) {
		apply_plan(kernel_, plan_teardown(e));
		counters_.teardowns++;
	}
	entries_.clear();
}

std::vector<MemberShortcut> ShortcutMember::shortcuts() const
{
	std::vector<MemberShortcut> out;
	for (const auto &[id, e] : entries_)
		out.push_back(MemberShortcut{id, e.offer.peer_outside, e.offer.local_inside, e.offer.peer_inside,
					     e.offer.spi_in, e.offer.spi_out, e.outbound});
	return out;
}

} // namespace groupsec::gdoi::shortcut
