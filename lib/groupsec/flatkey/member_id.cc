// SPDX-License-Identifier: GPL-2.0-or-later
#include "groupsec/flatkey/member_id.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <openssl/evp.h>

namespace groupsec::flatkey {

namespace {

// Divides the big-endian number in num by d in place, returns the remainder.
unsigned divmod(std::vector<uint8_t> &num, unsigned d)
{
	unsigned rem = 0;
	for (auto &b : num) {
		unsigned cur = (rem << 8) | b;
		b = static_cast<uint8_t>(cur / d);
		rem = cur % d;
	}
	return rem;
}

struct MdFree {
	void operator()(EVP_MD *m) const { EVP_MD_free(m); }
};
struct MdCtxFree {
	void operator()(EVP_MD_CTX *c) const { EVP_MD_CTX_free(c); }
};

// SHA-256 over (domain, 32-bit block counter, data), blocks 0, 1, ...,
// concatenated and cut to out_len. The digest is fetched once per call.
std::vector<uint8_t> sha256_stream(const std::string &domain,
				   const std::vector<uint8_t> &data,
				   size_t out_len)
{
	std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
	std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
	if (!md || !ctx)
		abort();
	std::vector<uint8_t> out;
	out.reserve(out_len + 32);
	for (uint32_t block = 0; out.size() < out_len; block++) {
		uint8_t ctr[4];
		for (int i = 0; i < 4; i++)
			ctr[i] = static_cast<uint8_t>(block >> (8 * (3 - i)));
		uint8_t mdv[32];
		unsigned len = 0;
		if (EVP_DigestInit_ex(ctx.get(), md.get(), nullptr) != 1 ||
		    EVP_DigestUpdate(ctx.get(), domain.data(), domain.size()) != 1 ||
		    EVP_DigestUpdate(ctx.get(), ctr, sizeof ctr) != 1 ||
		    EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
		    EVP_DigestFinal_ex(ctx.get(), mdv, &len) != 1)
			abort();
		out.insert(out.end(), mdv, mdv + len);
	}
	out.resize(out_len);
	return out;
}

std::string key_of(const MemberId &id)
{
	return std::string(id.begin(), id.end());
}

} // namespace

std::optional<IdLayout> IdLayout::create(
	std::vector<uint16_t> primary, std::vector<std::vector<uint16_t>> extra,
	std::string *error)
{
	IdLayout l;
	l.radix_.push_back(std::move(primary));
	for (auto &t : extra)
		l.radix_.push_back(std::move(t));
	l.slot_base_.push_back(0);
	if (l.radix_.size() > 255) {
		if (error)
			*error = "at most 255 symbol tables";
		return std::nullopt;
	}
	for (const auto &t : l.radix_) {
		if (t.empty() || t.size() > 255) {
			if (error)
				*error = "a symbol table needs 1..255 symbols";
			return std::nullopt;
		}
		l.symbol_base_.push_back(l.total_symbols_);
		for (uint16_t v : t) {
			if (v < 2 || v > 256) {
				if (error)
					*error = "a symbol takes 2..256 values";
				return std::nullopt;
			}
			l.slot_base_.push_back(l.slot_base_.back() + v);
			l.total_symbols_++;
		}
	}
	return l;
}

std::optional<IdLayout> IdLayout::with_families(
	std::vector<uint16_t> primary, const std::vector<SymbolFamily> &families,
	std::string *error)
{
	std::vector<std::vector<uint16_t>> extra;
	for (const auto &f : families) {
		if (f.symbols == 0 || f.symbols > 16 * 255) {
			if (error)
				*error = "a family needs 1..4080 symbols";
			return std::nullopt;
		}
		size_t n = (f.symbols + 254) / 255;
		for (size_t i = 0; i < n; i++) {
			size_t cnt = f.symbols / n + (i < f.symbols % n ? 1 : 0);
			extra.push_back(std::vector<uint16_t>(cnt, f.values));
		}
	}
	return create(std::move(primary), std::move(extra), error);
}

std::vector<SymbolFamily> IdLayout::default_families()
{
	return {{8, 64}, {32, 64}, {128, 80}, {256, 320}};
}

IdLayout IdLayout::binary(unsigned w)
{
	return uniform(w, 2);
}

IdLayout IdLayout::uniform(unsigned w, unsigned v)
{
	return *create(std::vector<uint16_t>(w, static_cast<uint16_t>(v)), {},
		       nullptr);
}

double IdLayout::capacity_bits() const
{
	double bits = 0;
	for (uint16_t v : radix_[0])
		bits += std::log2(static_cast<double>(v));
	return bits;
}

bool IdLayout::valid(const MemberId &id) const
{
	if (id.size() != radix_[0].size())
		return false;
	for (size_t s = 0; s < id.size(); s++)
		if (id[s] >= radix_[0][s])
			return false;
	return true;
}

std::vector<uint8_t> IdLayout::all_symbols(const MemberId &id) const
{
	std::vector<uint8_t> out(id.begin(), id.end());
	for (size_t t = 1; t < radix_.size(); t++) {
		// Four bytes of the stream per symbol, reduced modulo V (bias
		// below 2^-24); linear in the number of symbols.
		auto h = sha256_stream("groupsec flatkey table " +
					       std::to_string(t),
				       id, 4 * radix_[t].size());
		for (size_t s = 0; s < radix_[t].size(); s++) {
			uint32_t x = (uint32_t(h[4 * s]) << 24) |
				     (uint32_t(h[4 * s + 1]) << 16) |
				     (uint32_t(h[4 * s + 2]) << 8) |
				     uint32_t(h[4 * s + 3]);
			out.push_back(static_cast<uint8_t>(x % radix_[t][s]));
		}
	}
	return out;
}

std::optional<MemberId> IdLayout::from_index(uint64_t index) const
{
	MemberId id(radix_[0].size());
	for (size_t s = 0; s < id.size(); s++) {
		id[s] = static_cast<uint8_t>(index % radix_[0][s]);
		index /= radix_[0][s];
	}
	if (index != 0)
		return std::nullopt;
	return id;
}

bool IdLayout::direct_for(size_t address_len) const
{
	return capacity_bits() + 1e-9 >= 8.0 * static_cast<double>(address_len);
}

MemberId IdLayout::from_address(const std::vector<uint8_t> &address,
				uint32_t attempt) const
{
	std::vector<uint8_t> num;
	if (direct_for(address.size())) {
		num = address;
	} else {
		std::vector<uint8_t> in = address;
		for (int i = 3; i >= 0; i--)
			in.push_back(static_cast<uint8_t>(attempt >> (8 * i)));
		num = sha256_stream("groupsec flatkey id",
				    in, 16 + static_cast<size_t>(capacity_bits() / 8));
	}
	MemberId id(radix_[0].size());
	for (size_t s = 0; s < id.size(); s++)
		id[s] = static_cast<uint8_t>(divmod(num, radix_[0][s]));
	return id;
}

std::optional<MemberId> IdAllocator::assign(const std::vector<uint8_t> &address)
{
	bool direct = layout_.direct_for(address.size());
	for (uint32_t attempt = 0; attempt < 64; attempt++) {
		MemberId id = layout_.from_address(address, attempt);
		if (claim(id))
			return id;
		if (direct)
			return std::nullopt;
	}
	return std::nullopt;
}

std::optional<MemberId> IdAllocator::assign_next()
{
	for (;;) {
		auto id = layout_.from_index(next_);
		if (!id)
			return std::nullopt;
		next_++;
		if (claim(*id))
			return id;
	}
}

bool IdAllocator::claim(const MemberId &id)
{
	if (!layout_.valid(id))
		return false;
	return used_.insert(key_of(id)).second;
}

void IdAllocator::release(const MemberId &id)
{
	used_.erase(key_of(id));
}

bool IdAllocator::used(const MemberId &id) const
{
	return used_.count(key_of(id)) != 0;
}

} // namespace groupsec::flatkey
