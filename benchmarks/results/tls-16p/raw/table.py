#!/usr/bin/env python3
"""table.py PAIRDIR...: RESULTS.md's share table from pair.sh's outputs:
per category, CPU 0 microseconds per request for net/http and shardnet at
each rate, averaged over the PAIRDIRs (measure windows) given, and
shardnet's difference. Categories are grouped as RESULTS.md explains."""
import sys, re, collections
groups = {
    "kernel data path: write (our TCP send)": ["write: our TCP send (syscall, skb, xmit)"],
    "kernel data path: write (client's loopback receive, its wake-up)": ["write: loopback rx of the client (TCP in)", "write: loopback rx of the client + its wake-up"],
    "kernel data path: read": ["read syscall"],
    "sleep and wake: epoll_wait, idle entry/exit": ["epoll_wait (incl. sleep/wake switch)", "idle: enter/exit, irqs", "futex"],
    "runtime: sysmon thread": ["runtime: sysmon thread"],
    "kernel: other (syscall entry/exit, irqs)": ["kernel: other (irq, exit to user, syscall entry)"],
    "user: TLS records (crypto/tls + AES-GCM)": ["user: crypto/tls record code", "user: AES-GCM seal/open"],
    "user: HTTP": ["user: HTTP (parse, reply)"],
    "user: engine/loop, syscall wrappers, clock": ["user: engine and loop", "user: syscall wrappers (entersyscall/exitsyscall)", "user: clock reads"],
    "user: allocation, GC, Go scheduler, other runtime": ["user: allocation and GC", "user: Go scheduler and netpoller", "user: runtime other", "user: other"],
}
vals = collections.defaultdict(list)  # (peer, rate, group) -> [us]
for d in sys.argv[1:]:
    for peer in ("nethttp", "shardnet"):
        for rate in ("33000", "53000"):
            cat = {}
            for line in open(f"{d}/{peer}-{rate}.txt"):
                m = re.match(r"\s*([\d.]+) %\s+([\d.]+) us/req  (.*)$", line)
                if m:
                    cat[m.group(3)] = float(m.group(2))
            for g, names in groups.items():
                vals[(peer, rate, g)].append(sum(cat.get(n, 0) for n in names))
            vals[(peer, rate, "busy")].append(sum(v for k, v in cat.items() if k != "idle: halted"))
avg = lambda v: sum(v) / len(v)
print("| where (CPU 0, µs per request) | net/http 33k | shardnet 33k | diff | net/http 53k | shardnet 53k | diff |")
print("|---|---:|---:|---:|---:|---:|---:|")
for g in list(groups) + ["busy"]:
    row = [g if g != "busy" else "**all of CPU 0's busy time**"]
    for rate in ("33000", "53000"):
        n, s = avg(vals[("nethttp", rate, g)]), avg(vals[("shardnet", rate, g)])
        row += [f"{n:.2f}", f"{s:.2f}", f"{s - n:+.2f}"]
    print("| " + " | ".join(row) + " |")
for rate in ("33000", "53000"):
    n, s = avg(vals[("nethttp", rate, "busy")]), avg(vals[("shardnet", rate, "busy")])
    print(f"\nat {rate}: shardnet ÷ net/http, CPU 0 busy: {s/n:.2f}× (per window: " + ", ".join(f"{a/b:.2f}×" for a, b in zip(vals[('shardnet', rate, 'busy')], vals[('nethttp', rate, 'busy')])) + ")")
