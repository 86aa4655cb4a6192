package rawio

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMsgCalls sends with Sendmsg and Sendmmsg over a datagram socket pair
// and reads the datagrams back, in order and whole, with Recvmmsg.
func TestMsgCalls(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	a, b := fds[0], fds[1]

	one := []byte("lone datagram")
	var h unix.Msghdr
	iov := iovecs(one)
	h.Iov = &iov[0]
	h.SetIovlen(1)
	if n, err := Sendmsg(a, &h, unix.MSG_DONTWAIT); n != len(one) || err != nil {
		t.Fatalf("Sendmsg = %d, %v; want %d, nil", n, err, len(one))
	}
	batch := [][]byte{[]byte("first"), []byte("second")}
	out := make([]unix.Mmsghdr, len(batch))
	oiov := iovecs(batch...)
	for i := range out {
		out[i].Hdr.Iov = &oiov[i]
		out[i].Hdr.SetIovlen(1)
	}
	if n, err := Sendmmsg(a, out, unix.MSG_DONTWAIT); n != len(batch) || err != nil {
		t.Fatalf("Sendmmsg = %d, %v; want %d, nil", n, err, len(batch))
	}

	bufs := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64), make([]byte, 64)}
	in := make([]unix.Mmsghdr, len(bufs))
	iiov := iovecs(bufs...)
	for i := range in {
		in[i].Hdr.Iov = &iiov[i]
		in[i].Hdr.SetIovlen(1)
	}
	n, err := Recvmmsg(b, in, unix.MSG_DONTWAIT)
	if n != 3 || err != nil {
		t.Fatalf("Recvmmsg = %d, %v; want 3, nil", n, err)
	}
	for i, want := range []string{"lone datagram", "first", "second"} {
		if got := string(bufs[i][:in[i].Len]); got != want {
			t.Errorf("datagram %d = %q, want %q", i, got, want)
		}
	}
	if _, err := Recvmmsg(b, in, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Fatalf("Recvmmsg on an empty socket: %v, want EAGAIN", err)
	}
	if _, err := Sendmsg(-1, &h, 0); err != unix.EBADF {
		t.Fatalf("Sendmsg on fd -1: %v, want EBADF", err)
	}
}
