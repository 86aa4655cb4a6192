//go:build linux

package main

import (
	"io"

	"github.com/shardnet/shardnet/tools/handlers"
)

func runEcho(args []string, stdout, stderr io.Writer) int {
	var sf serverFlags
	fs := newFlagSet("echo", "Echo server: every byte read is written back, in order.", `  shardnet echo                                  # 127.0.0.1:7000, GOMAXPROCS shards
  shardnet echo -addr :7000 -shards 4 -pin       # all interfaces, 4 pinned shards
  shardnet echo -addr 127.0.0.1:7000,[::1]:7000  # IPv4 and IPv6
  shardnet echo -addr unix:///tmp/echo.sock      # a unix socket
  shardnet echo -reuseport -idle 30s -stats 1s   # kernel balancing, idle timeout, stats each second
  echo hello | nc -N 127.0.0.1 7000              # try it
  shardnet echo -tls cert.pem,key.pem            # TLS echo
  openssl s_client -connect 127.0.0.1:7000 -CAfile ca.pem  # try it
`, stderr)
	sf.register(fs, defaultAddr)
	sf.tls.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	return serve("echo", &sf, handlers.Echo{}, nil, stdout, stderr)
}
