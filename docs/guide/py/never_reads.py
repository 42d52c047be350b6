# docs/guide/py/never_reads.py
"""Sends as fast as the server takes it and never reads the echo."""
import socket
import sys

conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
conn.settimeout(2)
chunk = b"x" * 65536
sent = 0
try:
    while True:
        sent += conn.send(chunk)
except TimeoutError:
    pass
print(f"sent {sent:,} bytes; then send() made no progress for 2 s", flush=True)
sys.stdin.read()
