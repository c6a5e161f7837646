// SPDX-License-Identifier: GPL-2.0-or-later
// The IKE SA plumbing both roles share: sealing, requests, retransmission,
// cached responses, SA lifetimes, cookies.
#include "ike_sas.h"

#include <algorithm>

#include "../gikev2_sk.h"
#include "../gikev2_wire.h"

namespace groupsec::gdoi::detail {

Payload ike_sa_delete_payload()
{
	DeletePayload d;
	d.protocol = static_cast<uint8_t>(SecurityProtocol::Ike);
	return make_payload(PayloadType::Delete, encode_delete(d).value());
}

bool deletes_ike_sa(const std::vector<Payload> &inner)
{
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Delete))
			continue;
		auto d = decode_delete(p.body);
		if (d && d.value().protocol == static_cast<uint8_t>(SecurityProtocol::Ike))
			return true;
	}
	return false;
}

uint64_t IkeSas::random_spi()
{
	for (;;) {
		Bytes b = ctx_.random(8);
		uint64_t v = 0;
		for (uint8_t x : b)
			v = v << 8 | x;
		if (v != 0 && !responder_sas_.count(v) && !initiator_sas_.count(v))
			return v;
	}
}

Result<std::vector<Bytes>> IkeSas::seal(IkeSa &sa, uint8_t exchange, uint32_t id, bool response,
					const std::vector<Payload> &inner)
{
	IkeHeader h;
	h.initiator_spi = sa.spi_i;
	h.responder_spi = sa.spi_r;
	h.exchange_type = exchange;
	h.flags = static_cast<uint8_t>((sa.initiator ? kFlagInitiator : 0) | (response ? kFlagResponse : 0));
	h.message_id = id;
	const SkKeys &k = sa.initiator ? sa.keys.initiator : sa.keys.responder;
	auto next_iv = [&]() {
		Bytes iv;
		if (k.cipher == SkCipher::AesGcm16)
			wire::put_u64(iv, ++sa.iv_counter);
		else
			iv = ctx_.random(sk_iv_size(k.cipher));
		return iv;
	};
	auto whole = seal_message(h, {}, inner, k, next_iv());
	if (!whole)
		return whole.error();
	// RFC 7383 2.5: "Only messages that contain an Encrypted payload are
	// subject to IKE fragmentation", and only where both sides said so
	if (!sa.fragmentation || whole.value().size() <= max_message(sa))
		return std::vector<Bytes>{std::move(whole).value()};
	return seal_fragments(h, inner, k, max_message(sa), next_iv);
}

size_t IkeSas::max_message(const IkeSa &sa) const
{
	const bool v6 = sa.remote.ip.size() == 16;
	// RFC 7383 2.5.1 suggests IP datagrams of 1280 octets over IPv6 and
	// 576 over IPv4 where nothing better is known
	size_t ip = ctx_.transport.fragment_size ? ctx_.transport.fragment_size : (v6 ? 1280 : 576);
	size_t overhead = (v6 ? 40 : 20) + 8 + (ctx_.nat_t(sa.local) ? 4 : 0);
	return ip > overhead ? ip - overhead : 0;
}

void IkeSas::send_all(Counters *c, const IkeSa &sa, const std::vector<Bytes> &datagrams)
{
	for (const Bytes &d : datagrams)
		ctx_.send(c, sa.local, sa.remote, d);
}

Result<std::optional<std::vector<Payload>>> IkeSas::open(IkeSa &sa, ByteView datagram, const IkeHeader &h,
							 const SkKeys &keys)
{
	if (!is_fragment_message(datagram)) {
		auto opened = open_message(datagram, keys);
		if (!opened)
			return opened.error();
		return std::optional<std::vector<Payload>>(std::move(opened).value().inner);
	}
	if (!sa.fragmentation)
		return make_error(WireError::Unsupported, "IKE fragment on an IKE SA without IKE fragmentation");
	// RFC 7383 2.6: each fragment's ICV is checked as it comes, so only
	// the peer can fill the reassembly
	auto f = open_fragment(datagram, keys);
	if (!f)
		return f.error();
	switch (sa.reassembly.add(f.value(), (h.flags & kFlagResponse) != 0, ctx_.now(), fragment_limits_)) {
	case Reassembly::Step::Complete: {
		auto inner = sa.reassembly.take();
		if (!inner)
			return inner.error();
		return std::optional<std::vector<Payload>>(std::move(inner).value());
	}
	case Reassembly::Step::Refused:
		return make_error(WireError::BadLength, "IKE fragments over the reassembly limits");
	case Reassembly::Step::Stored:
	case Reassembly::Step::Ignored:
		break;
	}
	return std::optional<std::vector<Payload>>();
}

void IkeSas::move_responder(IkeSa &sa, const Address &local, const Address &remote)
{
	if (sa.remote == remote && sa.local == local)
		return;
	auto init = responder_by_init_.find({sa.spi_i, sa.remote});
	if (init != responder_by_init_.end() && init->second == sa.spi_r) {
		responder_by_init_.erase(init);
		responder_by_init_[{sa.spi_i, remote}] = sa.spi_r;
	}
	sa.local = local;
	sa.remote = remote;
}

void IkeSas::send_request(IkeSa &sa, uint8_t exchange, const std::vector<Payload> &inner,
				const std::string &group)
{
	uint32_t id = sa.next_request_id++;
	auto d = seal(sa, exchange, id, false, inner);
	if (!d)
		return;
	IkeSa::Pending p;
	p.id = id;
	p.exchange = exchange;
	p.datagrams = std::move(d).value();
	p.next_ms = ctx_.now() + kRetransmitBaseMs;
	p.transmits = 1;
	p.group = group;
	sa.group = group;
	send_all(ctx_.counters->counters_for(group), sa, p.datagrams);
	sa.pending = std::move(p);
}

std::optional<std::vector<Payload>> IkeSas::open_request(IkeSa &sa, ByteView datagram, const IkeHeader &h,
								 const SkKeys &keys, uint32_t first_id, Counters *c,
								 const Address *from)
{
	auto count = [&](uint64_t Counters::*field) {
		if (c)
			(c->*field)++;
	};
	uint32_t expected = sa.last_peer_request ? *sa.last_peer_request + 1 : first_id;
	bool again = sa.last_peer_request && h.message_id == *sa.last_peer_request && h.message_id >= first_id;
	if (!again && h.message_id != expected) {
		count(h.message_id < expected ? &Counters::dropped_replay : &Counters::dropped_malformed);
		return std::nullopt;
	}
	auto fail = [&](const Error &e) {
		count(e.code == WireError::IntegrityFailed ? &Counters::dropped_auth : &Counters::dropped_malformed);
		return std::nullopt;
	};
	if (again) {
		// RFC 7383 2.6.1: a retransmitted request in fragments "MUST
		// only trigger a retransmission of the response message
		// (fragmented or not) if the Fragment Number field in the
		// received fragments is set to 1; otherwise, it MUST be ignored"
		bool first = true;
		if (is_fragment_message(datagram)) {
			if (!sa.fragmentation)
				return fail(make_error(WireError::Unsupported, "IKE fragment"));
			auto f = open_fragment(datagram, keys);
			if (!f)
				return fail(f.error());
			first = f.value().number == 1;
		} else if (auto opened = open_message(datagram, keys);
			   !opened && !(unsupported_critical_type(opened.error()) && decode_message(datagram))) {
			// (a request we answered with UNSUPPORTED_CRITICAL_PAYLOAD
			// gets that answer again)
			return fail(opened.error());
		}
		if (first && from && !(*from == sa.remote)) {
			// a member that moved retransmits its last request from
			// its new address before the key server follows it
			for (const Bytes &d : sa.last_response)
				ctx_.send(c, sa.local, *from, d);
		} else if (first) {
			send_all(c, sa, sa.last_response);
		}
		return std::nullopt;
	}
	auto opened = open(sa, datagram, h, keys);
	if (!opened) {
		// RFC 7296 2.5: "the response to the IKE request containing that
		// payload MUST include a Notify payload
		// UNSUPPORTED_CRITICAL_PAYLOAD" whose data is "the one-octet
		// payload type". Only for a payload inside SK, which the ICV
		// vouched for; outside SK nothing was checked.
		auto type = unsupported_critical_type(opened.error());
		if (type && decode_message(datagram)) {
			NotifyPayload n;
			n.type = static_cast<uint16_t>(NotifyType::UnsupportedCriticalPayload);
			n.data = Bytes{*type};
			sa.last_heard_ms = ctx_.now();
			send_response(sa, h.message_id, h.exchange_type,
				      {make_payload(PayloadType::Notify, encode_notify(n).value())});
			count(&Counters::unsupported_critical);
			return std::nullopt;
		}
		return fail(opened.error());
	}
	sa.last_heard_ms = ctx_.now();
	return std::move(opened).value();
}

void IkeSas::send_first_request(IkeSa &sa, uint8_t exchange, Bytes datagram, const std::string &group,
				Counters *c)
{
	IkeSa::Pending p;
	p.id = 0;
	p.exchange = exchange;
	p.datagrams = {std::move(datagram)};
	p.next_ms = ctx_.now() + kRetransmitBaseMs;
	p.transmits = 1;
	p.group = group;
	sa.group = group;
	sa.next_request_id = 1;
	send_all(c, sa, p.datagrams);
	sa.pending = std::move(p);
}

std::vector<Bytes> shortcut_messages(const std::vector<Payload> &inner)
{
	std::vector<Bytes> out;
	for (const Payload &p : inner) {
		if (p.type != static_cast<uint8_t>(PayloadType::Notify))
			continue;
		auto n = decode_notify(p.body);
		if (n && n.value().type == static_cast<uint16_t>(NotifyType::Shortcut) && n.value().protocol == 0 &&
		    n.value().spi.empty())
			out.push_back(std::move(n.value().data));
	}
	return out;
}

bool IkeSas::queue_informational(IkeSa &sa, std::vector<Payload> inner, const std::string &group)
{
	if (sa.closing || !sa.authenticated || sa.queued.size() >= kMaxQueuedShortcutMessages)
		return false;
	if (!sa.pending && sa.queued.empty()) {
		send_request(sa, static_cast<uint8_t>(ExchangeType::Informational), inner, group);
		return true;
	}
	sa.queued.push_back(IkeSa::Queued{std::move(inner), group});
	maybe_queued_ = true;
	return true;
}

void IkeSas::flush_queued()
{
	// (called after every datagram: a walk of the SAs only while some
	// SA may hold a queued request)
	if (!maybe_queued_)
		return;
	bool left = false;
	for (auto *map : {&initiator_sas_, &responder_sas_}) {
		for (auto &[spi, sa] : *map) {
			if (sa->queued.empty())
				continue;
			if (!sa->pending && !sa->closing) {
				IkeSa::Queued q = std::move(sa->queued.front());
				sa->queued.pop_front();
				send_request(*sa, static_cast<uint8_t>(ExchangeType::Informational), q.inner, q.group);
			}
			left = left || !sa->queued.empty();
		}
	}
	maybe_queued_ = left;
}

void IkeSas::send_response(IkeSa &sa, uint32_t id, uint8_t exchange, const std::vector<Payload> &inner)
{
	auto d = seal(sa, exchange, id, true, inner);
	if (!d)
		return;
	sa.last_peer_request = id;
	sa.last_response = std::move(d).value();
	send_all(ctx_.counters->counters_for(sa.group), sa, sa.last_response);
}

bool IkeSas::close(IkeSa &sa, Counters *c)
{
	if (sa.pending)
		return false;
	sa.closing = true;
	send_request(sa, static_cast<uint8_t>(ExchangeType::Informational), {ike_sa_delete_payload()}, sa.group);
	if (c)
		c->ike_deletes_sent++;
	return true;
}

void IkeSas::retransmit(uint64_t now_ms)
{
	std::vector<IkeSa *> failed, start_over;
	for (auto *map : {&initiator_sas_, &responder_sas_}) {
		for (auto &[spi, sa] : *map) {
			if (!sa->pending || sa->pending->next_ms > now_ms)
				continue;
			// a request on an IKE SA the key server may have lost (it
			// restarted): after one unanswered retransmission the
			// member registers afresh rather than waiting out the rest
			if (sa->initiator && sa->authenticated && !sa->closing && sa->pending->transmits >= 2) {
				start_over.push_back(sa.get());
				continue;
			}
			if (sa->pending->transmits >= kMaxTransmits) {
				failed.push_back(sa.get());
				continue;
			}
			sa->pending->transmits++;
			sa->pending->next_ms = now_ms + (kRetransmitBaseMs << (sa->pending->transmits - 1));
			send_all(ctx_.counters->counters_for(sa->pending->group), *sa, sa->pending->datagrams);
		}
	}
	for (IkeSa *sa : failed) {
		if (sa->initiator) {
			if (!sa->closing)
				users_.request_failed(*sa);
			initiator_sas_.erase(sa->spi_i);
		} else {
			// a member that does not answer GSA_INBAND_REKEY loses its
			// IKE SA and falls back to GSA_REKEY
			remove_responder_sa(sa->spi_r);
		}
	}
	std::vector<uint64_t> over;
	for (IkeSa *sa : start_over)
		over.push_back(sa->spi_i);
	for (uint64_t spi : over) {
		auto it = initiator_sas_.find(spi);
		if (it != initiator_sas_.end())
			users_.peer_lost(*it->second);
	}
}

void IkeSas::tick(uint64_t now_ms)
{
	for (auto *map : {&initiator_sas_, &responder_sas_})
		for (auto &[spi, sa] : *map)
			sa->reassembly.expire(now_ms, fragment_limits_);
	retransmit(now_ms);
	expire_responder_sas(now_ms);
	expire_initiator_sas();
	if (cookie_start_ms_)
		rotate_cookie_secret(now_ms);
}

uint64_t IkeSas::next_timeout(uint64_t next) const
{
	for (auto *map : {&initiator_sas_, &responder_sas_})
		for (auto &[spi, sa] : *map) {
			if (sa->pending)
				next = std::min(next, sa->pending->next_ms);
			if (!sa->initiator && !sa->authenticated)
				next = std::min(next, sa->created_ms + kHalfOpenTimeoutMs);
			if (!sa->initiator && sa->unused_since_ms)
				next = std::min(next, *sa->unused_since_ms + kUnusedIkeSaTimeoutMs);
			if (auto d = sa->reassembly.deadline(fragment_limits_))
				next = std::min(next, *d);
			// (a time already past: the SA is wanted, or goes at the
			// next tick anyway)
			if (!sa->initiator && sa->authenticated && !sa->closing && !sa->peer_checks_liveness &&
			    sa->last_heard_ms + kCloseRegisteredIkeSaMs > ctx_.now())
				next = std::min(next, sa->last_heard_ms + kCloseRegisteredIkeSaMs);
		}
	return next;
}

void IkeSas::add_responder_sa(std::unique_ptr<IkeSa> sa)
{
	const uint64_t spi = sa->spi_r;
	sa->reassembly.attach(&reassembly_bytes_);
	responder_by_init_[{sa->spi_i, sa->remote}] = spi;
	if (!sa->authenticated)
		half_open_sas_++;
	responder_sas_[spi] = std::move(sa);
}

void IkeSas::responder_authenticated(IkeSa &sa)
{
	if (sa.authenticated)
		return;
	sa.authenticated = true;
	half_open_sas_--;
}

IkeSa *IkeSas::responder(uint64_t spi)
{
	auto it = responder_sas_.find(spi);
	return it == responder_sas_.end() ? nullptr : it->second.get();
}

bool IkeSas::init_known(uint64_t spi_i, const Address &remote) const
{
	return responder_by_init_.count({spi_i, remote}) > 0;
}

IkeSa *IkeSas::initiator(uint64_t spi)
{
	auto it = initiator_sas_.find(spi);
	return it == initiator_sas_.end() ? nullptr : it->second.get();
}

std::vector<IkeSa *> IkeSas::initiators()
{
	std::vector<IkeSa *> out;
	for (auto &[spi, sa] : initiator_sas_)
		out.push_back(sa.get());
	return out;
}

IkeSa &IkeSas::add_initiator_sa(std::unique_ptr<IkeSa> sa)
{
	IkeSa &ref = *sa;
	sa->reassembly.attach(&reassembly_bytes_);
	initiator_sas_[sa->spi_i] = std::move(sa);
	return ref;
}

void IkeSas::remove_initiator_sa(uint64_t spi)
{
	initiator_sas_.erase(spi);
}

IkeSa *IkeSas::responder_for_init(uint64_t spi_i, const Address &remote)
{
	auto known = responder_by_init_.find({spi_i, remote});
	if (known == responder_by_init_.end())
		return nullptr;
	auto sa = responder_sas_.find(known->second);
	return sa == responder_sas_.end() ? nullptr : sa->second.get();
}

void IkeSas::log_ike_sa(const IkeSa &sa) const
{
	if (ctx_.deps.keylog)
		ctx_.deps.keylog->ike_sa(sa.spi_i, sa.spi_r, sa.keys.initiator, sa.keys.responder);
}

bool IkeSas::take_invalid_spi_answer(uint64_t t)
{
	if (t >= invalid_spi_window_ms_ + 1000 || t < invalid_spi_window_ms_) {
		invalid_spi_window_ms_ = t;
		invalid_spi_in_window_ = 0;
	}
	if (invalid_spi_in_window_ >= kInvalidSpiPerSecond)
		return false;
	invalid_spi_in_window_++;
	return true;
}

void IkeSas::remove_responder_sa(uint64_t spi)
{
	users_.responder_removed(spi);
	auto it = responder_sas_.find(spi);
	if (it == responder_sas_.end())
		return;
	auto init = responder_by_init_.find({it->second->spi_i, it->second->remote});
	if (init != responder_by_init_.end() && init->second == spi)
		responder_by_init_.erase(init);
	if (!it->second->authenticated)
		half_open_sas_--;
	responder_sas_.erase(it);
}

void IkeSas::expire_responder_sas(uint64_t t)
{
	std::vector<uint64_t> gone;
	std::vector<IkeSa *> done;
	for (auto &[spi, sa] : responder_sas_) {
		if (!sa->authenticated) {
			if (t >= sa->created_ms + kHalfOpenTimeoutMs)
				gone.push_back(spi);
		} else if (sa->pending || sa->closing) {
			sa->unused_since_ms.reset();
		} else if (users_.responder_used(spi)) {
			sa->unused_since_ms.reset();
			// RFC 9838 2.3.3: "the GCKS SHOULD close the IKE SA to
			// save resources" when it has no further need for it
			if (!users_.responder_wanted(spi) && !sa->peer_checks_liveness &&
			    t >= sa->last_heard_ms + kCloseRegisteredIkeSaMs)
				done.push_back(sa.get());
		} else if (!sa->unused_since_ms) {
			sa->unused_since_ms = t;
		} else if (t >= *sa->unused_since_ms + kUnusedIkeSaTimeoutMs) {
			// kept to answer retransmissions; closed now
			done.push_back(sa.get());
		}
	}
	for (uint64_t spi : gone)
		remove_responder_sa(spi);
	for (IkeSa *sa : done)
		close(*sa, ctx_.counters->counters_for(sa->group));
}

void IkeSas::expire_initiator_sas()
{
	for (auto it = initiator_sas_.begin(); it != initiator_sas_.end();) {
		const IkeSa &sa = *it->second;
		if (!sa.pending && (!sa.authenticated || !users_.initiator_used(sa.spi_i)))
			it = initiator_sas_.erase(it);
		else
			++it;
	}
}

void IkeSas::rotate_cookie_secret(uint64_t t)
{
	if (!cookie_start_ms_) {
		cookie_start_ms_ = t;
		cookie_epoch_ = 0;
		cookie_secret_ = ctx_.random(kCookieSecretBytes);
		cookie_previous_.clear();
		return;
	}
	const uint64_t epoch = t > *cookie_start_ms_ ? (t - *cookie_start_ms_) / kCookieSecretPeriodMs : 0;
	if (epoch <= cookie_epoch_)
		return;
	if (epoch == cookie_epoch_ + 1)
		cookie_previous_ = std::move(cookie_secret_);
	else
		cookie_previous_.clear(); // two periods or more without a cookie
	cookie_secret_ = ctx_.random(kCookieSecretBytes);
	cookie_epoch_ = epoch;
}

namespace {

Bytes cookie_with(ByteView secret, uint8_t version, ByteView ni, const Address &remote, uint64_t spi_i)
{
	Bytes in = ni.to_bytes();
	wire::put_bytes(in, remote.ip);
	wire::put_u64(in, spi_i);
	Bytes cookie{version};
	wire::put_bytes(cookie, ike::prf(secret, in));
	return cookie;
}

} // namespace

Bytes IkeSas::make_cookie(ByteView ni, const Address &remote, uint64_t spi_i) const
{
	return cookie_with(cookie_secret_, static_cast<uint8_t>(cookie_epoch_), ni, remote, spi_i);
}

bool IkeSas::cookie_valid(ByteView cookie, ByteView ni, const Address &remote, uint64_t spi_i) const
{
	if (cookie.empty() || cookie_secret_.empty())
		return false;
	const uint8_t version = cookie[0];
	if (version == static_cast<uint8_t>(cookie_epoch_))
		return ike::equal(cookie, cookie_with(cookie_secret_, version, ni, remote, spi_i));
	if (!cookie_previous_.empty() && version == static_cast<uint8_t>(cookie_epoch_ - 1))
		return ike::equal(cookie, cookie_with(cookie_previous_, version, ni, remote, spi_i));
	return false;
}

} // namespace groupsec::gdoi::detail
