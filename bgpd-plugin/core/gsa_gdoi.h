/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec bgpd module: the `crypto gdoi` configuration (the C interface of
 * the C++ model in gsa_gdoi.cc).
 *
 * The groups an operator configures in bgpd's CLI, held as the CLI says
 * them and turned into the gdoi plugin's group settings (docs/gdoi-config.md)
 * for the control socket's check-config and load-config: each CLI command
 * is an edit of a copy, and the copy replaces the configuration only once
 * the key server took it. A group is sent only when it is complete (it
 * has every setting its role requires); charon validates what is sent.
 * The CLI text of each command maps to one setting, see docs/operator-guide.md.
 */
#ifndef GSA_GDOI_H
#define GSA_GDOI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gsa_gdoi;

/** What one `crypto gdoi group` sub-command sets. */
enum gsa_gdoi_field {
	GSA_GDOI_NUMBER,	  /**< identity number N: group_id */
	GSA_GDOI_SERVER_LOCAL,	  /**< server local: role = server */
	GSA_GDOI_SERVER_ADDRESS,  /**< server address A: servers, role member */
	GSA_GDOI_SERVER_IDENTITY, /**< server identity ID: server_id */
	GSA_GDOI_LOCAL_IDENTITY,  /**< local identity ID: local_id */
	GSA_GDOI_LOCAL_ADDRESS,	  /**< local address A: listen / local_addrs */
	GSA_GDOI_MEMBER,	  /**< member identity ID: members */
	GSA_GDOI_AUTH,		  /**< authentication psk|pubkey: auth */
	GSA_GDOI_REKEY_LIFETIME,  /**< rekey lifetime seconds N: kek_lifetime */
	GSA_GDOI_REKEY_AUTH,	  /**< rekey authentication ...: rekey_auth */
	GSA_GDOI_REKEY_TRANSPORT, /**< rekey transport T [A]: rekey (multicast A) */
	GSA_GDOI_REKEY_ADDRESS,	  /**< rekey address A: multicast (members) */
	GSA_GDOI_REKEY_ALGORITHM, /**< rekey algorithm P: rekey_proposal */
	GSA_GDOI_SA_LIFETIME,	  /**< sa lifetime seconds N: tek_lifetime */
	GSA_GDOI_SA_PROFILE,	  /**< sa ipsec I profile P: tek-I.esp_proposal */
	GSA_GDOI_SA_MATCH,	  /**< sa ipsec I match address L R: tek-I.*_ts */
	GSA_GDOI_SA,		  /**< no sa ipsec I: the whole TEK */
	GSA_GDOI_LIVENESS,	  /**< liveness seconds N: liveness (members) */
};

struct gsa_gdoi *gsa_gdoi_new(void);
struct gsa_gdoi *gsa_gdoi_copy(const struct gsa_gdoi *cfg);
void gsa_gdoi_free(struct gsa_gdoi *cfg);

/**
 * Create the group (`crypto gdoi group NAME`); nothing if it exists.
 * -1 and err if NAME is not a group name (letters, digits, '-', '_').
 */
int gsa_gdoi_add_group(struct gsa_gdoi *cfg, const char *name, char *err,
		       size_t errsize);
/** Remove it; -1 and err if there is none. */
int gsa_gdoi_remove_group(struct gsa_gdoi *cfg, const char *name, char *err,
			  size_t errsize);
bool gsa_gdoi_has_group(const struct gsa_gdoi *cfg, const char *name);

/**
 * Set (no false) or remove (no true) a field of a group. index is the
 * `sa ipsec` number; value (and value2 for a match) the CLI's words; a
 * removal of a list entry (server address, local address, member) names
 * it in value, others take no value. 0, or -1 and err (nothing changed).
 */
int gsa_gdoi_edit(struct gsa_gdoi *cfg, const char *group,
		  enum gsa_gdoi_field field, bool no, uint32_t index,
		  const char *value, const char *value2, char *err,
		  size_t errsize);

/**
 * The settings of the complete groups as control-socket arguments
 * ("groups.NAME.key", "value", ..., NULL) after "source", source; an empty
 * `groups` section when none is complete. Free with gsa_gdoi_args_free().
 */
char **gsa_gdoi_request_args(const struct gsa_gdoi *cfg, const char *source);
void gsa_gdoi_args_free(char **args);

/** Whether both send the same settings (the same complete groups). */
bool gsa_gdoi_same_settings(const struct gsa_gdoi *a,
			    const struct gsa_gdoi *b);

/**
 * What a group lacks to be sent ("local identity, sa ipsec match
 * address"), "" when complete; NULL if there is no such group. Free with
 * gsa_core_free().
 */
char *gsa_gdoi_missing(const struct gsa_gdoi *cfg, const char *group);

/** The names of the groups, in order; n set. Valid until the next edit. */
const char *const *gsa_gdoi_groups(const struct gsa_gdoi *cfg, size_t *n);

/**
 * The `crypto gdoi` blocks for show running-config, "" if none. Free with
 * gsa_core_free().
 */
char *gsa_gdoi_config_text(const struct gsa_gdoi *cfg);

#ifdef __cplusplus
}
#endif

#endif /* GSA_GDOI_H */
