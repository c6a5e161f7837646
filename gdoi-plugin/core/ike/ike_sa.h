// SPDX-License-Identifier: GPL-2.0-or-later
// An IKE SA of G-IKEv2 as both roles keep it: the key server as responder,
// the member as initiator. Internal to the core.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../gdoi_engine.h"
#include "ike_crypto.h"
#include "ike_fragments.h"

namespace groupsec::gdoi::detail {

constexpr uint64_t kRetransmitBaseMs = 2000;
constexpr unsigned kMaxTransmits = 5;
constexpr uint64_t kHalfOpenTimeoutMs = 30000;
// A responder IKE SA that no registered member uses (its member left or
// was removed, its group went away) is kept this long to answer
// retransmissions, then removed.
constexpr uint64_t kUnusedIkeSaTimeoutMs = 30000;
// RFC 9838 2.3.3: "By convention, the GCKS closes the IKE SA" once it has
// no further need for it, "after a short period of time". A registered
// member's IKE SA is closed (INFORMATIONAL with Delete) this long after
// the member was last heard on it, unless its group uses GSA_INBAND_REKEY
// or the member checks liveness over it.
constexpr uint64_t kCloseRegisteredIkeSaMs = 30000;
// RFC 7296 2.6: the cookie secret is replaced this often; cookies made
// with the previous secret are accepted for one more period.
constexpr uint64_t kCookieSecretPeriodMs = 300000;
constexpr size_t kCookieSecretBytes = 32;
// Unprotected N(INVALID_IKE_SPI) answers (RFC 7296 2.21.4) a key server
// sends per second at most, all peers together: a forged flood of
// requests gets no more than this out of it.
constexpr unsigned kInvalidSpiPerSecond = 20;
constexpr size_t kNonceBytes = 32;
constexpr size_t kDefaultCookieThreshold = 64;

struct IkeSa {
	bool initiator = false;
	uint64_t spi_i = 0, spi_r = 0;
	Address local, remote;
	uint16_t dh_group = 0;
	SkCipher cipher = SkCipher::AesGcm16;
	std::unique_ptr<ike::DhKey> dh;
	Bytes ni, nr, cookie;
	Bytes init_request, init_response; // the IKE_SA_INIT messages as sent
	ike::IkeKeys keys;
	// RFC 9838 KWA negotiated in IKE_SA_INIT; GSK_w has its key size
	uint16_t kwa = static_cast<uint16_t>(KeyWrapAlgorithm::Kw5649_256);
	SecretBytes gsk_w;
	bool keyed = false; // IKE_SA_INIT done
	bool authenticated = false; // GSA_AUTH done
	// both sides sent N(IKEV2_FRAGMENTATION_SUPPORTED) in IKE_SA_INIT
	// (RFC 7383 2.3): large SK messages travel as fragments
	bool fragmentation = false;
	// RFC 7296 2.23: NAT_DETECTION_* showed a NAT between the two (in
	// front of either side)
	bool nat = false;
	// the peer's fragments of the message being reassembled
	Reassembly reassembly;
	Identity own; // GM: IDi
	Identity peer; // GCKS: the member's IDi
	uint64_t created_ms = 0;
	// when the peer last sent something authenticated on this SA
	uint64_t last_heard_ms = 0;
	// we sent (or are about to send) a Delete of this SA: no new exchange
	// starts on it, it goes once the Delete is answered or given up
	bool closing = false;
	// GCKS: the member checks liveness over this SA, so it wants it kept
	bool peer_checks_liveness = false;
	// GCKS: authenticated, but no registered member's IKE SA since then
	std::optional<uint64_t> unused_since_ms;
	uint64_t iv_counter = 0;
	// the request this side has outstanding
	struct Pending {
		uint32_t id = 0;
		uint8_t exchange = 0;
		std::vector<Bytes> datagrams; // one, or its fragments
		uint64_t next_ms = 0;
		unsigned transmits = 0;
		std::string group;
	};
	std::optional<Pending> pending;
	// INFORMATIONAL requests waiting for the window of one (RFC 7296
	// 2.3): shortcut SA messages, sent in order as each is answered
	struct Queued {
		std::vector<Payload> inner;
		std::string group;
	};
	std::deque<Queued> queued;
	uint32_t next_request_id = 0;
	// the last request the peer sent and our answer
	std::optional<uint32_t> last_peer_request;
	std::vector<Bytes> last_response; // one datagram, or its fragments
	std::string group; // the group the last exchange was for (counters)
};

} // namespace groupsec::gdoi::detail
