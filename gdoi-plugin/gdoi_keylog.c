/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gdoi_keylog.h"

#include <daemon.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct private_gdoi_keylog_t private_gdoi_keylog_t;

/**
 * Private data of a gdoi_keylog_t object.
 */
struct private_gdoi_keylog_t {

	/**
	 * Public gdoi_keylog_t interface.
	 */
	gdoi_keylog_t public;

	/**
	 * Wireshark's IKEv2 decryption table to append keys to, NULL if none
	 */
	char *key_table;

	/**
	 * Member key material log to append to, NULL if none
	 */
	char *member_keys;
};

METHOD(gdoi_keylog_t, logs_keys, bool,
	private_gdoi_keylog_t *this)
{
	return this->key_table != NULL;
}

METHOD(gdoi_keylog_t, logs_member_keys, bool,
	private_gdoi_keylog_t *this)
{
	return this->member_keys != NULL;
}

METHOD(gdoi_keylog_t, save_keys, void,
	private_gdoi_keylog_t *this, const char *line)
{
	FILE *file;

	if (!this->key_table)
	{
		return;
	}
	file = fopen(this->key_table, "a");
	if (!file)
	{
		DBG1(DBG_IKE, "gdoi: opening key table '%s' failed: %s",
			 this->key_table, strerror(errno));
		return;
	}
	fprintf(file, "%s\n", line);
	fclose(file);
}

METHOD(gdoi_keylog_t, save_member_key, void,
	private_gdoi_keylog_t *this, const char *line)
{
	char *buf;
	ssize_t len, written;
	int fd;

	if (!this->member_keys)
	{
		return;
	}
	len = asprintf(&buf, "%s\n", line);
	if (len < 0)
	{
		return;
	}
	fd = open(this->member_keys, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		DBG1(DBG_IKE, "gdoi: opening member key log '%s' failed: %s",
			 this->member_keys, strerror(errno));
		memwipe(buf, len);
		free(buf);
		return;
	}
	written = write(fd, buf, len);
	if (written != len)
	{
		DBG1(DBG_IKE, "gdoi: writing member key log '%s' failed: %s",
			 this->member_keys, written < 0 ? strerror(errno) : "short write");
	}
	close(fd);
	memwipe(buf, len);
	free(buf);
}

METHOD(gdoi_keylog_t, destroy, void,
	private_gdoi_keylog_t *this)
{
	free(this->key_table);
	free(this->member_keys);
	free(this);
}

/*
 * Described in header
 */
gdoi_keylog_t *gdoi_keylog_create()
{
	private_gdoi_keylog_t *this;
	char *dir, *file;

	INIT(this,
		.public = {
			.logs_keys = _logs_keys,
			.logs_member_keys = _logs_member_keys,
			.save_keys = _save_keys,
			.save_member_key = _save_member_key,
			.destroy = _destroy,
		},
	);

	dir = lib->settings->get_str(lib->settings, "%s.plugins.gdoi.save_keys",
								 NULL, lib->ns);
	if (dir && asprintf(&this->key_table, "%s/ikev2_decryption_table",
						dir) > 0)
	{
		DBG1(DBG_CFG, "gdoi: saving IKE and Rekey SA keys to %s (for "
			 "debugging only)", this->key_table);
	}
	else
	{
		this->key_table = NULL;
	}
	file = lib->settings->get_str(lib->settings,
								  "%s.plugins.gdoi.save_member_keys", NULL,
								  lib->ns);
	if (file && *file)
	{
		this->member_keys = strdup(file);
		DBG1(DBG_CFG, "gdoi: appending the group keys members receive to %s "
			 "(diagnostics only: the file holds the group's secrets)",
			 this->member_keys);
	}
	return &this->public;
}
