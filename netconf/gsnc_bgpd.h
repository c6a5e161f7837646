/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: bgpd's `crypto gdoi` configuration as text.
 *
 * bgpd writes its groups in `show running-config` as blocks of the CLI
 * (core/gsa_gdoi.h, gsa_gdoi_config_text). These functions cut that text
 * into blocks, read a block back into the core's model (the same edits the
 * CLI makes), and run vtysh. No yuma header here.
 */
#ifndef GSNC_BGPD_H
#define GSNC_BGPD_H

#include <stdbool.h>
#include <stddef.h>

#include "gsa_gdoi.h"

/** The `crypto gdoi group` blocks of a running configuration, in order. */
struct gsnc_blocks {
	size_t n;
	char **names; /* group names */
	char **text;  /* the whole block, "crypto gdoi group NAME\n ...\nexit\n!\n" */
};

/** Cut text into blocks; 0, or -1 if out of memory. */
int gsnc_blocks_parse(const char *text, struct gsnc_blocks *b);
void gsnc_blocks_free(struct gsnc_blocks *b);
/** The block of a group, NULL if there is none. */
const char *gsnc_blocks_find(const struct gsnc_blocks *b, const char *name);

/**
 * One line of a block (without the leading space) as the CLI edit it is:
 * field, index (sa ipsec), value and value2 point into a copy the caller
 * frees (*buf). 0, or -1 if the line is not a `crypto gdoi` sub-command.
 */
int gsnc_line_edit(const char *line, enum gsa_gdoi_field *field, unsigned *index, const char **value,
		   const char **value2, char **buf);

/** The model of all blocks (each line applied with gsa_gdoi_edit); NULL on error. */
struct gsa_gdoi *gsnc_blocks_model(const struct gsnc_blocks *b);

/**
 * Run vtysh with the commands (each one -c, NULL-ended); daemon NULL for all.
 * *out gets what it printed (stdout and stderr), to free. Returns its exit
 * status, or -1 if it could not be run or took longer than timeout_s.
 */
int gsnc_vtysh(const char *vtysh, const char *daemon, const char *const *commands, int timeout_s, char **out);

#endif /* GSNC_BGPD_H */
