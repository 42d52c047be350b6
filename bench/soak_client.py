#!/usr/bin/env python3
"""Soak client for bench/soak.sh: holds many connections to echo_server and
http_server for a long time, with a mix of traffic and churn, and checks every
answer.

Each connection is one asyncio task: it waits a random 1 to 9 s (0 to 2 s
on a new connection), sends one request (an echo of 1 B to 8 KiB of random bytes, or a GET of a small page or
a 64 KiB file), checks the answer byte for byte, and now and then closes and
reconnects (a FIN, or a reset with SO_LINGER 0). Loopback only, bounded in
time: it stops by itself after --duration seconds.

It samples each server's open fds and resident set from /proc (when given
its pid) before the connections open, once they are all open, every minute,
at the end with the connections still open, and after they have closed, and
prints a summary, also as JSON on the last line.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import struct
import sys
import time

PAGE = b"<!DOCTYPE html><title>soak</title><p>soak test page</p>\n"
BIG_LEN = 64 * 1024
REQUEST_TIMEOUT = 10.0


def big_body():
    """The 64 KiB file soak.sh writes: a fixed pseudo-random pattern."""
    rng = random.Random(64)
    return bytes(rng.getrandbits(8) for _ in range(BIG_LEN))


def proc_stats(pid):
    """(open fds, RSS KiB) of a process, or (None, None) without a pid."""
    if not pid:
        return None, None
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return fds, rss
    except (OSError, StopIteration):
        return None, None


class Stats:
    def __init__(self, name):
        self.name = name
        self.requests = 0
        self.errors = {}
        self.connects = 0
        self.resets = 0
        self.open = 0
        self.latencies = []

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self):
        lat = sorted(self.latencies)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 2) if lat else None

        return {
            "requests": self.requests,
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "connects": self.connects,
            "resets_sent": self.resets,
            "open_at_end": self.open,
            "latency_ms_p50": pct(0.50),
            "latency_ms_p99": pct(0.99),
            "latency_ms_max": round(lat[-1] * 1000, 2) if lat else None,
        }


async def echo_request(reader, writer, rng):
    message = os.urandom(rng.randint(1, 8192))
    writer.write(message)
    await writer.drain()
    back = await reader.readexactly(len(message))
    if back != message:
        raise ValueError("echo mismatch")


async def http_request(reader, writer, rng, big):
    path, want = ("/big.bin", big) if rng.random() < 0.1 else ("/index.html", PAGE)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise ValueError("status " + lines[0])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    if length != len(want):
        raise ValueError(f"content-length {length}")
    body = await reader.readexactly(length)
    if body != want:
        raise ValueError("body mismatch")


async def connection(kind, host, port, stats, deadline, rng, big, ready, churn):
    """One held connection: requests at random intervals until the deadline,
    reconnecting after churn or an error."""
    first = True
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), REQUEST_TIMEOUT
            )
        except (OSError, asyncio.TimeoutError) as e:
            stats.error("connect " + type(e).__name__)
            await asyncio.sleep(1.0)
            continue
        stats.connects += 1
        stats.open += 1
        if first:
            first = False
            ready.release()
        reset = False
        fresh = True
        try:
            while True:
                if time.monotonic() >= deadline:
                    # The end: keep the connection open until the final sample.
                    await held.wait()
                    break
                # A new connection asks soon, as a browser does (http_server
                # closes one that sends nothing within its header timeout,
                # 10 s); then a pause of 1 to 9 s between requests.
                pause = rng.uniform(0.0, 2.0) if fresh else rng.uniform(1.0, 9.0)
                fresh = False
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    continue
                started = time.monotonic()
                try:
                    if kind == "echo":
                        await asyncio.wait_for(echo_request(reader, writer, rng), REQUEST_TIMEOUT)
                    else:
                        await asyncio.wait_for(http_request(reader, writer, rng, big), REQUEST_TIMEOUT)
                except (OSError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        asyncio.LimitOverrunError) as e:
                    stats.error(type(e).__name__ + (": " + str(e) if isinstance(e, ValueError) else ""))
                    break
                stats.requests += 1
                stats.latencies.append(time.monotonic() - started)
                if rng.random() < churn:
                    # Churn: close and reconnect; one in four with a reset.
                    reset = rng.random() < 0.25
                    break
        finally:
            stats.open -= 1
            if reset:
                stats.resets += 1
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
    await held.wait()


held = None  # an asyncio.Event set when the end-of-run sample is taken


async def main():
    global held
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo", help="echo_server HOST:PORT")
    parser.add_argument("--echo-pid", type=int)
    parser.add_argument("--http", help="http_server HOST:PORT")
    parser.add_argument("--http-pid", type=int)
    parser.add_argument("--conns", type=int, default=5000, help="connections held per server")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--churn", type=float, default=0.02,
                        help="chance a connection reconnects after a request")
    args = parser.parse_args()
    held = asyncio.Event()
    big = big_body()
    servers = []
    if args.echo:
        servers.append(("echo", args.echo, args.echo_pid))
    if args.http:
        servers.append(("http", args.http, args.http_pid))
    if not servers:
        parser.error("nothing to soak: give --echo and/or --http")

    samples = []

    def sample(label):
        row = {"t": round(time.monotonic() - t0, 1), "at": label}
        for kind, _, pid in servers:
            fds, rss = proc_stats(pid)
            row[kind] = {"fds": fds, "rss_kib": rss}
        samples.append(row)
        print(f"[{row['t']:7.1f}s] {label:<22} " + "  ".join(
            f"{kind}: fds={row[kind]['fds']} rss={row[kind]['rss_kib']}KiB" for kind, _, _ in servers),
            flush=True)

    t0 = time.monotonic()
    sample("before")
    deadline = time.monotonic() + args.duration
    all_stats = {}
    tasks = []
    ready = asyncio.Semaphore(0)
    rng = random.Random(2026)
    for kind, addr, _ in servers:
        host, port = addr.rsplit(":", 1)
        stats = Stats(kind)
        all_stats[kind] = stats
        for i in range(args.conns):
            tasks.append(asyncio.create_task(connection(
                kind, host, int(port), stats, deadline, random.Random(rng.random()),
                big, ready, args.churn)))
            if i % 100 == 99:
                await asyncio.sleep(0.01)  # ramp up without a SYN storm
    async def all_ready():
        for _ in range(len(tasks)):
            await ready.acquire()

    try:
        await asyncio.wait_for(all_ready(), timeout=max(1.0, deadline - time.monotonic()))
        sample("all connected")
    except asyncio.TimeoutError:
        sample("never all connected")
    next_report = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= next_report:
            next_report += 60
            sample("running")
            print("          " + "  ".join(
                f"{k}: {s.requests} requests, {sum(s.errors.values())} errors, {s.open} open"
                for k, s in all_stats.items()), flush=True)
    # Let the requests in flight finish, then sample with everything held.
    await asyncio.sleep(REQUEST_TIMEOUT / 2)
    sample("end, connections open")
    open_at_end = {k: s.open for k, s in all_stats.items()}
    held.set()
    await asyncio.gather(*tasks)
    for s in all_stats.values():
        s.open = open_at_end[s.name]
    # Give the servers a moment to see every close.
    await asyncio.sleep(3)
    sample("after close")

    result = {"duration_s": args.duration, "conns_per_server": args.conns,
              "servers": {k: s.summary() for k, s in all_stats.items()}, "samples": samples}
    for kind, s in result["servers"].items():
        print(f"{kind}: {s['requests']} requests served, {s['errors']} errors {s['error_kinds']}, "
              f"{s['connects']} connects ({s['resets_sent']} closed by reset), "
              f"{s['open_at_end']} open at the end, latency p50 {s['latency_ms_p50']} ms, "
              f"p99 {s['latency_ms_p99']} ms, max {s['latency_ms_max']} ms", flush=True)
    print("RESULT " + json.dumps(result), flush=True)
    return 1 if any(s["errors"] for s in result["servers"].values()) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
