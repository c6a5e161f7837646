/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec NETCONF agent: running vtysh (bgpd's CLI) from netconfd.
 */
#ifndef GSNC_VTYSH_H
#define GSNC_VTYSH_H

/**
 * Run vtysh with the commands (each one -c, NULL-ended); daemon NULL for all.
 * *out gets what it printed (stdout and stderr), to free. Returns its exit
 * status, or -1 if it could not be run or took longer than timeout_s.
 */
int gsnc_vtysh(const char *vtysh, const char *daemon, const char *const *commands, int timeout_s, char **out);

#endif /* GSNC_VTYSH_H */
