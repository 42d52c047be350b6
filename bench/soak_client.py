#!/usr/bin/env python3
"""Soak client for bench/soak.sh: holds many connections to one example
server for a long time, with a mix of traffic and churn, and checks every
answer.

One server per process (soak.sh starts one process per server, so each has
an event loop of its own):

  --kind echo    an echo of 1 B to 8 KiB of random bytes, back byte for byte
  --kind http    a keep-alive GET of a small page (90%) or a 64 KiB file
  --kind resp    a pipeline of SET, GET, INCR and LPUSH/LRANGE on keys of the
                 connection's own, each reply checked against what it must be;
                 plus pub/sub with slow subscribers if the server has SUBSCRIBE
  --kind chat    every member reads the room; now and then one says a line;
                 each member checks that each sender's lines reach it whole,
                 in order, none lost or repeated
  --kind upload  a file of 1 B to 8 KiB in the newline form, answered true,
                 then read back from the upload directory and compared
  --kind cmd     the tutorial's exchange (command, length, acknowledgement,
                 output): mostly a command the server refuses, now and then
                 `echo` (a real child process), each answer checked

Each connection is one asyncio task: it waits a random 1 to 9 s (0 to 2 s on
a new connection), makes one request, checks the answer, and now and then
closes and reconnects (a FIN, or a reset with SO_LINGER 0). Loopback only,
bounded in time: it stops by itself after --duration seconds.

It samples the server's open fds and resident set from /proc (given its pid)
before the connections open, once they are all open, every minute, at the
end with the connections still open, and after they have closed, and prints
a summary, also as JSON on the last line.
"""

import argparse
import asyncio
import hashlib
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
# chat: how often a member speaks, per request turn (about 3 lines a second
# from 5,000 members, each delivered to all of them).
CHAT_SPEAK = 0.003


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
        self.extra = {}

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def count(self, what, n=1):
        self.extra[what] = self.extra.get(what, 0) + n

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
            **self.extra,
        }


class Check(Exception):
    """An answer that is not what it must be."""


# ----- echo and http --------------------------------------------------------


async def echo_request(conn):
    message = os.urandom(conn.rng.randint(1, 8192))
    conn.writer.write(message)
    await conn.writer.drain()
    back = await conn.reader.readexactly(len(message))
    if back != message:
        raise Check("echo mismatch")


async def http_request(conn):
    path, want = ("/big.bin", conn.shared.big) if conn.rng.random() < 0.1 else ("/index.html", PAGE)
    conn.writer.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
    await conn.writer.drain()
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 200 "):
        raise Check("status " + lines[0])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    if length != len(want):
        raise Check(f"content-length {length}")
    body = await conn.reader.readexactly(length)
    if body != want:
        raise Check("body mismatch")


# ----- resp -----------------------------------------------------------------


def resp_command(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


async def resp_reply(reader):
    """One RESP2 reply: bytes or str for a bulk/status, int, list, None, or
    an Exception instance for an error."""
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return Check(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await reader.readexactly(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [await resp_reply(reader) for _ in range(n)]
    raise Check(f"not a reply: {line!r}")


async def resp_request(conn):
    """A pipeline of commands on this slot's own keys, every reply checked
    against what the slot's model says (the keys outlive a reconnect; after
    a failed request they are deleted and the model starts again)."""
    slot, rng, model = conn.slot, conn.rng, conn.state
    key, counter, lst = f"soak:{slot}:v", f"soak:{slot}:n", f"soak:{slot}:l"
    pipeline = []
    if model.get("dirty"):
        model.clear()
        pipeline.append((resp_command("DEL", key, counter, lst), None))
    model["dirty"] = True
    value = os.urandom(rng.randint(1, 512))
    model["n"] = model.get("n", 0) + 1
    items = model.setdefault("list", [])
    item = str(rng.randrange(10**9)).encode()
    items.insert(0, item)
    pipeline += [
        (resp_command("SET", key, value), "OK"),
        (resp_command("GET", key), value),
        (resp_command("INCR", counter), model["n"]),
        (resp_command("LPUSH", lst, item), len(items)),
    ]
    if len(items) > 8:
        pipeline.append((resp_command("RPOP", lst), items.pop()))
    pipeline.append((resp_command("LRANGE", lst, 0, -1), list(items)))
    conn.writer.write(b"".join(p[0] for p in pipeline))
    await conn.writer.drain()
    for wire, want in pipeline:
        got = await resp_reply(conn.reader)
        if want is None and isinstance(got, int):
            continue
        if got != want:
            raise Check(f"{wire[:24]!r} -> {str(got)[:60]}, expected {str(want)[:60]}")
    model["dirty"] = False


class PubSub:
    """Publishers send numbered messages on one channel; subscribers (some
    of them slow readers) check that each publisher's numbers arrive in
    order, none lost or repeated."""

    CHANNEL = b"soak:pubsub"

    def __init__(self, stats):
        self.stats = stats
        self.published = 0
        self.received = 0


async def resp_has_subscribe(host, port):
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(resp_command("SUBSCRIBE", "soak:probe"))
        await writer.drain()
        reply = await asyncio.wait_for(resp_reply(reader), REQUEST_TIMEOUT)
        writer.close()
        return isinstance(reply, list) and reply[:1] == [b"subscribe"]
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, Check):
        return False


async def publisher(host, port, index, pubsub, deadline):
    reader, writer = await asyncio.open_connection(host, port)
    seq = 0
    rng = random.Random(index)
    while time.monotonic() < deadline:
        seq += 1
        payload = f"{index}:{seq}:".encode() + b"x" * rng.randint(16, 2048)
        writer.write(resp_command("PUBLISH", PubSub.CHANNEL, payload))
        await writer.drain()
        got = await asyncio.wait_for(resp_reply(reader), REQUEST_TIMEOUT)
        if not isinstance(got, int):
            pubsub.stats.error(f"PUBLISH -> {got!r}")
        pubsub.published += 1
        await asyncio.sleep(rng.uniform(0.05, 0.35))
    writer.close()


async def subscriber(host, port, index, pubsub, deadline, slow):
    # A small read limit: asyncio stops reading the socket while more than
    # this waits, so a slow subscriber really backs up the server.
    reader, writer = await asyncio.open_connection(host, port, limit=4096)
    writer.write(resp_command("SUBSCRIBE", PubSub.CHANNEL))
    await writer.drain()
    seen = {}
    rng = random.Random(1000 + index)
    try:
        while time.monotonic() < deadline:
            if slow:
                # A slow reader, and now and then one that stalls a while.
                await asyncio.sleep(rng.uniform(0.0, 0.1) if rng.random() > 0.01 else 5.0)
            remaining = max(0.1, deadline - time.monotonic())
            msg = await asyncio.wait_for(resp_reply(reader), remaining + REQUEST_TIMEOUT)
            if not isinstance(msg, list) or len(msg) != 3:
                pubsub.stats.error(f"pubsub: {str(msg)[:40]}")
                continue
            if msg[0] != b"message":
                continue
            who, seq, _ = msg[2].split(b":", 2)
            seq = int(seq)
            if who in seen and seq != seen[who] + 1:
                pubsub.stats.error("pubsub: lost, repeated or out of order")
            seen[who] = seq
            pubsub.received += 1
    except asyncio.TimeoutError:
        pass
    writer.close()


# ----- chat -----------------------------------------------------------------


def chat_line(slot, seq):
    digest = hashlib.sha1(f"{slot}:{seq}".encode()).hexdigest()
    return f"m {slot} {seq} {digest}"


async def chat_listen(conn):
    """Reads the room until the connection goes: checks every line."""
    seen = conn.state.setdefault("seen", {})
    while True:
        line = await conn.reader.readline()
        if not line:
            return
        text = line.decode("latin-1").rstrip("\n")
        if text.startswith("* ") or text.startswith("server: "):
            continue
        who, sep, said = text.partition(": ")
        parts = said.split(" ")
        if not sep or len(parts) != 4 or parts[0] != "m" or said != chat_line(parts[1], int(parts[2])):
            conn.stats.error("chat: garbled line")
            continue
        seq = int(parts[2])
        if who in seen and seq != seen[who] + 1:
            conn.stats.error("chat: lost, repeated or out of order")
        seen[who] = seq
        conn.stats.count("lines_heard")


async def chat_request(conn):
    """Says a line now and then; the listening task does the checking."""
    if conn.rng.random() >= CHAT_SPEAK * conn.shared.chat_scale:
        return False
    seq = conn.state["seq"] = conn.state.get("seq", 0) + 1
    conn.writer.write((chat_line(conn.slot, seq) + "\n").encode())
    await conn.writer.drain()
    return True


# ----- upload and cmd ---------------------------------------------------------


async def upload_request(conn):
    name = f"c{conn.slot}-{conn.rng.randrange(2)}.bin"
    body = os.urandom(conn.rng.randint(1, 8192))
    conn.writer.write(f"{name}|{len(body)}\n".encode() + body)
    await conn.writer.drain()
    answer = await conn.reader.readline()
    if answer != b"true\n":
        raise Check(f"upload answered {answer[:60]!r}")
    if conn.shared.upload_dir:
        with open(os.path.join(conn.shared.upload_dir, name), "rb") as f:
            if f.read() != body:
                raise Check("the stored file differs from the one sent")


async def cmd_request(conn):
    if conn.rng.random() < 0.1:
        word = f"soak{conn.slot}x{conn.rng.randrange(10**6)}"
        line, want = f"echo {word}", f"{word}\n".encode()
        conn.stats.count("commands_run")
    else:
        name = f"nosuch{conn.rng.randrange(100)}"
        line, want = name, f"error: command not allowed: {name}\n".encode()
    conn.writer.write((line + "\n").encode())
    await conn.writer.drain()
    digits = str(len(want)).encode()
    got = await conn.reader.readexactly(len(digits))
    if got != digits:
        raise Check(f"length {got!r}, expected {digits!r}")
    conn.writer.write(b"y")
    await conn.writer.drain()
    body = await conn.reader.readexactly(len(want))
    if body != want:
        raise Check(f"answer {body[:60]!r}")


REQUESTS = {
    "echo": echo_request,
    "http": http_request,
    "resp": resp_request,
    "chat": chat_request,
    "upload": upload_request,
    "cmd": cmd_request,
}

# ----- the connections --------------------------------------------------------


class Conn:
    """One connection slot: its generator, its state across reconnects, and
    the current streams."""

    def __init__(self, slot, rng, stats, shared):
        self.slot, self.rng, self.stats, self.shared = slot, rng, stats, shared
        self.state = {}
        self.reader = self.writer = None


async def connection(kind, host, port, conn, deadline, ready, churn):
    """One held connection: requests at random intervals until the deadline,
    reconnecting after churn or an error."""
    stats = conn.stats
    first = True
    request = REQUESTS[kind]
    while time.monotonic() < deadline:
        try:
            conn.reader, conn.writer = await asyncio.wait_for(
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
        listener = asyncio.create_task(chat_listen(conn)) if kind == "chat" else None
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
                pause = conn.rng.uniform(0.0, 2.0) if fresh else conn.rng.uniform(1.0, 9.0)
                fresh = False
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    continue
                started = time.monotonic()
                try:
                    counted = await asyncio.wait_for(request(conn), REQUEST_TIMEOUT)
                except (OSError, Check, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        asyncio.LimitOverrunError) as e:
                    stats.error(type(e).__name__ + (": " + str(e) if isinstance(e, Check) else ""))
                    break
                if counted is False:
                    continue  # a chat member with nothing to say this time
                stats.requests += 1
                stats.latencies.append(time.monotonic() - started)
                if conn.rng.random() < churn:
                    # Churn: close and reconnect; one in four with a reset.
                    reset = conn.rng.random() < 0.25
                    break
        finally:
            stats.open -= 1
            if reset:
                stats.resets += 1
                sock = conn.writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.writer.close()
            try:
                await conn.writer.wait_closed()
            except OSError:
                pass
            if listener is not None:
                try:
                    await asyncio.wait_for(listener, 2.0)
                except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError):
                    listener.cancel()
    await held.wait()


held = None  # an asyncio.Event set when the end-of-run sample is taken


class Shared:
    """What every connection of one run shares."""

    def __init__(self, args):
        self.big = big_body() if args.kind == "http" else b""
        self.upload_dir = args.upload_dir
        # Chat lines go to every member: keep the room's total rate near
        # 3 a second whatever the number of members.
        self.chat_scale = 5000 / max(1, args.conns)


async def main():
    global held
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", required=True, choices=sorted(REQUESTS))
    parser.add_argument("--addr", required=True, help="the server's HOST:PORT")
    parser.add_argument("--pid", type=int, help="the server's pid, for /proc")
    parser.add_argument("--conns", type=int, default=5000, help="connections held")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--churn", type=float, default=0.02,
                        help="chance a connection reconnects after a request")
    parser.add_argument("--upload-dir", help="upload: where the server stores files")
    parser.add_argument("--subscribers", type=int, default=50,
                        help="resp: pub/sub subscribers (a fifth of them slow)")
    parser.add_argument("--publishers", type=int, default=5, help="resp: pub/sub publishers")
    args = parser.parse_args()
    held = asyncio.Event()
    shared = Shared(args)
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    stats = Stats(args.kind)
    samples = []

    def sample(label):
        fds, rss = proc_stats(args.pid)
        row = {"t": round(time.monotonic() - t0, 1), "at": label, "fds": fds, "rss_kib": rss}
        samples.append(row)
        print(f"[{row['t']:7.1f}s] {args.kind}: {label:<22} fds={fds} rss={rss}KiB", flush=True)

    t0 = time.monotonic()
    sample("before")
    deadline = time.monotonic() + args.duration
    tasks = []
    ready = asyncio.Semaphore(0)
    rng = random.Random(2026)
    for i in range(args.conns):
        conn = Conn(i, random.Random(rng.random()), stats, shared)
        tasks.append(asyncio.create_task(connection(
            args.kind, host, port, conn, deadline, ready, args.churn)))
        if i % 100 == 99:
            await asyncio.sleep(0.01)  # ramp up without a SYN storm
    pubsub = None
    side = []
    if args.kind == "resp":
        if await resp_has_subscribe(host, port):
            pubsub = PubSub(stats)
            for i in range(args.subscribers):
                side.append(asyncio.create_task(subscriber(
                    host, port, i, pubsub, deadline, slow=(i % 5 == 0))))
            await asyncio.sleep(0.5)  # subscribed before the first message
            for i in range(args.publishers):
                side.append(asyncio.create_task(publisher(host, port, i, pubsub, deadline)))
        else:
            stats.extra["pubsub"] = "not run: the server does not know SUBSCRIBE"
            print(f"{args.kind}: the server has no SUBSCRIBE; pub/sub not soaked", flush=True)

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
            print(f"          {args.kind}: {stats.requests} requests, "
                  f"{sum(stats.errors.values())} errors, {stats.open} open", flush=True)
    # Let the requests in flight finish, then sample with everything held.
    await asyncio.sleep(REQUEST_TIMEOUT / 2)
    sample("end, connections open")
    open_at_end = stats.open
    held.set()
    for task in side:
        try:
            await task
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            stats.error("pubsub " + type(e).__name__)
    await asyncio.gather(*tasks)
    stats.open = open_at_end
    if pubsub:
        stats.extra["pubsub_published"] = pubsub.published
        stats.extra["pubsub_delivered"] = pubsub.received
    # Give the server a moment to see every close.
    await asyncio.sleep(3)
    sample("after close")

    result = {"kind": args.kind, "duration_s": args.duration, "conns": args.conns,
              "summary": stats.summary(), "samples": samples}
    s = result["summary"]
    print(f"{args.kind}: {s['requests']} requests served, {s['errors']} errors {s['error_kinds']}, "
          f"{s['connects']} connects ({s['resets_sent']} closed by reset), "
          f"{s['open_at_end']} open at the end, latency p50 {s['latency_ms_p50']} ms, "
          f"p99 {s['latency_ms_p99']} ms, max {s['latency_ms_max']} ms", flush=True)
    print("RESULT " + json.dumps(result), flush=True)
    return 1 if s["errors"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
