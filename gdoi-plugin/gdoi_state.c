/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gdoi_state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <daemon.h>

/**
 * First line of a file of evicted identities, followed by the group name
 */
#define EVICTED_MAGIC "gdoi-evicted 1"

/**
 * Largest file we read
 */
#define MAX_FILE (16 * 1024 * 1024)

/**
 * Largest identity (octets)
 */
#define MAX_ID 4096

typedef struct private_gdoi_state_t private_gdoi_state_t;

/**
 * Private data of a gdoi_state_t object.
 */
struct private_gdoi_state_t {

	/**
	 * Public interface.
	 */
	gdoi_state_t public;

	/**
	 * State directory
	 */
	char *dir;
};

/**
 * Group names become file names: letters, digits, '-' and '_' only
 */
static bool valid_group(const char *group)
{
	size_t i, len = strlen(group);

	if (!len || len > 64)
	{
		return FALSE;
	}
	for (i = 0; i < len; i++)
	{
		if (!isalnum((unsigned char)group[i]) && group[i] != '-' &&
			group[i] != '_')
		{
			return FALSE;
		}
	}
	return TRUE;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
	{
		return c - '0';
	}
	if (c >= 'a' && c <= 'f')
	{
		return c - 'a' + 10;
	}
	return -1;
}

/**
 * A decimal number of 1 to 10 digits without sign or leading zero
 */
static bool decimal(const char *s, size_t len, u_int max, u_int *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len > 10 || (len > 1 && s[0] == '0'))
	{
		return FALSE;
	}
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
		{
			return FALSE;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
	{
		return FALSE;
	}
	*out = v;
	return TRUE;
}

/**
 * Parse an identity line "TYPE HEX" ending at end; id->data is allocated
 */
static bool parse_identity(const char *path, int lineno, char *line,
						   char *end, gdoi_id_t *id, char *err, size_t err_len)
{
	char *sp;
	u_int type;
	size_t i;
	int hi, lo;
	uint8_t *data;

	sp = memchr(line, ' ', end - line);
	if (!sp || !decimal(line, sp - line, 255, &type) || !type ||
		(end - sp - 1) % 2 || end - sp - 1 == 0 ||
		(end - sp - 1) / 2 > MAX_ID)
	{
		snprintf(err, err_len, "%s: line %d: not an identity (ID type and "
				 "hex octets)", path, lineno);
		return FALSE;
	}
	data = malloc((end - sp - 1) / 2);
	if (!data)
	{
		snprintf(err, err_len, "%s: line %d: out of memory", path, lineno);
		return FALSE;
	}
	for (i = 0; sp + 1 + 2 * i < end; i++)
	{
		hi = hex_digit(sp[1 + 2 * i]);
		lo = hex_digit(sp[2 + 2 * i]);
		if (hi < 0 || lo < 0)
		{
			free(data);
			snprintf(err, err_len, "%s: line %d: not an identity (ID type "
					 "and hex octets)", path, lineno);
			return FALSE;
		}
		data[i] = hi << 4 | lo;
	}
	*id = (gdoi_id_t){ .type = type, .data = data, .len = i };
	return TRUE;
}

/**
 * Parse a file of evicted identities; each identity goes to add()
 */
static bool parse(const char *path, const char *group, char *buf, size_t len,
				  void (*add)(void *list, const gdoi_id_t *id), void *list,
				  char *err, size_t err_len)
{
	char *line, *end, header[128];
	u_int count = 0, trailer;
	size_t n;
	int lineno = 0;
	bool done = FALSE;
	gdoi_id_t id;

	if (memchr(buf, '\0', len))
	{
		snprintf(err, err_len, "%s: not a text file", path);
		return FALSE;
	}
	snprintf(header, sizeof(header), EVICTED_MAGIC " %s", group);
	for (line = buf; line < buf + len; line = end + 1)
	{
		lineno++;
		end = memchr(line, '\n', buf + len - line);
		if (!end)
		{
			snprintf(err, err_len, "%s: line %d: not ended (the file is "
					 "truncated)", path, lineno);
			return FALSE;
		}
		n = end - line;
		if (done)
		{
			snprintf(err, err_len, "%s: line %d: text after the end line",
					 path, lineno);
			return FALSE;
		}
		if (lineno == 1)
		{
			if (n != strlen(header) || memcmp(line, header, n) != 0)
			{
				snprintf(err, err_len, "%s: line 1: not \"%s\"", path, header);
				return FALSE;
			}
			continue;
		}
		if (n > 4 && memcmp(line, "end ", 4) == 0)
		{
			if (!decimal(line + 4, n - 4, UINT_MAX, &trailer) ||
				trailer != count)
			{
				snprintf(err, err_len, "%s: line %d: the end line does not say "
						 "%u identities", path, lineno, count);
				return FALSE;
			}
			done = TRUE;
			continue;
		}
		if (!parse_identity(path, lineno, line, end, &id, err, err_len))
		{
			return FALSE;
		}
		add(list, &id);
		free((void*)id.data);
		count++;
	}
	if (!done)
	{
		snprintf(err, err_len, "%s: no end line (the file is truncated)", path);
		return FALSE;
	}
	return TRUE;
}

METHOD(gdoi_state_t, load_evicted, bool,
	private_gdoi_state_t *this, const char *group,
	void (*add)(void *list, const gdoi_id_t *id), void *list, char *err,
	size_t err_len)
{
	struct stat st;
	char *path, *buf;
	ssize_t got = 0;
	size_t len = 0;
	bool ok;
	int fd;

	if (!valid_group(group))
	{
		snprintf(err, err_len, "'%s' is no group name for a file", group);
		return FALSE;
	}
	if (asprintf(&path, "%s/%s.evicted", this->dir, group) < 0)
	{
		snprintf(err, err_len, "out of memory");
		return FALSE;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		ok = errno == ENOENT;
		if (!ok)
		{
			snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
		}
		free(path);
		return ok;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
	{
		snprintf(err, err_len, "cannot read %s: %s", path,
				 S_ISREG(st.st_mode) ? "larger than 16 MiB" : "not a file");
		close(fd);
		free(path);
		return FALSE;
	}
	buf = malloc(st.st_size + 1);
	while (len < (size_t)st.st_size + 1)
	{
		got = read(fd, buf + len, st.st_size + 1 - len);
		if (got < 0 && errno == EINTR)
		{
			continue;
		}
		if (got <= 0)
		{
			break;
		}
		len += got;
	}
	if (got < 0 || len != (size_t)st.st_size)
	{
		snprintf(err, err_len, "cannot read %s: %s", path,
				 got < 0 ? strerror(errno) : "it changed while read");
		ok = FALSE;
	}
	else
	{
		ok = parse(path, group, buf, len, add, list, err, err_len);
	}
	close(fd);
	free(buf);
	free(path);
	return ok;
}

/**
 * Write all of buf to fd
 */
static bool write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len)
	{
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
		{
			continue;
		}
		if (n <= 0)
		{
			return FALSE;
		}
		buf += n;
		len -= n;
	}
	return TRUE;
}

/**
 * Format the file of evicted identities into a new buffer, NULL if an
 * identity cannot be stored
 */
static char *format_evicted(const char *group, const gdoi_id_t *ids,
							size_t count, size_t *out_len, char *err,
							size_t err_len)
{
	char *buf, *pos;
	size_t i, j, len;

	len = strlen(EVICTED_MAGIC) + 1 + strlen(group) + 1 + 16;
	for (i = 0; i < count; i++)
	{
		if (!ids[i].len || ids[i].len > MAX_ID)
		{
			snprintf(err, err_len, "an identity of %zu octets cannot be "
					 "stored", ids[i].len);
			return NULL;
		}
		len += 4 + 2 * ids[i].len + 1;
	}
	buf = pos = malloc(len + 1);
	pos += sprintf(pos, EVICTED_MAGIC " %s\n", group);
	for (i = 0; i < count; i++)
	{
		pos += sprintf(pos, "%u ", ids[i].type);
		for (j = 0; j < ids[i].len; j++)
		{
			pos += sprintf(pos, "%02x", ids[i].data[j]);
		}
		*pos++ = '\n';
	}
	pos += sprintf(pos, "end %zu\n", count);
	*out_len = pos - buf;
	return buf;
}

/**
 * Sync the state directory so a rename survives a crash
 */
static void sync_dir(private_gdoi_state_t *this)
{
	int dir;

	dir = open(this->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fsync(dir) != 0)
	{
		DBG1(DBG_CFG, "gdoi: syncing the state directory %s failed: "
			 "%s", this->dir, strerror(errno));
	}
	if (dir >= 0)
	{
		close(dir);
	}
}

/**
 * Write buf to the temporary file tmp and rename it over path
 */
static bool replace_file(private_gdoi_state_t *this, char *tmp,
						 const char *path, const char *buf, size_t len,
						 char *err, size_t err_len)
{
	bool ok = FALSE;
	int fd;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
	{
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
		return FALSE;
	}
	if (fchmod(fd, 0600) != 0 || !write_all(fd, buf, len) ||
		fsync(fd) != 0)
	{
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
	}
	else if (close(fd) != 0)
	{
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(errno));
	}
	else if (rename(tmp, path) != 0)
	{
		snprintf(err, err_len, "cannot replace %s: %s", path,
				 strerror(errno));
	}
	else
	{
		ok = TRUE;
		/* the rename itself survives a crash once the directory is
		 * on disk; the file is in place either way */
		sync_dir(this);
	}
	if (!ok && access(tmp, F_OK) == 0)
	{
		unlink(tmp);
	}
	return ok;
}

METHOD(gdoi_state_t, save_evicted, bool,
	private_gdoi_state_t *this, const char *group, const gdoi_id_t *ids,
	size_t count, char *err, size_t err_len)
{
	char *path = NULL, *tmp = NULL, *buf;
	size_t len;
	bool ok;

	if (!valid_group(group))
	{
		snprintf(err, err_len, "'%s' is no group name for a file", group);
		return FALSE;
	}
	buf = format_evicted(group, ids, count, &len, err, err_len);
	if (!buf)
	{
		return FALSE;
	}
	if (asprintf(&path, "%s/%s.evicted", this->dir, group) < 0 ||
		asprintf(&tmp, "%s/.%s.evicted.XXXXXX", this->dir, group) < 0)
	{
		snprintf(err, err_len, "out of memory");
		free(path);
		free(buf);
		return FALSE;
	}
	ok = replace_file(this, tmp, path, buf, len, err, err_len);
	free(buf);
	free(tmp);
	free(path);
	return ok;
}

METHOD(gdoi_state_t, get_dir, const char*,
	private_gdoi_state_t *this)
{
	return this->dir;
}

METHOD(gdoi_state_t, destroy, void,
	private_gdoi_state_t *this)
{
	free(this->dir);
	free(this);
}

/*
 * Described in header
 */
gdoi_state_t *gdoi_state_create(const char *dir)
{
	private_gdoi_state_t *this;
	struct stat st;

	INIT(this,
		.public = {
			.load_evicted = _load_evicted,
			.save_evicted = _save_evicted,
			.get_dir = _get_dir,
			.destroy = _destroy,
		},
		.dir = strdup(dir),
	);

	if (stat(dir, &st) != 0)
	{
		if (!mkdir_p(dir, 0700))
		{
			DBG1(DBG_CFG, "gdoi: creating the state directory %s failed: %s",
				 dir, strerror(errno));
		}
	}
	else if (!S_ISDIR(st.st_mode))
	{
		DBG1(DBG_CFG, "gdoi: the state directory %s is not a directory", dir);
	}
	else if (st.st_mode & 077)
	{
		DBG1(DBG_CFG, "gdoi: warning: the state directory %s is open to "
			 "others (mode %04o)", dir, st.st_mode & 07777);
	}
	return &this->public;
}
