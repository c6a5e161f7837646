// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/key_message.h"

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/member_id.h"

#include "groupsec/base/reader.h"
#include "groupsec/base/writer.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace groupsec::flatkey {

namespace {

using wire::Reader;

// What the decoder found wrong; decode() reports it as an Error.
enum class DecodeError {
	None = 0,
	Truncated,
	BadVersion,
	BadKind,
	TooMany,
	BadEntry,
	BadCiphertextLength,
	TrailingBytes,
	BadTekStep,
};

struct Decoded {
	DecodeError error = DecodeError::None;
	KeyMessage message;

	bool ok() const { return error == DecodeError::None; }
};

Error to_error(DecodeError e)
{
	switch (e) {
	case DecodeError::None:
		return make_error(WireError::BadValue, "ok");
	case DecodeError::Truncated:
		return make_error(WireError::Truncated, "truncated");
	case DecodeError::BadVersion:
		return make_error(WireError::BadVersion, "unknown message format");
	case DecodeError::BadKind:
		return make_error(WireError::BadValue, "unknown key kind");
	case DecodeError::TooMany:
		return make_error(WireError::BadLength, "too many entries or wrapping keys");
	case DecodeError::BadEntry:
		return make_error(WireError::BadValue, "inconsistent entry");
	case DecodeError::BadCiphertextLength:
		return make_error(WireError::BadLength, "bad wrapped key length");
	case DecodeError::TrailingBytes:
		return make_error(WireError::TrailingBytes, "trailing bytes");
	case DecodeError::BadTekStep:
		return make_error(WireError::BadValue, "TEK step neither one revision nor one version");
	}
	return make_error(WireError::BadValue, "?");
}

void put8(std::vector<uint8_t> &o, uint8_t v)
{
	wire::put_u8(o, v);
}

void put16(std::vector<uint8_t> &o, uint16_t v)
{
	wire::put_u16(o, v);
}

void put32(std::vector<uint8_t> &o, uint32_t v)
{
	wire::put_u32(o, v);
}

size_t id_size(const KeyId &id)
{
	switch (id.kind) {
	case KeyKind::Tek:
		return 1;
	case KeyKind::Kek:
		return 4;
	case KeyKind::Member:
		return 5;
	}
	return 1;
}

void put_ref(std::vector<uint8_t> &o, const KeyRef &r)
{
	put8(o, static_cast<uint8_t>(r.id.kind));
	if (r.id.kind == KeyKind::Kek) {
		put8(o, r.id.table);
		put8(o, r.id.symbol);
		put8(o, r.id.value);
	} else if (r.id.kind == KeyKind::Member) {
		put32(o, r.id.member);
	}
	put32(o, r.version);
	put32(o, r.revision);
	put32(o, r.creator);
}

DecodeError get_ref(Reader &r, KeyRef *ref)
{
	uint8_t kind;
	if (!r.u8(kind))
		return DecodeError::Truncated;
	switch (kind) {
	case 0:
		ref->id = KeyId::tek();
		break;
	case 1: {
		uint8_t t, s, v;
		if (!r.u8(t) || !r.u8(s) || !r.u8(v))
			return DecodeError::Truncated;
		ref->id = KeyId::kek(t, s, v);
		break;
	}
	case 2: {
		uint32_t h;
		if (!r.u32(h))
			return DecodeError::Truncated;
		ref->id = KeyId::member_key(h);
		break;
	}
	default:
		return DecodeError::BadKind;
	}
	if (!r.u32(ref->version) || !r.u32(ref->revision) ||
	    !r.u32(ref->creator))
		return DecodeError::Truncated;
	return DecodeError::None;
}

} // namespace

bool KeyId::operator<(const KeyId &o) const
{
	return std::tie(kind, table, symbol, value, member) <
	       std::tie(o.kind, o.table, o.symbol, o.value, o.member);
}

size_t KeyMessage::wrapped_count() const
{
	size_t n = 0;
	for (const auto &e : entries)
		if (!e.ciphertext.empty())
			n++;
	return n;
}

bool KeyMessage::operator==(const KeyMessage &o) const
{
	if (entries.size() != o.entries.size())
		return false;
	for (size_t i = 0; i < entries.size(); i++) {
		const auto &a = entries[i], &b = o.entries[i];
		if (!(a.wrapping == b.wrapping) || !(a.wrapped == b.wrapped) ||
		    a.ciphertext != b.ciphertext || !(a.carried == b.carried))
			return false;
	}
	if (leavers.radix != o.leavers.radix || leavers.ids != o.leavers.ids)
		return false;
	return format == o.format && versions_implied == o.versions_implied &&
	       (format == kMessageFormat || (base == o.base && tek == o.tek));
}


namespace {

size_t encoded_size_v1(const KeyMessage &m)
{
	size_t n = 1 + 4;
	for (const auto &e : m.entries) {
		n += 1 + 2;
		for (const auto &w : e.wrapping)
			n += id_size(w.id) + 12;
		n += id_size(e.wrapped.id) + 12 + e.ciphertext.size();
	}
	return n;
}

std::vector<uint8_t> encode_v1(const KeyMessage &m)
{
	std::vector<uint8_t> o;
	o.reserve(encoded_size_v1(m));
	put8(o, kMessageFormat);
	put32(o, static_cast<uint32_t>(m.entries.size()));
	for (const auto &e : m.entries) {
		put8(o, static_cast<uint8_t>(e.wrapping.size()));
		for (const auto &w : e.wrapping)
			put_ref(o, w);
		put_ref(o, e.wrapped);
		put16(o, static_cast<uint16_t>(e.ciphertext.size()));
		o.insert(o.end(), e.ciphertext.begin(), e.ciphertext.end());
	}
	return o;
}

Decoded decode_v1(Reader &r)
{
	Decoded res;
	auto fail = [&](DecodeError e) {
		Decoded bad;
		bad.error = e;
		return bad;
	};
	uint32_t count;
	if (!r.u32(count))
		return fail(DecodeError::Truncated);
	// An entry takes at least 17 bytes: reject counts the input cannot hold
	// before reserving anything.
	if (count > kMaxEntries || count > r.remaining() / 17)
		return fail(count > kMaxEntries ? DecodeError::TooMany
						: DecodeError::Truncated);
	res.message.entries.reserve(count);
	for (uint32_t i = 0; i < count; i++) {
		WrappedKey e;
		uint8_t nwrap;
		if (!r.u8(nwrap))
			return fail(DecodeError::Truncated);
		if (nwrap > kMaxWrapping)
			return fail(DecodeError::TooMany);
		e.wrapping.resize(nwrap);
		for (auto &w : e.wrapping) {
			DecodeError err = get_ref(r, &w);
			if (err != DecodeError::None)
				return fail(err);
		}
		DecodeError err = get_ref(r, &e.wrapped);
		if (err != DecodeError::None)
			return fail(err);
		uint16_t ctlen;
		if (!r.u16(ctlen))
			return fail(DecodeError::Truncated);
		if (ctlen != 0 && (ctlen < 16 || ctlen % 8 != 0))
			return fail(DecodeError::BadCiphertextLength);
		if (nwrap == 0 && ctlen != 0)
			return fail(DecodeError::BadEntry);
		for (const auto &w : e.wrapping)
			if (w.id == e.wrapped.id && w.version == e.wrapped.version &&
			    w.creator == e.wrapped.creator &&
			    w.revision == e.wrapped.revision)
				return fail(DecodeError::BadEntry);
		if (!r.bytes(ctlen, e.ciphertext))
			return fail(DecodeError::Truncated);
		res.message.entries.push_back(std::move(e));
	}
	if (r.remaining() != 0)
		return fail(DecodeError::TrailingBytes);
	return res;
}

// ---- compact format (2) ----

enum class Tag : uint8_t {
	Term = 0,	 // TEK' under the KEKs of a product term
	Member = 1,	 // TEK' under a member's individual key
	Derive = 2,	 // KEK replaced: derive_replacement(KEK, TEK')
	Replace = 3, // KEK replaced: new KEK wrapped under (KEK, TEK')
	Advance = 4, // KEK moves one revision
	Bundle = 5,	 // TEK' and a member's KEKs under its individual key
	Leavers = 6, // removed members by primary ID (last entry)
	Count
};

constexpr size_t kHeaderBytes = 1 + 8 + 8 + 4;

bool revision_step(const KeyRef &base, const KeyRef &tek)
{
	return base.revision != UINT32_MAX && tek.version == base.version &&
	       tek.revision == base.revision + 1;
}

bool version_step(const KeyRef &base, const KeyRef &tek)
{
	return base.version != UINT32_MAX && tek.version == base.version + 1 &&
	       tek.revision == 0;
}

bool is_kek(const KeyRef &r) { return r.id.kind == KeyKind::Kek; }

// The compact tag of an entry, or Tag::Count if it has none. A TEK notice has
// none either: the header carries it (skip is then set).
Tag classify(const KeyMessage &m, const WrappedKey &e, bool *skip)
{
	*skip = false;
	if (e.is_notice()) {
		if (!e.ciphertext.empty() || !e.carried.empty())
			return Tag::Count;
		if (e.wrapped.id.kind == KeyKind::Tek) {
			*skip = true;
			return Tag::Count;
		}
		return is_kek(e.wrapped) ? Tag::Advance : Tag::Count;
	}
	if (e.wrapped.id.kind == KeyKind::Tek) {
		if (e.wrapping.size() == 1 &&
		    e.wrapping[0].id.kind == KeyKind::Member) {
			if (e.carried.empty())
				return e.ciphertext.size() == kWrappedKeyBytes
					       ? Tag::Member
					       : Tag::Count;
			if (e.carried.size() > 255 ||
			    e.ciphertext.size() !=
				    8 + kKeyBytes * (1 + e.carried.size()))
				return Tag::Count;
			for (const auto &c : e.carried)
				if (!is_kek(c))
					return Tag::Count;
			return Tag::Bundle;
		}
		if (!e.carried.empty() || e.wrapping.size() > kMaxWrapping ||
		    e.ciphertext.size() != kWrappedKeyBytes)
			return Tag::Count;
		std::vector<bool> seen(256, false);
		for (const auto &w : e.wrapping) {
			if (!is_kek(w) || w.id.table != e.wrapping[0].id.table ||
			    seen[w.id.symbol])
				return Tag::Count;
			seen[w.id.symbol] = true;
		}
		return Tag::Term;
	}
	if (is_kek(e.wrapped) && e.carried.empty() && e.wrapping.size() == 2 &&
	    e.wrapping[0].id == e.wrapped.id &&
	    e.wrapping[1].id.kind == KeyKind::Tek) {
		if (e.ciphertext.empty())
			return Tag::Derive;
		if (e.ciphertext.size() == kWrappedKeyBytes)
			return Tag::Replace;
	}
	return Tag::Count;
}

// Bytes of a primary ID's index: enough for the product of V over the
// primary symbols, minus one.
size_t index_bytes(const std::vector<uint16_t> &radix)
{
	std::vector<uint8_t> num{1}; // big-endian product
	for (uint16_t v : radix) {
		unsigned carry = 0;
		for (size_t i = num.size(); i-- > 0;) {
			unsigned cur = num[i] * unsigned(v) + carry;
			num[i] = static_cast<uint8_t>(cur);
			carry = cur >> 8;
		}
		while (carry) {
			num.insert(num.begin(), static_cast<uint8_t>(carry));
			carry >>= 8;
		}
	}
	for (size_t i = num.size(); i-- > 0;) { // minus one
		if (num[i]--)
			break;
	}
	size_t lead = 0;
	while (lead + 1 < num.size() && num[lead] == 0)
		lead++;
	return num.size() - lead;
}

// The index of id (mixed radix, symbol 0 least significant), big-endian.
std::vector<uint8_t> id_index(const std::vector<uint16_t> &radix,
			      const std::vector<uint8_t> &id, size_t bytes)
{
	std::vector<uint8_t> num(bytes, 0);
	for (size_t s = radix.size(); s-- > 0;) {
		unsigned carry = id[s];
		for (size_t i = bytes; i-- > 0;) {
			unsigned cur = num[i] * unsigned(radix[s]) + carry;
			num[i] = static_cast<uint8_t>(cur);
			carry = cur >> 8;
		}
	}
	return num;
}

// Whether ids are valid primary IDs of radix in strictly ascending index
// order.
bool ids_ascending(const std::vector<uint16_t> &radix,
		   const std::vector<std::vector<uint8_t>> &ids)
{
	size_t b = index_bytes(radix);
	std::vector<uint8_t> prev;
	for (const auto &id : ids) {
		if (id.size() != radix.size())
			return false;
		for (size_t s = 0; s < id.size(); s++)
			if (id[s] >= radix[s])
				return false;
		auto idx = id_index(radix, id, b);
		if (!prev.empty() && !(prev < idx))
			return false;
		prev = std::move(idx);
	}
	return true;
}

// Run-length form of one table's radix: (count, V) pairs, adjacent runs
// differing in V.
std::vector<std::pair<uint8_t, uint16_t>> runs_of(const std::vector<uint16_t> &t)
{
	std::vector<std::pair<uint8_t, uint16_t>> out;
	for (uint16_t v : t) {
		if (!out.empty() && out.back().second == v)
			out.back().first++;
		else
			out.push_back({1, v});
	}
	return out;
}

bool notice_valid(const LeaverNotice &n)
{
	if (n.radix.empty() || n.radix.size() > 255 || n.ids.size() > kMaxEntries)
		return false;
	std::vector<std::vector<uint16_t>> extra(n.radix.begin() + 1,
						 n.radix.end());
	if (!IdLayout::create(n.radix[0], extra, nullptr))
		return false;
	for (const auto &t : n.radix)
		if (runs_of(t).size() > 255)
			return false;
	return ids_ascending(n.radix[0], n.ids);
}

bool encodable_v2(const KeyMessage &m)
{
	if (!m.leavers.empty() &&
	    (!version_step(m.base, m.tek) || !notice_valid(m.leavers)))
		return false;
	bool rev = revision_step(m.base, m.tek);
	if (!rev && !version_step(m.base, m.tek))
		return false;
	size_t n = 0;
	for (const auto &e : m.entries) {
		bool skip;
		Tag t = classify(m, e, &skip);
		if (skip)
			continue;
		if (t == Tag::Count || rev != (t == Tag::Advance))
			return false;
		n++;
	}
	return n <= kMaxEntries;
}

// Literals the previous term entry shares with e.
size_t shared_prefix(const std::vector<KeyRef> &prev, const WrappedKey &e)
{
	size_t k = 0;
	while (k < prev.size() && k < e.wrapping.size() &&
	       prev[k].id == e.wrapping[k].id)
		k++;
	return k;
}

void put_kek(std::vector<uint8_t> &o, const KeyId &id)
{
	put8(o, id.table);
	put8(o, id.symbol);
	put8(o, id.value);
}

// Writes (or, with o null, counts) one compact entry of tag t; prev is
// the wrapping of the last term, whose shared prefix a term leaves out.
size_t write_v2_entry(const WrappedKey &e, Tag t, const std::vector<KeyRef> *&prev,
		      std::vector<uint8_t> *o)
{
	size_t n = 0;
	switch (t) {
	case Tag::Term: {
		size_t keep = shared_prefix(*prev, e);
		n += 4 + 2 * (e.wrapping.size() - keep) + e.ciphertext.size();
		if (o) {
			put8(*o, static_cast<uint8_t>(t));
			put8(*o, e.wrapping[0].id.table);
			put8(*o, static_cast<uint8_t>(keep));
			put8(*o, static_cast<uint8_t>(e.wrapping.size() - keep));
			for (size_t i = keep; i < e.wrapping.size(); i++) {
				put8(*o, e.wrapping[i].id.symbol);
				put8(*o, e.wrapping[i].id.value);
			}
		}
		prev = &e.wrapping;
		break;
	}
	case Tag::Member:
		n += 5 + e.ciphertext.size();
		if (o) {
			put8(*o, static_cast<uint8_t>(t));
			put32(*o, e.wrapping[0].id.member);
		}
		break;
	case Tag::Bundle:
		n += 8 + 3 * e.carried.size() + e.ciphertext.size();
		if (o) {
			put8(*o, static_cast<uint8_t>(t));
			put32(*o, e.wrapping[0].id.member);
			put8(*o, static_cast<uint8_t>(e.carried.size()));
			for (const auto &c : e.carried)
				put_kek(*o, c.id);
			put16(*o, static_cast<uint16_t>(e.ciphertext.size()));
		}
		break;
	case Tag::Derive:
	case Tag::Replace:
	case Tag::Advance:
		n += 4 + e.ciphertext.size();
		if (o) {
			put8(*o, static_cast<uint8_t>(t));
			put_kek(*o, e.wrapped.id);
		}
		break;
	case Tag::Leavers:
	case Tag::Count:
		break;
	}
	if (o)
		o->insert(o->end(), e.ciphertext.begin(), e.ciphertext.end());
	return n;
}

// Writes (or, with o null, counts) the leaver notice.
size_t write_v2_leavers(const LeaverNotice &ln, std::vector<uint8_t> *o)
{
	size_t b = index_bytes(ln.radix[0]);
	size_t n = 2 + 4 + b * ln.ids.size();
	if (o) {
		put8(*o, static_cast<uint8_t>(Tag::Leavers));
		put8(*o, static_cast<uint8_t>(ln.radix.size()));
	}
	for (const auto &t : ln.radix) {
		auto runs = runs_of(t);
		n += 1 + 2 * runs.size();
		if (!o)
			continue;
		put8(*o, static_cast<uint8_t>(runs.size()));
		for (const auto &r : runs) {
			put8(*o, r.first);
			put8(*o, static_cast<uint8_t>(r.second - 1));
		}
	}
	if (o) {
		put32(*o, static_cast<uint32_t>(ln.ids.size()));
		for (const auto &id : ln.ids) {
			auto idx = id_index(ln.radix[0], id, b);
			o->insert(o->end(), idx.begin(), idx.end());
		}
	}
	return n;
}

// Writes (or, with o null, counts) the compact encoding.
size_t write_v2(const KeyMessage &m, std::vector<uint8_t> *o)
{
	size_t n = kHeaderBytes;
	size_t count = 0;
	for (const auto &e : m.entries) {
		bool skip;
		classify(m, e, &skip);
		count += !skip;
	}
	count += !m.leavers.empty();
	if (o) {
		put8(*o, kCompactFormat);
		put32(*o, m.base.version);
		put32(*o, m.base.revision);
		put32(*o, m.tek.version);
		put32(*o, m.tek.revision);
		put32(*o, static_cast<uint32_t>(count));
	}
	const std::vector<KeyRef> none;
	const std::vector<KeyRef> *prev = &none;
	for (const auto &e : m.entries) {
		bool skip;
		Tag t = classify(m, e, &skip);
		if (!skip)
			n += write_v2_entry(e, t, prev, o);
	}
	if (!m.leavers.empty())
		n += write_v2_leavers(m.leavers, o);
	return n;
}

// Decodes the body of a leaver notice (after its tag).
DecodeError decode_leavers(Reader &r, LeaverNotice *out)
{
	uint8_t tables;
	if (!r.u8(tables))
		return DecodeError::Truncated;
	if (tables == 0)
		return DecodeError::BadEntry;
	LeaverNotice n;
	for (uint8_t t = 0; t < tables; t++) {
		uint8_t nruns;
		if (!r.u8(nruns))
			return DecodeError::Truncated;
		if (nruns == 0)
			return DecodeError::BadEntry;
		std::vector<uint16_t> radix;
		uint16_t prev = 0;
		for (uint8_t i = 0; i < nruns; i++) {
			uint8_t cnt, vm1;
			if (!r.u8(cnt) || !r.u8(vm1))
				return DecodeError::Truncated;
			uint16_t v = static_cast<uint16_t>(vm1 + 1);
			if (cnt == 0 || v < 2 || v == prev ||
			    radix.size() + cnt > 255)
				return DecodeError::BadEntry;
			radix.insert(radix.end(), cnt, v);
			prev = v;
		}
		n.radix.push_back(std::move(radix));
	}
	uint32_t count;
	if (!r.u32(count))
		return DecodeError::Truncated;
	size_t b = index_bytes(n.radix[0]);
	if (count == 0)
		return DecodeError::BadEntry;
	if (count > kMaxEntries)
		return DecodeError::TooMany;
	if (count > r.remaining() / b)
		return DecodeError::Truncated;
	n.ids.reserve(count);
	std::vector<uint8_t> prev;
	for (uint32_t i = 0; i < count; i++) {
		std::vector<uint8_t> num;
		if (!r.bytes(b, num))
			return DecodeError::Truncated;
		if (!prev.empty() && !(prev < num))
			return DecodeError::BadEntry;
		prev = num;
		const auto &radix = n.radix[0];
		std::vector<uint8_t> id(radix.size());
		for (size_t s = 0; s < radix.size(); s++) {
			unsigned rem = 0;
			for (auto &d : num) {
				unsigned cur = (rem << 8) | d;
				d = static_cast<uint8_t>(cur / radix[s]);
				rem = cur % radix[s];
			}
			id[s] = static_cast<uint8_t>(rem);
		}
		for (uint8_t d : num)
			if (d != 0)
				return DecodeError::BadEntry; // index too large
		n.ids.push_back(std::move(id));
	}
	*out = std::move(n);
	return DecodeError::None;
}

KeyRef kek_ref(uint8_t t, uint8_t s, uint8_t v)
{
	KeyRef k;
	k.id = KeyId::kek(t, s, v);
	return k;
}

// A term: its table, the length of the prefix shared with the previous
// term (prev) and the new symbol/value pairs.
DecodeError decode_v2_term(Reader &r, std::vector<KeyRef> &prev, WrappedKey &e)
{
	uint8_t table, keep, nnew;
	if (!r.u8(table) || !r.u8(keep) || !r.u8(nnew))
		return DecodeError::Truncated;
	if (keep > prev.size() || (keep > 0 && prev[0].id.table != table))
		return DecodeError::BadEntry;
	if (size_t(keep) + nnew > kMaxWrapping)
		return DecodeError::TooMany;
	if (size_t(keep) + nnew == 0)
		return DecodeError::BadEntry;
	e.wrapping.assign(prev.begin(), prev.begin() + keep);
	std::vector<bool> seen(256, false);
	for (const auto &w : e.wrapping)
		seen[w.id.symbol] = true;
	for (uint8_t j = 0; j < nnew; j++) {
		uint8_t s, v;
		if (!r.u8(s) || !r.u8(v))
			return DecodeError::Truncated;
		if (seen[s])
			return DecodeError::BadEntry;
		seen[s] = true;
		// keep is the whole shared prefix: one encoding
		// per message
		if (j == 0 && keep < prev.size() &&
		    prev[keep].id == KeyId::kek(table, s, v))
			return DecodeError::BadEntry;
		e.wrapping.push_back(kek_ref(table, s, v));
	}
	prev = e.wrapping;
	return DecodeError::None;
}

// A member entry, or a bundle: the member key, then the carried KEKs and
// the ciphertext length.
DecodeError decode_v2_member(Reader &r, Tag tag, WrappedKey &e, size_t &ctlen)
{
	uint32_t h;
	if (!r.u32(h))
		return DecodeError::Truncated;
	KeyRef mk;
	mk.id = KeyId::member_key(h);
	e.wrapping.push_back(mk);
	if (tag == Tag::Member)
		return DecodeError::None;
	uint8_t n;
	if (!r.u8(n))
		return DecodeError::Truncated;
	if (n == 0)
		return DecodeError::BadEntry;
	for (uint8_t j = 0; j < n; j++) {
		uint8_t t, s, v;
		if (!r.u8(t) || !r.u8(s) || !r.u8(v))
			return DecodeError::Truncated;
		KeyRef c = kek_ref(t, s, v);
		for (const auto &o : e.carried)
			if (o.id == c.id)
				return DecodeError::BadEntry;
		e.carried.push_back(c);
	}
	uint16_t len;
	if (!r.u16(len))
		return DecodeError::Truncated;
	if (len != 8 + kKeyBytes * (1 + size_t(n)))
		return DecodeError::BadCiphertextLength;
	ctlen = len;
	return DecodeError::None;
}

// One entry after its tag (not a leaver notice), with its ciphertext.
DecodeError decode_v2_entry(Reader &r, Tag tag, const KeyRef &tek, std::vector<KeyRef> &prev,
			    WrappedKey &e)
{
	size_t ctlen = kWrappedKeyBytes;
	DecodeError de = DecodeError::None;
	switch (tag) {
	case Tag::Leavers:
	case Tag::Count: // refused by the caller
		break;
	case Tag::Term:
		de = decode_v2_term(r, prev, e);
		e.wrapped = tek;
		break;
	case Tag::Member:
	case Tag::Bundle:
		de = decode_v2_member(r, tag, e, ctlen);
		e.wrapped = tek;
		break;
	case Tag::Derive:
	case Tag::Replace:
	case Tag::Advance: {
		uint8_t t, s, v;
		if (!r.u8(t) || !r.u8(s) || !r.u8(v))
			return DecodeError::Truncated;
		e.wrapped = kek_ref(t, s, v);
		if (tag == Tag::Advance) {
			ctlen = 0;
			break;
		}
		e.wrapping = {kek_ref(t, s, v), tek};
		if (tag == Tag::Derive)
			ctlen = 0;
		break;
	}
	}
	if (de != DecodeError::None)
		return de;
	if (!r.bytes(ctlen, e.ciphertext))
		return DecodeError::Truncated;
	return DecodeError::None;
}

// The header of a compact message; its entry count goes to count.
DecodeError decode_v2_header(Reader &r, KeyMessage &m, uint32_t &count, bool &rev)
{
	m.format = kCompactFormat;
	m.versions_implied = true;
	if (!r.u32(m.base.version) || !r.u32(m.base.revision) ||
	    !r.u32(m.tek.version) || !r.u32(m.tek.revision) ||
	    !r.u32(count))
		return DecodeError::Truncated;
	rev = revision_step(m.base, m.tek);
	if (!rev && !version_step(m.base, m.tek))
		return DecodeError::BadTekStep;
	// The shortest entry takes 4 bytes.
	if (count > kMaxEntries || count > r.remaining() / 4)
		return count > kMaxEntries ? DecodeError::TooMany : DecodeError::Truncated;
	return DecodeError::None;
}

Decoded decode_v2(Reader &r)
{
	Decoded res;
	auto fail = [&](DecodeError e) {
		Decoded bad;
		bad.error = e;
		return bad;
	};
	KeyMessage &m = res.message;
	uint32_t count;
	bool rev;
	DecodeError de = decode_v2_header(r, m, count, rev);
	if (de != DecodeError::None)
		return fail(de);
	m.entries.reserve(count + rev);
	// A revision step names TEK' in the header only; the decoded message
	// lists it as a notice too, as format 1 does (encode() skips it).
	if (rev) {
		WrappedKey notice;
		notice.wrapped = m.tek;
		m.entries.push_back(notice);
	}
	std::vector<KeyRef> prev;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t raw;
		if (!r.u8(raw))
			return fail(DecodeError::Truncated);
		if (raw >= static_cast<uint8_t>(Tag::Count))
			return fail(DecodeError::BadKind);
		const Tag tag = static_cast<Tag>(raw);
		if (rev != (tag == Tag::Advance))
			return fail(DecodeError::BadEntry);
		if (tag == Tag::Leavers) {
			// One notice, the last entry, of a version step.
			if (rev || i + 1 != count)
				return fail(DecodeError::BadEntry);
			de = decode_leavers(r, &m.leavers);
			if (de != DecodeError::None)
				return fail(de);
			continue;
		}
		WrappedKey e;
		de = decode_v2_entry(r, tag, m.tek, prev, e);
		if (de != DecodeError::None)
			return fail(de);
		m.entries.push_back(std::move(e));
	}
	if (r.remaining() != 0)
		return fail(DecodeError::TrailingBytes);
	return res;
}

} // namespace

bool fold_notices(std::vector<KeyMessage> &pending, const KeyMessage &next)
{
	const KeyRef *tek = nullptr;
	for (const auto &e : next.entries) {
		if (!e.is_notice() || !e.carried.empty())
			return false;
		if (e.wrapped.id == KeyId::tek())
			tek = &e.wrapped;
	}
	if (!tek || tek->revision == 0 || !next.leavers.empty())
		return false;
	if (!pending.empty()) {
		KeyMessage &last = pending.back();
		const KeyRef &base = last.base;
		if (last.format == kMessageFormat && base.id == KeyId::tek() &&
		    base.version == tek->version && base.creator == tek->creator &&
		    tek->revision > base.revision &&
		    tek->revision - base.revision <= kMaxRevisionStep) {
			for (const auto &e : next.entries) {
				auto same = std::find_if(
					last.entries.begin(), last.entries.end(),
					[&](const WrappedKey &o) {
						return o.wrapped.id == e.wrapped.id &&
						       o.wrapped.version == e.wrapped.version &&
						       o.wrapped.creator == e.wrapped.creator;
					});
				if (same == last.entries.end())
					last.entries.push_back(e);
				else if (e.wrapped.revision > same->wrapped.revision)
					same->wrapped.revision = e.wrapped.revision;
			}
			return true;
		}
	}
	KeyMessage m;
	m.format = kMessageFormat;
	m.base = *tek;
	m.base.revision = tek->revision - 1;
	m.entries = next.entries;
	pending.push_back(std::move(m));
	return true;
}

bool encodable(const KeyMessage &m)
{
	if (m.format == kCompactFormat)
		return encodable_v2(m);
	if (m.format != kMessageFormat || m.entries.size() > kMaxEntries ||
	    !m.leavers.empty())
		return false;
	for (const auto &e : m.entries)
		if (!e.carried.empty() || e.wrapping.size() > kMaxWrapping ||
		    e.ciphertext.size() > 0xffff)
			return false;
	return true;
}

size_t encoded_size(const KeyMessage &m)
{
	if (!encodable(m))
		return 0;
	return m.format == kCompactFormat ? write_v2(m, nullptr)
					  : encoded_size_v1(m);
}

std::vector<uint8_t> encode(const KeyMessage &m)
{
	if (!encodable(m))
		return {};
	if (m.format != kCompactFormat)
		return encode_v1(m);
	std::vector<uint8_t> o;
	o.reserve(write_v2(m, nullptr));
	write_v2(m, &o);
	return o;
}

Result<KeyMessage> decode(ByteView in)
{
	return wire::guarded([&]() -> Result<KeyMessage> {
		Reader r(in);
		uint8_t format;
		if (!r.u8(format))
			return to_error(DecodeError::Truncated);
		Decoded d;
		if (format == kMessageFormat)
			d = decode_v1(r);
		else if (format == kCompactFormat)
			d = decode_v2(r);
		else
			return to_error(DecodeError::BadVersion);
		if (!d.ok())
			return to_error(d.error);
		return std::move(d.message);
	});
}

void encode(const PacketKeyHeader &h, uint8_t out[kPacketKeyHeaderBytes])
{
	std::vector<uint8_t> o;
	put32(o, h.association_id);
	put32(o, h.key_version);
	put32(o, h.key_revision);
	for (size_t i = 0; i < kPacketKeyHeaderBytes; i++)
		out[i] = o[i];
}

bool decode(const uint8_t *data, size_t len, PacketKeyHeader *out)
{
	if (!data || len < kPacketKeyHeaderBytes || !out)
		return false;
	Reader r(ByteView(data, data ? len : 0));
	PacketKeyHeader h;
	r.u32(h.association_id);
	r.u32(h.key_version);
	r.u32(h.key_revision);
	*out = h;
	return true;
}

} // namespace groupsec::flatkey
