// SPDX-License-Identifier: GPL-2.0-or-later
// Runs a libFuzzer target without libFuzzer, so that every fuzz target also
// runs under `make check` with the regular compiler: each file or folder
// named on the command line is fed to the target, then a fixed-seed stream
// of random and mutated inputs. `make fuzz` builds the same targets with
// clang's -fsanitize=fuzzer for coverage-guided runs.
//
// `make check` runs each target twice: built with the regular compiler
// (tests/fuzz/NAME) and built with clang -fsanitize=address,undefined
// (fuzz-replay/NAME.san).
//
// A replay without seeds would pass while testing little, so it fails (exit
// status 2) when the target's corpus folder GROUPSEC_FUZZ_CORPUS/NAME (set by
// `make check`) is missing, a folder holds no input, an input cannot be
// read, or no seed is given at all.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <random>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace {

std::vector<std::vector<uint8_t>> corpus;

[[noreturn]] void fail(const std::string &path, const char *what)
{
	fprintf(stderr, "replay: %s: %s\n", path.c_str(), what);
	exit(2);
}

// Adds the file at path, or every file under the folder at path, to the
// corpus; a folder without any input fails the replay.
void load(const std::string &path)
{
	struct stat st;
	if (stat(path.c_str(), &st) != 0)
		fail(path, "not found");
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path.c_str());
		if (!d)
			fail(path, "cannot open the folder");
		size_t before = corpus.size();
		while (struct dirent *e = readdir(d)) {
			if (e->d_name[0] != '.')
				load(path + "/" + e->d_name);
		}
		closedir(d);
		if (corpus.size() == before)
			fail(path, "no input in this folder");
		return;
	}
	FILE *f = fopen(path.c_str(), "rb");
	if (!f)
		fail(path, "cannot open");
	std::vector<uint8_t> data;
	uint8_t buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		data.insert(data.end(), buf, buf + n);
	bool error = ferror(f);
	fclose(f);
	if (error)
		fail(path, "cannot read");
	corpus.push_back(std::move(data));
}

} // namespace

int main(int argc, char **argv)
{
	// the seed corpus of target NAME is the folder GROUPSEC_FUZZ_CORPUS/NAME
	const char *dir = getenv("GROUPSEC_FUZZ_CORPUS");
	if (dir) {
		// NAME is the program's name up to its first dot: the sanitizer
		// replay fuzz-replay/NAME.san reads the same folder as NAME
		std::string name = argv[0];
		name = name.substr(name.rfind('/') + 1);
		name = name.substr(0, name.find('.'));
		std::string path = std::string(dir) + "/" + name;
		struct stat st;
		if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
			fail(path, "no seed corpus folder for this target");
		load(path);
	}
	for (int i = 1; i < argc; i++)
		load(argv[i]);
	size_t seeds = corpus.size();
	if (seeds == 0) {
		fprintf(stderr, "replay: no seed input: set GROUPSEC_FUZZ_CORPUS to the corpus root "
				"(tests/fuzz/corpus) or name files or folders\n");
		return 2;
	}
	for (const auto &c : corpus)
		LLVMFuzzerTestOneInput(c.data(), c.size());

	const char *env = getenv("GROUPSEC_REPLAY_RUNS");
	unsigned long runs = env ? strtoul(env, nullptr, 10) : 20000;
	std::mt19937_64 rng(0x67726f7570736563ull);
	std::vector<uint8_t> buf;
	for (unsigned long i = 0; i < runs; i++) {
		if (seeds && (i & 1)) {
			// a corpus entry with a few bytes flipped, cut or extended
			buf = corpus[rng() % seeds];
			unsigned edits = 1 + rng() % 4;
			for (unsigned e = 0; e < edits && !buf.empty(); e++)
				buf[rng() % buf.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
			if (rng() % 4 == 0)
				buf.resize(rng() % (buf.size() + 1));
			else if (rng() % 4 == 0)
				buf.push_back(static_cast<uint8_t>(rng()));
		} else {
			buf.resize(rng() % 512);
			for (auto &b : buf)
				b = static_cast<uint8_t>(rng());
		}
		LLVMFuzzerTestOneInput(buf.data(), buf.size());
	}
	printf("replay: %zu corpus inputs and %lu generated inputs, no crash\n", seeds, runs);
	return 0;
}
