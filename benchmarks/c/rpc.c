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

#define RPC_READ_BUF (64 << 10)   /* the one read buffer */
#define RPC_EVENTS 1024           /* epoll_wait batch */
#define RPC_HEADER 16             /* length 4, ID 8, method 2, flags 1, status 1 */
#define RPC_MAX_FRAME (4 << 20)   /* rpc.DefaultMaxFrame, header included */
#define RPC_ECHO 1                /* rpc-server's echo method */
#define RPC_FLAG_RESPONSE 1
#define RPC_STATUS_UNKNOWN 1

void die(const char *what);                      /* peer.c */
struct sockaddr_in parse_addr(const char *addr); /* peer.c */

/* rconn is one connection's state, indexed by its fd. */
struct rconn {
	int open;
	char *in;           /* the start of a frame cut by the end of a read */
	size_t inlen, incap;
	char *pending;      /* answers the socket did not take */
	size_t plen, poff, pcap;
};

static struct rconn *rconns;
static size_t nrconns;
static int rep;
static char rbuf[RPC_READ_BUF];
static char *rout; /* the answers of one read, before the one write */
static size_t routlen, routcap;
static volatile sig_atomic_t rstop;
static unsigned long long answered, unknown, badframes;

static const char unknown_msg[] = "no handler for this method";

static void *rx_realloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("realloc");
	return p;
}

/* grow makes room for n more bytes in a buffer of len bytes and cap *cap. */
static void grow(char **buf, size_t len, size_t *cap, size_t n)
{
	if (len + n <= *cap)
		return;
	size_t c = *cap ? *cap : 4096;
	while (c < len + n)
		c *= 2;
	*buf = rx_realloc(*buf, c);
	*cap = c;
}

static void on_rterm(int sig)
{
	(void)sig;
	rstop = 1;
}

static struct rconn *rconn_of(int fd)
{
	if ((size_t)fd >= nrconns) {
		size_t n = nrconns ? nrconns : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		rconns = rx_realloc(rconns, n * sizeof *rconns);
		memset(rconns + nrconns, 0, (n - nrconns) * sizeof *rconns);
		nrconns = n;
	}
	return &rconns[fd];
}

static void rclose(int fd)
{
	struct rconn *c = &rconns[fd];
	free(c->in);
	free(c->pending);
	memset(c, 0, sizeof *c);
	close(fd); /* also leaves the epoll set */
}

static void rinterest(int fd, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(rep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl MOD");
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
	grow(&rout, routlen, &routcap, RPC_HEADER + plen);
	unsigned char *h = (unsigned char *)rout + routlen;
	uint32_t len = (uint32_t)(RPC_HEADER - 4 + plen);
	h[0] = (unsigned char)(len >> 24), h[1] = (unsigned char)(len >> 16);
	h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
	memcpy(h + 4, f + 4, 10); /* the request's ID and method */
	h[14] = RPC_FLAG_RESPONSE;
	h[15] = status;
	memcpy(h + RPC_HEADER, payload, plen);
	routlen += RPC_HEADER + plen;
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

/*
 * rsend writes rout (one write) or, behind pending output, queues it;
 * whatever the socket does not take waits for EPOLLOUT. Returns -1 when
 * the connection was closed.
 */
static int rsend(int fd)
{
	struct rconn *c = &rconns[fd];
	size_t off = 0;
	if (c->plen == c->poff) {
		while (off < routlen) {
			ssize_t w = write(fd, rout + off, routlen - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN)
					break;
				rclose(fd);
				return -1;
			}
			off += (size_t)w;
		}
		if (off == routlen)
			return 0;
		c->plen = c->poff = 0;
		rinterest(fd, EPOLLOUT);
	}
	grow(&c->pending, c->plen, &c->pcap, routlen - off);
	memcpy(c->pending + c->plen, rout + off, routlen - off);
	c->plen += routlen - off;
	return 0;
}

static void rflush(int fd)
{
	struct rconn *c = &rconns[fd];
	while (c->poff < c->plen) {
		ssize_t w = write(fd, c->pending + c->poff, c->plen - c->poff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			rclose(fd);
			return;
		}
		c->poff += (size_t)w;
	}
	c->plen = c->poff = 0;
	if (c->pcap > (1 << 20)) { /* a burst's buffer is not kept */
		free(c->pending);
		c->pending = NULL;
		c->pcap = 0;
	}
	rinterest(fd, EPOLLIN);
}

static void ron_readable(int fd)
{
	struct rconn *c = &rconns[fd];
	ssize_t n;
	do
		n = read(fd, rbuf, sizeof rbuf);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		rclose(fd);
		return;
	}
	routlen = 0;
	long used;
	if (c->inlen == 0) {
		used = serve((unsigned char *)rbuf, (size_t)n);
		if (used >= 0 && (size_t)used < (size_t)n) {
			grow(&c->in, 0, &c->incap, (size_t)n - (size_t)used);
			memcpy(c->in, rbuf + used, (size_t)n - (size_t)used);
			c->inlen = (size_t)n - (size_t)used;
		}
	} else {
		grow(&c->in, c->inlen, &c->incap, (size_t)n);
		memcpy(c->in + c->inlen, rbuf, (size_t)n);
		c->inlen += (size_t)n;
		used = serve((unsigned char *)c->in, c->inlen);
		if (used > 0) {
			memmove(c->in, c->in + used, c->inlen - (size_t)used);
			c->inlen -= (size_t)used;
		}
	}
	if (used < 0) {
		badframes++;
		fprintf(stderr, "peer-c rpc: fd %d closed for a bad frame\n", fd);
		rclose(fd);
		return;
	}
	if (c->inlen == 0 && c->incap > (1 << 20)) { /* a big frame's buffer is not kept */
		free(c->in);
		c->in = NULL;
		c->incap = 0;
	}
	if (routlen > 0)
		rsend(fd);
}

static void ron_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or an error the next accept will show again */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		rconn_of(fd)->open = 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(rep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl ADD");
	}
}

/* run_rpc serves tools/rpc's protocol on addr until SIGTERM. */
int run_rpc(const char *addr)
{
	struct sockaddr_in sa = parse_addr(addr);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	socklen_t sl = sizeof sa;
	if (getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		die("getsockname");
	rep = epoll_create1(EPOLL_CLOEXEC);
	if (rep < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	if (epoll_ctl(rep, EPOLL_CTL_ADD, lfd, &ev) < 0)
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
		int n = epoll_wait(rep, events, RPC_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == lfd) {
				ron_accept(lfd);
				continue;
			}
			if (!rconns[fd].open)
				continue; /* closed earlier in this round */
			if (events[i].events & EPOLLOUT)
				rflush(fd);
			else if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				ron_readable(fd);
		}
	}
	fprintf(stderr, "peer-c rpc: answered %llu calls (%llu to unknown methods), closed %llu connections for bad frames\n",
		answered, unknown, badframes);
	return 0;
}
