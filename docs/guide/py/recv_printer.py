# docs/guide/py/recv_printer.py
"""Accepts one client and prints what each recv(1024) returns."""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8894
server = socket.create_server(("127.0.0.1", port))
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
conn, addr = server.accept()
time.sleep(0.2)  # busy elsewhere for a moment, as a server often is
while data := conn.recv(1024):
    print(f"recv(1024) -> {len(data):4} bytes: {data[:40]!r}")
print("EOF")
