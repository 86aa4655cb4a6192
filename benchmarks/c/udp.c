/*
 * peer-c -mode udp: the one-core limit of batched UDP echo on this kernel.
 *
 * One thread, one UDP socket, level-triggered epoll. A readable socket is
 * drained with recvmmsg into a batch of UDP_BATCH buffers; each batch goes
 * back to its senders with one sendmmsg (the send of a datagram the socket
 * will not take is dropped and counted: at the fixed rates this peer is
 * measured at, the send buffer never fills). A batch shorter than asked
 * ends the wake-up, as the engines do, so an idle socket costs no extra
 * recvmmsg. Datagrams longer than a buffer (MSG_TRUNC) are dropped and
 * counted, never echoed cut.
 *
 * It is the floor the engines' UDP paths are read against where datagrams
 * come from many peers (the spread-out cells): the same system calls with
 * nothing around them. It sends no GSO, so where a batch holds runs of
 * datagrams for one peer (saturation) an engine that merges them with
 * UDP_SEGMENT can spend less than this floor.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BATCH 64      /* datagrams per recvmmsg, as shardnet's batch */
#define UDP_BUF 2048      /* one datagram's buffer: the cells send at most 1,200 B */

void die(const char *what);                   /* peer.c */
struct sockaddr_in parse_addr(const char *addr); /* peer.c */

static char bufs[UDP_BATCH][UDP_BUF];
static struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
static struct iovec iin[UDP_BATCH], iout[UDP_BATCH];
static struct sockaddr_storage from[UDP_BATCH];
static volatile sig_atomic_t stop;
static unsigned long long echoed, dropped, truncated;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int bind_udp(const char *addr)
{
	struct sockaddr_in sa = parse_addr(addr);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	return fd;
}

/* echo_batch sends the n datagrams received back where they came from. */
static void echo_batch(int fd, int n)
{
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			truncated++;
			continue;
		}
		iout[m].iov_base = bufs[i];
		iout[m].iov_len = in[i].msg_len;
		out[m].msg_hdr.msg_name = &from[i];
		out[m].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
		m++;
	}
	for (int sent = 0; sent < m;) {
		int k = sendmmsg(fd, out + sent, (unsigned)(m - sent), MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			dropped += (unsigned long long)(m - sent); /* EAGAIN, or the peer's port is gone */
			return;
		}
		sent += k;
		echoed += (unsigned long long)k;
	}
}

/* run_udp serves UDP echo on addr until SIGTERM. */
int run_udp(const char *addr)
{
	int fd = bind_udp(addr);
	for (int i = 0; i < UDP_BATCH; i++) {
		iin[i].iov_base = bufs[i];
		iin[i].iov_len = UDP_BUF;
		in[i].msg_hdr.msg_iov = &iin[i];
		in[i].msg_hdr.msg_iovlen = 1;
		in[i].msg_hdr.msg_name = &from[i];
		in[i].msg_hdr.msg_namelen = sizeof from[i];
		out[i].msg_hdr.msg_iov = &iout[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl ADD");
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL); /* no SA_RESTART: epoll_wait returns EINTR */
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (;;) {
			int k = recvmmsg(fd, in, UDP_BATCH, MSG_DONTWAIT, NULL);
			if (k < 0) {
				if (errno == EINTR)
					continue;
				break; /* EAGAIN: drained */
			}
			echo_batch(fd, k);
			for (int i = 0; i < k; i++)
				in[i].msg_hdr.msg_namelen = sizeof from[i]; /* only what this batch filled */
			if (k < UDP_BATCH)
				break;
		}
	}
	fprintf(stderr, "peer-c udp: echoed %llu, dropped %llu, truncated %llu\n", echoed, dropped, truncated);
	return 0;
}
