/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#include "gdoi_kernel.h"

#include <daemon.h>

/*
 * Described in header
 */
host_t *gdoi_kernel_host(const gdoi_addr_t *addr)
{
	switch (addr->len)
	{
		case 4:
			return host_create_from_chunk(AF_INET,
						chunk_create((u_char*)addr->ip, 4), addr->port);
		case 16:
			return host_create_from_chunk(AF_INET6,
						chunk_create((u_char*)addr->ip, 16), addr->port);
		default:
			return NULL;
	}
}

/*
 * Described in header
 */
void gdoi_kernel_addr(host_t *host, gdoi_addr_t *addr)
{
	chunk_t a = host->get_address(host);

	memset(addr, 0, sizeof(*addr));
	addr->len = a.len == 16 ? 16 : 4;
	memcpy(addr->ip, a.ptr, min(a.len, addr->len));
	addr->port = host->get_port(host);
}

/**
 * Traffic selector of the core as traffic_selector_t
 */
static traffic_selector_t *ts_create(const gdoi_ts_t *ts)
{
	return traffic_selector_create_from_bytes(ts->protocol,
				ts->from.len == 16 ? TS_IPV6_ADDR_RANGE : TS_IPV4_ADDR_RANGE,
				chunk_create((u_char*)ts->from.ip, ts->from.len), ts->from_port,
				chunk_create((u_char*)ts->to.ip, ts->to.len), ts->to_port);
}

/**
 * Whether group SAs use ESP in UDP (charon.plugins.gdoi.udp_encap): across
 * NATs, and with kernel-libipsec, which sends ESP through charon's socket
 */
static bool udp_encap()
{
	return lib->settings->get_bool(lib->settings, "%s.plugins.gdoi.udp_encap",
								   FALSE, lib->ns);
}

/**
 * Integrity algorithm of an SA, AUTH_UNDEFINED for AEAD
 */
static uint16_t integrity_of(const gdoi_kernel_sa_t *sa)
{
	return sa->integrity ? sa->integrity : AUTH_UNDEFINED;
}

/**
 * The selector of an SA's address: the address alone, or any address for
 * the any source of an inbound group SA
 */
static linked_list_t *sa_selector(host_t *host)
{
	return linked_list_create_with_items(
				traffic_selector_create_from_subnet(host->clone(host),
								host->is_anyaddr(host) ? 0 : 128, 0, 0, 65535),
				NULL);
}

/*
 * Described in header
 */
bool gdoi_kernel_add_sa(void *ctx, const gdoi_kernel_sa_t *sa)
{
	host_t *src, *dst;
	lifetime_cfg_t lifetime = {
		.time = {
			/* the key server replaces the SA; the kernel only stops a
			 * stale one after the lifetime and a grace period */
			.life = sa->lifetime ? sa->lifetime + 300 : 0,
		},
	};
	kernel_ipsec_sa_id_t id = {
		.spi = htonl(sa->spi),
		.proto = IPPROTO_ESP,
	};
	kernel_ipsec_add_sa_t data = {
		.reqid = sa->reqid,
		.mode = sa->transport ? MODE_TRANSPORT : MODE_TUNNEL,
		.lifetime = &lifetime,
		.enc_alg = sa->encryption,
		.enc_key = chunk_create((u_char*)sa->enc_key, sa->enc_key_len),
		.int_alg = integrity_of(sa),
		.int_key = chunk_create((u_char*)sa->int_key, sa->int_key_len),
		.replay_window = sa->replay_window,
		.ipcomp = IPCOMP_NONE,
		.initiator = !sa->inbound,
		.inbound = sa->inbound,
	};
	status_t status = FAILED;

	src = gdoi_kernel_host(&sa->src);
	dst = gdoi_kernel_host(&sa->dst);
	if (src && dst)
	{
		if (udp_encap())
		{	/* ESP in UDP on charon's NAT-T port */
			data.encap = TRUE;
			src->set_port(src, CHARON_NATT_PORT);
			dst->set_port(dst, CHARON_NATT_PORT);
		}
		id.src = src;
		id.dst = dst;
		if (sa->transport)
		{	/* kernel-netlink gives a transport-mode state the selector of
			 * its traffic, and needs one */
			data.src_ts = sa_selector(src);
			data.dst_ts = sa_selector(dst);
		}
		status = charon->kernel->add_sa(charon->kernel, &id, &data);
		if (data.src_ts)
		{
			data.src_ts->destroy_offset(data.src_ts,
										offsetof(traffic_selector_t, destroy));
			data.dst_ts->destroy_offset(data.dst_ts,
										offsetof(traffic_selector_t, destroy));
		}
		DBG1(DBG_KNL, "gdoi: %s %s %s-mode SA %.8x %H == %H, reqid %u",
			 status == SUCCESS ? "installed" : "failed to install",
			 sa->inbound ? "inbound" : "outbound",
			 sa->transport ? "transport" : "tunnel", sa->spi, src, dst,
			 sa->reqid);
	}
	DESTROY_IF(src);
	DESTROY_IF(dst);
	return status == SUCCESS;
}

/*
 * Described in header
 */
void gdoi_kernel_del_sa(void *ctx, const gdoi_kernel_sa_t *sa)
{
	host_t *src, *dst;
	kernel_ipsec_sa_id_t id = {
		.spi = htonl(sa->spi),
		.proto = IPPROTO_ESP,
	};
	kernel_ipsec_del_sa_t data = {};

	src = gdoi_kernel_host(&sa->src);
	dst = gdoi_kernel_host(&sa->dst);
	if (src && dst)
	{
		id.src = src;
		id.dst = dst;
		if (charon->kernel->del_sa(charon->kernel, &id, &data) == SUCCESS)
		{
			DBG1(DBG_KNL, "gdoi: deleted SA %.8x %H == %H", sa->spi, src, dst);
		}
	}
	DESTROY_IF(src);
	DESTROY_IF(dst);
}

/*
 * Described in header
 */
bool gdoi_kernel_query_sa(void *ctx, const gdoi_kernel_sa_t *sa,
						  uint64_t *bytes, uint64_t *packets)
{
	host_t *src, *dst;
	kernel_ipsec_sa_id_t id = {
		.spi = htonl(sa->spi),
		.proto = IPPROTO_ESP,
	};
	kernel_ipsec_query_sa_t data = {};
	time_t used = 0;
	status_t status = FAILED;

	src = gdoi_kernel_host(&sa->src);
	dst = gdoi_kernel_host(&sa->dst);
	if (src && dst)
	{
		id.src = src;
		id.dst = dst;
		status = charon->kernel->query_sa(charon->kernel, &id, &data, bytes,
										  packets, &used);
	}
	DESTROY_IF(src);
	DESTROY_IF(dst);
	return status == SUCCESS;
}

/**
 * Add or delete a policy
 */
static bool manage_policy(const gdoi_kernel_policy_t *policy, bool add)
{
	traffic_selector_t *src_ts, *dst_ts;
	host_t *src, *dst;
	/* no SPI: kernel-netlink would put it in the template of an outbound
	 * policy, and XFRM would then match only that SA. Policies stay across
	 * rekeys (the outbound SA of a gateway is replaced, its reqid kept), so
	 * the template names the reqid alone and matches whichever SA has it */
	ipsec_sa_cfg_t sa = {
		.mode = policy->transport ? MODE_TRANSPORT : MODE_TUNNEL,
		.reqid = policy->reqid,
		.esp = {
			.use = TRUE,
		},
	};
	kernel_ipsec_policy_id_t id = {
		.dir = policy->dir == GDOI_POLICY_IN ? POLICY_IN :
			   policy->dir == GDOI_POLICY_OUT ? POLICY_OUT : POLICY_FWD,
	};
	kernel_ipsec_manage_policy_t data = {
		.type = POLICY_IPSEC,
		.prio = POLICY_PRIORITY_DEFAULT,
		.sa = &sa,
	};
	status_t status = FAILED;

	src_ts = ts_create(&policy->src);
	dst_ts = ts_create(&policy->dst);
	src = gdoi_kernel_host(&policy->tunnel_src);
	dst = gdoi_kernel_host(&policy->tunnel_dst);
	if (src_ts && dst_ts && src && dst)
	{
		id.src_ts = src_ts;
		id.dst_ts = dst_ts;
		data.src = src;
		data.dst = dst;
		if (add)
		{
			status = charon->kernel->add_policy(charon->kernel, &id, &data);
		}
		else
		{
			status = charon->kernel->del_policy(charon->kernel, &id, &data);
		}
		DBG2(DBG_KNL, "gdoi: %s policy %R === %R %N: %N", add ? "add" : "del",
			 src_ts, dst_ts, policy_dir_names, id.dir, status_names, status);
	}
	DESTROY_IF(src_ts);
	DESTROY_IF(dst_ts);
	DESTROY_IF(src);
	DESTROY_IF(dst);
	return status == SUCCESS;
}

/*
 * Described in header
 */
const char *gdoi_kernel_no_transport(void *ctx)
{
	enumerator_t *enumerator;
	plugin_t *plugin;
	bool libipsec = FALSE;

	/* libipsec makes tunnel-mode SAs only: ipsec_sa_create() refuses any
	 * other mode ("IPsec SA: unsupported mode") and its inbound path
	 * passes on nothing but IP-in-ESP (next header IPIP or IPv6) */
	enumerator = lib->plugins->create_plugin_enumerator(lib->plugins);
	while (enumerator->enumerate(enumerator, &plugin, NULL))
	{
		if (streq(plugin->get_name(plugin), "kernel-libipsec"))
		{
			libipsec = TRUE;
		}
	}
	enumerator->destroy(enumerator);
	return libipsec ? "charon's data plane is kernel-libipsec, whose SAs are "
					  "tunnel mode only" : NULL;
}

/*
 * Described in header
 */
bool gdoi_kernel_add_policy(void *ctx, const gdoi_kernel_policy_t *policy)
{
	return manage_policy(policy, TRUE);
}

/*
 * Described in header
 */
void gdoi_kernel_del_policy(void *ctx, const gdoi_kernel_policy_t *policy)
{
	manage_policy(policy, FALSE);
}
