# docs/guide/py/never_reads.py
"""Sends as fast as the server takes it and never reads the echo; reports
when send() stops making progress, or after SECONDS (default 20) if it never does."""
import socket
import sys
import time

port = int(sys.argv[1])
limit = float(sys.argv[2]) if len(sys.argv) > 2 else 20
conn = socket.create_connection(("127.0.0.1", port))
conn.settimeout(2)
chunk = b"x" * 65536
sent = 0
start = time.monotonic()
try:
    while time.monotonic() - start < limit:
        sent += conn.send(chunk)
    print(f"sent {sent:,} bytes in {limit:g} s, and the server still takes more", flush=True)
except TimeoutError:
    print(f"sent {sent:,} bytes; then send() made no progress for 2 s", flush=True)
sys.stdin.read()
