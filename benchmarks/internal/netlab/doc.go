// Package netlab builds a small network of Linux network namespaces joined
// by veth pairs, runs real programs in it, and drives the scenarios of
// issue 19: shardnet servers behind HAProxy while backends are killed,
// stopped and restarted with the listener hand-over, and echo and the
// proxy on a path that delays, loses, reorders, corrupts or drops every
// packet for a while.
//
// The network, all of it made by the lab and removed by Close:
//
//	client ns            balancer ns                      backend ns i (1..3)
//	10.219.0.1 ──veth── 10.219.0.2  HAProxy :80 :7000
//	  wrk, bench,                    shardnet proxy :9000
//	  the sha256 client  10.219.i.1 ──────veth──────────── 10.219.i.2
//	                                                         shardnet http :8080
//	                                                         shardnet echo :7000
//
// While the path is dead, two more probes run: shardnet echo -idle 1s
// (:7101) and -idle 10s (:7102) on the balancer, and a second shardnet
// proxy (:9100) relaying from a source the lab runs in backend 1 (:7300).
//
// No veth end is left in the namespace the lab was started from, so no
// packet of the lab can leave it. Programs run through "ip netns exec";
// the lab's own sockets (the sha256 client, the impairment queue) are
// opened on a thread that entered the client namespace.
//
// The impairments: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is
// not set), so the client's link is impaired in user space instead. An
// iptables NFQUEUE rule on each end of the link (client and balancer
// namespaces, INPUT) hands every packet that arrives over it to an
// Impairer, which holds each for a delay with jitter (in order), drops a
// share, holds a share longer than the packets behind it (reordering),
// flips a byte of a share's TCP segment (the receiver's TCP checksum
// rejects it: checksum offload is turned off on both veth ends for that),
// or drops all of them for a while. See impair_linux.go.
//
// Everything here is Linux only and needs root, iproute2, iptables,
// ethtool and HAProxy; NewLab says which is missing so a test can skip.
package netlab
