# docs/guide/py/lockstep.py
"""Sends COUNT lines one at a time, each after the previous echo came back."""
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
conn = socket.create_connection(("127.0.0.1", port))
for i in range(count):
    line = b"line %d\n" % i
    conn.sendall(line)
    got = b""
    while len(got) < len(line):
        got += conn.recv(4096)
    assert got == line
print(f"{count} lines echoed")
