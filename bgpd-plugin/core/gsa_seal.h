/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * groupsec bgpd module: sealed routes, the C interface the FRR glue calls
 * (docs/bgp-gsa.md has every encoding byte by byte).
 *
 * - The group tag: a transitive two-octet-AS Route Target extended
 *   community (type 0x00, sub-type 0x02) whose global administrator is the
 *   VPN's AS and whose local administrator is the 32-bit group ID.
 * - The sealed attribute: an optional transitive path attribute (flags
 *   0xC0, 0xD0 with the extended length; code point 255 by default) whose
 *   value is a list (version 2) of sealed entries, one per group: each a
 *   versioned blob (version 1): group ID, key epoch, originator, nonce, the
 *   AES-256-GCM ciphertext of the private prefixes and their gateway, tag.
 * - The keyring: per group the routing key of the current key epoch (fed by
 *   the gdoi plugin's `routing-keys` command), the previous epoch accepted
 *   for a grace period, and which sealed routes need sealing again after an
 *   epoch change.
 *
 * No FRR type appears here. Every function returns GSA_SEAL_OK (0) or an
 * error code, never aborts on bad input, and writes a text into err (if
 * not NULL) saying what was wrong. Nothing changes when a call fails.
 * Not thread-safe per keyring: bgpd calls it from its main thread.
 */
#ifndef GROUPSEC_GSA_SEAL_H
#define GROUPSEC_GSA_SEAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- code points and sizes --- */

/* Optional (0x80) | Transitive (0x40); Partial (0x20) may be set on
 * receipt; Extended Length (0x10) is added when the value exceeds 255. */
#define GSA_SEAL_ATTR_FLAGS 0xC0
/* RFC 2042: 255 is "Reserved for development" in IANA's BGP Path
 * Attributes registry. Configurable (gsa_seal_attr_*() take the code). */
#define GSA_SEAL_ATTR_DEFAULT_CODE 255
#define GSA_SEAL_VERSION 1      /* of an entry (blob) */
#define GSA_SEAL_LIST_VERSION 2 /* of the attribute's value */
/* entries of one attribute (groups naming one endpoint) */
#define GSA_SEAL_MAX_ENTRIES 32
/* AES-256-GCM, 12-octet nonce, 16-octet tag */
#define GSA_SEAL_SUITE_AES256_GCM 1
#define GSA_SEAL_KEY_BYTES 32
#define GSA_SEAL_NONCE_BYTES 12
#define GSA_SEAL_TAG_BYTES 16
/* the grace period of a previous epoch the module uses unless configured */
#define GSA_SEAL_DEFAULT_GRACE_SECS 60
/* the largest value (blob) of the attribute: its 16-bit extended length */
#define GSA_SEAL_MAX_VALUE 65535
/* the extended community */
#define GSA_COMMUNITY_BYTES 8
#define GSA_COMMUNITY_TYPE 0x00    /* transitive two-octet AS-specific */
#define GSA_COMMUNITY_SUBTYPE 0x02 /* Route Target */
/* the longest text of gsa_community_text(), with its NUL */
#define GSA_COMMUNITY_TEXT_MAX 24
/* the longest text of an error, with its NUL */
#define GSA_SEAL_ERR_MAX 160

enum gsa_seal_status {
	GSA_SEAL_OK = 0,
	GSA_SEAL_ERR_INVALID,         /* a bad argument from the caller */
	GSA_SEAL_ERR_TRUNCATED,       /* the blob or attribute ends inside a field */
	GSA_SEAL_ERR_MALFORMED,       /* a field holds a value the format forbids */
	GSA_SEAL_ERR_VERSION,         /* a blob version or suite this code does not know */
	GSA_SEAL_ERR_UNKNOWN_GROUP,   /* no key for the blob's group */
	GSA_SEAL_ERR_UNKNOWN_EPOCH,   /* neither the current nor the previous epoch */
	GSA_SEAL_ERR_EPOCH_EXPIRED,   /* the previous epoch, past its grace period */
	GSA_SEAL_ERR_BAD_TAG,         /* the AES-GCM tag does not verify */
	GSA_SEAL_ERR_TOO_LARGE,       /* the sealed value would exceed 65535 octets */
	GSA_SEAL_ERR_NOT_FOUND,       /* gsa_seal_attr_find(): no such attribute */
	GSA_SEAL_ERR_INTERNAL,        /* out of memory, or OpenSSL failed */
};

/* "ok", "invalid", "truncated", "malformed", "version", "unknown-group",
 * "unknown-epoch", "epoch-expired", "bad-tag", "too-large", "not-found",
 * "internal": a counter's name in `show` output. */
const char *gsa_seal_status_name(int status);

/* An address: family 4 (4 octets in addr) or 6 (16 octets). */
struct gsa_addr {
	uint8_t family;
	uint8_t addr[16];
};

/* A prefix: family 4 (len 0..32) or 6 (len 0..128), no bits set after len. */
struct gsa_prefix {
	uint8_t family;
	uint8_t len;
	uint8_t addr[16];
};

/* --- the group tag (Route Target extended community) --- */

/* The 8 octets 0x00 0x02 | asn (2) | group (4). */
int gsa_community_encode(uint16_t asn, uint32_t group, uint8_t out[GSA_COMMUNITY_BYTES]);
/* GSA_SEAL_OK and the AS and group if in is a two-octet-AS Route Target;
 * GSA_SEAL_ERR_MALFORMED for any other extended community. */
int gsa_community_decode(const uint8_t in[GSA_COMMUNITY_BYTES], uint16_t *asn, uint32_t *group);
/* "RT:65000:300", as FRR shows a Route Target. */
int gsa_community_text(uint16_t asn, uint32_t group, char *buf, size_t len);
/* Reads "65000:300" or "RT:65000:300" (decimal, no sign, no spaces). */
int gsa_community_parse(const char *text, uint16_t *asn, uint32_t *group, char *err, size_t errlen);
/* A group ID as the gdoi plugin shows one (`group-id`): "300" (decimal
 * 0..4294967295) or "@#0000012c" (KEY_ID of 4 octets) to its number;
 * GSA_SEAL_ERR_INVALID for any other group ID (it cannot be a tag). */
int gsa_group_id_parse(const char *text, uint32_t *group, char *err, size_t errlen);

/* --- the keyring --- */

typedef struct gsa_keyring gsa_keyring_t;

/* The clock: monotonic milliseconds. NULL in gsa_keyring_create() uses
 * the system's monotonic clock; tests pass their own. */
typedef uint64_t (*gsa_clock_fn)(void *ctx);

/* A keyring whose previous epochs are accepted for grace_secs after the
 * change to a new one. NULL when out of memory. */
gsa_keyring_t *gsa_keyring_create(uint32_t grace_secs, gsa_clock_fn clock, void *clock_ctx);
void gsa_keyring_destroy(gsa_keyring_t *kr);
/* Changes the grace period (of the current previous epoch too). */
void gsa_keyring_set_grace(gsa_keyring_t *kr, uint32_t grace_secs);
/* The grace period in seconds. */
uint32_t gsa_keyring_grace(const gsa_keyring_t *kr);
/* A number that changes whenever what the keyring opens may have changed:
 * a key added, replaced or removed, the grace period set, a previous
 * epoch's grace period ended. The same number: a blob opens (or fails) as
 * it did, so it need not be opened again. */
uint64_t gsa_keyring_opening_version(const gsa_keyring_t *kr);

/* Takes the group's routing key of epoch (key_len must be 32). The same
 * epoch and key again: nothing changes, *changed = 0. A new epoch: the
 * current one becomes the previous one (its grace period starts now), the
 * new one is current, *changed = 1. The same epoch with another key, or
 * epoch 0: GSA_SEAL_ERR_INVALID. changed may be NULL. */
int gsa_keyring_update(gsa_keyring_t *kr, uint32_t group, uint32_t epoch, const uint8_t *key, size_t key_len,
		       int *changed, char *err, size_t errlen);
/* Forgets the group's keys (and its noted routes): the group is gone. */
void gsa_keyring_remove(gsa_keyring_t *kr, uint32_t group);
/* The group's current epoch; GSA_SEAL_ERR_UNKNOWN_GROUP if it has none. */
int gsa_keyring_epoch(const gsa_keyring_t *kr, uint32_t group, uint32_t *epoch);
/* The group's previous epoch and the seconds left of its grace period
 * (0: expired); GSA_SEAL_ERR_NOT_FOUND if there is none. */
int gsa_keyring_previous(const gsa_keyring_t *kr, uint32_t group, uint32_t *epoch, uint32_t *grace_left_secs);

/* Re-sealing: the glue notes each route it sealed (an id of its own
 * choosing, unique across groups) with the epoch gsa_seal() used; after an
 * epoch change gsa_keyring_stale() lists the routes of the group sealed
 * under an older epoch, which the glue seals again (and notes again). */
int gsa_keyring_note_sealed(gsa_keyring_t *kr, uint64_t route_id, uint32_t group, uint32_t epoch);
void gsa_keyring_forget(gsa_keyring_t *kr, uint64_t route_id);
/* Writes up to max ids of the group's stale routes to ids (may be NULL
 * with max 0) and returns how many there are in all. */
size_t gsa_keyring_stale(const gsa_keyring_t *kr, uint32_t group, uint64_t *ids, size_t max);

/* --- sealing and opening (the attribute's value, the blob) --- */

/* Seals the gateway and prefixes (at least one, IPv4 and IPv6 mixed as
 * given) of group under its current epoch: *out (malloc'ed, free() it) is
 * the attribute's value, *epoch the epoch used (may be NULL).
 * GSA_SEAL_ERR_UNKNOWN_GROUP without a key, GSA_SEAL_ERR_TOO_LARGE over
 * 65535 octets, GSA_SEAL_ERR_INVALID for a bad address or prefix. */
int gsa_seal(gsa_keyring_t *kr, uint32_t group, const struct gsa_addr *originator, const struct gsa_addr *gateway,
	     const struct gsa_prefix *prefixes, size_t count, uint8_t **out, size_t *out_len, uint32_t *epoch,
	     char *err, size_t errlen);

/* What an opened blob said. */
struct gsa_opened {
	uint32_t group;
	uint32_t epoch;
	int previous_epoch; /* 1: opened with the previous epoch's key, within its grace */
	struct gsa_addr originator;
	struct gsa_addr gateway;
	struct gsa_prefix *prefixes; /* malloc'ed; gsa_opened_free() */
	size_t count;
};

/* Opens one entry (a blob of gsa_seal()). On GSA_SEAL_OK *out holds what
 * it said (free it with gsa_opened_free()); on an error *out is zeroed. */
int gsa_open(const gsa_keyring_t *kr, const uint8_t *value, size_t len, struct gsa_opened *out, char *err,
	     size_t errlen);
void gsa_opened_free(struct gsa_opened *o);

/* The attribute's value for several groups: version 2, the count, then
 * each entry (a blob of gsa_seal(), at most one per group, in any order)
 * behind its 2-octet length, in ascending group order. *out malloc'ed.
 * GSA_SEAL_ERR_INVALID for no entry, one that does not parse or two of one
 * group; GSA_SEAL_ERR_TOO_LARGE over GSA_SEAL_MAX_ENTRIES or 65535 octets. */
int gsa_seal_list(const uint8_t *const *entries, const size_t *lens, size_t n, uint8_t **out, size_t *out_len,
		  char *err, size_t errlen);

/* One entry of an opened list. */
struct gsa_opened_entry {
	uint32_t group;
	uint32_t epoch;
	int status;               /* GSA_SEAL_OK: opened holds what it said */
	struct gsa_opened opened; /* zeroed unless status is GSA_SEAL_OK */
};
/* Opens the attribute's value: every entry whose group has a key.
 * GSA_SEAL_OK: *entries (free with gsa_opened_entries_free()) holds *n
 * results in the list's order, GSA_SEAL_ERR_UNKNOWN_GROUP for a group
 * without a key. Any other return: the list does not parse (a bare entry
 * is GSA_SEAL_ERR_VERSION), nothing is opened, *entries is NULL. */
int gsa_open_list(const gsa_keyring_t *kr, const uint8_t *value, size_t len, struct gsa_opened_entry **entries,
		  size_t *n, char *err, size_t errlen);
void gsa_opened_entries_free(struct gsa_opened_entry *entries, size_t n);

/* The clear header of one entry (a blob), without a key (the S/R reflects what it
 * need not open): its group, epoch and originator. */
int gsa_seal_peek(const uint8_t *value, size_t len, uint32_t *group, uint32_t *epoch, struct gsa_addr *originator,
		  char *err, size_t errlen);

/* --- the path attribute --- */

/* The name of the attribute FRR 8.4.4's bgpd parses itself under code
 * ("EXTENDED_COMMUNITIES" for 16), NULL for a code it carries as an unknown
 * one: a sealed attribute under a parsed code would be taken for that
 * attribute (and refused as malformed), never passed on. */
const char *gsa_seal_code_parsed(uint8_t code);

/* The whole attribute: flags (0xC0, or 0xD0 with a 2-octet length when the
 * value exceeds 255 octets), code, length, value. *out malloc'ed. */
int gsa_seal_attr_encode(uint8_t code, const uint8_t *value, size_t len, uint8_t **out, size_t *out_len);
/* Finds attribute code in attrs, a sequence of path attributes (as FRR
 * keeps unknown transitive ones, or a whole UPDATE's attribute section),
 * and points *value at its value. GSA_SEAL_ERR_NOT_FOUND if absent;
 * GSA_SEAL_ERR_MALFORMED if it is there without the optional and
 * transitive bits (the Partial bit is allowed); GSA_SEAL_ERR_TRUNCATED if
 * an attribute runs past the end. */
int gsa_seal_attr_find(const uint8_t *attrs, size_t len, uint8_t code, const uint8_t **value, size_t *value_len,
		       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* GROUPSEC_GSA_SEAL_H */
