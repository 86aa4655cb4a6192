#!/usr/bin/env python3
"""shares.py DATA REQS: where CPU 0's time goes per request, from a perf
record -g -C 0 file (prof.sh), by category: each sample is put in the
first category whose test matches its stack (innermost frame first).
REQS is the requests served over the record's window (rate x seconds).
Prints per category the share of the window and microseconds per request."""
import subprocess, sys, collections

data, reqs = sys.argv[1], float(sys.argv[2])
out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,period,ip,sym"],
                     capture_output=True, text=True).stdout

def classify(comm, frames):
    s = set(frames)
    top = frames[0] if frames else ""
    if comm == "swapper":
        return "idle: halted" if top == "pv_native_safe_halt" else "idle: enter/exit, irqs"
    def has(*names):
        return any(n in s for n in names)
    if has("runtime.sysmon"):
        return "runtime: sysmon thread"
    if has("ksys_write", "__x64_sys_writev", "__x64_sys_write"):
        if has("net_rx_action"):
            if has("sock_def_readable", "try_to_wake_up"):
                return "write: loopback rx of the client + its wake-up"
            return "write: loopback rx of the client (TCP in)"
        return "write: our TCP send (syscall, skb, xmit)"
    if has("ksys_read", "__x64_sys_read"):
        return "read syscall"
    if has("__x64_sys_epoll_pwait", "__x64_sys_epoll_wait", "do_epoll_wait"):
        return "epoll_wait (incl. sleep/wake switch)"
    if has("__x64_sys_futex"):
        return "futex"
    if has("__x64_sys_nanosleep", "__x64_sys_sched_yield"):
        return "nanosleep/yield"
    kernel = [f for f in frames if not f.startswith(("runtime.", "github.com", "crypto", "main.", "internal/", "syscall.", "sync.", "bytes.", "net/", "bufio.", "io.", "time.", "[unknown]", "aeshash", "memeqbody", "indexbyte", "cmpbody", "gogo", "__vdso"))]
    if top in kernel and not top.startswith("__vdso"):
        return "kernel: other (irq, exit to user, syscall entry)"
    for f in frames:
        if f.startswith("crypto/internal/fips140/aes") or f.startswith("crypto/internal/fips140/") or f.startswith("crypto/aes") or "gcm" in f:
            return "user: AES-GCM seal/open"
    if top.startswith("crypto/tls.") or any(f.startswith("crypto/tls.") for f in frames[:1]):
        return "user: crypto/tls record code"
    if top.startswith(("runtime.malloc", "runtime.nextFree", "runtime.memclr", "runtime.(*mcache)", "runtime.(*mspan)", "runtime.gc", "runtime.scan", "runtime.(*gcWork)", "runtime.greyobject", "runtime.findObject", "runtime.markBits", "runtime.heapBits")) or any(f.startswith("runtime.gcBgMarkWorker") for f in frames):
        return "user: allocation and GC"
    if any(f.startswith("crypto/tls.") for f in frames):
        return "user: crypto/tls record code"
    if any(f.startswith(("main.", "github.com/shardnet/shardnet/codec")) for f in frames):
        return "user: HTTP (parse, reply)"
    if top.startswith(("runtime.exitsyscall", "runtime.entersyscall", "runtime.reentersyscall", "syscall.", "internal/runtime/syscall", "github.com/shardnet/shardnet/internal/rawio")):
        return "user: syscall wrappers (entersyscall/exitsyscall)"
    if top.startswith(("runtime.nanotime", "__vdso", "time.")):
        return "user: clock reads"
    if top.startswith("github.com/shardnet/shardnet"):
        return "user: engine and loop"
    if top.startswith("net/http") or top.startswith("net/textproto") or top.startswith("bufio."):
        return "user: HTTP (parse, reply)"
    if top.startswith(("runtime.findRunnable", "runtime.schedule", "runtime.netpoll", "runtime.park", "runtime.gopark", "runtime.goready", "runtime.ready", "runtime.runqget", "runtime.execute", "runtime.mcall", "runtime.gogo", "runtime.lock", "runtime.unlock", "runtime.casgstatus", "runtime.stealWork", "runtime.checkTimers", "runtime.(*timers)")):
        return "user: Go scheduler and netpoller"
    if top.startswith("runtime."):
        return "user: runtime other"
    return "user: other"

counts = collections.Counter()
total = 0
comm, frames, period = None, [], 0
def flush():
    global total
    if comm is None:
        return
    counts[classify(comm, frames)] += period
    total += period
for line in out.splitlines():
    if not line.strip():
        flush(); comm, frames = None, []
        continue
    if not line.startswith(("\t", " ")) and comm is None:
        parts = line.split()
        comm, period = parts[0], int(parts[-1]) if parts[-1].isdigit() else 1
        continue
    f = line.split(None, 1)
    if len(f) == 2:
        frames.append(f[1].split("+")[0].strip())
flush()
secs = total / 1e9  # cpu-clock periods are ns
print(f"# {data}: {secs:.2f} s of CPU 0 sampled, {reqs:.0f} requests; us/req = share x window / requests")
busy = 0
for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
    us = v / 1e3 / reqs
    if k != "idle: halted":
        busy += us
    print(f"{v/total*100:6.2f} %  {us:6.2f} us/req  {k}")
print(f"busy (all but halted): {busy:.2f} us/req")
