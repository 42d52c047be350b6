# docs/guide/py/crowd.py
"""Opens COUNT connections, sees how many the server serves, frees some
of its descriptors, and sees the others served."""
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
print(f"{count} connected: the kernel completed every handshake")

def echoed(conn, wait):
    conn.settimeout(wait)
    try:
        return conn.recv(4) == b"ping"
    except TimeoutError:
        return False

for conn in conns:
    conn.sendall(b"ping")
served = [c for c in conns if echoed(c, 0.2)]
waiting = [c for c in conns if c not in served]
print(f"served: {len(served)}, waiting: {len(waiting)}")
for conn in served:
    conn.close()
print(f"closed the {len(served)} served ones")
print(f"waiting ones served now: {sum(echoed(c, 2) for c in waiting)} of {len(waiting)}")
