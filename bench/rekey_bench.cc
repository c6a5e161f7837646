// SPDX-License-Identifier: GPL-2.0-or-later
// Rekey cost of the flat key table against a binary LKH tree and naive
// per-member unicast, measured in the same run: for N members and a batch
// of k leaving members, the wrapped keys and bytes of the rekey message,
// the server's CPU time, and server and per-member key storage. After the
// Google Benchmark output, a summary table prints the ratios.
//
// Flat table rows:
//   flat       the engine's defaults: CollusionPolicy::AcceptFlagged (no
//              coalition of one operation's leavers learns the new TEK;
//              coalitions of members removed at different times are
//              reported) and KekRefresh::Derive
//   flat-wrap  the same with replaced KEKs wrapped (the seed's rule as
//              written; the same holders as derivation)
//   flat-res   CollusionPolicy::Resist: no coalition of removed members,
//              across all operations, learns the new TEK
//   flat-fam   the defaults with the default symbol families
//              (IdLayout::default_families()): batch leaves are covered by
//              single KEKs no leaver holds
// Bytes of flat rows are the encoded compact message; LKH and unicast are
// counted with the same compact layout (bench/reference_*.cc).
//
// Key tree row (docs/key-tree.md):
//   tree       lib/groupsec/keytree: binary tree with upward derivation;
//              no coalition of removed members, across all operations,
//              learns a later key. Bytes are the encoded TreeMessage.
// A last table compares tree with lkh per leave: median over the
// iterations and the spread (min..max) of CPU time.
#include "groupsec/flatkey/flat_key_server.h"
#include "groupsec/keytree/key_tree.h"
#include "reference_lkh.h"
#include "reference_unicast.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <random>
#include <string>

using namespace groupsec;
using namespace groupsec::flatkey;

namespace {

enum Scheme {
	kFlat,
	kFlatWrap,
	kFlatResist,
	kFlatExtra,
	kLkh,
	kUnicast,
	kTree,
	kSchemes
};
const char *const kNames[kSchemes] = {"flat",	 "flat-wrap", "flat-res",
				      "flat-fam", "lkh",       "unicast",
				      "tree"};

// flat-fam: the primary binary table plus the default symbol families
// (paragraph 0086 extra tables, one family per expected batch size).

struct Row {
	double wrapped = 0, bytes = 0, cpu_ms = 0, flagged = 0, residual = 0;
	size_t server_bytes = 0, member_bytes = 0;
	// per leave, for medians and spread
	std::vector<double> wrapped_s, bytes_s, cpu_s;
	bool have = false;
};

// Results of this run, keyed by (log2 N, k); filled by the benchmarks,
// printed by main.
using Results = std::map<std::pair<unsigned, unsigned>, Row[kSchemes]>;

class Clock0 : public Clock {
public:
	uint64_t now_ms() const override { return 0; }
};

double cpu_ms_since(std::clock_t start)
{
	return 1000.0 * double(std::clock() - start) / CLOCKS_PER_SEC;
}

std::vector<uint32_t> pick(std::mt19937_64 &g, size_t n, size_t k)
{
	std::vector<uint32_t> out;
	std::vector<uint8_t> taken(n, 0);
	while (out.size() < k) {
		uint32_t x = static_cast<uint32_t>(g() % n);
		if (!taken[x]) {
			taken[x] = 1;
			out.push_back(x);
		}
	}
	return out;
}

void run(benchmark::State &state, Results *results, Scheme scheme,
	 unsigned d, unsigned k)
{
	const size_t n = size_t(1) << d;
	OpenSslRandom rng;
	Clock0 clock;
	std::mt19937_64 g(d * 1000003u + k);
	std::unique_ptr<FlatKeyServer> flat;
	std::unique_ptr<bench::LkhTree> lkh;
	std::unique_ptr<bench::UnicastGroup> uni;
	std::unique_ptr<keytree::KeyTreeServer> tree;
	IdLayout layout = IdLayout::binary(d);
	if (scheme == kFlatExtra)
		layout = *IdLayout::with_families(std::vector<uint16_t>(d, 2),
						  IdLayout::default_families(),
						  nullptr);
	if (scheme <= kFlatExtra) {
		ServerConfig cfg(layout);
		cfg.collusion = scheme == kFlatResist
					? CollusionPolicy::Resist
					: CollusionPolicy::AcceptFlagged;
		cfg.refresh = scheme == kFlatWrap ? KekRefresh::Wrap
						  : KekRefresh::Derive;
		flat = std::make_unique<FlatKeyServer>(cfg, rng, clock);
		std::vector<MemberId> all;
		all.reserve(n);
		for (size_t i = 0; i < n; i++)
			all.push_back(*layout.from_index(i));
		// In batches: what each newcomer receives (MemberKeys, ~24 KB
		// with the default families) is not kept for a million.
		for (size_t i = 0; i < n; i += 4096) {
			std::vector<MemberId> part(
				all.begin() + i,
				all.begin() + std::min(n, i + 4096));
			if (!flat->join_batch(part).ok) {
				state.SkipWithError("join failed");
				return;
			}
		}
	} else if (scheme == kLkh) {
		lkh = std::make_unique<bench::LkhTree>(d, rng);
	} else if (scheme == kTree) {
		tree = std::make_unique<keytree::KeyTreeServer>(rng);
		for (size_t i = 0; i < n; i++)
			if (!tree->join()) {
				state.SkipWithError("join failed");
				return;
			}
	} else {
		uni = std::make_unique<bench::UnicastGroup>(n, rng);
	}
	// One untimed leave and rejoin first: the allocator's clean-up after
	// the setup (glibc consolidating a million freed blocks, ~25 ms at
	// 2^20) would otherwise land in the first timed leave.
	{
		auto who = pick(g, n, k);
		if (flat) {
			std::vector<MemberId> ids;
			for (uint32_t x : who)
				ids.push_back(*layout.from_index(x));
			flat->leave_batch(ids);
			flat->join_batch(ids);
		} else if (lkh) {
			lkh->leave(who);
			lkh->rejoin(who);
		} else if (tree) {
			tree->commit(tree->plan_leave(who));
			for (size_t i = 0; i < who.size(); i++)
				tree->join();
		} else {
			uni->leave(who);
			uni->rejoin(who);
		}
	}
	Row row;
	size_t iters = 0;
	for (auto _ : state) {
		state.PauseTiming();
		auto who = pick(g, n, k);
		std::vector<MemberId> ids;
		if (flat)
			for (uint32_t x : who)
				ids.push_back(*layout.from_index(x));
		state.ResumeTiming();
		std::clock_t t0 = std::clock();
		double ms = 0;
		bench::RekeyCost c;
		if (flat) {
			RekeyResult r = flat->leave_batch(ids);
			c.wrapped = r.message.wrapped_count();
			benchmark::DoNotOptimize(r);
			ms = cpu_ms_since(t0);
			// bytes from the encoded message (outside the timing)
			c.bytes = encode(r.message).size();
			row.flagged += r.collusion.flagged;
			row.residual += r.collusion.residual;
		} else if (lkh) {
			c = lkh->leave(who);
			ms = cpu_ms_since(t0);
		} else if (tree) {
			auto p = tree->plan_leave(who);
			bool done = tree->commit(p);
			ms = cpu_ms_since(t0);
			if (!p.ok || !done) {
				state.SkipWithError("tree leave failed");
				return;
			}
			c.wrapped = p.message.wraps.size();
			// bytes from the encoded message (outside the timing)
			c.bytes = keytree::encode(p.message).size();
		} else {
			c = uni->leave(who);
			ms = cpu_ms_since(t0);
		}
		state.PauseTiming();
		row.cpu_ms += ms;
		row.cpu_s.push_back(ms);
		row.wrapped += c.wrapped;
		row.bytes += c.bytes;
		row.wrapped_s.push_back(double(c.wrapped));
		row.bytes_s.push_back(double(c.bytes));
		iters++;
		if (flat)
			flat->join_batch(ids);
		else if (lkh)
			lkh->rejoin(who);
		else if (tree)
			for (size_t i = 0; i < who.size(); i++)
				tree->join();
		else
			uni->rejoin(who);
		state.ResumeTiming();
	}
	if (iters == 0)
		return;
	row.wrapped /= iters;
	row.bytes /= iters;
	row.cpu_ms /= iters;
	row.flagged /= iters;
	row.residual /= iters;
	if (flat) {
		StorageStats st = flat->storage();
		row.server_bytes = st.server_key_bytes + st.server_member_bytes;
		row.member_bytes = st.member_key_bytes;
	} else if (lkh) {
		row.server_bytes = lkh->server_bytes();
		row.member_bytes = lkh->member_bytes();
	} else if (tree) {
		row.server_bytes = tree->server_bytes();
		row.member_bytes = tree->member_bytes();
	} else {
		row.server_bytes = uni->server_bytes();
		row.member_bytes = uni->member_bytes();
	}
	row.have = true;
	state.counters["wrapped"] = row.wrapped;
	state.counters["bytes"] = row.bytes;
	state.counters["server_B"] = double(row.server_bytes);
	state.counters["member_B"] = double(row.member_bytes);
	if (flat) {
		state.counters["flagged"] = row.flagged;
		state.counters["residual"] = row.residual;
	}
	(*results)[{d, k}][scheme] = row;
}

// The six schemes of the flat table's tables (tree has its own).
bool complete(const Row *r)
{
	for (int s = 0; s < kTree; s++)
		if (!r[s].have)
			return false;
	return true;
}

double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	size_t m = v.size() / 2;
	return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double lowest(const std::vector<double> &v)
{
	return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

double highest(const std::vector<double> &v)
{
	return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}

void print_tree_summary(const Results &results)
{
	printf("\nKey tree against LKH per leave operation: medians over the iterations;\n"
	       "CPU spread min..max (other builds share the 2 cores)\n");
	printf("%-7s %5s %3s | %7s %7s %6s | %8s %8s %6s | %8s %17s %8s %17s %6s\n",
	       "N", "k", "it", "tree", "lkh", "t/lkh", "tree B", "lkh B",
	       "t/lkh", "tree ms", "(min..max)", "lkh ms", "(min..max)",
	       "t/lkh");
	for (const auto &kv : results) {
		const Row &t = kv.second[kTree], &l = kv.second[kLkh];
		if (!t.have || !l.have)
			continue;
		double tw = median(t.wrapped_s), lw = median(l.wrapped_s);
		double tb = median(t.bytes_s), lb = median(l.bytes_s);
		double tc = median(t.cpu_s), lc = median(l.cpu_s);
		printf("2^%-5u %5u %3zu | %7.0f %7.0f %6.3f | %8.0f %8.0f %6.3f | %8.3f %8.3f..%-8.3f %8.3f %8.3f..%-8.3f %6.2f\n",
		       kv.first.first, kv.first.second, t.cpu_s.size(), tw,
		       lw, tw / lw, tb, lb, tb / lb, tc, lowest(t.cpu_s),
		       highest(t.cpu_s), lc, lowest(l.cpu_s),
		       highest(l.cpu_s), tc / lc);
	}
	printf("\nKey storage, bytes: tree (allocated node state: 32-byte key and a\n"
	       "4-byte member count per node; a member: its path keys) against lkh\n");
	printf("%-7s | %12s %12s %6s | %8s %8s %6s\n", "N", "tree server",
	       "lkh server", "t/lkh", "tree mbr", "lkh mbr", "t/lkh");
	unsigned last = 0;
	for (const auto &kv : results) {
		const Row &t = kv.second[kTree], &l = kv.second[kLkh];
		if (kv.first.first == last || !t.have || !l.have)
			continue;
		last = kv.first.first;
		printf("2^%-5u | %12zu %12zu %6.3f | %8zu %8zu %6.3f\n", last,
		       t.server_bytes, l.server_bytes,
		       double(t.server_bytes) / double(l.server_bytes),
		       t.member_bytes, l.member_bytes,
		       double(t.member_bytes) / double(l.member_bytes));
	}
}

void print_summary(const Results &results)
{
	printf("\nWrapped keys per leave operation (averages over the iterations above)\n");
	printf("%-7s %5s | %8s %9s %8s %8s %8s %8s | %6s %6s %7s %6s %8s | %5s %6s %6s\n",
	       "N", "k", "flat", "flat-wrap", "flat-res", "flat-fam", "lkh",
	       "unicast", "f/lkh", "fw/lkh", "fr/lkh", "fm/lkh", "f/uni",
	       "flag%", "resid%", "mres%");
	for (const auto &kv : results) {
		const Row *r = kv.second;
		if (!complete(r))
			continue;
		double l = r[kLkh].wrapped;
		printf("2^%-5u %5u | %8.0f %9.0f %8.0f %8.0f %8.0f %8.0f | %6.3f %6.3f %7.3f %6.3f %8.5f | %4.0f%% %5.0f%% %5.0f%%\n",
		       kv.first.first, kv.first.second, r[kFlat].wrapped,
		       r[kFlatWrap].wrapped, r[kFlatResist].wrapped,
		       r[kFlatExtra].wrapped, l, r[kUnicast].wrapped,
		       r[kFlat].wrapped / l, r[kFlatWrap].wrapped / l,
		       r[kFlatResist].wrapped / l, r[kFlatExtra].wrapped / l,
		       r[kFlat].wrapped / r[kUnicast].wrapped,
		       100.0 * r[kFlat].flagged, 100.0 * r[kFlat].residual,
		       100.0 * r[kFlatExtra].residual);
	}
	printf("\nMessage bytes per leave operation (compact format, same layout for all)\n");
	printf("%-7s %5s | %9s %9s %9s %9s %9s %9s | %6s %6s %7s %6s %8s\n", "N",
	       "k", "flat", "flat-wrap", "flat-res", "flat-fam", "lkh", "unicast",
	       "f/lkh", "fw/lkh", "fr/lkh", "fm/lkh", "f/uni");
	for (const auto &kv : results) {
		const Row *r = kv.second;
		if (!complete(r))
			continue;
		double l = r[kLkh].bytes;
		printf("2^%-5u %5u | %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f | %6.3f %6.3f %7.3f %6.3f %8.5f\n",
		       kv.first.first, kv.first.second, r[kFlat].bytes,
		       r[kFlatWrap].bytes, r[kFlatResist].bytes,
		       r[kFlatExtra].bytes, l, r[kUnicast].bytes,
		       r[kFlat].bytes / l, r[kFlatWrap].bytes / l,
		       r[kFlatResist].bytes / l, r[kFlatExtra].bytes / l,
		       r[kFlat].bytes / r[kUnicast].bytes);
	}
	printf("\nServer CPU time per leave operation, ms (other builds share the 2 cores)\n");
	printf("%-7s %5s | %8s %9s %8s %8s %8s %8s | %6s %6s %6s\n", "N", "k",
	       "flat", "flat-wrap", "flat-res", "flat-fam", "lkh", "unicast",
	       "f/lkh", "fm/lkh", "f/uni");
	for (const auto &kv : results) {
		const Row *r = kv.second;
		if (!complete(r))
			continue;
		double l = r[kLkh].cpu_ms;
		printf("2^%-5u %5u | %8.3f %9.3f %8.3f %8.3f %8.3f %8.3f | %6.2f %6.2f %6.3f\n",
		       kv.first.first, kv.first.second, r[kFlat].cpu_ms,
		       r[kFlatWrap].cpu_ms, r[kFlatResist].cpu_ms,
		       r[kFlatExtra].cpu_ms, l, r[kUnicast].cpu_ms,
		       r[kFlat].cpu_ms / l, r[kFlatExtra].cpu_ms / l,
		       r[kFlat].cpu_ms / r[kUnicast].cpu_ms);
	}
	printf("\nKey storage, bytes (32-byte key + 12 bytes of ID/version/revision each;\n"
	       "flat server: table keys + individual keys + member IDs)\n");
	printf("%-7s | %12s %12s %12s %12s | %8s %8s %8s %8s\n", "N",
	       "flat server", "fam srv", "lkh server", "uni server",
	       "flat mbr", "fam mbr", "lkh mbr", "uni mbr");
	unsigned last = 0;
	for (const auto &kv : results) {
		if (kv.first.first == last || !complete(kv.second))
			continue;
		last = kv.first.first;
		const Row *r = kv.second;
		printf("2^%-5u | %12zu %12zu %12zu %12zu | %8zu %8zu %8zu %8zu\n",
		       last, r[kFlat].server_bytes, r[kFlatExtra].server_bytes,
		       r[kLkh].server_bytes, r[kUnicast].server_bytes,
		       r[kFlat].member_bytes, r[kFlatExtra].member_bytes,
		       r[kLkh].member_bytes, r[kUnicast].member_bytes);
	}
}

} // namespace

int main(int argc, char **argv)
{
	Results results;
	// GROUPSEC_BENCH_MAX_LOG2N limits N for a quick run.
	unsigned max_d = 20;
	if (const char *e = getenv("GROUPSEC_BENCH_MAX_LOG2N"))
		max_d = static_cast<unsigned>(atoi(e));
	for (unsigned d : {8u, 12u, 16u, 20u}) {
		if (d > max_d)
			continue;
		int iters = d <= 8 ? 64 : d <= 12 ? 16 : d <= 16 ? 6 : 3;
		// tree and lkh: at least 16 leaves for the medians
		int tree_iters = std::max(iters, 16);
		for (unsigned k : {1u, 4u, 16u, 64u, 256u, 1024u}) {
			if (k > (1u << d) / 4)
				continue;
			for (int s = 0; s < kSchemes; s++) {
				std::string name = std::string("rekey/") +
						   kNames[s] + "/N:2^" +
						   std::to_string(d) + "/k:" +
						   std::to_string(k);
				benchmark::RegisterBenchmark(
					name.c_str(),
					[&results, s, d, k](benchmark::State &st) {
						run(st, &results, Scheme(s), d, k);
					})
					->Iterations(s == kTree || s == kLkh
							     ? tree_iters
							     : iters)
					->Unit(benchmark::kMillisecond);
			}
		}
	}
	benchmark::Initialize(&argc, argv);
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	print_summary(results);
	print_tree_summary(results);
	return 0;
}
