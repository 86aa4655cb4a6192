package engine

import (
	"fmt"
	"strings"
)

// splitAddr parses "tcp://127.0.0.1:7000", "tcp4://…", "tcp6://[::1]:0",
// "unix:///run/x.sock" or a bare "host:port" (TCP).
func splitAddr(addr string) (network, address string, err error) {
	network, address, ok := strings.Cut(addr, "://")
	if !ok {
		return "tcp", addr, nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return network, address, nil
	}
	return "", "", fmt.Errorf("engine: address %q: unknown network %q (want tcp, tcp4, tcp6 or unix)", addr, network)
}
