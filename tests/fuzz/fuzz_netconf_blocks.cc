// SPDX-License-Identifier: GPL-2.0-or-later
// Fuzz target for the NETCONF agent's core (netconf/core/gsnc_text.h): the
// input, cut in two at its first NUL (or taken whole twice), is read as two
// running configurations of bgpd. Nothing crashes; every block found names
// its group and starts with its header; every line of a block the model
// accepts reads back as a CLI edit; the commands from one configuration to
// the other begin with "configure terminal", and none from a configuration
// to itself.
#include <cstdlib>
#include <cstring>
#include <string>

#include "../../netconf/core/gsnc_text.h"
#include "../../bgpd-plugin/core/gsa_gdoi.h"

static void check_blocks(const gsnc_blocks &b)
{
	for (size_t i = 0; i < b.n; i++) {
		std::string header = std::string("crypto gdoi group ") + b.names[i] + "\n";
		if (std::string(b.text[i]).rfind(header, 0) != 0)
			abort();
		if (gsnc_blocks_find(&b, b.names[i]) == nullptr)
			abort();
	}
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const std::string all(reinterpret_cast<const char *>(data), size);
	size_t cut = all.find('\0');
	std::string a = all.substr(0, cut), b = cut == std::string::npos ? a : all.substr(cut + 1);
	b = b.substr(0, b.find('\0'));

	gsnc_blocks from{}, to{};
	if (gsnc_blocks_parse(a.c_str(), &from) || gsnc_blocks_parse(b.c_str(), &to))
		abort();
	check_blocks(from);
	check_blocks(to);

	// every line on its own
	for (size_t i = 0; i < from.n; i++) {
		const char *p = strchr(from.text[i], '\n');
		while (p && *++p) {
			const char *eol = strchr(p, '\n');
			std::string line(p, eol ? static_cast<size_t>(eol - p) : strlen(p));
			gsa_gdoi_field f;
			unsigned idx;
			const char *v, *v2;
			char *buf;
			if (gsnc_line_edit(line.c_str(), &f, &idx, &v, &v2, &buf) == 0) {
				if (f != GSA_GDOI_SERVER_LOCAL && (!v || !*v))
					abort();
				free(buf);
			}
			p = eol;
		}
	}

	// the model of what parses writes blocks that parse into the same model
	gsa_gdoi *m = gsnc_blocks_model(&from);
	if (m) {
		gsnc_blocks again{};
		if (gsnc_model_blocks(m, &again))
			abort();
		gsa_gdoi *m2 = gsnc_blocks_model(&again);
		if (!m2 || !gsa_gdoi_same_settings(m, m2))
			abort();
		gsa_gdoi_free(m2);
		gsnc_blocks_free(&again);
		gsa_gdoi_free(m);
	}

	size_t changed = 0;
	char **c = gsnc_transition(&from, &to, &changed);
	if (!c || strcmp(c[0], "configure terminal") != 0)
		abort();
	gsnc_cmds_free(c);
	c = gsnc_transition(&from, &from, &changed);
	if (!c || c[1] != nullptr || changed != 0)
		abort();
	gsnc_cmds_free(c);

	gsnc_blocks_drop_incomplete(&from);
	check_blocks(from);
	gsnc_blocks_free(&from);
	gsnc_blocks_free(&to);
	return 0;
}
