package engine

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The flood benchmark's processes: the server (runFloodChild), the
// flooders (runFlooderChild), and the measuring clients (the benchmark
// itself), each placed on CPUs of its own choosing (pinProcess).

// Environment of the flood benchmark's children.
const (
	floodCPUsEnv  = "SHARDNET_FLOOD_CPUS"  // "0" or "0,1": the child pins itself there (GOMAXPROCS follows); empty: not pinned
	floodNiceEnv  = "SHARDNET_FLOOD_NICE"  // the child's nice value; empty: 0
	flooderAddr   = "SHARDNET_FLOOD_ADDR"  // the flooders' target
	flooderCount  = "SHARDNET_FLOOD_COUNT" // how many flooders
	flooderTLSVer = tls.VersionTLS13
)

// pinProcess puts every thread of this process on cpus (and so the ones
// it makes later, which inherit their creator's mask), sets GOMAXPROCS to
// their number, and gives every thread the nice value nice.
func pinProcess(cpus []int, nice int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if len(cpus) > 0 {
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				return fmt.Errorf("sched_setaffinity %d: %w", tid, err)
			}
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
			return fmt.Errorf("setpriority %d: %w", tid, err)
		}
	}
	if len(cpus) > 0 {
		runtime.GOMAXPROCS(len(cpus))
	}
	return nil
}

// pinFromEnv is pinProcess as floodCPUsEnv and floodNiceEnv say.
func pinFromEnv() error {
	var cpus []int
	if v := os.Getenv(floodCPUsEnv); v != "" {
		for _, f := range strings.Split(v, ",") {
			c, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s=%q: %w", floodCPUsEnv, v, err)
			}
			cpus = append(cpus, c)
		}
	}
	nice := 0
	if v := os.Getenv(floodNiceEnv); v != "" {
		var err error
		if nice, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%s=%q: %w", floodNiceEnv, v, err)
		}
	}
	if len(cpus) == 0 && nice == 0 {
		return nil
	}
	return pinProcess(cpus, nice)
}

// runFlooderChild is the flood: flooderCount goroutines against
// flooderAddr, each over and over dialing, sending a real ClientHello
// (TLS 1.3, X25519), waiting for the server's flight or the reset of a
// refusal, and resetting the connection (no TIME_WAIT to run the ports
// out), so that the server computes a full handshake for every connection
// it takes. It prints "ready", answers each "stats" line on stdin with
// the flood connections made so far, how many of them got the server's
// flight (a handshake the server computed), and the dial errors, and
// stops when stdin closes.
func runFlooderChild() int {
	if err := pinFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "flooder:", err)
		return 1
	}
	addr := os.Getenv(flooderAddr)
	n, err := strconv.Atoi(os.Getenv(flooderCount))
	if err != nil {
		fmt.Fprintln(os.Stderr, "flooder:", err)
		return 1
	}
	hello, err := makeClientHello(&tls.Config{InsecureSkipVerify: true, MinVersion: flooderTLSVer, CurvePreferences: []tls.CurveID{tls.X25519}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "flooder:", err)
		return 1
	}
	stop := make(chan struct{})
	var conns, flights, dialErrs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					dialErrs.Add(1) // a refusal may reset it before the dial returns
					time.Sleep(10 * time.Millisecond)
					continue
				}
				c.Write(hello)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, _ := c.Read(buf); n > 0 && buf[0] == recordTypeHandshake {
					flights.Add(1) // the server computed this one's handshake
				}
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				conns.Add(1)
			}
		}()
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("%d %d %d\n", conns.Load(), flights.Load(), dialErrs.Load())
	}
	close(stop)
	wg.Wait()
	return 0
}

// makeClientHello returns the first flight a crypto/tls client with cfg
// sends: its ClientHello record.
func makeClientHello(cfg *tls.Config) ([]byte, error) {
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		_ = tls.Client(a, cfg).Handshake() // fails when b closes
		a.Close()
	}()
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(b, hdr); err != nil {
		return nil, err
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}
