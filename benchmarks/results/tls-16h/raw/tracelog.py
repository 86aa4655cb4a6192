"""Shared by the TLS flood trace scripts of tls-16h, tls-16l and tls-16m: the
events of a server trace (`go tool trace -d=parsed` output with the stack
lines removed) on the wall clock, and the flood client's latency log
(SHARDNET_FLOOD_LATLOG's PREFIX.client).

Scripts in other folders import it with
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../tls-16h/raw'))
"""
import collections
import datetime
import re

_event = re.compile(r'^M=(-?\d+) P=(-?\d+) G=(-?\d+) (\w+) Time=(\d+)(.*)$')
_transition = re.compile(r'GoID=(\d+) (\w+)->(\w+)')


def events(path, fixed1):
    """Yields (G, kind, rel_ms, rest) for each event after the trace's first
    Sync, which ties the trace's clock to the wall clock; rel_ms is ms after
    the wall-clock ns fixed1 (the fixed-rate flood phase's start)."""
    off = None
    for line in open(path):
        m = _event.match(line)
        if not m:
            continue
        _, _, G, kind, t, rest = m.groups()
        t = int(t)
        if kind == 'Sync' and off is None:
            w = re.search(r'Wall=(\S+)', rest).group(1)
            dt = datetime.datetime.fromisoformat(w[:19] + '+00:00')
            frac = w.split('.')[1].rstrip('Z')
            off = int(dt.timestamp()) * 10**9 + int(frac.ljust(9, '0')[:9]) - t
            continue
        if off is None:
            continue
        yield G, kind, (t + off - fixed1) / 1e6, rest


def transitions(path, fixed1):
    """Yields (G, gid, frm, to, rel_ms, rest) for each goroutine state
    transition: G is the goroutine that caused it, gid the one that moved."""
    for G, kind, rel, rest in events(path, fixed1):
        if kind != 'StateTransition':
            continue
        m = _transition.search(rest)
        if m:
            yield (G,) + m.groups() + (rel, rest)


def client_log(prefix):
    """The flood client's marks (name: wall ns) and its phase-1 messages as
    {(phase, conn, seq): (due, w0, w1, got)} in wall ns, got 0 if never
    answered."""
    marks, msgs = {}, {}
    for line in open(prefix + '.client'):
        f = line.split()
        if f[0] == 'mark':
            marks[f[1]] = int(f[2])
        elif f[0] == 'msg' and f[1] == '1':
            msgs[tuple(map(int, f[1:4]))] = tuple(map(int, f[4:]))
    return marks, msgs


def worst_by_bin(msgs, fixed1, binms):
    """The client's worst latency (ms) of the answered messages due in each
    bin of binms ms after fixed1."""
    worst = collections.defaultdict(float)
    for due, _, _, got in msgs.values():
        if got:
            b = int((due - fixed1) / 1e6 // binms)
            worst[b] = max(worst[b], (got - due) / 1e6)
    return worst


def window_args(argv, default_binms):
    """The arguments of the per-bin window scripts (churn.py, life.py):
    EVENTS LATLOG_PREFIX G[,G...] FROM_MS TO_MS [bin_ms]. Returns the events
    path, the goroutine ids, the window, the bin, the fixed-rate phase's
    start (wall ns) and the client's worst latency per bin."""
    ev, pre = argv[1], argv[2]
    gs = set(argv[3].split(','))
    a_ms, b_ms = float(argv[4]), float(argv[5])
    binms = float(argv[6]) if len(argv) > 6 else default_binms
    marks, msgs = client_log(pre)
    fixed1 = marks['fixed1']
    return ev, gs, a_ms, b_ms, binms, fixed1, worst_by_bin(msgs, fixed1, binms)
