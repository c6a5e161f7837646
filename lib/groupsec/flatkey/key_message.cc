#include "groupsec/flatkey/key_message.h"

#include "groupsec/flatkey/crypto.h"
#include "groupsec/flatkey/member_id.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace groupsec {
namespace flatkey {

namespace {

void put8(std::vector<uint8_t> &o, uint8_t v) { o.push_back(v); }

void put16(std::vector<uint8_t> &o, uint16_t v)
{
	o.push_back(static_cast<uint8_t>(v >> 8));
	o.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t> &o, uint32_t v)
{
	for (int i = 3; i >= 0; i--)
		o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

size_t id_size(const KeyId &id)
{
	switch (id.kind) {
	case KeyKind::kTek:
		return 1;
	case KeyKind::kKek:
		return 4;
	case KeyKind::kMember:
		return 5;
	}
	return 1;
}

void put_ref(std::vector<uint8_t> &o, const KeyRef &r)
{
	put8(o, static_cast<uint8_t>(r.id.kind));
	if (r.id.kind == KeyKind::kKek) {
		put8(o, r.id.table);
		put8(o, r.id.symbol);
		put8(o, r.id.value);
	} else if (r.id.kind == KeyKind::kMember) {
		put32(o, r.id.member);
	}
	put32(o, r.version);
	put32(o, r.revision);
	put32(o, r.creator);
}

class Reader {
public:
	Reader(const uint8_t *d, size_t n) : d_(d), n_(n) {}
	bool get8(uint8_t *v)
	{
		if (n_ - pos_ < 1)
			return false;
		*v = d_[pos_++];
		return true;
	}
	bool get16(uint16_t *v)
	{
		if (n_ - pos_ < 2)
			return false;
		*v = static_cast<uint16_t>((d_[pos_] << 8) | d_[pos_ + 1]);
		pos_ += 2;
		return true;
	}
	bool get32(uint32_t *v)
	{
		if (n_ - pos_ < 4)
			return false;
		*v = (uint32_t(d_[pos_]) << 24) | (uint32_t(d_[pos_ + 1]) << 16) |
		     (uint32_t(d_[pos_ + 2]) << 8) | uint32_t(d_[pos_ + 3]);
		pos_ += 4;
		return true;
	}
	bool bytes(size_t len, std::vector<uint8_t> *out)
	{
		if (n_ - pos_ < len)
			return false;
		out->assign(d_ + pos_, d_ + pos_ + len);
		pos_ += len;
		return true;
	}
	size_t pos() const { return pos_; }
	size_t left() const { return n_ - pos_; }

private:
	const uint8_t *d_;
	size_t n_;
	size_t pos_ = 0;
};

DecodeError get_ref(Reader &r, KeyRef *ref)
{
	uint8_t kind;
	if (!r.get8(&kind))
		return DecodeError::kTruncated;
	switch (kind) {
	case 0:
		ref->id = KeyId::tek();
		break;
	case 1: {
		uint8_t t, s, v;
		if (!r.get8(&t) || !r.get8(&s) || !r.get8(&v))
			return DecodeError::kTruncated;
		ref->id = KeyId::kek(t, s, v);
		break;
	}
	case 2: {
		uint32_t h;
		if (!r.get32(&h))
			return DecodeError::kTruncated;
		ref->id = KeyId::member_key(h);
		break;
	}
	default:
		return DecodeError::kBadKind;
	}
	if (!r.get32(&ref->version) || !r.get32(&ref->revision) ||
	    !r.get32(&ref->creator))
		return DecodeError::kTruncated;
	return DecodeError::kNone;
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

const char *to_string(DecodeError e)
{
	switch (e) {
	case DecodeError::kNone:
		return "ok";
	case DecodeError::kTruncated:
		return "truncated";
	case DecodeError::kBadVersion:
		return "unknown message format";
	case DecodeError::kBadKind:
		return "unknown key kind";
	case DecodeError::kTooMany:
		return "too many entries or wrapping keys";
	case DecodeError::kBadEntry:
		return "inconsistent entry";
	case DecodeError::kBadCiphertextLength:
		return "bad wrapped key length";
	case DecodeError::kTrailingBytes:
		return "trailing bytes";
	case DecodeError::kBadTekStep:
		return "TEK step neither one revision nor one version";
	}
	return "?";
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

DecodeResult decode_v1(Reader &r)
{
	DecodeResult res;
	auto fail = [&](DecodeError e) {
		DecodeResult bad;
		bad.error = e;
		bad.offset = r.pos();
		return bad;
	};
	uint32_t count;
	if (!r.get32(&count))
		return fail(DecodeError::kTruncated);
	// An entry takes at least 17 bytes: reject counts the input cannot hold
	// before reserving anything.
	if (count > kMaxEntries || count > r.left() / 17)
		return fail(count > kMaxEntries ? DecodeError::kTooMany
						: DecodeError::kTruncated);
	res.message.entries.reserve(count);
	for (uint32_t i = 0; i < count; i++) {
		WrappedKey e;
		uint8_t nwrap;
		if (!r.get8(&nwrap))
			return fail(DecodeError::kTruncated);
		if (nwrap > kMaxWrapping)
			return fail(DecodeError::kTooMany);
		e.wrapping.resize(nwrap);
		for (auto &w : e.wrapping) {
			DecodeError err = get_ref(r, &w);
			if (err != DecodeError::kNone)
				return fail(err);
		}
		DecodeError err = get_ref(r, &e.wrapped);
		if (err != DecodeError::kNone)
			return fail(err);
		uint16_t ctlen;
		if (!r.get16(&ctlen))
			return fail(DecodeError::kTruncated);
		if (ctlen != 0 && (ctlen < 16 || ctlen % 8 != 0))
			return fail(DecodeError::kBadCiphertextLength);
		if (nwrap == 0 && ctlen != 0)
			return fail(DecodeError::kBadEntry);
		for (const auto &w : e.wrapping)
			if (w.id == e.wrapped.id && w.version == e.wrapped.version &&
			    w.creator == e.wrapped.creator &&
			    w.revision == e.wrapped.revision)
				return fail(DecodeError::kBadEntry);
		if (!r.bytes(ctlen, &e.ciphertext))
			return fail(DecodeError::kTruncated);
		res.message.entries.push_back(std::move(e));
	}
	if (r.left() != 0)
		return fail(DecodeError::kTrailingBytes);
	return res;
}

// ---- compact format (2) ----

enum Tag : uint8_t {
	kTagTerm = 0,	 // TEK' under the KEKs of a product term
	kTagMember = 1,	 // TEK' under a member's individual key
	kTagDerive = 2,	 // KEK replaced: derive_replacement(KEK, TEK')
	kTagReplace = 3, // KEK replaced: new KEK wrapped under (KEK, TEK')
	kTagAdvance = 4, // KEK moves one revision
	kTagBundle = 5,	 // TEK' and a member's KEKs under its individual key
	kTagLeavers = 6, // removed members by primary ID (last entry)
	kTags
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

bool is_kek(const KeyRef &r) { return r.id.kind == KeyKind::kKek; }

// The compact tag of an entry, or kTags if it has none. A TEK notice has
// none either: the header carries it (skip is then set).
Tag classify(const KeyMessage &m, const WrappedKey &e, bool *skip)
{
	*skip = false;
	if (e.is_notice()) {
		if (!e.ciphertext.empty() || !e.carried.empty())
			return kTags;
		if (e.wrapped.id.kind == KeyKind::kTek) {
			*skip = true;
			return kTags;
		}
		return is_kek(e.wrapped) ? kTagAdvance : kTags;
	}
	if (e.wrapped.id.kind == KeyKind::kTek) {
		if (e.wrapping.size() == 1 &&
		    e.wrapping[0].id.kind == KeyKind::kMember) {
			if (e.carried.empty())
				return e.ciphertext.size() == kWrappedKeyBytes
					       ? kTagMember
					       : kTags;
			if (e.carried.size() > 255 ||
			    e.ciphertext.size() !=
				    8 + kKeyBytes * (1 + e.carried.size()))
				return kTags;
			for (const auto &c : e.carried)
				if (!is_kek(c))
					return kTags;
			return kTagBundle;
		}
		if (!e.carried.empty() || e.wrapping.size() > kMaxWrapping ||
		    e.ciphertext.size() != kWrappedKeyBytes)
			return kTags;
		std::vector<bool> seen(256, false);
		for (const auto &w : e.wrapping) {
			if (!is_kek(w) || w.id.table != e.wrapping[0].id.table ||
			    seen[w.id.symbol])
				return kTags;
			seen[w.id.symbol] = true;
		}
		return kTagTerm;
	}
	if (is_kek(e.wrapped) && e.carried.empty() && e.wrapping.size() == 2 &&
	    e.wrapping[0].id == e.wrapped.id &&
	    e.wrapping[1].id.kind == KeyKind::kTek) {
		if (e.ciphertext.empty())
			return kTagDerive;
		if (e.ciphertext.size() == kWrappedKeyBytes)
			return kTagReplace;
	}
	return kTags;
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
		if (t == kTags || rev != (t == kTagAdvance))
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

// Writes (or, with o null, counts) the compact encoding.
size_t write_v2(const KeyMessage &m, std::vector<uint8_t> *o)
{
	std::vector<uint8_t> scratch;
	std::vector<uint8_t> &out = o ? *o : scratch;
	size_t n = kHeaderBytes;
	size_t count = 0;
	for (const auto &e : m.entries) {
		bool skip;
		classify(m, e, &skip);
		count += !skip;
	}
	count += !m.leavers.empty();
	if (o) {
		put8(out, kCompactFormat);
		put32(out, m.base.version);
		put32(out, m.base.revision);
		put32(out, m.tek.version);
		put32(out, m.tek.revision);
		put32(out, static_cast<uint32_t>(count));
	}
	const std::vector<KeyRef> none;
	const std::vector<KeyRef> *prev = &none;
	for (const auto &e : m.entries) {
		bool skip;
		Tag t = classify(m, e, &skip);
		if (skip)
			continue;
		switch (t) {
		case kTagTerm: {
			size_t keep = shared_prefix(*prev, e);
			n += 4 + 2 * (e.wrapping.size() - keep) +
			     e.ciphertext.size();
			if (o) {
				put8(out, t);
				put8(out, e.wrapping[0].id.table);
				put8(out, static_cast<uint8_t>(keep));
				put8(out, static_cast<uint8_t>(
						  e.wrapping.size() - keep));
				for (size_t i = keep; i < e.wrapping.size(); i++) {
					put8(out, e.wrapping[i].id.symbol);
					put8(out, e.wrapping[i].id.value);
				}
			}
			prev = &e.wrapping;
			break;
		}
		case kTagMember:
			n += 5 + e.ciphertext.size();
			if (o) {
				put8(out, t);
				put32(out, e.wrapping[0].id.member);
			}
			break;
		case kTagBundle:
			n += 8 + 3 * e.carried.size() + e.ciphertext.size();
			if (o) {
				put8(out, t);
				put32(out, e.wrapping[0].id.member);
				put8(out, static_cast<uint8_t>(e.carried.size()));
				for (const auto &c : e.carried)
					put_kek(out, c.id);
				put16(out, static_cast<uint16_t>(
						   e.ciphertext.size()));
			}
			break;
		case kTagDerive:
		case kTagReplace:
		case kTagAdvance:
			n += 4 + e.ciphertext.size();
			if (o) {
				put8(out, t);
				put_kek(out, e.wrapped.id);
			}
			break;
		case kTagLeavers:
		case kTags:
			break;
		}
		if (o)
			out.insert(out.end(), e.ciphertext.begin(),
				   e.ciphertext.end());
	}
	if (!m.leavers.empty()) {
		const LeaverNotice &ln = m.leavers;
		size_t b = index_bytes(ln.radix[0]);
		n += 2 + 4 + b * ln.ids.size();
		if (o) {
			put8(out, kTagLeavers);
			put8(out, static_cast<uint8_t>(ln.radix.size()));
		}
		for (const auto &t : ln.radix) {
			auto runs = runs_of(t);
			n += 1 + 2 * runs.size();
			if (!o)
				continue;
			put8(out, static_cast<uint8_t>(runs.size()));
			for (const auto &r : runs) {
				put8(out, r.first);
				put8(out, static_cast<uint8_t>(r.second - 1));
			}
		}
		if (o) {
			put32(out, static_cast<uint32_t>(ln.ids.size()));
			for (const auto &id : ln.ids) {
				auto idx = id_index(ln.radix[0], id, b);
				out.insert(out.end(), idx.begin(), idx.end());
			}
		}
	}
	return n;
}

// Decodes the body of a leaver notice (after its tag).
DecodeError decode_leavers(Reader &r, LeaverNotice *out)
{
	uint8_t tables;
	if (!r.get8(&tables))
		return DecodeError::kTruncated;
	if (tables == 0)
		return DecodeError::kBadEntry;
	LeaverNotice n;
	for (uint8_t t = 0; t < tables; t++) {
		uint8_t nruns;
		if (!r.get8(&nruns))
			return DecodeError::kTruncated;
		if (nruns == 0)
			return DecodeError::kBadEntry;
		std::vector<uint16_t> radix;
		uint16_t prev = 0;
		for (uint8_t i = 0; i < nruns; i++) {
			uint8_t cnt, vm1;
			if (!r.get8(&cnt) || !r.get8(&vm1))
				return DecodeError::kTruncated;
			uint16_t v = static_cast<uint16_t>(vm1 + 1);
			if (cnt == 0 || v < 2 || v == prev ||
			    radix.size() + cnt > 255)
				return DecodeError::kBadEntry;
			radix.insert(radix.end(), cnt, v);
			prev = v;
		}
		n.radix.push_back(std::move(radix));
	}
	uint32_t count;
	if (!r.get32(&count))
		return DecodeError::kTruncated;
	size_t b = index_bytes(n.radix[0]);
	if (count == 0)
		return DecodeError::kBadEntry;
	if (count > kMaxEntries)
		return DecodeError::kTooMany;
	if (count > r.left() / b)
		return DecodeError::kTruncated;
	n.ids.reserve(count);
	std::vector<uint8_t> prev;
	for (uint32_t i = 0; i < count; i++) {
		std::vector<uint8_t> num;
		if (!r.bytes(b, &num))
			return DecodeError::kTruncated;
		if (!prev.empty() && !(prev < num))
			return DecodeError::kBadEntry;
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
				return DecodeError::kBadEntry; // index too large
		n.ids.push_back(std::move(id));
	}
	*out = std::move(n);
	return DecodeError::kNone;
}

DecodeResult decode_v2(Reader &r)
{
	DecodeResult res;
	auto fail = [&](DecodeError e) {
		DecodeResult bad;
		bad.error = e;
		bad.offset = r.pos();
		return bad;
	};
	KeyMessage &m = res.message;
	m.format = kCompactFormat;
	m.versions_implied = true;
	uint32_t count;
	if (!r.get32(&m.base.version) || !r.get32(&m.base.revision) ||
	    !r.get32(&m.tek.version) || !r.get32(&m.tek.revision) ||
	    !r.get32(&count))
		return fail(DecodeError::kTruncated);
	bool rev = revision_step(m.base, m.tek);
	if (!rev && !version_step(m.base, m.tek))
		return fail(DecodeError::kBadTekStep);
	// The shortest entry takes 4 bytes.
	if (count > kMaxEntries || count > r.left() / 4)
		return fail(count > kMaxEntries ? DecodeError::kTooMany
						: DecodeError::kTruncated);
	m.entries.reserve(count + rev);
	// A revision step names TEK' in the header only; the decoded message
	// lists it as a notice too, as format 1 does (encode() skips it).
	if (rev) {
		WrappedKey notice;
		notice.wrapped = m.tek;
		m.entries.push_back(notice);
	}
	std::vector<KeyRef> prev;
	auto kek = [](uint8_t t, uint8_t s, uint8_t v) {
		KeyRef k;
		k.id = KeyId::kek(t, s, v);
		return k;
	};
	for (uint32_t i = 0; i < count; i++) {
		WrappedKey e;
		uint8_t tag;
		if (!r.get8(&tag))
			return fail(DecodeError::kTruncated);
		if (tag >= kTags)
			return fail(DecodeError::kBadKind);
		if (rev != (tag == kTagAdvance))
			return fail(DecodeError::kBadEntry);
		if (tag == kTagLeavers) {
			// One notice, the last entry, of a version step.
			if (rev || i + 1 != count)
				return fail(DecodeError::kBadEntry);
			DecodeError de = decode_leavers(r, &m.leavers);
			if (de != DecodeError::kNone)
				return fail(de);
			continue;
		}
		size_t ctlen = kWrappedKeyBytes;
		switch (tag) {
		case kTagLeavers:
			break;
		case kTagTerm: {
			uint8_t table, keep, nnew;
			if (!r.get8(&table) || !r.get8(&keep) || !r.get8(&nnew))
				return fail(DecodeError::kTruncated);
			if (keep > prev.size() ||
			    (keep > 0 && prev[0].id.table != table))
				return fail(DecodeError::kBadEntry);
			if (size_t(keep) + nnew > kMaxWrapping)
				return fail(DecodeError::kTooMany);
			if (size_t(keep) + nnew == 0)
				return fail(DecodeError::kBadEntry);
			e.wrapping.assign(prev.begin(), prev.begin() + keep);
			std::vector<bool> seen(256, false);
			for (const auto &w : e.wrapping)
				seen[w.id.symbol] = true;
			for (uint8_t j = 0; j < nnew; j++) {
				uint8_t s, v;
				if (!r.get8(&s) || !r.get8(&v))
					return fail(DecodeError::kTruncated);
				if (seen[s])
					return fail(DecodeError::kBadEntry);
				seen[s] = true;
				// keep is the whole shared prefix: one encoding
				// per message
				if (j == 0 && keep < prev.size() &&
				    prev[keep].id == KeyId::kek(table, s, v))
					return fail(DecodeError::kBadEntry);
				e.wrapping.push_back(kek(table, s, v));
			}
			prev = e.wrapping;
			e.wrapped = m.tek;
			break;
		}
		case kTagMember:
		case kTagBundle: {
			uint32_t h;
			if (!r.get32(&h))
				return fail(DecodeError::kTruncated);
			KeyRef mk;
			mk.id = KeyId::member_key(h);
			e.wrapping.push_back(mk);
			e.wrapped = m.tek;
			if (tag == kTagMember)
				break;
			uint8_t n;
			if (!r.get8(&n))
				return fail(DecodeError::kTruncated);
			if (n == 0)
				return fail(DecodeError::kBadEntry);
			for (uint8_t j = 0; j < n; j++) {
				uint8_t t, s, v;
				if (!r.get8(&t) || !r.get8(&s) || !r.get8(&v))
					return fail(DecodeError::kTruncated);
				KeyRef c = kek(t, s, v);
				for (const auto &o : e.carried)
					if (o.id == c.id)
						return fail(DecodeError::kBadEntry);
				e.carried.push_back(c);
			}
			uint16_t len;
			if (!r.get16(&len))
				return fail(DecodeError::kTruncated);
			if (len != 8 + kKeyBytes * (1 + size_t(n)))
				return fail(DecodeError::kBadCiphertextLength);
			ctlen = len;
			break;
		}
		case kTagDerive:
		case kTagReplace:
		case kTagAdvance: {
			uint8_t t, s, v;
			if (!r.get8(&t) || !r.get8(&s) || !r.get8(&v))
				return fail(DecodeError::kTruncated);
			e.wrapped = kek(t, s, v);
			if (tag == kTagAdvance) {
				ctlen = 0;
				break;
			}
			KeyRef tekref = m.tek;
			e.wrapping = {kek(t, s, v), tekref};
			if (tag == kTagDerive)
				ctlen = 0;
			break;
		}
		}
		if (!r.bytes(ctlen, &e.ciphertext))
			return fail(DecodeError::kTruncated);
		m.entries.push_back(std::move(e));
	}
	if (r.left() != 0)
		return fail(DecodeError::kTrailingBytes);
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

DecodeResult decode(const uint8_t *data, size_t len)
{
	Reader r(data, data ? len : 0);
	uint8_t format;
	DecodeResult bad;
	if (!r.get8(&format)) {
		bad.error = DecodeError::kTruncated;
		return bad;
	}
	if (format == kMessageFormat)
		return decode_v1(r);
	if (format == kCompactFormat)
		return decode_v2(r);
	bad.error = DecodeError::kBadVersion;
	bad.offset = r.pos();
	return bad;
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
	Reader r(data, len);
	PacketKeyHeader h;
	r.get32(&h.association_id);
	r.get32(&h.key_version);
	r.get32(&h.key_revision);
	*out = h;
	return true;
}

} // namespace flatkey
} // namespace groupsec
