// SPDX-License-Identifier: GPL-2.0-or-later
// The IKE SAs of both roles and the plumbing they share: sealing, requests
// with retransmission, cached responses to retransmitted requests, the
// lifetime of half-open and unused SAs, RFC 7296 cookies. Internal to the
// core.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "../engine_context.h"
#include "../gikev2_message.h"
#include "ike_sa.h"

namespace groupsec::gdoi::detail {

// What the IKE SA table asks of the roles whose SAs it keeps.
class IkeSaUsers {
public:
	virtual ~IkeSaUsers() = default;
	// Member: a request on initiator SA sa went unanswered; sa goes after.
	virtual void request_failed(IkeSa &sa) = 0;
	// Member: the key server seems to have lost the authenticated
	// initiator SA sa (a retransmission went unanswered); the user
	// removes sa and registers afresh.
	virtual void peer_lost(IkeSa &sa) = 0;
	// Key server: responder SA spi is about to go.
	virtual void responder_removed(uint64_t spi) = 0;
	// Whether a registered member (key server) or a member group uses the SA.
	virtual bool responder_used(uint64_t spi) const = 0;
	virtual bool initiator_used(uint64_t spi) const = 0;
	// Key server: a registered member's SA spi is needed after its
	// registration (its group uses GSA_INBAND_REKEY).
	virtual bool responder_wanted(uint64_t spi) const = 0;
};

// The body of an INFORMATIONAL request that deletes the IKE SA it travels
// on (RFC 7296 3.11: protocol IKE, no SPI).
Payload ike_sa_delete_payload();
// Whether inner (an INFORMATIONAL request's payloads) deletes the IKE SA.
bool deletes_ike_sa(const std::vector<Payload> &inner);

// The data of each N(SHORTCUT) among inner (an INFORMATIONAL request's
// payloads), in order; notifies that do not decode are skipped.
std::vector<Bytes> shortcut_messages(const std::vector<Payload> &inner);

class IkeSas {
public:
	IkeSas(EngineContext &ctx, IkeSaUsers &users) : ctx_(ctx), users_(users) {}
	IkeSas(const IkeSas &) = delete;
	IkeSas &operator=(const IkeSas &) = delete;

	// --- the SAs
	// responder SAs (we answered IKE_SA_INIT), by our SPI; nullptr if none
	IkeSa *responder(uint64_t spi);
	// whether an IKE_SA_INIT from (spi_i, remote) made a responder SA
	bool init_known(uint64_t spi_i, const Address &remote) const;
	size_t responders() const { return responder_sas_.size(); }
	size_t half_open() const { return half_open_sas_; }
	// Half-open SAs at or above which IKE_SA_INIT needs a cookie.
	void set_cookie_threshold(size_t n) { cookie_threshold_ = n; }
	bool cookie_needed() const { return half_open_sas_ >= cookie_threshold_; }
	// initiator SAs (we sent IKE_SA_INIT), by our SPI; nullptr if none
	IkeSa *initiator(uint64_t spi);
	std::vector<IkeSa *> initiators();
	IkeSa &add_initiator_sa(std::unique_ptr<IkeSa> sa);
	void remove_initiator_sa(uint64_t spi);
	void add_responder_sa(std::unique_ptr<IkeSa> sa);
	void responder_authenticated(IkeSa &sa);
	void remove_responder_sa(uint64_t spi);
	// The responder SA an IKE_SA_INIT request retransmits, nullptr if none.
	IkeSa *responder_for_init(uint64_t spi_i, const Address &remote);
	// A new SPI, not used by any SA here.
	uint64_t random_spi();
	void log_ike_sa(const IkeSa &sa) const;

	// --- messages
	// Seals inner payloads in SK for sa (direction from sa.initiator): one
	// datagram, or its fragments where sa negotiated IKE fragmentation and
	// the message is larger than a fragment may be (RFC 7383).
	Result<std::vector<Bytes>> seal(IkeSa &sa, uint8_t exchange, uint32_t id, bool response,
					const std::vector<Payload> &inner);
	// The inner payloads of an SK message on sa, opened with keys; for a
	// fragment (SKF), nullopt until the fragment that completes the
	// message. An error (counted by the caller) if the message or
	// fragment does not open, or is a fragment where sa negotiated none.
	Result<std::optional<std::vector<Payload>>> open(IkeSa &sa, ByteView datagram, const IkeHeader &h,
							 const SkKeys &keys);
	// Moves responder SA sa to the address and port its latest
	// authenticated request came from (RFC 7296 2.23, behind a NAT).
	void move_responder(IkeSa &sa, const Address &local, const Address &remote);
	// The largest IKE message (UDP payload) sa sends unfragmented.
	size_t max_message(const IkeSa &sa) const;
	// Sends each datagram of a message.
	void send_all(Counters *c, const IkeSa &sa, const std::vector<Bytes> &datagrams);
	const FragmentLimits &fragment_limits() const { return fragment_limits_; }
	// Octets all IKE SAs hold in reassembly (tests).
	size_t reassembly_bytes() const { return reassembly_bytes_; }
	// Sends a request over sa and arms its retransmission.
	void send_request(IkeSa &sa, uint8_t exchange, const std::vector<Payload> &inner, const std::string &group);
	// Sends an INFORMATIONAL request over sa now if no request is
	// outstanding, else queues it (sent by flush_queued()). false if sa
	// is closing or kMaxQueuedShortcutMessages wait already.
	bool queue_informational(IkeSa &sa, std::vector<Payload> inner, const std::string &group);
	// Sends the next queued request of every SA with none outstanding.
	void flush_queued();
	// Sends an already encoded first request (IKE_SA_INIT, ID 0) and arms
	// its retransmission.
	void send_first_request(IkeSa &sa, uint8_t exchange, Bytes datagram, const std::string &group, Counters *c);
	void send_response(IkeSa &sa, uint32_t id, uint8_t exchange, const std::vector<Payload> &inner);
	// Closes sa (RFC 7296 1.4.1): an INFORMATIONAL request with
	// Delete(IKE); sa goes when it is answered or given up. Counted in
	// c. false if a request is outstanding on sa (try again later).
	bool close(IkeSa &sa, Counters *c);
	// The inner payloads of the peer's request on sa, opened with keys
	// (its direction); the peer's requests count from first_id. A
	// retransmission of the last request is answered from the cache, a
	// replayed, out-of-order or unreadable one is counted in c; one with
	// an unknown payload marked critical inside SK is answered with
	// N(UNSUPPORTED_CRITICAL_PAYLOAD) (RFC 7296 2.5); nullopt then, and
	// when nothing more is to be done.
	// A retransmission's answer goes to where it came from (RFC 7296
	// 2.11: from, if given, else sa.remote).
	std::optional<std::vector<Payload>> open_request(IkeSa &sa, ByteView datagram, const IkeHeader &h,
							 const SkKeys &keys, uint32_t first_id, Counters *c,
							 const Address *from = nullptr);

	// --- timers
	// Retransmissions, expiry of SAs, the cookie secret.
	void tick(uint64_t now_ms);
	// The earliest of next_ms and what tick() has to do next.
	uint64_t next_timeout(uint64_t next_ms) const;

	// --- RFC 7296 2.6 cookies: <secret version> | prf(secret, Ni | IPi | SPIi)
	void rotate_cookie_secret(uint64_t now_ms);
	Bytes make_cookie(ByteView ni, const Address &remote, uint64_t spi_i) const;
	bool cookie_valid(ByteView cookie, ByteView ni, const Address &remote, uint64_t spi_i) const;

	// Whether one more unprotected N(INVALID_IKE_SPI) answer may go out
	// now (rate limit); counts it if so.
	bool take_invalid_spi_answer(uint64_t now_ms);

private:
	friend struct gdoi::EngineProbe; // tests: the maps behind the counts

	void retransmit(uint64_t now_ms);
	// Half-open SAs time out, authenticated ones no member uses expire.
	void expire_responder_sas(uint64_t now_ms);
	// Initiator SAs that cannot be used any more (not authenticated, or
	// no member group's) and have no request outstanding.
	void expire_initiator_sas();

	EngineContext &ctx_;
	IkeSaUsers &users_;
	// what every IKE SA's Reassembly holds together (declared before the
	// SAs, which give their octets back when they go)
	size_t reassembly_bytes_ = 0;
	// IKE SAs where we answered IKE_SA_INIT, by our (responder) SPI; only
	// add_responder_sa(), responder_authenticated() and
	// remove_responder_sa() change them, which keep the two below
	std::map<uint64_t, std::unique_ptr<IkeSa>> responder_sas_;
	// the same SAs by the initiator's SPI and address (IKE_SA_INIT
	// retransmissions)
	std::map<std::pair<uint64_t, Address>, uint64_t> responder_by_init_;
	size_t half_open_sas_ = 0; // responder SAs not authenticated (yet)
	FragmentLimits fragment_limits_;
	size_t cookie_threshold_ = kDefaultCookieThreshold;
	// IKE SAs we started, by our (initiator) SPI
	std::map<uint64_t, std::unique_ptr<IkeSa>> initiator_sas_;
	// cookie secrets: the one of period cookie_epoch_ (counted from
	// cookie_start_ms_) and the one of the period before, if any
	std::optional<uint64_t> cookie_start_ms_;
	uint64_t cookie_epoch_ = 0;
	SecretBytes cookie_secret_, cookie_previous_;
	// N(INVALID_IKE_SPI) answers sent in the second starting at
	// invalid_spi_window_ms_ (rate limit)
	uint64_t invalid_spi_window_ms_ = 0;
	// some SA may hold queued requests (queue_informational())
	bool maybe_queued_ = false;
	unsigned invalid_spi_in_window_ = 0;
};

} // namespace groupsec::gdoi::detail
