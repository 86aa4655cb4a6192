package codec

import (
	"testing"
	"time"
)

func TestResponseAppendHead(t *testing.T) {
	date := AppendDate(nil, time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC))
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{name: "plaintext", resp: Response{Status: 200, ContentType: "text/plain", ContentLength: 13, Date: date},
			want: "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"},
		{name: "error and close", resp: Response{Status: 431, ContentLength: 0, Close: true},
			want: "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{name: "1.0 keep-alive, no length", resp: Response{Status: 204, ContentLength: -1, KeepAlive: true},
			want: "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"},
		{name: "unknown status", resp: Response{Status: 299, ContentLength: -1}, want: "HTTP/1.1 299 Status\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.resp.AppendHead(nil)); got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := string(AppendHeader(nil, "Server", "shardnet")); got != "Server: shardnet\r\n" {
		t.Errorf("AppendHeader = %q", got)
	}
}

func TestResponseSetConnection(t *testing.T) {
	tests := []struct {
		name            string
		req             Request
		close, keepOpen bool
	}{
		{name: "1.1 default", req: Request{Minor: 1, KeepAlive: true}},
		{name: "1.1 close", req: Request{Minor: 1}, close: true},
		{name: "1.0 default", req: Request{Minor: 0}, close: true},
		{name: "1.0 keep-alive", req: Request{Minor: 0, KeepAlive: true}, keepOpen: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			r.SetConnection(&tc.req)
			if r.Close != tc.close || r.KeepAlive != tc.keepOpen {
				t.Fatalf("Close=%v KeepAlive=%v", r.Close, r.KeepAlive)
			}
		})
	}
}
