package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPlaintext: the answer carries the body and type every peer sends
// (net/http adds Content-Length and Date on the wire).
func TestPlaintext(t *testing.T) {
	h := plaintext{body: []byte("Hello, World!"), contentType: []string{"text/plain"}}
	for range 2 { // the shared header slice is not changed by a request
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/plaintext", nil))
		if w.Code != http.StatusOK || w.Body.String() != "Hello, World!" || w.Header().Get("Content-Type") != "text/plain" {
			t.Fatalf("got %d %q %v", w.Code, w.Body.String(), w.Header())
		}
	}
}
