# docs/guide/py/deaf.py
"""Joins a chat room and never reads; reports when the server drops it."""
import socket
import sys
import time

conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(float(sys.argv[2]))
# Now look: a dropped connection reads its buffered bytes, then EOF or reset.
total = 0
try:
    while chunk := conn.recv(1 << 20):
        total += len(chunk)
    print(f"after {total:,} bytes: the server closed the connection")
except ConnectionResetError:
    print(f"after {total:,} bytes: connection reset by the server")
