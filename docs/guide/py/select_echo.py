# docs/guide/py/select_echo.py
"""The textbook select() echo server: one thread, many clients.

    python3 select_echo.py [PORT]         # closes a client once its echo is sent
    python3 select_echo.py [PORT] naive   # closes at EOF at once: the common bug
"""
import select
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8896
naive = sys.argv[2:] == ["naive"]
server = socket.create_server(("127.0.0.1", port))
server.setblocking(False)
print(f"listening on 127.0.0.1:{server.getsockname()[1]}", flush=True)
readers = [server]  # the interest set for reading: the listener and every client
writers = []        # the interest set for writing: clients with echo waiting
pending = {}        # client -> bytes received and not yet sent back
finished = set()    # clients that sent EOF: close them once pending is sent


def close(sock):
    for interest in (readers, writers):
        if sock in interest:
            interest.remove(sock)
    del pending[sock]
    finished.discard(sock)
    sock.close()


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
        elif naive or not pending[sock]:
            close(sock)               # EOF: naive drops whatever echo is still pending
        else:
            readers.remove(sock)      # EOF: nothing more to read, but an echo to send
            finished.add(sock)
    for sock in writable:
        if sock not in pending:
            continue                  # closed a moment ago, in the loop above
        sent = sock.send(pending[sock])
        pending[sock] = pending[sock][sent:]
        if not pending[sock]:
            writers.remove(sock)      # all sent: stop asking, or select spins
            if sock in finished:
                close(sock)           # the client is done and has its echo
