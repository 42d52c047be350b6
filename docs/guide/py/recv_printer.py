# docs/guide/py/recv_printer.py
"""Accepts one client and prints what each recv(1024) returns."""
import socket

server = socket.create_server(("127.0.0.1", 8894))
conn, addr = server.accept()
while data := conn.recv(1024):
    print(f"recv(1024) -> {len(data):4} bytes: {data[:40]!r}")
print("EOF")
