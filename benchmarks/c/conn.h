/*
 * conn.h: the connection table and output path the TCP modes of peer-c
 * share (peer.c's echo and HTTP, rpc.c's RPC): one state per fd, a write
 * that queues what the socket does not take, and EPOLLOUT to drain it.
 * Its functions are static, so each file that includes it gets its own
 * copies, as if written there, and the compiler treats them as before.
 * The includer defines nothing else of these names and sets ep (its epoll
 * fd) before it accepts.
 */
#ifndef PEER_CONN_H
#define PEER_CONN_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void die(const char *what);                      /* peer.c */
struct sockaddr_in parse_addr(const char *addr); /* peer.c */
int listen_on(const char *addr);                 /* peer.c */

/* conn is one connection's state, indexed by its fd. */
struct conn {
	int open;
	int close_after;   /* close once pending is written (HTTP: the client asked) */
	char *pending;     /* bytes the socket did not take; NULL when none */
	size_t plen, pcap; /* pending bytes and capacity */
	size_t poff;       /* pending bytes already written */
	char *in;          /* an unfinished request or frame kept between reads */
	size_t inlen, incap;
};

static struct conn *conns;
static size_t nconns;
static int ep;
static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("realloc");
	return p;
}

/* append grows a byte buffer geometrically and copies src to its end. */
static void append(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		*buf = xrealloc(*buf, c);
		*cap = c;
	}
	memcpy(*buf + *len, src, n);
	*len += n;
}

static struct conn *conn_of(int fd)
{
	if ((size_t)fd >= nconns) {
		size_t n = nconns ? nconns : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		conns = xrealloc(conns, n * sizeof *conns);
		memset(conns + nconns, 0, (n - nconns) * sizeof *conns);
		nconns = n;
	}
	return &conns[fd];
}

static void close_conn(int fd)
{
	struct conn *c = &conns[fd];
	free(c->pending);
	free(c->in);
	memset(c, 0, sizeof *c);
	close(fd); /* also removes fd from the epoll set */
}

static void set_interest(int fd, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl MOD");
}

/*
 * send_bytes writes b to the socket, or queues it behind what is pending.
 * Whatever the socket does not take goes to the pending buffer and the
 * connection waits for EPOLLOUT instead of reading. Returns -1 when the
 * connection was closed.
 */
static int send_bytes(int fd, const char *b, size_t n)
{
	struct conn *c = &conns[fd];
	if (c->plen > 0) {
		append(&c->pending, &c->plen, &c->pcap, b, n);
		return 0;
	}
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			close_conn(fd);
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	if (n > 0) {
		append(&c->pending, &c->plen, &c->pcap, b, n);
		set_interest(fd, EPOLLOUT);
	}
	return 0;
}

/* flush_pending writes pending bytes on EPOLLOUT; once they are all out the
 * connection reads again (or closes, if that was asked). */
static void flush_pending(int fd)
{
	struct conn *c = &conns[fd];
	while (c->poff < c->plen) {
		ssize_t w = write(fd, c->pending + c->poff, c->plen - c->poff);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			close_conn(fd);
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
	if (c->close_after) {
		close_conn(fd);
		return;
	}
	set_interest(fd, EPOLLIN);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or out of fds: try again on the next event */
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as Go's net and the engines do */
		struct conn *c = conn_of(fd);
		c->open = 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl ADD");
	}
}

#endif
