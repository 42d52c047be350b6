# docs/guide/py/idle_clients.py
"""Open COUNT connections to HOST PORT, check that each one is served (one
byte echoed), then keep them all open and idle until end of input."""
import socket
import sys

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clients, echoed = [], 0
try:
    while len(clients) < count:
        clients.append(socket.create_connection((host, port)))
    for conn in clients:
        conn.sendall(b"x")
    for conn in clients:
        if conn.recv(1) != b"x":
            raise ConnectionError("closed by the server")
        echoed += 1
except OSError as e:
    sys.exit(f"{len(clients)} connected, {echoed} echoed, then: {e}")
print(f"{len(clients)} clients connected and echoed; now idle", flush=True)
sys.stdin.read()  # Ctrl-D (or the end of a pipe) closes them all
