/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent core: bgpd's `crypto gdoi` configuration as text
 * (the C interface of gsnc_text.cc; no yuma, FRR or strongSwan header).
 *
 * bgpd writes its groups in `show running-config` as blocks of CLI lines
 * (bgpd-plugin/core/gsa_gdoi.h, gsa_gdoi_config_text). This core cuts such
 * text into blocks, reads a block's lines as the CLI edits they are (into
 * the same model), and computes the vtysh commands that turn one set of
 * blocks into another.
 */
#ifndef GSNC_TEXT_H
#define GSNC_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "../../bgpd-plugin/core/gsa_gdoi.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The `crypto gdoi group` blocks of a configuration, in order, normalized:
 * "crypto gdoi group NAME\n" then each sub-command on a line of its own,
 * without indentation, "exit" or "!".
 */
struct gsnc_blocks {
	size_t n;
	char **names;
	char **text;
};

/** Cut text into blocks; 0, or -1 if out of memory (b is then empty). */
int gsnc_blocks_parse(const char *text, struct gsnc_blocks *b);
void gsnc_blocks_free(struct gsnc_blocks *b);
/** The block of a group, NULL if there is none. */
const char *gsnc_blocks_find(const struct gsnc_blocks *b, const char *name);
/** All blocks one after the other (to compare two readings); NULL if out of memory. */
char *gsnc_blocks_joined(const struct gsnc_blocks *b);

/**
 * One sub-command line as the CLI edit it is: field, index (sa ipsec),
 * value and value2 point into *buf, which the caller frees (free()).
 * 0, or -1 if the line is not a `crypto gdoi group` sub-command.
 */
int gsnc_line_edit(const char *line, enum gsa_gdoi_field *field, unsigned *index, const char **value,
		   const char **value2, char **buf);

/** The model of all blocks (each line applied as its edit); NULL if one does not apply. */
struct gsa_gdoi *gsnc_blocks_model(const struct gsnc_blocks *b);

/** The blocks of a model; 0, or -1 if out of memory. */
int gsnc_model_blocks(const struct gsa_gdoi *cfg, struct gsnc_blocks *b);

/** Leave out the blocks of groups the model says are incomplete (or all, if b has no model). */
void gsnc_blocks_drop_incomplete(struct gsnc_blocks *b);

/**
 * The vtysh commands ("configure terminal", ..., NULL) that make the
 * blocks `from` into `to`: a group that goes or changes role is removed;
 * a new group comes whole, its `local identity` last (bgpd sends it to
 * charon once, complete); a group that changes otherwise is edited in
 * place: its new lines, then `no` of the lines no longer there (a line
 * setting what a new line sets is replaced by it). changed counts the
 * groups touched. NULL if out of memory. Free with gsnc_cmds_free().
 */
char **gsnc_transition(const struct gsnc_blocks *from, const struct gsnc_blocks *to, size_t *changed);
void gsnc_cmds_free(char **cmds);

#ifdef __cplusplus
}
#endif

#endif /* GSNC_TEXT_H */
