/*
 * peer-c: the one-core limit of the epoll interface, as a benchmark peer.
 *
 * One thread, level-triggered epoll, one 64 KiB read buffer shared by every
 * connection. Echo mode writes back what each read returned; HTTP mode
 * answers every complete request of a read with the same plaintext response
 * the Go peers send (benchmarks/internal/peer/http.go), all the answers of
 * one read in one write. Output waits in a per-connection pending buffer
 * only when the socket is full; the connection then stops reading until the
 * buffer drains, so memory stays bounded.
 *
 * Nothing here is clever on purpose: it is the plain loop every engine is
 * measured against.
 *
 *   peer-c -mode echo -addr 127.0.0.1:7000 -loops 1
 *
 * Like the Go peers it prints "ready" once it accepts and ends on SIGTERM.
 * It accepts -loops 1 only, and ignores SIGUSR1 (it has no allocator
 * counts to report; the driver does not ask it).
 *
 * -mode udp is a datagram echo server (c/udp.c); -mode rpc serves
 * tools/rpc's protocol as `shardnet rpc-server`'s echo method (c/rpc.c).
 *
 * Built by cmd/bench and cmd/peer-rpc-compare with:
 * gcc -O2 -Wall -o bin/peer-c c/peer.c c/udp.c c/rpc.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF (64 << 10)    /* the one read buffer */
#define MAX_EVENTS 1024        /* epoll_wait batch */
#define MAX_HEAD (16 << 10)    /* longest request head, as codec's default */
#define MAX_BODY (64 << 10)    /* longest request body, as peer.MaxBody */

#include "conn.h"

static int http_mode;
static char readbuf[READ_BUF];

/* out gathers the HTTP answers of one read before the one write. */
static char *out;
static size_t outlen, outcap;

void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- HTTP ---------------------------------------------------------------- */

/* The response every request gets, as the Go peers build it with
 * codec.Response{Status: 200, ContentType: "text/plain", ContentLength: 13,
 * Date: now, Close: close}. */
#define BODY "Hello, World!"
static char resp_keep[256], resp_close[256];
static size_t resp_keep_len, resp_close_len;
static time_t resp_time = -1;
static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/* refresh_date rebuilds the two responses when the second changes. */
static void refresh_date(void)
{
	time_t now = time(NULL);
	if (now == resp_time)
		return;
	resp_time = now;
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	resp_keep_len = (size_t)snprintf(resp_keep, sizeof resp_keep,
		"HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n" BODY,
		date, strlen(BODY));
	resp_close_len = (size_t)snprintf(resp_close, sizeof resp_close,
		"HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n" BODY,
		date, strlen(BODY));
}

/* has_token reports whether a comma-separated header value lists tok
 * (case-insensitive, spaces and tabs around tokens ignored). */
static int has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return 1;
	}
	return 0;
}

static int name_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

enum { REQ_OK, REQ_MORE, REQ_BAD };

/*
 * parse_request looks at one request at the start of b[0:n]. On REQ_OK it
 * sets *total (head plus body) and *keep_alive. It follows the rules codec's
 * decoder applies to what a benchmark client sends: a request line
 * "METHOD SP target SP HTTP/1.x", header fields "name: value", a body only
 * by Content-Length, exactly one Host in HTTP/1.1, keep-alive by default
 * in 1.1 and only when asked in 1.0; Transfer-Encoding is refused (the Go
 * peers answer a chunked request with 400 too).
 */
static int parse_request(const char *b, size_t n, size_t *total, int *keep_alive)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4);
	if (end == NULL)
		return n >= MAX_HEAD ? REQ_BAD : REQ_MORE;
	size_t head = (size_t)(end - b) + 4;
	if (head > MAX_HEAD)
		return REQ_BAD;

	/* Request line. */
	const char *line_end = memmem(b, head, "\r\n", 2);
	const char *sp1 = memchr(b, ' ', (size_t)(line_end - b));
	if (sp1 == NULL || sp1 == b)
		return REQ_BAD;
	const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return REQ_BAD;
	const char *ver = sp2 + 1;
	if (line_end - ver != 8 || memcmp(ver, "HTTP/1.", 7) != 0 || (ver[7] != '0' && ver[7] != '1'))
		return REQ_BAD;
	int minor = ver[7] - '0';

	/* Header fields. */
	int hosts = 0, close_tok = 0, keep_tok = 0;
	long long length = 0;
	const char *p = line_end + 2;
	while (p < end + 2) {
		const char *le = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || colon == p)
			return REQ_BAD;
		const char *v = colon + 1, *ve = le;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
		if (name_is(p, nl, "host")) {
			hosts++;
		} else if (name_is(p, nl, "connection")) {
			close_tok |= has_token(v, vl, "close");
			keep_tok |= has_token(v, vl, "keep-alive");
		} else if (name_is(p, nl, "content-length")) {
			if (vl == 0 || vl > 18)
				return REQ_BAD;
			length = 0;
			for (size_t i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return REQ_BAD;
				length = length * 10 + (v[i] - '0');
			}
			if (length > MAX_BODY)
				return REQ_BAD;
		} else if (name_is(p, nl, "transfer-encoding")) {
			return REQ_BAD;
		}
		p = le + 2;
	}
	if (minor == 1 && hosts != 1)
		return REQ_BAD;
	if (head + (size_t)length > n)
		return REQ_MORE; /* wait for the whole body */
	*total = head + (size_t)length;
	*keep_alive = !close_tok && (minor == 1 || keep_tok);
	return REQ_OK;
}

/* serve_http answers the complete requests in b[0:n], all in one write, and
 * keeps an unfinished one for the next read. */
static void serve_http(int fd, const char *b, size_t n)
{
	struct conn *c = &conns[fd];
	size_t used = 0;
	int close_after = 0;
	outlen = 0;
	while (used < n) {
		size_t total;
		int keep;
		int r = parse_request(b + used, n - used, &total, &keep);
		if (r == REQ_MORE)
			break;
		if (r == REQ_BAD) {
			append(&out, &outlen, &outcap, bad_request, sizeof bad_request - 1);
			close_after = 1;
			break;
		}
		if (keep) {
			append(&out, &outlen, &outcap, resp_keep, resp_keep_len);
		} else {
			append(&out, &outlen, &outcap, resp_close, resp_close_len);
			close_after = 1;
		}
		used += total;
		if (close_after)
			break;
	}
	/* Keep the unfinished tail; b may be c->in itself, so move, not copy. */
	size_t rest = close_after ? 0 : n - used;
	if (b == c->in) {
		memmove(c->in, c->in + used, rest);
		c->inlen = rest;
	} else if (rest > 0) {
		append(&c->in, &c->inlen, &c->incap, b + used, rest);
	}
	if (outlen > 0 && send_bytes(fd, out, outlen) < 0)
		return;
	if (close_after) {
		if (c->plen > 0)
			c->close_after = 1; /* close once the answers are out */
		else
			close_conn(fd);
	}
}

/* ---- the loop ------------------------------------------------------------ */

/* on_readable reads once (level-triggered: epoll reports the fd again if
 * more is there) and echoes or answers what came. */
static void on_readable(int fd)
{
	ssize_t n = read(fd, readbuf, sizeof readbuf);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		close_conn(fd);
		return;
	}
	if (n == 0) {
		close_conn(fd);
		return;
	}
	if (!http_mode) {
		send_bytes(fd, readbuf, (size_t)n);
		return;
	}
	struct conn *c = &conns[fd];
	if (c->inlen > 0) {
		/* Rare: a request was cut between reads; join the parts. */
		append(&c->in, &c->inlen, &c->incap, readbuf, (size_t)n);
		serve_http(fd, c->in, c->inlen);
	} else {
		serve_http(fd, readbuf, (size_t)n);
	}
}

/* parse_addr reads "a.b.c.d:port" or exits with a usage error; udp.c uses it too. */
struct sockaddr_in parse_addr(const char *addr)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "peer-c: -addr %s: want host:port\n", addr);
		exit(2);
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "peer-c: -addr %s: want an IPv4 address\n", addr);
		exit(2);
	}
	return sa;
}

int listen_on(const char *addr)
{
	struct sockaddr_in sa = parse_addr(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

int run_udp(const char *addr); /* udp.c */
int run_rpc(const char *addr); /* rpc.c */

static void usage(void)
{
	fprintf(stderr, "usage: peer-c -mode echo|http|udp|rpc -addr host:port [-loops 1]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mode = "echo", *addr = "127.0.0.1:7000";
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-mode") == 0) {
			mode = argv[++i];
		} else if (strcmp(argv[i], "-addr") == 0) {
			addr = argv[++i];
		} else if (strcmp(argv[i], "-loops") == 0) {
			if (atoi(argv[++i]) != 1) {
				fprintf(stderr, "peer-c: -loops %s: one thread only\n", argv[i]);
				exit(2);
			}
		} else {
			usage();
		}
	}
	if (strcmp(mode, "udp") == 0)
		return run_udp(addr);
	if (strcmp(mode, "rpc") == 0)
		return run_rpc(addr);
	if (strcmp(mode, "http") == 0)
		http_mode = 1;
	else if (strcmp(mode, "echo") != 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	int lfd = listen_on(addr);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl ADD listener");
	refresh_date();
	printf("ready\n");
	fflush(stdout);

	static struct epoll_event events[MAX_EVENTS];
	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, http_mode ? 1000 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		if (http_mode)
			refresh_date(); /* one time() per round, a vDSO call */
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
				on_readable(fd);
		}
	}
}
