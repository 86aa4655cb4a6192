#!/usr/bin/env python3
"""Sums `perf script` samples (stdin) into what they were doing, by the first category whose
pattern matches a frame of the sample's stack (leaf first), in the order below; prints the share
of each category, and the top leaf functions of the futex and scheduler samples."""
import re, sys, collections
cats = [
    ("futex (thread hand-offs)", r"futex"),
    ("stack growth (newstack/copystack/morestack)", r"runtime\.(newstack|copystack|morestack)"),
    ("new goroutine (newproc/gfget)", r"runtime\.(newproc|gfget|malg)"),
    ("X25519", r"ecdh|edwards25519|field\.|nistec|p256"),
    ("SHA-256/HMAC/HKDF", r"sha256|hmac|hkdf"),
    ("AES-GCM", r"aes|gcm"),
    ("shutdown", r"__x64_sys_shutdown|__sys_shutdown"),
    ("close", r"__x64_sys_close|__fput|tcp_close"),
    ("write/writev/sendmsg", r"sys_write|sys_writev|sys_sendmsg|sys_sendto"),
    ("read/accept/epoll", r"sys_read|sys_recv|sys_accept|epoll"),
    ("malloc/GC", r"runtime\.(mallocgc|gcBgMark|gcDrain|scanobject|markroot|sweep|bgsweep|bgscavenge)"),
    ("scheduler (schedule/findRunnable/gosched)", r"runtime\.(schedule|findRunnable|gosched|park_m|goready|ready|mcall|gopark|stoplockedm|startlockedm|handoffp)"),
]
samples = collections.Counter()
leafs = collections.defaultdict(collections.Counter)
total = 0
stack = []
def flush():
    global total, stack
    if not stack:
        return
    total += 1
    frames = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else l for l in stack]
    for name, pat in cats:
        if any(re.search(pat, f) for f in frames):
            samples[name] += 1
            if name.startswith("futex") or name.startswith("scheduler"):
                # the Go frame closest to the leaf that is not a runtime lock/futex helper
                for f in frames:
                    if re.search(r"runtime\.|engine\.|shard\.", f) and not re.search(r"futex|lock2|unlock2|notesleep|notewakeup|semasleep|semawakeup", f):
                        leafs[name][re.sub(r"\+0x[0-9a-f]+.*", "", f.strip())] += 1
                        break
            break
    else:
        samples["other"] += 1
    stack = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush()
    elif line.startswith("\t") or line.startswith(" "):
        stack.append(line.strip())
flush()
print(f"{total} samples")
for name, _ in cats + [("other", "")]:
    print(f"{100 * samples[name] / max(total, 1):5.1f} %  {name}")
for name, c in leafs.items():
    print(f"\n{name}: nearest Go frames")
    for f, n in c.most_common(8):
        print(f"  {100 * n / max(total, 1):5.2f} %  {f}")
