#!/usr/bin/env python3
"""Turns the raw lines of bench/run.sh into Markdown tables and an SVG chart.

    python3 bench/report.py bench/results/DATE-raw.txt --md OUT.md --svg OUT.svg \
        [--callgrind bench/results/callgrind-DATE-raw.txt]

Each raw line is `key=value` pairs for one run; lines starting with `#` carry
the date, machine, load and commands. For every scenario and server the
tables give the median over the repetitions with the min-max range, and the
ratio sockloop / server of the medians. The chart shows server CPU time per
message at the fixed load, memory per idle connection and, when given, the
callgrind instructions per message. Standard library only.
"""

import argparse
import math
import statistics
import sys
from collections import defaultdict

NAMES = {
    "sockloop": "sockloop echo_server",
    "sockloop_timed": "sockloop echo_server, SOCKLOOP_TIMING=1",
    "c_epoll": "C epoll (ET)",
    "mio": "raw mio + slab",
    "tokio": "tokio current_thread",
    "python": "Python selectors",
}

# scenario: (title, primary (key, label, better), secondary [(key, label)])
SCENARIOS = {
    "latency": (
        "Latency: 1 connection, 64 B, depth 1",
        ("p50_us", "p50 latency (µs)", "lower"),
        [("p99_us", "p99 µs"), ("msgs_per_sec", "msgs/s"),
         ("server_cpu_ns_per_msg", "server CPU ns/msg"), ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "request_rate": (
        "Request rate: 100 connections, 64 B, depth 1",
        ("msgs_per_sec", "msgs/s", "higher"),
        [("p99_us", "p99 µs"), ("server_cpu_ns_per_msg", "server CPU ns/msg"),
         ("server_cpu_pct", "server CPU %"), ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "pipelined": (
        "Pipelined: 100 connections, 64 B, depth 8",
        ("msgs_per_sec", "msgs/s", "higher"),
        [("p99_us", "p99 µs"), ("server_cpu_ns_per_msg", "server CPU ns/msg"),
         ("server_cpu_pct", "server CPU %"), ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "bandwidth": (
        "Bandwidth: 10 connections, 16 KiB messages, depth 2",
        ("MBps", "MB/s echoed", "higher"),
        [("server_cpu_ns_per_msg", "server CPU ns/msg"), ("server_cpu_pct", "server CPU %"),
         ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "fixed_load": (
        "Fixed offered load: 100 connections, 64 B, 100,000 msgs/s",
        ("server_cpu_ns_per_msg", "server CPU ns/msg", "lower"),
        [("msgs_per_sec", "msgs/s achieved"), ("server_cpu_pct", "server CPU %"),
         ("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "idle_memory": (
        "Memory per idle connection: 10,000 connections after one echo each",
        ("bytes_per_conn", "server RSS bytes / connection", "lower"),
        [("rss_before_kib", "RSS before (KiB)"), ("rss_idle_kib", "RSS idle (KiB)")],
    ),
    "active_10k": (
        "10,000 active connections at 20,000 msgs/s in all",
        ("p99_us", "p99 latency (µs)", "lower"),
        [("p50_us", "p50 µs"), ("msgs_per_sec", "msgs/s"),
         ("server_cpu_ns_per_msg", "server CPU ns/msg"), ("loadgen_cpu_pct", "loadgen CPU %")],
    ),
    "syscalls": (
        "Syscalls per message: 10 connections, 64 B, depth 1, under strace -c -f",
        ("syscalls_per_msg", "syscalls / message", "lower"),
        [],
    ),
}


def parse(path):
    meta, runs = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                meta.append(line[1:].strip())
                continue
            run = {}
            for word in line.split():
                if "=" in word:
                    k, _, v = word.partition("=")
                    run[k] = v
            runs.append(run)
    return meta, runs


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def values(runs, scenario, server, key):
    return [v for v in (num(r.get(key)) for r in runs
                        if r.get("scenario") == scenario and r.get("server") == server)
            if v is not None]


def servers_in(runs):
    seen = []
    for r in runs:
        s = r.get("server")
        if s and s not in seen:
            seen.append(s)
    return seen


def medians(runs, scenario, key):
    out = {}
    for s in servers_in(runs):
        vs = values(runs, scenario, s, key)
        if vs:
            out[s] = (statistics.median(vs), min(vs), max(vs))
    return out


def markdown(meta, runs):
    lines = []
    info = {m.split(":", 1)[0]: m.split(":", 1)[1].strip() for m in meta if ":" in m}
    lines.append(f"# Echo benchmarks, {info.get('date', '')}")
    lines.append("")
    for key in ("machine", "load before", "load after", "commit", "settings", "servers"):
        if key in info:
            lines.append(f"- {key}: {info[key]}")
    lines.append("- server pinned to CPU 0 (`taskset -c 0`), loadgen to CPU 1; loopback; "
                 "medians over the repetitions, [min–max] in brackets")
    lines.append("")
    for scenario, (title, (key, label, better), extra) in SCENARIOS.items():
        if not any(r.get("scenario") == scenario for r in runs):
            continue
        lines.append(f"## {title}")
        lines.append("")
        cmd = info.get(f"command {scenario}")
        if cmd:
            lines.append(f"`taskset -c 1 {cmd.replace('loadgen', 'loadgen --addr ADDR', 1)}`")
            lines.append("")
        ahead = "above 1: sockloop ahead" if better == "higher" else "below 1: sockloop ahead"
        head = f"| server | {label} | sockloop ÷ server ({ahead}) |"
        head += "".join(f" {l} |" for _, l in extra) + " errors |"
        lines.append(head)
        lines.append("|---|---:|---:|" + "---:|" * len(extra) + "---:|")
        prim = medians(runs, scenario, key)
        base = prim.get("sockloop")
        for s in servers_in(runs):
            if s not in prim and not values(runs, scenario, s, "errors"):
                continue
            med, lo, hi = prim.get(s, (None, None, None))
            ratio = "–"
            if base and med:
                ratio = f"{base[0] / med:.2f}"
            cell = f"{fmt(med)} [{fmt(lo)}–{fmt(hi)}]" if med is not None else "–"
            row = f"| {NAMES.get(s, s)} | {cell} | {ratio} |"
            for k, _ in extra:
                vs = values(runs, scenario, s, k)
                row += f" {fmt(statistics.median(vs)) if vs else '–'} |"
            errors = sum(values(runs, scenario, s, "errors"))
            failed = sum(1 for r in runs if r.get("scenario") == scenario
                         and r.get("server") == s and r.get("status") not in (None, "0"))
            row += f" {int(errors)}{f' ({failed} failed runs)' if failed else ''} |"
            lines.append(row)
        if scenario == "syscalls":
            lines.append("")
            lines.append("Syscall mix of the first run (calls over the whole run, "
                         "including start-up and the 10 connects):")
            lines.append("")
            for s in servers_in(runs):
                mix = next((r.get("syscall_mix") for r in runs
                            if r.get("scenario") == "syscalls" and r.get("server") == s), None)
                msgs = next((r.get("total_msgs") for r in runs
                             if r.get("scenario") == "syscalls" and r.get("server") == s), None)
                if mix:
                    lines.append(f"- {NAMES.get(s, s)} ({msgs} messages): "
                                 f"{mix.replace(',', ', ').replace(':', ' ')}")
        lines.append("")
    return "\n".join(lines)


def callgrind_medians(path):
    per = defaultdict(list)
    try:
        with open(path) as f:
            for line in f:
                run = dict(w.split("=", 1) for w in line.split() if "=" in w)
                if "server" in run and num(run.get("instr_per_msg")) is not None:
                    per[run["server"]].append(float(run["instr_per_msg"]))
    except OSError:
        return {}
    return {s: (statistics.median(v), min(v), max(v)) for s, v in per.items()}


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg(panels):
    """Horizontal bar charts, one panel each: (title, unit, log scale?, {server: (med, lo, hi)}).
    A log-scale panel starts its axis at 10 and says so in its title."""
    width, label_w, bar_w, row_h = 760, 190, 460, 26
    y = 20
    out = []
    for title, unit, log, data in panels:
        if not data:
            continue
        order = [s for s in NAMES if s in data] + [s for s in data if s not in NAMES]
        top = max(hi for _, _, hi in data.values()) or 1
        if log:
            top = math.log10(max(top, 100) / 10)
            title = title.replace("(lower", "(log scale; lower")

        def scale(v, top=top, log=log):
            if log:
                return bar_w * max(math.log10(max(v, 10) / 10), 0) / top
            return bar_w * v / top

        out.append(f'<text x="10" y="{y + 14}" font-size="15" font-weight="bold">{esc(title)}</text>')
        y += 26
        for s in order:
            med, lo, hi = data[s]
            w = scale(med)
            color = "#d9480f" if s == "sockloop" else "#4c6ef5"
            out.append(f'<text x="{label_w - 8}" y="{y + 17}" font-size="13" '
                       f'text-anchor="end">{esc(NAMES.get(s, s))}</text>')
            out.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                       f'fill="{color}"/>')
            x_lo, x_hi = label_w + scale(lo), label_w + scale(hi)
            mid = y + row_h / 2
            out.append(f'<line x1="{x_lo:.1f}" y1="{mid}" x2="{x_hi:.1f}" y2="{mid}" '
                       f'stroke="#222" stroke-width="1.5"/>')
            for x in (x_lo, x_hi):
                out.append(f'<line x1="{x:.1f}" y1="{mid - 5}" x2="{x:.1f}" y2="{mid + 5}" '
                           f'stroke="#222" stroke-width="1.5"/>')
            out.append(f'<text x="{max(x_hi, label_w + w) + 8:.1f}" y="{y + 17}" '
                       f'font-size="12">{esc(fmt(med))} {esc(unit)}</text>')
            y += row_h
        y += 22
    body = "\n".join(out)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
            f'viewBox="0 0 {width} {y}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw")
    ap.add_argument("--md")
    ap.add_argument("--svg")
    ap.add_argument("--callgrind", help="callgrind raw lines from bench/callgrind.sh")
    args = ap.parse_args()
    meta, runs = parse(args.raw)
    md = markdown(meta, runs)
    cg = callgrind_medians(args.callgrind) if args.callgrind else {}
    if cg:
        md += "\n## User-space instructions per message (callgrind, bench/callgrind.sh)\n\n"
        md += "| server | instructions / message | sockloop ÷ server |\n|---|---:|---:|\n"
        for s in [s for s in NAMES if s in cg]:
            base = cg.get("sockloop")
            ratio = f"{base[0] / cg[s][0]:.2f}" if base else "–"
            md += f"| {NAMES[s]} | {fmt(cg[s][0])} | {ratio} |\n"
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    else:
        sys.stdout.write(md)
    if args.svg:
        panels = [
            ("Server CPU time per message, fixed offered load of 100,000 msgs/s "
             "(lower is better)", "ns", False,
             medians(runs, "fixed_load", "server_cpu_ns_per_msg")),
            ("Server memory per idle connection (lower is better)", "B", True,
             medians(runs, "idle_memory", "bytes_per_conn")),
            ("User-space instructions per echoed message, callgrind (lower is better)", "instr",
             False, cg),
        ]
        with open(args.svg, "w") as f:
            f.write(svg(panels))


if __name__ == "__main__":
    main()
