package netlab

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const statSample = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,last_chk
http_in,FRONTEND,,,3,5,4000,9,100,200,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,3,,,,,
http,b1,0,0,4,6,,20,10,20,,0,,1,2,0,3,UP,1,1,0,0,0,5,0,,1,3,1,,20,,2,0,,4,L7OK,200,1,,HTTP status check returned code <3C>200<3E>
http,b2,0,0,0,2,,7,1,2,,0,,0,0,1,0,DOWN 1/2,1,1,0,1,0,5,0,,1,3,2,,7,,2,0,,2,L7TOUT,,1001,,
http,BACKEND,0,0,4,8,400,27,11,22,0,0,,1,2,1,3,UP,2,2,0,,0,5,0,,1,3,0,,27,,1,0,,6,,,,,
`

func TestParseStat(t *testing.T) {
	got, err := ParseStat(statSample)
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerStat{
		{Backend: "http", Server: "b1", Status: "UP", Cur: 4, Total: 20, ConnErrors: 1, RespErrors: 2, Retries: 0, Redispatches: 3, LastCheck: "L7OK HTTP status check returned code <3C>200<3E>"},
		{Backend: "http", Server: "b2", Status: "DOWN 1/2", Cur: 0, Total: 7, ConnErrors: 0, RespErrors: 0, Retries: 1, Redispatches: 0, LastCheck: "L7TOUT"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d servers, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"http,b1,0\n", "# pxname,svname,scur\nhttp,b1,x\n", "# pxname\nhttp\n"} {
		if _, err := ParseStat(bad); !errors.Is(err, ErrStatFormat) && err == nil {
			t.Errorf("ParseStat(%q) = nil error", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add(statSample)
	f.Add("# a,b\n1,2\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseStat(s)
		if err == nil {
			for _, sv := range got {
				if sv.Server == "FRONTEND" || sv.Server == "BACKEND" {
					t.Fatalf("summary line returned as a server: %+v", sv)
				}
			}
		}
	})
}

const wrkSample = `Running 6s test @ http://10.219.0.2:80/plaintext
  2 threads and 12 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.50us    1.20ms  75.07ms   98.10%
    Req/Sec    16.50k     2.10k   20.00k    70.00%
  Latency Distribution
     50%  253.00us
     75%  341.00us
     90%  512.00us
     99%   20.41ms
  197730 requests in 6.02s, 27.15MB read
  Socket errors: connect 0, read 4, write 1, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:  32853.12
Transfer/sec:      4.51MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want WrkResult
		err  bool
	}{
		{name: "errors", out: wrkSample, want: WrkResult{Requests: 197730, Seconds: 6.02, PerSec: 32853.12, P99: 20410 * time.Microsecond, Max: 75070 * time.Microsecond,
			Read: 4, Write: 1, Timeout: 2, Non2xx: 3, Connections: 12}},
		{name: "clean", out: strings.Replace(strings.Replace(wrkSample, "  Socket errors: connect 0, read 4, write 1, timeout 2\n", "", 1), "  Non-2xx or 3xx responses: 3\n", "", 1),
			want: WrkResult{Requests: 197730, Seconds: 6.02, PerSec: 32853.12, P99: 20410 * time.Microsecond, Max: 75070 * time.Microsecond, Connections: 12}},
		{name: "minutes", out: strings.Replace(wrkSample, "in 6.02s", "in 1.50m", 1),
			want: WrkResult{Requests: 197730, Seconds: 90, PerSec: 32853.12, P99: 20410 * time.Microsecond, Max: 75070 * time.Microsecond, Read: 4, Write: 1, Timeout: 2, Non2xx: 3, Connections: 12}},
		{name: "cut short", out: "Running 6s test @ http://x\n", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWrk(tc.out)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if tc.name == "errors" && got.Failed() != 10 {
				t.Errorf("Failed() = %d, want 10", got.Failed())
			}
		})
	}
}

func TestParseBench(t *testing.T) {
	out := "bench: echo 10.219.0.2:7000, 12 connections\n[   1.0s]   3000 msgs/s\n{\n  \"connections\": 12,\n  \"messages\": 18000,\n  \"msgs_per_sec\": 3000,\n  \"latency_us\": {\"p50\": 1, \"p99\": 2160.6, \"max\": 2667577.3},\n  \"errors\": 2,\n  \"mismatch\": false,\n  \"error_messages\": [\"connection 3 closed: EOF\"]\n}\nshardnet bench: connection 3 closed: EOF\n"
	got, err := ParseBench(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Connections != 12 || got.Messages != 18000 || got.Errors != 2 || got.LatencyUs.P99 != 2160.6 || len(got.ErrorMessages) != 1 {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseBench("[   1.0s]   3000 msgs/s\n"); !errors.Is(err, ErrLoadOutput) {
		t.Errorf("no summary: error %v, want ErrLoadOutput", err)
	}
	if _, err := ParseBench("{\n\"connections\": 1\n}\n"); err != nil {
		t.Errorf("a summary at the start: %v", err)
	}
}

func TestSNMPField(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm InSegs InCsumErrors\nTcp: 1 500 37\nUdp: InDatagrams InCsumErrors\nUdp: 5 9\n"
	if got := snmpField(snmp, "Tcp:", "InCsumErrors"); got != 37 {
		t.Errorf("Tcp InCsumErrors = %d, want 37", got)
	}
	if got := snmpField(snmp, "Tcp:", "Nope"); got != 0 {
		t.Errorf("a missing field = %d, want 0", got)
	}
}

func TestHAProxyConfig(t *testing.T) {
	cfg := HAProxyConfig("/x/haproxy.sock")
	for _, want := range []string{"mode tcp", "retries 3", "option redispatch", "option httpchk GET /plaintext",
		"tcp-check send-binary 70696e670a", "tcp-check expect string ping",
		"server b3 10.219.3.2:8080 send-proxy-v2 check check-send-proxy", "server b1 10.219.1.2:7000 send-proxy-v2 check check-send-proxy",
		"stats socket /x/haproxy.sock"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the configuration lacks %q:\n%s", want, cfg)
		}
	}
}
