package engine

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRecvBatchReuse reads batches of different sizes through one
// recvBatch. recv sets again only the headers the previous call filled,
// because the kernel writes back the lengths of those alone: a slot that
// last held a datagram with fewer control bytes (IPv4 packet info, 32)
// must have its full room again for one with more (IPv6 packet info, 40),
// or the kernel would cut its control messages.
func TestRecvBatchReuse(t *testing.T) {
	fd, local, v6, err := packetSocket("udp", ":0", false) // dual-stack
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFd(fd) })
	if !v6 {
		t.Fatal("want a dual-stack v6 socket for \":0\"")
	}
	cfg := defaultConfig()
	setupPacketSocket(fd, v6, true, &cfg) // wildcard: every datagram carries its packet info
	rb := newRecvBatch(4, 512)
	c4, c6 := udpClient(t, "udp4", "127.0.0.1:0"), udpClient(t, "udp6", "[::1]:0")
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	to4, to6 := netip.AddrPortFrom(lo4, local.Port()), netip.AddrPortFrom(lo6, local.Port())
	from4 := c4.LocalAddr().(*net.UDPAddr).AddrPort()
	from6 := c6.LocalAddr().(*net.UDPAddr).AddrPort()
	send := func(c *net.UDPConn, to netip.AddrPort, ps ...string) func() {
		return func() {
			for _, p := range ps {
				if _, err := c.WriteToUDPAddrPort([]byte(p), to); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	big := string(bytes.Repeat([]byte("x"), 600))
	type want struct {
		p     string
		from  netip.AddrPort
		dst   netip.Addr
		trunc bool
	}
	w4 := func(ps ...string) (ws []want) {
		for _, p := range ps {
			ws = append(ws, want{p, from4, lo4, false})
		}
		return ws
	}
	w6 := func(ps ...string) (ws []want) {
		for _, p := range ps {
			ws = append(ws, want{p, from6, lo6, false})
		}
		return ws
	}
	steps := []struct {
		name string
		send func()
		want []want
	}{
		{"v4, three", send(c4, to4, "1", "22", "333"), w4("1", "22", "333")},
		{"v6 in the same slots", send(c6, to6, "a", "bb"), w6("a", "bb")},
		{"v4 again", send(c4, to4, "c"), w4("c")},
		{"v6, one cut", send(c6, to6, big), []want{{big[:512], from6, lo6, true}}},
		{"v6 after the cut", send(c6, to6, "after"), w6("after")},
		{"v4, a full batch and one more", send(c4, to4, "d", "e", "f", "g", "h"), w4("d", "e", "f", "g")},
		{"the one more", func() {}, w4("h")},
		{"v6, three after a full batch", send(c6, to6, "i", "j", "k"), w6("i", "j", "k")},
		{"none", func() {}, nil},
		{"v6 after EAGAIN", send(c6, to6, "l"), w6("l")},
	}
	for _, st := range steps {
		st.send()
		var n int
		var err error
		deadline := time.Now().Add(2 * time.Second)
		for {
			n, err = rb.recv(fd)
			if len(st.want) == 0 || err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond) // loopback delivers within the send, but do not count on it
		}
		if len(st.want) == 0 {
			if err != unix.EAGAIN {
				t.Fatalf("%s: recv = %d, %v; want EAGAIN", st.name, n, err)
			}
			continue
		}
		if err != nil || n != len(st.want) {
			t.Fatalf("%s: recv = %d, %v; want %d", st.name, n, err, len(st.want))
		}
		for i, w := range st.want {
			p, from, trunc, info := rb.slot(i)
			if string(p) != w.p || from != w.from || trunc != w.trunc || info.dst != w.dst {
				t.Errorf("%s: slot %d = %.8q… from %v to %v (cut %v); want %.8q… from %v to %v (cut %v)",
					st.name, i, p, from, info.dst, trunc, w.p, w.from, w.dst, w.trunc)
			}
			if f := rb.msgs[i].Hdr.Flags; f&unix.MSG_CTRUNC != 0 {
				t.Errorf("%s: slot %d: control messages cut (flags %#x)", st.name, i, f)
			}
		}
	}
}
