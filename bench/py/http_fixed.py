#!/usr/bin/env python3
"""A fixed number of keep-alive GETs, for counting a server's cost per request.

    http_fixed.py HOST:PORT --conns 10 --requests 2000 [--target /]

Opens CONNS connections and sends REQUESTS requests on each, one at a time
(the next once the whole previous response is in), all connections at once
through one selector, as wrk does but with an exact count: a server's
instructions or syscalls over the run, minus a run with few requests, divided
by the difference in requests, is its cost per request. Exits 1 if any
response is not a 200 or a connection closes early. Prints one line:
`requests=N ok=N`.
"""

import argparse
import selectors
import socket
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("--conns", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--target", default="/")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    request = f"GET {args.target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    sel = selectors.DefaultSelector()
    # per connection: [socket, requests left to send, buffer]
    for _ in range(args.conns):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = [sock, args.requests - 1, b""]
        sock.sendall(request)
        sel.register(sock, selectors.EVENT_READ, state)

    ok = 0
    open_conns = args.conns
    while open_conns:
        for key, _ in sel.select():
            state = key.data
            sock = state[0]
            data = sock.recv(65536)
            if not data:
                sys.exit(f"connection closed early after {ok} responses")
            state[2] += data
            # Take every whole response in the buffer.
            while True:
                buf = state[2]
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].decode("latin-1").split("\r\n")
                length = 0
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                total = end + 4 + length
                if len(buf) < total:
                    break
                if head[0].split(" ")[1] != "200":
                    sys.exit(f"unexpected status line: {head[0]}")
                ok += 1
                state[2] = buf[total:]
                if state[1] > 0:
                    state[1] -= 1
                    sock.sendall(request)
                else:
                    sel.unregister(sock)
                    sock.close()
                    open_conns -= 1
                    break
    print(f"requests={args.conns * args.requests} ok={ok}")
    if ok != args.conns * args.requests:
        sys.exit(1)


if __name__ == "__main__":
    main()
