// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzzes the reader of gstrust fetch's IKE_SA_INIT answers (ike_probe.h):
// the input is the answer, its first 8 octets replaced by the initiator
// SPI of a fixed request so that reading goes past the SPI check.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../../gdoi-plugin/core/ike/ike_probe.h"

using namespace groupsec::gdoi;

namespace {

class FixedRandom : public groupsec::crypto::RandomSource {
public:
	void fill(uint8_t *out, size_t len) override
	{
		for (size_t i = 0; i < len; i++)
			out[i] = static_cast<uint8_t>(++n_ * 37);
	}

private:
	unsigned n_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ike::ProbeOptions opts = [] {
		ike::ProbeOptions o;
		o.local_ip = {192, 0, 2, 11};
		o.local_port = 40000;
		o.remote_ip = {192, 0, 2, 1};
		o.remote_port = 500;
		return o;
	}();
	static ike::ProbeRequest req = [] {
		FixedRandom r;
		auto q = ike::probe_request(opts, r);
		if (!q.ok())
			abort();
		return q.value();
	}();
	Bytes in(data, data + size);
	if (in.size() >= 8)
		for (int i = 0; i < 8; i++)
			in[static_cast<size_t>(i)] = static_cast<uint8_t>(req.spi_i >> (56 - 8 * i));
	auto a = ike::probe_answer(in, req, opts);
	if (!a.ok())
		return 0;
	// what was read is whole: names for every transform, 20-octet authorities
	for (const auto &t : a.value().proposal)
		if (ike::probe_transform_name(t).empty())
			abort();
	for (const Bytes &h : a.value().certreq_authorities)
		if (h.size() != 20)
			abort();
	if (a.value().cookie.size() > 64)
		abort();
	return 0;
}
