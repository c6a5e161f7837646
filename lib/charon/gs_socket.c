/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 groupsec
 */

#define _GNU_SOURCE
#include "gs_socket.h"

#include <daemon.h>

#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

/**
 * Largest datagram we read
 */
#define MAX_DATAGRAM 65535

typedef struct private_gs_socket_t private_gs_socket_t;

/**
 * Private data of a gs_socket_t object.
 */
struct private_gs_socket_t {

	/**
	 * Public gs_socket_t interface.
	 */
	gs_socket_t public;

	/**
	 * IPv4 socket, -1 if none
	 */
	int fd4;

	/**
	 * IPv6 socket, -1 if none
	 */
	int fd6;

	/**
	 * Owner's name, the prefix of log lines
	 */
	char *name;

	/**
	 * UDP port the sockets are bound to
	 */
	uint16_t port;

	/**
	 * Receive callback
	 */
	gs_socket_cb_t cb;

	/**
	 * User data of cb
	 */
	void *data;
};

/**
 * Read one datagram and hand it on
 */
static bool receive_cb(private_gs_socket_t *this, int fd,
					   watcher_event_t event)
{
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} from;
	char *buf = malloc(MAX_DATAGRAM);
	char ancillary[64];
	struct iovec iov = { .iov_base = buf, .iov_len = MAX_DATAGRAM };
	struct msghdr msg = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ancillary,
		.msg_controllen = sizeof(ancillary),
	};
	struct cmsghdr *cmsg;
	host_t *local = NULL, *remote;
	ssize_t len;

	len = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (len < 0)
	{
		if (errno != EAGAIN && errno != EWOULDBLOCK)
		{
			DBG1(DBG_NET, "%s: receiving failed: %s", this->name,
				 strerror(errno));
		}
		free(buf);
		return TRUE;
	}
	if (msg.msg_flags & MSG_TRUNC)
	{
		DBG1(DBG_NET, "%s: datagram too long, dropped", this->name);
		free(buf);
		return TRUE;
	}
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
	{
		if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO)
		{
			struct in_pktinfo *pi = (struct in_pktinfo*)CMSG_DATA(cmsg);
			struct sockaddr_in dst = {
				.sin_family = AF_INET,
				.sin_addr = pi->ipi_addr,
			};
			local = host_create_from_sockaddr((sockaddr_t*)&dst);
		}
		else if (cmsg->cmsg_level == IPPROTO_IPV6 &&
				 cmsg->cmsg_type == IPV6_PKTINFO)
		{
			struct in6_pktinfo *pi = (struct in6_pktinfo*)CMSG_DATA(cmsg);
			struct sockaddr_in6 dst = {
				.sin6_family = AF_INET6,
				.sin6_addr = pi->ipi6_addr,
			};
			local = host_create_from_sockaddr((sockaddr_t*)&dst);
		}
	}
	remote = host_create_from_sockaddr((sockaddr_t*)&from);
	if (local)
	{
		/* PKTINFO gives the address; the port is the one we are bound to */
		local->set_port(local, this->port);
	}
	if (local && remote)
	{
		this->cb(this->data, local, remote, chunk_create((u_char*)buf, len));
	}
	DESTROY_IF(local);
	DESTROY_IF(remote);
	free(buf);
	return TRUE;
}

METHOD(gs_socket_t, send_, bool,
	private_gs_socket_t *this, host_t *local, host_t *remote, chunk_t datagram)
{
	char ancillary[64] = {};
	struct iovec iov = { .iov_base = datagram.ptr, .iov_len = datagram.len };
	struct msghdr msg = {
		.msg_name = remote->get_sockaddr(remote),
		.msg_namelen = *remote->get_sockaddr_len(remote),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cmsg;
	int fd;

	if (remote->get_family(remote) == AF_INET)
	{
		struct in_pktinfo *pi;

		fd = this->fd4;
		if (local && !local->is_anyaddr(local))
		{
			msg.msg_control = ancillary;
			msg.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = IPPROTO_IP;
			cmsg->cmsg_type = IP_PKTINFO;
			cmsg->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
			pi = (struct in_pktinfo*)CMSG_DATA(cmsg);
			memcpy(&pi->ipi_spec_dst,
				   &((struct sockaddr_in*)local->get_sockaddr(local))->sin_addr,
				   sizeof(pi->ipi_spec_dst));
		}
	}
	else
	{
		struct in6_pktinfo *pi;

		fd = this->fd6;
		if (local && !local->is_anyaddr(local))
		{
			msg.msg_control = ancillary;
			msg.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = IPPROTO_IPV6;
			cmsg->cmsg_type = IPV6_PKTINFO;
			cmsg->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			pi = (struct in6_pktinfo*)CMSG_DATA(cmsg);
			memcpy(&pi->ipi6_addr,
				   &((struct sockaddr_in6*)local->get_sockaddr(local))->sin6_addr,
				   sizeof(pi->ipi6_addr));
		}
	}
	if (fd < 0)
	{
		return FALSE;
	}
	if (sendmsg(fd, &msg, 0) != (ssize_t)datagram.len)
	{
		DBG1(DBG_NET, "%s: sending to %#H failed: %s", this->name,
			 remote, strerror(errno));
		return FALSE;
	}
	return TRUE;
}

METHOD(gs_socket_t, join, bool,
	private_gs_socket_t *this, host_t *group)
{
	if (group->get_family(group) == AF_INET && this->fd4 >= 0)
	{
		struct ip_mreqn mreq = {
			.imr_multiaddr =
				((struct sockaddr_in*)group->get_sockaddr(group))->sin_addr,
		};
		if (setsockopt(this->fd4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
					   sizeof(mreq)) == 0 || errno == EADDRINUSE)
		{
			return TRUE;
		}
	}
	else if (group->get_family(group) == AF_INET6 && this->fd6 >= 0)
	{
		struct ipv6_mreq mreq = {
			.ipv6mr_multiaddr =
				((struct sockaddr_in6*)group->get_sockaddr(group))->sin6_addr,
		};
		if (setsockopt(this->fd6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq,
					   sizeof(mreq)) == 0 || errno == EADDRINUSE)
		{
			return TRUE;
		}
	}
	DBG1(DBG_NET, "%s: joining multicast group %H failed: %s", this->name,
		 group,
		 strerror(errno));
	return FALSE;
}

/**
 * Open one socket of a family on the port
 */
static int open_socket(private_gs_socket_t *this, int family, uint16_t port)
{
	int fd, on = 1;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr = {};
	socklen_t len;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
	{
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET)
	{
		addr.in.sin_family = AF_INET;
		addr.in.sin_port = htons(port);
		len = sizeof(addr.in);
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
	else
	{
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(port);
		len = sizeof(addr.in6);
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	}
	if (bind(fd, (struct sockaddr*)&addr, len) < 0)
	{
		DBG1(DBG_NET, "%s: binding UDP port %u (%s) failed: %s", this->name,
			 port, family == AF_INET ? "IPv4" : "IPv6", strerror(errno));
		close(fd);
		return -1;
	}
	if (charon->kernel &&
		!charon->kernel->bypass_socket(charon->kernel, fd, family))
	{
		DBG1(DBG_NET, "%s: installing the IPsec bypass on port %u failed",
			 this->name, port);
	}
	return fd;
}

METHOD(gs_socket_t, destroy, void,
	private_gs_socket_t *this)
{
	if (this->fd4 >= 0)
	{
		lib->watcher->remove(lib->watcher, this->fd4);
		close(this->fd4);
	}
	if (this->fd6 >= 0)
	{
		lib->watcher->remove(lib->watcher, this->fd6);
		close(this->fd6);
	}
	free(this->name);
	free(this);
}

/*
 * Described in header
 */
gs_socket_t *gs_socket_create(const char *name, uint16_t port,
							  gs_socket_cb_t cb, void *data)
{
	private_gs_socket_t *this;

	INIT(this,
		.public = {
			.send = _send_,
			.join = _join,
			.destroy = _destroy,
		},
		.name = strdup(name),
		.port = port,
		.cb = cb,
		.data = data,
	);

	this->fd4 = open_socket(this, AF_INET, port);
	this->fd6 = open_socket(this, AF_INET6, port);
	if (this->fd4 < 0 && this->fd6 < 0)
	{
		free(this->name);
		free(this);
		return NULL;
	}
	if (this->fd4 >= 0)
	{
		lib->watcher->add(lib->watcher, this->fd4, WATCHER_READ,
						  (watcher_cb_t)receive_cb, this);
	}
	if (this->fd6 >= 0)
	{
		lib->watcher->add(lib->watcher, this->fd6, WATCHER_READ,
						  (watcher_cb_t)receive_cb, this);
	}
	return &this->public;
}
