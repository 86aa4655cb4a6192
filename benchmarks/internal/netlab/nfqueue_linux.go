package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A minimal client of the kernel's nfnetlink_queue: bind a queue, copy
// whole packets to user space, and give each a verdict (accept, drop, or
// accept a changed copy). Only what the impairer needs.

// Netlink and nfnetlink_queue constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaPacketHdr   = 1
	nfqaVerdictHdr  = 2
	nfqaPayload     = 10

	nfqnlCfgCmdBind = 1
	nfqnlCopyPacket = 2

	nfDrop   = 0
	nfAccept = 1

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// errNetlink is returned when the kernel refuses a configuration message.
var errNetlink = errors.New("netlab: nfnetlink_queue refused")

// nfqueue is one bound queue's socket.
type nfqueue struct {
	fd  int
	num uint16
	mu  sync.Mutex // serialises verdicts (they are sent from timers)
	seq uint32     // guarded by mu
}

// openNFQueue binds queue num on a netlink socket made in the calling
// thread's network namespace.
func openNFQueue(num uint16) (*nfqueue, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	q := &nfqueue{fd: fd, num: num}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	// Room for a burst of packets in flight to us; what overflows is
	// dropped by the kernel (counted by the caller as ENOBUFS).
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	// A receive timeout, so the reader sees Close.
	tv := unix.NsecToTimeval(int64(200e6))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0xffff)
	params[4] = nfqnlCopyPacket
	maxlen := binary.BigEndian.AppendUint32(nil, 65536)
	for _, m := range [][]byte{
		q.message(nfqnlMsgConfig, unix.NLM_F_ACK, attr(nfqaCfgCmd, cmd)),
		q.message(nfqnlMsgConfig, unix.NLM_F_ACK, attr(nfqaCfgParams, params), attr(nfqaCfgQueueMax, maxlen)),
	} {
		if err := q.request(m); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return q, nil
}

// message builds a netlink message of the queue subsystem: nlmsghdr,
// nfgenmsg (family AF_UNSPEC, version 0, the queue number), attributes.
func (q *nfqueue) message(typ uint16, flags uint16, attrs ...[]byte) []byte {
	q.mu.Lock()
	q.seq++
	seq := q.seq
	q.mu.Unlock()
	b := make([]byte, unix.NLMSG_HDRLEN, 64)
	b = append(b, unix.AF_UNSPEC, 0, byte(q.num>>8), byte(q.num))
	for _, a := range attrs {
		b = append(b, a...)
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|typ)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	return b
}

// attr is a netlink attribute, padded to 4 bytes.
func attr(typ uint16, v []byte) []byte {
	n := unix.SizeofNlAttr + len(v)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], v)
	return b
}

// request sends a configuration message and reads its acknowledgement.
func (q *nfqueue) request(m []byte) error {
	if err := unix.Sendto(q.fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return os.NewSyscallError("recvfrom", err)
	}
	msgs, err := parseNetlink(buf[:n])
	if err != nil {
		return err
	}
	for _, msg := range msgs {
		if msg.typ == unix.NLMSG_ERROR && len(msg.data) >= 4 {
			if code := int32(binary.NativeEndian.Uint32(msg.data)); code != 0 {
				return fmt.Errorf("%w: %v", errNetlink, unix.Errno(-code))
			}
			return nil
		}
	}
	return fmt.Errorf("%w: no acknowledgement", errNetlink)
}

// nlmsg is one parsed netlink message: its type and what follows the
// header.
type nlmsg struct {
	typ  uint16
	data []byte
}

// parseNetlink splits a datagram into its messages.
func parseNetlink(b []byte) ([]nlmsg, error) {
	var out []nlmsg
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b[0:]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return out, fmt.Errorf("netlab: netlink message of %d bytes in %d", n, len(b))
		}
		out = append(out, nlmsg{typ: binary.NativeEndian.Uint16(b[4:]), data: b[unix.NLMSG_HDRLEN:n]})
		b = b[min(len(b), (n+3)&^3):]
	}
	return out, nil
}

// packet is a queued packet: its id for the verdict and its bytes from the
// IP header on.
type packet struct {
	id      uint32
	payload []byte
}

// parsePacket reads a NFQNL_MSG_PACKET message's attributes (after the
// nfgenmsg).
func parsePacket(data []byte) (packet, bool) {
	var p packet
	if len(data) < 4 {
		return p, false
	}
	data = data[4:]
	got := false
	for len(data) >= unix.SizeofNlAttr {
		n := int(binary.NativeEndian.Uint16(data[0:]))
		typ := binary.NativeEndian.Uint16(data[2:]) & nlaTypeMask
		if n < unix.SizeofNlAttr || n > len(data) {
			return p, false
		}
		v := data[unix.SizeofNlAttr:n]
		switch typ {
		case nfqaPacketHdr:
			if len(v) >= 4 {
				p.id, got = binary.BigEndian.Uint32(v), true
			}
		case nfqaPayload:
			p.payload = v
		}
		data = data[min(len(data), (n+3)&^3):]
	}
	return p, got
}

// read waits for the next datagram of packets (up to the receive
// timeout) and returns them; the payloads point into buf.
func (q *nfqueue) read(buf []byte) ([]packet, error) {
	n, _, err := unix.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := parseNetlink(buf[:n])
	if err != nil {
		return nil, err
	}
	var out []packet
	for _, m := range msgs {
		if m.typ != nfnlSubsysQueue<<8|nfqnlMsgPacket {
			continue
		}
		if p, ok := parsePacket(m.data); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// verdict accepts or drops packet id; a non-nil payload replaces the
// packet's bytes.
func (q *nfqueue) verdict(id uint32, accept bool, payload []byte) error {
	v := make([]byte, 8)
	if accept {
		binary.BigEndian.PutUint32(v, nfAccept)
	} else {
		binary.BigEndian.PutUint32(v, nfDrop)
	}
	binary.BigEndian.PutUint32(v[4:], id)
	attrs := [][]byte{attr(nfqaVerdictHdr, v)}
	if payload != nil {
		attrs = append(attrs, attr(nfqaPayload, payload))
	}
	m := q.message(nfqnlMsgVerdict, 0, attrs...)
	q.mu.Lock()
	defer q.mu.Unlock()
	return unix.Sendto(q.fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func (q *nfqueue) close() { unix.Close(q.fd) }
