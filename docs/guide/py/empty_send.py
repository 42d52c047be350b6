# docs/guide/py/empty_send.py
"""What the tutorials' clients do when the user just presses Enter: send
an empty message, then wait for the reply."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8888
conn = socket.create_connection(("127.0.0.1", port))
conn.settimeout(2)
for message in (b"", b"hello"):
    n = conn.send(message)
    try:
        print(f"send({message!r}) returned {n}; recv -> {conn.recv(1024)!r}")
    except TimeoutError:
        print(f"send({message!r}) returned {n}; recv: nothing after 2 s")
