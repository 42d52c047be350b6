# docs/guide/py/busy_echo.py
"""A non-blocking echo server with no poller: it never waits, so it never rests."""
import socket

server = socket.create_server(("127.0.0.1", 8892))
server.setblocking(False)
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
            conn.sendall(data)        # raises BlockingIOError on a full socket (chapter 7)
        else:
            clients.remove(conn)
            conn.close()
