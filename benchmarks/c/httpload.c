/*
 * httpload: an open-loop HTTP load generator for the fixed-rate HTTP cells,
 * in the manner of wrk2 (which Debian does not ship).
 *
 * One thread, epoll. -c connections each keep at most -pipeline requests in
 * flight. A 100 µs timer makes requests due at -rate per second in total;
 * each due request goes out on a connection with room in its pipeline, and
 * the requests queued on one connection in a round leave in one write.
 * Latency is timed from when a request was due if it left more than one tick
 * late (no connection had room: the server was holding them all), so a
 * stall is not hidden by the generator waiting for it (coordinated
 * omission), and from when it left otherwise. -rate 0 keeps every pipeline
 * full instead.
 *
 * Every response is checked: the first is parsed (status 200, Content-Length
 * 13, body "Hello, World!"); since the Date header has a fixed length, every
 * response has that length and is checked by its status line and its body.
 *
 * Before the clock starts every connection is primed: one request each,
 * all sent at once, every answer read in full and checked. So the figures
 * time the server's steady state, not its start on a burst of new
 * connections (a server that starts a goroutine or a thread per connection
 * answers the first requests of hundreds of new connections late; that is
 * a connection-storm figure, not a request-latency one).
 *
 * It prints "bench: ..." on stderr when the clock starts and, at the end,
 * the JSON object `shardnet bench -json` prints (messages, msgs_per_sec,
 * seconds, latency_us, errors, mismatch, error_messages) on stdout, so the
 * driver reads both alike. Exit status 1 on any error.
 *
 *   httpload -addr 127.0.0.1:7000 -c 50 -pipeline 16 -rate 500000 -duration 2
 *
 * Built by cmd/bench with: gcc -O2 -Wall -o bin/httpload c/httpload.c
 *
 * Built with -DHTTPLOAD_TLS (and -lssl -lcrypto) it is httpsload, the load
 * of the https-rate cells (issue 16): -tls-ca ca.pem makes every connection
 * a TLS 1.3 one (OpenSSL, as wrk's), verified against that authority for
 * the name localhost, with X25519 as the only group and
 * TLS_AES_128_GCM_SHA256 as the only cipher suite, so that every server
 * meets the same key exchange and record cipher. The handshakes happen
 * before the clock starts; the loop is the same, with SSL_read and
 * SSL_write (partial writes on) in place of read and write.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#ifdef HTTPLOAD_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define TICK_NS 100000LL /* the schedule's granularity: 100 µs */
#define BODY "Hello, World!"
#define STATUS "HTTP/1.1 200 OK\r\n"
#define TAIL "\r\n\r\n" BODY

/* conn is one connection: what it owes the socket and what it awaits. */
struct conn {
	int fd;
	uint64_t sent, recv; /* requests written (or queued) and answered */
	int64_t *sent_at;    /* due or send time of request k at k % pipeline, ns */
	size_t owe;          /* request bytes queued but not yet written */
	size_t wpos;         /* bytes written so far, modulo the request length */
	int want_out;        /* waiting for EPOLLOUT */
	int listed;          /* on the ready stack */
	char *in;            /* bytes of an unfinished response */
	size_t inlen;
#ifdef HTTPLOAD_TLS
	SSL *ssl; /* with -tls-ca: the connection's TLS state, else NULL */
#endif
};

static struct conn *conns;
static int nconns = 50, pipeline = 1, json = 0;
static long long rate = 0;
static double duration = 10;
static const char *addr = "127.0.0.1:7000";
static int ep;
#ifdef HTTPLOAD_TLS
static const char *tls_ca; /* -tls-ca: serve TLS, trusting this authority */
static SSL_CTX *tls_ctx;
#endif

static char *req;     /* one request */
static size_t reqlen;
static char *reqs;    /* pipeline+1 copies of it, to write from */
static size_t resplen; /* length of every response, learnt from the first */

static struct conn **ready; /* connections with room in their pipeline */
static int nready;
static uint64_t issued;    /* requests the schedule sent */
static int64_t epoch;      /* CLOCK_MONOTONIC ns when the clock started */
static int stopping;
static uint64_t answered;  /* responses checked since the clock started */

static long errors;
static int mismatch;
static char errmsg[10][160];
static int nerr;

/* ---- a log-linear latency histogram (about 0.8 % resolution) ----------- */

#define SUB_BITS 7
#define SUB (1 << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS) * SUB)
static uint64_t hist[NBUCKETS];
static uint64_t hist_n;
static int64_t hist_max;

static int bucket_of(uint64_t v)
{
	if (v < SUB)
		return (int)v;
	int shift = 63 - __builtin_clzll(v) - SUB_BITS + 1; /* v >> shift in [SUB/2, SUB) */
	return shift * (SUB / 2) + (int)(v >> shift);
}

/* bucket_low is the smallest value that falls in bucket b. */
static uint64_t bucket_low(int b)
{
	if (b < SUB)
		return (uint64_t)b;
	int shift = (b - SUB / 2) / (SUB / 2);
	uint64_t mant = (uint64_t)(b - shift * (SUB / 2));
	return mant << shift;
}

static void record(int64_t ns)
{
	if (ns < 0)
		ns = 0;
	hist[bucket_of((uint64_t)ns)]++;
	hist_n++;
	if (ns > hist_max)
		hist_max = ns;
}

/* quantile returns the value at q (0..100) in µs: the middle of its bucket. */
static double quantile(double q)
{
	if (hist_n == 0)
		return 0;
	uint64_t want = (uint64_t)(q / 100 * (double)hist_n);
	if (want >= hist_n)
		want = hist_n - 1;
	uint64_t seen = 0;
	for (int b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen > want) {
			uint64_t lo = bucket_low(b), hi = bucket_low(b + 1);
			return (double)(lo + hi) / 2 / 1e3;
		}
	}
	return (double)hist_max / 1e3;
}

/* ---- helpers ------------------------------------------------------------ */

#ifdef HTTPLOAD_TLS
/* tls_result maps an SSL_read_ex/SSL_write_ex failure onto read/write's
 * convention: -1 with errno EAGAIN when the record layer waits for the
 * socket, 0 for the peer's close_notify or EOF, -1 with errno set
 * otherwise (EPROTO for a TLS error). */
static ssize_t tls_result(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0; /* EOF without close_notify */
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}
#endif

/* conn_read and conn_write are read and write on the connection, through
 * TLS when it has it. */
static ssize_t conn_read(struct conn *c, void *b, size_t n)
{
#ifdef HTTPLOAD_TLS
	if (c->ssl != NULL) {
		size_t got;
		ERR_clear_error();
		errno = 0;
		int r = SSL_read_ex(c->ssl, b, n, &got);
		return r == 1 ? (ssize_t)got : tls_result(c->ssl, r);
	}
#endif
	return read(c->fd, b, n);
}

static ssize_t conn_write(struct conn *c, const void *b, size_t n)
{
#ifdef HTTPLOAD_TLS
	if (c->ssl != NULL) {
		size_t put;
		ERR_clear_error();
		errno = 0;
		int r = SSL_write_ex(c->ssl, b, n, &put);
		if (r == 1)
			return (ssize_t)put;
		ssize_t v = tls_result(c->ssl, r);
		if (v == 0)
			errno = EPIPE;
		return -1;
	}
#endif
	return write(c->fd, b, n);
}

/* conn_pending says whether TLS holds bytes of the connection that epoll
 * will not report: a record already read from the socket. */
static int conn_pending(struct conn *c)
{
#ifdef HTTPLOAD_TLS
	return c->ssl != NULL && SSL_has_pending(c->ssl);
#else
	(void)c;
	return 0;
#endif
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(int is_mismatch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(int is_mismatch, const char *fmt, ...)
{
	errors++;
	if (is_mismatch)
		mismatch = 1;
	if (nerr < 10) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg[nerr++], sizeof errmsg[0], fmt, ap);
		va_end(ap);
	}
	if (is_mismatch)
		stopping = 1;
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n);
	if (p == NULL) {
		perror("calloc");
		exit(1);
	}
	return p;
}

static void drop(struct conn *c, const char *why)
{
	if (c->fd < 0)
		return;
	if (!stopping)
		fail(0, "connection %d: %s after %llu responses", (int)(c - conns), why, (unsigned long long)c->recv);
#ifdef HTTPLOAD_TLS
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
#endif
	close(c->fd);
	c->fd = -1;
}

static void set_out(struct conn *c, int on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns)};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = on;
}

/* flush writes what the connection owes, in as few writes as the socket
 * allows; reqs holds enough copies of the request to write any run of them
 * from any offset. */
static void flush(struct conn *c)
{
	while (c->owe > 0 && c->fd >= 0) {
		size_t off = c->wpos % reqlen;
		size_t n = c->owe < (size_t)pipeline * reqlen + reqlen - off ? c->owe : (size_t)pipeline * reqlen + reqlen - off;
		ssize_t w = conn_write(c, reqs + off, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_out(c, 1);
				return;
			}
			drop(c, strerror(errno));
			return;
		}
		c->owe -= (size_t)w;
		c->wpos += (size_t)w;
	}
	if (c->fd >= 0)
		set_out(c, 0);
}

/* queue_one adds a request to the connection's next write; t is the time it
 * is timed from. */
static void queue_one(struct conn *c, int64_t t)
{
	c->sent_at[c->sent % (uint64_t)pipeline] = t;
	c->sent++;
	c->owe += reqlen;
}

static void push_ready(struct conn *c)
{
	if (!c->listed && c->fd >= 0) {
		c->listed = 1;
		ready[nready++] = c;
	}
}

/* pump sends the requests the schedule has made due, each on a connection
 * with room, and then writes every connection it queued on once. */
static void pump(int64_t now)
{
	if (stopping || rate == 0)
		return;
	uint64_t due = (uint64_t)((double)now / 1e9 * (double)rate);
	static struct conn **touched;
	static int ntouched;
	if (touched == NULL)
		touched = xmalloc((size_t)nconns * sizeof *touched);
	ntouched = 0;
	while (issued < due && nready > 0) {
		struct conn *c = ready[nready - 1];
		if (c->fd < 0) {
			c->listed = 0;
			nready--;
			continue;
		}
		int64_t at = (int64_t)((double)issued * 1e9 / (double)rate);
		if (at >= now - TICK_NS)
			at = now; /* late by less than a tick: the schedule's own granularity */
		if (c->owe == 0)
			touched[ntouched++] = c;
		queue_one(c, at);
		issued++;
		if (c->sent - c->recv >= (uint64_t)pipeline) {
			c->listed = 0;
			nready--;
		}
	}
	for (int i = 0; i < ntouched; i++)
		flush(touched[i]);
}

/* on_response checks and times one whole response at r. */
static void on_response(struct conn *c, const char *r, int64_t now)
{
	if (memcmp(r, STATUS, sizeof STATUS - 1) != 0 || memcmp(r + resplen - (sizeof TAIL - 1), TAIL, sizeof TAIL - 1) != 0) {
		fail(1, "connection %d, response %llu: not the plaintext response: %.40s", (int)(c - conns),
		     (unsigned long long)c->recv, r);
		return;
	}
	if (c->recv == c->sent) {
		fail(1, "connection %d: a response to no request", (int)(c - conns));
		return;
	}
	record(now - c->sent_at[c->recv % (uint64_t)pipeline]);
	c->recv++;
	if (!stopping)
		answered++;
	if (rate == 0) {
		if (!stopping)
			queue_one(c, now);
	} else {
		push_ready(c);
	}
}

/* learn_length parses the first response fully and returns its length, 0 if
 * more bytes are needed, -1 if it is not the expected one. */
static long learn_length(const char *b, size_t n)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4);
	if (end == NULL)
		return n > 4096 ? -1 : 0;
	size_t head = (size_t)(end - b) + 4;
	if (memcmp(b, STATUS, sizeof STATUS - 1) != 0)
		return -1;
	/* Header names are case-insensitive (HAProxy sends content-length). */
	long length = -1;
	for (const char *l = memmem(b, head, "\r\n", 2); l != NULL && l + 2 < end;
	     l = memmem(l + 2, (size_t)(end - (l + 2)) + 2, "\r\n", 2))
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			length = atol(l + 2 + 15);
	if (length != (long)strlen(BODY))
		return -1;
	if (n < head + strlen(BODY))
		return 0;
	if (memcmp(b + head, BODY, strlen(BODY)) != 0)
		return -1;
	return (long)(head + strlen(BODY));
}

static void on_readable(struct conn *c, char *buf, size_t cap, int64_t now)
{
	ssize_t n = conn_read(c, buf + c->inlen, cap - c->inlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			drop(c, strerror(errno));
		return;
	}
	if (n == 0) {
		drop(c, "closed by the server");
		return;
	}
	/* buf holds the connection's unfinished response (copied in before the
	 * read) followed by the new bytes. */
	size_t have = c->inlen + (size_t)n, pos = 0;
	if (resplen == 0) {
		long l = learn_length(buf, have);
		if (l < 0) {
			fail(1, "connection %d: not the plaintext response: %.60s", (int)(c - conns), buf);
			return;
		}
		if (l == 0) {
			memcpy(c->in, buf, have);
			c->inlen = have;
			return;
		}
		resplen = (size_t)l;
	}
	while (have - pos >= resplen && !mismatch) {
		on_response(c, buf + pos, now);
		pos += resplen;
	}
	c->inlen = have - pos;
	memcpy(c->in, buf + pos, c->inlen);
	if (rate == 0)
		flush(c);
}

/* ---- setup and the loop ------------------------------------------------ */

static void connect_all(void)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "httpload: -addr %s: want host:port\n", addr);
		exit(2);
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "httpload: -addr %s: want an IPv4 address\n", addr);
		exit(2);
	}
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			fprintf(stderr, "httpload: connect %s: %s\n", addr, strerror(errno));
			exit(1);
		}
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef HTTPLOAD_TLS
		if (tls_ctx != NULL) { /* the handshake, blocking, before the clock */
			c->ssl = SSL_new(tls_ctx);
			if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) || !SSL_set_tlsext_host_name(c->ssl, "localhost") ||
			    !SSL_set1_host(c->ssl, "localhost") || SSL_connect(c->ssl) != 1) {
				fprintf(stderr, "httpload: TLS handshake with %s: ", addr);
				ERR_print_errors_fp(stderr);
				fprintf(stderr, "\n");
				exit(1);
			}
		}
#endif
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			perror("epoll_ctl");
			exit(1);
		}
		c->sent_at = xmalloc((size_t)pipeline * sizeof *c->sent_at);
		c->in = xmalloc(8192);
	}
}

/* prime sends one request on every connection, then reads each answer
 * whole (its head up to the blank line, then the body), on the
 * still-blocking sockets (through TLS when the connection has it); a connection that fails or answers otherwise
 * ends the run, as a mismatch would. */
static void prime(void)
{
	for (int i = 0; i < nconns; i++) {
		if (conn_write(&conns[i], req, reqlen) != (ssize_t)reqlen) {
			fprintf(stderr, "httpload: priming connection %d: write: %s\n", i, strerror(errno));
			exit(1);
		}
	}
	char b[4096];
	for (int i = 0; i < nconns; i++) {
		size_t have = 0;
		const char *head_end = NULL;
		while (head_end == NULL || have < (size_t)(head_end - b) + 4 + sizeof BODY - 1) {
			if (have == sizeof b - 1) {
				fprintf(stderr, "httpload: priming connection %d: answer too long\n", i);
				exit(1);
			}
			ssize_t n = conn_read(&conns[i], b + have, sizeof b - 1 - have);
			if (n <= 0) {
				fprintf(stderr, "httpload: priming connection %d: read: %s\n", i, n == 0 ? "EOF" : strerror(errno));
				exit(1);
			}
			have += (size_t)n;
			b[have] = 0;
			head_end = strstr(b, "\r\n\r\n");
		}
		if (memcmp(b, STATUS, sizeof STATUS - 1) != 0 || have != (size_t)(head_end - b) + 4 + sizeof BODY - 1 ||
		    memcmp(head_end + 4, BODY, sizeof BODY - 1) != 0) {
			fprintf(stderr, "httpload: priming connection %d: not the plaintext response: %.60s\n", i, b);
			exit(1);
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: httpload -addr host:port [-c 50] [-pipeline 1] [-rate 0] [-duration 10] [-json]%s\n"
			"  -rate is requests per second in total (0: keep every pipeline full); -duration in seconds\n",
#ifdef HTTPLOAD_TLS
		" [-tls-ca ca.pem]"
#else
		""
#endif
	);
	exit(2);
}

/* print_result writes the summary as `shardnet bench -json` does. */
static void print_result(double secs)
{
	if (json) {
		printf("{\n  \"mode\": \"http\",\n  \"addr\": \"%s\",\n  \"connections\": %d,\n  \"pipeline\": %d,\n", addr, nconns, pipeline);
		printf("  \"rate\": %lld,\n  \"seconds\": %.6f,\n  \"messages\": %llu,\n  \"msgs_per_sec\": %.1f,\n", rate, secs,
		       (unsigned long long)answered, (double)answered / secs);
		if (hist_n > 0)
			printf("  \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p99_9\": %.1f, \"max\": %.1f},\n",
			       quantile(50), quantile(90), quantile(99), quantile(99.9), (double)hist_max / 1e3);
		printf("  \"errors\": %ld,\n  \"mismatch\": %s,\n  \"error_messages\": [", errors, mismatch ? "true" : "false");
		for (int i = 0; i < nerr; i++) {
			printf("%s\"", i ? ", " : "");
			for (const char *p = errmsg[i]; *p; p++) /* JSON-escape the few characters that need it */
				if (*p == '"' || *p == '\\')
					printf("\\%c", *p);
				else if ((unsigned char)*p < 0x20)
					printf("\\u%04x", *p);
				else
					putchar(*p);
			putchar('"');
		}
		printf("]\n}\n");
	} else {
		printf("requests  %llu in %.2fs: %.0f req/s\n", (unsigned long long)answered, secs, (double)answered / secs);
		if (hist_n > 0)
			printf("latency   p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus\n", quantile(50), quantile(90),
			       quantile(99), quantile(99.9), (double)hist_max / 1e3);
		printf("errors    %ld (%s)\n", errors, mismatch ? "MISMATCH" : "ok");
	}
	for (int i = 0; i < nerr; i++)
		fprintf(stderr, "httpload: %s\n", errmsg[i]);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-json") == 0) {
			json = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(argv[i - 1], "-addr") == 0)
			addr = v;
		else if (strcmp(argv[i - 1], "-c") == 0)
			nconns = atoi(v);
		else if (strcmp(argv[i - 1], "-pipeline") == 0)
			pipeline = atoi(v);
		else if (strcmp(argv[i - 1], "-rate") == 0)
			rate = atoll(v);
		else if (strcmp(argv[i - 1], "-duration") == 0)
			duration = atof(v);
#ifdef HTTPLOAD_TLS
		else if (strcmp(argv[i - 1], "-tls-ca") == 0)
			tls_ca = v;
#endif
		else
			usage();
	}
	if (nconns < 1 || pipeline < 1 || pipeline > 4096 || rate < 0 || duration <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
#ifdef HTTPLOAD_TLS
	if (tls_ca != NULL) {
		tls_ctx = SSL_CTX_new(TLS_client_method());
		if (tls_ctx == NULL || !SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION) ||
		    !SSL_CTX_set_ciphersuites(tls_ctx, "TLS_AES_128_GCM_SHA256") || !SSL_CTX_set1_groups_list(tls_ctx, "X25519") ||
		    SSL_CTX_load_verify_locations(tls_ctx, tls_ca, NULL) != 1) {
			fprintf(stderr, "httpload: TLS set-up (-tls-ca %s): ", tls_ca);
			ERR_print_errors_fp(stderr);
			return 1;
		}
		SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
#endif

	char buf0[256];
	snprintf(buf0, sizeof buf0, "GET /plaintext HTTP/1.1\r\nHost: %s\r\n\r\n", addr); /* what wrk sends */
	req = strdup(buf0);
	reqlen = strlen(req);
	reqs = xmalloc((size_t)(pipeline + 1) * reqlen);
	for (int i = 0; i <= pipeline; i++)
		memcpy(reqs + (size_t)i * reqlen, req, reqlen);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("epoll_create1");
		return 1;
	}
	conns = xmalloc((size_t)nconns * sizeof *conns);
	ready = xmalloc((size_t)nconns * sizeof *ready);
	connect_all();
	prime();
	for (int i = 0; i < nconns; i++) {
		if (fcntl(conns[i].fd, F_SETFL, O_NONBLOCK) < 0) {
			perror("fcntl");
			return 1;
		}
	}

	int tfd = -1;
	if (rate > 0) {
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		struct itimerspec its = {.it_interval = {0, TICK_NS}, .it_value = {0, TICK_NS}};
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)nconns};
		if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
			perror("timerfd");
			return 1;
		}
	}
	fprintf(stderr, "bench: http %s, %d connections, pipeline %d, %lld req/s, %gs\n", addr, nconns, pipeline, rate, duration);
	epoch = now_ns();
	for (int i = 0; i < nconns; i++) {
		if (rate == 0) {
			for (int k = 0; k < pipeline; k++)
				queue_one(&conns[i], 0);
			flush(&conns[i]);
		} else {
			push_ready(&conns[i]);
		}
	}

	static char buf[(64 << 10) + 8192];
	static struct epoll_event events[1024];
	int64_t end = (int64_t)(duration * 1e9), now = 0;
	while (!stopping) {
		int n = epoll_wait(ep, events, 1024, 100);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		now = now_ns() - epoch;
		for (int i = 0; i < n; i++) {
			uint32_t id = events[i].data.u32;
			if (id == (uint32_t)nconns) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
					perror("timerfd read");
				continue;
			}
			struct conn *c = &conns[id];
			if (c->fd < 0)
				continue;
			if (events[i].events & EPOLLOUT)
				flush(c);
			if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				do {
					memcpy(buf, c->in, c->inlen);
					on_readable(c, buf, sizeof buf, now);
				} while (c->fd >= 0 && !mismatch && conn_pending(c));
			}
		}
		if (now >= end)
			break;
		pump(now);
	}
	stopping = 1;
	print_result((double)(now > 0 ? now : 1) / 1e9);
	return errors > 0 ? 1 : 0;
}
