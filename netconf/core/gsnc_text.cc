// SPDX-License-Identifier: GPL-2.0-or-later
// groupsec NETCONF agent core: bgpd's `crypto gdoi` blocks as text.

#include "gsnc_text.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "../../bgpd-plugin/core/gsa_core.h"

namespace {

const char kGroupPrefix[] = "crypto gdoi group ";

std::vector<std::string> split_lines(const std::string &text)
{
	std::vector<std::string> out;
	size_t p = 0;
	while (p < text.size()) {
		size_t eol = text.find('\n', p);
		if (eol == std::string::npos)
			eol = text.size();
		out.push_back(text.substr(p, eol - p));
		p = eol + 1;
	}
	return out;
}

bool starts(const std::string &s, const char *prefix)
{
	return s.compare(0, strlen(prefix), prefix) == 0;
}

char *dup(const std::string &s)
{
	char *p = static_cast<char *>(malloc(s.size() + 1));
	if (p)
		memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

using Blocks = std::vector<std::pair<std::string, std::string>>;

int to_c(const Blocks &blocks, gsnc_blocks *b)
{
	memset(b, 0, sizeof(*b));
	if (blocks.empty())
		return 0;
	b->names = static_cast<char **>(calloc(blocks.size(), sizeof(char *)));
	b->text = static_cast<char **>(calloc(blocks.size(), sizeof(char *)));
	if (!b->names || !b->text) {
		gsnc_blocks_free(b);
		return -1;
	}
	for (const auto &[name, text] : blocks) {
		b->names[b->n] = dup(name);
		b->text[b->n] = dup(text);
		b->n++;
		if (!b->names[b->n - 1] || !b->text[b->n - 1]) {
			gsnc_blocks_free(b);
			return -1;
		}
	}
	return 0;
}

// the sub-command lines of a normalized block (its header left out)
std::vector<std::string> body(const std::string &block)
{
	std::vector<std::string> lines = split_lines(block);
	if (!lines.empty())
		lines.erase(lines.begin());
	return lines;
}

// What a line sets: lines with the same key replace each other (a list
// entry, or `server local`, is its own key).
std::string line_key(const std::string &line)
{
	static const char *const scalars[] = {
	        "identity number ",	  "server identity ",	   "local identity ",  "authentication ",
	        "rekey lifetime seconds ", "rekey authentication ", "rekey transport ", "rekey address ",
	        "rekey algorithm ",	  "sa lifetime seconds ",  "liveness seconds ",
	};
	for (const char *p : scalars)
		if (line.size() > strlen(p) && starts(line, p))
			return p;
	if (starts(line, "sa ipsec ")) {
		size_t sp = line.find(' ', 9);
		size_t sp2 = sp == std::string::npos ? sp : line.find(' ', sp + 1);
		if (sp2 != std::string::npos)
			return line.substr(0, sp2 + 1);
	}
	return line;
}

bool is_server(const std::string &block)
{
	for (const std::string &l : body(block))
		if (l == "server local")
			return true;
	return false;
}

} // namespace

extern "C" void gsnc_blocks_free(struct gsnc_blocks *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->names ? b->names[i] : nullptr);
		free(b->text ? b->text[i] : nullptr);
	}
	free(b->names);
	free(b->text);
	memset(b, 0, sizeof(*b));
}

extern "C" int gsnc_blocks_parse(const char *text, struct gsnc_blocks *b)
{
	try {
		Blocks blocks;
		std::vector<std::string> lines = split_lines(text ? text : "");
		for (size_t i = 0; i < lines.size(); i++) {
			const std::string &l = lines[i];
			if (!starts(l, kGroupPrefix) || l.size() == strlen(kGroupPrefix))
				continue;
			std::string name = l.substr(strlen(kGroupPrefix)), block = l + "\n";
			// its indented lines, then "exit" and "!" if they follow
			while (i + 1 < lines.size() && !lines[i + 1].empty() && lines[i + 1][0] == ' ') {
				size_t first = lines[++i].find_first_not_of(' ');
				if (first != std::string::npos)
					block += lines[i].substr(first) + "\n";
			}
			if (i + 1 < lines.size() && lines[i + 1] == "exit")
				i++;
			if (i + 1 < lines.size() && lines[i + 1] == "!")
				i++;
			// a group written twice is one: its lines are added
			bool merged = false;
			for (auto &[n, t] : blocks) {
				if (n == name) {
					t += block.substr(block.find('\n') + 1);
					merged = true;
				}
			}
			if (!merged)
				blocks.emplace_back(std::move(name), std::move(block));
		}
		return to_c(blocks, b);
	} catch (const std::bad_alloc &) {
		memset(b, 0, sizeof(*b));
		return -1;
	}
}

extern "C" const char *gsnc_blocks_find(const struct gsnc_blocks *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->names[i], name) == 0)
			return b->text[i];
	return nullptr;
}

extern "C" char *gsnc_blocks_joined(const struct gsnc_blocks *b)
{
	try {
		std::string out;
		for (size_t i = 0; i < b->n; i++)
			out += b->text[i];
		return dup(out);
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" int gsnc_line_edit(const char *line, enum gsa_gdoi_field *field, unsigned *index, const char **value,
			      const char **value2, char **buf)
{
	static const struct {
		const char *prefix;
		gsa_gdoi_field field;
		bool two; // value and value2
	} lines[] = {
	        {"identity number ", GSA_GDOI_NUMBER, false},
	        {"server address ", GSA_GDOI_SERVER_ADDRESS, false},
	        {"server identity ", GSA_GDOI_SERVER_IDENTITY, false},
	        {"local identity ", GSA_GDOI_LOCAL_IDENTITY, false},
	        {"local address ", GSA_GDOI_LOCAL_ADDRESS, false},
	        {"member identity ", GSA_GDOI_MEMBER, false},
	        {"authentication ", GSA_GDOI_AUTH, false},
	        {"rekey lifetime seconds ", GSA_GDOI_REKEY_LIFETIME, false},
	        {"rekey authentication ", GSA_GDOI_REKEY_AUTH, false},
	        {"rekey transport ", GSA_GDOI_REKEY_TRANSPORT, true},
	        {"rekey address ", GSA_GDOI_REKEY_ADDRESS, false},
	        {"rekey algorithm ", GSA_GDOI_REKEY_ALGORITHM, false},
	        {"sa lifetime seconds ", GSA_GDOI_SA_LIFETIME, false},
	        {"liveness seconds ", GSA_GDOI_LIVENESS, false},
	};
	char *copy, *sp;

	*index = 0;
	*value = *value2 = nullptr;
	*buf = nullptr;
	if (strcmp(line, "server local") == 0) {
		*field = GSA_GDOI_SERVER_LOCAL;
		return 0;
	}
	for (const auto &l : lines) {
		size_t n = strlen(l.prefix);
		if (strncmp(line, l.prefix, n) != 0 || !line[n] || line[n] == ' ')
			continue;
		if (!(copy = strdup(line + n)))
			return -1;
		*field = l.field;
		*value = copy;
		if ((sp = strchr(copy, ' '))) {
			*sp = '\0';
			if (!l.two || !sp[1] || strchr(sp + 1, ' ')) {
				free(copy);
				*value = nullptr;
				return -1;
			}
			*value2 = sp + 1;
		}
		*buf = copy;
		return 0;
	}
	if (strncmp(line, "sa ipsec ", 9) == 0) {
		char *end;
		if (line[9] < '0' || line[9] > '9')
			return -1;
		unsigned long idx = strtoul(line + 9, &end, 10);
		if (idx < 1 || idx > 65535 || *end != ' ')
			return -1;
		if (!(copy = strdup(end + 1)))
			return -1;
		char *rest = nullptr;
		if (strncmp(copy, "profile ", 8) == 0) {
			*field = GSA_GDOI_SA_PROFILE;
			rest = copy + 8;
		} else if (strncmp(copy, "match address ", 14) == 0) {
			*field = GSA_GDOI_SA_MATCH;
			rest = copy + 14;
		}
		if (!rest || !*rest || *rest == ' ') {
			free(copy);
			return -1;
		}
		if ((sp = strchr(rest, ' '))) {
			*sp = '\0';
			if (*field != GSA_GDOI_SA_MATCH || !sp[1] || strchr(sp + 1, ' ')) {
				free(copy);
				return -1;
			}
			*value2 = sp + 1;
		}
		*index = static_cast<unsigned>(idx);
		*value = rest;
		*buf = copy;
		return 0;
	}
	return -1;
}

extern "C" struct gsa_gdoi *gsnc_blocks_model(const struct gsnc_blocks *b)
{
	struct gsa_gdoi *cfg = gsa_gdoi_new();
	char err[256];

	if (!cfg)
		return nullptr;
	try {
		for (size_t i = 0; i < b->n; i++) {
			if (gsa_gdoi_add_group(cfg, b->names[i], err, sizeof(err)))
				throw std::bad_alloc();
			for (const std::string &l : body(b->text[i])) {
				gsa_gdoi_field f;
				unsigned idx;
				const char *v, *v2;
				char *buf;
				if (gsnc_line_edit(l.c_str(), &f, &idx, &v, &v2, &buf))
					throw std::bad_alloc();
				int rc = gsa_gdoi_edit(cfg, b->names[i], f, false, idx, v, v2, err, sizeof(err));
				free(buf);
				if (rc)
					throw std::bad_alloc();
			}
		}
		return cfg;
	} catch (const std::bad_alloc &) {
		gsa_gdoi_free(cfg);
		return nullptr;
	}
}

extern "C" int gsnc_model_blocks(const struct gsa_gdoi *cfg, struct gsnc_blocks *b)
{
	char *text = gsa_gdoi_config_text(cfg);
	int rc;

	if (!text) {
		memset(b, 0, sizeof(*b));
		return -1;
	}
	rc = gsnc_blocks_parse(text, b);
	gsa_core_free(text);
	return rc;
}

extern "C" void gsnc_blocks_drop_incomplete(struct gsnc_blocks *b)
{
	struct gsa_gdoi *model = gsnc_blocks_model(b);
	size_t j = 0;

	for (size_t i = 0; i < b->n; i++) {
		char *missing = model ? gsa_gdoi_missing(model, b->names[i]) : nullptr;
		bool keep = missing && !*missing;

		gsa_core_free(missing);
		if (keep) {
			b->names[j] = b->names[i];
			b->text[j++] = b->text[i];
		} else {
			free(b->names[i]);
			free(b->text[i]);
		}
	}
	b->n = j;
	gsa_gdoi_free(model);
}

extern "C" char **gsnc_transition(const struct gsnc_blocks *from, const struct gsnc_blocks *to, size_t *changed)
{
	try {
		std::vector<std::string> cmds = {"configure terminal"};
		*changed = 0;
		for (size_t i = 0; i < from->n; i++) {
			const char *t = gsnc_blocks_find(to, from->names[i]);
			if (!t || is_server(t) != is_server(from->text[i])) {
				cmds.push_back(std::string("no ") + kGroupPrefix + from->names[i]);
				(*changed)++;
			}
		}
		for (size_t i = 0; i < to->n; i++) {
			const char *f = gsnc_blocks_find(from, to->names[i]);
			std::string block = to->text[i];
			std::vector<std::string> want = body(block);
			if (f && block == f)
				continue;
			if (!f || is_server(f) != is_server(block))
				(*changed) += f ? 0 : 1;
			else
				(*changed)++;
			cmds.push_back(kGroupPrefix + std::string(to->names[i]));
			if (f && is_server(f) == is_server(block)) {
				std::vector<std::string> have = body(f);
				auto has = [](const std::vector<std::string> &v, const std::string &s) {
					for (const std::string &x : v)
						if (x == s)
							return true;
					return false;
				};
				for (const std::string &l : want)
					if (!has(have, l))
						cmds.push_back(l);
				for (const std::string &l : have) {
					bool replaced = false;
					for (const std::string &w : want)
						replaced = replaced || line_key(w) == line_key(l);
					if (!replaced)
						cmds.push_back("no " + l);
				}
			} else {
				std::string last;
				for (const std::string &l : want) {
					if (starts(l, "local identity "))
						last = l;
					else
						cmds.push_back(l);
				}
				if (!last.empty())
					cmds.push_back(last);
			}
			cmds.push_back("exit");
		}
		char **out = static_cast<char **>(calloc(cmds.size() + 1, sizeof(char *)));
		if (!out)
			return nullptr;
		for (size_t i = 0; i < cmds.size(); i++) {
			if (!(out[i] = dup(cmds[i]))) {
				gsnc_cmds_free(out);
				return nullptr;
			}
		}
		return out;
	} catch (const std::bad_alloc &) {
		return nullptr;
	}
}

extern "C" void gsnc_cmds_free(char **cmds)
{
	for (char **c = cmds; c && *c; c++)
		free(*c);
	free(cmds);
}
