package main

import (
	"bufio"
	"strings"
	"testing"
)

// TestReadAnswer: the plaintext answer passes, whatever the case of its
// header names; anything else is refused.
func TestReadAnswer(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"plaintext", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!", true},
		{"lower-case names", "HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\nHello, World!", true},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\nHello, World!", false},
		{"other body", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, there!", false},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nHello, World!", false},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := readAnswer(bufio.NewReader(strings.NewReader(tc.in)), make([]byte, 64))
			if (err == nil) != tc.ok {
				t.Fatalf("readAnswer: %v, want ok %v", err, tc.ok)
			}
		})
	}
}
