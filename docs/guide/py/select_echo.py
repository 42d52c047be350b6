# docs/guide/py/select_echo.py
"""The textbook select() echo server: one thread, many clients."""
import select
import socket

server = socket.create_server(("127.0.0.1", 8896))
server.setblocking(False)
readers = [server]  # the interest set for reading: the listener and every client
writers = []        # the interest set for writing: clients with echo waiting
pending = {}        # client -> bytes received and not yet sent back

while True:
    readable, writable, _ = select.select(readers, writers, [])
    for sock in readable:
        if sock is server:
            conn, addr = server.accept()
            conn.setblocking(False)
            readers.append(conn)
            pending[conn] = b""
            continue
        data = sock.recv(4096)
        if data:
            pending[sock] += data
            if sock not in writers:
                writers.append(sock)  # echo waiting: now we care about "writable"
        else:                         # EOF: the client left
            readers.remove(sock)
            if sock in writers:
                writers.remove(sock)
            del pending[sock]
            sock.close()
    for sock in writable:
        if sock not in pending:
            continue                  # closed a moment ago, in the loop above
        sent = sock.send(pending[sock])
        pending[sock] = pending[sock][sent:]
        if not pending[sock]:
            writers.remove(sock)      # all sent: stop asking, or select spins
