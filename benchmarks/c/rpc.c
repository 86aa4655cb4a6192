/*
 * peer-c -mode rpc: the one-core floor of tools/rpc's protocol on epoll.
 *
 * It serves the wire protocol of tools/rpc (tools/rpc/header.go) as
 * `shardnet rpc-server` serves its method 1: the answer carries the
 * request's ID and method, the response flag, status OK and the request's
 * payload. Any other method is answered with status "unknown method" and a
 * message, as tools/rpc does. A frame that breaks the protocol (shorter than
 * a header, longer than 4 MiB, a response or an unknown flag, a status in a
 * request) closes its connection at once, as tools/rpc's server does; the
 * others carry on.
 *
 * One thread, level-triggered epoll, non-blocking sockets, one 64 KiB read
 * buffer shared by every connection, one read per readiness. The answers to
 * every complete request of a read are gathered and leave in one write. A
 * frame cut by the end of a read waits in a per-connection buffer for the
 * rest. Output the socket does not take waits in a per-connection pending
 * buffer, and the connection stops reading until it drains, so memory stays
 * bounded.
 *
 * It is the floor the Go servers of peer-rpc-compare are read against: the
 * same system calls as tools/rpc's server makes (a read and a write per
 * wake-up of a connection) with nothing around them.
 *
 * Like rpc-server it prints "listening on tcp://ADDR" (with the port it got
 * for port 0) and ends on SIGTERM, saying how many calls it answered.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

#define RPC_READ_BUF (64 << 10)   /* the one read buffer */
#define RPC_EVENTS 1024           /* epoll_wait batch */
#define RPC_HEADER 16             /* length 4, ID 8, method 2, flags 1, status 1 */
#define RPC_MAX_FRAME (4 << 20)   /* rpc.DefaultMaxFrame, header included */
#define RPC_ECHO 1                /* rpc-server's echo method */
#define RPC_FLAG_RESPONSE 1
#define RPC_STATUS_UNKNOWN 1

static char rbuf[RPC_READ_BUF];
static char *rout; /* the answers of one read, before the one write */
static size_t routlen, routcap;
static volatile sig_atomic_t rstop;
static unsigned long long answered, unknown, badframes;

static const char unknown_msg[] = "no handler for this method";

static void on_rterm(int sig)
{
	(void)sig;
	rstop = 1;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* answer appends the answer to the request frame f (n bytes, whole) to rout. */
static void answer(const unsigned char *f, size_t n)
{
	uint16_t method = (uint16_t)(f[12] << 8 | f[13]);
	const char *payload = (const char *)f + RPC_HEADER;
	size_t plen = n - RPC_HEADER;
	unsigned char status = 0;
	if (method != RPC_ECHO) {
		payload = unknown_msg;
		plen = sizeof unknown_msg - 1;
		status = RPC_STATUS_UNKNOWN;
		unknown++;
	}
	unsigned char h[RPC_HEADER];
	uint32_t len = (uint32_t)(RPC_HEADER - 4 + plen);
	h[0] = (unsigned char)(len >> 24), h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
	memcpy(h + 4, f + 4, 10); /* the request's ID and method */
	h[14] = RPC_FLAG_RESPONSE;
	h[15] = status;
	append(&rout, &routlen, &routcap, (const char *)h, sizeof h);
	append(&rout, &routlen, &routcap, payload, plen);
	answered++;
}

/*
 * serve answers the whole frames at the start of b[0:n] into rout and
 * returns how many bytes they took, or -1 for a frame that breaks the
 * protocol.
 */
static long serve(const unsigned char *b, size_t n)
{
	size_t used = 0;
	while (n - used >= 4) {
		uint32_t len = be32(b + used);
		if ((uint64_t)len + 4 < RPC_HEADER || (uint64_t)len + 4 > RPC_MAX_FRAME)
			return -1;
		if (n - used < (size_t)len + 4)
			break;
		const unsigned char *f = b + used;
		if (f[14] != 0 || f[15] != 0) /* a response, an unknown flag, or a status in a request */
			return -1;
		answer(f, (size_t)len + 4);
		used += (size_t)len + 4;
	}
	return (long)used;
}

static void ron_readable(int fd)
{
	struct conn *c = &conns[fd];
	ssize_t n;
	do
		n = read(fd, rbuf, sizeof rbuf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		close_conn(fd);
		return;
	}
	routlen = 0;
	long used;
	if (c->inlen == 0) {
		used = serve((unsigned char *)rbuf, (size_t)n);
		if (used >= 0 && (size_t)used < (size_t)n)
			append(&c->in, &c->inlen, &c->incap, rbuf + used, (size_t)n - (size_t)used);
	} else {
		append(&c->in, &c->inlen, &c->incap, rbuf, (size_t)n);
		used = serve((unsigned char *)c->in, c->inlen);
		if (used > 0) {
			memmove(c->in, c->in + used, c->inlen - (size_t)used);
			c->inlen -= (size_t)used;
		}
	}
	if (used < 0) {
		badframes++;
		fprintf(stderr, "peer-c rpc: fd %d closed for a bad frame\n", fd);
		close_conn(fd);
		return;
	}
	if (c->inlen == 0 && c->incap > (1 << 20)) { /* a big frame's buffer is not kept */
		free(c->in);
		c->in = NULL;
		c->incap = 0;
	}
	if (routlen > 0)
		send_bytes(fd, rout, routlen);
}

/* run_rpc serves tools/rpc's protocol on addr until SIGTERM. */
int run_rpc(const char *addr)
{
	int lfd = listen_on(addr);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	if (getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("getsockname");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl ADD listener");
	signal(SIGPIPE, SIG_IGN);
	struct sigaction st = {.sa_handler = on_rterm};
	sigaction(SIGTERM, &st, NULL); /* no SA_RESTART: epoll_wait returns EINTR */
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
	printf("peer-c rpc listening on tcp://%s:%d\n", ip, ntohs(sa.sin_port));
	fflush(stdout);

	static struct epoll_event events[RPC_EVENTS];
	while (!rstop) {
		int n = epoll_wait(ep, events, RPC_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == lfd) {
				on_accept(lfd);
				continue;
			}
			if (!conns[fd].open)
				continue; /* closed earlier in this round */
			if (events[i].events & EPOLLOUT)
				flush_pending(fd);
			else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				ron_readable(fd);
		}
	}
	fprintf(stderr, "peer-c rpc: answered %llu calls (%llu to unknown methods), closed %llu connections for bad frames\n",
		answered, unknown, badframes);
	return 0;
}
