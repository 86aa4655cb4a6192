#!/usr/bin/env python3
"""tls-16n, part B: new TLS connections per second with the server as the bottleneck.

Each server runs on CPU 0 with GOMAXPROCS=1 inside a cgroup (v1 cpu controller) capped at
CAP of one CPU (cfs quota over a 10 ms period); benchmarks/cmd/tlsconnload (16 closed
loops, GOMAXPROCS=1) runs on CPU 1 with the whole core, so the client has 1/CAP times the
server's CPU. CAP=0 runs without the cgroup (the benchmark driver's setting: one core each).
Per run: connections/s (the client's count), the server's CPU time (utime+stime of all its
threads, /proc) over the client's run divided by the connections it completed, and the
cgroup's throttled periods (a server-bound run is throttled). Rounds rotate the order of the
servers; ratios are paired within a round.

usage: conncap.py OUT ROUNDS SECONDS CAP NAME=CMD... (CMD: the server's argv, {addr}, {cert},
{key} substituted; it may start with VAR=value settings); binaries built beforehand.
MODES (environment, default "full,resumed") picks the handshakes measured.
"""
import json, os, socket, subprocess, sys, time, statistics

out, rounds, seconds, cap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
servers = []
for a in sys.argv[5:]:
    n, c = a.split("=", 1)
    servers.append((n, c))
os.makedirs(out, exist_ok=True)
load = "/tmp/term16/bin/tlsconnload"
cert, key = "/tmp/term16/pki/cert.pem", "/tmp/term16/pki/key.pem"
cg = "/sys/fs/cgroup/cpu/tls16n"
if cap > 0:
    os.makedirs(cg, exist_ok=True)
    open(cg + "/cpu.cfs_period_us", "w").write("10000")
    open(cg + "/cpu.cfs_quota_us", "w").write(str(int(cap * 10000)))
tick = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    t = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            f = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            t += int(f[11]) + int(f[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return t / tick


def proc_cpu(pid):
    # the whole process, dead threads included
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick


def throttled():
    if cap <= 0:
        return 0, 0
    d = dict(l.split() for l in open(cg + "/cpu.stat"))
    return int(d["nr_throttled"]), int(d["nr_periods"])


def wait_port(port, t=10):
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not listening")


port = 19700
rows = []
log = open(os.path.join(out, "runs.log"), "a")
for r in range(rounds):
    for mode in os.environ.get("MODES", "full,resumed").split(","):
        order = servers[r % len(servers):] + servers[: r % len(servers)]
        for name, cmd in order:
            port += 1
            addr = f"127.0.0.1:{port}"
            argv = cmd.format(addr=addr, cert=cert, key=key).split()
            pre = f"echo $$ > {cg}/cgroup.procs; " if cap > 0 else ""
            sh = pre + "exec taskset -c 0 env GOMAXPROCS=1 " + " ".join(argv)
            srv = subprocess.Popen(["sh", "-c", sh], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(port)
                time.sleep(0.3)
                start = time.strftime("%H:%M:%S", time.gmtime())
                thr0 = throttled()
                c0 = proc_cpu(srv.pid)
                largs = ["taskset", "-c", "1", "env", "GOMAXPROCS=1", load, "-addr", addr, "-cert", cert,
                         "-c", "16", "-duration", f"{seconds}s", "-json"]
                if mode == "resumed":
                    largs.append("-resume")
                t0 = time.time()
                res = subprocess.run(largs, capture_output=True, text=True, timeout=seconds + 30)
                wall = time.time() - t0
                c1 = proc_cpu(srv.pid)
                thr1 = throttled()
            finally:
                srv.terminate()
                try:
                    srv.wait(5)
                except subprocess.TimeoutExpired:
                    srv.kill()
                    srv.wait()
            j = json.loads(res.stdout)
            n = j["messages"]
            row = dict(round=r + 1, mode=mode, server=name, start=start, conns=n, rate=j["msgs_per_sec"],
                       errors=j["errors"], resumed=j["resumed"], cpu_s=c1 - c0, wall=wall,
                       us_per_conn=1e6 * (c1 - c0) / n if n else 0, server_pct=100 * (c1 - c0) / wall,
                       throttled=thr1[0] - thr0[0], periods=thr1[1] - thr0[1], p50=j.get("latency_us", {}).get("p50"))
            rows.append(row)
            print(json.dumps(row), file=log, flush=True)

json.dump(rows, open(os.path.join(out, "rows.json"), "w"), indent=0)
if cap > 0:
    os.rmdir(cg)

names = [n for n, _ in servers]
with open(os.path.join(out, "conncap.md"), "w") as f:
    cs = f"server capped at {cap:.2f} CPU (cgroup cfs quota, 10 ms period)" if cap > 0 else "server uncapped"
    f.write(f"New TLS connections, one request each, tlsconnload -c 16 on CPU 1; server on CPU 0, GOMAXPROCS=1, {cs}; {rounds} rounds x {seconds:g} s\n\n")
    f.write("| round | mode | server | start (UTC) | conns/s | server CPU µs/conn | server CPU % | throttled periods | resumed | errors |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|\n")
    for x in rows:
        f.write(f"| {x['round']} | {x['mode']} | {x['server']} | {x['start']} | {x['rate']:.0f} | {x['us_per_conn']:.1f} | {x['server_pct']:.0f} | {x['throttled']}/{x['periods']} | {x['resumed']} | {x['errors']} |\n")
    f.write("\nPaired within each round, median (min–max) [per round]:\n\n")
    f.write("| mode | ratio | conns/s | server CPU/conn |\n|---|---|---|---|\n")
    for mode in os.environ.get("MODES", "full,resumed").split(","):
        by = {}
        for x in rows:
            if x["mode"] == mode:
                by.setdefault(x["round"], {})[x["server"]] = x
        for a in names:
            for b in names:
                if a == b or names.index(a) > names.index(b):
                    continue
                rr = [by[k][a]["rate"] / by[k][b]["rate"] for k in sorted(by)]
                cc = [by[k][a]["us_per_conn"] / by[k][b]["us_per_conn"] for k in sorted(by)]
                fm = lambda v: f"{statistics.median(v):.2f}× ({min(v):.2f}–{max(v):.2f}) [{', '.join(f'{y:.2f}' for y in v)}]"
                f.write(f"| {mode} | {a} ÷ {b} | {fm(rr)} | {fm(cc)} |\n")
print(open(os.path.join(out, "conncap.md")).read())
