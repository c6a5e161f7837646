// SPDX-License-Identifier: GPL-2.0-or-later
// The C interface of sealed routes (gsa_seal.h) over the C++ cores
// (gsa_community.h, gsa_seal_codec.h, gsa_keyring.h). No exception leaves
// it; every failure changes nothing.
#include "gsa_seal.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>

#include <openssl/crypto.h>

#include "groupsec/crypto/aead.h"
#include "groupsec/crypto/random.h"
#include "gsa_community.h"
#include "gsa_keyring.h"
#include "gsa_seal_codec.h"

using groupsec::ByteView;
using groupsec::Bytes;
using namespace groupsec::bgp;

namespace {

static_assert(static_cast<int>(SealStatus::Internal) == GSA_SEAL_ERR_INTERNAL, "status values match");
static_assert(static_cast<int>(SealStatus::NotFound) == GSA_SEAL_ERR_NOT_FOUND, "status values match");
static_assert(kSealDefaultCode == GSA_SEAL_ATTR_DEFAULT_CODE && kSealAttrFlags == GSA_SEAL_ATTR_FLAGS,
	      "code points match");

void set_err(char *err, size_t errlen, const std::string &msg)
{
	if (!err || !errlen)
		return;
	size_t n = std::min(msg.size(), errlen - 1);
	memcpy(err, msg.data(), n);
	err[n] = '\0';
}

int fail(char *err, size_t errlen, const SealError &e)
{
	set_err(err, errlen, e.message);
	return static_cast<int>(e.code);
}

int fail(char *err, size_t errlen, int code, const std::string &msg)
{
	set_err(err, errlen, msg);
	return code;
}

class CallbackClock : public groupsec::crypto::Clock {
public:
	CallbackClock(gsa_clock_fn fn, void *ctx) : fn_(fn), ctx_(ctx) {}
	uint64_t now_ms() const override { return fn_ ? fn_(ctx_) : mono_.now_ms(); }

private:
	gsa_clock_fn fn_;
	void *ctx_;
	groupsec::crypto::MonotonicClock mono_;
};

bool address_in(const gsa_addr *a, Bytes &out)
{
	if (!a || (a->family != 4 && a->family != 6))
		return false;
	out.assign(a->addr, a->addr + (a->family == 4 ? 4 : 16));
	return true;
}

void address_out(const Bytes &in, gsa_addr &a)
{
	memset(&a, 0, sizeof(a));
	a.family = in.size() == 4 ? 4 : 6;
	memcpy(a.addr, in.data(), std::min(in.size(), sizeof(a.addr)));
}

// a copy the caller frees with free()
int copy_out(const Bytes &b, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
	uint8_t *p = static_cast<uint8_t *>(malloc(b.empty() ? 1 : b.size()));
	if (!p)
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	if (!b.empty())
		memcpy(p, b.data(), b.size());
	*out = p;
	*out_len = b.size();
	return GSA_SEAL_OK;
}

} // namespace

struct gsa_keyring {
	gsa_keyring(uint32_t grace_secs, gsa_clock_fn fn, void *ctx)
		: clock(fn, ctx), ring(clock, static_cast<uint64_t>(grace_secs) * 1000)
	{
		// bgpd makes its keyring when the module loads: the ciphers are
		// fetched then, not when the first sealed route arrives
		groupsec::crypto::prepare_ciphers();
	}
	CallbackClock clock;
	groupsec::crypto::OpenSslRandom random;
	Keyring ring;
};

extern "C" {

const char *gsa_seal_status_name(int status)
{
	if (status < GSA_SEAL_OK || status > GSA_SEAL_ERR_INTERNAL)
		return "unknown";
	return seal_status_name(static_cast<SealStatus>(status));
}

int gsa_community_encode(uint16_t asn, uint32_t group, uint8_t out[GSA_COMMUNITY_BYTES])
{
	if (!out)
		return GSA_SEAL_ERR_INVALID;
	auto c = encode_group_tag(GroupTag{asn, group});
	memcpy(out, c.data(), c.size());
	return GSA_SEAL_OK;
}

int gsa_community_decode(const uint8_t in[GSA_COMMUNITY_BYTES], uint16_t *asn, uint32_t *group)
{
	if (!in)
		return GSA_SEAL_ERR_INVALID;
	auto t = decode_group_tag(ByteView(in, GSA_COMMUNITY_BYTES));
	if (!t.ok())
		return GSA_SEAL_ERR_MALFORMED;
	if (asn)
		*asn = t.value().asn;
	if (group)
		*group = t.value().group;
	return GSA_SEAL_OK;
}

int gsa_community_text(uint16_t asn, uint32_t group, char *buf, size_t len)
{
	if (!buf || !len)
		return GSA_SEAL_ERR_INVALID;
	try {
		std::string s = group_tag_text(GroupTag{asn, group});
		if (s.size() >= len)
			return GSA_SEAL_ERR_INVALID;
		memcpy(buf, s.c_str(), s.size() + 1);
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return GSA_SEAL_ERR_INTERNAL;
	}
}

int gsa_community_parse(const char *text, uint16_t *asn, uint32_t *group, char *err, size_t errlen)
{
	if (!text)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "no text");
	try {
		auto t = parse_group_tag(text);
		if (!t.ok())
			return fail(err, errlen, GSA_SEAL_ERR_INVALID, t.error().message);
		if (asn)
			*asn = t.value().asn;
		if (group)
			*group = t.value().group;
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

int gsa_group_id_parse(const char *text, uint32_t *group, char *err, size_t errlen)
{
	if (!text)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "no text");
	try {
		auto n = parse_group_number(text);
		if (!n.ok())
			return fail(err, errlen, GSA_SEAL_ERR_INVALID, n.error().message);
		if (group)
			*group = n.value();
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

gsa_keyring_t *gsa_keyring_create(uint32_t grace_secs, gsa_clock_fn clock, void *clock_ctx)
{
	return new (std::nothrow) gsa_keyring(grace_secs, clock, clock_ctx);
}

void gsa_keyring_destroy(gsa_keyring_t *kr)
{
	delete kr;
}

void gsa_keyring_set_grace(gsa_keyring_t *kr, uint32_t grace_secs)
{
	if (kr)
		kr->ring.set_grace_ms(static_cast<uint64_t>(grace_secs) * 1000);
}

uint32_t gsa_keyring_grace(const gsa_keyring_t *kr)
{
	return kr ? static_cast<uint32_t>(kr->ring.grace_ms() / 1000) : 0;
}

uint64_t gsa_keyring_opening_version(const gsa_keyring_t *kr)
{
	return kr ? kr->ring.opening_version() : 0;
}

int gsa_keyring_update(gsa_keyring_t *kr, uint32_t group, uint32_t epoch, const uint8_t *key, size_t key_len,
		       int *changed, char *err, size_t errlen)
{
	if (!kr || (!key && key_len))
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "no keyring or key");
	auto r = kr->ring.update(group, epoch, ByteView(key, key_len));
	if (!r.ok())
		return fail(err, errlen, r.error());
	if (changed)
		*changed = r.value() ? 1 : 0;
	return GSA_SEAL_OK;
}

void gsa_keyring_remove(gsa_keyring_t *kr, uint32_t group)
{
	if (kr)
		kr->ring.remove(group);
}

int gsa_keyring_epoch(const gsa_keyring_t *kr, uint32_t group, uint32_t *epoch)
{
	if (!kr)
		return GSA_SEAL_ERR_INVALID;
	auto e = kr->ring.epoch(group);
	if (!e)
		return GSA_SEAL_ERR_UNKNOWN_GROUP;
	if (epoch)
		*epoch = *e;
	return GSA_SEAL_OK;
}

int gsa_keyring_previous(const gsa_keyring_t *kr, uint32_t group, uint32_t *epoch, uint32_t *grace_left_secs)
{
	if (!kr)
		return GSA_SEAL_ERR_INVALID;
	auto p = kr->ring.previous(group);
	if (!p)
		return GSA_SEAL_ERR_NOT_FOUND;
	if (epoch)
		*epoch = p->epoch;
	if (grace_left_secs)
		*grace_left_secs = static_cast<uint32_t>((p->grace_left_ms + 999) / 1000);
	return GSA_SEAL_OK;
}

int gsa_keyring_note_sealed(gsa_keyring_t *kr, uint64_t route_id, uint32_t group, uint32_t epoch)
{
	if (!kr)
		return GSA_SEAL_ERR_INVALID;
	try {
		kr->ring.note_sealed(route_id, group, epoch);
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return GSA_SEAL_ERR_INTERNAL;
	}
}

void gsa_keyring_forget(gsa_keyring_t *kr, uint64_t route_id)
{
	if (kr)
		kr->ring.forget(route_id);
}

size_t gsa_keyring_stale(const gsa_keyring_t *kr, uint32_t group, uint64_t *ids, size_t max)
{
	if (!kr)
		return 0;
	try {
		std::vector<uint64_t> s = kr->ring.stale(group);
		for (size_t i = 0; ids && i < s.size() && i < max; i++)
			ids[i] = s[i];
		return s.size();
	} catch (const std::exception &) {
		return 0;
	}
}

int gsa_seal(gsa_keyring_t *kr, uint32_t group, const struct gsa_addr *originator, const struct gsa_addr *gateway,
	     const struct gsa_prefix *prefixes, size_t count, uint8_t **out, size_t *out_len, uint32_t *epoch,
	     char *err, size_t errlen)
{
	if (!kr || !out || !out_len || (!prefixes && count))
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "seal: missing argument");
	try {
		Bytes orig;
		SealedRoutes routes;
		if (!address_in(originator, orig))
			return fail(err, errlen, GSA_SEAL_ERR_INVALID, "seal: the originator is not IPv4 or IPv6");
		if (!address_in(gateway, routes.gateway))
			return fail(err, errlen, GSA_SEAL_ERR_INVALID, "seal: the gateway is not IPv4 or IPv6");
		for (size_t i = 0; i < count; i++) {
			const gsa_prefix &p = prefixes[i];
			if (p.family != 4 && p.family != 6)
				return fail(err, errlen, GSA_SEAL_ERR_INVALID,
					    "seal: prefix " + std::to_string(i) + " has family " +
						    std::to_string(p.family) + ", not 4 or 6");
			SealPrefix sp;
			sp.addr.assign(p.addr, p.addr + (p.family == 4 ? 4 : 16));
			sp.len = p.len;
			routes.prefixes.push_back(std::move(sp));
		}
		uint32_t used = 0;
		auto blob = kr->ring.seal(group, orig, routes, kr->random, &used);
		if (!blob.ok())
			return fail(err, errlen, blob.error());
		int rc = copy_out(blob.value(), out, out_len, err, errlen);
		if (rc == GSA_SEAL_OK && epoch)
			*epoch = used;
		return rc;
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

// What an opened entry said, into *out (zeroed before); false when out of
// memory (*out stays zeroed).
static bool opened_out(const Keyring::Opened &v, gsa_opened *out)
{
	const std::vector<SealPrefix> &ps = v.routes.prefixes;
	auto *list = static_cast<gsa_prefix *>(calloc(ps.size(), sizeof(gsa_prefix)));
	if (!list)
		return false;
	for (size_t i = 0; i < ps.size(); i++) {
		list[i].family = ps[i].addr.size() == 4 ? 4 : 6;
		list[i].len = ps[i].len;
		memcpy(list[i].addr, ps[i].addr.data(), ps[i].addr.size());
	}
	out->group = v.group;
	out->epoch = v.epoch;
	out->previous_epoch = v.previous ? 1 : 0;
	address_out(v.originator, out->originator);
	address_out(v.routes.gateway, out->gateway);
	out->prefixes = list;
	out->count = ps.size();
	return true;
}

int gsa_open(const gsa_keyring_t *kr, const uint8_t *value, size_t len, struct gsa_opened *out, char *err,
	     size_t errlen)
{
	if (!out)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "open: missing argument");
	memset(out, 0, sizeof(*out));
	if (!kr || (!value && len))
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "open: missing argument");
	try {
		auto o = kr->ring.open(ByteView(value, len));
		if (!o.ok())
			return fail(err, errlen, o.error());
		if (!opened_out(o.value(), out))
			return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		gsa_opened_free(out);
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

int gsa_seal_list(const uint8_t *const *entries, const size_t *lens, size_t n, uint8_t **out, size_t *out_len,
		  char *err, size_t errlen)
{
	if (!out || !out_len || (n && (!entries || !lens)))
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "seal list: missing argument");
	try {
		std::vector<Bytes> list;
		for (size_t i = 0; i < n; i++) {
			if (!entries[i] && lens[i])
				return fail(err, errlen, GSA_SEAL_ERR_INVALID, "seal list: missing entry");
			list.emplace_back(entries[i], entries[i] + lens[i]);
		}
		auto v = encode_sealed_list(list);
		if (!v.ok())
			return fail(err, errlen, v.error());
		return copy_out(v.value(), out, out_len, err, errlen);
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

int gsa_open_list(const gsa_keyring_t *kr, const uint8_t *value, size_t len, struct gsa_opened_entry **entries,
		  size_t *n, char *err, size_t errlen)
{
	if (!entries || !n)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "open: missing argument");
	*entries = nullptr;
	*n = 0;
	if (!kr || (!value && len))
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "open: missing argument");
	gsa_opened_entry *list = nullptr;
	size_t count = 0;
	try {
		auto o = kr->ring.open_list(ByteView(value, len));
		if (!o.ok())
			return fail(err, errlen, o.error());
		count = o.value().size();
		list = static_cast<gsa_opened_entry *>(calloc(count, sizeof(gsa_opened_entry)));
		if (!list)
			return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
		for (size_t i = 0; i < count; i++) {
			const Keyring::Entry &e = o.value()[i];
			list[i].group = e.group;
			list[i].epoch = e.epoch;
			if (!e.opened.ok())
				list[i].status = static_cast<int>(e.opened.error().code);
			else if (!opened_out(e.opened.value(), &list[i].opened)) {
				gsa_opened_entries_free(list, count);
				return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
			}
		}
		*entries = list;
		*n = count;
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		gsa_opened_entries_free(list, count);
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

void gsa_opened_entries_free(struct gsa_opened_entry *entries, size_t n)
{
	if (!entries)
		return;
	for (size_t i = 0; i < n; i++)
		gsa_opened_free(&entries[i].opened);
	free(entries);
}

void gsa_opened_free(struct gsa_opened *o)
{
	if (!o)
		return;
	if (o->prefixes) {
		OPENSSL_cleanse(o->prefixes, o->count * sizeof(*o->prefixes));
		free(o->prefixes);
	}
	memset(o, 0, sizeof(*o));
}

int gsa_seal_peek(const uint8_t *value, size_t len, uint32_t *group, uint32_t *epoch, struct gsa_addr *originator,
		  char *err, size_t errlen)
{
	if (!value && len)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "peek: missing argument");
	try {
		auto h = parse_sealed(ByteView(value, len));
		if (!h.ok())
			return fail(err, errlen, h.error());
		if (group)
			*group = h.value().group;
		if (epoch)
			*epoch = h.value().epoch;
		if (originator)
			address_out(h.value().originator, *originator);
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

const char *gsa_seal_code_parsed(uint8_t code)
{
	// bgp_attr_parse() of FRR 8.4.4: every code with a case of its own
	switch (code) {
	case 1:
		return "ORIGIN";
	case 2:
		return "AS_PATH";
	case 3:
		return "NEXT_HOP";
	case 4:
		return "MULTI_EXIT_DISC";
	case 5:
		return "LOCAL_PREF";
	case 6:
		return "ATOMIC_AGGREGATE";
	case 7:
		return "AGGREGATOR";
	case 8:
		return "COMMUNITIES";
	case 9:
		return "ORIGINATOR_ID";
	case 10:
		return "CLUSTER_LIST";
	case 14:
		return "MP_REACH_NLRI";
	case 15:
		return "MP_UNREACH_NLRI";
	case 16:
		return "EXTENDED_COMMUNITIES";
	case 17:
		return "AS4_PATH";
	case 18:
		return "AS4_AGGREGATOR";
	case 22:
		return "PMSI_TUNNEL";
	case 23:
		return "TUNNEL_ENCAPSULATION";
	case 25:
		return "IPV6_EXT_COMMUNITIES";
	case 32:
		return "LARGE_COMMUNITIES";
	case 35:
		return "OTC";
	case 40:
		return "PREFIX_SID";
	default:
		return nullptr;
	}
}

int gsa_seal_attr_encode(uint8_t code, const uint8_t *value, size_t len, uint8_t **out, size_t *out_len)
{
	if (!out || !out_len || (!value && len))
		return GSA_SEAL_ERR_INVALID;
	auto a = encode_seal_attribute(code, ByteView(value, len));
	if (!a.ok())
		return static_cast<int>(a.error().code);
	return copy_out(a.value(), out, out_len, nullptr, 0);
}

int gsa_seal_attr_find(const uint8_t *attrs, size_t len, uint8_t code, const uint8_t **value, size_t *value_len,
		       char *err, size_t errlen)
{
	if ((!attrs && len) || !value || !value_len)
		return fail(err, errlen, GSA_SEAL_ERR_INVALID, "find: missing argument");
	try {
		auto v = find_seal_attribute(ByteView(attrs, len), code);
		if (!v.ok())
			return fail(err, errlen, v.error());
		*value = v.value().data();
		*value_len = v.value().size();
		return GSA_SEAL_OK;
	} catch (const std::exception &) {
		return fail(err, errlen, GSA_SEAL_ERR_INTERNAL, "out of memory");
	}
}

} // extern "C"
