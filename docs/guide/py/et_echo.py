# docs/guide/py/et_echo.py
"""Echo server on epoll, to watch level and edge triggering differ.

    python3 et_echo.py level [PORT]   # level-triggered, one recv(8) per event
    python3 et_echo.py edge [PORT]    # edge-triggered, one recv(8) per event: the bug
    python3 et_echo.py short [PORT]   # edge-triggered, recv until a short read: the subtle bug
    python3 et_echo.py drain [PORT]   # edge-triggered, recv until BlockingIOError: right
"""
import select
import socket
import sys
import time

mode = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8893
server = socket.create_server(("127.0.0.1", port))
server.setblocking(False)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
poller = select.epoll()
poller.register(server, select.EPOLLIN)
conns = {}

def names(mask):
    flags = {select.EPOLLIN: "IN", select.EPOLLRDHUP: "RDHUP", select.EPOLLHUP: "HUP"}
    return " ".join(name for bit, name in flags.items() if mask & bit)

while True:
    events = poller.poll()
    time.sleep(0.1)  # a busy server: more may arrive before we get round to it
    for fd, mask in events:
        if fd == server.fileno():
            conn, _ = server.accept()
            conn.setblocking(False)
            interest = select.EPOLLIN | select.EPOLLRDHUP
            if mode != "level":
                interest |= select.EPOLLET
            poller.register(conn, interest)
            conns[conn.fileno()] = conn
            continue
        print(f"event on fd {fd}: {names(mask)}", flush=True)
        conn = conns[fd]
        while True:
            try:
                data = conn.recv(8)
            except BlockingIOError:
                break                   # drained: the kernel will tell us when more comes
            if not data:
                print(f"fd {fd}: EOF, closing", flush=True)
                poller.unregister(conn)
                del conns[fd]
                conn.close()
                break
            conn.sendall(data)
            if mode in ("level", "edge"):
                break                   # one recv per event
            if mode == "short" and len(data) < 8:
                break                   # "a short read means drained": wrong if EOF is behind it
