#include "groupsec/flatkey/key_message.h"

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
		    a.ciphertext != b.ciphertext)
			return false;
	}
	return true;
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
	}
	return "?";
}

size_t encoded_size(const KeyMessage &m)
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

std::vector<uint8_t> encode(const KeyMessage &m)
{
	std::vector<uint8_t> o;
	o.reserve(encoded_size(m));
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

DecodeResult decode(const uint8_t *data, size_t len)
{
	DecodeResult res;
	Reader r(data, data ? len : 0);
	auto fail = [&](DecodeError e) {
		DecodeResult bad;
		bad.error = e;
		bad.offset = r.pos();
		return bad;
	};
	uint8_t format;
	uint32_t count;
	if (!r.get8(&format))
		return fail(DecodeError::kTruncated);
	if (format != kMessageFormat)
		return fail(DecodeError::kBadVersion);
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
