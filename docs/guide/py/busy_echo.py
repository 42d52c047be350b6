# docs/guide/py/busy_echo.py
"""A non-blocking echo server with no poller: it never waits, so it never rests."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8892
server = socket.create_server(("127.0.0.1", port))
server.setblocking(False)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
clients = []
while True:
    try:
        conn, addr = server.accept()
        conn.setblocking(False)
        clients.append(conn)
    except BlockingIOError:
        pass                          # nobody new: go and look at the clients
    for conn in list(clients):
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            continue                  # nothing from this one yet: next
        if data:
            conn.sendall(data)        # raises BlockingIOError on a full socket (chapter 10)
        else:
            clients.remove(conn)
            conn.close()
