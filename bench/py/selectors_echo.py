#!/usr/bin/env python3
"""Baseline: the textbook echo server on Python's `selectors` module.

    python3 bench/py/selectors_echo.py --addr 127.0.0.1:0

One selector, non-blocking sockets, read interest always and write interest
only while output waits (added and removed as the buffer fills and drains).
Prints `listening on ADDR` first; SIGINT or SIGTERM exit 0.
"""

import argparse
import selectors
import signal
import socket
import sys


class Connection:
    """One client: its socket and the bytes it has not taken yet."""

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()


def main():
    parser = argparse.ArgumentParser(description="selectors echo server")
    parser.add_argument("--addr", default="127.0.0.1:8888", help="HOST:PORT to listen on")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))

    sel = selectors.DefaultSelector()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, int(port)))
    except (OSError, ValueError) as e:
        print(f"error: listening on {args.addr}: {e}", file=sys.stderr)
        sys.exit(1)
    listener.listen(socket.SOMAXCONN)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    bound_host, bound_port = listener.getsockname()
    print(f"listening on {bound_host}:{bound_port}", flush=True)

    def close(conn):
        sel.unregister(conn.sock)
        conn.sock.close()

    def accept():
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.register(sock, selectors.EVENT_READ, Connection(sock))

    def send(conn):
        try:
            sent = conn.sock.send(conn.out)
        except BlockingIOError:
            sent = 0
        del conn.out[:sent]

    def readable(conn):
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            close(conn)
            return
        waiting = bool(conn.out)
        conn.out += data
        if waiting:
            return
        try:
            send(conn)
        except ConnectionError:
            close(conn)
            return
        if conn.out:
            sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def writable(conn):
        try:
            send(conn)
        except ConnectionError:
            close(conn)
            return
        if not conn.out:
            sel.modify(conn.sock, selectors.EVENT_READ, conn)

    while True:
        for key, mask in sel.select():
            conn = key.data
            if conn is None:
                accept()
                continue
            if mask & selectors.EVENT_WRITE:
                writable(conn)
                if conn.sock.fileno() < 0:
                    continue
            if mask & selectors.EVENT_READ:
                readable(conn)


if __name__ == "__main__":
    main()
