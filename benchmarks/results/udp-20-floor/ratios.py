# ratios.py SAMPLES.json...: paired ratios per udp-rate cell, within each
# round, median (min-max) over the rounds: the C floor against the best Go
# peer of the round (net, gnet, nbio), and shardnet (default wait) and rt
# (SHARDNET_WAIT=runtime) against the floor and against the best Go peer.
import json, statistics as st, sys

for f in sys.argv[1:]:
    by = {}
    for x in json.load(open(f))["samples"]:
        by.setdefault((x["suite"], x["cell"]), {}).setdefault(x["round"], {})[x["peer"]] = x
    for (suite, cell), rounds in sorted(by.items()):
        if suite != "udp-rate":
            continue
        print(f"{cell}:")
        for m in ("core_cpu_per_msg_ns", "server_cpu_per_msg_ns"):
            rows = []
            for a, b in [("c", "best"), ("rt", "c"), ("shardnet", "c"), ("rt", "best"), ("shardnet", "best")]:
                vals = []
                for _, p in sorted(rounds.items()):
                    go = [p[g][m] for g in ("net", "gnet", "nbio") if g in p and p[g][m] > 0]
                    den = min(go) if b == "best" and go else p.get(b, {}).get(m)
                    num = p.get(a, {}).get(m)
                    if num and den:
                        vals.append(num / den)
                if vals:
                    rows.append(f"{a}/{b} {st.median(vals):.2f} ({min(vals):.2f}-{max(vals):.2f})")
            print("  ", m, ": ", "; ".join(rows))
