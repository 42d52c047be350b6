# docs/guide/py/talker.py
"""Says COUNT lines of 100 bytes to a chat room as fast as it can."""
import socket
import sys

conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
line = b"x" * 99 + b"\n"
for _ in range(int(sys.argv[2])):
    conn.sendall(line)
conn.close()
print(f"said {int(sys.argv[2]) * len(line):,} bytes")
